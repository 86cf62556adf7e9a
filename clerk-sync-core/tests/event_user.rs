//! User events parsed from Clerk's payload shapes (fixtures under `fixtures/events/`).

use clerk_sync_core::event::{
    ClerkEvent, EventError, VerificationStatus, VerificationStrategy, WebhookEvent,
};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/events/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

fn parse(name: &str) -> WebhookEvent {
    WebhookEvent::parse(&fixture(name)).unwrap_or_else(|e| panic!("parsing {name}: {e:?}"))
}

#[test]
fn documented_user_created_example() {
    let event = parse("user_created.json");
    assert_eq!(event.event_type, "user.created");
    assert_eq!(event.object, "event");
    assert_eq!(event.timestamp_ms, 1_654_012_591_835);
    assert_eq!(event.instance_id.as_deref(), Some("ins_123"));
    let request = event
        .event_attributes
        .as_ref()
        .and_then(|a| a.http_request.as_ref())
        .expect("http_request");
    assert_eq!(request.client_ip.as_deref(), Some("0.0.0.0"));
    assert!(
        request
            .user_agent
            .as_deref()
            .unwrap()
            .starts_with("Mozilla/5.0")
    );

    assert_eq!(event.data.event_type(), "user.created");
    assert_eq!(event.object_id(), Some("user_29w83sxmDNGwOuEthce5gg56FcC"));
    let ClerkEvent::UserCreated(user) = &event.data else {
        panic!("expected UserCreated, got {:?}", event.data);
    };
    assert_eq!(user.id, "user_29w83sxmDNGwOuEthce5gg56FcC");
    assert_eq!(user.created_at, 1_654_012_591_514);
    assert_eq!(user.updated_at, 1_654_012_591_835);
    assert_eq!(user.first_name.as_deref(), Some("Example"));
    assert_eq!(user.last_name.as_deref(), Some("Example"));
    assert_eq!(user.username, None);
    assert_eq!(user.external_id.as_deref(), Some("567772"));
    assert_eq!(
        user.image_url.as_deref(),
        Some("https://img.clerk.com/xxxxxx")
    );
    assert_eq!(user.last_sign_in_at, Some(1_654_012_591_514));
    assert!(user.password_enabled);
    assert!(!user.two_factor_enabled);
    assert_eq!(user.public_metadata, serde_json::json!({}));
    // Legacy fields are tolerated and kept.
    assert_eq!(user.birthday.as_deref(), Some(""));
    assert_eq!(user.gender.as_deref(), Some(""));
    assert_eq!(
        user.profile_image_url.as_deref(),
        Some("https://www.gravatar.com/avatar?d=mp")
    );

    let email = user.primary_email().expect("primary email");
    assert_eq!(email.id, "idn_29w83yL7CwVlJXylYLxcslromF1");
    assert_eq!(email.email_address, "example@example.org");
    assert!(email.is_verified());
    let verification = email.verification.as_ref().unwrap();
    assert_eq!(verification.status, VerificationStatus::Verified);
    assert_eq!(verification.strategy, Some(VerificationStrategy::Ticket));
}

#[test]
fn raw_data_is_the_data_object_byte_for_byte() {
    let body = fixture("user_created.json");
    let event = WebhookEvent::parse(&body).unwrap();
    let text = std::str::from_utf8(&body).unwrap();
    let start = text.find("\"data\": ").unwrap() + "\"data\": ".len();
    let end = text.find("\n  },\n  \"event_attributes\"").unwrap() + "\n  }".len();
    assert_eq!(event.raw_data(), &text[start..end]);
}

#[test]
fn user_deleted_keeps_external_id() {
    let event = parse("user_deleted.json");
    let ClerkEvent::UserDeleted(deleted) = &event.data else {
        panic!("expected UserDeleted, got {:?}", event.data);
    };
    assert_eq!(
        deleted.id.as_deref(),
        Some("user_29w83sxmDNGwOuEthce5gg56FcC")
    );
    assert_eq!(deleted.object.as_deref(), Some("user"));
    assert!(deleted.deleted);
    assert_eq!(deleted.external_id.as_deref(), Some("567772"));
    assert_eq!(event.object_id(), Some("user_29w83sxmDNGwOuEthce5gg56FcC"));
}

#[test]
fn a_user_without_updated_at_is_rejected_naming_the_type() {
    let body = br#"{"type":"user.updated","object":"event","timestamp":1654012591835,
        "data":{"id":"user_1","created_at":1}}"#;
    match WebhookEvent::parse(body) {
        Err(EventError::InvalidData { event_type, .. }) => assert_eq!(event_type, "user.updated"),
        other => panic!("expected InvalidData, got {other:?}"),
    }
}
