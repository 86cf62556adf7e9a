//! benches: what the bench targets share.
//!
//! - [`http_load`]: the HTTP load generator, criterion groups and interleaved rounds of the
//!   route and service benches (`axum_routes`, `actix_routes`, `service_webhooks`), so that
//!   every server is measured the same way.

pub mod http_load;
