//! Copying core's answers into actix-web responses, and handing core a request's parts the
//! way it reads them.

use actix_web::body::BoxBody;
use actix_web::http::StatusCode;
use actix_web::http::header::{
    AUTHORIZATION, CONTENT_LENGTH, COOKIE, HeaderMap, HeaderName, HeaderValue,
};
use actix_web::{HttpRequest, HttpResponse, Responder};
use clerk_sync_core::http::{ApiError, HttpResponse as CoreResponse, SessionHeaders};

/// Core's [`HttpResponse`](CoreResponse) as an actix-web response: status, headers and body
/// copied as they are, nothing added.
///
/// Use it to answer from your own handlers with core's behaviour:
///
/// ```
/// use actix_web::web;
/// use clerk_sync_actix::{ClerkResponse, ClerkState};
///
/// async fn health(clerk: web::Data<ClerkState>) -> ClerkResponse {
///     ClerkResponse(clerk.http().health().await)
/// }
/// # let _ = actix_web::App::new().route("/health", web::get().to(health));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClerkResponse(pub CoreResponse);

impl From<CoreResponse> for ClerkResponse {
    fn from(response: CoreResponse) -> Self {
        ClerkResponse(response)
    }
}

impl From<ApiError> for ClerkResponse {
    fn from(error: ApiError) -> Self {
        ClerkResponse(error.into_response())
    }
}

impl From<Result<CoreResponse, ApiError>> for ClerkResponse {
    fn from(result: Result<CoreResponse, ApiError>) -> Self {
        ClerkResponse(result.unwrap_or_else(ApiError::into_response))
    }
}

impl Responder for ClerkResponse {
    type Body = BoxBody;

    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        to_actix(self.0)
    }
}

/// Core's answer, copied into an actix-web response.
pub(crate) fn to_actix(response: CoreResponse) -> HttpResponse {
    let CoreResponse {
        status,
        headers,
        body,
        ..
    } = response;
    // Core answers only valid statuses; a bug there must not become a panic here.
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::with_body(status, body);
    let map = response.headers_mut();
    for (name, value) in headers {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::try_from(value),
        ) {
            (Ok(name), Ok(value)) => map.append(name, value),
            _ => tracing::warn!(
                header = name,
                "core answered a header actix-web cannot send"
            ),
        }
    }
    response.map_into_boxed_body()
}

/// The request's `Authorization` and `Cookie` values, read by core
/// ([`SessionHeaders::from_raw`]: 400 for an `Authorization` that is not text).
pub(crate) fn session_headers(headers: &HeaderMap) -> Result<SessionHeaders<'_>, ApiError> {
    SessionHeaders::from_raw(
        headers.get(AUTHORIZATION).map(HeaderValue::as_bytes),
        headers.get_all(COOKIE).map(HeaderValue::as_bytes),
    )
}

/// The raw `Authorization` value, for core's admin-key check.
pub(crate) fn authorization(headers: &HeaderMap) -> Option<&[u8]> {
    headers.get(AUTHORIZATION).map(HeaderValue::as_bytes)
}

/// A header's value as text, for core's lookups ([`header_text`](clerk_sync_core::http::header_text)).
pub(crate) fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    clerk_sync_core::http::header_text(headers.get(name).map(HeaderValue::as_bytes))
}

/// The raw `Content-Length` value, for core's body reader.
pub(crate) fn content_length(headers: &HeaderMap) -> Option<&[u8]> {
    headers.get(CONTENT_LENGTH).map(HeaderValue::as_bytes)
}
