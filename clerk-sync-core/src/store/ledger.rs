//! The webhook ledger: one row per `svix-id`, for dedupe, audit and replay.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::StoreError;

/// How a ledgered event ended.
///
/// Serialized as `"applied"`, `"stale"`, `"ignored"` or `"failed"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum LedgerOutcome {
    /// The event changed the local table.
    Applied,
    /// The event was valid but older than (or equal to) what is stored, or hit a tombstone.
    Stale,
    /// The event is of a type the engine does not store; recorded and acknowledged.
    Ignored,
    /// The event could not be applied for a permanent reason; `error` says why.
    Failed,
}

impl LedgerOutcome {
    /// The stored string.
    pub const fn as_str(self) -> &'static str {
        match self {
            LedgerOutcome::Applied => "applied",
            LedgerOutcome::Stale => "stale",
            LedgerOutcome::Ignored => "ignored",
            LedgerOutcome::Failed => "failed",
        }
    }
}

impl std::fmt::Display for LedgerOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for LedgerOutcome {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "applied" => Ok(LedgerOutcome::Applied),
            "stale" => Ok(LedgerOutcome::Stale),
            "ignored" => Ok(LedgerOutcome::Ignored),
            "failed" => Ok(LedgerOutcome::Failed),
            _ => Err(StoreError::InvalidData {
                what: "ledger outcome".to_owned(),
            }),
        }
    }
}

/// A verified event about to be ledgered, borrowed from the request.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct NewLedgerEntry<'a> {
    /// The `svix-id` (or `webhook-id`) header: the event's identity across redeliveries.
    pub svix_id: &'a str,
    /// Clerk event type, e.g. `user.created`.
    pub event_type: &'a str,
    /// Id of the object the event is about (`data.id`), when it has one.
    pub object_id: Option<&'a str>,
    /// When this delivery was received.
    pub received_at: OffsetDateTime,
    /// The request body (JSON text), kept for replay; `None` when the event's payload must not
    /// be stored (see [`payload_kept_for`]).
    pub payload: Option<&'a str>,
}

impl<'a> NewLedgerEntry<'a> {
    /// An entry for `svix_id` of `event_type`.
    pub fn new(
        svix_id: &'a str,
        event_type: &'a str,
        object_id: Option<&'a str>,
        received_at: OffsetDateTime,
        payload: Option<&'a str>,
    ) -> Self {
        NewLedgerEntry {
            svix_id,
            event_type,
            object_id,
            received_at,
            payload,
        }
    }
}

/// A ledger row as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LedgerEntry {
    /// The `svix-id`.
    pub svix_id: String,
    /// Clerk event type.
    pub event_type: String,
    /// `data.id` of the event, when it has one.
    pub object_id: Option<String>,
    /// When the first delivery was received.
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
    /// When processing finished (after hooks); `None` while unprocessed.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub processed_at: Option<OffsetDateTime>,
    /// How it ended; `None` while unprocessed.
    pub outcome: Option<LedgerOutcome>,
    /// Why it failed, for `Failed`.
    pub error: Option<String>,
    /// The request body (JSON text), for the events whose payload is kept (`user.*`); `None`
    /// for the others, and in listings ([`LedgerStore::recent_ledger`]).
    ///
    /// [`LedgerStore::recent_ledger`]: super::LedgerStore::recent_ledger
    pub payload: Option<String>,
}

impl LedgerEntry {
    /// An unprocessed entry, as a store reads it back after [`NewLedgerEntry`] was inserted.
    pub fn new(
        svix_id: impl Into<String>,
        event_type: impl Into<String>,
        received_at: OffsetDateTime,
        payload: Option<String>,
    ) -> Self {
        LedgerEntry {
            svix_id: svix_id.into(),
            event_type: event_type.into(),
            object_id: None,
            received_at,
            processed_at: None,
            outcome: None,
            error: None,
            payload,
        }
    }
}

/// What [`LedgerStore::ledger_insert`] found.
///
/// [`LedgerStore::ledger_insert`]: super::LedgerStore::ledger_insert
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LedgerInsert {
    /// First delivery of this `svix-id`: the row was inserted.
    Inserted,
    /// The `svix-id` was seen before. `processed` tells whether that delivery finished; an
    /// unprocessed one (a crash, a failed hook) must be processed again.
    Exists {
        /// Whether `processed_at` is set.
        processed: bool,
    },
}

/// Whether the ledger keeps the payload of an event of type `event_type`.
///
/// Only `user.*` events are kept: replaying them is how a table is rebuilt, and the row keeps
/// the same data anyway. Every other payload is dropped. That matters most for `email.created`
/// and `sms.created`, which carry one-time codes and magic or reset links, and for
/// `session.*`, which carry client addresses.
///
/// ```
/// use clerk_sync_core::store::payload_kept_for;
///
/// assert!(payload_kept_for("user.updated"));
/// assert!(!payload_kept_for("email.created"));
/// assert!(!payload_kept_for("sms.created"));
/// assert!(!payload_kept_for("users.updated"));
/// ```
pub fn payload_kept_for(event_type: &str) -> bool {
    event_type.starts_with("user.")
}

/// A page request for [`LedgerStore::recent_ledger`](super::LedgerStore::recent_ledger):
/// newest first (by `received_at`, then `svix_id`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LedgerQuery {
    /// Only entries that ended this way.
    pub outcome: Option<LedgerOutcome>,
    /// Only entries received strictly before this one: `(received_at, svix_id)` of the last
    /// entry of the previous page.
    pub before: Option<(OffsetDateTime, String)>,
    /// Page size; stores cap it at 1000.
    pub limit: u32,
}

impl LedgerQuery {
    /// The newest `limit` entries of every outcome.
    pub fn new(limit: u32) -> Self {
        LedgerQuery {
            limit,
            ..LedgerQuery::default()
        }
    }
}
