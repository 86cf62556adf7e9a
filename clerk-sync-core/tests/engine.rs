//! `SyncEngine` on the in-memory store: the inbound path, hooks and local operations.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use clerk_sync_core::event::{DeletedObject, User};
use clerk_sync_core::memory::MemoryStore;
use clerk_sync_core::store::{
    LedgerOutcome, LedgerStore, OutboxOperation, OutboxStore, StoreError, SyncStatus, UserProfile,
    UserStore,
};
use clerk_sync_core::sync::{
    HookContext, HookError, ProcessOutcome, SyncEngine, SyncError, SyncHooks,
};
use clerk_sync_core::webhook::{WebhookHeaders, WebhookVerifier};
use serde_json::{Value, json};
use time::OffsetDateTime;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const T0: i64 = 1_772_366_400_000;

fn verifier() -> WebhookVerifier {
    WebhookVerifier::new(SECRET).unwrap()
}

fn engine() -> SyncEngine<MemoryStore> {
    SyncEngine::new(MemoryStore::new(), verifier())
}

/// Sign `body` now with the test secret and process it.
async fn deliver(
    engine: &SyncEngine<MemoryStore>,
    svix_id: &str,
    body: &Value,
) -> Result<ProcessOutcome, SyncError> {
    deliver_raw(engine, svix_id, body.to_string().as_bytes()).await
}

async fn deliver_raw(
    engine: &SyncEngine<MemoryStore>,
    svix_id: &str,
    body: &[u8],
) -> Result<ProcessOutcome, SyncError> {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let signature = verifier().sign(svix_id, now, body);
    let timestamp = now.to_string();
    let headers = WebhookHeaders {
        id: svix_id,
        timestamp: &timestamp,
        signature: &signature,
    };
    engine.process_webhook(&headers, body).await
}

fn envelope(event_type: &str, timestamp_ms: i64, data: Value) -> Value {
    json!({
        "type": event_type,
        "object": "event",
        "timestamp": timestamp_ms,
        "instance_id": "ins_test",
        "data": data,
    })
}

/// A user whose primary email (by id) is `email`, listed after a secondary address.
fn user(id: &str, updated_at: i64, email: &str, verified: bool) -> Value {
    let status = if verified { "verified" } else { "unverified" };
    json!({
        "id": id,
        "object": "user",
        "created_at": T0,
        "updated_at": updated_at,
        "primary_email_address_id": "idn_primary",
        "email_addresses": [
            {
                "id": "idn_secondary",
                "email_address": "not-primary@example.com",
                "verification": { "status": "verified", "strategy": "email_code" }
            },
            {
                "id": "idn_primary",
                "email_address": email,
                "verification": { "status": status, "strategy": "email_code" }
            }
        ],
        "first_name": "Ann",
        "last_name": "Lee",
        "username": "ann",
        "image_url": "https://img.clerk.com/ann.png",
        "external_id": "ext-1",
        "public_metadata": { "plan": "pro" },
    })
}

fn created(id: &str, updated_at: i64, email: &str) -> Value {
    envelope(
        "user.created",
        updated_at,
        user(id, updated_at, email, true),
    )
}

fn updated(id: &str, updated_at: i64, email: &str) -> Value {
    envelope(
        "user.updated",
        updated_at,
        user(id, updated_at, email, true),
    )
}

fn deleted(id: &str, timestamp_ms: i64) -> Value {
    envelope(
        "user.deleted",
        timestamp_ms,
        json!({ "id": id, "object": "user", "deleted": true, "external_id": "ext-gone" }),
    )
}

#[tokio::test]
async fn user_created_stores_the_user_with_its_primary_email_by_id() {
    let engine = engine();
    let body = created("user_1", T0, "ann@example.com");
    assert_eq!(
        deliver(&engine, "msg_1", &body).await.unwrap(),
        ProcessOutcome::Applied
    );
    let row = engine.store().get_user("user_1").await.unwrap().unwrap();
    assert_eq!(
        row.email.as_deref(),
        Some("ann@example.com"),
        "by id, not [0]"
    );
    assert_eq!(row.first_name.as_deref(), Some("Ann"));
    assert_eq!(row.last_name.as_deref(), Some("Lee"));
    assert_eq!(row.username.as_deref(), Some("ann"));
    assert_eq!(
        row.image_url.as_deref(),
        Some("https://img.clerk.com/ann.png")
    );
    assert_eq!(row.external_id.as_deref(), Some("ext-1"));
    assert_eq!(row.public_metadata, Some(json!({ "plan": "pro" })));
    assert_eq!(
        row.raw_json,
        Some(body["data"].clone()),
        "raw_json is `data`"
    );
    assert_eq!(
        row.clerk_updated_at,
        Some(T0),
        "the version is data.updated_at"
    );
    assert_eq!(row.sync_status, SyncStatus::Synced);

    let entry = engine.store().ledger_get("msg_1").await.unwrap().unwrap();
    assert_eq!(entry.event_type, "user.created");
    assert_eq!(entry.object_id.as_deref(), Some("user_1"));
    assert_eq!(entry.outcome, Some(LedgerOutcome::Applied));
    assert!(entry.processed_at.is_some());
    assert_eq!(
        entry.payload,
        Some(body.to_string()),
        "the body of a user event is kept for replay"
    );
}

#[tokio::test]
async fn redeliveries_are_duplicates_and_old_versions_are_stale() {
    let engine = engine();
    let v1 = created("user_1", T0, "v1@example.com");
    let v2 = updated("user_1", T0 + 5, "v2@example.com");
    assert_eq!(
        deliver(&engine, "msg_v2", &v2).await.unwrap(),
        ProcessOutcome::Applied
    );
    assert_eq!(
        deliver(&engine, "msg_v2", &v2).await.unwrap(),
        ProcessOutcome::Duplicate
    );
    assert_eq!(
        deliver(&engine, "msg_v1", &v1).await.unwrap(),
        ProcessOutcome::Stale,
        "the create arriving after the update changes nothing"
    );
    let row = engine.store().get_user("user_1").await.unwrap().unwrap();
    assert_eq!(row.email.as_deref(), Some("v2@example.com"));
    assert_eq!(row.clerk_updated_at, Some(T0 + 5));
    let entry = engine.store().ledger_get("msg_v1").await.unwrap().unwrap();
    assert_eq!(entry.outcome, Some(LedgerOutcome::Stale));
}

#[tokio::test]
async fn user_deleted_leaves_a_terminal_tombstone_stamped_with_the_event_time() {
    let engine = engine();
    deliver(&engine, "msg_c", &created("user_1", T0, "ann@example.com"))
        .await
        .unwrap();
    assert_eq!(
        deliver(&engine, "msg_d", &deleted("user_1", T0 + 10))
            .await
            .unwrap(),
        ProcessOutcome::Applied
    );
    let row = engine.store().get_user("user_1").await.unwrap().unwrap();
    assert_eq!(
        row.deleted_at,
        Some(OffsetDateTime::from_unix_timestamp_nanos(i128::from(T0 + 10) * 1_000_000).unwrap()),
        "deleted_at is the event's timestamp, the same on every redelivery"
    );
    assert_eq!(row.external_id.as_deref(), Some("ext-gone"));
    assert_eq!(row.email, None, "the profile is erased");

    // A second delivery of the delete (new svix id) and a late update are both stale.
    assert_eq!(
        deliver(&engine, "msg_d2", &deleted("user_1", T0 + 20))
            .await
            .unwrap(),
        ProcessOutcome::Stale
    );
    assert_eq!(
        deliver(
            &engine,
            "msg_u",
            &updated("user_1", T0 + 30, "back@example.com")
        )
        .await
        .unwrap(),
        ProcessOutcome::Stale
    );
    assert_eq!(
        engine.store().get_user("user_1").await.unwrap().unwrap(),
        row
    );

    // A delete for a user never seen leaves a tombstone that blocks the late create.
    deliver(&engine, "msg_d3", &deleted("user_2", T0))
        .await
        .unwrap();
    assert_eq!(
        deliver(
            &engine,
            "msg_c2",
            &created("user_2", T0 - 1, "x@example.com")
        )
        .await
        .unwrap(),
        ProcessOutcome::Stale
    );
    assert!(
        engine
            .store()
            .get_user("user_2")
            .await
            .unwrap()
            .unwrap()
            .is_deleted()
    );
}

#[tokio::test]
async fn other_event_types_are_recorded_and_ignored() {
    let engine = engine();
    let org = envelope(
        "organization.created",
        T0,
        json!({ "id": "org_1", "object": "organization", "name": "Acme", "slug": "acme",
                "created_at": T0, "updated_at": T0 }),
    );
    let unknown = envelope("apiKey.created", T0, json!({ "id": "ak_1" }));
    for (svix_id, body) in [("msg_org", &org), ("msg_unknown", &unknown)] {
        assert_eq!(
            deliver(&engine, svix_id, body).await.unwrap(),
            ProcessOutcome::Ignored
        );
        let entry = engine.store().ledger_get(svix_id).await.unwrap().unwrap();
        assert_eq!(entry.outcome, Some(LedgerOutcome::Ignored));
    }
    let counts = engine.store().count_by_status().await.unwrap();
    assert_eq!(counts.live() + counts.deleted, 0, "no user row was written");
}

#[tokio::test]
async fn unverifiable_deliveries_are_rejected_as_not_retryable() {
    let engine = engine();
    let body = created("user_1", T0, "ann@example.com").to_string();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let timestamp = now.to_string();

    let other = WebhookVerifier::new("whsec_dGhpcyBpcyBhbm90aGVyIHNlY3JldA==").unwrap();
    let forged = other.sign("msg_1", now, body.as_bytes());
    let stale_ts = (now - 3_600).to_string();
    let stale_sig = verifier().sign("msg_1", now - 3_600, body.as_bytes());
    let good = verifier().sign("msg_1", now, body.as_bytes());
    let cases = [
        (
            "another secret",
            timestamp.as_str(),
            forged.as_str(),
            body.as_bytes(),
        ),
        (
            "an hour old",
            stale_ts.as_str(),
            stale_sig.as_str(),
            body.as_bytes(),
        ),
        (
            "tampered body",
            timestamp.as_str(),
            good.as_str(),
            b"{\"type\":\"user.deleted\"}",
        ),
        (
            "garbage signature",
            timestamp.as_str(),
            "v1,AAAA",
            body.as_bytes(),
        ),
    ];
    for (what, timestamp, signature, body) in cases {
        let headers = WebhookHeaders {
            id: "msg_1",
            timestamp,
            signature,
        };
        let error = engine.process_webhook(&headers, body).await.unwrap_err();
        assert!(
            matches!(error, SyncError::Verification(_)),
            "{what}: {error:?}"
        );
        assert!(!error.is_retryable(), "{what}: a bad signature is a 4xx");
    }
    assert_eq!(
        engine.store().ledger_get("msg_1").await.unwrap(),
        None,
        "nothing recorded"
    );
    assert_eq!(engine.store().get_user("user_1").await.unwrap(), None);
}

#[tokio::test]
async fn verified_events_that_cannot_be_applied_are_recorded_as_failed_and_acknowledged() {
    let engine = engine();
    let mut no_id = user("user_x", T0, "ann@example.com", true);
    no_id.as_object_mut().unwrap().remove("id");
    let cases: [(&str, Vec<u8>); 4] = [
        ("msg_not_json", b"this is not json".to_vec()),
        (
            "msg_no_type",
            br#"{"object":"event","timestamp":1,"data":{}}"#.to_vec(),
        ),
        (
            "msg_no_user_id",
            envelope("user.created", T0, no_id).to_string().into_bytes(),
        ),
        (
            "msg_delete_no_id",
            envelope(
                "user.deleted",
                T0,
                json!({ "object": "user", "deleted": true }),
            )
            .to_string()
            .into_bytes(),
        ),
    ];
    for (svix_id, body) in &cases {
        assert_eq!(
            deliver_raw(&engine, svix_id, body).await.unwrap(),
            ProcessOutcome::Ignored,
            "{svix_id}: acknowledged, since retrying cannot help"
        );
        let entry = engine.store().ledger_get(svix_id).await.unwrap().unwrap();
        assert_eq!(entry.outcome, Some(LedgerOutcome::Failed), "{svix_id}");
        let error = entry.error.unwrap();
        assert!(
            !error.is_empty() && error.len() < 200,
            "{svix_id}: a short reason: {error}"
        );
        assert!(
            !error.contains("ann@example.com"),
            "{svix_id}: no payload in the error"
        );
        assert_eq!(
            deliver_raw(&engine, svix_id, body).await.unwrap(),
            ProcessOutcome::Duplicate,
            "{svix_id}: a recorded failure is not re-examined"
        );
    }
    let entry = engine
        .store()
        .ledger_get("msg_no_user_id")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        entry.event_type, "user.created",
        "the type is kept when it is known"
    );
    let entry = engine
        .store()
        .ledger_get("msg_delete_no_id")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.error.as_deref(), Some("user.deleted without data.id"));
}

#[tokio::test]
async fn a_verified_primary_email_links_a_local_row_and_an_unverified_one_does_not() {
    let engine = engine();
    let profile = UserProfile {
        email: Some("Ann@Example.com".to_owned()),
        ..UserProfile::default()
    };
    let local = engine.create_local_user(profile).await.unwrap();
    assert_eq!(
        local.user.email.as_deref(),
        Some("ann@example.com"),
        "lowercased"
    );

    // An unverified address never links.
    let unverified = envelope(
        "user.created",
        T0,
        user("user_u", T0, "ann@example.com", false),
    );
    deliver(&engine, "msg_u", &unverified).await.unwrap();
    let twin = engine.store().get_user("user_u").await.unwrap().unwrap();
    assert_ne!(
        twin.id, local.user.id,
        "an unverified email inserts a separate row"
    );

    // The webhook echo of our own create links the pending row and queues nothing.
    assert_eq!(
        deliver(&engine, "msg_c", &created("user_1", T0, "ann@example.com"))
            .await
            .unwrap(),
        ProcessOutcome::Applied
    );
    let row = engine.store().get_user("user_1").await.unwrap().unwrap();
    assert_eq!(row.id, local.user.id, "linked, not a twin");
    assert_eq!(
        row.sync_status,
        SyncStatus::Pending,
        "its create is still queued"
    );
    let queued = engine.store().outbox_for_user(row.id).await.unwrap();
    assert_eq!(queued.len(), 1, "inbound never enqueues outbound work");
}

#[tokio::test]
async fn local_operations_write_pending_rows_and_queue_them() {
    let engine = engine();
    let profile = UserProfile {
        email: Some("new@example.com".to_owned()),
        first_name: Some("Nia".to_owned()),
        ..UserProfile::default()
    };
    let created = engine.create_local_user(profile).await.unwrap();
    assert_eq!(created.user.sync_status, SyncStatus::Pending);
    assert_eq!(created.user.clerk_id, None);

    let invited = engine
        .invite_user("guest@example.com", Some(json!({ "role": "viewer" })))
        .await
        .unwrap();
    assert_eq!(invited.user.email.as_deref(), Some("guest@example.com"));

    let change = UserProfile {
        last_name: Some("Okafor".to_owned()),
        ..UserProfile::default()
    };
    let updated = engine
        .update_local_user(created.user.id, change)
        .await
        .unwrap();
    assert_eq!(updated.user.first_name.as_deref(), Some("Nia"));
    assert_eq!(updated.user.last_name.as_deref(), Some("Okafor"));
    engine.delete_local_user(created.user.id).await.unwrap();

    let ops: Vec<OutboxOperation> = engine
        .store()
        .outbox_for_user(created.user.id)
        .await
        .unwrap()
        .iter()
        .map(|e| e.operation)
        .collect();
    assert_eq!(
        ops,
        [
            OutboxOperation::Create,
            OutboxOperation::Update,
            OutboxOperation::Delete
        ]
    );
    let invite = &engine
        .store()
        .outbox_for_user(invited.user.id)
        .await
        .unwrap()[0];
    assert_eq!(invite.operation, OutboxOperation::Invite);
    assert_eq!(
        invite.profile.public_metadata,
        Some(json!({ "role": "viewer" }))
    );
    assert_eq!(engine.store().count_by_status().await.unwrap().pending, 2);
}

#[tokio::test]
async fn local_operations_refuse_bad_input_before_writing() {
    let engine = engine();
    let invalid = |r: Result<_, SyncError>| matches!(r, Err(SyncError::InvalidInput { .. }));
    assert!(
        invalid(engine.invite_user("", None).await),
        "invite needs an email"
    );
    assert!(invalid(engine.invite_user("not-an-email", None).await));
    assert!(
        invalid(engine.invite_user("a@b.co", Some(json!([1]))).await),
        "metadata object"
    );
    assert!(
        invalid(engine.create_local_user(UserProfile::default()).await),
        "create needs an email or a username"
    );
    let blank = UserProfile {
        username: Some("  ".to_owned()),
        ..UserProfile::default()
    };
    assert!(invalid(engine.create_local_user(blank).await));

    let row = engine.invite_user("a@b.co", None).await.unwrap().user;
    assert!(
        invalid(
            engine
                .update_local_user(row.id, UserProfile::default())
                .await
        ),
        "an update needs a field"
    );
    let change = UserProfile {
        first_name: Some("X".to_owned()),
        ..UserProfile::default()
    };
    let missing = engine.update_local_user(9_999, change).await.unwrap_err();
    assert!(
        matches!(missing, SyncError::UserNotFound { id: 9_999 }),
        "{missing:?}"
    );
    assert!(!missing.is_retryable());
    assert!(matches!(
        engine.delete_local_user(9_999).await,
        Err(SyncError::UserNotFound { id: 9_999 })
    ));
    let counts = engine.store().count_by_status().await.unwrap();
    assert_eq!(counts.pending, 1, "only the valid invite was written");
}

/// One hook call: which hook, for which svix id, with which outcome and row version.
type HookCall = (String, String, ProcessOutcome, Option<i64>);

/// Records which hook ran for which svix id, and what it was told.
#[derive(Default)]
struct RecordingHooks {
    calls: Mutex<Vec<HookCall>>,
}

impl RecordingHooks {
    fn record(&self, hook: &str, ctx: &HookContext<'_>) -> Result<(), HookError> {
        self.calls.lock().unwrap().push((
            hook.to_owned(),
            ctx.svix_id.to_owned(),
            ctx.outcome,
            ctx.user.and_then(|u| u.clerk_updated_at),
        ));
        Ok(())
    }
}

#[async_trait]
impl SyncHooks for RecordingHooks {
    async fn on_user_created(&self, ctx: &HookContext<'_>, user: &User) -> Result<(), HookError> {
        assert_eq!(ctx.event.event_type, "user.created");
        assert_eq!(
            Some(user.id.as_str()),
            ctx.user.and_then(|u| u.clerk_id.as_deref())
        );
        self.record("created", ctx)
    }
    async fn on_user_updated(&self, ctx: &HookContext<'_>, _: &User) -> Result<(), HookError> {
        self.record("updated", ctx)
    }
    async fn on_user_deleted(
        &self,
        ctx: &HookContext<'_>,
        deleted: &DeletedObject,
    ) -> Result<(), HookError> {
        assert!(ctx.user.is_some_and(|u| u.is_deleted()));
        assert_eq!(deleted.id.as_deref(), Some("user_1"));
        self.record("deleted", ctx)
    }
    async fn on_event(&self, ctx: &HookContext<'_>) -> Result<(), HookError> {
        assert!(ctx.user.is_none());
        self.record("event", ctx)
    }
}

#[tokio::test]
async fn hooks_run_per_event_type_with_the_stored_row() {
    let hooks = Arc::new(RecordingHooks::default());
    let engine = engine().with_hooks(hooks.clone());
    deliver(&engine, "m1", &updated("user_1", T0 + 5, "a@example.com"))
        .await
        .unwrap();
    deliver(&engine, "m2", &created("user_1", T0, "a@example.com"))
        .await
        .unwrap();
    deliver(&engine, "m2", &created("user_1", T0, "a@example.com"))
        .await
        .unwrap();
    deliver(&engine, "m3", &deleted("user_1", T0 + 9))
        .await
        .unwrap();
    deliver(
        &engine,
        "m4",
        &envelope("email.created", T0, json!({ "id": "ema_1" })),
    )
    .await
    .unwrap();
    let calls = hooks.calls.lock().unwrap().clone();
    assert_eq!(
        calls,
        [
            (
                "updated".into(),
                "m1".into(),
                ProcessOutcome::Applied,
                Some(T0 + 5)
            ),
            // A create arriving late still announces the user; the row holds the newer data.
            (
                "created".into(),
                "m2".into(),
                ProcessOutcome::Stale,
                Some(T0 + 5)
            ),
            ("deleted".into(), "m3".into(), ProcessOutcome::Applied, None),
            ("event".into(), "m4".into(), ProcessOutcome::Ignored, None),
        ],
        "one call per event, none for the duplicate"
    );
}

#[tokio::test]
async fn a_failing_hook_is_retryable_and_leaves_the_change_stored() {
    struct Failing(AtomicUsize);
    #[async_trait]
    impl SyncHooks for Failing {
        async fn on_user_created(&self, _: &HookContext<'_>, _: &User) -> Result<(), HookError> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Err(std::io::Error::other("downstream unavailable").into())
        }
    }
    let hooks = Arc::new(Failing(AtomicUsize::new(0)));
    let engine = engine().with_hooks(hooks.clone());
    let body = created("user_1", T0, "a@example.com");
    for _ in 0..2 {
        let error = deliver(&engine, "m1", &body).await.unwrap_err();
        assert!(error.is_retryable());
        let source = std::error::Error::source(&error).expect("the hook error is kept");
        assert_eq!(source.to_string(), "downstream unavailable");
    }
    assert_eq!(
        hooks.0.load(Ordering::Relaxed),
        2,
        "every redelivery runs the hook again"
    );
    assert!(
        engine.store().get_user("user_1").await.unwrap().is_some(),
        "stored once"
    );
    let entry = engine.store().ledger_get("m1").await.unwrap().unwrap();
    assert_eq!(entry.processed_at, None);
}

#[test]
fn store_and_hook_errors_are_retryable_and_input_errors_are_not() {
    let store = SyncError::from(StoreError::Unavailable("pool closed".into()));
    assert!(store.is_retryable());
    let not_found = SyncError::from(StoreError::NotFound { what: "user" });
    assert!(
        not_found.is_retryable(),
        "any store failure means: deliver again"
    );
    assert!(!SyncError::InvalidInput { reason: "x" }.is_retryable());
    assert!(!SyncError::UserNotFound { id: 1 }.is_retryable());
}

#[test]
fn the_engine_is_cheap_to_share_between_tasks() {
    fn assert_shareable<T: Clone + Send + Sync + 'static>() {}
    assert_shareable::<SyncEngine<MemoryStore>>();
    assert_shareable::<SyncEngine<dyn clerk_sync_core::store::SyncStore>>();
    let engine = engine();
    let copy = engine.clone();
    assert!(
        std::ptr::eq(engine.store(), copy.store()),
        "clones share one store"
    );
}

/// A store that delegates to a `MemoryStore` but can be switched to fail like a database that
/// is down, for the write and ledger calls the engine makes.
#[derive(Clone, Default)]
struct FlakyStore {
    inner: MemoryStore,
    down: Arc<std::sync::atomic::AtomicBool>,
}

impl FlakyStore {
    fn check(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::Relaxed) {
            Err(StoreError::Unavailable("connection refused".into()))
        } else {
            Ok(())
        }
    }
}

mod flaky_impls {
    use super::*;
    use clerk_sync_core::store::{
        ClaimOutcome, ClerkUserRecord, DeadLetterQuery, EnqueuedChange, InboundStore, LedgerEntry,
        LedgerInsert, LedgerQuery, LocalChange, LocalUser, NewLedgerEntry, OutboxEntry,
        StatusCounts, Tombstone, TombstoneOutcome, UpsertOutcome, UserQuery, UserVersion,
    };
    use std::time::Duration;

    #[async_trait]
    impl UserStore for FlakyStore {
        async fn get_user(&self, c: &str) -> Result<Option<LocalUser>, StoreError> {
            self.inner.get_user(c).await
        }
        async fn get_user_by_id(&self, id: i64) -> Result<Option<LocalUser>, StoreError> {
            self.inner.get_user_by_id(id).await
        }
        async fn find_users_by_email(&self, e: &str) -> Result<Vec<LocalUser>, StoreError> {
            self.inner.find_users_by_email(e).await
        }
        async fn list_users(&self, q: &UserQuery) -> Result<Vec<LocalUser>, StoreError> {
            self.inner.list_users(q).await
        }
        async fn upsert_user(
            &self,
            r: &ClerkUserRecord,
            now: OffsetDateTime,
        ) -> Result<UpsertOutcome, StoreError> {
            self.check()?;
            self.inner.upsert_user(r, now).await
        }
        async fn tombstone_user(
            &self,
            t: &Tombstone,
            now: OffsetDateTime,
        ) -> Result<TombstoneOutcome, StoreError> {
            self.check()?;
            self.inner.tombstone_user(t, now).await
        }
        async fn link_clerk_id(
            &self,
            id: i64,
            c: &str,
            now: OffsetDateTime,
        ) -> Result<bool, StoreError> {
            self.inner.link_clerk_id(id, c, now).await
        }
        async fn scan_versions(
            &self,
            after: Option<&str>,
            limit: u32,
        ) -> Result<Vec<UserVersion>, StoreError> {
            self.inner.scan_versions(after, limit).await
        }
        async fn count_by_status(&self) -> Result<StatusCounts, StoreError> {
            self.inner.count_by_status().await
        }
        async fn record_sync_error(
            &self,
            c: &str,
            e: &str,
            at: OffsetDateTime,
        ) -> Result<bool, StoreError> {
            self.inner.record_sync_error(c, e, at).await
        }
    }

    #[async_trait]
    impl LedgerStore for FlakyStore {
        async fn ledger_insert(&self, e: &NewLedgerEntry<'_>) -> Result<LedgerInsert, StoreError> {
            self.check()?;
            self.inner.ledger_insert(e).await
        }
        async fn ledger_mark_processed(
            &self,
            id: &str,
            o: LedgerOutcome,
            e: Option<&str>,
            at: OffsetDateTime,
        ) -> Result<(), StoreError> {
            self.check()?;
            self.inner.ledger_mark_processed(id, o, e, at).await
        }
        async fn ledger_get(&self, id: &str) -> Result<Option<LedgerEntry>, StoreError> {
            self.inner.ledger_get(id).await
        }
        async fn recent_ledger(&self, q: &LedgerQuery) -> Result<Vec<LedgerEntry>, StoreError> {
            self.inner.recent_ledger(q).await
        }
        async fn ledger_prune(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
            self.inner.ledger_prune(before).await
        }
    }

    /// Local changes fail with the store; the worker's calls are not exercised here.
    #[async_trait]
    impl OutboxStore for FlakyStore {
        async fn enqueue_local_change(
            &self,
            c: &LocalChange,
            now: OffsetDateTime,
        ) -> Result<EnqueuedChange, StoreError> {
            self.check()?;
            self.inner.enqueue_local_change(c, now).await
        }
        async fn claim_outbox(
            &self,
            w: &str,
            now: OffsetDateTime,
            lease: Duration,
            limit: u32,
        ) -> Result<Vec<OutboxEntry>, StoreError> {
            self.inner.claim_outbox(w, now, lease, limit).await
        }
        async fn complete_outbox(
            &self,
            id: i64,
            token: &str,
            c: Option<&str>,
            now: OffsetDateTime,
        ) -> Result<ClaimOutcome, StoreError> {
            self.inner.complete_outbox(id, token, c, now).await
        }
        async fn fail_outbox(
            &self,
            id: i64,
            token: &str,
            e: &str,
            next: OffsetDateTime,
            now: OffsetDateTime,
        ) -> Result<ClaimOutcome, StoreError> {
            self.inner.fail_outbox(id, token, e, next, now).await
        }
        async fn give_up_outbox(
            &self,
            id: i64,
            token: &str,
            e: &str,
            now: OffsetDateTime,
        ) -> Result<ClaimOutcome, StoreError> {
            self.inner.give_up_outbox(id, token, e, now).await
        }
        async fn outbox_for_user(&self, id: i64) -> Result<Vec<OutboxEntry>, StoreError> {
            self.inner.outbox_for_user(id).await
        }
        async fn dead_letters(&self, q: &DeadLetterQuery) -> Result<Vec<OutboxEntry>, StoreError> {
            self.inner.dead_letters(q).await
        }
        async fn revive_dead_letters(
            &self,
            user: Option<i64>,
            now: OffsetDateTime,
        ) -> Result<u64, StoreError> {
            self.inner.revive_dead_letters(user, now).await
        }
        async fn outbox_due(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
            self.inner.outbox_due(now).await
        }
    }

    /// The provided `apply_inbound`, so the failing steps above are what it runs. The engine's
    /// webhook path needs nothing more than the user table and the ledger.
    impl InboundStore for FlakyStore {}
}

#[tokio::test]
async fn a_store_outage_is_retryable_and_the_redelivery_applies() {
    let store = FlakyStore::default();
    let engine = SyncEngine::new(store.clone(), verifier());
    let hooked = engine
        .clone()
        .with_hooks(Arc::new(RecordingHooks::default()));
    let body = created("user_1", T0, "a@example.com").to_string();
    let sign = |id: &'static str| {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        (
            id,
            now.to_string(),
            verifier().sign(id, now, body.as_bytes()),
        )
    };

    store.down.store(true, Ordering::Relaxed);
    for engine in [&engine, &hooked] {
        let (id, timestamp, signature) = sign("msg_1");
        let headers = WebhookHeaders {
            id,
            timestamp: &timestamp,
            signature: &signature,
        };
        let error = engine
            .process_webhook(&headers, body.as_bytes())
            .await
            .unwrap_err();
        assert!(matches!(error, SyncError::Store(_)), "{error:?}");
        assert!(
            error.is_retryable(),
            "a store outage answers 5xx so Svix retries"
        );
        assert!(
            std::error::Error::source(&error).is_some(),
            "the store error is kept"
        );
    }
    let profile = UserProfile {
        email: Some("x@example.com".to_owned()),
        ..UserProfile::default()
    };
    let error = engine.create_local_user(profile).await.unwrap_err();
    assert!(matches!(error, SyncError::Store(_)) && error.is_retryable());

    store.down.store(false, Ordering::Relaxed);
    let (id, timestamp, signature) = sign("msg_1");
    let headers = WebhookHeaders {
        id,
        timestamp: &timestamp,
        signature: &signature,
    };
    assert_eq!(
        engine
            .process_webhook(&headers, body.as_bytes())
            .await
            .unwrap(),
        ProcessOutcome::Applied,
        "nothing was acknowledged, so the redelivery applies"
    );
}

#[tokio::test]
async fn prune_ledger_keeps_entries_inside_the_retention_period() {
    let engine = engine().with_ledger_retention(std::time::Duration::from_secs(48 * 3600));
    let body = envelope(
        "user.created",
        T0,
        user("user_prune", T0, "p@example.com", true),
    );
    assert_eq!(
        deliver(&engine, "msg_prune", &body).await.unwrap(),
        ProcessOutcome::Applied
    );

    let now = OffsetDateTime::now_utc();
    // 47 hours later the entry is inside the 48-hour retention: kept, and a late Svix retry is
    // still recognised as a duplicate.
    assert_eq!(
        engine
            .prune_ledger_at(now + time::Duration::hours(47))
            .await
            .unwrap(),
        0
    );
    assert!(
        engine
            .store()
            .ledger_get("msg_prune")
            .await
            .unwrap()
            .is_some()
    );
    // 49 hours later it is outside: pruned.
    assert_eq!(
        engine
            .prune_ledger_at(now + time::Duration::hours(49))
            .await
            .unwrap(),
        1
    );
    assert!(
        engine
            .store()
            .ledger_get("msg_prune")
            .await
            .unwrap()
            .is_none()
    );
    // The row itself is untouched by pruning.
    assert!(
        engine
            .store()
            .get_user("user_prune")
            .await
            .unwrap()
            .is_some()
    );
}
