//! [actix-web] 4 integration for clerk-sync: authenticate Clerk users and keep your user
//! table in step with Clerk, in a few lines.
//!
//! - **Extractors:** [`ClerkSession`] (the verified session token, from `Authorization:
//!   Bearer` or the `__session` cookie), [`OptionalClerkSession`] (optional sign-in that
//!   still refuses a broken token), [`CurrentUser`] (the signed-in user's local row, fetched
//!   from Clerk on a miss) and [`AdminAccess`] (the admin key). They refuse with
//!   [`ClerkError`], a [`ResponseError`](actix_web::ResponseError) that exposes
//!   [`status()`](ClerkError::status) and answers core's JSON error.
//! - **Authorization in one line:** [`ClerkSession::require_org_role`] and
//!   [`ClerkSession::require_org_permission`] (v1 and v2 organization claims), 403 otherwise.
//! - **Services:** [`webhook_routes`], [`me_routes`], [`admin_routes`], [`health_routes`],
//!   [`metrics_routes`] and [`dashboard_routes`], each a `ServiceConfig` function mountable
//!   alone with `App::configure`; [`configure`] mounts them all with the state and JSON
//!   404/405s; the [`RequestId`] middleware puts `X-Request-ID` on every response.
//!
//! This crate only translates: every status, header and body comes from
//! [`clerk_sync_core::http`], so the actix-web and axum integrations answer byte for byte
//! the same. The route table, statuses and error codes are in `docs/http.md`; a guide with a
//! complete application is in `docs/actix.md`.
//!
//! ```
//! use std::sync::Arc;
//!
//! use actix_web::{App, web};
//! use clerk_sync_actix::{ClerkError, ClerkSession, ClerkState, CurrentUser};
//! use clerk_sync_core::http::ClerkHttp;
//! use clerk_sync_core::memory::MemoryStore;
//! use clerk_sync_core::store::SyncStore;
//! use clerk_sync_core::sync::SyncEngine;
//! use clerk_sync_core::webhook::WebhookVerifier;
//!
//! async fn profile(user: CurrentUser) -> String {
//!     format!("{:?}", user.email)
//! }
//!
//! async fn billing(session: ClerkSession) -> Result<&'static str, ClerkError> {
//!     session.require_org_role("admin")?;
//!     Ok("the invoices")
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store: Arc<dyn SyncStore> = Arc::new(MemoryStore::new());
//! let engine = SyncEngine::from_shared(store, WebhookVerifier::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?);
//! let state = web::Data::new(ClerkState::new(ClerkHttp::new(engine)));
//!
//! let app = App::new()
//!     .app_data(state)
//!     .route("/profile", web::get().to(profile))
//!     .route("/billing", web::get().to(billing))
//!     .configure(clerk_sync_actix::webhook_routes);
//! # let _ = app;
//! # Ok(())
//! # }
//! ```
//!
//! [actix-web]: https://docs.rs/actix-web/4
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod admin;
mod error;
mod request_id;
mod response;
mod routes;
mod session;
mod state;
mod user;

pub use admin::AdminAccess;
pub use error::ClerkError;
pub use request_id::{RequestId, RequestIdService};
pub use response::ClerkResponse;
pub use routes::{
    WEBHOOK_PATH, admin_routes, configure, dashboard_routes, health_routes, me_routes,
    metrics_routes, not_found, webhook_routes,
};
pub use session::{ClerkSession, OptionalClerkSession};
pub use state::ClerkState;
pub use user::CurrentUser;

/// The guide, `docs/actix.md`: every example in it is compiled (and run) as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../docs/actix.md")]
pub struct ActixGuide;
