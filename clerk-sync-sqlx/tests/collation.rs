//! Ids in byte order whatever the database's own collation: the conformance case
//! `scan_versions_byte_order` on a PostgreSQL database whose default collation is ICU's
//! English, where only the schema's `COLLATE "C"` keeps `user_Z` before `user_a`. (The shared
//! test server's databases are `C.UTF-8`, which sorts in byte order anyway, so the conformance
//! run alone would not notice a missing `COLLATE "C"`.)

mod support;

use clerk_sync_sqlx::SqlxStore;
use support::Backend;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(clerk_sync_postgres), ignore = "set CLERK_SYNC_TEST_POSTGRES_URL")]
async fn postgres_byte_order_in_an_icu_database() {
    let url = support::url(Backend::Postgres);
    let (icu_url, database) = support::pg_icu_database_url(&url).await;
    let store = SqlxStore::connect(&icu_url).await.expect("connect");
    store.migrate().await.expect("migrate");
    let shared = store.clone();
    clerk_sync_core::conformance::scan_versions_byte_order(move || {
        let store = shared.clone();
        async move { store }
    })
    .await;
    store.close().await;
    support::drop_pg_database(&url, &database).await;
}
