//! Non-user events parsed from Clerk's payload shapes (fixtures under `fixtures/events/`).

use clerk_sync_core::event::{
    ChargeType, ClerkEvent, DomainEnrollmentMode, InvitationStatus, PaymentAttemptStatus,
    PlanPeriod, SessionStatus, SubscriptionStatus, VerificationStatus, WaitlistEntryStatus,
    WebhookEvent,
};

fn parse(name: &str) -> WebhookEvent {
    let path = format!(
        "{}/tests/fixtures/events/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let body = std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    WebhookEvent::parse(&body).unwrap_or_else(|e| panic!("parsing {name}: {e:?}"))
}

#[test]
fn session_created() {
    let event = parse("session_created.json");
    assert_eq!(event.object_id(), Some("sess_2QCJ7LsK2k6NRsmgyXBUdTbJwXn"));
    let ClerkEvent::SessionCreated(session) = &event.data else {
        panic!("expected SessionCreated, got {:?}", event.data);
    };
    assert_eq!(session.user_id, "user_29w83sxmDNGwOuEthce5gg56FcC");
    assert_eq!(
        session.client_id.as_deref(),
        Some("client_2QCJ7LmRM2ysLbLqXbrK1W7GSkb")
    );
    assert_eq!(session.status, Some(SessionStatus::Active));
    assert_eq!(session.expire_at, Some(1_655_215_391_000));
    assert_eq!(session.actor, None);
    let activity = session.latest_activity.as_ref().unwrap();
    assert_eq!(activity.browser_name.as_deref(), Some("Chrome"));
    assert_eq!(activity.country.as_deref(), Some("GR"));
    assert!(!activity.is_mobile);
    // Session webhooks embed the user.
    let user = session.user.as_ref().expect("embedded user");
    assert_eq!(user.id, session.user_id);
    assert_eq!(
        user.primary_email().map(|e| e.email_address.as_str()),
        Some("example@example.org")
    );
}

#[test]
fn organization_created() {
    let event = parse("organization_created.json");
    let ClerkEvent::OrganizationCreated(org) = &event.data else {
        panic!("expected OrganizationCreated, got {:?}", event.data);
    };
    assert_eq!(org.id, "org_29w9IfBrPmcpi0IeBVaKtA7R94W");
    assert_eq!(org.name, "Acme Inc");
    assert_eq!(org.slug.as_deref(), Some("acme-inc"));
    assert_eq!(
        org.created_by.as_deref(),
        Some("user_29w83sxmDNGwOuEthce5gg56FcC")
    );
    assert_eq!(org.max_allowed_memberships, Some(5));
    assert!(org.admin_delete_enabled);
    assert_eq!(org.updated_at, Some(1_654_013_202_977));
    // An empty client IP is a string, not an absence.
    let request = event.event_attributes.unwrap().http_request.unwrap();
    assert_eq!(request.client_ip.as_deref(), Some(""));
}

#[test]
fn organization_membership_created() {
    let event = parse("organization_membership_created.json");
    assert_eq!(event.event_type, "organizationMembership.created");
    let ClerkEvent::OrganizationMembershipCreated(membership) = &event.data else {
        panic!(
            "expected OrganizationMembershipCreated, got {:?}",
            event.data
        );
    };
    assert_eq!(membership.id, "orgmem_29w9UHCWSvDUGGqAYb0QB2BmvYl");
    assert_eq!(membership.role, "org:admin");
    assert_eq!(membership.role_name.as_deref(), Some("Admin"));
    assert_eq!(membership.permissions.len(), 6);
    assert_eq!(
        membership.user_id(),
        Some("user_29w83sxmDNGwOuEthce5gg56FcC")
    );
    assert_eq!(
        membership.organization_id(),
        Some("org_29w9IfBrPmcpi0IeBVaKtA7R94W")
    );
    let user = membership.public_user_data.as_ref().unwrap();
    assert_eq!(user.identifier.as_deref(), Some("example@example.org"));
}

#[test]
fn email_created() {
    let event = parse("email_created.json");
    let ClerkEvent::EmailCreated(email) = &event.data else {
        panic!("expected EmailCreated, got {:?}", event.data);
    };
    assert_eq!(email.id, "ema_2PHDzZTNHANZXeY9DHpA9MBNQhD");
    assert_eq!(email.slug.as_deref(), Some("verification_code"));
    assert_eq!(
        email.to_email_address.as_deref(),
        Some("example@example.org")
    );
    assert_eq!(
        email.user_id.as_deref(),
        Some("user_29w83sxmDNGwOuEthce5gg56FcC")
    );
    assert_eq!(email.status.as_deref(), Some("queued"));
    assert!(email.delivered_by_clerk);
    assert_eq!(email.data.as_ref().unwrap()["otp_code"], "123456");
}

#[test]
fn organization_invitation_accepted_names_the_user() {
    let event = parse("organization_invitation_accepted.json");
    let ClerkEvent::OrganizationInvitationAccepted(invitation) = &event.data else {
        panic!(
            "expected OrganizationInvitationAccepted, got {:?}",
            event.data
        );
    };
    assert_eq!(invitation.status, Some(InvitationStatus::Accepted));
    assert_eq!(
        invitation.user_id.as_deref(),
        Some("user_2Invitee00000000000000001")
    );
    assert_eq!(invitation.role, "org:member");
    assert_eq!(invitation.public_metadata["team"], "platform");
    let org = invitation.public_organization_data.as_ref().unwrap();
    assert_eq!(org.slug.as_deref(), Some("acme-inc"));
    // Absent from the envelope: no event attributes.
    assert_eq!(event.event_attributes, None);
}

#[test]
fn organization_domain_updated() {
    let event = parse("organization_domain_updated.json");
    let ClerkEvent::OrganizationDomainUpdated(domain) = &event.data else {
        panic!("expected OrganizationDomainUpdated, got {:?}", event.data);
    };
    assert_eq!(domain.name, "acme.example");
    assert_eq!(
        domain.enrollment_mode,
        Some(DomainEnrollmentMode::AutomaticSuggestion)
    );
    let verification = domain.verification.as_ref().unwrap();
    assert_eq!(verification.status, Some(VerificationStatus::Verified));
    assert_eq!(verification.expires_at, Some(1_654_014_200_000));
    assert_eq!(domain.total_pending_suggestions, Some(2));
}

#[test]
fn role_created_with_permissions() {
    let event = parse("role_created.json");
    let ClerkEvent::RoleCreated(role) = &event.data else {
        panic!("expected RoleCreated, got {:?}", event.data);
    };
    assert_eq!(role.key.as_deref(), Some("org:billing_manager"));
    assert_eq!(role.permissions.len(), 1);
    assert_eq!(
        role.permissions[0].key.as_deref(),
        Some("org:invoices:read")
    );
    assert_eq!(role.permissions[0].permission_type.as_deref(), Some("user"));
}

#[test]
fn waitlist_entry_updated_with_its_invitation() {
    let event = parse("waitlist_entry_updated.json");
    let ClerkEvent::WaitlistEntryUpdated(entry) = &event.data else {
        panic!("expected WaitlistEntryUpdated, got {:?}", event.data);
    };
    assert_eq!(entry.status, Some(WaitlistEntryStatus::Invited));
    let invitation = entry.invitation.as_ref().unwrap();
    assert_eq!(invitation.status, Some(InvitationStatus::Pending));
    assert_eq!(invitation.revoked, Some(false));
}

#[test]
fn subscription_active() {
    let event = parse("subscription_active.json");
    let ClerkEvent::SubscriptionActive(subscription) = &event.data else {
        panic!("expected SubscriptionActive, got {:?}", event.data);
    };
    assert_eq!(subscription.status, Some(SubscriptionStatus::Active));
    assert_eq!(subscription.active_at, Some(1_750_000_000_000));
    let payer = subscription.payer.as_ref().unwrap();
    assert_eq!(
        payer.user_id.as_deref(),
        Some("user_29w83sxmDNGwOuEthce5gg56FcC")
    );
    assert_eq!(subscription.items.len(), 1);
    assert_eq!(subscription.items[0].plan_period, Some(PlanPeriod::Annual));
}

#[test]
fn subscription_item_past_due_under_its_legacy_name() {
    let event = parse("subscription_item_past_due.json");
    assert_eq!(event.event_type, "subscriptionItem.past_due");
    let ClerkEvent::SubscriptionItemPastDue(item) = &event.data else {
        panic!("expected SubscriptionItemPastDue, got {:?}", event.data);
    };
    assert_eq!(item.status, Some(SubscriptionStatus::PastDue));
    assert_eq!(item.plan.as_ref().unwrap().slug.as_deref(), Some("pro"));
    assert_eq!(item.amount.as_ref().unwrap().amount, Some(2000));
    assert_eq!(item.next_payment_date, Some(1_755_000_000_000));
    // Untyped beta fields stay reachable in the raw data.
    let raw: serde_json::Value = serde_json::from_str(event.raw_data()).unwrap();
    assert_eq!(raw["lifetime_paid"], 4000);
    assert_eq!(raw["proration_date"], "2025-07-15");
}

#[test]
fn payment_attempt_failed() {
    let event = parse("payment_attempt_updated.json");
    let ClerkEvent::PaymentAttemptUpdated(attempt) = &event.data else {
        panic!("expected PaymentAttemptUpdated, got {:?}", event.data);
    };
    assert_eq!(attempt.status, Some(PaymentAttemptStatus::Failed));
    assert_eq!(attempt.charge_type, Some(ChargeType::Recurring));
    let reason = attempt.failed_reason.as_ref().unwrap();
    assert_eq!(reason.decline_code.as_deref(), Some("insufficient_funds"));
    let payer = attempt.payer.as_ref().unwrap();
    assert_eq!(
        payer.organization_id.as_deref(),
        Some("org_29w9IfBrPmcpi0IeBVaKtA7R94W")
    );
    let totals = attempt.totals.as_ref().unwrap();
    assert_eq!(totals.grand_total.as_ref().unwrap().amount, Some(2000));
}

#[test]
fn unknown_status_strings_do_not_fail_an_event() {
    let body = br#"{"type":"session.ended","object":"event","timestamp":1700000000000,
        "data":{"id":"sess_1","user_id":"user_1","status":"hibernating"}}"#;
    let event = WebhookEvent::parse(body).unwrap();
    let ClerkEvent::SessionEnded(session) = &event.data else {
        panic!("expected SessionEnded, got {:?}", event.data);
    };
    assert_eq!(
        session.status,
        Some(SessionStatus::Other("hibernating".into()))
    );
    assert_eq!(session.status.as_ref().unwrap().to_string(), "hibernating");
}
