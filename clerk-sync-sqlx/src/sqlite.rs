//! SQLite: one writer at a time.
//!
//! SQLite allows a single writer per database, and a transaction that starts as a reader and
//! then writes can fail with `SQLITE_BUSY` without waiting. So every write here runs in
//! `BEGIN IMMEDIATE` (takes the write lock up front, waits up to the busy timeout) and, within
//! the process, behind one async mutex so writers queue in Tokio instead of spinning in
//! SQLite. Inside that transaction nothing else can write, which is what makes the short
//! "which case is this" reads next to the conditional writes safe.
//!
//! sqlx runs each SQLite connection on its own thread, and every statement is a round trip to
//! it: two context switches, which cost more than a small write. The inbound path, which runs
//! once per webhook, is therefore one multi-statement query with its own transaction, on a
//! connection the store keeps for writes (see `SqliteStore::run_write`): one round trip per
//! event where the statement-by-statement path took six.

mod group_commit;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use clerk_sync_core::store::{
    BatchOutcome, ClerkUserRecord, EnqueuedChange, InboundApplied, InboundChange, LedgerEntry,
    LedgerInsert, LedgerOutcome, LocalChange, LocalUser, NewLedgerEntry, OutboxEntry, StatusCounts,
    StoreError, SyncRun, Tombstone, TombstoneOutcome, UpsertOutcome, UserQuery, UserVersion,
};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Connection, Row, SqliteConnection, SqlitePool};
use time::OffsetDateTime;
use tokio::sync::{Mutex, MutexGuard};

use crate::error::map_sqlx;
use crate::model::{self, LedgerParts, OutboxParts, RunParts, UserParts};
use crate::time_fmt::{add, from_text, to_text};

/// Records per multi-row `VALUES` statement: 12 parameters each stays under SQLite's default
/// limit of 32766 bound parameters.
const BATCH_CHUNK: usize = 2_000;

macro_rules! user_cols {
    () => {
        "id, clerk_id, email, first_name, last_name, username, image_url, external_id, \
         public_metadata, raw_json, clerk_updated_at, sync_status, last_sync_attempt, sync_error, \
         deleted_at, created_at, updated_at"
    };
}

macro_rules! outbox_cols {
    () => {
        "id, user_id, operation, payload, attempts, next_attempt_at, claimed_by, claimed_until, \
         last_error, created_at"
    };
}

/// The overwrite of an existing row; SQLite evaluates every SET expression on the old row.
macro_rules! overwrite_set {
    () => {
        "email = excluded.email, first_name = excluded.first_name, \
         last_name = excluded.last_name, username = excluded.username, \
         image_url = excluded.image_url, external_id = excluded.external_id, \
         public_metadata = excluded.public_metadata, raw_json = excluded.raw_json, \
         clerk_updated_at = excluded.clerk_updated_at, \
         sync_status = CASE WHEN clerk_users.sync_status = 'pending' THEN 'pending' ELSE 'synced' END, \
         sync_error = CASE WHEN clerk_users.sync_status = 'pending' THEN clerk_users.sync_error END, \
         updated_at = excluded.updated_at"
    };
}

macro_rules! version_guard {
    () => {
        "(clerk_users.clerk_updated_at IS NULL \
          OR clerk_users.clerk_updated_at < excluded.clerk_updated_at) \
         AND clerk_users.deleted_at IS NULL"
    };
}

const UPSERT: &str = concat!(
    "INSERT INTO clerk_users (clerk_id, email, first_name, last_name, username, image_url, ",
    "external_id, public_metadata, raw_json, clerk_updated_at, sync_status, created_at, updated_at) ",
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'synced', $11, $11) ",
    "ON CONFLICT (clerk_id) DO UPDATE SET ",
    overwrite_set!(),
    " WHERE ",
    version_guard!()
);

/// Link the oldest live row with the verified email ($12) and no clerk id to $1, unless a row
/// already has $1. Params as in `UPSERT`, plus $12.
macro_rules! link_update {
    () => {
        concat!(
            "UPDATE clerk_users SET clerk_id = $1, email = $2, first_name = $3, last_name = $4, ",
            "username = $5, image_url = $6, external_id = $7, public_metadata = $8, raw_json = $9, ",
            "clerk_updated_at = $10, ",
            "sync_status = CASE WHEN sync_status = 'pending' THEN 'pending' ELSE 'synced' END, ",
            "sync_error = CASE WHEN sync_status = 'pending' THEN sync_error END, updated_at = $11 ",
            "WHERE id = (SELECT c.id FROM clerk_users c WHERE c.email = $12 AND c.clerk_id IS NULL ",
            "AND c.deleted_at IS NULL ORDER BY c.id LIMIT 1) ",
            "AND NOT EXISTS (SELECT 1 FROM clerk_users e WHERE e.clerk_id = $1)"
        )
    };
}

const LINK: &str = link_update!();

/// The tombstone's overwrite: profile fields erased, only where the row is not one already.
macro_rules! tombstone_set {
    () => {
        "deleted_at = excluded.deleted_at, \
         external_id = excluded.external_id, email = NULL, first_name = NULL, last_name = NULL, \
         username = NULL, image_url = NULL, public_metadata = NULL, raw_json = NULL, \
         clerk_updated_at = NULL, sync_status = 'synced', sync_error = NULL, \
         updated_at = excluded.updated_at WHERE clerk_users.deleted_at IS NULL"
    };
}

const TOMBSTONE: &str = concat!(
    "INSERT INTO clerk_users (clerk_id, external_id, deleted_at, sync_status, created_at, \
     updated_at) VALUES ($1, $2, $3, 'synced', $4, $4) ON CONFLICT (clerk_id) DO UPDATE SET ",
    tombstone_set!()
);

type SqliteQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>;

/// The statements of one write, bare (run inside a sqlx transaction) and wrapped in their own
/// `BEGIN IMMEDIATE; ...; COMMIT` (run on the held writer connection in one hop; see
/// `SqliteStore::run_write`).
struct WriteScript {
    bare: &'static str,
    wrapped: &'static str,
}

macro_rules! write_script {
    ($($part:expr),+ $(,)?) => {
        WriteScript {
            bare: concat!($($part),+),
            wrapped: concat!("BEGIN IMMEDIATE; ", $($part),+, "; COMMIT"),
        }
    };
}

/// What an inbound upsert will do to the row, as a label, read just before the write in the same
/// `BEGIN IMMEDIATE` transaction (nothing else can write in between): `linked`, `inserted`,
/// `updated`, `stale` or `deleted`. The cases mirror `LINK` and `UPSERT` exactly.
/// Params as in `INBOUND_UPSERT`.
macro_rules! upsert_label {
    () => {
        "(SELECT CASE \
           WHEN u.id IS NULL AND EXISTS (SELECT 1 FROM clerk_users c WHERE c.email = $12 \
             AND c.clerk_id IS NULL AND c.deleted_at IS NULL) THEN 'linked' \
           WHEN u.id IS NULL THEN 'inserted' \
           WHEN u.deleted_at IS NOT NULL THEN 'deleted' \
           WHEN u.clerk_updated_at IS NULL OR u.clerk_updated_at < $10 THEN 'updated' \
           ELSE 'stale' END \
         FROM (SELECT 1) LEFT JOIN clerk_users u ON u.clerk_id = $1)"
    };
}

/// The ledger row of an inbound event with its `$outcome`, not yet processed: a new row, or an
/// unprocessed one from an earlier delivery given the new outcome. A processed row (a
/// duplicate) is left alone.
macro_rules! ledger_open {
    ($svix:literal, $ty:literal, $obj:literal, $recv:literal, $payload:literal, $outcome:expr) => {
        concat!(
            "INSERT INTO clerk_webhook_events AS l (svix_id, event_type, object_id, ",
            "received_at, payload, outcome) SELECT ",
            $svix,
            ", ",
            $ty,
            ", ",
            $obj,
            ", ",
            $recv,
            ", ",
            $payload,
            ", ",
            $outcome,
            " WHERE true ON CONFLICT (svix_id) DO UPDATE SET outcome = excluded.outcome, ",
            "error = NULL WHERE l.processed_at IS NULL"
        )
    };
}

/// Whether this event is being processed now: its ledger row exists and is unprocessed, which
/// after `ledger_open!` means it was not a duplicate. The writes check it, so a duplicate
/// changes nothing.
macro_rules! processing {
    ($svix:literal) => {
        concat!(
            "EXISTS (SELECT 1 FROM clerk_webhook_events WHERE svix_id = ",
            $svix,
            " AND processed_at IS NULL)"
        )
    };
}

/// The last statement: the event's ledger row marked processed.
macro_rules! ledger_close {
    ($svix:literal, $now:literal) => {
        concat!(
            "UPDATE clerk_webhook_events SET processed_at = ",
            $now,
            " WHERE svix_id = ",
            $svix,
            " AND processed_at IS NULL"
        )
    };
}

/// `apply_inbound` for an upsert, one multi-statement write (see `SqliteStore::run_write`):
/// the state (dedupe flag and the label the write will earn, both read before anything is
/// written), the ledger row opened with its outcome, the link attempt and the conditional
/// upsert (both only while the event is being processed), and the ledger row closed.
/// Params $1..$12 as in `UPSERT`/`LINK` (with $12 the link email, NULL when linking does not
/// apply), $13 svix id, $14 event type, $15 object id, $16 received at, $17 payload.
const INBOUND_UPSERT: WriteScript = write_script!(
    "SELECT (SELECT processed_at IS NOT NULL FROM clerk_webhook_events WHERE svix_id = $13) ",
    "AS processed, ",
    upsert_label!(),
    " AS label; ",
    ledger_open!(
        "$13",
        "$14",
        "$15",
        "$16",
        "$17",
        concat!(
            "CASE WHEN ",
            upsert_label!(),
            " IN ('stale', 'deleted') THEN 'stale' ELSE 'applied' END"
        )
    ),
    "; ",
    link_update!(),
    " AND ",
    processing!("$13"),
    "; ",
    "INSERT INTO clerk_users (clerk_id, email, first_name, last_name, username, image_url, ",
    "external_id, public_metadata, raw_json, clerk_updated_at, sync_status, created_at, updated_at) ",
    "SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'synced', $11, $11 WHERE ",
    processing!("$13"),
    " ON CONFLICT (clerk_id) DO UPDATE SET ",
    overwrite_set!(),
    " WHERE ",
    version_guard!(),
    "; ",
    ledger_close!("$13", "$11")
);

/// `apply_inbound` for a tombstone, shaped like `INBOUND_UPSERT`. Params $1 clerk id,
/// $2 external id, $3 deleted at, $4 now, $5 svix id, $6 event type, $7 object id,
/// $8 received at, $9 payload.
const INBOUND_TOMBSTONE: WriteScript = write_script!(
    "SELECT (SELECT processed_at IS NOT NULL FROM clerk_webhook_events WHERE svix_id = $5) ",
    "AS processed, EXISTS (SELECT 1 FROM clerk_users WHERE clerk_id = $1 ",
    "AND deleted_at IS NOT NULL) AS already_deleted; ",
    ledger_open!(
        "$5",
        "$6",
        "$7",
        "$8",
        "$9",
        "CASE WHEN EXISTS (SELECT 1 FROM clerk_users WHERE clerk_id = $1 AND deleted_at IS NOT NULL) \
         THEN 'stale' ELSE 'applied' END"
    ),
    "; ",
    "INSERT INTO clerk_users (clerk_id, external_id, deleted_at, sync_status, created_at, ",
    "updated_at) SELECT $1, $2, $3, 'synced', $4, $4 WHERE ",
    processing!("$5"),
    " ON CONFLICT (clerk_id) DO UPDATE SET ",
    tombstone_set!(),
    "; ",
    ledger_close!("$5", "$4")
);

/// `apply_inbound` for an event that only needs its ledger row, written processed; a row
/// comes back unless the event was processed before. Params $1 svix id, $2 event type,
/// $3 object id, $4 received at, $5 payload, $6 now.
const INBOUND_LEDGER_ONLY: WriteScript = write_script!(
    "INSERT INTO clerk_webhook_events AS l (svix_id, event_type, object_id, received_at, ",
    "payload, processed_at, outcome) VALUES ($1, $2, $3, $4, $5, $6, 'ignored') ",
    "ON CONFLICT (svix_id) DO UPDATE SET processed_at = excluded.processed_at, ",
    "outcome = excluded.outcome, error = NULL WHERE l.processed_at IS NULL RETURNING 1"
);

/// The SQLite half of [`crate::SqlxStore`].
#[derive(Debug, Clone)]
pub(crate) struct SqliteStore {
    pool: SqlitePool,
    /// Every write queues here. Between writes it keeps the connection that runs write scripts
    /// (see `run_write`), detached from the pool.
    writer: Arc<Mutex<Option<SqliteConnection>>>,
    /// Whether the database is a file, so that a connection can be kept for `writer` (an
    /// in-memory database lives in its pool's connections and cannot spare one). Asked of the
    /// database on first use: `PRAGMA database_list` names no file for an in-memory one.
    file_backed: Arc<tokio::sync::OnceCell<bool>>,
    /// Inbound upserts waiting for the writer, run together (see `group_commit`).
    queue: group_commit::UpsertQueue,
}

/// A pool for [`crate::SqlxStore::connect`].
pub(crate) async fn connect(url: &str) -> Result<SqlitePool, StoreError> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(map_sqlx)?
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true);
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    let pool = if in_memory {
        // An in-memory database lives as long as one connection to it: keep exactly one, for
        // ever, or the data vanishes when the pool trims idle connections.
        SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
    } else {
        SqlitePoolOptions::new().max_connections(8)
    };
    pool.acquire_timeout(Duration::from_secs(30))
        .connect_with(options)
        .await
        .map_err(map_sqlx)
}

struct Txn<'a> {
    _guard: MutexGuard<'a, Option<SqliteConnection>>,
    tx: sqlx::Transaction<'static, sqlx::Sqlite>,
}

fn ts(row: &SqliteRow, col: &str) -> Result<OffsetDateTime, StoreError> {
    let s: String = row.try_get(col).map_err(map_sqlx)?;
    from_text(&s, col)
}

fn ts_opt(row: &SqliteRow, col: &str) -> Result<Option<OffsetDateTime>, StoreError> {
    let s: Option<String> = row.try_get(col).map_err(map_sqlx)?;
    s.map(|s| from_text(&s, col)).transpose()
}

fn json_col(row: &SqliteRow, col: &str) -> Result<Option<serde_json::Value>, StoreError> {
    model::json_text(row.try_get(col).map_err(map_sqlx)?, col)
}

fn user(row: &SqliteRow) -> Result<LocalUser, StoreError> {
    let status: String = row.try_get("sync_status").map_err(map_sqlx)?;
    UserParts {
        id: row.try_get("id").map_err(map_sqlx)?,
        clerk_id: row.try_get("clerk_id").map_err(map_sqlx)?,
        email: row.try_get("email").map_err(map_sqlx)?,
        first_name: row.try_get("first_name").map_err(map_sqlx)?,
        last_name: row.try_get("last_name").map_err(map_sqlx)?,
        username: row.try_get("username").map_err(map_sqlx)?,
        image_url: row.try_get("image_url").map_err(map_sqlx)?,
        external_id: row.try_get("external_id").map_err(map_sqlx)?,
        public_metadata: json_col(row, "public_metadata")?,
        raw_json: json_col(row, "raw_json")?,
        clerk_updated_at: row.try_get("clerk_updated_at").map_err(map_sqlx)?,
        sync_status: status.parse()?,
        last_sync_attempt: ts_opt(row, "last_sync_attempt")?,
        sync_error: row.try_get("sync_error").map_err(map_sqlx)?,
        deleted_at: ts_opt(row, "deleted_at")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
    }
    .build()
}

fn outbox_entry(row: &SqliteRow) -> Result<OutboxEntry, StoreError> {
    let operation: String = row.try_get("operation").map_err(map_sqlx)?;
    let payload = json_col(row, "payload")?.unwrap_or(serde_json::Value::Null);
    let attempts: i64 = row.try_get("attempts").map_err(map_sqlx)?;
    OutboxParts {
        id: row.try_get("id").map_err(map_sqlx)?,
        user_id: row.try_get("user_id").map_err(map_sqlx)?,
        operation: operation.parse()?,
        profile: model::profile_from_json(payload)?,
        attempts: u32::try_from(attempts).unwrap_or(0),
        next_attempt_at: ts(row, "next_attempt_at")?,
        claimed_by: row.try_get("claimed_by").map_err(map_sqlx)?,
        claimed_until: ts_opt(row, "claimed_until")?,
        last_error: row.try_get("last_error").map_err(map_sqlx)?,
        created_at: ts(row, "created_at")?,
    }
    .build()
}

async fn fetch_user(conn: &mut SqliteConnection, id: i64) -> Result<LocalUser, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        user_cols!(),
        " FROM clerk_users WHERE id = $1"
    ))
    .bind(id)
    .fetch_one(conn)
    .await
    .map_err(map_sqlx)?;
    user(&row)
}

/// `upsert_user`'s four rules, inside a write transaction.
async fn upsert_in(
    conn: &mut SqliteConnection,
    r: &ClerkUserRecord,
    now: &str,
) -> Result<UpsertOutcome, StoreError> {
    if let Some(link_email) = r.link_email.as_deref() {
        let linked = bind_upsert(sqlx::query(LINK), r, now)
            .bind(link_email)
            .execute(&mut *conn)
            .await
            .map_err(map_sqlx)?;
        if linked.rows_affected() == 1 {
            return Ok(UpsertOutcome::Linked);
        }
    }
    // Labels the outcome only; the write below decides by itself.
    let existing: Option<bool> =
        sqlx::query_scalar("SELECT deleted_at IS NOT NULL FROM clerk_users WHERE clerk_id = $1")
            .bind(&r.clerk_id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(map_sqlx)?;
    let written = bind_upsert(sqlx::query(UPSERT), r, now)
        .execute(&mut *conn)
        .await
        .map_err(map_sqlx)?
        .rows_affected();
    Ok(match (existing, written) {
        (None, _) => UpsertOutcome::Inserted,
        (Some(_), 1) => UpsertOutcome::Updated,
        (Some(true), _) => UpsertOutcome::Deleted,
        (Some(false), _) => UpsertOutcome::Stale,
    })
}

async fn tombstone_in(
    conn: &mut SqliteConnection,
    t: &Tombstone,
    now: &str,
) -> Result<TombstoneOutcome, StoreError> {
    let written = sqlx::query(TOMBSTONE)
        .bind(&t.clerk_id)
        .bind(t.external_id.as_deref())
        .bind(to_text(t.deleted_at))
        .bind(now)
        .execute(conn)
        .await
        .map_err(map_sqlx)?
        .rows_affected();
    Ok(if written == 1 {
        TombstoneOutcome::Deleted
    } else {
        TombstoneOutcome::AlreadyDeleted
    })
}

impl SqliteStore {
    pub(crate) fn new(pool: SqlitePool) -> Self {
        SqliteStore {
            pool,
            writer: Arc::new(Mutex::new(None)),
            file_backed: Arc::default(),
            queue: Arc::default(),
        }
    }

    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Whether writes go through a held writer connection: only on a file database.
    async fn holds_writer(&self) -> Result<bool, StoreError> {
        self.file_backed
            .get_or_try_init(|| async {
                let file: Option<String> =
                    sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(map_sqlx)?;
                Ok(file.is_some_and(|f| !f.is_empty()))
            })
            .await
            .copied()
    }

    async fn begin_write(&self) -> Result<Txn<'_>, StoreError> {
        let guard = self.writer.lock().await;
        let tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_sqlx)?;
        Ok(Txn { _guard: guard, tx })
    }

    /// Runs one write of several statements in one transaction and returns every row they
    /// return. Each statement sqlx runs is a round trip to the connection's worker thread,
    /// two context switches that cost more than the writes themselves, so the statements go
    /// as one multi-statement query, fetched to the end (a fetch that stopped at the first row
    /// would skip the statements after it).
    ///
    /// On a file database the query is `script.wrapped`, with its own `BEGIN IMMEDIATE` and
    /// `COMMIT`, on a connection held for writes between calls: one hop per write, and no
    /// pool round trip (sqlx pings a connection on its way back to the pool). sqlx does not
    /// know about that transaction, so while the query runs the connection is out of its slot:
    /// a write that fails or is cancelled part-way drops it, which closes it and rolls back,
    /// and the next write opens another. An in-memory database is its pool's only connection
    /// and cannot be spared, so there `script.bare` runs in a sqlx transaction on the pool.
    async fn run_write<'q>(
        &self,
        script: &WriteScript,
        bind: impl FnOnce(SqliteQuery<'q>) -> SqliteQuery<'q>,
    ) -> Result<Vec<SqliteRow>, StoreError> {
        if !self.holds_writer().await? {
            let mut w = self.begin_write().await?;
            let rows = bind(sqlx::query(script.bare))
                .fetch_all(&mut *w.tx)
                .await
                .map_err(map_sqlx)?;
            w.tx.commit().await.map_err(map_sqlx)?;
            return Ok(rows);
        }
        let mut slot = self.writer.lock().await;
        self.run_on_writer(&mut slot, bind(sqlx::query(script.wrapped)))
            .await
    }

    /// Runs `query`, which opens and commits its own transaction, on the held writer
    /// connection in `slot` (opening one if there is none), fetched to the end: a fetch that
    /// stopped early would skip the statements after the first row, COMMIT among them, and
    /// put the connection back inside a transaction. While the query runs the connection is
    /// out of the slot, so a query that fails or is cancelled part-way drops it, which closes
    /// it and rolls back.
    async fn run_on_writer(
        &self,
        slot: &mut Option<SqliteConnection>,
        query: SqliteQuery<'_>,
    ) -> Result<Vec<SqliteRow>, StoreError> {
        if self.pool.is_closed() {
            *slot = None;
            return Err(map_sqlx(sqlx::Error::PoolClosed));
        }
        let mut conn = match slot.take() {
            Some(conn) => conn,
            // Detached, so that `Pool::close` does not wait for it.
            None => self.pool.acquire().await.map_err(map_sqlx)?.detach(),
        };
        match query.fetch_all(&mut conn).await {
            Ok(rows) => {
                *slot = Some(conn);
                Ok(rows)
            }
            Err(e) => {
                // Closed before returning, so its transaction and write lock are gone when
                // the caller retries.
                let _ = conn.close().await;
                Err(map_sqlx(e))
            }
        }
    }

    /// An inbound upsert through the group commit (`group_commit`): queued, then run by
    /// whichever task holds the writer, together with every upsert queued by then.
    async fn upsert_grouped(
        &self,
        job: Arc<group_commit::QueuedUpsert>,
    ) -> Result<group_commit::UpsertState, StoreError> {
        group_commit::enqueue(&self.queue, Arc::clone(&job));
        let mut slot = self.writer.lock().await;
        if let Some(done) = job.take_result() {
            return done;
        }
        let jobs = group_commit::drain(&self.queue, &job);
        for batch in jobs.chunks(group_commit::MAX_BATCH) {
            match self
                .run_on_writer(&mut slot, group_commit::batch_query(batch))
                .await
            {
                Ok(rows) if rows.len() == batch.len() => {
                    for (queued, row) in batch.iter().zip(&rows) {
                        queued.set_result(group_commit::upsert_state(row));
                    }
                }
                Ok(rows) => {
                    for queued in batch {
                        queued.set_result(Err(StoreError::InvalidData {
                            what: format!(
                                "{} rows from a batch of {} inbound upserts",
                                rows.len(),
                                batch.len()
                            ),
                        }));
                    }
                }
                Err(e) if batch.len() == 1 => batch[0].set_result(Err(e)),
                // Nothing of the batch was committed: each event alone, for its own result.
                Err(_) => {
                    for queued in batch {
                        let result = self
                            .run_on_writer(
                                &mut slot,
                                group_commit::batch_query(std::slice::from_ref(queued)),
                            )
                            .await
                            .and_then(|rows| group_commit::first_upsert_state(&rows));
                        queued.set_result(result);
                    }
                }
            }
        }
        drop(slot);
        job.take_result().unwrap_or_else(|| {
            Err(StoreError::InvalidData {
                what: "an inbound upsert left without a result".to_owned(),
            })
        })
    }

    /// Close the pool, then the held writer connection. In that order, writes still queued
    /// for the writer fail with "pool closed" when their turn comes instead of running first.
    pub(crate) async fn close(&self) {
        self.pool.close().await;
        let held = self.writer.lock().await.take();
        if let Some(conn) = held {
            let _ = conn.close().await;
        }
    }

    pub(crate) async fn get_user(&self, clerk_id: &str) -> Result<Option<LocalUser>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_cols!(),
            " FROM clerk_users WHERE clerk_id = $1"
        ))
        .bind(clerk_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_sqlx)?;
        row.as_ref().map(user).transpose()
    }

    pub(crate) async fn get_user_by_id(&self, id: i64) -> Result<Option<LocalUser>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_cols!(),
            " FROM clerk_users WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_sqlx)?;
        row.as_ref().map(user).transpose()
    }

    pub(crate) async fn find_users_by_email(
        &self,
        email: &str,
    ) -> Result<Vec<LocalUser>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            user_cols!(),
            " FROM clerk_users WHERE email = $1 ORDER BY id"
        ))
        .bind(email)
        .fetch_all(&self.pool)
        .await
        .map_err(map_sqlx)?;
        rows.iter().map(user).collect()
    }

    pub(crate) async fn list_users(&self, query: &UserQuery) -> Result<Vec<LocalUser>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            user_cols!(),
            " FROM clerk_users WHERE ($1 IS NULL OR sync_status = $1) ",
            "AND ($2 IS NULL OR id > $2) AND ($3 OR deleted_at IS NULL) ",
            "ORDER BY id LIMIT $4"
        ))
        .bind(query.sync_status.map(|s| s.as_str()))
        .bind(query.after_id)
        .bind(query.include_deleted)
        .bind(i64::from(query.limit.min(crate::store::MAX_PAGE)))
        .fetch_all(&self.pool)
        .await
        .map_err(map_sqlx)?;
        rows.iter().map(user).collect()
    }

    pub(crate) async fn upsert_user(
        &self,
        record: &ClerkUserRecord,
        now: OffsetDateTime,
    ) -> Result<UpsertOutcome, StoreError> {
        let mut w = self.begin_write().await?;
        let outcome = upsert_in(&mut w.tx, record, &to_text(now)).await?;
        w.tx.commit().await.map_err(map_sqlx)?;
        Ok(outcome)
    }

    pub(crate) async fn apply_batch(
        &self,
        records: &[ClerkUserRecord],
        now: OffsetDateTime,
    ) -> Result<BatchOutcome, StoreError> {
        let now = to_text(now);
        let mut outcome = BatchOutcome::default();
        let plan = crate::store::BatchPlan::new(records);
        outcome.unchanged += plan.superseded;
        let mut bulk = Vec::with_capacity(plan.records.len());
        {
            let mut w = self.begin_write().await?;
            for r in plan.records {
                // Linking needs the single-row path; only records that can link take it.
                if r.link_email.is_some() {
                    crate::store::count(&mut outcome, upsert_in(&mut w.tx, r, &now).await?);
                } else {
                    bulk.push(r);
                }
            }
            w.tx.commit().await.map_err(map_sqlx)?;
        }
        for chunk in bulk.chunks(BATCH_CHUNK) {
            let mut w = self.begin_write().await?;
            // Which ids exist decides inserted vs updated; nothing else writes meanwhile.
            // Anonymous `?` parameters: SQLite finds a numbered parameter's name by a linear
            // scan, which makes binding thousands of `$N` quadratic.
            let exists_sql = format!(
                "SELECT COUNT(*) FROM clerk_users WHERE clerk_id IN ({})",
                vec!["?"; chunk.len()].join(", ")
            );
            let mut q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(exists_sql));
            for r in chunk {
                q = q.bind(r.clerk_id.as_str());
            }
            let existing = q.fetch_one(&mut *w.tx).await.map_err(map_sqlx)? as u64;

            let sql = format!(
                "INSERT INTO clerk_users (clerk_id, email, first_name, last_name, username, \
                 image_url, external_id, public_metadata, raw_json, clerk_updated_at, \
                 sync_status, created_at, updated_at) VALUES {} \
                 ON CONFLICT (clerk_id) DO UPDATE SET {} WHERE {}",
                vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'synced', ?, ?)"; chunk.len()].join(", "),
                overwrite_set!(),
                version_guard!()
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for r in chunk {
                // `bind_upsert`'s eleven, then `now` again for `updated_at`.
                q = bind_upsert(q, r, now.as_str()).bind(now.as_str());
            }
            let written = q
                .execute(&mut *w.tx)
                .await
                .map_err(map_sqlx)?
                .rows_affected();
            w.tx.commit().await.map_err(map_sqlx)?;
            let inserted = chunk.len() as u64 - existing;
            let updated = written.saturating_sub(inserted);
            outcome.inserted += inserted;
            outcome.updated += updated;
            outcome.unchanged += chunk.len() as u64 - inserted - updated;
        }
        Ok(outcome)
    }

    pub(crate) async fn tombstone_user(
        &self,
        t: &Tombstone,
        now: OffsetDateTime,
    ) -> Result<TombstoneOutcome, StoreError> {
        let mut w = self.begin_write().await?;
        let outcome = tombstone_in(&mut w.tx, t, &to_text(now)).await?;
        w.tx.commit().await.map_err(map_sqlx)?;
        Ok(outcome)
    }

    pub(crate) async fn link_clerk_id(
        &self,
        id: i64,
        clerk_id: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut w = self.begin_write().await?;
        let res = sqlx::query(
            "UPDATE clerk_users SET clerk_id = $2, updated_at = $3 \
             WHERE id = $1 AND clerk_id IS NULL AND deleted_at IS NULL \
             AND NOT EXISTS (SELECT 1 FROM clerk_users e WHERE e.clerk_id = $2)",
        )
        .bind(id)
        .bind(clerk_id)
        .bind(to_text(now))
        .execute(&mut *w.tx)
        .await
        .map_err(map_sqlx)?;
        w.tx.commit().await.map_err(map_sqlx)?;
        Ok(res.rows_affected() == 1)
    }

    pub(crate) async fn scan_versions(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<UserVersion>, StoreError> {
        let rows: Vec<(String, Option<i64>, bool)> = sqlx::query_as(
            "SELECT clerk_id, clerk_updated_at, deleted_at IS NOT NULL FROM clerk_users \
             WHERE clerk_id IS NOT NULL AND ($1 IS NULL OR clerk_id > $1) \
             ORDER BY clerk_id LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(map_sqlx)?;
        rows.into_iter()
            .map(|(id, v, d)| model::user_version(id, v, d))
            .collect()
    }

    pub(crate) async fn count_by_status(&self) -> Result<StatusCounts, StoreError> {
        let (synced, pending, failed, deleted): (i64, i64, i64, i64) =
            sqlx::query_as(crate::store::COUNT_BY_STATUS)
                .fetch_one(&self.pool)
                .await
                .map_err(map_sqlx)?;
        Ok(crate::store::status_counts(
            synced, pending, failed, deleted,
        ))
    }

    pub(crate) async fn record_sync_error(
        &self,
        clerk_id: &str,
        error: &str,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut w = self.begin_write().await?;
        let at = to_text(at);
        let res = sqlx::query(
            "UPDATE clerk_users SET sync_status = 'failed', sync_error = $2, \
             last_sync_attempt = $3, updated_at = $3 WHERE clerk_id = $1",
        )
        .bind(clerk_id)
        .bind(error)
        .bind(&at)
        .execute(&mut *w.tx)
        .await
        .map_err(map_sqlx)?;
        w.tx.commit().await.map_err(map_sqlx)?;
        Ok(res.rows_affected() > 0)
    }

    // ----- ledger -----

    pub(crate) async fn ledger_insert(
        &self,
        e: &NewLedgerEntry<'_>,
    ) -> Result<LedgerInsert, StoreError> {
        let mut w = self.begin_write().await?;
        let inserted = insert_ledger(&mut w.tx, e).await?;
        let result = if inserted {
            LedgerInsert::Inserted
        } else {
            LedgerInsert::Exists {
                processed: ledger_processed(&mut w.tx, e.svix_id)
                    .await?
                    .unwrap_or(false),
            }
        };
        w.tx.commit().await.map_err(map_sqlx)?;
        Ok(result)
    }

    pub(crate) async fn ledger_mark_processed(
        &self,
        svix_id: &str,
        outcome: LedgerOutcome,
        error: Option<&str>,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut w = self.begin_write().await?;
        let res = sqlx::query(
            "UPDATE clerk_webhook_events SET processed_at = $2, outcome = $3, error = $4 \
             WHERE svix_id = $1",
        )
        .bind(svix_id)
        .bind(to_text(at))
        .bind(outcome.as_str())
        .bind(error)
        .execute(&mut *w.tx)
        .await
        .map_err(map_sqlx)?;
        w.tx.commit().await.map_err(map_sqlx)?;
        crate::store::found(res.rows_affected(), "ledger entry")
    }

    pub(crate) async fn ledger_get(
        &self,
        svix_id: &str,
    ) -> Result<Option<LedgerEntry>, StoreError> {
        let row = sqlx::query(
            "SELECT svix_id, event_type, object_id, received_at, processed_at, outcome, error, \
             payload FROM clerk_webhook_events WHERE svix_id = $1",
        )
        .bind(svix_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_sqlx)?;
        let Some(row) = row else { return Ok(None) };
        let outcome: Option<String> = row.try_get("outcome").map_err(map_sqlx)?;
        LedgerParts {
            svix_id: row.try_get("svix_id").map_err(map_sqlx)?,
            event_type: row.try_get("event_type").map_err(map_sqlx)?,
            object_id: row.try_get("object_id").map_err(map_sqlx)?,
            received_at: ts(&row, "received_at")?,
            processed_at: ts_opt(&row, "processed_at")?,
            outcome: outcome.map(|o| o.parse()).transpose()?,
            error: row.try_get("error").map_err(map_sqlx)?,
            payload: row.try_get("payload").map_err(map_sqlx)?,
        }
        .build()
        .map(Some)
    }

    pub(crate) async fn ledger_prune(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let mut w = self.begin_write().await?;
        let res = sqlx::query("DELETE FROM clerk_webhook_events WHERE received_at < $1")
            .bind(to_text(before))
            .execute(&mut *w.tx)
            .await
            .map_err(map_sqlx)?;
        w.tx.commit().await.map_err(map_sqlx)?;
        Ok(res.rows_affected())
    }

    // ----- outbox -----

    pub(crate) async fn enqueue_local_change(
        &self,
        change: &LocalChange,
        now: OffsetDateTime,
    ) -> Result<EnqueuedChange, StoreError> {
        let now = to_text(now);
        let op = change.operation().as_str();
        let mut w = self.begin_write().await?;
        let (user_id, payload) = match change {
            LocalChange::Create(p) | LocalChange::Invite(p) => {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO clerk_users (email, first_name, last_name, username, \
                     external_id, public_metadata, sync_status, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $7) RETURNING id",
                )
                .bind(p.email.as_deref())
                .bind(p.first_name.as_deref())
                .bind(p.last_name.as_deref())
                .bind(p.username.as_deref())
                .bind(p.external_id.as_deref())
                .bind(p.public_metadata.as_ref().map(|m| m.to_string()))
                .bind(&now)
                .fetch_one(&mut *w.tx)
                .await
                .map_err(map_sqlx)?;
                (id, model::profile_json(p))
            }
            LocalChange::Update {
                user_id,
                profile: p,
            } => {
                let res = sqlx::query(
                    "UPDATE clerk_users SET email = COALESCE($2, email), \
                     first_name = COALESCE($3, first_name), last_name = COALESCE($4, last_name), \
                     username = COALESCE($5, username), external_id = COALESCE($6, external_id), \
                     public_metadata = COALESCE($7, public_metadata), sync_status = 'pending', \
                     updated_at = $8 WHERE id = $1 AND deleted_at IS NULL",
                )
                .bind(user_id)
                .bind(p.email.as_deref())
                .bind(p.first_name.as_deref())
                .bind(p.last_name.as_deref())
                .bind(p.username.as_deref())
                .bind(p.external_id.as_deref())
                .bind(p.public_metadata.as_ref().map(|m| m.to_string()))
                .bind(&now)
                .execute(&mut *w.tx)
                .await
                .map_err(map_sqlx)?;
                crate::store::found(res.rows_affected(), "user")?;
                (*user_id, model::profile_json(p))
            }
            LocalChange::Delete { user_id } => {
                let res = sqlx::query(
                    "UPDATE clerk_users SET sync_status = 'pending', updated_at = $2 \
                     WHERE id = $1 AND deleted_at IS NULL",
                )
                .bind(user_id)
                .bind(&now)
                .execute(&mut *w.tx)
                .await
                .map_err(map_sqlx)?;
                crate::store::found(res.rows_affected(), "user")?;
                (*user_id, "{}".to_owned())
            }
            _ => return Err(crate::store::unsupported_change()),
        };
        let outbox_id: i64 = sqlx::query_scalar(
            "INSERT INTO clerk_sync_outbox (user_id, operation, payload, attempts, \
             next_attempt_at, created_at) VALUES ($1, $2, $3, 0, $4, $4) RETURNING id",
        )
        .bind(user_id)
        .bind(op)
        .bind(payload)
        .bind(&now)
        .fetch_one(&mut *w.tx)
        .await
        .map_err(map_sqlx)?;
        let user = fetch_user(&mut w.tx, user_id).await?;
        w.tx.commit().await.map_err(map_sqlx)?;
        model::enqueued(user, outbox_id)
    }

    pub(crate) async fn claim_outbox(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let until = to_text(add(now, lease));
        let now = to_text(now);
        // The write lock is the claim's exclusion: no second claimer runs until this commits.
        let mut w = self.begin_write().await?;
        let rows = sqlx::query(concat!(
            "UPDATE clerk_sync_outbox SET claimed_by = $3, claimed_until = $4, ",
            "attempts = attempts + 1 WHERE id IN (SELECT o.id FROM clerk_sync_outbox o ",
            "WHERE o.next_attempt_at <= $1 AND (o.claimed_until IS NULL OR o.claimed_until <= $1) ",
            "AND NOT EXISTS (SELECT 1 FROM clerk_sync_outbox p WHERE p.user_id = o.user_id AND p.id < o.id) ",
            "ORDER BY o.id LIMIT $2) RETURNING ",
            outbox_cols!()
        ))
        .bind(&now)
        .bind(i64::from(limit))
        .bind(worker)
        .bind(&until)
        .fetch_all(&mut *w.tx)
        .await
        .map_err(map_sqlx)?;
        w.tx.commit().await.map_err(map_sqlx)?;
        let mut entries = rows
            .iter()
            .map(outbox_entry)
            .collect::<Result<Vec<_>, _>>()?;
        entries.sort_by_key(|e| e.id);
        Ok(entries)
    }

    pub(crate) async fn complete_outbox(
        &self,
        id: i64,
        clerk_id: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut w = self.begin_write().await?;
        let user_id: Option<i64> =
            sqlx::query_scalar("DELETE FROM clerk_sync_outbox WHERE id = $1 RETURNING user_id")
                .bind(id)
                .fetch_optional(&mut *w.tx)
                .await
                .map_err(map_sqlx)?;
        let Some(user_id) = user_id else {
            return Err(StoreError::NotFound {
                what: "outbox entry",
            });
        };
        sqlx::query(
            "UPDATE clerk_users SET \
             clerk_id = CASE WHEN clerk_id IS NULL AND $2 IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM clerk_users e WHERE e.clerk_id = $2) \
             THEN $2 ELSE clerk_id END, \
             last_sync_attempt = $3, sync_error = NULL, updated_at = $3, \
             sync_status = CASE WHEN EXISTS (SELECT 1 FROM clerk_sync_outbox r \
             WHERE r.user_id = clerk_users.id) THEN sync_status ELSE 'synced' END \
             WHERE id = $1",
        )
        .bind(user_id)
        .bind(clerk_id)
        .bind(to_text(now))
        .execute(&mut *w.tx)
        .await
        .map_err(map_sqlx)?;
        w.tx.commit().await.map_err(map_sqlx)
    }

    pub(crate) async fn fail_outbox(
        &self,
        id: i64,
        error: &str,
        next_attempt_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut w = self.begin_write().await?;
        let user_id: Option<i64> = sqlx::query_scalar(
            "UPDATE clerk_sync_outbox SET claimed_by = NULL, claimed_until = NULL, \
             next_attempt_at = $3, last_error = $2 WHERE id = $1 RETURNING user_id",
        )
        .bind(id)
        .bind(error)
        .bind(to_text(next_attempt_at))
        .fetch_optional(&mut *w.tx)
        .await
        .map_err(map_sqlx)?;
        let Some(user_id) = user_id else {
            return Err(StoreError::NotFound {
                what: "outbox entry",
            });
        };
        sqlx::query(
            "UPDATE clerk_users SET sync_error = $2, last_sync_attempt = $3, updated_at = $3 \
             WHERE id = $1",
        )
        .bind(user_id)
        .bind(error)
        .bind(to_text(now))
        .execute(&mut *w.tx)
        .await
        .map_err(map_sqlx)?;
        w.tx.commit().await.map_err(map_sqlx)
    }

    pub(crate) async fn give_up_outbox(
        &self,
        id: i64,
        error: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut w = self.begin_write().await?;
        let user_id: Option<i64> =
            sqlx::query_scalar("DELETE FROM clerk_sync_outbox WHERE id = $1 RETURNING user_id")
                .bind(id)
                .fetch_optional(&mut *w.tx)
                .await
                .map_err(map_sqlx)?;
        let Some(user_id) = user_id else {
            return Err(StoreError::NotFound {
                what: "outbox entry",
            });
        };
        sqlx::query(
            "UPDATE clerk_users SET sync_status = 'failed', sync_error = $2, \
             last_sync_attempt = $3, updated_at = $3 WHERE id = $1",
        )
        .bind(user_id)
        .bind(error)
        .bind(to_text(now))
        .execute(&mut *w.tx)
        .await
        .map_err(map_sqlx)?;
        w.tx.commit().await.map_err(map_sqlx)
    }

    pub(crate) async fn outbox_for_user(
        &self,
        user_id: i64,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            outbox_cols!(),
            " FROM clerk_sync_outbox WHERE user_id = $1 ORDER BY id"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(map_sqlx)?;
        rows.iter().map(outbox_entry).collect()
    }

    // ----- leases -----

    pub(crate) async fn try_acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut w = self.begin_write().await?;
        let res = sqlx::query(
            "INSERT INTO clerk_sync_leases (name, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
             expires_at = excluded.expires_at \
             WHERE clerk_sync_leases.expires_at <= $4 OR clerk_sync_leases.holder = excluded.holder",
        )
        .bind(name)
        .bind(holder)
        .bind(to_text(add(now, ttl)))
        .bind(to_text(now))
        .execute(&mut *w.tx)
        .await
        .map_err(map_sqlx)?;
        w.tx.commit().await.map_err(map_sqlx)?;
        Ok(res.rows_affected() == 1)
    }

    pub(crate) async fn renew_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut w = self.begin_write().await?;
        let res = sqlx::query(
            "UPDATE clerk_sync_leases SET expires_at = $3 WHERE name = $1 AND holder = $2",
        )
        .bind(name)
        .bind(holder)
        .bind(to_text(add(now, ttl)))
        .execute(&mut *w.tx)
        .await
        .map_err(map_sqlx)?;
        w.tx.commit().await.map_err(map_sqlx)?;
        Ok(res.rows_affected() == 1)
    }

    pub(crate) async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        let mut w = self.begin_write().await?;
        let res = sqlx::query("DELETE FROM clerk_sync_leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&mut *w.tx)
            .await
            .map_err(map_sqlx)?;
        w.tx.commit().await.map_err(map_sqlx)?;
        Ok(res.rows_affected() == 1)
    }

    // ----- run log -----

    pub(crate) async fn record_run(&self, run: &SyncRun) -> Result<i64, StoreError> {
        let mut w = self.begin_write().await?;
        let id = sqlx::query_scalar(
            "INSERT INTO clerk_sync_runs (kind, triggered_by, started_at, finished_at, dry_run, \
             force_rewrite, report) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(&run.kind)
        .bind(&run.triggered_by)
        .bind(to_text(run.started_at))
        .bind(to_text(run.finished_at))
        .bind(run.dry_run)
        .bind(run.force)
        .bind(run.report.to_string())
        .fetch_one(&mut *w.tx)
        .await
        .map_err(map_sqlx)?;
        w.tx.commit().await.map_err(map_sqlx)?;
        Ok(id)
    }

    pub(crate) async fn recent_runs(&self, limit: u32) -> Result<Vec<SyncRun>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, kind, triggered_by, started_at, finished_at, dry_run, force_rewrite, \
             report FROM clerk_sync_runs ORDER BY started_at DESC, id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(map_sqlx)?;
        rows.iter()
            .map(|row| {
                RunParts {
                    id: row.try_get("id").map_err(map_sqlx)?,
                    kind: row.try_get("kind").map_err(map_sqlx)?,
                    triggered_by: row.try_get("triggered_by").map_err(map_sqlx)?,
                    started_at: ts(row, "started_at")?,
                    finished_at: ts(row, "finished_at")?,
                    dry_run: row.try_get("dry_run").map_err(map_sqlx)?,
                    force: row.try_get("force_rewrite").map_err(map_sqlx)?,
                    report: json_col(row, "report")?.unwrap_or(serde_json::Value::Null),
                }
                .build()
            })
            .collect()
    }

    // ----- inbound -----

    pub(crate) async fn apply_inbound(
        &self,
        e: &NewLedgerEntry<'_>,
        change: &InboundChange,
        now: OffsetDateTime,
    ) -> Result<Option<InboundApplied>, StoreError> {
        let now = to_text(now);
        let received = to_text(e.received_at);
        let rows = match change {
            InboundChange::Upsert(r) => {
                let job = Arc::new(group_commit::QueuedUpsert::new(e, r, received, now));
                let state = if self.holds_writer().await? {
                    self.upsert_grouped(job).await?
                } else {
                    let rows = self.run_write(&INBOUND_UPSERT, |q| job.bind(q)).await?;
                    group_commit::first_upsert_state(&rows)?
                };
                return upsert_applied(state.processed, &state.label).map(Some);
            }
            InboundChange::Tombstone(t) => {
                self.run_write(&INBOUND_TOMBSTONE, |q| {
                    q.bind(t.clerk_id.as_str())
                        .bind(t.external_id.as_deref())
                        .bind(to_text(t.deleted_at))
                        .bind(now.as_str())
                        .bind(e.svix_id)
                        .bind(e.event_type)
                        .bind(e.object_id)
                        .bind(received.as_str())
                        .bind(e.payload)
                })
                .await?
            }
            InboundChange::LedgerOnly => {
                self.run_write(&INBOUND_LEDGER_ONLY, |q| {
                    q.bind(e.svix_id)
                        .bind(e.event_type)
                        .bind(e.object_id)
                        .bind(received.as_str())
                        .bind(e.payload)
                        .bind(now.as_str())
                })
                .await?
            }
            // A change kind newer than this crate: the caller runs the trait's steps.
            _ => return Ok(None),
        };
        let Some(row) = rows.first() else {
            // Only the ledger-only query returns nothing, when the event was processed before.
            return Ok(Some(InboundApplied::Duplicate));
        };
        if let InboundChange::LedgerOnly = change {
            return Ok(Some(InboundApplied::LedgerOnly));
        }
        // A tombstone: upserts returned above.
        let processed: Option<bool> = row.try_get(0).map_err(map_sqlx)?;
        let already: bool = row.try_get(1).map_err(map_sqlx)?;
        Ok(Some(match (processed, already) {
            (Some(true), _) => InboundApplied::Duplicate,
            (_, true) => InboundApplied::Tombstone(TombstoneOutcome::AlreadyDeleted),
            (_, false) => InboundApplied::Tombstone(TombstoneOutcome::Deleted),
        }))
    }
}

/// An inbound upsert's result from its first statement's row: whether the event was processed
/// before, and the label of what the write did.
fn upsert_applied(processed: Option<bool>, label: &str) -> Result<InboundApplied, StoreError> {
    if processed == Some(true) {
        return Ok(InboundApplied::Duplicate);
    }
    Ok(InboundApplied::Upsert(match label {
        "linked" => UpsertOutcome::Linked,
        "inserted" => UpsertOutcome::Inserted,
        "updated" => UpsertOutcome::Updated,
        "deleted" => UpsertOutcome::Deleted,
        "stale" => UpsertOutcome::Stale,
        _ => {
            return Err(StoreError::InvalidData {
                what: format!("inbound upsert label {label:?}"),
            });
        }
    }))
}

/// Binds $1..$11 of `UPSERT` / `LINK`: the record's fields and `now`.
fn bind_upsert<'q>(q: SqliteQuery<'q>, r: &'q ClerkUserRecord, now: &'q str) -> SqliteQuery<'q> {
    q.bind(r.clerk_id.as_str())
        .bind(r.email.as_deref())
        .bind(r.first_name.as_deref())
        .bind(r.last_name.as_deref())
        .bind(r.username.as_deref())
        .bind(r.image_url.as_deref())
        .bind(r.external_id.as_deref())
        .bind(r.public_metadata.as_ref().map(|m| m.to_string()))
        .bind(r.raw_json.as_str())
        .bind(r.clerk_updated_at)
        .bind(now)
}

async fn insert_ledger(
    conn: &mut SqliteConnection,
    e: &NewLedgerEntry<'_>,
) -> Result<bool, StoreError> {
    let res = sqlx::query(
        "INSERT INTO clerk_webhook_events (svix_id, event_type, object_id, received_at, payload) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (svix_id) DO NOTHING",
    )
    .bind(e.svix_id)
    .bind(e.event_type)
    .bind(e.object_id)
    .bind(to_text(e.received_at))
    .bind(e.payload)
    .execute(conn)
    .await
    .map_err(map_sqlx)?;
    Ok(res.rows_affected() == 1)
}

async fn ledger_processed(
    conn: &mut SqliteConnection,
    svix_id: &str,
) -> Result<Option<bool>, StoreError> {
    sqlx::query_scalar(
        "SELECT processed_at IS NOT NULL FROM clerk_webhook_events WHERE svix_id = $1",
    )
    .bind(svix_id)
    .fetch_optional(conn)
    .await
    .map_err(map_sqlx)
}
