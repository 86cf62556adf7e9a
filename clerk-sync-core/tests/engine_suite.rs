//! The engine behaviour suite (recovery paths and outbound worker) on the reference store,
//! against FakeClerk.

use clerk_sync_core::memory::MemoryStore;

clerk_sync_testing::engine_suite_tests!(|| async { MemoryStore::new() });
