//! `SeaOrmStore` and its store trait implementations.

use std::time::Duration;

use async_trait::async_trait;
use clerk_sync_core::store::{
    BatchOutcome, ClerkUserRecord, EnqueuedChange, InboundApplied, InboundChange, LeaseStore,
    LedgerEntry, LedgerInsert, LedgerOutcome, LedgerStore, LocalChange, LocalUser, NewLedgerEntry,
    OutboxEntry, OutboxStore, RunLogStore, StatusCounts, StoreError, SyncRun, SyncStore, Tombstone,
    TombstoneOutcome, UpsertOutcome, UserQuery, UserStore, UserVersion,
};
use sea_orm::sea_query::{Expr, Order};
use sea_orm::{
    ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait, Value,
};
use sea_orm_migration::MigratorTrait;
use time::OffsetDateTime;

use crate::convert;
use crate::entity::{clerk_user, sync_run, webhook_event};
use crate::error::{is_conflict, map_db_err};
use crate::migration::Migrator;
use crate::sql::Dialect;
use crate::{inbound_pg, ledger, outbox, users};

/// How often a transaction that lost a deadlock or serialization race is run again before the
/// error goes to the caller (who answers Svix with a retryable 5xx).
const CONFLICT_RETRIES: u32 = 8;

/// Page size cap of `list_users`, as in the trait docs.
const MAX_PAGE: u32 = 1000;

/// Run `$body` (an expression giving a future of `Result<_, DbErr>`) again while it fails with a
/// transient conflict, then map the error.
macro_rules! retry {
    ($body:expr) => {{
        let mut attempt = 0u32;
        loop {
            match $body.await {
                Err(e) if is_conflict(&e) && attempt < CONFLICT_RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(2u64 << attempt.min(6))).await;
                }
                other => break other.map_err(map_db_err),
            }
        }
    }};
}

/// The clerk-sync store on a sea-orm [`DatabaseConnection`] (PostgreSQL, SQLite or
/// MySQL/MariaDB).
///
/// Cheap to clone: clones share the connection pool.
#[derive(Debug, Clone)]
pub struct SeaOrmStore {
    db: DatabaseConnection,
    d: Dialect,
    /// On a SQLite or MySQL/MariaDB pool this store opened, clerk-sync-sqlx's store on the same
    /// pool, which `apply_inbound` uses: one round trip per event (SQLite: to a writer
    /// connection it keeps; MySQL: one `CALL` of the stored procedure that migrations 6 and 7
    /// create), and group commit under load, where sea-orm's transaction makes several round
    /// trips per event. Same tables, same rules.
    sqlx_inbound: Option<clerk_sync_sqlx::SqlxStore>,
}

impl SeaOrmStore {
    /// Connect to `url` (`postgres://…`, `mysql://…`, `sqlite:…`).
    ///
    /// SQLite files are created if missing and opened in WAL mode with a 5 s busy timeout, so
    /// readers never block the writer and concurrent writers wait instead of failing.
    /// Statement logging is off: webhook traffic would flood the log.
    pub async fn connect(url: &str) -> Result<SeaOrmStore, StoreError> {
        let mut opts = ConnectOptions::new(url);
        if url.contains(":memory:") || url.contains("mode=memory") {
            // Every connection to an in-memory SQLite URL opens its own empty database.
            opts.max_connections(1);
        }
        opts.sqlx_logging(false)
            .acquire_timeout(Duration::from_secs(10))
            .map_sqlx_sqlite_opts(|o| {
                o.create_if_missing(true)
                    .journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(5))
                    .foreign_keys(true)
            });
        Self::connect_with(opts).await
    }

    /// Connect with sea-orm [`ConnectOptions`] of the caller's choosing (pool size, timeouts,
    /// PostgreSQL `search_path`, ...).
    pub async fn connect_with(options: ConnectOptions) -> Result<SeaOrmStore, StoreError> {
        let db = Database::connect(options).await.map_err(map_db_err)?;
        let mut store = SeaOrmStore::new(db);
        // `Database::connect` opens SQLite and MySQL through sqlx (this crate requires sea-orm's
        // `sqlx-sqlite` and `sqlx-mysql`); a connection handed to `new` may be another kind
        // (mock, proxy, rusqlite), and keeps sea-orm's path.
        store.sqlx_inbound = match store.db.get_database_backend() {
            sea_orm::DatabaseBackend::Sqlite => Some(clerk_sync_sqlx::SqlxStore::from_pool(
                store.db.get_sqlite_connection_pool().clone(),
            )),
            sea_orm::DatabaseBackend::MySql => Some(clerk_sync_sqlx::SqlxStore::from_pool(
                store.db.get_mysql_connection_pool().clone(),
            )),
            _ => None,
        };
        Ok(store)
    }

    /// A store on an existing connection, e.g. the application's own pool.
    ///
    /// Inbound events go through sea-orm's own transaction, which works on any connection
    /// sea-orm has (mock and proxy ones included) but costs several round trips per event; a
    /// store opened with [`SeaOrmStore::connect`] / [`SeaOrmStore::connect_with`] on SQLite or
    /// MySQL/MariaDB takes clerk-sync-sqlx's one-round-trip path on the same pool instead.
    ///
    /// On SQLite, open the pool in WAL mode with a busy timeout (as [`SeaOrmStore::connect`]
    /// does) so that concurrent webhooks wait for the write lock instead of failing.
    pub fn new(db: DatabaseConnection) -> SeaOrmStore {
        let d = Dialect(db.get_database_backend());
        SeaOrmStore {
            db,
            d,
            sqlx_inbound: None,
        }
    }

    /// The connection this store uses.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Create or upgrade the schema: runs [`Migrator`](crate::migration::Migrator), recorded
    /// in `_clerk_sync_seaorm_migrations`. Harmless to run again, and on a database the sqlx
    /// store created.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(&self.db, None).await.map_err(map_db_err)
    }

    fn param(&self, n: usize) -> String {
        if self.d.is_mysql() {
            "?".to_owned()
        } else {
            self.d.p(n)
        }
    }

    async fn apply_inbound_once(
        &self,
        entry: &NewLedgerEntry<'_>,
        change: &InboundChange,
        metadata: Option<String>,
        now: OffsetDateTime,
    ) -> Result<InboundApplied, DbErr> {
        let d = self.d;
        // READ COMMITTED on MySQL/MariaDB: every statement here is a locking write, and
        // REPEATABLE READ's gap locks on the unique indexes turn concurrent upserts of
        // neighbouring keys into deadlocks.
        let isolation = d
            .is_mysql()
            .then_some(sea_orm::IsolationLevel::ReadCommitted);
        let txn = self.db.begin_with_config(isolation, None).await?;
        if let LedgerInsert::Exists { processed: true } = ledger::insert(d, &txn, entry).await? {
            txn.rollback().await?;
            return Ok(InboundApplied::Duplicate);
        }
        let applied = match change {
            InboundChange::Upsert(record) => {
                InboundApplied::Upsert(users::upsert(d, &txn, record, metadata, now).await?)
            }
            InboundChange::Tombstone(t) => {
                InboundApplied::Tombstone(users::tombstone(d, &txn, t, now).await?)
            }
            InboundChange::LedgerOnly => InboundApplied::LedgerOnly,
            // `apply_inbound` routes kinds this store does not know to the provided path.
            _ => return Err(DbErr::Custom("unsupported inbound change".to_owned())),
        };
        if let Some(outcome) = applied.ledger_outcome() {
            ledger::mark_processed(d, &txn, entry.svix_id, outcome, None, now).await?;
        }
        txn.commit().await?;
        Ok(applied)
    }

    /// One statement per event on PostgreSQL (see `inbound_pg`). A unique violation there means
    /// a concurrent delivery inserted the same Clerk id while this one was linking a row; run
    /// again, the statement sees that row and takes the upsert path.
    async fn apply_inbound_pg(
        &self,
        entry: &NewLedgerEntry<'_>,
        change: &InboundChange,
        metadata: Option<String>,
        now: OffsetDateTime,
    ) -> Result<InboundApplied, StoreError> {
        let mut attempt = 0u32;
        loop {
            let result = match change {
                InboundChange::Upsert(record) => {
                    inbound_pg::upsert(self.d, &self.db, entry, record, metadata.clone(), now).await
                }
                InboundChange::Tombstone(t) => {
                    inbound_pg::tombstone(self.d, &self.db, entry, t, now).await
                }
                _ => inbound_pg::ledger_only(self.d, &self.db, entry, now).await,
            };
            match result {
                Err(e)
                    if (is_conflict(&e) || crate::error::is_unique_violation(&e))
                        && attempt < CONFLICT_RETRIES =>
                {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(2u64 << attempt.min(6))).await;
                }
                other => return other.map_err(map_db_err),
            }
        }
    }

    async fn find_users(
        &self,
        filter: sea_orm::Condition,
        limit: Option<u64>,
    ) -> Result<Vec<LocalUser>, StoreError> {
        let mut q = clerk_user::Entity::find()
            .filter(filter)
            .order_by_asc(clerk_user::Column::Id);
        if let Some(limit) = limit {
            q = q.limit(limit);
        }
        let rows = q.all(&self.db).await.map_err(map_db_err)?;
        rows.into_iter().map(convert::local_user).collect()
    }
}

fn not_found(what: &'static str) -> StoreError {
    StoreError::NotFound { what }
}

#[async_trait]
impl UserStore for SeaOrmStore {
    async fn get_user(&self, clerk_id: &str) -> Result<Option<LocalUser>, StoreError> {
        let row = clerk_user::Entity::find()
            .filter(clerk_user::Column::ClerkId.eq(clerk_id))
            .one(&self.db)
            .await
            .map_err(map_db_err)?;
        row.map(convert::local_user).transpose()
    }

    async fn get_user_by_id(&self, id: i64) -> Result<Option<LocalUser>, StoreError> {
        let row = clerk_user::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(map_db_err)?;
        row.map(convert::local_user).transpose()
    }

    async fn find_users_by_email(&self, email: &str) -> Result<Vec<LocalUser>, StoreError> {
        self.find_users(
            sea_orm::Condition::all().add(clerk_user::Column::Email.eq(email)),
            None,
        )
        .await
    }

    async fn list_users(&self, query: &UserQuery) -> Result<Vec<LocalUser>, StoreError> {
        let mut cond = sea_orm::Condition::all();
        if !query.include_deleted {
            cond = cond.add(clerk_user::Column::DeletedAt.is_null());
        }
        if let Some(status) = query.sync_status {
            cond = cond.add(clerk_user::Column::SyncStatus.eq(status.as_str()));
        }
        if let Some(after) = query.after_id {
            cond = cond.add(clerk_user::Column::Id.gt(after));
        }
        self.find_users(cond, Some(u64::from(query.limit.min(MAX_PAGE))))
            .await
    }

    async fn upsert_user(
        &self,
        record: &ClerkUserRecord,
        now: OffsetDateTime,
    ) -> Result<UpsertOutcome, StoreError> {
        let metadata = users::validate(record)?;
        retry!(users::upsert(
            self.d,
            &self.db,
            record,
            metadata.clone(),
            now
        ))
    }

    async fn apply_batch(
        &self,
        records: &[ClerkUserRecord],
        now: OffsetDateTime,
    ) -> Result<BatchOutcome, StoreError> {
        crate::batch::apply_batch(self.d, &self.db, records, now).await
    }

    async fn tombstone_user(
        &self,
        tombstone: &Tombstone,
        now: OffsetDateTime,
    ) -> Result<TombstoneOutcome, StoreError> {
        retry!(users::tombstone(self.d, &self.db, tombstone, now))
    }

    async fn link_clerk_id(
        &self,
        id: i64,
        clerk_id: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        retry!(users::link_clerk_id(self.d, &self.db, id, clerk_id, now))
    }

    async fn scan_versions(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<UserVersion>, StoreError> {
        // Byte order on every dialect, so pages line up with Clerk's ids however the database
        // collates text: PostgreSQL needs `COLLATE "C"`; the MySQL tables are `utf8mb4_bin`
        // and SQLite compares bytes by default.
        let key = if self.d.is_pg() {
            "clerk_id COLLATE \"C\""
        } else {
            "clerk_id"
        };
        let mut values: Vec<Value> = Vec::new();
        let mut sql = "SELECT clerk_id, clerk_updated_at, deleted_at FROM clerk_users \
                       WHERE clerk_id IS NOT NULL"
            .to_owned();
        if let Some(after) = after {
            values.push(after.to_owned().into());
            sql.push_str(&format!(" AND {key} > {}", self.param(1)));
        }
        values.push(i64::from(limit).into());
        sql.push_str(&format!(
            " ORDER BY {key} LIMIT {}",
            self.param(values.len())
        ));
        let rows = self
            .db
            .query_all_raw(self.d.stmt(sql, values))
            .await
            .map_err(map_db_err)?;
        rows.iter()
            .map(|r| {
                let clerk_id: String = r.try_get("", "clerk_id").map_err(map_db_err)?;
                let version: Option<i64> = r.try_get("", "clerk_updated_at").map_err(map_db_err)?;
                let deleted: Option<OffsetDateTime> =
                    r.try_get("", "deleted_at").map_err(map_db_err)?;
                Ok(convert::user_version(clerk_id, version, deleted.is_some()))
            })
            .collect()
    }

    async fn count_by_status(&self) -> Result<StatusCounts, StoreError> {
        let rows = self
            .db
            .query_all_raw(self.d.stmt(
                "SELECT CASE WHEN deleted_at IS NOT NULL THEN 'deleted' ELSE sync_status END AS k, \
                 COUNT(*) AS n FROM clerk_users \
                 GROUP BY CASE WHEN deleted_at IS NOT NULL THEN 'deleted' ELSE sync_status END",
                vec![],
            ))
            .await
            .map_err(map_db_err)?;
        let mut counts = StatusCounts::default();
        for row in rows {
            let k: String = row.try_get("", "k").map_err(map_db_err)?;
            let n: i64 = row.try_get("", "n").map_err(map_db_err)?;
            let n = u64::try_from(n).unwrap_or(0);
            match k.as_str() {
                "deleted" => counts.deleted += n,
                "synced" => counts.synced += n,
                "pending" => counts.pending += n,
                "failed" => counts.failed += n,
                _ => {
                    return Err(StoreError::InvalidData {
                        what: "sync_status".to_owned(),
                    });
                }
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
        retry!(users::record_sync_error(
            self.d, &self.db, clerk_id, error, at
        ))
    }
}

#[async_trait]
impl LedgerStore for SeaOrmStore {
    async fn ledger_insert(&self, entry: &NewLedgerEntry<'_>) -> Result<LedgerInsert, StoreError> {
        retry!(ledger::insert(self.d, &self.db, entry))
    }

    async fn ledger_mark_processed(
        &self,
        svix_id: &str,
        outcome: LedgerOutcome,
        error: Option<&str>,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        retry!(ledger::mark_processed(
            self.d, &self.db, svix_id, outcome, error, at
        ))
    }

    async fn ledger_get(&self, svix_id: &str) -> Result<Option<LedgerEntry>, StoreError> {
        let row = webhook_event::Entity::find_by_id(svix_id.to_owned())
            .one(&self.db)
            .await
            .map_err(map_db_err)?;
        row.map(convert::ledger_entry).transpose()
    }

    async fn ledger_prune(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let sql = format!(
            "DELETE FROM clerk_webhook_events WHERE {} < {}",
            self.d.time_col("received_at"),
            self.param(1)
        );
        let r = retry!(
            self.db
                .execute_raw(self.d.stmt(sql.clone(), vec![self.d.time_key(before)]))
        )?;
        Ok(r.rows_affected())
    }
}

#[async_trait]
impl OutboxStore for SeaOrmStore {
    async fn enqueue_local_change(
        &self,
        change: &LocalChange,
        now: OffsetDateTime,
    ) -> Result<EnqueuedChange, StoreError> {
        let d = self.d;
        let done = retry!(async {
            let txn = self.db.begin().await?;
            let out = outbox::enqueue(d, &txn, change, now).await?;
            if out.is_some() {
                txn.commit().await?;
            }
            Ok::<_, DbErr>(out)
        })?;
        let (user, outbox_id) = done.ok_or(not_found("user"))?;
        Ok(convert::enqueued_change(
            convert::local_user(user)?,
            outbox_id,
        ))
    }

    async fn claim_outbox(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let d = self.d;
        let rows = retry!(async {
            let txn = self.db.begin().await?;
            let rows = outbox::claim(d, &txn, worker, now, lease, limit).await?;
            txn.commit().await?;
            Ok::<_, DbErr>(rows)
        })?;
        rows.into_iter().map(convert::outbox_entry).collect()
    }

    async fn complete_outbox(
        &self,
        id: i64,
        clerk_id: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let d = self.d;
        retry!(async {
            let txn = self.db.begin().await?;
            let out = outbox::complete(d, &txn, id, clerk_id, now).await?;
            txn.commit().await?;
            Ok::<_, DbErr>(out)
        })?
        .ok_or(not_found("outbox entry"))
    }

    async fn fail_outbox(
        &self,
        id: i64,
        error: &str,
        next_attempt_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let d = self.d;
        retry!(async {
            let txn = self.db.begin().await?;
            let out = outbox::fail(d, &txn, id, error, next_attempt_at, now).await?;
            txn.commit().await?;
            Ok::<_, DbErr>(out)
        })?
        .ok_or(not_found("outbox entry"))
    }

    async fn give_up_outbox(
        &self,
        id: i64,
        error: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let d = self.d;
        retry!(async {
            let txn = self.db.begin().await?;
            let out = outbox::give_up(d, &txn, id, error, now).await?;
            txn.commit().await?;
            Ok::<_, DbErr>(out)
        })?
        .ok_or(not_found("outbox entry"))
    }

    async fn outbox_for_user(&self, user_id: i64) -> Result<Vec<OutboxEntry>, StoreError> {
        let rows = outbox::for_user(&self.db, user_id)
            .await
            .map_err(map_db_err)?;
        rows.into_iter().map(convert::outbox_entry).collect()
    }
}

#[async_trait]
impl LeaseStore for SeaOrmStore {
    async fn try_acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let d = self.d;
        let expires = self.d.tv(outbox::later(now, ttl));
        if d.is_mysql() {
            // `holder` first: the `expires_at` assignment then sees whether it was taken, and
            // with CLIENT_FOUND_ROWS the affected-row count cannot say, so the holder is read
            // back inside the same transaction (the row stays locked until commit).
            return retry!(async {
                let txn = self.db.begin().await?;
                txn.execute_raw(d.stmt(
                    "INSERT INTO clerk_sync_leases (name, holder, expires_at) VALUES (?, ?, ?) \
                     ON DUPLICATE KEY UPDATE \
                     holder = IF(holder = VALUES(holder) OR expires_at <= ?, VALUES(holder), holder), \
                     expires_at = IF(holder = VALUES(holder), VALUES(expires_at), expires_at)",
                    vec![
                        name.to_owned().into(),
                        holder.to_owned().into(),
                        expires.clone(),
                        self.d.tv(now),
                    ],
                ))
                .await?;
                let row = txn
                    .query_one_raw(d.stmt(
                        "SELECT holder FROM clerk_sync_leases WHERE name = ?",
                        vec![name.to_owned().into()],
                    ))
                    .await?;
                txn.commit().await?;
                let current: Option<String> = row.map(|r| r.try_get("", "holder")).transpose()?;
                Ok::<_, DbErr>(current.as_deref() == Some(holder))
            });
        }
        let sql = format!(
            "INSERT INTO clerk_sync_leases (name, holder, expires_at) VALUES ({}, {}, {}) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE clerk_sync_leases.holder = excluded.holder OR {} <= {}",
            d.p(1),
            d.p(2),
            d.p(3),
            d.time_col("clerk_sync_leases.expires_at"),
            d.p(4)
        );
        let values = vec![
            name.to_owned().into(),
            holder.to_owned().into(),
            expires,
            d.time_key(now),
        ];
        let r = retry!(self.db.execute_raw(d.stmt(sql.clone(), values.clone())))?;
        Ok(r.rows_affected() == 1)
    }

    async fn renew_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "UPDATE clerk_sync_leases SET expires_at = {} WHERE name = {} AND holder = {}",
            self.param(1),
            self.param(2),
            self.param(3)
        );
        let values = vec![
            self.d.tv(outbox::later(now, ttl)),
            name.to_owned().into(),
            holder.to_owned().into(),
        ];
        let r = retry!(
            self.db
                .execute_raw(self.d.stmt(sql.clone(), values.clone()))
        )?;
        Ok(r.rows_affected() > 0)
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        let sql = format!(
            "DELETE FROM clerk_sync_leases WHERE name = {} AND holder = {}",
            self.param(1),
            self.param(2)
        );
        let values = vec![name.to_owned().into(), holder.to_owned().into()];
        let r = retry!(
            self.db
                .execute_raw(self.d.stmt(sql.clone(), values.clone()))
        )?;
        Ok(r.rows_affected() > 0)
    }
}

#[async_trait]
impl RunLogStore for SeaOrmStore {
    async fn record_run(&self, run: &SyncRun) -> Result<i64, StoreError> {
        let d = self.d;
        let report = run.report.to_string();
        let json = if d.is_mysql() {
            "?".to_owned()
        } else {
            d.json_p(7)
        };
        let sql = format!(
            "INSERT INTO clerk_sync_runs (kind, triggered_by, started_at, finished_at, dry_run, \
             force_rewrite, report) VALUES ({}, {}, {}, {}, {}, {}, {json})",
            self.param(1),
            self.param(2),
            self.param(3),
            self.param(4),
            self.param(5),
            self.param(6),
        );
        let values = vec![
            run.kind.clone().into(),
            run.triggered_by.clone().into(),
            self.d.tv(run.started_at),
            self.d.tv(run.finished_at),
            run.dry_run.into(),
            run.force.into(),
            report.into(),
        ];
        if d.is_mysql() {
            let r = retry!(self.db.execute_raw(d.stmt(sql.clone(), values.clone())))?;
            return i64::try_from(r.last_insert_id()).map_err(|_| StoreError::InvalidData {
                what: "run id".to_owned(),
            });
        }
        let row = retry!(
            self.db
                .query_one_raw(d.stmt(format!("{sql} RETURNING id"), values.clone()))
        )?
        .ok_or_else(|| map_db_err(DbErr::UnpackInsertId))?;
        row.try_get("", "id").map_err(map_db_err)
    }

    async fn recent_runs(&self, limit: u32) -> Result<Vec<SyncRun>, StoreError> {
        let rows = sync_run::Entity::find()
            .order_by(Expr::cust(self.d.time_col("started_at")), Order::Desc)
            .order_by_desc(sync_run::Column::Id)
            .limit(u64::from(limit))
            .all(&self.db)
            .await
            .map_err(map_db_err)?;
        Ok(rows.into_iter().map(convert::sync_run).collect())
    }
}

#[async_trait]
impl SyncStore for SeaOrmStore {
    /// Ledger insert, apply and mark processed in one transaction: a crash leaves either all
    /// three or none. On sea-orm's own path a concurrent redelivery of the same `svix-id` waits
    /// on the ledger row and then sees it processed (as on clerk-sync-sqlx's SQLite path). On
    /// its MySQL procedure (a store opened with `connect` on MySQL/MariaDB), which writes the
    /// ledger row last, a simultaneous redelivery may instead be answered `Stale` or
    /// `AlreadyDeleted`: the version guard makes the repeat a no-op either way.
    async fn apply_inbound(
        &self,
        entry: &NewLedgerEntry<'_>,
        change: &InboundChange,
        now: OffsetDateTime,
    ) -> Result<InboundApplied, StoreError> {
        let metadata = match change {
            InboundChange::Upsert(record) => users::validate(record)?,
            InboundChange::Tombstone(_) | InboundChange::LedgerOnly => None,
            // A kind added to core after this store: the provided three-call path applies it
            // through `apply_change`, which knows it, at the cost of the single transaction.
            _ => {
                if let LedgerInsert::Exists { processed: true } = self.ledger_insert(entry).await? {
                    return Ok(InboundApplied::Duplicate);
                }
                let applied = clerk_sync_core::store::apply_change(self, change, now).await?;
                if let Some(outcome) = applied.ledger_outcome() {
                    self.ledger_mark_processed(entry.svix_id, outcome, None, now)
                        .await?;
                }
                return Ok(applied);
            }
        };
        if self.d.is_pg() {
            return self.apply_inbound_pg(entry, change, metadata, now).await;
        }
        if let Some(inbound) = &self.sqlx_inbound {
            return inbound.apply_inbound(entry, change, now).await;
        }
        retry!(self.apply_inbound_once(entry, change, metadata.clone(), now))
    }
}
