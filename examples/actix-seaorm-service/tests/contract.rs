//! The HTTP contract suite of `clerk_sync_testing::contract` against the service **as a
//! process**: the binary started on an ephemeral port, configured through its environment
//! with a fresh FakeClerk as Clerk, on a new SQLite file and on a new MariaDB database.
//!
//! The service runs without its outbound worker and scheduled reconcile (`serve
//! --no-outbound --no-reconcile`), as the suite asks. The suite's outage checks need a switch
//! inside the process and are skipped here (they say so).

mod support;

use clerk_sync_testing::FakeClerk;
use clerk_sync_testing::contract::ContractContext;
use support::{ADMIN_KEY, Service, fake_env};

const ARGS: &[&str] = &["serve", "--no-outbound", "--no-reconcile"];

/// The service on a new SQLite file in its own directory.
async fn sqlite() -> ContractContext {
    let fake = FakeClerk::start().await;
    let env = fake_env(&fake, "sqlite:contract.db");
    let service = tokio::task::spawn_blocking(move || Service::start(&env, ARGS))
        .await
        .expect("the service starts");
    ContractContext::new(service.base_url.clone(), fake, ADMIN_KEY).keep_alive(service)
}

/// The service on a new database of `CLERK_SYNC_TEST_MYSQL_URL`, dropped afterwards.
#[cfg_attr(not(clerk_sync_mysql), allow(dead_code))]
async fn mariadb() -> ContractContext {
    let url = support::mysql_url("the contract suite on MariaDB")
        .unwrap_or_else(|| panic!("set CLERK_SYNC_TEST_MYSQL_URL to run these tests"));
    let (database_url, database) = support::new_database(&url).await;
    let fake = FakeClerk::start().await;
    let env = fake_env(&fake, &database_url);
    let service = tokio::task::spawn_blocking(move || Service::start(&env, ARGS))
        .await
        .expect("the service starts");
    // The service goes first, then its database.
    ContractContext::new(service.base_url.clone(), fake, ADMIN_KEY)
        .keep_alive(service)
        .keep_alive(database)
}

mod sqlite {
    clerk_sync_testing::http_contract_tests!(super::sqlite);
}

mod mariadb {
    clerk_sync_testing::http_contract_tests!(
        super::mariadb,
        #[cfg_attr(
            not(clerk_sync_mysql),
            ignore = "set CLERK_SYNC_TEST_MYSQL_URL (at build time) to run the contract suite on MariaDB"
        )]
    );
}
