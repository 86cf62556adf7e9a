//! The verifier: configuration, key source, token cache, and the checks in order.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::claims::SessionClaims;
use super::class::check_category;
use super::error::JwtError;
use super::jwks::{JwksEndpoint, RefreshPolicy, RemoteKeys};
use super::key::{Algorithm, VerificationKey};
use super::token_cache::TokenCache;

/// Default clock-skew allowance for `exp`, `nbf` and `iat`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(5);
/// Default bound of the verified-token cache, in tokens.
pub const DEFAULT_TOKEN_CACHE_CAPACITY: usize = 10_000;
/// Default minimum time between two fetches of the key set.
pub const DEFAULT_MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(5);
/// Default age after which a key set is refreshed in the background (Clerk's SDKs cache the
/// JWKS for an hour too).
pub const DEFAULT_JWKS_MAX_AGE: Duration = Duration::from_secs(3600);
/// Default timeout of one key set request.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(10);

type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

#[derive(Debug, Clone)]
enum KeySource {
    /// Networkless: one PEM key, no `kid` needed.
    Pem(Arc<VerificationKey>),
    /// A JWKS over HTTP (Frontend API or any URL, or the Backend API with a secret key).
    Remote {
        keys: Arc<RemoteKeys>,
        /// Kept to rebuild the endpoint when the HTTP client is replaced.
        backend_secret: Option<SecretKey>,
    },
}

#[derive(Clone)]
struct SecretKey(Arc<str>);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey([redacted])")
    }
}

#[derive(Clone)]
struct Config {
    leeway: i64,
    authorized_parties: Option<HashSet<String>>,
    issuer: Option<String>,
    reject_pending: bool,
    refresh: RefreshPolicy,
    clock: Option<Clock>,
}

/// Validates Clerk session tokens (RS256/RS384/RS512 JWTs) and caches the results.
///
/// Build one per Clerk instance at startup and share it: it is `Clone` (an `Arc` inside),
/// `Send` and `Sync`. Its key cache and token cache belong to this verifier and its clones,
/// never to the process, so tokens of another Clerk instance can never verify against it.
///
/// Builder methods (`with_*`) are meant for startup: each returns a verifier with a fresh,
/// empty token cache, because the checks it caches results of have changed.
///
/// ```
/// use std::time::Duration;
/// use clerk_sync_core::jwt::{JwtError, JwtVerifier};
///
/// // The "PEM public key" from the Clerk dashboard (API keys), usually in `CLERK_JWT_KEY`.
/// let pem = include_str!("../../tests/fixtures/jwt/doc_public.pem");
/// let verifier = JwtVerifier::from_pem(pem)?
///     .with_authorized_parties(["https://app.example.com"])
///     .with_leeway(Duration::from_secs(5));
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// match verifier.verify("not-a-token").await {
///     Ok(claims) => println!("signed in as {}", claims.sub),
///     Err(error) => {
///         // An adapter answers 401 with this header.
///         assert_eq!(error.www_authenticate(), r#"Bearer error="invalid_token""#);
///         assert!(matches!(error, JwtError::Malformed(_)));
///     }
/// }
/// # });
/// # Ok::<(), JwtError>(())
/// ```
#[derive(Clone)]
pub struct JwtVerifier {
    keys: KeySource,
    config: Arc<Config>,
    token_cache: Option<Arc<TokenCache>>,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = f.debug_struct("JwtVerifier");
        match &self.keys {
            KeySource::Pem(_) => s.field("keys", &"pem"),
            KeySource::Remote { keys, .. } => s.field("keys", keys),
        };
        s.field("leeway_secs", &self.config.leeway)
            .field("authorized_parties", &self.config.authorized_parties)
            .field("issuer", &self.config.issuer)
            .field("reject_pending", &self.config.reject_pending)
            .field(
                "token_cache_capacity",
                &self.token_cache.as_ref().map(|c| c.capacity()),
            )
            .finish()
    }
}

impl JwtVerifier {
    fn new(keys: KeySource) -> Self {
        JwtVerifier {
            keys,
            config: Arc::new(Config {
                leeway: DEFAULT_LEEWAY.as_secs() as i64,
                authorized_parties: None,
                issuer: None,
                reject_pending: false,
                refresh: RefreshPolicy {
                    min_interval: DEFAULT_MIN_REFETCH_INTERVAL,
                    max_age: DEFAULT_JWKS_MAX_AGE,
                },
                clock: None,
            }),
            token_cache: Some(Arc::new(TokenCache::new(DEFAULT_TOKEN_CACHE_CAPACITY))),
        }
    }

    /// A networkless verifier from the instance's PEM public key (`CLERK_JWT_KEY`), SPKI or
    /// PKCS#1, in the forms users paste: a PEM with LF or CRLF line ends, a PEM on one line
    /// joined by escaped `\n` or by spaces, or the bare base64 body without the armour. The
    /// key is pinned to RS256, the algorithm of Clerk session tokens; the token's `kid` is not
    /// needed.
    ///
    /// A private key, or text that is no RSA public key, is
    /// [`JwtError::InvalidConfiguration`]; the message never repeats the text.
    pub fn from_pem(pem: &str) -> Result<Self, JwtError> {
        Ok(Self::new(KeySource::Pem(Arc::new(
            VerificationKey::from_pem(pem)?,
        ))))
    }

    /// A verifier whose keys are fetched from a JWKS URL, such as the Frontend API's
    /// `https://<frontend-api>/.well-known/jwks.json`. Nothing is fetched until the first
    /// verification.
    pub fn from_jwks_url(url: &str) -> Result<Self, JwtError> {
        let endpoint = JwksEndpoint::new(default_client()?, url, None)?;
        Ok(Self::new(KeySource::Remote {
            keys: Arc::new(RemoteKeys::new(endpoint)),
            backend_secret: None,
        }))
    }

    /// A verifier whose keys are fetched from the Backend API, `{api_url}/v1/jwks`, with
    /// `Authorization: Bearer <secret_key>` (`CLERK_SECRET_KEY`, `CLERK_API_URL` usually
    /// `https://api.clerk.com`). Nothing is fetched until the first verification.
    pub fn from_backend_api(secret_key: &str, api_url: &str) -> Result<Self, JwtError> {
        if secret_key.trim().is_empty() {
            return Err(JwtError::InvalidConfiguration("secret key is empty"));
        }
        let url = backend_jwks_url(api_url);
        let endpoint = JwksEndpoint::new(default_client()?, &url, Some(secret_key))?;
        Ok(Self::new(KeySource::Remote {
            keys: Arc::new(RemoteKeys::new(endpoint)),
            backend_secret: Some(SecretKey(secret_key.into())),
        }))
    }

    fn configure(mut self, change: impl FnOnce(&mut Config)) -> Self {
        change(Arc::make_mut(&mut self.config));
        // Cached results were produced under the old rules.
        if let Some(cache) = &self.token_cache {
            self.token_cache = Some(Arc::new(TokenCache::new(cache.capacity())));
        }
        self
    }

    /// Accept only tokens whose `azp` is one of these origins; a token with a missing or empty
    /// `azp` is then refused too, even if `""` is in the list. An empty list turns the check
    /// off.
    pub fn with_authorized_parties(
        self,
        parties: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        let parties: HashSet<String> = parties.into_iter().map(Into::into).collect();
        self.configure(|c| c.authorized_parties = (!parties.is_empty()).then_some(parties))
    }

    /// Clock-skew allowance for `exp`, `nbf` and `iat` (whole seconds; default 5 s).
    pub fn with_leeway(self, leeway: Duration) -> Self {
        let secs = i64::try_from(leeway.as_secs()).unwrap_or(i64::MAX);
        self.configure(|c| c.leeway = secs)
    }

    /// Require `iss` to equal this value (the instance's Frontend API URL, for example
    /// `https://clerk.example.com`).
    pub fn with_issuer(self, issuer: impl Into<String>) -> Self {
        let issuer = issuer.into();
        self.configure(|c| c.issuer = Some(issuer))
    }

    /// Refuse sessions whose `sts` is `pending` with [`JwtError::PendingSession`] (by default
    /// they verify and [`SessionClaims::sts`] tells them apart).
    pub fn reject_pending_sessions(self) -> Self {
        self.configure(|c| c.reject_pending = true)
    }

    /// Cache up to `capacity` verified tokens (default 10 000); `0` disables the cache.
    pub fn with_token_cache(mut self, capacity: usize) -> Self {
        self.token_cache = (capacity > 0).then(|| Arc::new(TokenCache::new(capacity)));
        self
    }

    /// Verify every token in full, never answering from the verified-token cache.
    pub fn without_token_cache(mut self) -> Self {
        self.token_cache = None;
        self
    }

    /// The minimum time between two key set fetches (default 5 s): a flood of tokens with
    /// unknown `kid`s causes at most one fetch per interval. No effect on a PEM verifier.
    pub fn with_min_refetch_interval(self, interval: Duration) -> Self {
        self.configure(|c| c.refresh.min_interval = interval)
    }

    /// Age after which the key set is refreshed in the background while still in use
    /// (default 1 h), so keys removed from the JWKS stop verifying. No effect on a PEM
    /// verifier.
    pub fn with_jwks_max_age(self, max_age: Duration) -> Self {
        self.configure(|c| c.refresh.max_age = max_age)
    }

    /// Use this HTTP client for key set requests (proxies, custom roots, timeouts). The key
    /// cache starts empty again. No effect on a PEM verifier.
    pub fn with_http_client(mut self, client: reqwest::Client) -> Result<Self, JwtError> {
        if let KeySource::Remote {
            keys,
            backend_secret,
        } = &self.keys
        {
            let bearer = backend_secret.as_ref().map(|s| &*s.0);
            let endpoint = JwksEndpoint::new(client, keys.url(), bearer)?;
            self.keys = KeySource::Remote {
                keys: Arc::new(RemoteKeys::new(endpoint)),
                backend_secret: backend_secret.clone(),
            };
        }
        Ok(self)
    }

    /// Replace the wall clock (Unix seconds) used for `exp`/`nbf`/`iat` and token-cache
    /// expiry. Meant for tests and simulations; production code keeps the system clock.
    pub fn with_clock(self, clock: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        let clock: Clock = Arc::new(clock);
        self.configure(|c| c.clock = Some(clock))
    }

    fn now(&self) -> i64 {
        match &self.config.clock {
            Some(clock) => clock(),
            None => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64),
        }
    }

    /// Verifies `token` and returns its claims.
    ///
    /// A token verified before and not yet past its `exp` is answered from the token cache
    /// without any RSA work. Otherwise, in order: structure, header (`alg` RS256/384/512, `typ`
    /// absent or `JWT`, `cat` absent or the session or ignore category), key (by `kid`,
    /// fetching the key set at most once per interval; its algorithm must equal `alg`),
    /// signature, claim shapes (`exp` and a non-empty string `sub` required; a `mch_` subject
    /// is a machine), `exp`, `nbf`, `iat` with the leeway, `azp`, `iss`, and `sts` when
    /// pending sessions are refused.
    ///
    /// JWT-template and machine tokens, which the instance signs with the same key, fail with
    /// [`JwtError::TokenTypeMismatch`].
    pub async fn verify(&self, token: &str) -> Result<SessionClaims, JwtError> {
        self.verify_shared(token)
            .await
            .map(|claims| (*claims).clone())
    }

    /// Like [`verify`](Self::verify), but returns the cached, shared claims without copying
    /// them.
    pub async fn verify_shared(&self, token: &str) -> Result<Arc<SessionClaims>, JwtError> {
        let now = self.now();
        let Some(cache) = &self.token_cache else {
            return self.verify_uncached(token, now).await.map(Arc::new);
        };
        let hash = cache.hash(token);
        if let Some(claims) = cache.get(hash, token, now) {
            return Ok(claims);
        }
        let claims = Arc::new(self.verify_uncached(token, now).await?);
        cache.insert(hash, token, claims.clone(), now);
        Ok(claims)
    }

    async fn verify_uncached(&self, token: &str, now: i64) -> Result<SessionClaims, JwtError> {
        let parts = TokenParts::split(token)?;
        const BAD_HEADER: JwtError = JwtError::Malformed("header is not base64url JSON");
        let header_json = URL_SAFE_NO_PAD
            .decode(parts.header)
            .map_err(|_| BAD_HEADER)?;
        let header: Header<'_> = serde_json::from_slice(&header_json).map_err(|_| BAD_HEADER)?;
        if header.crit.is_some() {
            // RFC 7515 §4.1.11: extensions we do not implement must make the token invalid.
            return Err(JwtError::Malformed("unsupported critical header"));
        }
        let alg = Algorithm::from_name(&header.alg).ok_or(JwtError::DisallowedAlgorithm)?;
        if header.typ.as_deref().is_some_and(|typ| typ != "JWT") {
            return Err(JwtError::InvalidType);
        }
        // Before the key: a JWT-template or machine token is refused whether or not its
        // signature verifies, as Clerk refuses it before verifying.
        check_category(header.cat.as_ref()).map_err(JwtError::TokenTypeMismatch)?;
        let key = match &self.keys {
            KeySource::Pem(key) => key.clone(),
            KeySource::Remote { keys, .. } => {
                keys.key_for(header.kid.as_deref(), self.config.refresh)
                    .await?
            }
        };
        if key.alg() != alg {
            return Err(JwtError::AlgorithmMismatch);
        }
        let signature = URL_SAFE_NO_PAD
            .decode(parts.signature)
            .map_err(|_| JwtError::Malformed("signature is not base64url"))?;
        if !key.verify(parts.signing_input.as_bytes(), &signature) {
            return Err(JwtError::BadSignature);
        }
        let payload: Map<String, Value> =
            decode_json(parts.payload, "payload is not a JSON object")?;
        let claims = SessionClaims::from_payload(payload)?;
        self.check(&claims, now)?;
        Ok(claims)
    }

    fn check(&self, claims: &SessionClaims, now: i64) -> Result<(), JwtError> {
        let config = &self.config;
        // Same comparisons as Clerk's JS SDK: expired once `exp <= now - leeway`.
        if claims.exp <= now.saturating_sub(config.leeway) {
            return Err(JwtError::Expired);
        }
        let horizon = now.saturating_add(config.leeway);
        if claims.nbf.is_some_and(|nbf| nbf > horizon) {
            return Err(JwtError::NotYetValid);
        }
        if claims.iat.is_some_and(|iat| iat > horizon) {
            return Err(JwtError::IssuedInFuture);
        }
        if let Some(parties) = &config.authorized_parties {
            match claims.azp.as_deref() {
                // An empty `azp` is no party at all, even when `""` is configured as one.
                None | Some("") => return Err(JwtError::MissingClaim("azp")),
                Some(azp) if !parties.contains(azp) => return Err(JwtError::UnauthorizedParty),
                Some(_) => {}
            }
        }
        if let Some(issuer) = &config.issuer
            && claims.iss.as_deref() != Some(issuer.as_str())
        {
            return Err(JwtError::InvalidIssuer);
        }
        if config.reject_pending && claims.is_pending() {
            return Err(JwtError::PendingSession);
        }
        Ok(())
    }
}

fn default_client() -> Result<reqwest::Client, JwtError> {
    reqwest::Client::builder()
        .timeout(DEFAULT_HTTP_TIMEOUT)
        .build()
        .map_err(|_| JwtError::InvalidConfiguration("HTTP client could not be built"))
}

fn backend_jwks_url(api_url: &str) -> String {
    let base = api_url.trim().trim_end_matches('/');
    // Accept both `https://api.clerk.com` and `https://api.clerk.com/v1`.
    let base = base.strip_suffix("/v1").unwrap_or(base);
    format!("{base}/v1/jwks")
}

struct TokenParts<'a> {
    header: &'a str,
    payload: &'a str,
    signature: &'a str,
    /// `header.payload`, the bytes the signature covers.
    signing_input: &'a str,
}

impl<'a> TokenParts<'a> {
    fn split(token: &'a str) -> Result<Self, JwtError> {
        let (signing_input, signature) = token
            .rsplit_once('.')
            .ok_or(JwtError::Malformed("not three dot-separated parts"))?;
        let (header, payload) = signing_input
            .split_once('.')
            .filter(|(_, payload)| !payload.contains('.'))
            .ok_or(JwtError::Malformed("not three dot-separated parts"))?;
        Ok(TokenParts {
            header,
            payload,
            signature,
            signing_input,
        })
    }
}

#[derive(Deserialize)]
struct Header<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(default, borrow)]
    typ: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    kid: Option<Cow<'a, str>>,
    #[serde(default)]
    crit: Option<serde::de::IgnoredAny>,
    /// `Some(Value::Null)` for `"cat": null`: only an absent `cat` may skip the class check.
    #[serde(default, deserialize_with = "present")]
    cat: Option<Value>,
}

/// Deserializes a member that is present, whatever its value (`null` included), as `Some`.
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

fn decode_json<T: for<'de> Deserialize<'de>>(
    part: &str,
    what: &'static str,
) -> Result<T, JwtError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwtError::Malformed(what))?;
    serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_url_forms() {
        assert_eq!(
            backend_jwks_url("https://api.clerk.com"),
            "https://api.clerk.com/v1/jwks"
        );
        assert_eq!(
            backend_jwks_url("https://api.clerk.com/"),
            "https://api.clerk.com/v1/jwks"
        );
        assert_eq!(
            backend_jwks_url("https://api.clerk.com/v1"),
            "https://api.clerk.com/v1/jwks"
        );
    }

    #[test]
    fn four_parts_is_malformed() {
        assert!(TokenParts::split("a.b.c.d").is_err());
        assert!(TokenParts::split("a.b").is_err());
        assert!(TokenParts::split("a.b.c").is_ok());
    }
}
