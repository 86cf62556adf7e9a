//! A key set fetched over HTTP and cached per verifier: single-flight, rate-limited refetch
//! on an unknown `kid`, stale keys kept while the endpoint is down.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde::Deserialize;

use super::error::{JwtError, KeySourceError};
use super::key::{Jwk, VerificationKey};

/// A JWKS larger than this is refused: Clerk's holds a handful of keys (a few KiB).
const MAX_JWKS_BYTES: usize = 1 << 20;

/// When and how often the key set may be fetched.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RefreshPolicy {
    /// At most one fetch per this interval, whatever the traffic.
    pub(crate) min_interval: Duration,
    /// A set older than this is refreshed in the background while still being used, so
    /// revoked keys eventually disappear.
    pub(crate) max_age: Duration,
}

#[derive(Default)]
struct KeySet {
    by_kid: HashMap<String, Arc<VerificationKey>>,
    fetched_at: Option<Instant>,
}

/// Where to fetch the JWKS and how to authenticate.
pub(crate) struct JwksEndpoint {
    client: reqwest::Client,
    url: reqwest::Url,
    // Kept as a sensitive header value so it never shows in `Debug` output.
    authorization: Option<HeaderValue>,
}

impl JwksEndpoint {
    pub(crate) fn new(
        client: reqwest::Client,
        url: &str,
        bearer: Option<&str>,
    ) -> Result<Self, JwtError> {
        let url = reqwest::Url::parse(url)
            .map_err(|_| JwtError::InvalidConfiguration("key set URL is not a valid URL"))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(JwtError::InvalidConfiguration(
                "key set URL must be http(s)",
            ));
        }
        let authorization = bearer
            .map(|secret| {
                let mut value =
                    HeaderValue::from_str(&format!("Bearer {secret}")).map_err(|_| {
                        JwtError::InvalidConfiguration("secret key is not a valid header value")
                    })?;
                value.set_sensitive(true);
                Ok::<_, JwtError>(value)
            })
            .transpose()?;
        Ok(JwksEndpoint {
            client,
            url,
            authorization,
        })
    }

    pub(crate) fn url(&self) -> &str {
        self.url.as_str()
    }

    async fn fetch(&self) -> Result<KeySet, KeySourceError> {
        let mut request = self.client.get(self.url.clone());
        if let Some(authorization) = &self.authorization {
            request = request.header(AUTHORIZATION, authorization.clone());
        }
        let mut response = request.send().await.map_err(KeySourceError::Request)?;
        if !response.status().is_success() {
            return Err(KeySourceError::Status(response.status().as_u16()));
        }
        // Read chunk by chunk so a hostile or broken endpoint cannot make us buffer gigabytes.
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(KeySourceError::Request)? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(KeySourceError::InvalidKeySet("body too large"));
            }
            body.extend_from_slice(&chunk);
        }
        parse_key_set(&body)
    }
}

fn parse_key_set(body: &[u8]) -> Result<KeySet, KeySourceError> {
    #[derive(Deserialize)]
    struct RawSet {
        keys: Vec<serde_json::Value>,
    }
    let raw: RawSet = serde_json::from_slice(body)
        .map_err(|_| KeySourceError::InvalidKeySet("not a JSON object with a `keys` array"))?;
    let mut by_kid = HashMap::new();
    for value in raw.keys {
        // One odd entry (EC key, encryption key, bad field) must not cost us the others.
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
            continue;
        };
        let Some(kid) = jwk.kid.clone() else { continue };
        if let Some(key) = VerificationKey::from_jwk(&jwk) {
            by_kid.insert(kid, Arc::new(key));
        }
    }
    if by_kid.is_empty() {
        // An empty set would lock everyone out; treat it like an outage and keep the old keys.
        return Err(KeySourceError::NoUsableKeys);
    }
    Ok(KeySet {
        by_kid,
        fetched_at: Some(Instant::now()),
    })
}

/// The cached key set of one verifier.
pub(crate) struct RemoteKeys {
    endpoint: JwksEndpoint,
    keys: RwLock<Arc<KeySet>>,
    /// Held for the whole fetch: that is the single flight. Holds the last attempt time.
    refresh: tokio::sync::Mutex<Option<Instant>>,
}

impl std::fmt::Debug for RemoteKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteKeys")
            .field("url", &self.endpoint.url())
            .field("authenticated", &self.endpoint.authorization.is_some())
            .field("cached_keys", &self.current().by_kid.len())
            .finish()
    }
}

impl RemoteKeys {
    pub(crate) fn new(endpoint: JwksEndpoint) -> Self {
        RemoteKeys {
            endpoint,
            keys: RwLock::new(Arc::new(KeySet::default())),
            refresh: tokio::sync::Mutex::new(None),
        }
    }

    pub(crate) fn url(&self) -> &str {
        self.endpoint.url()
    }

    fn current(&self) -> Arc<KeySet> {
        // A poisoned lock only means a panic elsewhere while swapping an Arc; the value is whole.
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn store(&self, set: KeySet) {
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(set);
    }

    /// The key for `kid`: from the cache, else after at most one (shared) fetch.
    pub(crate) async fn key_for(
        self: &Arc<Self>,
        kid: Option<&str>,
        policy: RefreshPolicy,
    ) -> Result<Arc<VerificationKey>, JwtError> {
        // A key set is looked up by `kid`; a token without one cannot be matched safely.
        let kid = kid.ok_or(JwtError::UnknownKey)?;
        let set = self.current();
        if let Some(key) = set.by_kid.get(kid) {
            if set
                .fetched_at
                .is_some_and(|at| at.elapsed() >= policy.max_age)
            {
                self.refresh_in_background(policy);
            }
            return Ok(key.clone());
        }
        self.refetch_for(kid, policy).await
    }

    async fn refetch_for(
        &self,
        kid: &str,
        policy: RefreshPolicy,
    ) -> Result<Arc<VerificationKey>, JwtError> {
        let mut last_attempt = self.refresh.lock().await;
        // Whoever held the lock before us may just have fetched the set we need.
        let set = self.current();
        if let Some(key) = set.by_kid.get(kid) {
            return Ok(key.clone());
        }
        if last_attempt.is_some_and(|at| at.elapsed() < policy.min_interval) {
            return Err(if set.by_kid.is_empty() {
                JwtError::KeySourceUnavailable(KeySourceError::BackingOff)
            } else {
                JwtError::UnknownKey
            });
        }
        *last_attempt = Some(Instant::now());
        match self.endpoint.fetch().await {
            Ok(fresh) => {
                let found = fresh.by_kid.get(kid).cloned();
                self.store(fresh);
                found.ok_or(JwtError::UnknownKey)
            }
            Err(error) if set.by_kid.is_empty() => Err(JwtError::KeySourceUnavailable(error)),
            Err(error) => {
                tracing::warn!(url = self.url(), %error, "JWKS refetch failed; keeping cached keys");
                Err(JwtError::UnknownKey)
            }
        }
    }

    fn refresh_in_background(self: &Arc<Self>, policy: RefreshPolicy) {
        // Outside a Tokio runtime there is nothing to spawn on; the cached key still serves.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        // Claim the attempt synchronously, so a stale set under heavy traffic spawns one task
        // per interval rather than one per request. A fetch already in flight holds the lock.
        let Ok(mut last_attempt) = self.refresh.try_lock() else {
            return;
        };
        if last_attempt.is_some_and(|at| at.elapsed() < policy.min_interval) {
            return;
        }
        *last_attempt = Some(Instant::now());
        drop(last_attempt);
        let this = Arc::clone(self);
        runtime.spawn(async move {
            match this.endpoint.fetch().await {
                Ok(fresh) => this.store(fresh),
                Err(error) => {
                    tracing::warn!(url = this.url(), %error, "JWKS refresh failed; keeping cached keys");
                }
            }
        });
    }
}
