//! What the engine keeps and logs of a webhook: payloads only where replay needs them, no
//! payload value in an error or a log line, and user rows applied from the fields the table
//! needs even when unrelated fields break.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use clerk_sync_core::memory::MemoryStore;
use clerk_sync_core::store::{LedgerOutcome, LedgerStore, LocalUser, UserStore};
use clerk_sync_core::sync::{ProcessOutcome, SyncEngine};
use clerk_sync_core::webhook::{WebhookHeaders, WebhookVerifier};
use serde_json::{Value, json};
use time::OffsetDateTime;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const MARKER: &str = "MARKER-7f3a9c-do-not-log";

fn engine() -> SyncEngine<MemoryStore> {
    SyncEngine::new(
        MemoryStore::new(),
        WebhookVerifier::new(SECRET).expect("secret"),
    )
}

/// Sign and deliver `body` as delivery `svix_id`.
async fn deliver(engine: &SyncEngine<MemoryStore>, svix_id: &str, body: &str) -> ProcessOutcome {
    let verifier = WebhookVerifier::new(SECRET).expect("secret");
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let signature = verifier.sign(svix_id, now, body.as_bytes());
    let timestamp = now.to_string();
    let headers = WebhookHeaders {
        id: svix_id,
        timestamp: &timestamp,
        signature: &signature,
    };
    engine
        .process_webhook(&headers, body.as_bytes())
        .await
        .expect("a verified delivery is acknowledged")
}

fn envelope(event_type: &str, data: Value) -> String {
    json!({ "type": event_type, "object": "event", "timestamp": 1_772_366_400, "data": data })
        .to_string()
}

/// A user object in the shape Clerk documents.
fn user_data() -> Value {
    json!({
        "id": "user_2Lenient", "object": "user",
        "created_at": 1_772_366_000_000_i64, "updated_at": 1_772_366_400_000_i64,
        "primary_email_address_id": "idn_2",
        "email_addresses": [
            {"id": "idn_1", "email_address": "old@example.com", "reserved": false,
             "verification": {"status": "verified", "strategy": "email_code", "attempts": 1}},
            {"id": "idn_2", "email_address": "ann@example.com", "reserved": false,
             "linked_to": [], "verification": {"status": "verified", "strategy": "email_code"}}
        ],
        "phone_numbers": [], "external_accounts": [], "banned": false, "locked": false,
        "first_name": "Ann", "last_name": "Lee", "username": "ann", "image_url": "https://img/ann",
        "external_id": "ext-1", "public_metadata": {"plan": "pro"},
        "last_sign_in_at": 1_772_366_300_000_i64, "organization_memberships": [],
        "two_factor_enabled": false
    })
}

/// The row fields that the user's data decides (not the local id, times or raw JSON).
fn applied_fields(user: &LocalUser) -> Value {
    json!({
        "clerk_id": user.clerk_id, "email": user.email, "first_name": user.first_name,
        "last_name": user.last_name, "username": user.username, "image_url": user.image_url,
        "external_id": user.external_id, "public_metadata": user.public_metadata,
        "clerk_updated_at": user.clerk_updated_at, "sync_status": user.sync_status,
        "deleted_at": user.deleted_at,
    })
}

async fn applied_row(data: Value) -> (ProcessOutcome, Option<LocalUser>) {
    let engine = engine();
    let outcome = deliver(&engine, "msg_1", &envelope("user.updated", data)).await;
    let row = engine
        .store()
        .get_user("user_2Lenient")
        .await
        .expect("get_user");
    (outcome, row)
}

#[tokio::test]
async fn broken_unrelated_fields_change_nothing_about_the_applied_row() {
    let (outcome, row) = applied_row(user_data()).await;
    assert_eq!(outcome, ProcessOutcome::Applied);
    let expected = applied_fields(&row.expect("the well-formed user is stored"));
    assert_eq!(expected["email"], "ann@example.com", "the primary, not [0]");

    type Breakage = (&'static str, fn(&mut Value));
    let breakages: [Breakage; 9] = [
        ("a string where a bool was", |u| u["banned"] = json!("yes")),
        ("an object where a list was", |u| {
            u["phone_numbers"] = json!({"n": 1})
        }),
        ("a list where a number was", |u| {
            u["last_sign_in_at"] = json!([1])
        }),
        ("a new shape in a list", |u| {
            u["external_accounts"] = json!([{"provider": 5}])
        }),
        ("a broken membership list", |u| {
            u["organization_memberships"] = json!("none")
        }),
        ("a string where a bool was, in the primary email", |u| {
            u["email_addresses"][1]["reserved"] = json!("no")
        }),
        ("a broken field of the primary email's verification", |u| {
            u["email_addresses"][1]["verification"]["attempts"] = json!("many")
        }),
        ("an object where a list was, in an email", |u| {
            u["email_addresses"][1]["linked_to"] = json!({"id": "x"})
        }),
        ("a broken secondary email", |u| {
            u["email_addresses"][0] = json!("not an object")
        }),
    ];
    for (what, break_it) in breakages {
        let mut data = user_data();
        break_it(&mut data);
        let (outcome, row) = applied_row(data).await;
        assert_eq!(outcome, ProcessOutcome::Applied, "{what}");
        let row = row.unwrap_or_else(|| panic!("{what}: the user is stored"));
        assert_eq!(applied_fields(&row), expected, "{what}");
    }
}

#[tokio::test]
async fn only_a_missing_id_or_version_makes_a_user_event_a_recorded_failure() {
    for (what, field, value) in [
        ("no id", "id", None),
        ("no updated_at", "updated_at", None),
        ("a mistyped updated_at", "updated_at", Some(json!("soon"))),
        ("a mistyped id", "id", Some(json!(42))),
    ] {
        let mut data = user_data();
        match value {
            Some(value) => data[field] = value,
            None => {
                data.as_object_mut().expect("object").remove(field);
            }
        }
        let engine = engine();
        let outcome = deliver(&engine, "msg_x", &envelope("user.updated", data)).await;
        assert_eq!(outcome, ProcessOutcome::Ignored, "{what}: acknowledged");
        let entry = engine
            .store()
            .ledger_get("msg_x")
            .await
            .expect("ledger_get")
            .expect("recorded");
        assert_eq!(entry.outcome, Some(LedgerOutcome::Failed), "{what}");
        assert!(
            engine
                .store()
                .get_user("user_2Lenient")
                .await
                .expect("get_user")
                .is_none(),
            "{what}: nothing applied"
        );
    }
}

#[tokio::test]
async fn the_ledger_keeps_payloads_of_user_events_only() {
    let engine = engine();
    let deliveries = [
        ("msg_user", "user.created", user_data()),
        (
            "msg_email",
            "email.created",
            json!({"id": "ema_1", "object": "email", "body": "Your code is 123456",
                   "data": {"otp_code": "123456"}, "to_email_address": "ann@example.com"}),
        ),
        (
            "msg_sms",
            "sms.created",
            json!({"id": "sms_1", "object": "sms_message", "message": "Code 654321",
                   "to_phone_number": "+15555550100"}),
        ),
        (
            "msg_session",
            "session.created",
            json!({"id": "sess_1", "object": "session", "user_id": "user_2Lenient",
                   "client_id": "client_1", "status": "active"}),
        ),
    ];
    for (id, event_type, data) in deliveries {
        deliver(&engine, id, &envelope(event_type, data)).await;
    }
    for (id, kept) in [
        ("msg_user", true),
        ("msg_email", false),
        ("msg_sms", false),
        ("msg_session", false),
    ] {
        let entry = engine
            .store()
            .ledger_get(id)
            .await
            .expect("ledger_get")
            .expect("every delivery is ledgered");
        assert_eq!(entry.payload.is_some(), kept, "{id}: payload kept?");
        assert!(entry.outcome.is_some(), "{id} processed");
    }
}

/// Every event any thread sends, with its fields as text.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<String>>>);

impl tracing::Subscriber for Captured {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut text = Text(String::new());
        span.record(&mut text);
        self.push(text.0);
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        let mut text = Text(String::new());
        values.record(&mut text);
        self.push(text.0);
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut text = Text(event.metadata().target().to_owned());
        event.record(&mut text);
        self.push(text.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

impl Captured {
    fn push(&self, line: String) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(line);
    }

    fn lines(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

struct Text(String);

impl tracing::field::Visit for Text {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

#[test]
fn a_marker_in_a_malformed_field_reaches_no_ledger_column_but_the_payload_and_no_log_line() {
    let captured = Captured::default();
    let _guard = tracing::subscriber::set_default(captured.clone());
    // A current-thread runtime: every event of the deliveries is sent on this thread, where
    // the capture is the default subscriber.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let engine = engine();
        // serde_json would quote each of these values in its error message.
        let mut bad_version = user_data();
        bad_version["updated_at"] = json!(MARKER);
        let mut bad_email = json!({"id": "ema_1", "object": "email"});
        bad_email["delivered_by_clerk"] = json!(MARKER);
        let deliveries = [
            ("msg_user", envelope("user.updated", bad_version)),
            ("msg_email", envelope("email.created", bad_email)),
            (
                "msg_envelope",
                json!({"type": "user.updated", "timestamp": MARKER, "data": {}}).to_string(),
            ),
        ];
        for (id, body) in &deliveries {
            deliver(&engine, id, body).await;
        }
        // A positive control: the capture does see the engine's log lines.
        assert!(
            captured.lines().iter().any(|l| l.contains("msg_user")),
            "the engine logged the failed delivery: {:?}",
            captured.lines()
        );
        for (id, _) in &deliveries {
            let entry = engine
                .store()
                .ledger_get(id)
                .await
                .expect("ledger_get")
                .expect("recorded");
            assert_eq!(entry.outcome, Some(LedgerOutcome::Failed), "{id}");
            let columns = [
                Some(entry.svix_id.as_str()),
                Some(entry.event_type.as_str()),
                entry.object_id.as_deref(),
                entry.error.as_deref(),
            ];
            for column in columns.into_iter().flatten() {
                assert!(
                    !column.contains(MARKER),
                    "{id}: the marker reached a ledger column: {column}"
                );
            }
            if *id != "msg_user" {
                assert_eq!(entry.payload, None, "{id}: no payload kept");
            }
        }
    });
    for line in captured.lines() {
        assert!(
            !line.contains(MARKER),
            "the marker reached a log line: {line}"
        );
    }
}
