//! The service as an operator meets it, each test on the binary started as a process: a
//! fresh machine, bad configuration, rate limits, CORS, logs, SIGTERM during a burst, and
//! the database going down mid-traffic. (The axum service's tests, but its two-replica one,
//! which the issue asks of the axum service.)

mod support;

use std::time::{Duration, Instant};

use clerk_sync_core::store::UserStore as _;
use clerk_sync_seaorm::SeaOrmStore;
use clerk_sync_testing::{FakeClerk, SeedUser, SignedWebhook};
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

// ----- CORS -----

/// `CORS_ORIGINS`: `/api/me` answers a listed origin's preflight and requests with that exact
/// origin and credentials (never `*`); another origin, or another route, gets no
/// `Access-Control-Allow-Origin`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_allows_exactly_the_configured_origins_on_api_me() {
    const ORIGIN: &str = "https://app.example.com";
    let fake = FakeClerk::start().await;
    let mut env = fake_env(&fake, "sqlite:cors.db");
    env.push((
        "CORS_ORIGINS",
        format!("{ORIGIN},https://admin.example.com"),
    ));
    let service = start(env, &["serve", "--no-outbound"]).await;
    let http = client();
    let preflight = http
        .request(reqwest::Method::OPTIONS, service.url("/api/me"))
        .header("origin", ORIGIN)
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let headers = preflight.headers();
    assert_eq!(headers["access-control-allow-origin"], ORIGIN);
    assert_eq!(headers["access-control-allow-credentials"], "true");
    assert!(
        headers["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("authorization")
    );

    let me = http
        .get(service.url("/api/me"))
        .header("origin", ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401);
    assert_eq!(me.headers()["access-control-allow-origin"], ORIGIN);
    assert!(me.headers().contains_key("www-authenticate"));

    let other = http
        .get(service.url("/api/me"))
        .header("origin", "https://evil.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 401, "served; the browser withholds it");
    assert!(!other.headers().contains_key("access-control-allow-origin"));

    let health = http
        .get(service.url("/health"))
        .header("origin", ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert!(
        !health.headers().contains_key("access-control-allow-origin"),
        "CORS is for /api/me alone"
    );
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
    assert!(
        acknowledged.len() >= 90,
        "most of the first 100 were answered"
    );
    assert!(
        acknowledged.len() < answers.len(),
        "the burst outlived the service: some deliveries got no answer"
    );
    let store = SeaOrmStore::connect(&format!(
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

// On PostgreSQL (the service takes any of the three databases): there a test database can
// refuse connections without touching anyone else's. The tests run as root, so a SQLite
// file made read-only would still be written.

/// PostgreSQL refuses and cuts the service's connections mid-traffic: webhooks get 503 and
/// `/health` 503 while it is down; a Svix-like client keeps retrying, and once the database
/// is back every event is stored and `/health` is 200 again, without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_loses_no_event() {
    let Some(url) = support::postgres_url("a_database_outage_loses_no_event") else {
        return;
    };
    let (database_url, database) = support::process::new_database(&url).await;
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
