//! The services: each route of the table in `docs/http.md`, translated to core's
//! [`ClerkHttp`] methods, as `ServiceConfig` functions for `App::configure`.
//!
//! [`ClerkHttp`]: clerk_sync_core::http::ClerkHttp

use actix_web::web::{self, ServiceConfig};
use actix_web::{Handler, HttpRequest, Resource, Responder, Route, guard};
use clerk_sync_core::http::{ADMIN_BODY_LIMIT, ApiError, path_segment, read_body};

use crate::response::{content_length, header_text, session_headers};
use crate::state::state_of;
use crate::{AdminAccess, ClerkResponse, ClerkState};

/// The path Clerk delivers webhooks to.
pub const WEBHOOK_PATH: &str = "/api/webhooks/clerk";

/// Every route of the reference services, for [`App::configure`](actix_web::App::configure):
/// registers `state` as `web::Data<ClerkState>` (so your own handlers' extractors find it
/// too) and mounts [`webhook_routes`], [`me_routes`], [`admin_routes`], [`health_routes`],
/// [`metrics_routes`] and [`dashboard_routes`], with JSON errors for paths no route serves
/// (404 `not_found`, the application's default service) and methods a route does not take
/// (405 `method_not_allowed`).
///
/// Wrap the application in [`RequestId`](crate::RequestId) for `X-Request-ID` on every
/// response and a `tracing` span per request: a middleware cannot be added from
/// `App::configure`.
///
/// ```
/// use std::sync::Arc;
///
/// use actix_web::App;
/// use clerk_sync_actix::{ClerkState, RequestId};
/// use clerk_sync_core::http::ClerkHttp;
/// use clerk_sync_core::memory::MemoryStore;
/// use clerk_sync_core::store::SyncStore;
/// use clerk_sync_core::sync::SyncEngine;
/// use clerk_sync_core::webhook::WebhookVerifier;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store: Arc<dyn SyncStore> = Arc::new(MemoryStore::new());
/// let engine = SyncEngine::from_shared(store, WebhookVerifier::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?);
/// let state = ClerkState::new(ClerkHttp::new(engine));
/// let app = move || {
///     App::new()
///         .wrap(RequestId::default())
///         .configure(clerk_sync_actix::configure(state.clone()))
/// };
/// // actix_web::HttpServer::new(app).bind("127.0.0.1:8787")?.run().await?;
/// # let _ = app;
/// # Ok(())
/// # }
/// ```
pub fn configure(state: impl Into<ClerkState>) -> impl FnOnce(&mut ServiceConfig) {
    let state = web::Data::new(state.into());
    move |config| {
        config.app_data(state);
        webhook_routes(config);
        me_routes(config);
        admin_routes(config);
        health_routes(config);
        metrics_routes(config);
        dashboard_routes(config);
        config.default_service(web::to(not_found));
    }
}

/// `POST /api/webhooks/clerk`: verify, apply, acknowledge.
///
/// The body is read as raw bytes (the signature covers them exactly) by core's reader, never
/// past the state's webhook body limit (1 MiB by default,
/// [`ClerkHttp::with_webhook_body_limit`]): a larger body is answered 413 with core's JSON
/// error, without reading it when `Content-Length` announces it. (actix-web's own `Bytes`
/// extractor would answer its own error at its own 256 kB default.) Statuses: 200 applied /
/// duplicate / stale / ignored; 400 missing headers; 401 bad signature or timestamp; 413;
/// 503 with `Retry-After` when it could not be stored.
///
/// [`ClerkHttp::with_webhook_body_limit`]: clerk_sync_core::http::ClerkHttp::with_webhook_body_limit
pub fn webhook_routes(config: &mut ServiceConfig) {
    config.service(resource(WEBHOOK_PATH).route(web::post().to(webhook)));
}

/// `GET /api/me`: the signed-in user's local row, fetched from Clerk when missing.
///
/// 401 with `WWW-Authenticate` without a valid session token; 404 when Clerk does not know
/// the user; 503 when Clerk or the database is unavailable.
pub fn me_routes(config: &mut ServiceConfig) {
    config.service(resource("/api/me").route(get(me)));
}

/// The admin API, every route behind `Authorization: Bearer <admin key>` ([`AdminAccess`]):
///
/// - `GET /api/admin/users?sync_status=&limit=&cursor=&include_deleted=`, `POST
///   /api/admin/users`, `GET|PATCH|DELETE /api/admin/users/{id}`,
///   `POST /api/admin/users/{id}/resync`, `POST /api/admin/invitations`;
/// - `POST /api/admin/sync-users?dry_run=&force=` (reconcile), `POST
///   /api/admin/retry-failed?user_id=`;
/// - `GET /api/admin/events?outcome=&limit=`, `GET /api/admin/runs?limit=`,
///   `GET /api/admin/counts`.
///
/// Without an admin key in the state every route answers 404. JSON bodies are read up to
/// [`ADMIN_BODY_LIMIT`] (413 past it). The routes are resources, not one `/api/admin` scope,
/// so that your own routes under `/api/admin/` (behind [`AdminAccess`]) can sit beside them.
pub fn admin_routes(config: &mut ServiceConfig) {
    config
        .service(
            resource("/api/admin/users")
                .route(get(list_users))
                .route(web::post().to(create_user)),
        )
        .service(
            resource("/api/admin/users/{id}")
                .route(get(get_user))
                .route(web::patch().to(update_user))
                .route(web::delete().to(delete_user)),
        )
        .service(resource("/api/admin/users/{id}/resync").route(web::post().to(resync)))
        .service(resource("/api/admin/invitations").route(web::post().to(invite)))
        .service(resource("/api/admin/sync-users").route(web::post().to(reconcile)))
        .service(resource("/api/admin/retry-failed").route(web::post().to(retry_failed)))
        .service(resource("/api/admin/events").route(get(events)))
        .service(resource("/api/admin/runs").route(get(runs)))
        .service(resource("/api/admin/counts").route(get(counts)));
}

/// `GET /health` (`{"status":"healthy","database":"connected"}`, 503 while the database does
/// not answer) and `GET /api/health/user-sync` (Clerk's user count against the table's).
pub fn health_routes(config: &mut ServiceConfig) {
    config
        .service(resource("/health").route(get(health)))
        .service(resource("/api/health/user-sync").route(get(user_sync_health)));
}

/// `GET /metrics`: the page the state's renderer produces
/// ([`ClerkHttp::with_metrics`](clerk_sync_core::http::ClerkHttp::with_metrics), e.g. a
/// Prometheus exporter's `render`); 404 without one.
pub fn metrics_routes(config: &mut ServiceConfig) {
    config.service(resource("/metrics").route(get(metrics)));
}

/// `GET /admin`: the sync dashboard, one static page that asks for the admin key and calls
/// the admin API with it.
pub fn dashboard_routes(config: &mut ServiceConfig) {
    config.service(resource("/admin").route(get(dashboard)));
}

/// Core's JSON 404 (`not_found`), for `App::default_service` when you mount the services one
/// by one ([`configure`] sets it).
///
/// ```
/// use actix_web::{App, web};
///
/// let app = App::new()
///     .configure(clerk_sync_actix::webhook_routes)
///     .default_service(web::to(clerk_sync_actix::not_found));
/// # let _ = app;
/// ```
pub async fn not_found() -> ClerkResponse {
    ApiError::route_not_found().into()
}

/// A resource answering core's JSON 405 for the methods it does not take.
fn resource(path: &str) -> Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

/// A `GET` route that answers `HEAD` too, as axum's `get` does.
fn get<F, Args>(handler: F) -> Route
where
    F: Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: Responder + 'static,
{
    web::route()
        .guard(guard::Any(guard::Get()).or(guard::Head()))
        .to(handler)
}

// ----- handlers: extract the parts, call core, copy the answer -----

/// The state, or core's 500 (logged) when the application registered none.
macro_rules! state_or_answer {
    ($request:expr) => {
        match state_of(&$request) {
            Ok(state) => state,
            Err(error) => return error.into(),
        }
    };
}

/// The request body up to `limit`, or core's 413 / 400 as the answer.
macro_rules! body_or_answer {
    ($request:expr, $payload:expr, $limit:expr) => {
        match read_body(content_length($request.headers()), $payload, $limit).await {
            Ok(body) => body,
            Err(error) => return error.into(),
        }
    };
}

/// The `{id}` segment, percent-decoded by core (400 when it cannot be).
macro_rules! id_or_answer {
    ($request:expr) => {
        match path_segment($request.match_info().get("id").unwrap_or_default()) {
            Ok(id) => id,
            Err(error) => return error.into(),
        }
    };
}

async fn webhook(request: HttpRequest, payload: web::Payload) -> ClerkResponse {
    let http = state_or_answer!(request).http();
    let body = body_or_answer!(request, payload, http.webhook_body_limit());
    http.webhook(|name| header_text(request.headers(), name), &body)
        .await
        .into()
}

async fn me(request: HttpRequest) -> ClerkResponse {
    let http = state_or_answer!(request).http();
    let headers = match session_headers(request.headers()) {
        Ok(headers) => headers,
        Err(error) => return error.into(),
    };
    http.me(headers.authorization, headers.cookie.as_deref())
        .await
        .into()
}

async fn list_users(_: AdminAccess, request: HttpRequest) -> ClerkResponse {
    let http = state_or_answer!(request).http();
    http.admin_list_users(request.query_string()).await.into()
}

async fn create_user(_: AdminAccess, request: HttpRequest, payload: web::Payload) -> ClerkResponse {
    let http = state_or_answer!(request).http();
    let body = body_or_answer!(request, payload, ADMIN_BODY_LIMIT);
    http.admin_create_user(&body).await.into()
}

async fn get_user(_: AdminAccess, request: HttpRequest) -> ClerkResponse {
    let http = state_or_answer!(request).http();
    let id = id_or_answer!(request);
    http.admin_get_user(&id).await.into()
}

async fn update_user(_: AdminAccess, request: HttpRequest, payload: web::Payload) -> ClerkResponse {
    let http = state_or_answer!(request).http();
    let id = id_or_answer!(request);
    let body = body_or_answer!(request, payload, ADMIN_BODY_LIMIT);
    http.admin_update_user(&id, &body).await.into()
}

async fn delete_user(_: AdminAccess, request: HttpRequest) -> ClerkResponse {
    let http = state_or_answer!(request).http();
    let id = id_or_answer!(request);
    http.admin_delete_user(&id).await.into()
}

async fn resync(_: AdminAccess, request: HttpRequest) -> ClerkResponse {
    let http = state_or_answer!(request).http();
    let id = id_or_answer!(request);
    http.admin_resync(&id).await.into()
}

async fn invite(_: AdminAccess, request: HttpRequest, payload: web::Payload) -> ClerkResponse {
    let http = state_or_answer!(request).http();
    let body = body_or_answer!(request, payload, ADMIN_BODY_LIMIT);
    http.admin_invite(&body).await.into()
}

async fn reconcile(_: AdminAccess, request: HttpRequest) -> ClerkResponse {
    let http = state_or_answer!(request).http();
    http.admin_reconcile(request.query_string()).await.into()
}

async fn retry_failed(_: AdminAccess, request: HttpRequest) -> ClerkResponse {
    let http = state_or_answer!(request).http();
    http.admin_retry_failed(request.query_string()).await.into()
}

async fn events(_: AdminAccess, request: HttpRequest) -> ClerkResponse {
    let http = state_or_answer!(request).http();
    http.admin_events(request.query_string()).await.into()
}

async fn runs(_: AdminAccess, request: HttpRequest) -> ClerkResponse {
    let http = state_or_answer!(request).http();
    http.admin_runs(request.query_string()).await.into()
}

async fn counts(_: AdminAccess, request: HttpRequest) -> ClerkResponse {
    state_or_answer!(request).http().admin_counts().await.into()
}

async fn health(request: HttpRequest) -> ClerkResponse {
    state_or_answer!(request).http().health().await.into()
}

async fn user_sync_health(request: HttpRequest) -> ClerkResponse {
    state_or_answer!(request)
        .http()
        .user_sync_health()
        .await
        .into()
}

async fn metrics(request: HttpRequest) -> ClerkResponse {
    state_or_answer!(request).http().metrics().into()
}

async fn dashboard(request: HttpRequest) -> ClerkResponse {
    state_or_answer!(request).http().dashboard().into()
}

async fn method_not_allowed() -> ClerkResponse {
    ApiError::method_not_allowed().into()
}
