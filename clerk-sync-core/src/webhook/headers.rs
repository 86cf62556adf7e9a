//! The three delivery headers, found under their Svix or Standard Webhooks names.

use super::WebhookError;

/// Svix name of the message id header.
pub const SVIX_ID: &str = "svix-id";
/// Svix name of the timestamp header.
pub const SVIX_TIMESTAMP: &str = "svix-timestamp";
/// Svix name of the signature header.
pub const SVIX_SIGNATURE: &str = "svix-signature";
/// Standard Webhooks name of the message id header.
pub const WEBHOOK_ID: &str = "webhook-id";
/// Standard Webhooks name of the timestamp header.
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
/// Standard Webhooks name of the signature header.
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";

/// The raw values of the three headers a delivery is verified with.
///
/// Values are kept as received; [`WebhookVerifier::verify`](super::WebhookVerifier::verify)
/// does all the parsing, so building this never fails on a malformed value, only on a missing
/// header (through [`from_lookup`](Self::from_lookup)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookHeaders<'a> {
    /// The message id (`svix-id`), unique per message and stable across retries.
    pub id: &'a str,
    /// The Unix time of signing in seconds (`svix-timestamp`), as a decimal string.
    pub timestamp: &'a str,
    /// Space-separated `version,base64` signatures (`svix-signature`).
    pub signature: &'a str,
}

impl<'a> WebhookHeaders<'a> {
    /// Reads the headers through `get`, a lookup into the request's header map.
    ///
    /// For each header the `svix-*` name is tried first, then the `webhook-*` (Standard
    /// Webhooks) name, each header independently, so a request may mix both families.
    /// `get` is always asked for **lowercase** names; HTTP header names are case-insensitive,
    /// so a lookup over raw, mixed-case names must compare case-insensitively itself (the
    /// `http::HeaderMap` used by axum and actix-web already does).
    ///
    /// # Errors
    ///
    /// [`WebhookError::MissingHeader`] naming the first header absent under both names.
    ///
    /// # Example
    ///
    /// ```
    /// use clerk_sync_core::webhook::WebhookHeaders;
    ///
    /// let request = [
    ///     ("svix-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
    ///     ("webhook-timestamp", "1614265330"),
    ///     ("svix-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
    /// ];
    /// let headers = WebhookHeaders::from_lookup(|name| {
    ///     request.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| *v)
    /// })?;
    /// assert_eq!(headers.timestamp, "1614265330");
    /// # Ok::<(), clerk_sync_core::webhook::WebhookError>(())
    /// ```
    pub fn from_lookup(get: impl Fn(&str) -> Option<&'a str>) -> Result<Self, WebhookError> {
        let find = |name: &'static str, fallback: &'static str| {
            get(name)
                .or_else(|| get(fallback))
                .ok_or(WebhookError::MissingHeader { name, fallback })
        };
        Ok(Self {
            id: find(SVIX_ID, WEBHOOK_ID)?,
            timestamp: find(SVIX_TIMESTAMP, WEBHOOK_TIMESTAMP)?,
            signature: find(SVIX_SIGNATURE, WEBHOOK_SIGNATURE)?,
        })
    }
}
