//! The main job on an embedded default: verify Clerk webhooks and keep a local user table in
//! step, in a SQLite file.
//!
//! ```text
//! cargo run -p clerk-sync-sqlx --example quickstart
//! ```
//!
//! It signs Clerk's documented `user.created` payload as Svix would and delivers four webhooks
//! to a `SyncEngine` over `SqlxStore`, printing what each did, then the stored row:
//!
//! 1. `user.created` (version `v`, Clerk's `updated_at`): `Applied`, the user is inserted;
//! 2. the same delivery again, same `svix-id`: `Duplicate`, nothing is written;
//! 3. a `user.updated` at `v` + 2 s: `Applied`, the row takes the newer version;
//! 4. a `user.updated` at `v` + 1 s, arriving late: `Stale`, the row keeps `v` + 2 s.
//!
//! Every run uses new `svix-id`s, so a second run against the same database file goes past the
//! ledger to the version guard: the row already holds `v` + 2 s, so deliveries 1, 3 and 4 are
//! `Stale` and 2 is again `Duplicate`. Delete the file to start over.
//!
//! Environment (all optional):
//! - `DATABASE_URL`: defaults to `sqlite:clerk-sync-quickstart.db` (a file in the current
//!   directory, created when missing); `postgres://...` and `mysql://...` work too.
//! - `CLERK_WEBHOOK_SECRET`: your `whsec_...` signing secret; defaults to a throwaway one.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clerk_sync_core::event::{ClerkEvent, WebhookEvent};
use clerk_sync_core::store::{LocalUser, UserStore};
use clerk_sync_core::sync::SyncEngine;
use clerk_sync_core::webhook::{WebhookHeaders, WebhookVerifier};
use clerk_sync_sqlx::SqlxStore;

/// Clerk's documented `user.created` example payload.
const USER_CREATED: &str =
    include_str!("../../clerk-sync-core/tests/fixtures/events/user_created.json");
const DEFAULT_DATABASE_URL: &str = "sqlite:clerk-sync-quickstart.db";
const DEMO_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // Display, with its causes: what went wrong, never a struct dump.
            eprintln!("error: {err}");
            let mut source = err.source();
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let database_url =
        std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned());
    let secret = std::env::var("CLERK_WEBHOOK_SECRET").unwrap_or_else(|_| DEMO_SECRET.to_owned());

    // The secret first: a wrong one should not wait for a database connection to be noticed.
    let verifier = WebhookVerifier::new(&secret).map_err(|err| {
        format!(
            "CLERK_WEBHOOK_SECRET is not a webhook signing secret: {err}. Copy it from the \
             webhook endpoint's page in the Clerk dashboard; it has the form whsec_<base64>"
        )
    })?;
    // The three-line setup: connect, migrate, build the engine.
    let store = SqlxStore::connect(&database_url).await?;
    store.migrate().await?;
    let engine = SyncEngine::new(store, verifier.clone());
    println!("database  {}", redact(&database_url));

    let user_id = "user_29w83sxmDNGwOuEthce5gg56FcC";
    // What the engine sees after the signature checks out: a typed event.
    let parsed = WebhookEvent::parse(USER_CREATED.as_bytes())?;
    if let ClerkEvent::UserCreated(user) = &parsed.data {
        let primary = user.primary_email();
        println!(
            "parsed    {} at {}: {} <{}> verified={} updated_at={}",
            parsed.event_type,
            parsed.timestamp(),
            user.id,
            primary.map_or("-", |e| e.email_address.as_str()),
            primary.is_some_and(|e| e.is_verified()),
            user.updated_at,
        );
    }
    let created: serde_json::Value = serde_json::from_str(USER_CREATED)?;
    let version = created["data"]["updated_at"].as_i64().unwrap_or_default();

    // Fresh svix-ids per run (to the nanosecond), so re-running the example against the same
    // file shows the version guard at work rather than only the ledger.
    let run = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let deliveries = [
        (
            format!("msg_{run}_created"),
            created.clone(),
            "user.created",
        ),
        (
            format!("msg_{run}_created"),
            created.clone(),
            "user.created again (same svix-id)",
        ),
        (
            format!("msg_{run}_newer"),
            with_version(&created, "user.updated", version + 2_000, "Newer"),
            "user.updated v+2s",
        ),
        (
            format!("msg_{run}_older"),
            with_version(&created, "user.updated", version + 1_000, "Older"),
            "user.updated v+1s, arriving late",
        ),
    ];
    for (svix_id, body, label) in deliveries {
        let body = serde_json::to_vec(&body)?;
        let now = now_unix();
        let signature = verifier.sign(&svix_id, now, &body);
        let timestamp = now.to_string();
        let headers = WebhookHeaders {
            id: &svix_id,
            timestamp: &timestamp,
            signature: &signature,
        };
        let outcome = engine.process_webhook(&headers, &body).await?;
        println!("delivered {label:<36} -> {}", outcome.as_str());
    }

    let row = engine
        .store()
        .get_user(user_id)
        .await?
        .ok_or("the user was not stored")?;
    print_row(&row);
    let counts = engine.store().count_by_status().await?;
    println!(
        "counts    synced={} pending={} failed={} deleted={}",
        counts.synced, counts.pending, counts.failed, counts.deleted
    );
    Ok(())
}

/// `body` as a `type` event carrying `first_name` and a new `updated_at` version.
fn with_version(
    body: &serde_json::Value,
    event_type: &str,
    updated_at: i64,
    first_name: &str,
) -> serde_json::Value {
    let mut body = body.clone();
    body["type"] = event_type.into();
    body["data"]["updated_at"] = updated_at.into();
    body["data"]["first_name"] = first_name.into();
    body
}

fn print_row(row: &LocalUser) {
    let or_dash = |value: Option<String>| value.unwrap_or_else(|| "-".to_owned());
    println!(
        "row       id={} clerk_id={} email={} first_name={} version={} sync_status={} last_sync_attempt={} sync_error={} deleted_at={}",
        row.id,
        row.clerk_id.as_deref().unwrap_or("-"),
        row.email.as_deref().unwrap_or("-"),
        row.first_name.as_deref().unwrap_or("-"),
        or_dash(row.clerk_updated_at.map(|v| v.to_string())),
        row.sync_status,
        or_dash(row.last_sync_attempt.map(|t| t.to_string())),
        row.sync_error.as_deref().unwrap_or("-"),
        or_dash(row.deleted_at.map(|t| t.to_string())),
    );
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The URL without its user, password and query string, for printing.
fn redact(url: &str) -> String {
    let url = url.split('?').next().unwrap_or_default();
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}
