//! The clerk-sync store on [sqlx] 0.9: PostgreSQL, SQLite and MySQL/MariaDB.
//!
//! [`SqlxStore`] implements every store trait of `clerk_sync_core::store` ([`SyncStore`] and
//! the five traits under it) on one of three databases, picked from the URL. Its migrations are
//! embedded and recorded in `_clerk_sync_migrations`, so they never collide with the
//! application's own `_sqlx_migrations`.
//!
//! # Setup
//!
//! Connect, migrate, and hand the store to the engine:
//!
//! ```no_run
//! # async fn setup() -> Result<(), Box<dyn std::error::Error>> {
//! use clerk_sync_core::{sync::SyncEngine, webhook::WebhookVerifier};
//! use clerk_sync_sqlx::SqlxStore;
//!
//! let store = SqlxStore::connect("postgres://app@localhost/app").await?;
//! store.migrate().await?;
//! let engine = SyncEngine::new(store, WebhookVerifier::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?);
//! # let _ = engine;
//! # Ok(())
//! # }
//! ```
//!
//! The URL decides the database: `postgres://` or `postgresql://`, `sqlite:` (for example
//! `sqlite:app.db?mode=rwc` or `sqlite::memory:`), `mysql://` or `mariadb://`.
//!
//! # Using the application's pool
//!
//! An application that already has a sqlx pool passes it in instead, so the library shares its
//! connections (and its TLS and timeout settings):
//!
//! ```no_run
//! # async fn setup() -> Result<(), Box<dyn std::error::Error>> {
//! use clerk_sync_sqlx::{SqlxStore, sqlx::PgPool};
//!
//! let pool = PgPool::connect("postgres://app@localhost/app").await?;
//! let store = SqlxStore::from_pool(pool.clone());
//! store.migrate().await?;
//! # Ok(())
//! # }
//! ```
//!
//! [`SqlxStore::from_pool`] takes a `PgPool`, `SqlitePool` or `MySqlPool` (anything that turns
//! into a [`DialectPool`]). For SQLite, configure the pool as [`SqlxStore::connect`] does: WAL
//! journal mode and a busy timeout (see `docs/sqlx-store.md`).
//!
//! # Migrations
//!
//! [`SqlxStore::migrate`] runs them; [`migrator`] returns the embedded [`sqlx::migrate::Migrator`]
//! for a dialect, already pointed at `_clerk_sync_migrations`, for applications that run
//! migrations from their own tooling. The SQL lives in `migrations/<dialect>/` of this crate.
//!
//! # Features
//!
//! `postgres`, `sqlite` and `mysql` (all on by default) each enable one sqlx driver.
//! [`sqlx`] is re-exported so the application uses the same version.
//!
//! [`SyncStore`]: clerk_sync_core::store::SyncStore

#[cfg(not(any(feature = "postgres", feature = "sqlite", feature = "mysql")))]
compile_error!("clerk-sync-sqlx needs at least one of the features `postgres`, `sqlite`, `mysql`");

pub use sqlx;

mod error;
pub mod migrator;
mod model;
mod store;
mod time_fmt;

#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use store::{Dialect, DialectPool, SqlxStore};

/// The workspace README's Rust examples, compiled (and run where not `no_run`) as doc tests so
/// the README stays true. They live here because they use this crate and the core.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
