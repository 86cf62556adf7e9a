//! The HTTP contract suite of `clerk_sync_testing::contract`, against `clerk_sync_axum::router`
//! served on an ephemeral port, with FakeClerk as Clerk.

use std::sync::Arc;

use clerk_sync_axum::ClerkState;
use clerk_sync_core::clerk_api::{ClerkApi, RetryPolicy};
use clerk_sync_core::http::{AdminKey, ClerkHttp};
use clerk_sync_core::jwt::JwtVerifier;
use clerk_sync_core::memory::MemoryStore;
use clerk_sync_core::store::SyncStore;
use clerk_sync_core::sync::SyncEngine;
use clerk_sync_core::webhook::WebhookVerifier;
use clerk_sync_testing::FakeClerk;
use clerk_sync_testing::contract::{ContractContext, Outage};

const ADMIN_KEY: &str = "contract-admin-key-5f0c";

/// Aborts the server task when the context is dropped.
struct Server(tokio::task::JoinHandle<()>);

impl Drop for Server {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// `router(..)` over `store` (behind an outage switch), configured with a fresh FakeClerk,
/// listening on 127.0.0.1 on a port of the system's choosing.
async fn serve(store: Arc<dyn SyncStore>) -> ContractContext {
    let fake = FakeClerk::start().await;
    let outage = Outage::new();
    let store: Arc<dyn SyncStore> = Arc::new(outage.wrap(store));
    let api = ClerkApi::new(fake.secret_key())
        .and_then(|api| api.with_base_url(fake.base_url()))
        .expect("a client for FakeClerk")
        .with_retry_policy(RetryPolicy::default().max_attempts(2));
    let engine = SyncEngine::from_shared(
        store,
        WebhookVerifier::new(fake.webhook_secret()).expect("FakeClerk's secret"),
    )
    .with_clerk_api(api);
    let http = ClerkHttp::new(engine)
        .with_sessions(JwtVerifier::from_pem(&fake.jwt_public_key_pem()).expect("FakeClerk's key"))
        .with_admin_key(AdminKey::new(ADMIN_KEY).expect("not empty"))
        .with_metrics(Arc::new(|| {
            "# TYPE clerk_sync_contract_up gauge\nclerk_sync_contract_up 1\n".to_owned()
        }));
    let app = clerk_sync_axum::router(ClerkState::new(http));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("an ephemeral port");
    let address = listener.local_addr().expect("its address");
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.expect("the server runs");
    });
    ContractContext::new(format!("http://{address}"), fake, ADMIN_KEY)
        .with_outage(outage)
        .keep_alive(Server(server))
}

async fn memory() -> ContractContext {
    serve(Arc::new(MemoryStore::new())).await
}

mod memory_store {
    clerk_sync_testing::http_contract_tests!(super::memory);
}

/// `run_all` is the other public way to run the suite.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_all_passes_on_memory() {
    clerk_sync_testing::contract::run_all(memory).await;
}
