//! Leases and the run log: what reconcile and backfill need. Every dialect runs these
//! statements alike.

use std::time::Duration;

use clerk_sync_core::store::{StoreError, SyncRun, saturating_add};
use serde_json::Value;
use serde_json::value::RawValue;
use sqlx::types::Json;
use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};
use time::OffsetDateTime;

use crate::backend::{Backend, Store, statement};
use crate::codec::Ts;
use crate::error::{map_sqlx, retry};
use crate::rows::{
    CountsRow, Existing, Flag, HeldRow, Int, LeaseRow, LedgerRow, OutboxRow, RunRow, UserRow,
    VersionRow, run_columns,
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
    /// Read the lease locked, then take it if it is free, expired or `holder`'s own. Where
    /// there is no row to lock, two first takers both insert; the unique key fails one, whose
    /// re-run then finds the other's lease.
    pub(crate) async fn try_acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        const READ: &str =
            "SELECT holder, expires_at FROM clerk_sync_leases WHERE name = ?{for_update}";
        const TAKE: &str = "UPDATE clerk_sync_leases SET holder = ?, expires_at = ? WHERE name = ?";
        const INSERT: &str =
            "INSERT INTO clerk_sync_leases (holder, expires_at, name) VALUES (?, ?, ?)";
        let until = Ts::new(saturating_add(now, ttl));
        let now = Ts::new(now);
        retry!(
            duplicates,
            async {
                let mut w = self.begin().await?;
                let current = sqlx::query_as::<_, LeaseRow>(statement::<DB>(READ))
                    .bind(name)
                    .fetch_optional(&mut *w.tx)
                    .await?;
                let write = match current {
                    None => INSERT,
                    Some(lease) if lease.holder == holder || lease.expires_at <= now => TAKE,
                    Some(_) => return Ok(false),
                };
                sqlx::query(statement::<DB>(write))
                    .bind(holder)
                    .bind(until)
                    .bind(name)
                    .execute(&mut *w.tx)
                    .await?;
                w.tx.commit().await?;
                Ok(true)
            }
            .await
        )
        .map_err(map_sqlx)
    }

    /// The holder extends its lease, expired or not, as long as nobody took it over.
    pub(crate) async fn renew_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        const SQL: &str =
            "UPDATE clerk_sync_leases SET expires_at = ? WHERE name = ? AND holder = ?";
        let _turn = self.turn().await;
        let done = sqlx::query(statement::<DB>(SQL))
            .bind(Ts::new(saturating_add(now, ttl)))
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(DB::rows_affected(&done) == 1)
    }

    pub(crate) async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        const SQL: &str = "DELETE FROM clerk_sync_leases WHERE name = ? AND holder = ?";
        let _turn = self.turn().await;
        let done = sqlx::query(statement::<DB>(SQL))
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(DB::rows_affected(&done) == 1)
    }

    pub(crate) async fn start_run(&self, run: &SyncRun) -> Result<i64, StoreError> {
        const SQL: &str = "INSERT INTO clerk_sync_runs (kind, triggered_by, started_at, \
             finished_at, dry_run, force_rewrite, {cursor}, report) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?){returning_id}";
        let _turn = self.turn().await;
        let query = sqlx::query(statement::<DB>(SQL))
            .bind(run.kind.as_str())
            .bind(run.triggered_by.as_str())
            .bind(Ts::new(run.started_at))
            .bind(run.finished_at.map(Ts::new))
            .bind(run.dry_run)
            .bind(run.force)
            .bind(run.cursor.as_deref())
            .bind(Json(&run.report));
        let mut conn = self.pool.acquire().await.map_err(map_sqlx)?;
        Self::insert_id(&mut conn, query).await.map_err(map_sqlx)
    }

    pub(crate) async fn checkpoint_run(
        &self,
        id: i64,
        cursor: Option<&str>,
        report: &Value,
    ) -> Result<bool, StoreError> {
        const SQL: &str = "UPDATE clerk_sync_runs SET {cursor} = ?, report = ? WHERE id = ?";
        let _turn = self.turn().await;
        let done = sqlx::query(statement::<DB>(SQL))
            .bind(cursor)
            .bind(Json(report))
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(DB::rows_affected(&done) > 0)
    }

    pub(crate) async fn finish_run(
        &self,
        id: i64,
        finished_at: OffsetDateTime,
        cursor: Option<&str>,
        report: &Value,
    ) -> Result<bool, StoreError> {
        const SQL: &str = "UPDATE clerk_sync_runs SET finished_at = ?, {cursor} = ?, report = ? \
             WHERE id = ?";
        let _turn = self.turn().await;
        let done = sqlx::query(statement::<DB>(SQL))
            .bind(Ts::new(finished_at))
            .bind(cursor)
            .bind(Json(report))
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(DB::rows_affected(&done) > 0)
    }

    /// Newest first, by `started_at` and then id.
    pub(crate) async fn recent_runs(&self, limit: u32) -> Result<Vec<SyncRun>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            run_columns!(),
            " FROM clerk_sync_runs r ORDER BY r.started_at DESC, r.id DESC LIMIT ?"
        );
        let rows = sqlx::query_as::<_, RunRow>(statement::<DB>(SQL))
            .bind(i64::from(limit.min(MAX_PAGE)))
            .fetch_all(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(rows.into_iter().map(SyncRun::from).collect())
    }

    pub(crate) async fn latest_run(&self, kind: &str) -> Result<Option<SyncRun>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            run_columns!(),
            " FROM clerk_sync_runs r WHERE r.kind = ? ORDER BY r.started_at DESC, r.id DESC LIMIT 1"
        );
        let row = sqlx::query_as::<_, RunRow>(statement::<DB>(SQL))
            .bind(kind)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(row.map(SyncRun::from))
    }
}
