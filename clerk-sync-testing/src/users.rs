//! The fake instance's users: compact records, the indexes Clerk's uniqueness rules need,
//! and the JSON rendering of Clerk's user object, produced on demand.
//!
//! Records hold only what differs between users (ids, addresses, names, metadata, times):
//! the reconcile benchmarks seed hundreds of thousands of them.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::FakeClerkError;

/// One email address of a user.
#[derive(Debug, Clone)]
pub(crate) struct EmailRecord {
    pub(crate) id: Box<str>,
    /// Lower-cased, as Clerk stores addresses.
    pub(crate) address: Box<str>,
    pub(crate) verified: bool,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
}

/// One user.
#[derive(Debug, Clone)]
pub(crate) struct UserRecord {
    pub(crate) id: Arc<str>,
    pub(crate) emails: Vec<EmailRecord>,
    pub(crate) primary_email_id: Option<Box<str>>,
    pub(crate) first_name: Option<Box<str>>,
    pub(crate) last_name: Option<Box<str>>,
    pub(crate) username: Option<Box<str>>,
    pub(crate) external_id: Option<Box<str>>,
    pub(crate) locale: Option<Box<str>>,
    pub(crate) public_metadata: Map<String, Value>,
    pub(crate) private_metadata: Map<String, Value>,
    pub(crate) unsafe_metadata: Map<String, Value>,
    pub(crate) password_enabled: bool,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
}

impl UserRecord {
    pub(crate) fn primary_email(&self) -> Option<&EmailRecord> {
        let id = self.primary_email_id.as_deref()?;
        self.emails.iter().find(|e| &*e.id == id)
    }

    /// The user object exactly as Clerk's Backend API renders it (2026-05-12).
    pub(crate) fn view(&self) -> UserJson<'_> {
        UserJson { user: self }
    }

    pub(crate) fn to_value(&self) -> Value {
        serde_json::to_value(self.view()).unwrap_or(Value::Null)
    }
}

/// The uniqueness indexes and the creation-ordered user table.
#[derive(Default)]
pub(crate) struct UserStore {
    /// Every live user, in `(created_at, id)` order: the order cursor paging walks.
    by_created: BTreeMap<(i64, Arc<str>), UserRecord>,
    /// `created_at` of every live user, to find it in `by_created`.
    created_of: HashMap<Arc<str>, i64>,
    /// `created_at` of deleted users: Clerk never reuses an id, and a cursor naming a user
    /// deleted since the previous page still marks a position.
    deleted: HashMap<Arc<str>, i64>,
    emails: HashMap<Box<str>, Arc<str>>,
    usernames: HashMap<Box<str>, Arc<str>>,
    external_ids: HashMap<Box<str>, Arc<str>>,
}

impl UserStore {
    pub(crate) fn len(&self) -> usize {
        self.by_created.len()
    }

    pub(crate) fn get(&self, id: &str) -> Option<&UserRecord> {
        let created_at = *self.created_of.get(id)?;
        self.by_created.get(&(created_at, Arc::from(id)))
    }

    /// The position of a user id, live or deleted, in creation order.
    pub(crate) fn position_of(&self, id: &str) -> Option<(i64, Arc<str>)> {
        let (key, created_at) = self
            .created_of
            .get_key_value(id)
            .or_else(|| self.deleted.get_key_value(id))?;
        Some((*created_at, key.clone()))
    }

    /// Every live user in creation order.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = &UserRecord> {
        self.by_created.values()
    }

    /// Users strictly after (`ascending`) or before `position`, in that direction.
    pub(crate) fn iter_from(
        &self,
        position: Option<&(i64, Arc<str>)>,
        ascending: bool,
    ) -> Box<dyn Iterator<Item = &UserRecord> + '_> {
        use std::ops::Bound::{Excluded, Unbounded};
        match (position, ascending) {
            (None, true) => Box::new(self.by_created.values()),
            (None, false) => Box::new(self.by_created.values().rev()),
            (Some(p), true) => Box::new(
                self.by_created
                    .range((Excluded(p.clone()), Unbounded))
                    .map(|(_, u)| u),
            ),
            (Some(p), false) => Box::new(
                self.by_created
                    .range((Unbounded, Excluded(p.clone())))
                    .rev()
                    .map(|(_, u)| u),
            ),
        }
    }

    pub(crate) fn email_owner(&self, address: &str) -> Option<&str> {
        self.emails
            .get(address.to_ascii_lowercase().as_str())
            .map(|id| &**id)
    }

    /// Checks that a new user's identifiers are free.
    pub(crate) fn check_free(
        &self,
        emails: &[String],
        username: Option<&str>,
        external_id: Option<&str>,
        except: Option<&str>,
    ) -> Result<(), FakeClerkError> {
        let taken_by_other =
            |owner: Option<&Arc<str>>| owner.is_some_and(|owner| Some(&**owner) != except);
        for (i, email) in emails.iter().enumerate() {
            let lower = email.to_ascii_lowercase();
            let repeated = emails[..i].iter().any(|e| e.eq_ignore_ascii_case(email));
            if repeated || taken_by_other(self.emails.get(lower.as_str())) {
                return Err(FakeClerkError::IdentifierTaken {
                    param: "email_address",
                });
            }
        }
        if let Some(username) = username {
            let lower = username.to_ascii_lowercase();
            if taken_by_other(self.usernames.get(lower.as_str())) {
                return Err(FakeClerkError::IdentifierTaken { param: "username" });
            }
        }
        if let Some(external_id) = external_id
            && taken_by_other(self.external_ids.get(external_id))
        {
            return Err(FakeClerkError::IdentifierTaken {
                param: "external_id",
            });
        }
        Ok(())
    }

    /// Adds a user whose identifiers were checked free.
    pub(crate) fn insert(&mut self, user: UserRecord) {
        let id = user.id.clone();
        for email in &user.emails {
            self.emails.insert(email.address.clone(), id.clone());
        }
        if let Some(username) = &user.username {
            self.usernames
                .insert(username.to_ascii_lowercase().into(), id.clone());
        }
        if let Some(external_id) = &user.external_id {
            self.external_ids.insert(external_id.clone(), id.clone());
        }
        self.created_of.insert(id.clone(), user.created_at);
        self.by_created.insert((user.created_at, id), user);
    }

    /// Removes a user, keeping its position for cursors.
    pub(crate) fn remove(&mut self, id: &str) -> Option<UserRecord> {
        let (key, created_at) = self.created_of.remove_entry(id)?;
        let user = self.by_created.remove(&(created_at, key.clone()))?;
        self.unindex(&user);
        self.deleted.insert(key, created_at);
        Some(user)
    }

    /// Applies `change` to a user, keeping the indexes right. The change must not alter
    /// `id` or `created_at`; identifiers it sets must have been checked free.
    pub(crate) fn update<T>(
        &mut self,
        id: &str,
        change: impl FnOnce(&mut UserRecord) -> T,
    ) -> Result<(T, &UserRecord), FakeClerkError> {
        let created_at = *self
            .created_of
            .get(id)
            .ok_or(FakeClerkError::UserNotFound)?;
        let key = (created_at, Arc::<str>::from(id));
        let mut user = self
            .by_created
            .remove(&key)
            .ok_or(FakeClerkError::UserNotFound)?;
        self.unindex(&user);
        let out = change(&mut user);
        let key = (user.created_at, user.id.clone());
        self.insert(user);
        let user = self
            .by_created
            .get(&key)
            .ok_or(FakeClerkError::UserNotFound)?;
        Ok((out, user))
    }

    fn unindex(&mut self, user: &UserRecord) {
        for email in &user.emails {
            if self
                .emails
                .get(&email.address)
                .is_some_and(|owner| *owner == user.id)
            {
                self.emails.remove(&email.address);
            }
        }
        if let Some(username) = &user.username {
            self.usernames
                .remove(username.to_ascii_lowercase().as_str());
        }
        if let Some(external_id) = &user.external_id {
            self.external_ids.remove(external_id);
        }
    }
}

/// Clerk's user object, rendered from a record without copying it.
pub(crate) struct UserJson<'a> {
    user: &'a UserRecord,
}

#[derive(Serialize)]
struct Verification {
    object: &'static str,
    status: &'static str,
    strategy: &'static str,
    attempts: Option<u32>,
    expire_at: Option<i64>,
}

#[derive(Serialize)]
struct EmailJson<'a> {
    id: &'a str,
    object: &'static str,
    email_address: &'a str,
    reserved: bool,
    verification: Verification,
    linked_to: [(); 0],
    matches_sso_connection: bool,
    created_at: i64,
    updated_at: i64,
}

impl<'a> From<&'a EmailRecord> for EmailJson<'a> {
    fn from(email: &'a EmailRecord) -> Self {
        let verification = if email.verified {
            // Addresses created through the Backend API are verified by an admin.
            Verification {
                object: "verification_admin",
                status: "verified",
                strategy: "admin",
                attempts: None,
                expire_at: None,
            }
        } else {
            Verification {
                object: "verification_otp",
                status: "unverified",
                strategy: "email_code",
                attempts: Some(0),
                expire_at: Some(email.created_at.saturating_add(600_000)),
            }
        };
        EmailJson {
            id: &email.id,
            object: "email_address",
            email_address: &email.address,
            reserved: false,
            verification,
            linked_to: [],
            matches_sso_connection: false,
            created_at: email.created_at,
            updated_at: email.updated_at,
        }
    }
}

#[derive(Serialize)]
struct UserObject<'a> {
    id: &'a str,
    object: &'static str,
    external_id: Option<&'a str>,
    primary_email_address_id: Option<&'a str>,
    primary_phone_number_id: Option<&'a str>,
    primary_web3_wallet_id: Option<&'a str>,
    username: Option<&'a str>,
    first_name: Option<&'a str>,
    last_name: Option<&'a str>,
    locale: Option<&'a str>,
    profile_image_url: &'static str,
    image_url: &'static str,
    has_image: bool,
    public_metadata: &'a Map<String, Value>,
    private_metadata: &'a Map<String, Value>,
    unsafe_metadata: &'a Map<String, Value>,
    email_addresses: Vec<EmailJson<'a>>,
    phone_numbers: [(); 0],
    web3_wallets: [(); 0],
    passkeys: [(); 0],
    password_enabled: bool,
    two_factor_enabled: bool,
    totp_enabled: bool,
    backup_code_enabled: bool,
    mfa_enabled_at: Option<i64>,
    mfa_disabled_at: Option<i64>,
    password_last_updated_at: Option<i64>,
    external_accounts: [(); 0],
    saml_accounts: [(); 0],
    enterprise_accounts: [(); 0],
    organization_memberships: [(); 0],
    last_sign_in_at: Option<i64>,
    banned: bool,
    locked: bool,
    lockout_expires_in_seconds: Option<i64>,
    verification_attempts_remaining: Option<i64>,
    updated_at: i64,
    created_at: i64,
    delete_self_enabled: bool,
    create_organization_enabled: bool,
    create_organizations_limit: Option<i64>,
    last_active_at: Option<i64>,
    legal_accepted_at: Option<i64>,
    bypass_client_trust: bool,
}

impl Serialize for UserJson<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let u = self.user;
        UserObject {
            id: &u.id,
            object: "user",
            external_id: u.external_id.as_deref(),
            primary_email_address_id: u.primary_email_id.as_deref(),
            primary_phone_number_id: None,
            primary_web3_wallet_id: None,
            username: u.username.as_deref(),
            first_name: u.first_name.as_deref(),
            last_name: u.last_name.as_deref(),
            locale: u.locale.as_deref(),
            profile_image_url: "https://www.gravatar.com/avatar?d=mp",
            image_url: "https://img.clerk.com/eyJ0eXBlIjoiZGVmYXVsdCJ9",
            has_image: false,
            public_metadata: &u.public_metadata,
            private_metadata: &u.private_metadata,
            unsafe_metadata: &u.unsafe_metadata,
            email_addresses: u.emails.iter().map(EmailJson::from).collect(),
            phone_numbers: [],
            web3_wallets: [],
            passkeys: [],
            password_enabled: u.password_enabled,
            two_factor_enabled: false,
            totp_enabled: false,
            backup_code_enabled: false,
            mfa_enabled_at: None,
            mfa_disabled_at: None,
            password_last_updated_at: None,
            external_accounts: [],
            saml_accounts: [],
            enterprise_accounts: [],
            organization_memberships: [],
            last_sign_in_at: None,
            banned: false,
            locked: false,
            lockout_expires_in_seconds: None,
            verification_attempts_remaining: Some(100),
            updated_at: u.updated_at,
            created_at: u.created_at,
            delete_self_enabled: true,
            create_organization_enabled: true,
            create_organizations_limit: None,
            last_active_at: None,
            legal_accepted_at: None,
            bypass_client_trust: false,
        }
        .serialize(serializer)
    }
}

/// Clerk's documented metadata merge: objects merge key by key at every depth, `null`
/// removes a key, anything else replaces.
pub(crate) fn deep_merge(target: &mut Map<String, Value>, patch: Map<String, Value>) {
    for (key, value) in patch {
        match value {
            Value::Null => {
                target.remove(&key);
            }
            Value::Object(inner) => match target.get_mut(&key) {
                Some(Value::Object(existing)) => deep_merge(existing, inner),
                _ => {
                    let mut fresh = Map::new();
                    deep_merge(&mut fresh, inner);
                    target.insert(key, Value::Object(fresh));
                }
            },
            other => {
                target.insert(key, other);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn metadata_merges_deeply_and_null_deletes() {
        let mut stored = object(json!({"a": 1, "nested": {"x": 1, "y": 2}, "gone": true}));
        deep_merge(
            &mut stored,
            object(
                json!({"nested": {"y": null, "z": 3}, "gone": null, "new": {"k": null, "v": 1}}),
            ),
        );
        assert_eq!(
            Value::Object(stored),
            json!({"a": 1, "nested": {"x": 1, "z": 3}, "new": {"v": 1}})
        );
    }

    #[test]
    fn empty_arrays_render_as_arrays() {
        let user = UserRecord {
            id: Arc::from("user_1"),
            emails: vec![],
            primary_email_id: None,
            first_name: None,
            last_name: None,
            username: None,
            external_id: None,
            locale: None,
            public_metadata: Map::new(),
            private_metadata: Map::new(),
            unsafe_metadata: Map::new(),
            password_enabled: false,
            created_at: 1,
            updated_at: 2,
        };
        let json = user.to_value();
        assert_eq!(json["phone_numbers"], json!([]));
        assert_eq!(json["object"], "user");
        assert_eq!(json["public_metadata"], json!({}));
    }
}
