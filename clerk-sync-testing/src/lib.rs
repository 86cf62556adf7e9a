//! Test your Clerk integration without a Clerk instance.
//!
//! [`FakeClerk`] is an in-process HTTP server on `127.0.0.1` that behaves as Clerk's
//! published Backend API reference (version 2026-05-12) documents, and no more leniently:
//!
//! - **Users:** `GET /v1/users` (limit 1..500, offset, `order_by`, `starting_after` cursor,
//!   `email_address` / `user_id` / `external_id` / `username` / `query` filters),
//!   `GET /v1/users/count`, `GET|PATCH|DELETE /v1/users/{id}`, `POST /v1/users`,
//!   `PATCH /v1/users/{id}/metadata` (deep merge). Unknown body parameters are refused with
//!   422 as Clerk's schemas do (`PATCH /v1/users/{id}` takes no metadata since 2026-05-12);
//!   documented ones FakeClerk does not model (phone numbers, password digests, ...) are
//!   refused with 422 `fake_clerk_unsupported` rather than silently ignored.
//! - **Invitations:** `POST /v1/invitations`, `GET /v1/invitations`.
//! - **Keys and tokens:** `GET /v1/jwks` (with the secret key) and `/.well-known/jwks.json`;
//!   [`FakeClerk::session_token`] mints v1 or v2 session tokens with the same key, and
//!   [`FakeClerk::jwt_public_key_pem`] gives the PEM for networkless verification.
//! - **Webhooks:** every change, through the API or the `*_directly` helpers, queues the
//!   signed `user.created` / `user.updated` / `user.deleted` (and `invitation.created`)
//!   event Clerk would send ([`FakeClerk::take_webhooks`]); [`FakeClerk::sign_webhook`]
//!   signs any event.
//! - **Faults:** 429 with `Retry-After`, 5xx, latency, garbage bodies and dropped answers,
//!   per route or for all ([`FakeClerk::fail_next`], [`FakeClerk::fail_always`]), and an
//!   optional built-in rate limit ([`FakeClerkBuilder::with_rate_limit`]).
//! - **Request log:** every request with method, path, route, query, status, body and
//!   arrival time ([`FakeClerk::requests`]).
//!
//! Errors come in Clerk's shape: `{"errors":[{"message","long_message","code","meta"?}],
//! "clerk_trace_id"}`. Ids look like Clerk's (`user_2Xy...`, mixed case), and every change
//! gets a strictly newer `updated_at`.
//!
//! # Example
//!
//! ```
//! use clerk_sync_core::clerk_api::{ClerkApi, CreateUser};
//! use clerk_sync_testing::{FakeClerk, Fault, Route, SeedUser};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let fake = FakeClerk::start().await;
//! let ada = fake.seed_user(SeedUser::new("ada@example.com").first_name("Ada"))?;
//!
//! // Point the code under test at the fake (CLERK_API_URL / CLERK_SECRET_KEY).
//! let api = ClerkApi::new(fake.secret_key())?.with_base_url(fake.base_url())?;
//! let user = api.get_user(&ada.id).await?.expect("seeded");
//! assert_eq!(user.first_name.as_deref(), Some("Ada"));
//!
//! // Clerk refuses a second user with the same address.
//! let taken = api
//!     .create_user(&CreateUser::new().email_address("ada@example.com"))
//!     .await
//!     .unwrap_err();
//! assert!(taken.has_error_code("form_identifier_exists"));
//!
//! // The answer of a create is lost: the client reports the ambiguity.
//! fake.fail_next(1, Route::post("/v1/users"), Fault::DropResponse);
//! let lost = api
//!     .create_user(&CreateUser::new().email_address("grace@example.com"))
//!     .await
//!     .unwrap_err();
//! assert!(lost.is_ambiguous());
//! assert!(fake.user_by_email("grace@example.com").is_some());
//!
//! // Each API change queued the webhook Clerk would send.
//! let events = fake.take_webhooks();
//! assert_eq!(events.last().map(|e| e.event_type.as_str()), Some("user.created"));
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod body;
mod clerk_error;
mod conn;
#[cfg(feature = "contract")]
pub mod contract;
mod error;
mod faults;
mod handlers;
mod ids;
mod instance;
mod invitations;
mod list;
mod log;
mod seed;
mod server;
mod tokens;
mod users;
mod webhooks;

#[cfg(feature = "engine-suite")]
pub mod engine_suite;

pub use axum::http::StatusCode;
pub use error::FakeClerkError;
pub use faults::{Fault, Route};
pub use log::{RecordedRequest, max_in_window};
pub use seed::{FakeUser, SeedUser, UserChange};
pub use server::{API_VERSION, FakeClerk, FakeClerkBuilder};
pub use tokens::{SESSION_TOKEN_CLASS, SessionOrg, SessionTokenOptions, TokenVersion};
pub use webhooks::SignedWebhook;

/// The guide `docs/testing.md`, compiled and run as doctests so its examples stay true.
#[cfg(doctest)]
#[doc = include_str!("../../docs/testing.md")]
pub struct TestingGuide;
