//! A client of Clerk's Backend API (version 2026-05-12): users, invitations and the JWKS,
//! with a shared rate limiter, bounded retries and errors that say what Clerk said.
//!
//! [`ClerkApi`] is what the sync engine uses for on-demand fetches, reconcile, backfill and
//! the outbound worker; it is usable on its own.
//!
//! - **Reads:** [`ClerkApi::get_user`] (`None` on 404), [`ClerkApi::fetch_user`] (raw JSON),
//!   [`ClerkApi::count_users`], [`ClerkApi::find_users_by_email`], and listing: a cursor
//!   walk with [`ClerkApi::list_users`] or one page with [`ClerkApi::list_users_page`].
//! - **Writes:** [`ClerkApi::create_user`], [`ClerkApi::update_user`],
//!   [`ClerkApi::update_user_metadata`], [`ClerkApi::delete_user`],
//!   [`ClerkApi::create_invitation`].
//! - **Users** come back as [`ClerkUser`]: the JSON exactly as sent plus a lenient read of
//!   `id`, `created_at` and `updated_at`, so new fields or values never fail a page.
//! - **Budget:** a sliding-window [`RateLimit`] shared by clones (Clerk's 1000 or 100 requests
//!   per 10 s by default); a 429's `Retry-After` pauses them all.
//! - **Retries:** per [`RetryPolicy`]; creates are never retried once they may have reached
//!   Clerk: [`ClerkApiError::is_ambiguous`] says so, and the caller resolves it.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//! use clerk_sync_core::clerk_api::{ClerkApi, ListUsers, MetadataUpdate, RetryPolicy};
//! use serde_json::json;
//!
//! # async fn run() -> Result<(), clerk_sync_core::clerk_api::ClerkApiError> {
//! let api = ClerkApi::new("sk_test_...")?
//!     .with_base_url("https://api.clerk.com")?
//!     .with_retry_policy(RetryPolicy::default().max_elapsed(Duration::from_secs(30)));
//!
//! println!("{} users", api.count_users().await?);
//!
//! let mut pages = api.list_users(ListUsers::new());
//! while let Some(page) = pages.next_page().await? {
//!     for user in page {
//!         // Store user.raw_json() keyed by user.id(), versioned by user.updated_at().
//!         let _ = (user.id(), user.updated_at(), user.raw_json());
//!     }
//! }
//!
//! api.update_user_metadata("user_2abc", &MetadataUpdate::new().public(json!({"plan": "pro"})))
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! To test code that uses this client without a Clerk instance, point it at FakeClerk
//! (crate `clerk-sync-testing`) with [`ClerkApi::with_base_url`].

mod client;
mod endpoint;
mod error;
mod pages;
mod rate_limit;
mod requests;
mod retry;
mod transport;
mod user;

pub use client::{ClerkApi, DEFAULT_BASE_URL, DEFAULT_CONNECT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT};
pub use error::{ClerkApiError, ClerkErrorDetail, ClerkErrors, DecodeError, TransportErrorKind};
pub use pages::{CreatedAtOrder, ListUsers, ListUsersQuery, MAX_PAGE_SIZE, UserPages};
pub use rate_limit::{DEVELOPMENT_REQUESTS_PER_10S, PRODUCTION_REQUESTS_PER_10S, RateLimit};
pub use requests::{CreateInvitation, CreateUser, MetadataUpdate, UpdateUser};
pub use retry::RetryPolicy;
pub use transport::API_VERSION;
pub use user::ClerkUser;

/// The guide `docs/clerk-api.md`, compiled as doctests so its examples stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/clerk-api.md")]
pub struct ClerkApiGuide;
