//! The clerk-sync store on [sqlx] 0.9: PostgreSQL, SQLite and MySQL/MariaDB.
//!
//! [`SqlxStore`] implements every store trait of `clerk_sync_core::store` (and so
//! [`SyncStore`]) on one of three databases, picked from the URL. This crate holds the one SQL
//! implementation per dialect; clerk-sync-seaorm runs this same store on sea-orm's own pool.
//! Its migrations are embedded and recorded in `_clerk_sync_migrations`, so they never collide
//! with the application's own `_sqlx_migrations`.
//!
//! Every statement runs on a connection of the caller's pool (the store opens none of its
//! own) with every value a bound parameter, so sqlx's statement logging, as the application
//! configures it, never shows a value.
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
//! `sqlite:app.db`, created when missing, or `sqlite::memory:`), `mysql://` or `mariadb://`.
//! A URL the store cannot use, or a server that refuses the login, fails at once with
//! [`StoreError::Configuration`](clerk_sync_core::store::StoreError::Configuration); a server
//! that cannot be reached with `Unavailable`, and its cause. No error repeats the URL.
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
//! # Layout
//!
//! Most statements are written once for all three databases (`users.rs`, `ledger.rs`,
//! `outbox.rs`, `jobs.rs`) and decoded in one place (`rows.rs`, with the time codec in
//! `codec.rs`); each dialect's module holds only what it says differently, and why. Database
//! errors are classified by one table per dialect (`error.rs`).
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

#![forbid(unsafe_code)]

#[cfg(not(any(feature = "postgres", feature = "sqlite", feature = "mysql")))]
compile_error!("clerk-sync-sqlx needs at least one of the features `postgres`, `sqlite`, `mysql`");

pub use sqlx;

mod backend;
mod codec;
mod connect;
mod error;
mod jobs;
mod ledger;
pub mod migrator;
mod outbox;
mod rows;
mod store;
mod users;

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
