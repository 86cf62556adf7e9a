//! Sets `cfg(clerk_sync_mysql)` when the MariaDB tests can run, so that without
//! `CLERK_SYNC_TEST_MYSQL_URL` they show as *ignored* in the summary instead of passing
//! silently. Under `CI=true` they always run: there a missing URL fails them, since CI must
//! never pass by testing nothing.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(clerk_sync_mysql)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rerun-if-env-changed=CLERK_SYNC_TEST_MYSQL_URL");
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let set = std::env::var("CLERK_SYNC_TEST_MYSQL_URL").is_ok_and(|url| !url.is_empty());
    if set || ci {
        println!("cargo::rustc-cfg=clerk_sync_mysql");
    }
}
