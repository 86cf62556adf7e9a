//! sqlx errors onto [`StoreError`] kinds.
//!
//! The engine turns every transient kind into a retryable 5xx, so the split that matters is
//! "may work later" (`Unavailable`, `Backend`) against "needs a person" (`Schema`,
//! `InvalidData`). Messages never carry SQL values: the driver error stays as the `source`,
//! and `StoreError`'s own text is fixed.

use clerk_sync_core::store::StoreError;
use sqlx::error::DatabaseError;

/// Map a sqlx error, keeping it as the source.
pub(crate) fn map_sqlx(err: sqlx::Error) -> StoreError {
    if is_unavailable(&err) {
        return StoreError::Unavailable(Box::new(err));
    }
    match &err {
        sqlx::Error::ColumnDecode { index, .. } => StoreError::InvalidData {
            what: format!("column {index}"),
        },
        sqlx::Error::Decode(_) => StoreError::InvalidData {
            what: "column value".to_owned(),
        },
        sqlx::Error::ColumnNotFound(_) => StoreError::Schema(Box::new(err)),
        sqlx::Error::Database(db) => match classify(db.as_ref()) {
            DbClass::Unavailable => StoreError::Unavailable(Box::new(err)),
            DbClass::Schema => StoreError::Schema(Box::new(err)),
            DbClass::Other => StoreError::Backend(Box::new(err)),
        },
        _ => StoreError::Backend(Box::new(err)),
    }
}

/// Whether `err` maps to [`StoreError::Unavailable`]: the database, or the connection to it,
/// cannot serve for now.
pub(crate) fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolClosed
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed => true,
        sqlx::Error::Database(db) => matches!(classify(db.as_ref()), DbClass::Unavailable),
        _ => false,
    }
}

/// Map a migration error; a failed statement keeps its database classification.
pub(crate) fn map_migrate(err: sqlx::migrate::MigrateError) -> StoreError {
    match err {
        sqlx::migrate::MigrateError::Execute(e) => map_sqlx(e),
        sqlx::migrate::MigrateError::ExecuteMigration(e, _) => map_sqlx(e),
        other => StoreError::Schema(Box::new(other)),
    }
}

enum DbClass {
    Unavailable,
    Schema,
    Other,
}

fn classify(db: &dyn DatabaseError) -> DbClass {
    let code = db.code();
    let code = code.as_deref().unwrap_or("");
    // PostgreSQL SQLSTATE classes: 08 connection exception, 53 insufficient resources,
    // 57P01..57P03 shutdown / terminated / cannot connect now.
    if code.starts_with("08")
        || code.starts_with("53")
        || matches!(code, "57P01" | "57P02" | "57P03")
    {
        return DbClass::Unavailable;
    }
    // 42P01 undefined_table, 42703 undefined_column (PostgreSQL); 42S02 / 42S22 are MySQL's
    // "table doesn't exist" and "unknown column".
    if matches!(code, "42P01" | "42703" | "42S02" | "42S22") {
        return DbClass::Schema;
    }
    // MySQL/MariaDB error numbers that mean the server or the connection went away, or cannot
    // take writes for now: 1053 server shutdown, 1077 normal shutdown, 1927 connection killed,
    // 1040 too many connections, 1290 / 1836 read-only (a replica, or a primary mid-failover),
    // 4031 disconnected for inactivity (MySQL 8.0.24+, sent on the next use of a connection
    // that sat idle past `wait_timeout`). The same numbers as the sea-orm store's.
    #[cfg(feature = "mysql")]
    if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        if matches!(my.number(), 1040 | 1053 | 1077 | 1290 | 1836 | 1927 | 4031) {
            return DbClass::Unavailable;
        }
        // 1146 no such table, 1054 unknown column, 1305 no such procedure
        // (`clerk_sync_apply_inbound`, on a database migrated before it existed).
        if matches!(my.number(), 1146 | 1054 | 1305) {
            return DbClass::Schema;
        }
    }
    // SQLite reports a missing table only in the message (SQLITE_ERROR is generic).
    #[cfg(feature = "sqlite")]
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        let msg = db.message();
        if msg.starts_with("no such table") || msg.starts_with("no such column") {
            return DbClass::Schema;
        }
    }
    DbClass::Other
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
/// Whether re-running the whole transaction is the right answer: deadlocks and serialization
/// failures, which the database resolves by aborting one of the parties.
pub(crate) fn is_conflict(err: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = err else {
        return false;
    };
    let code = db.code();
    // 40001 serialization_failure (PostgreSQL; also MySQL's SQLSTATE for 1213 deadlock),
    // 40P01 deadlock_detected.
    if matches!(code.as_deref(), Some("40001" | "40P01")) {
        return true;
    }
    #[cfg(feature = "mysql")]
    if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return my.number() == 1213;
    }
    false
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
/// Whether `err` is a unique-constraint violation.
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => db.is_unique_violation(),
        _ => false,
    }
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
/// How many times a transaction that lost a deadlock or a unique race is re-run.
pub(crate) const CONFLICT_RETRIES: usize = 8;

#[cfg(any(feature = "postgres", feature = "mysql"))]
/// Pause before re-running after a conflict; grows so that a pile-up spreads out.
pub(crate) fn conflict_backoff(attempt: usize) -> std::time::Duration {
    std::time::Duration::from_millis(2u64 << attempt.min(6))
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
/// Re-run `$body` (an expression yielding `Result<_, sqlx::Error>`) while it fails with a
/// deadlock or serialization failure (`plain`), or also with a unique violation (`unique`,
/// for statements whose conditional logic re-reads the row on the next run).
macro_rules! retry_conflicts {
    (plain, $body:expr) => {
        $crate::error::retry_conflicts!(@run false, $body)
    };
    (unique, $body:expr) => {
        $crate::error::retry_conflicts!(@run true, $body)
    };
    (@run $unique:expr, $body:expr) => {{
        let mut attempt = 0usize;
        loop {
            match $body {
                Err(e)
                    if attempt < $crate::error::CONFLICT_RETRIES
                        && ($crate::error::is_conflict(&e)
                            || ($unique && $crate::error::is_unique_violation(&e))) =>
                {
                    attempt += 1;
                    ::tokio::time::sleep($crate::error::conflict_backoff(attempt)).await;
                }
                other => break other,
            }
        }
    }};
}
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) use retry_conflicts;
