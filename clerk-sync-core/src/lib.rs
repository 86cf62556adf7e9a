//! clerk-sync core (skeleton while the workspace is being built).
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod event;
pub mod jwt;
pub mod memory;
pub mod store;
pub mod sync;
pub mod webhook;
