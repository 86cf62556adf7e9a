//! [`SqlxStore`]: one type over the three dialects, implementing every store trait.
//!
//! Each trait method goes to the dialect's store (`Store<Postgres>`, `Store<Sqlite>`,
//! `Store<MySql>`). Most run the same shared statement on all three; the writes that have a
//! faster form on one dialect say here which one each takes.

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

use crate::backend::{Inbound, Store};
use crate::codec::Ts;
use crate::error::{map_migrate, map_sqlx};

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
    Postgres(Store<sqlx::Postgres>),
    #[cfg(feature = "sqlite")]
    Sqlite(Store<sqlx::Sqlite>),
    #[cfg(feature = "mysql")]
    MySql(Store<sqlx::MySql>),
}

/// The clerk-sync store on a sqlx pool: PostgreSQL, SQLite or MySQL/MariaDB.
///
/// Implements every store trait of `clerk_sync_core::store` ([`UserStore`], [`LedgerStore`],
/// [`InboundStore`], [`OutboxStore`], [`LeaseStore`] and [`RunLogStore`], and so `SyncStore`).
/// Cloning is cheap and shares the pool.
///
/// Create it with [`SqlxStore::connect`] or [`SqlxStore::from_pool`], then run
/// [`SqlxStore::migrate`] once at startup. Every statement runs on a connection of that pool,
/// with every value a bound parameter.
#[derive(Debug, Clone)]
pub struct SqlxStore {
    inner: Inner,
}

/// `$e` on the dialect's store `$s`: for the operations every dialect runs alike.
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
    /// `postgres://` / `postgresql://`, `sqlite:` or `mysql://` / `mariadb://`.
    ///
    /// - **PostgreSQL, MySQL/MariaDB:** one connection is opened first, so that a server that
    ///   refuses it fails here at once with the reason ([`StoreError::Unavailable`] for a
    ///   server that cannot be reached, [`StoreError::Configuration`] for a refused password,
    ///   an unknown role or database), rather than after the pool's acquire timeout. Pools of
    ///   16 connections with a 10 s acquire timeout.
    /// - **SQLite:** `sqlite:app.db` creates the file when it is missing (a URL with its own
    ///   `mode=` keeps it); `sqlite:` and `sqlite::memory:` are one in-memory database shared
    ///   by the pool's connections, which lives as long as the store. WAL, `synchronous =
    ///   NORMAL`, a 5 s busy timeout and foreign keys.
    ///
    /// A URL that cannot be used (no or an unknown scheme, a libpq `key=value` string,
    /// malformed) is [`StoreError::Configuration`]. Errors never contain the URL, any part of
    /// it, or the server's own message (which can name the user or the database): only what
    /// went wrong, and the error code or I/O error kind.
    pub async fn connect(url: &str) -> Result<SqlxStore, StoreError> {
        crate::connect::connect(url).await
    }

    /// A store on an existing pool: a `PgPool`, `SqlitePool` or `MySqlPool`.
    ///
    /// The pool is used as configured, and the store opens no connection of its own. For
    /// SQLite, use WAL and a busy timeout as [`SqlxStore::connect`] does; the store queues its
    /// own writes within the process. On MySQL/MariaDB the store's transactions run in `READ
    /// COMMITTED` whatever the session default.
    pub fn from_pool(pool: impl Into<DialectPool>) -> SqlxStore {
        let inner = match pool.into() {
            #[cfg(feature = "postgres")]
            DialectPool::Postgres(p) => Inner::Postgres(Store::new(p)),
            #[cfg(feature = "sqlite")]
            DialectPool::Sqlite(p) => Inner::Sqlite(Store::new(p)),
            #[cfg(feature = "mysql")]
            DialectPool::MySql(p) => Inner::MySql(Store::new(p)),
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
            Inner::Postgres(s) => crate::migrator::postgres().run(&s.pool).await,
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(s) => crate::migrator::sqlite().run(&s.pool).await,
            #[cfg(feature = "mysql")]
            Inner::MySql(s) => crate::migrator::mysql().run(&s.pool).await,
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
            Inner::Postgres(s) => DialectPool::Postgres(s.pool.clone()),
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(s) => DialectPool::Sqlite(s.pool.clone()),
            #[cfg(feature = "mysql")]
            Inner::MySql(s) => DialectPool::MySql(s.pool.clone()),
        }
    }

    /// Close the pool: wait for checked-out connections to come back, then close them all.
    /// Operations afterwards fail with [`StoreError::Unavailable`].
    pub async fn close(&self) {
        dispatch!(self, s => s.pool.close().await)
    }

    /// Whether the database answers a trivial query (for health checks).
    pub async fn ping(&self) -> Result<(), StoreError> {
        dispatch!(self, s => sqlx::query("SELECT 1").execute(&s.pool).await.map(|_| ()).map_err(map_sqlx))
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

    /// PostgreSQL: one statement. MySQL and SQLite: one transaction that decides on the
    /// locked row.
    async fn upsert_user(
        &self,
        record: &ClerkUserRecord,
        now: OffsetDateTime,
    ) -> Result<UpsertOutcome, StoreError> {
        match &self.inner {
            #[cfg(feature = "postgres")]
            Inner::Postgres(s) => s.upsert_statement(record, now).await,
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(s) => s.upsert_in_transaction(record, now).await,
            #[cfg(feature = "mysql")]
            Inner::MySql(s) => s.upsert_in_transaction(record, now).await,
        }
    }

    /// Multi-row conditional upserts, in chunks; records that may link a local row take the
    /// one-transaction path.
    async fn apply_batch(
        &self,
        records: &[ClerkUserRecord],
        now: OffsetDateTime,
    ) -> Result<BatchOutcome, StoreError> {
        dispatch!(self, s => s.apply_batch(records, now).await)
    }

    /// PostgreSQL: one statement. MySQL and SQLite: one transaction.
    async fn tombstone_user(
        &self,
        tombstone: &Tombstone,
        now: OffsetDateTime,
    ) -> Result<TombstoneOutcome, StoreError> {
        match &self.inner {
            #[cfg(feature = "postgres")]
            Inner::Postgres(s) => s.tombstone_statement(tombstone, now).await,
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(s) => s.tombstone_in_transaction(tombstone, now).await,
            #[cfg(feature = "mysql")]
            Inner::MySql(s) => s.tombstone_in_transaction(tombstone, now).await,
        }
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

    async fn recent_ledger(&self, query: &LedgerQuery) -> Result<Vec<LedgerEntry>, StoreError> {
        dispatch!(self, s => s.recent_ledger(query).await)
    }

    async fn ledger_prune(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        dispatch!(self, s => s.ledger_prune(before).await)
    }
}

#[async_trait]
impl InboundStore for SqlxStore {
    /// Ledger, apply and mark processed in one transaction and as few round trips as the
    /// dialect allows: one statement on PostgreSQL, one `CALL` of the stored procedure on
    /// MySQL/MariaDB; on SQLite one multi-statement query in a `BEGIN IMMEDIATE` transaction.
    async fn apply_inbound(
        &self,
        entry: &NewLedgerEntry<'_>,
        change: &InboundChange,
        now: OffsetDateTime,
    ) -> Result<InboundApplied, StoreError> {
        let inbound = Inbound {
            entry,
            change,
            now: Ts::new(now),
        };
        let applied = match &self.inner {
            #[cfg(feature = "postgres")]
            Inner::Postgres(s) => s.apply_inbound_statement(inbound).await?,
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(s) => s.apply_inbound_batch(inbound).await?,
            #[cfg(feature = "mysql")]
            Inner::MySql(s) => s.call_apply_inbound(inbound).await?,
        };
        if let Some(applied) = applied {
            return Ok(applied);
        }
        // A kind of change newer than this crate: the trait's three steps, each conditional.
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
        token: &str,
        clerk_id: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<ClaimOutcome, StoreError> {
        dispatch!(self, s => s.complete_outbox(id, token, clerk_id, now).await)
    }

    async fn fail_outbox(
        &self,
        id: i64,
        token: &str,
        error: &str,
        next_attempt_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<ClaimOutcome, StoreError> {
        dispatch!(self, s => s.fail_outbox(id, token, error, next_attempt_at, now).await)
    }

    async fn give_up_outbox(
        &self,
        id: i64,
        token: &str,
        error: &str,
        now: OffsetDateTime,
    ) -> Result<ClaimOutcome, StoreError> {
        dispatch!(self, s => s.give_up_outbox(id, token, error, now).await)
    }

    async fn outbox_for_user(&self, user_id: i64) -> Result<Vec<OutboxEntry>, StoreError> {
        dispatch!(self, s => s.outbox_for_user(user_id).await)
    }

    async fn dead_letters(&self, query: &DeadLetterQuery) -> Result<Vec<OutboxEntry>, StoreError> {
        dispatch!(self, s => s.dead_letters(query).await)
    }

    async fn revive_dead_letters(
        &self,
        user_id: Option<i64>,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        dispatch!(self, s => s.revive_dead_letters(user_id, now).await)
    }

    async fn outbox_due(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        dispatch!(self, s => s.outbox_due(now).await)
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
    async fn start_run(&self, run: &SyncRun) -> Result<i64, StoreError> {
        dispatch!(self, s => s.start_run(run).await)
    }

    async fn checkpoint_run(
        &self,
        id: i64,
        cursor: Option<&str>,
        report: &serde_json::Value,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.checkpoint_run(id, cursor, report).await)
    }

    async fn finish_run(
        &self,
        id: i64,
        finished_at: OffsetDateTime,
        cursor: Option<&str>,
        report: &serde_json::Value,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.finish_run(id, finished_at, cursor, report).await)
    }

    async fn recent_runs(&self, limit: u32) -> Result<Vec<SyncRun>, StoreError> {
        dispatch!(self, s => s.recent_runs(limit).await)
    }

    async fn latest_run(&self, kind: &str) -> Result<Option<SyncRun>, StoreError> {
        dispatch!(self, s => s.latest_run(kind).await)
    }
}
