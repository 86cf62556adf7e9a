//! The outcome each conditional write reports, per dialect.
//!
//! Each dialect learns "inserted / updated / untouched" its own way (PostgreSQL from `xmax` in
//! one statement, MySQL's procedure from affected rows and the insert id under
//! `CLIENT_FOUND_ROWS`, the shared transactions from the row they lock, the bulk upsert from
//! affected rows), so every outcome is checked on every database, including through the bulk
//! path and the one-round-trip `apply_inbound`.

mod support;

use clerk_sync_core::store::{
    BatchOutcome, ClerkUserRecord, InboundApplied, InboundChange, InboundStore, LedgerStore,
    NewLedgerEntry, Tombstone, TombstoneOutcome, UpsertOutcome, UserStore,
};
use clerk_sync_sqlx::SqlxStore;
use support::Backend;
use time::OffsetDateTime;
use time::macros::datetime;

fn t(secs: i64) -> OffsetDateTime {
    datetime!(2026-03-01 12:00:00.123456 UTC) + time::Duration::seconds(secs)
}

fn rec(id: &str, v: i64) -> ClerkUserRecord {
    let mut r = ClerkUserRecord::new(id, v, format!(r#"{{"id":"{id}","updated_at":{v}}}"#));
    r.first_name = Some(format!("v{v}"));
    r
}

async fn outcomes(store: SqlxStore) {
    use UpsertOutcome::*;
    assert_eq!(
        store.upsert_user(&rec("u1", 10), t(0)).await.unwrap(),
        Inserted
    );
    assert_eq!(
        store.upsert_user(&rec("u1", 10), t(1)).await.unwrap(),
        Stale
    );
    assert_eq!(store.upsert_user(&rec("u1", 9), t(2)).await.unwrap(), Stale);
    assert_eq!(
        store.upsert_user(&rec("u1", 11), t(3)).await.unwrap(),
        Updated
    );
    let row = store.get_user("u1").await.unwrap().unwrap();
    assert_eq!(row.first_name.as_deref(), Some("v11"));
    assert_eq!((row.created_at, row.updated_at), (t(0), t(3)));

    // A second insert right after a no-op: the insert id must not leak between statements.
    assert_eq!(
        store.upsert_user(&rec("u2", 1), t(4)).await.unwrap(),
        Inserted
    );
    assert_eq!(
        store.upsert_user(&rec("u1", 11), t(5)).await.unwrap(),
        Stale
    );

    let tomb = Tombstone::new("u1", t(6));
    assert_eq!(
        store.tombstone_user(&tomb, t(6)).await.unwrap(),
        TombstoneOutcome::Deleted
    );
    assert_eq!(
        store.tombstone_user(&tomb, t(7)).await.unwrap(),
        TombstoneOutcome::AlreadyDeleted
    );
    assert_eq!(
        store.upsert_user(&rec("u1", 99), t(8)).await.unwrap(),
        Deleted
    );
    // A tombstone for a user never seen is an insert, and terminal.
    let early = Tombstone::new("u3", t(9));
    assert_eq!(
        store.tombstone_user(&early, t(9)).await.unwrap(),
        TombstoneOutcome::Deleted
    );
    assert_eq!(
        store.upsert_user(&rec("u3", 1), t(10)).await.unwrap(),
        Deleted
    );

    // Bulk: new, newer, equal, older, tombstoned, and a duplicate within the batch.
    let batch = vec![
        rec("b1", 1),
        rec("u2", 2),
        rec("b2", 5),
        rec("b2", 4),
        rec("u1", 100),
        rec("b3", 1),
    ];
    let out = store.apply_batch(&batch, t(11)).await.unwrap();
    let mut expected = BatchOutcome::default();
    expected.inserted = 3;
    expected.updated = 1;
    expected.unchanged = 2;
    assert_eq!(
        out, expected,
        "b1 b2 b3 inserted, u2 updated, b2@4 and u1 unchanged"
    );
    assert_eq!(
        store
            .get_user("b2")
            .await
            .unwrap()
            .unwrap()
            .clerk_updated_at,
        Some(5)
    );
    let again = store.apply_batch(&batch, t(12)).await.unwrap();
    assert_eq!(
        again.unchanged, 6,
        "replaying a batch changes nothing: {again:?}"
    );

    // apply_inbound, the one-transaction path.
    let entry =
        |id: &'static str| NewLedgerEntry::new(id, "user.updated", Some("i1"), t(13), Some("{}"));
    let up = |v| InboundChange::Upsert(rec("i1", v));
    assert_eq!(
        store
            .apply_inbound(&entry("m1"), &up(1), t(13))
            .await
            .unwrap(),
        InboundApplied::Upsert(Inserted)
    );
    assert_eq!(
        store
            .apply_inbound(&entry("m1"), &up(1), t(14))
            .await
            .unwrap(),
        InboundApplied::Duplicate
    );
    // A processed svix id writes nothing, even if the change it carries now is newer.
    assert_eq!(
        store
            .apply_inbound(&entry("m1"), &up(7), t(14))
            .await
            .unwrap(),
        InboundApplied::Duplicate
    );
    assert_eq!(
        store
            .get_user("i1")
            .await
            .unwrap()
            .unwrap()
            .clerk_updated_at,
        Some(1),
        "a duplicate changed the row"
    );
    assert_eq!(
        store
            .apply_inbound(&entry("m2"), &up(2), t(15))
            .await
            .unwrap(),
        InboundApplied::Upsert(Updated)
    );
    assert_eq!(
        store
            .apply_inbound(&entry("m3"), &up(2), t(16))
            .await
            .unwrap(),
        InboundApplied::Upsert(Stale)
    );
    let ledger = store.ledger_get("m2").await.unwrap().unwrap();
    assert_eq!(ledger.processed_at, Some(t(15)));
    assert_eq!(ledger.received_at, t(13));
    store.close().await;
}

#[tokio::test]
async fn sqlite_outcomes() {
    outcomes(support::fresh_sqlite().await).await;
}

#[tokio::test]
#[cfg_attr(not(clerk_sync_postgres), ignore = "set CLERK_SYNC_TEST_POSTGRES_URL")]
async fn postgres_outcomes() {
    outcomes(support::fresh_pg(support::url(Backend::Postgres)).await).await;
}

#[tokio::test]
#[cfg_attr(not(clerk_sync_mysql), ignore = "set CLERK_SYNC_TEST_MYSQL_URL")]
async fn mysql_outcomes() {
    outcomes(support::fresh_mysql(support::url(Backend::MySql)).await).await;
}
