//! Clerk users and the identifiers attached to them (`user.created`, `user.updated`).

use serde::{Deserialize, Serialize};

use serde_json::Value;

use super::lenient::{fitting_fields, null_as_default};
use super::organization::OrganizationMembership;
use super::verification::{Verification, VerificationStatus};

/// A Clerk user, the `data` of `user.created` and `user.updated` (and the `user` of session
/// events).
///
/// Fields follow Clerk's Backend API user object. Collections and flags that Clerk may omit
/// or send as `null` default to empty/`false`; nullable values are `Option`. Fields added by
/// Clerk later are ignored here but stay reachable through
/// [`WebhookEvent::raw_data`](super::WebhookEvent::raw_data).
///
/// `Default` exists so code outside this crate (tests, fixtures) can build a user and set the
/// public fields it needs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct User {
    /// The user id, `user_...`.
    pub id: String,
    /// Creation time, Unix ms.
    pub created_at: i64,
    /// Last change, Unix ms. This is the user's version: a change applies only if it is newer.
    pub updated_at: i64,
    /// The id of the primary email address in [`email_addresses`](Self::email_addresses).
    pub primary_email_address_id: Option<String>,
    /// The id of the primary phone number in [`phone_numbers`](Self::phone_numbers).
    pub primary_phone_number_id: Option<String>,
    /// The id of the primary wallet in [`web3_wallets`](Self::web3_wallets).
    pub primary_web3_wallet_id: Option<String>,
    /// Every email address of the user, in no meaningful order.
    #[serde(default, deserialize_with = "null_as_default")]
    pub email_addresses: Vec<EmailAddress>,
    /// Every phone number of the user.
    #[serde(default, deserialize_with = "null_as_default")]
    pub phone_numbers: Vec<PhoneNumber>,
    /// Every Web3 wallet of the user.
    #[serde(default, deserialize_with = "null_as_default")]
    pub web3_wallets: Vec<Web3Wallet>,
    /// Accounts linked through OAuth providers.
    #[serde(default, deserialize_with = "null_as_default")]
    pub external_accounts: Vec<ExternalAccount>,
    /// Accounts linked through SAML connections, as sent.
    #[serde(default, deserialize_with = "null_as_default")]
    pub saml_accounts: Vec<serde_json::Value>,
    /// Accounts linked through enterprise SSO connections, as sent.
    #[serde(default, deserialize_with = "null_as_default")]
    pub enterprise_accounts: Vec<serde_json::Value>,
    /// The user's organization memberships, when Clerk includes them.
    #[serde(default, deserialize_with = "null_as_default")]
    pub organization_memberships: Vec<OrganizationMembership>,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Username, when usernames are enabled.
    pub username: Option<String>,
    /// Profile image URL (Clerk serves a default avatar when the user has none).
    pub image_url: Option<String>,
    /// Whether the user uploaded a profile image.
    #[serde(default, deserialize_with = "null_as_default")]
    pub has_image: bool,
    /// Your application's own id for this user, set through the Backend API.
    pub external_id: Option<String>,
    /// Metadata readable by the frontend, writable by the backend.
    #[serde(default)]
    pub public_metadata: serde_json::Value,
    /// Metadata only the backend can read and write.
    #[serde(default)]
    pub private_metadata: serde_json::Value,
    /// Metadata the frontend can read and write.
    #[serde(default)]
    pub unsafe_metadata: serde_json::Value,
    /// Last sign-in, Unix ms.
    pub last_sign_in_at: Option<i64>,
    /// Last activity, Unix ms.
    pub last_active_at: Option<i64>,
    /// When the user accepted the legal terms, Unix ms.
    pub legal_accepted_at: Option<i64>,
    /// When the password was last changed, Unix ms.
    pub password_last_updated_at: Option<i64>,
    /// Whether the user is banned.
    #[serde(default, deserialize_with = "null_as_default")]
    pub banned: bool,
    /// Whether the user is locked out after too many failed attempts.
    #[serde(default, deserialize_with = "null_as_default")]
    pub locked: bool,
    /// Seconds until the lockout ends, when locked.
    pub lockout_expires_in_seconds: Option<i64>,
    /// Sign-in attempts left before a lockout.
    pub verification_attempts_remaining: Option<i64>,
    /// Whether the user has a password.
    #[serde(default, deserialize_with = "null_as_default")]
    pub password_enabled: bool,
    /// Whether any second factor is enabled.
    #[serde(default, deserialize_with = "null_as_default")]
    pub two_factor_enabled: bool,
    /// Whether an authenticator app (TOTP) is enabled.
    #[serde(default, deserialize_with = "null_as_default")]
    pub totp_enabled: bool,
    /// Whether backup codes are enabled.
    #[serde(default, deserialize_with = "null_as_default")]
    pub backup_code_enabled: bool,
    /// Whether the user may create organizations.
    #[serde(default, deserialize_with = "null_as_default")]
    pub create_organization_enabled: bool,
    /// How many organizations the user may create, when limited.
    pub create_organizations_limit: Option<i64>,
    /// Whether the user may delete their own account.
    #[serde(default, deserialize_with = "null_as_default")]
    pub delete_self_enabled: bool,
    /// The user's locale (BCP 47), when known.
    pub locale: Option<String>,
    /// Legacy field still present in older payloads (and in Clerk's documented example),
    /// usually `""`.
    pub birthday: Option<String>,
    /// Legacy field still present in older payloads, usually `""`.
    pub gender: Option<String>,
    /// Legacy avatar URL; use [`image_url`](Self::image_url).
    pub profile_image_url: Option<String>,
}

impl User {
    /// The primary email address: the entry whose id is
    /// [`primary_email_address_id`](Self::primary_email_address_id).
    ///
    /// Never the first entry by position: Clerk does not order the list, and after a user
    /// changes their primary address the first entry is often a secondary one.
    pub fn primary_email(&self) -> Option<&EmailAddress> {
        let id = self.primary_email_address_id.as_deref()?;
        self.email_addresses.iter().find(|e| e.id == id)
    }

    /// The primary phone number, by [`primary_phone_number_id`](Self::primary_phone_number_id).
    pub fn primary_phone_number(&self) -> Option<&PhoneNumber> {
        let id = self.primary_phone_number_id.as_deref()?;
        self.phone_numbers.iter().find(|p| p.id == id)
    }
}

/// A link from an identifier to what it was created through (`linked_to[]`), e.g. the OAuth
/// account an email address came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IdentificationLink {
    /// The id of the linked object, e.g. `idn_...` or `eac_...`.
    pub id: String,
    /// The kind of link, e.g. `oauth_google`.
    #[serde(rename = "type")]
    pub link_type: String,
}

/// One email address of a user (`email_addresses[]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EmailAddress {
    /// The identification id, `idn_...`.
    pub id: String,
    /// The address itself.
    pub email_address: String,
    /// Its verification state; `None` when Clerk sends `null`.
    pub verification: Option<Verification>,
    /// What this address was created through, if anything.
    #[serde(default, deserialize_with = "null_as_default")]
    pub linked_to: Vec<IdentificationLink>,
    /// Whether the address is reserved (held for a pending sign-up elsewhere).
    #[serde(default, deserialize_with = "null_as_default")]
    pub reserved: bool,
    /// Creation time, Unix ms, when Clerk includes it.
    pub created_at: Option<i64>,
    /// Last change, Unix ms, when Clerk includes it.
    pub updated_at: Option<i64>,
}

impl EmailAddress {
    /// An unverified-by-default address with the given id and text, for building payloads in
    /// tests; set [`verification`](Self::verification) to mark it verified.
    pub fn new(id: impl Into<String>, email_address: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            email_address: email_address.into(),
            ..Self::default()
        }
    }

    /// Whether Clerk reports the address as verified. A missing verification counts as not
    /// verified.
    pub fn is_verified(&self) -> bool {
        self.verification
            .as_ref()
            .is_some_and(|v| v.status == VerificationStatus::Verified)
    }
}

/// One phone number of a user (`phone_numbers[]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PhoneNumber {
    /// The identification id, `idn_...`.
    pub id: String,
    /// The number in E.164 form.
    pub phone_number: String,
    /// Its verification state.
    pub verification: Option<Verification>,
    /// What this number was created through, if anything.
    #[serde(default, deserialize_with = "null_as_default")]
    pub linked_to: Vec<IdentificationLink>,
    /// Whether the number is reserved for use as a second factor only.
    #[serde(default, deserialize_with = "null_as_default")]
    pub reserved_for_second_factor: bool,
    /// Whether it is the default second factor.
    #[serde(default, deserialize_with = "null_as_default")]
    pub default_second_factor: bool,
    /// Whether the number is reserved (held for a pending sign-up elsewhere).
    #[serde(default, deserialize_with = "null_as_default")]
    pub reserved: bool,
    /// Creation time, Unix ms, when Clerk includes it.
    pub created_at: Option<i64>,
    /// Last change, Unix ms, when Clerk includes it.
    pub updated_at: Option<i64>,
}

impl PhoneNumber {
    /// Whether Clerk reports the number as verified.
    pub fn is_verified(&self) -> bool {
        self.verification
            .as_ref()
            .is_some_and(|v| v.status == VerificationStatus::Verified)
    }
}

/// One Web3 wallet of a user (`web3_wallets[]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Web3Wallet {
    /// The identification id, `idn_...`.
    pub id: String,
    /// The wallet address.
    pub web3_wallet: String,
    /// Its verification state.
    pub verification: Option<Verification>,
    /// Creation time, Unix ms, when Clerk includes it.
    pub created_at: Option<i64>,
    /// Last change, Unix ms, when Clerk includes it.
    pub updated_at: Option<i64>,
}

/// An account linked through an OAuth provider (`external_accounts[]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ExternalAccount {
    /// The external account id, `eac_...` (older payloads use `idn_...`).
    pub id: String,
    /// The provider, e.g. `oauth_google`.
    #[serde(default)]
    pub provider: String,
    /// The id of the identification this account verified.
    pub identification_id: Option<String>,
    /// The user's id at the provider.
    pub provider_user_id: Option<String>,
    /// The scopes granted, space separated.
    pub approved_scopes: Option<String>,
    /// The email address the provider reported.
    pub email_address: Option<String>,
    /// Given name at the provider.
    pub first_name: Option<String>,
    /// Family name at the provider.
    pub last_name: Option<String>,
    /// Avatar URL at the provider.
    pub image_url: Option<String>,
    /// Username at the provider.
    pub username: Option<String>,
    /// Phone number at the provider.
    pub phone_number: Option<String>,
    /// Metadata set on this account.
    #[serde(default)]
    pub public_metadata: serde_json::Value,
    /// A label for the account.
    pub label: Option<String>,
    /// The OAuth verification state.
    pub verification: Option<Verification>,
    /// Creation time, Unix ms, when Clerk includes it.
    pub created_at: Option<i64>,
    /// Last change, Unix ms, when Clerk includes it.
    pub updated_at: Option<i64>,
}

/// A user read field by field, for a `data` object the strict parse refused.
///
/// The sync writes a handful of a user's fields to the local table; a new enum value, a
/// string where a bool was, or an object where a list was, anywhere else in the ~40 fields,
/// must not stop the row from being updated. So: `id` (a string) and `updated_at` (an integer)
/// must be there, as the version guard needs them; `created_at` defaults to 0; every other
/// field, and every field of each email address and its verification, is kept when it fits
/// and left at its default when it does not. Email addresses without an `id` or an address are
/// dropped.
pub(crate) fn lenient_user(data: &str) -> Option<User> {
    let Value::Object(mut object) = serde_json::from_str::<Value>(data).ok()? else {
        return None;
    };
    if !object.get("id").is_some_and(Value::is_string)
        || !object.get("updated_at").is_some_and(Value::is_i64)
    {
        return None;
    }
    if !object.get("created_at").is_some_and(Value::is_i64) {
        object.insert("created_at".to_owned(), Value::from(0));
    }
    if let Some(Value::Array(addresses)) = object.get_mut("email_addresses") {
        let fitted = std::mem::take(addresses)
            .into_iter()
            .filter_map(lenient_email_address)
            .collect();
        *addresses = fitted;
    }
    fitting_fields(&object, &["id", "created_at", "updated_at"])
}

/// One `email_addresses[]` entry, read field by field when it does not fit as a whole.
fn lenient_email_address(value: Value) -> Option<Value> {
    if EmailAddress::deserialize(&value).is_ok() {
        return Some(value);
    }
    let Value::Object(mut object) = value else {
        return None;
    };
    if let Some(verification) = object.get("verification").filter(|v| !v.is_null())
        && Verification::deserialize(verification).is_err()
    {
        let fitted = verification
            .as_object()
            .and_then(|v| fitting_fields::<Verification>(v, &["status"]))
            .and_then(|v| serde_json::to_value(v).ok());
        match fitted {
            Some(fitted) => object.insert("verification".to_owned(), fitted),
            None => object.remove("verification"),
        };
    }
    let address: EmailAddress = fitting_fields(&object, &["id", "email_address"])?;
    serde_json::to_value(address).ok()
}

/// A user object's JSON read as the sync reads it: strictly, then field by field
/// ([`lenient_user`]) when the strict parse fails. `None` when it has no usable `id` and
/// `updated_at`.
#[cfg(feature = "clerk-api")]
pub(crate) fn read_user(data: &str) -> Option<User> {
    serde_json::from_str(data)
        .ok()
        .or_else(|| lenient_user(data))
}
