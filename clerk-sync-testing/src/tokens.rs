//! The instance's signing key, its JWKS, and session tokens minted with it (v1 and v2
//! claims), as Clerk's Frontend API issues them.

use std::time::Duration;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};

use crate::ids::unix_secs;

/// The `cat` header value of a session token.
pub const SESSION_TOKEN_CLASS: &str = "cl_B7d4PD111AAA";

/// The RSA key pair, with its public forms computed once.
pub(crate) struct TokenKey {
    pair: RsaKeyPair,
    kid: String,
    pem: String,
    jwk: Value,
}

impl TokenKey {
    pub(crate) fn generate(kid: String) -> Result<Self, &'static str> {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| "aws-lc-rs could not generate an RSA key")?;
        let der = pair
            .public_key()
            .as_der()
            .map_err(|_| "aws-lc-rs could not encode the public key")?;
        let b64 = STANDARD.encode(der.as_ref());
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        let components = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
        let jwk = json!({
            "use": "sig",
            "kty": "RSA",
            "kid": kid,
            "alg": "RS256",
            "n": URL_SAFE_NO_PAD.encode(&components.n),
            "e": URL_SAFE_NO_PAD.encode(&components.e),
        });
        Ok(Self {
            pair,
            kid,
            pem,
            jwk,
        })
    }

    pub(crate) fn pem(&self) -> &str {
        &self.pem
    }

    pub(crate) fn jwks(&self) -> Value {
        json!({ "keys": [self.jwk.clone()] })
    }

    /// An RS256 compact JWS of `claims`, with `kid` and, when given, `cat` in the header.
    pub(crate) fn sign(&self, claims: &Value, token_class: Option<&str>) -> String {
        let mut header = json!({"alg": "RS256", "kid": self.kid, "typ": "JWT"});
        if let Some(cat) = token_class {
            header["cat"] = json!(cat);
        }
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; self.pair.public_modulus_len()];
        // Signing with a freshly generated key into a buffer of the modulus size cannot fail;
        // an empty signature (which no verifier accepts) is the answer if it ever did.
        if self
            .pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut signature,
            )
            .is_err()
        {
            signature.clear();
        }
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

/// Which claim format a session token uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenVersion {
    /// Organization claims as `org_id`, `org_slug`, `org_role`, `org_permissions`.
    #[default]
    V1,
    /// `v: 2`, the compact `o` object, `fea`, and `sts`.
    V2,
}

/// The active organization of a minted token.
///
/// ```
/// use clerk_sync_testing::SessionOrg;
///
/// let org = SessionOrg::new("org_2abc")
///     .slug("acme")
///     .role("org:admin")
///     .permissions(["org:billing:read", "org:billing:manage"]);
/// # let _ = org;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[must_use]
pub struct SessionOrg {
    id: String,
    slug: Option<String>,
    role: Option<String>,
    permissions: Vec<String>,
}

impl SessionOrg {
    /// The organization with this id.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            ..Self::default()
        }
    }

    /// Sets the slug.
    pub fn slug(mut self, slug: impl Into<String>) -> Self {
        self.slug = Some(slug.into());
        self
    }

    /// Sets the role, `org:`-prefixed as Clerk's SDKs show it (`org:admin`).
    pub fn role(mut self, role: impl Into<String>) -> Self {
        self.role = Some(role.into());
        self
    }

    /// Sets the permissions, `org:<feature>:<permission>`. In v2 tokens only that form can
    /// be expressed; others are left out.
    pub fn permissions<I, S>(mut self, permissions: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.permissions = permissions.into_iter().map(Into::into).collect();
        self
    }
}

/// What to put in a session token ([`FakeClerk::session_token`](crate::FakeClerk::session_token)).
///
/// By default: v1 claims, issued now, valid 60 s, `nbf` 10 s in the past (as Clerk does),
/// a fresh `sid`, `iss` = the fake's [`issuer`](crate::FakeClerk::issuer), no `azp`, no
/// `cat` header.
///
/// ```
/// use std::time::Duration;
/// use clerk_sync_testing::{SessionOrg, SessionTokenOptions};
///
/// let options = SessionTokenOptions::new("user_2abc")
///     .authorized_party("https://app.example.com")
///     .v2()
///     .org(SessionOrg::new("org_1").role("org:member"))
///     .expires_in(Duration::from_secs(300));
/// # let _ = options;
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct SessionTokenOptions {
    user_id: String,
    session_id: Option<String>,
    authorized_party: Option<String>,
    issuer: Option<String>,
    issued_at: Option<i64>,
    lifetime: Duration,
    not_before: Option<i64>,
    status: Option<String>,
    version: TokenVersion,
    org: Option<SessionOrg>,
    factor_age: Option<[i64; 2]>,
    actor: Option<String>,
    token_class: Option<String>,
    extra: Map<String, Value>,
}

impl SessionTokenOptions {
    /// A token for this user (`sub`).
    pub fn new(user_id: impl Into<String>) -> Self {
        Self {
            user_id: user_id.into(),
            session_id: None,
            authorized_party: None,
            issuer: None,
            issued_at: None,
            lifetime: Duration::from_secs(60),
            not_before: None,
            status: None,
            version: TokenVersion::V1,
            org: None,
            factor_age: None,
            actor: None,
            token_class: None,
            extra: Map::new(),
        }
    }

    /// Sets `sid`.
    pub fn session_id(mut self, sid: impl Into<String>) -> Self {
        self.session_id = Some(sid.into());
        self
    }

    /// Sets `azp`, the origin the token was issued for.
    pub fn authorized_party(mut self, azp: impl Into<String>) -> Self {
        self.authorized_party = Some(azp.into());
        self
    }

    /// Sets `iss`.
    pub fn issuer(mut self, iss: impl Into<String>) -> Self {
        self.issuer = Some(iss.into());
        self
    }

    /// Sets `iat` (Unix seconds); `exp` and `nbf` follow it.
    pub fn issued_at(mut self, iat: i64) -> Self {
        self.issued_at = Some(iat);
        self
    }

    /// Sets the lifetime (`exp - iat`).
    pub fn expires_in(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// An already-expired token: issued two minutes ago, valid one.
    pub fn expired(self) -> Self {
        self.issued_at(unix_secs() - 120)
            .expires_in(Duration::from_secs(60))
    }

    /// Sets `nbf` (Unix seconds).
    pub fn not_before(mut self, nbf: i64) -> Self {
        self.not_before = Some(nbf);
        self
    }

    /// Sets `sts`, e.g. `active` or `pending`.
    pub fn status(mut self, sts: impl Into<String>) -> Self {
        self.status = Some(sts.into());
        self
    }

    /// Uses v2 claims (`v: 2`, `o`, `fea`, `sts` defaulting to `active`).
    pub fn v2(mut self) -> Self {
        self.version = TokenVersion::V2;
        self
    }

    /// Sets the claim format.
    pub fn version(mut self, version: TokenVersion) -> Self {
        self.version = version;
        self
    }

    /// Sets the active organization.
    pub fn org(mut self, org: SessionOrg) -> Self {
        self.org = Some(org);
        self
    }

    /// Sets `fva`: minutes since the first and second factor were verified (`-1`: none).
    pub fn factor_verification_age(mut self, first: i64, second: i64) -> Self {
        self.factor_age = Some([first, second]);
        self
    }

    /// Marks the session as an impersonation by this user (`act.sub`).
    pub fn actor(mut self, impersonator: impl Into<String>) -> Self {
        self.actor = Some(impersonator.into());
        self
    }

    /// Sets the `cat` header: [`SESSION_TOKEN_CLASS`] for a session token, anything else
    /// for other token classes.
    pub fn token_class(mut self, cat: impl Into<String>) -> Self {
        self.token_class = Some(cat.into());
        self
    }

    /// Adds a custom claim (overrides a generated one of the same name).
    pub fn claim(mut self, name: impl Into<String>, value: Value) -> Self {
        self.extra.insert(name.into(), value);
        self
    }

    pub(crate) fn token_class_header(&self) -> Option<&str> {
        self.token_class.as_deref()
    }

    /// The claims, with defaults filled from the fake.
    pub(crate) fn claims(
        &self,
        default_issuer: &str,
        new_session_id: impl FnOnce() -> String,
    ) -> Value {
        let iat = self.issued_at.unwrap_or_else(unix_secs);
        let lifetime = i64::try_from(self.lifetime.as_secs()).unwrap_or(i64::MAX);
        let mut claims = Map::new();
        claims.insert("sub".into(), json!(self.user_id));
        claims.insert(
            "sid".into(),
            json!(self.session_id.clone().unwrap_or_else(new_session_id)),
        );
        claims.insert(
            "iss".into(),
            json!(self.issuer.as_deref().unwrap_or(default_issuer)),
        );
        claims.insert("iat".into(), json!(iat));
        claims.insert("exp".into(), json!(iat.saturating_add(lifetime)));
        claims.insert(
            "nbf".into(),
            json!(self.not_before.unwrap_or(iat.saturating_sub(10))),
        );
        if let Some(azp) = &self.authorized_party {
            claims.insert("azp".into(), json!(azp));
        }
        if let Some([first, second]) = self.factor_age {
            claims.insert("fva".into(), json!([first, second]));
        }
        if let Some(actor) = &self.actor {
            claims.insert("act".into(), json!({ "sub": actor }));
        }
        let status = match (self.version, &self.status) {
            (_, Some(status)) => Some(status.clone()),
            (TokenVersion::V2, None) => Some("active".to_owned()),
            (TokenVersion::V1, None) => None,
        };
        if let Some(status) = status {
            claims.insert("sts".into(), json!(status));
        }
        match self.version {
            TokenVersion::V1 => {
                if let Some(org) = &self.org {
                    claims.insert("org_id".into(), json!(org.id));
                    if let Some(slug) = &org.slug {
                        claims.insert("org_slug".into(), json!(slug));
                    }
                    if let Some(role) = &org.role {
                        claims.insert("org_role".into(), json!(role));
                    }
                    claims.insert("org_permissions".into(), json!(org.permissions));
                }
            }
            TokenVersion::V2 => {
                claims.insert("v".into(), json!(2));
                if let Some(org) = &self.org {
                    let (o, fea) = v2_org(org);
                    claims.insert("o".into(), o);
                    if !fea.is_empty() {
                        claims.insert("fea".into(), json!(fea));
                    }
                }
            }
        }
        for (name, value) in &self.extra {
            claims.insert(name.clone(), value.clone());
        }
        Value::Object(claims)
    }
}

/// The v2 `o` object and `fea` string for an organization: `per` lists the permission
/// names, `fpm` one bitmask per org feature (in `fea` order), bit `i` granting `per[i]`.
fn v2_org(org: &SessionOrg) -> (Value, String) {
    let mut features: Vec<&str> = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    let mut grants: Vec<(usize, usize)> = Vec::new();
    for permission in &org.permissions {
        let mut parts = permission.splitn(3, ':');
        let (Some("org"), Some(feature), Some(name)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if feature.is_empty() || name.is_empty() || feature.contains(',') || name.contains(',') {
            continue;
        }
        let f = features
            .iter()
            .position(|x| *x == feature)
            .unwrap_or_else(|| {
                features.push(feature);
                features.len() - 1
            });
        let n = names.iter().position(|x| *x == name).unwrap_or_else(|| {
            names.push(name);
            names.len() - 1
        });
        if n < 64 {
            grants.push((f, n));
        }
    }
    let mut masks = vec![0u64; features.len()];
    for (f, n) in grants {
        masks[f] |= 1 << n;
    }
    let mut o = Map::new();
    o.insert("id".into(), json!(org.id));
    if let Some(slug) = &org.slug {
        o.insert("slg".into(), json!(slug));
    }
    if let Some(role) = &org.role {
        o.insert(
            "rol".into(),
            json!(role.strip_prefix("org:").unwrap_or(role)),
        );
    }
    if !names.is_empty() {
        o.insert("per".into(), json!(names.join(",")));
        o.insert(
            "fpm".into(),
            json!(
                masks
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        );
    }
    let fea = features
        .iter()
        .map(|f| format!("o:{f}"))
        .collect::<Vec<_>>()
        .join(",");
    (Value::Object(o), fea)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_org_claims_are_compact() {
        let org = SessionOrg::new("org_1")
            .slug("acme")
            .role("org:admin")
            .permissions([
                "org:dashboard:read",
                "org:billing:read",
                "org:billing:manage",
                "not-a-permission",
            ]);
        let (o, fea) = v2_org(&org);
        assert_eq!(
            o,
            json!({"id": "org_1", "slg": "acme", "rol": "admin", "per": "read,manage", "fpm": "1,3"})
        );
        assert_eq!(fea, "o:dashboard,o:billing");
    }

    #[test]
    fn claims_have_clerk_defaults() {
        let claims = SessionTokenOptions::new("user_1")
            .issued_at(1_000)
            .claim("custom", json!(true))
            .claims("https://issuer.test", || "sess_1".into());
        assert_eq!(claims["exp"], 1_060);
        assert_eq!(claims["nbf"], 990);
        assert_eq!(claims["sid"], "sess_1");
        assert_eq!(claims["iss"], "https://issuer.test");
        assert_eq!(claims["custom"], true);
        assert!(claims.get("sts").is_none() && claims.get("azp").is_none());

        let v2 = SessionTokenOptions::new("user_1")
            .v2()
            .claims("i", || "s".into());
        assert_eq!(
            (v2["v"].clone(), v2["sts"].clone()),
            (json!(2), json!("active"))
        );
    }
}
