//! Database errors onto [`StoreError`] kinds: one table per dialect.
//!
//! [`classify`] is the table: every server error code the store knows, per dialect, and what
//! it means for the caller. The engine answers every transient kind with a retryable 5xx, so
//! the split that matters is "may work later" ([`StoreError::Unavailable`],
//! [`StoreError::Backend`]) against "needs a person" ([`StoreError::Schema`],
//! [`StoreError::Configuration`], [`StoreError::InvalidData`]).
//!
//! | class | PostgreSQL (SQLSTATE) | MySQL / MariaDB (error number) | SQLite (result code) | becomes |
//! |---|---|---|---|---|
//! | unavailable | class `08` (connection), class `53` (resources), `57P01`-`57P03`, `57P05` (shutdown, terminated, starting, idle timeout), `25006` (read-only: a standby or a failover) | 1040 (too many connections), 1053 / 1077 (shutdown), 1158-1161 (network), 1290 / 1836 (read-only), 1927 (connection killed), 2002 / 2003 / 2006 / 2013 (cannot connect, gone away, lost), 4031 (closed for inactivity) | `BUSY` and its extended codes but `BUSY_SNAPSHOT` (another connection held the write lock past the busy timeout), `IOERR` and all its extended codes, `FULL`, `NOMEM` | `Unavailable` |
//! | conflict: rerun | `40001` (serialization failure), `40P01` (deadlock) | 1213 (deadlock) | `BUSY_SNAPSHOT`, `LOCKED` and `LOCKED_SHAREDCACHE` | `Backend` (transient), after the store re-ran the transaction |
//! | conflict: duplicate | `23505` | 1062 | `CONSTRAINT_UNIQUE`, `CONSTRAINT_PRIMARYKEY` | `Backend` (transient); statements whose re-run re-reads the row re-run first |
//! | conflict: lock wait | `55P03` (lock not available) | 1205 (lock wait timeout) | | `Backend` (transient), not re-run: it already waited |
//! | schema | `42P01` (no table), `42703` (no column), `42883` (no function) | 1146 (no table), 1054 (no column), 1305 (no procedure) | `ERROR` with "no such table" / "no such column" | `Schema` |
//! | configuration | `28P01` (password), `28000` (role or `pg_hba.conf`), `3D000` (no database), `57P04` (database dropped), `42501` (privilege) | 1045 / 1698 (access denied), 1044 (no access to the database), 1049 (no database), 1142 / 1370 (privilege on a table or routine) | `CANTOPEN`, `PERM`, `READONLY` and its extended codes, `NOTADB`, `AUTH` | `Configuration` |
//!
//! Everything else is [`StoreError::Backend`]. Some choices, and why:
//! - SQLite's `BUSY` is *unavailable*, not a conflict: by the time it surfaces the store has
//!   waited the whole busy timeout (5 s from `connect`) for another connection (often another
//!   process) to let go of the write lock, so re-running at once would only wait again.
//!   `BUSY_SNAPSHOT` (a read transaction that can no longer become a write) and `LOCKED` (a
//!   shared-cache table lock, the in-memory database's) are races that a re-run settles.
//! - A lock wait timeout (1205, `55P03`) is transient but not re-run inside the store: it
//!   already waited the server's whole timeout.
//! - A refused password, an unknown role or database and a missing privilege are
//!   *configuration*: retrying never helps, and `is_transient()` is false.
//!
//! Driver errors are kept as the `source()` of the error they become. They can quote what the
//! server quoted (a duplicate key's id, for instance), so log them on your side of the
//! boundary, as the engine does; the `StoreError` messages themselves are fixed text. Errors of
//! [`crate::SqlxStore::connect`] are different: they say nothing of the URL or the server's
//! message (see `connect.rs`).

use clerk_sync_core::store::StoreError;
use sqlx::error::DatabaseError;

/// What a database error means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// The server, or the connection to it, cannot serve now; later may work.
    Unavailable,
    /// The operation lost a race with another transaction.
    Conflict(Race),
    /// The store's tables (or procedure) are missing or older than the code: run the
    /// migrations.
    Schema,
    /// The database refuses this configuration (credentials, database, privileges, file);
    /// the text says what, without any value.
    Configuration(&'static str),
    /// Anything else.
    Other,
}

/// How an operation lost a race.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Race {
    /// The database aborted the transaction (deadlock, serialization failure): re-run it.
    Rerun,
    /// A unique key already held the value: a re-run that reads the row again settles it.
    Duplicate,
    /// The server's lock wait ran out.
    LockWait,
}

/// A database error's code, as each dialect reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Code<'a> {
    /// A PostgreSQL SQLSTATE.
    Postgres(&'a str),
    /// A MySQL / MariaDB error number.
    MySql(u16),
    /// A SQLite extended result code, and the message (SQLite names a missing table only
    /// there).
    Sqlite(i32, &'a str),
}

/// The table: what `code` means. See the module documentation.
pub(crate) fn classify(code: Code<'_>) -> Class {
    match code {
        Code::Postgres(sqlstate) => postgres(sqlstate),
        Code::MySql(number) => mysql(number),
        Code::Sqlite(code, message) => sqlite(code, message),
    }
}

fn postgres(sqlstate: &str) -> Class {
    match sqlstate {
        s if s.starts_with("08") || s.starts_with("53") => Class::Unavailable,
        "57P01" | "57P02" | "57P03" | "57P05" | "25006" => Class::Unavailable,
        "40001" | "40P01" => Class::Conflict(Race::Rerun),
        "23505" => Class::Conflict(Race::Duplicate),
        "55P03" => Class::Conflict(Race::LockWait),
        "42P01" | "42703" | "42883" => Class::Schema,
        "28P01" => Class::Configuration("the server refused the password"),
        "28000" => Class::Configuration(
            "the server refused the role (unknown role, or no pg_hba.conf entry allows it)",
        ),
        "3D000" => Class::Configuration("the database does not exist"),
        "57P04" => Class::Configuration("the database was dropped"),
        "42501" => Class::Configuration("the database role lacks a privilege the store needs"),
        _ => Class::Other,
    }
}

fn mysql(number: u16) -> Class {
    match number {
        1040
        | 1053
        | 1077
        | 1158..=1161
        | 1290
        | 1836
        | 1927
        | 2002
        | 2003
        | 2006
        | 2013
        | 4031 => Class::Unavailable,
        1213 => Class::Conflict(Race::Rerun),
        1062 => Class::Conflict(Race::Duplicate),
        1205 => Class::Conflict(Race::LockWait),
        1146 | 1054 | 1305 => Class::Schema,
        1045 | 1698 => Class::Configuration("the server refused the user or its password"),
        1044 => Class::Configuration("the user may not use this database"),
        1049 => Class::Configuration("the database does not exist"),
        1142 | 1370 => {
            Class::Configuration("the user lacks a privilege the store needs (see docs/schema.md)")
        }
        _ => Class::Other,
    }
}

// SQLite's primary result codes; an extended code keeps its primary code in the low byte.
const SQLITE_ERROR: i32 = 1;
const SQLITE_PERM: i32 = 3;
const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;
const SQLITE_NOMEM: i32 = 7;
const SQLITE_READONLY: i32 = 8;
const SQLITE_IOERR: i32 = 10;
const SQLITE_FULL: i32 = 13;
const SQLITE_CANTOPEN: i32 = 14;
const SQLITE_CONSTRAINT: i32 = 19;
const SQLITE_AUTH: i32 = 23;
const SQLITE_NOTADB: i32 = 26;
const SQLITE_BUSY_SNAPSHOT: i32 = SQLITE_BUSY | (2 << 8);
const SQLITE_CONSTRAINT_PRIMARYKEY: i32 = SQLITE_CONSTRAINT | (6 << 8);
const SQLITE_CONSTRAINT_UNIQUE: i32 = SQLITE_CONSTRAINT | (8 << 8);

fn sqlite(code: i32, message: &str) -> Class {
    match (code, code & 0xff) {
        (SQLITE_BUSY_SNAPSHOT, _) | (_, SQLITE_LOCKED) => Class::Conflict(Race::Rerun),
        (SQLITE_CONSTRAINT_UNIQUE | SQLITE_CONSTRAINT_PRIMARYKEY, _) => {
            Class::Conflict(Race::Duplicate)
        }
        (_, SQLITE_BUSY | SQLITE_IOERR | SQLITE_FULL | SQLITE_NOMEM) => Class::Unavailable,
        (_, SQLITE_CANTOPEN) => Class::Configuration(
            "the SQLite database file cannot be opened (a missing directory, or permissions)",
        ),
        (_, SQLITE_PERM | SQLITE_AUTH) => {
            Class::Configuration("SQLite refused access to the database")
        }
        (_, SQLITE_READONLY) => Class::Configuration("the SQLite database is read-only"),
        (_, SQLITE_NOTADB) => Class::Configuration("the file is not a SQLite database"),
        (_, SQLITE_ERROR)
            if message.starts_with("no such table") || message.starts_with("no such column") =>
        {
            Class::Schema
        }
        _ => Class::Other,
    }
}

/// The code of a driver's database error.
fn code_of(db: &dyn DatabaseError) -> Option<Code<'_>> {
    #[cfg(feature = "postgres")]
    if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        return Some(Code::Postgres(pg.code()));
    }
    #[cfg(feature = "mysql")]
    if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return Some(Code::MySql(my.number()));
    }
    #[cfg(feature = "sqlite")]
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        let code = db.code()?.parse().ok()?;
        return Some(Code::Sqlite(code, db.message()));
    }
    None
}

/// The class of a sqlx error that came from the database.
pub(crate) fn class_of(err: &sqlx::Error) -> Class {
    match err {
        sqlx::Error::Database(db) => code_of(db.as_ref()).map_or(Class::Other, classify),
        _ => Class::Other,
    }
}

/// Map a sqlx error from an operation (not from `connect`), keeping it as the source.
pub(crate) fn map_sqlx(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::PoolClosed
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed => StoreError::Unavailable(Box::new(err)),
        sqlx::Error::ColumnDecode { index, .. } => StoreError::InvalidData {
            what: format!("column {index}"),
        },
        sqlx::Error::Decode(_) => StoreError::InvalidData {
            what: "column value".to_owned(),
        },
        sqlx::Error::ColumnNotFound(_) | sqlx::Error::TypeNotFound { .. } => {
            StoreError::Schema(Box::new(err))
        }
        sqlx::Error::Configuration(_) => StoreError::Configuration {
            reason: "sqlx rejected the connection options".to_owned(),
            source: Some(Box::new(err)),
        },
        _ => match class_of(&err) {
            Class::Unavailable => StoreError::Unavailable(Box::new(err)),
            Class::Schema => StoreError::Schema(Box::new(err)),
            Class::Configuration(reason) => StoreError::Configuration {
                reason: reason.to_owned(),
                source: Some(Box::new(err)),
            },
            Class::Conflict(_) | Class::Other => StoreError::Backend(Box::new(err)),
        },
    }
}

/// Map a migration error; a failed statement keeps its database classification.
pub(crate) fn map_migrate(err: sqlx::migrate::MigrateError) -> StoreError {
    match err {
        sqlx::migrate::MigrateError::Execute(e)
        | sqlx::migrate::MigrateError::ExecuteMigration(e, _) => map_sqlx(e),
        other => StoreError::Schema(Box::new(other)),
    }
}

/// Whether `err` is a unique-key violation.
pub(crate) fn is_duplicate(err: &sqlx::Error) -> bool {
    class_of(err) == Class::Conflict(Race::Duplicate)
}

/// How many times a transaction that lost a race is re-run.
pub(crate) const RERUNS: usize = 8;

/// Pause before re-running after a lost race; grows so that a pile-up spreads out.
pub(crate) fn rerun_backoff(attempt: usize) -> std::time::Duration {
    std::time::Duration::from_millis(2u64 << attempt.min(6))
}

/// Whether a transaction that failed with `err` is re-run: a deadlock or serialization
/// failure always, a duplicate key where `duplicates` says the re-run reads the row again.
pub(crate) fn rerun(err: &sqlx::Error, duplicates: bool) -> bool {
    match class_of(err) {
        Class::Conflict(Race::Rerun) => true,
        Class::Conflict(Race::Duplicate) => duplicates,
        _ => false,
    }
}

/// Run `$body` (an expression yielding `Result<_, sqlx::Error>`, evaluated again on each
/// attempt) until it succeeds, fails for another reason, or has been re-run [`RERUNS`] times:
/// `rerun` re-runs deadlocks and serialization failures; `duplicates` also duplicate keys, for
/// transactions whose re-run reads the row the other writer just inserted.
macro_rules! retry {
    (rerun, $body:expr) => {
        $crate::error::retry!(@run false, $body)
    };
    (duplicates, $body:expr) => {
        $crate::error::retry!(@run true, $body)
    };
    (@run $duplicates:expr, $body:expr) => {{
        let mut attempt = 0usize;
        loop {
            match $body {
                Err(e) if attempt < $crate::error::RERUNS && $crate::error::rerun(&e, $duplicates) => {
                    attempt += 1;
                    ::tokio::time::sleep($crate::error::rerun_backoff(attempt)).await;
                }
                other => break other,
            }
        }
    }};
}
pub(crate) use retry;

#[cfg(test)]
mod tests {
    use super::*;

    fn is_configuration(class: Class) -> bool {
        matches!(class, Class::Configuration(_))
    }

    #[test]
    fn postgres_table() {
        for (sqlstate, expected) in [
            ("08006", Class::Unavailable),
            ("08001", Class::Unavailable),
            ("53300", Class::Unavailable),
            ("53100", Class::Unavailable),
            ("57P01", Class::Unavailable),
            ("57P02", Class::Unavailable),
            ("57P03", Class::Unavailable),
            ("57P05", Class::Unavailable),
            ("25006", Class::Unavailable),
            ("40001", Class::Conflict(Race::Rerun)),
            ("40P01", Class::Conflict(Race::Rerun)),
            ("23505", Class::Conflict(Race::Duplicate)),
            ("55P03", Class::Conflict(Race::LockWait)),
            ("42P01", Class::Schema),
            ("42703", Class::Schema),
            ("42883", Class::Schema),
            ("23503", Class::Other),
            ("22P02", Class::Other),
            ("57014", Class::Other),
        ] {
            assert_eq!(classify(Code::Postgres(sqlstate)), expected, "{sqlstate}");
        }
        for sqlstate in ["28P01", "28000", "3D000", "57P04", "42501"] {
            assert!(
                is_configuration(classify(Code::Postgres(sqlstate))),
                "{sqlstate}"
            );
        }
    }

    #[test]
    fn mysql_table() {
        for (number, expected) in [
            (2002, Class::Unavailable),
            (2003, Class::Unavailable),
            (2006, Class::Unavailable),
            (2013, Class::Unavailable),
            (4031, Class::Unavailable),
            (1290, Class::Unavailable),
            (1836, Class::Unavailable),
            (1040, Class::Unavailable),
            (1053, Class::Unavailable),
            (1077, Class::Unavailable),
            (1158, Class::Unavailable),
            (1161, Class::Unavailable),
            (1927, Class::Unavailable),
            (1213, Class::Conflict(Race::Rerun)),
            (1062, Class::Conflict(Race::Duplicate)),
            (1205, Class::Conflict(Race::LockWait)),
            (1146, Class::Schema),
            (1054, Class::Schema),
            (1305, Class::Schema),
            (1452, Class::Other),
            (1064, Class::Other),
        ] {
            assert_eq!(classify(Code::MySql(number)), expected, "{number}");
        }
        for number in [1045, 1698, 1044, 1049, 1142, 1370] {
            assert!(is_configuration(classify(Code::MySql(number))), "{number}");
        }
    }

    #[test]
    fn sqlite_table() {
        let any = "whatever the message";
        for (code, message, expected) in [
            (5, any, Class::Unavailable),                  // BUSY
            (261, any, Class::Unavailable),                // BUSY_RECOVERY
            (773, any, Class::Unavailable),                // BUSY_TIMEOUT
            (517, any, Class::Conflict(Race::Rerun)),      // BUSY_SNAPSHOT
            (6, any, Class::Conflict(Race::Rerun)),        // LOCKED
            (262, any, Class::Conflict(Race::Rerun)),      // LOCKED_SHAREDCACHE
            (10, any, Class::Unavailable),                 // IOERR
            (266, any, Class::Unavailable),                // IOERR_READ
            (4874, any, Class::Unavailable),               // IOERR_SHMSIZE
            (13, any, Class::Unavailable),                 // FULL
            (7, any, Class::Unavailable),                  // NOMEM
            (2067, any, Class::Conflict(Race::Duplicate)), // CONSTRAINT_UNIQUE
            (1555, any, Class::Conflict(Race::Duplicate)), // CONSTRAINT_PRIMARYKEY
            (787, any, Class::Other),                      // CONSTRAINT_FOREIGNKEY
            (275, any, Class::Other),                      // CONSTRAINT_CHECK
            (1, "no such table: clerk_users", Class::Schema),
            (1, "no such column: dead_at", Class::Schema),
            (1, "near \"SELEC\": syntax error", Class::Other),
            (11, any, Class::Other), // CORRUPT
        ] {
            assert_eq!(classify(Code::Sqlite(code, message)), expected, "{code}");
        }
        // CANTOPEN, PERM, READONLY, READONLY_DBMOVED, NOTADB, AUTH
        for code in [14, 3, 8, 1032, 26, 23] {
            assert!(
                is_configuration(classify(Code::Sqlite(code, any))),
                "{code}"
            );
        }
    }

    #[test]
    fn classes_become_store_errors() {
        assert!(matches!(
            map_sqlx(sqlx::Error::PoolClosed),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            map_sqlx(sqlx::Error::PoolTimedOut),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            map_sqlx(sqlx::Error::ColumnNotFound("dead_at".into())),
            StoreError::Schema(_)
        ));
        assert!(!map_sqlx(sqlx::Error::Configuration("x".into())).is_transient());
        assert!(matches!(
            map_sqlx(sqlx::Error::RowNotFound),
            StoreError::Backend(_)
        ));
    }
}
