//! [`ApiError`]: every failure of every route, as a status, a stable code and a safe message.

use serde::Serialize;

use super::HttpResponse;
use crate::store::StoreError;
use crate::sync::SyncError;
use crate::webhook::WebhookError;

/// How long a client should wait before retrying a 503 (`Retry-After`, seconds). Svix keeps
/// its own schedule; this is for other clients.
pub const RETRY_AFTER_SECS: u64 = 5;

/// The `WWW-Authenticate` value of a 401 for a refused or missing session token (RFC 6750).
pub const WWW_AUTHENTICATE_TOKEN: &str = r#"Bearer error="invalid_token""#;

/// The `WWW-Authenticate` value of a 401 for a missing admin key.
pub const WWW_AUTHENTICATE_ADMIN: &str = r#"Bearer realm="clerk-sync admin""#;

/// A route's failure: an HTTP status, a machine-readable code and a human-readable message.
///
/// Its body is `{"error": code, "message": text}`. The message is written for the caller and
/// never carries a source chain, SQL, a token, a key, an email or a payload: the underlying
/// error is logged (by id and kind) where it happens, not returned.
///
/// ```
/// use clerk_sync_core::http::ApiError;
///
/// let error = ApiError::not_found("user");
/// assert_eq!(error.status, 404);
/// assert_eq!(error.code, "not_found");
/// let response = error.into_response();
/// assert_eq!(response.body, br#"{"error":"not_found","message":"user not found"}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// A stable snake_case code, e.g. `invalid_signature`, `token_expired`.
    pub code: &'static str,
    /// What went wrong, safe to show.
    pub message: String,
    /// Seconds for `Retry-After` (503 and 429).
    pub retry_after: Option<u64>,
    /// The `WWW-Authenticate` challenge of a 401.
    pub www_authenticate: Option<&'static str>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: &'a str,
}

impl ApiError {
    /// An error with this status, code and message.
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
            www_authenticate: None,
        }
    }

    /// 400: the request is malformed (bad JSON, a bad query parameter).
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(400, "bad_request", message)
    }

    /// 404: `what` does not exist.
    pub fn not_found(what: &str) -> Self {
        ApiError::new(404, "not_found", format!("{what} not found"))
    }

    /// 413: the body is over `limit` bytes.
    pub fn payload_too_large(limit: usize) -> Self {
        ApiError::new(
            413,
            "payload_too_large",
            format!("the request body is over the {limit}-byte limit"),
        )
    }

    /// 400: the request body could not be read to its end (the client went away, or sent a
    /// malformed chunked body). Adapters answer this when their body stream fails.
    pub fn unreadable_body() -> Self {
        ApiError::new(400, "unreadable_body", "the request body could not be read")
    }

    /// 400: header `name` is not text (it carries bytes outside visible ASCII and UTF-8).
    /// The value is never quoted back.
    pub fn invalid_header(name: &str) -> Self {
        ApiError::new(
            400,
            "invalid_header",
            format!("the `{name}` header is not valid text"),
        )
    }

    /// 400: a path segment (the `{id}` of a route) that the framework could not decode, e.g.
    /// percent-encoded bytes that are not UTF-8. The segment is never quoted back.
    pub fn invalid_path() -> Self {
        ApiError::bad_request("the path is not valid")
    }

    /// 404 for a path no route serves.
    pub fn route_not_found() -> Self {
        ApiError::not_found("route")
    }

    /// 405: the path exists but not for this method.
    pub fn method_not_allowed() -> Self {
        ApiError::new(
            405,
            "method_not_allowed",
            "this route does not take that method",
        )
    }

    /// 401 for a request with no session token.
    pub fn missing_token() -> Self {
        let mut error = ApiError::new(401, "missing_token", "a session token is required");
        error.www_authenticate = Some(WWW_AUTHENTICATE_TOKEN);
        error
    }

    /// 403: the signed-in user lacks the organization role or permission the route needs.
    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(403, "forbidden", message)
    }

    /// 503 with `Retry-After`: a dependency is down; the same request may work later.
    pub fn unavailable(code: &'static str, message: impl Into<String>) -> Self {
        let mut error = ApiError::new(503, code, message);
        error.retry_after = Some(RETRY_AFTER_SECS);
        error
    }

    /// 500: a bug or an unusable server state; details are in the server's log.
    pub fn internal() -> Self {
        ApiError::new(500, "internal_error", "the server failed; see its log")
    }

    /// The response: the JSON body, plus `Retry-After` and `WWW-Authenticate` when set.
    pub fn into_response(self) -> HttpResponse {
        let body = Body {
            error: self.code,
            message: &self.message,
        };
        let body = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
        let mut response = HttpResponse {
            status: self.status,
            headers: vec![("content-type", "application/json".to_owned())],
            body,
        };
        if let Some(seconds) = self.retry_after {
            response.headers.push(("retry-after", seconds.to_string()));
        }
        if let Some(challenge) = self.www_authenticate {
            response
                .headers
                .push(("www-authenticate", challenge.to_owned()));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        tracing::warn!(%error, "storage error answered as a server error");
        match error {
            StoreError::NotFound { what } => ApiError::not_found(what),
            StoreError::Unavailable(_) | StoreError::Backend(_) => {
                ApiError::unavailable("storage_unavailable", "the database is unavailable")
            }
            _ => ApiError::new(
                500,
                "storage_error",
                "the database refused the operation; see the server's log",
            ),
        }
    }
}

impl From<WebhookError> for ApiError {
    fn from(error: WebhookError) -> Self {
        match error {
            WebhookError::MissingHeader { name, .. } => ApiError::new(
                400,
                "missing_webhook_headers",
                format!("the `{name}` header (or its webhook-* name) is missing"),
            ),
            WebhookError::InvalidTimestamp => ApiError::new(
                400,
                "invalid_webhook_timestamp",
                "the webhook timestamp header is not Unix seconds",
            ),
            WebhookError::TimestampTooOld { .. } | WebhookError::TimestampTooNew { .. } => {
                ApiError::new(
                    401,
                    "webhook_timestamp_out_of_tolerance",
                    "the webhook timestamp is outside the allowed tolerance",
                )
            }
            WebhookError::NoMatchingSignature => ApiError::new(
                401,
                "invalid_signature",
                "no webhook signature matches a configured secret",
            ),
            // Secret errors are configuration mistakes made at startup, never per request.
            _ => ApiError::internal(),
        }
    }
}

#[cfg(feature = "jwt")]
impl From<crate::jwt::JwtError> for ApiError {
    fn from(error: crate::jwt::JwtError) -> Self {
        if !error.is_token_error() {
            tracing::warn!(%error, "session tokens cannot be verified");
            return ApiError::unavailable(
                error.code(),
                "session tokens cannot be verified right now",
            );
        }
        let mut api = ApiError::new(401, error.code(), error.to_string());
        api.www_authenticate = Some(WWW_AUTHENTICATE_TOKEN);
        api
    }
}

#[cfg(feature = "clerk-api")]
impl From<&crate::clerk_api::ClerkApiError> for ApiError {
    fn from(error: &crate::clerk_api::ClerkApiError) -> Self {
        tracing::warn!(%error, status = error.status(), "Clerk Backend API call failed");
        if error.is_retryable() {
            return ApiError::unavailable(
                "clerk_unavailable",
                "Clerk's Backend API is unavailable",
            );
        }
        if error.is_unauthorized() {
            return ApiError::new(
                502,
                "clerk_unauthorized",
                "Clerk refused the configured secret key",
            );
        }
        match error.status() {
            Some(400 | 422) => ApiError::new(
                422,
                "clerk_rejected",
                error
                    .long_message()
                    .map_or_else(|| "Clerk refused the request".to_owned(), str::to_owned),
            ),
            _ => ApiError::new(502, "clerk_error", "Clerk's answer could not be used"),
        }
    }
}

impl From<SyncError> for ApiError {
    fn from(error: SyncError) -> Self {
        match error {
            SyncError::Verification(error) => error.into(),
            SyncError::Store(error) => error.into(),
            SyncError::Hook { event_type, .. } => {
                tracing::warn!(%event_type, "a webhook hook failed");
                ApiError::unavailable("hook_failed", "processing failed and will be retried")
            }
            SyncError::InvalidInput { reason } => ApiError::new(422, "invalid_input", reason),
            SyncError::UserNotFound { .. } => ApiError::not_found("user"),
            #[cfg(feature = "clerk-api")]
            SyncError::ClerkApi(error) => ApiError::from(&*error),
            SyncError::ClerkApiNotConfigured => ApiError::unavailable(
                "clerk_api_not_configured",
                "this needs Clerk's Backend API: set CLERK_SECRET_KEY",
            ),
            SyncError::AlreadyRunning { job } => ApiError::new(
                409,
                "already_running",
                format!("a {job} is already running"),
            ),
            SyncError::LeaseLost { job } => ApiError::unavailable(
                "lease_lost",
                format!("the {job} lost its lease and stopped; run it again"),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_503_carries_retry_after_and_a_401_its_challenge() {
        let response =
            ApiError::from(StoreError::Unavailable("pool timed out".into())).into_response();
        assert_eq!(response.status, 503);
        assert_eq!(response.header("retry-after"), Some("5"));
        assert!(
            !String::from_utf8_lossy(&response.body).contains("pool"),
            "the source never reaches the body"
        );
        let response = ApiError::missing_token().into_response();
        assert_eq!(response.status, 401);
        assert_eq!(
            response.header("www-authenticate"),
            Some(WWW_AUTHENTICATE_TOKEN)
        );
    }

    #[test]
    fn webhook_failures_map_as_the_table_says() {
        let status = |e: WebhookError| ApiError::from(e).status;
        assert_eq!(
            status(WebhookError::MissingHeader {
                name: "svix-id",
                fallback: "webhook-id"
            }),
            400
        );
        assert_eq!(status(WebhookError::NoMatchingSignature), 401);
        assert_eq!(
            status(WebhookError::TimestampTooOld {
                timestamp: 1,
                now: 999
            }),
            401
        );
        assert_eq!(status(WebhookError::InvalidTimestamp), 400);
    }
}
