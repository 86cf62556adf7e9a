//! The actix service's test support: the shared process harness of the reference services
//! (`service-common/test-support/process.rs`) for this binary, and a MariaDB database per
//! test. The harness's PostgreSQL `new_database` is `process::new_database` here: the name
//! is MariaDB's.

#![allow(dead_code, unreachable_pub)]

pub const BIN: &str = env!("CARGO_BIN_EXE_actix-seaorm-service");
const TEMP_TAG: &str = "actix-svc";
/// Every schema or database made here (PostgreSQL or MariaDB) starts with this and the
/// process id, so that a later run can drop what a crashed run left behind.
const DB_PREFIX: &str = "clerk_actsvc_t_";

#[path = "../../../service-common/test-support/process.rs"]
pub mod process;

pub use process::*;

// ----- MariaDB -----

/// `CLERK_SYNC_TEST_MYSQL_URL`, or a panic under `CI=true`, or `None` (the test says it is
/// skipped).
pub fn mysql_url(test: &str) -> Option<String> {
    match std::env::var("CLERK_SYNC_TEST_MYSQL_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CLERK_SYNC_TEST_MYSQL_URL is not set and CI=true: {test} must run")
        }
        _ => {
            eprintln!("{test} skipped: set CLERK_SYNC_TEST_MYSQL_URL to run it");
            None
        }
    }
}

/// A new database on the MariaDB server (empty: the service migrates it), dropped with the
/// guard.
pub async fn new_database(url: &str) -> (String, DropDatabase) {
    use clerk_sync_sqlx::sqlx::{self, Connection as _, Executor as _, MySqlConnection};
    let mut admin = MySqlConnection::connect(url).await.unwrap_or_else(|e| {
        panic!("CLERK_SYNC_TEST_MYSQL_URL is set but MariaDB does not answer: {e}")
    });
    let names: Vec<(String,)> = sqlx::query_as(
        "SELECT CAST(schema_name AS CHAR) FROM information_schema.schemata \
         WHERE schema_name LIKE ?",
    )
    .bind(like_prefix())
    .fetch_all(&mut admin)
    .await
    .expect("list databases");
    for (name,) in names.into_iter().filter(|(n,)| stale(n)) {
        let _ = admin
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS `{name}`"
            )))
            .await;
    }
    let name = new_name();
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE `{name}`")))
        .await
        .expect("create database");
    let _ = admin.close().await;
    (
        database_url(url, &name),
        DropDatabase {
            url: url.to_owned(),
            name,
        },
    )
}

/// Drops a database when dropped: on a thread of its own, since drop cannot await.
pub struct DropDatabase {
    url: String,
    pub name: String,
}

impl Drop for DropDatabase {
    fn drop(&mut self) {
        use clerk_sync_sqlx::sqlx::{self, Connection as _, Executor as _};

        let (url, name) = (self.url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut admin = sqlx::MySqlConnection::connect(&url).await.ok()?;
                let sql = format!("DROP DATABASE IF EXISTS `{name}`");
                admin.execute(sqlx::AssertSqlSafe(sql)).await.ok()?;
                admin.close().await.ok()
            })
        });
        let _ = dropped.join();
    }
}
