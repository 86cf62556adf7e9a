//! Messages Clerk sends on the instance's behalf (`email.created`, `sms.created`); with
//! delivery delegated, the application sends them itself.

use serde::{Deserialize, Serialize};

use super::lenient::null_as_default;

/// An email Clerk created, the `data` of `email.created`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Email {
    /// The email id, `ema_...`.
    pub id: String,
    /// The template slug, e.g. `"verification_code"`.
    pub slug: Option<String>,
    /// The sender name.
    pub from_email_name: Option<String>,
    /// The recipient address.
    pub to_email_address: Option<String>,
    /// The recipient's email address id, `idn_...`, when it belongs to a user.
    pub email_address_id: Option<String>,
    /// The recipient user, when there is one.
    pub user_id: Option<String>,
    /// Subject line.
    pub subject: Option<String>,
    /// HTML body.
    pub body: Option<String>,
    /// Plain-text body.
    pub body_plain: Option<String>,
    /// Delivery status as Clerk reports it, e.g. `"queued"`.
    pub status: Option<String>,
    /// Template variables (OTP code, links, ...), as sent.
    pub data: Option<serde_json::Value>,
    /// Whether Clerk delivers it (`false`: the application must send it).
    #[serde(default, deserialize_with = "null_as_default")]
    pub delivered_by_clerk: bool,
}

/// An SMS Clerk created, the `data` of `sms.created`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SmsMessage {
    /// The message id, `sms_...`.
    pub id: String,
    /// The sender number.
    pub from_phone_number: Option<String>,
    /// The recipient number.
    pub to_phone_number: Option<String>,
    /// The recipient's phone number id, `idn_...`, when it belongs to a user.
    pub phone_number_id: Option<String>,
    /// The recipient user, when there is one.
    pub user_id: Option<String>,
    /// The text.
    pub message: Option<String>,
    /// Delivery status as Clerk reports it.
    pub status: Option<String>,
    /// The template slug.
    pub slug: Option<String>,
    /// Template variables, as sent.
    pub data: Option<serde_json::Value>,
    /// Whether Clerk delivers it (`false`: the application must send it).
    #[serde(default, deserialize_with = "null_as_default")]
    pub delivered_by_clerk: bool,
}
