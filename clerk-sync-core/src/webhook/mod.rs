//! Verifying Clerk webhooks.
//!
//! Clerk delivers webhooks through Svix, which signs them with the
//! [Standard Webhooks](https://www.standardwebhooks.com/) scheme: three headers carry a
//! message id, a Unix timestamp and one or more `v1,<base64>` signatures, each the
//! HMAC-SHA256 of `id.timestamp.body` under the endpoint's `whsec_` secret.
//!
//! [`WebhookVerifier`] checks them; [`WebhookHeaders::from_lookup`] reads the headers from any
//! header map. Verify the raw body before parsing it.
//!
//! ```
//! use clerk_sync_core::webhook::{WebhookHeaders, WebhookVerifier};
//!
//! // Built once at start-up, from CLERK_WEBHOOK_SECRET.
//! let verifier = WebhookVerifier::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
//!
//! // Per request: look the headers up (a real handler reads them from its framework).
//! let request_headers = [
//!     ("svix-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
//!     ("svix-timestamp", "1614265330"),
//!     ("svix-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
//! ];
//! let headers = WebhookHeaders::from_lookup(|name| {
//!     request_headers.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
//! })?;
//! verifier.verify_at(&headers, br#"{"test": 2432232314}"#, 1614265330)?;
//! # Ok::<(), clerk_sync_core::webhook::WebhookError>(())
//! ```

mod error;
mod headers;
mod secret;
mod signature;
mod timestamp;
mod verify;

pub use error::WebhookError;
pub use headers::{
    SVIX_ID, SVIX_SIGNATURE, SVIX_TIMESTAMP, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP,
    WebhookHeaders,
};
pub use verify::WebhookVerifier;
