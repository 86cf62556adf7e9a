//! How failed requests are retried: bounded attempts and total time, exponential backoff
//! with full jitter, and a cap on what a `Retry-After` may impose.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// When and how long to retry a failed request.
///
/// Retried: 429 (after its `Retry-After`), 5xx, timeouts and connection failures, for
/// `GET`, `PATCH` and `DELETE`. A create (`POST`) is retried only when it surely did not
/// reach Clerk (connection refused, 429); otherwise its error is
/// [ambiguous](super::ClerkApiError::is_ambiguous) and returned at once.
///
/// Between attempts the client sleeps a random time between zero and
/// `initial_backoff * 2^(attempt - 1)` (capped at `max_backoff`): "full jitter", so many
/// clients that failed together do not retry together.
///
/// ```
/// use std::time::Duration;
/// use clerk_sync_core::clerk_api::RetryPolicy;
///
/// let policy = RetryPolicy::default()
///     .max_attempts(3)
///     .initial_backoff(Duration::from_millis(50))
///     .max_elapsed(Duration::from_secs(5));
/// assert_eq!(policy.attempts(), 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_elapsed: Duration,
    max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, backoff from 500 ms up to 10 s, at most 60 s in all, and a `Retry-After`
    /// honoured up to 60 s.
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
            max_elapsed: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retries.
    pub fn none() -> Self {
        Self::default().max_attempts(1)
    }

    /// Attempts in all, the first included (at least 1).
    #[must_use]
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The backoff ceiling of the first retry; it doubles per retry.
    #[must_use]
    pub fn initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }

    /// The largest backoff ceiling.
    #[must_use]
    pub fn max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }

    /// No retry starts (or is waited for) beyond this time since the first attempt.
    #[must_use]
    pub fn max_elapsed(mut self, elapsed: Duration) -> Self {
        self.max_elapsed = elapsed;
        self
    }

    /// The longest `Retry-After` honoured; a longer one is cut to this.
    #[must_use]
    pub fn max_retry_after(mut self, retry_after: Duration) -> Self {
        self.max_retry_after = retry_after;
        self
    }

    /// Attempts in all, the first included.
    pub fn attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The bound on the total time spent on one call.
    pub fn elapsed_limit(&self) -> Duration {
        self.max_elapsed
    }

    /// The cap applied to `Retry-After`.
    pub fn retry_after_limit(&self) -> Duration {
        self.max_retry_after
    }

    /// The backoff ceiling before retry number `retry` (1 for the first retry).
    pub(crate) fn backoff_ceiling(&self, retry: u32) -> Duration {
        let doublings = retry.saturating_sub(1).min(31);
        self.initial_backoff
            .saturating_mul(1u32 << doublings)
            .min(self.max_backoff)
    }

    /// A random sleep in `[0, ceiling]` before retry number `retry`.
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        self.backoff_ceiling(retry).mul_f64(unit_random())
    }
}

/// A uniform number in `[0, 1)`. `RandomState` is seeded randomly per process and advanced
/// per instance, which is plenty for jitter and saves a dependency.
fn unit_random() -> f64 {
    let bits = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_double_and_cap() {
        let policy = RetryPolicy::default()
            .initial_backoff(Duration::from_millis(100))
            .max_backoff(Duration::from_millis(500));
        assert_eq!(policy.backoff_ceiling(1), Duration::from_millis(100));
        assert_eq!(policy.backoff_ceiling(2), Duration::from_millis(200));
        assert_eq!(policy.backoff_ceiling(3), Duration::from_millis(400));
        assert_eq!(policy.backoff_ceiling(4), Duration::from_millis(500));
        assert_eq!(policy.backoff_ceiling(u32::MAX), Duration::from_millis(500));
    }

    #[test]
    fn jitter_spreads_within_the_ceiling() {
        let policy = RetryPolicy::default().initial_backoff(Duration::from_secs(1));
        let waits: Vec<_> = (0..200).map(|_| policy.backoff(1)).collect();
        assert!(waits.iter().all(|w| *w <= Duration::from_secs(1)));
        let low = waits
            .iter()
            .filter(|w| **w < Duration::from_millis(500))
            .count();
        // Full jitter: about half below the midpoint, never all the same.
        assert!((40..=160).contains(&low), "{low} of 200 below the midpoint");
    }

    #[test]
    fn at_least_one_attempt() {
        assert_eq!(RetryPolicy::default().max_attempts(0).attempts(), 1);
        assert_eq!(RetryPolicy::none().attempts(), 1);
    }
}
