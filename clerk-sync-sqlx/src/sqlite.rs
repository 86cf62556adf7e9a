//! SQLite: a single writer, and connect options that make a URL do what it says.
//!
//! SQLite allows one writer per database, and a transaction that starts as a reader and then
//! writes can fail with `SQLITE_BUSY` without waiting. So every write transaction begins with
//! `BEGIN IMMEDIATE` (the write lock up front, waiting up to the busy timeout), and within the
//! process writers wait for their turn in Tokio ([`Backend::SERIAL_WRITES`](crate::backend::Backend::SERIAL_WRITES)) instead of in
//! SQLite's busy handler, which sleeps in steps of up to 100 ms. Inside that transaction
//! nothing else writes, which is what makes the store's "read, then decide" transactions
//! (`users.rs`, `ledger.rs`) exact without row locks. Every statement is a shared one; SQLite
//! has no statement of its own (its facts are in `backend.rs`).

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

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
