//! Cases for [`OutboxStore`]: enqueue with the row, exclusive claims with tokens, ordering,
//! outcomes, dead letters.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::{StoreFactory, must_get, must_get_by_id, record, t};
use crate::store::{
    ClaimOutcome, DeadLetterQuery, LocalChange, OutboxEntry, OutboxOperation, OutboxStore,
    StoreError, SyncStatus, SyncStore, Tombstone, UserProfile, UserStore,
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

/// Claim everything due at `secs` for `worker`, expecting exactly the entries `ids`.
async fn claim_exactly<S: OutboxStore + ?Sized>(
    store: &S,
    worker: &str,
    secs: i64,
    ids: &[i64],
) -> Vec<OutboxEntry> {
    let claimed = store
        .claim_outbox(worker, t(secs), LEASE, 100)
        .await
        .expect("claim_outbox");
    assert_eq!(
        claimed.iter().map(|e| e.id).collect::<Vec<_>>(),
        ids,
        "entries claimed by {worker} at {secs}s"
    );
    claimed
}

/// The token of a claimed entry, which every claim must carry.
fn token(entry: &OutboxEntry) -> &str {
    entry
        .claim_token
        .as_deref()
        .expect("a claimed entry carries a claim token")
}

/// Each local change writes the row as `pending` and queues its entry, atomically.
pub async fn outbox_enqueue<F: StoreFactory<Store: SyncStore>>(factory: F) {
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
    assert_eq!(entry.claim_token, None);
    assert_eq!(entry.last_error, None);
    assert_eq!(entry.dead_at, None, "a new entry is live");
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
pub async fn outbox_claims_are_exclusive<F: StoreFactory<Store: SyncStore>>(factory: F) {
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
                        assert!(entry.claim_token.is_some(), "a claim carries a token");
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
pub async fn outbox_claim_lease_expiry<F: StoreFactory<Store: SyncStore>>(factory: F) {
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
    assert_ne!(
        second[0].claim_token, first[0].claim_token,
        "a takeover gets a new token"
    );
    let stored = store
        .outbox_for_user(first[0].user_id)
        .await
        .expect("outbox_for_user");
    assert_eq!(stored, second, "the claim is stored");
}

/// One user's entries go out in order: a later one waits until the earlier one is done.
pub async fn outbox_per_user_order<F: StoreFactory<Store: SyncStore>>(factory: F) {
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

    let claimed = claim_exactly(&store, "w", 10, &[x_create, y_create]).await;
    let (x_claim, y_claim) = (&claimed[0], &claimed[1]);

    let done = store
        .complete_outbox(y_create, token(y_claim), Some("user_y"), t(11))
        .await
        .expect("complete_outbox");
    assert_eq!(done, ClaimOutcome::Applied);
    // A failed entry is retried later and still holds back the user's later entries.
    let failed = store
        .fail_outbox(x_create, token(x_claim), "timeout", t(100), t(11))
        .await
        .expect("fail_outbox");
    assert_eq!(failed, ClaimOutcome::Applied);
    claim_exactly(&store, "w", 50, &[]).await;
    let retried = claim_exactly(&store, "w", 100, &[x_create]).await;
    let done = store
        .complete_outbox(x_create, token(&retried[0]), Some("user_x"), t(101))
        .await
        .expect("complete_outbox");
    assert_eq!(done, ClaimOutcome::Applied);
    claim_exactly(&store, "w", 102, &[x_update]).await;
}

/// Only due entries are claimed, oldest first, at most `limit`.
pub async fn outbox_due_and_limit<F: StoreFactory<Store: SyncStore>>(factory: F) {
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
pub async fn outbox_complete<F: StoreFactory<Store: SyncStore>>(factory: F) {
    let store = factory.make().await;
    let (id, entry) = create(&store, "done@example.com", 0).await;
    let first = claim_exactly(&store, "w", 1, &[entry]).await;
    let failed = store
        .fail_outbox(entry, token(&first[0]), "first try failed", t(1), t(1))
        .await
        .expect("fail_outbox");
    assert_eq!(failed, ClaimOutcome::Applied);
    let second = claim_exactly(&store, "w", 2, &[entry]).await;
    let done = store
        .complete_outbox(entry, token(&second[0]), Some("user_done"), t(3))
        .await
        .expect("complete_outbox");
    assert_eq!(done, ClaimOutcome::Applied);
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
    assert_eq!(
        store
            .complete_outbox(entry, token(&second[0]), None, t(4))
            .await
            .expect("complete_outbox"),
        ClaimOutcome::Lost,
        "completing an entry that is gone reports a lost claim"
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
    let e2 = store
        .enqueue_local_change(&LocalChange::Delete { user_id: id }, t(6))
        .await
        .expect("enqueue_local_change")
        .outbox_id;
    let claim = claim_exactly(&store, "w", 7, &[e1]).await;
    let done = store
        .complete_outbox(e1, token(&claim[0]), Some("user_other"), t(7))
        .await
        .expect("complete_outbox");
    assert_eq!(done, ClaimOutcome::Applied);
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

    // A completed delete makes the row a tombstone at once: the user.deleted echo may never
    // come (no webhook configured), and when it does it finds the tombstone.
    let claim = claim_exactly(&store, "w", 8, &[e2]).await;
    let done = store
        .complete_outbox(e2, token(&claim[0]), None, t(8))
        .await
        .expect("complete_outbox");
    assert_eq!(done, ClaimOutcome::Applied);
    let user = must_get_by_id(&store, id).await;
    assert_eq!(
        user.deleted_at,
        Some(t(8)),
        "a completed delete is a tombstone"
    );
    assert_eq!(user.clerk_id.as_deref(), Some("user_done"), "the id stays");
    assert_eq!(user.email, None, "a tombstone erases the profile");
    assert_eq!(user.sync_status, SyncStatus::Synced);

    // The webhook echo of a create may have inserted the Clerk user before the worker
    // reports back: the clerk id stays with that row and is not duplicated.
    let (twin, twin_entry) = create(&store, "twin@example.com", 9).await;
    let claim = claim_exactly(&store, "w", 9, &[twin_entry]).await;
    store
        .upsert_user(&record("user_twin", 1), t(9))
        .await
        .expect("upsert_user");
    let done = store
        .complete_outbox(twin_entry, token(&claim[0]), Some("user_twin"), t(10))
        .await
        .expect("complete_outbox: a clerk id already taken is not an error");
    assert_eq!(done, ClaimOutcome::Applied);
    let local = must_get_by_id(&store, twin).await;
    assert_eq!(
        local.clerk_id, None,
        "a clerk id is never given to two rows"
    );
    assert_eq!(local.sync_status, SyncStatus::Synced);
    assert_ne!(must_get(&store, "user_twin").await.id, twin);
}

/// A failed attempt releases the claim and schedules a retry; giving up leaves a dead letter
/// and marks the row failed.
pub async fn outbox_fail_and_give_up<F: StoreFactory<Store: SyncStore>>(factory: F) {
    let store = factory.make().await;
    let (id, entry) = create(&store, "fail@example.com", 0).await;
    let claim = claim_exactly(&store, "w", 1, &[entry]).await;
    let error = "Clerk answered 503 ✗ ".repeat(500);
    let failed = store
        .fail_outbox(entry, token(&claim[0]), &error, t(60), t(2))
        .await
        .expect("fail_outbox");
    assert_eq!(failed, ClaimOutcome::Applied);
    let stored = &store.outbox_for_user(id).await.expect("outbox_for_user")[0];
    assert_eq!(
        (
            &stored.claimed_by,
            stored.claimed_until,
            &stored.claim_token
        ),
        (&None, None, &None),
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

    let again = claim_exactly(&store, "w2", 60, &[entry]).await;
    assert_eq!(again[0].attempts, 2);
    let gave_up = store
        .give_up_outbox(entry, token(&again[0]), "gave up after 2 attempts", t(61))
        .await
        .expect("give_up_outbox");
    assert_eq!(gave_up, ClaimOutcome::Applied);
    let dead = store.outbox_for_user(id).await.expect("outbox_for_user");
    assert_eq!(dead.len(), 1, "a given-up entry stays, as a dead letter");
    assert_eq!(dead[0].dead_at, Some(t(61)));
    assert_eq!(
        dead[0].last_error.as_deref(),
        Some("gave up after 2 attempts")
    );
    assert_eq!(
        (
            &dead[0].claimed_by,
            dead[0].claimed_until,
            &dead[0].claim_token
        ),
        (&None, None, &None),
        "a dead letter holds no claim"
    );
    let user = must_get_by_id(&store, id).await;
    assert_eq!(user.sync_status, SyncStatus::Failed);
    assert_eq!(user.sync_error.as_deref(), Some("gave up after 2 attempts"));
    assert_eq!(user.last_sync_attempt, Some(t(61)));
    let counts = store.count_by_status().await.expect("count_by_status");
    assert_eq!(counts.failed, 1);
    claim_exactly(&store, "w", 10_000, &[]).await;

    for result in [
        store
            .fail_outbox(entry, token(&again[0]), "e", t(70), t(62))
            .await,
        store
            .give_up_outbox(entry, token(&again[0]), "e", t(62))
            .await,
        store
            .complete_outbox(entry, token(&again[0]), None, t(62))
            .await,
    ] {
        assert_eq!(
            result.expect("settling a dead letter is not an error"),
            ClaimOutcome::Lost,
            "a dead letter cannot be settled"
        );
    }
    assert_eq!(
        store.outbox_for_user(id).await.expect("outbox_for_user"),
        dead,
        "nothing changed"
    );
}

/// A worker whose claim expired, or was taken over, can neither complete, fail nor give up
/// the entry: nothing it reports changes anything, and the new holder settles it.
pub async fn outbox_stale_claim_cannot_settle<F: StoreFactory<Store: SyncStore>>(factory: F) {
    let store = factory.make().await;
    let (id, entry) = create(&store, "slow@example.com", 0).await;
    let slow = claim_exactly(&store, "slow", 0, &[entry]).await;
    let slow_token = token(&slow[0]).to_owned();

    // Past its lease, before anyone else took the entry: the claim is no longer held.
    assert_eq!(
        store
            .complete_outbox(entry, &slow_token, Some("user_slow"), t(30))
            .await
            .expect("complete_outbox"),
        ClaimOutcome::Lost,
        "a claim is held strictly before claimed_until"
    );
    let before = store.outbox_for_user(id).await.expect("outbox_for_user");
    let row_before = must_get_by_id(&store, id).await;

    let fast = claim_exactly(&store, "fast", 31, &[entry]).await;
    let fast_token = token(&fast[0]).to_owned();
    assert_ne!(fast_token, slow_token);
    for (what, result) in [
        (
            "complete",
            store
                .complete_outbox(entry, &slow_token, Some("user_slow"), t(32))
                .await,
        ),
        (
            "fail",
            store
                .fail_outbox(entry, &slow_token, "slow failed", t(40), t(32))
                .await,
        ),
        (
            "give up",
            store
                .give_up_outbox(entry, &slow_token, "slow gave up", t(32))
                .await,
        ),
        (
            "complete with a made-up token",
            store
                .complete_outbox(entry, "not-a-token", Some("user_slow"), t(32))
                .await,
        ),
    ] {
        assert_eq!(
            result.unwrap_or_else(|e| panic!("{what}: {e}")),
            ClaimOutcome::Lost,
            "a stale holder's {what} is refused"
        );
    }
    let after = store.outbox_for_user(id).await.expect("outbox_for_user");
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].claim_token.as_deref(), Some(fast_token.as_str()));
    assert_eq!(after[0].claimed_by.as_deref(), Some("fast"));
    assert_eq!(after[0].last_error, before[0].last_error, "nothing written");
    assert_eq!(after[0].dead_at, None);
    let row = must_get_by_id(&store, id).await;
    assert_eq!(row.clerk_id, None, "the stale complete set no clerk id");
    assert_eq!(row.sync_status, row_before.sync_status);
    assert_eq!(row.sync_error, row_before.sync_error);

    let done = store
        .complete_outbox(entry, &fast_token, Some("user_fast"), t(33))
        .await
        .expect("complete_outbox");
    assert_eq!(done, ClaimOutcome::Applied, "the current holder settles it");
    assert_eq!(
        must_get_by_id(&store, id).await.clerk_id.as_deref(),
        Some("user_fast")
    );
}

/// Dead letters are listed, do not hold back a user's later entries, and come back to life.
pub async fn outbox_dead_letters_revive<F: StoreFactory<Store: SyncStore>>(factory: F) {
    let store = factory.make().await;
    let (a, a_create) = create(&store, "a@example.com", 0).await;
    let (b, b_create) = create(&store, "b@example.com", 1).await;
    let claims = claim_exactly(&store, "w", 2, &[a_create, b_create]).await;
    for claim in &claims {
        let gave_up = store
            .give_up_outbox(claim.id, token(claim), "Clerk refused the email", t(3))
            .await
            .expect("give_up_outbox");
        assert_eq!(gave_up, ClaimOutcome::Applied);
    }
    // A later change of `a` is not held back by its dead create.
    let a_update = store
        .enqueue_local_change(
            &LocalChange::Update {
                user_id: a,
                profile: profile("a2@example.com"),
            },
            t(4),
        )
        .await
        .expect("enqueue_local_change")
        .outbox_id;
    assert_eq!(store.outbox_due(t(4)).await.expect("outbox_due"), 1);
    let update = claim_exactly(&store, "w", 4, &[a_update]).await;
    let done = store
        .complete_outbox(a_update, token(&update[0]), None, t(5))
        .await
        .expect("complete_outbox");
    assert_eq!(done, ClaimOutcome::Applied);
    assert_eq!(
        must_get_by_id(&store, a).await.sync_status,
        SyncStatus::Failed,
        "a row with a dead letter stays failed when a later entry completes"
    );

    let listed = store
        .dead_letters(&DeadLetterQuery::new(10))
        .await
        .expect("dead_letters");
    assert_eq!(
        listed.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![a_create, b_create],
        "dead letters, oldest first"
    );
    let mut page = DeadLetterQuery::new(1);
    page.after_id = Some(a_create);
    assert_eq!(
        store
            .dead_letters(&page)
            .await
            .expect("dead_letters")
            .iter()
            .map(|e| e.id)
            .collect::<Vec<_>>(),
        vec![b_create],
        "paged by id"
    );
    let mut of_b = DeadLetterQuery::new(10);
    of_b.user_id = Some(b);
    assert_eq!(
        store
            .dead_letters(&of_b)
            .await
            .expect("dead_letters")
            .iter()
            .map(|e| e.id)
            .collect::<Vec<_>>(),
        vec![b_create],
        "filtered by user"
    );

    assert_eq!(
        store
            .revive_dead_letters(Some(b), t(6))
            .await
            .expect("revive_dead_letters"),
        1,
        "one user's dead letters"
    );
    let revived = &store.outbox_for_user(b).await.expect("outbox_for_user")[0];
    assert_eq!(revived.dead_at, None);
    assert_eq!(revived.attempts, 0, "a revived entry starts over");
    assert_eq!(revived.next_attempt_at, t(6));
    assert_eq!(
        revived.last_error.as_deref(),
        Some("Clerk refused the email"),
        "the last error is kept for the operator"
    );
    assert_eq!(
        must_get_by_id(&store, b).await.sync_status,
        SyncStatus::Pending
    );
    assert_eq!(
        must_get_by_id(&store, a).await.sync_status,
        SyncStatus::Failed
    );

    assert_eq!(
        store
            .revive_dead_letters(None, t(7))
            .await
            .expect("revive_dead_letters"),
        1,
        "the rest"
    );
    assert!(
        store
            .dead_letters(&DeadLetterQuery::new(10))
            .await
            .expect("dead_letters")
            .is_empty()
    );
    assert_eq!(
        store
            .revive_dead_letters(None, t(8))
            .await
            .expect("revive_dead_letters"),
        0
    );
    let again = claim_exactly(&store, "w", 8, &[a_create, b_create]).await;
    for claim in &again {
        assert_eq!(claim.attempts, 1);
        let done = store
            .complete_outbox(claim.id, token(claim), None, t(9))
            .await
            .expect("complete_outbox");
        assert_eq!(done, ClaimOutcome::Applied);
    }
    for id in [a, b] {
        assert_eq!(
            must_get_by_id(&store, id).await.sync_status,
            SyncStatus::Synced
        );
    }
}

/// `outbox_due` counts live, due, unclaimed entries.
pub async fn outbox_due_count<F: StoreFactory<Store: SyncStore>>(factory: F) {
    let store = factory.make().await;
    assert_eq!(store.outbox_due(t(0)).await.expect("outbox_due"), 0);
    let (_, e1) = create(&store, "n1@example.com", 0).await;
    let (_, e2) = create(&store, "n2@example.com", 5).await;
    let (_, e3) = create(&store, "n3@example.com", 5).await;
    assert_eq!(
        store.outbox_due(t(1)).await.expect("outbox_due"),
        1,
        "e2, e3 not yet due"
    );
    assert_eq!(store.outbox_due(t(5)).await.expect("outbox_due"), 3);
    let claimed = claim_exactly(&store, "w", 5, &[e1, e2, e3]).await;
    assert_eq!(
        store.outbox_due(t(6)).await.expect("outbox_due"),
        0,
        "claimed"
    );
    let gave_up = store
        .give_up_outbox(e1, token(&claimed[0]), "no", t(6))
        .await
        .expect("give_up_outbox");
    assert_eq!(gave_up, ClaimOutcome::Applied);
    let failed = store
        .fail_outbox(e2, token(&claimed[1]), "later", t(100), t(6))
        .await
        .expect("fail_outbox");
    assert_eq!(failed, ClaimOutcome::Applied);
    assert_eq!(store.outbox_due(t(7)).await.expect("outbox_due"), 0);
    assert_eq!(
        store.outbox_due(t(36)).await.expect("outbox_due"),
        1,
        "e3's claim expired at 35s: due again"
    );
    assert_eq!(
        store.outbox_due(t(100)).await.expect("outbox_due"),
        2,
        "the retry is due too; the dead letter never is"
    );
}
