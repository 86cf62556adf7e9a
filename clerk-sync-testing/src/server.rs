//! [`FakeClerk`]: the server, its configuration, and what a test does with it.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::clerk_error::ClerkError;
use crate::conn::{ConnectionSwitch, CuttableListener};
use crate::error::FakeClerkError;
use crate::faults::{Fault, FaultBook, RateWindow, Route, seconds_up};
use crate::handlers;
use crate::ids::IdGenerator;
use crate::instance::{Instance, NewUser, ProfileChange};
use crate::log::{RecordedRequest, max_in_window};
use crate::seed::{FakeUser, SeedUser, UserChange};
use crate::tokens::{SessionTokenOptions, TokenKey};
use crate::webhooks::{SignedWebhook, WebhookSigner};

/// The Backend API version whose shapes FakeClerk serves.
pub const API_VERSION: &str = "2026-05-12";

/// Request bodies larger than this are refused with 413 (Clerk's bodies are small).
const MAX_BODY_BYTES: usize = 8 << 20;

/// What the routes share.
pub(crate) struct Shared {
    secret_key: String,
    instance_id: String,
    instance: Mutex<Instance>,
    signer: WebhookSigner,
    key: OnceLock<Result<TokenKey, &'static str>>,
    kid: String,
    faults: Mutex<FaultBook>,
    rate: Mutex<Option<RateWindow>>,
    log: Mutex<Vec<(u64, RecordedRequest)>>,
    next_seq: Mutex<u64>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // No lock is held across an await or a user callback; a poisoned one means a test
    // panicked elsewhere, and the data is still consistent.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn instance(&self) -> MutexGuard<'_, Instance> {
        lock(&self.instance)
    }

    pub(crate) fn signer(&self) -> &WebhookSigner {
        &self.signer
    }

    /// The signing key, generated on first use: RSA generation is the slow part of a start,
    /// and most tests never mint a token.
    fn key(&self) -> &TokenKey {
        let key = self
            .key
            .get_or_init(|| TokenKey::generate(self.kid.clone()));
        match key {
            Ok(key) => key,
            // Only a broken crypto library gets here; there is no input to blame.
            Err(reason) => panic!("FakeClerk: {reason}"),
        }
    }

    pub(crate) fn jwks(&self) -> Value {
        self.key().jwks()
    }

    fn record(&self, request: RecordedRequest) -> u64 {
        let seq = {
            let mut next = lock(&self.next_seq);
            *next += 1;
            *next
        };
        lock(&self.log).push((seq, request));
        seq
    }

    fn finish(&self, seq: u64, status: Option<u16>, fault: Option<String>) {
        let mut log = lock(&self.log);
        if let Some((_, entry)) = log.iter_mut().rev().find(|(s, _)| *s == seq) {
            entry.status = status;
            entry.fault = fault;
        }
    }
}

/// Options of a [`FakeClerk`] to start.
///
/// ```
/// # async fn run() {
/// use std::time::Duration;
/// use clerk_sync_testing::FakeClerk;
///
/// // Answer 429 beyond 20 requests in any second, as Clerk does beyond its budget.
/// let fake = FakeClerk::builder()
///     .with_rate_limit(20, Duration::from_secs(1))
///     .start()
///     .await;
/// # let _ = fake;
/// # }
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct FakeClerkBuilder {
    rate_limit: Option<(usize, Duration)>,
    secret_key: Option<String>,
}

impl FakeClerkBuilder {
    /// Answers 429 (with `Retry-After`) once more than `requests` arrived in any sliding
    /// `window`, as Clerk does past an instance's budget. The JWKS routes are not limited.
    pub fn with_rate_limit(mut self, requests: usize, window: Duration) -> Self {
        self.rate_limit = Some((requests, window));
        self
    }

    /// Uses this secret key instead of a generated `sk_test_...` one.
    pub fn secret_key(mut self, secret_key: impl Into<String>) -> Self {
        self.secret_key = Some(secret_key.into());
        self
    }

    /// Starts the server on `127.0.0.1` (a free port).
    ///
    /// # Panics
    ///
    /// When no local port can be bound; use [`try_start`](Self::try_start) to handle that.
    pub async fn start(self) -> FakeClerk {
        match self.try_start().await {
            Ok(fake) => fake,
            Err(error) => panic!("{error}"),
        }
    }

    /// Starts the server on `127.0.0.1` (a free port).
    ///
    /// # Errors
    ///
    /// [`FakeClerkError::Start`] when no local port can be bound.
    pub async fn try_start(self) -> Result<FakeClerk, FakeClerkError> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(FakeClerkError::Start)?;
        let address = listener.local_addr().map_err(FakeClerkError::Start)?;
        let base_url = format!("http://{address}");

        let mut ids = IdGenerator::new();
        let secret_key = self
            .secret_key
            .unwrap_or_else(|| format!("sk_test_{}", ids.hex(40)));
        let instance_id = ids.id("ins");
        let signer = WebhookSigner::new(&mut ids, instance_id.clone());
        let shared = Arc::new(Shared {
            secret_key,
            kid: instance_id.clone(),
            instance_id,
            instance: Mutex::new(Instance::new(ids)),
            signer,
            key: OnceLock::new(),
            faults: Mutex::new(FaultBook::default()),
            rate: Mutex::new(
                self.rate_limit
                    .map(|(requests, window)| RateWindow::new(requests, window)),
            ),
            log: Mutex::new(Vec::new()),
            next_seq: Mutex::new(0),
        });

        let router = router(shared.clone());
        let server = tokio::spawn(async move {
            let service = router.into_make_service_with_connect_info::<ConnectionSwitch>();
            // The server only ends when the task is aborted (FakeClerk dropped).
            let _ = axum::serve(CuttableListener::new(listener), service).await;
        });
        Ok(FakeClerk {
            shared,
            base_url,
            server,
        })
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/v1/users",
            get(handlers::list_users).post(handlers::create_user),
        )
        .route("/v1/users/count", get(handlers::count_users))
        .route(
            "/v1/users/{id}",
            get(handlers::get_user)
                .patch(handlers::update_user)
                .delete(handlers::delete_user),
        )
        .route(
            "/v1/users/{id}/metadata",
            axum::routing::patch(handlers::update_user_metadata),
        )
        .route(
            "/v1/invitations",
            get(handlers::list_invitations).post(handlers::create_invitation),
        )
        .route("/v1/jwks", get(handlers::jwks))
        .route("/.well-known/jwks.json", get(handlers::jwks))
        .fallback(|| async { ClerkError::not_found("Resource not found").into_response() })
        .method_not_allowed_fallback(|| async {
            ClerkError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "fake_clerk_unsupported",
                "method not served by FakeClerk",
                "FakeClerk does not serve this method on this path.",
            )
            .into_response()
        })
        .layer(middleware::from_fn_with_state(shared.clone(), pipeline))
        .with_state(shared)
}

/// Around every request: the log, the built-in rate limit, injected faults, then the
/// secret key check, then the route.
async fn pipeline(
    State(fake): State<Arc<Shared>>,
    ConnectInfo(connection): ConnectInfo<ConnectionSwitch>,
    request: Request,
    next: Next,
) -> Response {
    let at = Instant::now();
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    // Read before the body is awaited: a borrow of the request is not `Send`.
    let (api_version, user_agent, authorization) = {
        let headers = request.headers();
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        (
            header("clerk-api-version"),
            header(USER_AGENT.as_str()),
            header(AUTHORIZATION.as_str()),
        )
    };
    let authorized = authorization
        .as_deref()
        .and_then(|a| a.strip_prefix("Bearer "))
        .is_some_and(|key| key == fake.secret_key);
    let query = request.uri().query().map(str::to_owned);
    let api_version_refused = api_version.as_deref().is_some_and(|v| v != API_VERSION);

    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return ClerkError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request_body_too_large",
                "Request body too large",
                "The request body is too large.",
            )
            .into_response();
        }
    };
    let body_text = (!bytes.is_empty()).then(|| String::from_utf8_lossy(&bytes).into_owned());
    let request = Request::from_parts(parts, Body::from(bytes));

    let template = route.clone().unwrap_or_else(|| path.clone());
    let is_jwks = matches!(template.as_str(), "/v1/jwks" | "/.well-known/jwks.json");
    let seq = fake.record(RecordedRequest {
        method: method.clone(),
        path,
        route,
        query,
        status: None,
        fault: None,
        body: body_text,
        api_version,
        user_agent,
        authorized,
        at,
        received_at: SystemTime::now(),
    });

    let limited = if is_jwks {
        Ok(())
    } else {
        lock(&fake.rate)
            .as_mut()
            .map_or(Ok(()), |window| window.admit(at))
    };
    if let Err(retry_after) = limited {
        fake.finish(seq, Some(429), None);
        return ClerkError::too_many_requests(retry_after);
    }

    let fault = lock(&fake.faults).take(&method, &template);
    let fault_name = fault.as_ref().map(ToString::to_string);
    let early = match &fault {
        Some(Fault::RateLimited { retry_after }) => {
            Some(ClerkError::too_many_requests(seconds_up(*retry_after)))
        }
        Some(Fault::Status(status)) => Some(ClerkError::server(*status).into_response()),
        Some(Fault::Latency(delay)) => {
            tokio::time::sleep(*delay).await;
            None
        }
        _ => None,
    };
    if let Some(response) = early {
        fake.finish(seq, Some(response.status().as_u16()), fault_name);
        return response;
    }

    let public = template == "/.well-known/jwks.json";
    let response = if !public && !authorized {
        ClerkError::unauthorized(authorization.is_none()).into_response()
    } else if api_version_refused {
        // Clerk answers in the shapes of the version asked for; FakeClerk knows one.
        ClerkError::new(
            StatusCode::BAD_REQUEST,
            "fake_clerk_unsupported",
            "API version not served by FakeClerk",
            format!("FakeClerk serves Clerk-API-Version {API_VERSION} only."),
        )
        .into_response()
    } else {
        next.run(request).await
    };

    match fault {
        Some(Fault::Garbage) => {
            fake.finish(seq, Some(200), fault_name);
            (
                StatusCode::OK,
                [(CONTENT_TYPE, "application/json")],
                r#"{"object":"user","id":"user_"#,
            )
                .into_response()
        }
        Some(Fault::DropResponse) => {
            // Applied above; now the answer is lost with the connection.
            connection.cut();
            fake.finish(seq, None, fault_name);
            response
        }
        _ => {
            fake.finish(seq, Some(response.status().as_u16()), fault_name);
            response
        }
    }
}

/// An in-process Clerk: the Backend API (users, invitations, JWKS) on `127.0.0.1`, session
/// tokens signed by its own key, and signed webhooks for every change. See the
/// [crate docs](crate) for a tour.
///
/// The server stops when the `FakeClerk` is dropped.
pub struct FakeClerk {
    shared: Arc<Shared>,
    base_url: String,
    server: JoinHandle<()>,
}

impl Drop for FakeClerk {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl std::fmt::Debug for FakeClerk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeClerk")
            .field("base_url", &self.base_url)
            .field("instance_id", &self.shared.instance_id)
            .field("users", &self.user_count())
            .finish_non_exhaustive()
    }
}

impl FakeClerk {
    /// Starts a FakeClerk with default options (no built-in rate limit).
    ///
    /// # Panics
    ///
    /// When no local port can be bound; see [`FakeClerkBuilder::try_start`].
    pub async fn start() -> FakeClerk {
        Self::builder().start().await
    }

    /// Options for a FakeClerk to start.
    pub fn builder() -> FakeClerkBuilder {
        FakeClerkBuilder::default()
    }

    /// The API origin without `/v1`, e.g. `http://127.0.0.1:41234`: the value for
    /// `CLERK_API_URL`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The instance's secret key, `sk_test_...`: the value for `CLERK_SECRET_KEY`. Any other
    /// bearer gets 401.
    pub fn secret_key(&self) -> &str {
        &self.shared.secret_key
    }

    /// The instance id, `ins_...` (also the `kid` of its signing key and the envelopes'
    /// `instance_id`).
    pub fn instance_id(&self) -> &str {
        &self.shared.instance_id
    }

    // ---- users ----------------------------------------------------------------------

    /// Adds a user as if it existed before the test: no webhook is queued (use
    /// [`create_user_directly`](Self::create_user_directly) for a sign-up during the test).
    ///
    /// # Errors
    ///
    /// [`FakeClerkError::IdentifierTaken`] or [`FakeClerkError::InvalidEmail`].
    pub fn seed_user(&self, seed: SeedUser) -> Result<FakeUser, FakeClerkError> {
        let mut instance = self.shared.instance();
        let id = instance.create_user(new_user(seed))?;
        instance
            .users
            .get(&id)
            .map(FakeUser::from_record)
            .ok_or(FakeClerkError::UserNotFound)
    }

    /// Adds `n` users with generated addresses (`seed<k>@fake-clerk.test`) and no names,
    /// quickly and compactly (hundreds of thousands are fine); returns their ids in
    /// creation order. No webhooks are queued.
    pub fn seed_users(&self, n: usize) -> Vec<String> {
        self.shared.instance().seed_many(n)
    }

    /// Creates a user as a sign-up in Clerk would during the test, queuing `user.created`.
    ///
    /// # Errors
    ///
    /// As [`seed_user`](Self::seed_user).
    pub fn create_user_directly(&self, seed: SeedUser) -> Result<FakeUser, FakeClerkError> {
        let mut instance = self.shared.instance();
        let id = instance.create_user(new_user(seed))?;
        instance.emit_user(
            &self.shared.signer,
            "user.created",
            &id,
            Some("Clerk Dashboard"),
        );
        instance
            .users
            .get(&id)
            .map(FakeUser::from_record)
            .ok_or(FakeClerkError::UserNotFound)
    }

    /// Changes a user as an administrator would in the Clerk dashboard (drift the sync must
    /// catch), with a new `updated_at`, queuing `user.updated`.
    ///
    /// # Errors
    ///
    /// [`FakeClerkError::UserNotFound`], [`FakeClerkError::IdentifierTaken`] or
    /// [`FakeClerkError::InvalidEmail`].
    pub fn update_user_directly(
        &self,
        user_id: &str,
        change: UserChange,
    ) -> Result<FakeUser, FakeClerkError> {
        let mut instance = self.shared.instance();
        instance.change_user(
            user_id,
            ProfileChange {
                first_name: change.first_name,
                last_name: change.last_name,
                username: change.username,
                external_id: change.external_id,
                new_primary_email: change.email,
                public_metadata: change.public_metadata,
                private_metadata: change.private_metadata,
                ..ProfileChange::default()
            },
        )?;
        instance.emit_user(
            &self.shared.signer,
            "user.updated",
            user_id,
            Some("Clerk Dashboard"),
        );
        instance
            .users
            .get(user_id)
            .map(FakeUser::from_record)
            .ok_or(FakeClerkError::UserNotFound)
    }

    /// Deletes a user as the Clerk dashboard would, queuing `user.deleted`; `false` when
    /// there was no such user.
    pub fn delete_user_directly(&self, user_id: &str) -> bool {
        let mut instance = self.shared.instance();
        if !instance.delete_user(user_id) {
            return false;
        }
        instance.emit_deleted(&self.shared.signer, user_id, Some("Clerk Dashboard"));
        true
    }

    /// One user, if it exists.
    pub fn user(&self, user_id: &str) -> Option<FakeUser> {
        self.shared
            .instance()
            .users
            .get(user_id)
            .map(FakeUser::from_record)
    }

    /// The user holding this email address, if any.
    pub fn user_by_email(&self, email: &str) -> Option<FakeUser> {
        let instance = self.shared.instance();
        let id = instance.users.email_owner(email)?;
        instance.users.get(id).map(FakeUser::from_record)
    }

    /// Every user, oldest first. Renders each one: for large seeded sets prefer
    /// [`user_count`](Self::user_count) and [`user_ids`](Self::user_ids).
    pub fn users(&self) -> Vec<FakeUser> {
        self.shared
            .instance()
            .users
            .iter()
            .map(FakeUser::from_record)
            .collect()
    }

    /// Every user id, oldest first.
    pub fn user_ids(&self) -> Vec<String> {
        self.shared
            .instance()
            .users
            .iter()
            .map(|u| u.id.to_string())
            .collect()
    }

    /// How many users exist.
    pub fn user_count(&self) -> usize {
        self.shared.instance().users.len()
    }

    /// Every invitation, as Clerk's invitation objects, oldest first.
    pub fn invitations(&self) -> Vec<Value> {
        self.shared
            .instance()
            .invitations
            .iter()
            .map(|i| i.to_value())
            .collect()
    }

    // ---- webhooks -------------------------------------------------------------------

    /// The webhook signing secret, `whsec_...`: the value for `CLERK_WEBHOOK_SECRET`.
    pub fn webhook_secret(&self) -> &str {
        self.shared.signer.secret()
    }

    /// Signs an event of this type around `data`, in Clerk's envelope, now.
    pub fn sign_webhook(&self, event_type: &str, data: Value) -> SignedWebhook {
        let mut instance = self.shared.instance();
        self.shared
            .signer
            .sign(&mut instance.ids, event_type, data, None)
    }

    /// Drains the events queued by changes so far (through the API or the `*_directly`
    /// helpers), oldest first: deliver them to your webhook endpoint to play Clerk's echo.
    pub fn take_webhooks(&self) -> Vec<SignedWebhook> {
        std::mem::take(&mut self.shared.instance().webhooks)
    }

    // ---- tokens ---------------------------------------------------------------------

    /// The issuer of minted tokens (`iss`): the fake's base URL, which also serves
    /// `/.well-known/jwks.json` as a Frontend API does.
    pub fn issuer(&self) -> &str {
        &self.base_url
    }

    /// `{base_url}/.well-known/jwks.json`, the JWKS URL without authentication.
    pub fn jwks_url(&self) -> String {
        format!("{}/.well-known/jwks.json", self.base_url)
    }

    /// The JSON Web Key Set (one RS256 key, `kid` = the instance id).
    ///
    /// # Panics
    ///
    /// Only if aws-lc-rs cannot generate an RSA key (the key is made on first use).
    pub fn jwks(&self) -> Value {
        self.shared.jwks()
    }

    /// The public key as SPKI PEM: the value for `CLERK_JWT_KEY`.
    ///
    /// # Panics
    ///
    /// As [`jwks`](Self::jwks).
    pub fn jwt_public_key_pem(&self) -> String {
        self.shared.key().pem().to_owned()
    }

    /// A session token signed with the instance's key.
    ///
    /// # Panics
    ///
    /// As [`jwks`](Self::jwks).
    pub fn session_token(&self, options: SessionTokenOptions) -> String {
        let claims = options.claims(&self.base_url, || self.shared.instance().ids.id("sess"));
        self.shared
            .key()
            .sign(&claims, options.token_class_header())
    }

    // ---- faults ---------------------------------------------------------------------

    /// Plays `fault` for the next `n` requests matching `route` (counted injections are
    /// used oldest first, before persistent ones).
    pub fn fail_next(&self, n: usize, route: Route, fault: Fault) {
        lock(&self.shared.faults).add(route, fault, Some(n));
    }

    /// Plays `fault` for every request matching `route` until [`clear_faults`](Self::clear_faults).
    pub fn fail_always(&self, route: Route, fault: Fault) {
        lock(&self.shared.faults).add(route, fault, None);
    }

    /// Removes every injected fault.
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// Sets or removes the built-in rate limit (see
    /// [`FakeClerkBuilder::with_rate_limit`]).
    pub fn set_rate_limit(&self, limit: Option<(usize, Duration)>) {
        *lock(&self.shared.rate) =
            limit.map(|(requests, window)| RateWindow::new(requests, window));
    }

    // ---- request log ----------------------------------------------------------------

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.log)
            .iter()
            .map(|(_, r)| r.clone())
            .collect()
    }

    /// The requests to one endpoint, e.g. `("POST", "/v1/users")`.
    pub fn requests_to(&self, method: &str, route: &str) -> Vec<RecordedRequest> {
        let route_filter = Route::new(method, route);
        lock(&self.shared.log)
            .iter()
            .filter(|(_, r)| route_filter.matches(&r.method, r.route.as_deref().unwrap_or(&r.path)))
            .map(|(_, r)| r.clone())
            .collect()
    }

    /// Forgets the requests received so far.
    pub fn clear_requests(&self) {
        lock(&self.shared.log).clear();
    }

    /// The most requests that arrived within any span shorter than `window` (to check a
    /// client never exceeded a budget).
    pub fn max_requests_in_window(&self, window: Duration) -> usize {
        max_in_window(&self.requests(), window)
    }
}

fn new_user(seed: SeedUser) -> NewUser {
    NewUser {
        emails: seed.email.into_iter().collect(),
        verified: seed.verified,
        first_name: seed.first_name,
        last_name: seed.last_name,
        username: seed.username,
        external_id: seed.external_id,
        locale: None,
        public_metadata: seed.public_metadata,
        private_metadata: seed.private_metadata,
        unsafe_metadata: Default::default(),
        password_enabled: seed.password_enabled,
    }
}
