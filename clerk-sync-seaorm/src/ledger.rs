//! The webhook ledger.

use clerk_sync_core::store::{LedgerInsert, LedgerOutcome, NewLedgerEntry};
use sea_orm::{ConnectionTrait, DbErr};
use time::OffsetDateTime;

use crate::error::is_unique_violation;
use crate::sql::{Dialect, sv};

/// Insert-if-absent by `svix_id`.
pub(crate) async fn insert<C: ConnectionTrait>(
    d: Dialect,
    conn: &C,
    e: &NewLedgerEntry<'_>,
) -> Result<LedgerInsert, DbErr> {
    let values = vec![
        e.svix_id.to_owned().into(),
        e.event_type.to_owned().into(),
        sv(e.object_id),
        d.tv(e.received_at),
        e.payload.to_owned().into(),
    ];
    let inserted = if d.is_mysql() {
        // `INSERT IGNORE` would also swallow truncation and other errors, and `ON DUPLICATE
        // KEY UPDATE` reports 1 both for an insert and (CLIENT_FOUND_ROWS) for a no-op; a
        // duplicate key only rolls back this statement, not the caller's transaction.
        match conn
            .execute_raw(d.stmt(
                "INSERT INTO clerk_webhook_events (svix_id, event_type, object_id, received_at, payload) \
                 VALUES (?, ?, ?, ?, ?)",
                values,
            ))
            .await
        {
            Ok(_) => true,
            Err(err) if is_unique_violation(&err) => false,
            Err(err) => return Err(err),
        }
    } else {
        let sql = format!(
            "INSERT INTO clerk_webhook_events (svix_id, event_type, object_id, received_at, payload) \
             VALUES ({}, {}, {}, {}, {}) ON CONFLICT (svix_id) DO NOTHING",
            d.p(1),
            d.p(2),
            d.p(3),
            d.p(4),
            d.p(5)
        );
        conn.execute_raw(d.stmt(sql, values)).await?.rows_affected() == 1
    };
    if inserted {
        return Ok(LedgerInsert::Inserted);
    }
    let row = conn
        .query_one_raw(d.stmt(
            format!(
                "SELECT processed_at FROM clerk_webhook_events WHERE svix_id = {}",
                if d.is_mysql() { "?".to_owned() } else { d.p(1) }
            ),
            vec![e.svix_id.to_owned().into()],
        ))
        .await?;
    let processed = match row {
        Some(row) => row
            .try_get::<Option<OffsetDateTime>>("", "processed_at")?
            .is_some(),
        // Pruned between the two statements: process it again; the conditional write makes
        // that harmless.
        None => false,
    };
    Ok(LedgerInsert::Exists { processed })
}

/// Record how processing ended. A missing entry (pruned meanwhile) is not an error: the change
/// itself is already committed.
pub(crate) async fn mark_processed<C: ConnectionTrait>(
    d: Dialect,
    conn: &C,
    svix_id: &str,
    outcome: LedgerOutcome,
    error: Option<&str>,
    at: OffsetDateTime,
) -> Result<(), DbErr> {
    let sql = if d.is_mysql() {
        "UPDATE clerk_webhook_events SET processed_at = ?, outcome = ?, error = ? WHERE svix_id = ?"
            .to_owned()
    } else {
        format!(
            "UPDATE clerk_webhook_events SET processed_at = {}, outcome = {}, error = {} WHERE svix_id = {}",
            d.p(1),
            d.p(2),
            d.p(3),
            d.p(4)
        )
    };
    conn.execute_raw(d.stmt(
        sql,
        vec![
            d.tv(at),
            outcome.as_str().to_owned().into(),
            sv(error),
            svix_id.to_owned().into(),
        ],
    ))
    .await?;
    Ok(())
}
