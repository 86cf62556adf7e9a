//! The store conformance suite (`clerk_sync_core::conformance`) on SQLite, PostgreSQL and
//! MySQL/MariaDB: one test per case and database, each store in its own database or schema.

mod common;

/// One `#[tokio::test]` per conformance case for `$db`, skipped (or failed under `CI=true`)
/// when the database's URL variable is unset. The core macro cannot skip, hence this copy of
/// its case list.
macro_rules! conformance_on {
    ($db:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                if crate::common::url($db).is_none() {
                    return;
                }
                clerk_sync_core::conformance::$case(|| crate::common::fresh($db)).await;
            }
        )*
    };
}

macro_rules! all_cases {
    ($db:expr) => {
        conformance_on!($db;
            user_round_trip,
            version_guard,
            inbound_upsert_sync_status,
            tombstones_are_terminal,
            apply_batch_follows_upsert_rules,
            email_linking,
            email_linking_concurrent,
            link_clerk_id,
            find_and_list_users,
            scan_versions_pages,
            counts_by_status,
            record_sync_error,
            ledger_dedupe,
            ledger_prune,
            apply_inbound_ledgers_and_dedupes,
            outbox_enqueue,
            outbox_claims_are_exclusive,
            outbox_claim_lease_expiry,
            outbox_per_user_order,
            outbox_due_and_limit,
            outbox_complete,
            outbox_fail_and_give_up,
            lease_exclusive_and_expiry,
            lease_concurrent_acquire,
            run_log,
            permutation_property,
            concurrent_histories,
            webhook_permutation_property,
            webhook_concurrent_deliveries,
            webhook_hooks_rerun_until_processed,
        );
    };
}

mod sqlite {
    all_cases!(crate::common::Db::Sqlite);
}

mod postgres {
    all_cases!(crate::common::Db::Postgres);
}

mod mysql {
    all_cases!(crate::common::Db::Mysql);
}
