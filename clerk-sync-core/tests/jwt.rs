//! Integration tests of `clerk_sync_core::jwt`: every rule and key-cache property of issues 3
//! and 14. One test binary, so the RSA test keys are generated once.

#[path = "jwt/classes.rs"]
mod classes;
#[path = "jwt/extract.rs"]
mod extract;
#[path = "jwt/key_cache.rs"]
mod key_cache;
#[path = "jwt/org_claims.rs"]
mod org_claims;
#[path = "jwt/pem_forms.rs"]
mod pem_forms;
#[path = "jwt/rules.rs"]
mod rules;
#[path = "jwt/support.rs"]
mod support;
#[path = "jwt/token_cache.rs"]
mod token_cache;
#[path = "jwt/verifier.rs"]
mod verifier;
