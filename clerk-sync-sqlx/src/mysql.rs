//! MySQL and MariaDB.
//!
//! Two dialect facts shape this module:
//! - `INSERT ... ON DUPLICATE KEY UPDATE` assigns columns left to right and later assignments
//!   see earlier ones, so every guarded assignment tests columns that are not yet reassigned
//!   (the version column, which the guard reads, is assigned last).
//! - sqlx connects with `CLIENT_FOUND_ROWS`, so "affected rows" of an upsert is 1 for an insert,
//!   2 for a changed row and 1 (not 0) for an untouched one. An insert is told apart by the
//!   statement's insert id: MySQL reports one only when the statement inserted a row.
//!
//! Transactions run in `READ COMMITTED`: under `REPEATABLE READ`, InnoDB's gap locks make
//! concurrent upserts of neighbouring keys deadlock for no benefit here, since every write is
//! guarded by its own condition.

mod group_commit;

use std::sync::Arc;
use std::time::Duration;

use clerk_sync_core::store::{
    BatchOutcome, ClerkUserRecord, EnqueuedChange, InboundApplied, InboundChange, LedgerEntry,
    LedgerInsert, LedgerOutcome, LocalChange, LocalUser, NewLedgerEntry, OutboxEntry, StatusCounts,
    StoreError, SyncRun, Tombstone, TombstoneOutcome, UpsertOutcome, UserQuery, UserVersion,
};
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions, MySqlRow};
use sqlx::{Executor, MySqlConnection, MySqlPool, Row};
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

use crate::error::{map_sqlx, retry_conflicts};
use crate::model::{self, LedgerParts, OutboxParts, RunParts, UserParts};
use crate::time_fmt::{add, micros};

/// Records per multi-row `VALUES` statement.
const BATCH_CHUNK: usize = 2_000;

const BEGIN: &str = "SET TRANSACTION ISOLATION LEVEL READ COMMITTED; START TRANSACTION";

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

/// The guard, on the stored row's still-unassigned columns.
macro_rules! g {
    () => {
        "(deleted_at IS NULL AND (clerk_updated_at IS NULL OR clerk_updated_at < VALUES(clerk_updated_at)))"
    };
}

macro_rules! guarded_overwrite {
    () => {
        concat!(
            "email = IF(",
            g!(),
            ", VALUES(email), email), ",
            "first_name = IF(",
            g!(),
            ", VALUES(first_name), first_name), ",
            "last_name = IF(",
            g!(),
            ", VALUES(last_name), last_name), ",
            "username = IF(",
            g!(),
            ", VALUES(username), username), ",
            "image_url = IF(",
            g!(),
            ", VALUES(image_url), image_url), ",
            "external_id = IF(",
            g!(),
            ", VALUES(external_id), external_id), ",
            "public_metadata = IF(",
            g!(),
            ", VALUES(public_metadata), public_metadata), ",
            "raw_json = IF(",
            g!(),
            ", VALUES(raw_json), raw_json), ",
            // sync_error reads sync_status before it is reassigned; pending stays pending.
            "sync_error = IF(",
            g!(),
            " AND sync_status <> 'pending', NULL, sync_error), ",
            "sync_status = IF(",
            g!(),
            " AND sync_status <> 'pending', 'synced', sync_status), ",
            "updated_at = IF(",
            g!(),
            ", VALUES(updated_at), updated_at), ",
            "clerk_updated_at = IF(",
            g!(),
            ", VALUES(clerk_updated_at), clerk_updated_at)"
        )
    };
}

/// The guarded assignments of an upsert's duplicate-key branch, for the multi-row upserts of
/// group commit.
const GUARDED_OVERWRITE: &str = guarded_overwrite!();

const UPSERT: &str = concat!(
    "INSERT INTO clerk_users (clerk_id, email, first_name, last_name, username, image_url, ",
    "external_id, public_metadata, raw_json, clerk_updated_at, sync_status, created_at, updated_at) ",
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'synced', ?, ?) ON DUPLICATE KEY UPDATE ",
    guarded_overwrite!()
);

/// Step 1 of `upsert_user`. MySQL cannot read the updated table in a subquery, so "no row has
/// this clerk id yet" is left to the unique constraint: the statement fails with a duplicate
/// key if one does, and only that statement is rolled back.
const LINK: &str = "UPDATE clerk_users SET clerk_id = ?, email = ?, first_name = ?, \
     last_name = ?, username = ?, image_url = ?, external_id = ?, public_metadata = ?, \
     raw_json = ?, clerk_updated_at = ?, \
     sync_error = IF(sync_status = 'pending', sync_error, NULL), \
     sync_status = IF(sync_status = 'pending', 'pending', 'synced'), updated_at = ? \
     WHERE email = ? AND clerk_id IS NULL AND deleted_at IS NULL ORDER BY id LIMIT 1";

/// `deleted_at` is assigned last: every other assignment tests it.
const TOMBSTONE: &str = "INSERT INTO clerk_users (clerk_id, external_id, deleted_at, sync_status, \
     created_at, updated_at) VALUES (?, ?, ?, 'synced', ?, ?) ON DUPLICATE KEY UPDATE \
     external_id = IF(deleted_at IS NULL, VALUES(external_id), external_id), \
     email = IF(deleted_at IS NULL, NULL, email), \
     first_name = IF(deleted_at IS NULL, NULL, first_name), \
     last_name = IF(deleted_at IS NULL, NULL, last_name), \
     username = IF(deleted_at IS NULL, NULL, username), \
     image_url = IF(deleted_at IS NULL, NULL, image_url), \
     public_metadata = IF(deleted_at IS NULL, NULL, public_metadata), \
     raw_json = IF(deleted_at IS NULL, NULL, raw_json), \
     clerk_updated_at = IF(deleted_at IS NULL, NULL, clerk_updated_at), \
     sync_error = IF(deleted_at IS NULL, NULL, sync_error), \
     sync_status = IF(deleted_at IS NULL, 'synced', sync_status), \
     updated_at = IF(deleted_at IS NULL, VALUES(updated_at), updated_at), \
     deleted_at = IF(deleted_at IS NULL, VALUES(deleted_at), deleted_at)";

/// The MySQL half of [`crate::SqlxStore`].
#[derive(Debug, Clone)]
pub(crate) struct MySqlStore {
    pool: MySqlPool,
    /// Inbound events waiting to be committed together; shared by every clone of the store.
    inbound: Arc<group_commit::InboundQueue>,
}

/// A pool for [`crate::SqlxStore::connect`].
pub(crate) async fn connect(url: &str) -> Result<MySqlPool, StoreError> {
    // sqlx knows the scheme as mysql://; mariadb:// is the same protocol.
    let url = match url.strip_prefix("mariadb:") {
        Some(rest) => format!("mysql:{rest}"),
        None => url.to_owned(),
    };
    let options: MySqlConnectOptions = url.parse().map_err(map_sqlx)?;
    MySqlPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
                    .await?;
                conn.execute("SET time_zone = '+00:00'").await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .map_err(map_sqlx)
}

/// MySQL `DATETIME(6)` carries no zone; the store writes UTC.
fn dt(t: OffsetDateTime) -> PrimitiveDateTime {
    let t = micros(t);
    PrimitiveDateTime::new(t.date(), t.time())
}

fn ts(row: &MySqlRow, col: &str) -> Result<OffsetDateTime, StoreError> {
    let t: PrimitiveDateTime = row.try_get(col).map_err(map_sqlx)?;
    Ok(t.assume_offset(UtcOffset::UTC))
}

fn ts_opt(row: &MySqlRow, col: &str) -> Result<Option<OffsetDateTime>, StoreError> {
    let t: Option<PrimitiveDateTime> = row.try_get(col).map_err(map_sqlx)?;
    Ok(t.map(|t| t.assume_offset(UtcOffset::UTC)))
}

fn json_col(row: &MySqlRow, col: &str) -> Result<Option<serde_json::Value>, StoreError> {
    // MariaDB's JSON is LONGTEXT; MySQL's JSON decodes as text too.
    let text: Option<String> = row.try_get(col).map_err(map_sqlx)?;
    model::json_text(text, col)
}

fn user(row: &MySqlRow) -> Result<LocalUser, StoreError> {
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

fn outbox_entry(row: &MySqlRow) -> Result<OutboxEntry, StoreError> {
    let operation: String = row.try_get("operation").map_err(map_sqlx)?;
    let payload = json_col(row, "payload")?.unwrap_or(serde_json::Value::Null);
    let attempts: i32 = row.try_get("attempts").map_err(map_sqlx)?;
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

async fn fetch_user(conn: &mut MySqlConnection, id: i64) -> Result<LocalUser, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        user_cols!(),
        " FROM clerk_users WHERE id = ?"
    ))
    .bind(id)
    .fetch_one(conn)
    .await
    .map_err(map_sqlx)?;
    user(&row)
}

/// Whether the row for `clerk_id` is a tombstone; `None` if there is no row.
async fn is_tombstone(
    conn: &mut MySqlConnection,
    clerk_id: &str,
) -> Result<Option<bool>, sqlx::Error> {
    sqlx::query_scalar("SELECT deleted_at IS NOT NULL FROM clerk_users WHERE clerk_id = ?")
        .bind(clerk_id)
        .fetch_optional(conn)
        .await
}

/// `upsert_user`'s four rules, inside a transaction.
async fn upsert_in(
    conn: &mut MySqlConnection,
    r: &ClerkUserRecord,
    now: PrimitiveDateTime,
) -> Result<UpsertOutcome, sqlx::Error> {
    let metadata = r.public_metadata.as_ref().map(|m| m.to_string());
    if let Some(link_email) = r.link_email.as_deref() {
        let linked = sqlx::query(LINK)
            .bind(&r.clerk_id)
            .bind(r.email.as_deref())
            .bind(r.first_name.as_deref())
            .bind(r.last_name.as_deref())
            .bind(r.username.as_deref())
            .bind(r.image_url.as_deref())
            .bind(r.external_id.as_deref())
            .bind(metadata.as_deref())
            .bind(r.raw_json.as_str())
            .bind(r.clerk_updated_at)
            .bind(now)
            .bind(link_email)
            .execute(&mut *conn)
            .await;
        match linked {
            Ok(res) if res.rows_affected() == 1 => return Ok(UpsertOutcome::Linked),
            Ok(_) => {}
            // A row already has this clerk id: rule 1 does not apply.
            Err(e) if crate::error::is_unique_violation(&e) => {}
            Err(e) => return Err(e),
        }
    }
    let res = sqlx::query(UPSERT)
        .bind(&r.clerk_id)
        .bind(r.email.as_deref())
        .bind(r.first_name.as_deref())
        .bind(r.last_name.as_deref())
        .bind(r.username.as_deref())
        .bind(r.image_url.as_deref())
        .bind(r.external_id.as_deref())
        .bind(metadata.as_deref())
        .bind(r.raw_json.as_str())
        .bind(r.clerk_updated_at)
        .bind(now)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    if res.rows_affected() == 2 {
        return Ok(UpsertOutcome::Updated);
    }
    if res.last_insert_id() != 0 {
        return Ok(UpsertOutcome::Inserted);
    }
    // Untouched: the row is locked by this transaction now, so the label is exact.
    Ok(match is_tombstone(conn, &r.clerk_id).await? {
        Some(true) => UpsertOutcome::Deleted,
        _ => UpsertOutcome::Stale,
    })
}

async fn tombstone_in(
    conn: &mut MySqlConnection,
    t: &Tombstone,
    now: PrimitiveDateTime,
) -> Result<TombstoneOutcome, sqlx::Error> {
    let res = sqlx::query(TOMBSTONE)
        .bind(&t.clerk_id)
        .bind(t.external_id.as_deref())
        .bind(dt(t.deleted_at))
        .bind(now)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(if res.rows_affected() == 2 || res.last_insert_id() != 0 {
        TombstoneOutcome::Deleted
    } else {
        TombstoneOutcome::AlreadyDeleted
    })
}

/// One inbound event in one round trip: the stored procedure (migration 2, revised by
/// migrations 3 and 4) does the same steps as `upsert_in` / `tombstone_in`, in one transaction
/// on the server. `None` for a change this store does not know.
async fn call_apply_inbound(
    pool: &MySqlPool,
    e: &NewLedgerEntry<'_>,
    change: &InboundChange,
    now: PrimitiveDateTime,
) -> Result<Option<InboundApplied>, StoreError> {
    let mut conn = pool.acquire().await.map_err(map_sqlx)?;
    call_apply_inbound_on(&mut conn, e, change, now).await
}

/// [`call_apply_inbound`] on a connection the caller holds.
async fn call_apply_inbound_on(
    conn: &mut MySqlConnection,
    e: &NewLedgerEntry<'_>,
    change: &InboundChange,
    now: PrimitiveDateTime,
) -> Result<Option<InboundApplied>, StoreError> {
    let (kind, record, tombstone) = match change {
        InboundChange::Upsert(r) => (1i8, Some(r), None),
        InboundChange::Tombstone(t) => (2, None, Some(t)),
        InboundChange::LedgerOnly => (3, None, None),
        _ => return Ok(None),
    };
    let metadata = record.and_then(|r| r.public_metadata.as_ref().map(|m| m.to_string()));
    let rows = retry_conflicts!(
        unique,
        sqlx::query(
            "CALL clerk_sync_apply_inbound(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        .bind(kind)
        .bind(e.svix_id)
        .bind(e.event_type)
        .bind(e.object_id)
        .bind(dt(e.received_at))
        .bind(e.payload)
        .bind(now)
        .bind(
            record
                .map(|r| r.clerk_id.as_str())
                .or(tombstone.map(|t| t.clerk_id.as_str())),
        )
        .bind(record.and_then(|r| r.email.as_deref()))
        .bind(record.and_then(|r| r.first_name.as_deref()))
        .bind(record.and_then(|r| r.last_name.as_deref()))
        .bind(record.and_then(|r| r.username.as_deref()))
        .bind(record.and_then(|r| r.image_url.as_deref()))
        .bind(
            record
                .and_then(|r| r.external_id.as_deref())
                .or(tombstone.and_then(|t| t.external_id.as_deref())),
        )
        .bind(metadata.as_deref())
        .bind(record.map(|r| r.raw_json.as_str()))
        .bind(record.map(|r| r.clerk_updated_at))
        .bind(record.and_then(|r| r.link_email.as_deref()))
        .bind(tombstone.map(|t| dt(t.deleted_at)))
        .fetch_all(&mut *conn)
        .await
    )
    .map_err(map_sqlx)?;
    let outcome: String = rows
        .first()
        .ok_or_else(|| StoreError::InvalidData {
            what: "clerk_sync_apply_inbound result".to_owned(),
        })?
        .try_get("outcome")
        .map_err(map_sqlx)?;
    Ok(Some(match outcome.as_str() {
        "duplicate" => InboundApplied::Duplicate,
        "inserted" => InboundApplied::Upsert(UpsertOutcome::Inserted),
        "updated" => InboundApplied::Upsert(UpsertOutcome::Updated),
        "linked" => InboundApplied::Upsert(UpsertOutcome::Linked),
        "stale" => InboundApplied::Upsert(UpsertOutcome::Stale),
        "deleted" => InboundApplied::Upsert(UpsertOutcome::Deleted),
        "tombstoned" => InboundApplied::Tombstone(TombstoneOutcome::Deleted),
        "already_deleted" => InboundApplied::Tombstone(TombstoneOutcome::AlreadyDeleted),
        "ledger_only" => InboundApplied::LedgerOnly,
        _ => {
            return Err(StoreError::InvalidData {
                what: "clerk_sync_apply_inbound outcome".to_owned(),
            });
        }
    }))
}

impl MySqlStore {
    pub(crate) fn new(pool: MySqlPool) -> Self {
        MySqlStore {
            pool,
            inbound: Arc::new(group_commit::InboundQueue::new()),
        }
    }

    pub(crate) fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// Closes the pool and the connections kept for inbound writes.
    pub(crate) async fn close(&self) {
        // The pool counts as closed from here on, so no write keeps a connection after this.
        let closing = self.pool.close();
        self.inbound.close().await;
        closing.await;
    }

    pub(crate) async fn get_user(&self, clerk_id: &str) -> Result<Option<LocalUser>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_cols!(),
            " FROM clerk_users WHERE clerk_id = ?"
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
            " FROM clerk_users WHERE id = ?"
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
            " FROM clerk_users WHERE email = ? ORDER BY id"
        ))
        .bind(email)
        .fetch_all(&self.pool)
        .await
        .map_err(map_sqlx)?;
        rows.iter().map(user).collect()
    }

    pub(crate) async fn list_users(&self, query: &UserQuery) -> Result<Vec<LocalUser>, StoreError> {
        let status = query.sync_status.map(|s| s.as_str());
        let rows = sqlx::query(concat!(
            "SELECT ",
            user_cols!(),
            " FROM clerk_users WHERE (? IS NULL OR sync_status = ?) ",
            "AND (? IS NULL OR id > ?) AND (? OR deleted_at IS NULL) ",
            "ORDER BY id LIMIT ?"
        ))
        .bind(status)
        .bind(status)
        .bind(query.after_id)
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
        let now = dt(now);
        retry_conflicts!(
            unique,
            async {
                let mut tx = self.pool.begin_with(BEGIN).await?;
                let outcome = upsert_in(&mut tx, record, now).await?;
                tx.commit().await?;
                Ok::<_, sqlx::Error>(outcome)
            }
            .await
        )
        .map_err(map_sqlx)
    }

    pub(crate) async fn apply_batch(
        &self,
        records: &[ClerkUserRecord],
        now: OffsetDateTime,
    ) -> Result<BatchOutcome, StoreError> {
        let now = dt(now);
        let mut outcome = BatchOutcome::default();
        let plan = crate::store::BatchPlan::new(records);
        outcome.unchanged += plan.superseded;
        let mut bulk = Vec::with_capacity(plan.records.len());
        for r in plan.records {
            // Linking needs the single-row path; only records that can link take it.
            if r.link_email.is_some() {
                crate::store::count(&mut outcome, self.upsert_user(r, now.assume_utc()).await?);
            } else {
                bulk.push(r);
            }
        }
        for chunk in bulk.chunks(BATCH_CHUNK) {
            let (existing, affected) = retry_conflicts!(plain, async {
                let mut tx = self.pool.begin_with(BEGIN).await?;
                // Which ids exist decides inserted vs updated; locking them keeps it true
                // until the upsert below.
                let mut sql = String::from("SELECT COUNT(*) FROM clerk_users WHERE clerk_id IN (");
                sql.push_str(&vec!["?"; chunk.len()].join(", "));
                sql.push_str(") FOR UPDATE");
                let mut q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql));
                for r in chunk {
                    q = q.bind(r.clerk_id.as_str());
                }
                let existing = q.fetch_one(&mut *tx).await? as u64;

                let mut sql = String::from(
                    "INSERT INTO clerk_users (clerk_id, email, first_name, last_name, username, \
                     image_url, external_id, public_metadata, raw_json, clerk_updated_at, \
                     sync_status, created_at, updated_at) VALUES ",
                );
                sql.push_str(
                    &vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'synced', ?, ?)"; chunk.len()].join(", "),
                );
                sql.push_str(" ON DUPLICATE KEY UPDATE ");
                sql.push_str(guarded_overwrite!());
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for r in chunk {
                    q = q
                        .bind(r.clerk_id.as_str())
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
                        .bind(now);
                }
                let affected = q.execute(&mut *tx).await?.rows_affected();
                tx.commit().await?;
                Ok::<_, sqlx::Error>((existing, affected))
            }
            .await)
            .map_err(map_sqlx)?;
            // Per row: 1 inserted, 2 changed, 1 untouched (CLIENT_FOUND_ROWS).
            let n = chunk.len() as u64;
            let inserted = n.saturating_sub(existing);
            let updated = affected.saturating_sub(n);
            outcome.inserted += inserted;
            outcome.updated += updated;
            outcome.unchanged += n.saturating_sub(inserted + updated);
        }
        Ok(outcome)
    }

    pub(crate) async fn tombstone_user(
        &self,
        t: &Tombstone,
        now: OffsetDateTime,
    ) -> Result<TombstoneOutcome, StoreError> {
        let now = dt(now);
        retry_conflicts!(
            unique,
            async {
                let mut conn = self.pool.acquire().await?;
                tombstone_in(&mut conn, t, now).await
            }
            .await
        )
        .map_err(map_sqlx)
    }

    pub(crate) async fn link_clerk_id(
        &self,
        id: i64,
        clerk_id: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let res = sqlx::query(
            "UPDATE clerk_users SET clerk_id = ?, updated_at = ? \
             WHERE id = ? AND clerk_id IS NULL AND deleted_at IS NULL",
        )
        .bind(clerk_id)
        .bind(dt(now))
        .bind(id)
        .execute(&self.pool)
        .await;
        match res {
            Ok(r) => Ok(r.rows_affected() == 1),
            // Another row has that clerk id: the constraint says no.
            Err(e) if crate::error::is_unique_violation(&e) => Ok(false),
            Err(e) => Err(map_sqlx(e)),
        }
    }

    pub(crate) async fn scan_versions(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<UserVersion>, StoreError> {
        let rows: Vec<(String, Option<i64>, bool)> = sqlx::query_as(
            "SELECT clerk_id, clerk_updated_at, deleted_at IS NOT NULL FROM clerk_users \
             WHERE clerk_id IS NOT NULL AND (? IS NULL OR clerk_id > ?) \
             ORDER BY clerk_id LIMIT ?",
        )
        .bind(after)
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
        let at = dt(at);
        let res = sqlx::query(
            "UPDATE clerk_users SET sync_status = 'failed', sync_error = ?, \
             last_sync_attempt = ?, updated_at = ? WHERE clerk_id = ?",
        )
        .bind(error)
        .bind(at)
        .bind(at)
        .bind(clerk_id)
        .execute(&self.pool)
        .await
        .map_err(map_sqlx)?;
        // CLIENT_FOUND_ROWS: matched rows, also when nothing changed.
        Ok(res.rows_affected() > 0)
    }

    // ----- ledger -----

    pub(crate) async fn ledger_insert(
        &self,
        e: &NewLedgerEntry<'_>,
    ) -> Result<LedgerInsert, StoreError> {
        let res = sqlx::query(
            "INSERT INTO clerk_webhook_events (svix_id, event_type, object_id, received_at, \
             payload) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(e.svix_id)
        .bind(e.event_type)
        .bind(e.object_id)
        .bind(dt(e.received_at))
        .bind(e.payload)
        .execute(&self.pool)
        .await;
        match res {
            Ok(_) => Ok(LedgerInsert::Inserted),
            Err(err) if crate::error::is_unique_violation(&err) => {
                let processed: Option<bool> = sqlx::query_scalar(
                    "SELECT processed_at IS NOT NULL FROM clerk_webhook_events WHERE svix_id = ?",
                )
                .bind(e.svix_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(map_sqlx)?;
                Ok(LedgerInsert::Exists {
                    processed: processed.unwrap_or(false),
                })
            }
            Err(err) => Err(map_sqlx(err)),
        }
    }

    pub(crate) async fn ledger_mark_processed(
        &self,
        svix_id: &str,
        outcome: LedgerOutcome,
        error: Option<&str>,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let res = sqlx::query(
            "UPDATE clerk_webhook_events SET processed_at = ?, outcome = ?, error = ? \
             WHERE svix_id = ?",
        )
        .bind(dt(at))
        .bind(outcome.as_str())
        .bind(error)
        .bind(svix_id)
        .execute(&self.pool)
        .await
        .map_err(map_sqlx)?;
        crate::store::found(res.rows_affected(), "ledger entry")
    }

    pub(crate) async fn ledger_get(
        &self,
        svix_id: &str,
    ) -> Result<Option<LedgerEntry>, StoreError> {
        let row = sqlx::query(
            "SELECT svix_id, event_type, object_id, received_at, processed_at, outcome, error, \
             payload FROM clerk_webhook_events WHERE svix_id = ?",
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
        let res = sqlx::query("DELETE FROM clerk_webhook_events WHERE received_at < ?")
            .bind(dt(before))
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(res.rows_affected())
    }

    // ----- outbox -----

    pub(crate) async fn enqueue_local_change(
        &self,
        change: &LocalChange,
        now: OffsetDateTime,
    ) -> Result<EnqueuedChange, StoreError> {
        let now = dt(now);
        let op = change.operation().as_str();
        let mut tx = self.pool.begin_with(BEGIN).await.map_err(map_sqlx)?;
        let (user_id, payload) = match change {
            LocalChange::Create(p) | LocalChange::Invite(p) => {
                let res = sqlx::query(
                    "INSERT INTO clerk_users (email, first_name, last_name, username, \
                     external_id, public_metadata, sync_status, created_at, updated_at) \
                     VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
                )
                .bind(p.email.as_deref())
                .bind(p.first_name.as_deref())
                .bind(p.last_name.as_deref())
                .bind(p.username.as_deref())
                .bind(p.external_id.as_deref())
                .bind(p.public_metadata.as_ref().map(|m| m.to_string()))
                .bind(now)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(map_sqlx)?;
                (res.last_insert_id() as i64, model::profile_json(p))
            }
            LocalChange::Update {
                user_id,
                profile: p,
            } => {
                let res = sqlx::query(
                    "UPDATE clerk_users SET email = COALESCE(?, email), \
                     first_name = COALESCE(?, first_name), last_name = COALESCE(?, last_name), \
                     username = COALESCE(?, username), external_id = COALESCE(?, external_id), \
                     public_metadata = COALESCE(?, public_metadata), sync_status = 'pending', \
                     updated_at = ? WHERE id = ? AND deleted_at IS NULL",
                )
                .bind(p.email.as_deref())
                .bind(p.first_name.as_deref())
                .bind(p.last_name.as_deref())
                .bind(p.username.as_deref())
                .bind(p.external_id.as_deref())
                .bind(p.public_metadata.as_ref().map(|m| m.to_string()))
                .bind(now)
                .bind(user_id)
                .execute(&mut *tx)
                .await
                .map_err(map_sqlx)?;
                crate::store::found(res.rows_affected(), "user")?;
                (*user_id, model::profile_json(p))
            }
            LocalChange::Delete { user_id } => {
                let res = sqlx::query(
                    "UPDATE clerk_users SET sync_status = 'pending', updated_at = ? \
                     WHERE id = ? AND deleted_at IS NULL",
                )
                .bind(now)
                .bind(user_id)
                .execute(&mut *tx)
                .await
                .map_err(map_sqlx)?;
                crate::store::found(res.rows_affected(), "user")?;
                (*user_id, "{}".to_owned())
            }
            _ => return Err(crate::store::unsupported_change()),
        };
        let res = sqlx::query(
            "INSERT INTO clerk_sync_outbox (user_id, operation, payload, attempts, \
             next_attempt_at, created_at) VALUES (?, ?, ?, 0, ?, ?)",
        )
        .bind(user_id)
        .bind(op)
        .bind(payload)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx)?;
        let user = fetch_user(&mut tx, user_id).await?;
        tx.commit().await.map_err(map_sqlx)?;
        model::enqueued(user, res.last_insert_id() as i64)
    }

    pub(crate) async fn claim_outbox(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let until = dt(add(now, lease));
        let now = dt(now);
        retry_conflicts!(plain, async {
            let mut tx = self.pool.begin_with(BEGIN).await?;
            let ids: Vec<i64> = sqlx::query_scalar(
                "SELECT o.id FROM clerk_sync_outbox o \
                 WHERE o.next_attempt_at <= ? AND (o.claimed_until IS NULL OR o.claimed_until <= ?) \
                 AND NOT EXISTS (SELECT 1 FROM clerk_sync_outbox p \
                 WHERE p.user_id = o.user_id AND p.id < o.id) \
                 ORDER BY o.id LIMIT ? FOR UPDATE SKIP LOCKED",
            )
            .bind(now)
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
            if ids.is_empty() {
                tx.commit().await?;
                return Ok(Vec::new());
            }
            let list = vec!["?"; ids.len()].join(", ");
            let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE clerk_sync_outbox SET claimed_by = ?, claimed_until = ?, \
                 attempts = attempts + 1 WHERE id IN ({list})"
            )))
            .bind(worker)
            .bind(until);
            for id in &ids {
                q = q.bind(id);
            }
            q.execute(&mut *tx).await?;
            let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
                concat!("SELECT ", outbox_cols!(), " FROM clerk_sync_outbox WHERE id IN ({}) ORDER BY id"),
                list
            )));
            for id in &ids {
                q = q.bind(id);
            }
            let rows = q.fetch_all(&mut *tx).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(rows)
        }
        .await)
        .map_err(map_sqlx)?
        .iter()
        .map(outbox_entry)
        .collect()
    }

    pub(crate) async fn complete_outbox(
        &self,
        id: i64,
        clerk_id: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let now = dt(now);
        let mut tx = self.pool.begin_with(BEGIN).await.map_err(map_sqlx)?;
        let user_id: Option<i64> =
            sqlx::query_scalar("SELECT user_id FROM clerk_sync_outbox WHERE id = ? FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_sqlx)?;
        let Some(user_id) = user_id else {
            return Err(StoreError::NotFound {
                what: "outbox entry",
            });
        };
        sqlx::query("DELETE FROM clerk_sync_outbox WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        let remaining: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM clerk_sync_outbox WHERE user_id = ?")
                .bind(user_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(map_sqlx)?;
        sqlx::query(
            "UPDATE clerk_users SET last_sync_attempt = ?, sync_error = NULL, updated_at = ?, \
             sync_status = IF(?, sync_status, 'synced') WHERE id = ?",
        )
        .bind(now)
        .bind(now)
        .bind(remaining > 0)
        .bind(user_id)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx)?;
        if let Some(clerk_id) = clerk_id {
            let set = sqlx::query(
                "UPDATE clerk_users SET clerk_id = ? WHERE id = ? AND clerk_id IS NULL",
            )
            .bind(clerk_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await;
            match set {
                Ok(_) => {}
                // The webhook echo already created a row with this clerk id; it keeps it.
                Err(e) if crate::error::is_unique_violation(&e) => {}
                Err(e) => return Err(map_sqlx(e)),
            }
        }
        tx.commit().await.map_err(map_sqlx)
    }

    pub(crate) async fn fail_outbox(
        &self,
        id: i64,
        error: &str,
        next_attempt_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let now = dt(now);
        let mut tx = self.pool.begin_with(BEGIN).await.map_err(map_sqlx)?;
        let user_id: Option<i64> =
            sqlx::query_scalar("SELECT user_id FROM clerk_sync_outbox WHERE id = ? FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_sqlx)?;
        let Some(user_id) = user_id else {
            return Err(StoreError::NotFound {
                what: "outbox entry",
            });
        };
        sqlx::query(
            "UPDATE clerk_sync_outbox SET claimed_by = NULL, claimed_until = NULL, \
             next_attempt_at = ?, last_error = ? WHERE id = ?",
        )
        .bind(dt(next_attempt_at))
        .bind(error)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx)?;
        sqlx::query(
            "UPDATE clerk_users SET sync_error = ?, last_sync_attempt = ?, updated_at = ? \
             WHERE id = ?",
        )
        .bind(error)
        .bind(now)
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx)?;
        tx.commit().await.map_err(map_sqlx)
    }

    pub(crate) async fn give_up_outbox(
        &self,
        id: i64,
        error: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let now = dt(now);
        let mut tx = self.pool.begin_with(BEGIN).await.map_err(map_sqlx)?;
        let user_id: Option<i64> =
            sqlx::query_scalar("SELECT user_id FROM clerk_sync_outbox WHERE id = ? FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_sqlx)?;
        let Some(user_id) = user_id else {
            return Err(StoreError::NotFound {
                what: "outbox entry",
            });
        };
        sqlx::query("DELETE FROM clerk_sync_outbox WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        sqlx::query(
            "UPDATE clerk_users SET sync_status = 'failed', sync_error = ?, \
             last_sync_attempt = ?, updated_at = ? WHERE id = ?",
        )
        .bind(error)
        .bind(now)
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx)?;
        tx.commit().await.map_err(map_sqlx)
    }

    pub(crate) async fn outbox_for_user(
        &self,
        user_id: i64,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            outbox_cols!(),
            " FROM clerk_sync_outbox WHERE user_id = ? ORDER BY id"
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
        let until = dt(add(now, ttl));
        let now = dt(now);
        retry_conflicts!(
            unique,
            async {
                let mut tx = self.pool.begin_with(BEGIN).await?;
                // holder is assigned from the old holder and expiry; expires_at then follows
                // whoever holds the lease after that assignment.
                sqlx::query(
                    "INSERT INTO clerk_sync_leases (name, holder, expires_at) VALUES (?, ?, ?) \
                 ON DUPLICATE KEY UPDATE \
                 holder = IF(expires_at <= ? OR holder = VALUES(holder), VALUES(holder), holder), \
                 expires_at = IF(holder = VALUES(holder), VALUES(expires_at), expires_at)",
                )
                .bind(name)
                .bind(holder)
                .bind(until)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                // The row is locked by this transaction: whoever it names holds the lease.
                let current: String =
                    sqlx::query_scalar("SELECT holder FROM clerk_sync_leases WHERE name = ?")
                        .bind(name)
                        .fetch_one(&mut *tx)
                        .await?;
                tx.commit().await?;
                Ok::<_, sqlx::Error>(current == holder)
            }
            .await
        )
        .map_err(map_sqlx)
    }

    pub(crate) async fn renew_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let res = sqlx::query(
            "UPDATE clerk_sync_leases SET expires_at = ? WHERE name = ? AND holder = ?",
        )
        .bind(dt(add(now, ttl)))
        .bind(name)
        .bind(holder)
        .execute(&self.pool)
        .await
        .map_err(map_sqlx)?;
        Ok(res.rows_affected() == 1)
    }

    pub(crate) async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        let res = sqlx::query("DELETE FROM clerk_sync_leases WHERE name = ? AND holder = ?")
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(res.rows_affected() == 1)
    }

    // ----- run log -----

    pub(crate) async fn record_run(&self, run: &SyncRun) -> Result<i64, StoreError> {
        let res = sqlx::query(
            "INSERT INTO clerk_sync_runs (kind, triggered_by, started_at, finished_at, dry_run, \
             force_rewrite, report) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&run.kind)
        .bind(&run.triggered_by)
        .bind(dt(run.started_at))
        .bind(dt(run.finished_at))
        .bind(run.dry_run)
        .bind(run.force)
        .bind(run.report.to_string())
        .execute(&self.pool)
        .await
        .map_err(map_sqlx)?;
        Ok(res.last_insert_id() as i64)
    }

    pub(crate) async fn recent_runs(&self, limit: u32) -> Result<Vec<SyncRun>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, kind, triggered_by, started_at, finished_at, dry_run, force_rewrite, \
             report FROM clerk_sync_runs ORDER BY started_at DESC, id DESC LIMIT ?",
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
        let now = dt(now);
        match change {
            // The events that arrive by the thousand: queued behind the writes in flight and
            // committed together (group_commit.rs).
            InboundChange::Upsert(_) | InboundChange::LedgerOnly => {
                self.inbound.apply(&self.pool, e, change, now).await
            }
            _ => call_apply_inbound(&self.pool, e, change, now).await,
        }
    }
}
