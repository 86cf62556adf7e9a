//! [`WebhookEvent`]: the envelope every Clerk webhook body shares, with its typed `data`.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use time::{OffsetDateTime, PrimitiveDateTime};

use super::error::EventError;
use super::kind::ClerkEvent;

/// Envelope timestamps below this are seconds, at or above it milliseconds.
///
/// 10^11 seconds is the year 5138 and 10^11 milliseconds is March 1973, so no real event time
/// is ambiguous.
const SECONDS_BELOW: i64 = 100_000_000_000;

/// One Clerk webhook: `{type, object, timestamp, instance_id, event_attributes, data}`.
///
/// The body has no event id: the `svix-id` header is the id (and what to deduplicate on).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WebhookEvent {
    /// The wire type, e.g. `"user.created"`, exactly as sent.
    pub event_type: String,
    /// The envelope's object kind, `"event"`.
    pub object: String,
    /// When Clerk emitted the event, Unix milliseconds. Normalized: some sources send seconds.
    pub timestamp_ms: i64,
    /// The Clerk instance that emitted the event, `ins_...`, when sent.
    pub instance_id: Option<String>,
    /// Context of the request that caused the event, when sent.
    pub event_attributes: Option<EventAttributes>,
    /// The typed `data`.
    pub data: ClerkEvent,
    raw_data: Box<RawValue>,
}

/// Context Clerk attaches to an event (`event_attributes`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EventAttributes {
    /// The HTTP request that caused the event, when there was one.
    pub http_request: Option<HttpRequest>,
}

/// The HTTP request that caused an event (`event_attributes.http_request`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HttpRequest {
    /// The client's IP address as Clerk saw it.
    pub client_ip: Option<String>,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
}

/// The envelope as read in the single pass over the body: `data` is only located (borrowed
/// as raw JSON), so it is parsed once, straight into its type.
///
/// Every field is optional so an absent one is reported by name rather than as a serde
/// message.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type")]
    event_type: Option<String>,
    object: Option<String>,
    timestamp: Option<serde_json::Number>,
    instance_id: Option<String>,
    event_attributes: Option<EventAttributes>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
}

impl WebhookEvent {
    /// Parses a webhook body: the envelope in one pass, then `data` into the type named by
    /// `type`.
    ///
    /// Verify the signature first (over these same bytes); this only parses.
    ///
    /// ```
    /// use clerk_sync_core::event::{ClerkEvent, WebhookEvent};
    ///
    /// let body = br#"{
    ///   "type": "user.updated", "object": "event", "timestamp": 1654012824,
    ///   "data": {
    ///     "id": "user_29w83sxmDNGwOuEthce5gg56FcC", "created_at": 1654012591514,
    ///     "updated_at": 1654012824306,
    ///     "primary_email_address_id": "idn_2",
    ///     "email_addresses": [
    ///       {"id": "idn_1", "email_address": "old@example.org",
    ///        "verification": {"status": "verified", "strategy": "email_code"}},
    ///       {"id": "idn_2", "email_address": "new@example.org",
    ///        "verification": {"status": "verified", "strategy": "email_code"}}
    ///     ]
    ///   }
    /// }"#;
    /// let event = WebhookEvent::parse(body)?;
    /// assert_eq!(event.timestamp_ms, 1_654_012_824_000); // seconds were normalized
    /// let ClerkEvent::UserUpdated(user) = &event.data else { panic!("not a user.updated") };
    /// assert_eq!(user.primary_email().map(|e| e.email_address.as_str()), Some("new@example.org"));
    /// # Ok::<(), clerk_sync_core::event::EventError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`EventError::NotUtf8`] and [`EventError::Malformed`] when the body is not a JSON
    /// object of the envelope's shape, [`EventError::MissingField`] when `type`, `data` or
    /// `timestamp` is absent, [`EventError::InvalidTimestamp`], and
    /// [`EventError::InvalidData`] when a known type's `data` does not fit. An unknown type
    /// is not an error: it parses as [`ClerkEvent::Unknown`].
    pub fn parse(body: &[u8]) -> Result<Self, EventError> {
        // Validating UTF-8 up front (fast, vectorized in std) lets serde_json skip its own
        // per-string checks and gives non-UTF-8 bodies their own error.
        let text = std::str::from_utf8(body).map_err(EventError::NotUtf8)?;
        let envelope: Envelope<'_> =
            serde_json::from_str(text).map_err(|e| EventError::Malformed(e.into()))?;

        let event_type = envelope
            .event_type
            .ok_or(EventError::MissingField { field: "type" })?;
        let raw = envelope
            .data
            .ok_or(EventError::MissingField { field: "data" })?;
        let timestamp = envelope
            .timestamp
            .ok_or(EventError::MissingField { field: "timestamp" })?;
        let timestamp_ms = normalize_timestamp(&timestamp)?;
        let data = ClerkEvent::from_data(&event_type, raw.get())?;

        Ok(Self {
            event_type,
            // Clerk always sends "event"; a body without it is still a usable event.
            object: envelope.object.unwrap_or_else(|| "event".to_owned()),
            timestamp_ms,
            instance_id: envelope.instance_id,
            event_attributes: envelope.event_attributes,
            data,
            raw_data: raw.to_owned(),
        })
    }

    /// The `data` object exactly as sent (same bytes, whitespace included), for storing.
    pub fn raw_data(&self) -> &str {
        self.raw_data.get()
    }

    /// [`timestamp_ms`](Self::timestamp_ms) as a UTC date-time.
    ///
    /// Clamped to the representable range if `timestamp_ms` was changed after parsing to a
    /// value out of it ([`parse`](Self::parse) rejects those).
    pub fn timestamp(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.timestamp_ms) * 1_000_000)
            .unwrap_or_else(|_| {
                if self.timestamp_ms < 0 {
                    PrimitiveDateTime::MIN.assume_utc()
                } else {
                    PrimitiveDateTime::MAX.assume_utc()
                }
            })
    }

    /// The id of the object the event is about (`data.id`), where it has one.
    pub fn object_id(&self) -> Option<&str> {
        self.data.object_id()
    }
}

impl PartialEq for WebhookEvent {
    fn eq(&self, other: &Self) -> bool {
        self.event_type == other.event_type
            && self.object == other.object
            && self.timestamp_ms == other.timestamp_ms
            && self.instance_id == other.instance_id
            && self.event_attributes == other.event_attributes
            && self.data == other.data
            && self.raw_data.get() == other.raw_data.get()
    }
}

/// Converts the envelope timestamp to Unix milliseconds.
///
/// Integers below [`SECONDS_BELOW`] (in magnitude) are seconds. Fractional values are
/// accepted, since a seconds value with a fraction still names an exact millisecond.
fn normalize_timestamp(value: &serde_json::Number) -> Result<i64, EventError> {
    let ms = if let Some(int) = value.as_i64() {
        if int.unsigned_abs() < SECONDS_BELOW.unsigned_abs() {
            int * 1000
        } else {
            int
        }
    } else {
        // u64 beyond i64 (out of range anyway) or a float.
        let float = value.as_f64().ok_or(EventError::InvalidTimestamp)?;
        let ms = if float.abs() < SECONDS_BELOW as f64 {
            float * 1000.0
        } else {
            float
        };
        // Out-of-range floats are caught by the date check below, after saturation here.
        ms.round() as i64
    };
    // Bound to what OffsetDateTime can hold, so `timestamp()` is exact for parsed events.
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|_| EventError::InvalidTimestamp)?;
    Ok(ms)
}
