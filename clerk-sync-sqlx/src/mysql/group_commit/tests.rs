//! Group commit against a real MySQL/MariaDB (`CLERK_SYNC_TEST_MYSQL_URL`; under `CI=true` a
//! missing URL fails): a batch must leave exactly the rows and answers the procedure leaves,
//! event by event, and must settle nothing when a row changed between its read and its writes.

use std::sync::Arc;
use std::time::Duration;

use clerk_sync_core::store::{Tombstone, TombstoneOutcome};
use sqlx::mysql::MySqlPoolOptions;
use sqlx::{Connection, Executor, MySqlConnection};
use time::macros::datetime;

use super::*;

fn server_url(test: &str) -> Option<String> {
    match std::env::var("CLERK_SYNC_TEST_MYSQL_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CLERK_SYNC_TEST_MYSQL_URL is not set and CI=true: {test} must run in CI")
        }
        _ => {
            eprintln!("skipped {test}: CLERK_SYNC_TEST_MYSQL_URL is not set");
            None
        }
    }
}

/// A new migrated database on the server, dropped by [`Db::drop_database`].
struct Db {
    pool: MySqlPool,
    server: String,
    name: String,
}

impl Db {
    async fn fresh(test: &str) -> Option<Db> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let server = server_url(test)?;
        // The prefix of tests/support, whose cleanup drops what a crashed run left behind.
        let name = format!(
            "clerk_sqlx_t_{}_gc{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = MySqlConnection::connect(&server)
            .await
            .expect("CLERK_SYNC_TEST_MYSQL_URL answers");
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
            )))
            .await
            .expect("create database");
        let (base, query) = server.split_once('?').unwrap_or((&server, ""));
        let path = base[base.find("://").map_or(0, |i| i + 3)..]
            .find('/')
            .map_or(base.len(), |i| base.find("://").map_or(0, |j| j + 3) + i);
        let mut url = format!("{}/{name}", &base[..path]);
        if !query.is_empty() {
            url = format!("{url}?{query}");
        }
        let pool = MySqlPoolOptions::new()
            .max_connections(8)
            .connect(&url)
            .await
            .expect("pool");
        crate::migrator::mysql().run(&pool).await.expect("migrate");
        Some(Db { pool, server, name })
    }

    async fn drop_database(self) {
        self.pool.close().await;
        if let Ok(mut admin) = MySqlConnection::connect(&self.server).await {
            let _ = admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE `{}`",
                    self.name
                )))
                .await;
        }
    }

    /// Every user row (all columns but the local id) and every ledger row, as text.
    async fn contents(&self) -> (Vec<String>, Vec<String>) {
        let users: Vec<String> = sqlx::query_scalar(
            "SELECT CONCAT_WS(' | ', COALESCE(clerk_id, '-'), COALESCE(email, '-'), \
             COALESCE(first_name, '-'), COALESCE(last_name, '-'), COALESCE(username, '-'), \
             COALESCE(image_url, '-'), COALESCE(external_id, '-'), \
             COALESCE(public_metadata, '-'), COALESCE(raw_json, '-'), \
             COALESCE(clerk_updated_at, '-'), COALESCE(deleted_at, '-'), sync_status, \
             COALESCE(last_sync_attempt, '-'), COALESCE(sync_error, '-'), created_at, \
             updated_at) FROM clerk_users ORDER BY clerk_id, email",
        )
        .fetch_all(&self.pool)
        .await
        .expect("users");
        let ledger: Vec<String> = sqlx::query_scalar(
            "SELECT CONCAT_WS(' | ', svix_id, event_type, COALESCE(object_id, '-'), \
             received_at, COALESCE(processed_at, '-'), COALESCE(outcome, '-'), \
             COALESCE(error, '-'), payload) FROM clerk_webhook_events ORDER BY svix_id",
        )
        .fetch_all(&self.pool)
        .await
        .expect("ledger");
        (users, ledger)
    }
}

const NOW: PrimitiveDateTime = datetime!(2026-03-01 12:00:00.123456);
const RECEIVED: OffsetDateTime = datetime!(2026-03-01 11:59:59.5 UTC);

fn record(clerk_id: &str, version: i64, email: Option<&str>, verified: bool) -> ClerkUserRecord {
    let raw = format!(r#"{{"id":"{clerk_id}","updated_at":{version},"name":"Zoë ✓"}}"#);
    let mut r = ClerkUserRecord::new(clerk_id, version, raw);
    r.email = email.map(str::to_owned);
    r.link_email = email.filter(|_| verified).map(str::to_owned);
    r.first_name = Some(format!("First {version}"));
    r.last_name = Some("O'Brien \\ \"quoted\"".to_owned());
    r.public_metadata = Some(serde_json::json!({ "plan": "pro", "v": version }));
    r
}

fn event(svix_id: &str, change: InboundChange) -> QueuedEvent {
    let (event_type, object_id) = match &change {
        InboundChange::Upsert(r) => ("user.updated", Some(r.clerk_id.clone())),
        InboundChange::Tombstone(t) => ("user.deleted", Some(t.clerk_id.clone())),
        _ => ("session.created", None),
    };
    QueuedEvent {
        svix_id: svix_id.to_owned(),
        event_type: event_type.to_owned(),
        object_id,
        received_at: RECEIVED,
        payload: format!(r#"{{"type":"{event_type}","svix":"{svix_id}"}}"#),
        now: NOW,
        change,
    }
}

/// An upsert of `clerk_id` at `version`, with no email.
fn upsert(svix_id: &str, clerk_id: &str, version: i64) -> QueuedEvent {
    event(
        svix_id,
        InboundChange::Upsert(record(clerk_id, version, None, false)),
    )
}

async fn call(pool: &MySqlPool, e: &QueuedEvent) -> Option<InboundApplied> {
    call_apply_inbound(pool, &e.entry(), &e.change, e.now)
        .await
        .expect("procedure")
}

/// The same starting rows on any database: users at older, newer and no versions, a pending
/// one, a tombstone, a processed svix id, an unprocessed ledger row and a local row to link.
async fn seed(pool: &MySqlPool) {
    for e in [
        upsert("seed_old", "user_old", 100),
        upsert("seed_newer", "user_newer", 300),
        upsert("seed_pending", "user_pending", 100),
        upsert("seed_tomb", "user_tomb", 100),
        event(
            "seed_tomb_del",
            InboundChange::Tombstone(Tombstone::new("user_tomb", RECEIVED)),
        ),
        event("msg_done", InboundChange::LedgerOnly),
    ] {
        call(pool, &e).await;
    }
    pool.execute(
        "UPDATE clerk_users SET sync_status = 'pending', sync_error = 'queued' \
         WHERE clerk_id = 'user_pending'",
    )
    .await
    .expect("pending");
    pool.execute(
        "INSERT INTO clerk_users (clerk_id, email, sync_status, created_at, updated_at) VALUES \
         ('user_unversioned', 'unversioned@example.com', 'synced', '2026-01-01 00:00:00', \
         '2026-01-01 00:00:00'), \
         (NULL, 'link@example.com', 'pending', '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
    )
    .await
    .expect("local rows");
    pool.execute(
        "INSERT INTO clerk_webhook_events (svix_id, event_type, object_id, received_at, payload, \
         error) VALUES ('msg_half', 'user.updated', 'user_half', '2026-03-01 11:00:00', '{}', \
         'an earlier attempt failed')",
    )
    .await
    .expect("unprocessed ledger row");
}

/// One event of every kind a batch sees, against [`seed`]'s rows.
fn every_case() -> Vec<QueuedEvent> {
    vec![
        event(
            "msg_fresh",
            InboundChange::Upsert(record("user_fresh", 200, Some("fresh@example.com"), true)),
        ),
        event(
            "msg_old",
            InboundChange::Upsert(record("user_old", 200, Some("old@example.com"), false)),
        ),
        upsert("msg_newer", "user_newer", 200),
        upsert("msg_pending", "user_pending", 200),
        upsert("msg_tomb", "user_tomb", 200),
        upsert("msg_unversioned", "user_unversioned", 200),
        upsert("msg_done", "user_done", 200),
        upsert("msg_half", "user_half", 200),
        event(
            "msg_link",
            InboundChange::Upsert(record("user_link", 200, Some("link@example.com"), true)),
        ),
        event(
            "msg_unverified",
            InboundChange::Upsert(record(
                "user_unverified",
                200,
                Some("link@example.com"),
                false,
            )),
        ),
        event("msg_session", InboundChange::LedgerOnly),
    ]
}

#[tokio::test]
async fn a_batch_leaves_what_the_procedure_leaves() {
    let Some(by_call) = Db::fresh("a_batch_leaves_what_the_procedure_leaves").await else {
        return;
    };
    let Some(by_batch) = Db::fresh("a_batch_leaves_what_the_procedure_leaves").await else {
        return;
    };
    seed(&by_call.pool).await;
    seed(&by_batch.pool).await;
    let events = every_case();

    let mut expected = Vec::new();
    for e in &events {
        expected.push(call(&by_call.pool, e).await);
    }
    let refs: Vec<&QueuedEvent> = events.iter().collect();
    let queue = InboundQueue::new();
    let batched = queue.run_batch(&by_batch.pool, &refs).await.expect("batch");
    assert_eq!(queue.spares().len(), 1, "the batch's connection is kept");
    let mut answers = Vec::new();
    for (e, outcome) in events.iter().zip(&batched) {
        answers.push(match outcome {
            Some(applied) => Some(*applied),
            None => call(&by_batch.pool, e).await,
        });
    }

    use InboundApplied::{Duplicate, LedgerOnly, Upsert};
    assert_eq!(
        expected,
        vec![
            Some(Upsert(UpsertOutcome::Inserted)),
            Some(Upsert(UpsertOutcome::Updated)),
            Some(Upsert(UpsertOutcome::Stale)),
            Some(Upsert(UpsertOutcome::Updated)),
            Some(Upsert(UpsertOutcome::Deleted)),
            Some(Upsert(UpsertOutcome::Updated)),
            Some(Duplicate),
            Some(Upsert(UpsertOutcome::Inserted)),
            Some(Upsert(UpsertOutcome::Linked)),
            Some(Upsert(UpsertOutcome::Inserted)),
            Some(LedgerOnly),
        ],
        "the procedure's answers for the cases"
    );
    assert_eq!(answers, expected, "the batch answers as the procedure does");
    let unsettled: Vec<&str> = events
        .iter()
        .zip(&batched)
        .filter(|(_, o)| o.is_none())
        .map(|(e, _)| e.svix_id.as_str())
        .collect();
    assert_eq!(
        unsettled,
        ["msg_link"],
        "only the link is left to the procedure"
    );
    assert_eq!(
        by_batch.contents().await,
        by_call.contents().await,
        "the batch leaves the procedure's rows and ledger"
    );
    by_call.drop_database().await;
    by_batch.drop_database().await;
}

/// Reads and plans `events`, lets `meanwhile` change the database, then writes the plan.
async fn write_after(
    db: &Db,
    events: &[QueuedEvent],
    meanwhile: &QueuedEvent,
) -> (Result<(), BatchError>, Option<InboundApplied>) {
    let refs: Vec<&QueuedEvent> = events.iter().collect();
    let mut conn = db.pool.acquire().await.expect("connection");
    let known = Known::read(&mut conn, &refs).await.expect("read");
    let plan = Plan::new(&refs, &known);
    let other = call(&db.pool, meanwhile).await;
    let written = plan.write(&mut conn).await;
    conn.execute("ROLLBACK").await.expect("rollback");
    (written, other)
}

async fn user_version(pool: &MySqlPool, clerk_id: &str) -> Option<(Option<i64>, bool)> {
    sqlx::query_as::<_, (Option<i64>, bool)>(
        "SELECT clerk_updated_at, deleted_at IS NOT NULL FROM clerk_users WHERE clerk_id = ?",
    )
    .bind(clerk_id)
    .fetch_optional(pool)
    .await
    .expect("user")
}

async fn ledger_rows(pool: &MySqlPool) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM clerk_webhook_events")
        .fetch_one(pool)
        .await
        .expect("ledger count")
}

#[tokio::test]
async fn a_row_changed_since_the_read_rolls_the_batch_back() {
    let Some(db) = Db::fresh("a_row_changed_since_the_read_rolls_the_batch_back").await else {
        return;
    };
    call(&db.pool, &upsert("seed", "user_known", 1)).await;
    let bystander = || upsert("msg_by", "user_by", 5);
    let cases = [
        (
            "foretold an insert; another delivery inserted the user first",
            upsert("msg_a", "user_new", 2),
            upsert("other_a", "user_new", 1),
            InboundApplied::Upsert(UpsertOutcome::Inserted),
        ),
        (
            "foretold an update; a newer version arrived first",
            upsert("msg_b", "user_known", 2),
            upsert("other_b", "user_known", 3),
            InboundApplied::Upsert(UpsertOutcome::Updated),
        ),
        (
            "foretold an update; the user was deleted first",
            upsert("msg_c", "user_known", 4),
            event(
                "other_c",
                InboundChange::Tombstone(Tombstone::new("user_known", RECEIVED)),
            ),
            InboundApplied::Tombstone(TombstoneOutcome::Deleted),
        ),
    ];
    for (case, foretold, meanwhile, meanwhile_outcome) in cases {
        let batch = [foretold, bystander()];
        let (written, other) = write_after(&db, &batch, &meanwhile).await;
        assert_eq!(other, Some(meanwhile_outcome), "{case}");
        assert!(
            matches!(written, Err(BatchError::Surprise)),
            "{case}: {written:?}"
        );
    }

    // Nothing of the three batches is left: not the bystander, not their ledger rows.
    assert_eq!(user_version(&db.pool, "user_by").await, None);
    assert_eq!(
        user_version(&db.pool, "user_new").await,
        Some((Some(1), false))
    );
    assert_eq!(
        user_version(&db.pool, "user_known").await,
        Some((None, true))
    );
    assert_eq!(
        ledger_rows(&db.pool).await,
        4,
        "seed, other_a, other_b, other_c"
    );

    // Read again, the same events settle.
    let retry = [upsert("msg_a", "user_new", 2), bystander()];
    let refs: Vec<&QueuedEvent> = retry.iter().collect();
    assert_eq!(
        InboundQueue::new()
            .run_batch(&db.pool, &refs)
            .await
            .expect("batch"),
        [
            Some(InboundApplied::Upsert(UpsertOutcome::Updated)),
            Some(InboundApplied::Upsert(UpsertOutcome::Inserted)),
        ]
    );
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_events_are_committed_in_batches() {
    const TASKS: usize = 48;
    const EVENTS: usize = 12;
    let Some(db) = Db::fresh("concurrent_events_are_committed_in_batches").await else {
        return;
    };
    let queue = Arc::new(InboundQueue::new());
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let (queue, pool) = (queue.clone(), db.pool.clone());
            tokio::spawn(async move {
                let mut answers = Vec::new();
                for n in 0..EVENTS {
                    // Each task's user gets a create and then newer versions, between events
                    // for nobody (ledger only).
                    let e = if n % 4 == 3 {
                        event(&format!("msg_{t}_{n}"), InboundChange::LedgerOnly)
                    } else {
                        let r = record(&format!("user_{t:02}"), n as i64 + 1, None, false);
                        event(&format!("msg_{t}_{n}"), InboundChange::Upsert(r))
                    };
                    let answer = queue
                        .apply(&pool, &e.entry(), &e.change, e.now)
                        .await
                        .expect("apply");
                    answers.push(answer);
                }
                answers
            })
        })
        .collect();
    for task in tasks {
        let answers = task.await.expect("task");
        let mut expected = Vec::new();
        for n in 0..EVENTS {
            expected.push(Some(match n {
                0 => InboundApplied::Upsert(UpsertOutcome::Inserted),
                n if n % 4 == 3 => InboundApplied::LedgerOnly,
                _ => InboundApplied::Upsert(UpsertOutcome::Updated),
            }));
        }
        assert_eq!(answers, expected);
    }
    let batched = queue.batched.load(Ordering::Relaxed);
    assert!(
        batched > (TASKS * EVENTS / 2) as u64,
        "most events were committed in batches ({batched} of {}; {queue:?})",
        TASKS * EVENTS
    );
    assert_eq!(ledger_rows(&db.pool).await, (TASKS * EVENTS) as i64);
    let kept = queue.spares().len();
    assert!(
        (1..=BATCHES_IN_FLIGHT).contains(&kept),
        "the slots keep their connections ({kept})"
    );
    for t in 0..TASKS {
        let last = EVENTS as i64 - 1;
        assert_eq!(
            user_version(&db.pool, &format!("user_{t:02}")).await,
            Some((Some(last), false)),
            "every user at its last version"
        );
    }
    db.drop_database().await;
}

#[test]
fn literals_are_hex_digits_whatever_the_value() {
    let mut sql = String::new();
    text(&mut sql, "'); DROP TABLE clerk_users; -- \\ ✓");
    assert!(sql.starts_with("_utf8mb4 X'") && sql.ends_with('\''));
    let digits = &sql["_utf8mb4 X'".len()..sql.len() - 1];
    assert!(digits.bytes().all(|b| b.is_ascii_hexdigit()), "{sql}");
    assert_eq!(
        digits.len(),
        2 * "'); DROP TABLE clerk_users; -- \\ ✓".len()
    );

    let mut sql = String::new();
    opt_text(&mut sql, None);
    sql.push(' ');
    sql.push_str(&to_mysql_literal(NOW));
    assert_eq!(sql, "NULL '2026-03-01 12:00:00.123456'");
}

#[test]
fn a_batch_takes_one_event_per_user_and_svix_id() {
    let queue = InboundQueue::new();
    let mut answers = Vec::new();
    for (n, (svix_id, user)) in [
        ("a", "user_1"),
        ("b", "user_1 "), // the same user to MySQL: trailing spaces do not count
        ("a", "user_2"),  // a redelivery
        ("c", "user_2"),
        ("d", "user_3"),
    ]
    .into_iter()
    .enumerate()
    {
        let (reply, answer) = oneshot::channel();
        answers.push(answer);
        queue.lock().push_back(Job {
            id: n as u64,
            event: event(svix_id, InboundChange::Upsert(record(user, 1, None, false))),
            reply,
        });
    }
    let ids = |batch: Vec<Job>| batch.into_iter().map(|j| j.id).collect::<Vec<_>>();
    assert_eq!(ids(queue.take_batch()), [0, 3, 4]);
    assert_eq!(ids(queue.take_batch()), [1, 2]);
    assert!(queue.take_batch().is_empty());

    // An event whose task is gone is dropped, not written.
    let (reply, answer) = oneshot::channel();
    queue.lock().push_back(Job {
        id: 9,
        event: event("e", InboundChange::LedgerOnly),
        reply,
    });
    drop(answer);
    assert!(queue.take_batch().is_empty());
    assert!(queue.lock().is_empty());
}

/// Whether another connection can take the lock on ledger row `svix_id` within two seconds:
/// no transaction holds it any more.
async fn ledger_row_is_free(pool: &MySqlPool, svix_id: &str) -> bool {
    let mut conn = pool.acquire().await.expect("connection");
    conn.execute("SET SESSION innodb_lock_wait_timeout = 2")
        .await
        .expect("timeout");
    let inserted = sqlx::query(
        "INSERT INTO clerk_webhook_events (svix_id, event_type, received_at, payload) \
         VALUES (?, 'session.created', '2026-03-01 12:00:00', '{}')",
    )
    .bind(svix_id)
    .execute(&mut *conn)
    .await;
    inserted.is_ok()
}

#[tokio::test]
async fn a_batch_cancelled_part_way_keeps_no_connection_and_no_lock() {
    let Some(db) = Db::fresh("a_batch_cancelled_part_way_keeps_no_connection").await else {
        return;
    };
    let queue = InboundQueue::new();
    let inserted = Some(InboundApplied::Upsert(UpsertOutcome::Inserted));
    let events = two_new_users("a");
    let batch: Vec<&QueuedEvent> = events.iter().collect();
    assert_eq!(
        queue
            .run_batch(&db.pool, &batch)
            .await
            .expect("first batch"),
        [inserted, inserted]
    );
    assert_eq!(
        queue.spares().len(),
        1,
        "a finished batch keeps its connection"
    );

    // Another transaction holds the key of the batch's second new user, so the batch's
    // INSERT waits inside its transaction until the task is cancelled there.
    let mut blocker = db.pool.acquire().await.expect("connection");
    blocker.execute("START TRANSACTION").await.expect("begin");
    blocker
        .execute(
            "INSERT INTO clerk_users (clerk_id, sync_status, created_at, updated_at) \
             VALUES ('user_b2', 'synced', '2026-03-01 12:00:00', '2026-03-01 12:00:00')",
        )
        .await
        .expect("hold user_b2");
    let events = two_new_users("b");
    let batch: Vec<&QueuedEvent> = events.iter().collect();
    let cancelled = tokio::time::timeout(
        Duration::from_millis(300),
        queue.run_batch(&db.pool, &batch),
    )
    .await;
    assert!(
        cancelled.is_err(),
        "the batch waited on the lock: {cancelled:?}"
    );
    assert!(
        queue.spares().is_empty(),
        "a connection inside an open transaction is not kept"
    );
    blocker.execute("ROLLBACK").await.expect("release");
    drop(blocker);
    assert!(
        ledger_row_is_free(&db.pool, "msg_b1").await,
        "the cancelled batch's transaction is gone: its rows are neither committed nor locked"
    );
    assert_eq!(user_version(&db.pool, "user_b1").await, None);
    db.drop_database().await;
}

#[tokio::test]
async fn a_kept_connection_the_server_closed_is_replaced() {
    let Some(db) = Db::fresh("a_kept_connection_the_server_closed_is_replaced").await else {
        return;
    };
    let queue = InboundQueue::new();
    let first = upsert("msg_k1", "user_k", 1);
    let answer = queue
        .call(&db.pool, &first.entry(), &first.change, first.now)
        .await;
    assert_eq!(
        answer.expect("first call"),
        Some(InboundApplied::Upsert(UpsertOutcome::Inserted))
    );
    kill_kept_connection(&queue, &db.pool).await;

    let second = upsert("msg_k2", "user_k", 2);
    let answer = queue
        .call(&db.pool, &second.entry(), &second.change, second.now)
        .await;
    assert_eq!(
        answer.expect("the call is made again on a new connection"),
        Some(InboundApplied::Upsert(UpsertOutcome::Updated))
    );
    assert_eq!(
        queue.spares().len(),
        1,
        "the new connection is kept instead"
    );

    // After the pool closes, nothing is kept and writes fail as unavailable.
    db.pool.close().await;
    let third = upsert("msg_k3", "user_k", 3);
    let answer = queue
        .call(&db.pool, &third.entry(), &third.change, third.now)
        .await;
    assert!(
        matches!(answer, Err(StoreError::Unavailable(_))),
        "{answer:?}"
    );
    assert!(queue.spares().is_empty());
    db.drop_database().await;
}

/// Kills the connection a slot kept, from another connection, and waits until the server has
/// closed it.
async fn kill_kept_connection(queue: &InboundQueue, pool: &MySqlPool) {
    let mut kept = queue.spares().pop().expect("a kept connection");
    let id: u64 = sqlx::query_scalar("SELECT CONNECTION_ID()")
        .fetch_one(&mut kept.conn)
        .await
        .expect("connection id");
    queue.spares().push(kept);
    sqlx::query(sqlx::AssertSqlSafe(format!("KILL CONNECTION {id}")))
        .execute(pool)
        .await
        .expect("kill");
    for _ in 0..100 {
        let alive: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?")
                .bind(id)
                .fetch_one(pool)
                .await
                .expect("processlist");
        if alive == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("connection {id} is still open after KILL");
}

fn two_new_users(tag: &str) -> Vec<QueuedEvent> {
    (1..=2)
        .map(|n| upsert(&format!("msg_{tag}{n}"), &format!("user_{tag}{n}"), 1))
        .collect()
}

#[tokio::test]
async fn a_batch_on_a_dead_kept_connection_is_not_kept_and_a_long_idle_one_is_checked() {
    let Some(db) = Db::fresh("a_batch_on_a_dead_kept_connection").await else {
        return;
    };
    let queue = InboundQueue::new();
    let inserted = Some(InboundApplied::Upsert(UpsertOutcome::Inserted));
    let events = two_new_users("a");
    let batch: Vec<&QueuedEvent> = events.iter().collect();
    assert_eq!(
        queue
            .run_batch(&db.pool, &batch)
            .await
            .expect("first batch"),
        [inserted, inserted]
    );

    // Killed while recently used: the batch fails as a connection failure (its events would
    // then run alone), and the dead connection is not kept.
    kill_kept_connection(&queue, &db.pool).await;
    let events = two_new_users("b");
    let batch: Vec<&QueuedEvent> = events.iter().collect();
    let failed = queue.run_batch(&db.pool, &batch).await;
    assert!(
        matches!(&failed, Err(BatchError::Sql(err)) if crate::error::is_unavailable(err)),
        "{failed:?}"
    );
    assert!(queue.spares().is_empty(), "the dead connection is dropped");
    assert_eq!(
        queue
            .run_batch(&db.pool, &batch)
            .await
            .expect("on a new connection"),
        [inserted, inserted]
    );

    // Killed after sitting idle past IDLE_CHECK: the ping finds it dead before the batch
    // uses it, and the batch runs on a new connection.
    kill_kept_connection(&queue, &db.pool).await;
    for spare in queue.spares().iter_mut() {
        spare.idle_since -= IDLE_CHECK;
    }
    let events = two_new_users("c");
    let batch: Vec<&QueuedEvent> = events.iter().collect();
    assert_eq!(
        queue
            .run_batch(&db.pool, &batch)
            .await
            .expect("checked first"),
        [inserted, inserted]
    );
    assert_eq!(queue.spares().len(), 1, "the new connection is kept");
    db.drop_database().await;
}

/// Every event any thread sends, with its fields as text.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<String>>>);

impl tracing::Subscriber for Captured {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Text(String);
        impl tracing::field::Visit for Text {
            fn record_debug(&mut self, field: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                let _ = write!(self.0, " {}={v:?}", field.name());
            }
        }
        let mut text = Text(event.metadata().target().to_owned());
        event.record(&mut text);
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(text.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test]
async fn batch_statements_never_reach_the_log() {
    let Some(db) = Db::fresh("batch_statements_never_reach_the_log").await else {
        return;
    };
    const SECRET: &str = "zebra-secret-4242";
    let hex: String = SECRET.bytes().map(|b| format!("{b:02x}")).collect();
    let captured = Captured::default();
    let _guard = tracing::subscriber::set_default(captured.clone());

    // The capture sees sqlx's statement log: a pool connection logs its statement's text.
    // Another test thread registering one of the same callsites while this subscriber was
    // being set can leave a stale "nobody listens" cached for it; rebuilding the cache after
    // a miss settles that, as nothing else in this binary sets a subscriber.
    let logged = |needle: &str| {
        let lines = captured.0.lock().unwrap_or_else(PoisonError::into_inner);
        lines.iter().any(|line| line.contains(needle))
    };
    let mut control_seen = false;
    for _ in 0..10 {
        sqlx::query(sqlx::AssertSqlSafe(format!("SELECT 'control-{SECRET}'")))
            .execute(&db.pool)
            .await
            .expect("control");
        control_seen = logged(&format!("control-{SECRET}"));
        if control_seen {
            break;
        }
        tracing::callsite::rebuild_interest_cache();
    }
    assert!(control_seen, "the capture works");
    captured
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();

    let queue = InboundQueue::new();
    let events: Vec<QueuedEvent> = (1..=3)
        .map(|n| {
            let mut r = record(&format!("user_s{n}"), 1, Some("s@example.com"), false);
            r.first_name = Some(format!("{SECRET} {n}"));
            event(&format!("msg_s{n}"), InboundChange::Upsert(r))
        })
        .collect();
    let batch: Vec<&QueuedEvent> = events.iter().collect();
    let outcomes = queue.run_batch(&db.pool, &batch).await.expect("batch");
    assert!(outcomes.iter().all(Option::is_some), "{outcomes:?}");
    // And a lone call on the slot's kept connection.
    let lone = event(
        "msg_s_lone",
        InboundChange::Upsert(record(
            "user_s_lone",
            1,
            Some("zebra-secret-4242@example.com"),
            false,
        )),
    );
    queue
        .call(&db.pool, &lone.entry(), &lone.change, lone.now)
        .await
        .expect("lone call");
    assert!(!logged(SECRET) && !logged(&hex), "{:?}", captured.0.lock());
    db.drop_database().await;
}
