//! The engine behaviour suite (feature `engine-suite`): the recovery paths and the outbound
//! worker of `clerk_sync_core::sync::SyncEngine`, against [`FakeClerk`], on any store.
//!
//! Like the store conformance suite, each case is a generic `async fn` taking a
//! [`StoreFactory`] (something that makes a fresh, empty store) and panicking with a message
//! that names the broken rule. [`engine_suite_tests!`](crate::engine_suite_tests) expands to one
//! `#[tokio::test]` per case:
//!
//! ```
//! # use clerk_sync_core::memory::MemoryStore as MyStore;
//! clerk_sync_testing::engine_suite_tests!(|| async { MyStore::new() });
//! # fn main() {}
//! ```
//!
//! The cases cover what issue-level promises rest on: the fallback fetch (single flight,
//! negative cache, Clerk down), resync, reconcile (exact counts on a prepared drift, dry run,
//! force, the mass-deletion guard, exclusivity, paging while users change, racing webhooks,
//! rate limits, a wrong key, garbage answers), backfill resumed after a failure, user-sync
//! health, and the outbound worker (every operation end to end with its webhook echo,
//! retries, dead letters and revival, the lost answer of a create, an email Clerk already
//! holds, a stalled worker, shutdown, several workers).

use std::time::Duration;

use clerk_sync_core::clerk_api::{ClerkApi, RateLimit, RetryPolicy};
use clerk_sync_core::store::{LocalUser, SyncStore, UserQuery, UserStore};
use clerk_sync_core::sync::{ProcessOutcome, SyncEngine};
use clerk_sync_core::webhook::WebhookVerifier;

pub use clerk_sync_core::conformance::StoreFactory;

use crate::{FakeClerk, SignedWebhook};

mod outbound;
mod reconcile;
mod recovery;

pub use outbound::{
    outbound_ambiguous_create_makes_one_user, outbound_create_links_an_existing_email,
    outbound_each_operation_end_to_end, outbound_exhausted_attempts_then_retry_failed,
    outbound_permanent_failure_then_retry_failed, outbound_retries_transient_failures,
    outbound_shutdown_loses_nothing, outbound_stalled_worker_cannot_settle,
    outbound_workers_send_each_change_once_in_order,
};
pub use reconcile::{
    backfill_resumes_after_a_failure, reconcile_dry_run_changes_nothing,
    reconcile_exact_counts_on_a_drift, reconcile_force_rewrites_every_row,
    reconcile_mass_deletion_guard, reconcile_one_at_a_time, reconcile_pages_while_users_change,
    reconcile_races_webhooks, reconcile_stays_within_the_rate_limit,
    reconcile_wrong_key_or_garbage_changes_nothing, user_sync_health_counts,
};
pub use recovery::{
    fallback_clerk_down_is_an_error_not_not_found, fallback_fetch_applies_a_missing_user,
    fallback_not_found_is_cached_briefly, fallback_single_flight, resync_updates_and_tombstones,
};

/// Expand to one `#[tokio::test]` per engine case, each calling the given store factory.
///
/// The calling crate needs `tokio` (features `macros`, `rt-multi-thread`) among its
/// dev-dependencies, and `clerk-sync-testing` with feature `engine-suite`. Attributes after
/// the factory (`factory, #[attr]`) go on every generated test (e.g.
/// `#[cfg_attr(not(..), ignore = "..")]`).
#[macro_export]
macro_rules! engine_suite_tests {
    ($factory:expr $(, #[$attr:meta])* $(,)?) => {
        $crate::engine_suite_tests!(@cases [$(#[$attr])*] $factory;
            fallback_fetch_applies_a_missing_user,
            fallback_single_flight,
            fallback_not_found_is_cached_briefly,
            fallback_clerk_down_is_an_error_not_not_found,
            resync_updates_and_tombstones,
            reconcile_exact_counts_on_a_drift,
            reconcile_dry_run_changes_nothing,
            reconcile_force_rewrites_every_row,
            reconcile_mass_deletion_guard,
            reconcile_one_at_a_time,
            reconcile_pages_while_users_change,
            reconcile_races_webhooks,
            reconcile_stays_within_the_rate_limit,
            reconcile_wrong_key_or_garbage_changes_nothing,
            backfill_resumes_after_a_failure,
            user_sync_health_counts,
            outbound_each_operation_end_to_end,
            outbound_retries_transient_failures,
            outbound_permanent_failure_then_retry_failed,
            outbound_exhausted_attempts_then_retry_failed,
            outbound_ambiguous_create_makes_one_user,
            outbound_create_links_an_existing_email,
            outbound_stalled_worker_cannot_settle,
            outbound_shutdown_loses_nothing,
            outbound_workers_send_each_change_once_in_order,
        );
    };
    (@cases $attrs:tt $factory:expr; $($case:ident),* $(,)?) => {
        $(
            $crate::engine_suite_tests!(@one $attrs $factory; $case);
        )*
    };
    (@one [$(#[$attr:meta])*] $factory:expr; $case:ident) => {
        #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
        $(#[$attr])*
        async fn $case() {
            $crate::engine_suite::$case($factory).await;
        }
    };
}

/// A client of `fake` for tests: a generous budget (FakeClerk's own limit is off unless a
/// case sets one) and quick retries, so cases stay fast.
pub fn test_client(fake: &FakeClerk) -> ClerkApi {
    ClerkApi::new(fake.secret_key())
        .and_then(|api| api.with_base_url(fake.base_url()))
        .map(|api| {
            api.with_rate_limit(
                RateLimit::new(10_000, Duration::from_secs(10)).expect("a valid budget"),
            )
            .with_retry_policy(
                RetryPolicy::default()
                    .max_attempts(4)
                    .initial_backoff(Duration::from_millis(5))
                    .max_backoff(Duration::from_millis(50))
                    .max_elapsed(Duration::from_secs(5)),
            )
            .with_request_timeout(Duration::from_secs(5))
        })
        .expect("a client of FakeClerk")
}

/// An engine over `store` that takes `fake`'s webhooks and calls its Backend API.
pub fn engine_for<S: SyncStore + 'static>(store: S, fake: &FakeClerk) -> SyncEngine<S> {
    let verifier = WebhookVerifier::new(fake.webhook_secret()).expect("FakeClerk's secret");
    SyncEngine::new(store, verifier).with_clerk_api(test_client(fake))
}

/// Deliver FakeClerk's queued webhooks to the engine, in order.
pub async fn deliver_all<S: SyncStore + ?Sized>(
    engine: &SyncEngine<S>,
    webhooks: Vec<SignedWebhook>,
) -> Vec<ProcessOutcome> {
    let mut outcomes = Vec::with_capacity(webhooks.len());
    for webhook in webhooks {
        let outcome = engine
            .process_webhook(&webhook.webhook_headers(), webhook.body.as_bytes())
            .await
            .unwrap_or_else(|e| panic!("delivering {}: {e}", webhook.event_type));
        outcomes.push(outcome);
    }
    outcomes
}

/// Every row, tombstones included, by local id.
pub async fn all_rows<S: UserStore + ?Sized>(store: &S) -> Vec<LocalUser> {
    let mut rows = Vec::new();
    let mut query = UserQuery::new(1000);
    query.include_deleted = true;
    loop {
        let page = store.list_users(&query).await.expect("list_users");
        let Some(last) = page.last() else { break };
        query.after_id = Some(last.id);
        rows.extend(page);
    }
    rows
}

/// Every live row with a Clerk id: `(clerk_id, clerk_updated_at)`, sorted.
pub async fn live_versions<S: UserStore + ?Sized>(store: &S) -> Vec<(String, Option<i64>)> {
    let mut versions: Vec<(String, Option<i64>)> = all_rows(store)
        .await
        .into_iter()
        .filter(|u| !u.is_deleted())
        .filter_map(|u| u.clerk_id.map(|id| (id, u.clerk_updated_at)))
        .collect();
    versions.sort();
    versions
}

/// FakeClerk's users as `(id, updated_at)`, sorted.
pub fn clerk_versions(fake: &FakeClerk) -> Vec<(String, Option<i64>)> {
    let mut versions: Vec<(String, Option<i64>)> = fake
        .users()
        .into_iter()
        .map(|u| (u.id, Some(u.updated_at)))
        .collect();
    versions.sort();
    versions
}
