//! SQLite's group commit of inbound upserts (file databases): events queued behind the
//! writer run as one transaction, a batch that fails falls back to one event at a time, and a
//! task cancelled while running others' events does not lose them.

mod support;

use std::time::Duration;

use clerk_sync_core::store::{
    ClerkUserRecord, InboundApplied, InboundChange, LedgerStore, NewLedgerEntry, StoreError,
    SyncStore, UpsertOutcome, UserStore,
};
use clerk_sync_sqlx::SqlxStore;
use clerk_sync_sqlx::sqlx::{self, Connection, Executor};
use time::OffsetDateTime;
use time::macros::datetime;

fn t(secs: i64) -> OffsetDateTime {
    datetime!(2026-03-01 12:00:00 UTC) + time::Duration::seconds(secs)
}

fn upsert(clerk_id: &str) -> InboundChange {
    InboundChange::Upsert(ClerkUserRecord::new(
        clerk_id,
        10,
        format!(r#"{{"id":"{clerk_id}","updated_at":10}}"#),
    ))
}

async fn file_store(name: &str) -> (SqlxStore, String, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(support::unique_name());
    std::fs::create_dir_all(&dir).expect("dir");
    let url = format!("sqlite:{}?mode=rwc", dir.join(name).display());
    let store = SqlxStore::connect(&url).await.expect("connect");
    store.migrate().await.expect("migrate");
    (store, url, dir)
}

/// Starts `apply_inbound` of `svix_id` for `clerk_id` on a task.
fn spawn_apply(
    store: &SqlxStore,
    svix_id: &str,
    clerk_id: &str,
) -> tokio::task::JoinHandle<Result<InboundApplied, StoreError>> {
    let (store, svix_id, clerk_id) = (store.clone(), svix_id.to_owned(), clerk_id.to_owned());
    tokio::spawn(async move {
        let entry = NewLedgerEntry::new(&svix_id, "user.created", Some(&clerk_id), t(0), "{}");
        store.apply_inbound(&entry, &upsert(&clerk_id), t(1)).await
    })
}

async fn stored(store: &SqlxStore, svix_id: &str, clerk_id: &str) -> (bool, bool) {
    let ledgered = store
        .ledger_get(svix_id)
        .await
        .expect("ledger_get")
        .is_some();
    let row = store.get_user(clerk_id).await.expect("get_user").is_some();
    (ledgered, row)
}

/// Twenty events queue while another connection holds the write lock; one of them is refused
/// by a trigger. The batch fails as a whole, and the fallback gives every other event its
/// own success and the refused one its own error, with nothing of it stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_batch_falls_back_to_one_event_at_a_time() {
    let (store, url, dir) = file_store("fallback.db").await;
    let mut admin = sqlx::SqliteConnection::connect(&url).await.expect("admin");
    admin
        .execute(
            "CREATE TRIGGER refuse_bad BEFORE INSERT ON clerk_users \
             WHEN NEW.clerk_id = 'user_bad' BEGIN SELECT RAISE(ABORT, 'refused'); END",
        )
        .await
        .expect("trigger");
    admin.execute("BEGIN IMMEDIATE").await.expect("lock");

    let mut tasks = Vec::new();
    for i in 0..20 {
        let clerk_id = if i == 7 {
            "user_bad".to_owned()
        } else {
            format!("user_{i}")
        };
        tasks.push((
            format!("msg_{i}"),
            clerk_id.clone(),
            spawn_apply(&store, &format!("msg_{i}"), &clerk_id),
        ));
        if i == 0 {
            // The first takes the writer and waits on the lock; the rest queue behind it.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    admin.execute("ROLLBACK").await.expect("unlock");

    for (svix_id, clerk_id, task) in tasks {
        let result = task.await.expect("task");
        if clerk_id == "user_bad" {
            assert!(result.is_err(), "{svix_id}: the refused event fails");
            assert_eq!(stored(&store, &svix_id, &clerk_id).await, (false, false));
        } else {
            assert_eq!(
                result.expect("the others are applied"),
                InboundApplied::Upsert(UpsertOutcome::Inserted),
                "{svix_id}"
            );
            assert_eq!(stored(&store, &svix_id, &clerk_id).await, (true, true));
        }
    }
    admin.close().await.expect("close admin");
    store.close().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// The task running a batch of other tasks' events is cancelled before the batch commits:
/// each of those tasks then runs its own event, and every one is applied exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_batch_leaves_its_events_to_their_own_tasks() {
    let (store, url, dir) = file_store("cancel.db").await;
    let mut blocker = sqlx::SqliteConnection::connect(&url)
        .await
        .expect("blocker");
    blocker.execute("BEGIN IMMEDIATE").await.expect("lock");

    // `first` takes the writer and waits on the lock with only its own event; `leader` queues
    // first behind it, the others after.
    let first = spawn_apply(&store, "msg_first", "user_first");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let leader = spawn_apply(&store, "msg_leader", "user_leader");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let followers: Vec<_> = (0..4)
        .map(|i| {
            let svix_id = format!("msg_follow{i}");
            let clerk_id = format!("user_follow{i}");
            let task = spawn_apply(&store, &svix_id, &clerk_id);
            (svix_id, clerk_id, task)
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Cancelling `first` hands the writer to `leader`, which takes every queued event into
    // its batch and waits on the lock in turn; then it is cancelled too.
    first.abort();
    tokio::time::sleep(Duration::from_millis(200)).await;
    leader.abort();
    tokio::time::sleep(Duration::from_millis(100)).await;
    blocker.execute("ROLLBACK").await.expect("unlock");

    assert!(first.await.expect_err("cancelled").is_cancelled());
    assert!(leader.await.expect_err("cancelled").is_cancelled());
    for (svix_id, clerk_id, task) in followers {
        assert_eq!(
            task.await.expect("task").expect("applied"),
            InboundApplied::Upsert(UpsertOutcome::Inserted),
            "{svix_id} is applied by its own task"
        );
        assert_eq!(stored(&store, &svix_id, &clerk_id).await, (true, true));
    }
    for (svix_id, clerk_id) in [("msg_first", "user_first"), ("msg_leader", "user_leader")] {
        assert_eq!(
            stored(&store, svix_id, clerk_id).await,
            (false, false),
            "{svix_id}: a cancelled write leaves nothing"
        );
    }
    blocker.close().await.expect("close blocker");
    store.close().await;
    let _ = std::fs::remove_dir_all(dir);
}
