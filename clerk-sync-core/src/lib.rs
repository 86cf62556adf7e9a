//! The core of clerk-sync: keep your database in step with [Clerk] and authenticate Clerk users,
//! without tying you to a web framework or a database driver.
//!
//! - [`webhook`]: verify Clerk webhooks (Svix / Standard Webhooks signatures), from HMAC states
//!   keyed once per secret, with secret rotation and a bounded clock tolerance.
//! - [`event`]: every Clerk event type as a typed Rust value, lenient about new fields.
//! - `jwt` (feature `jwt`, on by default): validate Clerk session tokens from a PEM key or a
//!   JWKS, with key and token caches.
//! - [`store`]: the storage traits a database implements; [`memory`] is the reference store.
//! - [`sync`]: the engine that applies webhooks to the local user table, correct under
//!   duplicated, reordered and concurrent delivery; the recovery paths (fallback fetch,
//!   reconcile, backfill) and the outbound worker over the Backend API.
//! - `clerk_api` (feature `clerk-api`, on by default): a client of Clerk's Backend API.
//! - [`http`]: the behaviour behind every route of the reference services, framework-neutral,
//!   for the axum and actix-web adapters.
//!
//! The sqlx and sea-orm stores are separate crates built on this one, and so are the axum and
//! actix-web integrations (`clerk-sync-axum`, `clerk-sync-actix`).
//!
//! # Example: verify and parse a webhook
//!
//! ```
//! use clerk_sync_core::event::{ClerkEvent, WebhookEvent};
//! use clerk_sync_core::webhook::{WebhookHeaders, WebhookVerifier};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The signing secret from the Clerk dashboard (`whsec_...`).
//! let verifier = WebhookVerifier::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
//!
//! let body = br#"{"type":"user.deleted","object":"event","timestamp":1654012591835,
//!   "data":{"id":"user_29w83sxmDNGwOuEthce5gg56FcC","object":"user","deleted":true}}"#;
//! // In a handler these come from the request's `svix-*` (or `webhook-*`) headers.
//! let signature = verifier.sign("msg_1", 1_654_012_592, body);
//! let headers = WebhookHeaders { id: "msg_1", timestamp: "1654012592", signature: &signature };
//!
//! verifier.verify_at(&headers, body, 1_654_012_600)?;
//! let event = WebhookEvent::parse(body)?;
//! assert!(matches!(event.data, ClerkEvent::UserDeleted(ref d) if d.deleted));
//! # Ok(())
//! # }
//! ```
//!
//! [Clerk]: https://clerk.com
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "clerk-api")]
pub mod clerk_api;
pub mod event;
pub mod http;
#[cfg(feature = "jwt")]
pub mod jwt;
pub mod memory;
pub mod store;
pub mod sync;
pub mod webhook;

#[cfg(feature = "conformance")]
pub mod conformance;
