//! [axum] 0.8 integration for clerk-sync: authenticate Clerk users and keep your user table in
//! step with Clerk, in a few lines.
//!
//! - **Extractors:** [`ClerkSession`] (the verified session token, from `Authorization:
//!   Bearer` or the `__session` cookie; `Option<ClerkSession>` for optional sign-in),
//!   [`CurrentUser`] (the signed-in user's local row, fetched from Clerk on a miss) and
//!   [`AdminAccess`] (the admin key). They refuse with [`ClerkRejection`], which exposes
//!   [`status()`](ClerkRejection::status) and answers core's JSON error.
//! - **Authorization in one line:** [`ClerkSession::require_org_role`] and
//!   [`ClerkSession::require_org_permission`] (v1 and v2 organization claims), 403 otherwise.
//! - **Routers:** [`webhook_router`], [`me_router`], [`admin_router`], [`health_router`],
//!   [`metrics_router`] and [`dashboard_router`], each mountable alone; [`router`] mounts them
//!   all with `X-Request-ID` on every response.
//!
//! This crate only translates: every status, header and body comes from
//! [`clerk_sync_core::http`], so the axum and actix-web integrations answer byte for byte the
//! same. The route table, statuses and error codes are in `docs/http.md`; a guide with a
//! complete application is in `docs/axum.md`.
//!
//! ```
//! use std::sync::Arc;
//!
//! use axum::Router;
//! use axum::routing::get;
//! use clerk_sync_axum::{ClerkRejection, ClerkSession, ClerkState, CurrentUser};
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
//! async fn billing(session: ClerkSession) -> Result<&'static str, ClerkRejection> {
//!     session.require_org_role("admin")?;
//!     Ok("the invoices")
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store: Arc<dyn SyncStore> = Arc::new(MemoryStore::new());
//! let engine = SyncEngine::from_shared(store, WebhookVerifier::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?);
//! let state = ClerkState::new(ClerkHttp::new(engine));
//!
//! let app: Router = Router::new()
//!     .route("/profile", get(profile))
//!     .route("/billing", get(billing))
//!     .merge(clerk_sync_axum::webhook_router())
//!     .with_state(state);
//! # let _ = app;
//! # Ok(())
//! # }
//! ```
//!
//! [axum]: https://docs.rs/axum/0.8
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod admin;
mod rejection;
mod request_id;
mod response;
mod routes;
mod session;
mod state;
mod user;

pub use admin::AdminAccess;
pub use rejection::ClerkRejection;
pub use response::ClerkResponse;
pub use routes::{
    WEBHOOK_PATH, admin_router, dashboard_router, health_router, me_router, metrics_router, router,
    webhook_router, with_request_id,
};
pub use session::ClerkSession;
pub use state::ClerkState;
pub use user::CurrentUser;

/// The guide, `docs/axum.md`: every example in it is compiled (and run) as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../docs/axum.md")]
pub struct AxumGuide;
