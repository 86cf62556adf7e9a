//! The HTTP contract suite of `clerk_sync_testing::contract` against the service **as a
//! process**: the binary started on an ephemeral port, configured through its environment
//! with a fresh FakeClerk as Clerk, on a new SQLite file and on a new PostgreSQL schema.
//!
//! The service runs without its outbound worker and scheduled reconcile (`serve
//! --no-outbound --no-reconcile`), as the suite asks. The suite's outage checks need a switch
//! inside the process and are skipped here (they say so); `tests/service.rs` takes the real
//! database down instead.

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

/// The service on a new schema of `CLERK_SYNC_TEST_POSTGRES_URL`, dropped afterwards.
async fn postgres() -> ContractContext {
    let url = support::postgres_url("the contract suite on PostgreSQL")
        .unwrap_or_else(|| panic!("set CLERK_SYNC_TEST_POSTGRES_URL to run these tests"));
    let (schema_url, schema) = support::new_schema(&url).await;
    let fake = FakeClerk::start().await;
    let env = fake_env(&fake, &schema_url);
    let service = tokio::task::spawn_blocking(move || Service::start(&env, ARGS))
        .await
        .expect("the service starts");
    // The service goes first, then its schema.
    ContractContext::new(service.base_url.clone(), fake, ADMIN_KEY)
        .keep_alive(service)
        .keep_alive(schema)
}

mod sqlite {
    clerk_sync_testing::http_contract_tests!(super::sqlite);
}

mod postgres {
    clerk_sync_testing::http_contract_tests!(
        super::postgres,
        #[cfg_attr(
            not(clerk_sync_postgres),
            ignore = "set CLERK_SYNC_TEST_POSTGRES_URL (at build time) to run the contract suite on PostgreSQL"
        )]
    );
}
