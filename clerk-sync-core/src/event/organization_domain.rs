//! Verified domains of organizations (`organizationDomain.*`).

use serde::{Deserialize, Serialize};

use super::string_enum::string_enum;
use super::verification::{VerificationStatus, VerificationStrategy};

string_enum! {
    /// How users with an email address at the domain join the organization.
    DomainEnrollmentMode {
        /// Only through explicit invitations.
        ManualInvitation => "manual_invitation",
        /// Invited automatically.
        AutomaticInvitation => "automatic_invitation",
        /// Offered a suggestion to join.
        AutomaticSuggestion => "automatic_suggestion",
    }
}

/// A domain of an organization, the `data` of `organizationDomain.created` and `.updated`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OrganizationDomain {
    /// The domain id, `orgdmn_...`.
    pub id: String,
    /// The domain name, e.g. `"example.com"`.
    #[serde(default)]
    pub name: String,
    /// The organization the domain belongs to.
    pub organization_id: Option<String>,
    /// How users at the domain join.
    pub enrollment_mode: Option<DomainEnrollmentMode>,
    /// Ownership verification of the domain.
    pub verification: Option<DomainVerification>,
    /// The address used to verify the domain (affiliation), when verified by email.
    pub affiliation_email_address: Option<String>,
    /// Pending invitations created through this domain.
    pub total_pending_invitations: Option<i64>,
    /// Pending suggestions created through this domain.
    pub total_pending_suggestions: Option<i64>,
    /// Creation time, Unix ms.
    pub created_at: Option<i64>,
    /// Last change, Unix ms.
    pub updated_at: Option<i64>,
}

/// Ownership verification of an organization domain (`verification`).
///
/// Separate from [`Verification`](super::Verification) because Clerk names the expiry
/// `expires_at` here.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DomainVerification {
    /// `verified` or `unverified`.
    pub status: Option<VerificationStatus>,
    /// How it is verified, e.g. `email_code`.
    pub strategy: Option<VerificationStrategy>,
    /// Attempts made so far.
    pub attempts: Option<i64>,
    /// When the pending verification expires, Unix ms.
    pub expires_at: Option<i64>,
}
