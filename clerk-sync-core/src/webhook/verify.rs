//! The verifier: secrets + tolerance, checking deliveries and signing test ones.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use subtle::ConstantTimeEq;

use super::secret::SigningKey;
use super::signature::{TAG_LEN, v1_candidates};
use super::timestamp::Timestamp;
use super::{WebhookError, WebhookHeaders};

/// The replay window Svix and the Standard Webhooks libraries use.
const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// Tags for this many secrets live on the stack; rotation rarely needs more than two.
const INLINE_SECRETS: usize = 4;

/// Verifies (and, for tests and tools, signs) Clerk webhooks delivered through Svix.
///
/// Holds one or more secrets, each pre-keyed once, plus the timestamp tolerance. It is cheap to
/// clone and safe to share between threads; build it once at start-up.
///
/// A delivery passes when its timestamp is within the tolerance of now (300 s either way by
/// default) and at least one `v1` entry of its signature header is the HMAC-SHA256 of
/// `id.timestamp.body` under one of the secrets. Several secrets allow rotation: configure the
/// new and the old secret together until the old one is retired.
///
/// `Debug` shows how many secrets there are, never the secrets.
///
/// # Example
///
/// ```
/// use clerk_sync_core::webhook::{WebhookHeaders, WebhookVerifier};
///
/// let verifier = WebhookVerifier::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
/// let body = br#"{"type":"user.created","data":{"id":"user_123"}}"#;
/// let now = 1_700_000_000;
/// let signature = verifier.sign("msg_123", now, body);
///
/// let headers = WebhookHeaders { id: "msg_123", timestamp: "1700000000", signature: &signature };
/// verifier.verify_at(&headers, body, now)?;
///
/// // Any change to the body is caught.
/// assert!(verifier.verify_at(&headers, br#"{"type":"user.deleted"}"#, now).is_err());
/// # Ok::<(), clerk_sync_core::webhook::WebhookError>(())
/// ```
#[derive(Clone)]
pub struct WebhookVerifier {
    /// Never empty: the constructors refuse an empty list.
    keys: Box<[SigningKey]>,
    tolerance: Duration,
    /// `tolerance` in whole seconds, clamped to `i64`, so verification does no conversion.
    tolerance_secs: i64,
}

impl WebhookVerifier {
    /// A verifier for one secret, as shown in the Clerk dashboard: `whsec_<base64>`, or the
    /// bare base64 (padded or not).
    ///
    /// # Errors
    ///
    /// [`WebhookError::InvalidSecret`] if it is not standard base64,
    /// [`WebhookError::EmptySecret`] if it decodes to no bytes (`""`, `"whsec_"`).
    pub fn new(secret: &str) -> Result<Self, WebhookError> {
        Self::from_secrets([secret])
    }

    /// A verifier that accepts a signature by any of `secrets`, for rotation.
    ///
    /// [`sign`](Self::sign) uses the first one.
    ///
    /// # Errors
    ///
    /// [`WebhookError::NoSecrets`] for an empty list; otherwise the first invalid secret's
    /// error, with its position (see [`new`](Self::new)).
    pub fn from_secrets<'a>(
        secrets: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, WebhookError> {
        let keys = secrets
            .into_iter()
            .enumerate()
            .map(|(index, secret)| SigningKey::parse(secret, index))
            .collect::<Result<Box<[_]>, _>>()?;
        if keys.is_empty() {
            return Err(WebhookError::NoSecrets);
        }
        Ok(Self {
            keys,
            tolerance: DEFAULT_TOLERANCE,
            tolerance_secs: duration_secs(DEFAULT_TOLERANCE),
        })
    }

    /// Replaces the tolerance (default 300 s), applied both to the past and to the future.
    ///
    /// Only whole seconds count, as timestamps are whole seconds: 1.9 s behaves as 1 s.
    #[must_use]
    pub fn with_tolerance(self, tolerance: Duration) -> Self {
        Self {
            tolerance,
            tolerance_secs: duration_secs(tolerance),
            ..self
        }
    }

    /// Verifies a delivery against the system clock.
    ///
    /// # Errors
    ///
    /// See [`verify_at`](Self::verify_at).
    pub fn verify(&self, headers: &WebhookHeaders<'_>, body: &[u8]) -> Result<(), WebhookError> {
        self.verify_at(headers, body, unix_now())
    }

    /// Verifies a delivery as if the time were `now_unix` (Unix seconds).
    ///
    /// `body` is the raw request body, exactly as received: verify before parsing, because
    /// re-serialized JSON will not match.
    ///
    /// # Errors
    ///
    /// [`WebhookError::InvalidTimestamp`] unless the timestamp is plain decimal digits that fit
    /// in an `i64`; [`WebhookError::TimestampTooOld`] or [`WebhookError::TimestampTooNew`]
    /// outside the tolerance; [`WebhookError::NoMatchingSignature`] when no `v1` entry matches
    /// any secret.
    pub fn verify_at(
        &self,
        headers: &WebhookHeaders<'_>,
        body: &[u8],
        now_unix: i64,
    ) -> Result<(), WebhookError> {
        // Cheap checks first: a stale replay or a header without a single usable entry is
        // refused before hashing a body that may be large.
        let timestamp = Timestamp::parse(headers.timestamp)?;
        timestamp.check_window(now_unix, self.tolerance_secs)?;
        let mut candidates = v1_candidates(headers.signature).peekable();
        if candidates.peek().is_none() {
            return Err(WebhookError::NoMatchingSignature);
        }

        // One HMAC per secret, one decode per candidate: tags first, then every candidate is
        // compared against all of them.
        let mut inline = [[0u8; TAG_LEN]; INLINE_SECRETS];
        let mut spilled;
        let tags: &mut [[u8; TAG_LEN]] = if self.keys.len() <= INLINE_SECRETS {
            &mut inline[..self.keys.len()]
        } else {
            spilled = vec![[0u8; TAG_LEN]; self.keys.len()];
            &mut spilled
        };
        let id = headers.id.as_bytes();
        let ts = timestamp.canonical.as_bytes();
        for (tag, key) in tags.iter_mut().zip(&*self.keys) {
            *tag = key.tag(id, ts, body);
        }

        for candidate in candidates {
            if tags.iter().any(|tag| bool::from(tag.ct_eq(&candidate))) {
                return Ok(());
            }
        }
        Err(WebhookError::NoMatchingSignature)
    }

    /// Signs a message with the first secret, returning a signature header value
    /// (`v1,<base64>`), as Svix would send it. For tests, tools and local replays.
    ///
    /// `timestamp` is Unix seconds. A negative one is signed as written but will never verify,
    /// since [`verify`](Self::verify) only accepts plain digits.
    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        let tag = self.keys[0].tag(msg_id.as_bytes(), timestamp.to_string().as_bytes(), body);
        let mut out = String::with_capacity(3 + 44);
        out.push_str("v1,");
        STANDARD.encode_string(tag, &mut out);
        out
    }
}

impl fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookVerifier")
            .field("secrets", &self.keys.len())
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

fn duration_secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// The system clock in Unix seconds; a clock set before 1970 gives a negative value rather
/// than an error, and the tolerance check then refuses the delivery.
fn unix_now() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(after) => duration_secs(after),
        Err(before) => duration_secs(before.duration()).saturating_neg(),
    }
}
