//! The HTTP contract suite (feature `contract`): the checks every clerk-sync server passes,
//! spoken over HTTP to a base URL.
//!
//! It plays for servers the role `clerk_sync_core::conformance` plays for stores. The axum
//! and actix-web adapters run it against their routers served on an ephemeral port, and the
//! reference services against their processes. Each check is an `async fn` taking a
//! [`ContractContext`]: the server's base URL, the [`FakeClerk`] it was configured with, its
//! admin key, its webhook body limit and, when the server runs in-process, an [`Outage`]
//! switch for its database. A check panics with a message that names the broken rule.
//!
//! The route table these checks pin is in `docs/http.md`.
//!
//! # Configuring the server under test
//!
//! For each context, start a fresh server (an empty database) configured with:
//!
//! - the webhook secret [`FakeClerk::webhook_secret`];
//! - session tokens verified with [`FakeClerk::jwt_public_key_pem`] (or its JWKS);
//! - the Backend API at [`FakeClerk::base_url`] with [`FakeClerk::secret_key`], with few
//!   retries (the Clerk-unavailable checks wait for them);
//! - the admin key given to [`ContractContext::new`];
//! - a metrics renderer (any Prometheus text);
//! - no outbound worker or scheduled reconcile running during the checks.
//!
//! # Running it
//!
//! [`http_contract_tests!`](crate::http_contract_tests) expands to one `#[tokio::test]` per
//! check, so failures are reported per check:
//!
//! ```ignore
//! async fn setup() -> ContractContext {
//!     let fake = FakeClerk::start().await;
//!     let base_url = start_my_server(&fake).await; // an empty database, configured as above
//!     ContractContext::new(base_url, fake, "admin-key")
//! }
//!
//! clerk_sync_testing::http_contract_tests!(setup);
//! ```
//!
//! Attributes after the setup expression go on every generated test, e.g.
//! `http_contract_tests!(setup, #[ignore = "needs PostgreSQL"])`.

use std::any::Any;
use std::future::Future;
use std::time::Duration;

use clerk_sync_core::http::DEFAULT_WEBHOOK_BODY_LIMIT;

use crate::FakeClerk;

mod admin;
mod client;
mod outage;
mod service;
mod session;
mod webhooks;

pub use admin::{
    admin_bad_query_is_400, admin_counts, admin_create_user, admin_delete_user,
    admin_events_without_payloads, admin_get_user, admin_invite, admin_list_users,
    admin_reconcile_dry_run_then_apply, admin_reconcile_while_running_is_409, admin_resync,
    admin_retry_failed, admin_runs, admin_update_user, admin_without_key_is_401,
    admin_wrong_key_is_403,
};
pub use outage::{Outage, OutageStore};
pub use service::{
    dashboard_is_self_contained_html, health_reports_the_database, metrics_is_prometheus_text,
    request_id_is_kept_or_generated, unknown_route_is_404_json, user_sync_health_counts,
};
pub use session::{
    me_clerk_unavailable_is_503, me_fetches_a_user_only_clerk_knows, me_reads_the_session_cookie,
    me_unknown_to_clerk_is_404, me_with_an_invalid_token_is_401, me_without_a_token_is_401,
};
pub use webhooks::{
    webhook_applied_then_duplicate, webhook_bad_signature_is_401, webhook_ignored_is_200,
    webhook_missing_headers_is_400, webhook_old_timestamp_is_401, webhook_over_limit_is_413,
    webhook_stale_is_200, webhook_store_failure_is_503,
};

/// What the checks need to know about one server under test.
///
/// Build one per check (each check expects an empty database) with [`ContractContext::new`]
/// and the `with_*` methods.
pub struct ContractContext {
    base_url: String,
    fake: FakeClerk,
    admin_key: String,
    webhook_body_limit: usize,
    outage: Option<Outage>,
    client: reqwest::Client,
    guards: Vec<Box<dyn Any + Send + Sync>>,
}

impl ContractContext {
    /// A server at `base_url` (e.g. `http://127.0.0.1:43567`, no trailing slash), configured
    /// with `fake` and `admin_key` as the [module docs](self) say, and the default 1 MiB
    /// webhook body limit.
    ///
    /// # Panics
    ///
    /// When no HTTP client can be built (no TLS backend in the process).
    pub fn new(base_url: impl Into<String>, fake: FakeClerk, admin_key: impl Into<String>) -> Self {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap_or_else(|error| panic!("contract: no HTTP client: {error}"));
        ContractContext {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            fake,
            admin_key: admin_key.into(),
            webhook_body_limit: DEFAULT_WEBHOOK_BODY_LIMIT,
            outage: None,
            client,
            guards: Vec::new(),
        }
    }

    /// The server refuses webhook bodies over `limit` bytes.
    #[must_use]
    pub fn with_webhook_body_limit(mut self, limit: usize) -> Self {
        self.webhook_body_limit = limit;
        self
    }

    /// The server's store is wrapped by `outage` ([`Outage::wrap`]): the checks of the 503
    /// paths run. Without it they are skipped (and say so on stderr).
    #[must_use]
    pub fn with_outage(mut self, outage: Outage) -> Self {
        self.outage = Some(outage);
        self
    }

    /// Keep `guard` alive as long as the context: the server's task, a child process, a
    /// temporary database.
    #[must_use]
    pub fn keep_alive(mut self, guard: impl Any + Send + Sync) -> Self {
        self.guards.push(Box::new(guard));
        self
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The FakeClerk the server talks to.
    pub fn fake(&self) -> &FakeClerk {
        &self.fake
    }

    /// The admin key the server accepts.
    pub fn admin_key(&self) -> &str {
        &self.admin_key
    }

    /// The webhook body limit the server enforces.
    pub fn webhook_body_limit(&self) -> usize {
        self.webhook_body_limit
    }

    /// The database outage switch, when the server's store is wrapped.
    pub fn outage(&self) -> Option<&Outage> {
        self.outage.as_ref()
    }

    /// The outage switch, or `None` after saying on stderr that `check` is skipped.
    pub(crate) fn outage_or_skip(&self, check: &str) -> Option<&Outage> {
        if self.outage.is_none() {
            eprintln!("contract: {check} skipped: the context has no Outage switch");
        }
        self.outage.as_ref()
    }
}

impl std::fmt::Debug for ContractContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContractContext")
            .field("base_url", &self.base_url)
            .field("webhook_body_limit", &self.webhook_body_limit)
            .field("outage", &self.outage.is_some())
            .finish_non_exhaustive()
    }
}

/// Run every check one after another, each against a fresh context from `setup`.
///
/// Prefer [`http_contract_tests!`](crate::http_contract_tests), which reports each check as
/// its own test.
pub async fn run_all<F, Fut>(setup: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ContractContext>,
{
    macro_rules! each {
        ($($check:ident),* $(,)?) => {
            $( $check(&setup().await).await; )*
        };
    }
    each!(
        webhook_applied_then_duplicate,
        webhook_stale_is_200,
        webhook_ignored_is_200,
        webhook_missing_headers_is_400,
        webhook_bad_signature_is_401,
        webhook_old_timestamp_is_401,
        webhook_over_limit_is_413,
        webhook_store_failure_is_503,
        me_without_a_token_is_401,
        me_with_an_invalid_token_is_401,
        me_fetches_a_user_only_clerk_knows,
        me_reads_the_session_cookie,
        me_unknown_to_clerk_is_404,
        me_clerk_unavailable_is_503,
        admin_without_key_is_401,
        admin_wrong_key_is_403,
        admin_get_user,
        admin_list_users,
        admin_bad_query_is_400,
        admin_create_user,
        admin_invite,
        admin_update_user,
        admin_delete_user,
        admin_resync,
        admin_reconcile_dry_run_then_apply,
        admin_reconcile_while_running_is_409,
        admin_retry_failed,
        admin_events_without_payloads,
        admin_runs,
        admin_counts,
        health_reports_the_database,
        user_sync_health_counts,
        metrics_is_prometheus_text,
        dashboard_is_self_contained_html,
        unknown_route_is_404_json,
        request_id_is_kept_or_generated,
    );
}

/// Expand to one `#[tokio::test]` per check of the HTTP contract suite, each calling `setup`
/// (an expression of type `Fn() -> impl Future<Output = ContractContext>`) for a fresh
/// server.
///
/// The calling crate needs `tokio` (features `macros`, `rt-multi-thread`) as a
/// dev-dependency. Attributes written after the setup expression are put on every test:
///
/// ```ignore
/// mod memory {
///     clerk_sync_testing::http_contract_tests!(super::setup_memory);
/// }
/// mod postgres {
///     clerk_sync_testing::http_contract_tests!(
///         super::setup_postgres,
///         #[cfg_attr(not(has_postgres), ignore = "set DATABASE_URL")]
///     );
/// }
/// ```
#[macro_export]
macro_rules! http_contract_tests {
    ($setup:expr $(, #[$attr:meta])* $(,)?) => {
        $crate::http_contract_tests!(@checks [$(#[$attr])*] $setup;
            webhook_applied_then_duplicate,
            webhook_stale_is_200,
            webhook_ignored_is_200,
            webhook_missing_headers_is_400,
            webhook_bad_signature_is_401,
            webhook_old_timestamp_is_401,
            webhook_over_limit_is_413,
            webhook_store_failure_is_503,
            me_without_a_token_is_401,
            me_with_an_invalid_token_is_401,
            me_fetches_a_user_only_clerk_knows,
            me_reads_the_session_cookie,
            me_unknown_to_clerk_is_404,
            me_clerk_unavailable_is_503,
            admin_without_key_is_401,
            admin_wrong_key_is_403,
            admin_get_user,
            admin_list_users,
            admin_bad_query_is_400,
            admin_create_user,
            admin_invite,
            admin_update_user,
            admin_delete_user,
            admin_resync,
            admin_reconcile_dry_run_then_apply,
            admin_reconcile_while_running_is_409,
            admin_retry_failed,
            admin_events_without_payloads,
            admin_runs,
            admin_counts,
            health_reports_the_database,
            user_sync_health_counts,
            metrics_is_prometheus_text,
            dashboard_is_self_contained_html,
            unknown_route_is_404_json,
            request_id_is_kept_or_generated,
        );
    };
    (@checks $attrs:tt $setup:expr; $($check:ident),* $(,)?) => {
        $( $crate::http_contract_tests!(@one $attrs $setup; $check); )*
    };
    (@one [$(#[$attr:meta])*] $setup:expr; $check:ident) => {
        $(#[$attr])*
        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $check() {
            let context = ($setup)().await;
            $crate::contract::$check(&context).await;
        }
    };
}
