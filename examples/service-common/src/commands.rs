//! The one-shot commands: `reconcile`, `backfill`, `resync`, `retry-failed`, `users` and
//! `send-test-webhook`. Their output goes to stdout; progress and logs to stderr.

use std::io::IsTerminal as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clerk_sync_core::store::{LocalUser, SyncStatus, SyncStore, UserQuery};
use clerk_sync_core::sync::{
    BackfillOptions, Phase, Progress, ProgressFn, ReconcileOptions, ReconcileReport, ResyncOutcome,
    SyncEngine,
};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::{
    BackfillArgs, ReconcileArgs, ResyncArgs, RetryFailedArgs, SendTestWebhookArgs, StatusFilter,
    UsersArgs,
};
use crate::config::Config;
use crate::error::ServiceError;

/// `reconcile [--dry-run] [--force] [--json]`: run a reconcile now and print its report.
///
/// # Errors
///
/// Clerk or the database failed, another replica is reconciling, or no `CLERK_SECRET_KEY`.
pub async fn reconcile(
    engine: &SyncEngine<dyn SyncStore>,
    args: &ReconcileArgs,
) -> Result<(), ServiceError> {
    let progress = ProgressReporter::new("reconcile");
    let report = engine
        .reconcile(ReconcileOptions {
            dry_run: args.dry_run,
            force: args.force,
            triggered_by: "cli".to_owned(),
            progress: Some(progress.callback()),
        })
        .await;
    progress.finish();
    print_report("reconcile", &report?, args.json);
    Ok(())
}

/// `backfill [--restart] [--json]`: import every Clerk user, continuing an interrupted
/// backfill unless `--restart`.
///
/// # Errors
///
/// As [`reconcile`]. An interrupted backfill keeps its cursor: run it again to continue.
pub async fn backfill(
    engine: &SyncEngine<dyn SyncStore>,
    args: &BackfillArgs,
) -> Result<(), ServiceError> {
    let progress = ProgressReporter::new("backfill");
    let report = engine
        .backfill(BackfillOptions {
            restart: args.restart,
            triggered_by: "cli".to_owned(),
            progress: Some(progress.callback()),
        })
        .await;
    progress.finish();
    print_report("backfill", &report?, args.json);
    Ok(())
}

/// `resync ID`: fetch one user from Clerk and apply it.
///
/// # Errors
///
/// Clerk or the database failed; neither Clerk nor the table knows the user.
pub async fn resync(
    engine: &SyncEngine<dyn SyncStore>,
    args: &ResyncArgs,
) -> Result<(), ServiceError> {
    let (result, user) = match engine.resync(&args.id).await? {
        ResyncOutcome::Updated(user) => ("updated", user),
        ResyncOutcome::Unchanged(user) => ("unchanged", user),
        ResyncOutcome::Deleted(user) => ("deleted", user),
        _ => {
            return Err(ServiceError::Other(format!(
                "{}: neither Clerk nor the local table knows this user",
                args.id
            )));
        }
    };
    println!("{result}: {}", args.id);
    print_users(&[user]);
    Ok(())
}

/// `retry-failed [--user-id N]`: queue failed outbound changes again.
///
/// # Errors
///
/// The database failed.
pub async fn retry_failed(
    engine: &SyncEngine<dyn SyncStore>,
    args: &RetryFailedArgs,
) -> Result<(), ServiceError> {
    let revived = engine.retry_failed(args.user_id).await?;
    println!(
        "requeued {revived} failed change(s); the outbound worker of a running service sends them"
    );
    Ok(())
}

/// `users [--status S] [--limit N] [--include-deleted] [--json]`.
///
/// # Errors
///
/// The database failed.
pub async fn users(
    engine: &SyncEngine<dyn SyncStore>,
    args: &UsersArgs,
) -> Result<(), ServiceError> {
    let mut query = UserQuery::new(args.limit);
    query.sync_status = args.status.map(|status| match status {
        StatusFilter::Synced => SyncStatus::Synced,
        StatusFilter::Pending => SyncStatus::Pending,
        StatusFilter::Failed => SyncStatus::Failed,
    });
    query.include_deleted = args.include_deleted;
    let users = engine.store().list_users(&query).await?;
    if args.json {
        let text = serde_json::to_string_pretty(&users)
            .map_err(|e| ServiceError::Other(format!("cannot render JSON: {e}")))?;
        println!("{text}");
    } else if users.is_empty() {
        println!("no users");
    } else {
        print_users(&users);
    }
    Ok(())
}

/// `send-test-webhook [--url URL]`: sign `user.created`, `user.updated` and `user.deleted`
/// for a new test user with the configured webhook secret, post them to the running
/// service, and print each answer.
///
/// # Errors
///
/// No webhook secret, the service does not answer, or an answer was not 2xx.
pub async fn send_test_webhook(
    config: &Config,
    args: &SendTestWebhookArgs,
) -> Result<(), ServiceError> {
    let verifier = config.webhook_verifier()?;
    let url = args.url.clone().unwrap_or_else(|| {
        let mut addr = config.bind_addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        format!("http://{addr}/api/webhooks/clerk")
    });
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| ServiceError::Other(format!("no HTTP client: {e}")))?;
    let now = time::OffsetDateTime::now_utc();
    let now_ms = i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
    let suffix = now_ms.to_string();
    let user_id = format!("user_test{suffix}");
    let events = sample_events(&user_id, now_ms);
    println!("posting to {url} a test user {user_id}:");
    let mut failed = false;
    for (index, (event_type, body)) in events.iter().enumerate() {
        let msg_id = format!("msg_test{suffix}_{index}");
        let timestamp = now.unix_timestamp();
        let signature = verifier.sign(&msg_id, timestamp, body.as_bytes());
        let answer = client
            .post(&url)
            .header("content-type", "application/json")
            .header("svix-id", &msg_id)
            .header("svix-timestamp", timestamp.to_string())
            .header("svix-signature", signature)
            .body(body.clone())
            .send()
            .await
            .map_err(|e| {
                ServiceError::Other(format!(
                    "{url} does not answer ({}); is the service running? Start it with `serve`",
                    crate::error::chain(&e)
                ))
            })?;
        let status = answer.status();
        let text = answer.text().await.unwrap_or_default();
        let outcome = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| {
                v.get("status")
                    .or_else(|| v.get("error"))
                    .and_then(|s| s.as_str().map(str::to_owned))
            })
            .unwrap_or_default();
        println!("  {event_type:<13} {} {outcome}", status.as_u16());
        failed |= !status.is_success();
    }
    if failed {
        return Err(ServiceError::Other(
            "the service refused a test webhook: is CLERK_WEBHOOK_SECRET the same for both?"
                .to_owned(),
        ));
    }
    println!("done: see them at /admin (events), or with `users --include-deleted`");
    Ok(())
}

/// Clerk's `user.created`, `user.updated` and `user.deleted` for `user_id`, as Clerk sends
/// them (the fields the table keeps), with versions `now_ms` and one second later.
fn sample_events(user_id: &str, now_ms: i64) -> [(&'static str, String); 3] {
    let user = |updated_at: i64, first_name: &str| {
        serde_json::json!({
            "id": user_id,
            "object": "user",
            "created_at": now_ms,
            "updated_at": updated_at,
            "primary_email_address_id": "idn_test",
            "email_addresses": [{
                "id": "idn_test",
                "object": "email_address",
                "email_address": format!("{user_id}@example.com"),
                "verification": {"status": "verified", "strategy": "email_code"},
            }],
            "first_name": first_name,
            "last_name": "Test",
            "username": null,
            "image_url": null,
            "external_id": null,
            "public_metadata": {},
        })
    };
    let envelope = |event_type: &str, data: serde_json::Value, at: i64| {
        serde_json::json!({
            "type": event_type,
            "object": "event",
            "timestamp": at,
            "instance_id": "ins_test",
            "data": data,
        })
        .to_string()
    };
    [
        (
            "user.created",
            envelope("user.created", user(now_ms, "Ada"), now_ms),
        ),
        (
            "user.updated",
            envelope(
                "user.updated",
                user(now_ms + 1000, "Ada (renamed)"),
                now_ms + 1000,
            ),
        ),
        (
            "user.deleted",
            envelope(
                "user.deleted",
                serde_json::json!({"id": user_id, "object": "user", "deleted": true}),
                now_ms + 2000,
            ),
        ),
    ]
}

/// Progress of a long run: a bar on a terminal, plain lines on stderr otherwise.
struct ProgressReporter {
    bar: Option<ProgressBar>,
    last: Arc<Mutex<Option<Phase>>>,
    job: &'static str,
}

impl ProgressReporter {
    fn new(job: &'static str) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new_spinner();
            bar.enable_steady_tick(Duration::from_millis(120));
            bar.set_message(format!("{job}: starting"));
            bar
        });
        ProgressReporter {
            bar,
            last: Arc::new(Mutex::new(None)),
            job,
        }
    }

    fn callback(&self) -> ProgressFn {
        let bar = self.bar.clone();
        let last = Arc::clone(&self.last);
        let job = self.job;
        Arc::new(move |progress: Progress| {
            let phase = match progress.phase {
                Phase::Listing => "listing Clerk users",
                Phase::Sweeping => "checking local rows Clerk did not list",
                _ => "working",
            };
            let mut last = last
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let new_phase = *last != Some(progress.phase);
            *last = Some(progress.phase);
            match &bar {
                Some(bar) => {
                    if new_phase {
                        match progress.total {
                            Some(total) => {
                                bar.set_length(total);
                                bar.set_style(
                                    ProgressStyle::with_template(
                                        "{msg} [{bar:40}] {pos}/{len} ({eta})",
                                    )
                                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                                    .progress_chars("=> "),
                                );
                            }
                            None => bar.set_style(ProgressStyle::default_spinner()),
                        }
                        bar.set_message(format!("{job}: {phase}"));
                    }
                    bar.set_position(progress.done);
                }
                None => match progress.total {
                    Some(total) => eprintln!("{job}: {phase}: {}/{total}", progress.done),
                    None => eprintln!("{job}: {phase}: {}", progress.done),
                },
            }
        })
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn print_report(job: &str, report: &ReconcileReport, json: bool) {
    if json {
        match serde_json::to_string_pretty(report) {
            Ok(text) => println!("{text}"),
            Err(error) => eprintln!("cannot render the report as JSON: {error}"),
        }
        return;
    }
    let mode = match (report.dry_run, report.force) {
        (true, true) => " (dry run, forced)",
        (true, false) => " (dry run: nothing changed)",
        (false, true) => " (forced)",
        (false, false) => "",
    };
    println!("{job}{mode}");
    if let Some(from) = &report.resumed_from {
        println!("  resumed after {from}");
    }
    println!("  {:<10} {:>8}", "listed", report.listed);
    let samples = &report.samples;
    for (kind, count, ids) in [
        ("created", report.created, &samples.created),
        ("updated", report.updated, &samples.updated),
        ("deleted", report.deleted, &samples.deleted),
        ("unchanged", report.unchanged, &Vec::new()),
        ("failed", report.failed, &samples.failed),
    ] {
        if ids.is_empty() {
            println!("  {kind:<10} {count:>8}");
        } else {
            println!("  {kind:<10} {count:>8}  e.g. {}", ids.join(", "));
        }
    }
    if let Some(stopped) = &report.stopped {
        println!("  stopped: {stopped}");
    }
}

fn print_users(users: &[LocalUser]) {
    let time = |t: Option<time::OffsetDateTime>| {
        t.and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "-".to_owned())
    };
    println!(
        "{:>6}  {:<32}  {:<8}  {:<25}  {:<30}  sync_error",
        "id", "clerk_id", "status", "last_sync_attempt", "email"
    );
    for user in users {
        let status = if user.deleted_at.is_some() {
            "deleted".to_owned()
        } else {
            user.sync_status.to_string()
        };
        println!(
            "{:>6}  {:<32}  {:<8}  {:<25}  {:<30}  {}",
            user.id,
            user.clerk_id.as_deref().unwrap_or("-"),
            status,
            time(user.last_sync_attempt),
            user.email.as_deref().unwrap_or("-"),
            user.sync_error.as_deref().unwrap_or("")
        );
    }
}

#[cfg(test)]
mod tests {
    use clerk_sync_core::event::{ClerkEvent, WebhookEvent};

    use super::*;

    #[test]
    fn sample_events_parse_as_clerk_events() {
        let events = sample_events("user_test1", 1_772_366_400_000);
        let parsed: Vec<ClerkEvent> = events
            .iter()
            .map(|(_, body)| WebhookEvent::parse(body.as_bytes()).unwrap().data)
            .collect();
        assert!(matches!(parsed[0], ClerkEvent::UserCreated(_)));
        assert!(matches!(parsed[1], ClerkEvent::UserUpdated(_)));
        assert!(matches!(parsed[2], ClerkEvent::UserDeleted(_)));
    }
}
