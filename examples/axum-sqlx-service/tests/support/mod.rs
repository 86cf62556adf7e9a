//! The axum service's test support: the shared process harness of the reference services
//! (`service-common/test-support/process.rs`) for this binary.

#![allow(dead_code, unreachable_pub)]

pub const BIN: &str = env!("CARGO_BIN_EXE_axum-sqlx-service");
const TEMP_TAG: &str = "axum-svc";
/// Every schema or database made here starts with this and the process id, so that a later
/// run can drop what a crashed run left behind.
const DB_PREFIX: &str = "clerk_svc_t_";

#[path = "../../../service-common/test-support/process.rs"]
mod process;

pub use process::*;
