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

// ----- SQLite and PostgreSQL, through clerk-sync-sqlx -----

mod sql {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use clerk_sync_sqlx::SqlxStore;
    use clerk_sync_testing::contract::ContractContext;

    /// Every schema made here starts with this and the process id, so that a later run can
    /// drop what a crashed run left behind.
    const PREFIX: &str = "clerk_axum_t_";

    /// A new in-memory SQLite database, migrated.
    pub(super) async fn sqlite() -> ContractContext {
        let store = SqlxStore::connect("sqlite::memory:")
            .await
            .expect("SQLite in memory");
        store.migrate().await.expect("migrate");
        super::serve(Arc::new(store)).await
    }

    /// A new schema on the PostgreSQL server of `CLERK_SYNC_TEST_POSTGRES_URL`, migrated,
    /// dropped when the context is.
    #[cfg_attr(not(clerk_sync_postgres), allow(dead_code))]
    pub(super) async fn postgres() -> ContractContext {
        let url = match std::env::var("CLERK_SYNC_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => url,
            _ => panic!(
                "CLERK_SYNC_TEST_POSTGRES_URL is not set and CI=true: these tests must run in CI"
            ),
        };
        let schema = new_schema(&url).await;
        let sep = if url.contains('?') { '&' } else { '?' };
        let schema_url = format!("{url}{sep}options=-c%20search_path%3D{schema}");
        let store = SqlxStore::connect(&schema_url)
            .await
            .expect("PostgreSQL answers");
        store.migrate().await.expect("migrate");
        super::serve(Arc::new(store))
            .await
            .keep_alive(DropSchema { url, schema })
    }

    async fn new_schema(url: &str) -> String {
        use clerk_sync_sqlx::sqlx::{self, Connection, Executor};

        let mut admin = sqlx::PgConnection::connect(url).await.unwrap_or_else(|e| {
            panic!("CLERK_SYNC_TEST_POSTGRES_URL is set but PostgreSQL does not answer: {e}")
        });
        let stale: Vec<(String,)> = sqlx::query_as(
            "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'clerk\\_axum\\_t\\_%'",
        )
        .fetch_all(&mut admin)
        .await
        .expect("list schemas");
        for (name,) in stale {
            let pid = name
                .strip_prefix(PREFIX)
                .and_then(|rest| rest.split('_').next())
                .and_then(|pid| pid.parse::<u32>().ok());
            let dead = pid.is_some_and(|pid| {
                pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists()
            });
            if dead {
                let _ = admin
                    .execute(sqlx::AssertSqlSafe(format!(
                        "DROP SCHEMA IF EXISTS {name} CASCADE"
                    )))
                    .await;
            }
        }
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let schema = format!(
            "{PREFIX}{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .await
            .expect("create schema");
        let _ = admin.close().await;
        schema
    }

    /// Drops the test's schema when the context goes: on a thread of its own, since drop
    /// cannot await.
    struct DropSchema {
        url: String,
        schema: String,
    }

    impl Drop for DropSchema {
        fn drop(&mut self) {
            use clerk_sync_sqlx::sqlx::{self, Connection, Executor};

            let (url, schema) = (self.url.clone(), self.schema.clone());
            let dropped = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                runtime.block_on(async {
                    let mut admin = sqlx::PgConnection::connect(&url).await.ok()?;
                    let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
                    admin.execute(sqlx::AssertSqlSafe(sql)).await.ok()?;
                    admin.close().await.ok()
                })
            });
            let _ = dropped.join();
        }
    }
}

mod sqlite {
    clerk_sync_testing::http_contract_tests!(super::sql::sqlite);
}

mod postgres {
    clerk_sync_testing::http_contract_tests!(
        super::sql::postgres,
        #[cfg_attr(
            not(clerk_sync_postgres),
            ignore = "set CLERK_SYNC_TEST_POSTGRES_URL to run the contract suite on PostgreSQL"
        )]
    );
}
