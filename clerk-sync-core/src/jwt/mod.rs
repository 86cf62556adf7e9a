//! Clerk session-token (JWT) validation.
//!
//! [`JwtVerifier`] checks a Clerk session token as strictly as Clerk's own backend SDKs:
//! RS256/RS384/RS512 only and pinned by the key, `typ`, only session tokens (not the
//! JWT-template or machine tokens the same key signs), `exp`/`nbf`/`iat` with a leeway,
//! authorized parties, issuer, and session status. Keys come from the instance's PEM public key
//! (networkless), a JWKS URL, or the Backend API; they are cached per verifier. Verified tokens
//! are cached until their `exp`, so a repeat request costs a hash and a map lookup instead of
//! an RSA verification.
//!
//! [`token_from_parts`] picks the token out of the `Authorization` and `Cookie` headers for the
//! web framework adapters. See `docs/jwt.md` for the full guide.

mod claims;
mod class;
mod error;
mod extract;
mod jwks;
mod key;
mod token_cache;
mod verifier;

pub use claims::{ActorClaims, OrgClaims, SessionClaims, SessionStatus};
pub use error::{JwtError, KeySourceError, TokenClass, WWW_AUTHENTICATE_INVALID_TOKEN};
pub use extract::{SESSION_COOKIE, session_cookie, token_from_authorization, token_from_parts};
pub use verifier::{
    DEFAULT_HTTP_TIMEOUT, DEFAULT_JWKS_MAX_AGE, DEFAULT_LEEWAY, DEFAULT_MIN_REFETCH_INTERVAL,
    DEFAULT_TOKEN_CACHE_CAPACITY, JwtVerifier,
};
