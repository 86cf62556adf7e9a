//! A database migrated and filled through clerk-sync-sqlx is migrated, read and written through
//! clerk-sync-seaorm, and the reverse: each library's migrations run on a database the other
//! created, and both read what either wrote.

mod common;

use std::time::Duration;

use clerk_sync_core::store::{
    ClaimOutcome, DeadLetterQuery, LedgerQuery, SyncStore, UpsertOutcome, UserQuery,
};
use clerk_sync_seaorm::SeaOrmStore;
use clerk_sync_seaorm::sea_orm::{ConnectionTrait, Statement};
use clerk_sync_sqlx::SqlxStore;
use common::{Db, T0, T1, T2, record};

/// Everything the store traits can read, as they read it.
async fn view(store: &dyn SyncStore) -> String {
    let mut q = UserQuery::new(1000);
    q.include_deleted = true;
    let users = store.list_users(&q).await.unwrap();
    let mut outbox = Vec::new();
    for u in &users {
        outbox.extend(store.outbox_for_user(u.id).await.unwrap());
    }
    format!(
        "{users:#?}\n{outbox:#?}\n{:#?}\n{:#?}\n{:#?}\n{:?}\n{:?}\n{:#?}\n{:#?}\n{}\n{}",
        store
            .dead_letters(&DeadLetterQuery::new(100))
            .await
            .unwrap(),
        store.ledger_get("msg_filled").await.unwrap(),
        store.recent_ledger(&LedgerQuery::new(100)).await.unwrap(),
        store.scan_versions(None, 100).await.unwrap(),
        store.count_by_status().await.unwrap(),
        store.recent_runs(10).await.unwrap(),
        store.latest_run("backfill").await.unwrap(),
        store.outbox_due(T2).await.unwrap(),
        store
            .find_users_by_email("local@example.com")
            .await
            .unwrap()
            .len(),
    )
}

/// Writes by the second store on the first one's data.
async fn write_more(store: &dyn SyncStore) {
    let stale = store.upsert_user(&record("user_0", 100), T2).await.unwrap();
    assert_eq!(stale, UpsertOutcome::Stale);
    let updated = store.upsert_user(&record("user_0", 200), T2).await.unwrap();
    assert_eq!(updated, UpsertOutcome::Updated);
    let deleted = store.upsert_user(&record("user_2", 300), T2).await.unwrap();
    assert_eq!(deleted, UpsertOutcome::Deleted);

    // The claim the other store took is held, and settled with its token.
    let local = store
        .find_users_by_email("local@example.com")
        .await
        .unwrap();
    let entry = store.outbox_for_user(local[0].id).await.unwrap().remove(0);
    let token = entry.claim_token.as_deref().expect("still claimed");
    let outcome = store
        .complete_outbox(entry.id, token, Some("user_local"), T2)
        .await
        .unwrap();
    assert_eq!(outcome, ClaimOutcome::Applied);
    assert_eq!(store.revive_dead_letters(None, T2).await.unwrap(), 1);

    // The lease the other store took is held until it expires.
    let ttl = Duration::from_secs(60);
    assert!(
        !store
            .try_acquire_lease("reconcile", "replica-b", ttl, T1)
            .await
            .unwrap()
    );
    assert!(
        store
            .try_acquire_lease("reconcile", "replica-b", ttl, T0 + ttl)
            .await
            .unwrap()
    );
    assert_eq!(store.ledger_prune(T1).await.unwrap(), 2);
}

/// The names each library recorded: sqlx's versions, sea-orm's migration names.
async fn recorded(store: &SeaOrmStore, table: &str) -> usize {
    let conn = store.connection();
    let sql = format!("SELECT COUNT(*) AS n FROM {table}");
    let row = conn
        .query_one_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{table}: {e}"))
        .expect("a count");
    usize::try_from(row.try_get::<i64>("", "n").unwrap()).unwrap()
}

async fn sqlx_then_seaorm(db: Db) {
    let (url, _) = common::fresh_database(db).await;
    let sqlx = SqlxStore::connect(&url).await.expect("sqlx connect");
    sqlx.migrate().await.expect("sqlx migrate");
    common::fill(&sqlx).await;

    let seaorm = SeaOrmStore::connect(&url).await.expect("sea-orm connect");
    seaorm
        .migrate()
        .await
        .expect("sea-orm migrates a database sqlx created");
    assert_eq!(
        recorded(&seaorm, "_clerk_sync_seaorm_migrations").await,
        clerk_sync_seaorm::migration::migrations().len()
    );
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
    sqlx.migrate().await.expect("and sqlx migrates it again");
}

async fn seaorm_then_sqlx(db: Db) {
    let (url, _) = common::fresh_database(db).await;
    let seaorm = SeaOrmStore::connect(&url).await.expect("sea-orm connect");
    seaorm.migrate().await.expect("sea-orm migrate");
    common::fill(&seaorm).await;

    let sqlx = SqlxStore::connect(&url).await.expect("sqlx connect");
    sqlx.migrate()
        .await
        .expect("sqlx migrates a database sea-orm created");
    assert!(recorded(&seaorm, "_clerk_sync_migrations").await > 0);
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
    seaorm
        .migrate()
        .await
        .expect("and sea-orm migrates it again");
}

#[tokio::test]
async fn sqlx_then_seaorm_sqlite() {
    sqlx_then_seaorm(Db::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(
    not(clerk_sync_postgres),
    ignore = "set CLERK_SYNC_TEST_POSTGRES_URL to run"
)]
async fn sqlx_then_seaorm_postgres() {
    sqlx_then_seaorm(Db::Postgres).await;
}

#[tokio::test]
#[cfg_attr(not(clerk_sync_mysql), ignore = "set CLERK_SYNC_TEST_MYSQL_URL to run")]
async fn sqlx_then_seaorm_mysql() {
    sqlx_then_seaorm(Db::Mysql).await;
}

#[tokio::test]
async fn seaorm_then_sqlx_sqlite() {
    seaorm_then_sqlx(Db::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(
    not(clerk_sync_postgres),
    ignore = "set CLERK_SYNC_TEST_POSTGRES_URL to run"
)]
async fn seaorm_then_sqlx_postgres() {
    seaorm_then_sqlx(Db::Postgres).await;
}

#[tokio::test]
#[cfg_attr(not(clerk_sync_mysql), ignore = "set CLERK_SYNC_TEST_MYSQL_URL to run")]
async fn seaorm_then_sqlx_mysql() {
    seaorm_then_sqlx(Db::Mysql).await;
}
