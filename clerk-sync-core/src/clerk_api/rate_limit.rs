//! The client-side request budget: a sliding-window limiter shared by every clone of a
//! client, and the pause a 429 imposes on all of them.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::error::ClerkApiError;

/// Clerk's budget for a production instance (`sk_live_`): 1000 requests per 10 s.
pub const PRODUCTION_REQUESTS_PER_10S: u32 = 1000;
/// Clerk's budget for a development instance (`sk_test_`): 100 requests per 10 s.
pub const DEVELOPMENT_REQUESTS_PER_10S: u32 = 100;

/// The longest window accepted: anything longer is surely a unit mistake.
const MAX_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// How many requests may start in any sliding window.
///
/// ```
/// use std::time::Duration;
/// use clerk_sync_core::clerk_api::RateLimit;
///
/// let limit = RateLimit::new(20, Duration::from_secs(1))?;
/// assert_eq!(limit.requests(), 20);
/// assert!(RateLimit::new(0, Duration::from_secs(1)).is_err());
/// # Ok::<(), clerk_sync_core::clerk_api::ClerkApiError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    requests: u32,
    window: Duration,
}

impl RateLimit {
    /// At most `requests` requests in any `window`.
    ///
    /// # Errors
    ///
    /// [`ClerkApiError::InvalidConfiguration`] for zero requests, a zero window, or a window
    /// longer than a day.
    pub fn new(requests: u32, window: Duration) -> Result<Self, ClerkApiError> {
        if requests == 0 {
            return Err(ClerkApiError::InvalidConfiguration(
                "a rate limit needs at least one request per window",
            ));
        }
        if window.is_zero() || window > MAX_WINDOW {
            return Err(ClerkApiError::InvalidConfiguration(
                "a rate-limit window must be longer than zero and at most a day",
            ));
        }
        Ok(Self { requests, window })
    }

    /// Clerk's documented budget for the instance a secret key belongs to: 1000 per 10 s for
    /// `sk_live_`, 100 per 10 s for anything else (`sk_test_`).
    pub fn for_secret_key(secret_key: &str) -> Self {
        let requests = if secret_key.starts_with("sk_live_") {
            PRODUCTION_REQUESTS_PER_10S
        } else {
            DEVELOPMENT_REQUESTS_PER_10S
        };
        Self {
            requests,
            window: Duration::from_secs(10),
        }
    }

    /// Requests allowed per window.
    pub fn requests(&self) -> u32 {
        self.requests
    }

    /// The window.
    pub fn window(&self) -> Duration {
        self.window
    }
}

/// Far enough ahead to mean "not before the caller gives up", without overflowing `Instant`.
fn saturating_add(at: Instant, by: Duration) -> Instant {
    at.checked_add(by)
        .or_else(|| at.checked_add(MAX_WINDOW))
        .unwrap_or(at)
}

struct State {
    /// The requests inside the window, by id: each one's start, or once it has been answered,
    /// its end. Never longer than `limit.requests`.
    slots: Vec<(u64, Instant)>,
    next_id: u64,
    /// No request starts before this (set by a 429's `Retry-After`).
    paused_until: Option<Instant>,
}

/// The shared limiter. A sliding log rather than a token bucket: a bucket refilled per
/// window lets two full bursts land back to back across a boundary, which is exactly what
/// Clerk's window counts and refuses.
///
/// A request holds its slot until one window after it was *answered*, not after it started:
/// Clerk counts a request when it arrives, which is some time after it was sent, and a slot
/// freed one window after the send could let the next request arrive inside Clerk's window.
/// Measured from the answer (which comes after the arrival), the next request always arrives
/// after the window closed on Clerk's side too.
pub(crate) struct RateLimiter {
    limit: RateLimit,
    state: Mutex<State>,
}

/// A slot in the window, held for one request; dropping it (the request was answered, or
/// given up) starts the slot's last window.
pub(crate) struct Permit<'a> {
    limiter: &'a RateLimiter,
    id: u64,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let now = Instant::now();
        let mut state = self
            .limiter
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = state.slots.iter_mut().find(|(id, _)| *id == self.id) {
            slot.1 = now;
        }
    }
}

impl RateLimiter {
    pub(crate) fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            state: Mutex::new(State {
                slots: Vec::with_capacity(limit.requests.min(4096) as usize),
                next_id: 0,
                paused_until: None,
            }),
        }
    }

    pub(crate) fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Waits until a request may start, and holds its slot until the permit is dropped.
    pub(crate) async fn acquire(&self) -> Permit<'_> {
        loop {
            match self.try_admit(Instant::now()) {
                Ok(id) => return Permit { limiter: self, id },
                Err(wake_at) => tokio::time::sleep_until(wake_at).await,
            }
        }
    }

    /// Admits a request at `now` (its slot id), or says when to try again.
    fn try_admit(&self, now: Instant) -> Result<u64, Instant> {
        // The lock is never held across an await, so a poisoned one only means a panic
        // elsewhere; the counts are still consistent.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(until) = state.paused_until {
            if until > now {
                return Err(until);
            }
            state.paused_until = None;
        }
        let window = self.limit.window;
        state
            .slots
            .retain(|&(_, at)| saturating_add(at, window) > now);
        if state.slots.len() < self.limit.requests as usize {
            let id = state.next_id;
            state.next_id += 1;
            state.slots.push((id, now));
            return Ok(id);
        }
        // Full: the next slot opens when the earliest one leaves the window. A slot still in
        // flight moves later when it is answered; waking then just checks again.
        let earliest = state.slots.iter().map(|&(_, at)| at).min().unwrap_or(now);
        Err(saturating_add(earliest, window))
    }

    /// Holds every request (of every clone) for `pause`, as a 429's `Retry-After` asks.
    pub(crate) fn pause_for(&self, pause: Duration) {
        let until = saturating_add(Instant::now(), pause);
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.paused_until = Some(state.paused_until.map_or(until, |u| u.max(until)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_follow_the_key_kind() {
        assert_eq!(RateLimit::for_secret_key("sk_live_x").requests(), 1000);
        assert_eq!(RateLimit::for_secret_key("sk_test_x").requests(), 100);
        assert_eq!(
            RateLimit::for_secret_key("sk_test_x").window(),
            Duration::from_secs(10)
        );
        assert!(RateLimit::new(1, Duration::ZERO).is_err());
        assert!(RateLimit::new(1, Duration::from_secs(90_000)).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn never_more_than_the_budget_in_any_window() {
        let window = Duration::from_secs(10);
        let limiter = RateLimiter::new(RateLimit::new(5, window).unwrap());
        let mut starts = Vec::new();
        for _ in 0..23 {
            limiter.acquire().await;
            starts.push(Instant::now());
        }
        for (i, &start) in starts.iter().enumerate() {
            let in_window = starts[i..].iter().filter(|&&t| t < start + window).count();
            assert!(in_window <= 5, "{in_window} requests within one window");
        }
        // And it is not slower than needed: 23 requests = 5 windows minus the first.
        assert_eq!(starts[22] - starts[0], window * 4);
    }

    /// Spread-out requests are where a fixed or bucket window fails: one request at 0 s,
    /// four at 9 s; at 10 s only the slot of the first has opened, so a burst of five then
    /// gets one slot and the rest wait until 19 s.
    #[tokio::test(start_paused = true)]
    async fn slots_reopen_one_by_one() {
        let limiter = RateLimiter::new(RateLimit::new(5, Duration::from_secs(10)).unwrap());
        let begin = Instant::now();
        limiter.acquire().await;
        tokio::time::sleep(Duration::from_secs(9)).await;
        for _ in 0..4 {
            limiter.acquire().await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let mut starts = Vec::new();
        for _ in 0..5 {
            limiter.acquire().await;
            starts.push(Instant::now() - begin);
        }
        assert_eq!(starts[0], Duration::from_secs(10));
        assert!(
            starts[1..].iter().all(|&s| s == Duration::from_secs(19)),
            "{starts:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_every_request() {
        let limiter = RateLimiter::new(RateLimit::new(100, Duration::from_secs(10)).unwrap());
        let begin = Instant::now();
        limiter.pause_for(Duration::from_secs(3));
        // A shorter pause never shortens a longer one.
        limiter.pause_for(Duration::from_secs(1));
        limiter.acquire().await;
        assert_eq!(Instant::now() - begin, Duration::from_secs(3));
        limiter.acquire().await;
        assert_eq!(Instant::now() - begin, Duration::from_secs(3));
    }

    /// Clerk counts a request when it arrives; a slow request that started at 0 s but was
    /// answered at 5 s keeps its slot until 15 s, so the next one cannot arrive inside
    /// Clerk's window.
    #[tokio::test(start_paused = true)]
    async fn a_slot_is_held_until_one_window_after_the_answer() {
        let limiter = RateLimiter::new(RateLimit::new(1, Duration::from_secs(10)).unwrap());
        let begin = Instant::now();
        let in_flight = limiter.acquire().await;
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(in_flight);
        let _next = limiter.acquire().await;
        assert_eq!(Instant::now() - begin, Duration::from_secs(15));
    }
}
