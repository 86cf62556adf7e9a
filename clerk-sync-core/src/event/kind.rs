//! [`ClerkEvent`]: the typed `data` of a webhook, one variant per documented event type.

use serde::de::DeserializeOwned;

use super::deleted::DeletedObject;
use super::error::EventError;
use super::organization::{Organization, OrganizationMembership};
use super::user::User;

/// The id an event's object carries, for [`ClerkEvent::object_id`].
///
/// Crate-private so the set of event payload types stays closed to this module's table.
pub(crate) trait ObjectId {
    fn object_id(&self) -> Option<&str>;
}

macro_rules! impl_object_id {
    ($($ty:ty),* $(,)?) => {
        $(impl ObjectId for $ty {
            fn object_id(&self) -> Option<&str> {
                Some(&self.id)
            }
        })*
    };
}

impl_object_id!(User, Organization, OrganizationMembership);

impl ObjectId for DeletedObject {
    fn object_id(&self) -> Option<&str> {
        self.id.as_deref()
    }
}

/// Parses `data` as `T`, naming the event type when it does not fit.
fn typed<T: DeserializeOwned>(event_type: &str, data: &str) -> Result<T, EventError> {
    serde_json::from_str(data).map_err(|source| EventError::InvalidData {
        event_type: event_type.to_owned(),
        source,
    })
}

/// Declares [`ClerkEvent`] and its wire mapping from one table, so the enum, the parser, the
/// wire names and the object id can never disagree about a type.
macro_rules! clerk_events {
    ($(
        $(#[$doc:meta])*
        $variant:ident($ty:ty) = $wire:literal $(| $alias:literal)*;
    )*) => {
        /// The typed `data` of a Clerk webhook, chosen by the envelope's `type`.
        ///
        /// Variant names are the CamelCase of the dotted wire name (`user.created` is
        /// [`UserCreated`](Self::UserCreated)). A type this version does not know parses as
        /// [`Unknown`](Self::Unknown) with its data kept, so Clerk adding an event never
        /// breaks parsing; match with a `_` arm, since new variants will be added.
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub enum ClerkEvent {
            $( $(#[$doc])* $variant($ty), )*
            /// An event type this version of the library does not know.
            Unknown {
                /// The wire type, e.g. `"apiKey.created"`.
                event_type: String,
                /// The `data` object as sent.
                data: serde_json::Value,
            },
        }

        impl ClerkEvent {
            /// Every wire type this version parses into a typed variant (aliases excluded).
            pub const KNOWN_TYPES: &'static [&'static str] = &[$($wire),*];

            /// Parses an event's `data` (JSON text) according to its wire type.
            ///
            /// [`WebhookEvent::parse`](super::WebhookEvent::parse) calls this; it is public
            /// so a stored `(type, data)` pair can be parsed again, e.g. on replay.
            ///
            /// # Errors
            ///
            /// [`EventError::InvalidData`] when the type is known and `data` does not fit
            /// it; for an unknown type, [`EventError::InvalidData`] only if `data` is not
            /// JSON at all.
            pub fn from_data(event_type: &str, data: &str) -> Result<Self, EventError> {
                Ok(match event_type {
                    $( $wire $(| $alias)* => Self::$variant(typed(event_type, data)?), )*
                    _ => Self::Unknown {
                        event_type: event_type.to_owned(),
                        data: typed(event_type, data)?,
                    },
                })
            }

            /// The wire type, e.g. `"user.created"`. For a type Clerk sends under a legacy
            /// alias as well, this is the current name.
            pub fn event_type(&self) -> &str {
                match self {
                    $( Self::$variant(_) => $wire, )*
                    Self::Unknown { event_type, .. } => event_type,
                }
            }

            /// The id of the object the event is about (`data.id`), where it has one.
            pub fn object_id(&self) -> Option<&str> {
                match self {
                    $( Self::$variant(data) => ObjectId::object_id(data), )*
                    Self::Unknown { data, .. } => data.get("id").and_then(serde_json::Value::as_str),
                }
            }
        }
    };
}

clerk_events! {
    /// `user.created`: a user signed up or was created through the API or dashboard.
    UserCreated(User) = "user.created";
    /// `user.updated`: any field of the user changed.
    UserUpdated(User) = "user.updated";
    /// `user.deleted`: the user was deleted; Clerk never reuses the id.
    UserDeleted(DeletedObject) = "user.deleted";
    /// `organization.created`.
    OrganizationCreated(Organization) = "organization.created";
    /// `organization.updated`.
    OrganizationUpdated(Organization) = "organization.updated";
    /// `organization.deleted`.
    OrganizationDeleted(DeletedObject) = "organization.deleted";
    /// `organizationMembership.created`: a user joined an organization.
    OrganizationMembershipCreated(OrganizationMembership) = "organizationMembership.created";
    /// `organizationMembership.updated`: a member's role changed.
    OrganizationMembershipUpdated(OrganizationMembership) = "organizationMembership.updated";
    /// `organizationMembership.deleted`: a member left or was removed; the data is the
    /// membership as it was.
    OrganizationMembershipDeleted(OrganizationMembership) = "organizationMembership.deleted";
}
