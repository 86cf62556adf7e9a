//! `apply_batch`: reconcile and backfill in bulk statements.
//!
//! Records travel as one JSON array parameter per chunk and are expanded in SQL
//! (`json_to_recordset` on PostgreSQL, `JSON_TABLE` on MySQL/MariaDB, `json_each` on SQLite):
//! one parameter regardless of chunk size, and the same statement text every time, so the
//! prepared statement is reused. The version guard is the one `upsert_user` uses.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use clerk_sync_core::store::{BatchOutcome, ClerkUserRecord, StoreError, UpsertOutcome};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, TransactionTrait};
use serde_json::{Map, Value as Json};
use time::OffsetDateTime;

use crate::error::{is_conflict, map_db_err};
use crate::sql::Dialect;
use crate::users;

/// Records per statement: large enough to amortize the round trip, small enough that one
/// chunk's transaction holds its locks only briefly.
const CHUNK: usize = 1000;

const RETRIES: u32 = 8;

pub(crate) async fn apply_batch(
    d: Dialect,
    db: &DatabaseConnection,
    records: &[ClerkUserRecord],
    now: OffsetDateTime,
) -> Result<BatchOutcome, StoreError> {
    let mut outcome = BatchOutcome::default();
    // One statement cannot touch a row twice (PostgreSQL refuses), so a user listed several
    // times is applied in rounds: round k holds the k-th record of every user, in batch order.
    // That keeps the outcome counts and the final rows exactly those of applying the records
    // one by one.
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(records.len());
    let mut rounds: Vec<Vec<usize>> = Vec::new();
    for (i, r) in records.iter().enumerate() {
        users::validate(r)?;
        let k = seen.entry(r.clerk_id.as_str()).or_insert(0);
        if rounds.len() <= *k {
            rounds.push(Vec::new());
        }
        rounds[*k].push(i);
        *k += 1;
    }
    for round in &rounds {
        apply_round(d, db, records, round, now, &mut outcome).await?;
    }
    Ok(outcome)
}

async fn apply_round(
    d: Dialect,
    db: &DatabaseConnection,
    records: &[ClerkUserRecord],
    chosen: &[usize],
    now: OffsetDateTime,
    outcome: &mut BatchOutcome,
) -> Result<(), StoreError> {
    for chunk in chosen.chunks(CHUNK) {
        let chunk: Vec<&ClerkUserRecord> = chunk.iter().map(|&i| &records[i]).collect();
        let mut attempt = 0;
        let counts = loop {
            match apply_chunk(d, db, &chunk, now).await {
                Err(e) if is_conflict(&e) && attempt < RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(2u64 << attempt.min(6))).await;
                }
                other => break other.map_err(map_db_err)?,
            }
        };
        outcome.inserted += counts.inserted;
        outcome.updated += counts.updated;
        outcome.unchanged += counts.unchanged;
    }
    Ok(())
}

async fn apply_chunk(
    d: Dialect,
    db: &DatabaseConnection,
    chunk: &[&ClerkUserRecord],
    now: OffsetDateTime,
) -> Result<BatchOutcome, DbErr> {
    let mut outcome = BatchOutcome::default();
    let txn = db.begin().await?;

    // Records that may link (rule 1 of upsert_user) take the single-record path, which knows
    // how; only those whose email matches a linkable row, so the bulk path stays bulk.
    let emails: Vec<&str> = chunk
        .iter()
        .filter_map(|r| r.link_email.as_deref())
        .collect();
    let linkable = linkable_emails(d, &txn, &emails).await?;
    let mut bulk = Vec::with_capacity(chunk.len());
    for r in chunk {
        match r.link_email.as_deref() {
            Some(email) if linkable.contains(email) => {
                let metadata = r.public_metadata.as_ref().map(Json::to_string);
                match users::upsert(d, &txn, r, metadata, now).await? {
                    UpsertOutcome::Inserted => outcome.inserted += 1,
                    UpsertOutcome::Updated | UpsertOutcome::Linked => outcome.updated += 1,
                    _ => outcome.unchanged += 1,
                }
            }
            _ => bulk.push(*r),
        }
    }
    if !bulk.is_empty() {
        let doc = Json::Array(bulk.iter().map(|r| record_json(r)).collect()).to_string();
        let n = bulk.len() as u64;
        let (inserted, updated) = if d.is_pg() {
            let rows = txn
                .query_all_raw(d.stmt(PG_UPSERT, vec![doc.into(), d.tv(now)]))
                .await?;
            let mut inserted = 0;
            for row in &rows {
                if row.try_get::<bool>("", "inserted")? {
                    inserted += 1;
                }
            }
            (inserted, rows.len() as u64 - inserted)
        } else if d.is_mysql() {
            let inserted = txn
                .execute_raw(d.stmt(
                    mysql_insert(),
                    vec![d.tv(now), d.tv(now), doc.clone().into()],
                ))
                .await?
                .rows_affected();
            // sqlx sets CLIENT_FOUND_ROWS, so this counts rows matching the guard: the updates.
            let updated = txn
                .execute_raw(d.stmt(mysql_update(), vec![doc.into(), d.tv(now)]))
                .await?
                .rows_affected();
            (inserted, updated)
        } else {
            let inserted = txn
                .execute_raw(d.stmt(SQLITE_INSERT, vec![doc.clone().into(), d.tv(now)]))
                .await?
                .rows_affected();
            let updated = txn
                .execute_raw(d.stmt(SQLITE_UPDATE, vec![doc.into(), d.tv(now)]))
                .await?
                .rows_affected();
            (inserted, updated)
        };
        outcome.inserted += inserted;
        outcome.updated += updated;
        outcome.unchanged += n.saturating_sub(inserted + updated);
    }
    txn.commit().await?;
    Ok(outcome)
}

/// The emails among `emails` held by a live row without a Clerk id.
async fn linkable_emails<C: ConnectionTrait>(
    d: Dialect,
    conn: &C,
    emails: &[&str],
) -> Result<HashSet<String>, DbErr> {
    let mut found = HashSet::new();
    if emails.is_empty() {
        return Ok(found);
    }
    let marks: Vec<String> = (1..=emails.len())
        .map(|n| if d.is_mysql() { "?".to_owned() } else { d.p(n) })
        .collect();
    let rows = conn
        .query_all_raw(d.stmt(
            format!(
                "SELECT DISTINCT email FROM clerk_users WHERE clerk_id IS NULL \
                 AND deleted_at IS NULL AND email IN ({})",
                marks.join(", ")
            ),
            emails.iter().map(|e| (*e).to_owned().into()).collect(),
        ))
        .await?;
    for row in rows {
        found.insert(row.try_get::<String>("", "email")?);
    }
    Ok(found)
}

/// One record as a JSON object; absent optional fields are left out (SQL `NULL` on every
/// dialect), nested JSON travels as text so each dialect casts it the same way.
fn record_json(r: &ClerkUserRecord) -> Json {
    let mut m = Map::new();
    m.insert("clerk_id".into(), r.clerk_id.clone().into());
    let mut opt = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            m.insert(k.into(), v.clone().into());
        }
    };
    opt("email", &r.email);
    opt("first_name", &r.first_name);
    opt("last_name", &r.last_name);
    opt("username", &r.username);
    opt("image_url", &r.image_url);
    opt("external_id", &r.external_id);
    opt(
        "public_metadata",
        &r.public_metadata.as_ref().map(Json::to_string),
    );
    m.insert("raw_json".into(), r.raw_json.clone().into());
    m.insert("clerk_updated_at".into(), r.clerk_updated_at.into());
    Json::Object(m)
}

const PG_UPSERT: &str = "INSERT INTO clerk_users (clerk_id, email, first_name, last_name, \
    username, image_url, external_id, public_metadata, raw_json, clerk_updated_at, sync_status, \
    created_at, updated_at) \
    SELECT r.clerk_id, r.email, r.first_name, r.last_name, r.username, r.image_url, \
    r.external_id, CAST(r.public_metadata AS JSONB), CAST(r.raw_json AS JSONB), \
    r.clerk_updated_at, 'synced', $2, $2 \
    FROM json_to_recordset(CAST($1 AS JSON)) AS r(clerk_id TEXT, email TEXT, first_name TEXT, \
    last_name TEXT, username TEXT, image_url TEXT, external_id TEXT, public_metadata TEXT, \
    raw_json TEXT, clerk_updated_at BIGINT) \
    ON CONFLICT (clerk_id) DO UPDATE SET email = excluded.email, \
    first_name = excluded.first_name, last_name = excluded.last_name, \
    username = excluded.username, image_url = excluded.image_url, \
    external_id = excluded.external_id, public_metadata = excluded.public_metadata, \
    raw_json = excluded.raw_json, clerk_updated_at = excluded.clerk_updated_at, \
    updated_at = excluded.updated_at, \
    sync_error = CASE WHEN clerk_users.sync_status = 'pending' THEN clerk_users.sync_error END, \
    sync_status = CASE WHEN clerk_users.sync_status = 'pending' THEN 'pending' ELSE 'synced' END \
    WHERE clerk_users.deleted_at IS NULL AND (clerk_users.clerk_updated_at IS NULL \
    OR clerk_users.clerk_updated_at < excluded.clerk_updated_at) \
    RETURNING (xmax = 0) AS inserted";

const MYSQL_TABLE: &str = "JSON_TABLE(?, '$[*]' COLUMNS (\
    clerk_id VARCHAR(255) PATH '$.clerk_id', email VARCHAR(320) PATH '$.email', \
    first_name LONGTEXT PATH '$.first_name', last_name LONGTEXT PATH '$.last_name', \
    username LONGTEXT PATH '$.username', image_url LONGTEXT PATH '$.image_url', \
    external_id LONGTEXT PATH '$.external_id', public_metadata LONGTEXT PATH '$.public_metadata', \
    raw_json LONGTEXT PATH '$.raw_json', clerk_updated_at BIGINT PATH '$.clerk_updated_at')) AS j";

// JSON_TABLE columns take the connection's collation; comparing under the table's
// `utf8mb4_bin` keeps Clerk ids case-sensitive and avoids a collation-mix error.
fn mysql_insert() -> String {
    format!(
        "INSERT INTO clerk_users (clerk_id, email, first_name, last_name, username, image_url, \
         external_id, public_metadata, raw_json, clerk_updated_at, sync_status, created_at, updated_at) \
         SELECT j.clerk_id, j.email, j.first_name, j.last_name, j.username, j.image_url, \
         j.external_id, j.public_metadata, j.raw_json, j.clerk_updated_at, 'synced', ?, ? \
         FROM {MYSQL_TABLE} \
         WHERE NOT EXISTS (SELECT 1 FROM clerk_users u WHERE u.clerk_id = j.clerk_id COLLATE utf8mb4_bin)"
    )
}

// Multi-table UPDATE has no defined assignment order; none of these reads a column another
// assigns in a way that matters (`sync_error` and `sync_status` agree either way).
fn mysql_update() -> String {
    format!(
        "UPDATE clerk_users u JOIN {MYSQL_TABLE} ON u.clerk_id = j.clerk_id COLLATE utf8mb4_bin \
         SET u.email = j.email, u.first_name = j.first_name, u.last_name = j.last_name, \
         u.username = j.username, u.image_url = j.image_url, u.external_id = j.external_id, \
         u.public_metadata = j.public_metadata, u.raw_json = j.raw_json, u.updated_at = ?, \
         u.sync_error = IF(u.sync_status = 'pending', u.sync_error, NULL), \
         u.sync_status = IF(u.sync_status = 'pending', 'pending', 'synced'), \
         u.clerk_updated_at = j.clerk_updated_at \
         WHERE u.deleted_at IS NULL AND (u.clerk_updated_at IS NULL OR u.clerk_updated_at < j.clerk_updated_at)"
    )
}

/// The chunk's records as rows (a macro, because `concat!` takes literals only).
macro_rules! sqlite_rows {
    () => {
        "SELECT json_extract(value, '$.clerk_id') AS clerk_id, \
    json_extract(value, '$.email') AS email, json_extract(value, '$.first_name') AS first_name, \
    json_extract(value, '$.last_name') AS last_name, json_extract(value, '$.username') AS username, \
    json_extract(value, '$.image_url') AS image_url, \
    json_extract(value, '$.external_id') AS external_id, \
    json_extract(value, '$.public_metadata') AS public_metadata, \
    json_extract(value, '$.raw_json') AS raw_json, \
    json_extract(value, '$.clerk_updated_at') AS clerk_updated_at FROM json_each(?1)"
    };
}

// `WHERE true` keeps SQLite from reading `ON CONFLICT` as a join constraint of the SELECT.
const SQLITE_INSERT: &str = concat!(
    "INSERT INTO clerk_users (clerk_id, email, first_name, last_name, username, image_url, \
     external_id, public_metadata, raw_json, clerk_updated_at, sync_status, created_at, updated_at) \
     SELECT clerk_id, email, first_name, last_name, username, image_url, external_id, \
     public_metadata, raw_json, clerk_updated_at, 'synced', ?2, ?2 FROM (",
    sqlite_rows!(),
    ") WHERE true ON CONFLICT (clerk_id) DO NOTHING"
);

const SQLITE_UPDATE: &str = concat!(
    "UPDATE clerk_users SET email = j.email, first_name = j.first_name, last_name = j.last_name, \
     username = j.username, image_url = j.image_url, external_id = j.external_id, \
     public_metadata = j.public_metadata, raw_json = j.raw_json, \
     clerk_updated_at = j.clerk_updated_at, updated_at = ?2, \
     sync_error = CASE WHEN clerk_users.sync_status = 'pending' THEN clerk_users.sync_error END, \
     sync_status = CASE WHEN clerk_users.sync_status = 'pending' THEN 'pending' ELSE 'synced' END \
     FROM (",
    sqlite_rows!(),
    ") AS j WHERE clerk_users.clerk_id = j.clerk_id AND clerk_users.deleted_at IS NULL \
     AND (clerk_users.clerk_updated_at IS NULL OR clerk_users.clerk_updated_at < j.clerk_updated_at)"
);
