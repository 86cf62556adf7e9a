//! Sets `cfg(clerk_sync_postgres)` and `cfg(clerk_sync_mysql)` when the tests for those
//! databases can run, so that without `CLERK_SYNC_TEST_POSTGRES_URL` /
//! `CLERK_SYNC_TEST_MYSQL_URL` they show as *ignored* in the summary instead of passing
//! silently. Under `CI=true` they always run: there a missing URL fails them, since CI must
//! never pass by testing nothing.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(clerk_sync_postgres)");
    println!("cargo::rustc-check-cfg=cfg(clerk_sync_mysql)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=CI");
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    for (var, cfg) in [
        ("CLERK_SYNC_TEST_POSTGRES_URL", "clerk_sync_postgres"),
        ("CLERK_SYNC_TEST_MYSQL_URL", "clerk_sync_mysql"),
    ] {
        println!("cargo::rerun-if-env-changed={var}");
        let set = std::env::var(var).is_ok_and(|url| !url.is_empty());
        if set || ci {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}
