//! User events parsed from Clerk's payload shapes (fixtures under `fixtures/events/`).

use clerk_sync_core::event::{
    ClerkEvent, EmailAddress, EventError, User, Verification, VerificationStatus,
    VerificationStrategy, WebhookEvent,
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
fn user_updated_finds_the_primary_email_by_id_not_position() {
    let event = parse("user_updated.json");
    let ClerkEvent::UserUpdated(user) = &event.data else {
        panic!("expected UserUpdated, got {:?}", event.data);
    };
    assert_eq!(user.updated_at, 1_654_012_824_306);
    assert_eq!(user.email_addresses.len(), 3);
    // The first entry is a verified address that is no longer primary.
    assert_eq!(user.email_addresses[0].email_address, "example@example.org");
    let primary = user.primary_email().expect("primary email");
    assert_eq!(primary.id, "idn_2NewPrimaryAddress000000001");
    assert_eq!(primary.email_address, "new.primary@example.com");
    assert!(primary.is_verified());
    assert_eq!(primary.linked_to.len(), 1);
    assert_eq!(primary.linked_to[0].link_type, "oauth_google");

    assert_eq!(user.username.as_deref(), Some("example"));
    assert_eq!(user.last_name.as_deref(), Some("Renamed"));
    assert_eq!(user.locale.as_deref(), Some("en-GB"));
    assert!(user.two_factor_enabled);
    assert!(user.has_image);
    // `null` for a list Clerk documents as an array is read as empty, not an error.
    assert!(user.organization_memberships.is_empty());
    assert_eq!(user.public_metadata["plan"], "pro");
    assert_eq!(user.private_metadata["stripe_customer"], "cus_123");
    // Legacy fields absent from newer payloads are simply `None`.
    assert_eq!(user.birthday, None);

    let phone = user.primary_phone_number().expect("primary phone");
    assert_eq!(phone.phone_number, "+15555550100");
    assert!(phone.is_verified());
    assert!(phone.reserved_for_second_factor);

    let google = &user.external_accounts[0];
    assert_eq!(google.provider, "oauth_google");
    assert_eq!(
        google.provider_user_id.as_deref(),
        Some("113456789012345678901")
    );
    let strategy = google
        .verification
        .as_ref()
        .unwrap()
        .strategy
        .as_ref()
        .unwrap();
    assert_eq!(strategy.oauth_provider(), Some("google"));
}

#[test]
fn unknown_verification_strings_are_kept_as_other() {
    let event = parse("user_updated.json");
    let ClerkEvent::UserUpdated(user) = &event.data else {
        panic!("expected UserUpdated, got {:?}", event.data);
    };
    let pending = &user.email_addresses[2];
    let verification = pending.verification.as_ref().unwrap();
    assert_eq!(
        verification.status,
        VerificationStatus::Other("awaiting_carrier_pigeon".into())
    );
    assert_eq!(
        verification.strategy,
        Some(VerificationStrategy::Other("email_quantum_link".into()))
    );
    assert_eq!(verification.attempts, Some(1));
    assert_eq!(verification.expire_at, Some(1_654_013_410_000));
    assert!(!pending.is_verified());

    // The wire text survives a round trip, known or not.
    let json = serde_json::to_value(verification).unwrap();
    assert_eq!(json["status"], "awaiting_carrier_pigeon");
    assert_eq!(json["strategy"], "email_quantum_link");
    let known = serde_json::to_value(&user.email_addresses[0].verification).unwrap();
    assert_eq!(known["status"], "verified");
    assert_eq!(known["strategy"], "ticket");
}

#[test]
fn enum_strings_from_an_owned_json_value_take_the_same_path() {
    let known: VerificationStatus = serde_json::from_value(serde_json::json!("verified")).unwrap();
    assert_eq!(known, VerificationStatus::Verified);
    let other: VerificationStatus = serde_json::from_value(serde_json::json!("new")).unwrap();
    assert_eq!(other, VerificationStatus::Other("new".into()));
    assert!(serde_json::from_value::<VerificationStatus>(serde_json::json!(1)).is_err());
}

#[test]
fn escaped_enum_strings_are_still_recognized() {
    let body = br#"{"type":"user.updated","object":"event","timestamp":1654012591835,
        "data":{"id":"user_1","created_at":1,"updated_at":2,"primary_email_address_id":"idn_1",
        "email_addresses":[{"id":"idn_1","email_address":"a@example.org",
        "verification":{"status":"verif\u0069ed","strategy":"\u0074icket"}}]}}"#;
    let event = WebhookEvent::parse(body).unwrap();
    let ClerkEvent::UserUpdated(user) = &event.data else {
        panic!("expected UserUpdated, got {:?}", event.data);
    };
    assert!(user.primary_email().unwrap().is_verified());
    let verification = user.email_addresses[0].verification.as_ref().unwrap();
    assert_eq!(verification.strategy, Some(VerificationStrategy::Ticket));
}

#[test]
fn primary_email_is_none_when_the_id_matches_no_entry() {
    let body = br#"{"type":"user.updated","object":"event","timestamp":1654012591835,
        "data":{"id":"user_1","created_at":1,"updated_at":2,"primary_email_address_id":"idn_gone",
        "email_addresses":[{"id":"idn_1","email_address":"a@example.org","verification":null}]}}"#;
    let event = WebhookEvent::parse(body).unwrap();
    let ClerkEvent::UserUpdated(user) = &event.data else {
        panic!("expected UserUpdated, got {:?}", event.data);
    };
    assert_eq!(user.primary_email(), None);
    assert!(!user.email_addresses[0].is_verified());
}

#[test]
fn a_user_can_be_built_outside_the_crate() {
    let mut user = User::default();
    user.id = "user_1".into();
    user.updated_at = 2;
    let mut email = EmailAddress::new("idn_2", "b@example.org");
    email.verification = Some(Verification::new(
        VerificationStatus::Verified,
        Some(VerificationStrategy::EmailCode),
    ));
    user.email_addresses = vec![EmailAddress::new("idn_1", "a@example.org"), email];
    user.primary_email_address_id = Some("idn_2".into());
    assert_eq!(user.primary_email().unwrap().email_address, "b@example.org");
    assert!(user.primary_email().unwrap().is_verified());

    // And it serializes to a shape that parses back to the same value.
    let json = serde_json::to_string(&user).unwrap();
    let back: User = serde_json::from_str(&json).unwrap();
    assert_eq!(back, user);
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
