//! The admin API's key check and request shapes.

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::ApiError;
use super::error::WWW_AUTHENTICATE_ADMIN;
use crate::store::{LedgerEntry, LedgerOutcome, LocalUser, StatusCounts, SyncRun, SyncStatus};

/// The admin API key, compared in constant time.
///
/// `Debug` never prints it.
#[derive(Clone)]
pub struct AdminKey(Vec<u8>);

impl AdminKey {
    /// A key; `None` for an empty one, which would let anyone in.
    pub fn new(key: &str) -> Option<Self> {
        let key = key.trim();
        (!key.is_empty()).then(|| AdminKey(key.as_bytes().to_vec()))
    }

    /// Check an `Authorization` header value: `Bearer <key>`.
    ///
    /// # Errors
    ///
    /// 401 with a `WWW-Authenticate` challenge when no bearer key is given; 403 when it is
    /// the wrong one.
    pub fn check(&self, authorization: Option<&str>) -> Result<(), ApiError> {
        let given = authorization.and_then(|value| {
            let (scheme, key) = value.trim().split_once(char::is_whitespace)?;
            scheme.eq_ignore_ascii_case("bearer").then(|| key.trim())
        });
        let Some(given) = given.filter(|k| !k.is_empty()) else {
            let mut error = ApiError::new(401, "missing_admin_key", "an admin API key is required");
            error.www_authenticate = Some(WWW_AUTHENTICATE_ADMIN);
            return Err(error);
        };
        // `ct_eq` of unequal lengths is false at once; the length of the key is not a secret
        // worth hiding, its bytes are.
        if bool::from(self.0.as_slice().ct_eq(given.as_bytes())) {
            Ok(())
        } else {
            Err(ApiError::new(
                403,
                "invalid_admin_key",
                "the admin API key is wrong",
            ))
        }
    }
}

impl std::fmt::Debug for AdminKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminKey(..)")
    }
}

/// A page of users: `{"users": [...], "next_cursor": ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UserPage {
    /// The rows, by local id.
    pub users: Vec<LocalUser>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// `POST /api/admin/users` and `PATCH /api/admin/users/{clerk_id}`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct UserBody {
    /// Primary email address.
    pub email: Option<String>,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Username.
    pub username: Option<String>,
    /// The application's id for the user.
    pub external_id: Option<String>,
    /// Clerk `public_metadata` (a JSON object).
    pub public_metadata: Option<serde_json::Value>,
}

/// `POST /api/admin/invitations`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct InvitationBody {
    /// The address to invite.
    pub email: String,
    /// Clerk `public_metadata` for the user the invitation creates.
    pub public_metadata: Option<serde_json::Value>,
}

/// One ledger entry as the admin API shows it: never its payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EventView {
    /// The `svix-id`.
    pub svix_id: String,
    /// Clerk event type.
    pub event_type: String,
    /// `data.id`.
    pub object_id: Option<String>,
    /// When first received (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: time::OffsetDateTime,
    /// When processed (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub processed_at: Option<time::OffsetDateTime>,
    /// How it ended.
    pub outcome: Option<LedgerOutcome>,
    /// Why it failed.
    pub error: Option<String>,
}

impl From<LedgerEntry> for EventView {
    fn from(entry: LedgerEntry) -> Self {
        EventView {
            svix_id: entry.svix_id,
            event_type: entry.event_type,
            object_id: entry.object_id,
            received_at: entry.received_at,
            processed_at: entry.processed_at,
            outcome: entry.outcome,
            error: entry.error,
        }
    }
}

/// `{"events": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EventList {
    /// Newest first.
    pub events: Vec<EventView>,
}

/// `{"runs": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RunList {
    /// Newest first.
    pub runs: Vec<SyncRun>,
}

/// `{"counts": {...}}`: rows by state, for the dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CountsView {
    /// Rows by state.
    pub counts: StatusCounts,
    /// Queued outbound entries due now.
    pub outbox_due: u64,
}

/// `{"revived": n}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Revived {
    /// Dead letters revived.
    pub revived: u64,
}

/// A query's `sync_status`, or a 400.
pub(super) fn parse_status(value: Option<&str>) -> Result<Option<SyncStatus>, ApiError> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse()
                .map_err(|_| ApiError::bad_request("sync_status must be synced, pending or failed"))
        })
        .transpose()
}

/// A query's `outcome`, or a 400.
pub(super) fn parse_outcome(value: Option<&str>) -> Result<Option<LedgerOutcome>, ApiError> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse().map_err(|_| {
                ApiError::bad_request("outcome must be applied, stale, ignored or failed")
            })
        })
        .transpose()
}

/// A page size within 1..=1000, or a 400.
pub(super) fn page_size(limit: Option<u32>, default: u32) -> Result<u32, ApiError> {
    match limit {
        None => Ok(default),
        Some(n @ 1..=1000) => Ok(n),
        Some(_) => Err(ApiError::bad_request("limit must be between 1 and 1000")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_admin_key_needs_a_bearer_and_the_right_bytes() {
        let key = AdminKey::new("s3cret-admin").expect("non-empty");
        assert!(key.check(Some("Bearer s3cret-admin")).is_ok());
        assert!(key.check(Some("bearer   s3cret-admin ")).is_ok());
        let missing = key.check(None).unwrap_err();
        assert_eq!(
            (missing.status, missing.www_authenticate.is_some()),
            (401, true)
        );
        assert_eq!(
            key.check(Some("Basic s3cret-admin")).unwrap_err().status,
            401
        );
        assert_eq!(key.check(Some("Bearer ")).unwrap_err().status, 401);
        assert_eq!(
            key.check(Some("Bearer s3cret-admiN")).unwrap_err().status,
            403
        );
        assert_eq!(key.check(Some("Bearer s3cret")).unwrap_err().status, 403);
        assert!(AdminKey::new("  ").is_none());
        assert!(!format!("{key:?}").contains("s3cret"));
    }
}
