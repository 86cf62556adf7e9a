//! The store conformance suite of clerk-sync-core on all three databases.
//!
//! One fresh database per store: an in-memory SQLite database, a SQLite file, a new PostgreSQL
//! schema, a new MySQL database, so the cases run in parallel. Without its URL variable a
//! server's suite is one ignored test saying which variable to set; under `CI=true` it runs,
//! and fails without the URL.

mod support;

mod sqlite {
    clerk_sync_core::store_conformance_tests!(super::support::fresh_sqlite);
}

/// A file database: its connections share no cache, and writers meet SQLite's file lock.
mod sqlite_file {
    clerk_sync_core::store_conformance_tests!(super::support::fresh_sqlite_file);
}

#[cfg(clerk_sync_postgres)]
mod postgres {
    use super::support::{self, Backend};

    clerk_sync_core::store_conformance_tests!(|| support::fresh_pg(support::url(
        Backend::Postgres
    )));
}

#[cfg(clerk_sync_mysql)]
mod mysql {
    use super::support::{self, Backend};

    clerk_sync_core::store_conformance_tests!(|| support::fresh_mysql(support::url(
        Backend::MySql
    )));
}

#[cfg(not(clerk_sync_postgres))]
#[test]
#[ignore = "set CLERK_SYNC_TEST_POSTGRES_URL to run the conformance suite on PostgreSQL"]
fn postgres_conformance_suite() {
    panic!("set CLERK_SYNC_TEST_POSTGRES_URL to run the conformance suite on PostgreSQL");
}

#[cfg(not(clerk_sync_mysql))]
#[test]
#[ignore = "set CLERK_SYNC_TEST_MYSQL_URL to run the conformance suite on MySQL/MariaDB"]
fn mysql_conformance_suite() {
    panic!("set CLERK_SYNC_TEST_MYSQL_URL to run the conformance suite on MySQL/MariaDB");
}
