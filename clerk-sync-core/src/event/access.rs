//! Custom organization roles and permissions (`role.*`, `permission.*`).

use serde::{Deserialize, Serialize};

use super::lenient::null_as_default;

/// An organization role, the `data` of `role.*`.
///
/// Everything but `id` is optional because a `role.deleted` may carry only what Clerk still
/// knows about the role.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Role {
    /// The role id, `role_...`.
    pub id: String,
    /// The key used in tokens and memberships, e.g. `org:billing_manager`.
    pub key: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// The permissions the role grants.
    #[serde(default, deserialize_with = "null_as_default")]
    pub permissions: Vec<Permission>,
    /// Whether the role can be the creator role of new organizations.
    #[serde(default, deserialize_with = "null_as_default")]
    pub is_creator_eligible: bool,
    /// Creation time, Unix ms.
    pub created_at: Option<i64>,
    /// Last change, Unix ms.
    pub updated_at: Option<i64>,
}

/// An organization permission, the `data` of `permission.*` (and an entry of a role).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Permission {
    /// The permission id, `perm_...`.
    pub id: String,
    /// The key used in tokens, e.g. `org:invoices:read`.
    pub key: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// `"system"` for Clerk's built-in permissions, `"user"` for custom ones.
    #[serde(rename = "type")]
    pub permission_type: Option<String>,
    /// Creation time, Unix ms.
    pub created_at: Option<i64>,
    /// Last change, Unix ms.
    pub updated_at: Option<i64>,
}
