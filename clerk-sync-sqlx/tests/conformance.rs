//! The store conformance suite of clerk-sync-core on all three databases.
//!
//! One fresh database per store: an in-memory SQLite database, a SQLite file, a new PostgreSQL
//! schema, a new MySQL database, so the cases run in parallel. Without its URL variable a
//! server's cases show as ignored, each naming the variable to set; under `CI=true` they run,
//! and fail without the URL.

mod support;

mod sqlite {
    clerk_sync_core::store_conformance_tests!(super::support::fresh_sqlite);
}

/// A file database: its connections share no cache, and writers meet SQLite's file lock.
mod sqlite_file {
    clerk_sync_core::store_conformance_tests!(super::support::fresh_sqlite_file);
}

mod postgres {
    use super::support::{self, Backend};

    clerk_sync_core::store_conformance_tests!(
        || support::fresh_pg(support::url(Backend::Postgres)),
        #[cfg_attr(not(clerk_sync_postgres), ignore = "set CLERK_SYNC_TEST_POSTGRES_URL")]
    );
}

mod mysql {
    use super::support::{self, Backend};

    clerk_sync_core::store_conformance_tests!(
        || support::fresh_mysql(support::url(Backend::MySql)),
        #[cfg_attr(not(clerk_sync_mysql), ignore = "set CLERK_SYNC_TEST_MYSQL_URL")]
    );
}
