//! Organizations and membership in them (`organization.*`, `organizationMembership.*`).

use serde::{Deserialize, Serialize};

use super::lenient::null_as_default;

/// An organization, the `data` of `organization.created` and `organization.updated` (and the
/// `organization` of a membership).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Organization {
    /// The organization id, `org_...`.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// URL-friendly unique name, unless slugs are disabled.
    pub slug: Option<String>,
    /// Logo URL.
    pub image_url: Option<String>,
    /// Whether a logo was uploaded.
    #[serde(default, deserialize_with = "null_as_default")]
    pub has_image: bool,
    /// Current number of members, when Clerk includes it.
    pub members_count: Option<i64>,
    /// Pending invitations, when Clerk includes it.
    pub pending_invitations_count: Option<i64>,
    /// Membership limit (0 means unlimited).
    pub max_allowed_memberships: Option<i64>,
    /// Whether admins may delete the organization.
    #[serde(default, deserialize_with = "null_as_default")]
    pub admin_delete_enabled: bool,
    /// Metadata readable by the frontend.
    #[serde(default)]
    pub public_metadata: serde_json::Value,
    /// Metadata only the backend can read.
    #[serde(default)]
    pub private_metadata: serde_json::Value,
    /// The id of the user who created it.
    pub created_by: Option<String>,
    /// Creation time, Unix ms.
    pub created_at: Option<i64>,
    /// Last change, Unix ms.
    pub updated_at: Option<i64>,
}

/// The public fields of a member's user, embedded in a membership (`public_user_data`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PublicUserData {
    /// The user id, `user_...`.
    #[serde(default)]
    pub user_id: String,
    /// The user's primary identifier (email address, phone number or username).
    pub identifier: Option<String>,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Profile image URL.
    pub image_url: Option<String>,
    /// Whether a profile image was uploaded.
    #[serde(default, deserialize_with = "null_as_default")]
    pub has_image: bool,
}

/// A user's membership in an organization, the `data` of every `organizationMembership.*`
/// event (including `deleted`, which carries the membership as it was).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OrganizationMembership {
    /// The membership id, `orgmem_...`.
    pub id: String,
    /// The role key, e.g. `org:admin` (custom roles have custom keys).
    #[serde(default)]
    pub role: String,
    /// The role's display name, when Clerk includes it.
    pub role_name: Option<String>,
    /// Permission keys the role grants.
    #[serde(default, deserialize_with = "null_as_default")]
    pub permissions: Vec<String>,
    /// Metadata readable by the frontend.
    #[serde(default)]
    pub public_metadata: serde_json::Value,
    /// Metadata only the backend can read.
    #[serde(default)]
    pub private_metadata: serde_json::Value,
    /// The organization, as of the event.
    pub organization: Option<Organization>,
    /// The member's public user data.
    pub public_user_data: Option<PublicUserData>,
    /// Creation time, Unix ms.
    pub created_at: Option<i64>,
    /// Last change, Unix ms.
    pub updated_at: Option<i64>,
}

impl OrganizationMembership {
    /// The member's user id, from `public_user_data`.
    pub fn user_id(&self) -> Option<&str> {
        self.public_user_data.as_ref().map(|u| u.user_id.as_str())
    }

    /// The organization id, from `organization`.
    pub fn organization_id(&self) -> Option<&str> {
        self.organization.as_ref().map(|o| o.id.as_str())
    }
}
