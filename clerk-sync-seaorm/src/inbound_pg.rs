//! `apply_inbound` on PostgreSQL as one statement.
//!
//! The generic path (a transaction of ledger insert, link attempt in a savepoint, upsert and
//! mark processed) costs eight round trips per webhook, which dominated the throughput at
//! concurrency. PostgreSQL can run all of it as data-modifying CTEs of one autocommit statement:
//! atomic like the transaction, one round trip. The CTEs share one snapshot and cannot see each
//! other's writes, so the ledger is checked first (`go`) and written last, already processed,
//! with the outcome of the writes before it.

use clerk_sync_core::store::{
    ClerkUserRecord, InboundApplied, NewLedgerEntry, Tombstone, TombstoneOutcome, UpsertOutcome,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Value};
use time::OffsetDateTime;

use crate::sql::{Dialect, sv};
use crate::users::record_values;

/// Whether the event may be applied: its `svix-id` was not processed before.
const GO: &str = "go AS (SELECT NOT EXISTS (SELECT 1 FROM clerk_webhook_events \
    WHERE svix_id = $LEDGER AND processed_at IS NOT NULL) AS ok)";

/// Insert the ledger row as processed with `$OUTCOME`, or mark an unprocessed one (a delivery
/// whose hooks failed earlier). Concurrent deliveries of one `svix-id` both pass `go`; the
/// second write then finds the row processed and leaves it, and its apply was a no-op.
const MARK: &str = "mark AS (INSERT INTO clerk_webhook_events (svix_id, event_type, object_id, \
    received_at, payload, processed_at, outcome) \
    SELECT $LEDGER, $TYPE, $OBJECT, $RECEIVED, $PAYLOAD, $NOW, $OUTCOME WHERE (SELECT ok FROM go) \
    ON CONFLICT (svix_id) DO UPDATE SET processed_at = excluded.processed_at, \
    outcome = excluded.outcome, error = NULL \
    WHERE clerk_webhook_events.processed_at IS NULL)";

/// The overwrite of `upsert_user`; `pending` rows keep their state and error.
const OVERWRITE: &str = "email = $2, first_name = $3, last_name = $4, username = $5, \
    image_url = $6, external_id = $7, public_metadata = CAST($8 AS JSONB), \
    raw_json = CAST($9 AS JSONB), clerk_updated_at = $10, updated_at = $11, \
    sync_error = CASE WHEN clerk_users.sync_status = 'pending' THEN clerk_users.sync_error END, \
    sync_status = CASE WHEN clerk_users.sync_status = 'pending' THEN 'pending' ELSE 'synced' END";

fn ledger_params(sql: &str, first: usize, now: &str) -> String {
    sql.replace("$LEDGER", &format!("${first}"))
        .replace("$TYPE", &format!("${}", first + 1))
        .replace("$OBJECT", &format!("${}", first + 2))
        .replace("$RECEIVED", &format!("${}", first + 3))
        .replace("$PAYLOAD", &format!("${}", first + 4))
        .replace("$NOW", now)
}

fn ledger_values(d: Dialect, e: &NewLedgerEntry<'_>) -> Vec<Value> {
    vec![
        e.svix_id.to_owned().into(),
        e.event_type.to_owned().into(),
        sv(e.object_id),
        d.tv(e.received_at),
        e.payload.to_owned().into(),
    ]
}

fn upsert_statement() -> String {
    // $1..$11 record and now, $12 link email, $13..$17 ledger.
    let link = format!(
        "link AS (UPDATE clerk_users SET clerk_id = $1, {OVERWRITE} \
         WHERE (SELECT ok FROM go) AND $12::text IS NOT NULL \
         AND id = (SELECT l.id FROM clerk_users l WHERE l.email = $12 AND l.clerk_id IS NULL \
         AND l.deleted_at IS NULL ORDER BY l.id LIMIT 1) \
         AND clerk_id IS NULL AND deleted_at IS NULL \
         AND NOT EXISTS (SELECT 1 FROM clerk_users c WHERE c.clerk_id = $1) RETURNING id)"
    );
    let up = format!(
        "up AS (INSERT INTO clerk_users (clerk_id, email, first_name, last_name, username, \
         image_url, external_id, public_metadata, raw_json, clerk_updated_at, sync_status, \
         created_at, updated_at) \
         SELECT $1, $2, $3, $4, $5, $6, $7, CAST($8 AS JSONB), CAST($9 AS JSONB), $10, 'synced', $11, $11 \
         WHERE (SELECT ok FROM go) AND NOT EXISTS (SELECT 1 FROM link) \
         ON CONFLICT (clerk_id) DO UPDATE SET {OVERWRITE} \
         WHERE clerk_users.deleted_at IS NULL AND (clerk_users.clerk_updated_at IS NULL \
         OR clerk_users.clerk_updated_at < excluded.clerk_updated_at) \
         RETURNING (xmax = 0) AS inserted)"
    );
    let mark = ledger_params(MARK, 13, "$11").replace(
        "$OUTCOME",
        "CASE WHEN EXISTS (SELECT 1 FROM link) OR EXISTS (SELECT 1 FROM up) \
         THEN 'applied' ELSE 'stale' END",
    );
    // `deleted` reads the snapshot from before the statement: enough to tell a tombstone
    // (terminal) from a stale version when neither write happened.
    format!(
        "WITH {}, {link}, {up}, {mark} SELECT (SELECT ok FROM go) AS fresh, \
         EXISTS (SELECT 1 FROM link) AS linked, (SELECT inserted FROM up) AS inserted, \
         EXISTS (SELECT 1 FROM clerk_users WHERE clerk_id = $1 AND deleted_at IS NOT NULL) AS deleted",
        GO.replace("$LEDGER", "$13"),
    )
}

fn tombstone_statement() -> String {
    // $1 clerk_id, $2 external_id, $3 deleted_at, $4 now, $5..$9 ledger.
    let tomb = "tomb AS (INSERT INTO clerk_users (clerk_id, external_id, deleted_at, sync_status, \
        created_at, updated_at) SELECT $1, $2, $3, 'synced', $4, $4 WHERE (SELECT ok FROM go) \
        ON CONFLICT (clerk_id) DO UPDATE SET email = NULL, first_name = NULL, last_name = NULL, \
        username = NULL, image_url = NULL, external_id = excluded.external_id, \
        public_metadata = NULL, raw_json = NULL, clerk_updated_at = NULL, \
        deleted_at = excluded.deleted_at, sync_status = 'synced', sync_error = NULL, \
        updated_at = excluded.updated_at WHERE clerk_users.deleted_at IS NULL RETURNING 1)";
    let mark = ledger_params(MARK, 5, "$4").replace(
        "$OUTCOME",
        "CASE WHEN EXISTS (SELECT 1 FROM tomb) THEN 'applied' ELSE 'stale' END",
    );
    format!(
        "WITH {}, {tomb}, {mark} SELECT (SELECT ok FROM go) AS fresh, \
         EXISTS (SELECT 1 FROM tomb) AS deleted",
        GO.replace("$LEDGER", "$5"),
    )
}

fn ledger_only_statement() -> String {
    // $1..$5 ledger, $6 now.
    let mark = ledger_params(MARK, 1, "$6").replace("$OUTCOME", "'ignored'");
    format!(
        "WITH {}, {mark} SELECT (SELECT ok FROM go) AS fresh",
        GO.replace("$LEDGER", "$1")
    )
}

/// A conditional upsert with its ledger entry, in one statement.
pub(crate) async fn upsert(
    d: Dialect,
    db: &DatabaseConnection,
    e: &NewLedgerEntry<'_>,
    record: &ClerkUserRecord,
    metadata: Option<String>,
    now: OffsetDateTime,
) -> Result<InboundApplied, DbErr> {
    let mut values = record_values(d, record, metadata, now);
    values.push(sv(record.link_email.as_deref()));
    values.extend(ledger_values(d, e));
    let row = db
        .query_one_raw(d.stmt(upsert_statement(), values))
        .await?
        .ok_or_else(|| DbErr::Custom("inbound statement returned no row".to_owned()))?;
    if !row.try_get::<bool>("", "fresh")? {
        return Ok(InboundApplied::Duplicate);
    }
    let outcome = if row.try_get::<bool>("", "linked")? {
        UpsertOutcome::Linked
    } else {
        match row.try_get::<Option<bool>>("", "inserted")? {
            Some(true) => UpsertOutcome::Inserted,
            Some(false) => UpsertOutcome::Updated,
            None if row.try_get::<bool>("", "deleted")? => UpsertOutcome::Deleted,
            None => UpsertOutcome::Stale,
        }
    };
    Ok(InboundApplied::Upsert(outcome))
}

/// A tombstone with its ledger entry, in one statement.
pub(crate) async fn tombstone(
    d: Dialect,
    db: &DatabaseConnection,
    e: &NewLedgerEntry<'_>,
    t: &Tombstone,
    now: OffsetDateTime,
) -> Result<InboundApplied, DbErr> {
    let mut values = vec![
        t.clerk_id.clone().into(),
        sv(t.external_id.as_deref()),
        d.tv(t.deleted_at),
        d.tv(now),
    ];
    values.extend(ledger_values(d, e));
    let row = db
        .query_one_raw(d.stmt(tombstone_statement(), values))
        .await?
        .ok_or_else(|| DbErr::Custom("inbound statement returned no row".to_owned()))?;
    if !row.try_get::<bool>("", "fresh")? {
        return Ok(InboundApplied::Duplicate);
    }
    Ok(InboundApplied::Tombstone(
        if row.try_get::<bool>("", "deleted")? {
            TombstoneOutcome::Deleted
        } else {
            TombstoneOutcome::AlreadyDeleted
        },
    ))
}

/// A ledger-only event, in one statement.
pub(crate) async fn ledger_only(
    d: Dialect,
    db: &DatabaseConnection,
    e: &NewLedgerEntry<'_>,
    now: OffsetDateTime,
) -> Result<InboundApplied, DbErr> {
    let mut values = ledger_values(d, e);
    values.push(d.tv(now));
    let row = db
        .query_one_raw(d.stmt(ledger_only_statement(), values))
        .await?
        .ok_or_else(|| DbErr::Custom("inbound statement returned no row".to_owned()))?;
    Ok(if row.try_get::<bool>("", "fresh")? {
        InboundApplied::LedgerOnly
    } else {
        InboundApplied::Duplicate
    })
}
