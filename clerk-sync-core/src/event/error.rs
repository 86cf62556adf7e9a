//! Why a webhook body could not be turned into a [`WebhookEvent`](super::WebhookEvent).

/// Why a webhook body could not be parsed into a [`WebhookEvent`](super::WebhookEvent).
///
/// Every variant describes the body, never echoes it: bodies carry personal data and these
/// errors end up in logs and in the webhook ledger.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// The body is not UTF-8, so it cannot be JSON.
    #[error("webhook body is not valid UTF-8")]
    NotUtf8(#[source] std::str::Utf8Error),
    /// The body is not a JSON object of the envelope's shape (syntax error, wrong type of a
    /// top-level field, trailing data, ...).
    #[error("webhook body is not a well-formed Clerk event envelope")]
    Malformed(#[source] serde_json::Error),
    /// A field every Clerk event carries is absent (or `null`).
    #[error("webhook envelope has no `{field}` field")]
    MissingField {
        /// The envelope field that was missing: `"type"`, `"data"` or `"timestamp"`.
        field: &'static str,
    },
    /// The envelope `timestamp` is not an integer that fits a date between the years -9999 and
    /// 9999.
    #[error("webhook envelope timestamp is out of range or not an integer")]
    InvalidTimestamp,
    /// The event type is known but its `data` does not have the documented shape.
    #[error("`data` of a `{event_type}` event does not have the documented shape")]
    InvalidData {
        /// The wire event type, e.g. `"user.created"`.
        event_type: String,
        /// What serde found wrong (field name, line and column; no payload contents).
        #[source]
        source: serde_json::Error,
    },
}
