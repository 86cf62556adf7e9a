//! What can go wrong in the engine, and whether the caller should retry.

#[cfg(feature = "clerk-api")]
use std::sync::Arc;

#[cfg(feature = "clerk-api")]
use crate::clerk_api::ClerkApiError;
use crate::store::{BoxError, StoreError};
use crate::webhook::WebhookError;

/// Why the engine could not process a webhook or a local change.
///
/// [`SyncError::is_retryable`] is what HTTP adapters map to a status: retryable errors answer
/// 5xx so that Svix delivers the event again; the others answer 4xx. Messages carry ids and
/// event types only, never secrets or payload contents.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// The delivery is not authentic: a header is missing, the timestamp is outside the
    /// tolerance, or no signature matches. Answer 401 (or 400); Svix retrying will not help.
    #[error("webhook verification failed")]
    Verification(#[source] WebhookError),
    /// The store failed. Nothing is acknowledged, so a redelivery applies the event again.
    #[error("storage failed")]
    Store(#[source] StoreError),
    /// A [`SyncHooks`](super::SyncHooks) method failed. The change is stored, but the event is
    /// left unprocessed, so its redelivery runs the hooks again.
    #[error("`{event_type}` hook failed")]
    Hook {
        /// The event type whose hook failed.
        event_type: String,
        /// The hook's error.
        #[source]
        source: BoxError,
    },
    /// A local change was refused before anything was written.
    #[error("invalid local change: {reason}")]
    InvalidInput {
        /// What is wrong with the input (never the input itself).
        reason: &'static str,
    },
    /// A local change names a user row that does not exist or is deleted.
    #[error("local user {id} not found")]
    UserNotFound {
        /// The local id asked for.
        id: i64,
    },
    /// Clerk's Backend API failed (after the client's retries). Shared behind an `Arc`
    /// because concurrent fetches of one user share one call and its answer.
    #[cfg(feature = "clerk-api")]
    #[error("Clerk Backend API call failed")]
    ClerkApi(#[source] Arc<ClerkApiError>),
    /// The operation needs Clerk's Backend API (fallback fetch, resync, reconcile, backfill,
    /// the outbound worker), and the engine has none: see `SyncEngine::with_clerk_api`.
    #[error("the Clerk Backend API is not configured (no secret key)")]
    ClerkApiNotConfigured,
    /// Another replica (or task) holds the job's lease: only one runs at a time.
    #[error("a {job} is already running")]
    AlreadyRunning {
        /// `"reconcile"` or `"backfill"`.
        job: &'static str,
    },
    /// The job's lease was taken over while it ran (it stalled past the lease); it stopped
    /// so as not to run beside the new holder.
    #[error("the {job} lost its lease and stopped")]
    LeaseLost {
        /// `"reconcile"` or `"backfill"`.
        job: &'static str,
    },
}

impl SyncError {
    /// Whether the same request may succeed later: store and hook failures are retryable
    /// (answer 5xx so Svix retries); bad signatures, missing headers and invalid input are not
    /// (answer 4xx).
    ///
    /// A Backend API failure is retryable when Clerk's answer was (rate limit, 5xx, network);
    /// a job that lost its lease may simply be run again.
    pub fn is_retryable(&self) -> bool {
        match self {
            SyncError::Store(_) | SyncError::Hook { .. } | SyncError::LeaseLost { .. } => true,
            #[cfg(feature = "clerk-api")]
            SyncError::ClerkApi(error) => error.is_retryable(),
            _ => false,
        }
    }
}

#[cfg(feature = "clerk-api")]
impl From<ClerkApiError> for SyncError {
    fn from(error: ClerkApiError) -> Self {
        SyncError::ClerkApi(Arc::new(error))
    }
}

impl From<WebhookError> for SyncError {
    fn from(error: WebhookError) -> Self {
        SyncError::Verification(error)
    }
}

impl From<StoreError> for SyncError {
    fn from(error: StoreError) -> Self {
        SyncError::Store(error)
    }
}
