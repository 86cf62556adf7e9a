//! Concurrency and database loss on the server databases (PostgreSQL, MySQL/MariaDB), plus
//! SQLite where it applies.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clerk_sync_core::store::{
    ClerkUserRecord, InboundChange, LedgerStore, LocalUser, NewLedgerEntry, StoreError, SyncStore,
    Tombstone, UserQuery, UserStore,
};
use clerk_sync_seaorm::SeaOrmStore;
use clerk_sync_seaorm::sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, Statement,
};
use common::Db;
use time::OffsetDateTime;
use time::macros::datetime;

/// One delivery: its svix id and what it writes.
#[derive(Clone)]
struct Event {
    svix_id: String,
    change: InboundChange,
    version: i64,
}

const NOW: OffsetDateTime = datetime!(2026-03-01 12:00:00.123456 UTC);

/// A small deterministic generator, so a failing order can be reproduced from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

/// Histories of `users` users: a create, updates, and for every third user a delete, with
/// versions increasing in delivery order. The raw JSON carries the version, so a row whose
/// columns came from two different writes would show it.
fn histories(users: usize, rng: &mut Rng) -> Vec<Event> {
    let mut events = Vec::new();
    for u in 0..users {
        let id = format!("user_{u:03}");
        let updates = 1 + rng.below(5);
        for v in 0..=updates {
            let version = 1_000 + v as i64;
            let mut r =
                ClerkUserRecord::new(&id, version, format!(r#"{{"id":"{id}","v":{version}}}"#));
            r.email = Some(format!("{id}+{version}@example.com"));
            r.first_name = Some(format!("v{version}"));
            r.public_metadata = Some(serde_json::json!({ "v": version }));
            events.push(Event {
                svix_id: format!("msg_{id}_{v}"),
                change: InboundChange::Upsert(r),
                version,
            });
        }
        if u % 3 == 0 {
            let mut t = Tombstone::new(&id, NOW);
            t.external_id = Some(format!("ext_{u}"));
            events.push(Event {
                svix_id: format!("msg_{id}_deleted"),
                change: InboundChange::Tombstone(t),
                version: i64::MAX,
            });
        }
    }
    events
}

async fn deliver(store: &SeaOrmStore, e: &Event) -> Result<(), StoreError> {
    let body = format!(r#"{{"svix":"{}"}}"#, e.svix_id);
    let entry = NewLedgerEntry::new(&e.svix_id, "user.updated", None, NOW, &body);
    store
        .apply_inbound(&entry, &e.change, NOW)
        .await
        .map(|_| ())
}

type Row = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<serde_json::Value>,
    Option<serde_json::Value>,
    Option<i64>,
    Option<String>,
    Option<OffsetDateTime>,
    String,
);

fn project(u: LocalUser) -> Row {
    (
        u.clerk_id,
        u.email,
        u.first_name,
        u.public_metadata,
        u.raw_json,
        u.clerk_updated_at,
        u.external_id,
        u.deleted_at,
        u.sync_status.to_string(),
    )
}

async fn rows(store: &SeaOrmStore) -> Vec<Row> {
    let mut q = UserQuery::new(1000);
    q.include_deleted = true;
    let mut out = Vec::new();
    loop {
        let page = store.list_users(&q).await.expect("list_users");
        let Some(last) = page.last() else { break };
        q.after_id = Some(last.id);
        out.extend(page.into_iter().map(project));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// 64 connections apply shuffled copies (with duplicates) of the histories at once and end in
/// exactly the rows of in-order delivery.
async fn concurrent_shuffled_histories(db: Db, seed: u64) {
    if common::url(db).is_none() {
        return;
    }
    let mut rng = Rng(seed);
    let events = histories(60, &mut rng);

    let in_order = common::fresh(db).await;
    for e in &events {
        deliver(&in_order, e).await.expect("in-order delivery");
    }

    let mut shuffled: Vec<Event> = events
        .iter()
        .cloned()
        .chain(events.iter().cloned())
        .collect();
    for _ in 0..events.len() / 2 {
        let i = rng.below(events.len());
        shuffled.push(events[i].clone());
    }
    rng.shuffle(&mut shuffled);
    let shuffled = Arc::new(shuffled);
    let store = common::fresh_with(db, 64).await;
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let (store, shuffled, next) = (store.clone(), shuffled.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(e) = shuffled.get(i) else { break };
                deliver(&store, e).await.expect("concurrent delivery");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    assert_eq!(
        rows(&store).await,
        rows(&in_order).await,
        "seed {seed}: concurrent shuffled delivery diverged from in-order delivery"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_histories_postgres() {
    concurrent_shuffled_histories(Db::Postgres, 0x9e37_79b9_7f4a_7c15).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_histories_mysql() {
    concurrent_shuffled_histories(Db::Mysql, 0x2545_f491_4f6c_dd1d).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_histories_sqlite() {
    concurrent_shuffled_histories(Db::Sqlite, 0x1234_5678_9abc_def1).await;
}

/// Every row is whole (its columns come from one write) and every event the ledger calls
/// processed is reflected in its row.
async fn assert_consistent(store: &SeaOrmStore, events: &[Event]) {
    for (clerk_id, email, first_name, metadata, raw, version, _, deleted_at, _) in rows(store).await
    {
        let clerk_id = clerk_id.expect("clerk id");
        match (deleted_at, version) {
            (Some(_), _) => {
                assert!(
                    email.is_none() && first_name.is_none() && raw.is_none() && version.is_none()
                );
            }
            (None, Some(v)) => {
                assert_eq!(
                    email,
                    Some(format!("{clerk_id}+{v}@example.com")),
                    "partial row"
                );
                assert_eq!(first_name, Some(format!("v{v}")), "partial row");
                assert_eq!(metadata, Some(serde_json::json!({ "v": v })), "partial row");
                assert_eq!(raw.and_then(|r| r["v"].as_i64()), Some(v), "partial row");
            }
            (None, None) => panic!("row {clerk_id} without data"),
        }
    }
    for e in events {
        let Some(entry) = store.ledger_get(&e.svix_id).await.expect("ledger_get") else {
            continue;
        };
        if entry.processed_at.is_none() {
            continue;
        }
        let clerk_id = match &e.change {
            InboundChange::Upsert(r) => &r.clerk_id,
            InboundChange::Tombstone(t) => &t.clerk_id,
            _ => continue,
        };
        let user = store
            .get_user(clerk_id)
            .await
            .expect("get_user")
            .expect("processed event without row");
        assert!(
            user.deleted_at.is_some() || user.clerk_updated_at.is_some_and(|v| v >= e.version),
            "ledger says {} was processed but its row does not reflect it",
            e.svix_id
        );
    }
}

/// Kill every connection of the store's database while 16 tasks apply events: each failure
/// is a retryable `Unavailable`, no row is partial, and the ledger never claims an event
/// whose write was lost.
async fn database_loss(db: Db) {
    if common::url(db).is_none() {
        return;
    }
    let base = common::url(db).unwrap();
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    let events = Arc::new(histories(400, &mut rng));
    let (conn, db_name) = if db == Db::Postgres {
        common::fresh_pg_database(16).await
    } else {
        let conn = common::fresh_connection(db, 16).await;
        let row = conn
            .query_one_raw(stmt(&conn, "SELECT DATABASE() AS n"))
            .await
            .expect("database name")
            .expect("a row");
        let name: String = row.try_get("", "n").expect("name");
        (conn, name)
    };
    let store = SeaOrmStore::new(conn);
    store.migrate().await.expect("migrate");

    let next = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (store, events, next, failures) = (
            store.clone(),
            events.clone(),
            next.clone(),
            failures.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(e) = events.get(i) else { break };
                if let Err(err) = deliver(&store, e).await {
                    assert!(
                        matches!(err, StoreError::Unavailable(_)),
                        "a lost connection must be Unavailable (retryable), got {err:?}"
                    );
                    assert!(err.is_transient());
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }

    let mut admin_opts = ConnectOptions::new(base.clone());
    admin_opts.max_connections(1).sqlx_logging(false);
    let admin = Database::connect(admin_opts)
        .await
        .expect("admin connection");
    let mut kills = 0;
    let mut victims = 0;
    while next.load(Ordering::Relaxed) < events.len() && kills < 400 {
        tokio::time::sleep(Duration::from_millis(3)).await;
        let sql = if db == Db::Postgres {
            // The store's connections are the ones whose search_path is the test schema; the
            // admin connection's own backend is spared.
            format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = '{db_name}' AND pid <> pg_backend_pid()"
            )
        } else {
            format!(
                "SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = '{db_name}' AND ID <> CONNECTION_ID()"
            )
        };
        if db == Db::Postgres {
            let killed = admin
                .query_all_raw(stmt(&admin, &sql))
                .await
                .expect("terminate backends");
            victims += killed.len();
        } else {
            let ids = admin
                .query_all_raw(stmt(&admin, &sql))
                .await
                .unwrap_or_default();
            for row in ids {
                if let Ok(id) = row.try_get::<i64>("", "id") {
                    // The connection may have gone already; that is fine.
                    if admin
                        .execute_unprepared(&format!("KILL CONNECTION {id}"))
                        .await
                        .is_ok()
                    {
                        victims += 1;
                    }
                }
            }
        }
        kills += 1;
    }
    for t in tasks {
        t.await.expect("task");
    }
    let failed = failures.load(Ordering::Relaxed);
    eprintln!(
        "{db:?}: {failed} deliveries failed while connections were killed ({kills} kill rounds, {victims} connections killed)"
    );
    assert!(
        failed > 0,
        "no delivery was hit by a killed connection: the test proved nothing"
    );

    // A fresh pool on the same database sees only whole rows.
    let checker = SeaOrmStore::new(common::reconnect(db, &db_name).await);
    assert_consistent(&checker, &events).await;

    // A closed pool: every call is a retryable Unavailable.
    store.connection().clone().close().await.ok();
    let err = deliver(&store, &events[0]).await.expect_err("closed pool");
    assert!(
        matches!(err, StoreError::Unavailable(_)),
        "closed pool gave {err:?}"
    );

    drop(checker);
    if db == Db::Postgres {
        admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {db_name} WITH (FORCE)"))
            .await
            .ok();
    } else {
        admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {db_name}"))
            .await
            .ok();
    }
}

fn stmt(conn: &DatabaseConnection, sql: &str) -> Statement {
    Statement::from_string(conn.get_database_backend(), sql.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_loss_postgres() {
    database_loss(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_loss_mysql() {
    database_loss(Db::Mysql).await;
}
