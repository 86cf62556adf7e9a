//! The HTTP contract suite of `clerk_sync_testing::contract`, against
//! `clerk_sync_actix::configure` (wrapped in `RequestId`) served by `HttpServer` on an
//! ephemeral port, with FakeClerk as Clerk: on MemoryStore, SQLite and MariaDB.

use std::sync::Arc;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer};
use clerk_sync_actix::{ClerkState, RequestId};
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

/// Stops the server (its acceptor and worker threads) when the context is dropped.
struct Server(ServerHandle);

impl Drop for Server {
    fn drop(&mut self) {
        // The stop command is sent at once; its completion is not waited for.
        drop(self.0.stop(false));
    }
}

/// `configure(..)` over `store` (behind an outage switch), configured with a fresh
/// FakeClerk, listening on 127.0.0.1 on a port of the system's choosing. actix-web runs its
/// worker on a thread of its own, beside the test's tokio runtime.
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
    let state = ClerkState::new(http);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("an ephemeral port");
    let address = listener.local_addr().expect("its address");
    let server = HttpServer::new(move || {
        App::new()
            .wrap(RequestId::default())
            .configure(clerk_sync_actix::configure(state.clone()))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .expect("actix-web listens")
    .run();
    let handle = server.handle();
    tokio::spawn(async move {
        server.await.expect("the server runs");
    });
    ContractContext::new(format!("http://{address}"), fake, ADMIN_KEY)
        .with_outage(outage)
        .keep_alive(Server(handle))
}

async fn memory() -> ContractContext {
    serve(Arc::new(MemoryStore::new())).await
}

mod memory_store {
    clerk_sync_testing::http_contract_tests!(super::memory);
}

// ----- SQLite and MariaDB, through clerk-sync-sqlx -----

mod sql {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use clerk_sync_sqlx::SqlxStore;
    use clerk_sync_sqlx::sqlx::{self, Connection, Executor};
    use clerk_sync_testing::contract::ContractContext;

    /// Every database made here starts with this and the process id, so that a later run can
    /// drop what a crashed run left behind (and no other crate's tests see them).
    const PREFIX: &str = "clerk_actix_t_";

    /// A new in-memory SQLite database, migrated.
    pub(super) async fn sqlite() -> ContractContext {
        let store = SqlxStore::connect("sqlite::memory:")
            .await
            .expect("SQLite in memory");
        store.migrate().await.expect("migrate");
        super::serve(Arc::new(store)).await
    }

    /// A new database on the MariaDB server of `CLERK_SYNC_TEST_MYSQL_URL`, migrated, dropped
    /// when the context is.
    #[cfg_attr(not(clerk_sync_mysql), allow(dead_code))]
    pub(super) async fn mariadb() -> ContractContext {
        let url = match std::env::var("CLERK_SYNC_TEST_MYSQL_URL") {
            Ok(url) if !url.is_empty() => url,
            _ => panic!(
                "CLERK_SYNC_TEST_MYSQL_URL is not set and CI=true: these tests must run in CI"
            ),
        };
        let database = new_database(&url).await;
        let store = SqlxStore::connect(&with_database(&url, &database))
            .await
            .expect("MariaDB answers");
        store.migrate().await.expect("migrate");
        super::serve(Arc::new(store))
            .await
            .keep_alive(DropDatabase { url, database })
    }

    /// `url` with its database (path) replaced by `database`.
    fn with_database(url: &str, database: &str) -> String {
        let (base, query) = url
            .split_once('?')
            .map_or((url, None), |(b, q)| (b, Some(q)));
        let authority = base.find("://").map_or(0, |i| i + 3);
        let path = base[authority..]
            .find('/')
            .map_or(base.len(), |i| authority + i);
        match query {
            Some(query) => format!("{}/{database}?{query}", &base[..path]),
            None => format!("{}/{database}", &base[..path]),
        }
    }

    async fn new_database(url: &str) -> String {
        let mut admin = sqlx::MySqlConnection::connect(url)
            .await
            .unwrap_or_else(|e| {
                panic!("CLERK_SYNC_TEST_MYSQL_URL is set but MariaDB does not answer: {e}")
            });
        let stale: Vec<(String,)> = sqlx::query_as(
            "SELECT CAST(schema_name AS CHAR) FROM information_schema.schemata \
             WHERE schema_name LIKE 'clerk\\_actix\\_t\\_%'",
        )
        .fetch_all(&mut admin)
        .await
        .expect("list databases");
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
                        "DROP DATABASE IF EXISTS `{name}`"
                    )))
                    .await;
            }
        }
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let database = format!(
            "{PREFIX}{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE `{database}`")))
            .await
            .expect("create database");
        let _ = admin.close().await;
        database
    }

    /// Drops the test's database when the context goes: on a thread of its own, since drop
    /// cannot await.
    struct DropDatabase {
        url: String,
        database: String,
    }

    impl Drop for DropDatabase {
        fn drop(&mut self) {
            let (url, database) = (self.url.clone(), self.database.clone());
            let dropped = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                runtime.block_on(async {
                    let mut admin = sqlx::MySqlConnection::connect(&url).await.ok()?;
                    let sql = format!("DROP DATABASE IF EXISTS `{database}`");
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

mod mariadb {
    clerk_sync_testing::http_contract_tests!(
        super::sql::mariadb,
        #[cfg_attr(
            not(clerk_sync_mysql),
            ignore = "set CLERK_SYNC_TEST_MYSQL_URL to run the contract suite on MariaDB"
        )]
    );
}
