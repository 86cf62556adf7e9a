//! From a [`Config`] and a store to the engine and the HTTP surface every route answers from.

use std::sync::Arc;

use clerk_sync_core::clerk_api::ClerkApi;
use clerk_sync_core::http::{AdminKey, ClerkHttp, MetricsRenderer};
use clerk_sync_core::jwt::JwtVerifier;
use clerk_sync_core::store::SyncStore;
use clerk_sync_core::sync::SyncEngine;
use clerk_sync_core::webhook::WebhookVerifier;

use crate::config::{Config, ConfigError};

/// The engine over `store`, configured from `config`: its webhook secrets, and the Backend
/// API client when `CLERK_SECRET_KEY` is set (fallback fetch, resync, reconcile, backfill,
/// the outbound worker).
///
/// Without a webhook secret (a `DATABASE_URL` of your own and no `CLERK_WEBHOOK_SECRET`, in a
/// command that needs none, such as `migrate` or `users`), the engine gets a random secret
/// that nothing was ever signed with. `serve` checks [`Config::webhook_verifier`] first.
///
/// # Errors
///
/// [`ConfigError`] naming `CLERK_SECRET_KEY` or `CLERK_API_URL` when the client cannot be
/// built (already checked by [`Config::from_lookup`]).
pub fn build_engine(
    config: &Config,
    store: Arc<dyn SyncStore>,
) -> Result<SyncEngine<dyn SyncStore>, ConfigError> {
    let verifier = match config.webhook_verifier() {
        Ok(verifier) => verifier,
        Err(_) => unusable_verifier()?,
    };
    let engine = SyncEngine::from_shared(store, verifier);
    Ok(match clerk_api(config)? {
        Some(api) => engine.with_clerk_api(api),
        None => engine,
    })
}

/// The Backend API client, when `CLERK_SECRET_KEY` is set.
///
/// # Errors
///
/// [`ConfigError`] naming `CLERK_SECRET_KEY` or `CLERK_API_URL`.
pub fn clerk_api(config: &Config) -> Result<Option<ClerkApi>, ConfigError> {
    let Some(key) = &config.clerk_secret_key else {
        return Ok(None);
    };
    let api = ClerkApi::new(key).map_err(|_| ConfigError::Invalid {
        var: "CLERK_SECRET_KEY",
        reason: "not a Backend API key (it starts with sk_live_ or sk_test_)".to_owned(),
    })?;
    let api = api
        .with_base_url(&config.clerk_api_url)
        .map_err(|_| ConfigError::Invalid {
            var: "CLERK_API_URL",
            reason: "not an http(s) origin".to_owned(),
        })?;
    Ok(Some(api))
}

/// The session verifier: from `CLERK_JWT_KEY` (networkless), else `CLERK_JWKS_URL`, else
/// the Backend API's `{CLERK_API_URL}/v1/jwks` with `CLERK_SECRET_KEY`; `None` when none is
/// configured (then `/api/me` answers 503 `sessions_not_configured`). Authorized parties
/// from `CLERK_AUTHORIZED_PARTIES`.
///
/// # Errors
///
/// [`ConfigError`] naming the variable whose value cannot be used.
pub fn session_verifier(config: &Config) -> Result<Option<JwtVerifier>, ConfigError> {
    let verifier = if let Some(pem) = &config.jwt_key {
        JwtVerifier::from_pem(pem).map_err(|_| ConfigError::Invalid {
            var: "CLERK_JWT_KEY",
            reason: "not an RSA public key in PEM form".to_owned(),
        })?
    } else if let Some(url) = &config.jwks_url {
        JwtVerifier::from_jwks_url(url).map_err(|_| ConfigError::Invalid {
            var: "CLERK_JWKS_URL",
            reason: "not an http(s) URL of a JWKS".to_owned(),
        })?
    } else if let Some(key) = &config.clerk_secret_key {
        JwtVerifier::from_backend_api(key, &config.clerk_api_url).map_err(|_| {
            ConfigError::Invalid {
                var: "CLERK_API_URL",
                reason: "cannot build the JWKS URL {CLERK_API_URL}/v1/jwks".to_owned(),
            }
        })?
    } else {
        return Ok(None);
    };
    Ok(Some(verifier.with_authorized_parties(
        config.authorized_parties.iter().cloned(),
    )))
}

/// Core's HTTP surface over `engine`: sessions, the admin key (when configured) and the
/// metrics page.
///
/// # Errors
///
/// [`ConfigError`] naming the variable whose value cannot be used.
pub fn build_http(
    config: &Config,
    engine: SyncEngine<dyn SyncStore>,
    metrics: Option<MetricsRenderer>,
) -> Result<ClerkHttp<dyn SyncStore>, ConfigError> {
    let mut http = ClerkHttp::new(engine);
    if let Some(verifier) = session_verifier(config)? {
        http = http.with_sessions(verifier);
    }
    if let Some(key) = &config.admin_api_key {
        let key = AdminKey::new(key).ok_or(ConfigError::Invalid {
            var: "ADMIN_API_KEY",
            reason: "is empty".to_owned(),
        })?;
        http = http.with_admin_key(key);
    }
    if let Some(render) = metrics {
        http = http.with_metrics(render);
    }
    Ok(http)
}

/// A verifier for a random secret that nobody knows, for commands that never verify.
fn unusable_verifier() -> Result<WebhookVerifier, ConfigError> {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| ConfigError::Invalid {
        var: "CLERK_WEBHOOK_SECRET",
        reason: "the system's random number generator failed".to_owned(),
    })?;
    let secret = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    );
    WebhookVerifier::new(&secret).map_err(|_| ConfigError::Invalid {
        var: "CLERK_WEBHOOK_SECRET",
        reason: "cannot build a verifier".to_owned(),
    })
}
