//! The bodies of the write calls, serialized as Clerk's 2026-05-12 API names them.
//!
//! Every field is optional except where Clerk requires it; a `None` field is left out of the
//! JSON, so Clerk keeps its current value (or its default on create).

use serde::Serialize;
use serde_json::Value;

/// The body of `POST /v1/users` ([`ClerkApi::create_user`](super::ClerkApi::create_user)).
///
/// Email addresses are created verified; the first one becomes the primary address.
///
/// ```
/// use clerk_sync_core::clerk_api::CreateUser;
///
/// let user = CreateUser::new()
///     .email_address("ada@example.com")
///     .first_name("Ada")
///     .external_id("42")
///     .skip_password_requirement(true);
/// assert_eq!(user.email_address, ["ada@example.com"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct CreateUser {
    /// Email addresses; the first is the primary one. Each must be unused in the instance.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub email_address: Vec<String>,
    /// Given name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Family name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Username, when the instance uses them; unique in the instance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Your own id for the user; unique in the instance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Locale, e.g. `en-US`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Metadata visible to frontend and backend (a JSON object).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_metadata: Option<Value>,
    /// Metadata visible to the backend only (a JSON object).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_metadata: Option<Value>,
    /// Metadata the frontend may also write (a JSON object).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsafe_metadata: Option<Value>,
    /// Create the user without a password on an instance that uses passwords.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_password_requirement: Option<bool>,
    /// Skip the legal-acceptance requirement (migrations).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_legal_checks: Option<bool>,
}

impl CreateUser {
    /// An empty body; add what the instance requires (usually an email address).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an email address (the first added is the primary one).
    #[must_use]
    pub fn email_address(mut self, email: impl Into<String>) -> Self {
        self.email_address.push(email.into());
        self
    }

    /// Sets the given name.
    #[must_use]
    pub fn first_name(mut self, name: impl Into<String>) -> Self {
        self.first_name = Some(name.into());
        self
    }

    /// Sets the family name.
    #[must_use]
    pub fn last_name(mut self, name: impl Into<String>) -> Self {
        self.last_name = Some(name.into());
        self
    }

    /// Sets the username.
    #[must_use]
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self
    }

    /// Sets your own id for the user.
    #[must_use]
    pub fn external_id(mut self, id: impl Into<String>) -> Self {
        self.external_id = Some(id.into());
        self
    }

    /// Sets the public metadata (a JSON object).
    #[must_use]
    pub fn public_metadata(mut self, metadata: Value) -> Self {
        self.public_metadata = Some(metadata);
        self
    }

    /// Sets the private metadata (a JSON object).
    #[must_use]
    pub fn private_metadata(mut self, metadata: Value) -> Self {
        self.private_metadata = Some(metadata);
        self
    }

    /// Sets `skip_password_requirement`.
    #[must_use]
    pub fn skip_password_requirement(mut self, skip: bool) -> Self {
        self.skip_password_requirement = Some(skip);
        self
    }
}

/// The body of `PATCH /v1/users/{id}` ([`ClerkApi::update_user`](super::ClerkApi::update_user)).
///
/// Since API version 2026-05-12 this call takes no metadata: use [`MetadataUpdate`]. A `None`
/// field is left unchanged. An empty `username` removes the username.
///
/// ```
/// use clerk_sync_core::clerk_api::UpdateUser;
///
/// let change = UpdateUser::new().first_name("Ada").last_name("Lovelace");
/// assert_eq!(
///     serde_json::to_string(&change).unwrap(),
///     r#"{"first_name":"Ada","last_name":"Lovelace"}"#
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct UpdateUser {
    /// Given name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Family name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Username; `""` removes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Your own id for the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Locale, e.g. `en-US`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Makes this email address (an `idn_...` of the user, verified) the primary one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_email_address_id: Option<String>,
}

impl UpdateUser {
    /// A change of nothing; set the fields to change.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the given name.
    #[must_use]
    pub fn first_name(mut self, name: impl Into<String>) -> Self {
        self.first_name = Some(name.into());
        self
    }

    /// Sets the family name.
    #[must_use]
    pub fn last_name(mut self, name: impl Into<String>) -> Self {
        self.last_name = Some(name.into());
        self
    }

    /// Sets the username (`""` removes it).
    #[must_use]
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self
    }

    /// Sets your own id for the user.
    #[must_use]
    pub fn external_id(mut self, id: impl Into<String>) -> Self {
        self.external_id = Some(id.into());
        self
    }

    /// Sets the primary email address by its `idn_...` id.
    #[must_use]
    pub fn primary_email_address_id(mut self, id: impl Into<String>) -> Self {
        self.primary_email_address_id = Some(id.into());
        self
    }

    /// Whether the change sets nothing.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// The body of `PATCH /v1/users/{id}/metadata`
/// ([`ClerkApi::update_user_metadata`](super::ClerkApi::update_user_metadata)).
///
/// Clerk deep-merges each given object into the stored one: nested objects merge too, and a
/// key set to `null` is removed.
///
/// ```
/// use clerk_sync_core::clerk_api::MetadataUpdate;
/// use serde_json::json;
///
/// let change = MetadataUpdate::new().public(json!({"plan": "pro", "trial": null}));
/// assert_eq!(
///     serde_json::to_string(&change).unwrap(),
///     r#"{"public_metadata":{"plan":"pro","trial":null}}"#
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct MetadataUpdate {
    /// Merged into the public metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_metadata: Option<Value>,
    /// Merged into the private metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_metadata: Option<Value>,
    /// Merged into the unsafe metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsafe_metadata: Option<Value>,
}

impl MetadataUpdate {
    /// A merge of nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Merges this object into the public metadata.
    #[must_use]
    pub fn public(mut self, metadata: Value) -> Self {
        self.public_metadata = Some(metadata);
        self
    }

    /// Merges this object into the private metadata.
    #[must_use]
    pub fn private(mut self, metadata: Value) -> Self {
        self.private_metadata = Some(metadata);
        self
    }

    /// Merges this object into the unsafe metadata.
    #[must_use]
    pub fn unsafe_metadata(mut self, metadata: Value) -> Self {
        self.unsafe_metadata = Some(metadata);
        self
    }

    /// Whether any part is not a JSON object (Clerk refuses those).
    pub(crate) fn has_non_object(&self) -> bool {
        [
            &self.public_metadata,
            &self.private_metadata,
            &self.unsafe_metadata,
        ]
        .into_iter()
        .flatten()
        .any(|v| !v.is_object())
    }
}

/// The body of `POST /v1/invitations`
/// ([`ClerkApi::create_invitation`](super::ClerkApi::create_invitation)).
///
/// ```
/// use clerk_sync_core::clerk_api::CreateInvitation;
///
/// let invite = CreateInvitation::new("ada@example.com").notify(false).expires_in_days(7);
/// assert_eq!(invite.email_address, "ada@example.com");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct CreateInvitation {
    /// The invited address.
    pub email_address: String,
    /// Copied into the user's public metadata when they sign up (a JSON object).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_metadata: Option<Value>,
    /// Where the invitation link leads, for custom flows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
    /// Whether Clerk emails the invitation (Clerk's default: `true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify: Option<bool>,
    /// Create it even if one is pending for the address or the address is taken.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignore_existing: Option<bool>,
    /// Validity in days, 1 to 365 (Clerk's default: 30).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in_days: Option<u32>,
}

impl CreateInvitation {
    /// An invitation for this address.
    pub fn new(email_address: impl Into<String>) -> Self {
        Self {
            email_address: email_address.into(),
            ..Self::default()
        }
    }

    /// Sets the public metadata (a JSON object).
    #[must_use]
    pub fn public_metadata(mut self, metadata: Value) -> Self {
        self.public_metadata = Some(metadata);
        self
    }

    /// Sets the redirect URL.
    #[must_use]
    pub fn redirect_url(mut self, url: impl Into<String>) -> Self {
        self.redirect_url = Some(url.into());
        self
    }

    /// Sets whether Clerk sends the email.
    #[must_use]
    pub fn notify(mut self, notify: bool) -> Self {
        self.notify = Some(notify);
        self
    }

    /// Sets `ignore_existing`.
    #[must_use]
    pub fn ignore_existing(mut self, ignore: bool) -> Self {
        self.ignore_existing = Some(ignore);
        self
    }

    /// Sets the validity in days (1 to 365).
    #[must_use]
    pub fn expires_in_days(mut self, days: u32) -> Self {
        self.expires_in_days = Some(days);
        self
    }
}
