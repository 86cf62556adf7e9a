//! Sessions (`session.*`).

use serde::{Deserialize, Serialize};

use super::string_enum::string_enum;
use super::user::User;

string_enum! {
    /// Where a session stands (`status`).
    SessionStatus {
        /// Signed in and usable.
        Active => "active",
        /// Created but waiting on a task (e.g. choosing an organization) before it is active.
        Pending => "pending",
        /// The user signed out.
        Ended => "ended",
        /// Its lifetime ran out.
        Expired => "expired",
        /// Removed from the client (signed out of one of several sessions).
        Removed => "removed",
        /// Revoked through the Backend API or dashboard.
        Revoked => "revoked",
        /// Inactive for longer than the inactivity timeout.
        Abandoned => "abandoned",
        /// Replaced by another session of the same client.
        Replaced => "replaced",
    }
}

/// A session, the `data` of every `session.*` event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Session {
    /// The session id, `sess_...`.
    pub id: String,
    /// The user the session belongs to.
    #[serde(default)]
    pub user_id: String,
    /// The client (browser or device) holding the session, `client_...`.
    pub client_id: Option<String>,
    /// Where the session stands; `None` when not sent.
    pub status: Option<SessionStatus>,
    /// The organization the user last made active in this session.
    pub last_active_organization_id: Option<String>,
    /// The impersonating actor, for impersonation sessions.
    pub actor: Option<serde_json::Value>,
    /// What Clerk knows about the device of the latest activity.
    pub latest_activity: Option<SessionActivity>,
    /// Last activity, Unix ms.
    pub last_active_at: Option<i64>,
    /// When the session expires, Unix ms.
    pub expire_at: Option<i64>,
    /// When the session is abandoned if inactive, Unix ms.
    pub abandon_at: Option<i64>,
    /// Creation time, Unix ms.
    pub created_at: Option<i64>,
    /// Last change, Unix ms.
    pub updated_at: Option<i64>,
    /// The session's user as of the event, which Clerk includes in session webhooks.
    pub user: Option<Box<User>>,
}

/// The device and location of a session's latest activity (`latest_activity`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SessionActivity {
    /// The activity id, `sess_activity_...`.
    pub id: Option<String>,
    /// Device type, e.g. `"Macintosh"`.
    pub device_type: Option<String>,
    /// Whether the device is mobile.
    #[serde(default, deserialize_with = "super::lenient::null_as_default")]
    pub is_mobile: bool,
    /// Browser name.
    pub browser_name: Option<String>,
    /// Browser version.
    pub browser_version: Option<String>,
    /// IP address.
    pub ip_address: Option<String>,
    /// City, from IP geolocation.
    pub city: Option<String>,
    /// Country, from IP geolocation.
    pub country: Option<String>,
}
