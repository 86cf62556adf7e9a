//! Copying core's answers into axum responses, and reading request parts the way core wants
//! them.

use std::borrow::Cow;

use axum::body::{Body, Bytes};
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH, COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use clerk_sync_core::http::{ApiError, HttpResponse};
use http_body_util::{BodyExt, LengthLimitError, Limited};

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

/// The raw `Authorization` and `Cookie` values of a request, as core's session check takes
/// them. Several `Cookie` headers (HTTP/2 may split them) are joined with `; `.
pub(crate) struct SessionHeaders<'a> {
    pub(crate) authorization: Option<&'a str>,
    pub(crate) cookie: Option<Cow<'a, str>>,
}

impl<'a> SessionHeaders<'a> {
    /// # Errors
    ///
    /// 400 when `Authorization` is present but not text: a credential we cannot read is not
    /// the same as no credential, so it must not fall through to "signed out".
    pub(crate) fn of(parts: &'a Parts) -> Result<Self, ApiError> {
        Self::from_headers(&parts.headers)
    }

    pub(crate) fn from_headers(headers: &'a HeaderMap) -> Result<Self, ApiError> {
        let authorization = headers
            .get(AUTHORIZATION)
            .map(|value| {
                std::str::from_utf8(value.as_bytes())
                    .map_err(|_| ApiError::invalid_header("authorization"))
            })
            .transpose()?;
        // Other applications' cookies may hold any bytes; only `__session` matters here, so
        // unreadable bytes are replaced rather than refused.
        let mut cookies = headers
            .get_all(COOKIE)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()));
        let cookie = match (cookies.next(), cookies.next()) {
            (None, _) => None,
            (Some(one), None) => Some(one),
            (Some(first), Some(second)) => {
                let mut joined = format!("{first}; {second}");
                for more in cookies {
                    joined.push_str("; ");
                    joined.push_str(&more);
                }
                Some(Cow::Owned(joined))
            }
        };
        Ok(SessionHeaders {
            authorization,
            cookie,
        })
    }
}

/// A header's value as text, for core's lookups: a value that is not UTF-8 reads as absent
/// (core then answers what a missing header gets).
pub(crate) fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| std::str::from_utf8(v.as_bytes()).ok())
}

/// The request body, read to its end but never past `limit` bytes.
///
/// # Errors
///
/// 413 (core's JSON) when `Content-Length` announces more than `limit` (nothing is read) or
/// the body turns out longer; 400 when the body stream fails.
pub(crate) async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let announced = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|length| length > limit as u64) {
        return Err(ApiError::payload_too_large(limit));
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(ApiError::payload_too_large(limit)),
        Err(error) => {
            tracing::debug!(%error, "request body could not be read");
            Err(ApiError::unreadable_body())
        }
    }
}
