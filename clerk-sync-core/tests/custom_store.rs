//! A custom store, written from the trait documentation alone, checked by the conformance suite.
//!
//! `docs/sync-semantics.md` points here as the example of bringing your own storage: the
//! tables are plain vectors behind one mutex (each method holds it for its whole body, which is
//! what a SQL store gets from one transaction or one conditional statement). A real store
//! would run the same rules as SQL against its own tables.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use clerk_sync_core::store::{
    ClerkUserRecord, EnqueuedChange, LeaseStore, LedgerEntry, LedgerInsert, LedgerOutcome,
    LedgerStore, LocalChange, LocalUser, NewLedgerEntry, OutboxEntry, OutboxStore, RunLogStore,
    StatusCounts, StoreError, SyncRun, SyncStatus, SyncStore, Tombstone, TombstoneOutcome,
    UpsertOutcome, UserProfile, UserQuery, UserStore, UserVersion,
};
use time::OffsetDateTime;

/// The team's store. `Clone` shares the tables, like a connection pool would.
#[derive(Clone, Default)]
struct VecStore(Arc<Mutex<Tables>>);

#[derive(Default)]
struct Tables {
    /// Rows are only appended, so a row's index is `id - 1`.
    users: Vec<LocalUser>,
    ledger: Vec<LedgerEntry>,
    outbox: Vec<OutboxEntry>,
    next_outbox_id: i64,
    leases: Vec<(String, String, OffsetDateTime)>,
    runs: Vec<SyncRun>,
}

impl VecStore {
    fn tables(&self) -> MutexGuard<'_, Tables> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Tables {
    fn by_clerk_id(&mut self, clerk_id: &str) -> Option<&mut LocalUser> {
        self.users
            .iter_mut()
            .find(|u| u.clerk_id.as_deref() == Some(clerk_id))
    }

    fn live(&mut self, id: i64) -> Result<&mut LocalUser, StoreError> {
        self.users
            .iter_mut()
            .find(|u| u.id == id && u.deleted_at.is_none())
            .ok_or(StoreError::NotFound { what: "user" })
    }

    fn insert(&mut self, now: OffsetDateTime) -> &mut LocalUser {
        let id = self.users.len() as i64 + 1;
        self.users.push(LocalUser::new(id, now));
        self.users.last_mut().expect("just pushed")
    }
}

fn overwrite(
    user: &mut LocalUser,
    record: &ClerkUserRecord,
    raw: &serde_json::Value,
    now: OffsetDateTime,
) {
    user.clerk_id = Some(record.clerk_id.clone());
    user.email.clone_from(&record.email);
    user.first_name.clone_from(&record.first_name);
    user.last_name.clone_from(&record.last_name);
    user.username.clone_from(&record.username);
    user.image_url.clone_from(&record.image_url);
    user.external_id.clone_from(&record.external_id);
    user.public_metadata.clone_from(&record.public_metadata);
    user.raw_json = Some(raw.clone());
    user.clerk_updated_at = Some(record.clerk_updated_at);
    user.updated_at = now;
    if user.sync_status != SyncStatus::Pending {
        user.sync_status = SyncStatus::Synced;
        user.sync_error = None;
    }
}

fn set_profile(user: &mut LocalUser, p: &UserProfile) {
    for (field, value) in [
        (&mut user.email, &p.email),
        (&mut user.first_name, &p.first_name),
        (&mut user.last_name, &p.last_name),
        (&mut user.username, &p.username),
        (&mut user.external_id, &p.external_id),
    ] {
        if value.is_some() {
            field.clone_from(value);
        }
    }
    if p.public_metadata.is_some() {
        user.public_metadata.clone_from(&p.public_metadata);
    }
}

fn expiry(now: OffsetDateTime, ttl: Duration) -> OffsetDateTime {
    now + time::Duration::try_from(ttl).unwrap_or(time::Duration::days(365 * 100))
}

#[async_trait]
impl UserStore for VecStore {
    async fn get_user(&self, clerk_id: &str) -> Result<Option<LocalUser>, StoreError> {
        Ok(self.tables().by_clerk_id(clerk_id).map(|u| u.clone()))
    }

    async fn get_user_by_id(&self, id: i64) -> Result<Option<LocalUser>, StoreError> {
        Ok(self.tables().users.iter().find(|u| u.id == id).cloned())
    }

    async fn find_users_by_email(&self, email: &str) -> Result<Vec<LocalUser>, StoreError> {
        let t = self.tables();
        Ok(t.users
            .iter()
            .filter(|u| u.email.as_deref() == Some(email))
            .cloned()
            .collect())
    }

    async fn list_users(&self, q: &UserQuery) -> Result<Vec<LocalUser>, StoreError> {
        let t = self.tables();
        Ok(t.users
            .iter()
            .filter(|u| q.after_id.is_none_or(|after| u.id > after))
            .filter(|u| q.include_deleted || u.deleted_at.is_none())
            .filter(|u| q.sync_status.is_none_or(|s| s == u.sync_status))
            .take(q.limit.min(1000) as usize)
            .cloned()
            .collect())
    }

    async fn upsert_user(
        &self,
        record: &ClerkUserRecord,
        now: OffsetDateTime,
    ) -> Result<UpsertOutcome, StoreError> {
        let raw = serde_json::from_str(&record.raw_json).map_err(|_| StoreError::InvalidData {
            what: "raw_json".into(),
        })?;
        let mut t = self.tables();
        if let Some(user) = t.by_clerk_id(&record.clerk_id) {
            if user.deleted_at.is_some() {
                return Ok(UpsertOutcome::Deleted);
            }
            if user
                .clerk_updated_at
                .is_some_and(|v| v >= record.clerk_updated_at)
            {
                return Ok(UpsertOutcome::Stale);
            }
            overwrite(user, record, &raw, now);
            return Ok(UpsertOutcome::Updated);
        }
        // Rows are in id order, so the first match has the lowest id.
        let linkable = record.link_email.as_deref().and_then(|email| {
            t.users.iter_mut().find(|u| {
                u.email.as_deref() == Some(email) && u.clerk_id.is_none() && u.deleted_at.is_none()
            })
        });
        if let Some(user) = linkable {
            overwrite(user, record, &raw, now);
            return Ok(UpsertOutcome::Linked);
        }
        overwrite(t.insert(now), record, &raw, now);
        Ok(UpsertOutcome::Inserted)
    }

    async fn tombstone_user(
        &self,
        tombstone: &Tombstone,
        now: OffsetDateTime,
    ) -> Result<TombstoneOutcome, StoreError> {
        let mut t = self.tables();
        let user = match t.by_clerk_id(&tombstone.clerk_id) {
            Some(user) if user.deleted_at.is_some() => return Ok(TombstoneOutcome::AlreadyDeleted),
            Some(user) => user,
            None => {
                let user = t.insert(now);
                user.clerk_id = Some(tombstone.clerk_id.clone());
                user
            }
        };
        user.email = None;
        user.first_name = None;
        user.last_name = None;
        user.username = None;
        user.image_url = None;
        user.public_metadata = None;
        user.raw_json = None;
        user.clerk_updated_at = None;
        user.external_id.clone_from(&tombstone.external_id);
        user.deleted_at = Some(tombstone.deleted_at);
        user.sync_status = SyncStatus::Synced;
        user.sync_error = None;
        user.updated_at = now;
        Ok(TombstoneOutcome::Deleted)
    }

    async fn link_clerk_id(
        &self,
        id: i64,
        clerk_id: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut t = self.tables();
        if t.by_clerk_id(clerk_id).is_some() {
            return Ok(false);
        }
        match t.live(id) {
            Ok(user) if user.clerk_id.is_none() => {
                user.clerk_id = Some(clerk_id.to_owned());
                user.updated_at = now;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn scan_versions(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<UserVersion>, StoreError> {
        let t = self.tables();
        let mut rows: Vec<&LocalUser> = t
            .users
            .iter()
            .filter(|u| {
                u.clerk_id
                    .as_deref()
                    .is_some_and(|c| after.is_none_or(|a| c > a))
            })
            .collect();
        rows.sort_by(|a, b| a.clerk_id.cmp(&b.clerk_id));
        Ok(rows
            .into_iter()
            .take(limit as usize)
            .map(|u| {
                let clerk_id = u.clerk_id.clone().unwrap_or_default();
                UserVersion::new(clerk_id, u.clerk_updated_at, u.deleted_at.is_some())
            })
            .collect())
    }

    async fn count_by_status(&self) -> Result<StatusCounts, StoreError> {
        let t = self.tables();
        let (mut synced, mut pending, mut failed, mut deleted) = (0, 0, 0, 0);
        for u in &t.users {
            match u.sync_status {
                _ if u.deleted_at.is_some() => deleted += 1,
                SyncStatus::Synced => synced += 1,
                SyncStatus::Pending => pending += 1,
                _ => failed += 1,
            }
        }
        let mut counts = StatusCounts::default();
        (counts.synced, counts.pending, counts.failed, counts.deleted) =
            (synced, pending, failed, deleted);
        Ok(counts)
    }

    async fn record_sync_error(
        &self,
        clerk_id: &str,
        error: &str,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut t = self.tables();
        let Some(user) = t.by_clerk_id(clerk_id) else {
            return Ok(false);
        };
        user.sync_status = SyncStatus::Failed;
        user.sync_error = Some(error.to_owned());
        user.last_sync_attempt = Some(at);
        user.updated_at = at;
        Ok(true)
    }
}

#[async_trait]
impl LedgerStore for VecStore {
    async fn ledger_insert(&self, entry: &NewLedgerEntry<'_>) -> Result<LedgerInsert, StoreError> {
        let mut t = self.tables();
        if let Some(existing) = t.ledger.iter().find(|e| e.svix_id == entry.svix_id) {
            return Ok(LedgerInsert::Exists {
                processed: existing.processed_at.is_some(),
            });
        }
        let mut row = LedgerEntry::new(
            entry.svix_id,
            entry.event_type,
            entry.received_at,
            entry.payload,
        );
        row.object_id = entry.object_id.map(str::to_owned);
        t.ledger.push(row);
        Ok(LedgerInsert::Inserted)
    }

    async fn ledger_mark_processed(
        &self,
        svix_id: &str,
        outcome: LedgerOutcome,
        error: Option<&str>,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        if let Some(entry) = self
            .tables()
            .ledger
            .iter_mut()
            .find(|e| e.svix_id == svix_id)
        {
            entry.processed_at = Some(at);
            entry.outcome = Some(outcome);
            entry.error = error.map(str::to_owned);
        }
        Ok(())
    }

    async fn ledger_get(&self, svix_id: &str) -> Result<Option<LedgerEntry>, StoreError> {
        Ok(self
            .tables()
            .ledger
            .iter()
            .find(|e| e.svix_id == svix_id)
            .cloned())
    }

    async fn ledger_prune(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let mut t = self.tables();
        let len = t.ledger.len();
        t.ledger.retain(|e| e.received_at >= before);
        Ok((len - t.ledger.len()) as u64)
    }
}

#[async_trait]
impl OutboxStore for VecStore {
    async fn enqueue_local_change(
        &self,
        change: &LocalChange,
        now: OffsetDateTime,
    ) -> Result<EnqueuedChange, StoreError> {
        let mut t = self.tables();
        let (user, profile) = match change {
            LocalChange::Create(profile) | LocalChange::Invite(profile) => {
                (t.insert(now), profile.clone())
            }
            LocalChange::Update { user_id, profile } => (t.live(*user_id)?, profile.clone()),
            LocalChange::Delete { user_id } => (t.live(*user_id)?, UserProfile::default()),
            _ => {
                return Err(StoreError::InvalidData {
                    what: "local change".into(),
                });
            }
        };
        set_profile(user, &profile);
        user.sync_status = SyncStatus::Pending;
        user.updated_at = now;
        let user = user.clone();
        t.next_outbox_id += 1;
        let outbox_id = t.next_outbox_id;
        t.outbox.push(OutboxEntry::new(
            outbox_id,
            user.id,
            change.operation(),
            profile,
            now,
        ));
        Ok(EnqueuedChange::new(user, t.next_outbox_id))
    }

    async fn claim_outbox(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let mut t = self.tables();
        let mut first_of_user = Vec::new();
        let mut claimed = Vec::new();
        // Entries are appended in id order, so the first entry seen per user is its oldest.
        for entry in &mut t.outbox {
            if first_of_user.contains(&entry.user_id) {
                continue;
            }
            first_of_user.push(entry.user_id);
            let free = entry.claimed_until.is_none_or(|until| until <= now);
            if claimed.len() < limit as usize && entry.next_attempt_at <= now && free {
                entry.claimed_by = Some(worker.to_owned());
                entry.claimed_until = Some(expiry(now, lease));
                entry.attempts += 1;
                claimed.push(entry.clone());
            }
        }
        Ok(claimed)
    }

    async fn complete_outbox(
        &self,
        id: i64,
        clerk_id: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut t = self.tables();
        let at = t
            .outbox
            .iter()
            .position(|e| e.id == id)
            .ok_or(StoreError::NotFound {
                what: "outbox entry",
            })?;
        let user_id = t.outbox.remove(at).user_id;
        let more = t.outbox.iter().any(|e| e.user_id == user_id);
        let taken = clerk_id.is_some_and(|c| t.by_clerk_id(c).is_some());
        let Ok(user) = t.live(user_id) else {
            return Ok(());
        };
        if user.clerk_id.is_none() && !taken {
            user.clerk_id = clerk_id.map(str::to_owned);
        }
        user.last_sync_attempt = Some(now);
        user.sync_error = None;
        if !more {
            user.sync_status = SyncStatus::Synced;
        }
        user.updated_at = now;
        Ok(())
    }

    async fn fail_outbox(
        &self,
        id: i64,
        error: &str,
        next_attempt_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut t = self.tables();
        let entry = t
            .outbox
            .iter_mut()
            .find(|e| e.id == id)
            .ok_or(StoreError::NotFound {
                what: "outbox entry",
            })?;
        entry.claimed_by = None;
        entry.claimed_until = None;
        entry.next_attempt_at = next_attempt_at;
        entry.last_error = Some(error.to_owned());
        let user_id = entry.user_id;
        if let Ok(user) = t.live(user_id) {
            user.sync_error = Some(error.to_owned());
            user.last_sync_attempt = Some(now);
            user.updated_at = now;
        }
        Ok(())
    }

    async fn give_up_outbox(
        &self,
        id: i64,
        error: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut t = self.tables();
        let at = t
            .outbox
            .iter()
            .position(|e| e.id == id)
            .ok_or(StoreError::NotFound {
                what: "outbox entry",
            })?;
        let user_id = t.outbox.remove(at).user_id;
        if let Ok(user) = t.live(user_id) {
            user.sync_status = SyncStatus::Failed;
            user.sync_error = Some(error.to_owned());
            user.last_sync_attempt = Some(now);
            user.updated_at = now;
        }
        Ok(())
    }

    async fn outbox_for_user(&self, user_id: i64) -> Result<Vec<OutboxEntry>, StoreError> {
        Ok(self
            .tables()
            .outbox
            .iter()
            .filter(|e| e.user_id == user_id)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl LeaseStore for VecStore {
    async fn try_acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut t = self.tables();
        match t.leases.iter_mut().find(|(n, _, _)| n == name) {
            Some((_, h, expires)) if h == holder || *expires <= now => {
                (*h, *expires) = (holder.to_owned(), expiry(now, ttl));
                Ok(true)
            }
            Some(_) => Ok(false),
            None => {
                t.leases
                    .push((name.to_owned(), holder.to_owned(), expiry(now, ttl)));
                Ok(true)
            }
        }
    }

    async fn renew_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut t = self.tables();
        match t
            .leases
            .iter_mut()
            .find(|(n, h, _)| n == name && h == holder)
        {
            Some((_, _, expires)) => {
                *expires = expiry(now, ttl);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        let mut t = self.tables();
        let len = t.leases.len();
        t.leases.retain(|(n, h, _)| !(n == name && h == holder));
        Ok(t.leases.len() < len)
    }
}

#[async_trait]
impl RunLogStore for VecStore {
    async fn record_run(&self, run: &SyncRun) -> Result<i64, StoreError> {
        let mut t = self.tables();
        let mut run = run.clone();
        run.id = t.runs.len() as i64 + 1;
        t.runs.push(run);
        Ok(t.runs.len() as i64)
    }

    async fn recent_runs(&self, limit: u32) -> Result<Vec<SyncRun>, StoreError> {
        let mut runs = self.tables().runs.clone();
        runs.sort_by_key(|r| std::cmp::Reverse((r.started_at, r.id)));
        runs.truncate(limit as usize);
        Ok(runs)
    }
}

/// Every method already runs under one lock, so the provided `apply_inbound` is enough here;
/// a SQL store overrides it to run ledger and write in one transaction.
impl SyncStore for VecStore {}

async fn fresh_store() -> VecStore {
    VecStore::default()
}

clerk_sync_core::store_conformance_tests!(fresh_store);
