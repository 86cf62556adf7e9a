//! `WebhookEvent::parse` on hostile input: it returns, never panics, and whatever it accepts
//! is consistent with itself.

use clerk_sync_core::event::{ClerkEvent, WebhookEvent};
use proptest::prelude::*;

const USER_CREATED: &[u8] = include_bytes!("fixtures/events/user_created.json");

/// Properties every successfully parsed event must have.
fn check_consistent(event: &WebhookEvent) {
    // raw_data is JSON text that parses to the same typed data again.
    let again = ClerkEvent::from_data(&event.event_type, event.raw_data())
        .expect("raw_data re-parses under its own type");
    assert_eq!(again, event.data);
    // timestamp() never panics and agrees with timestamp_ms for parsed events.
    let ms = event.timestamp().unix_timestamp_nanos() / 1_000_000;
    assert_eq!(ms, i128::from(event.timestamp_ms));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(event) = WebhookEvent::parse(&body) {
            check_consistent(&event);
        }
    }

    #[test]
    fn a_corrupted_real_body_never_panics(at in 0..USER_CREATED.len(), byte in any::<u8>()) {
        let mut body = USER_CREATED.to_vec();
        body[at] = byte;
        if let Ok(event) = WebhookEvent::parse(&body) {
            check_consistent(&event);
        }
    }

    #[test]
    fn any_integer_timestamp_is_normalized_or_rejected(timestamp in any::<i64>()) {
        let body = format!(
            r#"{{"type":"x.y","object":"event","timestamp":{timestamp},"data":{{}}}}"#
        );
        if let Ok(event) = WebhookEvent::parse(body.as_bytes()) {
            check_consistent(&event);
            if timestamp.unsigned_abs() < 100_000_000_000 {
                prop_assert_eq!(event.timestamp_ms, timestamp * 1000);
            } else {
                prop_assert_eq!(event.timestamp_ms, timestamp);
            }
        } else {
            // Only values beyond what a date can hold are refused (about ±9999 years).
            prop_assert!(timestamp.unsigned_abs() > 253_402_300_799_999);
        }
    }
}
