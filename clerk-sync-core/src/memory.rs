//! An in-memory store: the reference implementation of the [`crate::store`] traits.
//!
//! [`MemoryStore`] implements every store trait exactly as their documentation says, and is what
//! the conformance suite is checked against first. Use it in tests, in examples, and in small
//! single-process applications that can rebuild their user table from Clerk on start (nothing
//! survives a restart).
//!
//! All state sits behind one mutex, and every trait method (including the multi-step ones such as
//! [`InboundStore::apply_inbound`] and [`OutboxStore::enqueue_local_change`]) runs under a single
//! lock, which gives the same atomicity a SQL store gets from one transaction. The lock is never
//! held across an `.await`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::store::{
    ClaimOutcome, ClerkUserRecord, DeadLetterQuery, EnqueuedChange, InboundApplied, InboundChange,
    InboundStore, LeaseStore, LedgerEntry, LedgerInsert, LedgerOutcome, LedgerQuery, LedgerStore,
    LocalChange, LocalUser, NewLedgerEntry, OutboxEntry, OutboxOperation, OutboxStore, RunLogStore,
    StatusCounts, StoreError, SyncRun, SyncStatus, Tombstone, TombstoneOutcome, UpsertOutcome,
    UserProfile, UserQuery, UserStore, UserVersion, new_claim_token, saturating_add,
};

/// The largest page [`UserStore::list_users`] returns, as documented on [`UserQuery::limit`].
const MAX_PAGE: u32 = 1000;

/// Users, ledger, outbox, leases and run log in memory, shared between clones.
///
/// Cloning is cheap and every clone sees the same data, so one store can be handed to a
/// [`SyncEngine`](crate::sync::SyncEngine) and still be inspected by a test.
///
/// ```
/// use clerk_sync_core::memory::MemoryStore;
/// use clerk_sync_core::store::{ClerkUserRecord, UpsertOutcome, UserStore};
/// use time::OffsetDateTime;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let now = OffsetDateTime::now_utc();
/// let record = ClerkUserRecord::new("user_1", 1_700_000_000_000, r#"{"id":"user_1"}"#);
/// assert_eq!(store.upsert_user(&record, now).await?, UpsertOutcome::Inserted);
/// // The same version again is not newer: nothing is written.
/// assert_eq!(store.upsert_user(&record, now).await?, UpsertOutcome::Stale);
/// assert!(store.get_user("user_1").await?.is_some());
/// # Ok::<(), clerk_sync_core::store::StoreError>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every method validates before it mutates, so a panic while the lock was held (only
        // possible from a bug or an allocation failure) cannot leave half a change behind; the
        // data stays usable and other clones should not start panicking too.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for MemoryStore {
    // Counts only: rows hold personal data that must not end up in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("MemoryStore")
            .field("users", &state.users.len())
            .field("ledger", &state.ledger.len())
            .field("outbox", &state.outbox.len())
            .field("leases", &state.leases.len())
            .field("runs", &state.runs.len())
            .finish()
    }
}

#[derive(Default)]
struct State {
    users: BTreeMap<i64, LocalUser>,
    /// Ordered so that [`UserStore::scan_versions`] can page by `clerk_id`.
    by_clerk_id: BTreeMap<String, i64>,
    /// Email is indexed, not unique (invariant 6): several rows may share one address.
    by_email: HashMap<String, BTreeSet<i64>>,
    last_user_id: i64,
    ledger: HashMap<String, LedgerEntry>,
    outbox: BTreeMap<i64, OutboxEntry>,
    last_outbox_id: i64,
    leases: HashMap<String, Lease>,
    runs: Vec<SyncRun>,
    last_run_id: i64,
}

struct Lease {
    holder: String,
    expires_at: OffsetDateTime,
}

fn parse_raw_json(raw: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(raw).map_err(|_| StoreError::InvalidData {
        what: "raw_json".to_owned(),
    })
}

impl State {
    fn insert_user(&mut self, user: LocalUser) -> i64 {
        self.last_user_id += 1;
        let id = self.last_user_id;
        let user = LocalUser { id, ..user };
        self.index(&user);
        self.users.insert(id, user);
        id
    }

    /// Change row `id` (if it exists) through `change`, keeping the indexes in step.
    fn update_user(&mut self, id: i64, change: impl FnOnce(&mut LocalUser)) {
        let Some(mut user) = self.users.remove(&id) else {
            return;
        };
        self.unindex(&user);
        change(&mut user);
        self.index(&user);
        self.users.insert(id, user);
    }

    fn index(&mut self, user: &LocalUser) {
        if let Some(clerk_id) = &user.clerk_id {
            self.by_clerk_id.insert(clerk_id.clone(), user.id);
        }
        if let Some(email) = &user.email {
            self.by_email
                .entry(email.clone())
                .or_default()
                .insert(user.id);
        }
    }

    fn unindex(&mut self, user: &LocalUser) {
        if let Some(clerk_id) = &user.clerk_id {
            self.by_clerk_id.remove(clerk_id);
        }
        if let Some(email) = &user.email
            && let Some(ids) = self.by_email.get_mut(email)
        {
            ids.remove(&user.id);
            if ids.is_empty() {
                self.by_email.remove(email);
            }
        }
    }

    fn user_by_clerk_id(&self, clerk_id: &str) -> Option<&LocalUser> {
        self.by_clerk_id
            .get(clerk_id)
            .and_then(|id| self.users.get(id))
    }

    /// The live row without a `clerk_id` that a new Clerk user with this verified email
    /// takes over: the lowest local id wins so that every store picks the same row.
    fn linkable_row(&self, email: &str) -> Option<i64> {
        self.by_email.get(email)?.iter().copied().find(|id| {
            self.users
                .get(id)
                .is_some_and(|u| u.clerk_id.is_none() && !u.is_deleted())
        })
    }

    fn upsert_user(
        &mut self,
        record: &ClerkUserRecord,
        now: OffsetDateTime,
    ) -> Result<UpsertOutcome, StoreError> {
        // Validate before touching anything, so a bad record changes nothing.
        let raw_json = parse_raw_json(&record.raw_json)?;
        let overwrite = |user: &mut LocalUser| {
            user.clerk_id = Some(record.clerk_id.clone());
            user.email.clone_from(&record.email);
            user.first_name.clone_from(&record.first_name);
            user.last_name.clone_from(&record.last_name);
            user.username.clone_from(&record.username);
            user.image_url.clone_from(&record.image_url);
            user.external_id.clone_from(&record.external_id);
            user.public_metadata.clone_from(&record.public_metadata);
            user.raw_json = Some(raw_json);
            user.clerk_updated_at = Some(record.clerk_updated_at);
            user.updated_at = now;
            // A pending row still has a local change queued for Clerk; marking it synced
            // would hide that change from the admin view until the worker reports back.
            if user.sync_status != SyncStatus::Pending {
                user.sync_status = SyncStatus::Synced;
                user.sync_error = None;
            }
        };

        let Some(user) = self.user_by_clerk_id(&record.clerk_id) else {
            if let Some(id) = record
                .link_email
                .as_deref()
                .and_then(|email| self.linkable_row(email))
            {
                self.update_user(id, overwrite);
                return Ok(UpsertOutcome::Linked);
            }
            let mut user = empty_user(now);
            overwrite(&mut user);
            self.insert_user(user);
            return Ok(UpsertOutcome::Inserted);
        };

        if user.is_deleted() {
            return Ok(UpsertOutcome::Deleted);
        }
        let newer = |stored: i64| {
            stored < record.clerk_updated_at
                || (record.rewrite_same_version && stored == record.clerk_updated_at)
        };
        if user.clerk_updated_at.is_some_and(|stored| !newer(stored)) {
            return Ok(UpsertOutcome::Stale);
        }
        let id = user.id;
        self.update_user(id, overwrite);
        Ok(UpsertOutcome::Updated)
    }

    fn tombstone_user(&mut self, tombstone: &Tombstone, now: OffsetDateTime) -> TombstoneOutcome {
        let erase = |user: &mut LocalUser| {
            user.clerk_id = Some(tombstone.clerk_id.clone());
            user.external_id.clone_from(&tombstone.external_id);
            erase_profile(user, tombstone.deleted_at, now);
        };
        match self.user_by_clerk_id(&tombstone.clerk_id) {
            Some(user) if user.is_deleted() => TombstoneOutcome::AlreadyDeleted,
            Some(user) => {
                let id = user.id;
                self.update_user(id, erase);
                TombstoneOutcome::Deleted
            }
            None => {
                let mut user = empty_user(now);
                erase(&mut user);
                self.insert_user(user);
                TombstoneOutcome::Deleted
            }
        }
    }

    fn apply_change(
        &mut self,
        change: &InboundChange,
        now: OffsetDateTime,
    ) -> Result<InboundApplied, StoreError> {
        Ok(match change {
            InboundChange::Upsert(record) => InboundApplied::Upsert(self.upsert_user(record, now)?),
            InboundChange::Tombstone(t) => InboundApplied::Tombstone(self.tombstone_user(t, now)),
            InboundChange::LedgerOnly => InboundApplied::LedgerOnly,
        })
    }

    fn ledger_insert(&mut self, entry: &NewLedgerEntry<'_>) -> LedgerInsert {
        if let Some(existing) = self.ledger.get(entry.svix_id) {
            return LedgerInsert::Exists {
                processed: existing.processed_at.is_some(),
            };
        }
        self.ledger.insert(
            entry.svix_id.to_owned(),
            LedgerEntry {
                svix_id: entry.svix_id.to_owned(),
                event_type: entry.event_type.to_owned(),
                object_id: entry.object_id.map(str::to_owned),
                received_at: entry.received_at,
                processed_at: None,
                outcome: None,
                error: None,
                payload: entry.payload.map(str::to_owned),
            },
        );
        LedgerInsert::Inserted
    }

    fn ledger_mark_processed(
        &mut self,
        svix_id: &str,
        outcome: LedgerOutcome,
        error: Option<&str>,
        at: OffsetDateTime,
    ) {
        // A missing entry (pruned between insert and now) is not worth failing a webhook for:
        // the change itself is already committed.
        if let Some(entry) = self.ledger.get_mut(svix_id) {
            entry.processed_at = Some(at);
            entry.outcome = Some(outcome);
            entry.error = error.map(str::to_owned);
        }
    }

    fn live_user_id(&self, user_id: i64) -> Result<i64, StoreError> {
        match self.users.get(&user_id) {
            Some(user) if !user.is_deleted() => Ok(user_id),
            _ => Err(StoreError::NotFound { what: "user" }),
        }
    }

    /// Entry `id` if `token` holds a live claim on it at `now`.
    fn held_entry(
        &mut self,
        id: i64,
        token: &str,
        now: OffsetDateTime,
    ) -> Option<&mut OutboxEntry> {
        self.outbox.get_mut(&id).filter(|e| {
            e.dead_at.is_none()
                && e.claim_token.as_deref() == Some(token)
                && e.claimed_until.is_some_and(|until| until > now)
        })
    }

    /// The state of row `user_id` once nothing is in flight for it: `pending` while live
    /// entries remain, `failed` while dead letters remain, otherwise `synced`.
    fn settled_status(&self, user_id: i64) -> SyncStatus {
        let mut status = SyncStatus::Synced;
        for entry in self.outbox.values().filter(|e| e.user_id == user_id) {
            if entry.is_dead() {
                status = SyncStatus::Failed;
            } else {
                return SyncStatus::Pending;
            }
        }
        status
    }
}

/// Make `user` a tombstone deleted at `deleted_at`, keeping its ids.
///
/// The profile is erased, not kept: that makes the tombstone identical whether the delete
/// arrived first, last or in between, and drops personal data Clerk has deleted.
fn erase_profile(user: &mut LocalUser, deleted_at: OffsetDateTime, now: OffsetDateTime) {
    user.email = None;
    user.first_name = None;
    user.last_name = None;
    user.username = None;
    user.image_url = None;
    user.public_metadata = None;
    user.raw_json = None;
    user.clerk_updated_at = None;
    user.deleted_at = Some(deleted_at);
    user.sync_status = SyncStatus::Synced;
    user.sync_error = None;
    user.updated_at = now;
}

/// A row with no data yet, written at `now`.
fn empty_user(now: OffsetDateTime) -> LocalUser {
    LocalUser {
        id: 0,
        clerk_id: None,
        email: None,
        first_name: None,
        last_name: None,
        username: None,
        image_url: None,
        external_id: None,
        public_metadata: None,
        raw_json: None,
        clerk_updated_at: None,
        sync_status: SyncStatus::Synced,
        last_sync_attempt: None,
        sync_error: None,
        deleted_at: None,
        created_at: now,
        updated_at: now,
    }
}

/// Copy the given fields of a local change onto a row; `None` fields stay as they are.
fn apply_profile(user: &mut LocalUser, profile: &UserProfile) {
    let UserProfile {
        email,
        first_name,
        last_name,
        username,
        external_id,
        public_metadata,
    } = profile;
    if email.is_some() {
        user.email.clone_from(email);
    }
    if first_name.is_some() {
        user.first_name.clone_from(first_name);
    }
    if last_name.is_some() {
        user.last_name.clone_from(last_name);
    }
    if username.is_some() {
        user.username.clone_from(username);
    }
    if external_id.is_some() {
        user.external_id.clone_from(external_id);
    }
    if public_metadata.is_some() {
        user.public_metadata.clone_from(public_metadata);
    }
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn get_user(&self, clerk_id: &str) -> Result<Option<LocalUser>, StoreError> {
        Ok(self.lock().user_by_clerk_id(clerk_id).cloned())
    }

    async fn get_user_by_id(&self, id: i64) -> Result<Option<LocalUser>, StoreError> {
        Ok(self.lock().users.get(&id).cloned())
    }

    async fn find_users_by_email(&self, email: &str) -> Result<Vec<LocalUser>, StoreError> {
        let state = self.lock();
        Ok(state
            .by_email
            .get(email)
            .into_iter()
            .flatten()
            .filter_map(|id| state.users.get(id).cloned())
            .collect())
    }

    async fn list_users(&self, query: &UserQuery) -> Result<Vec<LocalUser>, StoreError> {
        let state = self.lock();
        let after = query.after_id.map_or(Bound::Unbounded, Bound::Excluded);
        Ok(state
            .users
            .range((after, Bound::Unbounded))
            .map(|(_, user)| user)
            .filter(|u| query.include_deleted || !u.is_deleted())
            .filter(|u| query.sync_status.is_none_or(|s| u.sync_status == s))
            .take(query.limit.min(MAX_PAGE) as usize)
            .cloned()
            .collect())
    }

    async fn upsert_user(
        &self,
        record: &ClerkUserRecord,
        now: OffsetDateTime,
    ) -> Result<UpsertOutcome, StoreError> {
        self.lock().upsert_user(record, now)
    }

    async fn tombstone_user(
        &self,
        tombstone: &Tombstone,
        now: OffsetDateTime,
    ) -> Result<TombstoneOutcome, StoreError> {
        Ok(self.lock().tombstone_user(tombstone, now))
    }

    async fn link_clerk_id(
        &self,
        id: i64,
        clerk_id: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let linkable = state
            .users
            .get(&id)
            .is_some_and(|u| u.clerk_id.is_none() && !u.is_deleted());
        if !linkable || state.by_clerk_id.contains_key(clerk_id) {
            return Ok(false);
        }
        state.update_user(id, |user| {
            user.clerk_id = Some(clerk_id.to_owned());
            user.updated_at = now;
        });
        Ok(true)
    }

    async fn scan_versions(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<UserVersion>, StoreError> {
        let state = self.lock();
        let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
        Ok(state
            .by_clerk_id
            .range::<str, _>((lower, Bound::Unbounded))
            .take(limit as usize)
            .filter_map(|(clerk_id, id)| {
                let user = state.users.get(id)?;
                Some(UserVersion {
                    clerk_id: clerk_id.clone(),
                    clerk_updated_at: user.clerk_updated_at,
                    deleted: user.is_deleted(),
                })
            })
            .collect())
    }

    async fn count_by_status(&self) -> Result<StatusCounts, StoreError> {
        let state = self.lock();
        let mut counts = StatusCounts::default();
        for user in state.users.values() {
            let slot = match user.sync_status {
                _ if user.is_deleted() => &mut counts.deleted,
                SyncStatus::Synced => &mut counts.synced,
                SyncStatus::Pending => &mut counts.pending,
                SyncStatus::Failed => &mut counts.failed,
            };
            *slot += 1;
            if !user.is_deleted() && user.clerk_id.is_some() {
                counts.with_clerk_id += 1;
            }
        }
        Ok(counts)
    }

    async fn record_sync_error(
        &self,
        clerk_id: &str,
        error: &str,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let Some(id) = state.by_clerk_id.get(clerk_id).copied() else {
            return Ok(false);
        };
        state.update_user(id, |user| {
            user.sync_status = SyncStatus::Failed;
            user.sync_error = Some(error.to_owned());
            user.last_sync_attempt = Some(at);
            user.updated_at = at;
        });
        Ok(true)
    }
}

#[async_trait]
impl LedgerStore for MemoryStore {
    async fn ledger_insert(&self, entry: &NewLedgerEntry<'_>) -> Result<LedgerInsert, StoreError> {
        Ok(self.lock().ledger_insert(entry))
    }

    async fn ledger_mark_processed(
        &self,
        svix_id: &str,
        outcome: LedgerOutcome,
        error: Option<&str>,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.lock()
            .ledger_mark_processed(svix_id, outcome, error, at);
        Ok(())
    }

    async fn ledger_get(&self, svix_id: &str) -> Result<Option<LedgerEntry>, StoreError> {
        Ok(self.lock().ledger.get(svix_id).cloned())
    }

    async fn recent_ledger(&self, query: &LedgerQuery) -> Result<Vec<LedgerEntry>, StoreError> {
        let state = self.lock();
        let before = query
            .before
            .as_ref()
            .map(|(at, svix_id)| (*at, svix_id.as_str()));
        let mut entries: Vec<&LedgerEntry> = state
            .ledger
            .values()
            .filter(|e| query.outcome.is_none_or(|o| e.outcome == Some(o)))
            .filter(|e| before.is_none_or(|b| (e.received_at, e.svix_id.as_str()) < b))
            .collect();
        entries.sort_by(|a, b| {
            (b.received_at, b.svix_id.as_str()).cmp(&(a.received_at, a.svix_id.as_str()))
        });
        Ok(entries
            .into_iter()
            .take(query.limit.min(MAX_PAGE) as usize)
            .map(|e| LedgerEntry {
                payload: None,
                ..e.clone()
            })
            .collect())
    }

    async fn ledger_prune(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let mut state = self.lock();
        let len = state.ledger.len();
        state.ledger.retain(|_, entry| entry.received_at >= before);
        Ok((len - state.ledger.len()) as u64)
    }
}

#[async_trait]
impl OutboxStore for MemoryStore {
    async fn enqueue_local_change(
        &self,
        change: &LocalChange,
        now: OffsetDateTime,
    ) -> Result<EnqueuedChange, StoreError> {
        let mut state = self.lock();
        let (user_id, profile) = match change {
            LocalChange::Create(profile) | LocalChange::Invite(profile) => {
                let mut user = empty_user(now);
                apply_profile(&mut user, profile);
                user.sync_status = SyncStatus::Pending;
                (state.insert_user(user), profile.clone())
            }
            LocalChange::Update { user_id, profile } => {
                let id = state.live_user_id(*user_id)?;
                state.update_user(id, |user| {
                    apply_profile(user, profile);
                    user.sync_status = SyncStatus::Pending;
                    user.updated_at = now;
                });
                (id, profile.clone())
            }
            LocalChange::Delete { user_id } => {
                let id = state.live_user_id(*user_id)?;
                state.update_user(id, |user| {
                    user.sync_status = SyncStatus::Pending;
                    user.updated_at = now;
                });
                (id, UserProfile::default())
            }
        };
        state.last_outbox_id += 1;
        let outbox_id = state.last_outbox_id;
        state.outbox.insert(
            outbox_id,
            OutboxEntry::new(outbox_id, user_id, change.operation(), profile, now),
        );
        let user = state.users[&user_id].clone();
        Ok(EnqueuedChange { user, outbox_id })
    }

    async fn claim_outbox(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let mut state = self.lock();
        let claimed_until = saturating_add(now, lease);
        let token = new_claim_token();
        let mut users_seen = HashSet::new();
        let mut claimed = Vec::new();
        for entry in state.outbox.values_mut() {
            if claimed.len() >= limit as usize {
                break;
            }
            if entry.is_dead() {
                continue;
            }
            // Entries are visited oldest first, so only a user's first live entry can go out:
            // a later update must not overtake the create it depends on.
            if !users_seen.insert(entry.user_id) {
                continue;
            }
            let due = entry.next_attempt_at <= now && entry.claimed_until.is_none_or(|u| u <= now);
            if due {
                entry.claimed_by = Some(worker.to_owned());
                entry.claimed_until = Some(claimed_until);
                entry.claim_token = Some(token.clone());
                entry.attempts = entry.attempts.saturating_add(1);
                claimed.push(entry.clone());
            }
        }
        Ok(claimed)
    }

    async fn complete_outbox(
        &self,
        id: i64,
        token: &str,
        clerk_id: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<ClaimOutcome, StoreError> {
        let mut state = self.lock();
        if state.held_entry(id, token, now).is_none() {
            return Ok(ClaimOutcome::Lost);
        }
        let entry = state.outbox.remove(&id).expect("held entry exists");
        let user_id = entry.user_id;
        if !state.users.contains_key(&user_id) {
            return Ok(ClaimOutcome::Applied);
        }
        if entry.operation == OutboxOperation::Delete {
            if !state.users[&user_id].is_deleted() {
                state.update_user(user_id, |user| {
                    erase_profile(user, now, now);
                    user.last_sync_attempt = Some(now);
                });
            }
            return Ok(ClaimOutcome::Applied);
        }
        let status = state.settled_status(user_id);
        // The webhook echo of this create may already have inserted a row for the same Clerk
        // id; taking the id twice would break its uniqueness.
        let clerk_id = clerk_id.filter(|c| !state.by_clerk_id.contains_key(*c));
        state.update_user(user_id, |user| {
            if user.clerk_id.is_none() {
                user.clerk_id = clerk_id.map(str::to_owned);
            }
            user.last_sync_attempt = Some(now);
            if !user.is_deleted() {
                user.sync_status = status;
                if status == SyncStatus::Synced {
                    user.sync_error = None;
                }
            }
            user.updated_at = now;
        });
        Ok(ClaimOutcome::Applied)
    }

    async fn fail_outbox(
        &self,
        id: i64,
        token: &str,
        error: &str,
        next_attempt_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<ClaimOutcome, StoreError> {
        let mut state = self.lock();
        let Some(entry) = state.held_entry(id, token, now) else {
            return Ok(ClaimOutcome::Lost);
        };
        entry.claimed_by = None;
        entry.claimed_until = None;
        entry.claim_token = None;
        entry.next_attempt_at = next_attempt_at;
        entry.last_error = Some(error.to_owned());
        let user_id = entry.user_id;
        if state.users.contains_key(&user_id) {
            state.update_user(user_id, |user| {
                user.sync_error = Some(error.to_owned());
                user.last_sync_attempt = Some(now);
                user.updated_at = now;
            });
        }
        Ok(ClaimOutcome::Applied)
    }

    async fn give_up_outbox(
        &self,
        id: i64,
        token: &str,
        error: &str,
        now: OffsetDateTime,
    ) -> Result<ClaimOutcome, StoreError> {
        let mut state = self.lock();
        let Some(entry) = state.held_entry(id, token, now) else {
            return Ok(ClaimOutcome::Lost);
        };
        entry.claimed_by = None;
        entry.claimed_until = None;
        entry.claim_token = None;
        entry.last_error = Some(error.to_owned());
        entry.dead_at = Some(now);
        let user_id = entry.user_id;
        if state.users.get(&user_id).is_some_and(|u| !u.is_deleted()) {
            state.update_user(user_id, |user| {
                user.sync_status = SyncStatus::Failed;
                user.sync_error = Some(error.to_owned());
                user.last_sync_attempt = Some(now);
                user.updated_at = now;
            });
        }
        Ok(ClaimOutcome::Applied)
    }

    async fn outbox_for_user(&self, user_id: i64) -> Result<Vec<OutboxEntry>, StoreError> {
        Ok(self
            .lock()
            .outbox
            .values()
            .filter(|e| e.user_id == user_id)
            .cloned()
            .collect())
    }

    async fn dead_letters(&self, query: &DeadLetterQuery) -> Result<Vec<OutboxEntry>, StoreError> {
        let state = self.lock();
        let after = query.after_id.map_or(Bound::Unbounded, Bound::Excluded);
        Ok(state
            .outbox
            .range((after, Bound::Unbounded))
            .map(|(_, entry)| entry)
            .filter(|e| e.is_dead() && query.user_id.is_none_or(|u| e.user_id == u))
            .take(query.limit.min(MAX_PAGE) as usize)
            .cloned()
            .collect())
    }

    async fn revive_dead_letters(
        &self,
        user_id: Option<i64>,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let mut state = self.lock();
        let mut users = BTreeSet::new();
        let mut revived = 0;
        for entry in state.outbox.values_mut() {
            if entry.is_dead() && user_id.is_none_or(|u| entry.user_id == u) {
                entry.dead_at = None;
                entry.attempts = 0;
                entry.next_attempt_at = now;
                entry.claimed_by = None;
                entry.claimed_until = None;
                entry.claim_token = None;
                users.insert(entry.user_id);
                revived += 1;
            }
        }
        for id in users {
            if state.users.get(&id).is_some_and(|u| !u.is_deleted()) {
                state.update_user(id, |user| {
                    user.sync_status = SyncStatus::Pending;
                    user.updated_at = now;
                });
            }
        }
        Ok(revived)
    }

    async fn outbox_due(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        Ok(self
            .lock()
            .outbox
            .values()
            .filter(|e| {
                !e.is_dead() && e.next_attempt_at <= now && e.claimed_until.is_none_or(|u| u <= now)
            })
            .count() as u64)
    }
}

#[async_trait]
impl LeaseStore for MemoryStore {
    async fn try_acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let free = state
            .leases
            .get(name)
            .is_none_or(|l| l.holder == holder || l.expires_at <= now);
        if free {
            state.leases.insert(
                name.to_owned(),
                Lease {
                    holder: holder.to_owned(),
                    expires_at: saturating_add(now, ttl),
                },
            );
        }
        Ok(free)
    }

    async fn renew_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock();
        match state.leases.get_mut(name) {
            Some(lease) if lease.holder == holder => {
                lease.expires_at = saturating_add(now, ttl);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let held = state.leases.get(name).is_some_and(|l| l.holder == holder);
        if held {
            state.leases.remove(name);
        }
        Ok(held)
    }
}

#[async_trait]
impl RunLogStore for MemoryStore {
    async fn start_run(&self, run: &SyncRun) -> Result<i64, StoreError> {
        let mut state = self.lock();
        state.last_run_id += 1;
        let id = state.last_run_id;
        state.runs.push(SyncRun { id, ..run.clone() });
        Ok(id)
    }

    async fn checkpoint_run(
        &self,
        id: i64,
        cursor: Option<&str>,
        report: &serde_json::Value,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let Some(run) = state.runs.iter_mut().find(|r| r.id == id) else {
            return Ok(false);
        };
        run.cursor = cursor.map(str::to_owned);
        run.report = report.clone();
        Ok(true)
    }

    async fn finish_run(
        &self,
        id: i64,
        finished_at: OffsetDateTime,
        cursor: Option<&str>,
        report: &serde_json::Value,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let Some(run) = state.runs.iter_mut().find(|r| r.id == id) else {
            return Ok(false);
        };
        run.finished_at = Some(finished_at);
        run.cursor = cursor.map(str::to_owned);
        run.report = report.clone();
        Ok(true)
    }

    async fn recent_runs(&self, limit: u32) -> Result<Vec<SyncRun>, StoreError> {
        let state = self.lock();
        let mut runs: Vec<SyncRun> = state.runs.clone();
        runs.sort_by_key(|run| std::cmp::Reverse((run.started_at, run.id)));
        runs.truncate(limit.min(MAX_PAGE) as usize);
        Ok(runs)
    }

    async fn latest_run(&self, kind: &str) -> Result<Option<SyncRun>, StoreError> {
        let state = self.lock();
        Ok(state
            .runs
            .iter()
            .filter(|r| r.kind == kind)
            .max_by_key(|r| (r.started_at, r.id))
            .cloned())
    }
}

#[async_trait]
impl InboundStore for MemoryStore {
    /// The provided steps, under one lock: the in-memory equivalent of one transaction.
    async fn apply_inbound(
        &self,
        entry: &NewLedgerEntry<'_>,
        change: &InboundChange,
        now: OffsetDateTime,
    ) -> Result<InboundApplied, StoreError> {
        let mut state = self.lock();
        if state
            .ledger
            .get(entry.svix_id)
            .is_some_and(|e| e.processed_at.is_some())
        {
            return Ok(InboundApplied::Duplicate);
        }
        // Apply before ledgering so that a rejected change leaves no trace, as a rolled-back
        // transaction would.
        let applied = state.apply_change(change, now)?;
        state.ledger_insert(entry);
        if let Some(outcome) = applied.ledger_outcome() {
            state.ledger_mark_processed(entry.svix_id, outcome, None, now);
        }
        Ok(applied)
    }
}
