//! [`AdminAccess`]: the admin API key check as an extractor.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::{ClerkRejection, ClerkState};

/// Proof that the request carries `Authorization: Bearer <admin key>` (compared in constant
/// time by core's [`AdminKey`](clerk_sync_core::http::AdminKey)).
///
/// Every route of [`admin_router`](crate::admin_router) takes it first; put it first in your
/// own admin handlers too. Rejections: 401 `missing_admin_key` with `WWW-Authenticate`
/// without a bearer key, 403 `invalid_admin_key` for a wrong one, 404 when the state has no
/// admin key (the admin API is off).
///
/// ```
/// use clerk_sync_axum::AdminAccess;
///
/// async fn purge_cache(_: AdminAccess) -> &'static str {
///     "purged"
/// }
/// # let _ = axum::Router::<clerk_sync_axum::ClerkState>::new().route("/", axum::routing::post(purge_cache));
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct AdminAccess;

impl<S> FromRequestParts<S> for AdminAccess
where
    ClerkState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ClerkRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = ClerkState::from_ref(state);
        state
            .http()
            .check_admin_header(parts.headers.get(AUTHORIZATION).map(|v| v.as_bytes()))?;
        Ok(AdminAccess)
    }
}
