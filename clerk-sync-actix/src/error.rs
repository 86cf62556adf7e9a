//! [`ClerkError`]: why an extractor or an authorization check refused a request.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use clerk_sync_core::http::ApiError;

use crate::response::to_actix;

/// Why [`ClerkSession`](crate::ClerkSession), [`CurrentUser`](crate::CurrentUser),
/// [`AdminAccess`](crate::AdminAccess) or an organization check refused a request: the
/// counterpart of `clerk_sync_axum::ClerkRejection`.
///
/// It implements [`ResponseError`]: returned from a handler or an extractor it answers core's
/// JSON error, `{"error": code, "message": text}`, with its headers:
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
/// | no `web::Data<ClerkState>` registered (a setup mistake, logged) | 500 | `internal_error` |
///
/// Inspect it in your own handlers, e.g. to answer a redirect instead of a 401:
///
/// ```
/// use actix_web::http::StatusCode;
/// use actix_web::{HttpResponse, ResponseError};
/// use clerk_sync_actix::{ClerkError, ClerkSession};
///
/// async fn page(session: Result<ClerkSession, ClerkError>) -> HttpResponse {
///     match session {
///         Ok(session) => HttpResponse::Ok().body(format!("hello {}", session.user_id())),
///         Err(error) if error.status() == StatusCode::UNAUTHORIZED => HttpResponse::Found()
///             .insert_header(("location", "/sign-in"))
///             .finish(),
///         Err(error) => error.error_response(),
///     }
/// }
/// # let _ = actix_web::App::new().route("/", actix_web::web::get().to(page));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(transparent)]
pub struct ClerkError(ApiError);

impl ClerkError {
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

impl From<ApiError> for ClerkError {
    fn from(error: ApiError) -> Self {
        ClerkError(error)
    }
}

impl ResponseError for ClerkError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        to_actix(self.0.clone().into_response())
    }
}
