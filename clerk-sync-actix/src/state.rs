//! [`ClerkState`]: what the extractors and services need, registered as `web::Data`.

use std::sync::Arc;

use actix_web::HttpRequest;
use actix_web::web::Data;
use clerk_sync_core::http::{ApiError, ClerkHttp};
use clerk_sync_core::store::SyncStore;
use clerk_sync_core::sync::SyncEngine;

/// The state behind every extractor and route of this crate: core's [`ClerkHttp`] over a
/// shared store.
///
/// The extractors find it as `web::Data<ClerkState>` in the application's data.
/// [`configure`](crate::configure) registers it; when you mount the services one by one,
/// register it yourself with `App::app_data(web::Data::new(state))`.
///
/// The store is a `dyn SyncStore`, so that no type parameter spreads through your handlers.
/// Build the engine with [`SyncEngine::from_shared`] over an `Arc<dyn SyncStore>`:
///
/// ```
/// use std::sync::Arc;
///
/// use clerk_sync_actix::ClerkState;
/// use clerk_sync_core::http::{AdminKey, ClerkHttp};
/// use clerk_sync_core::memory::MemoryStore;
/// use clerk_sync_core::store::SyncStore;
/// use clerk_sync_core::sync::SyncEngine;
/// use clerk_sync_core::webhook::WebhookVerifier;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store: Arc<dyn SyncStore> = Arc::new(MemoryStore::new());
/// let engine = SyncEngine::from_shared(store, WebhookVerifier::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?);
/// let state = ClerkState::new(
///     ClerkHttp::new(engine).with_admin_key(AdminKey::new("change-me").expect("not empty")),
/// );
/// assert_eq!(state.http().webhook_body_limit(), 1024 * 1024);
/// let data = actix_web::web::Data::new(state); // for App::app_data
/// # let _ = data;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ClerkState {
    http: Arc<ClerkHttp<dyn SyncStore>>,
}

impl ClerkState {
    /// The state over `http`: its engine, session verifier, admin key, webhook body limit
    /// and metrics renderer are what the routes use.
    pub fn new(http: ClerkHttp<dyn SyncStore>) -> Self {
        ClerkState {
            http: Arc::new(http),
        }
    }

    /// Core's HTTP surface, to call a route's behaviour directly.
    pub fn http(&self) -> &ClerkHttp<dyn SyncStore> {
        &self.http
    }

    /// The sync engine, for your own handlers (local changes, reconcile, ...).
    pub fn engine(&self) -> &SyncEngine<dyn SyncStore> {
        self.http.engine()
    }

    /// The state registered in the application's data.
    ///
    /// # Errors
    ///
    /// 500 when none is registered: a mistake in the application's setup, logged once per
    /// request as an error, never a reason to panic a worker.
    pub(crate) fn of(request: &HttpRequest) -> Result<&ClerkState, ApiError> {
        request
            .app_data::<Data<ClerkState>>()
            .map(|data| data.get_ref())
            .ok_or_else(|| {
                tracing::error!(
                    "clerk-sync-actix: no web::Data<ClerkState> in the application's data; \
                     register it with App::app_data or mount the routes with configure(state)"
                );
                ApiError::internal()
            })
    }
}

impl From<ClerkHttp<dyn SyncStore>> for ClerkState {
    fn from(http: ClerkHttp<dyn SyncStore>) -> Self {
        ClerkState::new(http)
    }
}

impl std::fmt::Debug for ClerkState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ClerkState").field(&self.http).finish()
    }
}
