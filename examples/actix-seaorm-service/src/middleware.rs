//! The service's own middleware around `clerk_sync_actix`'s routes: request timeouts and a
//! log line per request (the rate limits are in `rate_limit`).

use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, ResponseError};
use clerk_sync_actix::ClerkError;
use clerk_sync_core::http::{ApiError, X_REQUEST_ID};

/// Longest time for a request, but for the admin API: past it the answer is 503 with
/// `Retry-After` (for a webhook, Svix delivers it again; nothing half-written stays).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The admin API's limit: `POST /api/admin/sync-users` runs a whole reconcile. Large tables
/// are better reconciled by the schedule or the `reconcile` command.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(600);

/// Answer 503 with `Retry-After` when the request takes longer than its limit. Dropping the
/// handler rolls back an uncommitted transaction, and an unacknowledged webhook is delivered
/// again, so a timeout loses nothing.
///
/// The answer is an error, rendered by actix-web: a response needs the `HttpRequest`, and a
/// copy of it kept across the call would make actix-web's routing panic. So the error
/// carries the request id itself.
pub(crate) async fn timeout<B: MessageBody>(
    request: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, Error> {
    let limit = if request.path().starts_with("/api/admin/") {
        ADMIN_TIMEOUT
    } else {
        REQUEST_TIMEOUT
    };
    let request_id = request.headers().get(X_REQUEST_ID).cloned();
    match tokio::time::timeout(limit, next.call(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(limit_secs = limit.as_secs(), "request timed out");
            let error = ClerkError::from(ApiError::unavailable(
                "request_timeout",
                "the request took too long; retry later",
            ));
            Err(TimedOut { error, request_id }.into())
        }
    }
}

/// A request past its time limit: core's 503 with `Retry-After`, and its `X-Request-ID`.
#[derive(Debug)]
struct TimedOut {
    error: ClerkError,
    request_id: Option<HeaderValue>,
}

impl std::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl ResponseError for TimedOut {
    fn status_code(&self) -> StatusCode {
        self.error.status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = self.error.error_response();
        if let Some(id) = &self.request_id {
            response
                .headers_mut()
                .insert(HeaderName::from_static(X_REQUEST_ID), id.clone());
        }
        response
    }
}

/// One log line per request, with its status and latency, in the request's span (method,
/// route template and request id; never the query string).
pub(crate) async fn log_request<B: MessageBody>(
    request: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, Error> {
    let started = Instant::now();
    let response = next.call(request).await;
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match &response {
        Ok(response) => tracing::info!(
            status = response.status().as_u16(),
            latency_ms,
            "finished processing request"
        ),
        Err(error) => tracing::warn!(
            status = error.as_response_error().status_code().as_u16(),
            latency_ms,
            "request failed"
        ),
    }
    response
}

#[cfg(test)]
mod tests {
    use actix_web::body::MessageBody as _;

    use super::*;

    /// What a timed-out request answers: core's 503 JSON with `Retry-After`, and its id.
    #[test]
    fn a_timeout_answers_503_with_the_request_id() {
        let error = TimedOut {
            error: ClerkError::from(ApiError::unavailable(
                "request_timeout",
                "the request took too long; retry later",
            )),
            request_id: Some(HeaderValue::from_static("req-slow-1")),
        };
        assert_eq!(error.status_code(), StatusCode::SERVICE_UNAVAILABLE);
        let response = error.error_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers().get(X_REQUEST_ID).unwrap(), "req-slow-1");
        assert!(response.headers().contains_key("retry-after"));
        let body = response.into_body().try_into_bytes().expect("a full body");
        let body = String::from_utf8_lossy(&body);
        assert!(body.contains(r#""error":"request_timeout""#), "{body}");
    }
}
