//! Signing secrets: parsing `whsec_<base64>` and keying the HMAC once.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::WebhookError;

/// The prefix Svix and Clerk put in front of the base64 key in the dashboard.
const PREFIX: &str = "whsec_";

/// Standard alphabet, padding optional: secrets are pasted by people and copied through
/// tools that sometimes drop the `=`. Trailing bits stay strict, as in the Svix libraries, so
/// a secret they accept is exactly the set we accept plus unpadded forms.
const SECRET_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// One secret, already turned into an HMAC-SHA256 state that has absorbed the key.
///
/// Keying costs two SHA-256 block compressions (the inner and outer pads); doing it once here
/// and cloning the state per message saves that on every delivery.
#[derive(Clone)]
pub(crate) struct SigningKey {
    keyed: Hmac<Sha256>,
}

impl SigningKey {
    /// Parses `whsec_<base64>` or bare base64; `index` is only used to say which secret of a
    /// list was wrong.
    pub(crate) fn parse(secret: &str, index: usize) -> Result<Self, WebhookError> {
        let encoded = secret.strip_prefix(PREFIX).unwrap_or(secret);
        // The decode error is dropped on purpose: it names the offending byte of the secret.
        let key = SECRET_BASE64
            .decode(encoded)
            .map_err(|_| WebhookError::InvalidSecret { index })?;
        if key.is_empty() {
            return Err(WebhookError::EmptySecret { index });
        }
        let keyed = <Hmac<Sha256> as KeyInit>::new_from_slice(&key)
            .map_err(|_| WebhookError::InvalidSecret { index })?;
        Ok(Self { keyed })
    }

    /// HMAC-SHA256 over `id.timestamp.body`, fed in pieces so the body is never copied or
    /// required to be UTF-8.
    pub(crate) fn tag(&self, id: &[u8], timestamp: &[u8], body: &[u8]) -> [u8; 32] {
        let mut mac = self.keyed.clone();
        mac.update(id);
        mac.update(b".");
        mac.update(timestamp);
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().into()
    }
}
