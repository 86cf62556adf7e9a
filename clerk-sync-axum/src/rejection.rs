//! [`ClerkRejection`]: why an extractor or an authorization check refused a request.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use clerk_sync_core::http::ApiError;

use crate::ClerkResponse;

/// Why [`ClerkSession`](crate::ClerkSession), [`CurrentUser`](crate::CurrentUser),
/// [`AdminAccess`](crate::AdminAccess) or an organization check refused a request.
///
/// It answers core's JSON error, `{"error": code, "message": text}`, with its headers:
///
/// | cause | status | `error` |
/// |---|---|---|
/// | no session token | 401 + `WWW-Authenticate: Bearer error="invalid_token"` | `missing_token` |
/// | a token that does not verify (bad signature, expired, wrong token class, ...) | 401 + `WWW-Authenticate` | the check's code, e.g. `token_expired` |
/// | an `Authorization` header that is not text | 400 | `invalid_header` |
/// | the organization role or permission is missing | 403 | `forbidden` |
/// | Clerk does not know the signed-in user | 404 | `not_found` |
/// | keys, Clerk or the database unavailable | 503 + `Retry-After` | e.g. `keys_unavailable`, `clerk_unavailable` |
/// | no admin key / a wrong one | 401 + `WWW-Authenticate` / 403 | `missing_admin_key` / `invalid_admin_key` |
///
/// Inspect it in your own handlers, e.g. to answer a redirect instead of a 401:
///
/// ```
/// use axum::http::StatusCode;
/// use axum::response::{IntoResponse, Redirect, Response};
/// use clerk_sync_axum::{ClerkRejection, ClerkSession};
///
/// async fn page(session: Result<ClerkSession, ClerkRejection>) -> Response {
///     match session {
///         Ok(session) => format!("hello {}", session.user_id()).into_response(),
///         Err(rejection) if rejection.status() == StatusCode::UNAUTHORIZED => {
///             Redirect::to("/sign-in").into_response()
///         }
///         Err(rejection) => rejection.into_response(),
///     }
/// }
/// # let _ = axum::Router::<clerk_sync_axum::ClerkState>::new().route("/", axum::routing::get(page));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(transparent)]
pub struct ClerkRejection(ApiError);

impl ClerkRejection {
    /// The HTTP status it answers.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The stable machine-readable code of the JSON body, e.g. `token_expired`.
    pub fn code(&self) -> &'static str {
        self.0.code
    }

    /// The human-readable message of the JSON body (never a token, key or payload).
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// Core's error, with every header it answers.
    pub fn api_error(&self) -> &ApiError {
        &self.0
    }

    /// Core's error, by value.
    pub fn into_api_error(self) -> ApiError {
        self.0
    }
}

impl From<ApiError> for ClerkRejection {
    fn from(error: ApiError) -> Self {
        ClerkRejection(error)
    }
}

impl IntoResponse for ClerkRejection {
    fn into_response(self) -> Response {
        ClerkResponse(self.0.into_response()).into_response()
    }
}
