//! [`CurrentUser`]: the signed-in user's local row.

use std::ops::Deref;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use clerk_sync_core::http::ApiError;
use clerk_sync_core::store::LocalUser;

use crate::{ClerkRejection, ClerkSession, ClerkState};

/// The signed-in user's row in the local table, with their [`ClerkSession`].
///
/// When the row is missing (the `user.created` webhook has not arrived yet), it is fetched
/// from Clerk's Backend API, written through the same conditional write as a webhook, and
/// returned; concurrent requests for one missing user make one API call. Without a Backend
/// API configured, only the local table is read.
///
/// Rejections (core's JSON error): those of [`ClerkSession`]; 404 `not_found` when Clerk does
/// not know the user or the user was deleted; 503 with `Retry-After` when Clerk or the
/// database is unavailable.
///
/// It dereferences to [`LocalUser`].
///
/// ```
/// use clerk_sync_axum::CurrentUser;
///
/// async fn hello(user: CurrentUser) -> String {
///     format!("hello {}", user.first_name.as_deref().unwrap_or("there"))
/// }
/// # let _ = axum::Router::<clerk_sync_axum::ClerkState>::new().route("/", axum::routing::get(hello));
/// ```
#[derive(Debug, Clone)]
pub struct CurrentUser {
    user: LocalUser,
    session: ClerkSession,
}

impl CurrentUser {
    /// The local row.
    pub fn user(&self) -> &LocalUser {
        &self.user
    }

    /// The session the user signed in with.
    pub fn session(&self) -> &ClerkSession {
        &self.session
    }

    /// The local row, by value.
    pub fn into_user(self) -> LocalUser {
        self.user
    }

    /// The row and the session, by value.
    pub fn into_parts(self) -> (LocalUser, ClerkSession) {
        (self.user, self.session)
    }
}

impl Deref for CurrentUser {
    type Target = LocalUser;

    fn deref(&self) -> &LocalUser {
        &self.user
    }
}

impl<S> FromRequestParts<S> for CurrentUser
where
    ClerkState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ClerkRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = ClerkState::from_ref(state);
        let session = ClerkSession::extract(parts, &state)
            .await?
            .ok_or_else(ApiError::missing_token)?;
        let user = state.http().current_user(session.claims()).await?;
        Ok(CurrentUser { user, session })
    }
}
