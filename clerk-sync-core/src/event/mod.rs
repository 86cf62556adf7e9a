//! Typed Clerk webhook events.
//!
//! [`WebhookEvent::parse`] reads a (verified) webhook body: the envelope `{type, object,
//! timestamp, instance_id, event_attributes, data}` and `data` typed by `type` as a
//! [`ClerkEvent`]. Parsing is lenient where Clerk evolves (unknown fields are ignored, unknown
//! enum strings become `Other(String)`, unknown event types become [`ClerkEvent::Unknown`]) and
//! strict where the sync depends on it (a user's `id` and `updated_at` must be there).
//!
//! The data types derive `Default`, so tests elsewhere can build them and set the public
//! fields they need; parsing JSON fixtures with [`WebhookEvent::parse`] is the other way.

mod access;
mod billing;
mod deleted;
mod envelope;
mod error;
mod invitation;
mod kind;
mod lenient;
mod message;
mod organization;
mod organization_domain;
mod session;
mod string_enum;
mod user;
mod verification;
mod waitlist;

pub use access::{Permission, Role};
pub use billing::{
    BillingPayer, BillingPlan, BillingTotals, ChargeType, MoneyAmount, PaymentAttempt,
    PaymentAttemptStatus, PaymentFailure, PlanPeriod, Subscription, SubscriptionItem,
    SubscriptionStatus,
};
pub use deleted::DeletedObject;
pub use envelope::{EventAttributes, HttpRequest, WebhookEvent};
pub use error::{EventError, JsonShapeError};
pub use invitation::{
    Invitation, InvitationStatus, OrganizationInvitation, PublicOrganizationData,
};
pub use kind::ClerkEvent;
pub use message::{Email, SmsMessage};
pub use organization::{Organization, OrganizationMembership, PublicUserData};
pub use organization_domain::{DomainEnrollmentMode, DomainVerification, OrganizationDomain};
pub use session::{Session, SessionActivity, SessionStatus};
#[cfg(feature = "clerk-api")]
pub(crate) use user::read_user;
pub use user::{EmailAddress, ExternalAccount, IdentificationLink, PhoneNumber, User, Web3Wallet};
pub use verification::{Verification, VerificationStatus, VerificationStrategy};
pub use waitlist::{WaitlistEntry, WaitlistEntryStatus};
