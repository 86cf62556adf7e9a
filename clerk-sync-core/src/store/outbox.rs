//! The outbox: local changes waiting to be pushed to Clerk.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{LocalUser, StoreError};

/// What an outbox entry asks Clerk to do.
///
/// Serialized as `"create"`, `"invite"`, `"update"` or `"delete"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum OutboxOperation {
    /// Create the user in Clerk; on success the row gets its `clerk_id`.
    Create,
    /// Send a Clerk invitation to the row's email.
    Invite,
    /// Push the profile fields to the existing Clerk user.
    Update,
    /// Delete the user in Clerk.
    Delete,
}

impl OutboxOperation {
    /// The stored string.
    pub const fn as_str(self) -> &'static str {
        match self {
            OutboxOperation::Create => "create",
            OutboxOperation::Invite => "invite",
            OutboxOperation::Update => "update",
            OutboxOperation::Delete => "delete",
        }
    }
}

impl std::fmt::Display for OutboxOperation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for OutboxOperation {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "create" => Ok(OutboxOperation::Create),
            "invite" => Ok(OutboxOperation::Invite),
            "update" => Ok(OutboxOperation::Update),
            "delete" => Ok(OutboxOperation::Delete),
            _ => Err(StoreError::InvalidData {
                what: "outbox operation".to_owned(),
            }),
        }
    }
}

/// Profile fields of a local change. `None` means "not given": unchanged on update.
///
/// Not `#[non_exhaustive]`, so that it can be written as a literal with
/// `..UserProfile::default()`, which also keeps such code compiling when fields are added:
///
/// ```
/// use clerk_sync_core::store::UserProfile;
///
/// let profile = UserProfile {
///     email: Some("ada@example.com".to_owned()),
///     first_name: Some("Ada".to_owned()),
///     ..UserProfile::default()
/// };
/// # let _ = profile;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserProfile {
    /// Primary email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Given name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Family name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The application's id for the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Clerk `public_metadata`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_metadata: Option<serde_json::Value>,
}

/// A change made on the local side, written together with its outbox entry by
/// [`OutboxStore::enqueue_local_change`].
///
/// [`OutboxStore::enqueue_local_change`]: super::OutboxStore::enqueue_local_change
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum LocalChange {
    /// Insert a new row (no `clerk_id` yet) and queue a Clerk create.
    Create(UserProfile),
    /// Insert a new row for `email` (no `clerk_id` yet) and queue a Clerk invitation.
    Invite(UserProfile),
    /// Overwrite the given fields of row `user_id` and queue a Clerk update.
    Update {
        /// Local id of the row.
        user_id: i64,
        /// Fields to change; `None` fields stay.
        profile: UserProfile,
    },
    /// Queue a Clerk delete of row `user_id`. The row becomes a tombstone when Clerk confirms.
    Delete {
        /// Local id of the row.
        user_id: i64,
    },
}

impl LocalChange {
    /// The outbox operation this change queues.
    pub fn operation(&self) -> OutboxOperation {
        match self {
            LocalChange::Create(_) => OutboxOperation::Create,
            LocalChange::Invite(_) => OutboxOperation::Invite,
            LocalChange::Update { .. } => OutboxOperation::Update,
            LocalChange::Delete { .. } => OutboxOperation::Delete,
        }
    }
}

/// The result of [`OutboxStore::enqueue_local_change`]: the row as written and its entry.
///
/// [`OutboxStore::enqueue_local_change`]: super::OutboxStore::enqueue_local_change
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct EnqueuedChange {
    /// The row after the change, in `pending`.
    pub user: LocalUser,
    /// The id of the outbox entry that was queued.
    pub outbox_id: i64,
}

impl EnqueuedChange {
    /// The result for `user` and its entry `outbox_id`. The struct is `#[non_exhaustive]`, so
    /// stores outside this crate build it here.
    pub fn new(user: LocalUser, outbox_id: i64) -> Self {
        EnqueuedChange { user, outbox_id }
    }
}

/// One queued operation.
///
/// An entry is *live* while it waits to be sent or is being sent, and a *dead letter* once it
/// was given up ([`dead_at`](Self::dead_at) is set): dead letters are kept, visible and
/// revivable, and are never claimed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OutboxEntry {
    /// Entry id, increasing in enqueue order.
    pub id: i64,
    /// Local id of the user row.
    pub user_id: i64,
    /// What to do in Clerk.
    pub operation: OutboxOperation,
    /// The fields to send (empty for delete).
    pub profile: UserProfile,
    /// Claims so far, counting the current one; reset when a dead letter is revived.
    pub attempts: u32,
    /// Not claimable before this time.
    #[serde(with = "time::serde::rfc3339")]
    pub next_attempt_at: OffsetDateTime,
    /// Worker holding the current claim.
    pub claimed_by: Option<String>,
    /// The current claim expires at this time; after it another worker may claim the entry.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub claimed_until: Option<OffsetDateTime>,
    /// The token of the current claim. Only the holder of this token may complete, fail or
    /// give up the entry; a worker whose claim was taken over holds an older token.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub claim_token: Option<String>,
    /// Error of the last failed attempt.
    pub last_error: Option<String>,
    /// When the entry was given up: a dead letter. `None` while live.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub dead_at: Option<OffsetDateTime>,
    /// When the entry was queued.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl OutboxEntry {
    /// A newly queued entry: due at `created_at`, never attempted, unclaimed, live.
    pub fn new(
        id: i64,
        user_id: i64,
        operation: OutboxOperation,
        profile: UserProfile,
        created_at: OffsetDateTime,
    ) -> Self {
        OutboxEntry {
            id,
            user_id,
            operation,
            profile,
            attempts: 0,
            next_attempt_at: created_at,
            claimed_by: None,
            claimed_until: None,
            claim_token: None,
            last_error: None,
            dead_at: None,
            created_at,
        }
    }

    /// Whether the entry was given up.
    pub fn is_dead(&self) -> bool {
        self.dead_at.is_some()
    }
}

/// What a claim holder's [`complete`], [`fail`] or [`give_up`] did.
///
/// [`complete`]: super::OutboxStore::complete_outbox
/// [`fail`]: super::OutboxStore::fail_outbox
/// [`give_up`]: super::OutboxStore::give_up_outbox
#[must_use = "a lost claim means another worker owns the entry now"]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ClaimOutcome {
    /// The caller held the claim, and the change was written.
    Applied,
    /// The caller no longer holds the claim: it expired (another worker may have taken the
    /// entry over), the entry is gone, or it is a dead letter. Nothing was written.
    Lost,
}

impl ClaimOutcome {
    /// Whether the change was written.
    pub fn applied(self) -> bool {
        self == ClaimOutcome::Applied
    }
}

/// A page request for [`OutboxStore::dead_letters`](super::OutboxStore::dead_letters), ordered
/// by entry id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeadLetterQuery {
    /// Only this user's dead letters.
    pub user_id: Option<i64>,
    /// Only entries with an id greater than this (the cursor from the previous page).
    pub after_id: Option<i64>,
    /// Page size; stores cap it at 1000.
    pub limit: u32,
}

impl DeadLetterQuery {
    /// The first page of `limit` dead letters of every user.
    pub fn new(limit: u32) -> Self {
        DeadLetterQuery {
            limit,
            ..DeadLetterQuery::default()
        }
    }
}

/// A fresh claim token: 128 bits from the standard library's randomly keyed hasher, as hex.
///
/// Stores call this once per [`claim_outbox`](super::OutboxStore::claim_outbox) call. Tokens
/// need to be unique, not secret: they fence a slow worker off an entry that another worker
/// claimed after it, they do not authenticate anyone.
pub fn new_claim_token() -> String {
    use std::hash::BuildHasher;
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    // Each `RandomState` is keyed from the OS's randomness (then varied per instance), so two
    // processes, or two calls, never produce the same pair.
    let high = std::hash::RandomState::new().hash_one((n, nanos, std::process::id()));
    let low = std::hash::RandomState::new().hash_one((nanos, n));
    format!("{high:016x}{low:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_tokens_are_unique_hex() {
        let tokens: std::collections::HashSet<String> =
            (0..10_000).map(|_| new_claim_token()).collect();
        assert_eq!(tokens.len(), 10_000);
        assert!(
            tokens
                .iter()
                .all(|t| t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        );
    }
}
