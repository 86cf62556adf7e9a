//! sea-orm entities for the five clerk-sync tables, in the sea-orm 2.0 dense format.
//!
//! They describe the shared schema (`docs/schema.md`), so an application can read the tables
//! with its own queries and relate its own entities to [`clerk_user`]. Writes that carry the
//! sync guarantees (the conditional upsert, the tombstone, outbox claims, leases) go through
//! [`SeaOrmStore`](crate::SeaOrmStore); writing these tables with plain `ActiveModel`s bypasses
//! the version guard.

pub mod clerk_user;
pub mod sync_lease;
pub mod sync_outbox;
pub mod sync_run;
pub mod webhook_event;

/// `use clerk_sync_seaorm::entity::prelude::*;` for the entity types under short names.
pub mod prelude {
    pub use super::clerk_user::Entity as ClerkUser;
    pub use super::sync_lease::Entity as SyncLease;
    pub use super::sync_outbox::Entity as SyncOutbox;
    pub use super::sync_run::Entity as SyncRun;
    pub use super::webhook_event::Entity as WebhookEvent;
}
