//! A user as the Backend API sent it: the raw JSON kept whole, plus the three fields the
//! sync needs read leniently.

use std::fmt;

use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::event::User;

/// One Clerk user object, exactly as the Backend API sent it.
///
/// Decoding never fails on the content of a user: unknown fields, new enum values, or a
/// missing or mistyped `id`/`created_at`/`updated_at` (then `None`) still give a
/// `ClerkUser`, so one odd user never fails a page of 500. The typed view is one call away
/// ([`to_user`](Self::to_user)), and that one may fail, for this user only.
///
/// ```
/// use clerk_sync_core::clerk_api::ClerkUser;
///
/// let user = ClerkUser::from_json(
///     r#"{"id":"user_2x","object":"user","created_at":1,"updated_at":"soon","new_field":[1]}"#,
/// )?;
/// assert_eq!(user.id(), Some("user_2x"));
/// assert_eq!(user.created_at(), Some(1));
/// assert_eq!(user.updated_at(), None); // mistyped: read as missing, not an error
/// assert!(user.raw_json().contains("new_field"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone)]
pub struct ClerkUser {
    raw: Box<RawValue>,
    id: Option<String>,
    created_at: Option<i64>,
    updated_at: Option<i64>,
}

/// A field read leniently: its value when it has the expected type, `None` otherwise.
#[derive(Deserialize)]
#[serde(untagged)]
enum Lenient<T> {
    Value(T),
    Other(IgnoredAny),
}

impl<T> Lenient<T> {
    fn get(this: Option<Self>) -> Option<T> {
        match this {
            Some(Lenient::Value(value)) => Some(value),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
struct Head {
    #[serde(default)]
    id: Option<Lenient<String>>,
    #[serde(default)]
    created_at: Option<Lenient<i64>>,
    #[serde(default)]
    updated_at: Option<Lenient<i64>>,
}

impl ClerkUser {
    /// Wraps one user's raw JSON, reading `id`, `created_at` and `updated_at` from it.
    pub fn from_raw(raw: Box<RawValue>) -> Self {
        let (id, created_at, updated_at) = match serde_json::from_str::<Head>(raw.get()) {
            Ok(head) => (
                Lenient::get(head.id),
                Lenient::get(head.created_at),
                Lenient::get(head.updated_at),
            ),
            // Not an object at all: keep it, with nothing read from it.
            Err(_) => (None, None, None),
        };
        Self {
            raw,
            id,
            created_at,
            updated_at,
        }
    }

    /// Parses one user's JSON text.
    ///
    /// # Errors
    ///
    /// Only when `json` is not valid JSON.
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        Ok(Self::from_raw(RawValue::from_string(json.to_owned())?))
    }

    /// The user id, `user_...`; `None` when missing or not a string.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// Creation time, Unix ms; `None` when missing or not an integer.
    pub fn created_at(&self) -> Option<i64> {
        self.created_at
    }

    /// Last change, Unix ms (the user's version); `None` when missing or not an integer.
    pub fn updated_at(&self) -> Option<i64> {
        self.updated_at
    }

    /// The user's JSON exactly as Clerk sent it.
    pub fn raw_json(&self) -> &str {
        self.raw.get()
    }

    /// The raw JSON, owned.
    pub fn into_raw(self) -> Box<RawValue> {
        self.raw
    }

    /// The typed user.
    ///
    /// # Errors
    ///
    /// When the JSON lacks what [`User`] requires (an `id`, integer `created_at` and
    /// `updated_at`) or has a known field of the wrong type.
    pub fn to_user(&self) -> Result<User, serde_json::Error> {
        serde_json::from_str(self.raw.get())
    }
}

impl fmt::Debug for ClerkUser {
    /// Ids and versions only: the raw JSON holds emails and names, which do not belong in
    /// logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClerkUser")
            .field("id", &self.id)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .field("raw_json_len", &self.raw.get().len())
            .finish()
    }
}

impl PartialEq for ClerkUser {
    fn eq(&self, other: &Self) -> bool {
        self.raw.get() == other.raw.get()
    }
}

impl<'de> Deserialize<'de> for ClerkUser {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Box::<RawValue>::deserialize(deserializer).map(Self::from_raw)
    }
}

impl Serialize for ClerkUser {
    /// Writes the raw JSON back unchanged.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_survives_odd_users() {
        let page = r#"[
            {"id":"user_a","created_at":1,"updated_at":2,"email_addresses":[],"brand_new":{"x":1}},
            {"id":7,"created_at":null,"updated_at":3.5},
            "not even an object",
            {"id":"user_c","created_at":18446744073709551615,"updated_at":9}
        ]"#;
        let users: Vec<ClerkUser> = serde_json::from_str(page).unwrap();
        assert_eq!(users.len(), 4);
        assert_eq!(users[0].id(), Some("user_a"));
        assert_eq!(users[0].updated_at(), Some(2));
        assert_eq!(
            (users[1].id(), users[1].created_at(), users[1].updated_at()),
            (None, None, None)
        );
        assert_eq!(users[2].id(), None);
        assert_eq!(
            users[3].created_at(),
            None,
            "out of i64 range reads as missing"
        );
        assert_eq!(users[3].updated_at(), Some(9));
        assert!(users[0].raw_json().contains("brand_new"));
    }

    #[test]
    fn typed_view_and_debug() {
        let user = ClerkUser::from_json(
            r#"{"id":"user_a","created_at":1,"updated_at":2,"first_name":"Secret Name",
                "primary_email_address_id":"idn_1",
                "email_addresses":[{"id":"idn_1","email_address":"a@example.com",
                  "verification":{"status":"a_new_status","strategy":"a_new_strategy"}}]}"#,
        )
        .unwrap();
        let typed = user.to_user().unwrap();
        assert_eq!(
            typed.primary_email().unwrap().email_address,
            "a@example.com"
        );
        let debug = format!("{user:?}");
        assert!(!debug.contains("Secret Name") && !debug.contains("a@example.com"));
        assert_eq!(serde_json::to_string(&user).unwrap(), user.raw_json());
    }
}
