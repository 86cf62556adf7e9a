//! The sign-up waitlist (`waitlistEntry.*`).

use serde::{Deserialize, Serialize};

use super::invitation::Invitation;
use super::string_enum::string_enum;

string_enum! {
    /// Where a waitlist entry stands (`status`).
    WaitlistEntryStatus {
        /// Waiting.
        Pending => "pending",
        /// Sent an invitation.
        Invited => "invited",
        /// Signed up.
        Completed => "completed",
        /// Turned down.
        Rejected => "rejected",
    }
}

/// A waitlist entry, the `data` of `waitlistEntry.created` and `.updated`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WaitlistEntry {
    /// The entry id, `wle_...`.
    pub id: String,
    /// The address that joined the waitlist.
    #[serde(default)]
    pub email_address: String,
    /// Where the entry stands.
    pub status: Option<WaitlistEntryStatus>,
    /// The invitation sent for it, once invited.
    pub invitation: Option<Invitation>,
    /// Whether the entry is locked against changes.
    #[serde(default, deserialize_with = "super::lenient::null_as_default")]
    pub is_locked: bool,
    /// Creation time, Unix ms.
    pub created_at: Option<i64>,
    /// Last change, Unix ms.
    pub updated_at: Option<i64>,
}
