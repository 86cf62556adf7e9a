//! The behaviour suite every store must pass (feature `conformance`).
//!
//! Each case is a generic `async fn` that takes a [`StoreFactory`] (any `Fn() -> impl Future`
//! yielding a fresh, empty store), calls it as often as it needs stores, and panics with a
//! message naming the broken rule when the store disagrees with the documentation of the
//! [`crate::store`] traits. [`crate::memory::MemoryStore`] passes all of them.
//!
//! The easy way to run the suite is the [`store_conformance_tests!`](crate::store_conformance_tests)
//! macro, which expands to one `#[tokio::test]` per case, so failures are reported per case and
//! cases run in parallel:
//!
//! ```
//! // tests/conformance.rs of a store crate (needs `tokio` with `macros` and
//! // `rt-multi-thread` among its dev-dependencies).
//! # use clerk_sync_core::memory::MemoryStore as MyStore;
//! async fn fresh_store() -> MyStore {
//!     // A SQL store would create a new database or schema here on every call:
//!     // cases run in parallel, and the property cases ask for a fresh store per
//!     // generated history.
//!     MyStore::new()
//! }
//!
//! clerk_sync_core::store_conformance_tests!(fresh_store);
//! # fn main() {}
//! ```
//!
//! [`run_all`] runs every case one after another in a single test instead.
//!
//! Times given to stores are whole microseconds, as SQL stores keep them, and compared as
//! instants. Strings include unicode, quotes and 10,000-character values (emails stay within
//! the schema's 320 characters, Clerk ids within 255). The property cases generate
//! `CLERK_SYNC_CONFORMANCE_CASES` histories each (default 24).

use std::future::Future;

use time::OffsetDateTime;

use crate::store::{
    ClerkUserRecord, LocalChange, LocalUser, OutboxStore, SyncStatus, SyncStore, UserProfile,
    UserStore,
};

mod history;
mod ledger;
mod outbox;
mod runs;
mod saturation;
mod users;
mod webhooks;

pub use history::{concurrent_histories, permutation_property};
pub use ledger::{apply_inbound_ledgers_and_dedupes, ledger_dedupe, ledger_prune, ledger_recent};
pub use outbox::{
    outbox_claim_lease_expiry, outbox_claims_are_exclusive, outbox_complete,
    outbox_dead_letters_revive, outbox_due_and_limit, outbox_due_count, outbox_enqueue,
    outbox_fail_and_give_up, outbox_per_user_order, outbox_stale_claim_cannot_settle,
};
pub use runs::{lease_concurrent_acquire, lease_exclusive_and_expiry, run_log};
pub use saturation::times_saturate;
pub use users::{
    apply_batch_follows_upsert_rules, apply_batch_repeated_ids, counts_by_status, email_linking,
    email_linking_concurrent, find_and_list_users, inbound_upsert_sync_status, link_clerk_id,
    record_sync_error, rewrite_same_version, scan_versions_byte_order, scan_versions_pages,
    tombstones_are_terminal, user_round_trip, version_guard, versions_of_ids,
};
pub use webhooks::{
    webhook_concurrent_deliveries, webhook_hooks_rerun_until_processed,
    webhook_permutation_property,
};

/// Something that makes a fresh, empty store each time it is called.
///
/// Implemented for every `Fn() -> impl Future<Output = S>`, e.g. `|| async { MyStore::new() }`
/// or `async || make_store().await`, and for references to those. Each case names the store
/// traits it needs: most need a whole [`SyncStore`], the inbound cases only an
/// [`InboundStore`](crate::store::InboundStore).
pub trait StoreFactory {
    /// The store type made.
    type Store: Send + Sync + 'static;

    /// A fresh, empty store, not shared with any store made before.
    fn make(&self) -> impl Future<Output = Self::Store>;
}

impl<F, Fut, S> StoreFactory for F
where
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
    S: Send + Sync + 'static,
{
    type Store = S;

    fn make(&self) -> impl Future<Output = S> {
        self()
    }
}

/// Run every case against stores from `factory`, one after another.
///
/// Prefer [`store_conformance_tests!`](crate::store_conformance_tests), which reports each case
/// as its own test.
pub async fn run_all<F, Fut, S>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
    S: SyncStore + 'static,
{
    user_round_trip(&factory).await;
    version_guard(&factory).await;
    inbound_upsert_sync_status(&factory).await;
    tombstones_are_terminal(&factory).await;
    apply_batch_follows_upsert_rules(&factory).await;
    apply_batch_repeated_ids(&factory).await;
    rewrite_same_version(&factory).await;
    versions_of_ids(&factory).await;
    email_linking(&factory).await;
    email_linking_concurrent(&factory).await;
    link_clerk_id(&factory).await;
    find_and_list_users(&factory).await;
    scan_versions_pages(&factory).await;
    scan_versions_byte_order(&factory).await;
    counts_by_status(&factory).await;
    record_sync_error(&factory).await;
    ledger_dedupe(&factory).await;
    ledger_prune(&factory).await;
    ledger_recent(&factory).await;
    apply_inbound_ledgers_and_dedupes(&factory).await;
    outbox_enqueue(&factory).await;
    outbox_claims_are_exclusive(&factory).await;
    outbox_claim_lease_expiry(&factory).await;
    outbox_per_user_order(&factory).await;
    outbox_due_and_limit(&factory).await;
    outbox_complete(&factory).await;
    outbox_fail_and_give_up(&factory).await;
    outbox_stale_claim_cannot_settle(&factory).await;
    outbox_dead_letters_revive(&factory).await;
    outbox_due_count(&factory).await;
    lease_exclusive_and_expiry(&factory).await;
    lease_concurrent_acquire(&factory).await;
    run_log(&factory).await;
    times_saturate(&factory).await;
    permutation_property(&factory).await;
    concurrent_histories(&factory).await;
    webhook_permutation_property(&factory).await;
    webhook_concurrent_deliveries(&factory).await;
    webhook_hooks_rerun_until_processed(&factory).await;
}

/// Expand to one `#[tokio::test]` per conformance case, each calling the given factory.
///
/// The argument is an expression implementing
/// [`StoreFactory`](crate::conformance::StoreFactory): a function name, or a closure such as
/// `|| async { MyStore::connect(url).await }`. It is evaluated once per test. The calling crate
/// needs `tokio` (features `macros`, `rt-multi-thread`) as a dev-dependency. Wrap the call in a
/// `mod` to group the tests; paths in the factory expression resolve at the call site.
///
/// ```
/// # use clerk_sync_core::memory::MemoryStore as MyStore;
/// clerk_sync_core::store_conformance_tests!(|| async { MyStore::new() });
/// # fn main() {}
/// ```
///
/// Attributes after the factory go on every generated test, e.g. to show the whole suite as
/// ignored when its database is not configured:
///
/// ```
/// # use clerk_sync_core::memory::MemoryStore as MyStore;
/// clerk_sync_core::store_conformance_tests!(
///     || async { MyStore::new() },
///     #[cfg_attr(not(my_database), ignore = "set MY_DATABASE_URL")]
/// );
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! store_conformance_tests {
    ($factory:expr $(, #[$attr:meta])* $(,)?) => {
        $crate::store_conformance_tests!(@cases [$(#[$attr])*] $factory;
            user_round_trip,
            version_guard,
            inbound_upsert_sync_status,
            tombstones_are_terminal,
            apply_batch_follows_upsert_rules,
            apply_batch_repeated_ids,
            rewrite_same_version,
            versions_of_ids,
            email_linking,
            email_linking_concurrent,
            link_clerk_id,
            find_and_list_users,
            scan_versions_pages,
            scan_versions_byte_order,
            counts_by_status,
            record_sync_error,
            ledger_dedupe,
            ledger_prune,
            ledger_recent,
            apply_inbound_ledgers_and_dedupes,
            outbox_enqueue,
            outbox_claims_are_exclusive,
            outbox_claim_lease_expiry,
            outbox_per_user_order,
            outbox_due_and_limit,
            outbox_complete,
            outbox_fail_and_give_up,
            outbox_stale_claim_cannot_settle,
            outbox_dead_letters_revive,
            outbox_due_count,
            lease_exclusive_and_expiry,
            lease_concurrent_acquire,
            run_log,
            times_saturate,
            permutation_property,
            concurrent_histories,
            webhook_permutation_property,
            webhook_concurrent_deliveries,
            webhook_hooks_rerun_until_processed,
        );
    };
    (@cases $attrs:tt $factory:expr; $($case:ident),* $(,)?) => {
        $(
            $crate::store_conformance_tests!(@one $attrs $factory; $case);
        )*
    };
    (@one [$(#[$attr:meta])*] $factory:expr; $case:ident) => {
        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        $(#[$attr])*
        async fn $case() {
            $crate::conformance::$case($factory).await;
        }
    };
}

/// Expand to one `#[tokio::test]` per case that an inbound-only store can run: a store of the
/// application's own tables that implements [`UserStore`], [`LedgerStore`] and
/// [`InboundStore`](crate::store::InboundStore) but no outbox, lease or run log.
///
/// Cases that need local rows without a Clerk id (email linking) are left out: only the outbox
/// creates those.
///
/// ```
/// # use clerk_sync_core::memory::MemoryStore as MyInboundStore;
/// clerk_sync_core::inbound_conformance_tests!(|| async { MyInboundStore::new() });
/// # fn main() {}
/// ```
///
/// [`LedgerStore`]: crate::store::LedgerStore
#[macro_export]
macro_rules! inbound_conformance_tests {
    ($factory:expr $(, #[$attr:meta])* $(,)?) => {
        $crate::store_conformance_tests!(@cases [$(#[$attr])*] $factory;
            user_round_trip,
            version_guard,
            tombstones_are_terminal,
            apply_batch_repeated_ids,
            rewrite_same_version,
            versions_of_ids,
            scan_versions_byte_order,
            record_sync_error,
            ledger_dedupe,
            ledger_prune,
            ledger_recent,
            permutation_property,
            concurrent_histories,
            webhook_permutation_property,
            webhook_concurrent_deliveries,
            webhook_hooks_rerun_until_processed,
        );
    };
}

/// A fixed instant with a microsecond part, so that stores which drop sub-second precision fail.
fn base_time() -> OffsetDateTime {
    time::macros::datetime!(2026-03-01 12:00:00.123456 UTC)
}

/// `base_time()` plus `secs` seconds.
fn t(secs: i64) -> OffsetDateTime {
    base_time() + time::Duration::seconds(secs)
}

/// A Clerk record with only the required fields and a plausible raw JSON.
fn record(clerk_id: &str, version: i64) -> ClerkUserRecord {
    let raw = serde_json::json!({ "id": clerk_id, "object": "user", "updated_at": version });
    ClerkUserRecord::new(clerk_id, version, raw.to_string())
}

/// `record` with a primary email, verified (so it may link) or not.
fn record_with_email(clerk_id: &str, version: i64, email: &str, verified: bool) -> ClerkUserRecord {
    let mut r = record(clerk_id, version);
    r.email = Some(email.to_owned());
    r.link_email = verified.then(|| email.to_owned());
    r
}

/// A local row created through the outbox, as an application would; its id.
async fn local_row<S: OutboxStore + ?Sized>(store: &S, email: &str, secs: i64) -> i64 {
    let profile = UserProfile {
        email: Some(email.to_owned()),
        ..UserProfile::default()
    };
    store
        .enqueue_local_change(&LocalChange::Create(profile), t(secs))
        .await
        .expect("enqueue_local_change")
        .user
        .id
}

/// The parts of a row that must not depend on delivery order or on the local clock: everything
/// but `id`, `created_at`, `updated_at` and `last_sync_attempt`.
#[derive(Debug, Clone, PartialEq)]
struct Projection {
    clerk_id: Option<String>,
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    username: Option<String>,
    image_url: Option<String>,
    external_id: Option<String>,
    public_metadata: Option<serde_json::Value>,
    raw_json: Option<serde_json::Value>,
    clerk_updated_at: Option<i64>,
    sync_status: SyncStatus,
    sync_error: Option<String>,
    deleted_at: Option<OffsetDateTime>,
}

impl Projection {
    fn of(user: &LocalUser) -> Self {
        Projection {
            clerk_id: user.clerk_id.clone(),
            email: user.email.clone(),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            username: user.username.clone(),
            image_url: user.image_url.clone(),
            external_id: user.external_id.clone(),
            public_metadata: user.public_metadata.clone(),
            raw_json: user.raw_json.clone(),
            clerk_updated_at: user.clerk_updated_at,
            sync_status: user.sync_status,
            sync_error: user.sync_error.clone(),
            deleted_at: user.deleted_at,
        }
    }
}

/// Every row (tombstones included) of `store`, projected, sorted by `clerk_id`.
async fn snapshot<S: UserStore + ?Sized>(store: &S) -> Vec<Projection> {
    let mut rows = Vec::new();
    let mut query = crate::store::UserQuery::new(500);
    query.include_deleted = true;
    loop {
        let page = store.list_users(&query).await.expect("list_users");
        let Some(last) = page.last() else { break };
        query.after_id = Some(last.id);
        rows.extend(page.iter().map(Projection::of));
    }
    rows.sort_by(|a, b| a.clerk_id.cmp(&b.clerk_id));
    rows
}

/// The row for `clerk_id`, which the case expects to exist.
async fn must_get<S: UserStore + ?Sized>(store: &S, clerk_id: &str) -> LocalUser {
    store
        .get_user(clerk_id)
        .await
        .expect("get_user")
        .unwrap_or_else(|| panic!("no row for {clerk_id}"))
}

/// The row with local id `id`, which the case expects to exist.
async fn must_get_by_id<S: UserStore + ?Sized>(store: &S, id: i64) -> LocalUser {
    store
        .get_user_by_id(id)
        .await
        .expect("get_user_by_id")
        .unwrap_or_else(|| panic!("no row with id {id}"))
}

/// How many generated histories each property case checks.
fn property_cases() -> u32 {
    std::env::var("CLERK_SYNC_CONFORMANCE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24)
}
