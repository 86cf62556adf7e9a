//! [`Outage`] and [`OutageStore`]: a database outage on demand, so that the suite can check
//! the 503 paths of a server it runs in-process.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use clerk_sync_core::store::{
    BatchOutcome, ClaimOutcome, ClerkUserRecord, DeadLetterQuery, EnqueuedChange, InboundApplied,
    InboundChange, InboundStore, LeaseStore, LedgerEntry, LedgerInsert, LedgerOutcome, LedgerQuery,
    LedgerStore, LocalChange, LocalUser, NewLedgerEntry, OutboxEntry, OutboxStore, RunLogStore,
    StatusCounts, StoreError, SyncRun, Tombstone, TombstoneOutcome, UpsertOutcome, UserQuery,
    UserStore, UserVersion,
};
use time::OffsetDateTime;

/// A switch shared between a test and an [`OutageStore`]: while it is on, every store call
/// fails with [`StoreError::Unavailable`], as a database that stopped answering would.
///
/// ```
/// use std::sync::Arc;
/// use clerk_sync_core::memory::MemoryStore;
/// use clerk_sync_core::store::UserStore;
/// use clerk_sync_testing::contract::Outage;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let outage = Outage::new();
/// let store = outage.wrap(Arc::new(MemoryStore::new()));
/// assert!(store.ping().await.is_ok());
/// outage.begin();
/// assert!(store.ping().await.is_err());
/// outage.end();
/// assert!(store.ping().await.is_ok());
/// # });
/// ```
#[derive(Debug, Clone, Default)]
pub struct Outage(Arc<AtomicBool>);

impl Outage {
    /// A switch, off.
    pub fn new() -> Self {
        Outage::default()
    }

    /// From now on, the wrapped stores fail.
    pub fn begin(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// From now on, the wrapped stores work again.
    pub fn end(&self) {
        self.0.store(false, Ordering::SeqCst);
    }

    /// Whether the outage is on.
    pub fn is_on(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// `store`, failing while this switch is on.
    pub fn wrap<S: ?Sized>(&self, store: Arc<S>) -> OutageStore<S> {
        OutageStore {
            inner: store,
            outage: self.clone(),
        }
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.is_on() {
            Err(StoreError::Unavailable(
                "the contract suite switched the database off".into(),
            ))
        } else {
            Ok(())
        }
    }
}

/// A store that delegates every call to another one, except while its [`Outage`] is on.
pub struct OutageStore<S: ?Sized> {
    inner: Arc<S>,
    outage: Outage,
}

impl<S: ?Sized> std::fmt::Debug for OutageStore<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutageStore")
            .field("outage", &self.outage.is_on())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<S: UserStore + ?Sized> UserStore for OutageStore<S> {
    async fn get_user(&self, clerk_id: &str) -> Result<Option<LocalUser>, StoreError> {
        self.outage.check()?;
        self.inner.get_user(clerk_id).await
    }

    async fn get_user_by_id(&self, id: i64) -> Result<Option<LocalUser>, StoreError> {
        self.outage.check()?;
        self.inner.get_user_by_id(id).await
    }

    async fn find_users_by_email(&self, email: &str) -> Result<Vec<LocalUser>, StoreError> {
        self.outage.check()?;
        self.inner.find_users_by_email(email).await
    }

    async fn list_users(&self, query: &UserQuery) -> Result<Vec<LocalUser>, StoreError> {
        self.outage.check()?;
        self.inner.list_users(query).await
    }

    async fn upsert_user(
        &self,
        record: &ClerkUserRecord,
        now: OffsetDateTime,
    ) -> Result<UpsertOutcome, StoreError> {
        self.outage.check()?;
        self.inner.upsert_user(record, now).await
    }

    async fn apply_batch(
        &self,
        records: &[ClerkUserRecord],
        now: OffsetDateTime,
    ) -> Result<BatchOutcome, StoreError> {
        self.outage.check()?;
        self.inner.apply_batch(records, now).await
    }

    async fn tombstone_user(
        &self,
        tombstone: &Tombstone,
        now: OffsetDateTime,
    ) -> Result<TombstoneOutcome, StoreError> {
        self.outage.check()?;
        self.inner.tombstone_user(tombstone, now).await
    }

    async fn link_clerk_id(
        &self,
        id: i64,
        clerk_id: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.outage.check()?;
        self.inner.link_clerk_id(id, clerk_id, now).await
    }

    async fn scan_versions(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<UserVersion>, StoreError> {
        self.outage.check()?;
        self.inner.scan_versions(after, limit).await
    }

    async fn versions_of(&self, clerk_ids: &[&str]) -> Result<Vec<UserVersion>, StoreError> {
        self.outage.check()?;
        self.inner.versions_of(clerk_ids).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.outage.check()?;
        self.inner.ping().await
    }

    async fn count_by_status(&self) -> Result<StatusCounts, StoreError> {
        self.outage.check()?;
        self.inner.count_by_status().await
    }

    async fn record_sync_error(
        &self,
        clerk_id: &str,
        error: &str,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.outage.check()?;
        self.inner.record_sync_error(clerk_id, error, at).await
    }
}

#[async_trait]
impl<S: LedgerStore + ?Sized> LedgerStore for OutageStore<S> {
    async fn ledger_insert(&self, entry: &NewLedgerEntry<'_>) -> Result<LedgerInsert, StoreError> {
        self.outage.check()?;
        self.inner.ledger_insert(entry).await
    }

    async fn ledger_mark_processed(
        &self,
        svix_id: &str,
        outcome: LedgerOutcome,
        error: Option<&str>,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.outage.check()?;
        self.inner
            .ledger_mark_processed(svix_id, outcome, error, at)
            .await
    }

    async fn ledger_get(&self, svix_id: &str) -> Result<Option<LedgerEntry>, StoreError> {
        self.outage.check()?;
        self.inner.ledger_get(svix_id).await
    }

    async fn recent_ledger(&self, query: &LedgerQuery) -> Result<Vec<LedgerEntry>, StoreError> {
        self.outage.check()?;
        self.inner.recent_ledger(query).await
    }

    async fn ledger_prune(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        self.outage.check()?;
        self.inner.ledger_prune(before).await
    }
}

#[async_trait]
impl<S: InboundStore + ?Sized> InboundStore for OutageStore<S> {
    async fn apply_inbound(
        &self,
        entry: &NewLedgerEntry<'_>,
        change: &InboundChange,
        now: OffsetDateTime,
    ) -> Result<InboundApplied, StoreError> {
        self.outage.check()?;
        self.inner.apply_inbound(entry, change, now).await
    }
}

#[async_trait]
impl<S: OutboxStore + ?Sized> OutboxStore for OutageStore<S> {
    async fn enqueue_local_change(
        &self,
        change: &LocalChange,
        now: OffsetDateTime,
    ) -> Result<EnqueuedChange, StoreError> {
        self.outage.check()?;
        self.inner.enqueue_local_change(change, now).await
    }

    async fn claim_outbox(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        self.outage.check()?;
        self.inner.claim_outbox(worker, now, lease, limit).await
    }

    async fn complete_outbox(
        &self,
        id: i64,
        token: &str,
        clerk_id: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<ClaimOutcome, StoreError> {
        self.outage.check()?;
        self.inner.complete_outbox(id, token, clerk_id, now).await
    }

    async fn fail_outbox(
        &self,
        id: i64,
        token: &str,
        error: &str,
        next_attempt_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<ClaimOutcome, StoreError> {
        self.outage.check()?;
        self.inner
            .fail_outbox(id, token, error, next_attempt_at, now)
            .await
    }

    async fn give_up_outbox(
        &self,
        id: i64,
        token: &str,
        error: &str,
        now: OffsetDateTime,
    ) -> Result<ClaimOutcome, StoreError> {
        self.outage.check()?;
        self.inner.give_up_outbox(id, token, error, now).await
    }

    async fn outbox_for_user(&self, user_id: i64) -> Result<Vec<OutboxEntry>, StoreError> {
        self.outage.check()?;
        self.inner.outbox_for_user(user_id).await
    }

    async fn dead_letters(&self, query: &DeadLetterQuery) -> Result<Vec<OutboxEntry>, StoreError> {
        self.outage.check()?;
        self.inner.dead_letters(query).await
    }

    async fn revive_dead_letters(
        &self,
        user_id: Option<i64>,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        self.outage.check()?;
        self.inner.revive_dead_letters(user_id, now).await
    }

    async fn outbox_due(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.outage.check()?;
        self.inner.outbox_due(now).await
    }
}

#[async_trait]
impl<S: LeaseStore + ?Sized> LeaseStore for OutageStore<S> {
    async fn try_acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.outage.check()?;
        self.inner.try_acquire_lease(name, holder, ttl, now).await
    }

    async fn renew_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.outage.check()?;
        self.inner.renew_lease(name, holder, ttl, now).await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        self.outage.check()?;
        self.inner.release_lease(name, holder).await
    }
}

#[async_trait]
impl<S: RunLogStore + ?Sized> RunLogStore for OutageStore<S> {
    async fn start_run(&self, run: &SyncRun) -> Result<i64, StoreError> {
        self.outage.check()?;
        self.inner.start_run(run).await
    }

    async fn checkpoint_run(
        &self,
        id: i64,
        cursor: Option<&str>,
        report: &serde_json::Value,
    ) -> Result<bool, StoreError> {
        self.outage.check()?;
        self.inner.checkpoint_run(id, cursor, report).await
    }

    async fn finish_run(
        &self,
        id: i64,
        finished_at: OffsetDateTime,
        cursor: Option<&str>,
        report: &serde_json::Value,
    ) -> Result<bool, StoreError> {
        self.outage.check()?;
        self.inner.finish_run(id, finished_at, cursor, report).await
    }

    async fn recent_runs(&self, limit: u32) -> Result<Vec<SyncRun>, StoreError> {
        self.outage.check()?;
        self.inner.recent_runs(limit).await
    }

    async fn latest_run(&self, kind: &str) -> Result<Option<SyncRun>, StoreError> {
        self.outage.check()?;
        self.inner.latest_run(kind).await
    }
}
