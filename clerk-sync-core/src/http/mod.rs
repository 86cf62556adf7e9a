//! The HTTP surface of clerk-sync, without a web framework.
//!
//! [`ClerkHttp`] holds the behaviour behind every route of the reference services (the table
//! is in `docs/http.md`): the webhook endpoint, the signed-in user, the admin API, health,
//! metrics and the dashboard page. Each route is one method that takes the raw parts of a
//! request (header values, the query string, the body bytes) and answers an [`HttpResponse`],
//! or an [`ApiError`] that renders itself as `{"error": code, "message": text}`.
//!
//! The framework crates (`clerk-sync-axum` and `clerk-sync-actix`) are thin translations of
//! this module: they extract the parts and copy the answer back. No status code, header or
//! body is decided there, so every framework answers the same. What they read from a request
//! goes through this module too: the credential headers ([`SessionHeaders`]), the body up to
//! a limit ([`read_body`]) and the request id ([`request_id`], [`request_span`]).
//!
//! ```
//! use clerk_sync_core::http::ClerkHttp;
//! use clerk_sync_core::memory::MemoryStore;
//! use clerk_sync_core::sync::SyncEngine;
//! use clerk_sync_core::webhook::WebhookVerifier;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let engine = SyncEngine::new(MemoryStore::new(), WebhookVerifier::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?);
//! let http = ClerkHttp::new(engine);
//!
//! // A delivery without Svix headers is a 400, with the JSON error body.
//! let response = http.webhook(|_| None, b"{}").await;
//! assert_eq!(response.status, 400);
//! assert_eq!(response.header("content-type"), Some("application/json"));
//! assert_eq!(http.health().await.status, 200);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

mod admin;
mod app;
mod dashboard;
mod error;
mod query;
mod request;
mod request_id;
mod response;
mod state;
#[cfg(test)]
mod tests;

pub use admin::{
    AdminKey, CountsView, EventList, EventView, InvitationBody, Revived, RunList, UserBody,
    UserPage,
};
pub use app::{ADMIN_BODY_LIMIT, ClerkHttp, DEFAULT_WEBHOOK_BODY_LIMIT, MetricsRenderer};
#[cfg(feature = "jwt")]
pub use app::{require_org_permission, require_org_role};
pub use error::{ApiError, RETRY_AFTER_SECS, WWW_AUTHENTICATE_ADMIN, WWW_AUTHENTICATE_TOKEN};
pub use request::{SessionHeaders, authorization_text, header_text, path_segment, read_body};
pub use request_id::{
    REQUEST_ID_MAX, X_REQUEST_ID, new_request_id, record_answer, request_id, request_span,
};
pub use response::HttpResponse;
pub use state::ClerkState;

/// The sync dashboard (`GET /admin`): one self-contained HTML page with inline CSS and
/// JavaScript and no external assets. It asks for the admin key, keeps it in the tab's
/// session storage, and calls the admin API with it; every value is shown as text.
pub const DASHBOARD_HTML: &str = include_str!("dashboard.html");
