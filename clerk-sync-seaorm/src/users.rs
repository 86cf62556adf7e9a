//! The user table: conditional upsert, tombstone, linking, reads.

use clerk_sync_core::store::{
    ClerkUserRecord, StoreError, Tombstone, TombstoneOutcome, UpsertOutcome,
};
use sea_orm::{ConnectionTrait, DbErr, TransactionSession, TransactionTrait, Value};
use time::OffsetDateTime;

use crate::error::is_unique_violation;
use crate::sql::{Dialect, sv};

/// The record's values in the order every user statement below numbers them:
/// 1 clerk_id, 2 email, 3 first_name, 4 last_name, 5 username, 6 image_url, 7 external_id,
/// 8 public_metadata (JSON text), 9 raw_json (JSON text), 10 clerk_updated_at, 11 now.
pub(crate) fn record_values(
    d: Dialect,
    record: &ClerkUserRecord,
    metadata: Option<String>,
    now: OffsetDateTime,
) -> Vec<Value> {
    vec![
        record.clerk_id.clone().into(),
        sv(record.email.as_deref()),
        sv(record.first_name.as_deref()),
        sv(record.last_name.as_deref()),
        sv(record.username.as_deref()),
        sv(record.image_url.as_deref()),
        sv(record.external_id.as_deref()),
        metadata.into(),
        record.raw_json.clone().into(),
        record.clerk_updated_at.into(),
        d.tv(now),
    ]
}

/// Reject a record whose JSON would fail in the database only on some dialects (SQLite keeps
/// `TEXT`), so every backend answers the same way and nothing is written.
pub(crate) fn validate(record: &ClerkUserRecord) -> Result<Option<String>, StoreError> {
    if serde_json::from_str::<serde::de::IgnoredAny>(&record.raw_json).is_err() {
        return Err(StoreError::InvalidData {
            what: "raw_json".to_owned(),
        });
    }
    record
        .public_metadata
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|_| StoreError::InvalidData {
            what: "public_metadata".to_owned(),
        })
}

// On MySQL every assignment below reads the columns as already assigned to its left, so the
// guard's inputs (`deleted_at`, `clerk_updated_at`) and `sync_status` are assigned last.
const MYSQL_GUARD: &str = "deleted_at IS NULL AND (clerk_updated_at IS NULL OR clerk_updated_at < VALUES(clerk_updated_at))";

fn upsert_sql(d: Dialect) -> String {
    if d.is_mysql() {
        let g = MYSQL_GUARD;
        let set = |c: &str| format!("{c} = IF({g}, VALUES({c}), {c})");
        return format!(
            "INSERT INTO clerk_users (clerk_id, email, first_name, last_name, username, image_url, \
             external_id, public_metadata, raw_json, clerk_updated_at, sync_status, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'synced', ?, ?) \
             ON DUPLICATE KEY UPDATE {}, {}, {}, {}, {}, {}, {}, {}, {}, \
             sync_error = IF({g} AND sync_status <> 'pending', NULL, sync_error), \
             sync_status = IF({g} AND sync_status <> 'pending', 'synced', sync_status), \
             clerk_updated_at = IF({g}, VALUES(clerk_updated_at), clerk_updated_at)",
            set("email"),
            set("first_name"),
            set("last_name"),
            set("username"),
            set("image_url"),
            set("external_id"),
            set("public_metadata"),
            set("raw_json"),
            set("updated_at"),
        );
    }
    let p = |n| d.p(n);
    let mut sql = format!(
        "INSERT INTO clerk_users (clerk_id, email, first_name, last_name, username, image_url, \
         external_id, public_metadata, raw_json, clerk_updated_at, sync_status, created_at, updated_at) \
         VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, 'synced', {}, {}) \
         ON CONFLICT (clerk_id) DO ",
        p(1),
        p(2),
        p(3),
        p(4),
        p(5),
        p(6),
        p(7),
        d.json_p(8),
        d.json_p(9),
        p(10),
        p(11),
        p(11),
    );
    if d.is_pg() {
        sql.push_str(
            "UPDATE SET email = excluded.email, first_name = excluded.first_name, \
             last_name = excluded.last_name, username = excluded.username, \
             image_url = excluded.image_url, external_id = excluded.external_id, \
             public_metadata = excluded.public_metadata, raw_json = excluded.raw_json, \
             clerk_updated_at = excluded.clerk_updated_at, updated_at = excluded.updated_at, \
             sync_error = CASE WHEN clerk_users.sync_status = 'pending' THEN clerk_users.sync_error END, \
             sync_status = CASE WHEN clerk_users.sync_status = 'pending' THEN 'pending' ELSE 'synced' END \
             WHERE clerk_users.deleted_at IS NULL AND (clerk_users.clerk_updated_at IS NULL \
             OR clerk_users.clerk_updated_at < excluded.clerk_updated_at) \
             RETURNING (xmax = 0) AS inserted",
        );
    } else {
        // SQLite cannot tell an insert from an update in one upsert (no `xmax`, and RETURNING
        // sees only the new row), so it inserts-if-absent here and overwrites with
        // `sqlite_update_sql`: two conditional writes, never a read deciding a write.
        sql.push_str("NOTHING");
    }
    sql
}

fn sqlite_update_sql() -> &'static str {
    "UPDATE clerk_users SET email = ?2, first_name = ?3, last_name = ?4, username = ?5, \
     image_url = ?6, external_id = ?7, public_metadata = ?8, raw_json = ?9, \
     clerk_updated_at = ?10, updated_at = ?11, \
     sync_error = CASE WHEN sync_status = 'pending' THEN sync_error END, \
     sync_status = CASE WHEN sync_status = 'pending' THEN 'pending' ELSE 'synced' END \
     WHERE clerk_id = ?1 AND deleted_at IS NULL AND (clerk_updated_at IS NULL OR clerk_updated_at < ?10)"
}

/// MySQL: the guarded overwrite of an existing row, as a plain `UPDATE` by Clerk id. Params:
/// the `record_values` from email to now, then clerk id and version.
fn mysql_update_sql() -> &'static str {
    // `sync_error` before `sync_status`: MySQL assigns left to right, and its test needs the
    // old status.
    "UPDATE clerk_users SET email = ?, first_name = ?, last_name = ?, username = ?, \
     image_url = ?, external_id = ?, public_metadata = ?, raw_json = ?, \
     clerk_updated_at = ?, updated_at = ?, \
     sync_error = IF(sync_status = 'pending', sync_error, NULL), \
     sync_status = IF(sync_status = 'pending', 'pending', 'synced') \
     WHERE clerk_id = ? AND deleted_at IS NULL AND (clerk_updated_at IS NULL OR clerk_updated_at < ?)"
}

fn link_sql(d: Dialect) -> String {
    if d.is_mysql() {
        // A row already holding the Clerk id makes this fail with a duplicate key, which only
        // rolls back this statement: the caller then takes the upsert path.
        return "UPDATE clerk_users SET clerk_id = ?, email = ?, first_name = ?, last_name = ?, \
                username = ?, image_url = ?, external_id = ?, public_metadata = ?, raw_json = ?, \
                clerk_updated_at = ?, updated_at = ?, \
                sync_error = IF(sync_status = 'pending', sync_error, NULL), \
                sync_status = IF(sync_status = 'pending', 'pending', 'synced') \
                WHERE email = ? AND clerk_id IS NULL AND deleted_at IS NULL ORDER BY id LIMIT 1"
            .to_owned();
    }
    let p = |n| d.p(n);
    format!(
        "UPDATE clerk_users SET clerk_id = {p1}, email = {}, first_name = {}, last_name = {}, \
         username = {}, image_url = {}, external_id = {}, public_metadata = {}, raw_json = {}, \
         clerk_updated_at = {}, updated_at = {}, \
         sync_error = CASE WHEN sync_status = 'pending' THEN sync_error END, \
         sync_status = CASE WHEN sync_status = 'pending' THEN 'pending' ELSE 'synced' END \
         WHERE id = (SELECT l.id FROM clerk_users l WHERE l.email = {p12} AND l.clerk_id IS NULL \
         AND l.deleted_at IS NULL ORDER BY l.id LIMIT 1) \
         AND clerk_id IS NULL AND deleted_at IS NULL \
         AND NOT EXISTS (SELECT 1 FROM clerk_users c WHERE c.clerk_id = {p1})",
        p(2),
        p(3),
        p(4),
        p(5),
        p(6),
        p(7),
        d.json_p(8),
        d.json_p(9),
        p(10),
        p(11),
        p1 = p(1),
        p12 = p(12),
    )
}

/// Rule 1 of `upsert_user`: link the oldest live unlinked row with the record's email.
async fn try_link<C>(
    d: Dialect,
    conn: &C,
    record: &ClerkUserRecord,
    email: &str,
    metadata: Option<String>,
    now: OffsetDateTime,
) -> Result<bool, DbErr>
where
    C: ConnectionTrait + TransactionTrait,
{
    let mut values = record_values(d, record, metadata, now);
    values.push(email.to_owned().into());
    let stmt = d.stmt(link_sql(d), values);
    if d.is_pg() {
        // The NOT EXISTS guard cannot see a concurrent, uncommitted insert of the same Clerk id;
        // that race ends in a unique violation, which aborts a PostgreSQL transaction unless it
        // is confined to a savepoint (a nested transaction here).
        let sp = conn.begin().await?;
        return match sp.execute_raw(stmt).await {
            Ok(r) => {
                sp.commit().await?;
                Ok(r.rows_affected() == 1)
            }
            Err(e) if is_unique_violation(&e) => {
                sp.rollback().await?;
                Ok(false)
            }
            Err(e) => Err(e),
        };
    }
    match conn.execute_raw(stmt).await {
        Ok(r) => Ok(r.rows_affected() == 1),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// `deleted_at` of the row for `clerk_id`, to tell `Stale` from `Deleted` once the guarded
/// write has declined. Reading after the write decided nothing is race-free: a tombstone is
/// terminal, so a row seen deleted stays deleted.
async fn is_tombstone<C: ConnectionTrait>(
    d: Dialect,
    conn: &C,
    clerk_id: &str,
) -> Result<bool, DbErr> {
    let row = conn
        .query_one_raw(d.stmt(
            format!(
                "SELECT deleted_at FROM clerk_users WHERE clerk_id = {}",
                if d.is_mysql() { "?".to_owned() } else { d.p(1) }
            ),
            vec![clerk_id.to_owned().into()],
        ))
        .await?;
    match row {
        Some(row) => Ok(row
            .try_get::<Option<OffsetDateTime>>("", "deleted_at")?
            .is_some()),
        None => Ok(false),
    }
}

/// `upsert_user` on `conn` (the pool or a transaction).
pub(crate) async fn upsert<C>(
    d: Dialect,
    conn: &C,
    record: &ClerkUserRecord,
    metadata: Option<String>,
    now: OffsetDateTime,
) -> Result<UpsertOutcome, DbErr>
where
    C: ConnectionTrait + TransactionTrait,
{
    if d.is_mysql() {
        // Most events update a user that exists: a plain guarded UPDATE costs InnoDB far less
        // than an INSERT .. ON DUPLICATE KEY UPDATE that collides, and a row found here means
        // there is nothing to link. Otherwise the steps below decide, as on other databases.
        let mut values = record_values(d, record, metadata.clone(), now);
        let clerk_id = values.remove(0);
        values.push(clerk_id);
        values.push(record.clerk_updated_at.into());
        let r = conn.execute_raw(d.stmt(mysql_update_sql(), values)).await?;
        if r.rows_affected() == 1 {
            return Ok(UpsertOutcome::Updated);
        }
    }
    if let Some(email) = record.link_email.as_deref()
        && try_link(d, conn, record, email, metadata.clone(), now).await?
    {
        return Ok(UpsertOutcome::Linked);
    }
    let values = record_values(d, record, metadata, now);
    if d.is_pg() {
        let row = conn.query_one_raw(d.stmt(upsert_sql(d), values)).await?;
        if let Some(row) = row {
            let inserted: bool = row.try_get("", "inserted")?;
            return Ok(if inserted {
                UpsertOutcome::Inserted
            } else {
                UpsertOutcome::Updated
            });
        }
    } else if d.is_mysql() {
        let mut values = values;
        values.push(d.tv(now));
        let r = conn.execute_raw(d.stmt(upsert_sql(d), values)).await?;
        // 1 = inserted, 2 = updated; sqlx sets CLIENT_FOUND_ROWS, so a declined update also
        // reports 1, but only an insert sets the generated id.
        match r.rows_affected() {
            2 => return Ok(UpsertOutcome::Updated),
            1 if r.last_insert_id() != 0 => return Ok(UpsertOutcome::Inserted),
            _ => {}
        }
    } else {
        let r = conn
            .execute_raw(d.stmt(upsert_sql(d), values.clone()))
            .await?;
        if r.rows_affected() == 1 {
            return Ok(UpsertOutcome::Inserted);
        }
        let r = conn
            .execute_raw(d.stmt(sqlite_update_sql(), values))
            .await?;
        if r.rows_affected() == 1 {
            return Ok(UpsertOutcome::Updated);
        }
    }
    Ok(if is_tombstone(d, conn, &record.clerk_id).await? {
        UpsertOutcome::Deleted
    } else {
        UpsertOutcome::Stale
    })
}

fn tombstone_sql(d: Dialect) -> String {
    if d.is_mysql() {
        let keep = |c: &str, v: &str| format!("{c} = IF(deleted_at IS NULL, {v}, {c})");
        // `deleted_at` last: every assignment before it tests the old value.
        return format!(
            "INSERT INTO clerk_users (clerk_id, external_id, deleted_at, sync_status, created_at, updated_at) \
             VALUES (?, ?, ?, 'synced', ?, ?) ON DUPLICATE KEY UPDATE {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}",
            keep("email", "NULL"),
            keep("first_name", "NULL"),
            keep("last_name", "NULL"),
            keep("username", "NULL"),
            keep("image_url", "NULL"),
            keep("external_id", "VALUES(external_id)"),
            keep("public_metadata", "NULL"),
            keep("raw_json", "NULL"),
            keep("clerk_updated_at", "NULL"),
            keep("sync_error", "NULL"),
            keep("sync_status", "'synced'"),
            keep("updated_at", "VALUES(updated_at)"),
            keep("deleted_at", "VALUES(deleted_at)"),
        );
    }
    format!(
        "INSERT INTO clerk_users (clerk_id, external_id, deleted_at, sync_status, created_at, updated_at) \
         VALUES ({}, {}, {}, 'synced', {p4}, {p4}) \
         ON CONFLICT (clerk_id) DO UPDATE SET email = NULL, first_name = NULL, last_name = NULL, \
         username = NULL, image_url = NULL, external_id = excluded.external_id, \
         public_metadata = NULL, raw_json = NULL, clerk_updated_at = NULL, \
         deleted_at = excluded.deleted_at, sync_status = 'synced', sync_error = NULL, \
         updated_at = excluded.updated_at \
         WHERE clerk_users.deleted_at IS NULL",
        d.p(1),
        d.p(2),
        d.p(3),
        p4 = d.p(4),
    )
}

/// `tombstone_user` on `conn`: one statement on every dialect.
pub(crate) async fn tombstone<C: ConnectionTrait>(
    d: Dialect,
    conn: &C,
    t: &Tombstone,
    now: OffsetDateTime,
) -> Result<TombstoneOutcome, DbErr> {
    let mut values = vec![
        t.clerk_id.clone().into(),
        sv(t.external_id.as_deref()),
        d.tv(t.deleted_at),
        d.tv(now),
    ];
    if d.is_mysql() {
        values.push(d.tv(now));
    }
    let r = conn.execute_raw(d.stmt(tombstone_sql(d), values)).await?;
    let deleted = if d.is_mysql() {
        // 2 = a live row became a tombstone; 1 = inserted (has an id) or, with
        // CLIENT_FOUND_ROWS, an existing tombstone left as is (no id).
        r.rows_affected() == 2 || (r.rows_affected() == 1 && r.last_insert_id() != 0)
    } else {
        r.rows_affected() == 1
    };
    Ok(if deleted {
        TombstoneOutcome::Deleted
    } else {
        TombstoneOutcome::AlreadyDeleted
    })
}

/// `link_clerk_id`.
pub(crate) async fn link_clerk_id<C: ConnectionTrait>(
    d: Dialect,
    conn: &C,
    id: i64,
    clerk_id: &str,
    now: OffsetDateTime,
) -> Result<bool, DbErr> {
    let stmt = if d.is_mysql() {
        d.stmt(
            "UPDATE clerk_users SET clerk_id = ?, updated_at = ? \
             WHERE id = ? AND clerk_id IS NULL AND deleted_at IS NULL",
            vec![clerk_id.to_owned().into(), d.tv(now), id.into()],
        )
    } else {
        d.stmt(
            format!(
                "UPDATE clerk_users SET clerk_id = {p1}, updated_at = {} \
                 WHERE id = {} AND clerk_id IS NULL AND deleted_at IS NULL \
                 AND NOT EXISTS (SELECT 1 FROM clerk_users c WHERE c.clerk_id = {p1})",
                d.p(2),
                d.p(3),
                p1 = d.p(1)
            ),
            vec![clerk_id.to_owned().into(), d.tv(now), id.into()],
        )
    };
    // Outside a transaction, a unique violation (another row took the id meanwhile) is just
    // the answer "not linked".
    match conn.execute_raw(stmt).await {
        Ok(r) => Ok(r.rows_affected() == 1),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// `record_sync_error`.
pub(crate) async fn record_sync_error<C: ConnectionTrait>(
    d: Dialect,
    conn: &C,
    clerk_id: &str,
    error: &str,
    at: OffsetDateTime,
) -> Result<bool, DbErr> {
    let sql = if d.is_mysql() {
        "UPDATE clerk_users SET sync_status = 'failed', sync_error = ?, last_sync_attempt = ?, \
         updated_at = ? WHERE clerk_id = ?"
            .to_owned()
    } else {
        format!(
            "UPDATE clerk_users SET sync_status = 'failed', sync_error = {}, last_sync_attempt = {}, \
             updated_at = {} WHERE clerk_id = {}",
            d.p(1),
            d.p(2),
            d.p(3),
            d.p(4)
        )
    };
    let r = conn
        .execute_raw(d.stmt(
            sql,
            vec![
                error.to_owned().into(),
                d.tv(at),
                d.tv(at),
                clerk_id.to_owned().into(),
            ],
        ))
        .await?;
    Ok(r.rows_affected() > 0)
}
