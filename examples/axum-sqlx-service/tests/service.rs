//! The service as an operator meets it, each test on the binary started as a process: a
//! fresh machine, bad configuration, rate limits, logs, SIGTERM during a burst, the database
//! going down mid-traffic, and two replicas on one PostgreSQL.

mod support;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use clerk_sync_core::store::UserStore as _;
use clerk_sync_sqlx::SqlxStore;
use clerk_sync_testing::{FakeClerk, SeedUser, SignedWebhook, UserChange};
use serde_json::{Value, json};
use support::{ADMIN_KEY, Service, TempDir, client, deliver, fake_env, run_once};

const WEBHOOK: &str = "/api/webhooks/clerk";
const GOOD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

async fn start(env: Vec<(&'static str, String)>, args: &'static [&'static str]) -> Service {
    tokio::task::spawn_blocking(move || Service::start(&env, args))
        .await
        .expect("the service starts")
}

/// `n` sign-ups in `fake`, and their `user.created` deliveries in order.
fn sign_ups(fake: &FakeClerk, tag: &str, n: usize) -> Vec<SignedWebhook> {
    for i in 0..n {
        fake.create_user_directly(SeedUser::new(format!("{tag}{i}@example.com")))
            .expect("a sign-up");
    }
    fake.take_webhooks()
}

fn user_id(delivery: &SignedWebhook) -> String {
    delivery.data()["id"].as_str().expect("an id").to_owned()
}

async fn admin_get(client: &reqwest::Client, url: String) -> (u16, Value) {
    let response = client
        .get(url)
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .expect("the admin API answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The value after `label` on the line of the startup text that starts with it.
fn banner_value(text: &str, label: &str) -> String {
    text.lines()
        .find_map(|line| line.trim_start().strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no `{label}` line in:\n{text}"))
        .to_owned()
}

// ----- a fresh machine -----

/// Nothing configured, an empty directory: the SQLite file is created and migrated, the
/// development secrets are generated once, kept (0600) and printed with the dashboard URL,
/// how to sign in and how to send a test webhook, and the missing secret key is mentioned
/// once. A second start keeps the same secrets; SIGTERM exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_machine_needs_no_configuration() {
    let dir = TempDir::new("fresh");
    let path = dir.path().to_owned();
    let service = tokio::task::spawn_blocking(move || Service::start_in(&path, &[], &["serve"]))
        .await
        .unwrap();
    let text = service.stdout.text();
    for expected in [
        "SQLite file clerk-sync.db",
        "/admin",
        "dashboard's sign-in box",
        "send-test-webhook",
    ] {
        assert!(text.contains(expected), "`{expected}` in:\n{text}");
    }
    assert_eq!(
        text.matches("CLERK_SECRET_KEY").count(),
        1,
        "said once:\n{text}"
    );
    let admin_key = banner_value(&text, "admin key");
    let secret = banner_value(&text, "webhook secret");
    assert!(admin_key.starts_with("dev_admin_") && secret.starts_with("whsec_"));
    assert!(
        dir.path().join("clerk-sync.db").is_file(),
        "the database file"
    );
    let secrets = dir.path().join("clerk-sync.db.dev-secrets");
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&secrets).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the secrets file is private");
    }

    let http = client();
    let health = http.get(service.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let counts = http
        .get(service.url("/api/admin/counts"))
        .bearer_auth(&admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        counts.status(),
        200,
        "the printed admin key opens the admin API"
    );

    // The second terminal: send-test-webhook, with the same kept secret.
    let url = service.url(WEBHOOK);
    let path = dir.path().to_owned();
    let (status, out, err) = tokio::task::spawn_blocking(move || {
        run_once(&path, &[], &["send-test-webhook", "--url", &url])
    })
    .await
    .unwrap();
    assert!(status.success(), "send-test-webhook: {out}\n{err}");
    for event in ["user.created", "user.updated", "user.deleted"] {
        assert!(
            out.lines()
                .any(|l| l.contains(event) && l.contains("200 applied")),
            "{event} applied:\n{out}"
        );
    }

    service.terminate();
    let status = tokio::task::spawn_blocking(move || {
        let status = service.wait(Duration::from_secs(30));
        (status, service)
    })
    .await
    .unwrap();
    assert_eq!(status.0.code(), Some(0), "SIGTERM exits 0");

    let path = dir.path().to_owned();
    let again = tokio::task::spawn_blocking(move || Service::start_in(&path, &[], &[]))
        .await
        .unwrap();
    let text = again.stdout.text();
    assert_eq!(banner_value(&text, "admin key"), admin_key, "the same key");
    assert_eq!(
        banner_value(&text, "webhook secret"),
        secret,
        "the same secret"
    );
    assert!(
        !text.contains("generated now"),
        "kept, not generated: {text}"
    );
}

// ----- the one-shot commands -----

/// `--help`, `migrate`, `reconcile --dry-run --json`, `backfill` (progress as plain lines
/// when stderr is not a terminal), `users`, `resync`, `retry-failed`, against FakeClerk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_commands_work_against_clerk() {
    let fake = FakeClerk::start().await;
    let ids = fake.seed_users(3);
    let dir = TempDir::new("cli");
    let env = fake_env(&fake, "sqlite:cli.db");
    let run = |args: &[&str]| {
        let (path, env) = (dir.path().to_owned(), env.clone());
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run_once(&path, &env, &args)
        })
    };
    // A report line: `kind  count ...`.
    let has_line = |out: &str, kind: &str, count: &str| {
        out.lines().any(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            words.len() >= 2 && words[0] == kind && words[1] == count
        })
    };

    let (status, help, _) = run(&["--help"]).await.unwrap();
    assert!(status.success());
    for command in [
        "serve",
        "migrate",
        "reconcile",
        "backfill",
        "resync",
        "retry-failed",
        "users",
        "send-test-webhook",
    ] {
        assert!(help.contains(command), "{command} in --help:\n{help}");
    }
    assert!(help.contains("Usage: axum-sqlx-service"), "{help}");

    let (status, out, err) = run(&["migrate"]).await.unwrap();
    assert!(status.success(), "{out}{err}");
    assert!(
        out.contains("schema is up to date") && out.contains("SQLite file cli.db"),
        "{out}"
    );

    let (status, out, err) = run(&["reconcile", "--dry-run", "--json"]).await.unwrap();
    assert!(status.success(), "{err}");
    let report: Value = serde_json::from_str(&out).expect("the report as JSON");
    assert_eq!(
        (report["created"].clone(), report["dry_run"].clone()),
        (json!(3), json!(true))
    );
    let (_, out, _) = run(&["users"]).await.unwrap();
    assert_eq!(out.trim(), "no users", "a dry run changed nothing");

    let (status, out, err) = run(&["backfill"]).await.unwrap();
    assert!(status.success(), "{err}");
    assert!(has_line(&out, "created", "3"), "{out}");
    assert!(
        err.contains("backfill: listing Clerk users"),
        "plain progress lines: {err}"
    );

    let (_, out, _) = run(&["users", "--json"]).await.unwrap();
    let users: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(users.as_array().map(Vec::len), Some(3));

    let resync = ids[0].as_str();
    let (status, out, _) = run(&["resync", resync]).await.unwrap();
    assert!(status.success());
    assert!(out.starts_with(&format!("unchanged: {resync}")), "{out}");
    let (status, _, err) = run(&["resync", "user_2NobodyKnowsThis"]).await.unwrap();
    assert!(!status.success());
    assert_eq!(err.lines().count(), 1, "{err}");

    let (status, out, _) = run(&["reconcile"]).await.unwrap();
    assert!(status.success());
    assert!(has_line(&out, "unchanged", "3"), "{out}");
    let (status, out, _) = run(&["retry-failed"]).await.unwrap();
    assert!(status.success() && out.starts_with("requeued 0"), "{out}");
    let (status, out, _) = run(&["users", "--status", "failed"]).await.unwrap();
    assert!(status.success() && out.trim() == "no users", "{out}");
}

// ----- bad configuration -----

/// A bad value stops the start with one line naming the variable, a non-zero exit, and no
/// panic or backtrace; the value itself is never repeated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_configuration_is_one_line_naming_the_variable() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = busy.local_addr().unwrap().to_string();
    let cases: Vec<(&str, String)> = vec![
        ("DATABASE_URL", "mysql//db.internal/app".into()),
        ("DATABASE_URL", "postgres://app:hunter2@[::1/app".into()),
        ("DATABASE_URL", "host=db user=app password=hunter2".into()),
        ("CLERK_WEBHOOK_SECRET", "not-a-signing-secret".into()),
        ("CLERK_WEBHOOK_SIGNING_SECRET", "whsec_!!!".into()),
        ("CLERK_SECRET_KEY", "pk_live_publishable".into()),
        ("CLERK_API_URL", "clerk-proxy.internal".into()),
        (
            "CLERK_JWT_KEY",
            "-----BEGIN PUBLIC KEY-----\nnotakey\n-----END PUBLIC KEY-----".into(),
        ),
        ("CLERK_JWT_KEY", "/nonexistent/clerk.pem".into()),
        ("ADMIN_API_KEY", "pw123".into()),
        ("BIND_ADDR", "localhost".into()),
        ("BIND_ADDR", busy.clone()),
        ("RECONCILE_INTERVAL", "sometimes".into()),
        ("LOG_FORMAT", "xml".into()),
        ("CORS_ORIGINS", "*".into()),
        ("RATE_LIMIT_WEBHOOK", "-1".into()),
        ("RATE_LIMIT_ADMIN", "lots".into()),
    ];
    let dir = TempDir::new("badconf");
    for (var, value) in cases {
        let path = dir.path().to_owned();
        let mut env = vec![(var, value.clone())];
        if !var.starts_with("CLERK_WEBHOOK_") {
            // A database of one's own needs a secret: set a good one, so the bad value is
            // what stops the start.
            env.push(("CLERK_WEBHOOK_SECRET", GOOD_SECRET.to_owned()));
        }
        let (status, out, err) =
            tokio::task::spawn_blocking(move || run_once(&path, &env, &["serve"]))
                .await
                .unwrap();
        assert!(
            !status.success(),
            "{var}={value:?} must stop the start: {out}"
        );
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(
            lines.len(),
            1,
            "{var}={value:?}: one line on stderr:\n{err}"
        );
        assert!(
            lines[0].starts_with(&format!("error: {var}")),
            "{var}={value:?}: names the variable: {}",
            lines[0]
        );
        assert!(
            !err.contains("panicked") && !err.contains("backtrace"),
            "{var}: no panic: {err}"
        );
        if value != busy {
            assert!(
                !err.contains(&value),
                "{var}: the value is not repeated: {err}"
            );
        }
        assert!(!err.contains("hunter2"), "{var}: no password: {err}");
    }
    // A database URL of one's own without a webhook secret: named too.
    let path = dir.path().to_owned();
    let (status, _, err) = tokio::task::spawn_blocking(move || {
        run_once(
            &path,
            &[("DATABASE_URL", "sqlite:own.db".to_owned())],
            &["serve"],
        )
    })
    .await
    .unwrap();
    assert!(!status.success());
    assert!(
        err.starts_with("error: CLERK_WEBHOOK_SECRET is not set"),
        "{err}"
    );
}

// ----- rate limits and logs -----

/// Hundreds of deliveries at once from one address (a Svix burst) are never throttled by
/// the default limits; a tight limit answers 429 as JSON with `Retry-After` and the
/// `X-RateLimit-*` headers, with its request id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_spare_a_svix_burst_and_answer_429_past_the_limit() {
    let fake = FakeClerk::start().await;
    let service = start(
        fake_env(&fake, "sqlite:burst.db"),
        &["serve", "--no-outbound"],
    )
    .await;
    let deliveries = sign_ups(&fake, "burst", 300);
    let http = client();
    let url = service.url(WEBHOOK);
    let statuses: Vec<Option<u16>> = futures_join(deliveries.iter().map(|d| {
        let (http, url) = (http.clone(), url.clone());
        let d = d.clone();
        async move { deliver(&http, &url, &d).await }
    }))
    .await;
    assert!(
        statuses.iter().all(|s| *s == Some(200)),
        "every delivery of the burst applied: {:?}",
        statuses
            .iter()
            .filter(|s| **s != Some(200))
            .collect::<Vec<_>>()
    );

    let mut env = fake_env(&fake, "sqlite:tight.db");
    env.push(("RATE_LIMIT_WEBHOOK", "1".to_owned()));
    env.push(("RATE_LIMIT_ADMIN", "1".to_owned()));
    let tight = start(env, &["serve", "--no-outbound"]).await;
    let mut limited = None;
    for _ in 0..5 {
        let response = http
            .get(tight.url("/api/admin/counts"))
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .unwrap();
        assert!(response.headers().contains_key("x-ratelimit-limit"));
        assert!(response.headers().contains_key("x-ratelimit-remaining"));
        if response.status() == 429 {
            limited = Some(response);
            break;
        }
    }
    let limited = limited.expect("a 429 past a burst of 2");
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    assert_eq!(limited.headers()["x-ratelimit-remaining"], "0");
    assert!(limited.headers().contains_key("x-request-id"));
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["error"], json!("rate_limited"), "{body}");
    // The webhook route has its own limit.
    let webhook = http.post(tight.url(WEBHOOK)).send().await.unwrap();
    assert_eq!(webhook.status(), 400, "missing headers, not throttled");
}

async fn futures_join<F: std::future::Future + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.expect("a request task"));
    }
    out
}

/// `CORS_ORIGINS`: `/api/me` answers a preflight from a listed origin with that exact
/// origin and credentials allowed, and nothing for any other origin; no other route gets
/// CORS headers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_allows_exactly_the_configured_origins() {
    let fake = FakeClerk::start().await;
    let mut env = fake_env(&fake, "sqlite:cors.db");
    env.push((
        "CORS_ORIGINS",
        "https://app.example.com, http://localhost:3000".to_owned(),
    ));
    let service = start(env, &["serve", "--no-outbound"]).await;
    let http = client();
    let preflight = |origin: &'static str, path: &'static str| {
        http.request(reqwest::Method::OPTIONS, service.url(path))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let allowed = preflight("https://app.example.com", "/api/me")
        .await
        .unwrap();
    assert!(allowed.status().is_success(), "{}", allowed.status());
    let headers = allowed.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(headers["access-control-allow-credentials"], "true");
    let other = preflight("https://evil.example.net", "/api/me")
        .await
        .unwrap();
    assert!(
        !other.headers().contains_key("access-control-allow-origin"),
        "no CORS for an unlisted origin"
    );
    let admin = preflight("https://app.example.com", "/api/admin/users")
        .await
        .unwrap();
    assert!(
        !admin.headers().contains_key("access-control-allow-origin"),
        "the admin API is same-origin only"
    );
    let me = http
        .get(service.url("/api/me"))
        .header("origin", "http://localhost:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401);
    assert_eq!(
        me.headers()["access-control-allow-origin"],
        "http://localhost:3000",
        "a refusal is readable by the listed origin"
    );
}

/// `LOG_FORMAT=json`: one JSON object per line, and the lines of a request carry its
/// `X-Request-ID`; no secret or email is logged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_the_request_id() {
    let fake = FakeClerk::start().await;
    let mut env = fake_env(&fake, "sqlite:logs.db");
    env.push(("LOG_FORMAT", "json".to_owned()));
    let service = start(env, &["serve", "--no-outbound"]).await;
    let delivery = sign_ups(&fake, "logged", 1).remove(0);
    let http = client();
    let mut request = http
        .post(service.url(WEBHOOK))
        .header("x-request-id", "req-logged-1")
        .body(delivery.body.clone());
    for (name, value) in delivery.headers() {
        request = request.header(name, value);
    }
    assert_eq!(request.send().await.unwrap().status(), 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let logs = service.stderr.text();
    let lines: Vec<Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("a JSON line: {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.to_string().contains("\"request_id\":\"req-logged-1\"")),
        "a line of the request with its id:\n{logs}"
    );
    for secret in [
        fake.webhook_secret(),
        fake.secret_key(),
        "logged0@example.com",
    ] {
        assert!(!logs.contains(secret), "not logged: {secret}");
    }
}

// ----- SIGTERM during a burst -----

/// SIGTERM while webhooks pour in: every delivery that got a 2xx is stored, the others got
/// no 2xx (Svix delivers them again), and the process exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_burst_loses_no_acknowledged_delivery() {
    let fake = FakeClerk::start().await;
    let dir = TempDir::new("sigterm");
    let env = fake_env(&fake, "sqlite:sigterm.db");
    let path = dir.path().to_owned();
    let service = tokio::task::spawn_blocking(move || Service::start_in(&path, &env, &["serve"]))
        .await
        .unwrap();
    let deliveries = sign_ups(&fake, "term", 400);
    let http = client();
    let url = service.url(WEBHOOK);
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    // 16 senders, one after another each, as Svix's workers would.
    for chunk in deliveries.chunks(25) {
        let (http, url, chunk, sent) = (http.clone(), url.clone(), chunk.to_vec(), sent.clone());
        tasks.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            for delivery in chunk {
                sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                answers.push((user_id(&delivery), deliver(&http, &url, &delivery).await));
            }
            answers
        }));
    }
    while sent.load(std::sync::atomic::Ordering::SeqCst) < 100 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    service.terminate();
    let mut answers = Vec::new();
    for task in tasks {
        answers.extend(task.await.unwrap());
    }
    let (status, service) = tokio::task::spawn_blocking(move || {
        let status = service.wait(Duration::from_secs(60));
        (status, service)
    })
    .await
    .unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "exit 0 after SIGTERM:\n{}",
        service.stderr.text()
    );
    let acknowledged: Vec<&String> = answers
        .iter()
        .filter(|(_, s)| s.is_some_and(|s| (200..300).contains(&s)))
        .map(|(id, _)| id)
        .collect();
    // Up to one request per sender may have been on its way when the listener closed.
    assert!(
        acknowledged.len() >= 100 - 16,
        "the requests in flight at SIGTERM were finished: {} acknowledged",
        acknowledged.len()
    );
    assert!(
        acknowledged.len() < answers.len(),
        "the burst outlived the service: some deliveries got no answer"
    );
    let store = SqlxStore::connect(&format!(
        "sqlite:{}",
        dir.path().join("sigterm.db").display()
    ))
    .await
    .unwrap();
    for id in &acknowledged {
        assert!(
            store.get_user(id).await.unwrap().is_some(),
            "{id} was acknowledged, so it is stored"
        );
    }
    eprintln!(
        "SIGTERM after 100 of 400: {} acknowledged and stored, {} without a 2xx",
        acknowledged.len(),
        answers.len() - acknowledged.len()
    );
}

// ----- the database down mid-traffic -----

/// PostgreSQL refuses and cuts the service's connections mid-traffic: webhooks get 503 and
/// `/health` 503 while it is down; a Svix-like client keeps retrying, and once the database
/// is back every event is stored and `/health` is 200 again, without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_loses_no_event() {
    let Some(url) = support::postgres_url("a_database_outage_loses_no_event") else {
        return;
    };
    let (database_url, database) = support::new_database(&url).await;
    let fake = FakeClerk::start().await;
    let service = start(fake_env(&fake, &database_url), &["serve", "--no-outbound"]).await;
    let http = client();
    let webhook = service.url(WEBHOOK);
    let mut pending: Vec<SignedWebhook> = sign_ups(&fake, "outage", 30);
    let ids: Vec<String> = pending.iter().map(user_id).collect();

    // The first ten go through.
    for delivery in pending.drain(..10) {
        assert_eq!(deliver(&http, &webhook, &delivery).await, Some(200));
    }
    support::database_down(&url, &database.name).await;
    let down_since = Instant::now();
    let mut saw_503 = 0;
    let mut health_503 = false;
    // A Svix-like sender: every undelivered event again, every 250 ms, until all are 2xx.
    while !pending.is_empty() {
        assert!(
            down_since.elapsed() < Duration::from_secs(120),
            "no progress"
        );
        if down_since.elapsed() > Duration::from_secs(4) && saw_503 > 0 && health_503 {
            support::database_up(&url, &database.name).await;
        } else if down_since.elapsed() > Duration::from_secs(2) && !health_503 {
            let health = http.get(service.url("/health")).send().await.unwrap();
            if health.status() == 503 {
                assert!(health.headers().contains_key("retry-after"));
                health_503 = true;
            }
        }
        let mut still = Vec::new();
        for delivery in pending {
            match deliver(&http, &webhook, &delivery).await {
                Some(s) if (200..300).contains(&s) => {}
                Some(503) => {
                    saw_503 += 1;
                    still.push(delivery);
                }
                other => panic!("a webhook during the outage answered {other:?}"),
            }
        }
        pending = still;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        saw_503 > 0,
        "webhooks were refused with 503 while the database was down"
    );
    assert!(health_503, "/health said 503 while the database was down");
    let health = http.get(service.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200, "healthy again without a restart");
    for id in &ids {
        let (status, row) = admin_get(&http, service.url(&format!("/api/admin/users/{id}"))).await;
        assert_eq!(status, 200, "{id} stored: {row}");
    }
    drop(service);
    drop(database);
}

// ----- two replicas on one PostgreSQL -----

/// Two replicas on one schema, with their outbound workers, take concurrent webhooks
/// (shuffled, duplicated, spread over both), concurrent reconciles and local creates. The
/// rows end as in-order delivery would leave them (Clerk's final state), and Clerk saw each
/// local create exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_converge_and_send_each_change_once() {
    let Some(url) = support::postgres_url("two_replicas_converge_and_send_each_change_once") else {
        return;
    };
    let (schema_url, schema) = support::new_schema(&url).await;
    let fake = FakeClerk::start().await;
    let a = start(fake_env(&fake, &schema_url), &["serve"]).await;
    let b = start(fake_env(&fake, &schema_url), &["serve"]).await;
    let replicas = [a.base_url.clone(), b.base_url.clone()];
    let http = client();

    // Clerk-side history: sign-ups, several updates each, some deletions.
    let mut ids = Vec::new();
    for i in 0..20 {
        let user = fake
            .create_user_directly(SeedUser::new(format!("replica{i}@example.com")))
            .unwrap();
        ids.push(user.id);
    }
    for round in 0..3 {
        for id in &ids {
            fake.update_user_directly(id, UserChange::new().first_name(format!("r{round}")))
                .unwrap();
        }
    }
    for id in ids.iter().step_by(5) {
        fake.delete_user_directly(id);
    }
    let history = fake.take_webhooks();
    // Reversed, and every delivery twice, alternating replicas.
    let mut deliveries: Vec<(String, SignedWebhook)> = Vec::new();
    for (n, delivery) in history.iter().rev().enumerate() {
        deliveries.push((replicas[n % 2].clone(), delivery.clone()));
        deliveries.push((replicas[(n + 1) % 2].clone(), delivery.clone()));
    }

    // Local creates through both replicas, for their workers to push.
    let local_emails: Vec<String> = (0..10).map(|i| format!("local{i}@example.com")).collect();
    let creates = local_emails.iter().enumerate().map(|(i, email)| {
        let (http, base, email) = (http.clone(), replicas[i % 2].clone(), email.clone());
        async move {
            http.post(format!("{base}/api/admin/users"))
                .bearer_auth(ADMIN_KEY)
                .json(&json!({"email": email, "first_name": "Local"}))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .ok()
        }
    });
    let reconciles = replicas.iter().map(|base| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            http.post(format!("{base}/api/admin/sync-users"))
                .bearer_auth(ADMIN_KEY)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .ok()
        }
    });
    let webhooks = deliveries.into_iter().map(|(base, delivery)| {
        let http = http.clone();
        async move { deliver(&http, &format!("{base}{WEBHOOK}"), &delivery).await }
    });
    let (created, reconciled, delivered) = tokio::join!(
        futures_join(creates),
        futures_join(reconciles),
        futures_join(webhooks)
    );
    assert!(created.iter().all(|s| *s == Some(202)), "{created:?}");
    assert!(
        reconciled.iter().all(|s| matches!(s, Some(200 | 409))),
        "a reconcile ran, or the other replica held the lease: {reconciled:?}"
    );
    assert!(delivered.iter().all(|s| *s == Some(200)), "{delivered:?}");

    // The workers push the local creates; wait until nothing is pending.
    let started = Instant::now();
    loop {
        let (_, counts) = admin_get(&http, format!("{}/api/admin/counts", replicas[0])).await;
        if counts["counts"]["pending"] == json!(0) && counts["outbox_due"] == json!(0) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the outbound workers did not finish: {counts}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Each local create reached Clerk exactly once.
    let posts = fake.requests_to("POST", "/v1/users");
    assert_eq!(
        posts.len(),
        local_emails.len(),
        "one POST /v1/users per create"
    );
    let mut seen = HashSet::new();
    for email in &local_emails {
        let user = fake
            .user_by_email(email)
            .unwrap_or_else(|| panic!("{email} is in Clerk"));
        assert!(seen.insert(user.id.clone()));
        let (status, row) = admin_get(
            &http,
            format!("{}/api/admin/users/{}", replicas[1], user.id),
        )
        .await;
        assert_eq!(status, 200, "{row}");
        assert_eq!(row["sync_status"], json!("synced"), "{row}");
    }

    // Clerk-side users end as Clerk holds them: in-order delivery's result.
    let finals: HashMap<String, _> = fake
        .users()
        .into_iter()
        .map(|u| (u.id.clone(), u))
        .collect();
    for id in &ids {
        let (status, row) = admin_get(&http, format!("{}/api/admin/users/{id}", replicas[0])).await;
        assert_eq!(status, 200, "{id}: {row}");
        match finals.get(id) {
            Some(user) => {
                assert!(row["deleted_at"].is_null(), "{row}");
                assert_eq!(row["first_name"], json!(user.first_name), "{row}");
                assert_eq!(row["clerk_updated_at"], json!(user.updated_at), "{row}");
            }
            None => assert!(!row["deleted_at"].is_null(), "{id} deleted: {row}"),
        }
    }
    drop((a, b));
    drop(schema);
}

// ----- metrics -----

/// `/metrics` exports every name of ARCHITECTURE.md "Observability" once the service has
/// done the work behind it: a webhook, a refused and an accepted session token (with the
/// fallback fetch and the Backend API request it causes), a reconcile, and an outbound
/// create pushed by the worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_export_every_documented_name() {
    let fake = FakeClerk::start().await;
    let service = start(fake_env(&fake, "sqlite:metrics.db"), &["serve"]).await;
    let http = client();

    let delivery = sign_ups(&fake, "metrics", 1).remove(0);
    assert_eq!(
        deliver(&http, &service.url(WEBHOOK), &delivery).await,
        Some(200)
    );
    let refused = http
        .get(service.url("/api/me"))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    // Known to Clerk, not yet here: the fallback fetch asks the Backend API.
    let late = fake
        .create_user_directly(SeedUser::new("late@example.com"))
        .expect("a sign-up");
    let _ = fake.take_webhooks();
    let token = fake.session_token(clerk_sync_testing::SessionTokenOptions::new(
        late.id.as_str(),
    ));
    let me = http
        .get(service.url("/api/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status().as_u16(), 200);
    // One more whose webhook never came: the reconcile creates it.
    fake.create_user_directly(SeedUser::new("missed@example.com"))
        .expect("a sign-up");
    let _ = fake.take_webhooks();
    let reconcile = http
        .post(service.url("/api/admin/sync-users"))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(reconcile.status().as_u16(), 200);
    let created = http
        .post(service.url("/api/admin/users"))
        .bearer_auth(ADMIN_KEY)
        .json(&json!({"email": "outbound@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 202);

    let expected = [
        "clerk_sync_webhooks_total{",
        "clerk_sync_webhook_apply_seconds",
        "clerk_sync_fallback_fetches_total{",
        "clerk_sync_reconcile_runs_total{",
        "clerk_sync_reconcile_changes_total{",
        "clerk_sync_outbound_total{",
        "clerk_sync_outbox_due",
        "clerk_sync_clerk_api_requests_total{",
        "clerk_sync_jwt_verifications_total{result=\"token_malformed\"}",
        "clerk_sync_jwt_verifications_total{result=\"valid\"}",
    ];
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = http
            .get(service.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let missing: Vec<&str> = expected
            .iter()
            .copied()
            .filter(|name| !text.contains(name))
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "missing from /metrics: {missing:?}\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
