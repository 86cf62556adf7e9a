//! [`ClerkSession`]: the verified session token of a request.

use std::ops::Deref;
use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use clerk_sync_core::http::{ApiError, require_org_permission, require_org_role};
use clerk_sync_core::jwt::{OrgClaims, SessionClaims};

use crate::response::session_headers;
use crate::{ClerkRejection, ClerkState};

/// The verified claims of the request's Clerk session token, from `Authorization: Bearer`
/// (or a bare JWT in `Authorization`) or the `__session` cookie.
///
/// - As an extractor, a request without a token is refused with 401,
///   `WWW-Authenticate: Bearer error="invalid_token"` and `{"error":"missing_token",...}`;
///   a token that does not verify (signature, expiry, token class, authorized party, ...)
///   with 401 and the failed check's code.
/// - As `Option<ClerkSession>`, a request without a token is `None`, but a request with a
///   token that does not verify is still refused: a broken credential is not "signed out".
/// - Verification goes through the verifier's token cache, and the session is kept in the
///   request's extensions, so extracting it twice (or with [`CurrentUser`](crate::CurrentUser))
///   verifies once.
///
/// It dereferences to [`SessionClaims`].
///
/// ```
/// use axum::Json;
/// use clerk_sync_axum::{ClerkRejection, ClerkSession};
/// use serde_json::{Value, json};
///
/// async fn invoices(session: ClerkSession) -> Result<Json<Value>, ClerkRejection> {
///     session.require_org_permission("org:invoices:read")?;
///     Ok(Json(json!({ "org": session.org_id(), "user": session.user_id() })))
/// }
///
/// async fn greeting(session: Option<ClerkSession>) -> String {
///     match session {
///         Some(session) => format!("signed in as {}", session.user_id()),
///         None => "signed out".to_owned(),
///     }
/// }
/// # let _ = axum::Router::<clerk_sync_axum::ClerkState>::new()
/// #     .route("/invoices", axum::routing::get(invoices))
/// #     .route("/", axum::routing::get(greeting));
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

    /// The active organization, from v1 or v2 claims. The user, session and organization
    /// ids and the role are [`SessionClaims`]' own accessors (`user_id()`, `session_id()`,
    /// `org_id()`, `org_role()`), reached through `Deref`.
    pub fn org(&self) -> Option<&OrgClaims> {
        self.claims.org.as_ref()
    }

    /// Require the organization role `role` in the active organization: `"admin"` and
    /// `"org:admin"` both name Clerk's `org:admin`.
    ///
    /// # Errors
    ///
    /// 403 without an active organization or with another role.
    pub fn require_org_role(&self, role: &str) -> Result<(), ClerkRejection> {
        require_org_role(&self.claims, role).map_err(ClerkRejection::from)
    }

    /// Require the organization permission `permission` (e.g. `org:invoices:read`) in the
    /// active organization; v1 `org_permissions` and v2 feature permissions alike.
    ///
    /// # Errors
    ///
    /// 403 without an active organization or without the permission.
    pub fn require_org_permission(&self, permission: &str) -> Result<(), ClerkRejection> {
        require_org_permission(&self.claims, permission).map_err(ClerkRejection::from)
    }

    /// The session of a request, verified at most once per request.
    pub(crate) async fn extract(
        parts: &mut Parts,
        state: &ClerkState,
    ) -> Result<Option<Self>, ClerkRejection> {
        if let Some(session) = parts.extensions.get::<ClerkSession>() {
            return Ok(Some(session.clone()));
        }
        let headers = session_headers(&parts.headers)?;
        let claims = state
            .http()
            .session(headers.authorization, headers.cookie.as_deref())
            .await?;
        let session = claims.map(ClerkSession::from_claims);
        if let Some(session) = &session {
            parts.extensions.insert(session.clone());
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

impl<S> FromRequestParts<S> for ClerkSession
where
    ClerkState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ClerkRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = ClerkState::from_ref(state);
        ClerkSession::extract(parts, &state)
            .await?
            .ok_or_else(|| ApiError::missing_token().into())
    }
}

impl<S> OptionalFromRequestParts<S> for ClerkSession
where
    ClerkState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ClerkRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let state = ClerkState::from_ref(state);
        ClerkSession::extract(parts, &state).await
    }
}
