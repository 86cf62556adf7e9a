//! PostgreSQL: every write is one statement (data-modifying CTEs), so a store call is one
//! round trip and one implicit transaction, and no read ever decides a write.

use std::time::Duration;

use clerk_sync_core::store::{
    BatchOutcome, ClerkUserRecord, EnqueuedChange, InboundApplied, InboundChange, LedgerEntry,
    LedgerInsert, LedgerOutcome, LocalChange, LocalUser, NewLedgerEntry, OutboxEntry, StatusCounts,
    StoreError, SyncRun, Tombstone, TombstoneOutcome, UpsertOutcome, UserQuery, UserVersion,
};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::types::Json;
use sqlx::{PgPool, Postgres, Row};
use time::OffsetDateTime;

use crate::error::{map_sqlx, retry_conflicts};
use crate::model::{self, LedgerParts, OutboxParts, RunParts, UserParts};
use crate::time_fmt::{add, micros};

/// Rows per `UNNEST` statement in [`PgStore::apply_batch`]: large enough that per-statement
/// overhead vanishes, small enough that one chunk's locks and WAL stay modest.
const BATCH_CHUNK: usize = 5_000;

macro_rules! user_cols {
    () => {
        "id, clerk_id, email, first_name, last_name, username, image_url, external_id, \
         public_metadata, raw_json, clerk_updated_at, sync_status, last_sync_attempt, sync_error, \
         deleted_at, created_at, updated_at"
    };
}

/// The overwrite of an existing row by Clerk's data; `pending` rows keep their state.
macro_rules! overwrite_set {
    ($t:literal) => {
        concat!(
            "email = excluded.email, first_name = excluded.first_name, ",
            "last_name = excluded.last_name, username = excluded.username, ",
            "image_url = excluded.image_url, external_id = excluded.external_id, ",
            "public_metadata = excluded.public_metadata, raw_json = excluded.raw_json, ",
            "clerk_updated_at = excluded.clerk_updated_at, ",
            "sync_status = CASE WHEN ",
            $t,
            ".sync_status = 'pending' THEN 'pending' ELSE 'synced' END, ",
            "sync_error = CASE WHEN ",
            $t,
            ".sync_status = 'pending' THEN ",
            $t,
            ".sync_error END, ",
            "updated_at = excluded.updated_at"
        )
    };
}

/// The version guard and the terminal tombstone, on the conflicting row `cu`.
macro_rules! version_guard {
    () => {
        "(cu.clerk_updated_at IS NULL OR cu.clerk_updated_at < excluded.clerk_updated_at) \
         AND cu.deleted_at IS NULL"
    };
}

/// Step 1 of `upsert_user`: link the oldest live row with the verified email and no clerk id,
/// unless a row already has this clerk id. Params $1..$12 as in `bind_record`.
macro_rules! link_cte {
    ($gate:literal) => {
        concat!(
            "link AS (UPDATE clerk_users u SET clerk_id = $1, email = $2, first_name = $3, ",
            "last_name = $4, username = $5, image_url = $6, external_id = $7, ",
            "public_metadata = $8, raw_json = $9::jsonb, clerk_updated_at = $10, ",
            "sync_status = CASE WHEN u.sync_status = 'pending' THEN 'pending' ELSE 'synced' END, ",
            "sync_error = CASE WHEN u.sync_status = 'pending' THEN u.sync_error END, ",
            "updated_at = $11 ",
            "WHERE ",
            $gate,
            // The subquery picks the row; the repeated conditions on `u` are re-checked by
            // PostgreSQL after waiting on a concurrent writer of that row, so two deliveries
            // racing to link it cannot both win.
            " AND u.id = (SELECT c.id FROM clerk_users c WHERE c.email = $12 ",
            "AND c.clerk_id IS NULL AND c.deleted_at IS NULL ORDER BY c.id LIMIT 1) ",
            "AND u.clerk_id IS NULL AND u.deleted_at IS NULL ",
            "AND NOT EXISTS (SELECT 1 FROM clerk_users e WHERE e.clerk_id = $1) ",
            "RETURNING u.id)"
        )
    };
}

/// Steps 2-4 of `upsert_user`: the conditional upsert.
macro_rules! upsert_cte {
    ($gate:literal) => {
        concat!(
            "up AS (INSERT INTO clerk_users AS cu (clerk_id, email, first_name, last_name, ",
            "username, image_url, external_id, public_metadata, raw_json, clerk_updated_at, ",
            "sync_status, created_at, updated_at) ",
            "SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, 'synced', $11, $11 ",
            "WHERE ",
            $gate,
            " AND NOT EXISTS (SELECT 1 FROM link) ",
            "ON CONFLICT (clerk_id) DO UPDATE SET ",
            overwrite_set!("cu"),
            " ",
            "WHERE ",
            version_guard!(),
            " ",
            "RETURNING (cu.xmax = 0) AS inserted)"
        )
    };
}

/// What the upsert did; `deleted` reads the statement's snapshot, so it only labels a no-op.
macro_rules! upsert_result {
    () => {
        "EXISTS (SELECT 1 FROM link) AS linked, (SELECT inserted FROM up) AS inserted, \
         EXISTS (SELECT 1 FROM clerk_users d WHERE d.clerk_id = $1 AND d.deleted_at IS NOT NULL) \
         AS deleted"
    };
}

/// The tombstone: insert-or-update, only where the row is not one already.
/// Params: $1 clerk_id, $2 external_id, $3 deleted_at, $4 now.
macro_rules! tombstone_cte {
    ($gate:literal) => {
        concat!(
            "tomb AS (INSERT INTO clerk_users AS cu (clerk_id, external_id, deleted_at, ",
            "sync_status, created_at, updated_at) ",
            "SELECT $1, $2, $3, 'synced', $4, $4 WHERE ",
            $gate,
            " ",
            "ON CONFLICT (clerk_id) DO UPDATE SET deleted_at = excluded.deleted_at, ",
            "external_id = excluded.external_id, email = NULL, first_name = NULL, ",
            "last_name = NULL, username = NULL, image_url = NULL, public_metadata = NULL, ",
            "raw_json = NULL, clerk_updated_at = NULL, sync_status = 'synced', sync_error = NULL, ",
            "updated_at = excluded.updated_at ",
            "WHERE cu.deleted_at IS NULL RETURNING 1)"
        )
    };
}

/// For `apply_inbound`: proceed unless the svix id was already processed.
macro_rules! ledger_gate {
    ($svix:literal) => {
        concat!(
            "prior AS (SELECT processed_at IS NOT NULL AS processed FROM clerk_webhook_events ",
            "WHERE svix_id = ",
            $svix,
            "), ",
            "go AS (SELECT NOT EXISTS (SELECT 1 FROM prior WHERE processed) AS ok)"
        )
    };
}

/// For `apply_inbound`: the ledger row, written already processed with `$outcome`. An
/// unprocessed row from an earlier delivery is completed; a processed one is left alone.
macro_rules! ledger_write {
    ($svix:literal, $ty:literal, $obj:literal, $recv:literal, $payload:literal, $now:literal, $outcome:literal) => {
        concat!(
            "ledger AS (INSERT INTO clerk_webhook_events AS l (svix_id, event_type, object_id, ",
            "received_at, payload, processed_at, outcome) ",
            "SELECT ",
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
            $now,
            ", ",
            $outcome,
            " WHERE (SELECT ok FROM go) ",
            "ON CONFLICT (svix_id) DO UPDATE SET processed_at = excluded.processed_at, ",
            "outcome = excluded.outcome, error = NULL WHERE l.processed_at IS NULL)"
        )
    };
}

const UPSERT: &str = concat!(
    "WITH ",
    link_cte!("TRUE"),
    ", ",
    upsert_cte!("TRUE"),
    " SELECT ",
    upsert_result!()
);

const INBOUND_UPSERT: &str = concat!(
    "WITH ",
    ledger_gate!("$13"),
    ", ",
    link_cte!("(SELECT ok FROM go)"),
    ", ",
    upsert_cte!("(SELECT ok FROM go)"),
    ", ",
    ledger_write!(
        "$13",
        "$14",
        "$15",
        "$16",
        "$17",
        "$11",
        "CASE WHEN EXISTS (SELECT 1 FROM link) OR EXISTS (SELECT 1 FROM up) THEN 'applied' ELSE 'stale' END"
    ),
    " SELECT (SELECT ok FROM go) AS fresh, ",
    upsert_result!()
);

const TOMBSTONE: &str = concat!(
    "WITH ",
    tombstone_cte!("TRUE"),
    " SELECT EXISTS (SELECT 1 FROM tomb) AS deleted"
);

const INBOUND_TOMBSTONE: &str = concat!(
    "WITH ",
    ledger_gate!("$5"),
    ", ",
    tombstone_cte!("(SELECT ok FROM go)"),
    ", ",
    ledger_write!(
        "$5",
        "$6",
        "$7",
        "$8",
        "$9",
        "$4",
        "CASE WHEN EXISTS (SELECT 1 FROM tomb) THEN 'applied' ELSE 'stale' END"
    ),
    " SELECT (SELECT ok FROM go) AS fresh, EXISTS (SELECT 1 FROM tomb) AS deleted"
);

const INBOUND_LEDGER_ONLY: &str = concat!(
    "WITH ",
    ledger_gate!("$1"),
    ", ",
    ledger_write!("$1", "$2", "$3", "$4", "$5", "$6", "'ignored'"),
    " SELECT (SELECT ok FROM go) AS fresh"
);

const BATCH_UPSERT: &str = concat!(
    "WITH up AS (INSERT INTO clerk_users AS cu (clerk_id, email, first_name, last_name, ",
    "username, image_url, external_id, public_metadata, raw_json, clerk_updated_at, ",
    "sync_status, created_at, updated_at) ",
    "SELECT t.clerk_id, t.email, t.first_name, t.last_name, t.username, t.image_url, ",
    "t.external_id, t.public_metadata::jsonb, t.raw_json::jsonb, t.v, 'synced', $11, $11 ",
    "FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], ",
    "$7::text[], $8::text[], $9::text[], $10::int8[]) ",
    "AS t(clerk_id, email, first_name, last_name, username, image_url, external_id, ",
    "public_metadata, raw_json, v) ",
    "ON CONFLICT (clerk_id) DO UPDATE SET ",
    overwrite_set!("cu"),
    " WHERE ",
    version_guard!(),
    " RETURNING (cu.xmax = 0) AS inserted) ",
    "SELECT COUNT(*) FILTER (WHERE inserted) AS inserted, ",
    "COUNT(*) FILTER (WHERE NOT inserted) AS updated FROM up"
);

/// The PostgreSQL half of [`crate::SqlxStore`].
#[derive(Debug, Clone)]
pub(crate) struct PgStore {
    pool: PgPool,
}

type PgQuery<'q> = Query<'q, Postgres, PgArguments>;

/// Binds $1..$12 of `link_cte` / `upsert_cte`.
fn bind_record<'q>(q: PgQuery<'q>, r: &'q ClerkUserRecord, now: OffsetDateTime) -> PgQuery<'q> {
    q.bind(&r.clerk_id)
        .bind(r.email.as_deref())
        .bind(r.first_name.as_deref())
        .bind(r.last_name.as_deref())
        .bind(r.username.as_deref())
        .bind(r.image_url.as_deref())
        .bind(r.external_id.as_deref())
        .bind(r.public_metadata.as_ref().map(Json))
        .bind(r.raw_json.as_str())
        .bind(r.clerk_updated_at)
        .bind(now)
        .bind(r.link_email.as_deref())
}

fn upsert_outcome(row: &PgRow) -> Result<UpsertOutcome, sqlx::Error> {
    let linked: bool = row.try_get("linked")?;
    let inserted: Option<bool> = row.try_get("inserted")?;
    let deleted: bool = row.try_get("deleted")?;
    Ok(match (linked, inserted) {
        (true, _) => UpsertOutcome::Linked,
        (false, Some(true)) => UpsertOutcome::Inserted,
        (false, Some(false)) => UpsertOutcome::Updated,
        (false, None) if deleted => UpsertOutcome::Deleted,
        (false, None) => UpsertOutcome::Stale,
    })
}

fn user(row: &PgRow) -> Result<LocalUser, StoreError> {
    let status: String = row.try_get("sync_status").map_err(map_sqlx)?;
    let json = |col: &str| -> Result<Option<serde_json::Value>, StoreError> {
        let v: Option<Json<serde_json::Value>> = row.try_get(col).map_err(map_sqlx)?;
        Ok(v.map(|j| j.0))
    };
    UserParts {
        id: row.try_get("id").map_err(map_sqlx)?,
        clerk_id: row.try_get("clerk_id").map_err(map_sqlx)?,
        email: row.try_get("email").map_err(map_sqlx)?,
        first_name: row.try_get("first_name").map_err(map_sqlx)?,
        last_name: row.try_get("last_name").map_err(map_sqlx)?,
        username: row.try_get("username").map_err(map_sqlx)?,
        image_url: row.try_get("image_url").map_err(map_sqlx)?,
        external_id: row.try_get("external_id").map_err(map_sqlx)?,
        public_metadata: json("public_metadata")?,
        raw_json: json("raw_json")?,
        clerk_updated_at: row.try_get("clerk_updated_at").map_err(map_sqlx)?,
        sync_status: status.parse()?,
        last_sync_attempt: row.try_get("last_sync_attempt").map_err(map_sqlx)?,
        sync_error: row.try_get("sync_error").map_err(map_sqlx)?,
        deleted_at: row.try_get("deleted_at").map_err(map_sqlx)?,
        created_at: row.try_get("created_at").map_err(map_sqlx)?,
        updated_at: row.try_get("updated_at").map_err(map_sqlx)?,
    }
    .build()
}

fn outbox_entry(row: &PgRow) -> Result<OutboxEntry, StoreError> {
    let operation: String = row.try_get("operation").map_err(map_sqlx)?;
    let payload: Json<serde_json::Value> = row.try_get("payload").map_err(map_sqlx)?;
    let attempts: i32 = row.try_get("attempts").map_err(map_sqlx)?;
    OutboxParts {
        id: row.try_get("id").map_err(map_sqlx)?,
        user_id: row.try_get("user_id").map_err(map_sqlx)?,
        operation: operation.parse()?,
        profile: model::profile_from_json(payload.0)?,
        attempts: u32::try_from(attempts).unwrap_or(0),
        next_attempt_at: row.try_get("next_attempt_at").map_err(map_sqlx)?,
        claimed_by: row.try_get("claimed_by").map_err(map_sqlx)?,
        claimed_until: row.try_get("claimed_until").map_err(map_sqlx)?,
        last_error: row.try_get("last_error").map_err(map_sqlx)?,
        created_at: row.try_get("created_at").map_err(map_sqlx)?,
    }
    .build()
}

macro_rules! outbox_cols {
    () => {
        "id, user_id, operation, payload, attempts, next_attempt_at, claimed_by, claimed_until, \
         last_error, created_at"
    };
}

/// A pool for [`crate::SqlxStore::connect`].
pub(crate) async fn connect(url: &str) -> Result<PgPool, StoreError> {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await
        .map_err(map_sqlx)
}

impl PgStore {
    pub(crate) fn new(pool: PgPool) -> Self {
        PgStore { pool }
    }

    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
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
            " FROM clerk_users WHERE ($1::varchar IS NULL OR sync_status = $1) ",
            "AND ($2::int8 IS NULL OR id > $2) AND ($3 OR deleted_at IS NULL) ",
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
        let now = micros(now);
        // A unique violation here means a concurrent delivery inserted or linked this clerk id
        // after our snapshot; re-running sees it and takes the update path.
        let row = retry_conflicts!(
            unique,
            bind_record(sqlx::query(UPSERT), record, now)
                .fetch_one(&self.pool)
                .await
        )
        .map_err(map_sqlx)?;
        upsert_outcome(&row).map_err(map_sqlx)
    }

    pub(crate) async fn apply_batch(
        &self,
        records: &[ClerkUserRecord],
        now: OffsetDateTime,
    ) -> Result<BatchOutcome, StoreError> {
        let now = micros(now);
        let mut outcome = BatchOutcome::default();
        let plan = crate::store::BatchPlan::new(records);
        outcome.unchanged += plan.superseded;
        // Records that may link a local row take the single-row path, which implements linking;
        // the rest (nearly always all of them) go through UNNEST.
        let linkable = self.linkable_emails(&plan.link_emails()).await?;
        let mut bulk = Vec::with_capacity(plan.records.len());
        for r in plan.records {
            if r.link_email.as_ref().is_some_and(|e| linkable.contains(e)) {
                crate::store::count(&mut outcome, self.upsert_user(r, now).await?);
            } else {
                bulk.push(r);
            }
        }
        for chunk in bulk.chunks(BATCH_CHUNK) {
            let col = |f: fn(&ClerkUserRecord) -> Option<&str>| -> Vec<Option<&str>> {
                chunk.iter().map(|r| f(r)).collect()
            };
            let metadata: Vec<Option<String>> = chunk
                .iter()
                .map(|r| r.public_metadata.as_ref().map(|m| m.to_string()))
                .collect();
            let versions: Vec<i64> = chunk.iter().map(|r| r.clerk_updated_at).collect();
            let row = retry_conflicts!(
                plain,
                sqlx::query(BATCH_UPSERT)
                    .bind(col(|r| Some(r.clerk_id.as_str())))
                    .bind(col(|r| r.email.as_deref()))
                    .bind(col(|r| r.first_name.as_deref()))
                    .bind(col(|r| r.last_name.as_deref()))
                    .bind(col(|r| r.username.as_deref()))
                    .bind(col(|r| r.image_url.as_deref()))
                    .bind(col(|r| r.external_id.as_deref()))
                    .bind(&metadata)
                    .bind(col(|r| Some(r.raw_json.as_str())))
                    .bind(&versions)
                    .bind(now)
                    .fetch_one(&self.pool)
                    .await
            )
            .map_err(map_sqlx)?;
            let inserted: i64 = row.try_get("inserted").map_err(map_sqlx)?;
            let updated: i64 = row.try_get("updated").map_err(map_sqlx)?;
            let (inserted, updated) = (inserted as u64, updated as u64);
            outcome.inserted += inserted;
            outcome.updated += updated;
            outcome.unchanged += chunk.len() as u64 - inserted - updated;
        }
        Ok(outcome)
    }

    async fn linkable_emails(
        &self,
        emails: &[&str],
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        if emails.is_empty() {
            return Ok(Default::default());
        }
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT email FROM clerk_users WHERE email = ANY($1) \
             AND clerk_id IS NULL AND deleted_at IS NULL",
        )
        .bind(emails)
        .fetch_all(&self.pool)
        .await
        .map_err(map_sqlx)?;
        Ok(rows.into_iter().map(|(e,)| e).collect())
    }

    pub(crate) async fn tombstone_user(
        &self,
        t: &Tombstone,
        now: OffsetDateTime,
    ) -> Result<TombstoneOutcome, StoreError> {
        let deleted: bool = retry_conflicts!(
            unique,
            sqlx::query_scalar(TOMBSTONE)
                .bind(&t.clerk_id)
                .bind(t.external_id.as_deref())
                .bind(micros(t.deleted_at))
                .bind(micros(now))
                .fetch_one(&self.pool)
                .await
        )
        .map_err(map_sqlx)?;
        Ok(if deleted {
            TombstoneOutcome::Deleted
        } else {
            TombstoneOutcome::AlreadyDeleted
        })
    }

    pub(crate) async fn link_clerk_id(
        &self,
        id: i64,
        clerk_id: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let res = sqlx::query(
            "UPDATE clerk_users SET clerk_id = $2, updated_at = $3 \
             WHERE id = $1 AND clerk_id IS NULL AND deleted_at IS NULL \
             AND NOT EXISTS (SELECT 1 FROM clerk_users e WHERE e.clerk_id = $2)",
        )
        .bind(id)
        .bind(clerk_id)
        .bind(micros(now))
        .execute(&self.pool)
        .await;
        match res {
            Ok(r) => Ok(r.rows_affected() == 1),
            // Another row took the id after our snapshot: the constraint says no.
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
             WHERE clerk_id IS NOT NULL AND ($1::varchar IS NULL OR clerk_id > $1) \
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
        let res = sqlx::query(
            "UPDATE clerk_users SET sync_status = 'failed', sync_error = $2, \
             last_sync_attempt = $3, updated_at = $3 WHERE clerk_id = $1",
        )
        .bind(clerk_id)
        .bind(error)
        .bind(micros(at))
        .execute(&self.pool)
        .await
        .map_err(map_sqlx)?;
        Ok(res.rows_affected() > 0)
    }

    // ----- ledger -----

    pub(crate) async fn ledger_insert(
        &self,
        e: &NewLedgerEntry<'_>,
    ) -> Result<LedgerInsert, StoreError> {
        let (inserted, processed): (bool, Option<bool>) = sqlx::query_as(
            "WITH ins AS (INSERT INTO clerk_webhook_events \
             (svix_id, event_type, object_id, received_at, payload) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (svix_id) DO NOTHING RETURNING 1) \
             SELECT EXISTS (SELECT 1 FROM ins), \
             (SELECT processed_at IS NOT NULL FROM clerk_webhook_events WHERE svix_id = $1)",
        )
        .bind(e.svix_id)
        .bind(e.event_type)
        .bind(e.object_id)
        .bind(micros(e.received_at))
        .bind(e.payload)
        .fetch_one(&self.pool)
        .await
        .map_err(map_sqlx)?;
        Ok(if inserted {
            LedgerInsert::Inserted
        } else {
            // Not in our snapshot means a concurrent delivery just inserted it: unprocessed.
            LedgerInsert::Exists {
                processed: processed.unwrap_or(false),
            }
        })
    }

    pub(crate) async fn ledger_mark_processed(
        &self,
        svix_id: &str,
        outcome: LedgerOutcome,
        error: Option<&str>,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let res = sqlx::query(
            "UPDATE clerk_webhook_events SET processed_at = $2, outcome = $3, error = $4 \
             WHERE svix_id = $1",
        )
        .bind(svix_id)
        .bind(micros(at))
        .bind(outcome.as_str())
        .bind(error)
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
            received_at: row.try_get("received_at").map_err(map_sqlx)?,
            processed_at: row.try_get("processed_at").map_err(map_sqlx)?,
            outcome: outcome.map(|o| o.parse()).transpose()?,
            error: row.try_get("error").map_err(map_sqlx)?,
            payload: row.try_get("payload").map_err(map_sqlx)?,
        }
        .build()
        .map(Some)
    }

    pub(crate) async fn ledger_prune(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let res = sqlx::query("DELETE FROM clerk_webhook_events WHERE received_at < $1")
            .bind(micros(before))
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
        let now = micros(now);
        let op = change.operation().as_str();
        let row = match change {
            LocalChange::Create(p) | LocalChange::Invite(p) => sqlx::query(concat!(
                "WITH u AS (INSERT INTO clerk_users (email, first_name, last_name, username, ",
                "external_id, public_metadata, sync_status, created_at, updated_at) ",
                "VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $7) RETURNING *), ",
                "o AS (INSERT INTO clerk_sync_outbox (user_id, operation, payload, attempts, ",
                "next_attempt_at, created_at) SELECT u.id, $8, $9::jsonb, 0, $7, $7 FROM u ",
                "RETURNING id) ",
                "SELECT u.*, o.id AS outbox_id FROM u, o"
            ))
            .bind(p.email.as_deref())
            .bind(p.first_name.as_deref())
            .bind(p.last_name.as_deref())
            .bind(p.username.as_deref())
            .bind(p.external_id.as_deref())
            .bind(p.public_metadata.as_ref().map(Json))
            .bind(now)
            .bind(op)
            .bind(model::profile_json(p))
            .fetch_optional(&self.pool)
            .await
            .map_err(map_sqlx)?,
            LocalChange::Update {
                user_id,
                profile: p,
            } => sqlx::query(concat!(
                "WITH u AS (UPDATE clerk_users SET email = COALESCE($2, email), ",
                "first_name = COALESCE($3, first_name), last_name = COALESCE($4, last_name), ",
                "username = COALESCE($5, username), external_id = COALESCE($6, external_id), ",
                "public_metadata = COALESCE($7, public_metadata), sync_status = 'pending', ",
                "updated_at = $8 WHERE id = $1 AND deleted_at IS NULL RETURNING *), ",
                "o AS (INSERT INTO clerk_sync_outbox (user_id, operation, payload, attempts, ",
                "next_attempt_at, created_at) SELECT u.id, $9, $10::jsonb, 0, $8, $8 FROM u ",
                "RETURNING id) ",
                "SELECT u.*, o.id AS outbox_id FROM u, o"
            ))
            .bind(user_id)
            .bind(p.email.as_deref())
            .bind(p.first_name.as_deref())
            .bind(p.last_name.as_deref())
            .bind(p.username.as_deref())
            .bind(p.external_id.as_deref())
            .bind(p.public_metadata.as_ref().map(Json))
            .bind(now)
            .bind(op)
            .bind(model::profile_json(p))
            .fetch_optional(&self.pool)
            .await
            .map_err(map_sqlx)?,
            LocalChange::Delete { user_id } => sqlx::query(concat!(
                "WITH u AS (UPDATE clerk_users SET sync_status = 'pending', updated_at = $2 ",
                "WHERE id = $1 AND deleted_at IS NULL RETURNING *), ",
                "o AS (INSERT INTO clerk_sync_outbox (user_id, operation, payload, attempts, ",
                "next_attempt_at, created_at) SELECT u.id, $3, '{}'::jsonb, 0, $2, $2 FROM u ",
                "RETURNING id) ",
                "SELECT u.*, o.id AS outbox_id FROM u, o"
            ))
            .bind(user_id)
            .bind(now)
            .bind(op)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_sqlx)?,
            _ => return Err(crate::store::unsupported_change()),
        };
        let row = row.ok_or(StoreError::NotFound { what: "user" })?;
        let outbox_id: i64 = row.try_get("outbox_id").map_err(map_sqlx)?;
        model::enqueued(user(&row)?, outbox_id)
    }

    pub(crate) async fn claim_outbox(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let now = micros(now);
        let rows = retry_conflicts!(
            plain,
            sqlx::query(concat!(
                "WITH due AS (SELECT o.id FROM clerk_sync_outbox o ",
                "WHERE o.next_attempt_at <= $1 AND (o.claimed_until IS NULL OR o.claimed_until <= $1) ",
                // One user's entries go out in order: an older queued entry blocks the rest.
                "AND NOT EXISTS (SELECT 1 FROM clerk_sync_outbox p WHERE p.user_id = o.user_id AND p.id < o.id) ",
                "ORDER BY o.id LIMIT $2 FOR UPDATE SKIP LOCKED) ",
                "UPDATE clerk_sync_outbox o SET claimed_by = $3, claimed_until = $4, ",
                "attempts = o.attempts + 1 FROM due WHERE o.id = due.id RETURNING o.*"
            ))
            .bind(now)
            .bind(i64::from(limit))
            .bind(worker)
            .bind(micros(add(now, lease)))
            .fetch_all(&self.pool)
            .await
        )
        .map_err(map_sqlx)?;
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
        let found: bool = retry_conflicts!(
            unique,
            sqlx::query_scalar(concat!(
                "WITH d AS (DELETE FROM clerk_sync_outbox WHERE id = $1 RETURNING user_id), ",
                "u AS (UPDATE clerk_users c SET ",
                // The webhook echo may already have created a row with this clerk id (when it
                // could not link): the unique id stays there and this row keeps none.
                "clerk_id = CASE WHEN c.clerk_id IS NULL AND $2::varchar IS NOT NULL ",
                "AND NOT EXISTS (SELECT 1 FROM clerk_users e WHERE e.clerk_id = $2) ",
                "THEN $2 ELSE c.clerk_id END, ",
                "last_sync_attempt = $3, sync_error = NULL, updated_at = $3, ",
                "sync_status = CASE WHEN EXISTS (SELECT 1 FROM clerk_sync_outbox r ",
                "WHERE r.user_id = c.id AND r.id <> $1) THEN c.sync_status ELSE 'synced' END ",
                "FROM d WHERE c.id = d.user_id RETURNING 1) ",
                "SELECT EXISTS (SELECT 1 FROM d)"
            ))
            .bind(id)
            .bind(clerk_id)
            .bind(micros(now))
            .fetch_one(&self.pool)
            .await
        )
        .map_err(map_sqlx)?;
        crate::store::found(u64::from(found), "outbox entry")
    }

    pub(crate) async fn fail_outbox(
        &self,
        id: i64,
        error: &str,
        next_attempt_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let found: bool = sqlx::query_scalar(concat!(
            "WITH o AS (UPDATE clerk_sync_outbox SET claimed_by = NULL, claimed_until = NULL, ",
            "next_attempt_at = $3, last_error = $2 WHERE id = $1 RETURNING user_id), ",
            "u AS (UPDATE clerk_users c SET sync_error = $2, last_sync_attempt = $4, ",
            "updated_at = $4 FROM o WHERE c.id = o.user_id RETURNING 1) ",
            "SELECT EXISTS (SELECT 1 FROM o)"
        ))
        .bind(id)
        .bind(error)
        .bind(micros(next_attempt_at))
        .bind(micros(now))
        .fetch_one(&self.pool)
        .await
        .map_err(map_sqlx)?;
        crate::store::found(u64::from(found), "outbox entry")
    }

    pub(crate) async fn give_up_outbox(
        &self,
        id: i64,
        error: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let found: bool = sqlx::query_scalar(concat!(
            "WITH d AS (DELETE FROM clerk_sync_outbox WHERE id = $1 RETURNING user_id), ",
            "u AS (UPDATE clerk_users c SET sync_status = 'failed', sync_error = $2, ",
            "last_sync_attempt = $3, updated_at = $3 FROM d WHERE c.id = d.user_id RETURNING 1) ",
            "SELECT EXISTS (SELECT 1 FROM d)"
        ))
        .bind(id)
        .bind(error)
        .bind(micros(now))
        .fetch_one(&self.pool)
        .await
        .map_err(map_sqlx)?;
        crate::store::found(u64::from(found), "outbox entry")
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
        let now = micros(now);
        let row = retry_conflicts!(
            unique,
            sqlx::query(
                "INSERT INTO clerk_sync_leases AS l (name, holder, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
                 expires_at = excluded.expires_at \
                 WHERE l.expires_at <= $4 OR l.holder = excluded.holder RETURNING 1",
            )
            .bind(name)
            .bind(holder)
            .bind(micros(add(now, ttl)))
            .bind(now)
            .fetch_optional(&self.pool)
            .await
        )
        .map_err(map_sqlx)?;
        Ok(row.is_some())
    }

    pub(crate) async fn renew_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let res = sqlx::query(
            "UPDATE clerk_sync_leases SET expires_at = $3 WHERE name = $1 AND holder = $2",
        )
        .bind(name)
        .bind(holder)
        .bind(micros(add(micros(now), ttl)))
        .execute(&self.pool)
        .await
        .map_err(map_sqlx)?;
        Ok(res.rows_affected() == 1)
    }

    pub(crate) async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        let res = sqlx::query("DELETE FROM clerk_sync_leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(res.rows_affected() == 1)
    }

    // ----- run log -----

    pub(crate) async fn record_run(&self, run: &SyncRun) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "INSERT INTO clerk_sync_runs (kind, triggered_by, started_at, finished_at, dry_run, \
             force_rewrite, report) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(&run.kind)
        .bind(&run.triggered_by)
        .bind(micros(run.started_at))
        .bind(micros(run.finished_at))
        .bind(run.dry_run)
        .bind(run.force)
        .bind(Json(&run.report))
        .fetch_one(&self.pool)
        .await
        .map_err(map_sqlx)
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
                let report: Json<serde_json::Value> = row.try_get("report").map_err(map_sqlx)?;
                RunParts {
                    id: row.try_get("id").map_err(map_sqlx)?,
                    kind: row.try_get("kind").map_err(map_sqlx)?,
                    triggered_by: row.try_get("triggered_by").map_err(map_sqlx)?,
                    started_at: row.try_get("started_at").map_err(map_sqlx)?,
                    finished_at: row.try_get("finished_at").map_err(map_sqlx)?,
                    dry_run: row.try_get("dry_run").map_err(map_sqlx)?,
                    force: row.try_get("force_rewrite").map_err(map_sqlx)?,
                    report: report.0,
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
        let now = micros(now);
        let received = micros(e.received_at);
        match change {
            InboundChange::Upsert(record) => {
                let row = retry_conflicts!(
                    unique,
                    bind_record(sqlx::query(INBOUND_UPSERT), record, now)
                        .bind(e.svix_id)
                        .bind(e.event_type)
                        .bind(e.object_id)
                        .bind(received)
                        .bind(e.payload)
                        .fetch_one(&self.pool)
                        .await
                )
                .map_err(map_sqlx)?;
                let fresh: bool = row.try_get("fresh").map_err(map_sqlx)?;
                if !fresh {
                    return Ok(Some(InboundApplied::Duplicate));
                }
                Ok(Some(InboundApplied::Upsert(
                    upsert_outcome(&row).map_err(map_sqlx)?,
                )))
            }
            InboundChange::Tombstone(t) => {
                let (fresh, deleted): (bool, bool) = retry_conflicts!(
                    unique,
                    sqlx::query_as(INBOUND_TOMBSTONE)
                        .bind(&t.clerk_id)
                        .bind(t.external_id.as_deref())
                        .bind(micros(t.deleted_at))
                        .bind(now)
                        .bind(e.svix_id)
                        .bind(e.event_type)
                        .bind(e.object_id)
                        .bind(received)
                        .bind(e.payload)
                        .fetch_one(&self.pool)
                        .await
                )
                .map_err(map_sqlx)?;
                Ok(Some(match (fresh, deleted) {
                    (false, _) => InboundApplied::Duplicate,
                    (true, true) => InboundApplied::Tombstone(TombstoneOutcome::Deleted),
                    (true, false) => InboundApplied::Tombstone(TombstoneOutcome::AlreadyDeleted),
                }))
            }
            InboundChange::LedgerOnly => {
                let fresh: bool = retry_conflicts!(
                    unique,
                    sqlx::query_scalar(INBOUND_LEDGER_ONLY)
                        .bind(e.svix_id)
                        .bind(e.event_type)
                        .bind(e.object_id)
                        .bind(received)
                        .bind(e.payload)
                        .bind(now)
                        .fetch_one(&self.pool)
                        .await
                )
                .map_err(map_sqlx)?;
                Ok(Some(if fresh {
                    InboundApplied::LedgerOnly
                } else {
                    InboundApplied::Duplicate
                }))
            }
            // A change kind newer than this crate: the caller runs the trait's steps.
            _ => Ok(None),
        }
    }
}
