//! Sending one call: wait for the limiter, send, judge the answer, and retry what may be
//! retried, within the policy's bounds. Every attempt is counted and logged, with the route
//! template, the status and the attempt number only.

use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use reqwest::{Response, Url};
use tokio::time::Instant;

use super::ClerkApi;
use super::endpoint::Endpoint;
use super::error::{ClerkApiError, ClerkErrors, TransportErrorKind};

/// The API version every request pins, so Clerk never changes shapes under us.
pub const API_VERSION: &str = "2026-05-12";

/// The header that pins it.
const API_VERSION_HEADER: &str = "Clerk-API-Version";

/// The metric every attempt increments.
pub(crate) const REQUESTS_METRIC: &str = "clerk_sync_clerk_api_requests_total";

/// An answer larger than this is refused: a page of 500 users is a few MiB.
const MAX_BODY_BYTES: usize = 64 << 20;

/// A success answer.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

/// What one attempt came to.
enum Verdict {
    Done(Answer),
    /// Worth another attempt; a 429 may say when.
    Retry {
        error: ClerkApiError,
        retry_after: Option<Duration>,
    },
    Fail(ClerkApiError),
}

impl ClerkApi {
    /// Sends a call until it succeeds, fails for good, or the retry policy runs out; returns
    /// the 2xx answer or the last error.
    pub(crate) async fn execute(
        &self,
        endpoint: Endpoint,
        url: &Url,
        body: Option<&[u8]>,
    ) -> Result<Answer, ClerkApiError> {
        let started = Instant::now();
        let policy = self.retry;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            // Retries wait for the budget like first attempts: a retry storm is still load.
            let permit = self.limiter.acquire().await;
            let verdict = self.attempt(endpoint, url, body, attempt).await;
            drop(permit);
            let (error, retry_after) = match verdict {
                Verdict::Done(answer) => return Ok(answer),
                Verdict::Fail(error) => return Err(error),
                Verdict::Retry { error, retry_after } => (error, retry_after),
            };
            let rate_limited = matches!(error, ClerkApiError::RateLimited { .. });
            let wait = match retry_after {
                Some(after) => after.min(policy.retry_after_limit()),
                None => policy.backoff(attempt),
            };
            if attempt >= policy.attempts()
                || started.elapsed().saturating_add(wait) > policy.elapsed_limit()
            {
                tracing::warn!(
                    endpoint = endpoint.label(),
                    attempt,
                    status = error.status(),
                    "Clerk API call failed; no retries left"
                );
                return Err(error);
            }
            if rate_limited {
                // The budget is per secret key: every clone of this client backs off.
                self.limiter.pause_for(wait);
            }
            tracing::info!(
                endpoint = endpoint.label(),
                attempt,
                status = error.status(),
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                "retrying Clerk API call"
            );
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(
        &self,
        endpoint: Endpoint,
        url: &Url,
        body: Option<&[u8]>,
        attempt: u32,
    ) -> Verdict {
        let mut request = self
            .http
            .request(endpoint.method(), url.clone())
            .header(AUTHORIZATION, self.authorization.clone())
            .header(API_VERSION_HEADER, API_VERSION)
            .header(ACCEPT, "application/json")
            .timeout(self.request_timeout);
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_vec());
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => return transport_failure(endpoint, attempt, error),
        };
        let status = response.status().as_u16();
        count(endpoint, status_label(status));
        tracing::debug!(
            endpoint = endpoint.label(),
            status,
            attempt,
            "Clerk API answered"
        );
        let retry_after = parse_retry_after(response.headers());
        let body = match read_body(response).await {
            Ok(body) => body,
            Err(BodyError::TooLarge) => {
                return Verdict::Fail(ClerkApiError::UnexpectedResponse {
                    status,
                    reason: "the answer is larger than 64 MiB",
                });
            }
            // The status arrived but the body was cut: as ambiguous as no answer at all.
            Err(BodyError::Transport(error)) => {
                return transport_failure(endpoint, attempt, error);
            }
        };
        judge(endpoint, status, retry_after, body)
    }
}

/// Classifies an answer by status.
fn judge(endpoint: Endpoint, status: u16, retry_after: Option<Duration>, body: Vec<u8>) -> Verdict {
    if (200..300).contains(&status) {
        return Verdict::Done(Answer { status, body });
    }
    let errors = ClerkErrors::parse(&body);
    match status {
        // Clerk counted and refused it: surely not applied, so even a create may retry.
        429 => Verdict::Retry {
            error: ClerkApiError::RateLimited {
                retry_after,
                errors,
            },
            retry_after,
        },
        500..=599 if endpoint.is_idempotent() => Verdict::Retry {
            error: ClerkApiError::Server {
                status,
                errors,
                ambiguous: false,
            },
            retry_after: None,
        },
        // A 5xx after a create may come after the user was written: only a lookup can tell.
        500..=599 => Verdict::Fail(ClerkApiError::Server {
            status,
            errors,
            ambiguous: true,
        }),
        401 | 403 => Verdict::Fail(ClerkApiError::Unauthorized { status, errors }),
        404 => Verdict::Fail(ClerkApiError::NotFound { errors }),
        400 | 422 => Verdict::Fail(ClerkApiError::Validation { status, errors }),
        _ => Verdict::Fail(ClerkApiError::Rejected { status, errors }),
    }
}

/// Classifies a request that got no (complete) answer.
fn transport_failure(endpoint: Endpoint, attempt: u32, error: reqwest::Error) -> Verdict {
    // Connect errors (refused, DNS, TLS, connect timeout) happen before a byte of the request
    // is sent; anything later may have reached Clerk.
    let kind = if error.is_connect() || error.is_builder() {
        TransportErrorKind::Connect
    } else if error.is_timeout() {
        TransportErrorKind::Timeout
    } else {
        TransportErrorKind::Connection
    };
    let label = match kind {
        TransportErrorKind::Connect => "connect_error",
        TransportErrorKind::Timeout => "timeout",
        TransportErrorKind::Connection => "connection_error",
    };
    count(endpoint, label);
    tracing::debug!(
        endpoint = endpoint.label(),
        status = label,
        attempt,
        "Clerk API request failed"
    );
    let ambiguous = kind != TransportErrorKind::Connect && !endpoint.is_idempotent();
    // The URL may carry an email address (`?email_address=`): it never goes into an error.
    let error = ClerkApiError::Transport {
        kind,
        ambiguous,
        source: error.without_url(),
    };
    if ambiguous || error_is_final(&error) {
        Verdict::Fail(error)
    } else {
        Verdict::Retry {
            error,
            retry_after: None,
        }
    }
}

/// A request that could not even be built will not build next time either.
fn error_is_final(error: &ClerkApiError) -> bool {
    matches!(error, ClerkApiError::Transport { source, .. } if source.is_builder())
}

fn count(endpoint: Endpoint, status: &'static str) {
    metrics::counter!(REQUESTS_METRIC, "endpoint" => endpoint.label(), "status" => status)
        .increment(1);
}

/// Status codes as static labels, so counting allocates nothing.
fn status_label(status: u16) -> &'static str {
    match status {
        200 => "200",
        201 => "201",
        204 => "204",
        400 => "400",
        401 => "401",
        402 => "402",
        403 => "403",
        404 => "404",
        409 => "409",
        422 => "422",
        429 => "429",
        500 => "500",
        502 => "502",
        503 => "503",
        504 => "504",
        _ if status < 200 => "1xx",
        _ if status < 300 => "2xx",
        _ if status < 400 => "3xx",
        _ if status < 500 => "4xx",
        _ => "5xx",
    }
}

/// `Retry-After` in seconds. The HTTP-date form is not used by Clerk and is ignored (the
/// backoff applies instead).
fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    value.parse::<u64>().ok().map(Duration::from_secs)
}

enum BodyError {
    TooLarge,
    Transport(reqwest::Error),
}

async fn read_body(mut response: Response) -> Result<Vec<u8>, BodyError> {
    if response
        .content_length()
        .is_some_and(|len| len > MAX_BODY_BYTES as u64)
    {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_judged_by_method() {
        let body = br#"{"errors":[{"code":"x","message":"m","long_message":"lm"}]}"#.to_vec();
        let verdict = |endpoint, status| judge(endpoint, status, None, body.clone());
        assert!(matches!(verdict(Endpoint::GetUser, 200), Verdict::Done(_)));
        assert!(matches!(
            verdict(Endpoint::GetUser, 503),
            Verdict::Retry {
                error: ClerkApiError::Server {
                    ambiguous: false,
                    ..
                },
                ..
            }
        ));
        assert!(matches!(
            verdict(Endpoint::CreateUser, 503),
            Verdict::Fail(ClerkApiError::Server {
                ambiguous: true,
                ..
            })
        ));
        assert!(matches!(
            verdict(Endpoint::CreateUser, 429),
            Verdict::Retry {
                error: ClerkApiError::RateLimited { .. },
                ..
            }
        ));
        assert!(matches!(
            verdict(Endpoint::UpdateUser, 409),
            Verdict::Fail(ClerkApiError::Rejected { status: 409, .. })
        ));
        match verdict(Endpoint::CreateUser, 422) {
            Verdict::Fail(error) => assert_eq!(error.long_message(), Some("lm")),
            _ => panic!("422 is final"),
        }
    }

    #[test]
    fn retry_after_is_whole_seconds() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(parse_retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(parse_retry_after(&headers), None);
    }
}
