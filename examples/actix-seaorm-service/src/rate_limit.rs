//! Per-address rate limits on the webhook route and the admin API, as the axum service sets
//! them with tower_governor: the same limiter (`governor`), the same quotas and headers.

use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use actix_web::middleware::Next;
use actix_web::{Error, Responder as _, web};
use clerk_sync_actix::{ClerkResponse, WEBHOOK_PATH};
use clerk_sync_core::http::ApiError;
use governor::clock::{Clock as _, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use service_common::{ServiceError, Shutdown};

/// How often addresses not seen for a while are forgotten, so the tables stay small.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

type Limiter = DefaultKeyedRateLimiter<IpAddr, StateInformationMiddleware>;

/// The two limiters, shared by every worker: `RATE_LIMIT_WEBHOOK` for
/// `POST /api/webhooks/clerk`, `RATE_LIMIT_ADMIN` for `/api/admin/...`; each allows a burst of
/// twice its rate per client address.
#[derive(Debug, Clone)]
pub(crate) struct RateLimits {
    webhook: Arc<Limiter>,
    admin: Arc<Limiter>,
}

impl RateLimits {
    /// Limiters of `webhook` and `admin` requests per second per address; their tables are
    /// swept every minute until `shutdown`.
    pub(crate) fn new(webhook: u32, admin: u32, shutdown: &Shutdown) -> Result<Self, ServiceError> {
        let limits = RateLimits {
            webhook: limiter("RATE_LIMIT_WEBHOOK", webhook)?,
            admin: limiter("RATE_LIMIT_ADMIN", admin)?,
        };
        let (swept, stop) = (limits.clone(), shutdown.wait());
        tokio::spawn(async move {
            let mut stop = std::pin::pin!(stop);
            let mut tick = tokio::time::interval(SWEEP_EVERY);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    () = &mut stop => return,
                }
                swept.webhook.retain_recent();
                swept.admin.retain_recent();
            }
        });
        Ok(limits)
    }

    /// The limiter of the route `path` belongs to, if it is limited.
    fn of(&self, path: &str) -> Option<&Limiter> {
        if path == WEBHOOK_PATH {
            Some(&self.webhook)
        } else if path.starts_with("/api/admin/") {
            Some(&self.admin)
        } else {
            None
        }
    }
}

fn limiter(var: &str, per_second: u32) -> Result<Arc<Limiter>, ServiceError> {
    let rate = NonZeroU32::new(per_second)
        .ok_or_else(|| ServiceError::Other(format!("{var}: a rate limit cannot be zero")))?;
    let burst = rate.saturating_add(rate.get());
    let quota = Quota::per_second(rate).allow_burst(burst);
    Ok(Arc::new(
        RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>(),
    ))
}

/// Middleware (`from_fn`, with [`RateLimits`] in the app data): a limited route answers with
/// `X-RateLimit-Limit` (the burst) and `X-RateLimit-Remaining`; past the limit it answers
/// 429 with core's JSON error (`rate_limited`), `Retry-After` (at least 1 s) and
/// `X-RateLimit-After`, without calling the route.
pub(crate) async fn rate_limit<B: MessageBody>(
    limits: web::Data<RateLimits>,
    request: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    let Some(limiter) = limits.of(request.path()) else {
        return Ok(next.call(request).await?.map_into_left_body());
    };
    // Always known on a TCP listener; otherwise such requests share one budget.
    let address = request
        .peer_addr()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
    match limiter.check_key(&address) {
        Ok(state) => {
            let mut response = next.call(request).await?;
            set_limits(
                response.headers_mut(),
                state.quota().burst_size().get(),
                state.remaining_burst_capacity(),
            );
            Ok(response.map_into_left_body())
        }
        Err(refused) => {
            let wait = refused
                .wait_time_from(DefaultClock::default().now())
                .as_secs();
            tracing::info!(wait_secs = wait, "rate limited");
            let answer = ClerkResponse::from(ApiError::new(
                429,
                "rate_limited",
                "too many requests from this address; retry after the Retry-After seconds",
            ))
            .respond_to(request.request());
            let mut response = request.into_response(answer);
            let headers = response.headers_mut();
            set_limits(headers, refused.quota().burst_size().get(), 0);
            headers.insert(
                HeaderName::from_static("x-ratelimit-after"),
                HeaderValue::from(wait),
            );
            headers.insert(RETRY_AFTER, HeaderValue::from(wait.max(1)));
            Ok(response.map_into_right_body())
        }
    }
}

fn set_limits(headers: &mut HeaderMap, limit: u32, remaining: u32) {
    headers.insert(
        HeaderName::from_static("x-ratelimit-limit"),
        HeaderValue::from(limit),
    );
    headers.insert(
        HeaderName::from_static("x-ratelimit-remaining"),
        HeaderValue::from(remaining),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_limited_route_has_its_limiter_with_a_burst_of_twice_the_rate() {
        let shutdown = Shutdown::new();
        let limits = RateLimits::new(3, 1, &shutdown).expect("limits");
        let burst = |path| {
            limits
                .of(path)
                .map(|limiter| limiter.check_key(&IpAddr::V4(Ipv4Addr::LOCALHOST)))
                .map(|state| state.expect("within the burst").quota().burst_size().get())
        };
        assert_eq!(burst("/api/webhooks/clerk"), Some(6));
        assert_eq!(burst("/api/admin/users"), Some(2));
        for free in ["/api/me", "/health", "/metrics", "/admin", "/api/adminx"] {
            assert_eq!(burst(free), None, "{free} is not limited");
        }
        // The admin burst of 2 is spent (one check above): one more, then refused.
        let admin = limits.of("/api/admin/counts").expect("limited");
        let address = IpAddr::V4(Ipv4Addr::LOCALHOST);
        assert_eq!(
            admin
                .check_key(&address)
                .expect("2 of 2")
                .remaining_burst_capacity(),
            0
        );
        assert!(admin.check_key(&address).is_err(), "past the burst");
        // Another address has its own budget.
        assert!(
            admin
                .check_key(&IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)))
                .is_ok()
        );
        shutdown.trigger();
    }

    #[tokio::test]
    async fn a_zero_rate_names_its_variable() {
        let error = RateLimits::new(200, 0, &Shutdown::new()).expect_err("zero");
        assert!(error.to_string().starts_with("RATE_LIMIT_ADMIN"), "{error}");
    }
}
