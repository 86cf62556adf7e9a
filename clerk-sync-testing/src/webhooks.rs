//! Signed webhooks: the events FakeClerk emits for each change, signed the way Svix signs
//! Clerk's deliveries.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clerk_sync_core::webhook::{WebhookHeaders, WebhookVerifier};
use serde_json::{Value, json};

use crate::ids::{IdGenerator, unix_ms, unix_secs};

/// One webhook delivery: the body and its three `svix-*` headers.
///
/// ```
/// # async fn run() {
/// use clerk_sync_core::webhook::WebhookVerifier;
/// use clerk_sync_testing::FakeClerk;
/// use serde_json::json;
///
/// let fake = FakeClerk::start().await;
/// let delivery = fake.sign_webhook("user.deleted", json!({"id": "user_1", "object": "user", "deleted": true}));
///
/// let verifier = WebhookVerifier::new(fake.webhook_secret()).unwrap();
/// verifier.verify(&delivery.webhook_headers(), delivery.body.as_bytes()).unwrap();
/// for (name, value) in delivery.headers() {
///     // request = request.header(name, value);
///     # let _ = (name, value);
/// }
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignedWebhook {
    /// The event type, e.g. `user.created`.
    pub event_type: String,
    /// The message id (`svix-id`), `msg_...`.
    pub id: String,
    /// The signing time, Unix seconds (`svix-timestamp`).
    pub timestamp: i64,
    /// `v1,<base64>` (`svix-signature`).
    pub signature: String,
    /// The JSON body, exactly as signed.
    pub body: String,
    timestamp_text: String,
}

impl SignedWebhook {
    /// The `svix-id`, `svix-timestamp` and `svix-signature` headers, to send with the body.
    pub fn headers(&self) -> [(&'static str, String); 3] {
        [
            ("svix-id", self.id.clone()),
            ("svix-timestamp", self.timestamp_text.clone()),
            ("svix-signature", self.signature.clone()),
        ]
    }

    /// The headers as `clerk_sync_core` reads them, to call a verifier or the sync engine
    /// directly.
    pub fn webhook_headers(&self) -> WebhookHeaders<'_> {
        WebhookHeaders {
            id: &self.id,
            timestamp: &self.timestamp_text,
            signature: &self.signature,
        }
    }

    /// The event's `data`, parsed.
    pub fn data(&self) -> Value {
        serde_json::from_str::<Value>(&self.body)
            .ok()
            .and_then(|mut v| v.get_mut("data").map(Value::take))
            .unwrap_or(Value::Null)
    }
}

/// The endpoint secret and what goes into every envelope.
pub(crate) struct WebhookSigner {
    secret: String,
    verifier: WebhookVerifier,
    instance_id: String,
}

impl WebhookSigner {
    pub(crate) fn new(ids: &mut IdGenerator, instance_id: String) -> Self {
        let mut key = [0u8; 24];
        for chunk in key.chunks_mut(8) {
            chunk.copy_from_slice(&ids.next_u64().to_le_bytes()[..chunk.len()]);
        }
        let secret = format!("whsec_{}", STANDARD.encode(key));
        let verifier = match WebhookVerifier::new(&secret) {
            Ok(verifier) => verifier,
            Err(_) => unreachable!("whsec_ and 24 bytes of standard base64 always parse"),
        };
        Self {
            secret,
            verifier,
            instance_id,
        }
    }

    pub(crate) fn secret(&self) -> &str {
        &self.secret
    }

    /// Wraps `data` in Clerk's envelope and signs it now.
    pub(crate) fn sign(
        &self,
        ids: &mut IdGenerator,
        event_type: &str,
        data: Value,
        user_agent: Option<&str>,
    ) -> SignedWebhook {
        let body = json!({
            "data": data,
            "event_attributes": {
                "http_request": {
                    "client_ip": "127.0.0.1",
                    "user_agent": user_agent.unwrap_or("FakeClerk"),
                }
            },
            "instance_id": self.instance_id,
            "object": "event",
            "timestamp": unix_ms(),
            "type": event_type,
        })
        .to_string();
        let id = ids.id("msg");
        let timestamp = unix_secs();
        let signature = self.verifier.sign(&id, timestamp, body.as_bytes());
        SignedWebhook {
            event_type: event_type.to_owned(),
            id,
            timestamp,
            signature,
            body,
            timestamp_text: timestamp.to_string(),
        }
    }
}
