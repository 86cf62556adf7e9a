//! Outbox claims from two stores with pools of their own, as two replicas would make them, on
//! PostgreSQL and MySQL/MariaDB (`FOR UPDATE SKIP LOCKED`): no entry is ever claimed twice, and
//! a replica whose claim expired cannot settle an entry the other took over.

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use clerk_sync_core::store::{ClaimOutcome, LocalChange, OutboxStore, UserProfile};
use clerk_sync_sqlx::SqlxStore;
use support::Backend;
use time::OffsetDateTime;
use time::macros::datetime;

const ENTRIES: usize = 60;
const LEASE: Duration = Duration::from_secs(30);

fn t(secs: i64) -> OffsetDateTime {
    datetime!(2026-03-01 12:00:00 UTC) + time::Duration::seconds(secs)
}

async fn two_replicas(replicas: [SqlxStore; 2]) {
    let [a, b] = replicas;
    let mut queued = HashSet::new();
    for i in 0..ENTRIES {
        let mut profile = UserProfile::default();
        profile.email = Some(format!("claim{i}@example.com"));
        let change = LocalChange::Create(profile);
        // Half the rows through each replica: both write the same tables.
        let store = if i % 2 == 0 { &a } else { &b };
        queued.insert(
            store
                .enqueue_local_change(&change, t(0))
                .await
                .expect("enqueue")
                .outbox_id,
        );
    }
    let (a, b) = (Arc::new(a), Arc::new(b));
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let store = Arc::clone(if w % 2 == 0 { &a } else { &b });
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let batch = store
                        .claim_outbox(&format!("replica-{}-{w}", w % 2), t(1), LEASE, 3)
                        .await
                        .expect("claim");
                    if batch.is_empty() {
                        break mine;
                    }
                    mine.extend(batch.into_iter().map(|e| (e.id, e.claim_token)));
                }
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for worker in workers {
        claimed.extend(worker.await.expect("worker"));
    }
    let first_tokens: HashMap<i64, Option<String>> = claimed.iter().cloned().collect();
    let unique: HashSet<i64> = first_tokens.keys().copied().collect();
    assert_eq!(unique.len(), claimed.len(), "an entry was claimed twice");
    assert_eq!(unique, queued, "every entry was claimed, once");

    // Replica a's claims expire at 31 s; b takes one over, and a can no longer settle it.
    let taken = b
        .claim_outbox("replica-b", t(40), LEASE, 1)
        .await
        .expect("claim");
    assert_eq!(taken.len(), 1, "an expired claim is taken over");
    let entry = &taken[0];
    let stale = a.outbox_for_user(entry.user_id).await.expect("read")[0].clone();
    assert_eq!(
        stale.claim_token, entry.claim_token,
        "both replicas see the new claim"
    );
    let token = entry.claim_token.as_deref().expect("a token");
    let first = first_tokens[&entry.id].as_deref().expect("a token");
    assert_ne!(first, token);
    assert_eq!(
        a.complete_outbox(entry.id, first, Some("user_x"), t(41))
            .await
            .expect("complete"),
        ClaimOutcome::Lost,
        "the first claimer's token no longer settles the entry"
    );
    assert_eq!(
        a.complete_outbox(entry.id, token, Some("user_x"), t(41))
            .await
            .expect("complete"),
        ClaimOutcome::Applied,
        "the holder's token settles it, from either replica"
    );
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(clerk_sync_postgres), ignore = "set CLERK_SYNC_TEST_POSTGRES_URL")]
async fn postgres_claims_across_two_pools() {
    let url = support::url(Backend::Postgres);
    let (schema_url, schema) = support::pg_schema_url(&url).await;
    let a = SqlxStore::connect(&schema_url).await.expect("connect a");
    a.migrate().await.expect("migrate");
    let b = SqlxStore::connect(&schema_url).await.expect("connect b");
    two_replicas([a, b]).await;
    support::drop_pg_schema(&url, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(clerk_sync_mysql), ignore = "set CLERK_SYNC_TEST_MYSQL_URL")]
async fn mysql_claims_across_two_pools() {
    let url = support::url(Backend::MySql);
    let (db_url, database) = support::mysql_database_url(&url).await;
    let a = SqlxStore::connect(&db_url).await.expect("connect a");
    a.migrate().await.expect("migrate");
    let b = SqlxStore::connect(&db_url).await.expect("connect b");
    two_replicas([a, b]).await;
    support::drop_mysql_database(&url, &database).await;
}
