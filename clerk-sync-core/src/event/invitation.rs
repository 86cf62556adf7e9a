//! Invitations to the application (`invitation.*`) and to organizations
//! (`organizationInvitation.*`).

use serde::{Deserialize, Serialize};

use super::string_enum::string_enum;

string_enum! {
    /// Where an invitation stands (`status`).
    InvitationStatus {
        /// Sent, not yet used.
        Pending => "pending",
        /// Used to sign up or join.
        Accepted => "accepted",
        /// Withdrawn.
        Revoked => "revoked",
        /// Its lifetime ran out.
        Expired => "expired",
    }
}

/// An invitation to sign up for the application, the `data` of `invitation.*`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Invitation {
    /// The invitation id, `inv_...`.
    pub id: String,
    /// The invited address.
    #[serde(default)]
    pub email_address: String,
    /// Where the invitation stands.
    pub status: Option<InvitationStatus>,
    /// Whether it was revoked (older payloads carry this instead of `status`).
    pub revoked: Option<bool>,
    /// Metadata copied onto the user who accepts it.
    #[serde(default)]
    pub public_metadata: serde_json::Value,
    /// The invitation link, when Clerk includes it.
    pub url: Option<String>,
    /// When it expires, Unix ms.
    pub expires_at: Option<i64>,
    /// Creation time, Unix ms.
    pub created_at: Option<i64>,
    /// Last change, Unix ms.
    pub updated_at: Option<i64>,
}

/// An invitation to join an organization, the `data` of `organizationInvitation.*`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OrganizationInvitation {
    /// The invitation id, `orginv_...`.
    pub id: String,
    /// The invited address.
    #[serde(default)]
    pub email_address: String,
    /// The role key the invitee gets, e.g. `org:member`.
    #[serde(default)]
    pub role: String,
    /// The role's display name.
    pub role_name: Option<String>,
    /// The organization invited to.
    pub organization_id: Option<String>,
    /// Public fields of that organization.
    pub public_organization_data: Option<PublicOrganizationData>,
    /// Where the invitation stands.
    pub status: Option<InvitationStatus>,
    /// The user who accepted it (on `organizationInvitation.accepted`).
    pub user_id: Option<String>,
    /// Metadata readable by the frontend.
    #[serde(default)]
    pub public_metadata: serde_json::Value,
    /// Metadata only the backend can read.
    #[serde(default)]
    pub private_metadata: serde_json::Value,
    /// The invitation link, when Clerk includes it.
    pub url: Option<String>,
    /// When it expires, Unix ms.
    pub expires_at: Option<i64>,
    /// Creation time, Unix ms.
    pub created_at: Option<i64>,
    /// Last change, Unix ms.
    pub updated_at: Option<i64>,
}

/// The public fields of an organization, embedded in its invitations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PublicOrganizationData {
    /// The organization id, `org_...`.
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// URL-friendly name.
    pub slug: Option<String>,
    /// Logo URL.
    pub image_url: Option<String>,
    /// Whether a logo was uploaded.
    #[serde(default, deserialize_with = "super::lenient::null_as_default")]
    pub has_image: bool,
}
