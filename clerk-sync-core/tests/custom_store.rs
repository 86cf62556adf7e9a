//! A custom inbound-only store, written from the trait documentation alone, checked by the
//! inbound part of the conformance suite.
//!
//! `docs/sync-semantics.md` points here as the example of bringing your own storage: a team
//! that wants webhooks applied to its own user table implements the user table and the ledger,
//! and nothing else (no outbox, lease or run log). The tables are plain vectors behind one
//! mutex (each method holds it for its whole body, which is what a SQL store gets from one
//! transaction or one conditional statement). A real store would run the same rules as SQL
//! against its own tables.

use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use clerk_sync_core::store::{
    ClerkUserRecord, InboundStore, LedgerEntry, LedgerInsert, LedgerOutcome, LedgerQuery,
    LedgerStore, LocalUser, NewLedgerEntry, StatusCounts, StoreError, SyncStatus, Tombstone,
    TombstoneOutcome, UpsertOutcome, UserQuery, UserStore, UserVersion,
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
            let newer = |v: i64| {
                v < record.clerk_updated_at
                    || (record.rewrite_same_version && v == record.clerk_updated_at)
            };
            if user.clerk_updated_at.is_some_and(|v| !newer(v)) {
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
        counts.with_clerk_id = t
            .users
            .iter()
            .filter(|u| u.deleted_at.is_none() && u.clerk_id.is_some())
            .count() as u64;
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
            entry.payload.map(str::to_owned),
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

    async fn recent_ledger(&self, q: &LedgerQuery) -> Result<Vec<LedgerEntry>, StoreError> {
        let t = self.tables();
        let key = |e: &LedgerEntry| (e.received_at, e.svix_id.clone());
        let mut entries: Vec<LedgerEntry> = t
            .ledger
            .iter()
            .filter(|e| q.outcome.is_none_or(|o| e.outcome == Some(o)))
            .filter(|e| q.before.as_ref().is_none_or(|b| key(e) < *b))
            .map(|e| {
                let mut listed = e.clone();
                listed.payload = None;
                listed
            })
            .collect();
        entries.sort_by_key(|e| std::cmp::Reverse(key(e)));
        entries.truncate(q.limit.min(1000) as usize);
        Ok(entries)
    }

    async fn ledger_prune(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let mut t = self.tables();
        let len = t.ledger.len();
        t.ledger.retain(|e| e.received_at >= before);
        Ok((len - t.ledger.len()) as u64)
    }
}

/// Every method already runs under one lock, so the provided `apply_inbound` is enough here;
/// a SQL store overrides it to run ledger and write in one transaction.
impl InboundStore for VecStore {}

async fn fresh_store() -> VecStore {
    VecStore::default()
}

clerk_sync_core::inbound_conformance_tests!(fresh_store);

/// The engine takes the inbound-only store as it is: no outbox, lease or run log needed.
#[tokio::test]
async fn the_engine_applies_webhooks_to_an_inbound_only_store() {
    use clerk_sync_core::sync::{ProcessOutcome, SyncEngine};
    use clerk_sync_core::webhook::{WebhookHeaders, WebhookVerifier};

    let verifier = WebhookVerifier::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("secret");
    let engine = SyncEngine::new(VecStore::default(), verifier.clone());
    let body = br#"{"type":"user.created","object":"event","timestamp":1772366400000,
      "data":{"id":"user_2x","object":"user","created_at":1772366400000,"updated_at":1772366400000,
      "first_name":"Ann"}}"#;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let signature = verifier.sign("msg_1", now, body);
    let timestamp = now.to_string();
    let headers = WebhookHeaders {
        id: "msg_1",
        timestamp: &timestamp,
        signature: &signature,
    };
    assert_eq!(
        engine
            .process_webhook(&headers, body)
            .await
            .expect("process"),
        ProcessOutcome::Applied
    );
    let user = engine
        .store()
        .get_user("user_2x")
        .await
        .expect("get_user")
        .expect("stored");
    assert_eq!(user.first_name.as_deref(), Some("Ann"));
}
