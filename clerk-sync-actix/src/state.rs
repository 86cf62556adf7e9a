//! [`ClerkState`]: what the extractors and services need, registered as `web::Data`. It is
//! core's, re-exported: the axum crate takes the same value.

use actix_web::HttpRequest;
use actix_web::web::Data;
use clerk_sync_core::http::ApiError;

/// The state behind every extractor and route of this crate (core's
/// [`ClerkState`](clerk_sync_core::http::ClerkState), re-exported).
///
/// The extractors find it as `web::Data<ClerkState>` in the application's data.
/// [`configure`](crate::configure) registers it; when you mount the services one by one,
/// register it yourself with `App::app_data(web::Data::new(state))`.
#[doc(inline)]
pub use clerk_sync_core::http::ClerkState;

/// The state registered in the application's data.
///
/// # Errors
///
/// 500 when none is registered: a mistake in the application's setup, logged once per
/// request as an error, never a reason to panic a worker.
pub(crate) fn state_of(request: &HttpRequest) -> Result<&ClerkState, ApiError> {
    request
        .app_data::<Data<ClerkState>>()
        .map(|data| data.get_ref())
        .ok_or_else(|| {
            tracing::error!(
                "clerk-sync-actix: no web::Data<ClerkState> in the application's data; \
                 register it with App::app_data or mount the routes with configure(state)"
            );
            ApiError::internal()
        })
}
