//! Application code that runs after an inbound event is stored.

use async_trait::async_trait;

use super::ProcessOutcome;
use crate::event::{DeletedObject, User, WebhookEvent};
use crate::store::{BoxError, LocalUser};

/// The error a hook returns; any error type converts into it with `?` or `.into()`.
pub type HookError = BoxError;

/// What a hook is told about the event it runs for.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct HookContext<'a> {
    /// The `svix-id` of the delivery: the event's identity across redeliveries, and the key to
    /// deduplicate side effects on.
    pub svix_id: &'a str,
    /// The parsed event.
    pub event: &'a WebhookEvent,
    /// What this delivery's write did. A redelivery after a failed hook reports
    /// [`ProcessOutcome::Stale`] even though an earlier delivery applied the change, so act on
    /// the event (or on [`user`](Self::user)), not on this.
    pub outcome: ProcessOutcome,
    /// For user events, the local row after the write (a tombstone for `user.deleted`).
    pub user: Option<&'a LocalUser>,
}

/// Callbacks the [`SyncEngine`](super::SyncEngine) runs after storing an inbound event and
/// before acknowledging it.
///
/// Delivery is **at least once**: an event is marked processed only after its hooks return
/// `Ok`, so a crash or a hook error makes Svix redeliver it, the write is then a no-op, and
/// the hooks run again. Make side effects idempotent, keyed by [`HookContext::svix_id`].
/// Hooks run for every event that is not a duplicate of a processed one, also when the write
/// was stale (a `user.created` arriving after a `user.updated` still announces a new user).
///
/// A hook error fails the request as retryable ([`SyncError::Hook`](super::SyncError::Hook)).
/// Every method has a no-op default; implement the ones you need.
///
/// ```
/// use async_trait::async_trait;
/// use clerk_sync_core::event::User;
/// use clerk_sync_core::sync::{HookContext, HookError, SyncHooks};
///
/// struct Welcome;
///
/// #[async_trait]
/// impl SyncHooks for Welcome {
///     async fn on_user_created(&self, ctx: &HookContext<'_>, user: &User) -> Result<(), HookError> {
///         // e.g. queue a welcome email keyed by ctx.svix_id, so a redelivery sends none.
///         let _ = (ctx.svix_id, &user.id);
///         Ok(())
///     }
/// }
/// ```
#[async_trait]
pub trait SyncHooks: Send + Sync {
    /// A `user.created` event was stored.
    async fn on_user_created(&self, _ctx: &HookContext<'_>, _user: &User) -> Result<(), HookError> {
        Ok(())
    }

    /// A `user.updated` event was stored.
    async fn on_user_updated(&self, _ctx: &HookContext<'_>, _user: &User) -> Result<(), HookError> {
        Ok(())
    }

    /// A `user.deleted` event was stored (the row is a tombstone).
    async fn on_user_deleted(
        &self,
        _ctx: &HookContext<'_>,
        _deleted: &DeletedObject,
    ) -> Result<(), HookError> {
        Ok(())
    }

    /// Any other event type (sessions, organizations, unknown types, ...), recorded in the
    /// ledger but not stored in the user table.
    async fn on_event(&self, _ctx: &HookContext<'_>) -> Result<(), HookError> {
        Ok(())
    }
}
