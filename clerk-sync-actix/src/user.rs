//! [`CurrentUser`]: the signed-in user's local row.

use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use clerk_sync_core::http::ApiError;
use clerk_sync_core::store::LocalUser;

use crate::session::Extraction;
use crate::state::state_of;
use crate::{ClerkError, ClerkSession};

/// The signed-in user's row in the local table, with their [`ClerkSession`].
///
/// When the row is missing (the `user.created` webhook has not arrived yet), it is fetched
/// from Clerk's Backend API, written through the same conditional write as a webhook, and
/// returned; concurrent requests for one missing user make one API call. Without a Backend
/// API configured, only the local table is read.
///
/// Refusals ([`ClerkError`], core's JSON error): those of [`ClerkSession`]; 404 `not_found`
/// when Clerk does not know the user or the user was deleted; 503 with `Retry-After` when
/// Clerk or the database is unavailable.
///
/// It dereferences to [`LocalUser`].
///
/// ```
/// use clerk_sync_actix::CurrentUser;
///
/// async fn hello(user: CurrentUser) -> String {
///     format!("hello {}", user.first_name.as_deref().unwrap_or("there"))
/// }
/// # let _ = actix_web::App::new().route("/", actix_web::web::get().to(hello));
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

impl FromRequest for CurrentUser {
    type Error = ClerkError;
    type Future = Extraction<Self>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let request = request.clone();
        Box::pin(async move {
            let session = ClerkSession::extract(&request)
                .await?
                .ok_or_else(ApiError::missing_token)?;
            let state = state_of(&request)?;
            let user = state.http().current_user(session.claims()).await?;
            Ok(CurrentUser { user, session })
        })
    }
}
