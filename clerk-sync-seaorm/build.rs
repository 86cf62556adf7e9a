//! Which database servers the tests run on.
//!
//! `cfg(clerk_sync_postgres)` and `cfg(clerk_sync_mysql)` are set when
//! `CLERK_SYNC_TEST_POSTGRES_URL` / `CLERK_SYNC_TEST_MYSQL_URL` is set, so the tests of a server
//! without a URL compile as `#[ignore]`d and show as ignored rather than as passed. Under
//! `CI=true` both are always set: a missing URL then fails its tests instead of hiding them.

fn main() {
    println!("cargo:rustc-check-cfg=cfg(clerk_sync_postgres)");
    println!("cargo:rustc-check-cfg=cfg(clerk_sync_mysql)");
    println!("cargo:rerun-if-changed=build.rs");
    let set = |var: &str| {
        println!("cargo:rerun-if-env-changed={var}");
        std::env::var(var).is_ok_and(|v| !v.is_empty())
    };
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    println!("cargo:rerun-if-env-changed=CI");
    if set("CLERK_SYNC_TEST_POSTGRES_URL") || ci {
        println!("cargo:rustc-cfg=clerk_sync_postgres");
    }
    if set("CLERK_SYNC_TEST_MYSQL_URL") || ci {
        println!("cargo:rustc-cfg=clerk_sync_mysql");
    }
}
