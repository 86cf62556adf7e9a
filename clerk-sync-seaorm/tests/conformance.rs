//! The store conformance suite (`clerk_sync_core::store_conformance_tests!`) on SQLite,
//! PostgreSQL and MySQL/MariaDB, each on a store opened with `SeaOrmStore::connect(url)` and on
//! one made with `SeaOrmStore::new(db)` from a sea-orm connection: the two must behave the same.
//! One test per case, constructor and database; each store in its own database or schema.
//!
//! The server suites are compiled with `cfg(clerk_sync_postgres)` / `cfg(clerk_sync_mysql)`
//! (build.rs). Without them, one ignored test per server stands in, so the run says what it
//! left out.

mod common;

mod sqlite_connect {
    clerk_sync_core::store_conformance_tests!(|| crate::common::fresh(
        crate::common::Db::Sqlite,
        crate::common::Open::Connect
    ));
}

mod sqlite_new {
    clerk_sync_core::store_conformance_tests!(|| crate::common::fresh(
        crate::common::Db::Sqlite,
        crate::common::Open::New
    ));
}

#[cfg(clerk_sync_postgres)]
mod postgres_connect {
    clerk_sync_core::store_conformance_tests!(|| crate::common::fresh(
        crate::common::Db::Postgres,
        crate::common::Open::Connect
    ));
}

#[cfg(clerk_sync_postgres)]
mod postgres_new {
    clerk_sync_core::store_conformance_tests!(|| crate::common::fresh(
        crate::common::Db::Postgres,
        crate::common::Open::New
    ));
}

#[cfg(clerk_sync_mysql)]
mod mysql_connect {
    clerk_sync_core::store_conformance_tests!(|| crate::common::fresh(
        crate::common::Db::Mysql,
        crate::common::Open::Connect
    ));
}

#[cfg(clerk_sync_mysql)]
mod mysql_new {
    clerk_sync_core::store_conformance_tests!(|| crate::common::fresh(
        crate::common::Db::Mysql,
        crate::common::Open::New
    ));
}

#[cfg(not(clerk_sync_postgres))]
#[test]
#[ignore = "set CLERK_SYNC_TEST_POSTGRES_URL to build the PostgreSQL conformance suite"]
fn postgres_conformance_not_built() {
    panic!("CLERK_SYNC_TEST_POSTGRES_URL was not set when this test binary was built");
}

#[cfg(not(clerk_sync_mysql))]
#[test]
#[ignore = "set CLERK_SYNC_TEST_MYSQL_URL to build the MySQL/MariaDB conformance suite"]
fn mysql_conformance_not_built() {
    panic!("CLERK_SYNC_TEST_MYSQL_URL was not set when this test binary was built");
}
