//! clerk-sync for sea-orm 2.0 applications: entities, a migrator, and the clerk-sync-sqlx
//! store on the connection's own pool.
#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod entity;
mod error;
pub mod migration;
mod store;

pub use clerk_sync_sqlx;
pub use migration::Migrator;
pub use sea_orm;
pub use sea_orm_migration;
pub use store::SeaOrmStore;
