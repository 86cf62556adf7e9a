//! Time arithmetic every store shares, so that a huge TTL or backoff means the same instant in
//! memory and in every database.

use std::time::Duration;

use time::OffsetDateTime;

/// The latest instant a store keeps: `9999-12-31T23:59:59.999999Z`.
///
/// It is the largest value of MySQL's `DATETIME(6)`, inside PostgreSQL's `timestamptz` range,
/// and the latest time SQLite's fixed-width text form can hold. Every sum of a time and a
/// duration saturates here, so "far in the future" is the same instant in every store.
pub const MAX_STORED_TIME: OffsetDateTime = time::macros::datetime!(9999-12-31 23:59:59.999999 UTC);

/// `at + by`, saturating at [`MAX_STORED_TIME`].
///
/// A lease of `Duration::MAX` or a backoff of centuries means "effectively never", not an
/// overflow that wraps to `now` (which would make a lease free at once and an entry due at once).
///
/// ```
/// use std::time::Duration;
/// use clerk_sync_core::store::{MAX_STORED_TIME, saturating_add};
///
/// let now = time::OffsetDateTime::now_utc();
/// assert_eq!(saturating_add(now, Duration::MAX), MAX_STORED_TIME);
/// assert!(saturating_add(now, Duration::from_secs(1)) > now);
/// ```
pub fn saturating_add(at: OffsetDateTime, by: Duration) -> OffsetDateTime {
    let sum = time::Duration::try_from(by)
        .ok()
        .and_then(|by| at.checked_add(by))
        .unwrap_or(MAX_STORED_TIME);
    sum.min(MAX_STORED_TIME)
}

/// `at` in UTC without its sub-microsecond part: SQL stores keep microseconds, and every store
/// holds the same value for the same write.
pub fn whole_micros(at: OffsetDateTime) -> OffsetDateTime {
    let at = at.to_offset(time::UtcOffset::UTC);
    at.replace_nanosecond(at.nanosecond() / 1_000 * 1_000)
        .unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturates_instead_of_wrapping() {
        let now = time::macros::datetime!(2026-03-01 12:00:00 UTC);
        assert_eq!(saturating_add(now, Duration::MAX), MAX_STORED_TIME);
        assert_eq!(
            saturating_add(now, Duration::from_secs(u64::from(u32::MAX) * 1_000)),
            MAX_STORED_TIME,
            "beyond the year 9999 but within time's range"
        );
        assert_eq!(
            saturating_add(now, Duration::from_secs(30)),
            time::macros::datetime!(2026-03-01 12:00:30 UTC)
        );
        assert_eq!(
            saturating_add(MAX_STORED_TIME, Duration::from_nanos(1)),
            MAX_STORED_TIME
        );
    }

    #[test]
    fn whole_micros_truncates_in_utc() {
        let at = time::macros::datetime!(2026-03-01 12:00:00.123456789 +02:00);
        assert_eq!(
            whole_micros(at),
            time::macros::datetime!(2026-03-01 10:00:00.123456 UTC)
        );
        assert_eq!(whole_micros(at).offset(), time::UtcOffset::UTC);
    }
}
