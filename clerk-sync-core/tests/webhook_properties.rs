//! Webhook verification properties: signing round-trips, and any single-bit change fails.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clerk_sync_core::webhook::{WebhookError, WebhookHeaders, WebhookVerifier};
use proptest::prelude::*;

/// A signed delivery: everything a verifier needs, plus the time it was signed.
#[derive(Debug, Clone)]
struct Delivery {
    key: Vec<u8>,
    id: String,
    timestamp: i64,
    body: Vec<u8>,
}

impl Delivery {
    fn verifier(&self) -> WebhookVerifier {
        WebhookVerifier::new(&format!("whsec_{}", STANDARD.encode(&self.key))).unwrap()
    }
}

fn delivery() -> impl Strategy<Value = Delivery> {
    (
        proptest::collection::vec(any::<u8>(), 1..80),
        // Any printable text, including multi-byte characters, plus empty ids.
        "\\PC{0,40}",
        0..=i64::MAX,
        proptest::collection::vec(any::<u8>(), 0..1024),
    )
        .prop_map(|(key, id, timestamp, body)| Delivery {
            key,
            id,
            timestamp,
            body,
        })
}

/// Flips one bit. A header that stops being UTF-8 cannot reach the verifier as `&str`, so it is
/// passed the way an HTTP stack would hand over a lossy copy: still a changed value.
fn flip(bytes: &[u8], bit: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[bit / 8] ^= 1 << (bit % 8);
    out
}

fn flip_str(text: &str, bit: usize) -> String {
    String::from_utf8_lossy(&flip(text.as_bytes(), bit)).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn sign_then_verify_passes(d in delivery()) {
        let v = d.verifier();
        let signature = v.sign(&d.id, d.timestamp, &d.body);
        let ts = d.timestamp.to_string();
        let headers = WebhookHeaders { id: &d.id, timestamp: &ts, signature: &signature };
        prop_assert_eq!(v.verify_at(&headers, &d.body, d.timestamp), Ok(()));
    }

    #[test]
    fn sign_then_verify_passes_under_rotation(
        d in delivery(),
        others in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..40), 0..6),
        position in any::<prop::sample::Index>(),
    ) {
        let signer = d.verifier();
        let signature = signer.sign(&d.id, d.timestamp, &d.body);
        let mut secrets: Vec<String> = others.iter().map(|k| STANDARD.encode(k)).collect();
        secrets.insert(position.index(secrets.len() + 1), STANDARD.encode(&d.key));
        let v = WebhookVerifier::from_secrets(secrets.iter().map(String::as_str)).unwrap();
        let ts = d.timestamp.to_string();
        let headers = WebhookHeaders { id: &d.id, timestamp: &ts, signature: &signature };
        prop_assert_eq!(v.verify_at(&headers, &d.body, d.timestamp), Ok(()));
    }

    #[test]
    fn valid_entry_among_junk_passes(
        d in delivery(),
        junk in proptest::collection::vec("[ -~]{0,60}", 0..6),
        position in any::<prop::sample::Index>(),
    ) {
        let v = d.verifier();
        let signature = v.sign(&d.id, d.timestamp, &d.body);
        let mut entries = junk;
        entries.insert(position.index(entries.len() + 1), signature);
        let header = entries.join(" ");
        let ts = d.timestamp.to_string();
        let headers = WebhookHeaders { id: &d.id, timestamp: &ts, signature: &header };
        prop_assert_eq!(v.verify_at(&headers, &d.body, d.timestamp), Ok(()));
    }

    #[test]
    fn any_single_bit_flip_fails(d in delivery(), field in 0usize..4, bit in any::<prop::sample::Index>()) {
        let v = d.verifier();
        let signature = v.sign(&d.id, d.timestamp, &d.body);
        let ts = d.timestamp.to_string();
        let (mut id, mut timestamp, mut sig, mut body) =
            (d.id.clone(), ts.clone(), signature.clone(), d.body.clone());
        match field {
            0 => {
                prop_assume!(!body.is_empty());
                body = flip(&body, bit.index(body.len() * 8));
            }
            1 => {
                prop_assume!(!id.is_empty());
                id = flip_str(&id, bit.index(id.len() * 8));
            }
            2 => timestamp = flip_str(&ts, bit.index(ts.len() * 8)),
            _ => sig = flip_str(&signature, bit.index(signature.len() * 8)),
        }
        // A lossy replacement could in principle rebuild the original text; that is no change.
        prop_assume!((&id, &timestamp, &sig, &body) != (&d.id, &ts, &signature, &d.body));
        let headers = WebhookHeaders { id: &id, timestamp: &timestamp, signature: &sig };
        prop_assert!(v.verify_at(&headers, &body, d.timestamp).is_err());
    }

    #[test]
    fn non_digit_timestamps_are_invalid(ts in "\\PC*", now in any::<i64>()) {
        prop_assume!(ts.is_empty() || !ts.bytes().all(|b| b.is_ascii_digit()));
        let v = WebhookVerifier::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let headers = WebhookHeaders { id: "msg", timestamp: &ts, signature: "v1,x" };
        prop_assert_eq!(v.verify_at(&headers, b"[]", now), Err(WebhookError::InvalidTimestamp));
    }

    #[test]
    fn hostile_inputs_never_panic(
        ts in "[0-9+ .-]{0,25}",
        signature in "[ -~]{0,200}",
        now in any::<i64>(),
        tolerance in any::<u64>(),
    ) {
        let v = WebhookVerifier::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap()
            .with_tolerance(std::time::Duration::from_secs(tolerance));
        let headers = WebhookHeaders { id: "msg", timestamp: &ts, signature: &signature };
        // Random text is never a valid signature for this body.
        prop_assert!(v.verify_at(&headers, b"[]", now).is_err());
    }
}
