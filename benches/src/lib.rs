//! benches: what the bench targets share.
//!
//! - [`http_load`]: the HTTP load generator and interleaved rounds of the adapters' route
//!   benches (`axum_routes`, `actix_routes`), so that both frameworks are measured the same
//!   way.

pub mod http_load;
