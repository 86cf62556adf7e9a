//! `SeaOrmStore` as a layer: what it adds to the sqlx store it runs (constructors, the shared
//! pool, migrating), beyond what the conformance suite checks.

mod common;

use clerk_sync_core::store::{
    ClerkUserRecord, InboundApplied, InboundChange, InboundStore, LedgerStore, NewLedgerEntry,
    StoreError, UpsertOutcome, UserStore,
};
use clerk_sync_seaorm::SeaOrmStore;
use clerk_sync_seaorm::entity::clerk_user;
use clerk_sync_seaorm::sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait};
use common::{Db, Open, T0};

#[test]
fn new_refuses_a_connection_without_a_sqlx_pool() {
    let err = SeaOrmStore::new(DatabaseConnection::default()).expect_err("no pool behind it");
    assert!(
        matches!(err, StoreError::Configuration { .. }),
        "not a configuration error: {err:?}"
    );
    assert!(!err.is_transient(), "retrying cannot help");
    assert!(err.to_string().contains("sqlx pool"), "{err}");
}

#[tokio::test]
async fn connect_refuses_an_unknown_scheme_without_echoing_the_url() {
    let err = SeaOrmStore::connect("oracle://admin:hunter2@db.example.com/app")
        .await
        .expect_err("not a supported database");
    let text = format!("{err} {err:?}");
    assert!(!text.contains("hunter2"), "the password leaked: {text}");
}

/// Without migrations, store calls report a schema problem, not a transient one; migrating
/// twice is harmless.
async fn unmigrated_is_schema_error(db: Db) {
    for open in [Open::Connect, Open::New] {
        let store = common::fresh_unmigrated(db, open).await;
        let err = store.get_user("user_a").await.expect_err("no tables yet");
        assert!(matches!(err, StoreError::Schema(_)), "{open:?}: {err:?}");
        store.migrate().await.expect("migrate");
        store.migrate().await.expect("migrating twice is harmless");
        assert!(store.get_user("user_a").await.unwrap().is_none());
    }
}

#[tokio::test]
async fn unmigrated_sqlite() {
    unmigrated_is_schema_error(Db::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(
    not(clerk_sync_postgres),
    ignore = "set CLERK_SYNC_TEST_POSTGRES_URL to run"
)]
async fn unmigrated_postgres() {
    unmigrated_is_schema_error(Db::Postgres).await;
}

#[tokio::test]
#[cfg_attr(not(clerk_sync_mysql), ignore = "set CLERK_SYNC_TEST_MYSQL_URL to run")]
async fn unmigrated_mysql() {
    unmigrated_is_schema_error(Db::Mysql).await;
}

/// The store and the application's connection are one pool: what the store writes, the
/// entities read, and closing either closes both.
async fn one_pool(db: Db) {
    for open in [Open::Connect, Open::New] {
        let store = common::fresh(db, open).await;
        let conn = store.connection().clone();
        store
            .upsert_user(&ClerkUserRecord::new("user_a", 1, "{}"), T0)
            .await
            .unwrap();
        let rows = clerk_user::Entity::find().all(&conn).await.unwrap();
        assert_eq!(rows.len(), 1, "{open:?}");
        assert_eq!(rows[0].clerk_id.as_deref(), Some("user_a"));

        conn.close()
            .await
            .expect("close the application's connection");
        let err = store
            .get_user("user_a")
            .await
            .expect_err("the pool is closed");
        assert!(
            matches!(err, StoreError::Unavailable(_)),
            "{open:?}: {err:?}"
        );
    }
    let store = common::fresh(db, Open::New).await;
    let conn = store.connection().clone();
    store.close().await;
    clerk_user::Entity::find()
        .all(&conn)
        .await
        .expect_err("closing the store closes the connection's pool");
}

#[tokio::test]
async fn one_pool_sqlite() {
    one_pool(Db::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(
    not(clerk_sync_postgres),
    ignore = "set CLERK_SYNC_TEST_POSTGRES_URL to run"
)]
async fn one_pool_postgres() {
    one_pool(Db::Postgres).await;
}

#[tokio::test]
#[cfg_attr(not(clerk_sync_mysql), ignore = "set CLERK_SYNC_TEST_MYSQL_URL to run")]
async fn one_pool_mysql() {
    one_pool(Db::Mysql).await;
}

/// `migrate` errors by kind: a history this version does not know (a newer clerk-sync
/// migrated the database) needs a person; a closed pool may work later; a statement the
/// database refuses is a backend error.
#[tokio::test]
async fn migrate_errors_by_kind() {
    let store = common::fresh(Db::Sqlite, Open::Connect).await;
    store
        .connection()
        .execute_unprepared(
            "INSERT INTO _clerk_sync_seaorm_migrations (version, applied_at) \
             VALUES ('m99991231000001_clerk_sync', 0)",
        )
        .await
        .unwrap();
    let err = store
        .migrate()
        .await
        .expect_err("an unknown applied migration");
    assert!(matches!(err, StoreError::Schema(_)), "{err:?}");
    assert!(!err.is_transient());

    // A table of the same name without the columns the migrations index.
    let store = common::fresh_unmigrated(Db::Sqlite, Open::New).await;
    store
        .connection()
        .execute_unprepared("CREATE TABLE clerk_users (id INTEGER PRIMARY KEY)")
        .await
        .unwrap();
    let err = store.migrate().await.expect_err("an incompatible table");
    assert!(matches!(err, StoreError::Backend(_)), "{err:?}");

    store.close().await;
    let err = store.migrate().await.expect_err("a closed pool");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(err.is_transient());
}

/// `apply_inbound` is the sqlx store's own (ledger, write and mark processed in one
/// transaction), not the trait's provided three steps: when the database refuses the write,
/// no ledger row is left behind, and the redelivery applies.
async fn apply_inbound_is_one_transaction(db: Db) {
    let store = common::fresh(db, Open::New).await;
    let conn = store.connection();
    let refuse: &[&str] = match db {
        Db::Postgres => &[
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql \
             AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$",
            "CREATE TRIGGER refuse BEFORE INSERT ON clerk_users \
             FOR EACH ROW EXECUTE FUNCTION refuse()",
        ],
        Db::Mysql => &[
            "CREATE TRIGGER refuse BEFORE INSERT ON clerk_users FOR EACH ROW \
             SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused by the test'",
        ],
        Db::Sqlite => &["CREATE TRIGGER refuse BEFORE INSERT ON clerk_users \
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"],
    };
    for sql in refuse {
        conn.execute_unprepared(sql).await.expect("trigger");
    }
    let entry = NewLedgerEntry::new("msg_refused", "user.created", Some("user_a"), T0, None);
    let change = InboundChange::Upsert(ClerkUserRecord::new("user_a", 1, "{}"));
    store
        .apply_inbound(&entry, &change, T0)
        .await
        .expect_err("the database refused the insert");
    assert_eq!(
        store.ledger_get("msg_refused").await.unwrap(),
        None,
        "{db:?}: a ledger row outlived its failed write"
    );

    let drop = match db {
        Db::Postgres => "DROP TRIGGER refuse ON clerk_users",
        _ => "DROP TRIGGER refuse",
    };
    conn.execute_unprepared(drop).await.unwrap();
    let applied = store.apply_inbound(&entry, &change, T0).await.unwrap();
    assert_eq!(applied, InboundApplied::Upsert(UpsertOutcome::Inserted));
}

#[tokio::test]
async fn apply_inbound_is_one_transaction_sqlite() {
    apply_inbound_is_one_transaction(Db::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(
    not(clerk_sync_postgres),
    ignore = "set CLERK_SYNC_TEST_POSTGRES_URL to run"
)]
async fn apply_inbound_is_one_transaction_postgres() {
    apply_inbound_is_one_transaction(Db::Postgres).await;
}

#[tokio::test]
#[cfg_attr(not(clerk_sync_mysql), ignore = "set CLERK_SYNC_TEST_MYSQL_URL to run")]
async fn apply_inbound_is_one_transaction_mysql() {
    apply_inbound_is_one_transaction(Db::Mysql).await;
}

#[tokio::test]
async fn in_memory_sqlite_url_is_one_database() {
    let store = SeaOrmStore::connect("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    for i in 0..8 {
        store
            .upsert_user(&ClerkUserRecord::new(format!("user_{i}"), 1, "{}"), T0)
            .await
            .unwrap();
    }
    assert_eq!(store.count_by_status().await.unwrap().synced, 8);
    let rows = clerk_user::Entity::find()
        .all(store.connection())
        .await
        .unwrap();
    assert_eq!(
        rows.len(),
        8,
        "the entities see the same in-memory database"
    );
}
