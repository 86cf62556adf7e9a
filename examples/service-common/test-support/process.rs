//! The reference services' tests, shared: the service as a process, spawned from its binary
//! in a directory of its own on an ephemeral port with its output collected; PostgreSQL
//! schemas and databases per test; a delivery client.
//!
//! Each service's `tests/support/mod.rs` includes this file (`#[path]`) and defines `BIN` (its
//! binary), `TEMP_TAG` (its temporary directories' prefix) and `DB_PREFIX` (its schemas' and
//! databases' prefix), so the two services' tests share one copy. It is not part of the
//! `service-common` library.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{BIN, DB_PREFIX, TEMP_TAG};

pub const ADMIN_KEY: &str = "process-admin-key-8c1d5e";

static NEXT: AtomicU64 = AtomicU64::new(0);

/// A new empty directory under the system's temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "{TEMP_TAG}-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("a temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Lines a child wrote, shared with the threads reading them.
#[derive(Clone, Default)]
pub struct Output(Arc<Mutex<Vec<String>>>);

impl Output {
    fn collect(&self, stream: impl std::io::Read + Send + 'static) {
        let lines = Arc::clone(&self.0);
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
    }

    pub fn text(&self) -> String {
        self.0.lock().unwrap().join("\n")
    }
}

/// Run the binary to completion (a one-shot command or a failing start), in `dir`, with only
/// `env` set; answers its exit status, stdout and stderr.
pub fn run_once(dir: &Path, env: &[(&str, String)], args: &[&str]) -> (ExitStatus, String, String) {
    let mut command = Command::new(BIN);
    command.current_dir(dir).env_clear().args(args);
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("the binary runs");
    (
        output.status,
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A running service process. Killed (SIGKILL) on drop unless it already exited.
pub struct Service {
    child: Mutex<Child>,
    pub base_url: String,
    pub stdout: Output,
    pub stderr: Output,
    dir: Option<TempDir>,
}

impl Service {
    /// Start the binary in a new directory with only `env` set (and `BIND_ADDR` at port 0,
    /// unless given), and wait until it prints where it listens.
    pub fn start(env: &[(&str, String)], args: &[&str]) -> Service {
        let dir = TempDir::new("svc");
        let mut service = Service::start_in(dir.path(), env, args);
        service.dir = Some(dir);
        service
    }

    /// As [`Service::start`], in `dir`.
    pub fn start_in(dir: &Path, env: &[(&str, String)], args: &[&str]) -> Service {
        let mut command = Command::new(BIN);
        command
            .current_dir(dir)
            .env_clear()
            .env("BIND_ADDR", "127.0.0.1:0")
            .env("RUST_LOG", "info")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("the binary starts");
        let stdout = Output::default();
        let stderr = Output::default();
        stdout.collect(child.stdout.take().expect("stdout"));
        stderr.collect(child.stderr.take().expect("stderr"));
        let started = Instant::now();
        let base_url = loop {
            let text = stdout.text();
            if let Some(rest) = text.split("listening on ").nth(1) {
                break rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "the service exited ({status}) before listening:\n{}\n{}",
                    text,
                    stderr.text()
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the service did not say where it listens:\n{text}\n{}",
                stderr.text()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        Service {
            child: Mutex::new(child),
            base_url,
            stdout,
            stderr,
            dir: None,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.lock().unwrap().id()
    }

    /// Send SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Wait for the process to exit, at most `limit`.
    pub fn wait(&self, limit: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.lock().unwrap().try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                started.elapsed() < limit,
                "the service did not exit within {limit:?}:\n{}",
                self.stderr.text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let mut child = self.child.lock().unwrap();
        if let Ok(None) = child.try_wait() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The environment of a service configured with `fake` as Clerk (its secret, API, and
/// PEM key), the test admin key, and `database_url`.
pub fn fake_env(
    fake: &clerk_sync_testing::FakeClerk,
    database_url: &str,
) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", database_url.to_owned()),
        ("CLERK_WEBHOOK_SECRET", fake.webhook_secret().to_owned()),
        ("CLERK_SECRET_KEY", fake.secret_key().to_owned()),
        ("CLERK_API_URL", fake.base_url().to_owned()),
        ("CLERK_JWT_KEY", fake.jwt_public_key_pem()),
        ("ADMIN_API_KEY", ADMIN_KEY.to_owned()),
    ]
}

// ----- PostgreSQL -----

/// `CLERK_SYNC_TEST_POSTGRES_URL`, or a panic under `CI=true`, or `None` (the test says it
/// is skipped).
pub fn postgres_url(test: &str) -> Option<String> {
    match std::env::var("CLERK_SYNC_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CLERK_SYNC_TEST_POSTGRES_URL is not set and CI=true: {test} must run")
        }
        _ => {
            eprintln!("{test} skipped: set CLERK_SYNC_TEST_POSTGRES_URL to run it");
            None
        }
    }
}

/// A new schema or database name: `DB_PREFIX`, the process id and a counter.
pub fn new_name() -> String {
    format!(
        "{DB_PREFIX}{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// `LIKE` pattern of every name made with `DB_PREFIX`.
pub fn like_prefix() -> String {
    format!("{}%", DB_PREFIX.replace('_', "\\_"))
}

/// Whether `name` was made by a test process that has ended (so it can be dropped).
pub fn stale(name: &str) -> bool {
    let pid = name
        .strip_prefix(DB_PREFIX)
        .and_then(|rest| rest.split('_').next())
        .and_then(|pid| pid.parse::<u32>().ok());
    pid.is_some_and(|pid| pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists())
}

async fn admin_connection(url: &str) -> clerk_sync_sqlx::sqlx::PgConnection {
    use clerk_sync_sqlx::sqlx::{Connection as _, PgConnection};
    PgConnection::connect(url).await.unwrap_or_else(|e| {
        panic!("CLERK_SYNC_TEST_POSTGRES_URL is set but PostgreSQL does not answer: {e}")
    })
}

async fn execute(url: &str, sql: String) {
    use clerk_sync_sqlx::sqlx::{self, Connection as _, Executor as _};
    let mut admin = admin_connection(url).await;
    admin
        .execute(sqlx::AssertSqlSafe(sql))
        .await
        .expect("an admin statement");
    let _ = admin.close().await;
}

/// A new schema on the server, dropped with the guard; the URL selects it through
/// `search_path`.
pub async fn new_schema(url: &str) -> (String, DropSchema) {
    use clerk_sync_sqlx::sqlx::{self, Executor as _};
    let mut admin = admin_connection(url).await;
    let names: Vec<(String,)> =
        sqlx::query_as("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE $1")
            .bind(like_prefix())
            .fetch_all(&mut admin)
            .await
            .expect("list schemas");
    for (name,) in names.into_iter().filter(|(n,)| stale(n)) {
        let _ = admin
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS {name} CASCADE"
            )))
            .await;
    }
    let schema = new_name();
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .await
        .expect("create schema");
    let sep = if url.contains('?') { '&' } else { '?' };
    let schema_url = format!("{url}{sep}options=-c%20search_path%3D{schema}");
    (
        schema_url,
        DropSchema {
            url: url.to_owned(),
            name: schema,
            database: false,
        },
    )
}

/// A new database on the server (so that connections to it can be refused and cut, as in
/// an outage), dropped with the guard.
pub async fn new_database(url: &str) -> (String, DropSchema) {
    use clerk_sync_sqlx::sqlx::{self, Executor as _};
    let mut admin = admin_connection(url).await;
    let names: Vec<(String,)> =
        sqlx::query_as("SELECT datname::text FROM pg_database WHERE datname LIKE $1")
            .bind(like_prefix())
            .fetch_all(&mut admin)
            .await
            .expect("list databases");
    for (name,) in names.into_iter().filter(|(n,)| stale(n)) {
        let _ = admin
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .await;
    }
    let name = new_name();
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .expect("create database");
    (
        database_url(url, &name),
        DropSchema {
            url: url.to_owned(),
            name,
            database: true,
        },
    )
}

/// `url` with its database replaced by `name`.
pub fn database_url(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_end..]
        .find('/')
        .map_or(base.len(), |i| authority_end + i);
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// Refuse new connections to the database `name` and cut the open ones: the service's
/// database is down until [`database_up`].
pub async fn database_down(url: &str, name: &str) {
    execute(
        url,
        format!("ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false"),
    )
    .await;
    execute(
        url,
        format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        ),
    )
    .await;
}

/// Accept connections to the database `name` again.
pub async fn database_up(url: &str, name: &str) {
    execute(
        url,
        format!("ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true"),
    )
    .await;
}

/// Drops a schema or database when dropped: on a thread of its own, since drop cannot await.
pub struct DropSchema {
    url: String,
    pub name: String,
    database: bool,
}

impl Drop for DropSchema {
    fn drop(&mut self) {
        use clerk_sync_sqlx::sqlx::{self, Connection as _, Executor as _};

        let (url, name, database) = (self.url.clone(), self.name.clone(), self.database);
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&url).await.ok()?;
                let sql = if database {
                    format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                } else {
                    format!("DROP SCHEMA IF EXISTS {name} CASCADE")
                };
                admin.execute(sqlx::AssertSqlSafe(sql)).await.ok()?;
                admin.close().await.ok()
            })
        });
        let _ = dropped.join();
    }
}

/// Post one signed delivery; the status, or `None` when no answer came.
pub async fn deliver(
    client: &reqwest::Client,
    url: &str,
    delivery: &clerk_sync_testing::SignedWebhook,
) -> Option<u16> {
    let mut request = client
        .post(url)
        .header("content-type", "application/json")
        .body(delivery.body.clone());
    for (name, value) in delivery.headers() {
        request = request.header(name, value);
    }
    request.send().await.ok().map(|r| r.status().as_u16())
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("an HTTP client")
}
