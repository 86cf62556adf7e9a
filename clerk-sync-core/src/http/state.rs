//! [`ClerkState`]: [`ClerkHttp`] over a shared store, as the framework crates hold it.

use std::sync::Arc;

use super::ClerkHttp;
use crate::store::SyncStore;
use crate::sync::SyncEngine;

/// The state behind every extractor and route of the framework crates (`clerk-sync-axum`,
/// `clerk-sync-actix`, which re-export it): core's [`ClerkHttp`] over a shared store, cheap to
/// clone.
///
/// The store is a `dyn SyncStore`, so that no type parameter spreads through handlers and
/// routers. Build the engine with [`SyncEngine::from_shared`] over an `Arc<dyn SyncStore>`:
///
/// ```
/// use std::sync::Arc;
///
/// use clerk_sync_core::http::{AdminKey, ClerkHttp, ClerkState};
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
