//! [`AdminAccess`]: the admin API key check as an extractor.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};

use crate::ClerkError;
use crate::response::authorization;
use crate::state::state_of;

/// Proof that the request carries `Authorization: Bearer <admin key>` (compared in constant
/// time by core's [`AdminKey`](clerk_sync_core::http::AdminKey)).
///
/// Every route of [`admin_routes`](crate::admin_routes) takes it first; put it first in your
/// own admin handlers too. Refusals ([`ClerkError`]): 401 `missing_admin_key` with
/// `WWW-Authenticate` without a bearer key, 403 `invalid_admin_key` for a wrong one, 404 when
/// the state has no admin key (the admin API is off).
///
/// ```
/// use clerk_sync_actix::AdminAccess;
///
/// async fn purge_cache(_: AdminAccess) -> &'static str {
///     "purged"
/// }
/// # let _ = actix_web::App::new().route("/", actix_web::web::post().to(purge_cache));
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct AdminAccess;

impl FromRequest for AdminAccess {
    type Error = ClerkError;
    type Future = Ready<Result<Self, ClerkError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            state_of(request)
                .and_then(|state| {
                    state
                        .http()
                        .check_admin_header(authorization(request.headers()))
                })
                .map(|()| AdminAccess)
                .map_err(ClerkError::from),
        )
    }
}
