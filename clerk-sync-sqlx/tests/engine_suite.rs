//! The engine behaviour suite (fallback fetch, resync, reconcile, backfill, the outbound
//! worker, against FakeClerk) on all three databases. Without its URL variable a server's
//! cases show as ignored; under `CI=true` they run, and fail without the URL.

mod support;

mod sqlite {
    clerk_sync_testing::engine_suite_tests!(super::support::fresh_sqlite_file);
}

mod postgres {
    use super::support::{self, Backend};

    clerk_sync_testing::engine_suite_tests!(
        || support::fresh_pg(support::url(Backend::Postgres)),
        #[cfg_attr(not(clerk_sync_postgres), ignore = "set CLERK_SYNC_TEST_POSTGRES_URL")]
    );
}

mod mysql {
    use super::support::{self, Backend};

    clerk_sync_testing::engine_suite_tests!(
        || support::fresh_mysql(support::url(Backend::MySql)),
        #[cfg_attr(not(clerk_sync_mysql), ignore = "set CLERK_SYNC_TEST_MYSQL_URL")]
    );
}
