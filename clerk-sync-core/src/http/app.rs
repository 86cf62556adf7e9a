//! [`ClerkHttp`]: the behaviour behind every route, one method per route.

use std::sync::Arc;

use serde::Serialize;

use super::admin::{
    CountsView, EventList, EventView, InvitationBody, Revived, RunList, UserBody, UserPage,
    page_size, parse_outcome, parse_status,
};
use super::query::Query;
use super::{AdminKey, ApiError, HttpResponse};
use crate::store::{LedgerQuery, LocalUser, SyncStore, UserProfile, UserQuery, whole_micros};
use crate::sync::{ProcessOutcome, SyncEngine};
use crate::webhook::WebhookHeaders;

/// The largest webhook body accepted by default: 1 MiB. Clerk's user objects are a few kB.
pub const DEFAULT_WEBHOOK_BODY_LIMIT: usize = 1024 * 1024;

/// The largest JSON body the admin API reads (`POST`/`PATCH` of a user or an invitation):
/// 64 KiB, far above any profile, far below what would tie up memory. Larger bodies get 413.
pub const ADMIN_BODY_LIMIT: usize = 64 * 1024;

/// Renders the metrics page (Prometheus' text format), e.g. a
/// `metrics_exporter_prometheus::PrometheusHandle::render`.
pub type MetricsRenderer = Arc<dyn Fn() -> String + Send + Sync>;

/// The HTTP surface of clerk-sync, framework-neutral: one method per route of the table in
/// `docs/http.md`, each taking the raw request parts it needs (header values, query string,
/// body bytes) and answering an [`HttpResponse`] or an [`ApiError`].
///
/// The axum and actix-web adapters only pull those parts out of their request types and copy
/// the answer back, so both frameworks behave the same: status codes, headers and JSON bodies
/// come from here.
///
/// Cloning is cheap: everything is shared.
pub struct ClerkHttp<S: ?Sized> {
    engine: SyncEngine<S>,
    #[cfg(feature = "jwt")]
    verifier: Option<Arc<crate::jwt::JwtVerifier>>,
    admin_key: Option<AdminKey>,
    webhook_body_limit: usize,
    metrics: Option<MetricsRenderer>,
}

impl<S: ?Sized> Clone for ClerkHttp<S> {
    fn clone(&self) -> Self {
        ClerkHttp {
            engine: self.engine.clone(),
            #[cfg(feature = "jwt")]
            verifier: self.verifier.clone(),
            admin_key: self.admin_key.clone(),
            webhook_body_limit: self.webhook_body_limit,
            metrics: self.metrics.clone(),
        }
    }
}

impl<S: ?Sized> std::fmt::Debug for ClerkHttp<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut debug = f.debug_struct("ClerkHttp");
        debug.field("engine", &self.engine);
        #[cfg(feature = "jwt")]
        debug.field("sessions", &self.verifier.is_some());
        debug
            .field("admin", &self.admin_key.is_some())
            .field("webhook_body_limit", &self.webhook_body_limit)
            .finish_non_exhaustive()
    }
}

/// `{"status": outcome}`: the 200 of a processed webhook.
#[derive(Serialize)]
struct WebhookAck {
    status: &'static str,
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    database: &'static str,
}

impl<S: SyncStore + ?Sized> ClerkHttp<S> {
    /// The routes over `engine`: webhooks at once; sessions, the admin API and metrics once
    /// configured with the `with_*` methods.
    pub fn new(engine: SyncEngine<S>) -> Self {
        ClerkHttp {
            engine,
            #[cfg(feature = "jwt")]
            verifier: None,
            admin_key: None,
            webhook_body_limit: DEFAULT_WEBHOOK_BODY_LIMIT,
            metrics: None,
        }
    }

    /// Authenticate sessions with `verifier` (`/api/me`, the session extractors).
    #[cfg(feature = "jwt")]
    pub fn with_sessions(mut self, verifier: crate::jwt::JwtVerifier) -> Self {
        self.verifier = Some(Arc::new(verifier));
        self
    }

    /// Open the admin API to requests with `Authorization: Bearer <key>`. Without a key the
    /// admin routes answer 404.
    pub fn with_admin_key(mut self, key: AdminKey) -> Self {
        self.admin_key = Some(key);
        self
    }

    /// Refuse webhook bodies over `limit` bytes with 413 (default 1 MiB).
    pub fn with_webhook_body_limit(mut self, limit: usize) -> Self {
        self.webhook_body_limit = limit;
        self
    }

    /// Serve `GET /metrics` with `render`.
    pub fn with_metrics(mut self, render: MetricsRenderer) -> Self {
        self.metrics = Some(render);
        self
    }

    /// The engine.
    pub fn engine(&self) -> &SyncEngine<S> {
        &self.engine
    }

    /// The webhook body limit, for the adapter's body extractor.
    pub fn webhook_body_limit(&self) -> usize {
        self.webhook_body_limit
    }

    // ----- webhooks -----

    /// `POST /api/webhooks/clerk`: verify, apply, acknowledge.
    ///
    /// `header` looks a request header up by lowercase name. 200 for applied, duplicate,
    /// stale or ignored deliveries (a validly signed body that can never be applied is
    /// recorded and acknowledged, never 5xx); 400 for missing headers; 401 for a bad signature
    /// or timestamp; 413 over the body limit; 503 with `Retry-After` when it could not be
    /// stored, so that Svix delivers it again.
    pub async fn webhook<'a>(
        &self,
        header: impl Fn(&str) -> Option<&'a str>,
        body: &[u8],
    ) -> HttpResponse {
        if body.len() > self.webhook_body_limit {
            return ApiError::payload_too_large(self.webhook_body_limit).into_response();
        }
        let headers = match WebhookHeaders::from_lookup(header) {
            Ok(headers) => headers,
            Err(error) => return ApiError::from(error).into_response(),
        };
        match self.engine.process_webhook(&headers, body).await {
            Ok(outcome) => HttpResponse::json(
                200,
                &WebhookAck {
                    status: outcome_str(outcome),
                },
            ),
            Err(error) => ApiError::from(error).into_response(),
        }
    }

    /// Check an `Authorization` header against the admin key.
    ///
    /// # Errors
    ///
    /// 404 when no admin key is configured; otherwise as [`AdminKey::check`].
    pub fn check_admin(&self, authorization: Option<&str>) -> Result<(), ApiError> {
        match &self.admin_key {
            Some(key) => key.check(authorization),
            None => Err(ApiError::route_not_found()),
        }
    }

    /// Check a request's raw `Authorization` value against the admin key: what the adapters'
    /// admin extractors call.
    ///
    /// # Errors
    ///
    /// 400 `invalid_header` when the value is not text; otherwise as
    /// [`check_admin`](Self::check_admin).
    pub fn check_admin_header(&self, authorization: Option<&[u8]>) -> Result<(), ApiError> {
        self.check_admin(super::authorization_text(authorization)?)
    }

    // ----- admin -----

    /// `GET /api/admin/users/{id}`: one row with its sync fields. `id` is a Clerk id, or a
    /// local id (digits) for rows Clerk does not know yet.
    ///
    /// # Errors
    ///
    /// 404 when there is no such row; 503 when the store is down.
    pub async fn admin_get_user(&self, id: &str) -> Result<HttpResponse, ApiError> {
        let user = self.find_row(id).await?;
        Ok(HttpResponse::json(200, &user))
    }

    /// `GET /api/admin/users?sync_status=&limit=&cursor=&include_deleted=`.
    ///
    /// # Errors
    ///
    /// 400 for a bad parameter; 503 when the store is down.
    pub async fn admin_list_users(&self, query: &str) -> Result<HttpResponse, ApiError> {
        let query = Query::parse(query)?;
        let limit = page_size(query.u32("limit")?, 100)?;
        let mut page = UserQuery::new(limit);
        page.sync_status = parse_status(query.get("sync_status"))?;
        page.include_deleted = query.bool("include_deleted")?.unwrap_or(false);
        page.after_id = query
            .get("cursor")
            .filter(|c| !c.is_empty())
            .map(|c| {
                c.parse::<i64>()
                    .map_err(|_| ApiError::bad_request("cursor is not one this API gave out"))
            })
            .transpose()?;
        let users = self.engine.store().list_users(&page).await?;
        let next_cursor = (users.len() as u32 == limit)
            .then(|| users.last().map(|u| u.id.to_string()))
            .flatten();
        Ok(HttpResponse::json(200, &UserPage { users, next_cursor }))
    }

    /// `GET /api/admin/counts`: rows by state and the outbound backlog, for the dashboard.
    ///
    /// # Errors
    ///
    /// 503 when the store is down.
    pub async fn admin_counts(&self) -> Result<HttpResponse, ApiError> {
        let counts = self.engine.store().count_by_status().await?;
        let now = whole_micros(time::OffsetDateTime::now_utc());
        let outbox_due = self.engine.store().outbox_due(now).await?;
        Ok(HttpResponse::json(200, &CountsView { counts, outbox_due }))
    }

    /// `POST /api/admin/users` with `{email, first_name, last_name, ...}`: a local create,
    /// queued for Clerk. 202 with the row (`pending`).
    ///
    /// # Errors
    ///
    /// 400 for a body that is not that JSON; 413 over [`ADMIN_BODY_LIMIT`]; 422 for invalid
    /// fields; 503 when the store is down.
    pub async fn admin_create_user(&self, body: &[u8]) -> Result<HttpResponse, ApiError> {
        let body: UserBody = parse_body(body)?;
        let queued = self.engine.create_local_user(profile(body)).await?;
        Ok(HttpResponse::json(202, &queued.user))
    }

    /// `POST /api/admin/invitations` with `{email, public_metadata?}`: a local invite, queued
    /// for Clerk. 202 with the row.
    ///
    /// # Errors
    ///
    /// As [`admin_create_user`](Self::admin_create_user).
    pub async fn admin_invite(&self, body: &[u8]) -> Result<HttpResponse, ApiError> {
        let body: InvitationBody = parse_body(body)?;
        let queued = self
            .engine
            .invite_user(&body.email, body.public_metadata)
            .await?;
        Ok(HttpResponse::json(202, &queued.user))
    }

    /// `PATCH /api/admin/users/{id}`: a local update, queued for Clerk. 202 with the row.
    ///
    /// # Errors
    ///
    /// 404 for no such live row; otherwise as [`admin_create_user`](Self::admin_create_user).
    pub async fn admin_update_user(&self, id: &str, body: &[u8]) -> Result<HttpResponse, ApiError> {
        let body: UserBody = parse_body(body)?;
        let row = self.find_row(id).await?;
        let queued = self.engine.update_local_user(row.id, profile(body)).await?;
        Ok(HttpResponse::json(202, &queued.user))
    }

    /// `DELETE /api/admin/users/{id}`: a local delete, queued for Clerk. 202 with the row.
    ///
    /// # Errors
    ///
    /// 404 for no such live row; 503 when the store is down.
    pub async fn admin_delete_user(&self, id: &str) -> Result<HttpResponse, ApiError> {
        let row = self.find_row(id).await?;
        let queued = self.engine.delete_local_user(row.id).await?;
        Ok(HttpResponse::json(202, &queued.user))
    }

    /// `POST /api/admin/retry-failed?user_id=`: revive dead letters. `{"revived": n}`.
    ///
    /// # Errors
    ///
    /// 400 for a bad `user_id`; 503 when the store is down.
    pub async fn admin_retry_failed(&self, query: &str) -> Result<HttpResponse, ApiError> {
        let query = Query::parse(query)?;
        let user_id = query.i64("user_id")?;
        let revived = self.engine.retry_failed(user_id).await?;
        Ok(HttpResponse::json(200, &Revived { revived }))
    }

    /// `GET /api/admin/events?outcome=&limit=`: recent ledger entries, never their payloads.
    ///
    /// # Errors
    ///
    /// 400 for a bad parameter; 503 when the store is down.
    pub async fn admin_events(&self, query: &str) -> Result<HttpResponse, ApiError> {
        let query = Query::parse(query)?;
        let mut ledger = LedgerQuery::new(page_size(query.u32("limit")?, 50)?);
        ledger.outcome = parse_outcome(query.get("outcome"))?;
        let events = self.engine.store().recent_ledger(&ledger).await?;
        let events = events.into_iter().map(EventView::from).collect();
        Ok(HttpResponse::json(200, &EventList { events }))
    }

    /// `GET /api/admin/runs?limit=`: recent reconcile and backfill runs with their reports.
    ///
    /// # Errors
    ///
    /// 400 for a bad parameter; 503 when the store is down.
    pub async fn admin_runs(&self, query: &str) -> Result<HttpResponse, ApiError> {
        let query = Query::parse(query)?;
        let limit = page_size(query.u32("limit")?, 20)?;
        let runs = self.engine.store().recent_runs(limit).await?;
        Ok(HttpResponse::json(200, &RunList { runs }))
    }

    // ----- health -----

    /// `GET /health`: `{"status":"healthy","database":"connected"}`, or 503 with
    /// `"unhealthy"` / `"disconnected"` while the database does not answer.
    pub async fn health(&self) -> HttpResponse {
        match self.engine.store().ping().await {
            Ok(()) => HttpResponse::json(
                200,
                &Health {
                    status: "healthy",
                    database: "connected",
                },
            ),
            Err(error) => {
                tracing::warn!(%error, "health check: the database does not answer");
                HttpResponse::json(
                    503,
                    &Health {
                        status: "unhealthy",
                        database: "disconnected",
                    },
                )
                .with_header("retry-after", super::error::RETRY_AFTER_SECS.to_string())
            }
        }
    }

    /// `GET /metrics`: the metrics page, or 404 when no renderer is configured.
    pub fn metrics(&self) -> HttpResponse {
        match &self.metrics {
            Some(render) => HttpResponse::text(200, "text/plain; version=0.0.4", render()),
            None => ApiError::route_not_found().into_response(),
        }
    }

    /// `GET /admin`: the sync dashboard (a static page; it asks for the admin key and calls
    /// the admin API with it), with a Content-Security-Policy that lets only its own inline
    /// script and style run, and forbids framing it.
    pub fn dashboard(&self) -> HttpResponse {
        super::dashboard::page()
    }

    /// The row named by a path segment: a Clerk id, or a local id in digits.
    async fn find_row(&self, id: &str) -> Result<LocalUser, ApiError> {
        let store = self.engine.store();
        let row = match id.parse::<i64>() {
            Ok(local) => store.get_user_by_id(local).await?,
            Err(_) => store.get_user(id).await?,
        };
        row.ok_or_else(|| ApiError::not_found("user"))
    }
}

#[cfg(feature = "clerk-api")]
impl<S: SyncStore + ?Sized> ClerkHttp<S> {
    /// `POST /api/admin/users/{clerk_id}/resync`: fetch the user from Clerk and apply it.
    ///
    /// # Errors
    ///
    /// 404 when neither Clerk nor the table knows the user; 503 when Clerk or the store is
    /// unavailable, or no Backend API is configured.
    pub async fn admin_resync(&self, clerk_id: &str) -> Result<HttpResponse, ApiError> {
        match self.engine.resync(clerk_id).await? {
            crate::sync::ResyncOutcome::NotFound => Err(ApiError::not_found("user")),
            outcome => Ok(HttpResponse::json(200, &outcome)),
        }
    }

    /// `POST /api/admin/sync-users?dry_run=&force=`: reconcile now. The report as JSON.
    ///
    /// # Errors
    ///
    /// 409 while another reconcile runs; 503 when Clerk or the store is unavailable.
    pub async fn admin_reconcile(&self, query: &str) -> Result<HttpResponse, ApiError> {
        let query = Query::parse(query)?;
        let options = crate::sync::ReconcileOptions {
            dry_run: query.bool("dry_run")?.unwrap_or(false),
            force: query.bool("force")?.unwrap_or(false),
            triggered_by: "admin-api".to_owned(),
            progress: None,
        };
        let report = self.engine.reconcile(options).await?;
        Ok(HttpResponse::json(200, &report))
    }

    /// `GET /api/health/user-sync`: `{status, clerk_users, db_users, discrepancy, failed,
    /// pending}`.
    ///
    /// # Errors
    ///
    /// 503 when Clerk or the store is unavailable, or no Backend API is configured.
    pub async fn user_sync_health(&self) -> Result<HttpResponse, ApiError> {
        let health = self.engine.user_sync_health().await?;
        Ok(HttpResponse::json(200, &health))
    }
}

#[cfg(feature = "jwt")]
impl<S: SyncStore + ?Sized> ClerkHttp<S> {
    /// The verified session of a request, from its `Authorization` and `Cookie` header
    /// values: `Ok(None)` when it carries no token.
    ///
    /// # Errors
    ///
    /// 401 (with `WWW-Authenticate`) for a token that does not verify; 503 when keys are
    /// unavailable or sessions are not configured.
    pub async fn session(
        &self,
        authorization: Option<&str>,
        cookie: Option<&str>,
    ) -> Result<Option<Arc<crate::jwt::SessionClaims>>, ApiError> {
        let Some(token) = crate::jwt::token_from_parts(authorization, cookie) else {
            return Ok(None);
        };
        let Some(verifier) = &self.verifier else {
            return Err(ApiError::unavailable(
                "sessions_not_configured",
                "session tokens cannot be verified: no key is configured",
            ));
        };
        let verified = verifier.verify_shared(token).await;
        // The error's code is one of a fixed set, so the series count stays bounded.
        let result = verified.as_ref().map_or_else(|e| e.code(), |_| "valid");
        metrics::counter!("clerk_sync_jwt_verifications_total", "result" => result).increment(1);
        Ok(Some(verified?))
    }

    /// The local row of the signed-in user, fetched from Clerk when missing here.
    ///
    /// # Errors
    ///
    /// 404 when Clerk does not know the user (or it was deleted); 503 when Clerk or the store
    /// is unavailable.
    pub async fn current_user(
        &self,
        claims: &crate::jwt::SessionClaims,
    ) -> Result<LocalUser, ApiError> {
        #[cfg(feature = "clerk-api")]
        let found = match self.engine.clerk_api() {
            Some(_) => self.engine.user_or_fetch(&claims.sub).await?,
            None => self.local_user(&claims.sub).await?,
        };
        #[cfg(not(feature = "clerk-api"))]
        let found = self.local_user(&claims.sub).await?;
        found.ok_or_else(|| ApiError::not_found("user"))
    }

    /// `GET /api/me`: the signed-in user's row, without `raw_json`: that is Clerk's whole user
    /// object, `private_metadata` among it, which is never meant for the user's browser.
    ///
    /// # Errors
    ///
    /// 401 without a valid session; otherwise as [`current_user`](Self::current_user).
    pub async fn me(
        &self,
        authorization: Option<&str>,
        cookie: Option<&str>,
    ) -> Result<HttpResponse, ApiError> {
        let claims = self
            .session(authorization, cookie)
            .await?
            .ok_or_else(ApiError::missing_token)?;
        let user = self.current_user(&claims).await?;
        Ok(HttpResponse::json(200, &SignedInUser::of(&user)))
    }

    async fn local_user(&self, clerk_id: &str) -> Result<Option<LocalUser>, ApiError> {
        let user = self.engine.store().get_user(clerk_id).await?;
        Ok(user.filter(|u| !u.is_deleted()))
    }
}

/// The signed-in user must hold organization role `role` in the active organization.
///
/// # Errors
///
/// 403 otherwise.
#[cfg(feature = "jwt")]
pub fn require_org_role(claims: &crate::jwt::SessionClaims, role: &str) -> Result<(), ApiError> {
    let held = claims
        .org
        .as_ref()
        .and_then(|org| org.role.as_deref())
        .is_some_and(|held| held == role || held == format!("org:{role}"));
    if held {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "this needs the organization role `{role}`"
        )))
    }
}

/// The signed-in user must hold organization permission `permission` (e.g.
/// `org:invoices:read`) in the active organization.
///
/// # Errors
///
/// 403 otherwise.
#[cfg(feature = "jwt")]
pub fn require_org_permission(
    claims: &crate::jwt::SessionClaims,
    permission: &str,
) -> Result<(), ApiError> {
    let held = claims
        .org
        .as_ref()
        .is_some_and(|org| org.permissions.iter().any(|p| p == permission));
    if held {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "this needs the organization permission `{permission}`"
        )))
    }
}

/// A row as `/api/me` shows it to the signed-in user: every field but `raw_json`. Fields are
/// listed, not copied wholesale, so a field added to [`LocalUser`] later is not shown to
/// browsers until someone decides it should be.
#[cfg(feature = "jwt")]
#[derive(Serialize)]
struct SignedInUser<'a> {
    id: i64,
    clerk_id: Option<&'a str>,
    email: Option<&'a str>,
    first_name: Option<&'a str>,
    last_name: Option<&'a str>,
    username: Option<&'a str>,
    image_url: Option<&'a str>,
    external_id: Option<&'a str>,
    public_metadata: Option<&'a serde_json::Value>,
    clerk_updated_at: Option<i64>,
    sync_status: crate::store::SyncStatus,
    #[serde(with = "time::serde::rfc3339::option")]
    last_sync_attempt: Option<time::OffsetDateTime>,
    sync_error: Option<&'a str>,
    #[serde(with = "time::serde::rfc3339::option")]
    deleted_at: Option<time::OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: time::OffsetDateTime,
}

#[cfg(feature = "jwt")]
impl<'a> SignedInUser<'a> {
    fn of(user: &'a LocalUser) -> Self {
        SignedInUser {
            id: user.id,
            clerk_id: user.clerk_id.as_deref(),
            email: user.email.as_deref(),
            first_name: user.first_name.as_deref(),
            last_name: user.last_name.as_deref(),
            username: user.username.as_deref(),
            image_url: user.image_url.as_deref(),
            external_id: user.external_id.as_deref(),
            public_metadata: user.public_metadata.as_ref(),
            clerk_updated_at: user.clerk_updated_at,
            sync_status: user.sync_status,
            last_sync_attempt: user.last_sync_attempt,
            sync_error: user.sync_error.as_deref(),
            deleted_at: user.deleted_at,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

fn outcome_str(outcome: ProcessOutcome) -> &'static str {
    outcome.as_str()
}

fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.len() > ADMIN_BODY_LIMIT {
        return Err(ApiError::payload_too_large(ADMIN_BODY_LIMIT));
    }
    // serde's message would quote the value; say where instead.
    serde_json::from_slice(body).map_err(|error| {
        let shape = crate::event::JsonShapeError::from(error);
        ApiError::bad_request(format!("the body is not the expected JSON ({shape})"))
    })
}

fn profile(body: UserBody) -> UserProfile {
    UserProfile {
        email: body.email,
        first_name: body.first_name,
        last_name: body.last_name,
        username: body.username,
        external_id: body.external_id,
        public_metadata: body.public_metadata,
    }
}
