//! [`SeaOrmStore`]: clerk-sync-sqlx's store on a sea-orm connection's own pool.

use std::time::Duration;

use async_trait::async_trait;
use clerk_sync_core::store::{
    BatchOutcome, ClaimOutcome, ClerkUserRecord, DeadLetterQuery, EnqueuedChange, InboundApplied,
    InboundChange, InboundStore, LeaseStore, LedgerEntry, LedgerInsert, LedgerOutcome, LedgerQuery,
    LedgerStore, LocalChange, LocalUser, NewLedgerEntry, OutboxEntry, OutboxStore, RunLogStore,
    StatusCounts, StoreError, SyncRun, Tombstone, TombstoneOutcome, UpsertOutcome, UserQuery,
    UserStore, UserVersion,
};
use clerk_sync_sqlx::{DialectPool, SqlxStore};
use sea_orm::{
    DatabaseConnection, DatabaseConnectionType, SqlxMySqlConnector, SqlxPostgresConnector,
    SqlxSqliteConnector,
};
use sea_orm_migration::MigratorTrait;
use time::OffsetDateTime;

use crate::migration::Migrator;

/// The clerk-sync store for a sea-orm application: clerk-sync-sqlx's [`SqlxStore`], run on the
/// sqlx pool behind a sea-orm [`DatabaseConnection`] (PostgreSQL, SQLite or MySQL/MariaDB).
///
/// Every store trait (and so `SyncStore`) is implemented by handing the call to that
/// [`SqlxStore`]: the same SQL, the same guarantees and the same errors as
/// clerk-sync-sqlx, on the application's own connections. [`SeaOrmStore::connection`] gives the
/// connection back for the application's queries, for example on
/// [`entity`](crate::entity).
///
/// Cheap to clone: clones share the pool.
#[derive(Debug, Clone)]
pub struct SeaOrmStore {
    db: DatabaseConnection,
    sqlx: SqlxStore,
}

impl SeaOrmStore {
    /// Connect to `url` (`postgres://…`, `mysql://…` / `mariadb://…`, `sqlite:…`).
    ///
    /// The pool is the one [`SqlxStore::connect`] opens and configures (a refused connection
    /// fails at once with its cause; on SQLite: WAL, a 5 s busy timeout, foreign keys, and
    /// `sqlite::memory:` as one database for the whole pool), wrapped in a
    /// [`DatabaseConnection`]; the store is then exactly what [`SeaOrmStore::new`] makes of
    /// that connection. Errors never contain the URL.
    pub async fn connect(url: &str) -> Result<SeaOrmStore, StoreError> {
        let sqlx = SqlxStore::connect(url).await?;
        let db = match sqlx.pool() {
            DialectPool::Postgres(pool) => SqlxPostgresConnector::from_sqlx_postgres_pool(pool),
            DialectPool::Sqlite(pool) => SqlxSqliteConnector::from_sqlx_sqlite_pool(pool),
            DialectPool::MySql(pool) => SqlxMySqlConnector::from_sqlx_mysql_pool(pool),
            // `DialectPool` is non-exhaustive; a dialect added to clerk-sync-sqlx needs a
            // sea-orm connection type here before this crate can offer it.
            _ => return Err(no_sqlx_pool()),
        };
        Ok(SeaOrmStore { db, sqlx })
    }

    /// A store on an existing connection, e.g. the application's own pool: the store's
    /// statements run on that connection's sqlx pool, as configured (for SQLite, open it in
    /// WAL mode with a busy timeout, as [`SeaOrmStore::connect`] does, so that concurrent
    /// webhooks wait for the write lock instead of failing). Make the store once and clone
    /// it: on SQLite each store queues its own writes within the process, and clones share
    /// that queue.
    ///
    /// A connection without a sqlx pool behind it (a mock or proxy connection, rusqlite, or
    /// [`DatabaseConnection::default`]) gives [`StoreError::Configuration`]: the store's SQL
    /// needs a real database.
    pub fn new(db: DatabaseConnection) -> Result<SeaOrmStore, StoreError> {
        // Matched on the connection type, not on `get_database_backend()`: a mock connection
        // reports a backend too, and the pool getters panic on anything but their own type.
        let pool: DialectPool = match &db.inner {
            DatabaseConnectionType::SqlxPostgresPoolConnection(_) => {
                db.get_postgres_connection_pool().clone().into()
            }
            DatabaseConnectionType::SqlxSqlitePoolConnection(_) => {
                db.get_sqlite_connection_pool().clone().into()
            }
            DatabaseConnectionType::SqlxMySqlPoolConnection(_) => {
                db.get_mysql_connection_pool().clone().into()
            }
            _ => return Err(no_sqlx_pool()),
        };
        Ok(SeaOrmStore {
            sqlx: SqlxStore::from_pool(pool),
            db,
        })
    }

    /// The connection this store runs on, for the application's own queries.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The clerk-sync-sqlx store doing the work, on the same pool: for what only it offers
    /// (its dialect, its pool as a sqlx type).
    pub fn sqlx(&self) -> &SqlxStore {
        &self.sqlx
    }

    /// Create or upgrade the schema with [`Migrator`], recorded in
    /// `_clerk_sync_seaorm_migrations`. It runs clerk-sync-sqlx's migrations' SQL (see
    /// [`migration`](crate::migration)), so it is harmless to run again, and on a database
    /// clerk-sync-sqlx migrated.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(&self.db, None)
            .await
            .map_err(crate::error::map_migrate)
    }

    /// Close the pool ([`SqlxStore::close`]): the [`DatabaseConnection`] shares it, so it is
    /// closed too. Operations afterwards fail with [`StoreError::Unavailable`].
    pub async fn close(&self) {
        self.sqlx.close().await;
    }
}

fn no_sqlx_pool() -> StoreError {
    StoreError::Configuration {
        reason: "SeaOrmStore needs a DatabaseConnection backed by a sqlx pool (PostgreSQL, \
                 SQLite or MySQL/MariaDB); this one has none (mock, proxy, rusqlite or \
                 disconnected)"
            .to_owned(),
        source: None,
    }
}

/// Implement a store trait on [`SeaOrmStore`] by handing every method to its [`SqlxStore`].
///
/// Every method is listed, provided ones included: the sqlx store overrides some of them
/// (`apply_batch`, `apply_inbound`) with one-statement versions, which the trait's provided
/// code would otherwise bypass.
macro_rules! delegate {
    ($($trait:ident { $(fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)* })*) => {$(
        #[async_trait]
        impl $trait for SeaOrmStore {
            $(async fn $name(&self, $($arg: $ty),*) -> Result<$ret, StoreError> {
                <SqlxStore as $trait>::$name(&self.sqlx, $($arg),*).await
            })*
        }
    )*};
}

delegate! {
    UserStore {
        fn get_user(clerk_id: &str) -> Option<LocalUser>;
        fn get_user_by_id(id: i64) -> Option<LocalUser>;
        fn find_users_by_email(email: &str) -> Vec<LocalUser>;
        fn list_users(query: &UserQuery) -> Vec<LocalUser>;
        fn upsert_user(record: &ClerkUserRecord, now: OffsetDateTime) -> UpsertOutcome;
        fn apply_batch(records: &[ClerkUserRecord], now: OffsetDateTime) -> BatchOutcome;
        fn tombstone_user(tombstone: &Tombstone, now: OffsetDateTime) -> TombstoneOutcome;
        fn link_clerk_id(id: i64, clerk_id: &str, now: OffsetDateTime) -> bool;
        fn scan_versions(after: Option<&str>, limit: u32) -> Vec<UserVersion>;
        fn count_by_status() -> StatusCounts;
        fn record_sync_error(clerk_id: &str, error: &str, at: OffsetDateTime) -> bool;
    }
    LedgerStore {
        fn ledger_insert(entry: &NewLedgerEntry<'_>) -> LedgerInsert;
        fn ledger_mark_processed(
            svix_id: &str,
            outcome: LedgerOutcome,
            error: Option<&str>,
            at: OffsetDateTime
        ) -> ();
        fn ledger_get(svix_id: &str) -> Option<LedgerEntry>;
        fn recent_ledger(query: &LedgerQuery) -> Vec<LedgerEntry>;
        fn ledger_prune(before: OffsetDateTime) -> u64;
    }
    InboundStore {
        fn apply_inbound(
            entry: &NewLedgerEntry<'_>,
            change: &InboundChange,
            now: OffsetDateTime
        ) -> InboundApplied;
    }
    OutboxStore {
        fn enqueue_local_change(change: &LocalChange, now: OffsetDateTime) -> EnqueuedChange;
        fn claim_outbox(
            worker: &str,
            now: OffsetDateTime,
            lease: Duration,
            limit: u32
        ) -> Vec<OutboxEntry>;
        fn complete_outbox(
            id: i64,
            token: &str,
            clerk_id: Option<&str>,
            now: OffsetDateTime
        ) -> ClaimOutcome;
        fn fail_outbox(
            id: i64,
            token: &str,
            error: &str,
            next_attempt_at: OffsetDateTime,
            now: OffsetDateTime
        ) -> ClaimOutcome;
        fn give_up_outbox(id: i64, token: &str, error: &str, now: OffsetDateTime) -> ClaimOutcome;
        fn outbox_for_user(user_id: i64) -> Vec<OutboxEntry>;
        fn dead_letters(query: &DeadLetterQuery) -> Vec<OutboxEntry>;
        fn revive_dead_letters(user_id: Option<i64>, now: OffsetDateTime) -> u64;
        fn outbox_due(now: OffsetDateTime) -> u64;
    }
    LeaseStore {
        fn try_acquire_lease(
            name: &str,
            holder: &str,
            ttl: Duration,
            now: OffsetDateTime
        ) -> bool;
        fn renew_lease(name: &str, holder: &str, ttl: Duration, now: OffsetDateTime) -> bool;
        fn release_lease(name: &str, holder: &str) -> bool;
    }
    RunLogStore {
        fn start_run(run: &SyncRun) -> i64;
        fn checkpoint_run(id: i64, cursor: Option<&str>, report: &serde_json::Value) -> bool;
        fn finish_run(
            id: i64,
            finished_at: OffsetDateTime,
            cursor: Option<&str>,
            report: &serde_json::Value
        ) -> bool;
        fn recent_runs(limit: u32) -> Vec<SyncRun>;
        fn latest_run(kind: &str) -> Option<SyncRun>;
    }
}
