//! The sync engine: verified Clerk webhooks in, local changes queued out.
//!
//! [`SyncEngine::process_webhook`] is the one entry point HTTP adapters call. It holds the
//! inbound rules (see `docs/sync-semantics.md`):
//!
//! - **Ordering.** A user's version is `data.updated_at`; the store writes an upsert only if it
//!   is newer than what it holds, so deliveries in any order end in the same row.
//! - **Idempotency.** The ledger deduplicates by `svix-id`, and the conditional write makes a
//!   redelivery a no-op even if the ledger write was lost.
//! - **Tombstones.** `user.deleted` leaves a terminal tombstone: no later create or update
//!   brings the user back.
//! - **Durability.** `Ok` means committed. Store and hook failures are retryable errors (5xx,
//!   so Svix redelivers); a signed event that can never be applied is recorded and acknowledged.
//!
//! [`SyncHooks`] run application code after an event is stored, at least once per event.
//! Local changes ([`SyncEngine::create_local_user`], [`SyncEngine::invite_user`],
//! [`SyncEngine::update_local_user`], [`SyncEngine::delete_local_user`]) write the row as
//! `pending` and queue an outbox entry atomically, for the worker that pushes them to Clerk
//! ([`SyncEngine::run_outbound`]).
//!
//! With a Backend API client ([`SyncEngine::with_clerk_api`], feature `clerk-api`), the
//! recovery paths run too: [`SyncEngine::user_or_fetch`] fetches a user missing locally,
//! [`SyncEngine::reconcile`] repairs the whole table against Clerk's list, and
//! [`SyncEngine::backfill`] walks it without deleting (see `docs/recovery.md`).

mod engine;
mod error;
mod hooks;
mod inbound;
mod local;
mod metrics;
#[cfg(feature = "clerk-api")]
mod outbound;
#[cfg(feature = "clerk-api")]
mod reconcile;
#[cfg(feature = "clerk-api")]
mod recovery;

pub use engine::{DEFAULT_LEDGER_RETENTION, SyncEngine};
pub use error::SyncError;
pub use hooks::{HookContext, HookError, SyncHooks};
#[cfg(feature = "clerk-api")]
pub use outbound::{OutboundConfig, OutboundTick};
#[cfg(feature = "clerk-api")]
pub use reconcile::{
    BACKFILL_LEASE, BackfillOptions, DEFAULT_DISCREPANCY_WARNING, DeletionGuard, Phase, Progress,
    ProgressFn, RECONCILE_LEASE, ReconcileOptions, ReconcileReport, ReportSamples, UserSyncHealth,
};
#[cfg(feature = "clerk-api")]
pub use recovery::{DEFAULT_NOT_FOUND_TTL, ResyncOutcome};

/// What [`SyncEngine::process_webhook`] did with a delivery. Every variant is a success: answer
/// 2xx.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProcessOutcome {
    /// The event changed the local table: a user was inserted, updated, linked or deleted.
    Applied,
    /// The `svix-id` was already processed; nothing was written.
    Duplicate,
    /// The event was valid but changed nothing: the stored version is equal or newer, or the
    /// user is deleted (tombstones are terminal).
    Stale,
    /// The event is recorded in the ledger but not stored: a type the engine does not keep
    /// (sessions, organizations, ...), or a verified event that can never be applied.
    Ignored,
}

impl ProcessOutcome {
    /// `"applied"`, `"duplicate"`, `"stale"` or `"ignored"`, e.g. for a metrics label.
    pub const fn as_str(self) -> &'static str {
        match self {
            ProcessOutcome::Applied => "applied",
            ProcessOutcome::Duplicate => "duplicate",
            ProcessOutcome::Stale => "stale",
            ProcessOutcome::Ignored => "ignored",
        }
    }
}

impl std::fmt::Display for ProcessOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
