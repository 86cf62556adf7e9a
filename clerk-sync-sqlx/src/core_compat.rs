//! Values of clerk-sync-core types that a crate outside core cannot build yet.
//!
//! `UserVersion` and `EnqueuedChange` are `#[non_exhaustive]` and have neither a constructor,
//! `Default` nor `Deserialize`, so no store outside clerk-sync-core can return them. Until core
//! adds constructors, the operations that return them fail with a backend error that says so.

use clerk_sync_core::store::{EnqueuedChange, LocalUser, StoreError, UserVersion};

const MISSING: &str = "clerk-sync-core offers no constructor for this type yet";

pub(crate) fn user_version(
    _clerk_id: String,
    _clerk_updated_at: Option<i64>,
    _deleted: bool,
) -> Result<UserVersion, StoreError> {
    Err(StoreError::Backend(MISSING.into()))
}

pub(crate) fn enqueued(_user: LocalUser, _outbox_id: i64) -> Result<EnqueuedChange, StoreError> {
    Err(StoreError::Backend(MISSING.into()))
}
