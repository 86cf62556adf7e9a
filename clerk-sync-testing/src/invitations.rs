//! Invitations to sign up (`/v1/invitations`).

use serde_json::{Map, Value, json};

/// One invitation.
#[derive(Debug, Clone)]
pub(crate) struct InvitationRecord {
    pub(crate) id: String,
    pub(crate) email_address: String,
    pub(crate) public_metadata: Map<String, Value>,
    pub(crate) status: &'static str,
    pub(crate) url: String,
    pub(crate) expires_at: i64,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
}

impl InvitationRecord {
    /// Clerk's invitation object.
    pub(crate) fn to_value(&self) -> Value {
        json!({
            "object": "invitation",
            "id": self.id,
            "email_address": self.email_address,
            "public_metadata": self.public_metadata,
            "revoked": false,
            "status": self.status,
            "url": self.url,
            "expires_at": self.expires_at,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }
}
