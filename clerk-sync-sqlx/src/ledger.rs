//! The webhook ledger's statements, which every dialect runs alike. (`apply_inbound`, which
//! writes the ledger row with the change, has a form of its own on each dialect.)

use clerk_sync_core::store::{
    LedgerEntry, LedgerInsert, LedgerOutcome, LedgerQuery, NewLedgerEntry, StoreError,
};
use serde_json::Value;
use serde_json::value::RawValue;
use sqlx::types::Json;
use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};
use time::OffsetDateTime;

use crate::backend::{Backend, Store, statement};
use crate::codec::Ts;
use crate::error::{is_duplicate, map_sqlx};
use crate::rows::{
    CountsRow, Existing, Flag, HeldRow, Int, LeaseRow, LedgerRow, OutboxRow, RunRow, UserRow,
    VersionRow, ledger_columns,
};
use crate::users::MAX_PAGE;

impl<DB> Store<DB>
where
    DB: Backend,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Type<DB>,
    for<'q> Ts: Encode<'q, DB> + Type<DB>,
    for<'q> Option<Ts>: Encode<'q, DB> + Type<DB>,
    for<'q> Json<&'q Value>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<Json<&'q Value>>: Encode<'q, DB> + Type<DB>,
    for<'q> Json<&'q RawValue>: Encode<'q, DB> + Type<DB>,
    for<'r> UserRow: FromRow<'r, DB::Row>,
    for<'r> VersionRow: FromRow<'r, DB::Row>,
    for<'r> CountsRow: FromRow<'r, DB::Row>,
    for<'r> Existing: FromRow<'r, DB::Row>,
    for<'r> LedgerRow: FromRow<'r, DB::Row>,
    for<'r> OutboxRow: FromRow<'r, DB::Row>,
    for<'r> HeldRow: FromRow<'r, DB::Row>,
    for<'r> LeaseRow: FromRow<'r, DB::Row>,
    for<'r> RunRow: FromRow<'r, DB::Row>,
    for<'r> Flag: FromRow<'r, DB::Row>,
    for<'r> Int: FromRow<'r, DB::Row>,
    for<'r> (String,): FromRow<'r, DB::Row>,
{
    /// Insert-if-absent by the primary key: a duplicate `svix_id` fails the insert, and then
    /// the stored row says whether it was processed.
    pub(crate) async fn ledger_insert(
        &self,
        e: &NewLedgerEntry<'_>,
    ) -> Result<LedgerInsert, StoreError> {
        const INSERT: &str = "INSERT INTO clerk_webhook_events (svix_id, event_type, object_id, \
             received_at, payload) VALUES (?, ?, ?, ?, ?)";
        let inserted = {
            let _turn = self.turn().await;
            sqlx::query(statement::<DB>(INSERT))
                .bind(e.svix_id)
                .bind(e.event_type)
                .bind(e.object_id)
                .bind(Ts::new(e.received_at))
                .bind(e.payload)
                .execute(&self.pool)
                .await
        };
        match inserted {
            Ok(_) => Ok(LedgerInsert::Inserted),
            Err(err) if is_duplicate(&err) => {
                let prior = self.processed(e.svix_id).await?;
                Ok(LedgerInsert::Exists {
                    // Gone again already (pruned): nothing says it was processed.
                    processed: prior.and_then(|p| p.flag).unwrap_or(false),
                })
            }
            Err(err) => Err(map_sqlx(err)),
        }
    }

    async fn processed(&self, svix_id: &str) -> Result<Option<Flag>, StoreError> {
        const SQL: &str = "SELECT processed_at IS NOT NULL AS flag FROM clerk_webhook_events \
             WHERE svix_id = ?";
        sqlx::query_as::<_, Flag>(statement::<DB>(SQL))
            .bind(svix_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_sqlx)
    }

    /// A missing entry (pruned between insert and now) is not worth failing a webhook for: the
    /// change itself is already committed.
    pub(crate) async fn ledger_mark_processed(
        &self,
        svix_id: &str,
        outcome: LedgerOutcome,
        error: Option<&str>,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        const SQL: &str = "UPDATE clerk_webhook_events SET processed_at = ?, outcome = ?, \
             error = ? WHERE svix_id = ?";
        let _turn = self.turn().await;
        sqlx::query(statement::<DB>(SQL))
            .bind(Ts::new(at))
            .bind(outcome.as_str())
            .bind(error)
            .bind(svix_id)
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(())
    }

    pub(crate) async fn ledger_get(
        &self,
        svix_id: &str,
    ) -> Result<Option<LedgerEntry>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            ledger_columns!(),
            ", payload FROM clerk_webhook_events WHERE svix_id = ?"
        );
        let row = sqlx::query_as::<_, LedgerRow>(statement::<DB>(SQL))
            .bind(svix_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_sqlx)?;
        row.map(LedgerEntry::try_from).transpose()
    }

    /// Newest first by `(received_at, svix_id)`, the ids in byte order; never the payload.
    pub(crate) async fn recent_ledger(
        &self,
        query: &LedgerQuery,
    ) -> Result<Vec<LedgerEntry>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            ledger_columns!(),
            " FROM clerk_webhook_events WHERE (? OR outcome = ?) ",
            "AND (? OR received_at < ? OR (received_at = ? AND svix_id < ?)) ",
            "ORDER BY received_at DESC, svix_id DESC LIMIT ?"
        );
        let (before_at, before_id) = match &query.before {
            Some((at, id)) => (Ts::new(*at), id.as_str()),
            None => (Ts::new(OffsetDateTime::UNIX_EPOCH), ""),
        };
        let rows = sqlx::query_as::<_, LedgerRow>(statement::<DB>(SQL))
            .bind(query.outcome.is_none())
            .bind(query.outcome.map_or("", LedgerOutcome::as_str))
            .bind(query.before.is_none())
            .bind(before_at)
            .bind(before_at)
            .bind(before_id)
            .bind(i64::from(query.limit.min(MAX_PAGE)))
            .fetch_all(&self.pool)
            .await
            .map_err(map_sqlx)?;
        rows.into_iter().map(LedgerEntry::try_from).collect()
    }

    pub(crate) async fn ledger_prune(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        const SQL: &str = "DELETE FROM clerk_webhook_events WHERE received_at < ?";
        let _turn = self.turn().await;
        let done = sqlx::query(statement::<DB>(SQL))
            .bind(Ts::new(before))
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(DB::rows_affected(&done))
    }
}
