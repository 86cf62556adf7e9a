//! Order independence: histories of Clerk events delivered shuffled, duplicated and
//! concurrently end in the same rows as in-order delivery.
//!
//! The expected rows come from delivering the history in order to a
//! [`MemoryStore`](crate::memory::MemoryStore), the reference implementation, so a store under
//! test is held both to order independence and to the reference's rows.

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::{StoreFactory, property_cases, snapshot, t};
use crate::memory::MemoryStore;
use crate::store::{
    ClerkUserRecord, InboundChange, InboundStore, LedgerStore, NewLedgerEntry, Tombstone,
};

/// Clerk versions in the generated histories start here (2026-03-01, in ms).
const FIRST_VERSION: i64 = 1_772_366_400_000;

/// What one generated event does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Created,
    Updated,
    Deleted,
}

/// The profile a generated `user.created` / `user.updated` carries.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Profile {
    email: Option<String>,
    verified: bool,
    first_name: Option<String>,
    last_name: Option<String>,
    username: Option<String>,
    image_url: Option<String>,
    external_id: Option<String>,
    public_metadata: Value,
}

/// One Clerk event of a generated history.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct HistoryEvent {
    pub(super) svix_id: String,
    pub(super) clerk_id: String,
    pub(super) kind: Kind,
    /// `data.updated_at` for create/update; the event timestamp for all kinds.
    pub(super) at_ms: i64,
    pub(super) profile: Profile,
}

impl HistoryEvent {
    pub(super) fn event_type(&self) -> &'static str {
        match self.kind {
            Kind::Created => "user.created",
            Kind::Updated => "user.updated",
            Kind::Deleted => "user.deleted",
        }
    }

    /// The `data` object Clerk would send, shaped like Clerk's user / deleted object.
    pub(super) fn data(&self) -> Value {
        let p = &self.profile;
        if self.kind == Kind::Deleted {
            let mut data = json!({ "id": self.clerk_id, "object": "user", "deleted": true });
            if let Some(external_id) = &p.external_id {
                data["external_id"] = json!(external_id);
            }
            return data;
        }
        let email_id = format!("idn_{}", self.clerk_id);
        let email_addresses = match &p.email {
            Some(email) => json!([
                {
                    // A secondary address first: the primary must be found by id, not [0].
                    "id": "idn_secondary",
                    "object": "email_address",
                    "email_address": "secondary@example.com",
                    "verification": { "status": "verified", "strategy": "email_code" },
                    "linked_to": []
                },
                {
                    "id": email_id,
                    "object": "email_address",
                    "email_address": email,
                    "verification": {
                        "status": if p.verified { "verified" } else { "unverified" },
                        "strategy": "email_code"
                    },
                    "linked_to": []
                }
            ]),
            None => json!([]),
        };
        json!({
            "id": self.clerk_id,
            "object": "user",
            "created_at": FIRST_VERSION,
            "updated_at": self.at_ms,
            "primary_email_address_id": p.email.as_ref().map(|_| email_id),
            "email_addresses": email_addresses,
            "phone_numbers": [],
            "web3_wallets": [],
            "external_accounts": [],
            "first_name": p.first_name,
            "last_name": p.last_name,
            "username": p.username,
            "image_url": p.image_url,
            "profile_image_url": p.image_url,
            "has_image": p.image_url.is_some(),
            "external_id": p.external_id,
            "public_metadata": p.public_metadata,
            "private_metadata": {},
            "unsafe_metadata": {},
            "password_enabled": false,
            "two_factor_enabled": false,
            "banned": false,
            "locked": false,
            "last_sign_in_at": null,
        })
    }

    /// The webhook body: Clerk's event envelope around [`HistoryEvent::data`].
    pub(super) fn body(&self) -> String {
        json!({
            "data": self.data(),
            "object": "event",
            "type": self.event_type(),
            "timestamp": self.at_ms,
            "instance_id": "ins_conformance",
        })
        .to_string()
    }

    /// The change the engine derives from this event.
    fn change(&self) -> InboundChange {
        let p = &self.profile;
        if self.kind == Kind::Deleted {
            let mut tombstone = Tombstone::new(&self.clerk_id, ms_to_time(self.at_ms));
            tombstone.external_id.clone_from(&p.external_id);
            return InboundChange::Tombstone(tombstone);
        }
        let mut record = ClerkUserRecord::new(&self.clerk_id, self.at_ms, self.data().to_string());
        record.email.clone_from(&p.email);
        record.link_email = p.email.clone().filter(|_| p.verified);
        record.first_name.clone_from(&p.first_name);
        record.last_name.clone_from(&p.last_name);
        record.username.clone_from(&p.username);
        record.image_url.clone_from(&p.image_url);
        record.external_id.clone_from(&p.external_id);
        record.public_metadata = Some(p.public_metadata.clone());
        InboundChange::Upsert(record)
    }
}

fn ms_to_time(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .expect("generated timestamps are in range")
}

fn profile_strategy() -> impl Strategy<Value = Profile> {
    let text = |options: &'static [&'static str]| {
        proptest::option::of(proptest::sample::select(options).prop_map(str::to_owned))
    };
    (
        text(&["ann@example.com", "bo@example.com", "zoë@exämple.com"]),
        any::<bool>(),
        text(&["Ann", "Zoë 🦀", "李", "O'Brien"]),
        text(&["Lee", "Ødegård", "\"quoted\""]),
        text(&["ann", "bo_99"]),
        text(&["https://img.clerk.com/a.png", "https://img.clerk.com/b.png"]),
        text(&["ext-1", "ext-2"]),
        proptest::sample::select(vec![
            json!({}),
            json!({ "plan": "pro" }),
            json!({ "plan": "free", "seats": 3, "tags": ["a", "ü"], "nested": { "ok": true } }),
        ]),
    )
        .prop_map(
            |(email, verified, first_name, last_name, username, image_url, external_id, md)| {
                Profile {
                    email,
                    verified,
                    first_name,
                    last_name,
                    username,
                    image_url,
                    external_id,
                    public_metadata: md,
                }
            },
        )
}

/// One user's life: a create, some updates, maybe a delete, with increasing times.
fn user_history(user: usize) -> impl Strategy<Value = Vec<HistoryEvent>> {
    (
        profile_strategy(),
        proptest::collection::vec((profile_strategy(), 1_i64..5_000), 0..=3),
        proptest::option::of((proptest::option::of("ext-[a-c]"), 1_i64..5_000)),
        0_i64..100_000,
    )
        .prop_map(move |(created, updates, deleted, start)| {
            let clerk_id = format!("user_{user:02}");
            let mut at_ms = FIRST_VERSION + start;
            let mut events = vec![(Kind::Created, at_ms, created)];
            for (profile, delta) in updates {
                at_ms += delta;
                events.push((Kind::Updated, at_ms, profile));
            }
            if let Some((external_id, delta)) = deleted {
                at_ms += delta;
                let mut profile = events[0].2.clone();
                profile.external_id = external_id;
                events.push((Kind::Deleted, at_ms, profile));
            }
            events
                .into_iter()
                .enumerate()
                .map(|(n, (kind, at_ms, profile))| HistoryEvent {
                    svix_id: format!("msg_{clerk_id}_{n}"),
                    clerk_id: clerk_id.clone(),
                    kind,
                    at_ms,
                    profile,
                })
                .collect()
        })
}

/// Several users' histories, in order, user after user.
pub(super) fn history_strategy() -> impl Strategy<Value = Vec<HistoryEvent>> {
    (1_usize..=4)
        .prop_flat_map(|users| (0..users).map(user_history).collect::<Vec<_>>())
        .prop_map(|per_user| per_user.into_iter().flatten().collect())
}

/// A history and a delivery of it: indices into the history, shuffled, each event 1 to 3 times.
pub(super) fn delivery_strategy() -> impl Strategy<Value = (Vec<HistoryEvent>, Vec<usize>)> {
    history_strategy().prop_flat_map(|events| {
        let n = events.len();
        (Just(events), proptest::collection::vec(1_usize..=3, n)).prop_flat_map(
            |(events, copies)| {
                let delivery: Vec<usize> = copies
                    .iter()
                    .enumerate()
                    .flat_map(|(i, &c)| std::iter::repeat_n(i, c))
                    .collect();
                (Just(events), Just(delivery).prop_shuffle())
            },
        )
    })
}

/// Check `property` on generated values; on failure shrink, then panic with the smallest input.
///
/// Proptest's own runner is synchronous; this drives its value trees from async code so that
/// stores can be awaited without nesting runtimes.
pub(super) async fn check_property<T, P, Fut>(name: &str, strategy: T, mut property: P)
where
    T: Strategy,
    T::Value: Debug,
    P: FnMut(T::Value) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    const MAX_SHRINK_STEPS: u32 = 64;
    let config = Config {
        cases: property_cases(),
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    for _ in 0..runner.config().cases {
        let mut tree = strategy
            .new_tree(&mut runner)
            .unwrap_or_else(|e| panic!("{name}: cannot generate input: {e}"));
        let Err(error) = property(tree.current()).await else {
            continue;
        };
        let mut smallest = (tree.current(), error);
        if tree.simplify() {
            for _ in 0..MAX_SHRINK_STEPS {
                match property(tree.current()).await {
                    Err(error) => {
                        smallest = (tree.current(), error);
                        if !tree.simplify() {
                            break;
                        }
                    }
                    Ok(()) => {
                        if !tree.complicate() {
                            break;
                        }
                    }
                }
            }
        }
        panic!(
            "{name}: {}\nsmallest failing input: {:#?}",
            smallest.1, smallest.0
        );
    }
}

/// Deliver `event` to `store` as the engine does without hooks, stamped `n` seconds in.
async fn deliver<S: InboundStore + ?Sized>(store: &S, event: &HistoryEvent, svix_id: &str, n: i64) {
    let body = event.body();
    let entry = NewLedgerEntry::new(
        svix_id,
        event.event_type(),
        Some(&event.clerk_id),
        t(n),
        Some(&body),
    );
    store
        .apply_inbound(&entry, &event.change(), t(n))
        .await
        .unwrap_or_else(|e| panic!("apply_inbound of {}: {e}", event.svix_id));
}

/// The rows in-order delivery gives, on the reference store.
async fn reference_rows(events: &[HistoryEvent]) -> Vec<super::Projection> {
    let reference = MemoryStore::new();
    for (n, event) in events.iter().enumerate() {
        deliver(&reference, event, &event.svix_id, n as i64).await;
    }
    snapshot(&reference).await
}

fn compare(expected: &[super::Projection], actual: &[super::Projection]) -> Result<(), String> {
    if expected.len() != actual.len() {
        return Err(format!(
            "{} rows, but in-order delivery gives {}\nexpected: {expected:?}\nactual: {actual:?}",
            actual.len(),
            expected.len()
        ));
    }
    match expected.iter().zip(actual).find(|(e, a)| e != a) {
        None => Ok(()),
        Some((e, a)) => Err(format!(
            "a row differs from in-order delivery\nexpected: {e:?}\nactual:   {a:?}"
        )),
    }
}

/// Property: any shuffled delivery of a history, with duplicates, ends in the same rows as
/// in-order delivery (ignoring `id`, `created_at`, `updated_at` and `last_sync_attempt`).
pub async fn permutation_property<F: StoreFactory<Store: InboundStore>>(factory: F) {
    check_property(
        "permutation_property",
        delivery_strategy(),
        async |(events, delivery)| {
            let expected = reference_rows(&events).await;
            let store = factory.make().await;
            for (n, &i) in delivery.iter().enumerate() {
                let event = &events[i];
                deliver(&store, event, &event.svix_id, n as i64).await;
            }
            compare(&expected, &snapshot(&store).await)
        },
    )
    .await;
}

/// A fixed history: three users updated several times, two of them deleted at the end, one
/// deleted before anything else arrives.
pub(super) fn fixed_history() -> Vec<HistoryEvent> {
    let mut runner = TestRunner::deterministic();
    let profiles: Vec<Profile> = (0..12)
        .map(|_| {
            profile_strategy()
                .new_tree(&mut runner)
                .expect("profile")
                .current()
        })
        .collect();
    let mut events = Vec::new();
    for user in 0..4_usize {
        let clerk_id = format!("user_{user:02}");
        let kinds: &[Kind] = match user {
            0 => &[Kind::Created, Kind::Updated, Kind::Updated, Kind::Updated],
            1 | 2 => &[Kind::Created, Kind::Updated, Kind::Updated, Kind::Deleted],
            _ => &[Kind::Deleted],
        };
        for (n, &kind) in kinds.iter().enumerate() {
            events.push(HistoryEvent {
                svix_id: format!("msg_{clerk_id}_{n}"),
                clerk_id: clerk_id.clone(),
                kind,
                at_ms: FIRST_VERSION + (n as i64) * 1_000 + user as i64,
                profile: profiles[(user * 3 + n) % profiles.len()].clone(),
            });
        }
    }
    events
}

/// 32 tasks apply shuffled copies of one history at once; the rows end as in-order delivery.
///
/// Half the tasks share `svix-id`s (so the ledger sees concurrent redeliveries) and half use
/// their own (so every copy reaches the conditional write and races on it).
pub async fn concurrent_histories<F: StoreFactory<Store: InboundStore>>(factory: F) {
    const TASKS: usize = 32;
    let events = Arc::new(fixed_history());
    let expected = reference_rows(&events).await;
    let store = Arc::new(factory.make().await);
    let seed: u64 = rand::random();
    let mut rng = StdRng::seed_from_u64(seed);
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let mut order: Vec<usize> = (0..events.len()).collect();
            order.shuffle(&mut rng);
            let events = Arc::clone(&events);
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                for (n, i) in order.into_iter().enumerate() {
                    let event = &events[i];
                    let svix_id = if task % 2 == 0 {
                        event.svix_id.clone()
                    } else {
                        format!("{}_copy{task}", event.svix_id)
                    };
                    deliver(&*store, event, &svix_id, n as i64).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("delivery task");
    }
    if let Err(diff) = compare(&expected, &snapshot(&*store).await) {
        panic!("concurrent_histories (shuffle seed {seed}): {diff}");
    }
    for event in events.iter() {
        let entry = store
            .ledger_get(&event.svix_id)
            .await
            .expect("ledger_get")
            .unwrap_or_else(|| panic!("no ledger entry for {}", event.svix_id));
        assert!(
            entry.processed_at.is_some() && entry.outcome.is_some(),
            "{} is recorded as processed (seed {seed})",
            event.svix_id
        );
    }
}
