//! What a new user meets at `SqlxStore::connect`: errors that keep their secrets, a cause that
//! arrives at once, configuration told apart from an outage, and SQLite URLs that do what they
//! say.

mod support;

use std::error::Error as _;
use std::time::{Duration, Instant};

use clerk_sync_core::store::{ClerkUserRecord, StoreError, UserStore};
use clerk_sync_sqlx::{DialectPool, SqlxStore};
use support::Backend;
use time::OffsetDateTime;

/// Every text a caller could print or log of `err`: Display and Debug, and both of each
/// source down the chain.
fn all_text(err: &StoreError) -> String {
    let mut text = format!("{err}\n{err:?}");
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(&format!("\n{s}\n{s:?}"));
        source = s.source();
    }
    text
}

async fn connect_err(url: &str) -> StoreError {
    match tokio::time::timeout(Duration::from_secs(30), SqlxStore::connect(url)).await {
        Ok(Ok(_)) => panic!("connecting to a malformed or unreachable URL succeeded"),
        Ok(Err(err)) => err,
        Err(_) => panic!("connect did not answer within 30 s"),
    }
}

const PASSWORD: &str = "hunter2";
const QUERY: &str = "secret_q=zebra42";

/// No connect error, for any malformed or unreachable URL, contains the URL's password or its
/// query string, in its message, its `Debug` form or anywhere down its source chain.
#[tokio::test]
async fn connect_errors_never_echo_the_password_or_query() {
    let urls = [
        // libpq's key=value form, as DATABASE_URL often holds it.
        format!("host=db.internal port=5432 user=app password={PASSWORD} dbname=app"),
        format!("password={PASSWORD}"),
        PASSWORD.to_owned(),
        format!("{PASSWORD}://app@db.internal/app"),
        format!("{PASSWORD}:app@db.internal/app"),
        format!("oracle://app:{PASSWORD}@db.internal/app?{QUERY}"),
        format!("postgres://app:{PASSWORD}@db.internal:notaport/app?{QUERY}"),
        format!("postgres://app:{PASSWORD}@db.internal:99999/app?{QUERY}"),
        format!("postgres://app:{PASSWORD}@[::1/app?{QUERY}"),
        format!("postgres://app:{PASSWORD}@db.internal/app?sslmode={PASSWORD}&{QUERY}"),
        format!("postgresql://app:{PASSWORD}@127.0.0.1:1/app?{QUERY}"),
        format!("mysql://app:{PASSWORD}@db.internal:notaport/app?{QUERY}"),
        format!("mysql://app:{PASSWORD}@db.internal/app?ssl-mode={PASSWORD}&{QUERY}"),
        format!("mariadb://app:{PASSWORD}@127.0.0.1:1/app?{QUERY}"),
        format!("sqlite:app.db?mode={PASSWORD}&{QUERY}"),
        format!("sqlite:app.db?{QUERY}"),
        format!("sqlite:/nonexistent-{PASSWORD}/app.db?{QUERY}"),
        format!("sqlite:/nonexistent-{PASSWORD}/app.db"),
    ];
    for url in &urls {
        let err = connect_err(url).await;
        let text = all_text(&err);
        assert!(
            !text.contains(PASSWORD),
            "the password leaked for a URL of this shape: {}",
            url.replace(PASSWORD, "<password>")
        );
        assert!(
            !text.contains(QUERY) && !text.contains("zebra42"),
            "the query string leaked: {text}"
        );
    }
}

/// A server that refuses the connection is reported at once, as unavailable, with the cause.
#[tokio::test]
async fn unreachable_server_fails_fast_with_its_cause() {
    // Port 1 on the loopback: nothing listens there, so the kernel refuses at once.
    for url in [
        "postgres://postgres@127.0.0.1:1/test",
        "mysql://root@127.0.0.1:1/test",
    ] {
        let started = Instant::now();
        let err = connect_err(url).await;
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{url}: took {:?}, not at once",
            started.elapsed()
        );
        assert!(
            matches!(err, StoreError::Unavailable(_)),
            "{url}: a refused connection is Unavailable, got {err:?}"
        );
        assert!(err.is_transient());
        let text = all_text(&err).to_lowercase();
        assert!(text.contains("refused"), "{url}: the cause is kept: {text}");
    }
}

/// `url` with its user (and password) replaced by `user`.
fn with_user(url: &str, user: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let host = rest.split_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{user}@{host}")
}

fn assert_configuration(err: &StoreError, what: &str) {
    assert!(
        matches!(err, StoreError::Configuration { .. }),
        "{what} is a configuration error, got {err:?}"
    );
    assert!(!err.is_transient(), "{what} is not transient");
}

#[tokio::test]
async fn malformed_urls_are_configuration_errors() {
    for url in [
        "host=db user=app password=x",
        "app.db",
        "oracle://scott@db/prod",
        "postgres://app@db:notaport/app",
        "postgres://app@db:99999/app",
        "mysql://app@db:notaport/app",
        "sqlite:app.db?mode=sideways",
    ] {
        assert_configuration(&connect_err(url).await, url);
    }
    let libpq = connect_err("host=db user=app password=x").await;
    assert!(
        libpq.to_string().contains("postgres://"),
        "the libpq form gets the URL form to use instead: {libpq}"
    );
}

#[tokio::test]
#[cfg_attr(not(clerk_sync_postgres), ignore = "set CLERK_SYNC_TEST_POSTGRES_URL")]
async fn postgres_unknown_database_and_role_are_configuration() {
    let url = support::url(Backend::Postgres);
    let database = support::unique_name();
    let err = connect_err(&support::with_database(&url, &database)).await;
    assert_configuration(&err, "an unknown database");
    assert!(
        !all_text(&err).contains(&database),
        "the database name stays out of the error"
    );
    let role = support::unique_name();
    let err = connect_err(&with_user(&url, &role)).await;
    assert_configuration(&err, "an unknown role");
    assert!(
        !all_text(&err).contains(&role),
        "the role stays out of the error"
    );
}

#[tokio::test]
#[cfg_attr(not(clerk_sync_mysql), ignore = "set CLERK_SYNC_TEST_MYSQL_URL")]
async fn mysql_bad_password_and_unknown_database_are_configuration() {
    let url = support::url(Backend::MySql);
    let database = support::unique_name();
    let err = connect_err(&support::with_database(&url, &database)).await;
    assert_configuration(&err, "an unknown database");
    assert!(!all_text(&err).contains(&database));
    let user = url
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .map(|(user, _)| user.split(':').next().unwrap_or(user).to_owned())
        .expect("a user in the test URL");
    let err = connect_err(&with_user(&url, &format!("{user}:{PASSWORD}-wrong"))).await;
    assert_configuration(&err, "a refused password");
    assert!(!all_text(&err).contains(PASSWORD));
}

/// `sqlite:fresh.db` (no `?mode=rwc`) creates the file, as a user means; an explicit mode is
/// kept.
#[tokio::test]
async fn sqlite_file_is_created_without_mode_rwc() {
    let dir = std::env::temp_dir().join(support::unique_name());
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("fresh.db");
    let read_only = connect_err(&format!("sqlite:{}?mode=ro", path.display())).await;
    assert_configuration(&read_only, "a missing file opened read-only");
    assert!(!path.exists(), "mode=ro creates nothing");

    let store = SqlxStore::connect(&format!("sqlite:{}", path.display()))
        .await
        .expect("sqlite:fresh.db creates the file");
    assert!(path.exists());
    store.migrate().await.expect("migrate");
    let record = ClerkUserRecord::new("user_fresh", 1, "{}");
    store
        .upsert_user(&record, OffsetDateTime::now_utc())
        .await
        .expect("upsert");
    store.close().await;
    let again = SqlxStore::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("reopen");
    assert!(again.get_user("user_fresh").await.expect("get").is_some());
    again.close().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// `sqlite:` and `sqlite::memory:` are one database for every connection of the pool, and a
/// separate one per store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_in_memory_is_shared_across_the_pool() {
    for url in ["sqlite:", "sqlite::memory:", "sqlite://"] {
        let store = SqlxStore::connect(url).await.expect("connect");
        store.migrate().await.expect("migrate");
        let DialectPool::Sqlite(pool) = store.pool() else {
            unreachable!("a SQLite URL gives a SQLite pool")
        };
        // Several connections at once, each must see the migrated tables.
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(pool.acquire().await.expect("acquire"));
        }
        for conn in &mut held {
            let n: i64 = clerk_sync_sqlx::sqlx::query_scalar("SELECT COUNT(*) FROM clerk_users")
                .fetch_one(&mut **conn)
                .await
                .unwrap_or_else(|e| {
                    panic!("{url}: a pooled connection sees another database: {e}")
                });
            assert_eq!(n, 0);
        }
        drop(held);
        let now = OffsetDateTime::now_utc();
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    let id = format!("user_mem{i}");
                    store
                        .upsert_user(&ClerkUserRecord::new(id.clone(), 1, "{}"), now)
                        .await
                        .expect("upsert");
                    store.get_user(&id).await.expect("get").is_some()
                })
            })
            .collect();
        for task in tasks {
            assert!(
                task.await.expect("task"),
                "{url}: a write is seen by the next read"
            );
        }
        let other = SqlxStore::connect(url).await.expect("another store");
        other.migrate().await.expect("migrate");
        assert!(
            other.get_user("user_mem0").await.expect("get").is_none(),
            "{url}: each store has its own in-memory database"
        );
        store.close().await;
        other.close().await;
    }
}
