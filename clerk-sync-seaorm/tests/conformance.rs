//! The store conformance suite (`clerk_sync_core::conformance`) on SQLite, PostgreSQL and
//! MySQL/MariaDB: one test per case and database, each store in its own database or schema.
//! PostgreSQL and MySQL are skipped (with a message) when their URL variable is unset, and fail
//! under `CI=true`.

mod common;

mod sqlite {
    clerk_sync_core::store_conformance_tests!(|| crate::common::fresh(crate::common::Db::Sqlite));
}

/// A store opened with `SeaOrmStore::connect`: on SQLite its inbound events go through
/// clerk-sync-sqlx's path on sea-orm's pool, which a store made with `new` does not take.
mod sqlite_connect {
    clerk_sync_core::store_conformance_tests!(|| crate::common::fresh_connected(
        crate::common::Db::Sqlite
    ));
}

mod postgres {
    // The block runs first in every generated test: without a URL the test returns (skips)
    // before the case starts.
    clerk_sync_core::store_conformance_tests!({
        if crate::common::url(crate::common::Db::Postgres).is_none() {
            return;
        }
        || crate::common::fresh(crate::common::Db::Postgres)
    });
}

mod mysql {
    clerk_sync_core::store_conformance_tests!({
        if crate::common::url(crate::common::Db::Mysql).is_none() {
            return;
        }
        || crate::common::fresh(crate::common::Db::Mysql)
    });
}

/// As `sqlite_connect`: on MySQL/MariaDB a store opened with `connect` applies inbound events
/// with one `CALL` of the stored procedure its migrations create.
mod mysql_connect {
    clerk_sync_core::store_conformance_tests!({
        if crate::common::url(crate::common::Db::Mysql).is_none() {
            return;
        }
        || crate::common::fresh_connected(crate::common::Db::Mysql)
    });
}
