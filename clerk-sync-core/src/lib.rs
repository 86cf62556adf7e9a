//! clerk-sync core (skeleton while the workspace is being built).
pub mod webhook;
pub mod event;
pub mod jwt;
pub mod store;
pub mod sync;
pub mod memory;
#[cfg(feature = "conformance")]
pub mod conformance;
