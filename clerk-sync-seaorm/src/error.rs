//! `DbErr` to `StoreError`.
//!
//! The kind decides what the engine answers Svix, so the mapping errs on the side of
//! "retryable": anything that looks like the connection rather than the statement is
//! `Unavailable`. Messages are fixed strings; the driver error is kept as the source only.

use std::ops::Deref;

use clerk_sync_core::store::StoreError;
use sea_orm::{DbErr, RuntimeErr};

/// Map a sea-orm error onto the store error kinds, keeping it as the source.
pub(crate) fn map_db_err(err: DbErr) -> StoreError {
    match classify(&err) {
        Kind::Unavailable => StoreError::Unavailable(Box::new(err)),
        Kind::Schema => StoreError::Schema(Box::new(err)),
        Kind::Backend => StoreError::Backend(Box::new(err)),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Unavailable,
    Schema,
    Backend,
}

fn sqlx_error(err: &DbErr) -> Option<&sea_orm::SqlxError> {
    match err {
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => Some(e.deref()),
        _ => None,
    }
}

fn classify(err: &DbErr) -> Kind {
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return Kind::Unavailable,
        _ => {}
    }
    let Some(sqlx) = sqlx_error(err) else {
        return Kind::Backend;
    };
    use sea_orm::SqlxError as E;
    match sqlx {
        E::Io(_)
        | E::Tls(_)
        | E::Protocol(_)
        | E::PoolTimedOut
        | E::PoolClosed
        | E::WorkerCrashed => Kind::Unavailable,
        E::Database(db) => {
            let code = db.code();
            let code = code.as_deref().unwrap_or("");
            if let Some(my) = db.try_downcast_ref::<sea_orm::SqlxMySqlError>() {
                return match my.number() {
                    // no such table / column
                    1146 | 1054 => Kind::Schema,
                    // server shutdown (1053, 1077), connection killed, too many connections,
                    // read-only, disconnected for inactivity
                    1053 | 1077 | 1040 | 1927 | 1290 | 1836 | 4031 => Kind::Unavailable,
                    _ => Kind::Backend,
                };
            }
            if db.try_downcast_ref::<sea_orm::SqlxSqliteError>().is_some() {
                let msg = db.message();
                return if msg.starts_with("no such table") || msg.starts_with("no such column") {
                    Kind::Schema
                } else if matches!(code, "10" | "14" | "26") || code.starts_with("10") {
                    // SQLITE_IOERR (and its extended codes), CANTOPEN, NOTADB
                    Kind::Unavailable
                } else {
                    Kind::Backend
                };
            }
            // PostgreSQL SQLSTATE classes: 08 connection exception, 57P admin shutdown / crash
            // recovery / cannot connect now, 53 insufficient resources.
            if code.starts_with("08") || code.starts_with("57P") || code.starts_with("53") {
                Kind::Unavailable
            } else if code == "42P01" || code == "42703" || code == "3F000" {
                Kind::Schema
            } else {
                Kind::Backend
            }
        }
        _ => Kind::Backend,
    }
}

/// Whether `err` is a transient conflict between concurrent transactions that the same
/// statements will get past when run again: deadlocks, serialization failures, lock wait
/// timeouts, and SQLite's busy/locked.
pub(crate) fn is_conflict(err: &DbErr) -> bool {
    let Some(sea_orm::SqlxError::Database(db)) = sqlx_error(err) else {
        return false;
    };
    if let Some(my) = db.try_downcast_ref::<sea_orm::SqlxMySqlError>() {
        return matches!(my.number(), 1213 | 1205);
    }
    let code = db.code();
    let code = code.as_deref().unwrap_or("");
    if db.try_downcast_ref::<sea_orm::SqlxSqliteError>().is_some() {
        // SQLITE_BUSY and SQLITE_LOCKED with their extended codes (e.g. 517 BUSY_SNAPSHOT).
        return code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6));
    }
    matches!(code, "40001" | "40P01")
}

/// Whether `err` is a unique-constraint violation.
pub(crate) fn is_unique_violation(err: &DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}
