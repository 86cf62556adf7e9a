//! [`SqlxStore`]: one type over the three dialects, implementing every store trait.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use clerk_sync_core::store::{
    BatchOutcome, ClerkUserRecord, EnqueuedChange, InboundApplied, InboundChange, LeaseStore,
    LedgerEntry, LedgerInsert, LedgerOutcome, LedgerStore, LocalChange, LocalUser, NewLedgerEntry,
    OutboxEntry, OutboxStore, RunLogStore, StatusCounts, StoreError, SyncRun, SyncStore, Tombstone,
    TombstoneOutcome, UpsertOutcome, UserQuery, UserStore, UserVersion,
};
use time::OffsetDateTime;

use crate::error::{map_migrate, map_sqlx};

/// The largest page [`UserStore::list_users`] returns.
pub(crate) const MAX_PAGE: u32 = 1000;

/// The database behind a [`SqlxStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Dialect {
    /// PostgreSQL.
    Postgres,
    /// SQLite.
    Sqlite,
    /// MySQL or MariaDB.
    MySql,
}

/// A sqlx pool of one of the supported databases: what [`SqlxStore::from_pool`] takes.
///
/// Every pool type converts into it with `From`, so `SqlxStore::from_pool(pg_pool)` works
/// directly.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum DialectPool {
    /// A PostgreSQL pool.
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
    /// A SQLite pool.
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
    /// A MySQL / MariaDB pool.
    #[cfg(feature = "mysql")]
    MySql(sqlx::MySqlPool),
}

#[cfg(feature = "postgres")]
impl From<sqlx::PgPool> for DialectPool {
    fn from(pool: sqlx::PgPool) -> Self {
        DialectPool::Postgres(pool)
    }
}

#[cfg(feature = "sqlite")]
impl From<sqlx::SqlitePool> for DialectPool {
    fn from(pool: sqlx::SqlitePool) -> Self {
        DialectPool::Sqlite(pool)
    }
}

#[cfg(feature = "mysql")]
impl From<sqlx::MySqlPool> for DialectPool {
    fn from(pool: sqlx::MySqlPool) -> Self {
        DialectPool::MySql(pool)
    }
}

#[derive(Debug, Clone)]
enum Inner {
    #[cfg(feature = "postgres")]
    Postgres(crate::postgres::PgStore),
    #[cfg(feature = "sqlite")]
    Sqlite(crate::sqlite::SqliteStore),
    #[cfg(feature = "mysql")]
    MySql(crate::mysql::MySqlStore),
}

/// The clerk-sync store on a sqlx pool: PostgreSQL, SQLite or MySQL/MariaDB.
///
/// Implements [`SyncStore`] (and so [`UserStore`], [`LedgerStore`], [`OutboxStore`],
/// [`LeaseStore`] and [`RunLogStore`]). Cloning is cheap and shares the pool.
///
/// Create it with [`SqlxStore::connect`] or [`SqlxStore::from_pool`], then run
/// [`SqlxStore::migrate`] once at startup.
#[derive(Debug, Clone)]
pub struct SqlxStore {
    inner: Inner,
}

macro_rules! dispatch {
    ($self:ident, $s:ident => $e:expr) => {
        match &$self.inner {
            #[cfg(feature = "postgres")]
            Inner::Postgres($s) => $e,
            #[cfg(feature = "sqlite")]
            Inner::Sqlite($s) => $e,
            #[cfg(feature = "mysql")]
            Inner::MySql($s) => $e,
        }
    };
}

impl SqlxStore {
    /// Connect to the database at `url`, choosing the dialect from its scheme:
    /// `postgres://` / `postgresql://`, `sqlite:` (e.g. `sqlite:app.db?mode=rwc`,
    /// `sqlite::memory:`) or `mysql://` / `mariadb://`.
    ///
    /// The pool is configured for this library: on SQLite, WAL, a 5 s busy timeout and foreign
    /// keys (an in-memory database gets one connection that lives as long as the store); on
    /// MySQL, `READ COMMITTED` and a UTC session time zone. Errors never contain the URL.
    pub async fn connect(url: &str) -> Result<SqlxStore, StoreError> {
        let scheme = url.split(':').next().unwrap_or("").to_ascii_lowercase();
        match scheme.as_str() {
            #[cfg(feature = "postgres")]
            "postgres" | "postgresql" => Ok(Self::from_pool(crate::postgres::connect(url).await?)),
            #[cfg(feature = "sqlite")]
            "sqlite" => Ok(Self::from_pool(crate::sqlite::connect(url).await?)),
            #[cfg(feature = "mysql")]
            "mysql" | "mariadb" => Ok(Self::from_pool(crate::mysql::connect(url).await?)),
            _ => Err(StoreError::Backend(
                format!(
                    "unsupported database URL scheme `{scheme}` (enabled: {})",
                    enabled_schemes()
                )
                .into(),
            )),
        }
    }

    /// A store on an existing pool: a `PgPool`, `SqlitePool` or `MySqlPool`.
    ///
    /// The pool is used as configured. For SQLite, use WAL and a busy timeout as
    /// [`SqlxStore::connect`] does; the store serializes its own writes within the process. On
    /// MySQL/MariaDB the store also opens up to two connections of its own for batched inbound
    /// writes, with the pool's connect options (TLS, credentials) but statement logging off and
    /// without the pool's `after_connect`; nothing the store sends depends on session settings.
    pub fn from_pool(pool: impl Into<DialectPool>) -> SqlxStore {
        let inner = match pool.into() {
            #[cfg(feature = "postgres")]
            DialectPool::Postgres(p) => Inner::Postgres(crate::postgres::PgStore::new(p)),
            #[cfg(feature = "sqlite")]
            DialectPool::Sqlite(p) => Inner::Sqlite(crate::sqlite::SqliteStore::new(p)),
            #[cfg(feature = "mysql")]
            DialectPool::MySql(p) => Inner::MySql(crate::mysql::MySqlStore::new(p)),
        };
        SqlxStore { inner }
    }

    /// Create or upgrade the schema (see `docs/schema.md`).
    ///
    /// Runs the embedded migrations for this dialect and records them in
    /// `_clerk_sync_migrations`; the application's `_sqlx_migrations` is not touched. Running
    /// it again, or from several replicas at once, is harmless.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.inner {
            #[cfg(feature = "postgres")]
            Inner::Postgres(s) => crate::migrator::postgres().run(s.pool()).await,
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(s) => crate::migrator::sqlite().run(s.pool()).await,
            #[cfg(feature = "mysql")]
            Inner::MySql(s) => crate::migrator::mysql().run(s.pool()).await,
        }
        .map_err(map_migrate)
    }

    /// Which database this store is on.
    pub fn dialect(&self) -> Dialect {
        match &self.inner {
            #[cfg(feature = "postgres")]
            Inner::Postgres(_) => Dialect::Postgres,
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(_) => Dialect::Sqlite,
            #[cfg(feature = "mysql")]
            Inner::MySql(_) => Dialect::MySql,
        }
    }

    /// The pool (a cheap clone), for the application's own queries on the same database.
    pub fn pool(&self) -> DialectPool {
        match &self.inner {
            #[cfg(feature = "postgres")]
            Inner::Postgres(s) => DialectPool::Postgres(s.pool().clone()),
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(s) => DialectPool::Sqlite(s.pool().clone()),
            #[cfg(feature = "mysql")]
            Inner::MySql(s) => DialectPool::MySql(s.pool().clone()),
        }
    }

    /// Close the pool: wait for checked-out connections to come back, then close them all.
    /// On SQLite and MySQL/MariaDB the connections the store keeps for writes are closed too:
    /// SQLite's writer once its write ends; on MySQL/MariaDB the idle ones at once, and one in
    /// use as its write ends. Operations afterwards fail with [`StoreError::Unavailable`].
    pub async fn close(&self) {
        match &self.inner {
            #[cfg(feature = "postgres")]
            Inner::Postgres(s) => s.pool().close().await,
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(s) => s.close().await,
            #[cfg(feature = "mysql")]
            Inner::MySql(s) => s.close().await,
        }
    }

    /// Whether the database answers a trivial query (for health checks).
    pub async fn ping(&self) -> Result<(), StoreError> {
        dispatch!(self, s => sqlx::query("SELECT 1").execute(s.pool()).await.map(|_| ()).map_err(map_sqlx))
    }
}

#[cfg(feature = "postgres")]
impl From<sqlx::PgPool> for SqlxStore {
    fn from(pool: sqlx::PgPool) -> Self {
        SqlxStore::from_pool(pool)
    }
}

#[cfg(feature = "sqlite")]
impl From<sqlx::SqlitePool> for SqlxStore {
    fn from(pool: sqlx::SqlitePool) -> Self {
        SqlxStore::from_pool(pool)
    }
}

#[cfg(feature = "mysql")]
impl From<sqlx::MySqlPool> for SqlxStore {
    fn from(pool: sqlx::MySqlPool) -> Self {
        SqlxStore::from_pool(pool)
    }
}

fn enabled_schemes() -> String {
    let mut schemes = Vec::new();
    if cfg!(feature = "postgres") {
        schemes.push("postgres://");
    }
    if cfg!(feature = "sqlite") {
        schemes.push("sqlite:");
    }
    if cfg!(feature = "mysql") {
        schemes.push("mysql://");
    }
    schemes.join(", ")
}

#[async_trait]
impl UserStore for SqlxStore {
    async fn get_user(&self, clerk_id: &str) -> Result<Option<LocalUser>, StoreError> {
        dispatch!(self, s => s.get_user(clerk_id).await)
    }

    async fn get_user_by_id(&self, id: i64) -> Result<Option<LocalUser>, StoreError> {
        dispatch!(self, s => s.get_user_by_id(id).await)
    }

    async fn find_users_by_email(&self, email: &str) -> Result<Vec<LocalUser>, StoreError> {
        dispatch!(self, s => s.find_users_by_email(email).await)
    }

    async fn list_users(&self, query: &UserQuery) -> Result<Vec<LocalUser>, StoreError> {
        dispatch!(self, s => s.list_users(query).await)
    }

    async fn upsert_user(
        &self,
        record: &ClerkUserRecord,
        now: OffsetDateTime,
    ) -> Result<UpsertOutcome, StoreError> {
        dispatch!(self, s => s.upsert_user(record, now).await)
    }

    async fn apply_batch(
        &self,
        records: &[ClerkUserRecord],
        now: OffsetDateTime,
    ) -> Result<BatchOutcome, StoreError> {
        dispatch!(self, s => s.apply_batch(records, now).await)
    }

    async fn tombstone_user(
        &self,
        tombstone: &Tombstone,
        now: OffsetDateTime,
    ) -> Result<TombstoneOutcome, StoreError> {
        dispatch!(self, s => s.tombstone_user(tombstone, now).await)
    }

    async fn link_clerk_id(
        &self,
        id: i64,
        clerk_id: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.link_clerk_id(id, clerk_id, now).await)
    }

    async fn scan_versions(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<UserVersion>, StoreError> {
        dispatch!(self, s => s.scan_versions(after, limit).await)
    }

    async fn count_by_status(&self) -> Result<StatusCounts, StoreError> {
        dispatch!(self, s => s.count_by_status().await)
    }

    async fn record_sync_error(
        &self,
        clerk_id: &str,
        error: &str,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.record_sync_error(clerk_id, error, at).await)
    }
}

#[async_trait]
impl LedgerStore for SqlxStore {
    async fn ledger_insert(&self, entry: &NewLedgerEntry<'_>) -> Result<LedgerInsert, StoreError> {
        dispatch!(self, s => s.ledger_insert(entry).await)
    }

    async fn ledger_mark_processed(
        &self,
        svix_id: &str,
        outcome: LedgerOutcome,
        error: Option<&str>,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.ledger_mark_processed(svix_id, outcome, error, at).await)
    }

    async fn ledger_get(&self, svix_id: &str) -> Result<Option<LedgerEntry>, StoreError> {
        dispatch!(self, s => s.ledger_get(svix_id).await)
    }

    async fn ledger_prune(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        dispatch!(self, s => s.ledger_prune(before).await)
    }
}

#[async_trait]
impl OutboxStore for SqlxStore {
    async fn enqueue_local_change(
        &self,
        change: &LocalChange,
        now: OffsetDateTime,
    ) -> Result<EnqueuedChange, StoreError> {
        dispatch!(self, s => s.enqueue_local_change(change, now).await)
    }

    async fn claim_outbox(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        dispatch!(self, s => s.claim_outbox(worker, now, lease, limit).await)
    }

    async fn complete_outbox(
        &self,
        id: i64,
        clerk_id: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.complete_outbox(id, clerk_id, now).await)
    }

    async fn fail_outbox(
        &self,
        id: i64,
        error: &str,
        next_attempt_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.fail_outbox(id, error, next_attempt_at, now).await)
    }

    async fn give_up_outbox(
        &self,
        id: i64,
        error: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.give_up_outbox(id, error, now).await)
    }

    async fn outbox_for_user(&self, user_id: i64) -> Result<Vec<OutboxEntry>, StoreError> {
        dispatch!(self, s => s.outbox_for_user(user_id).await)
    }
}

#[async_trait]
impl LeaseStore for SqlxStore {
    async fn try_acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.try_acquire_lease(name, holder, ttl, now).await)
    }

    async fn renew_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.renew_lease(name, holder, ttl, now).await)
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        dispatch!(self, s => s.release_lease(name, holder).await)
    }
}

#[async_trait]
impl RunLogStore for SqlxStore {
    async fn record_run(&self, run: &SyncRun) -> Result<i64, StoreError> {
        dispatch!(self, s => s.record_run(run).await)
    }

    async fn recent_runs(&self, limit: u32) -> Result<Vec<SyncRun>, StoreError> {
        dispatch!(self, s => s.recent_runs(limit).await)
    }
}

#[async_trait]
impl SyncStore for SqlxStore {
    /// Ledger, apply and mark processed in one transaction: on PostgreSQL a single statement,
    /// elsewhere one transaction on one connection.
    async fn apply_inbound(
        &self,
        entry: &NewLedgerEntry<'_>,
        change: &InboundChange,
        now: OffsetDateTime,
    ) -> Result<InboundApplied, StoreError> {
        if let Some(applied) = dispatch!(self, s => s.apply_inbound(entry, change, now).await)? {
            return Ok(applied);
        }
        // A change kind newer than this crate: the trait's three steps, each conditional.
        if let LedgerInsert::Exists { processed: true } = self.ledger_insert(entry).await? {
            return Ok(InboundApplied::Duplicate);
        }
        let applied = clerk_sync_core::store::apply_change(self, change, now).await?;
        if let Some(outcome) = applied.ledger_outcome() {
            self.ledger_mark_processed(entry.svix_id, outcome, None, now)
                .await?;
        }
        Ok(applied)
    }
}

// ----- helpers shared by the dialects -----

/// `apply_batch` input after dropping records superseded within the batch itself.
///
/// Two records for one clerk id in one bulk statement would make the statement touch a row
/// twice (an error on PostgreSQL); only the newest can win anyway, so the others count as
/// unchanged.
pub(crate) struct BatchPlan<'a> {
    pub(crate) records: Vec<&'a ClerkUserRecord>,
    pub(crate) superseded: u64,
}

impl<'a> BatchPlan<'a> {
    pub(crate) fn new(records: &'a [ClerkUserRecord]) -> Self {
        let mut newest: HashMap<&str, usize> = HashMap::with_capacity(records.len());
        for (i, r) in records.iter().enumerate() {
            newest
                .entry(r.clerk_id.as_str())
                .and_modify(|best| {
                    if records[*best].clerk_updated_at < r.clerk_updated_at {
                        *best = i;
                    }
                })
                .or_insert(i);
        }
        let kept: Vec<&ClerkUserRecord> = records
            .iter()
            .enumerate()
            .filter(|(i, r)| newest.get(r.clerk_id.as_str()) == Some(i))
            .map(|(_, r)| r)
            .collect();
        BatchPlan {
            superseded: (records.len() - kept.len()) as u64,
            records: kept,
        }
    }

    /// The distinct `link_email`s of the batch.
    #[cfg(feature = "postgres")]
    pub(crate) fn link_emails(&self) -> Vec<&'a str> {
        let mut emails: Vec<&str> = self
            .records
            .iter()
            .filter_map(|r| r.link_email.as_deref())
            .collect();
        emails.sort_unstable();
        emails.dedup();
        emails
    }
}

/// Add one upsert's outcome to a batch tally.
pub(crate) fn count(outcome: &mut BatchOutcome, one: UpsertOutcome) {
    match one {
        UpsertOutcome::Inserted => outcome.inserted += 1,
        UpsertOutcome::Updated | UpsertOutcome::Linked => outcome.updated += 1,
        _ => outcome.unchanged += 1,
    }
}

/// Counts by state; one pass, portable (`COUNT` is BIGINT everywhere).
pub(crate) const COUNT_BY_STATUS: &str = "SELECT \
     COUNT(CASE WHEN deleted_at IS NULL AND sync_status = 'synced' THEN 1 END), \
     COUNT(CASE WHEN deleted_at IS NULL AND sync_status = 'pending' THEN 1 END), \
     COUNT(CASE WHEN deleted_at IS NULL AND sync_status = 'failed' THEN 1 END), \
     COUNT(deleted_at) FROM clerk_users";

pub(crate) fn status_counts(synced: i64, pending: i64, failed: i64, deleted: i64) -> StatusCounts {
    let mut c = StatusCounts::default();
    c.synced = synced as u64;
    c.pending = pending as u64;
    c.failed = failed as u64;
    c.deleted = deleted as u64;
    c
}

/// `NotFound` when a targeted write touched nothing.
pub(crate) fn found(rows: u64, what: &'static str) -> Result<(), StoreError> {
    if rows == 0 {
        Err(StoreError::NotFound { what })
    } else {
        Ok(())
    }
}

/// A `LocalChange` kind newer than this crate.
pub(crate) fn unsupported_change() -> StoreError {
    StoreError::Backend("this kind of local change is not supported by clerk-sync-sqlx".into())
}
