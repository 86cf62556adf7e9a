//! The outbox: local changes queued for Clerk, claimed with tokens, settled only by the holder
//! of the claim, kept as dead letters when given up. Every dialect runs these statements alike;
//! the claim locks its rows with `FOR UPDATE SKIP LOCKED` on PostgreSQL and MySQL, and on SQLite
//! the write transaction itself excludes every other claimer.

use std::time::Duration;

use clerk_sync_core::store::{
    ClaimOutcome, DeadLetterQuery, EnqueuedChange, LocalChange, LocalUser, OutboxEntry,
    OutboxOperation, StoreError, UserProfile, new_claim_token, saturating_add,
};
use serde_json::Value;
use serde_json::value::RawValue;
use sqlx::types::Json;
use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};
use time::OffsetDateTime;

use crate::backend::{Backend, Store, Write, placeholders, statement};
use crate::codec::Ts;
use crate::error::{map_sqlx, retry};
use crate::rows::{
    CountsRow, Existing, Flag, HeldRow, Int, LeaseRow, LedgerRow, OutboxRow, RunRow, UserRow,
    VersionRow, outbox_columns, user_columns,
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
    pub(crate) async fn enqueue_local_change(
        &self,
        change: &LocalChange,
        now: OffsetDateTime,
    ) -> Result<EnqueuedChange, StoreError> {
        let now = Ts::new(now);
        let (user_id, profile) = match change {
            LocalChange::Create(p) | LocalChange::Invite(p) => (None, p.clone()),
            LocalChange::Update { user_id, profile } => (Some(*user_id), profile.clone()),
            LocalChange::Delete { user_id } => (Some(*user_id), UserProfile::default()),
            _ => {
                return Err(StoreError::Backend(
                    "this kind of local change is newer than clerk-sync-sqlx".into(),
                ));
            }
        };
        let payload = serde_json::to_value(&profile).map_err(|_| StoreError::InvalidData {
            what: "outbox payload".to_owned(),
        })?;
        let enqueued = retry!(
            rerun,
            async {
                let mut w = self.begin().await?;
                let id = match change {
                    LocalChange::Update { .. } | LocalChange::Delete { .. } => {
                        let id = user_id.unwrap_or_default();
                        if !Self::mark_pending(&mut w, id, &profile, change, now).await? {
                            // The row is missing or a tombstone: nothing is queued.
                            return Ok(None);
                        }
                        id
                    }
                    _ => Self::insert_local(&mut w, &profile, now).await?,
                };
                const QUEUE: &str = "INSERT INTO clerk_sync_outbox (user_id, operation, payload, \
                     attempts, next_attempt_at, created_at) VALUES (?, ?, ?, 0, ?, ?){returning_id}";
                let query = sqlx::query(statement::<DB>(QUEUE))
                    .bind(id)
                    .bind(change.operation().as_str())
                    .bind(Json(&payload))
                    .bind(now)
                    .bind(now);
                let outbox_id = Self::insert_id(&mut w.tx, query).await?;
                const USER: &str =
                    concat!("SELECT ", user_columns!(), " FROM clerk_users WHERE id = ?");
                let user = sqlx::query_as::<_, UserRow>(statement::<DB>(USER))
                    .bind(id)
                    .fetch_one(&mut *w.tx)
                    .await?;
                w.tx.commit().await?;
                Ok(Some((user, outbox_id)))
            }
            .await
        )
        .map_err(map_sqlx)?;
        let (user, outbox_id) = enqueued.ok_or(StoreError::NotFound { what: "user" })?;
        Ok(EnqueuedChange::new(LocalUser::try_from(user)?, outbox_id))
    }

    /// A new local row (no Clerk id yet), pending; its id.
    async fn insert_local(
        w: &mut Write<'_, DB>,
        p: &UserProfile,
        now: Ts,
    ) -> Result<i64, sqlx::Error> {
        const SQL: &str = "INSERT INTO clerk_users (email, first_name, last_name, username, \
             external_id, public_metadata, sync_status, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?){returning_id}";
        let query = sqlx::query(statement::<DB>(SQL))
            .bind(p.email.as_deref())
            .bind(p.first_name.as_deref())
            .bind(p.last_name.as_deref())
            .bind(p.username.as_deref())
            .bind(p.external_id.as_deref())
            .bind(p.public_metadata.as_ref().map(Json))
            .bind(now)
            .bind(now);
        Self::insert_id(&mut w.tx, query).await
    }

    /// The given fields of live row `id` (none for a delete), and `pending`; whether the row
    /// is there and live.
    async fn mark_pending(
        w: &mut Write<'_, DB>,
        id: i64,
        p: &UserProfile,
        change: &LocalChange,
        now: Ts,
    ) -> Result<bool, sqlx::Error> {
        const UPDATE: &str = "UPDATE clerk_users SET email = COALESCE(?, email), \
             first_name = COALESCE(?, first_name), last_name = COALESCE(?, last_name), \
             username = COALESCE(?, username), external_id = COALESCE(?, external_id), \
             public_metadata = COALESCE(?, public_metadata), sync_status = 'pending', \
             updated_at = ? WHERE id = ? AND deleted_at IS NULL";
        const DELETE: &str = "UPDATE clerk_users SET sync_status = 'pending', updated_at = ? \
             WHERE id = ? AND deleted_at IS NULL";
        let query = match change {
            LocalChange::Delete { .. } => sqlx::query(statement::<DB>(DELETE)),
            _ => sqlx::query(statement::<DB>(UPDATE))
                .bind(p.email.as_deref())
                .bind(p.first_name.as_deref())
                .bind(p.last_name.as_deref())
                .bind(p.username.as_deref())
                .bind(p.external_id.as_deref())
                .bind(p.public_metadata.as_ref().map(Json)),
        };
        let done = query.bind(now).bind(id).execute(&mut *w.tx).await?;
        // MySQL counts matched rows, so a row the update leaves as it was counts too.
        Ok(DB::rows_affected(&done) == 1)
    }

    /// Run an `INSERT` ending in `{returning_id}` and return the new row's id.
    pub(crate) async fn insert_id(
        conn: &mut DB::Connection,
        query: sqlx::query::Query<'_, DB, DB::Arguments>,
    ) -> Result<i64, sqlx::Error> {
        if DB::DIALECT == crate::Dialect::Postgres {
            let row = query.fetch_one(conn).await?;
            return Ok(Int::from_row(&row)?.n);
        }
        let done = query.execute(conn).await?;
        DB::inserted_id(&done)
            .ok_or_else(|| sqlx::Error::Protocol("no id for the inserted row".into()))
    }

    /// Claim up to `limit` due entries: lock them (skipping those another claimer holds
    /// locked), then stamp them with one new token.
    pub(crate) async fn claim_outbox(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        // Only a user's oldest live entry can go out: a later update must not overtake the
        // create it depends on. Dead letters hold nothing back.
        const DUE: &str = "SELECT o.id AS n FROM clerk_sync_outbox o WHERE o.dead_at IS NULL \
             AND o.next_attempt_at <= ? AND (o.claimed_until IS NULL OR o.claimed_until <= ?) \
             AND NOT EXISTS (SELECT 1 FROM clerk_sync_outbox p WHERE p.user_id = o.user_id \
             AND p.dead_at IS NULL AND p.id < o.id) ORDER BY o.id LIMIT ?{skip_locked}";
        let until = Ts::new(saturating_add(now, lease));
        let now = Ts::new(now);
        let token = new_claim_token();
        let rows = retry!(
            rerun,
            async {
                let mut w = self.begin().await?;
                let due = sqlx::query_as::<_, Int>(statement::<DB>(DUE))
                    .bind(now)
                    .bind(now)
                    .bind(i64::from(limit))
                    .fetch_all(&mut *w.tx)
                    .await?;
                if due.is_empty() {
                    w.tx.commit().await?;
                    return Ok(Vec::new());
                }
                let list = placeholders(due.len());
                // Only placeholders go into the text; every value is bound.
                let claim = DB::rewrite(&format!(
                    "UPDATE clerk_sync_outbox SET claimed_by = ?, claim_token = ?, \
                     claimed_until = ?, attempts = attempts + 1 WHERE id IN ({list})"
                ));
                let mut query = sqlx::query(sqlx::AssertSqlSafe(claim))
                    .bind(worker)
                    .bind(token.as_str())
                    .bind(until);
                for id in &due {
                    query = query.bind(id.n);
                }
                query.execute(&mut *w.tx).await?;
                let read = DB::rewrite(&format!(
                    concat!(
                        "SELECT ",
                        outbox_columns!(),
                        " FROM clerk_sync_outbox WHERE id IN ({}) ORDER BY id"
                    ),
                    list
                ));
                let mut query = sqlx::query_as::<_, OutboxRow>(sqlx::AssertSqlSafe(read));
                for id in &due {
                    query = query.bind(id.n);
                }
                let rows = query.fetch_all(&mut *w.tx).await?;
                w.tx.commit().await?;
                Ok(rows)
            }
            .await
        )
        .map_err(map_sqlx)?;
        rows.into_iter().map(OutboxEntry::try_from).collect()
    }

    /// Entry `id`'s user and operation if `token` holds a live claim on it at `now`, locked for
    /// the transaction: held means this token, an unexpired claim, and not a dead letter.
    async fn held(
        w: &mut Write<'_, DB>,
        id: i64,
        token: &str,
        now: Ts,
    ) -> Result<Option<(i64, OutboxOperation)>, sqlx::Error> {
        const SQL: &str = "SELECT user_id, operation FROM clerk_sync_outbox WHERE id = ? \
             AND claim_token = ? AND claimed_until > ? AND dead_at IS NULL{for_update}";
        let held = sqlx::query_as::<_, HeldRow>(statement::<DB>(SQL))
            .bind(id)
            .bind(token)
            .bind(now)
            .fetch_optional(&mut *w.tx)
            .await?;
        held.map(|h| {
            let operation = h
                .operation
                .parse()
                .map_err(|e: StoreError| sqlx::Error::Decode(Box::new(e)))?;
            Ok((h.user_id, operation))
        })
        .transpose()
    }

    pub(crate) async fn complete_outbox(
        &self,
        id: i64,
        token: &str,
        clerk_id: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<ClaimOutcome, StoreError> {
        const DELETE: &str = "DELETE FROM clerk_sync_outbox WHERE id = ?";
        // A confirmed delete: the row becomes a tombstone now, as tombstone_user would make it.
        const TOMBSTONE: &str = "UPDATE clerk_users SET email = NULL, first_name = NULL, \
             last_name = NULL, username = NULL, image_url = NULL, public_metadata = NULL, \
             raw_json = NULL, clerk_updated_at = NULL, deleted_at = ?, sync_status = 'synced', \
             sync_error = NULL, updated_at = ?, last_sync_attempt = ? \
             WHERE id = ? AND deleted_at IS NULL";
        // The webhook echo of a create may have inserted a row with this clerk id already:
        // the id stays there, and this row keeps none.
        const TAKEN: &str = "SELECT id AS n FROM clerk_users WHERE clerk_id = ?";
        const LINK: &str = "UPDATE clerk_users SET clerk_id = ? WHERE id = ? AND clerk_id IS NULL";
        // The row's state from what remains queued for it: pending while live entries remain,
        // failed while dead letters remain, else synced with the error cleared. `sync_error`
        // is assigned first: it reads no column that is reassigned.
        const SETTLE: &str = "UPDATE clerk_users SET last_sync_attempt = ?, updated_at = ?, \
             sync_error = CASE WHEN deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM \
             clerk_sync_outbox r WHERE r.user_id = ?) THEN NULL ELSE sync_error END, \
             sync_status = CASE WHEN deleted_at IS NOT NULL THEN sync_status \
             WHEN EXISTS (SELECT 1 FROM clerk_sync_outbox r WHERE r.user_id = ? \
             AND r.dead_at IS NULL) THEN 'pending' \
             WHEN EXISTS (SELECT 1 FROM clerk_sync_outbox r WHERE r.user_id = ?) THEN 'failed' \
             ELSE 'synced' END WHERE id = ?";
        let now = Ts::new(now);
        retry!(
            duplicates,
            async {
                let mut w = self.begin().await?;
                let Some((user_id, operation)) = Self::held(&mut w, id, token, now).await? else {
                    return Ok(ClaimOutcome::Lost);
                };
                sqlx::query(statement::<DB>(DELETE))
                    .bind(id)
                    .execute(&mut *w.tx)
                    .await?;
                if operation == OutboxOperation::Delete {
                    sqlx::query(statement::<DB>(TOMBSTONE))
                        .bind(now)
                        .bind(now)
                        .bind(now)
                        .bind(user_id)
                        .execute(&mut *w.tx)
                        .await?;
                } else {
                    if let Some(clerk_id) = clerk_id {
                        let taken = sqlx::query_as::<_, Int>(statement::<DB>(TAKEN))
                            .bind(clerk_id)
                            .fetch_optional(&mut *w.tx)
                            .await?;
                        if taken.is_none() {
                            // A row inserted with this id since that read fails this on the
                            // unique key; the re-run reads it.
                            sqlx::query(statement::<DB>(LINK))
                                .bind(clerk_id)
                                .bind(user_id)
                                .execute(&mut *w.tx)
                                .await?;
                        }
                    }
                    sqlx::query(statement::<DB>(SETTLE))
                        .bind(now)
                        .bind(now)
                        .bind(user_id)
                        .bind(user_id)
                        .bind(user_id)
                        .bind(user_id)
                        .execute(&mut *w.tx)
                        .await?;
                }
                w.tx.commit().await?;
                Ok(ClaimOutcome::Applied)
            }
            .await
        )
        .map_err(map_sqlx)
    }

    pub(crate) async fn fail_outbox(
        &self,
        id: i64,
        token: &str,
        error: &str,
        next_attempt_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<ClaimOutcome, StoreError> {
        const RELEASE: &str = "UPDATE clerk_sync_outbox SET claimed_by = NULL, \
             claimed_until = NULL, claim_token = NULL, next_attempt_at = ?, last_error = ? \
             WHERE id = ?";
        const USER: &str = "UPDATE clerk_users SET sync_error = ?, last_sync_attempt = ?, \
             updated_at = ? WHERE id = ?";
        self.settle(
            id,
            token,
            now,
            [RELEASE, USER],
            |q| q.bind(Ts::new(next_attempt_at)).bind(error),
            error,
        )
        .await
    }

    pub(crate) async fn give_up_outbox(
        &self,
        id: i64,
        token: &str,
        error: &str,
        now: OffsetDateTime,
    ) -> Result<ClaimOutcome, StoreError> {
        const BURY: &str = "UPDATE clerk_sync_outbox SET claimed_by = NULL, \
             claimed_until = NULL, claim_token = NULL, dead_at = ?, last_error = ? WHERE id = ?";
        const USER: &str = "UPDATE clerk_users SET sync_error = ?, last_sync_attempt = ?, \
             updated_at = ?, sync_status = 'failed' WHERE id = ? AND deleted_at IS NULL";
        let at = Ts::new(now);
        self.settle(
            id,
            token,
            now,
            [BURY, USER],
            |q| q.bind(at).bind(error),
            error,
        )
        .await
    }

    /// `fail` and `give up`: if the claim is held, release it with the statement `entry` (its
    /// leading values bound by `bind`, then the id), and write `error` to the row with the
    /// statement `user`.
    async fn settle(
        &self,
        id: i64,
        token: &str,
        now: OffsetDateTime,
        [entry, user]: [&'static str; 2],
        bind: impl Fn(
            sqlx::query::Query<'_, DB, DB::Arguments>,
        ) -> sqlx::query::Query<'_, DB, DB::Arguments>,
        error: &str,
    ) -> Result<ClaimOutcome, StoreError> {
        let now = Ts::new(now);
        retry!(
            rerun,
            async {
                let mut w = self.begin().await?;
                let Some((user_id, _)) = Self::held(&mut w, id, token, now).await? else {
                    return Ok(ClaimOutcome::Lost);
                };
                bind(sqlx::query(statement::<DB>(entry)))
                    .bind(id)
                    .execute(&mut *w.tx)
                    .await?;
                sqlx::query(statement::<DB>(user))
                    .bind(error)
                    .bind(now)
                    .bind(now)
                    .bind(user_id)
                    .execute(&mut *w.tx)
                    .await?;
                w.tx.commit().await?;
                Ok(ClaimOutcome::Applied)
            }
            .await
        )
        .map_err(map_sqlx)
    }

    pub(crate) async fn outbox_for_user(
        &self,
        user_id: i64,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            outbox_columns!(),
            " FROM clerk_sync_outbox WHERE user_id = ? ORDER BY id"
        );
        let rows = sqlx::query_as::<_, OutboxRow>(statement::<DB>(SQL))
            .bind(user_id)
            .fetch_all(&self.pool)
            .await
            .map_err(map_sqlx)?;
        rows.into_iter().map(OutboxEntry::try_from).collect()
    }

    pub(crate) async fn dead_letters(
        &self,
        query: &DeadLetterQuery,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            outbox_columns!(),
            " FROM clerk_sync_outbox WHERE dead_at IS NOT NULL AND (? OR user_id = ?) ",
            "AND (? OR id > ?) ORDER BY id LIMIT ?"
        );
        let rows = sqlx::query_as::<_, OutboxRow>(statement::<DB>(SQL))
            .bind(query.user_id.is_none())
            .bind(query.user_id.unwrap_or(0))
            .bind(query.after_id.is_none())
            .bind(query.after_id.unwrap_or(0))
            .bind(i64::from(query.limit.min(MAX_PAGE)))
            .fetch_all(&self.pool)
            .await
            .map_err(map_sqlx)?;
        rows.into_iter().map(OutboxEntry::try_from).collect()
    }

    /// Dead letters made live again (all, or `user_id`'s), and their live rows pending.
    pub(crate) async fn revive_dead_letters(
        &self,
        user_id: Option<i64>,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        const ROWS: &str = "UPDATE clerk_users SET sync_status = 'pending', updated_at = ? \
             WHERE deleted_at IS NULL AND id IN (SELECT o.user_id FROM clerk_sync_outbox o \
             WHERE o.dead_at IS NOT NULL AND (? OR o.user_id = ?))";
        const ENTRIES: &str = "UPDATE clerk_sync_outbox SET dead_at = NULL, attempts = 0, \
             next_attempt_at = ?, claimed_by = NULL, claimed_until = NULL, claim_token = NULL \
             WHERE dead_at IS NOT NULL AND (? OR user_id = ?)";
        let now = Ts::new(now);
        retry!(
            rerun,
            async {
                let mut w = self.begin().await?;
                let mut revived = 0;
                for sql in [ROWS, ENTRIES] {
                    let done = sqlx::query(statement::<DB>(sql))
                        .bind(now)
                        .bind(user_id.is_none())
                        .bind(user_id.unwrap_or(0))
                        .execute(&mut *w.tx)
                        .await?;
                    revived = DB::rows_affected(&done);
                }
                w.tx.commit().await?;
                // The second statement's count: the entries revived.
                Ok(revived)
            }
            .await
        )
        .map_err(map_sqlx)
    }

    /// The backlog: live entries due at `now` and not claimed.
    pub(crate) async fn outbox_due(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        const SQL: &str = "SELECT COUNT(*) AS n FROM clerk_sync_outbox WHERE dead_at IS NULL \
             AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until <= ?)";
        let now = Ts::new(now);
        let due = sqlx::query_as::<_, Int>(statement::<DB>(SQL))
            .bind(now)
            .bind(now)
            .fetch_one(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(u64::try_from(due.n).unwrap_or(0))
    }
}
