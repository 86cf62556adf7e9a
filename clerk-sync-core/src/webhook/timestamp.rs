//! The timestamp header: strict parsing and the replay window.

use super::WebhookError;

/// A parsed `svix-timestamp` value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timestamp<'a> {
    /// Unix seconds.
    pub(crate) seconds: i64,
    /// The decimal digits without leading zeros: the Svix libraries sign the re-formatted
    /// integer, not the header text, so `0001614265330` must be signed as `1614265330`.
    pub(crate) canonical: &'a str,
}

impl<'a> Timestamp<'a> {
    /// Accepts ASCII digits only. `str::parse` would also take `+5`, and a sign, spaces or a
    /// fraction have no business in a header that Svix always writes as plain digits; being
    /// strict keeps "what was signed" unambiguous.
    pub(crate) fn parse(header: &'a str) -> Result<Self, WebhookError> {
        if header.is_empty() || !header.bytes().all(|b| b.is_ascii_digit()) {
            return Err(WebhookError::InvalidTimestamp);
        }
        // Checked arithmetic: 20-digit values and beyond overflow and are refused, not wrapped.
        let seconds = header.bytes().try_fold(0i64, |acc, digit| {
            acc.checked_mul(10)?.checked_add(i64::from(digit - b'0'))
        });
        let seconds = seconds.ok_or(WebhookError::InvalidTimestamp)?;
        let trimmed = header.trim_start_matches('0');
        let canonical = if trimmed.is_empty() { "0" } else { trimmed };
        Ok(Self { seconds, canonical })
    }

    /// Checks `|now - seconds| <= tolerance`, saturating so that hostile values at either end
    /// of the `i64` range cannot overflow.
    pub(crate) fn check_window(self, now: i64, tolerance: i64) -> Result<(), WebhookError> {
        let timestamp = self.seconds;
        if now.saturating_sub(timestamp) > tolerance {
            Err(WebhookError::TimestampTooOld { timestamp, now })
        } else if timestamp.saturating_sub(now) > tolerance {
            Err(WebhookError::TimestampTooNew { timestamp, now })
        } else {
            Ok(())
        }
    }
}
