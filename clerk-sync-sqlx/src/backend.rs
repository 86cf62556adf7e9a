//! What differs between the three databases, as far as the shared statements are concerned:
//! the [`Backend`] trait, and [`Store`], the one store type over a pool of any of them.
//!
//! The three implementations of [`Backend`] are here, side by side, so that what differs
//! between the databases reads as one table.
//!
//! Most statements are written once, in a portable form ([`statement`]): `?` placeholders,
//! bound in order, and a few `{tokens}` for the clauses that differ. Each dialect rewrites that
//! form once into its own ([`Backend::rewrite`]), and the result is kept for the life of the
//! process. What cannot be said portably (PostgreSQL's one-statement inbound write, the MySQL
//! stored procedure, the bulk upsert's conflict clause) lives in the dialect's module.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use sqlx::{Database, Pool, Transaction};
use tokio::sync::{Mutex, MutexGuard};

use crate::store::Dialect;

/// A database the store runs on, with the few facts the shared statements need.
pub(crate) trait Backend: Database {
    /// Which one it is.
    const DIALECT: Dialect;

    /// The statement that opens a write transaction.
    ///
    /// PostgreSQL's default `READ COMMITTED`; on MySQL also `READ COMMITTED`, whatever the
    /// session default, because `REPEATABLE READ`'s gap locks only add deadlocks to guarded
    /// writes; on SQLite `BEGIN IMMEDIATE`, which takes the write lock up front (waiting up to
    /// the busy timeout) instead of failing with `SQLITE_BUSY` when a reading transaction
    /// later tries to write.
    const BEGIN: &'static str;

    /// Whether writes queue in the process before they begin (SQLite, which has a single
    /// writer: waiting in Tokio beats sleeping in SQLite's busy handler).
    const SERIAL_WRITES: bool;

    /// How many rows a statement changed (or, on MySQL, matched).
    fn rows_affected(result: &Self::QueryResult) -> u64;

    /// The conflict clause of the multi-row conditional upsert that follows its `VALUES`:
    /// the overwrite of the existing row's Clerk fields, only where the stored version is
    /// older and the row is not a tombstone.
    const BULK_UPSERT_TAIL: &'static str;

    /// How many rows of a bulk upsert of `rows` records, `inserted` of them new, were updated,
    /// from the statement's affected-row count.
    ///
    /// PostgreSQL and SQLite count the rows the statement changed: the inserted and the updated
    /// ones (a guard that said no changes none). MySQL counts each row 1 when inserted, 2 when
    /// updated and 1 when untouched (`CLIENT_FOUND_ROWS`): the excess over one per row.
    fn bulk_updated(affected: u64, rows: u64, inserted: u64) -> u64 {
        if Self::DIALECT == Dialect::MySql {
            affected.saturating_sub(rows)
        } else {
            affected.saturating_sub(inserted)
        }
    }

    /// The id of the row an `INSERT` without `{returning_id}` text added, where the dialect
    /// reports it with the result (MySQL, SQLite); `None` on PostgreSQL, whose statements say
    /// `RETURNING id` instead.
    fn inserted_id(result: &Self::QueryResult) -> Option<i64>;

    /// `token`'s text in this dialect; `None` for a token this crate does not use.
    fn token(token: &str) -> Option<&'static str> {
        let (postgres, sqlite) = (
            Self::DIALECT == Dialect::Postgres,
            Self::DIALECT == Dialect::Sqlite,
        );
        Some(match token {
            // A SQLite write transaction holds the whole database: there is nothing to lock.
            "for_update" if sqlite => "",
            "for_update" => " FOR UPDATE",
            "skip_locked" if sqlite => "",
            "skip_locked" => " FOR UPDATE SKIP LOCKED",
            // CURSOR is a reserved word on MySQL.
            "cursor" if Self::DIALECT == Dialect::MySql => "`cursor`",
            "cursor" => "cursor",
            // MySQL 8 has no INSERT .. RETURNING; MySQL and SQLite report the id instead.
            "returning_id" if postgres => " RETURNING id AS n",
            "returning_id" => "",
            _ => return None,
        })
    }

    /// `sql` in this dialect: PostgreSQL numbers the `?` placeholders (`$1`, `$2`, ...), and
    /// every known `{token}` becomes its text.
    fn rewrite(sql: &str) -> String {
        let mut out = String::with_capacity(sql.len() + 16);
        let mut n = 0;
        let mut rest = sql;
        while let Some(at) = rest.find(['?', '{']) {
            out.push_str(&rest[..at]);
            let tail = &rest[at..];
            if let Some(after) = tail.strip_prefix('?') {
                if Self::DIALECT == Dialect::Postgres {
                    n += 1;
                    out.push('$');
                    out.push_str(&n.to_string());
                } else {
                    out.push('?');
                }
                rest = after;
                continue;
            }
            match tail
                .find('}')
                .and_then(|end| Some((end, Self::token(&tail[1..end])?)))
            {
                Some((end, text)) => {
                    out.push_str(text);
                    rest = &tail[end + 1..];
                }
                None => {
                    out.push('{');
                    rest = &tail[1..];
                }
            }
        }
        out.push_str(rest);
        out
    }
}

/// [`Backend::BULK_UPSERT_TAIL`] of PostgreSQL and SQLite, which share the syntax: each SET
/// expression reads the existing row as it was (`clerk_users.*`) or the proposed one
/// (`excluded.*`), and the WHERE clause is the version guard and the terminal tombstone.
#[cfg(any(feature = "postgres", feature = "sqlite"))]
const ON_CONFLICT_UPSERT: &str = " ON CONFLICT (clerk_id) DO UPDATE SET \
     email = excluded.email, first_name = excluded.first_name, last_name = excluded.last_name, \
     username = excluded.username, image_url = excluded.image_url, \
     external_id = excluded.external_id, public_metadata = excluded.public_metadata, \
     raw_json = excluded.raw_json, clerk_updated_at = excluded.clerk_updated_at, \
     sync_status = CASE WHEN clerk_users.sync_status = 'pending' THEN 'pending' ELSE 'synced' END, \
     sync_error = CASE WHEN clerk_users.sync_status = 'pending' THEN clerk_users.sync_error END, \
     updated_at = excluded.updated_at \
     WHERE (clerk_users.clerk_updated_at IS NULL \
     OR clerk_users.clerk_updated_at < excluded.clerk_updated_at) \
     AND clerk_users.deleted_at IS NULL";

#[cfg(feature = "postgres")]
impl Backend for sqlx::Postgres {
    const DIALECT: Dialect = Dialect::Postgres;
    const BEGIN: &'static str = "BEGIN";
    const SERIAL_WRITES: bool = false;
    const BULK_UPSERT_TAIL: &'static str = ON_CONFLICT_UPSERT;

    fn rows_affected(result: &sqlx::postgres::PgQueryResult) -> u64 {
        result.rows_affected()
    }

    fn inserted_id(_: &sqlx::postgres::PgQueryResult) -> Option<i64> {
        None
    }
}

#[cfg(feature = "mysql")]
impl Backend for sqlx::MySql {
    const DIALECT: Dialect = Dialect::MySql;
    const BEGIN: &'static str = "SET TRANSACTION ISOLATION LEVEL READ COMMITTED; START TRANSACTION";
    const SERIAL_WRITES: bool = false;
    const BULK_UPSERT_TAIL: &'static str = crate::mysql::BULK_UPSERT_TAIL;

    fn rows_affected(result: &sqlx::mysql::MySqlQueryResult) -> u64 {
        result.rows_affected()
    }

    fn inserted_id(result: &sqlx::mysql::MySqlQueryResult) -> Option<i64> {
        i64::try_from(result.last_insert_id()).ok()
    }
}

#[cfg(feature = "sqlite")]
impl Backend for sqlx::Sqlite {
    const DIALECT: Dialect = Dialect::Sqlite;
    const BEGIN: &'static str = "BEGIN IMMEDIATE";
    const SERIAL_WRITES: bool = true;
    const BULK_UPSERT_TAIL: &'static str = ON_CONFLICT_UPSERT;

    fn rows_affected(result: &sqlx::sqlite::SqliteQueryResult) -> u64 {
        result.rows_affected()
    }

    fn inserted_id(result: &sqlx::sqlite::SqliteQueryResult) -> Option<i64> {
        Some(result.last_insert_rowid())
    }
}

/// `sql` (a portable statement, see the module docs) in `DB`'s dialect, rewritten once per
/// process and dialect.
pub(crate) fn statement<DB: Backend>(sql: &'static str) -> &'static str {
    type Cache = RwLock<HashMap<(Dialect, &'static str), &'static str>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    // Keyed by the text: hashing a few hundred bytes costs far less than the round trip the
    // statement is about to make, and the set of keys is the set of literals in this crate.
    let key = (DB::DIALECT, sql);
    let cache = CACHE.get_or_init(Cache::default);
    if let Some(done) = cache
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&key)
    {
        return done;
    }
    // Leaked once per statement and dialect: a bounded set of strings that live as long as the
    // process, as the literals they come from do.
    let rewritten: &'static str = Box::leak(DB::rewrite(sql).into_boxed_str());
    let mut cache = cache
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let kept: &'static str = cache.entry(key).or_insert(rewritten);
    kept
}

/// `?, ?, ...`: `n` placeholders for an `IN` list.
pub(crate) fn placeholders(n: usize) -> String {
    let mut list = "?, ".repeat(n);
    list.truncate(list.len().saturating_sub(2));
    list
}

/// One verified inbound event, as each dialect's `apply_inbound` takes it.
pub(crate) struct Inbound<'a> {
    /// Its ledger entry.
    pub(crate) entry: &'a clerk_sync_core::store::NewLedgerEntry<'a>,
    /// What it changes.
    pub(crate) change: &'a clerk_sync_core::store::InboundChange,
    /// The time of processing.
    pub(crate) now: crate::codec::Ts,
}

/// The store on a pool of one database: the shared statements live in `shared.rs`, `users.rs`
/// and `outbox.rs`, the rest in the dialect's module.
pub(crate) struct Store<DB: Database> {
    pub(crate) pool: Pool<DB>,
    /// Writers wait here for their turn where [`Backend::SERIAL_WRITES`] says so; shared by
    /// every clone of the store.
    turn: Arc<Mutex<()>>,
}

impl<DB: Database> Clone for Store<DB> {
    fn clone(&self) -> Self {
        Store {
            pool: self.pool.clone(),
            turn: Arc::clone(&self.turn),
        }
    }
}

impl<DB: Database> std::fmt::Debug for Store<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("pool", &self.pool).finish()
    }
}

/// A write transaction, holding the write turn (on SQLite) until it ends. Dropping it without
/// committing rolls it back.
pub(crate) struct Write<'s, DB: Database> {
    // Declared first so that it is dropped (its rollback queued) before the turn is released.
    pub(crate) tx: Transaction<'static, DB>,
    _turn: Option<MutexGuard<'s, ()>>,
}

impl<DB: Backend> Store<DB> {
    pub(crate) fn new(pool: Pool<DB>) -> Self {
        Store {
            pool,
            turn: Arc::new(Mutex::new(())),
        }
    }

    /// Wait for this process's write turn, where writes queue.
    pub(crate) async fn turn(&self) -> Option<MutexGuard<'_, ()>> {
        if DB::SERIAL_WRITES {
            Some(self.turn.lock().await)
        } else {
            None
        }
    }

    /// Begin a write transaction on a connection of the pool.
    pub(crate) async fn begin(&self) -> Result<Write<'_, DB>, sqlx::Error> {
        let turn = self.turn().await;
        let tx = self.pool.begin_with(DB::BEGIN).await?;
        Ok(Write { tx, _turn: turn })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "postgres")]
    #[test]
    fn postgres_numbers_placeholders_and_locks() {
        let sql = "SELECT id FROM t WHERE a = ? AND b IN (?, ?) ORDER BY id{skip_locked}";
        assert_eq!(
            sqlx::Postgres::rewrite(sql),
            "SELECT id FROM t WHERE a = $1 AND b IN ($2, $3) ORDER BY id FOR UPDATE SKIP LOCKED"
        );
        assert_eq!(
            sqlx::Postgres::rewrite("INSERT INTO r ({cursor}) VALUES (?){returning_id}"),
            "INSERT INTO r (cursor) VALUES ($1) RETURNING id AS n"
        );
    }

    #[cfg(feature = "mysql")]
    #[test]
    fn mysql_keeps_placeholders_and_quotes_cursor() {
        assert_eq!(
            sqlx::MySql::rewrite("UPDATE r SET {cursor} = ? WHERE id = ?{for_update}"),
            "UPDATE r SET `cursor` = ? WHERE id = ? FOR UPDATE"
        );
        assert_eq!(
            sqlx::MySql::rewrite("INSERT INTO r (a) VALUES (?){returning_id}"),
            "INSERT INTO r (a) VALUES (?)"
        );
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn sqlite_drops_row_locks() {
        assert_eq!(
            sqlx::Sqlite::rewrite("SELECT a FROM t WHERE b = ?{for_update}"),
            "SELECT a FROM t WHERE b = ?"
        );
        assert_eq!(
            sqlx::Sqlite::rewrite("SELECT a FROM t{skip_locked}"),
            "SELECT a FROM t"
        );
        assert_eq!(
            sqlx::Sqlite::rewrite("SELECT '{x}', '{'"),
            "SELECT '{x}', '{'",
            "unknown tokens and lone braces stay"
        );
    }

    #[test]
    fn placeholder_lists() {
        assert_eq!(placeholders(0), "");
        assert_eq!(placeholders(1), "?");
        assert_eq!(placeholders(3), "?, ?, ?");
    }
}
