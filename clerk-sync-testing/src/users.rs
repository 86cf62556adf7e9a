//! The fake instance's users: compact records, the indexes Clerk's uniqueness rules need,
//! and the JSON rendering of Clerk's user object, produced on demand.
//!
//! Records hold only what differs between users (ids, addresses, names, metadata, times):
//! the reconcile benchmarks seed hundreds of thousands of them.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use serde::Serialize;
use serde::ser::SerializeMap;
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

/// Metadata, boxed and absent when empty: most users have none, and three empty maps inline
/// would cost 72 bytes per user.
#[derive(Debug, Clone, Default)]
pub(crate) struct Metadata(Option<Box<Map<String, Value>>>);

impl Metadata {
    pub(crate) fn from_map(map: Map<String, Value>) -> Self {
        Self((!map.is_empty()).then(|| Box::new(map)))
    }

    /// Clerk's deep merge (see [`deep_merge`]).
    pub(crate) fn merge(&mut self, patch: Map<String, Value>) {
        let mut map = self.0.take().map(|b| *b).unwrap_or_default();
        deep_merge(&mut map, patch);
        *self = Self::from_map(map);
    }

    pub(crate) fn to_value(&self) -> Value {
        Value::Object(self.0.as_deref().cloned().unwrap_or_default())
    }
}

impl Serialize for Metadata {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Some(map) => map.serialize(serializer),
            None => serializer.serialize_map(Some(0))?.end(),
        }
    }
}

/// One user.
#[derive(Debug, Clone)]
pub(crate) struct UserRecord {
    pub(crate) id: Arc<str>,
    pub(crate) emails: Vec<EmailRecord>,
    /// Index into `emails`.
    pub(crate) primary_email: Option<u32>,
    pub(crate) first_name: Option<Box<str>>,
    pub(crate) last_name: Option<Box<str>>,
    pub(crate) username: Option<Box<str>>,
    pub(crate) external_id: Option<Box<str>>,
    pub(crate) locale: Option<Box<str>>,
    pub(crate) public_metadata: Metadata,
    pub(crate) private_metadata: Metadata,
    pub(crate) unsafe_metadata: Metadata,
    pub(crate) password_enabled: bool,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
}

impl UserRecord {
    pub(crate) fn primary_email(&self) -> Option<&EmailRecord> {
        self.emails.get(self.primary_email? as usize)
    }

    /// The user object exactly as Clerk's Backend API renders it (2026-05-12).
    pub(crate) fn view(&self) -> UserJson<'_> {
        UserJson { user: self }
    }

    pub(crate) fn to_value(&self) -> Value {
        serde_json::to_value(self.view()).unwrap_or(Value::Null)
    }
}

/// A slot in the user table.
type Slot = u32;

/// The user table, its creation order, and the uniqueness indexes.
///
/// Records live in a slab (`slots`) and everything else refers to them by slot number: the
/// order index and the identifier indexes then cost a few bytes per user instead of a copy
/// of its key.
#[derive(Default)]
pub(crate) struct UserStore {
    /// `None` once deleted; slots are never reused.
    slots: Vec<Option<UserRecord>>,
    /// Live users in `(created_at, slot)` order: the order cursor paging walks.
    order: BTreeSet<(i64, Slot)>,
    /// Every id ever created, live or deleted: Clerk never reuses an id, and a cursor
    /// naming a user deleted since the previous page still marks a position.
    ids: HashMap<Arc<str>, (i64, Slot)>,
    emails: HashMap<Box<str>, Slot>,
    usernames: HashMap<Box<str>, Slot>,
    external_ids: HashMap<Box<str>, Slot>,
}

impl UserStore {
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }

    /// Makes room for `additional` users (bulk seeding).
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.slots.reserve(additional);
        self.ids.reserve(additional);
        self.emails.reserve(additional);
    }

    fn slot(&self, slot: Slot) -> Option<&UserRecord> {
        self.slots.get(slot as usize)?.as_ref()
    }

    pub(crate) fn get(&self, id: &str) -> Option<&UserRecord> {
        let (_, slot) = self.ids.get(id)?;
        self.slot(*slot)
    }

    /// The position of a user id, live or deleted, in creation order.
    pub(crate) fn position_of(&self, id: &str) -> Option<(i64, Slot)> {
        self.ids.get(id).copied()
    }

    /// Every live user in creation order.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = &UserRecord> {
        self.order.iter().filter_map(|(_, slot)| self.slot(*slot))
    }

    /// Users strictly after (`ascending`) or before `position`, in that direction.
    pub(crate) fn iter_from(
        &self,
        position: Option<(i64, Slot)>,
        ascending: bool,
    ) -> Box<dyn Iterator<Item = &UserRecord> + '_> {
        use std::ops::Bound::{Excluded, Unbounded};
        let keys: Box<dyn Iterator<Item = &(i64, Slot)>> = match (position, ascending) {
            (None, true) => Box::new(self.order.iter()),
            (None, false) => Box::new(self.order.iter().rev()),
            (Some(p), true) => Box::new(self.order.range((Excluded(p), Unbounded))),
            (Some(p), false) => Box::new(self.order.range((Unbounded, Excluded(p))).rev()),
        };
        Box::new(keys.filter_map(|(_, slot)| self.slot(*slot)))
    }

    pub(crate) fn email_owner(&self, address: &str) -> Option<&str> {
        let slot = self.emails.get(address.to_ascii_lowercase().as_str())?;
        self.slot(*slot).map(|u| &*u.id)
    }

    /// Checks that identifiers are free (or held by the user `except`).
    pub(crate) fn check_free(
        &self,
        emails: &[String],
        username: Option<&str>,
        external_id: Option<&str>,
        except: Option<&str>,
    ) -> Result<(), FakeClerkError> {
        let except = except
            .and_then(|id| self.ids.get(id))
            .map(|(_, slot)| *slot);
        let taken_by_other = |owner: Option<&Slot>| owner.is_some_and(|o| Some(*o) != except);
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
        let Ok(slot) = Slot::try_from(self.slots.len()) else {
            // Four billion users: far past anything a test holds.
            return;
        };
        self.ids.insert(user.id.clone(), (user.created_at, slot));
        self.order.insert((user.created_at, slot));
        self.index(&user, slot);
        self.slots.push(Some(user));
    }

    /// Removes a user, keeping its id and position for cursors.
    pub(crate) fn remove(&mut self, id: &str) -> Option<UserRecord> {
        let (created_at, slot) = *self.ids.get(id)?;
        let user = self.slots.get_mut(slot as usize)?.take()?;
        self.order.remove(&(created_at, slot));
        self.unindex(&user, slot);
        Some(user)
    }

    /// Applies `change` to a user, keeping the indexes right. The change must not alter
    /// `id` or `created_at`; identifiers it sets must have been checked free.
    pub(crate) fn update<T>(
        &mut self,
        id: &str,
        change: impl FnOnce(&mut UserRecord) -> T,
    ) -> Result<T, FakeClerkError> {
        let (_, slot) = *self.ids.get(id).ok_or(FakeClerkError::UserNotFound)?;
        let mut user = self
            .slots
            .get_mut(slot as usize)
            .and_then(Option::take)
            .ok_or(FakeClerkError::UserNotFound)?;
        self.unindex(&user, slot);
        let out = change(&mut user);
        self.index(&user, slot);
        self.slots[slot as usize] = Some(user);
        Ok(out)
    }

    fn index(&mut self, user: &UserRecord, slot: Slot) {
        for email in &user.emails {
            self.emails.insert(email.address.clone(), slot);
        }
        if let Some(username) = &user.username {
            self.usernames
                .insert(username.to_ascii_lowercase().into(), slot);
        }
        if let Some(external_id) = &user.external_id {
            self.external_ids.insert(external_id.clone(), slot);
        }
    }

    fn unindex(&mut self, user: &UserRecord, slot: Slot) {
        for email in &user.emails {
            if self.emails.get(&email.address) == Some(&slot) {
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
    public_metadata: &'a Metadata,
    private_metadata: &'a Metadata,
    unsafe_metadata: &'a Metadata,
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
            primary_email_address_id: u.primary_email().map(|e| &*e.id),
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
            primary_email: None,
            first_name: None,
            last_name: None,
            username: None,
            external_id: None,
            locale: None,
            public_metadata: Metadata::default(),
            private_metadata: Metadata::from_map(object(json!({"k": 1}))),
            unsafe_metadata: Metadata::default(),
            password_enabled: false,
            created_at: 1,
            updated_at: 2,
        };
        let json = user.to_value();
        assert_eq!(json["phone_numbers"], json!([]));
        assert_eq!(json["object"], "user");
        assert_eq!(json["public_metadata"], json!({}));
        assert_eq!(json["private_metadata"], json!({"k": 1}));
    }
}
