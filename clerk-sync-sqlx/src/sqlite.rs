//! SQLite: a single writer, the inbound write as one batch of statements, and connect options
//! that make a URL do what it says.
//!
//! SQLite allows one writer per database, and a transaction that starts as a reader and then
//! writes can fail with `SQLITE_BUSY` without waiting. So every write transaction begins with
//! `BEGIN IMMEDIATE` (the write lock up front, waiting up to the busy timeout), and within the
//! process writers wait for their turn in Tokio
//! ([`Backend::SERIAL_WRITES`](crate::backend::Backend::SERIAL_WRITES)) instead of in SQLite's
//! busy handler, which sleeps in steps of up to 100 ms. Inside that transaction nothing else
//! writes, which is what makes "read, then decide" exact without row locks.
//!
//! sqlx runs each SQLite connection on a thread of its own, and each statement is a round trip
//! to that thread: two context switches, which cost more than a small write. The shared
//! one-transaction `apply_inbound` (`ledger.rs`) takes six such trips inside the write turn;
//! the webhook path here sends its statements as one multi-statement query instead, inside the
//! same kind of sqlx transaction on a pool connection: three trips (`BEGIN IMMEDIATE`, the
//! statements, `COMMIT`). Every value is still a bound parameter. Everything else runs the
//! shared statements.

use std::str::FromStr;
use std::time::Duration;

use clerk_sync_core::store::{
    InboundApplied, InboundChange, StoreError, TombstoneOutcome, UpsertOutcome,
};
use sqlx::types::Json;
use sqlx::{FromRow, Sqlite};

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::backend::{Inbound, Store};
use crate::codec::Ts;
use crate::error::{map_sqlx, retry};
use crate::users::raw_json;

/// How [`crate::SqlxStore::connect`] opens a SQLite URL: the options, and the pool's.
///
/// - `sqlite:app.db` creates the file if it is missing, as `?mode=rwc` would; a URL that says
///   its own `mode=` keeps it (`mode=ro`, `mode=rw`).
/// - `sqlite:` and `sqlite::memory:` are one in-memory database shared by every connection of
///   the pool (sqlx names it and opens it in shared-cache mode), alive as long as the pool:
///   the pool keeps one connection open for ever.
/// - Every connection gets WAL, `synchronous = NORMAL`, a 5 s busy timeout and foreign keys.
pub(crate) fn options(url: &str) -> Result<(SqliteConnectOptions, SqlitePoolOptions), sqlx::Error> {
    let rest = url
        .get("sqlite:".len()..)
        .unwrap_or_default()
        .trim_start_matches("//");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let in_memory = path.is_empty() || path == ":memory:";
    let options = if in_memory {
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("?{query}")
        };
        SqliteConnectOptions::from_str(&format!("sqlite::memory:{query}"))?
    } else {
        SqliteConnectOptions::from_str(url)?
    };
    // A URL that names its own mode (`ro`, `rw`, `rwc`, `memory`) gets it.
    let says_mode = query.split('&').any(|pair| pair.starts_with("mode="));
    let options = if says_mode {
        options
    } else {
        options.create_if_missing(true)
    };
    let options = options
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true);
    let pool = if in_memory || query.split('&').any(|pair| pair == "mode=memory") {
        SqlitePoolOptions::new()
            .max_connections(4)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
    } else {
        SqlitePoolOptions::new().max_connections(8)
    };
    Ok((options, pool.acquire_timeout(Duration::from_secs(30))))
}

/// Whether the event is being processed now: its ledger row exists and is unprocessed, which
/// after the script's ledger write means it was no duplicate. Every write checks it, so a
/// duplicate changes nothing.
macro_rules! processing {
    () => {
        "EXISTS (SELECT 1 FROM clerk_webhook_events WHERE svix_id = $1 AND processed_at IS NULL)"
    };
}

/// The ledger row of the event, not yet processed, with `$outcome`: a new row, or an
/// unprocessed one from an earlier delivery; a processed one (a duplicate) is left alone.
/// Params $1 svix id, $2 event type, $3 object id, $4 received at, $5 payload.
macro_rules! ledger_open {
    ($outcome:expr) => {
        concat!(
            "INSERT INTO clerk_webhook_events AS l (svix_id, event_type, object_id, received_at, ",
            "payload, outcome) SELECT $1, $2, $3, $4, $5, ",
            $outcome,
            " WHERE true ON CONFLICT (svix_id) DO UPDATE SET outcome = excluded.outcome, ",
            "error = NULL WHERE l.processed_at IS NULL"
        )
    };
}

/// The last statement: the ledger row marked processed at $6 (now).
macro_rules! ledger_close {
    () => {
        "UPDATE clerk_webhook_events SET processed_at = $6 WHERE svix_id = $1 \
         AND processed_at IS NULL"
    };
}

/// What the upsert will do, read before anything is written (nothing else writes in the
/// transaction): `linked`, `inserted`, `deleted`, `updated` or `stale`, the cases of the rules
/// in order. Params $7 clerk id, $8 link email (NULL: no linking), $16 version.
macro_rules! upsert_label {
    () => {
        "(SELECT CASE \
           WHEN u.id IS NULL AND EXISTS (SELECT 1 FROM clerk_users c WHERE c.email = $8 \
             AND c.clerk_id IS NULL AND c.deleted_at IS NULL) THEN 'linked' \
           WHEN u.id IS NULL THEN 'inserted' \
           WHEN u.deleted_at IS NOT NULL THEN 'deleted' \
           WHEN u.clerk_updated_at IS NULL OR u.clerk_updated_at < $16 THEN 'updated' \
           ELSE 'stale' END \
         FROM (SELECT 1) LEFT JOIN clerk_users u ON u.clerk_id = $7)"
    };
}

/// The statements of an inbound upsert: the dedupe flag and the label; the ledger row opened
/// with the outcome the label earns; the link of the oldest live local row with the verified
/// email and no Clerk id; the conditional upsert; the ledger row closed. The link and the
/// upsert run only while the event is being processed, and the upsert finds the linked row by
/// its new Clerk id and leaves it (same version).
/// Params: $1-$6 as above; $7 clerk id, $8 link email, $9 email, $10 first name, $11 last
/// name, $12 username, $13 image url, $14 external id, $15 public metadata, $16 version,
/// $17 raw json.
const INBOUND_UPSERT: &str = concat!(
    "SELECT (SELECT processed_at IS NOT NULL FROM clerk_webhook_events WHERE svix_id = $1) ",
    "AS processed, ",
    upsert_label!(),
    " AS label; ",
    ledger_open!(concat!(
        "CASE WHEN ",
        upsert_label!(),
        " IN ('stale', 'deleted') THEN 'stale' ELSE 'applied' END"
    )),
    "; UPDATE clerk_users SET clerk_id = $7, email = $9, first_name = $10, last_name = $11, ",
    "username = $12, image_url = $13, external_id = $14, public_metadata = $15, ",
    "raw_json = $17, clerk_updated_at = $16, ",
    "sync_error = CASE WHEN sync_status = 'pending' THEN sync_error END, ",
    "sync_status = CASE WHEN sync_status = 'pending' THEN 'pending' ELSE 'synced' END, ",
    "updated_at = $6 WHERE id = (SELECT c.id FROM clerk_users c WHERE c.email = $8 ",
    "AND c.clerk_id IS NULL AND c.deleted_at IS NULL ORDER BY c.id LIMIT 1) ",
    "AND NOT EXISTS (SELECT 1 FROM clerk_users e WHERE e.clerk_id = $7) AND ",
    processing!(),
    "; INSERT INTO clerk_users (clerk_id, email, first_name, last_name, username, image_url, ",
    "external_id, public_metadata, raw_json, clerk_updated_at, sync_status, created_at, ",
    "updated_at) SELECT $7, $9, $10, $11, $12, $13, $14, $15, $17, $16, 'synced', $6, $6 WHERE ",
    processing!(),
    " ON CONFLICT (clerk_id) DO UPDATE SET email = excluded.email, ",
    "first_name = excluded.first_name, last_name = excluded.last_name, ",
    "username = excluded.username, image_url = excluded.image_url, ",
    "external_id = excluded.external_id, public_metadata = excluded.public_metadata, ",
    "raw_json = excluded.raw_json, clerk_updated_at = excluded.clerk_updated_at, ",
    "sync_status = CASE WHEN clerk_users.sync_status = 'pending' THEN 'pending' ELSE 'synced' END, ",
    "sync_error = CASE WHEN clerk_users.sync_status = 'pending' THEN clerk_users.sync_error END, ",
    "updated_at = excluded.updated_at WHERE (clerk_users.clerk_updated_at IS NULL ",
    "OR clerk_users.clerk_updated_at < excluded.clerk_updated_at) ",
    "AND clerk_users.deleted_at IS NULL; ",
    ledger_close!()
);

/// The statements of an inbound tombstone, shaped like [`INBOUND_UPSERT`]: $1-$6 as there;
/// $7 clerk id, $8 external id, $9 deleted at.
const INBOUND_TOMBSTONE: &str = concat!(
    "SELECT (SELECT processed_at IS NOT NULL FROM clerk_webhook_events WHERE svix_id = $1) ",
    "AS processed, CASE WHEN EXISTS (SELECT 1 FROM clerk_users WHERE clerk_id = $7 ",
    "AND deleted_at IS NOT NULL) THEN 'already_deleted' ELSE 'deleted' END AS label; ",
    ledger_open!(
        "CASE WHEN EXISTS (SELECT 1 FROM clerk_users WHERE clerk_id = $7 \
         AND deleted_at IS NOT NULL) THEN 'stale' ELSE 'applied' END"
    ),
    "; INSERT INTO clerk_users (clerk_id, external_id, deleted_at, sync_status, created_at, ",
    "updated_at) SELECT $7, $8, $9, 'synced', $6, $6 WHERE ",
    processing!(),
    " ON CONFLICT (clerk_id) DO UPDATE SET deleted_at = excluded.deleted_at, ",
    "external_id = excluded.external_id, email = NULL, first_name = NULL, last_name = NULL, ",
    "username = NULL, image_url = NULL, public_metadata = NULL, raw_json = NULL, ",
    "clerk_updated_at = NULL, sync_status = 'synced', sync_error = NULL, ",
    "updated_at = excluded.updated_at WHERE clerk_users.deleted_at IS NULL; ",
    ledger_close!()
);

/// The statements of a ledger-only event: $1-$6 as there.
const INBOUND_LEDGER_ONLY: &str = concat!(
    "SELECT (SELECT processed_at IS NOT NULL FROM clerk_webhook_events WHERE svix_id = $1) ",
    "AS processed, 'ledger_only' AS label; ",
    ledger_open!("'ignored'"),
    "; ",
    ledger_close!()
);

/// The first statement's row: whether the event was processed before, and what the write
/// will do.
#[derive(FromRow)]
struct Plan {
    processed: Option<bool>,
    label: String,
}

impl Store<Sqlite> {
    /// `apply_inbound` as one multi-statement query in one `BEGIN IMMEDIATE` transaction.
    /// `None` for a kind of change newer than this crate, which the caller applies step by
    /// step.
    pub(crate) async fn apply_inbound_batch(
        &self,
        inbound: Inbound<'_>,
    ) -> Result<Option<InboundApplied>, StoreError> {
        let e = inbound.entry;
        let script = match inbound.change {
            InboundChange::Upsert(record) => {
                raw_json(record)?;
                INBOUND_UPSERT
            }
            InboundChange::Tombstone(_) => INBOUND_TOMBSTONE,
            InboundChange::LedgerOnly => INBOUND_LEDGER_ONLY,
            _ => return Ok(None),
        };
        let rows = retry!(
            rerun,
            async {
                let mut w = self.begin().await?;
                let mut query = sqlx::query(script)
                    .bind(e.svix_id)
                    .bind(e.event_type)
                    .bind(e.object_id)
                    .bind(Ts::new(e.received_at))
                    .bind(e.payload)
                    .bind(inbound.now);
                match inbound.change {
                    InboundChange::Upsert(r) => {
                        query = query
                            .bind(r.clerk_id.as_str())
                            .bind(r.link_email.as_deref())
                            .bind(r.email.as_deref())
                            .bind(r.first_name.as_deref())
                            .bind(r.last_name.as_deref())
                            .bind(r.username.as_deref())
                            .bind(r.image_url.as_deref())
                            .bind(r.external_id.as_deref())
                            .bind(r.public_metadata.as_ref().map(Json))
                            .bind(r.clerk_updated_at)
                            .bind(r.raw_json.as_str());
                    }
                    InboundChange::Tombstone(t) => {
                        query = query
                            .bind(t.clerk_id.as_str())
                            .bind(t.external_id.as_deref())
                            .bind(Ts::new(t.deleted_at));
                    }
                    _ => {}
                }
                // Fetched to the end: every statement after the first row must run too.
                let rows = query.fetch_all(&mut *w.tx).await?;
                w.tx.commit().await?;
                Ok(rows)
            }
            .await
        )
        .map_err(map_sqlx)?;
        let plan = rows
            .first()
            .map(Plan::from_row)
            .transpose()
            .map_err(map_sqlx)?
            .ok_or_else(|| StoreError::InvalidData {
                what: "inbound write result".to_owned(),
            })?;
        if plan.processed == Some(true) {
            return Ok(Some(InboundApplied::Duplicate));
        }
        let upsert = matches!(inbound.change, InboundChange::Upsert(_));
        Ok(Some(match (upsert, plan.label.as_str()) {
            (true, "linked") => InboundApplied::Upsert(UpsertOutcome::Linked),
            (true, "inserted") => InboundApplied::Upsert(UpsertOutcome::Inserted),
            (true, "updated") => InboundApplied::Upsert(UpsertOutcome::Updated),
            (true, "deleted") => InboundApplied::Upsert(UpsertOutcome::Deleted),
            (true, "stale") => InboundApplied::Upsert(UpsertOutcome::Stale),
            (false, "deleted") => InboundApplied::Tombstone(TombstoneOutcome::Deleted),
            (false, "already_deleted") => {
                InboundApplied::Tombstone(TombstoneOutcome::AlreadyDeleted)
            }
            (false, "ledger_only") => InboundApplied::LedgerOnly,
            _ => {
                return Err(StoreError::InvalidData {
                    what: "inbound write label".to_owned(),
                });
            }
        }))
    }
}
