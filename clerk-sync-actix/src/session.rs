//! [`ClerkSession`]: the verified session token of a request, and
//! [`OptionalClerkSession`] for optional sign-in.

use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest};
use clerk_sync_core::http::{ApiError, require_org_permission, require_org_role};
use clerk_sync_core::jwt::{OrgClaims, SessionClaims};

use crate::ClerkError;
use crate::response::session_headers;
use crate::state::state_of;

/// The future of this crate's async extractors: the request is shared (`HttpRequest` is
/// reference-counted), so it owns what it reads.
pub(crate) type Extraction<T> = Pin<Box<dyn Future<Output = Result<T, ClerkError>>>>;

/// The verified claims of the request's Clerk session token, from `Authorization: Bearer`
/// (or a bare JWT in `Authorization`) or the `__session` cookie.
///
/// - As an extractor, a request without a token is refused with 401,
///   `WWW-Authenticate: Bearer error="invalid_token"` and `{"error":"missing_token",...}`;
///   a token that does not verify (signature, expiry, token class, authorized party, ...)
///   with 401 and the failed check's code.
/// - For optional sign-in take [`OptionalClerkSession`]: a request without a token is
///   `None`, but a request with a token that does not verify is still refused, since a broken
///   credential is not "signed out". **Not `Option<ClerkSession>`:** actix-web implements
///   `FromRequest for Option<T>` for every extractor by turning *any* refusal into `None`,
///   so there an expired or forged token would read as signed out (the axum crate's
///   `Option<ClerkSession>` does refuse it; actix-web's blanket impl leaves no way to).
/// - Verification goes through the verifier's token cache, and the session is kept in the
///   request's extensions, so extracting it twice (or with [`CurrentUser`](crate::CurrentUser))
///   verifies once.
///
/// It dereferences to [`SessionClaims`], whose accessors give `user_id()`, `session_id()`,
/// `org_id()` and `org_role()`.
///
/// ```
/// use actix_web::web::Json;
/// use clerk_sync_actix::{ClerkError, ClerkSession, OptionalClerkSession};
/// use serde_json::{Value, json};
///
/// async fn invoices(session: ClerkSession) -> Result<Json<Value>, ClerkError> {
///     session.require_org_permission("org:invoices:read")?;
///     Ok(Json(json!({ "org": session.org_id(), "user": session.user_id() })))
/// }
///
/// async fn greeting(session: OptionalClerkSession) -> String {
///     match session.into_inner() {
///         Some(session) => format!("signed in as {}", session.user_id()),
///         None => "signed out".to_owned(),
///     }
/// }
/// # let _ = actix_web::App::new()
/// #     .route("/invoices", actix_web::web::get().to(invoices))
/// #     .route("/", actix_web::web::get().to(greeting));
/// ```
#[derive(Debug, Clone)]
pub struct ClerkSession {
    claims: Arc<SessionClaims>,
}

impl ClerkSession {
    /// A session from claims verified elsewhere (tests, a custom extractor).
    pub fn from_claims(claims: Arc<SessionClaims>) -> Self {
        ClerkSession { claims }
    }

    /// The verified claims.
    pub fn claims(&self) -> &SessionClaims {
        &self.claims
    }

    /// The verified claims, shared.
    pub fn shared_claims(&self) -> &Arc<SessionClaims> {
        &self.claims
    }

    /// The active organization, from v1 or v2 claims.
    pub fn org(&self) -> Option<&OrgClaims> {
        self.claims.org.as_ref()
    }

    /// Require the organization role `role` in the active organization: `"admin"` and
    /// `"org:admin"` both name Clerk's `org:admin`.
    ///
    /// # Errors
    ///
    /// 403 without an active organization or with another role.
    pub fn require_org_role(&self, role: &str) -> Result<(), ClerkError> {
        require_org_role(&self.claims, role).map_err(ClerkError::from)
    }

    /// Require the organization permission `permission` (e.g. `org:invoices:read`) in the
    /// active organization; v1 `org_permissions` and v2 feature permissions alike.
    ///
    /// # Errors
    ///
    /// 403 without an active organization or without the permission.
    pub fn require_org_permission(&self, permission: &str) -> Result<(), ClerkError> {
        require_org_permission(&self.claims, permission).map_err(ClerkError::from)
    }

    /// The session of a request, verified at most once per request: `None` without a token.
    pub(crate) async fn extract(request: &HttpRequest) -> Result<Option<Self>, ClerkError> {
        if let Some(session) = request.extensions().get::<ClerkSession>() {
            return Ok(Some(session.clone()));
        }
        let state = state_of(request)?;
        let headers = session_headers(request.headers())?;
        let claims = state
            .http()
            .session(headers.authorization, headers.cookie.as_deref())
            .await?;
        let session = claims.map(ClerkSession::from_claims);
        if let Some(session) = &session {
            request.extensions_mut().insert(session.clone());
        }
        Ok(session)
    }
}

impl Deref for ClerkSession {
    type Target = SessionClaims;

    fn deref(&self) -> &SessionClaims {
        &self.claims
    }
}

impl FromRequest for ClerkSession {
    type Error = ClerkError;
    type Future = Extraction<Self>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let request = request.clone();
        Box::pin(async move {
            ClerkSession::extract(&request)
                .await?
                .ok_or_else(|| ApiError::missing_token().into())
        })
    }
}

/// Optional sign-in: `None` without a session token, the [`ClerkSession`] with a valid one,
/// and a refusal ([`ClerkError`], 401) for a token that does not verify, as for
/// [`ClerkSession`] itself: a broken or forged credential never passes as "signed out".
///
/// This is what `Option<ClerkSession>` is in the axum crate; in actix-web, `Option<T>` turns
/// every refusal into `None`, so it cannot be. Read it with
/// [`into_inner`](Self::into_inner), [`as_ref`](Self::as_ref), or `Deref` to
/// `Option<ClerkSession>`.
///
/// ```
/// use clerk_sync_actix::OptionalClerkSession;
///
/// async fn home(session: OptionalClerkSession) -> &'static str {
///     if session.is_some() { "welcome back" } else { "please sign in" }
/// }
/// # let _ = actix_web::App::new().route("/", actix_web::web::get().to(home));
/// ```
#[derive(Debug, Clone, Default)]
pub struct OptionalClerkSession(pub Option<ClerkSession>);

impl OptionalClerkSession {
    /// The session, if the request carried a token.
    pub fn into_inner(self) -> Option<ClerkSession> {
        self.0
    }

    /// The session, by reference.
    pub fn as_ref(&self) -> Option<&ClerkSession> {
        self.0.as_ref()
    }
}

impl Deref for OptionalClerkSession {
    type Target = Option<ClerkSession>;

    fn deref(&self) -> &Option<ClerkSession> {
        &self.0
    }
}

impl From<OptionalClerkSession> for Option<ClerkSession> {
    fn from(session: OptionalClerkSession) -> Self {
        session.0
    }
}

impl FromRequest for OptionalClerkSession {
    type Error = ClerkError;
    type Future = Extraction<Self>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let request = request.clone();
        Box::pin(async move {
            ClerkSession::extract(&request)
                .await
                .map(OptionalClerkSession)
        })
    }
}
