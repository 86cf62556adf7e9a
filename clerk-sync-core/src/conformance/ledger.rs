//! Cases for [`LedgerStore`] and [`InboundStore::apply_inbound`].

use super::{StoreFactory, local_row, must_get, record, record_with_email, t};
use crate::store::{
    InboundApplied, InboundChange, InboundStore, LedgerInsert, LedgerOutcome, LedgerQuery,
    LedgerStore, NewLedgerEntry, SyncStatus, SyncStore, Tombstone, TombstoneOutcome, UpsertOutcome,
    UserStore,
};

/// Insert-if-absent by `svix_id`, processed state, and every field round-tripping.
pub async fn ledger_dedupe<F: StoreFactory<Store: InboundStore>>(factory: F) {
    let store = factory.make().await;
    let payload = format!(
        r#"{{"type":"user.updated","data":{{"first_name":"{}"}}}}"#,
        "Zoë 🦀 李".repeat(5_000)
    );
    let entry = NewLedgerEntry::new(
        "msg_1",
        "user.updated",
        Some("user_1"),
        t(0),
        Some(&payload),
    );
    assert_eq!(
        store.ledger_insert(&entry).await.expect("ledger_insert"),
        LedgerInsert::Inserted
    );
    let mut redelivery = entry;
    redelivery.received_at = t(60);
    redelivery.event_type = "user.created";
    assert_eq!(
        store
            .ledger_insert(&redelivery)
            .await
            .expect("ledger_insert"),
        LedgerInsert::Exists { processed: false },
        "a second insert finds the unprocessed entry"
    );
    let stored = store
        .ledger_get("msg_1")
        .await
        .expect("ledger_get")
        .expect("entry");
    assert_eq!(stored.svix_id, "msg_1");
    assert_eq!(
        stored.event_type, "user.updated",
        "the first delivery is kept"
    );
    assert_eq!(stored.object_id.as_deref(), Some("user_1"));
    assert_eq!(
        stored.received_at,
        t(0),
        "received_at of the first delivery"
    );
    assert_eq!(stored.processed_at, None);
    assert_eq!(stored.outcome, None);
    assert_eq!(stored.error, None);
    assert_eq!(
        stored.payload.as_deref(),
        Some(payload.as_str()),
        "the payload is kept exactly"
    );

    store
        .ledger_mark_processed("msg_1", LedgerOutcome::Applied, None, t(1))
        .await
        .expect("ledger_mark_processed");
    assert_eq!(
        store.ledger_insert(&entry).await.expect("ledger_insert"),
        LedgerInsert::Exists { processed: true }
    );
    let stored = store
        .ledger_get("msg_1")
        .await
        .expect("ledger_get")
        .expect("entry");
    assert_eq!(stored.processed_at, Some(t(1)));
    assert_eq!(stored.outcome, Some(LedgerOutcome::Applied));

    // No object id, a failure with its error.
    let bad = NewLedgerEntry::new("msg_2", "user.created", None, t(2), None);
    store.ledger_insert(&bad).await.expect("ledger_insert");
    store
        .ledger_mark_processed(
            "msg_2",
            LedgerOutcome::Failed,
            Some("missing data.id"),
            t(3),
        )
        .await
        .expect("ledger_mark_processed");
    let stored = store
        .ledger_get("msg_2")
        .await
        .expect("ledger_get")
        .expect("entry");
    assert_eq!(stored.object_id, None);
    assert_eq!(
        stored.payload, None,
        "an entry without a payload keeps none"
    );
    assert_eq!(stored.outcome, Some(LedgerOutcome::Failed));
    assert_eq!(stored.error.as_deref(), Some("missing data.id"));
    for outcome in [LedgerOutcome::Stale, LedgerOutcome::Ignored] {
        store
            .ledger_mark_processed("msg_2", outcome, None, t(4))
            .await
            .expect("ledger_mark_processed");
        let stored = store
            .ledger_get("msg_2")
            .await
            .expect("ledger_get")
            .expect("entry");
        assert_eq!(stored.outcome, Some(outcome), "{outcome} round-trips");
        assert_eq!(stored.error, None, "the error is replaced");
    }
    assert_eq!(
        store.ledger_get("msg_missing").await.expect("ledger_get"),
        None
    );
}

/// Pruning deletes exactly the entries received before the cutoff.
pub async fn ledger_prune<F: StoreFactory<Store: InboundStore>>(factory: F) {
    let store = factory.make().await;
    let day = 86_400;
    for (id, secs) in [
        ("old1", -10 * day),
        ("old2", -3 * day),
        ("edge", -2 * day),
        ("new", 0),
    ] {
        store
            .ledger_insert(&NewLedgerEntry::new(
                id,
                "user.updated",
                None,
                t(secs),
                None,
            ))
            .await
            .expect("ledger_insert");
    }
    store
        .ledger_mark_processed("old1", LedgerOutcome::Applied, None, t(-10 * day))
        .await
        .expect("ledger_mark_processed");
    assert_eq!(
        store.ledger_prune(t(-2 * day)).await.expect("ledger_prune"),
        2,
        "processed or not, entries received before the cutoff go"
    );
    for (id, kept) in [
        ("old1", false),
        ("old2", false),
        ("edge", true),
        ("new", true),
    ] {
        assert_eq!(
            store.ledger_get(id).await.expect("ledger_get").is_some(),
            kept,
            "{id}: an entry received exactly at the cutoff is kept"
        );
    }
    assert_eq!(
        store.ledger_prune(t(-2 * day)).await.expect("ledger_prune"),
        0
    );
    // A pruned id is new again.
    assert_eq!(
        store
            .ledger_insert(&NewLedgerEntry::new(
                "old1",
                "user.updated",
                None,
                t(1),
                None
            ))
            .await
            .expect("ledger_insert"),
        LedgerInsert::Inserted
    );
}

/// `apply_inbound`: ledger, conditional write and outcome in one call, duplicates skipped.
pub async fn apply_inbound_ledgers_and_dedupes<F: StoreFactory<Store: SyncStore>>(factory: F) {
    let store = factory.make().await;
    let rec = record("user_in", 10);
    let upsert = InboundChange::Upsert(rec.clone());
    let entry = |id: &'static str, ty: &'static str| {
        NewLedgerEntry::new(id, ty, Some("user_in"), t(0), Some(r#"{"type":"x"}"#))
    };
    let outcome_of = async |id: &str| {
        store
            .ledger_get(id)
            .await
            .expect("ledger_get")
            .and_then(|e| e.outcome)
    };

    assert_eq!(
        store
            .apply_inbound(&entry("m1", "user.created"), &upsert, t(1))
            .await
            .expect("apply_inbound"),
        InboundApplied::Upsert(UpsertOutcome::Inserted)
    );
    assert_eq!(outcome_of("m1").await, Some(LedgerOutcome::Applied));
    let processed = store
        .ledger_get("m1")
        .await
        .expect("ledger_get")
        .expect("entry");
    assert_eq!(processed.processed_at, Some(t(1)));

    assert_eq!(
        store
            .apply_inbound(&entry("m1", "user.created"), &upsert, t(2))
            .await
            .expect("apply_inbound"),
        InboundApplied::Duplicate,
        "a processed svix id is a duplicate"
    );
    assert_eq!(
        store
            .apply_inbound(&entry("m2", "user.updated"), &upsert, t(3))
            .await
            .expect("apply_inbound"),
        InboundApplied::Upsert(UpsertOutcome::Stale),
        "a new svix id with the same version is stale"
    );
    assert_eq!(outcome_of("m2").await, Some(LedgerOutcome::Stale));
    assert_eq!(must_get(&store, "user_in").await.updated_at, t(1));

    // An entry left unprocessed (a crash, a failed hook) is processed on redelivery.
    let newer = InboundChange::Upsert(record("user_in", 11));
    store
        .ledger_insert(&entry("m3", "user.updated"))
        .await
        .expect("ledger_insert");
    assert_eq!(
        store
            .apply_inbound(&entry("m3", "user.updated"), &newer, t(4))
            .await
            .expect("apply_inbound"),
        InboundApplied::Upsert(UpsertOutcome::Updated),
        "an unprocessed entry is not a duplicate"
    );
    assert_eq!(outcome_of("m3").await, Some(LedgerOutcome::Applied));

    assert_eq!(
        store
            .apply_inbound(
                &entry("m4", "session.created"),
                &InboundChange::LedgerOnly,
                t(5)
            )
            .await
            .expect("apply_inbound"),
        InboundApplied::LedgerOnly
    );
    assert_eq!(outcome_of("m4").await, Some(LedgerOutcome::Ignored));

    let tomb = InboundChange::Tombstone(Tombstone::new("user_in", t(6)));
    assert_eq!(
        store
            .apply_inbound(&entry("m5", "user.deleted"), &tomb, t(6))
            .await
            .expect("apply_inbound"),
        InboundApplied::Tombstone(TombstoneOutcome::Deleted)
    );
    assert_eq!(outcome_of("m5").await, Some(LedgerOutcome::Applied));
    assert_eq!(
        store
            .apply_inbound(&entry("m6", "user.deleted"), &tomb, t(7))
            .await
            .expect("apply_inbound"),
        InboundApplied::Tombstone(TombstoneOutcome::AlreadyDeleted)
    );
    assert_eq!(outcome_of("m6").await, Some(LedgerOutcome::Stale));
    assert_eq!(
        store
            .apply_inbound(
                &entry("m7", "user.updated"),
                &InboundChange::Upsert(record("user_in", 99)),
                t(8)
            )
            .await
            .expect("apply_inbound"),
        InboundApplied::Upsert(UpsertOutcome::Deleted)
    );
    assert_eq!(outcome_of("m7").await, Some(LedgerOutcome::Stale));
    assert!(must_get(&store, "user_in").await.is_deleted());

    // Linking: a live local row with the verified email and no clerk id takes the clerk id,
    // and stays pending while its own queued change is outstanding.
    let local = local_row(&store, "in@example.com", 9).await;
    let linking = record_with_email("user_linked", 20, "in@example.com", true);
    let link_entry = || NewLedgerEntry::new("m8", "user.created", None, t(0), Some("{}"));
    assert_eq!(
        store
            .apply_inbound(
                &link_entry(),
                &InboundChange::Upsert(linking.clone()),
                t(10)
            )
            .await
            .expect("apply_inbound"),
        InboundApplied::Upsert(UpsertOutcome::Linked)
    );
    assert_eq!(outcome_of("m8").await, Some(LedgerOutcome::Applied));
    let linked = must_get(&store, "user_linked").await;
    assert_eq!(linked.id, local, "the local row took the clerk id");
    assert_eq!(linked.sync_status, SyncStatus::Pending);
    assert_eq!(linked.clerk_updated_at, Some(20));

    // With a row holding the clerk id, a newer version updates it; another local row with
    // the same email is left alone.
    let other = local_row(&store, "in@example.com", 11).await;
    let mut newer = linking.clone();
    newer.clerk_updated_at = 21;
    let update_entry = NewLedgerEntry::new("m9", "user.updated", None, t(0), Some("{}"));
    assert_eq!(
        store
            .apply_inbound(&update_entry, &InboundChange::Upsert(newer), t(12))
            .await
            .expect("apply_inbound"),
        InboundApplied::Upsert(UpsertOutcome::Updated)
    );
    assert_eq!(must_get(&store, "user_linked").await.id, local);
    assert_eq!(
        store
            .get_user_by_id(other)
            .await
            .expect("get_user_by_id")
            .expect("the other local row")
            .clerk_id,
        None
    );
    // The link's redelivery is a duplicate and changes nothing.
    assert_eq!(
        store
            .apply_inbound(&link_entry(), &InboundChange::Upsert(linking), t(13))
            .await
            .expect("apply_inbound"),
        InboundApplied::Duplicate
    );
    assert_eq!(
        must_get(&store, "user_linked").await.clerk_updated_at,
        Some(21)
    );
}

/// `recent_ledger` lists entries newest first, without payloads, by outcome, in pages.
pub async fn ledger_recent<F: StoreFactory<Store: InboundStore>>(factory: F) {
    let store = factory.make().await;
    assert!(
        store
            .recent_ledger(&LedgerQuery::new(10))
            .await
            .expect("recent_ledger")
            .is_empty()
    );
    // Two entries share a receive time: the svix id breaks the tie.
    for (id, secs, outcome) in [
        ("msg_a", 0, Some(LedgerOutcome::Applied)),
        ("msg_b", 5, Some(LedgerOutcome::Failed)),
        ("msg_c", 5, Some(LedgerOutcome::Applied)),
        ("msg_d", 9, None),
    ] {
        store
            .ledger_insert(&NewLedgerEntry::new(
                id,
                "user.updated",
                Some("user_1"),
                t(secs),
                Some(r#"{"secret":"payload"}"#),
            ))
            .await
            .expect("ledger_insert");
        if let Some(outcome) = outcome {
            store
                .ledger_mark_processed(id, outcome, None, t(secs + 1))
                .await
                .expect("ledger_mark_processed");
        }
    }
    let all = store
        .recent_ledger(&LedgerQuery::new(10))
        .await
        .expect("recent_ledger");
    assert_eq!(
        all.iter().map(|e| e.svix_id.as_str()).collect::<Vec<_>>(),
        vec!["msg_d", "msg_c", "msg_b", "msg_a"],
        "newest first, then by svix id descending"
    );
    assert!(
        all.iter().all(|e| e.payload.is_none()),
        "listings never carry payloads"
    );
    assert_eq!(all[1].outcome, Some(LedgerOutcome::Applied));
    assert_eq!(all[1].processed_at, Some(t(6)));
    assert_eq!(all[0].outcome, None, "unprocessed entries are listed too");

    let mut applied = LedgerQuery::new(10);
    applied.outcome = Some(LedgerOutcome::Applied);
    assert_eq!(
        store
            .recent_ledger(&applied)
            .await
            .expect("recent_ledger")
            .iter()
            .map(|e| e.svix_id.as_str())
            .collect::<Vec<_>>(),
        vec!["msg_c", "msg_a"],
        "filtered by outcome"
    );

    let mut page = LedgerQuery::new(2);
    let mut seen = Vec::new();
    loop {
        let entries = store.recent_ledger(&page).await.expect("recent_ledger");
        assert!(entries.len() <= 2);
        let Some(last) = entries.last() else { break };
        page.before = Some((last.received_at, last.svix_id.clone()));
        seen.extend(entries.into_iter().map(|e| e.svix_id));
    }
    assert_eq!(
        seen,
        vec!["msg_d", "msg_c", "msg_b", "msg_a"],
        "pages follow on without gaps or repeats, also across a tie"
    );
}
