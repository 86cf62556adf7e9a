//! A database migrated and filled by the sqlx store is read and written by the sea-orm store,
//! and the reverse: same schema, same encodings, same semantics.

mod common;

use std::time::Duration;

use clerk_sync_core::store::{
    ClerkUserRecord, InboundChange, LocalChange, NewLedgerEntry, SyncRun, SyncStore, Tombstone,
    UpsertOutcome, UserProfile, UserQuery,
};
use clerk_sync_seaorm::SeaOrmStore;
use clerk_sync_sqlx::SqlxStore;
use common::Db;
use time::OffsetDateTime;
use time::macros::datetime;

/// Times with a microsecond part and a trailing-zero fraction, so a store that formats or
/// truncates SQLite text differently would be caught.
const T0: OffsetDateTime = datetime!(2026-03-01 12:00:00.123456 UTC);
const T1: OffsetDateTime = datetime!(2026-03-01 12:00:01.5 UTC);
const T2: OffsetDateTime = datetime!(2026-03-01 12:00:02 UTC);

fn record(id: &str, version: i64) -> ClerkUserRecord {
    let mut r = ClerkUserRecord::new(
        id,
        version,
        serde_json::json!({ "id": id, "updated_at": version, "name": "Zoë 'quoted' \"ünïcode\" 🚀" })
            .to_string(),
    );
    r.email = Some(format!("{id}@example.com"));
    r.first_name = Some("Zoë".to_owned());
    r.last_name = Some("O'Brien \"the second\"".to_owned());
    r.username = Some("x".repeat(3000));
    r.image_url = Some("https://img.example.com/a.png".to_owned());
    r.external_id = Some(format!("ext-{id}"));
    r.public_metadata =
        Some(serde_json::json!({ "plan": "pro", "nested": { "n": [1, 2.5, null] } }));
    r
}

/// Fill `store` with one of everything, through the store traits.
async fn fill(store: &dyn SyncStore) {
    for i in 0..5 {
        let id = format!("user_{i}");
        assert_eq!(
            store.upsert_user(&record(&id, 100), T0).await.unwrap(),
            UpsertOutcome::Inserted
        );
    }
    store.upsert_user(&record("user_1", 101), T1).await.unwrap();
    let mut t = Tombstone::new("user_2", T1);
    t.external_id = Some("ext-gone".to_owned());
    store.tombstone_user(&t, T1).await.unwrap();
    store
        .record_sync_error("user_3", "Clerk said no", T1)
        .await
        .unwrap();
    let mut p = UserProfile::default();
    p.email = Some("local@example.com".to_owned());
    p.first_name = Some("Local".to_owned());
    store
        .enqueue_local_change(&LocalChange::Create(p), T0)
        .await
        .unwrap();
    let entry = NewLedgerEntry::new(
        "msg_filled",
        "user.updated",
        Some("user_4"),
        T0,
        "{\"body\":1}",
    );
    store
        .apply_inbound(&entry, &InboundChange::Upsert(record("user_4", 102)), T1)
        .await
        .unwrap();
    assert!(
        store
            .try_acquire_lease("reconcile", "replica-a", Duration::from_secs(60), T0)
            .await
            .unwrap()
    );
    let run: SyncRun = serde_json::from_value(serde_json::json!({
        "id": 0, "kind": "reconcile", "triggered_by": "op", "started_at": T0, "finished_at": T1,
        "dry_run": true, "force": false, "report": { "created": 1, "sample": ["user_1"] }
    }))
    .unwrap();
    store.record_run(&run).await.unwrap();
}

/// Everything both stores can read, as they read it.
async fn view(store: &dyn SyncStore) -> String {
    let mut q = UserQuery::new(1000);
    q.include_deleted = true;
    let users = store.list_users(&q).await.unwrap();
    let mut outbox = Vec::new();
    for u in &users {
        outbox.extend(store.outbox_for_user(u.id).await.unwrap());
    }
    let ledger = store.ledger_get("msg_filled").await.unwrap();
    let versions = store.scan_versions(None, 100).await.unwrap();
    format!(
        "{users:#?}\n{outbox:#?}\n{ledger:#?}\n{versions:?}\n{:?}\n{:#?}\n{:?}",
        store.count_by_status().await.unwrap(),
        store.recent_runs(10).await.unwrap(),
        store
            .find_users_by_email("local@example.com")
            .await
            .unwrap()
            .len(),
    )
}

/// Writes from the second store on the first one's data, then both agree on the result.
async fn write_more(store: &dyn SyncStore) {
    assert_eq!(
        store.upsert_user(&record("user_0", 100), T2).await.unwrap(),
        UpsertOutcome::Stale
    );
    assert_eq!(
        store.upsert_user(&record("user_0", 200), T2).await.unwrap(),
        UpsertOutcome::Updated
    );
    assert_eq!(
        store.upsert_user(&record("user_2", 300), T2).await.unwrap(),
        UpsertOutcome::Deleted
    );
    let claimed = store
        .claim_outbox("worker", T2, Duration::from_secs(30), 10)
        .await
        .unwrap();
    assert_eq!(
        claimed.len(),
        1,
        "the other store's outbox entry is claimable"
    );
    store
        .complete_outbox(claimed[0].id, Some("user_local"), T2)
        .await
        .unwrap();
    // The lease taken by the other store is still held until it expires.
    assert!(
        !store
            .try_acquire_lease("reconcile", "replica-b", Duration::from_secs(60), T1)
            .await
            .unwrap()
    );
    assert!(
        store
            .try_acquire_lease(
                "reconcile",
                "replica-b",
                Duration::from_secs(60),
                T0 + Duration::from_secs(60)
            )
            .await
            .unwrap()
    );
    assert_eq!(store.ledger_prune(T1).await.unwrap(), 1);
}

/// On SQLite, every stored time is the one fixed-width text form both stores write, so text
/// comparison (which the sqlx store uses) orders them like instants.
async fn assert_sqlite_times_fixed_width(store: &SeaOrmStore) {
    use clerk_sync_seaorm::sea_orm::{ConnectionTrait, DbBackend, Statement};
    let db = store.connection();
    if db.get_database_backend() != DbBackend::Sqlite {
        return;
    }
    let queries = [
        "SELECT created_at AS t FROM clerk_users UNION ALL SELECT updated_at FROM clerk_users \
         UNION ALL SELECT deleted_at FROM clerk_users WHERE deleted_at IS NOT NULL \
         UNION ALL SELECT last_sync_attempt FROM clerk_users WHERE last_sync_attempt IS NOT NULL",
        "SELECT received_at AS t FROM clerk_webhook_events UNION ALL SELECT processed_at \
         FROM clerk_webhook_events WHERE processed_at IS NOT NULL",
        "SELECT expires_at AS t FROM clerk_sync_leases",
        "SELECT started_at AS t FROM clerk_sync_runs UNION ALL SELECT finished_at FROM clerk_sync_runs",
    ];
    let mut seen = 0;
    for sql in queries {
        let rows = db
            .query_all_raw(Statement::from_string(DbBackend::Sqlite, sql))
            .await
            .unwrap();
        for row in rows {
            let t: String = row.try_get("", "t").unwrap();
            let b = t.as_bytes();
            let fixed = b.len() == 27
                && b[4] == b'-'
                && b[10] == b'T'
                && b[19] == b'.'
                && b[26] == b'Z'
                && b[20..26].iter().all(u8::is_ascii_digit);
            assert!(
                fixed,
                "time stored as {t:?}, not YYYY-MM-DDTHH:MM:SS.ffffffZ"
            );
            seen += 1;
        }
    }
    assert!(seen > 10, "only {seen} times checked");
}

async fn sqlx_then_seaorm(db: Db) {
    let Some((url, seaorm)) = common::shared_database(db).await else {
        return;
    };
    let sqlx = SqlxStore::connect(&url).await.expect("sqlx connect");
    sqlx.migrate().await.expect("sqlx migrate");
    fill(&sqlx).await;
    seaorm
        .migrate()
        .await
        .expect("sea-orm migrates a database sqlx created");
    assert_eq!(
        view(&seaorm).await,
        view(&sqlx).await,
        "sea-orm reads sqlx's rows as sqlx does"
    );
    write_more(&seaorm).await;
    assert_eq!(
        view(&sqlx).await,
        view(&seaorm).await,
        "sqlx reads sea-orm's writes as sea-orm does"
    );
    assert_sqlite_times_fixed_width(&seaorm).await;
}

async fn seaorm_then_sqlx(db: Db) {
    let Some((url, seaorm)) = common::shared_database(db).await else {
        return;
    };
    seaorm.migrate().await.expect("sea-orm migrate");
    fill(&seaorm).await;
    let sqlx = SqlxStore::connect(&url).await.expect("sqlx connect");
    sqlx.migrate()
        .await
        .expect("sqlx migrates a database sea-orm created");
    assert_eq!(
        view(&sqlx).await,
        view(&seaorm).await,
        "sqlx reads sea-orm's rows as sea-orm does"
    );
    write_more(&sqlx).await;
    assert_eq!(
        view(&seaorm).await,
        view(&sqlx).await,
        "sea-orm reads sqlx's writes as sqlx does"
    );
    assert_sqlite_times_fixed_width(&seaorm).await;
}

#[tokio::test]
async fn sqlx_then_seaorm_sqlite() {
    sqlx_then_seaorm(Db::Sqlite).await;
}

#[tokio::test]
async fn sqlx_then_seaorm_postgres() {
    sqlx_then_seaorm(Db::Postgres).await;
}

#[tokio::test]
async fn sqlx_then_seaorm_mysql() {
    sqlx_then_seaorm(Db::Mysql).await;
}

#[tokio::test]
async fn seaorm_then_sqlx_sqlite() {
    seaorm_then_sqlx(Db::Sqlite).await;
}

#[tokio::test]
async fn seaorm_then_sqlx_postgres() {
    seaorm_then_sqlx(Db::Postgres).await;
}

#[tokio::test]
async fn seaorm_then_sqlx_mysql() {
    seaorm_then_sqlx(Db::Mysql).await;
}
