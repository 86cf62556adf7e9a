//! 64 tasks applying shuffled, duplicated histories end in the same rows as in-order delivery,
//! on PostgreSQL and MySQL/MariaDB (64 connections at once) and SQLite (whose writers queue).

mod support;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use clerk_sync_core::store::{
    ClerkUserRecord, InboundApplied, InboundChange, InboundStore, NewLedgerEntry, Tombstone,
    UserQuery, UserStore,
};
use clerk_sync_sqlx::SqlxStore;
use clerk_sync_sqlx::sqlx;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde_json::json;
use support::Backend;
use time::OffsetDateTime;
use time::macros::datetime;

const CONNECTIONS: u32 = 64;
const USERS: usize = 60;

fn t(ms: i64) -> OffsetDateTime {
    datetime!(2026-03-01 12:00:00 UTC) + time::Duration::milliseconds(ms)
}

#[derive(Clone)]
struct Event {
    svix_id: String,
    event_type: &'static str,
    clerk_id: String,
    change: InboundChange,
}

/// Per user: a create, four updates, and for every third user a delete; versions increase
/// in history order and every event has its own svix id.
fn history() -> Vec<Event> {
    let mut events = Vec::new();
    for u in 0..USERS {
        let clerk_id = format!("user_c{u:03}");
        let base = 1_772_366_400_000 + (u as i64) * 1_000;
        for step in 0..5i64 {
            let v = base + step;
            let mut r = ClerkUserRecord::new(
                clerk_id.clone(),
                v,
                json!({ "id": clerk_id, "updated_at": v, "step": step }).to_string(),
            );
            r.email = Some(format!("c{u}+{step}@example.com"));
            r.first_name = Some(format!("Step {step} ✓"));
            r.public_metadata = Some(json!({ "step": step, "user": u }));
            events.push(Event {
                svix_id: format!("msg_{u}_{step}"),
                event_type: if step == 0 {
                    "user.created"
                } else {
                    "user.updated"
                },
                clerk_id: clerk_id.clone(),
                change: InboundChange::Upsert(r),
            });
        }
        if u % 3 == 0 {
            let mut tomb = Tombstone::new(clerk_id.clone(), t(base + 10));
            tomb.external_id = Some(format!("ext-{u}"));
            events.push(Event {
                svix_id: format!("msg_{u}_del"),
                event_type: "user.deleted",
                clerk_id: clerk_id.clone(),
                change: InboundChange::Tombstone(tomb),
            });
        }
    }
    events
}

async fn deliver(store: &SqlxStore, e: &Event, now: OffsetDateTime) -> InboundApplied {
    let entry = NewLedgerEntry::new(&e.svix_id, e.event_type, Some(&e.clerk_id), now, Some("{}"));
    store
        .apply_inbound(&entry, &e.change, now)
        .await
        .unwrap_or_else(|err| panic!("apply_inbound {}: {err:?}", e.svix_id))
}

/// Rows without local ids and local clocks, sorted by clerk id.
async fn rows(store: &SqlxStore) -> Vec<serde_json::Value> {
    let mut query = UserQuery::new(1000);
    query.include_deleted = true;
    let mut out: Vec<serde_json::Value> = store
        .list_users(&query)
        .await
        .expect("list_users")
        .into_iter()
        .map(|u| {
            json!({
                "clerk_id": u.clerk_id, "email": u.email, "first_name": u.first_name,
                "external_id": u.external_id, "public_metadata": u.public_metadata,
                "raw_json": u.raw_json, "version": u.clerk_updated_at,
                "status": u.sync_status.as_str(), "deleted_at": u.deleted_at.map(|d| d.to_string()),
            })
        })
        .collect();
    out.sort_by(|a, b| a["clerk_id"].as_str().cmp(&b["clerk_id"].as_str()));
    out
}

async fn shuffled_equals_in_order(in_order: SqlxStore, concurrent: SqlxStore) {
    let events = history();
    for (i, e) in events.iter().enumerate() {
        deliver(&in_order, e, t(i as i64)).await;
    }
    let expected = rows(&in_order).await;
    assert_eq!(expected.len(), USERS);

    // Every event once or twice (redeliveries share the svix id), shuffled.
    let mut rng = StdRng::seed_from_u64(0x5eed_c0de);
    let mut deliveries: Vec<Event> = events.clone();
    deliveries.extend(events.iter().filter(|e| e.svix_id.len() % 2 == 0).cloned());
    deliveries.shuffle(&mut rng);
    let total = deliveries.len();
    let queue = Arc::new(Mutex::new(VecDeque::from(deliveries)));
    let concurrent = Arc::new(concurrent);
    let barrier = Arc::new(tokio::sync::Barrier::new(CONNECTIONS as usize));
    // Deliveries in flight now, and the most at once.
    let in_flight = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0)));
    let tasks: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (queue, store, barrier) = (queue.clone(), concurrent.clone(), barrier.clone());
            let in_flight = in_flight.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                let mut done = 0usize;
                loop {
                    let next = queue.lock().expect("queue").pop_front();
                    let Some(e) = next else { break done };
                    let now = in_flight.0.fetch_add(1, Ordering::SeqCst) + 1;
                    in_flight.1.fetch_max(now, Ordering::SeqCst);
                    deliver(&store, &e, t(100_000)).await;
                    in_flight.0.fetch_sub(1, Ordering::SeqCst);
                    done += 1;
                }
            })
        })
        .collect();
    let mut delivered = 0;
    for task in tasks {
        delivered += task.await.expect("delivery task");
    }
    assert_eq!(delivered, total);
    // The deliveries overlapped: most of the tasks were waiting on the store at once.
    let peak = in_flight.1.load(Ordering::SeqCst);
    assert!(
        peak > CONNECTIONS as usize / 2,
        "deliveries ran concurrently ({peak} at most in flight)"
    );
    // PostgreSQL and MySQL/MariaDB must also have had every connection busy at once; SQLite
    // writers queue for the single write lock by design.
    let size = match concurrent.pool() {
        clerk_sync_sqlx::DialectPool::Postgres(p) => Some(p.size()),
        clerk_sync_sqlx::DialectPool::MySql(p) => Some(p.size()),
        _ => None,
    };
    if let Some(size) = size {
        assert_eq!(
            size, CONNECTIONS,
            "all {CONNECTIONS} connections were in use at once"
        );
    }
    assert_eq!(
        rows(&concurrent).await,
        expected,
        "shuffled concurrent delivery ends in the in-order rows"
    );
    concurrent.close().await;
    in_order.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(clerk_sync_postgres), ignore = "set CLERK_SYNC_TEST_POSTGRES_URL")]
async fn postgres_64_connections_shuffled_histories() {
    let url = support::url(Backend::Postgres);
    let in_order = support::fresh_pg(url.clone()).await;
    let (schema_url, schema) = support::pg_schema_url(&url).await;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(CONNECTIONS)
        .connect(&schema_url)
        .await
        .expect("pool");
    let concurrent = SqlxStore::from_pool(pool);
    concurrent.migrate().await.expect("migrate");
    shuffled_equals_in_order(in_order, concurrent).await;
    support::drop_pg_schema(&url, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(clerk_sync_mysql), ignore = "set CLERK_SYNC_TEST_MYSQL_URL")]
async fn mysql_64_connections_shuffled_histories() {
    let url = support::url(Backend::MySql);
    let in_order = support::fresh_mysql(url.clone()).await;
    let (db_url, database) = support::mysql_database_url(&url).await;
    // A plain pool, as an application would pass it: REPEATABLE READ sessions.
    let pool = sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(CONNECTIONS)
        .connect(&db_url)
        .await
        .expect("pool");
    let concurrent = SqlxStore::from_pool(pool);
    concurrent.migrate().await.expect("migrate");
    shuffled_equals_in_order(in_order, concurrent).await;
    support::drop_mysql_database(&url, &database).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file_64_tasks_shuffled_histories() {
    let dir = std::env::temp_dir().join(support::unique_name());
    std::fs::create_dir_all(&dir).expect("dir");
    let url = format!("sqlite:{}", dir.join("c.db").display());
    let concurrent = SqlxStore::connect(&url).await.expect("connect");
    concurrent.migrate().await.expect("migrate");
    shuffled_equals_in_order(support::fresh_sqlite().await, concurrent).await;
    let _ = std::fs::remove_dir_all(dir);
}
