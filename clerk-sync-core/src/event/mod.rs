//! Typed Clerk webhook events.
//!
//! [`WebhookEvent::parse`] reads a (verified) webhook body: the envelope `{type, object,
//! timestamp, instance_id, event_attributes, data}` and `data` typed by `type` as a
//! [`ClerkEvent`]. Parsing is lenient where Clerk evolves (unknown fields are ignored, unknown
//! enum strings become `Other(String)`, unknown event types become [`ClerkEvent::Unknown`]) and
//! strict where the sync depends on it (a user's `id` and `updated_at` must be there).

mod deleted;
mod envelope;
mod error;
mod kind;
mod lenient;
mod organization;
mod string_enum;
mod user;
mod verification;

pub use deleted::DeletedObject;
pub use envelope::{EventAttributes, HttpRequest, WebhookEvent};
pub use error::EventError;
pub use kind::ClerkEvent;
pub use organization::{Organization, OrganizationMembership, PublicUserData};
pub use user::{EmailAddress, ExternalAccount, IdentificationLink, PhoneNumber, User, Web3Wallet};
pub use verification::{Verification, VerificationStatus, VerificationStrategy};
