//! PostgreSQL: every inbound write is one statement of data-modifying CTEs, so a webhook is
//! one round trip and one implicit transaction, and no read decides a write.
//!
//! That is what keeps `process_webhook` within half the rate of a raw single-row upsert: the
//! same rules as one transaction (`users.rs`) take five round trips. The statements here are
//! written for PostgreSQL alone (`$n` placeholders); everything else this store does runs the
//! shared statements of `users.rs`, `ledger.rs`, `outbox.rs` and `jobs.rs`.
//!
//! An inbound upsert first runs a statement without the link step, which does nothing when a
//! local row is waiting to be linked to the user's email; only then does the statement with
//! the link run. PostgreSQL sets up every step of a statement on each execution, whether it
//! touches a row or not, and the link's `UPDATE` with its subqueries was about a quarter of the
//! statement's cost (measured with pgbench at 64 clients: 1.3x the statements per second
//! without it), for a case that only arises while a locally created user awaits Clerk.

use clerk_sync_core::store::{
    ClerkUserRecord, InboundApplied, InboundChange, NewLedgerEntry, StoreError, Tombstone,
    TombstoneOutcome, UpsertOutcome,
};
use sqlx::postgres::PgArguments;
use sqlx::query::QueryAs;
use sqlx::types::Json;
use sqlx::{FromRow, Postgres};
use time::OffsetDateTime;

use crate::backend::{Inbound, Store};
use crate::codec::Ts;
use crate::error::{map_sqlx, retry};
use crate::users::raw_json;

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

/// Steps 2-4 of `upsert_user`: the conditional upsert, run where `$gate` holds.
macro_rules! upsert_cte {
    ($gate:expr) => {
        concat!(
            "up AS (INSERT INTO clerk_users AS cu (clerk_id, email, first_name, last_name, ",
            "username, image_url, external_id, public_metadata, raw_json, clerk_updated_at, ",
            "sync_status, created_at, updated_at) ",
            "SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, 'synced', $11, $11 ",
            "WHERE ",
            $gate,
            " ON CONFLICT (clerk_id) DO UPDATE SET ",
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
    upsert_cte!("NOT EXISTS (SELECT 1 FROM link)"),
    " SELECT ",
    upsert_result!()
);

const INBOUND_UPSERT: &str = concat!(
    "WITH ",
    ledger_gate!("$13"),
    ", ",
    link_cte!("(SELECT ok FROM go)"),
    ", ",
    upsert_cte!("(SELECT ok FROM go) AND NOT EXISTS (SELECT 1 FROM link)"),
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

/// Whether a live row without a Clerk id has the link email $12: the row `link_cte` would take.
macro_rules! linkable {
    () => {
        "EXISTS (SELECT 1 FROM clerk_users c WHERE c.email = $12 AND c.clerk_id IS NULL \
         AND c.deleted_at IS NULL)"
    };
}

/// `INBOUND_UPSERT` for when no row is waiting to be linked: the same statement without the
/// link step, writing nothing (`linkable` true) when one is, so that the caller runs
/// `INBOUND_UPSERT`. Under one snapshot "no linkable row" is exactly the case in which
/// `link_cte` changes nothing. A delivery already processed changes nothing either: the
/// upsert is gated on it, and the ledger write leaves a processed row alone (`fresh` false).
const INBOUND_UPSERT_UNLINKED: &str = concat!(
    "WITH ",
    upsert_cte!(concat!(
        "NOT EXISTS (SELECT 1 FROM clerk_webhook_events WHERE svix_id = $13 ",
        "AND processed_at IS NOT NULL) AND NOT ",
        linkable!()
    )),
    ", ",
    "ledger AS (INSERT INTO clerk_webhook_events AS l (svix_id, event_type, object_id, ",
    "received_at, payload, processed_at, outcome) ",
    "SELECT $13, $14, $15, $16, $17, $11, ",
    "CASE WHEN EXISTS (SELECT 1 FROM up) THEN 'applied' ELSE 'stale' END WHERE NOT ",
    linkable!(),
    " ON CONFLICT (svix_id) DO UPDATE SET processed_at = excluded.processed_at, ",
    "outcome = excluded.outcome, error = NULL WHERE l.processed_at IS NULL RETURNING 1) ",
    "SELECT EXISTS (SELECT 1 FROM ledger) AS fresh, ",
    linkable!(),
    " AS linkable, FALSE AS linked, (SELECT inserted FROM up) AS inserted, ",
    "EXISTS (SELECT 1 FROM clerk_users d WHERE d.clerk_id = $1 AND d.deleted_at IS NOT NULL) ",
    "AS deleted"
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

/// What the one-statement upsert did.
#[derive(FromRow)]
struct Upserted {
    /// Not a duplicate; `None` for a statement that is not inbound (only `INBOUND_*` select
    /// it).
    #[sqlx(default)]
    fresh: Option<bool>,
    /// A row waits to be linked, so `INBOUND_UPSERT_UNLINKED` wrote nothing (only it selects
    /// this).
    #[sqlx(default)]
    linkable: bool,
    linked: bool,
    inserted: Option<bool>,
    /// Read from the statement's snapshot, so it only labels a no-op.
    deleted: bool,
}

impl Upserted {
    fn outcome(&self) -> UpsertOutcome {
        match (self.linked, self.inserted) {
            (true, _) => UpsertOutcome::Linked,
            (false, Some(true)) => UpsertOutcome::Inserted,
            (false, Some(false)) => UpsertOutcome::Updated,
            (false, None) if self.deleted => UpsertOutcome::Deleted,
            (false, None) => UpsertOutcome::Stale,
        }
    }
}

/// What the one-statement tombstone did.
#[derive(FromRow)]
struct Tombstoned {
    #[sqlx(default)]
    fresh: Option<bool>,
    deleted: bool,
}

/// What the one-statement ledger-only write did.
#[derive(FromRow)]
struct Ledgered {
    fresh: bool,
}

/// Binds $1..$12 of `link_cte` / `upsert_cte`.
fn bind_record<'q, O>(
    q: QueryAs<'q, Postgres, O, PgArguments>,
    r: &'q ClerkUserRecord,
    now: Ts,
) -> QueryAs<'q, Postgres, O, PgArguments> {
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

/// Binds the ledger entry's five parameters (svix id, event type, object id, received at,
/// payload), in that order, as every `INBOUND_*` statement takes them.
fn bind_ledger<'q, O>(
    q: QueryAs<'q, Postgres, O, PgArguments>,
    e: &'q NewLedgerEntry<'q>,
) -> QueryAs<'q, Postgres, O, PgArguments> {
    q.bind(e.svix_id)
        .bind(e.event_type)
        .bind(e.object_id)
        .bind(Ts::new(e.received_at))
        .bind(e.payload)
}

impl Store<Postgres> {
    /// One of the two inbound upsert statements.
    async fn inbound_upsert(
        &self,
        sql: &'static str,
        record: &ClerkUserRecord,
        e: &NewLedgerEntry<'_>,
        now: Ts,
    ) -> Result<Upserted, StoreError> {
        retry!(
            duplicates,
            bind_ledger(
                bind_record(sqlx::query_as::<_, Upserted>(sql), record, now),
                e
            )
            .fetch_one(&self.pool)
            .await
        )
        .map_err(map_sqlx)
    }

    /// `upsert_user` in one statement. A unique violation means a concurrent delivery inserted
    /// or linked this Clerk id after the statement's snapshot; the re-run sees it and takes the
    /// update path.
    pub(crate) async fn upsert_statement(
        &self,
        record: &ClerkUserRecord,
        now: OffsetDateTime,
    ) -> Result<UpsertOutcome, StoreError> {
        raw_json(record)?;
        let now = Ts::new(now);
        let done = retry!(
            duplicates,
            bind_record(sqlx::query_as::<_, Upserted>(UPSERT), record, now)
                .fetch_one(&self.pool)
                .await
        )
        .map_err(map_sqlx)?;
        Ok(done.outcome())
    }

    /// `tombstone_user` in one statement.
    pub(crate) async fn tombstone_statement(
        &self,
        t: &Tombstone,
        now: OffsetDateTime,
    ) -> Result<TombstoneOutcome, StoreError> {
        let done = retry!(
            duplicates,
            sqlx::query_as::<_, Tombstoned>(TOMBSTONE)
                .bind(&t.clerk_id)
                .bind(t.external_id.as_deref())
                .bind(Ts::new(t.deleted_at))
                .bind(Ts::new(now))
                .fetch_one(&self.pool)
                .await
        )
        .map_err(map_sqlx)?;
        Ok(if done.deleted {
            TombstoneOutcome::Deleted
        } else {
            TombstoneOutcome::AlreadyDeleted
        })
    }

    /// `apply_inbound` in one statement: ledger check, change and ledger row together. `None`
    /// for a kind of change newer than this crate, which the caller applies step by step.
    pub(crate) async fn apply_inbound_statement(
        &self,
        inbound: Inbound<'_>,
    ) -> Result<Option<InboundApplied>, StoreError> {
        let (e, now) = (inbound.entry, inbound.now);
        let applied = match inbound.change {
            InboundChange::Upsert(record) => {
                raw_json(record)?;
                let mut done = self
                    .inbound_upsert(INBOUND_UPSERT_UNLINKED, record, e, now)
                    .await?;
                if done.linkable {
                    done = self.inbound_upsert(INBOUND_UPSERT, record, e, now).await?;
                }
                match done.fresh {
                    Some(false) => InboundApplied::Duplicate,
                    _ => InboundApplied::Upsert(done.outcome()),
                }
            }
            InboundChange::Tombstone(t) => {
                let done = retry!(
                    duplicates,
                    bind_ledger(
                        sqlx::query_as::<_, Tombstoned>(INBOUND_TOMBSTONE)
                            .bind(&t.clerk_id)
                            .bind(t.external_id.as_deref())
                            .bind(Ts::new(t.deleted_at))
                            .bind(now),
                        e
                    )
                    .fetch_one(&self.pool)
                    .await
                )
                .map_err(map_sqlx)?;
                match (done.fresh, done.deleted) {
                    (Some(false), _) => InboundApplied::Duplicate,
                    (_, true) => InboundApplied::Tombstone(TombstoneOutcome::Deleted),
                    (_, false) => InboundApplied::Tombstone(TombstoneOutcome::AlreadyDeleted),
                }
            }
            InboundChange::LedgerOnly => {
                let done = retry!(
                    duplicates,
                    bind_ledger(sqlx::query_as::<_, Ledgered>(INBOUND_LEDGER_ONLY), e)
                        .bind(now)
                        .fetch_one(&self.pool)
                        .await
                )
                .map_err(map_sqlx)?;
                if done.fresh {
                    InboundApplied::LedgerOnly
                } else {
                    InboundApplied::Duplicate
                }
            }
            _ => return Ok(None),
        };
        Ok(Some(applied))
    }
}
