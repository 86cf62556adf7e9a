//! The sync dashboard in a real browser: headless Chromium, driven through chromedriver by
//! fantoccini, against the running service (the binary, as a process) on SQLite, with
//! FakeClerk as Clerk.
//!
//! The test signs in with the admin key, watches the counts change after a signed webhook,
//! sees a user whose create Clerk refused (422: the username is taken) with its `sync_error`,
//! runs a dry-run reconcile and reads its report, then frees the username in FakeClerk,
//! clicks "Retry failed" and sees the user become `synced`. It leaves a screenshot at
//! `$CARGO_TARGET_TMPDIR/browser/dashboard.png` (and `failure.png` when a step times out).
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them). Under `CI=true`
//! a missing browser or driver fails the test; elsewhere the test is skipped with a line
//! saying why.

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clerk_sync_testing::{FakeClerk, SeedUser, SignedWebhook};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use support::{ADMIN_KEY, Service, fake_env};

mod support;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Long enough for the dashboard's 5-second refresh plus the outbound worker's round.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);
/// The username FakeClerk already holds, so the service's create of it is refused for good.
const TAKEN_USERNAME: &str = "ada_taken";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_a_real_browser() {
    if !browser_available() {
        return;
    }
    let scratch = Scratch::new();
    let fake = FakeClerk::start().await;
    let holder = fake
        .seed_user(SeedUser::new("holder@example.com").username(TAKEN_USERNAME))
        .expect("FakeClerk seeds the user holding the username");

    let service = Running::start(&fake);
    let driver = Chromedriver::start(&scratch);
    let browser = driver.connect(&scratch).await;
    let page = Page {
        client: &browser,
        shots: scratch.shots.clone(),
    };

    // Sign in with the admin key.
    page.client
        .goto(&service.service.url("/admin"))
        .await
        .expect("the dashboard loads");
    page.type_into("admin-key", ADMIN_KEY).await;
    page.click("sign-in").await;
    page.wait_text("count-synced", |t| t == "0", "no synced user yet")
        .await;
    page.wait_text(
        "failed-users",
        |t| t.contains("No failed users."),
        "no failed user yet",
    )
    .await;

    // A signed webhook: the counts change.
    let created = fake
        .create_user_directly(SeedUser::new("grace@example.com").first_name("Grace"))
        .expect("FakeClerk creates the user");
    let deliveries = fake.take_webhooks();
    assert_eq!(deliveries.len(), 1, "FakeClerk emits one user.created");
    let reply = service.deliver(&deliveries[0]).await;
    assert_eq!(
        reply,
        json!({"status": "applied"}),
        "the webhook is applied"
    );
    page.wait_text(
        "count-synced",
        |t| t == "1",
        "one synced user after the webhook",
    )
    .await;
    page.wait_text(
        "events",
        |t| t.contains("user.created") && t.contains(&created.id),
        "the delivery in the recent deliveries",
    )
    .await;

    // A local create Clerk refuses for good (422: the username is taken): the outbound worker
    // gives up and the row becomes failed, with Clerk's message as its sync_error.
    let queued = service
        .admin_post(
            "/api/admin/users",
            json!({"email": "ada@example.com", "first_name": "Ada", "username": TAKEN_USERNAME}),
        )
        .await;
    let local_id = queued["id"].as_i64().expect("the new row's id");
    page.wait_text("count-failed", |t| t == "1", "one failed user")
        .await;
    page.wait_text(
        "failed-users",
        |t| t.contains("ada@example.com") && t.contains("That username is taken"),
        "the failed user with its sync_error",
    )
    .await;
    page.screenshot("failed-user.png").await;

    // Dry-run reconcile: the report is shown, and the run is listed as a dry run. The user
    // holding the username is in Clerk only, so the report would create one.
    page.click("dry-run-reconcile").await;
    page.wait_text(
        "report",
        |t| t.contains("\"dry_run\": true") && t.contains("\"created\": 1"),
        "the dry-run report",
    )
    .await;
    page.wait_text(
        "runs",
        |t| t.contains("dry run"),
        "the dry run in the run list",
    )
    .await;
    assert_eq!(
        page.text("count-synced").await,
        "1",
        "a dry run changes nothing"
    );

    // Clear the cause in Clerk, then "Retry failed": the row goes out again and is synced.
    assert!(
        fake.delete_user_directly(&holder.id),
        "the holder is deleted"
    );
    page.click("retry-failed").await;
    page.wait_text(
        "action-message",
        |t| t.contains("Revived 1 failed change"),
        "the retry's answer",
    )
    .await;
    page.wait_text(
        "count-failed",
        |t| t == "0",
        "no failed user after the retry",
    )
    .await;
    page.wait_text("count-synced", |t| t == "2", "the retried user synced")
        .await;
    page.wait_text(
        "failed-users",
        |t| t.contains("No failed users."),
        "the failed list empty",
    )
    .await;

    let row = service
        .admin_get("/api/admin/users?sync_status=synced&limit=10")
        .await;
    let retried = row["users"]
        .as_array()
        .and_then(|users| users.iter().find(|u| u["id"].as_i64() == Some(local_id)))
        .unwrap_or_else(|| panic!("the retried row is listed as synced: {row}"));
    let clerk_id = retried["clerk_id"]
        .as_str()
        .expect("the row now has a Clerk id");
    let in_clerk = fake
        .user(clerk_id)
        .expect("FakeClerk holds the created user");
    assert_eq!(in_clerk.username.as_deref(), Some(TAKEN_USERNAME));

    page.screenshot("dashboard.png").await;
    drop(page);
    browser.close().await.expect("the browser session closes");
    drop(driver);
    drop(service);
    scratch.clean();
}

/// Chromium and chromedriver: present, or the test fails under CI and is skipped elsewhere.
fn browser_available() -> bool {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|path| !Path::new(path).exists())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let reason = format!(
        "{} missing: install Debian's chromium and chromium-driver (.ci/run does)",
        missing.join(" and ")
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("dashboard_in_a_real_browser: {reason}");
    }
    eprintln!("skipping dashboard_in_a_real_browser: {reason}");
    false
}

/// The test's own directory under the target's temporary directory.
struct Scratch {
    dir: PathBuf,
    shots: PathBuf,
}

impl Scratch {
    fn new() -> Self {
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let dir = root.join(format!("browser-run-{}-{}", std::process::id(), unique()));
        let shots = root.join("browser");
        fs::create_dir_all(&dir).expect("the scratch directory");
        fs::create_dir_all(&shots).expect("the screenshot directory");
        Scratch { dir, shots }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Removes the database and logs of a run that passed (a failed run keeps them).
    fn clean(self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn unique() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port on 127.0.0.1")
}

/// The last lines of a child's log, to show why it did not come up.
fn log_tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// A child process killed when dropped.
struct Process {
    child: Child,
    log: PathBuf,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(mut command: Command, log: PathBuf) -> Process {
    let out = fs::File::create(&log).expect("the log file");
    let err = out.try_clone().expect("the log file, twice");
    let child = command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|error| panic!("could not start {command:?}: {error}"));
    Process { child, log }
}

/// The axum reference service as a process (`support::Service`), with an HTTP client for
/// the test's own calls.
struct Running {
    service: Service,
    http: reqwest::Client,
}

impl Running {
    /// `serve` on SQLite in its own directory, with FakeClerk as Clerk, on an ephemeral port.
    fn start(fake: &FakeClerk) -> Self {
        let service = Service::start(&fake_env(fake, "sqlite:browser.db"), &["serve"]);
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("an HTTP client");
        Running { service, http }
    }

    /// Posts a FakeClerk delivery to the webhook route; answers its JSON.
    async fn deliver(&self, delivery: &SignedWebhook) -> Value {
        let mut request = self
            .http
            .post(self.service.url("/api/webhooks/clerk"))
            .header("content-type", "application/json")
            .body(delivery.body.clone());
        for (name, value) in delivery.headers() {
            request = request.header(name, value);
        }
        self.json(request, 200).await
    }

    async fn admin_post(&self, path: &str, body: Value) -> Value {
        let request = self
            .http
            .post(self.service.url(path))
            .bearer_auth(ADMIN_KEY)
            .json(&body);
        self.json(request, 202).await
    }

    async fn admin_get(&self, path: &str) -> Value {
        let request = self.http.get(self.service.url(path)).bearer_auth(ADMIN_KEY);
        self.json(request, 200).await
    }

    async fn json(&self, request: reqwest::RequestBuilder, expected: u16) -> Value {
        let reply = request.send().await.expect("the service answers");
        let status = reply.status().as_u16();
        let body = reply.text().await.unwrap_or_default();
        assert_eq!(
            status,
            expected,
            "unexpected status; body: {body}\nservice log:\n{}",
            self.service.stderr.text()
        );
        serde_json::from_str(&body).unwrap_or_else(|_| panic!("a JSON body: {body}"))
    }
}

/// chromedriver on a free port, started by the test.
struct Chromedriver {
    url: String,
    process: Process,
}

impl Chromedriver {
    fn start(scratch: &Scratch) -> Self {
        let port = free_port();
        let mut command = Command::new(CHROMEDRIVER);
        command.arg(format!("--port={port}"));
        let process = spawn(command, scratch.path("chromedriver.log"));
        Chromedriver {
            url: format!("http://127.0.0.1:{port}"),
            process,
        }
    }

    /// A new headless Chromium session, with a fresh profile in the scratch directory.
    async fn connect(&self, scratch: &Scratch) -> Client {
        let profile = scratch.path("chromium-profile");
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".to_owned(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    "--window-size=1280,1400",
                    format!("--user-data-dir={}", profile.display()),
                ],
            }),
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut builder = ClientBuilder::new(HttpConnector::new());
            match builder
                .capabilities(capabilities.clone())
                .connect(&self.url)
                .await
            {
                Ok(client) => return client,
                // chromedriver takes a moment to listen.
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(error) => panic!(
                    "no browser session from chromedriver: {error}\n{}",
                    log_tail(&self.process.log)
                ),
            }
        }
    }
}

/// The dashboard page, read through its element ids.
struct Page<'a> {
    client: &'a Client,
    shots: PathBuf,
}

impl Page<'_> {
    async fn type_into(&self, id: &str, text: &str) {
        self.client
            .find(Locator::Id(id))
            .await
            .unwrap_or_else(|e| panic!("#{id} on the page: {e}"))
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("typing into #{id}: {e}"));
    }

    async fn click(&self, id: &str) {
        self.client
            .find(Locator::Id(id))
            .await
            .unwrap_or_else(|e| panic!("#{id} on the page: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking #{id}: {e}"));
    }

    /// The element's visible text ("" while it is hidden or missing).
    async fn text(&self, id: &str) -> String {
        match self.client.find(Locator::Id(id)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Waits until the element's visible text passes `ready`; on timeout, saves a screenshot
    /// and fails with what the element last showed.
    async fn wait_text(&self, id: &str, ready: impl Fn(&str) -> bool, what: &str) {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            let text = self.text(id).await;
            if ready(&text) {
                return;
            }
            if Instant::now() >= deadline {
                self.screenshot("failure.png").await;
                let status = self.text("status").await;
                let message = self.text("signin-message").await;
                panic!(
                    "{what}: #{id} shows {text:?} after {STEP_TIMEOUT:?} \
                     (status {status:?}, sign-in message {message:?}); \
                     screenshot in {}",
                    self.shots.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    async fn screenshot(&self, name: &str) {
        match self.client.screenshot().await {
            Ok(png) => {
                let path = self.shots.join(name);
                fs::write(&path, png).expect("the screenshot is written");
                eprintln!("screenshot: {}", path.display());
            }
            Err(error) => eprintln!("no screenshot: {error}"),
        }
    }
}
