//! The user table's statements that every dialect runs alike, and the upsert and tombstone
//! rules as one transaction (MySQL and SQLite; PostgreSQL says each in one statement, see
//! `postgres.rs`).

use std::collections::HashSet;

use clerk_sync_core::store::{
    BatchOutcome, BatchPlan, ClerkUserRecord, LocalUser, StatusCounts, StoreError, Tombstone,
    TombstoneOutcome, UpsertOutcome, UserQuery, UserVersion,
};
use serde_json::Value;
use serde_json::value::RawValue;
use sqlx::types::Json;
use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};
use time::OffsetDateTime;

use crate::backend::{Backend, Store, placeholders, statement};
use crate::codec::Ts;
use crate::error::{is_duplicate, map_sqlx, retry};
use crate::rows::{
    CountsRow, Existing, Flag, HeldRow, Int, LeaseRow, LedgerRow, OutboxRow, RunRow, UserRow,
    VersionRow, user_columns,
};

/// A statement of `DB` with its arguments.
type Query<'q, DB> = sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>;

/// The largest page a listing returns.
pub(crate) const MAX_PAGE: u32 = 1000;

/// Records per multi-row statement of `apply_batch`: twelve parameters each stays under every
/// dialect's limit on bound parameters (SQLite's 32,766 the lowest).
const BATCH_CHUNK: usize = 2_000;

/// `raw_json` checked before anything is written, as `MemoryStore` does: a record that is not
/// JSON changes nothing.
pub(crate) fn raw_json(record: &ClerkUserRecord) -> Result<&RawValue, StoreError> {
    serde_json::from_str(&record.raw_json).map_err(|_| StoreError::InvalidData {
        what: "raw_json".to_owned(),
    })
}

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
    pub(crate) async fn get_user(&self, clerk_id: &str) -> Result<Option<LocalUser>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            user_columns!(),
            " FROM clerk_users WHERE clerk_id = ?"
        );
        let row = sqlx::query_as::<_, UserRow>(statement::<DB>(SQL))
            .bind(clerk_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_sqlx)?;
        row.map(LocalUser::try_from).transpose()
    }

    pub(crate) async fn get_user_by_id(&self, id: i64) -> Result<Option<LocalUser>, StoreError> {
        const SQL: &str = concat!("SELECT ", user_columns!(), " FROM clerk_users WHERE id = ?");
        let row = sqlx::query_as::<_, UserRow>(statement::<DB>(SQL))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_sqlx)?;
        row.map(LocalUser::try_from).transpose()
    }

    pub(crate) async fn find_users_by_email(
        &self,
        email: &str,
    ) -> Result<Vec<LocalUser>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            user_columns!(),
            " FROM clerk_users WHERE email = ? ORDER BY id"
        );
        let rows = sqlx::query_as::<_, UserRow>(statement::<DB>(SQL))
            .bind(email)
            .fetch_all(&self.pool)
            .await
            .map_err(map_sqlx)?;
        rows.into_iter().map(LocalUser::try_from).collect()
    }

    pub(crate) async fn list_users(&self, query: &UserQuery) -> Result<Vec<LocalUser>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            user_columns!(),
            " FROM clerk_users WHERE (? OR sync_status = ?) AND (? OR id > ?) ",
            "AND (? OR deleted_at IS NULL) ORDER BY id LIMIT ?"
        );
        let status = query.sync_status.map_or("", |s| s.as_str());
        let rows = sqlx::query_as::<_, UserRow>(statement::<DB>(SQL))
            .bind(query.sync_status.is_none())
            .bind(status)
            .bind(query.after_id.is_none())
            .bind(query.after_id.unwrap_or(0))
            .bind(query.include_deleted)
            .bind(i64::from(query.limit.min(MAX_PAGE)))
            .fetch_all(&self.pool)
            .await
            .map_err(map_sqlx)?;
        rows.into_iter().map(LocalUser::try_from).collect()
    }

    /// Ids in byte order: the columns' collation is byte order on every dialect (`COLLATE
    /// "C"`, the NO PAD binary collation, SQLite's `BINARY`), so the unique index serves it.
    pub(crate) async fn scan_versions(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<UserVersion>, StoreError> {
        const SQL: &str = "SELECT clerk_id, clerk_updated_at, deleted_at IS NOT NULL AS deleted \
             FROM clerk_users WHERE clerk_id IS NOT NULL AND (? OR clerk_id > ?) \
             ORDER BY clerk_id LIMIT ?";
        let rows = sqlx::query_as::<_, VersionRow>(statement::<DB>(SQL))
            .bind(after.is_none())
            .bind(after.unwrap_or(""))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(rows.into_iter().map(UserVersion::from).collect())
    }

    /// The versions of exactly these ids, in chunks of one `IN (...)` query each.
    pub(crate) async fn versions_of(
        &self,
        clerk_ids: &[&str],
    ) -> Result<Vec<UserVersion>, StoreError> {
        let mut versions = Vec::with_capacity(clerk_ids.len());
        for chunk in clerk_ids.chunks(BATCH_CHUNK) {
            let sql = DB::rewrite(&format!(
                "SELECT clerk_id, clerk_updated_at, deleted_at IS NOT NULL AS deleted \
                 FROM clerk_users WHERE clerk_id IN ({})",
                placeholders(chunk.len())
            ));
            // Only placeholders were added to the text; every value is bound.
            let mut query = sqlx::query_as::<_, VersionRow>(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                query = query.bind(*id);
            }
            let rows = query.fetch_all(&self.pool).await.map_err(map_sqlx)?;
            versions.extend(rows.into_iter().map(UserVersion::from));
        }
        Ok(versions)
    }

    pub(crate) async fn count_by_status(&self) -> Result<StatusCounts, StoreError> {
        const SQL: &str = "SELECT \
             COUNT(CASE WHEN deleted_at IS NULL AND sync_status = 'synced' THEN 1 END) AS synced, \
             COUNT(CASE WHEN deleted_at IS NULL AND sync_status = 'pending' THEN 1 END) AS pending, \
             COUNT(CASE WHEN deleted_at IS NULL AND sync_status = 'failed' THEN 1 END) AS failed, \
             COUNT(deleted_at) AS deleted, \
             COUNT(CASE WHEN deleted_at IS NULL AND clerk_id IS NOT NULL THEN 1 END) \
             AS with_clerk_id FROM clerk_users";
        let row = sqlx::query_as::<_, CountsRow>(statement::<DB>(SQL))
            .fetch_one(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(row.into())
    }

    pub(crate) async fn record_sync_error(
        &self,
        clerk_id: &str,
        error: &str,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        const SQL: &str = "UPDATE clerk_users SET sync_status = 'failed', sync_error = ?, \
             last_sync_attempt = ?, updated_at = ? WHERE clerk_id = ?";
        let _turn = self.turn().await;
        let at = Ts::new(at);
        let done = sqlx::query(statement::<DB>(SQL))
            .bind(error)
            .bind(at)
            .bind(at)
            .bind(clerk_id)
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        // MySQL counts matched rows (sqlx connects with CLIENT_FOUND_ROWS), so an unchanged
        // row counts too, as it should.
        Ok(DB::rows_affected(&done) > 0)
    }

    /// The unique key decides: a row that already has `clerk_id` makes the update fail, and
    /// that is a "no".
    pub(crate) async fn link_clerk_id(
        &self,
        id: i64,
        clerk_id: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        const SQL: &str = "UPDATE clerk_users SET clerk_id = ?, updated_at = ? \
             WHERE id = ? AND clerk_id IS NULL AND deleted_at IS NULL";
        let _turn = self.turn().await;
        let done = sqlx::query(statement::<DB>(SQL))
            .bind(clerk_id)
            .bind(Ts::new(now))
            .bind(id)
            .execute(&self.pool)
            .await;
        match done {
            Ok(done) => Ok(DB::rows_affected(&done) == 1),
            Err(e) if is_duplicate(&e) => Ok(false),
            Err(e) => Err(map_sqlx(e)),
        }
    }

    /// `upsert_user` as one write transaction.
    pub(crate) async fn upsert_in_transaction(
        &self,
        record: &ClerkUserRecord,
        now: OffsetDateTime,
    ) -> Result<UpsertOutcome, StoreError> {
        let raw = raw_json(record)?;
        let now = Ts::new(now);
        retry!(
            duplicates,
            async {
                let mut w = self.begin().await?;
                let outcome = Self::upsert_in(&mut w.tx, record, raw, now).await?;
                w.tx.commit().await?;
                Ok(outcome)
            }
            .await
        )
        .map_err(map_sqlx)
    }

    /// `tombstone_user` as one write transaction.
    pub(crate) async fn tombstone_in_transaction(
        &self,
        tombstone: &Tombstone,
        now: OffsetDateTime,
    ) -> Result<TombstoneOutcome, StoreError> {
        let now = Ts::new(now);
        retry!(
            duplicates,
            async {
                let mut w = self.begin().await?;
                let outcome = Self::tombstone_in(&mut w.tx, tombstone, now).await?;
                w.tx.commit().await?;
                Ok(outcome)
            }
            .await
        )
        .map_err(map_sqlx)
    }

    /// The row with `clerk_id`, locked for the transaction where rows can be.
    async fn existing(
        conn: &mut DB::Connection,
        clerk_id: &str,
    ) -> Result<Option<Existing>, sqlx::Error> {
        const SQL: &str = "SELECT id, clerk_updated_at, deleted_at IS NOT NULL AS deleted \
             FROM clerk_users WHERE clerk_id = ?{for_update}";
        sqlx::query_as::<_, Existing>(statement::<DB>(SQL))
            .bind(clerk_id)
            .fetch_optional(conn)
            .await
    }

    /// The four rules of `upsert_user`, inside a write transaction.
    ///
    /// Each case is decided on a locked row (or, on SQLite, inside the only write transaction).
    /// A row that does not exist cannot be locked: when another transaction inserts the same
    /// Clerk id first, the insert or link here fails on the unique key, and the caller re-runs
    /// the transaction, which then finds the row.
    pub(crate) async fn upsert_in(
        conn: &mut DB::Connection,
        r: &ClerkUserRecord,
        raw: &RawValue,
        now: Ts,
    ) -> Result<UpsertOutcome, sqlx::Error> {
        // The overwrite of Clerk's fields. `sync_error` is assigned before `sync_status`, which
        // it reads (MySQL assigns left to right): a pending row keeps both.
        macro_rules! overwrite {
            () => {
                "email = ?, first_name = ?, last_name = ?, username = ?, image_url = ?, \
                 external_id = ?, public_metadata = ?, raw_json = ?, clerk_updated_at = ?, \
                 sync_error = CASE WHEN sync_status = 'pending' THEN sync_error END, \
                 sync_status = CASE WHEN sync_status = 'pending' THEN 'pending' ELSE 'synced' END, \
                 updated_at = ?"
            };
        }
        const LINKABLE: &str = "SELECT id AS n FROM clerk_users WHERE email = ? \
             AND clerk_id IS NULL AND deleted_at IS NULL ORDER BY id LIMIT 1{for_update}";
        const LINK: &str = concat!(
            "UPDATE clerk_users SET clerk_id = ?, ",
            overwrite!(),
            " WHERE id = ?"
        );
        const UPDATE: &str = concat!("UPDATE clerk_users SET ", overwrite!(), " WHERE id = ?");
        const INSERT: &str = "INSERT INTO clerk_users (email, first_name, last_name, \
             username, image_url, external_id, public_metadata, raw_json, clerk_updated_at, \
             updated_at, clerk_id, sync_status, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'synced', ?)";

        // The record's fields, in `overwrite!()`'s order.
        let fields = |q: Query<'static, DB>| -> Query<'static, DB> {
            q.bind(r.email.as_deref())
                .bind(r.first_name.as_deref())
                .bind(r.last_name.as_deref())
                .bind(r.username.as_deref())
                .bind(r.image_url.as_deref())
                .bind(r.external_id.as_deref())
                .bind(r.public_metadata.as_ref().map(Json))
                .bind(Json(raw))
                .bind(r.clerk_updated_at)
                .bind(now)
        };

        match Self::existing(&mut *conn, &r.clerk_id).await? {
            Some(row) if row.deleted => Ok(UpsertOutcome::Deleted),
            Some(row)
                if row.clerk_updated_at.is_some_and(|stored| {
                    stored > r.clerk_updated_at
                        || (stored == r.clerk_updated_at && !r.rewrite_same_version)
                }) =>
            {
                Ok(UpsertOutcome::Stale)
            }
            Some(row) => {
                fields(sqlx::query(statement::<DB>(UPDATE)))
                    .bind(row.id)
                    .execute(&mut *conn)
                    .await?;
                Ok(UpsertOutcome::Updated)
            }
            None => {
                if let Some(email) = r.link_email.as_deref() {
                    let linkable = sqlx::query_as::<_, Int>(statement::<DB>(LINKABLE))
                        .bind(email)
                        .fetch_optional(&mut *conn)
                        .await?;
                    if let Some(Int { n: id }) = linkable {
                        fields(sqlx::query(statement::<DB>(LINK)).bind(r.clerk_id.as_str()))
                            .bind(id)
                            .execute(&mut *conn)
                            .await?;
                        return Ok(UpsertOutcome::Linked);
                    }
                }
                fields(sqlx::query(statement::<DB>(INSERT)))
                    .bind(r.clerk_id.as_str())
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
                Ok(UpsertOutcome::Inserted)
            }
        }
    }

    /// `tombstone_user`'s rules, inside a write transaction (see [`Self::upsert_in`]).
    pub(crate) async fn tombstone_in(
        conn: &mut DB::Connection,
        t: &Tombstone,
        now: Ts,
    ) -> Result<TombstoneOutcome, sqlx::Error> {
        const ERASE: &str = "UPDATE clerk_users SET external_id = ?, deleted_at = ?, \
             email = NULL, first_name = NULL, last_name = NULL, username = NULL, \
             image_url = NULL, public_metadata = NULL, raw_json = NULL, \
             clerk_updated_at = NULL, sync_status = 'synced', sync_error = NULL, updated_at = ? \
             WHERE id = ?";
        const INSERT: &str = "INSERT INTO clerk_users (external_id, deleted_at, updated_at, \
             clerk_id, sync_status, created_at) VALUES (?, ?, ?, ?, 'synced', ?)";
        let tombstone = |q: Query<'static, DB>| -> Query<'static, DB> {
            q.bind(t.external_id.as_deref())
                .bind(Ts::new(t.deleted_at))
                .bind(now)
        };
        match Self::existing(&mut *conn, &t.clerk_id).await? {
            Some(row) if row.deleted => Ok(TombstoneOutcome::AlreadyDeleted),
            Some(row) => {
                tombstone(sqlx::query(statement::<DB>(ERASE)))
                    .bind(row.id)
                    .execute(&mut *conn)
                    .await?;
                Ok(TombstoneOutcome::Deleted)
            }
            None => {
                tombstone(sqlx::query(statement::<DB>(INSERT)))
                    .bind(t.clerk_id.as_str())
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
                Ok(TombstoneOutcome::Deleted)
            }
        }
    }

    /// `apply_batch`: the newest record per id ([`BatchPlan`]); those that may link a local
    /// row one at a time (the rules of [`Self::upsert_in`]); the rest in multi-row conditional
    /// upserts, each in a transaction that first locks the rows that exist, so that "how many
    /// were new" is exact.
    pub(crate) async fn apply_batch(
        &self,
        records: &[ClerkUserRecord],
        now: OffsetDateTime,
    ) -> Result<BatchOutcome, StoreError> {
        let plan = BatchPlan::new(records);
        let mut outcome = BatchOutcome::default();
        outcome.unchanged = plan.superseded;
        let mut raws = Vec::with_capacity(plan.records.len());
        for record in &plan.records {
            raws.push(raw_json(record)?);
        }
        let linkable = self.linkable_emails(&plan.records).await?;
        let mut bulk = Vec::with_capacity(plan.records.len());
        for (record, raw) in plan.records.into_iter().zip(raws) {
            if record
                .link_email
                .as_deref()
                .is_some_and(|email| linkable.contains(email))
            {
                outcome.count(self.upsert_in_transaction(record, now).await?);
            } else {
                bulk.push((record, raw));
            }
        }
        let now = Ts::new(now);
        // Records that rewrite a row at the same version take a statement whose guard says so.
        let (rewrite, newer): (Vec<_>, Vec<_>) =
            bulk.into_iter().partition(|(r, _)| r.rewrite_same_version);
        for (records, tail) in [
            (newer, DB::BULK_UPSERT_TAIL),
            (rewrite, DB::BULK_REWRITE_TAIL),
        ] {
            for chunk in records.chunks(BATCH_CHUNK) {
                let (inserted, updated) =
                    retry!(rerun, self.bulk_upsert(chunk, tail, now).await).map_err(map_sqlx)?;
                outcome.inserted += inserted;
                outcome.updated += updated;
                outcome.unchanged += chunk.len() as u64 - inserted - updated;
            }
        }
        Ok(outcome)
    }

    /// The link emails of `records` that a live local row without a Clerk id has.
    async fn linkable_emails(
        &self,
        records: &[&ClerkUserRecord],
    ) -> Result<HashSet<String>, StoreError> {
        let emails: Vec<&str> = records
            .iter()
            .filter_map(|r| r.link_email.as_deref())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let mut linkable = HashSet::new();
        for chunk in emails.chunks(BATCH_CHUNK) {
            let sql = DB::rewrite(&format!(
                "SELECT DISTINCT email FROM clerk_users WHERE clerk_id IS NULL \
                 AND deleted_at IS NULL AND email IN ({})",
                placeholders(chunk.len())
            ));
            // Only placeholders were added to the text; every value is bound.
            let mut query = sqlx::query_as::<_, (String,)>(sqlx::AssertSqlSafe(sql));
            for email in chunk {
                query = query.bind(*email);
            }
            let found = query.fetch_all(&self.pool).await.map_err(map_sqlx)?;
            linkable.extend(found.into_iter().map(|(email,)| email));
        }
        Ok(linkable)
    }

    /// One multi-row conditional upsert, in a transaction: (inserted, updated).
    async fn bulk_upsert(
        &self,
        chunk: &[(&ClerkUserRecord, &RawValue)],
        tail: &str,
        now: Ts,
    ) -> Result<(u64, u64), sqlx::Error> {
        let mut w = self.begin().await?;
        // Which ids exist decides inserted against updated; locked, they stay so until the
        // upsert.
        let sql = DB::rewrite(&format!(
            "SELECT clerk_id AS n FROM clerk_users WHERE clerk_id IN ({}){{for_update}}",
            placeholders(chunk.len())
        ));
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (r, _) in chunk {
            query = query.bind(r.clerk_id.as_str());
        }
        let existing = query.fetch_all(&mut *w.tx).await?.len() as u64;

        let row = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'synced', ?, ?)";
        let sql = DB::rewrite(&format!(
            "INSERT INTO clerk_users (clerk_id, email, first_name, last_name, username, \
             image_url, external_id, public_metadata, raw_json, clerk_updated_at, sync_status, \
             created_at, updated_at) VALUES {}{}",
            vec![row; chunk.len()].join(", "),
            tail
        ));
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (r, raw) in chunk {
            query = query
                .bind(r.clerk_id.as_str())
                .bind(r.email.as_deref())
                .bind(r.first_name.as_deref())
                .bind(r.last_name.as_deref())
                .bind(r.username.as_deref())
                .bind(r.image_url.as_deref())
                .bind(r.external_id.as_deref())
                .bind(r.public_metadata.as_ref().map(Json))
                .bind(Json(*raw))
                .bind(r.clerk_updated_at)
                .bind(now)
                .bind(now);
        }
        let affected = DB::rows_affected(&query.execute(&mut *w.tx).await?);
        w.tx.commit().await?;
        let rows = chunk.len() as u64;
        let inserted = rows.saturating_sub(existing);
        Ok((inserted, DB::bulk_updated(affected, rows, inserted)))
    }
}
