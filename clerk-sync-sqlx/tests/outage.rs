//! The database going away mid-operation gives a retryable error and leaves no partial write:
//! neither the ledger row nor the user change of the interrupted event is stored, and a
//! redelivery then applies normally.

mod support;

use std::time::Duration;

use clerk_sync_core::store::{
    ClerkUserRecord, InboundApplied, InboundChange, InboundStore, LedgerStore, NewLedgerEntry,
    StoreError, UpsertOutcome, UserStore,
};
use clerk_sync_sqlx::SqlxStore;
use clerk_sync_sqlx::sqlx::{self, Connection, Executor};
use support::Backend;
use time::OffsetDateTime;
use time::macros::datetime;

fn t(secs: i64) -> OffsetDateTime {
    datetime!(2026-03-01 12:00:00 UTC) + time::Duration::seconds(secs)
}

fn rec(v: i64) -> ClerkUserRecord {
    ClerkUserRecord::new(
        "user_out",
        v,
        format!(r#"{{"id":"user_out","updated_at":{v}}}"#),
    )
}

fn entry(id: &str) -> NewLedgerEntry<'_> {
    NewLedgerEntry::new(id, "user.updated", Some("user_out"), t(0), Some("{}"))
}

fn assert_retryable(result: Result<InboundApplied, StoreError>) {
    let err = result.expect_err("the interrupted write must fail");
    assert!(
        err.is_transient(),
        "a lost connection is retryable, got {err:?}"
    );
    assert!(
        matches!(err, StoreError::Unavailable(_)),
        "a lost connection is Unavailable, got {err:?}"
    );
}

/// After the interruption: nothing of `msg_cut` stored, and its redelivery applies.
async fn nothing_partial(store: &SqlxStore) {
    assert_eq!(
        store.ledger_get("msg_cut").await.expect("ledger_get"),
        None,
        "no ledger row for the interrupted event"
    );
    let row = store
        .get_user("user_out")
        .await
        .expect("get_user")
        .expect("row");
    assert_eq!(
        row.clerk_updated_at,
        Some(1),
        "the interrupted upsert left nothing"
    );
    assert_eq!(
        store
            .apply_inbound(&entry("msg_cut"), &InboundChange::Upsert(rec(2)), t(3))
            .await
            .expect("redelivery"),
        InboundApplied::Upsert(UpsertOutcome::Updated)
    );
}

/// A closed pool: every later call is `Unavailable`.
async fn closed_pool_is_unavailable(store: SqlxStore) {
    store.close().await;
    assert_retryable(
        store
            .apply_inbound(&entry("msg_closed"), &InboundChange::Upsert(rec(3)), t(4))
            .await,
    );
    let err = store.get_user("user_out").await.expect_err("closed");
    assert!(err.is_transient(), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(clerk_sync_postgres), ignore = "set CLERK_SYNC_TEST_POSTGRES_URL")]
async fn postgres_terminated_backend_mid_statement() {
    let url = support::url(Backend::Postgres);
    let (schema_url, schema) = support::pg_schema_url(&url).await;
    let app = support::unique_name();
    let store = SqlxStore::connect(&format!("{schema_url}&application_name={app}"))
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    store.upsert_user(&rec(1), t(1)).await.expect("upsert");

    // Hold the users table so the store's statement is in flight when its backend dies.
    let mut blocker = sqlx::PgConnection::connect(&schema_url)
        .await
        .expect("blocker");
    blocker.execute("BEGIN").await.expect("begin");
    blocker
        .execute("LOCK TABLE clerk_users IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock");
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .apply_inbound(&entry("msg_cut"), &InboundChange::Upsert(rec(2)), t(2))
                .await
        })
    };
    let mut admin = sqlx::PgConnection::connect(&url).await.expect("admin");
    let mut killed = 0i64;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        killed = sqlx::query_scalar(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = $1 AND wait_event_type = 'Lock'",
        )
        .bind(&app)
        .fetch_one(&mut admin)
        .await
        .expect("terminate");
        if killed > 0 {
            break;
        }
    }
    assert!(killed > 0, "the store's statement never waited on the lock");
    assert_retryable(writer.await.expect("writer task"));
    blocker.execute("ROLLBACK").await.expect("rollback");

    nothing_partial(&store).await;
    closed_pool_is_unavailable(store).await;
    support::drop_pg_schema(&url, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(clerk_sync_mysql), ignore = "set CLERK_SYNC_TEST_MYSQL_URL")]
async fn mysql_killed_connection_mid_transaction() {
    let url = support::url(Backend::MySql);
    let (db_url, database) = support::mysql_database_url(&url).await;
    let store = SqlxStore::connect(&db_url).await.expect("connect");
    store.migrate().await.expect("migrate");
    store.upsert_user(&rec(1), t(1)).await.expect("upsert");

    // Lock the row so the store's transaction is open (ledger read done, upsert waiting).
    let mut blocker = sqlx::MySqlConnection::connect(&db_url)
        .await
        .expect("blocker");
    blocker.execute("START TRANSACTION").await.expect("begin");
    blocker
        .execute("SELECT id FROM clerk_users WHERE clerk_id = 'user_out' FOR UPDATE")
        .await
        .expect("lock");
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .apply_inbound(&entry("msg_cut"), &InboundChange::Upsert(rec(2)), t(2))
                .await
        })
    };
    let mut admin = sqlx::MySqlConnection::connect(&url).await.expect("admin");
    let mut victim: Option<u64> = None;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        victim = sqlx::query_scalar(
            "SELECT CAST(id AS UNSIGNED) FROM information_schema.processlist \
             WHERE db = ? AND (info LIKE 'UPDATE clerk_users%' \
             OR info LIKE 'INSERT INTO clerk_users%')",
        )
        .bind(&database)
        .fetch_optional(&mut admin)
        .await
        .expect("processlist");
        if victim.is_some() {
            break;
        }
    }
    let victim = victim.expect("the store's user write never waited on the lock");
    admin
        .execute(sqlx::AssertSqlSafe(format!("KILL {victim}")))
        .await
        .expect("kill");
    assert_retryable(writer.await.expect("writer task"));
    blocker.execute("ROLLBACK").await.expect("rollback");

    nothing_partial(&store).await;
    closed_pool_is_unavailable(store).await;
    support::drop_mysql_database(&url, &database).await;
}

/// A migrated store on a new SQLite file in a temp directory of its own: the directory (to
/// remove at the end), the URL (for other connections to the same file) and the store.
async fn sqlite_file_store() -> (std::path::PathBuf, String, SqlxStore) {
    let dir = std::env::temp_dir().join(support::unique_name());
    std::fs::create_dir_all(&dir).expect("dir");
    let url = format!("sqlite:{}", dir.join("o.db").display());
    let store = SqlxStore::connect(&url).await.expect("connect");
    store.migrate().await.expect("migrate");
    (dir, url, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_closed_pool_mid_run() {
    let (dir, url, store) = sqlite_file_store().await;
    // 200 writers queue for SQLite's single write lock; the pool closes while most wait.
    let writers: Vec<_> = (0..200)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut r = rec(10 + i);
                r.clerk_id = format!("user_{i}");
                let id = format!("msg_{i}");
                let result = store
                    .apply_inbound(&entry(&id), &InboundChange::Upsert(r), t(2))
                    .await;
                (id, format!("user_{i}"), result.map(|_| ()))
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(20)).await;
    store.close().await;
    let mut outcomes = Vec::new();
    for w in writers {
        outcomes.push(w.await.expect("writer"));
    }
    let failed = outcomes.iter().filter(|(_, _, r)| r.is_err()).count();
    assert!(failed > 0, "closing the pool cut some writers off");
    for (_, _, r) in &outcomes {
        if let Err(e) = r {
            assert!(e.is_transient(), "{e:?}");
        }
    }
    // Reopen: every event is either stored whole (ledger and row) or not at all.
    let reopened = SqlxStore::connect(&url).await.expect("reopen");
    for (svix_id, clerk_id, result) in &outcomes {
        let ledgered = reopened
            .ledger_get(svix_id)
            .await
            .expect("ledger_get")
            .is_some();
        let row = reopened
            .get_user(clerk_id)
            .await
            .expect("get_user")
            .is_some();
        assert_eq!(
            ledgered, row,
            "{svix_id}: ledger and row are written together"
        );
        assert_eq!(
            row,
            result.is_ok(),
            "{svix_id}: stored exactly when it succeeded"
        );
    }
    closed_pool_is_unavailable(store).await;
    reopened.close().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// A write cancelled part-way on SQLite (the caller's future dropped, here by a timeout while
/// another connection holds the write lock) leaves nothing behind: its transaction is rolled
/// back when the connection goes back to the pool, and the next writes go through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_cancelled_write_leaves_nothing() {
    let (dir, url, store) = sqlite_file_store().await;
    store.upsert_user(&rec(1), t(1)).await.expect("upsert");

    let mut blocker = sqlx::SqliteConnection::connect(&url)
        .await
        .expect("blocker");
    blocker.execute("BEGIN IMMEDIATE").await.expect("lock");
    let cut = tokio::time::timeout(
        Duration::from_millis(200),
        store.apply_inbound(&entry("msg_cut"), &InboundChange::Upsert(rec(2)), t(2)),
    )
    .await;
    assert!(
        cut.is_err(),
        "the write waits for the lock and is cancelled"
    );
    blocker.execute("ROLLBACK").await.expect("unlock");
    blocker.close().await.expect("close blocker");

    nothing_partial(&store).await;
    let mut next = rec(5);
    next.clerk_id = "user_next".to_owned();
    assert_eq!(
        store
            .apply_inbound(&entry("msg_next"), &InboundChange::Upsert(next), t(4))
            .await
            .expect("the next write"),
        InboundApplied::Upsert(UpsertOutcome::Inserted)
    );
    store.close().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// A statement failing part-way through SQLite's inbound transaction, after the ledger row was
/// read and before it is written: the error is returned, nothing of the event is stored, and
/// the next write goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_failed_write_leaves_nothing() {
    let (dir, url, store) = sqlite_file_store().await;
    store.upsert_user(&rec(1), t(1)).await.expect("upsert");
    let mut admin = sqlx::SqliteConnection::connect(&url).await.expect("admin");
    admin
        .execute(
            "CREATE TRIGGER refuse_v2 BEFORE UPDATE ON clerk_users \
             WHEN NEW.clerk_updated_at = 2 BEGIN SELECT RAISE(ABORT, 'refused'); END",
        )
        .await
        .expect("trigger");

    let err = store
        .apply_inbound(&entry("msg_cut"), &InboundChange::Upsert(rec(2)), t(2))
        .await
        .expect_err("the trigger aborts the upsert");
    assert!(
        matches!(err, StoreError::Backend(_)),
        "the database's refusal comes back as a backend error: {err:?}"
    );

    admin
        .execute("DROP TRIGGER refuse_v2")
        .await
        .expect("drop trigger");
    admin.close().await.expect("close admin");
    nothing_partial(&store).await;
    store.close().await;
    let _ = std::fs::remove_dir_all(dir);
}
