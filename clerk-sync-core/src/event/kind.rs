//! [`ClerkEvent`]: the typed `data` of a webhook, one variant per documented event type.

use serde::de::DeserializeOwned;

use super::access::{Permission, Role};
use super::billing::{PaymentAttempt, Subscription, SubscriptionItem};
use super::deleted::DeletedObject;
use super::error::EventError;
use super::invitation::{Invitation, OrganizationInvitation};
use super::message::{Email, SmsMessage};
use super::organization::{Organization, OrganizationMembership};
use super::organization_domain::OrganizationDomain;
use super::session::Session;
use super::user::User;
use super::waitlist::WaitlistEntry;

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

impl_object_id!(
    User,
    Session,
    Email,
    SmsMessage,
    Organization,
    OrganizationDomain,
    OrganizationInvitation,
    OrganizationMembership,
    Role,
    Permission,
    Invitation,
    WaitlistEntry,
    Subscription,
    SubscriptionItem,
    PaymentAttempt,
);

impl ObjectId for DeletedObject {
    fn object_id(&self) -> Option<&str> {
        self.id.as_deref()
    }
}

/// Parses `data` as `T`, naming the event type when it does not fit.
fn typed<T: DeserializeOwned>(event_type: &str, data: &str) -> Result<T, EventError> {
    serde_json::from_str(data).map_err(|source| EventError::InvalidData {
        event_type: event_type.to_owned(),
        source: source.into(),
    })
}

/// How an event payload type is read from an event's `data`.
///
/// Strict by default: a known type whose data does not fit is an error. A user is read
/// leniently when the strict parse fails, because the sync writes it to the local table: a
/// new or malformed field elsewhere in the user object must not leave the row stale.
trait EventData: DeserializeOwned {
    fn from_data(event_type: &str, data: &str) -> Result<Self, EventError> {
        typed(event_type, data)
    }
}

impl EventData for User {
    fn from_data(event_type: &str, data: &str) -> Result<Self, EventError> {
        typed(event_type, data).or_else(|strict| {
            super::user::lenient_user(data).ok_or(strict).inspect(|_| {
                tracing::debug!(
                    event_type,
                    "user object read leniently: some fields did not fit"
                );
            })
        })
    }
}

macro_rules! strict_event_data {
    ($($ty:ty),* $(,)?) => {
        $(impl EventData for $ty {})*
    };
}

strict_event_data!(
    DeletedObject,
    Session,
    Email,
    SmsMessage,
    Organization,
    OrganizationDomain,
    OrganizationInvitation,
    OrganizationMembership,
    Role,
    Permission,
    Invitation,
    WaitlistEntry,
    Subscription,
    SubscriptionItem,
    PaymentAttempt,
);

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
            /// JSON at all. `user.created` and `user.updated` are read leniently: only a
            /// missing or mistyped `id` or `updated_at` makes them an error; any other field
            /// that does not fit is left at its default (the raw data keeps it).
            pub fn from_data(event_type: &str, data: &str) -> Result<Self, EventError> {
                Ok(match event_type {
                    $( $wire $(| $alias)* => {
                        Self::$variant(<$ty as EventData>::from_data(event_type, data)?)
                    } )*
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
                    Self::Unknown { data, .. } => {
                        data.get("id").and_then(serde_json::Value::as_str)
                    }
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

    /// `session.created`: a user signed in.
    SessionCreated(Session) = "session.created";
    /// `session.ended`: the user signed out.
    SessionEnded(Session) = "session.ended";
    /// `session.removed`: the session was removed from its client.
    SessionRemoved(Session) = "session.removed";
    /// `session.revoked`: the session was revoked through the API or dashboard.
    SessionRevoked(Session) = "session.revoked";
    /// `session.pending`: the session waits on a task before it becomes active.
    SessionPending(Session) = "session.pending";

    /// `email.created`: Clerk created an email (to send, or for the application to send).
    EmailCreated(Email) = "email.created";
    /// `sms.created`: Clerk created an SMS (to send, or for the application to send).
    SmsCreated(SmsMessage) = "sms.created";

    /// `organization.created`.
    OrganizationCreated(Organization) = "organization.created";
    /// `organization.updated`.
    OrganizationUpdated(Organization) = "organization.updated";
    /// `organization.deleted`.
    OrganizationDeleted(DeletedObject) = "organization.deleted";

    /// `organizationDomain.created`.
    OrganizationDomainCreated(OrganizationDomain) = "organizationDomain.created";
    /// `organizationDomain.updated`, e.g. when it was verified.
    OrganizationDomainUpdated(OrganizationDomain) = "organizationDomain.updated";
    /// `organizationDomain.deleted`.
    OrganizationDomainDeleted(DeletedObject) = "organizationDomain.deleted";

    /// `organizationInvitation.created`.
    OrganizationInvitationCreated(OrganizationInvitation) = "organizationInvitation.created";
    /// `organizationInvitation.accepted`; the data names the accepting user.
    OrganizationInvitationAccepted(OrganizationInvitation) = "organizationInvitation.accepted";
    /// `organizationInvitation.revoked`.
    OrganizationInvitationRevoked(OrganizationInvitation) = "organizationInvitation.revoked";

    /// `organizationMembership.created`: a user joined an organization.
    OrganizationMembershipCreated(OrganizationMembership) = "organizationMembership.created";
    /// `organizationMembership.updated`: a member's role changed.
    OrganizationMembershipUpdated(OrganizationMembership) = "organizationMembership.updated";
    /// `organizationMembership.deleted`: a member left or was removed; the data is the
    /// membership as it was.
    OrganizationMembershipDeleted(OrganizationMembership) = "organizationMembership.deleted";

    /// `role.created`.
    RoleCreated(Role) = "role.created";
    /// `role.updated`.
    RoleUpdated(Role) = "role.updated";
    /// `role.deleted`.
    RoleDeleted(Role) = "role.deleted";
    /// `permission.created`.
    PermissionCreated(Permission) = "permission.created";
    /// `permission.updated`.
    PermissionUpdated(Permission) = "permission.updated";
    /// `permission.deleted`.
    PermissionDeleted(Permission) = "permission.deleted";

    /// `invitation.created`: an invitation to the application was sent.
    InvitationCreated(Invitation) = "invitation.created";
    /// `invitation.accepted`: it was used to sign up.
    InvitationAccepted(Invitation) = "invitation.accepted";
    /// `invitation.revoked`.
    InvitationRevoked(Invitation) = "invitation.revoked";

    /// `waitlistEntry.created`: an address joined the waitlist.
    WaitlistEntryCreated(WaitlistEntry) = "waitlistEntry.created";
    /// `waitlistEntry.updated`: invited, rejected or completed.
    WaitlistEntryUpdated(WaitlistEntry) = "waitlistEntry.updated";

    /// `subscription.created`.
    SubscriptionCreated(Subscription) = "subscription.created";
    /// `subscription.updated`.
    SubscriptionUpdated(Subscription) = "subscription.updated";
    /// `subscription.active`.
    SubscriptionActive(Subscription) = "subscription.active";
    /// `subscription.pastDue` (sent as `subscription.past_due` by earlier releases).
    SubscriptionPastDue(Subscription) = "subscription.pastDue" | "subscription.past_due";

    /// `subscriptionItem.created`.
    SubscriptionItemCreated(SubscriptionItem) = "subscriptionItem.created";
    /// `subscriptionItem.updated`.
    SubscriptionItemUpdated(SubscriptionItem) = "subscriptionItem.updated";
    /// `subscriptionItem.active`.
    SubscriptionItemActive(SubscriptionItem) = "subscriptionItem.active";
    /// `subscriptionItem.canceled`.
    SubscriptionItemCanceled(SubscriptionItem) = "subscriptionItem.canceled";
    /// `subscriptionItem.upcoming`.
    SubscriptionItemUpcoming(SubscriptionItem) = "subscriptionItem.upcoming";
    /// `subscriptionItem.ended`.
    SubscriptionItemEnded(SubscriptionItem) = "subscriptionItem.ended";
    /// `subscriptionItem.abandoned`.
    SubscriptionItemAbandoned(SubscriptionItem) = "subscriptionItem.abandoned";
    /// `subscriptionItem.incomplete`.
    SubscriptionItemIncomplete(SubscriptionItem) = "subscriptionItem.incomplete";
    /// `subscriptionItem.pastDue` (sent as `subscriptionItem.past_due` by earlier releases).
    SubscriptionItemPastDue(SubscriptionItem) =
        "subscriptionItem.pastDue" | "subscriptionItem.past_due";
    /// `subscriptionItem.freeTrialEnding`: a free trial ends soon.
    SubscriptionItemFreeTrialEnding(SubscriptionItem) = "subscriptionItem.freeTrialEnding";

    /// `paymentAttempt.created`.
    PaymentAttemptCreated(PaymentAttempt) = "paymentAttempt.created";
    /// `paymentAttempt.updated`: it succeeded or failed.
    PaymentAttemptUpdated(PaymentAttempt) = "paymentAttempt.updated";
}
