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
