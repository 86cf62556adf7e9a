//! The store conformance suite of clerk-sync-core on all three databases.
//!
//! One fresh database per store: an in-memory SQLite database, a SQLite file, a new PostgreSQL schema, a new
//! MySQL database, so the cases run in parallel. PostgreSQL and MySQL are skipped (with a
//! message) when their URL variable is unset, and fail under `CI=true`.

mod support;

mod sqlite {
    clerk_sync_core::store_conformance_tests!(super::support::fresh_sqlite);
}

/// A file database: writes go through the store's held writer connection.
mod sqlite_file {
    clerk_sync_core::store_conformance_tests!(super::support::fresh_sqlite_file);
}

mod postgres {
    use super::support::{self, Backend};

    // The block runs first in every generated test: without a URL the test returns (skips)
    // before the case starts.
    clerk_sync_core::store_conformance_tests!({
        let Some(url) = support::url(Backend::Postgres, "postgres conformance") else {
            return;
        };
        move || support::fresh_pg(url.clone())
    });
}

mod mysql {
    use super::support::{self, Backend};

    clerk_sync_core::store_conformance_tests!({
        let Some(url) = support::url(Backend::MySql, "mysql conformance") else {
            return;
        };
        move || support::fresh_mysql(url.clone())
    });
}
