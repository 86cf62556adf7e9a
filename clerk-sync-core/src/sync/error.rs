//! What can go wrong in the engine, and whether the caller should retry.

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
}

impl SyncError {
    /// Whether the same request may succeed later: store and hook failures are retryable
    /// (answer 5xx so Svix retries); bad signatures, missing headers and invalid input are not
    /// (answer 4xx).
    pub fn is_retryable(&self) -> bool {
        matches!(self, SyncError::Store(_) | SyncError::Hook { .. })
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
