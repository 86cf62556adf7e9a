//! The store conformance suite (`clerk_sync_core::store_conformance_tests!`) on SQLite,
//! PostgreSQL and MySQL/MariaDB, each on a store opened with `SeaOrmStore::connect(url)` and on
//! one made with `SeaOrmStore::new(db)` from a sea-orm connection: the two must behave the same.
//! One test per case, constructor and database; each store in its own database or schema.
//!
//! Without its URL variable a server's cases show as ignored, each naming the variable to set
//! (build.rs sets `cfg(clerk_sync_postgres)` / `cfg(clerk_sync_mysql)` from the environment,
//! and always under `CI=true`, where a missing URL then fails).

mod common;

use common::{Db, Open};

mod sqlite_connect {
    clerk_sync_core::store_conformance_tests!(|| crate::common::fresh(
        super::Db::Sqlite,
        super::Open::Connect
    ));
}

mod sqlite_new {
    clerk_sync_core::store_conformance_tests!(|| crate::common::fresh(
        super::Db::Sqlite,
        super::Open::New
    ));
}

mod postgres_connect {
    clerk_sync_core::store_conformance_tests!(
        || crate::common::fresh(super::Db::Postgres, super::Open::Connect),
        #[cfg_attr(not(clerk_sync_postgres), ignore = "set CLERK_SYNC_TEST_POSTGRES_URL")]
    );
}

mod postgres_new {
    clerk_sync_core::store_conformance_tests!(
        || crate::common::fresh(super::Db::Postgres, super::Open::New),
        #[cfg_attr(not(clerk_sync_postgres), ignore = "set CLERK_SYNC_TEST_POSTGRES_URL")]
    );
}

mod mysql_connect {
    clerk_sync_core::store_conformance_tests!(
        || crate::common::fresh(super::Db::Mysql, super::Open::Connect),
        #[cfg_attr(not(clerk_sync_mysql), ignore = "set CLERK_SYNC_TEST_MYSQL_URL")]
    );
}

mod mysql_new {
    clerk_sync_core::store_conformance_tests!(
        || crate::common::fresh(super::Db::Mysql, super::Open::New),
        #[cfg_attr(not(clerk_sync_mysql), ignore = "set CLERK_SYNC_TEST_MYSQL_URL")]
    );
}
