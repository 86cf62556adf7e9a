//! Time values as every dialect stores them.
//!
//! All three databases keep microseconds, so every time is truncated to the microsecond (in
//! UTC) before it is written: a value read back then equals the value written, whatever the
//! dialect. SQLite has no time type; there times are TEXT in one fixed-width RFC 3339 form,
//! `2026-11-22T05:44:37.123456Z`, so that comparing the text (`<=` in claims, prune, leases)
//! compares the instants. MySQL's `DATETIME(6)` holds UTC; the store binds it as a parameter,
//! except in the statement text of group commit, which writes it as a literal.

use clerk_sync_core::store::StoreError;
use time::{
    OffsetDateTime, PrimitiveDateTime, UtcOffset, format_description::FormatItem,
    macros::format_description,
};

/// `t` in UTC, truncated to the microsecond.
pub(crate) fn micros(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(UtcOffset::UTC);
    let nanos = t.nanosecond() - t.nanosecond() % 1_000;
    t.replace_nanosecond(nanos).unwrap_or(t)
}

/// `t + d`, saturating far in the future rather than failing on absurd durations.
pub(crate) fn add(t: OffsetDateTime, d: std::time::Duration) -> OffsetDateTime {
    let d = time::Duration::try_from(d).unwrap_or(time::Duration::MAX);
    t.checked_add(d).unwrap_or(t)
}

#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
const TEXT_FORMAT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

/// The SQLite text form of `t`.
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
pub(crate) fn to_text(t: OffsetDateTime) -> String {
    micros(t)
        .format(TEXT_FORMAT)
        .unwrap_or_else(|_| "9999-12-31T23:59:59.999999Z".to_owned())
}

#[cfg_attr(not(feature = "mysql"), allow(dead_code))]
const MYSQL_LITERAL_FORMAT: &[FormatItem<'static>] =
    format_description!("'[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:6]'");

/// `t` as a MySQL `DATETIME(6)` string literal, quotes included: digits and separators only,
/// so it can go into statement text whatever the time.
#[cfg_attr(not(feature = "mysql"), allow(dead_code))]
pub(crate) fn to_mysql_literal(t: PrimitiveDateTime) -> String {
    t.format(MYSQL_LITERAL_FORMAT)
        .unwrap_or_else(|_| "'9999-12-31 23:59:59.999999'".to_owned())
}

/// Parse a stored SQLite time; any RFC 3339 form is accepted (a row written by another tool).
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
pub(crate) fn from_text(s: &str, column: &str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|t| t.to_offset(UtcOffset::UTC))
        .map_err(|_| StoreError::InvalidData {
            what: column.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn text_is_fixed_width_and_sorts_like_time() {
        let a = datetime!(2026-01-02 03:04:05 UTC);
        let b = datetime!(2026-01-02 03:04:05.5 UTC);
        let c = datetime!(2026-01-02 03:04:05.000001 +02:00);
        let (ta, tb, tc) = (to_text(a), to_text(b), to_text(c));
        assert_eq!(ta, "2026-01-02T03:04:05.000000Z");
        assert_eq!(tb, "2026-01-02T03:04:05.500000Z");
        assert_eq!(tc, "2026-01-02T01:04:05.000001Z");
        assert!(tc < ta && ta < tb);
        assert_eq!(from_text(&tb, "t").unwrap(), b);
    }

    #[test]
    fn mysql_literal_is_quoted_digits_and_separators() {
        let t = datetime!(2026-03-01 12:00:00.123456);
        assert_eq!(to_mysql_literal(t), "'2026-03-01 12:00:00.123456'");
        let t = datetime!(0987-01-02 03:04:05);
        assert_eq!(to_mysql_literal(t), "'0987-01-02 03:04:05.000000'");
    }

    #[test]
    fn micros_truncates_in_utc() {
        let t = datetime!(2026-01-02 03:04:05.123456789 +01:00);
        assert_eq!(micros(t), datetime!(2026-01-02 02:04:05.123456 UTC));
    }
}
