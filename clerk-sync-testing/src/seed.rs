//! The test-side view of users: what to seed, what to change directly (as if in the Clerk
//! dashboard), and the snapshot a test reads back.

use serde_json::{Map, Value};

use crate::users::UserRecord;

/// A user to put into FakeClerk directly ([`FakeClerk::seed_user`](crate::FakeClerk::seed_user),
/// [`FakeClerk::create_user_directly`](crate::FakeClerk::create_user_directly)).
///
/// ```
/// use clerk_sync_testing::SeedUser;
/// use serde_json::json;
///
/// let seed = SeedUser::new("ada@example.com")
///     .first_name("Ada")
///     .last_name("Lovelace")
///     .public_metadata(json!({"plan": "pro"}));
/// # let _ = seed;
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[must_use]
pub struct SeedUser {
    pub(crate) email: Option<String>,
    pub(crate) verified: bool,
    pub(crate) first_name: Option<String>,
    pub(crate) last_name: Option<String>,
    pub(crate) username: Option<String>,
    pub(crate) external_id: Option<String>,
    pub(crate) public_metadata: Map<String, Value>,
    pub(crate) private_metadata: Map<String, Value>,
    pub(crate) password_enabled: bool,
}

impl SeedUser {
    /// A user with this (verified, primary) email address.
    pub fn new(email: impl Into<String>) -> Self {
        Self {
            email: Some(email.into()),
            verified: true,
            ..Self::default()
        }
    }

    /// A user without any email address (for instances keyed by username).
    pub fn without_email() -> Self {
        Self::default()
    }

    /// Leaves the email address unverified (a sign-up that has not finished verification).
    pub fn unverified(mut self) -> Self {
        self.verified = false;
        self
    }

    /// Sets the given name.
    pub fn first_name(mut self, name: impl Into<String>) -> Self {
        self.first_name = Some(name.into());
        self
    }

    /// Sets the family name.
    pub fn last_name(mut self, name: impl Into<String>) -> Self {
        self.last_name = Some(name.into());
        self
    }

    /// Sets the username.
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self
    }

    /// Sets the external id.
    pub fn external_id(mut self, id: impl Into<String>) -> Self {
        self.external_id = Some(id.into());
        self
    }

    /// Sets the public metadata; anything but a JSON object is stored as `{}`.
    pub fn public_metadata(mut self, metadata: Value) -> Self {
        self.public_metadata = into_object(metadata);
        self
    }

    /// Sets the private metadata; anything but a JSON object is stored as `{}`.
    pub fn private_metadata(mut self, metadata: Value) -> Self {
        self.private_metadata = into_object(metadata);
        self
    }

    /// Marks the user as having a password.
    pub fn with_password(mut self) -> Self {
        self.password_enabled = true;
        self
    }
}

/// A change made directly in FakeClerk, as an administrator would in the Clerk dashboard
/// ([`FakeClerk::update_user_directly`](crate::FakeClerk::update_user_directly)). Unset
/// fields stay as they are.
///
/// ```
/// use clerk_sync_testing::UserChange;
///
/// let change = UserChange::new().first_name("Grace").email_address("grace@example.com");
/// # let _ = change;
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[must_use]
pub struct UserChange {
    pub(crate) first_name: Option<Option<String>>,
    pub(crate) last_name: Option<Option<String>>,
    pub(crate) username: Option<Option<String>>,
    pub(crate) external_id: Option<Option<String>>,
    pub(crate) email: Option<String>,
    pub(crate) public_metadata: Option<Map<String, Value>>,
    pub(crate) private_metadata: Option<Map<String, Value>>,
}

impl UserChange {
    /// A change of nothing (still a new `updated_at` and a `user.updated` event).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the given name.
    pub fn first_name(mut self, name: impl Into<String>) -> Self {
        self.first_name = Some(Some(name.into()));
        self
    }

    /// Removes the given name.
    pub fn clear_first_name(mut self) -> Self {
        self.first_name = Some(None);
        self
    }

    /// Sets the family name.
    pub fn last_name(mut self, name: impl Into<String>) -> Self {
        self.last_name = Some(Some(name.into()));
        self
    }

    /// Sets the username.
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(Some(username.into()));
        self
    }

    /// Sets the external id.
    pub fn external_id(mut self, id: impl Into<String>) -> Self {
        self.external_id = Some(Some(id.into()));
        self
    }

    /// Replaces the primary email address: a new verified address (with a new `idn_` id)
    /// becomes primary and the old primary address is removed.
    pub fn email_address(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// Replaces the public metadata.
    pub fn public_metadata(mut self, metadata: Value) -> Self {
        self.public_metadata = Some(into_object(metadata));
        self
    }

    /// Replaces the private metadata.
    pub fn private_metadata(mut self, metadata: Value) -> Self {
        self.private_metadata = Some(into_object(metadata));
        self
    }
}

fn into_object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// A snapshot of one FakeClerk user, for assertions.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FakeUser {
    /// `user_...`.
    pub id: String,
    /// The primary email address, when the user has one.
    pub email_address: Option<String>,
    /// The primary email address's id, `idn_...`.
    pub email_address_id: Option<String>,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Username.
    pub username: Option<String>,
    /// External id.
    pub external_id: Option<String>,
    /// Public metadata.
    pub public_metadata: Value,
    /// Private metadata.
    pub private_metadata: Value,
    /// Creation time, Unix ms.
    pub created_at: i64,
    /// Last change, Unix ms.
    pub updated_at: i64,
    /// The whole user object, as the Backend API renders it.
    pub json: Value,
}

impl FakeUser {
    pub(crate) fn from_record(user: &UserRecord) -> Self {
        let primary = user.primary_email();
        Self {
            id: user.id.to_string(),
            email_address: primary.map(|e| e.address.to_string()),
            email_address_id: primary.map(|e| e.id.to_string()),
            first_name: user.first_name.as_deref().map(str::to_owned),
            last_name: user.last_name.as_deref().map(str::to_owned),
            username: user.username.as_deref().map(str::to_owned),
            external_id: user.external_id.as_deref().map(str::to_owned),
            public_metadata: user.public_metadata.to_value(),
            private_metadata: user.private_metadata.to_value(),
            created_at: user.created_at,
            updated_at: user.updated_at,
            json: user.to_value(),
        }
    }
}
