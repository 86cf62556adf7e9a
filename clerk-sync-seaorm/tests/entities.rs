//! The public entities agree with the schema the migrations create, on every database.
//!
//! For each entity: its columns (names, kinds, lengths, nullability) equal the live table's,
//! read from the database's catalog; and selecting every entity through sea-orm decodes rows in
//! which every column holds a value, written by the store. An entity column the table lacks,
//! a table column the entity lacks, a wrong type or a wrong `Option` fails here.

mod common;

use clerk_sync_seaorm::SeaOrmStore;
use clerk_sync_seaorm::entity::{clerk_user, sync_lease, sync_outbox, sync_run, webhook_event};
use clerk_sync_seaorm::sea_orm::sea_query::StringLen;
use clerk_sync_seaorm::sea_orm::{
    ColumnTrait, ColumnType, ConnectionTrait, DatabaseConnection, DbBackend, EntityName,
    EntityTrait, IdenStatic, Iterable, PaginatorTrait, QueryFilter, Statement, Value,
};
use common::{Db, Open};

/// A column's type as far as the schema pins it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Int64,
    Int32,
    Varchar(i64),
    Text,
    Json,
    Time,
    Bool,
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Column {
    name: String,
    kind: Kind,
    nullable: bool,
}

fn entity_kind(ty: &ColumnType) -> Kind {
    match ty {
        ColumnType::BigInteger => Kind::Int64,
        ColumnType::Integer => Kind::Int32,
        ColumnType::String(StringLen::N(n)) => Kind::Varchar(i64::from(*n)),
        ColumnType::Text => Kind::Text,
        ColumnType::Json | ColumnType::JsonBinary => Kind::Json,
        ColumnType::TimestampWithTimeZone => Kind::Time,
        ColumnType::Boolean => Kind::Bool,
        other => Kind::Other(format!("{other:?}")),
    }
}

/// What the entity says, as the catalog of `db` would show it: SQLite stores every integer
/// in 64 bits, and JSON and times as TEXT.
fn entity_columns<E: EntityTrait>(db: Db) -> Vec<Column> {
    let mut columns: Vec<Column> = E::Column::iter()
        .map(|c| {
            let def = c.def();
            let mut kind = entity_kind(def.get_column_type());
            if db == Db::Sqlite {
                kind = match kind {
                    Kind::Int32 => Kind::Int64,
                    Kind::Json | Kind::Time => Kind::Text,
                    k => k,
                };
            }
            Column {
                name: c.as_str().to_owned(),
                kind,
                nullable: def.is_null(),
            }
        })
        .collect();
    columns.sort();
    columns
}

fn stmt(conn: &DatabaseConnection, sql: &str, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(conn.get_database_backend(), sql, values)
}

/// The live columns of `table`, from the catalog.
async fn live_columns(conn: &DatabaseConnection, db: Db, table: &str) -> Vec<Column> {
    // Flags as 'YES' / 'NO' text and lengths as BIGINT: one decoding for every database.
    let sql = match db {
        Db::Postgres => {
            "SELECT column_name::text AS name, data_type::text AS ty, is_nullable::text AS nullable, \
             character_maximum_length::int8 AS len, 'NO' AS pk FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1"
        }
        Db::Mysql => {
            "SELECT COLUMN_NAME AS name, DATA_TYPE AS ty, IS_NULLABLE AS nullable, \
             CAST(CHARACTER_MAXIMUM_LENGTH AS SIGNED) AS len, 'NO' AS pk \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?"
        }
        Db::Sqlite => {
            "SELECT name, lower(type) AS ty, \
             CASE WHEN \"notnull\" = 0 THEN 'YES' ELSE 'NO' END AS nullable, NULL AS len, \
             CASE WHEN pk > 0 THEN 'YES' ELSE 'NO' END AS pk FROM pragma_table_info(?)"
        }
    };
    let rows = conn
        .query_all_raw(stmt(conn, sql, vec![table.into()]))
        .await
        .expect("catalog query");
    let mut columns = Vec::new();
    for row in rows {
        let name: String = row.try_get("", "name").unwrap();
        let ty: String = row.try_get("", "ty").unwrap();
        let len: Option<i64> = row.try_get("", "len").unwrap();
        let nullable = row.try_get::<String>("", "nullable").unwrap() == "YES";
        let pk = row.try_get::<String>("", "pk").unwrap() == "YES";
        let kind = match (db, ty.as_str()) {
            (Db::Postgres, "bigint") | (Db::Mysql, "bigint") => Kind::Int64,
            (Db::Sqlite, "integer" | "bigint") => Kind::Int64,
            (Db::Postgres, "integer") | (Db::Mysql, "int") => Kind::Int32,
            (Db::Postgres, "character varying") | (Db::Mysql, "varchar") => {
                Kind::Varchar(len.expect("varchar length"))
            }
            (Db::Sqlite, t) if t.starts_with("varchar(") => Kind::Varchar(
                t["varchar(".len()..t.len() - 1]
                    .parse()
                    .expect("varchar length"),
            ),
            (Db::Postgres | Db::Sqlite, "text") | (Db::Mysql, "text" | "mediumtext") => Kind::Text,
            // MariaDB's JSON is LONGTEXT with a `json_valid` check; MySQL's is its own type.
            (Db::Mysql, "longtext") if mariadb_json(conn, table, &name).await => Kind::Json,
            (Db::Mysql, "longtext") => Kind::Text,
            (Db::Postgres, "jsonb" | "json") | (Db::Mysql, "json") => Kind::Json,
            (Db::Postgres, "timestamp with time zone") | (Db::Mysql, "datetime") => Kind::Time,
            (Db::Postgres, "boolean") | (Db::Mysql, "tinyint") | (Db::Sqlite, "boolean") => {
                Kind::Bool
            }
            (_, other) => Kind::Other(other.to_owned()),
        };
        // SQLite lets a non-INTEGER primary key hold NULL unless declared NOT NULL; the
        // store never writes one, and the key is not optional in any other database.
        let nullable = nullable && !pk;
        columns.push(Column {
            name,
            kind,
            nullable,
        });
    }
    columns.sort();
    columns
}

/// Whether MariaDB holds `table.column` as JSON (a LONGTEXT with a `json_valid` check).
async fn mariadb_json(conn: &DatabaseConnection, table: &str, column: &str) -> bool {
    let sql = "SELECT COUNT(*) AS n FROM information_schema.CHECK_CONSTRAINTS \
               WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = ? AND CONSTRAINT_NAME = ? \
               AND CHECK_CLAUSE LIKE 'json_valid%'";
    // MySQL has no TABLE_NAME there (and no LONGTEXT JSON): the query fails, and the column
    // is text.
    match conn
        .query_one_raw(stmt(conn, sql, vec![table.into(), column.into()]))
        .await
    {
        Ok(Some(row)) => row.try_get::<i64>("", "n").unwrap_or(0) > 0,
        _ => false,
    }
}

/// `E`'s columns equal its table's, and every row of the table decodes as `E`, with a value
/// in every column in some row.
async fn check<E: EntityTrait>(store: &SeaOrmStore, db: Db)
where
    E::Model: Sync,
{
    let conn = store.connection();
    let table = E::default().table_name().to_owned();
    assert_eq!(
        entity_columns::<E>(db),
        live_columns(conn, db, &table).await,
        "{db:?}: the entity for {table} (left) disagrees with the migrated table (right)"
    );
    let rows = E::find()
        .all(conn)
        .await
        .unwrap_or_else(|e| panic!("{db:?}: selecting every {table} column as the entity: {e}"));
    assert!(!rows.is_empty(), "{db:?}: {table} is empty");
    for column in E::Column::iter() {
        let filled = E::find()
            .filter(column.is_not_null())
            .count(conn)
            .await
            .unwrap();
        assert!(
            filled > 0,
            "{db:?}: no row of {table} has {} set, so its type was not exercised",
            column.as_str()
        );
    }
}

async fn entities_match_schema(db: Db) {
    let store = common::fresh(db, Open::New).await;
    common::fill(&store).await;
    check::<clerk_user::Entity>(&store, db).await;
    check::<webhook_event::Entity>(&store, db).await;
    check::<sync_outbox::Entity>(&store, db).await;
    check::<sync_lease::Entity>(&store, db).await;
    check::<sync_run::Entity>(&store, db).await;
    // Every table the migrations create (besides the migration tables) has its entity.
    let backend = store.connection().get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT table_name::text AS t FROM information_schema.tables \
             WHERE table_schema = current_schema()"
        }
        DbBackend::MySql => {
            "SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()"
        }
        _ => {
            "SELECT name AS t FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        }
    };
    let conn = store.connection();
    let mut tables: Vec<String> = conn
        .query_all_raw(stmt(conn, sql, vec![]))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get("", "t").unwrap())
        .filter(|t: &String| !t.ends_with("_migrations"))
        .collect();
    tables.sort();
    let mut entities = vec![
        clerk_user::Entity.table_name(),
        webhook_event::Entity.table_name(),
        sync_outbox::Entity.table_name(),
        sync_lease::Entity.table_name(),
        sync_run::Entity.table_name(),
    ];
    entities.sort_unstable();
    assert_eq!(tables, entities, "{db:?}: tables without an entity");
}

#[tokio::test]
async fn entities_match_schema_sqlite() {
    entities_match_schema(Db::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(
    not(clerk_sync_postgres),
    ignore = "set CLERK_SYNC_TEST_POSTGRES_URL to run"
)]
async fn entities_match_schema_postgres() {
    entities_match_schema(Db::Postgres).await;
}

#[tokio::test]
#[cfg_attr(not(clerk_sync_mysql), ignore = "set CLERK_SYNC_TEST_MYSQL_URL to run")]
async fn entities_match_schema_mysql() {
    entities_match_schema(Db::Mysql).await;
}
