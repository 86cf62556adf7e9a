//! Cases that drive a store through [`SyncEngine::process_webhook`] with signed deliveries,
//! with and without hooks (which use the store's step-by-step ledger path).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::history::{HistoryEvent, check_property, delivery_strategy, fixed_history};
use super::{Projection, StoreFactory, must_get, snapshot};
use crate::event::{DeletedObject, User};
use crate::memory::MemoryStore;
use crate::store::{InboundStore, LedgerOutcome, LedgerStore};
use crate::sync::{HookContext, HookError, ProcessOutcome, SyncEngine, SyncError, SyncHooks};
use crate::webhook::{WebhookHeaders, WebhookVerifier};

/// The signing secret of the suite's deliveries (the example secret of the Svix docs).
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn verifier() -> WebhookVerifier {
    WebhookVerifier::new(SECRET).expect("the suite's secret is valid")
}

/// Sign `body` as Svix would, now, and hand it to `engine`.
async fn deliver<S: InboundStore + ?Sized>(
    engine: &SyncEngine<S>,
    svix_id: &str,
    body: &str,
) -> Result<ProcessOutcome, SyncError> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let signature = verifier().sign(svix_id, now, body.as_bytes());
    let timestamp = now.to_string();
    let headers = WebhookHeaders {
        id: svix_id,
        timestamp: &timestamp,
        signature: &signature,
    };
    engine.process_webhook(&headers, body.as_bytes()).await
}

/// Hooks that succeed and count calls, so the step-by-step path runs.
#[derive(Default)]
struct CountingHooks {
    calls: AtomicUsize,
}

#[async_trait]
impl SyncHooks for CountingHooks {
    async fn on_user_created(&self, _: &HookContext<'_>, _: &User) -> Result<(), HookError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
    async fn on_user_updated(&self, _: &HookContext<'_>, _: &User) -> Result<(), HookError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
    async fn on_user_deleted(
        &self,
        _: &HookContext<'_>,
        _: &DeletedObject,
    ) -> Result<(), HookError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

fn engine_for<S: InboundStore + 'static>(store: S, with_hooks: bool) -> SyncEngine<S> {
    let engine = SyncEngine::new(store, verifier());
    if with_hooks {
        engine.with_hooks(Arc::new(CountingHooks::default()))
    } else {
        engine
    }
}

/// The rows in-order delivery through the engine gives, on the reference store.
async fn reference_rows(events: &[HistoryEvent]) -> Vec<Projection> {
    let engine = engine_for(MemoryStore::new(), false);
    for event in events {
        deliver(&engine, &event.svix_id, &event.body())
            .await
            .expect("reference delivery");
    }
    snapshot(engine.store()).await
}

fn compare(expected: &[Projection], actual: &[Projection]) -> Result<(), String> {
    if expected == actual {
        Ok(())
    } else {
        Err(format!(
            "rows differ from in-order delivery\nexpected: {expected:?}\nactual:   {actual:?}"
        ))
    }
}

/// Property: signed webhooks of random histories, delivered through
/// [`SyncEngine::process_webhook`] shuffled and duplicated, with or without hooks, end in the
/// same rows as in-order delivery.
pub async fn webhook_permutation_property<F: StoreFactory<Store: InboundStore>>(factory: F) {
    check_property(
        "webhook_permutation_property",
        (delivery_strategy(), proptest::bool::ANY),
        async |((events, delivery), with_hooks)| {
            let expected = reference_rows(&events).await;
            let engine = engine_for(factory.make().await, with_hooks);
            for &i in &delivery {
                let event = &events[i];
                let outcome = deliver(&engine, &event.svix_id, &event.body())
                    .await
                    .map_err(|e| format!("delivery of {} failed: {e}", event.svix_id))?;
                if outcome == ProcessOutcome::Ignored {
                    return Err(format!("{} was ignored", event.svix_id));
                }
            }
            compare(&expected, &snapshot(engine.store()).await)
                .map_err(|e| format!("(hooks: {with_hooks}) {e}"))
        },
    )
    .await;
}

/// 32 tasks deliver shuffled copies of one history through the engine at once; the rows end
/// as in-order delivery, and every delivery is answered with success.
pub async fn webhook_concurrent_deliveries<F: StoreFactory<Store: InboundStore>>(factory: F) {
    const TASKS: usize = 32;
    let events = Arc::new(fixed_history());
    let expected = reference_rows(&events).await;
    let store = factory.make().await;
    let plain = SyncEngine::new(store, verifier());
    let hooked = plain.clone().with_hooks(Arc::new(CountingHooks::default()));
    let seed: u64 = rand::random();
    let mut rng = StdRng::seed_from_u64(seed);
    let outcomes = Arc::new(Mutex::new(HashMap::<ProcessOutcome, usize>::new()));
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let mut order: Vec<usize> = (0..events.len()).collect();
            order.shuffle(&mut rng);
            let events = Arc::clone(&events);
            let engine = if task % 4 < 2 {
                plain.clone()
            } else {
                hooked.clone()
            };
            let outcomes = Arc::clone(&outcomes);
            tokio::spawn(async move {
                for i in order {
                    let event = &events[i];
                    // Even tasks redeliver the same messages; odd ones send their own.
                    let svix_id = if task % 2 == 0 {
                        event.svix_id.clone()
                    } else {
                        format!("{}_copy{task}", event.svix_id)
                    };
                    let outcome = deliver(&engine, &svix_id, &event.body())
                        .await
                        .unwrap_or_else(|e| panic!("delivery of {svix_id} failed: {e}"));
                    *outcomes
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .entry(outcome)
                        .or_default() += 1;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("delivery task");
    }
    if let Err(diff) = compare(&expected, &snapshot(plain.store()).await) {
        panic!("webhook_concurrent_deliveries (shuffle seed {seed}): {diff}");
    }
    let outcomes = outcomes
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    assert_eq!(
        outcomes.get(&ProcessOutcome::Ignored),
        None,
        "no user event is ignored: {outcomes:?}"
    );
    assert!(
        outcomes
            .get(&ProcessOutcome::Duplicate)
            .copied()
            .unwrap_or(0)
            > 0,
        "redeliveries of processed messages are duplicates: {outcomes:?}"
    );
}

/// Hooks fail once: the change is stored but the event stays unprocessed; the redelivery runs
/// the hooks again with a no-op write and marks it processed; the next one is a duplicate.
pub async fn webhook_hooks_rerun_until_processed<F: StoreFactory<Store: InboundStore>>(factory: F) {
    /// Fails the first call per svix id, then succeeds; counts calls per svix id.
    #[derive(Default)]
    struct FlakyHooks {
        calls: Mutex<HashMap<String, usize>>,
    }
    impl FlakyHooks {
        fn call(&self, svix_id: &str) -> Result<(), HookError> {
            let mut calls = self
                .calls
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let n = calls.entry(svix_id.to_owned()).or_default();
            *n += 1;
            if *n == 1 {
                Err("the first call fails".into())
            } else {
                Ok(())
            }
        }
        fn calls(&self, svix_id: &str) -> usize {
            self.calls
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(svix_id)
                .copied()
                .unwrap_or(0)
        }
    }
    #[async_trait]
    impl SyncHooks for FlakyHooks {
        async fn on_user_created(&self, ctx: &HookContext<'_>, _: &User) -> Result<(), HookError> {
            self.call(ctx.svix_id)
        }
        async fn on_user_deleted(
            &self,
            ctx: &HookContext<'_>,
            _: &DeletedObject,
        ) -> Result<(), HookError> {
            self.call(ctx.svix_id)
        }
        async fn on_event(&self, ctx: &HookContext<'_>) -> Result<(), HookError> {
            self.call(ctx.svix_id)
        }
    }

    let hooks = Arc::new(FlakyHooks::default());
    let engine = SyncEngine::new(factory.make().await, verifier()).with_hooks(hooks.clone());
    let events = fixed_history();
    let created = events
        .iter()
        .find(|e| e.event_type() == "user.created")
        .expect("a create");
    let body = created.body();

    let error = deliver(&engine, "msg_hook", &body)
        .await
        .expect_err("a failing hook fails the delivery");
    assert!(error.is_retryable(), "a hook failure is retryable: {error}");
    assert!(
        matches!(error, SyncError::Hook { .. }),
        "reported as a hook failure: {error:?}"
    );
    let row = must_get(engine.store(), &created.clerk_id).await;
    let entry = engine
        .store()
        .ledger_get("msg_hook")
        .await
        .expect("ledger_get")
        .expect("the delivery is ledgered");
    assert_eq!(
        entry.processed_at, None,
        "not processed while its hooks fail"
    );

    assert_eq!(
        deliver(&engine, "msg_hook", &body)
            .await
            .expect("the redelivery succeeds"),
        ProcessOutcome::Stale,
        "the write is a no-op the second time"
    );
    assert_eq!(hooks.calls("msg_hook"), 2, "the hooks ran again");
    assert_eq!(
        must_get(engine.store(), &created.clerk_id).await,
        row,
        "the redelivery did not write"
    );
    let entry = engine
        .store()
        .ledger_get("msg_hook")
        .await
        .expect("ledger_get")
        .expect("entry");
    assert!(
        entry.processed_at.is_some(),
        "processed once the hooks succeed"
    );
    assert_eq!(entry.outcome, Some(LedgerOutcome::Stale));

    assert_eq!(
        deliver(&engine, "msg_hook", &body)
            .await
            .expect("a duplicate succeeds"),
        ProcessOutcome::Duplicate
    );
    assert_eq!(
        hooks.calls("msg_hook"),
        2,
        "no hooks for a processed duplicate"
    );

    // Other event types go to `on_event`, under the same rule.
    let session = r#"{"type":"session.created","object":"event","timestamp":1772366400000,
        "data":{"id":"sess_1","object":"session","user_id":"user_00","client_id":"client_1",
        "status":"active","created_at":1772366400000,"updated_at":1772366400000,
        "last_active_at":1772366400000,"expire_at":1772970000000,"abandon_at":1774958400000}}"#;
    assert!(deliver(&engine, "msg_session", session).await.is_err());
    assert_eq!(
        deliver(&engine, "msg_session", session)
            .await
            .expect("redelivery"),
        ProcessOutcome::Ignored
    );
    let entry = engine
        .store()
        .ledger_get("msg_session")
        .await
        .expect("ledger_get")
        .expect("entry");
    assert_eq!(entry.outcome, Some(LedgerOutcome::Ignored));
    assert_eq!(hooks.calls("msg_session"), 2);
}
