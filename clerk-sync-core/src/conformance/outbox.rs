//! Cases for [`OutboxStore`]: enqueue with the row, exclusive claims, ordering, outcomes.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::{StoreFactory, must_get, must_get_by_id, record, t};
use crate::store::{
    LocalChange, OutboxOperation, OutboxStore, StoreError, SyncStatus, Tombstone, UserProfile,
    UserStore,
};

const LEASE: Duration = Duration::from_secs(30);

fn profile(email: &str) -> UserProfile {
    UserProfile {
        email: Some(email.to_owned()),
        ..UserProfile::default()
    }
}

async fn create<S: OutboxStore + ?Sized>(store: &S, email: &str, secs: i64) -> (i64, i64) {
    let queued = store
        .enqueue_local_change(&LocalChange::Create(profile(email)), t(secs))
        .await
        .expect("enqueue_local_change");
    (queued.user.id, queued.outbox_id)
}

/// Each local change writes the row as `pending` and queues its entry, atomically.
pub async fn outbox_enqueue<F: StoreFactory>(factory: F) {
    let store = factory.make().await;
    let mut full = profile("new@example.com");
    full.first_name = Some("Zoë 🦀".to_owned());
    full.last_name = Some("x".repeat(10_000));
    full.username = Some("zoe".to_owned());
    full.external_id = Some("ext-1".to_owned());
    full.public_metadata = Some(json!({ "plan": "pro", "n": [1, 2] }));

    let created = store
        .enqueue_local_change(&LocalChange::Create(full.clone()), t(0))
        .await
        .expect("enqueue_local_change");
    let user = &created.user;
    assert_eq!(user.clerk_id, None, "a local create has no clerk id yet");
    assert_eq!(user.sync_status, SyncStatus::Pending);
    assert_eq!(user.email.as_deref(), Some("new@example.com"));
    assert_eq!(user.first_name, full.first_name);
    assert_eq!(user.last_name, full.last_name, "10,000-char last name");
    assert_eq!(user.username, full.username);
    assert_eq!(user.external_id, full.external_id);
    assert_eq!(user.public_metadata, full.public_metadata);
    assert_eq!(user.clerk_updated_at, None);
    assert_eq!(user.deleted_at, None);
    assert_eq!((user.created_at, user.updated_at), (t(0), t(0)));
    assert_eq!(
        must_get_by_id(&store, user.id).await,
        created.user,
        "the returned row is the stored row"
    );
    let entries = store
        .outbox_for_user(user.id)
        .await
        .expect("outbox_for_user");
    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    assert_eq!(entry.id, created.outbox_id);
    assert_eq!(entry.user_id, user.id);
    assert_eq!(entry.operation, OutboxOperation::Create);
    assert_eq!(entry.profile, full, "the profile to send round-trips");
    assert_eq!(entry.attempts, 0);
    assert_eq!(entry.next_attempt_at, t(0), "due at once");
    assert_eq!((&entry.claimed_by, entry.claimed_until), (&None, None));
    assert_eq!(entry.last_error, None);
    assert_eq!(entry.created_at, t(0));

    let invited = store
        .enqueue_local_change(&LocalChange::Invite(profile("invitee@example.com")), t(1))
        .await
        .expect("enqueue_local_change");
    assert_eq!(invited.user.email.as_deref(), Some("invitee@example.com"));
    assert_eq!(invited.user.sync_status, SyncStatus::Pending);
    assert!(invited.outbox_id > created.outbox_id, "entry ids increase");
    assert_eq!(
        store
            .outbox_for_user(invited.user.id)
            .await
            .expect("outbox_for_user")[0]
            .operation,
        OutboxOperation::Invite
    );

    // An update changes only the given fields of a synced row and makes it pending.
    let mut synced = record("user_upd", 5);
    synced.first_name = Some("Old".to_owned());
    synced.last_name = Some("Keep".to_owned());
    store.upsert_user(&synced, t(2)).await.expect("upsert_user");
    let id = must_get(&store, "user_upd").await.id;
    let change = UserProfile {
        first_name: Some("New".to_owned()),
        ..UserProfile::default()
    };
    let updated = store
        .enqueue_local_change(
            &LocalChange::Update {
                user_id: id,
                profile: change.clone(),
            },
            t(3),
        )
        .await
        .expect("enqueue_local_change");
    assert_eq!(updated.user.first_name.as_deref(), Some("New"));
    assert_eq!(
        updated.user.last_name.as_deref(),
        Some("Keep"),
        "None leaves a field"
    );
    assert_eq!(updated.user.sync_status, SyncStatus::Pending);
    assert_eq!(
        updated.user.clerk_updated_at,
        Some(5),
        "the version is Clerk's only"
    );
    assert_eq!(updated.user.updated_at, t(3));
    let deleted = store
        .enqueue_local_change(&LocalChange::Delete { user_id: id }, t(4))
        .await
        .expect("enqueue_local_change");
    assert!(
        !deleted.user.is_deleted(),
        "the tombstone comes when Clerk confirms"
    );
    let entries = store.outbox_for_user(id).await.expect("outbox_for_user");
    assert_eq!(
        entries
            .iter()
            .map(|e| (e.operation, e.profile.clone()))
            .collect::<Vec<_>>(),
        vec![
            (OutboxOperation::Update, change),
            (OutboxOperation::Delete, UserProfile::default())
        ],
        "oldest first; a delete sends no profile"
    );

    // Update and delete need a live row.
    store
        .upsert_user(&record("user_gone", 1), t(5))
        .await
        .expect("upsert_user");
    store
        .tombstone_user(&Tombstone::new("user_gone", t(6)), t(6))
        .await
        .expect("tombstone_user");
    let gone = must_get(&store, "user_gone").await.id;
    for user_id in [gone, i64::MAX] {
        for change in [
            LocalChange::Update {
                user_id,
                profile: profile("x@example.com"),
            },
            LocalChange::Delete { user_id },
        ] {
            let result = store.enqueue_local_change(&change, t(7)).await;
            assert!(
                matches!(result, Err(StoreError::NotFound { .. })),
                "{:?} of a missing or deleted row is NotFound, got {result:?}",
                change.operation()
            );
        }
        assert!(
            store
                .outbox_for_user(user_id)
                .await
                .expect("outbox_for_user")
                .is_empty(),
            "a refused change queues nothing"
        );
    }
    assert!(must_get(&store, "user_gone").await.is_deleted());
}

/// Concurrent claimers never get the same entry, and together they get all of them.
pub async fn outbox_claims_are_exclusive<F: StoreFactory>(factory: F) {
    let store = Arc::new(factory.make().await);
    let mut queued = HashSet::new();
    for i in 0..40 {
        queued.insert(create(&*store, &format!("c{i}@example.com"), 0).await.1);
    }
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let batch = store
                        .claim_outbox(&format!("worker-{w}"), t(1), LEASE, 3)
                        .await
                        .expect("claim_outbox");
                    if batch.is_empty() {
                        break mine;
                    }
                    for entry in &batch {
                        assert_eq!(
                            entry.claimed_by.as_deref(),
                            Some(format!("worker-{w}").as_str())
                        );
                        assert_eq!(entry.attempts, 1);
                    }
                    mine.extend(batch.into_iter().map(|e| e.id));
                }
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for worker in workers {
        claimed.extend(worker.await.expect("worker"));
    }
    let unique: HashSet<i64> = claimed.iter().copied().collect();
    assert_eq!(unique.len(), claimed.len(), "an entry was claimed twice");
    assert_eq!(unique, queued, "every due entry was claimed once");
}

/// A crashed worker's claim lapses after its lease; until then nobody else gets the entry.
pub async fn outbox_claim_lease_expiry<F: StoreFactory>(factory: F) {
    let store = factory.make().await;
    let (_, entry_id) = create(&store, "lease@example.com", 0).await;
    let first = store
        .claim_outbox("crashing", t(0), LEASE, 10)
        .await
        .expect("claim_outbox");
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].id, entry_id);
    assert_eq!(
        first[0].claimed_until,
        Some(t(30)),
        "claimed_until = now + lease"
    );
    assert!(
        store
            .claim_outbox("other", t(29), LEASE, 10)
            .await
            .expect("claim_outbox")
            .is_empty(),
        "a live claim is exclusive"
    );
    let second = store
        .claim_outbox("other", t(31), LEASE, 10)
        .await
        .expect("claim_outbox");
    assert_eq!(second.len(), 1, "an expired claim can be taken over");
    assert_eq!(second[0].id, entry_id);
    assert_eq!(second[0].claimed_by.as_deref(), Some("other"));
    assert_eq!(second[0].attempts, 2, "every claim counts as an attempt");
    assert_eq!(second[0].claimed_until, Some(t(61)));
    let stored = store
        .outbox_for_user(first[0].user_id)
        .await
        .expect("outbox_for_user");
    assert_eq!(stored, second, "the claim is stored");
}

/// One user's entries go out in order: a later one waits until the earlier one is done.
pub async fn outbox_per_user_order<F: StoreFactory>(factory: F) {
    let store = factory.make().await;
    let (x, x_create) = create(&store, "x@example.com", 0).await;
    let x_update = store
        .enqueue_local_change(
            &LocalChange::Update {
                user_id: x,
                profile: profile("x2@example.com"),
            },
            t(1),
        )
        .await
        .expect("enqueue_local_change")
        .outbox_id;
    let (_, y_create) = create(&store, "y@example.com", 2).await;

    let claimed: Vec<i64> = store
        .claim_outbox("w", t(10), LEASE, 10)
        .await
        .expect("claim_outbox")
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(
        claimed,
        vec![x_create, y_create],
        "x's update waits behind x's create"
    );

    store
        .complete_outbox(y_create, Some("user_y"), t(11))
        .await
        .expect("complete_outbox");
    // A failed entry is retried later and still holds back the user's later entries.
    store
        .fail_outbox(x_create, "timeout", t(100), t(11))
        .await
        .expect("fail_outbox");
    assert!(
        store
            .claim_outbox("w", t(50), LEASE, 10)
            .await
            .expect("claim_outbox")
            .is_empty(),
        "neither the failed entry (not due) nor the one behind it"
    );
    let retried = store
        .claim_outbox("w", t(100), LEASE, 10)
        .await
        .expect("claim_outbox");
    assert_eq!(
        retried.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![x_create]
    );
    store
        .complete_outbox(x_create, Some("user_x"), t(101))
        .await
        .expect("complete_outbox");
    let next = store
        .claim_outbox("w", t(102), LEASE, 10)
        .await
        .expect("claim_outbox");
    assert_eq!(
        next.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![x_update]
    );
}

/// Only due entries are claimed, oldest first, at most `limit`.
pub async fn outbox_due_and_limit<F: StoreFactory>(factory: F) {
    let store = factory.make().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(create(&store, &format!("d{i}@example.com"), i).await.1);
    }
    assert!(
        store
            .claim_outbox("w", t(-1), LEASE, 10)
            .await
            .expect("claim_outbox")
            .is_empty(),
        "nothing is due before it was queued"
    );
    let first = store
        .claim_outbox("w", t(2), LEASE, 2)
        .await
        .expect("claim_outbox");
    assert_eq!(
        first.iter().map(|e| e.id).collect::<Vec<_>>(),
        ids[..2].to_vec(),
        "oldest first, at most limit"
    );
    let rest = store
        .claim_outbox("w", t(2), LEASE, 10)
        .await
        .expect("claim_outbox");
    assert_eq!(
        rest.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![ids[2]],
        "entries queued after now are not due yet"
    );
    assert!(
        store
            .claim_outbox("w", t(2), LEASE, 0)
            .await
            .expect("claim_outbox")
            .is_empty(),
        "limit 0 claims nothing"
    );
    let last = store
        .claim_outbox("w", t(10), LEASE, 10)
        .await
        .expect("claim_outbox");
    assert_eq!(
        last.iter().map(|e| e.id).collect::<Vec<_>>(),
        ids[3..].to_vec()
    );
}

/// Completing an entry removes it, links the Clerk id and marks the row synced.
pub async fn outbox_complete<F: StoreFactory>(factory: F) {
    let store = factory.make().await;
    let (id, entry) = create(&store, "done@example.com", 0).await;
    store
        .fail_outbox(entry, "first try failed", t(1), t(1))
        .await
        .expect("fail_outbox");
    store
        .claim_outbox("w", t(2), LEASE, 10)
        .await
        .expect("claim_outbox");
    store
        .complete_outbox(entry, Some("user_done"), t(3))
        .await
        .expect("complete_outbox");
    let user = must_get_by_id(&store, id).await;
    assert_eq!(
        user.clerk_id.as_deref(),
        Some("user_done"),
        "create sets clerk_id"
    );
    assert_eq!(user.sync_status, SyncStatus::Synced);
    assert_eq!(user.sync_error, None, "success clears sync_error");
    assert_eq!(user.last_sync_attempt, Some(t(3)));
    assert!(
        store
            .outbox_for_user(id)
            .await
            .expect("outbox_for_user")
            .is_empty(),
        "a completed entry is gone"
    );
    assert!(
        matches!(
            store.complete_outbox(entry, None, t(4)).await,
            Err(StoreError::NotFound { .. })
        ),
        "completing a missing entry is NotFound"
    );

    // With more entries queued the row stays pending; a clerk id never replaces another.
    let e1 = store
        .enqueue_local_change(
            &LocalChange::Update {
                user_id: id,
                profile: profile("done2@example.com"),
            },
            t(5),
        )
        .await
        .expect("enqueue_local_change")
        .outbox_id;
    store
        .enqueue_local_change(&LocalChange::Delete { user_id: id }, t(6))
        .await
        .expect("enqueue_local_change");
    store
        .complete_outbox(e1, Some("user_other"), t(7))
        .await
        .expect("complete_outbox");
    let user = must_get_by_id(&store, id).await;
    assert_eq!(
        user.sync_status,
        SyncStatus::Pending,
        "a delete is still queued"
    );
    assert_eq!(
        user.clerk_id.as_deref(),
        Some("user_done"),
        "clerk_id is kept"
    );
    assert_eq!(user.last_sync_attempt, Some(t(7)));

    // The webhook echo of a create may have inserted the Clerk user before the worker
    // reports back: the clerk id stays with that row and is not duplicated.
    let (twin, twin_entry) = create(&store, "twin@example.com", 8).await;
    store
        .upsert_user(&record("user_twin", 1), t(9))
        .await
        .expect("upsert_user");
    store
        .complete_outbox(twin_entry, Some("user_twin"), t(10))
        .await
        .expect("complete_outbox: a clerk id already taken is not an error");
    let local = must_get_by_id(&store, twin).await;
    assert_eq!(
        local.clerk_id, None,
        "a clerk id is never given to two rows"
    );
    assert_eq!(local.sync_status, SyncStatus::Synced);
    assert_ne!(must_get(&store, "user_twin").await.id, twin);
}

/// A failed attempt releases the claim and schedules a retry; giving up marks the row failed.
pub async fn outbox_fail_and_give_up<F: StoreFactory>(factory: F) {
    let store = factory.make().await;
    let (id, entry) = create(&store, "fail@example.com", 0).await;
    store
        .claim_outbox("w", t(1), LEASE, 10)
        .await
        .expect("claim_outbox");
    let error = "Clerk answered 503 ✗ ".repeat(500);
    store
        .fail_outbox(entry, &error, t(60), t(2))
        .await
        .expect("fail_outbox");
    let stored = &store.outbox_for_user(id).await.expect("outbox_for_user")[0];
    assert_eq!(
        (&stored.claimed_by, stored.claimed_until),
        (&None, None),
        "claim released"
    );
    assert_eq!(stored.next_attempt_at, t(60));
    assert_eq!(stored.last_error.as_deref(), Some(error.as_str()));
    assert_eq!(stored.attempts, 1);
    let user = must_get_by_id(&store, id).await;
    assert_eq!(
        user.sync_status,
        SyncStatus::Pending,
        "a retry is still pending"
    );
    assert_eq!(user.sync_error.as_deref(), Some(error.as_str()));
    assert_eq!(user.last_sync_attempt, Some(t(2)));

    let again = store
        .claim_outbox("w2", t(60), LEASE, 10)
        .await
        .expect("claim_outbox");
    assert_eq!(again.len(), 1, "claimable again once due");
    assert_eq!(again[0].attempts, 2);
    store
        .give_up_outbox(entry, "gave up after 2 attempts", t(61))
        .await
        .expect("give_up_outbox");
    assert!(
        store
            .outbox_for_user(id)
            .await
            .expect("outbox_for_user")
            .is_empty(),
        "a given-up entry is gone"
    );
    let user = must_get_by_id(&store, id).await;
    assert_eq!(user.sync_status, SyncStatus::Failed);
    assert_eq!(user.sync_error.as_deref(), Some("gave up after 2 attempts"));
    assert_eq!(user.last_sync_attempt, Some(t(61)));
    let counts = store.count_by_status().await.expect("count_by_status");
    assert_eq!(counts.failed, 1);

    for result in [
        store.fail_outbox(entry, "e", t(70), t(62)).await,
        store.give_up_outbox(entry, "e", t(62)).await,
    ] {
        assert!(
            matches!(result, Err(StoreError::NotFound { .. })),
            "a missing entry is NotFound, got {result:?}"
        );
    }
}
