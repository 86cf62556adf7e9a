//! The clerk-sync store on sea-orm 2.0.
#![doc = include_str!("../README.md")]

mod batch;
mod convert;
pub mod entity;
mod error;
mod inbound_pg;
mod ledger;
pub mod migration;
mod outbox;
mod sql;
mod store;
mod users;

pub use migration::Migrator;
pub use sea_orm;
pub use sea_orm_migration;
pub use store::SeaOrmStore;
