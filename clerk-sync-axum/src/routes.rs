//! The routers: each route of the table in `docs/http.md`, translated to core's [`ClerkHttp`]
//! methods.
//!
//! [`ClerkHttp`]: clerk_sync_core::http::ClerkHttp

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRef, Path, RawQuery, Request, State};
use axum::routing::{get, post};
use clerk_sync_core::http::{ADMIN_BODY_LIMIT, ApiError};

use crate::request_id::RequestIdLayer;
use crate::response::{header_text, read_body, session_headers};
use crate::{AdminAccess, ClerkResponse, ClerkState};

/// The path Clerk delivers webhooks to.
pub const WEBHOOK_PATH: &str = "/api/webhooks/clerk";

/// Every route of the reference services, with `X-Request-ID` on every response.
///
/// Mounts [`webhook_router`], [`me_router`], [`admin_router`], [`health_router`],
/// [`metrics_router`] and [`dashboard_router`], and adds:
///
/// - **`X-Request-ID`** on every response, including rejections and 404s: the request's own
///   `X-Request-ID` when it has one (up to 128 letters, digits and `-_.:`; any other is
///   replaced), otherwise a new one in UUID form, which handlers also see in the request's
///   headers;
/// - a `tracing` span per request with the method, the route template (never the raw path
///   or query) and the request id;
/// - JSON errors for paths no route serves (404 `not_found`) and methods a route does not
///   take (405 `method_not_allowed`).
///
/// ```
/// use std::sync::Arc;
///
/// use clerk_sync_axum::ClerkState;
/// use clerk_sync_core::http::ClerkHttp;
/// use clerk_sync_core::memory::MemoryStore;
/// use clerk_sync_core::store::SyncStore;
/// use clerk_sync_core::sync::SyncEngine;
/// use clerk_sync_core::webhook::WebhookVerifier;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store: Arc<dyn SyncStore> = Arc::new(MemoryStore::new());
/// let engine = SyncEngine::from_shared(store, WebhookVerifier::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?);
/// let app: axum::Router = clerk_sync_axum::router(ClerkState::new(ClerkHttp::new(engine)));
/// // axum::serve(listener, app).await?;
/// # let _ = app;
/// # Ok(())
/// # }
/// ```
pub fn router(state: impl Into<ClerkState>) -> Router {
    let routes = Router::new()
        .merge(webhook_router())
        .merge(me_router())
        .merge(admin_router())
        .merge(health_router())
        .merge(metrics_router())
        .merge(dashboard_router())
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state.into());
    with_request_id(routes)
}

/// Add what [`router`] adds around its routes to a router of your own: `X-Request-ID` on
/// every response (kept from the request when it is a short plain id, else a new one in UUID
/// form) and a `tracing` span per request.
///
/// The span carries the method, the route template (`/api/admin/users/{id}`) and the request
/// id, never a query string, a header or a body. Handlers see the id in the request's
/// `X-Request-ID` header.
pub fn with_request_id<S>(router: Router<S>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    router.layer(RequestIdLayer)
}

/// `POST /api/webhooks/clerk`: verify, apply, acknowledge.
///
/// The body is read as raw bytes (the signature covers them exactly), never past the state's
/// webhook body limit (1 MiB by default, [`ClerkHttp::with_webhook_body_limit`]): a larger
/// body is answered 413 with core's JSON error, without reading it when `Content-Length`
/// announces it. Statuses: 200 applied / duplicate / stale / ignored; 400 missing headers;
/// 401 bad signature or timestamp; 413; 503 with `Retry-After` when it could not be stored.
///
/// [`ClerkHttp::with_webhook_body_limit`]: clerk_sync_core::http::ClerkHttp::with_webhook_body_limit
pub fn webhook_router<S>() -> Router<S>
where
    ClerkState: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new().route(WEBHOOK_PATH, post(webhook))
}

/// `GET /api/me`: the signed-in user's local row, fetched from Clerk when missing.
///
/// 401 with `WWW-Authenticate` without a valid session token; 404 when Clerk does not know
/// the user; 503 when Clerk or the database is unavailable.
pub fn me_router<S>() -> Router<S>
where
    ClerkState: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new().route("/api/me", get(me))
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
/// [`ADMIN_BODY_LIMIT`] (413 past it).
pub fn admin_router<S>() -> Router<S>
where
    ClerkState: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/api/admin/users", get(list_users).post(create_user))
        .route(
            "/api/admin/users/{id}",
            get(get_user).patch(update_user).delete(delete_user),
        )
        .route("/api/admin/users/{id}/resync", post(resync))
        .route("/api/admin/invitations", post(invite))
        .route("/api/admin/sync-users", post(reconcile))
        .route("/api/admin/retry-failed", post(retry_failed))
        .route("/api/admin/events", get(events))
        .route("/api/admin/runs", get(runs))
        .route("/api/admin/counts", get(counts))
}

/// `GET /health` (`{"status":"healthy","database":"connected"}`, 503 while the database does
/// not answer) and `GET /api/health/user-sync` (Clerk's user count against the table's).
pub fn health_router<S>() -> Router<S>
where
    ClerkState: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/health", get(health))
        .route("/api/health/user-sync", get(user_sync_health))
}

/// `GET /metrics`: the page the state's renderer produces
/// ([`ClerkHttp::with_metrics`](clerk_sync_core::http::ClerkHttp::with_metrics), e.g. a
/// Prometheus exporter's `render`); 404 without one.
pub fn metrics_router<S>() -> Router<S>
where
    ClerkState: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new().route("/metrics", get(metrics))
}

/// `GET /admin`: the sync dashboard, one static page that asks for the admin key and calls
/// the admin API with it.
pub fn dashboard_router<S>() -> Router<S>
where
    ClerkState: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new().route("/admin", get(dashboard))
}

// ----- handlers: extract the parts, call core, copy the answer -----

async fn webhook(State(clerk): State<ClerkState>, request: Request) -> ClerkResponse {
    let (parts, body) = request.into_parts();
    let http = clerk.http();
    let body = match read_body(&parts.headers, body, http.webhook_body_limit()).await {
        Ok(body) => body,
        Err(error) => return error.into(),
    };
    http.webhook(|name| header_text(&parts.headers, name), &body)
        .await
        .into()
}

async fn me(State(clerk): State<ClerkState>, request: Request) -> ClerkResponse {
    let (parts, _) = request.into_parts();
    let headers = match session_headers(&parts.headers) {
        Ok(headers) => headers,
        Err(error) => return error.into(),
    };
    clerk
        .http()
        .me(headers.authorization, headers.cookie.as_deref())
        .await
        .into()
}

/// The `{id}` segment; a segment axum cannot decode is core's 400.
fn path_id(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    path.map(|Path(id)| id)
        .map_err(|_| ApiError::invalid_path())
}

async fn list_users(
    _: AdminAccess,
    State(clerk): State<ClerkState>,
    RawQuery(query): RawQuery,
) -> ClerkResponse {
    clerk
        .http()
        .admin_list_users(query.as_deref().unwrap_or(""))
        .await
        .into()
}

async fn create_user(
    _: AdminAccess,
    State(clerk): State<ClerkState>,
    request: Request,
) -> ClerkResponse {
    let (parts, body) = request.into_parts();
    match read_body(&parts.headers, body, ADMIN_BODY_LIMIT).await {
        Ok(body) => clerk.http().admin_create_user(&body).await.into(),
        Err(error) => error.into(),
    }
}

async fn get_user(
    _: AdminAccess,
    State(clerk): State<ClerkState>,
    id: Result<Path<String>, PathRejection>,
) -> ClerkResponse {
    match path_id(id) {
        Ok(id) => clerk.http().admin_get_user(&id).await.into(),
        Err(error) => error.into(),
    }
}

async fn update_user(
    _: AdminAccess,
    State(clerk): State<ClerkState>,
    id: Result<Path<String>, PathRejection>,
    request: Request,
) -> ClerkResponse {
    let id = match path_id(id) {
        Ok(id) => id,
        Err(error) => return error.into(),
    };
    let (parts, body) = request.into_parts();
    match read_body(&parts.headers, body, ADMIN_BODY_LIMIT).await {
        Ok(body) => clerk.http().admin_update_user(&id, &body).await.into(),
        Err(error) => error.into(),
    }
}

async fn delete_user(
    _: AdminAccess,
    State(clerk): State<ClerkState>,
    id: Result<Path<String>, PathRejection>,
) -> ClerkResponse {
    match path_id(id) {
        Ok(id) => clerk.http().admin_delete_user(&id).await.into(),
        Err(error) => error.into(),
    }
}

async fn resync(
    _: AdminAccess,
    State(clerk): State<ClerkState>,
    id: Result<Path<String>, PathRejection>,
) -> ClerkResponse {
    match path_id(id) {
        Ok(id) => clerk.http().admin_resync(&id).await.into(),
        Err(error) => error.into(),
    }
}

async fn invite(
    _: AdminAccess,
    State(clerk): State<ClerkState>,
    request: Request,
) -> ClerkResponse {
    let (parts, body) = request.into_parts();
    match read_body(&parts.headers, body, ADMIN_BODY_LIMIT).await {
        Ok(body) => clerk.http().admin_invite(&body).await.into(),
        Err(error) => error.into(),
    }
}

async fn reconcile(
    _: AdminAccess,
    State(clerk): State<ClerkState>,
    RawQuery(query): RawQuery,
) -> ClerkResponse {
    clerk
        .http()
        .admin_reconcile(query.as_deref().unwrap_or(""))
        .await
        .into()
}

async fn retry_failed(
    _: AdminAccess,
    State(clerk): State<ClerkState>,
    RawQuery(query): RawQuery,
) -> ClerkResponse {
    clerk
        .http()
        .admin_retry_failed(query.as_deref().unwrap_or(""))
        .await
        .into()
}

async fn events(
    _: AdminAccess,
    State(clerk): State<ClerkState>,
    RawQuery(query): RawQuery,
) -> ClerkResponse {
    clerk
        .http()
        .admin_events(query.as_deref().unwrap_or(""))
        .await
        .into()
}

async fn runs(
    _: AdminAccess,
    State(clerk): State<ClerkState>,
    RawQuery(query): RawQuery,
) -> ClerkResponse {
    clerk
        .http()
        .admin_runs(query.as_deref().unwrap_or(""))
        .await
        .into()
}

async fn counts(_: AdminAccess, State(clerk): State<ClerkState>) -> ClerkResponse {
    clerk.http().admin_counts().await.into()
}

async fn health(State(clerk): State<ClerkState>) -> ClerkResponse {
    clerk.http().health().await.into()
}

async fn user_sync_health(State(clerk): State<ClerkState>) -> ClerkResponse {
    clerk.http().user_sync_health().await.into()
}

async fn metrics(State(clerk): State<ClerkState>) -> ClerkResponse {
    clerk.http().metrics().into()
}

async fn dashboard(State(clerk): State<ClerkState>) -> ClerkResponse {
    clerk.http().dashboard().into()
}

async fn route_not_found() -> ClerkResponse {
    ApiError::route_not_found().into()
}

async fn method_not_allowed() -> ClerkResponse {
    ApiError::method_not_allowed().into()
}
