//! The webhook envelope: timestamps, errors, unknown types and the type-to-variant table.

use clerk_sync_core::event::{ClerkEvent, EventError, JsonShapeError, WebhookEvent};
use time::macros::datetime;

fn body(event_type: &str, timestamp: &str, data: &str) -> Vec<u8> {
    format!(r#"{{"type":"{event_type}","object":"event","timestamp":{timestamp},"data":{data}}}"#)
        .into_bytes()
}

const USER: &str = r#"{"id":"user_1","created_at":1654012591514,"updated_at":1654012591835}"#;

#[test]
fn timestamps_in_seconds_are_normalized_to_milliseconds() {
    let seconds = WebhookEvent::parse(&body("user.created", "1654012591", USER)).unwrap();
    assert_eq!(seconds.timestamp_ms, 1_654_012_591_000);
    assert_eq!(seconds.timestamp(), datetime!(2022-05-31 15:56:31 UTC));

    let millis = WebhookEvent::parse(&body("user.created", "1654012591835", USER)).unwrap();
    assert_eq!(millis.timestamp_ms, 1_654_012_591_835);
    assert_eq!(millis.timestamp(), datetime!(2022-05-31 15:56:31.835 UTC));
}

#[test]
fn the_seconds_threshold_is_ten_to_the_eleventh() {
    let below = WebhookEvent::parse(&body("user.created", "99999999999", USER)).unwrap();
    assert_eq!(below.timestamp_ms, 99_999_999_999_000);
    let at = WebhookEvent::parse(&body("user.created", "100000000000", USER)).unwrap();
    assert_eq!(at.timestamp_ms, 100_000_000_000);
}

#[test]
fn fractional_seconds_keep_their_milliseconds() {
    let event = WebhookEvent::parse(&body("user.created", "1654012591.835", USER)).unwrap();
    assert_eq!(event.timestamp_ms, 1_654_012_591_835);
}

#[test]
fn out_of_range_timestamps_are_errors_not_panics() {
    for timestamp in [
        "9223372036854775807",
        "-9223372036854775808",
        "18446744073709551615",
        "1e300",
        "-1e300",
    ] {
        let result = WebhookEvent::parse(&body("user.created", timestamp, USER));
        assert!(
            matches!(result, Err(EventError::InvalidTimestamp)),
            "{timestamp}: {result:?}"
        );
    }
    for timestamp in ["\"1654012591\"", "true", "{}"] {
        let result = WebhookEvent::parse(&body("user.created", timestamp, USER));
        assert!(
            matches!(result, Err(EventError::Malformed(_))),
            "{timestamp}: {result:?}"
        );
    }
}

#[test]
fn malformed_json_is_an_error_with_a_shape_source_that_quotes_nothing() {
    for text in [
        &b""[..],
        b"{",
        b"null",
        b"[]",
        b"\"user.created\"",
        b"{\"type\":\"user.created\",}",
        b"{\"type\": 1, \"timestamp\": 1, \"data\": {}}",
        b"{\"type\":\"user.created\",\"timestamp\":1,\"data\":{}} trailing",
    ] {
        match WebhookEvent::parse(text) {
            Err(error @ EventError::Malformed(_)) => {
                let source = std::error::Error::source(&error).expect("a source");
                let shape = source
                    .downcast_ref::<JsonShapeError>()
                    .expect("the source is a JsonShapeError");
                assert!(shape.line() >= 1, "{shape}");
                assert!(
                    !shape.to_string().contains("user.created"),
                    "the source names no input value: {shape}"
                );
            }
            other => panic!(
                "{:?}: expected Malformed, got {other:?}",
                String::from_utf8_lossy(text)
            ),
        }
    }
}

#[test]
fn a_truncated_real_body_is_malformed() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/events/user_created.json"
    );
    let full = std::fs::read(path).unwrap();
    for cut in [1, full.len() / 3, full.len() / 2, full.len() - 2] {
        assert!(
            matches!(
                WebhookEvent::parse(&full[..cut]),
                Err(EventError::Malformed(_))
            ),
            "cut at {cut}"
        );
    }
}

#[test]
fn a_non_utf8_body_is_an_error() {
    let mut text = body("user.created", "1654012591835", USER);
    let at = text.iter().position(|&b| b == b'1').unwrap();
    text[at] = 0xff;
    assert!(matches!(
        WebhookEvent::parse(&text),
        Err(EventError::NotUtf8(_))
    ));

    // Inside a string value, where a lax parser might let it through.
    let text = b"{\"type\":\"user.cr\xc3\x28ated\",\"timestamp\":1,\"data\":{}}";
    assert!(matches!(
        WebhookEvent::parse(text),
        Err(EventError::NotUtf8(_))
    ));
}

#[test]
fn missing_envelope_fields_are_named() {
    let cases: [(&[u8], &str); 5] = [
        (br#"{"object":"event","timestamp":1,"data":{}}"#, "type"),
        (br#"{"type":"user.created","timestamp":1}"#, "data"),
        (
            br#"{"type":"user.created","timestamp":1,"data":null}"#,
            "data",
        ),
        (br#"{"type":"user.created","data":{}}"#, "timestamp"),
        (br#"{"type":null,"timestamp":1,"data":{}}"#, "type"),
    ];
    for (text, field) in cases {
        match WebhookEvent::parse(text) {
            Err(EventError::MissingField { field: missing }) => assert_eq!(missing, field),
            other => panic!("{field}: expected MissingField, got {other:?}"),
        }
    }
    let error = WebhookEvent::parse(br#"{"type":"user.created","data":{}}"#).unwrap_err();
    assert_eq!(
        error.to_string(),
        "webhook envelope has no `timestamp` field"
    );
}

#[test]
fn a_duplicated_envelope_key_is_rejected() {
    // Two `type`s could make a verifier and a parser disagree about what an event is.
    let text =
        br#"{"type":"user.created","type":"user.deleted","timestamp":1,"data":{"id":"user_1"}}"#;
    assert!(matches!(
        WebhookEvent::parse(text),
        Err(EventError::Malformed(_))
    ));
}

#[test]
fn known_type_with_wrong_data_names_the_type() {
    let error = WebhookEvent::parse(&body("session.created", "1", r#"{"id": 42}"#)).unwrap_err();
    match &error {
        EventError::InvalidData { event_type, .. } => assert_eq!(event_type, "session.created"),
        other => panic!("expected InvalidData, got {other:?}"),
    }
    assert!(error.to_string().contains("session.created"));
    assert!(std::error::Error::source(&error).is_some());

    let error = WebhookEvent::parse(&body("user.deleted", "1", "[]")).unwrap_err();
    assert!(matches!(error, EventError::InvalidData { .. }), "{error:?}");
}

#[test]
fn an_unknown_type_keeps_its_data() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/events/unknown_type.json"
    );
    let event = WebhookEvent::parse(&std::fs::read(path).unwrap()).unwrap();
    assert_eq!(event.event_type, "apiKey.created");
    assert_eq!(event.data.event_type(), "apiKey.created");
    assert_eq!(event.object_id(), Some("ak_2ApiKey00000000000000000001"));
    let ClerkEvent::Unknown { event_type, data } = &event.data else {
        panic!("expected Unknown, got {:?}", event.data);
    };
    assert_eq!(event_type, "apiKey.created");
    assert_eq!(data["name"], "ci deploy key");
    assert_eq!(data["scopes"][0], "deploy");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(event.raw_data()).unwrap(),
        *data
    );

    // Unknown data need not be an object, and need not have an id.
    let event = WebhookEvent::parse(&body("future.thing", "1", "[1,2]")).unwrap();
    assert_eq!(event.object_id(), None);
    assert!(matches!(&event.data, ClerkEvent::Unknown { data, .. } if data[1] == 2));
}

#[test]
fn every_known_type_parses_to_its_own_variant() {
    // The smallest data every type's payload accepts: an id, timestamps and an object kind.
    let data = r#"{"id":"obj_1","object":"x","created_at":1,"updated_at":2,"deleted":true}"#;
    for &event_type in ClerkEvent::KNOWN_TYPES {
        let event = WebhookEvent::parse(&body(event_type, "1654012591835", data))
            .unwrap_or_else(|e| panic!("{event_type}: {e:?}"));
        assert!(
            !matches!(event.data, ClerkEvent::Unknown { .. }),
            "{event_type} parsed as Unknown"
        );
        assert_eq!(event.data.event_type(), event_type);
        assert_eq!(event.data.object_id(), Some("obj_1"), "{event_type}");
    }
    // Case matters on the wire: this is not `user.created`.
    let event = WebhookEvent::parse(&body("User.Created", "1", USER)).unwrap();
    assert!(matches!(event.data, ClerkEvent::Unknown { .. }));
}

#[test]
fn the_issue_s_type_list_is_covered() {
    for event_type in [
        "user.created",
        "user.updated",
        "user.deleted",
        "session.created",
        "session.ended",
        "session.removed",
        "session.revoked",
        "session.pending",
        "email.created",
        "sms.created",
        "organization.created",
        "organization.updated",
        "organization.deleted",
        "organizationDomain.created",
        "organizationDomain.updated",
        "organizationDomain.deleted",
        "organizationInvitation.created",
        "organizationInvitation.accepted",
        "organizationInvitation.revoked",
        "organizationMembership.created",
        "organizationMembership.updated",
        "organizationMembership.deleted",
        "role.created",
        "role.updated",
        "role.deleted",
        "permission.created",
        "permission.updated",
        "permission.deleted",
        "invitation.created",
        "invitation.accepted",
        "invitation.revoked",
        "waitlistEntry.created",
        "waitlistEntry.updated",
        "subscription.created",
        "subscription.updated",
        "subscription.active",
        "subscription.pastDue",
        "subscriptionItem.created",
        "subscriptionItem.updated",
        "subscriptionItem.active",
        "subscriptionItem.canceled",
        "subscriptionItem.upcoming",
        "subscriptionItem.ended",
        "subscriptionItem.abandoned",
        "subscriptionItem.incomplete",
        "subscriptionItem.pastDue",
        "subscriptionItem.freeTrialEnding",
        "paymentAttempt.created",
        "paymentAttempt.updated",
    ] {
        assert!(
            ClerkEvent::KNOWN_TYPES.contains(&event_type),
            "{event_type}"
        );
    }
}

#[test]
fn legacy_past_due_names_parse_to_the_same_variant() {
    let data = r#"{"id":"csub_1"}"#;
    let legacy = WebhookEvent::parse(&body("subscription.past_due", "1", data)).unwrap();
    let current = WebhookEvent::parse(&body("subscription.pastDue", "1", data)).unwrap();
    assert!(matches!(legacy.data, ClerkEvent::SubscriptionPastDue(_)));
    assert_eq!(legacy.data, current.data);
    // The envelope keeps the wire name as sent.
    assert_eq!(legacy.event_type, "subscription.past_due");
    assert_eq!(legacy.data.event_type(), "subscription.pastDue");
}

#[test]
fn missing_object_and_optional_envelope_fields_are_tolerated() {
    let event = WebhookEvent::parse(
        br#"{"type":"user.created","timestamp":1654012591835,
            "data":{"id":"user_1","created_at":1,"updated_at":2},
            "event_attributes":{"http_request":null},"some_future_field":[1]}"#,
    )
    .unwrap();
    assert_eq!(event.object, "event");
    assert_eq!(event.instance_id, None);
    assert_eq!(event.event_attributes.unwrap().http_request, None);
}

#[test]
fn from_data_reparses_a_stored_pair() {
    let event = WebhookEvent::parse(&body("user.updated", "1654012591835", USER)).unwrap();
    let again = ClerkEvent::from_data(&event.event_type, event.raw_data()).unwrap();
    assert_eq!(again, event.data);
    let clone = event.clone();
    assert_eq!(clone, event);
}
