//! The Backend API routes the client calls: method, route template (the metric label, never
//! an id) and whether a repeat is harmless.

use reqwest::Method;

/// One route of the Backend API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    ListUsers,
    CountUsers,
    GetUser,
    CreateUser,
    UpdateUser,
    UpdateUserMetadata,
    DeleteUser,
    CreateInvitation,
    Jwks,
}

impl Endpoint {
    pub(crate) fn method(self) -> Method {
        match self {
            Endpoint::ListUsers | Endpoint::CountUsers | Endpoint::GetUser | Endpoint::Jwks => {
                Method::GET
            }
            Endpoint::CreateUser | Endpoint::CreateInvitation => Method::POST,
            Endpoint::UpdateUser | Endpoint::UpdateUserMetadata => Method::PATCH,
            Endpoint::DeleteUser => Method::DELETE,
        }
    }

    /// `METHOD /v1/route/{id}`: the `endpoint` label of
    /// `clerk_sync_clerk_api_requests_total` and of log lines.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Endpoint::ListUsers => "GET /v1/users",
            Endpoint::CountUsers => "GET /v1/users/count",
            Endpoint::GetUser => "GET /v1/users/{id}",
            Endpoint::CreateUser => "POST /v1/users",
            Endpoint::UpdateUser => "PATCH /v1/users/{id}",
            Endpoint::UpdateUserMetadata => "PATCH /v1/users/{id}/metadata",
            Endpoint::DeleteUser => "DELETE /v1/users/{id}",
            Endpoint::CreateInvitation => "POST /v1/invitations",
            Endpoint::Jwks => "GET /v1/jwks",
        }
    }

    /// Whether sending it twice has the effect of sending it once. Reads are; a PATCH sets
    /// (or merges) the same values again; a repeated DELETE finds the user gone. A POST
    /// creates again.
    pub(crate) fn is_idempotent(self) -> bool {
        self.method() != Method::POST
    }
}
