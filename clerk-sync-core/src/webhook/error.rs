//! Why a webhook secret was refused or a delivery failed verification.

/// Why a webhook secret was refused or a delivery failed verification.
///
/// Every variant says what was wrong without carrying key material: a secret is never echoed
/// back, not even the offending byte of an undecodable one, because error messages end up in
/// logs. Values that come from the request itself (header names, the timestamp) are safe to
/// report and are kept to make rejected deliveries easy to diagnose.
///
/// Secret errors ([`EmptySecret`](Self::EmptySecret), [`InvalidSecret`](Self::InvalidSecret),
/// [`NoSecrets`](Self::NoSecrets)) are configuration mistakes; every other variant means the
/// delivery is not authentic (or too old) and should be answered with a 4xx.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// A secret decoded to zero bytes (`""` or a bare `"whsec_"`): an empty HMAC key would let
    /// anyone forge signatures.
    #[error("webhook secret #{index} is empty")]
    EmptySecret {
        /// Position of the secret in the list given to the constructor (0 for
        /// [`WebhookVerifier::new`](super::WebhookVerifier::new)).
        index: usize,
    },
    /// A secret is not standard base64 (after the optional `whsec_` prefix).
    #[error("webhook secret #{index} is not valid base64 (expected \"whsec_<base64>\")")]
    InvalidSecret {
        /// Position of the secret in the list given to the constructor (0 for
        /// [`WebhookVerifier::new`](super::WebhookVerifier::new)).
        index: usize,
    },
    /// [`WebhookVerifier::from_secrets`](super::WebhookVerifier::from_secrets) was given no
    /// secret at all.
    #[error("no webhook secret configured")]
    NoSecrets,
    /// A required header is absent under both its Svix and its Standard Webhooks name.
    #[error("missing webhook header `{name}` (or `{fallback}`)")]
    MissingHeader {
        /// The Svix name, e.g. `"svix-id"`.
        name: &'static str,
        /// The Standard Webhooks name tried next, e.g. `"webhook-id"`.
        fallback: &'static str,
    },
    /// The timestamp header is not a plain non-negative decimal integer that fits in an `i64`.
    #[error("webhook timestamp is not a plain decimal integer of Unix seconds")]
    InvalidTimestamp,
    /// The timestamp is further in the past than the tolerance allows (a replay, or a delivery
    /// that sat in a queue too long).
    #[error("webhook timestamp {timestamp} is too old (now {now})")]
    TimestampTooOld {
        /// The timestamp from the header, in Unix seconds.
        timestamp: i64,
        /// The time it was checked against, in Unix seconds.
        now: i64,
    },
    /// The timestamp is further in the future than the tolerance allows (usually clock skew).
    #[error("webhook timestamp {timestamp} is too far in the future (now {now})")]
    TimestampTooNew {
        /// The timestamp from the header, in Unix seconds.
        timestamp: i64,
        /// The time it was checked against, in Unix seconds.
        now: i64,
    },
    /// No well-formed `v1` entry of the signature header matches any configured secret.
    #[error("no webhook signature matches")]
    NoMatchingSignature,
}
