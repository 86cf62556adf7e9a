//! Injected failures, and the optional built-in rate limit that answers 429 as Clerk does.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use axum::http::StatusCode;

/// A failure FakeClerk plays instead of (or around) a normal answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// 429 with `Retry-After` (whole seconds, rounded up) and Clerk's error body. The request
    /// is not applied.
    RateLimited {
        /// What `Retry-After` says.
        retry_after: Duration,
    },
    /// This status (meant for 5xx) with Clerk's error body. The request is not applied.
    Status(StatusCode),
    /// Waits this long, then handles the request normally. A client that times out first
    /// may or may not see the request applied, as with a real slow server.
    Latency(Duration),
    /// Applies the request, then answers 200 with a body that is not valid JSON (a truncated
    /// object).
    Garbage,
    /// Applies the request, then closes the connection without any answer: the lost answer
    /// of a successful create.
    DropResponse,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::RateLimited { retry_after } => {
                write!(f, "rate_limited({}s)", retry_after.as_secs())
            }
            Fault::Status(status) => write!(f, "status({})", status.as_u16()),
            Fault::Latency(delay) => write!(f, "latency({}ms)", delay.as_millis()),
            Fault::Garbage => f.write_str("garbage"),
            Fault::DropResponse => f.write_str("drop_response"),
        }
    }
}

/// Which requests a fault applies to: a method, a route template, both, or anything.
///
/// Templates are the Backend API's paths with `{id}` for a path parameter, the same strings
/// the client's `endpoint` metric label uses: `/v1/users`, `/v1/users/count`,
/// `/v1/users/{id}`, `/v1/users/{id}/metadata`, `/v1/invitations`, `/v1/jwks`,
/// `/.well-known/jwks.json`.
///
/// ```
/// use clerk_sync_testing::Route;
///
/// let create = Route::post("/v1/users");
/// assert!(create.matches("POST", "/v1/users"));
/// assert!(!create.matches("GET", "/v1/users"));
/// assert!(Route::any().matches("DELETE", "/v1/users/{id}"));
/// assert!(Route::path("/v1/users/{id}").matches("PATCH", "/v1/users/{id}"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Route {
    method: Option<String>,
    template: Option<String>,
}

impl Route {
    /// Every request.
    pub fn any() -> Self {
        Self::default()
    }

    /// This method (any case) on this template.
    pub fn new(method: &str, template: &str) -> Self {
        Self {
            method: Some(method.to_ascii_uppercase()),
            template: Some(template.to_owned()),
        }
    }

    /// Any method on this template.
    pub fn path(template: &str) -> Self {
        Self {
            method: None,
            template: Some(template.to_owned()),
        }
    }

    /// `GET` on this template.
    pub fn get(template: &str) -> Self {
        Self::new("GET", template)
    }

    /// `POST` on this template.
    pub fn post(template: &str) -> Self {
        Self::new("POST", template)
    }

    /// `PATCH` on this template.
    pub fn patch(template: &str) -> Self {
        Self::new("PATCH", template)
    }

    /// `DELETE` on this template.
    pub fn delete(template: &str) -> Self {
        Self::new("DELETE", template)
    }

    /// Whether a request with this method and route template is covered.
    pub fn matches(&self, method: &str, template: &str) -> bool {
        self.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self.template.as_deref().is_none_or(|t| t == template)
    }
}

struct Injection {
    route: Route,
    fault: Fault,
    /// `None`: until cleared.
    remaining: Option<usize>,
}

/// The injected faults, in the order they were added.
#[derive(Default)]
pub(crate) struct FaultBook {
    injections: Vec<Injection>,
}

impl FaultBook {
    pub(crate) fn add(&mut self, route: Route, fault: Fault, times: Option<usize>) {
        if times == Some(0) {
            return;
        }
        self.injections.push(Injection {
            route,
            fault,
            remaining: times,
        });
    }

    pub(crate) fn clear(&mut self) {
        self.injections.clear();
    }

    /// The fault for this request, if any: counted injections first (oldest first), then
    /// persistent ones, so `fail_next` can punch through a standing fault.
    pub(crate) fn take(&mut self, method: &str, template: &str) -> Option<Fault> {
        let counted = self
            .injections
            .iter()
            .position(|i| i.remaining.is_some_and(|n| n > 0) && i.route.matches(method, template));
        if let Some(index) = counted {
            let injection = &mut self.injections[index];
            let fault = injection.fault.clone();
            injection.remaining = injection.remaining.map(|n| n - 1);
            if injection.remaining == Some(0) {
                self.injections.remove(index);
            }
            return Some(fault);
        }
        self.injections
            .iter()
            .find(|i| i.remaining.is_none() && i.route.matches(method, template))
            .map(|i| i.fault.clone())
    }
}

/// Clerk's own limit: at most `requests` admitted in any sliding `window`; beyond that,
/// 429 with `Retry-After` until the oldest admitted request leaves the window.
pub(crate) struct RateWindow {
    requests: usize,
    window: Duration,
    admitted: VecDeque<Instant>,
}

impl RateWindow {
    pub(crate) fn new(requests: usize, window: Duration) -> Self {
        Self {
            requests: requests.max(1),
            window,
            admitted: VecDeque::new(),
        }
    }

    /// `Ok` when admitted; otherwise the `Retry-After` in whole seconds (at least 1).
    pub(crate) fn admit(&mut self, now: Instant) -> Result<(), u64> {
        while self
            .admitted
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) >= self.window)
        {
            self.admitted.pop_front();
        }
        if self.admitted.len() < self.requests {
            self.admitted.push_back(now);
            return Ok(());
        }
        let wait = self.admitted.front().map_or(Duration::ZERO, |&oldest| {
            self.window
                .saturating_sub(now.saturating_duration_since(oldest))
        });
        Err(seconds_up(wait).max(1))
    }
}

/// Whole seconds, rounded up, as `Retry-After` carries them.
pub(crate) fn seconds_up(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_faults_run_out_and_win_over_persistent_ones() {
        let mut book = FaultBook::default();
        book.add(Route::any(), Fault::Status(StatusCode::BAD_GATEWAY), None);
        book.add(Route::get("/v1/users"), Fault::Garbage, Some(2));
        assert_eq!(book.take("GET", "/v1/users"), Some(Fault::Garbage));
        assert_eq!(book.take("GET", "/v1/users"), Some(Fault::Garbage));
        assert_eq!(
            book.take("GET", "/v1/users"),
            Some(Fault::Status(StatusCode::BAD_GATEWAY))
        );
        book.clear();
        assert_eq!(book.take("GET", "/v1/users"), None);
    }

    #[test]
    fn the_window_slides() {
        let start = Instant::now();
        let mut window = RateWindow::new(2, Duration::from_secs(10));
        assert!(window.admit(start).is_ok());
        assert!(window.admit(start + Duration::from_secs(4)).is_ok());
        assert_eq!(window.admit(start + Duration::from_secs(5)), Err(5));
        assert!(window.admit(start + Duration::from_secs(10)).is_ok());
        assert_eq!(
            window.admit(start + Duration::from_millis(10_500)),
            Err(4),
            "3.5 s until the second request leaves, rounded up"
        );
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(seconds_up(Duration::from_millis(1)), 1);
        assert_eq!(seconds_up(Duration::from_secs(2)), 2);
        assert_eq!(seconds_up(Duration::ZERO), 0);
    }
}
