//! The store conformance suite, run against the reference in-memory store.

use clerk_sync_core::memory::MemoryStore;

async fn fresh_store() -> MemoryStore {
    MemoryStore::new()
}

clerk_sync_core::store_conformance_tests!(fresh_store);

/// `run_all` is the other public way to run the suite; it must work too.
#[tokio::test]
async fn run_all_passes_on_a_current_thread_runtime() {
    clerk_sync_core::conformance::run_all(|| async { MemoryStore::new() }).await;
}
