//! sea-orm errors from migrating onto [`StoreError`].
//!
//! Store operations return clerk-sync-sqlx's errors unchanged; only [`Migrator`] runs through
//! sea-orm. Messages are fixed; the sea-orm error (which may hold SQL, never a URL) is kept as
//! the source only.
//!
//! [`Migrator`]: crate::migration::Migrator

use clerk_sync_core::store::StoreError;
use sea_orm::{DbErr, RuntimeErr, SqlxError};

/// Map an error of `Migrator::up`, keeping it as the source.
///
/// The connection failing is `Unavailable` (run the migrations again later); sea-orm-migration
/// refusing the recorded history (a migration applied that this version does not know: the
/// database was migrated by a newer clerk-sync) is `Schema`; a statement failing is `Backend`.
pub(crate) fn map_migrate(err: DbErr) -> StoreError {
    let unavailable = match &err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            matches!(
                **e,
                SqlxError::Io(_)
                    | SqlxError::Tls(_)
                    | SqlxError::Protocol(_)
                    | SqlxError::PoolTimedOut
                    | SqlxError::PoolClosed
                    | SqlxError::WorkerCrashed
            )
        }
        _ => false,
    };
    if unavailable {
        StoreError::Unavailable(Box::new(err))
    } else if matches!(err, DbErr::Custom(_) | DbErr::Migration(_)) {
        StoreError::Schema(Box::new(err))
    } else {
        StoreError::Backend(Box::new(err))
    }
}
