//! Copying core's answers into axum responses, and reading request parts the way core wants
//! them.

use axum::body::Body;
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH, COOKIE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use clerk_sync_core::http::{ApiError, HttpResponse, SessionHeaders};

/// Core's [`HttpResponse`] as an axum response: status, headers and body copied as they
/// are, nothing added.
///
/// Use it to answer from your own handlers with core's behaviour:
///
/// ```
/// use axum::extract::State;
/// use clerk_sync_axum::{ClerkResponse, ClerkState};
///
/// async fn health(State(clerk): State<ClerkState>) -> ClerkResponse {
///     ClerkResponse(clerk.http().health().await)
/// }
/// # let _ = axum::Router::<ClerkState>::new().route("/health", axum::routing::get(health));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClerkResponse(pub HttpResponse);

impl From<HttpResponse> for ClerkResponse {
    fn from(response: HttpResponse) -> Self {
        ClerkResponse(response)
    }
}

impl From<ApiError> for ClerkResponse {
    fn from(error: ApiError) -> Self {
        ClerkResponse(error.into_response())
    }
}

impl From<Result<HttpResponse, ApiError>> for ClerkResponse {
    fn from(result: Result<HttpResponse, ApiError>) -> Self {
        ClerkResponse(result.unwrap_or_else(ApiError::into_response))
    }
}

impl IntoResponse for ClerkResponse {
    fn into_response(self) -> Response {
        let HttpResponse {
            status,
            headers,
            body,
            ..
        } = self.0;
        let mut response = Response::new(Body::from(body));
        // Core answers only valid statuses; a bug there must not become a panic here.
        *response.status_mut() =
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let map = response.headers_mut();
        for (name, value) in headers {
            match (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::try_from(value),
            ) {
                (Ok(name), Ok(value)) => {
                    map.append(name, value);
                }
                _ => tracing::warn!(header = name, "core answered a header axum cannot send"),
            }
        }
        response
    }
}

/// The raw `Authorization` and `Cookie` values of a request, read by core.
///
/// # Errors
///
/// 400 when `Authorization` is present but not text ([`SessionHeaders::from_raw`]).
pub(crate) fn session_headers(headers: &HeaderMap) -> Result<SessionHeaders<'_>, ApiError> {
    SessionHeaders::from_raw(
        headers.get(AUTHORIZATION).map(HeaderValue::as_bytes),
        headers.get_all(COOKIE).iter().map(HeaderValue::as_bytes),
    )
}

/// A header's value as text, for core's lookups ([`header_text`](clerk_sync_core::http::header_text)).
pub(crate) fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    clerk_sync_core::http::header_text(headers.get(name).map(HeaderValue::as_bytes))
}

/// The request body, read by core's [`read_body`](clerk_sync_core::http::read_body): never
/// past `limit` bytes (413), 400 when the body stream fails.
pub(crate) async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Vec<u8>, ApiError> {
    clerk_sync_core::http::read_body(
        headers.get(CONTENT_LENGTH).map(HeaderValue::as_bytes),
        body.into_data_stream(),
        limit,
    )
    .await
}
