//! Store behaviour on every dialect, beyond what the conformance suite checks.

mod common;

use clerk_sync_core::store::{
    ClerkUserRecord, LeaseStore, LedgerInsert, LedgerStore, NewLedgerEntry, Tombstone,
    TombstoneOutcome, UpsertOutcome, UserStore,
};
use common::Db;
use std::time::Duration;
use time::macros::datetime;

async fn basics(db: Db) {
    if common::url(db).is_none() {
        return;
    }
    let s = common::fresh(db).await;
    let now = datetime!(2026-03-01 12:00:00.123456 UTC);
    let raw = r#"{"id":"user_a"}"#;
    let r1 = ClerkUserRecord::new("user_a", 10, raw);
    assert_eq!(
        s.upsert_user(&r1, now).await.unwrap(),
        UpsertOutcome::Inserted
    );
    assert_eq!(s.upsert_user(&r1, now).await.unwrap(), UpsertOutcome::Stale);
    let r2 = ClerkUserRecord::new("user_a", 11, raw);
    assert_eq!(
        s.upsert_user(&r2, now).await.unwrap(),
        UpsertOutcome::Updated
    );
    let u = s.get_user("user_a").await.unwrap().unwrap();
    assert_eq!(u.clerk_updated_at, Some(11));
    assert_eq!(u.created_at, now);
    let t = Tombstone::new("user_a", now);
    assert_eq!(
        s.tombstone_user(&t, now).await.unwrap(),
        TombstoneOutcome::Deleted
    );
    assert_eq!(
        s.tombstone_user(&t, now).await.unwrap(),
        TombstoneOutcome::AlreadyDeleted
    );
    assert_eq!(
        s.upsert_user(&ClerkUserRecord::new("user_a", 12, raw), now)
            .await
            .unwrap(),
        UpsertOutcome::Deleted
    );
    assert_eq!(
        s.tombstone_user(&Tombstone::new("user_b", now), now)
            .await
            .unwrap(),
        TombstoneOutcome::Deleted
    );
    assert_eq!(
        s.tombstone_user(&Tombstone::new("user_b", now), now)
            .await
            .unwrap(),
        TombstoneOutcome::AlreadyDeleted
    );
    let e = NewLedgerEntry::new("msg_1", "user.created", Some("user_a"), now, "{}");
    assert_eq!(s.ledger_insert(&e).await.unwrap(), LedgerInsert::Inserted);
    assert_eq!(
        s.ledger_insert(&e).await.unwrap(),
        LedgerInsert::Exists { processed: false }
    );
    assert!(
        s.try_acquire_lease("l", "a", Duration::from_secs(10), now)
            .await
            .unwrap()
    );
    assert!(
        !s.try_acquire_lease("l", "b", Duration::from_secs(10), now)
            .await
            .unwrap()
    );
    assert!(
        s.try_acquire_lease("l", "a", Duration::from_secs(10), now)
            .await
            .unwrap()
    );
    assert!(
        s.try_acquire_lease(
            "l",
            "b",
            Duration::from_secs(10),
            now + Duration::from_secs(10)
        )
        .await
        .unwrap()
    );
}

#[tokio::test]
async fn basics_sqlite() {
    basics(Db::Sqlite).await;
}

#[tokio::test]
async fn basics_postgres() {
    basics(Db::Postgres).await;
}

#[tokio::test]
async fn basics_mysql() {
    basics(Db::Mysql).await;
}

/// `apply_batch` ends in the same rows and counts as applying the records one by one.
async fn batch_matches_row_by_row(db: Db) {
    use clerk_sync_core::store::{LocalChange, OutboxStore, UserProfile, UserQuery};
    if common::url(db).is_none() {
        return;
    }
    let now = datetime!(2026-03-01 12:00:00.5 UTC);
    let mut records = Vec::new();
    for i in 0..2500 {
        let id = format!("user_{i:05}");
        let mut r = ClerkUserRecord::new(&id, 100 + (i % 7), format!(r#"{{"id":"{id}","n":{i}}}"#));
        r.email = Some(format!("{id}@example.com"));
        r.first_name = (i % 3 == 0).then(|| "Zoë \"quoted\" ünïcode".to_owned());
        r.public_metadata = (i % 5 == 0).then(|| serde_json::json!({"plan": "pro", "i": i}));
        records.push(r);
    }
    // duplicates (older and newer), a record that links, and one for a tombstone
    records.push(ClerkUserRecord::new("user_00001", 50, "{}"));
    records.push(ClerkUserRecord::new("user_00002", 500, r#"{"newer":true}"#));
    let mut link = ClerkUserRecord::new("user_link", 7, "{}");
    link.email = Some("local@example.com".to_owned());
    link.link_email = link.email.clone();
    records.push(link);
    records.push(ClerkUserRecord::new("user_gone", 9, "{}"));

    let prepare = |s: clerk_sync_seaorm::SeaOrmStore| async move {
        let mut p = UserProfile::default();
        p.email = Some("local@example.com".to_owned());
        s.enqueue_local_change(&LocalChange::Create(p), now)
            .await
            .ok();
        s.upsert_user(&ClerkUserRecord::new("user_00003", 1, "{}"), now)
            .await
            .unwrap();
        s.upsert_user(&ClerkUserRecord::new("user_00004", 1000, "{}"), now)
            .await
            .unwrap();
        s.tombstone_user(&Tombstone::new("user_gone", now), now)
            .await
            .unwrap();
        s
    };
    let bulk = prepare(common::fresh(db).await).await;
    let single = prepare(common::fresh(db).await).await;
    let got = bulk.apply_batch(&records, now).await.unwrap();
    let mut want = clerk_sync_core::store::BatchOutcome::default();
    for r in &records {
        match single.upsert_user(r, now).await.unwrap() {
            UpsertOutcome::Inserted => want.inserted += 1,
            UpsertOutcome::Updated | UpsertOutcome::Linked => want.updated += 1,
            _ => want.unchanged += 1,
        }
    }
    assert_eq!(got, want);
    let snapshot = |s: &clerk_sync_seaorm::SeaOrmStore| {
        let s = s.clone();
        async move {
            let mut q = UserQuery::new(1000);
            q.include_deleted = true;
            let mut rows = Vec::new();
            loop {
                let page = s.list_users(&q).await.unwrap();
                let Some(last) = page.last() else { break };
                q.after_id = Some(last.id);
                rows.extend(page.into_iter().map(|u| {
                    (
                        u.clerk_id,
                        u.email,
                        u.first_name,
                        u.public_metadata,
                        u.raw_json,
                        u.clerk_updated_at,
                        u.sync_status,
                        u.deleted_at,
                    )
                }));
            }
            rows.sort_by(|a, b| a.0.cmp(&b.0));
            rows
        }
    };
    assert_eq!(snapshot(&bulk).await, snapshot(&single).await);
}

#[tokio::test]
async fn batch_sqlite() {
    batch_matches_row_by_row(Db::Sqlite).await;
}

#[tokio::test]
async fn batch_postgres() {
    batch_matches_row_by_row(Db::Postgres).await;
}

#[tokio::test]
async fn batch_mysql() {
    batch_matches_row_by_row(Db::Mysql).await;
}

/// Without migrations, store calls report a schema problem, not a transient one.
async fn unmigrated_is_schema_error(db: Db) {
    if common::url(db).is_none() {
        return;
    }
    let s = clerk_sync_seaorm::SeaOrmStore::new(common::fresh_connection(db, 2).await);
    let err = s.get_user("user_a").await.expect_err("no tables yet");
    assert!(
        matches!(err, clerk_sync_core::store::StoreError::Schema(_)),
        "{err:?}"
    );
    assert!(!err.is_transient());
    s.migrate().await.expect("migrate");
    s.migrate().await.expect("migrating twice is harmless");
    assert!(s.get_user("user_a").await.unwrap().is_none());
}

#[tokio::test]
async fn unmigrated_sqlite() {
    unmigrated_is_schema_error(Db::Sqlite).await;
}

#[tokio::test]
async fn unmigrated_postgres() {
    unmigrated_is_schema_error(Db::Postgres).await;
}

#[tokio::test]
async fn unmigrated_mysql() {
    unmigrated_is_schema_error(Db::Mysql).await;
}

#[tokio::test]
async fn in_memory_sqlite_url_is_one_database() {
    let s = clerk_sync_seaorm::SeaOrmStore::connect("sqlite::memory:")
        .await
        .unwrap();
    s.migrate().await.unwrap();
    let now = datetime!(2026-03-01 12:00:00 UTC);
    for i in 0..8 {
        s.upsert_user(&ClerkUserRecord::new(format!("user_{i}"), 1, "{}"), now)
            .await
            .unwrap();
    }
    assert_eq!(s.count_by_status().await.unwrap().synced, 8);
}
