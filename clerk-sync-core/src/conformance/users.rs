//! Cases for [`UserStore`]: round trips, the version guard, tombstones, linking, scans, counts.

use std::sync::Arc;

use serde_json::json;

use super::{
    Projection, StoreFactory, local_row, must_get, must_get_by_id, record, record_with_email, t,
};
use crate::store::{
    BatchOutcome, InboundStore, OutboxStore, StatusCounts, SyncStatus, SyncStore, Tombstone,
    TombstoneOutcome, UpsertOutcome, UserQuery, UserStore, UserVersion,
};

/// A string of `len` characters mixing scripts, emoji and quotes.
fn long_text(len: usize) -> String {
    "Zoë ✓ 李小龍 🦀 O'Brien \"q\" \\ "
        .chars()
        .cycle()
        .take(len)
        .collect()
}

fn rich_metadata() -> serde_json::Value {
    json!({
        "plan": "pro",
        "seats": 42,
        "ratio": 1.5,
        "negative": -7,
        "flags": [true, false, null],
        "nested": { "émoji": "🦀", "quote": "it's \"fine\"", "empty": {} , "list": [] },
    })
}

/// Every field written by an upsert reads back unchanged, through every getter.
pub async fn user_round_trip<F: StoreFactory<Store: InboundStore>>(factory: F) {
    let store = factory.make().await;
    let now = t(0);
    let email = format!("{}@example.com", "a".repeat(300));
    let raw = json!({
        "id": "user_2round",
        "object": "user",
        "updated_at": 1_772_366_400_000_i64,
        "first_name": long_text(50),
        "public_metadata": rich_metadata(),
    });
    let mut rec = record("user_2round", 1_772_366_400_000);
    rec.raw_json = raw.to_string();
    rec.email = Some(email.clone());
    rec.first_name = Some(long_text(10_000));
    rec.last_name = Some("Ñúñez-Ødegård 🦀".to_owned());
    rec.username = Some(long_text(10_000));
    rec.image_url = Some(format!("https://img.example/{}", "p".repeat(9_000)));
    rec.external_id = Some("ext-'; DROP TABLE clerk_users; --".to_owned());
    rec.public_metadata = Some(rich_metadata());

    assert_eq!(
        store.upsert_user(&rec, now).await.expect("upsert_user"),
        UpsertOutcome::Inserted,
        "first upsert of an unknown clerk_id inserts"
    );
    let user = must_get(&store, "user_2round").await;
    assert_eq!(user.clerk_id.as_deref(), Some("user_2round"));
    assert_eq!(user.email, rec.email, "email");
    assert_eq!(user.first_name, rec.first_name, "first_name (10,000 chars)");
    assert_eq!(user.last_name, rec.last_name, "last_name");
    assert_eq!(user.username, rec.username, "username (10,000 chars)");
    assert_eq!(user.image_url, rec.image_url, "image_url");
    assert_eq!(user.external_id, rec.external_id, "external_id");
    assert_eq!(
        user.public_metadata,
        Some(rich_metadata()),
        "public_metadata"
    );
    assert_eq!(user.raw_json, Some(raw), "raw_json");
    assert_eq!(user.clerk_updated_at, Some(1_772_366_400_000));
    assert_eq!(user.sync_status, SyncStatus::Synced, "an insert is synced");
    assert_eq!(user.sync_error, None);
    assert_eq!(user.last_sync_attempt, None);
    assert_eq!(user.deleted_at, None);
    assert_eq!(user.created_at, now, "created_at = now, to the microsecond");
    assert_eq!(user.updated_at, now, "updated_at = now, to the microsecond");

    assert_eq!(
        must_get_by_id(&store, user.id).await,
        user,
        "get_user_by_id reads the same row"
    );
    assert_eq!(
        store
            .find_users_by_email(&email)
            .await
            .expect("find_users_by_email"),
        vec![user.clone()],
        "find_users_by_email reads the same row"
    );
    assert_eq!(
        store
            .list_users(&UserQuery::new(10))
            .await
            .expect("list_users"),
        vec![user.clone()],
        "list_users reads the same row"
    );

    // A record with nothing optional reads back as nothing.
    let bare = record("user_2bare", 5);
    store.upsert_user(&bare, now).await.expect("upsert_user");
    let user = must_get(&store, "user_2bare").await;
    assert_eq!(
        (
            &user.email,
            &user.first_name,
            &user.last_name,
            &user.username,
            &user.image_url,
            &user.external_id,
            &user.public_metadata,
        ),
        (&None, &None, &None, &None, &None, &None, &None),
        "absent fields read back as None"
    );

    assert_eq!(
        store.get_user("user_missing").await.expect("get_user"),
        None
    );
    assert_eq!(
        store
            .get_user_by_id(i64::MAX)
            .await
            .expect("get_user_by_id"),
        None
    );
    assert!(
        store
            .find_users_by_email("nobody@example.com")
            .await
            .expect("find_users_by_email")
            .is_empty()
    );
}

/// An upsert applies only when its version is newer: older and equal versions change nothing.
pub async fn version_guard<F: StoreFactory<Store: InboundStore>>(factory: F) {
    let store = factory.make().await;
    let mut v100 = record_with_email("user_guard", 100, "v100@example.com", true);
    v100.first_name = Some("Hundred".to_owned());
    v100.public_metadata = Some(json!({ "v": 100 }));
    assert_eq!(
        store.upsert_user(&v100, t(0)).await.expect("upsert_user"),
        UpsertOutcome::Inserted
    );
    let at_100 = must_get(&store, "user_guard").await;

    let mut older = record_with_email("user_guard", 99, "v99@example.com", true);
    older.first_name = Some("Older".to_owned());
    assert_eq!(
        store.upsert_user(&older, t(10)).await.expect("upsert_user"),
        UpsertOutcome::Stale,
        "an older version is stale"
    );
    let mut equal = record_with_email("user_guard", 100, "other@example.com", true);
    equal.first_name = Some("Equal".to_owned());
    assert_eq!(
        store.upsert_user(&equal, t(20)).await.expect("upsert_user"),
        UpsertOutcome::Stale,
        "an equal version is stale"
    );
    assert_eq!(
        must_get(&store, "user_guard").await,
        at_100,
        "stale upserts leave the row untouched, updated_at included"
    );

    // Newer: every Clerk field is overwritten and a None clears.
    let newer = record("user_guard", 101);
    assert_eq!(
        store.upsert_user(&newer, t(30)).await.expect("upsert_user"),
        UpsertOutcome::Updated,
        "a newer version applies"
    );
    let user = must_get(&store, "user_guard").await;
    assert_eq!(user.id, at_100.id, "an update keeps the row");
    assert_eq!(user.clerk_updated_at, Some(101));
    assert_eq!(user.email, None, "a None in the record clears the email");
    assert_eq!(
        user.first_name, None,
        "a None in the record clears first_name"
    );
    assert_eq!(user.public_metadata, None, "a None clears public_metadata");
    assert_eq!(
        user.raw_json,
        Some(json!({ "id": "user_guard", "object": "user", "updated_at": 101 }))
    );
    assert_eq!(user.created_at, t(0), "created_at is kept");
    assert_eq!(user.updated_at, t(30), "updated_at = now of the overwrite");
    assert!(
        store
            .find_users_by_email("v100@example.com")
            .await
            .expect("find_users_by_email")
            .is_empty(),
        "the old email no longer finds the row"
    );

    // The guard also holds for versions far apart and negative deltas of one millisecond.
    let far = record("user_guard", 1_900_000_000_000);
    assert_eq!(
        store.upsert_user(&far, t(40)).await.expect("upsert_user"),
        UpsertOutcome::Updated
    );
    assert_eq!(
        store
            .upsert_user(&record("user_guard", 1_899_999_999_999), t(50))
            .await
            .expect("upsert_user"),
        UpsertOutcome::Stale
    );
}

/// An inbound overwrite marks `synced` and clears `sync_error`, except on a `pending` row.
pub async fn inbound_upsert_sync_status<F: StoreFactory<Store: SyncStore>>(factory: F) {
    let store = factory.make().await;

    // A failed row becomes synced again when newer Clerk data arrives.
    store
        .upsert_user(&record("user_failed", 1), t(0))
        .await
        .expect("upsert_user");
    assert!(
        store
            .record_sync_error("user_failed", "push rejected", t(1))
            .await
            .expect("record_sync_error")
    );
    store
        .upsert_user(&record("user_failed", 2), t(2))
        .await
        .expect("upsert_user");
    let user = must_get(&store, "user_failed").await;
    assert_eq!(user.sync_status, SyncStatus::Synced, "failed -> synced");
    assert_eq!(user.sync_error, None, "sync_error cleared");

    // A pending row (a local change is queued) keeps pending, through a link and an update.
    let id = local_row(&store, "pending@example.com", 3).await;
    assert_eq!(
        store
            .upsert_user(
                &record_with_email("user_pending", 10, "pending@example.com", true),
                t(4)
            )
            .await
            .expect("upsert_user"),
        UpsertOutcome::Linked
    );
    let user = must_get_by_id(&store, id).await;
    assert_eq!(
        user.sync_status,
        SyncStatus::Pending,
        "a link keeps pending"
    );
    let mut update = record_with_email("user_pending", 11, "pending@example.com", true);
    update.first_name = Some("Pat".to_owned());
    assert_eq!(
        store.upsert_user(&update, t(5)).await.expect("upsert_user"),
        UpsertOutcome::Updated
    );
    let user = must_get_by_id(&store, id).await;
    assert_eq!(
        user.first_name.as_deref(),
        Some("Pat"),
        "Clerk data is applied"
    );
    assert_eq!(
        user.sync_status,
        SyncStatus::Pending,
        "an update keeps pending"
    );
    assert_eq!(
        store
            .outbox_for_user(id)
            .await
            .expect("outbox_for_user")
            .len(),
        1,
        "an inbound write never touches the outbox"
    );
}

/// A tombstone erases the profile, is the same in any order, and nothing brings the row back.
pub async fn tombstones_are_terminal<F: StoreFactory<Store: InboundStore>>(factory: F) {
    let store = factory.make().await;
    let deleted_at = t(100);

    // Delete after create.
    let mut rec = record_with_email("user_a", 10, "a@example.com", true);
    rec.first_name = Some("Ann".to_owned());
    rec.external_id = Some("ext-old".to_owned());
    rec.public_metadata = Some(json!({ "k": 1 }));
    store.upsert_user(&rec, t(0)).await.expect("upsert_user");
    store
        .record_sync_error("user_a", "boom", t(1))
        .await
        .expect("record_sync_error");
    let created = must_get(&store, "user_a").await;
    let mut tomb = Tombstone::new("user_a", deleted_at);
    tomb.external_id = Some("ext-final".to_owned());
    assert_eq!(
        store
            .tombstone_user(&tomb, t(2))
            .await
            .expect("tombstone_user"),
        TombstoneOutcome::Deleted
    );
    let user = must_get(&store, "user_a").await;
    assert_eq!(user.id, created.id, "the row is kept as a tombstone");
    assert_eq!(
        user.deleted_at,
        Some(deleted_at),
        "deleted_at from the tombstone"
    );
    assert!(user.is_deleted());
    assert_eq!(user.external_id.as_deref(), Some("ext-final"));
    assert_eq!(
        (
            &user.email,
            &user.first_name,
            &user.last_name,
            &user.username,
            &user.image_url,
            &user.public_metadata,
            &user.raw_json,
            user.clerk_updated_at,
        ),
        (&None, &None, &None, &None, &None, &None, &None, None),
        "a tombstone erases the profile and the version"
    );
    assert_eq!(user.sync_status, SyncStatus::Synced);
    assert_eq!(user.sync_error, None);
    assert_eq!(user.updated_at, t(2));
    assert!(
        store
            .find_users_by_email("a@example.com")
            .await
            .expect("find_users_by_email")
            .is_empty(),
        "the erased email no longer finds the tombstone"
    );

    // Nothing later changes it: newer updates, creates, or a second delete.
    let tombstoned = must_get(&store, "user_a").await;
    for (i, later) in [
        record("user_a", 11),
        record_with_email("user_a", i64::MAX, "a@example.com", true),
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(
            store
                .upsert_user(later, t(10 + i as i64))
                .await
                .expect("upsert_user"),
            UpsertOutcome::Deleted,
            "an upsert on a tombstone is refused"
        );
    }
    let mut again = Tombstone::new("user_a", t(500));
    again.external_id = Some("ext-other".to_owned());
    assert_eq!(
        store
            .tombstone_user(&again, t(20))
            .await
            .expect("tombstone_user"),
        TombstoneOutcome::AlreadyDeleted
    );
    assert_eq!(
        must_get(&store, "user_a").await,
        tombstoned,
        "a tombstone is terminal: nothing changed, updated_at included"
    );

    // Delete before create: the tombstone is inserted and the late create is refused.
    let mut tomb_b = Tombstone::new("user_b", deleted_at);
    tomb_b.external_id = Some("ext-final".to_owned());
    assert_eq!(
        store
            .tombstone_user(&tomb_b, t(30))
            .await
            .expect("tombstone_user"),
        TombstoneOutcome::Deleted,
        "a tombstone for a never-seen user is inserted"
    );
    let mut late = record_with_email("user_b", 10, "a@example.com", true);
    late.first_name = Some("Ann".to_owned());
    assert_eq!(
        store.upsert_user(&late, t(31)).await.expect("upsert_user"),
        UpsertOutcome::Deleted,
        "a create after the delete does not resurrect the user"
    );
    let user_b = must_get(&store, "user_b").await;
    assert_eq!(user_b.created_at, t(30));
    let mut expected = Projection::of(&must_get(&store, "user_a").await);
    expected.clerk_id = Some("user_b".to_owned());
    assert_eq!(
        Projection::of(&user_b),
        expected,
        "delete-then-create ends in the same tombstone as create-then-delete"
    );

    // A tombstone without an external_id clears it.
    store
        .upsert_user(
            &{
                let mut r = record("user_c", 1);
                r.external_id = Some("ext-c".to_owned());
                r
            },
            t(40),
        )
        .await
        .expect("upsert_user");
    store
        .tombstone_user(&Tombstone::new("user_c", deleted_at), t(41))
        .await
        .expect("tombstone_user");
    assert_eq!(must_get(&store, "user_c").await.external_id, None);
}

/// `apply_batch` (which backends may override with a bulk statement) follows the rules of
/// `upsert_user` record by record and counts the outcomes.
pub async fn apply_batch_follows_upsert_rules<F: StoreFactory<Store: SyncStore>>(factory: F) {
    let store = factory.make().await;
    for clerk_id in ["user_b1", "user_b2", "user_b3"] {
        store
            .upsert_user(&record(clerk_id, 10), t(0))
            .await
            .expect("upsert_user");
    }
    store
        .tombstone_user(&Tombstone::new("user_b3", t(1)), t(1))
        .await
        .expect("tombstone_user");
    let local = local_row(&store, "batch@example.com", 2).await;
    let mut newer = record("user_b1", 11);
    newer.first_name = Some("Newer".to_owned());
    let batch = [
        newer,
        record("user_b2", 10),
        record("user_b3", 99),
        record_with_email("user_b4", 5, "batch@example.com", true),
        record("user_b5", 5),
    ];
    let outcome = store.apply_batch(&batch, t(3)).await.expect("apply_batch");
    assert_eq!(
        (outcome.inserted, outcome.updated, outcome.unchanged),
        (1, 2, 2),
        "inserted b5; updated b1 and linked b4; b2 stale and b3 a tombstone"
    );
    assert_eq!(
        must_get(&store, "user_b1").await.first_name.as_deref(),
        Some("Newer")
    );
    assert_eq!(must_get(&store, "user_b2").await.updated_at, t(0), "stale");
    assert!(
        must_get(&store, "user_b3").await.is_deleted(),
        "still a tombstone"
    );
    assert_eq!(must_get(&store, "user_b4").await.id, local, "linked");
    assert_eq!(must_get(&store, "user_b5").await.created_at, t(3));
    assert_eq!(
        store.apply_batch(&[], t(4)).await.expect("apply_batch"),
        Default::default(),
        "an empty batch does nothing"
    );
}

/// Invariant 6: a verified primary email links a live local row without a `clerk_id`.
pub async fn email_linking<F: StoreFactory<Store: SyncStore>>(factory: F) {
    let store = factory.make().await;

    // Links, keeping the local id and created_at.
    let local = local_row(&store, "link@example.com", 0).await;
    let mut rec = record_with_email("user_link", 10, "link@example.com", true);
    rec.first_name = Some("Lin".to_owned());
    assert_eq!(
        store.upsert_user(&rec, t(1)).await.expect("upsert_user"),
        UpsertOutcome::Linked
    );
    let user = must_get(&store, "user_link").await;
    assert_eq!(user.id, local, "the local row took the clerk_id");
    assert_eq!(user.created_at, t(0), "a link keeps created_at");
    assert_eq!(user.updated_at, t(1));
    assert_eq!(user.first_name.as_deref(), Some("Lin"), "a link overwrites");
    assert_eq!(user.clerk_updated_at, Some(10));
    assert_eq!(
        store
            .find_users_by_email("link@example.com")
            .await
            .expect("find_users_by_email")
            .len(),
        1,
        "no twin was inserted"
    );

    // An unverified email does not link.
    let unverified_local = local_row(&store, "unverified@example.com", 2).await;
    assert_eq!(
        store
            .upsert_user(
                &record_with_email("user_unverified", 10, "unverified@example.com", false),
                t(3)
            )
            .await
            .expect("upsert_user"),
        UpsertOutcome::Inserted,
        "an unverified email never links"
    );
    assert_eq!(
        must_get_by_id(&store, unverified_local).await.clerk_id,
        None
    );

    // A row that already has a clerk_id is not taken over.
    assert_eq!(
        store
            .upsert_user(
                &record_with_email("user_other", 10, "link@example.com", true),
                t(4)
            )
            .await
            .expect("upsert_user"),
        UpsertOutcome::Inserted,
        "a row with a clerk_id is never linked to another one"
    );
    assert_eq!(
        must_get_by_id(&store, local).await.clerk_id.as_deref(),
        Some("user_link")
    );

    // The lowest local id wins, then the next one.
    let first = local_row(&store, "shared@example.com", 5).await;
    let second = local_row(&store, "shared@example.com", 6).await;
    assert!(first < second);
    for (clerk_id, expected) in [
        ("user_s1", Some(first)),
        ("user_s2", Some(second)),
        ("user_s3", None),
    ] {
        let outcome = store
            .upsert_user(
                &record_with_email(clerk_id, 10, "shared@example.com", true),
                t(7),
            )
            .await
            .expect("upsert_user");
        let user = must_get(&store, clerk_id).await;
        match expected {
            Some(id) => {
                assert_eq!(outcome, UpsertOutcome::Linked, "{clerk_id} links");
                assert_eq!(user.id, id, "{clerk_id} links the lowest free local id");
            }
            None => assert_eq!(outcome, UpsertOutcome::Inserted, "no free row left"),
        }
    }

    // A tombstone is never linked, even to a user with the email it had.
    store
        .upsert_user(
            &record_with_email("user_gone", 10, "gone@example.com", true),
            t(8),
        )
        .await
        .expect("upsert_user");
    store
        .tombstone_user(&Tombstone::new("user_gone", t(9)), t(9))
        .await
        .expect("tombstone_user");
    assert_eq!(
        store
            .upsert_user(
                &record_with_email("user_new", 10, "gone@example.com", true),
                t(10)
            )
            .await
            .expect("upsert_user"),
        UpsertOutcome::Inserted
    );
    assert!(must_get(&store, "user_gone").await.is_deleted());

    // An existing clerk_id is updated rather than linked elsewhere.
    let spare = local_row(&store, "spare@example.com", 11).await;
    assert_eq!(
        store
            .upsert_user(
                &record_with_email("user_new", 11, "spare@example.com", true),
                t(12)
            )
            .await
            .expect("upsert_user"),
        UpsertOutcome::Updated,
        "a known clerk_id is updated in place"
    );
    assert_eq!(must_get_by_id(&store, spare).await.clerk_id, None);
}

/// Two Clerk users racing for one linkable row: exactly one links, the other is inserted.
pub async fn email_linking_concurrent<F: StoreFactory<Store: SyncStore>>(factory: F) {
    let store = Arc::new(factory.make().await);
    let local = local_row(&*store, "race@example.com", 0).await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let rec = record_with_email(&format!("user_race{i}"), 10, "race@example.com", true);
                store.upsert_user(&rec, t(1)).await.expect("upsert_user")
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.expect("task"));
    }
    let linked = outcomes
        .iter()
        .filter(|o| **o == UpsertOutcome::Linked)
        .count();
    assert_eq!(linked, 1, "exactly one racer links: {outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, UpsertOutcome::Linked | UpsertOutcome::Inserted))
    );
    let rows = store
        .find_users_by_email("race@example.com")
        .await
        .expect("find_users_by_email");
    assert_eq!(rows.len(), 8, "seven inserts and one linked row");
    assert!(rows.iter().all(|u| u.clerk_id.is_some()));
    assert!(must_get_by_id(&*store, local).await.clerk_id.is_some());
}

/// `link_clerk_id` sets a clerk id once, only on a live row without one, never twice.
pub async fn link_clerk_id<F: StoreFactory<Store: SyncStore>>(factory: F) {
    let store = factory.make().await;
    let local = local_row(&store, "l@example.com", 0).await;
    let other = local_row(&store, "m@example.com", 0).await;
    store
        .upsert_user(&record("user_taken", 1), t(0))
        .await
        .expect("upsert_user");

    assert!(
        !store
            .link_clerk_id(local, "user_taken", t(1))
            .await
            .expect("link_clerk_id"),
        "a clerk id held by another row is refused"
    );
    assert!(
        store
            .link_clerk_id(local, "user_l", t(2))
            .await
            .expect("link_clerk_id"),
        "a free clerk id links a row without one"
    );
    let user = must_get(&store, "user_l").await;
    assert_eq!(user.id, local);
    assert!(
        !store
            .link_clerk_id(local, "user_l2", t(3))
            .await
            .expect("link_clerk_id"),
        "a row that has a clerk id keeps it"
    );
    assert!(
        !store
            .link_clerk_id(other, "user_l", t(3))
            .await
            .expect("link_clerk_id"),
        "a clerk id is never given to a second row"
    );
    assert!(
        !store
            .link_clerk_id(i64::MAX, "user_x", t(3))
            .await
            .expect("link_clerk_id"),
        "a missing row is not linked"
    );
    assert_eq!(must_get(&store, "user_l").await.id, local);
    assert_eq!(must_get_by_id(&store, other).await.clerk_id, None);
}

/// Email lookups and the paged, filtered list.
pub async fn find_and_list_users<F: StoreFactory<Store: SyncStore>>(factory: F) {
    let store = factory.make().await;
    let a = local_row(&store, "same@example.com", 0).await;
    store
        .upsert_user(
            &record_with_email("user_same", 1, "same@example.com", false),
            t(1),
        )
        .await
        .expect("upsert_user");
    let b = must_get(&store, "user_same").await.id;
    let c = local_row(&store, "same@example.com", 2).await;
    let found: Vec<i64> = store
        .find_users_by_email("same@example.com")
        .await
        .expect("find_users_by_email")
        .iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(
        found,
        vec![a, b, c],
        "email is not unique; ordered by local id"
    );
    assert!(
        store
            .find_users_by_email("same@example.co")
            .await
            .expect("find_users_by_email")
            .is_empty(),
        "exact match only"
    );

    // 12 more rows: some synced, one tombstoned.
    for i in 0..12 {
        store
            .upsert_user(&record(&format!("user_list{i:02}"), 1), t(3))
            .await
            .expect("upsert_user");
    }
    store
        .tombstone_user(&Tombstone::new("user_list05", t(4)), t(4))
        .await
        .expect("tombstone_user");
    let tomb_id = must_get(&store, "user_list05").await.id;

    // Pages of 4 over the live rows.
    let mut seen = Vec::new();
    let mut query = UserQuery::new(4);
    loop {
        let page = store.list_users(&query).await.expect("list_users");
        assert!(page.len() <= 4, "a page holds at most `limit` rows");
        let Some(last) = page.last() else { break };
        query.after_id = Some(last.id);
        seen.extend(page.iter().map(|u| u.id));
    }
    assert_eq!(seen.len(), 14, "15 rows, one of them a tombstone");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "ordered by local id");
    assert!(
        !seen.contains(&tomb_id),
        "tombstones are left out by default"
    );

    let mut with_deleted = UserQuery::new(100);
    with_deleted.include_deleted = true;
    let all = store.list_users(&with_deleted).await.expect("list_users");
    assert_eq!(all.len(), 15);
    assert!(all.iter().any(|u| u.id == tomb_id));

    let mut pending = UserQuery::new(100);
    pending.sync_status = Some(SyncStatus::Pending);
    let ids: Vec<i64> = store
        .list_users(&pending)
        .await
        .expect("list_users")
        .iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(ids, vec![a, c], "filter by sync status");

    let mut after = UserQuery::new(100);
    after.after_id = Some(b);
    after.sync_status = Some(SyncStatus::Pending);
    let ids: Vec<i64> = store
        .list_users(&after)
        .await
        .expect("list_users")
        .iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(ids, vec![c], "cursor and filter combine");
}

/// `scan_versions` pages through rows with a clerk id, in clerk id order, ids and versions only.
pub async fn scan_versions_pages<F: StoreFactory<Store: SyncStore>>(factory: F) {
    let store = factory.make().await;
    // Same-length lowercase ids sort the same in every collation.
    for i in (1..=7).rev() {
        store
            .upsert_user(&record(&format!("user_{i:03}"), 1000 + i), t(0))
            .await
            .expect("upsert_user");
    }
    store
        .tombstone_user(&Tombstone::new("user_004", t(1)), t(1))
        .await
        .expect("tombstone_user");
    store
        .tombstone_user(&Tombstone::new("user_008", t(1)), t(1))
        .await
        .expect("tombstone_user");
    local_row(&store, "no-clerk-id@example.com", 2).await;

    let mut pages = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .scan_versions(after.as_deref(), 3)
            .await
            .expect("scan_versions");
        assert!(page.len() <= 3);
        let Some(last) = page.last() else { break };
        after = Some(last.clerk_id.clone());
        pages.push(page);
    }
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![3, 3, 2],
        "8 rows with a clerk id, in pages of 3"
    );
    let all: Vec<UserVersion> = pages.into_iter().flatten().collect();
    let expected: Vec<UserVersion> = (1..=8)
        .map(|i| UserVersion {
            clerk_id: format!("user_{i:03}"),
            clerk_updated_at: (i != 4 && i != 8).then_some(1000 + i),
            deleted: i == 4 || i == 8,
        })
        .collect();
    assert_eq!(all, expected, "ordered by clerk_id, tombstones flagged");
    assert_eq!(
        store
            .scan_versions(Some("user_002"), 2)
            .await
            .expect("scan_versions")
            .iter()
            .map(|v| v.clerk_id.as_str())
            .collect::<Vec<_>>(),
        vec!["user_003", "user_004"],
        "`after` is exclusive"
    );
}

/// Counts by state; tombstones only count as deleted.
pub async fn counts_by_status<F: StoreFactory<Store: SyncStore>>(factory: F) {
    let store = factory.make().await;
    assert_eq!(
        store.count_by_status().await.expect("count_by_status"),
        StatusCounts::default(),
        "an empty store counts nothing"
    );
    for i in 0..4 {
        store
            .upsert_user(&record(&format!("user_c{i}"), 1), t(0))
            .await
            .expect("upsert_user");
    }
    local_row(&store, "p1@example.com", 0).await;
    local_row(&store, "p2@example.com", 0).await;
    store
        .record_sync_error("user_c0", "e", t(1))
        .await
        .expect("record_sync_error");
    store
        .tombstone_user(&Tombstone::new("user_c1", t(1)), t(1))
        .await
        .expect("tombstone_user");
    store
        .tombstone_user(&Tombstone::new("user_never_seen", t(1)), t(1))
        .await
        .expect("tombstone_user");
    let counts = store.count_by_status().await.expect("count_by_status");
    assert_eq!(
        (counts.synced, counts.pending, counts.failed, counts.deleted),
        (2, 2, 1, 2),
        "synced / pending / failed / deleted"
    );
    assert_eq!(counts.live(), 5);
    assert_eq!(
        counts.with_clerk_id, 3,
        "live rows with a clerk id: c0, c2, c3 (not the local rows, not the tombstones)"
    );
}

/// `record_sync_error` marks the row failed with the error and the attempt time.
pub async fn record_sync_error<F: StoreFactory<Store: InboundStore>>(factory: F) {
    let store = factory.make().await;
    assert!(
        !store
            .record_sync_error("user_missing", "e", t(0))
            .await
            .expect("record_sync_error"),
        "no row, nothing recorded"
    );
    store
        .upsert_user(&record("user_err", 1), t(0))
        .await
        .expect("upsert_user");
    let error = long_text(10_000);
    assert!(
        store
            .record_sync_error("user_err", &error, t(5))
            .await
            .expect("record_sync_error")
    );
    let user = must_get(&store, "user_err").await;
    assert_eq!(user.sync_status, SyncStatus::Failed);
    assert_eq!(
        user.sync_error.as_deref(),
        Some(error.as_str()),
        "10,000-char error"
    );
    assert_eq!(
        user.last_sync_attempt,
        Some(t(5)),
        "last_sync_attempt, to the microsecond"
    );
    assert_eq!(user.clerk_updated_at, Some(1), "the Clerk data is kept");
}

/// Clerk ids are compared in byte order everywhere: mixed case, different lengths, and ids
/// that a case-insensitive or locale-aware collation would sort differently or merge.
pub async fn scan_versions_byte_order<F: StoreFactory<Store: InboundStore>>(factory: F) {
    let store = factory.make().await;
    let ids = [
        "user_2aB",
        "user_2Ab",
        "user_2a",
        "user_Z",
        "user_z",
        "user_2ab",
        "user_2AB",
        "user_a",
        "user_B",
        "user_",
        "user_2aB_",
        "user_2a0",
        "USER_2aB",
    ];
    for (i, id) in ids.iter().enumerate() {
        let outcome = store
            .upsert_user(&record(id, 100 + i as i64), t(0))
            .await
            .expect("upsert_user");
        assert_eq!(
            outcome,
            UpsertOutcome::Inserted,
            "{id} is its own user, not a case variant of another"
        );
    }
    let mut expected: Vec<&str> = ids.to_vec();
    expected.sort_unstable(); // `str`'s Ord is byte order
    for page_size in [1_u32, 4, 100] {
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = store
                .scan_versions(after.as_deref(), page_size)
                .await
                .expect("scan_versions");
            let Some(last) = page.last() else { break };
            after = Some(last.clerk_id.clone());
            seen.extend(page.into_iter().map(|v| v.clerk_id));
        }
        assert_eq!(
            seen, expected,
            "scan_versions in pages of {page_size} follows byte order, each id once"
        );
    }
    assert_eq!(
        store
            .scan_versions(Some("user_2a"), 3)
            .await
            .expect("scan_versions")
            .iter()
            .map(|v| v.clerk_id.as_str())
            .collect::<Vec<_>>(),
        vec!["user_2a0", "user_2aB", "user_2aB_"],
        "`after` compares in byte order too"
    );
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(
            must_get(&store, id).await.clerk_updated_at,
            Some(100 + i as i64),
            "get_user({id}) finds exactly that id"
        );
    }
    assert_eq!(
        store.get_user("user_2AB ").await.expect("get_user"),
        None,
        "no trailing-space padding in comparisons"
    );
    assert_eq!(
        store
            .tombstone_user(&Tombstone::new("user_2ab", t(1)), t(1))
            .await
            .expect("tombstone_user"),
        TombstoneOutcome::Deleted
    );
    assert!(
        !must_get(&store, "user_2aB").await.is_deleted(),
        "a tombstone of one case variant leaves the others"
    );
}

/// `apply_batch` counts the same on every store when an id repeats within the batch: the
/// newest record of each id is applied, every other one counts as unchanged.
pub async fn apply_batch_repeated_ids<F: StoreFactory<Store: InboundStore>>(factory: F) {
    let store = factory.make().await;
    store
        .upsert_user(&record("user_known", 10), t(0))
        .await
        .expect("upsert_user");
    let mut newest = record("user_new", 3);
    newest.first_name = Some("Third".to_owned());
    let batch = [
        record("user_new", 1),
        newest,
        record("user_new", 2),
        record("user_known", 11),
        record("user_known", 12),
        record("user_same", 5),
        record("user_same", 5),
    ];
    let outcome = store.apply_batch(&batch, t(1)).await.expect("apply_batch");
    let expected = BatchOutcome {
        inserted: 2,
        updated: 1,
        unchanged: 4,
    };
    assert_eq!(
        outcome, expected,
        "inserted user_new (v3) and user_same; updated user_known (v12); four superseded"
    );
    let user = must_get(&store, "user_new").await;
    assert_eq!(user.clerk_updated_at, Some(3));
    assert_eq!(user.first_name.as_deref(), Some("Third"));
    assert_eq!(
        must_get(&store, "user_known").await.clerk_updated_at,
        Some(12)
    );
    assert_eq!(
        store.apply_batch(&batch, t(2)).await.expect("apply_batch"),
        BatchOutcome {
            inserted: 0,
            updated: 0,
            unchanged: 7,
        },
        "the same batch again changes nothing"
    );
}

/// `rewrite_same_version` (reconcile's force) overwrites a row holding the same version, and
/// nothing else: never an older version, never a tombstone. Batches honour it too.
pub async fn rewrite_same_version<F: StoreFactory<Store: InboundStore>>(factory: F) {
    let store = factory.make().await;
    let mut original = record("user_force", 100);
    original.first_name = Some("Stored".to_owned());
    store
        .upsert_user(&original, t(0))
        .await
        .expect("upsert_user");

    let mut same = record("user_force", 100);
    same.first_name = Some("Rewritten".to_owned());
    assert_eq!(
        store.upsert_user(&same, t(1)).await.expect("upsert_user"),
        UpsertOutcome::Stale,
        "without the flag, the same version is stale"
    );
    same.rewrite_same_version = true;
    assert_eq!(
        store.upsert_user(&same, t(2)).await.expect("upsert_user"),
        UpsertOutcome::Updated,
        "with the flag, the same version is written again"
    );
    let user = must_get(&store, "user_force").await;
    assert_eq!(user.first_name.as_deref(), Some("Rewritten"));
    assert_eq!(user.updated_at, t(2));

    let mut older = record("user_force", 99);
    older.rewrite_same_version = true;
    assert_eq!(
        store.upsert_user(&older, t(3)).await.expect("upsert_user"),
        UpsertOutcome::Stale,
        "an older version never overwrites, flag or not"
    );

    store
        .upsert_user(&record("user_gone", 5), t(4))
        .await
        .expect("upsert_user");
    store
        .tombstone_user(&Tombstone::new("user_gone", t(5)), t(5))
        .await
        .expect("tombstone_user");
    let mut gone = record("user_gone", 5);
    gone.rewrite_same_version = true;
    assert_eq!(
        store.upsert_user(&gone, t(6)).await.expect("upsert_user"),
        UpsertOutcome::Deleted,
        "a tombstone stays terminal"
    );

    let mut batch = [record("user_force", 100), record("user_b", 1)];
    batch[0].first_name = Some("Batch".to_owned());
    batch[0].rewrite_same_version = true;
    store
        .upsert_user(&record("user_b", 1), t(7))
        .await
        .expect("upsert_user");
    let outcome = store.apply_batch(&batch, t(8)).await.expect("apply_batch");
    assert_eq!(
        (outcome.inserted, outcome.updated, outcome.unchanged),
        (0, 1, 1),
        "the flagged record is rewritten, the other is stale"
    );
    assert_eq!(
        must_get(&store, "user_force").await.first_name.as_deref(),
        Some("Batch")
    );
}

/// `versions_of` answers the versions of exactly the ids asked for that have rows.
pub async fn versions_of_ids<F: StoreFactory<Store: InboundStore>>(factory: F) {
    let store = factory.make().await;
    for (id, version) in [("user_2aB", 10), ("user_2Ab", 20), ("user_x", 30)] {
        store
            .upsert_user(&record(id, version), t(0))
            .await
            .expect("upsert_user");
    }
    store
        .tombstone_user(&Tombstone::new("user_x", t(1)), t(1))
        .await
        .expect("tombstone_user");
    let mut versions = store
        .versions_of(&["user_2Ab", "user_x", "user_missing", "user_2ab", "user_2aB"])
        .await
        .expect("versions_of");
    versions.sort_by(|a, b| a.clerk_id.cmp(&b.clerk_id));
    assert_eq!(
        versions,
        vec![
            UserVersion::new("user_2Ab", Some(20), false),
            UserVersion::new("user_2aB", Some(10), false),
            UserVersion::new("user_x", None, true),
        ],
        "exact (byte-order) matches only; tombstones flagged; missing ids left out"
    );
    assert!(
        store
            .versions_of(&[])
            .await
            .expect("versions_of")
            .is_empty(),
        "no ids, no versions"
    );
}
