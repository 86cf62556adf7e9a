//! What the clerk-sync reference services share, so that each service is one short file of
//! framework and database glue.
//!
//! - [`Config`]: the configuration table (environment and `.env`), every value checked, with
//!   development secrets kept beside the default SQLite file; [`ConfigError`] names the
//!   variable at fault in one line.
//! - [`build_engine`] and [`build_http`]: the engine and core's HTTP surface from the
//!   configuration and any `Arc<dyn SyncStore>`.
//! - [`Cli`]: the command line (`serve`, `migrate`, `reconcile`, `backfill`, `resync`,
//!   `retry-failed`, `users`, `send-test-webhook`), and [`run_command`] for every command
//!   but `serve`.
//! - [`Serving`]: what `serve` runs besides the HTTP server: metrics, the outbound worker,
//!   the scheduled reconcile, ledger pruning, the shutdown switch turned by SIGTERM/SIGINT,
//!   and the startup text.
//! - [`init_logging`], [`exit_code`].
//!
//! A service's `main` is then:
//!
//! ```ignore
//! let cli = Cli::parse_for("my-service", env!("CARGO_PKG_VERSION"));
//! let config = Config::load()?;
//! let command = cli.into_command();
//! init_logging(config.log_format, command.default_log_level());
//! let store: Arc<dyn SyncStore> = Arc::new(open_and_migrate(&config.database_url).await?);
//! match command {
//!     Command::Serve(args) => {
//!         let serving = Serving::start(&config, store, &args)?;
//!         // bind config.bind_addr, serve serving.http() with graceful shutdown on
//!         // serving.shutdown().wait(), then print_banner after binding ...
//!         serving.stop().await;
//!     }
//!     other => run_command(&config, store, other).await?,
//! }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod assemble;
pub mod background;
pub mod cli;
pub mod commands;
pub mod config;
mod dev_secrets;
mod error;
mod observe;
mod shutdown;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clerk_sync_core::http::ClerkHttp;
use clerk_sync_core::store::SyncStore;

pub use assemble::{build_engine, build_http, clerk_api, session_verifier};
pub use background::{Background, BackgroundOptions};
pub use cli::{Cli, Command, ServeArgs};
pub use config::{Config, ConfigError, LogFormat, SecretSource};
pub use error::{ServiceError, chain, exit_code};
pub use observe::{Metrics, init_logging};
pub use shutdown::{Shutdown, signal};

/// How long background tasks may take to stop after the HTTP server has.
pub const BACKGROUND_STOP_LIMIT: Duration = Duration::from_secs(15);
/// How long requests in flight may take to finish after shutdown is asked for; past it the
/// service exits anyway (a webhook cut off was not acknowledged, so Svix delivers it again).
pub const REQUEST_DRAIN_LIMIT: Duration = Duration::from_secs(30);

impl Command {
    /// The log level when `RUST_LOG` is unset: `info` for `serve`, `warn` for the one-shot
    /// commands, whose output is their report.
    pub fn default_log_level(&self) -> &'static str {
        match self {
            Command::Serve(_) => "info",
            _ => "warn",
        }
    }
}

/// Run any command but `serve` (which needs the service's HTTP framework) over `store`,
/// already connected and migrated.
///
/// # Errors
///
/// What the command failed on; [`ServiceError::Other`] for `serve`.
pub async fn run_command(
    config: &Config,
    store: Arc<dyn SyncStore>,
    command: Command,
) -> Result<(), ServiceError> {
    let needs_clerk = matches!(
        command,
        Command::Reconcile(_) | Command::Backfill(_) | Command::Resync(_)
    );
    if needs_clerk && !config.has_backend_api() {
        return Err(ConfigError::Missing {
            var: "CLERK_SECRET_KEY",
            hint: "reconcile, backfill and resync call Clerk's Backend API with it",
        }
        .into());
    }
    let engine = build_engine(config, store)?;
    match command {
        Command::Serve(_) => Err(ServiceError::Other(
            "serve is run by the service itself".to_owned(),
        )),
        Command::Migrate => {
            println!("the schema is up to date ({})", describe_database(config));
            Ok(())
        }
        Command::Reconcile(args) => commands::reconcile(&engine, &args).await,
        Command::Backfill(args) => commands::backfill(&engine, &args).await,
        Command::Resync(args) => commands::resync(&engine, &args).await,
        Command::RetryFailed(args) => commands::retry_failed(&engine, &args).await,
        Command::Users(args) => commands::users(&engine, &args).await,
        Command::SendTestWebhook(args) => commands::send_test_webhook(config, &args).await,
    }
}

/// `serve` without the HTTP server: the HTTP surface to mount, the background tasks, and
/// the shutdown switch (turned by SIGTERM/SIGINT) that the server and the tasks stop on.
#[derive(Debug)]
pub struct Serving {
    http: ClerkHttp<dyn SyncStore>,
    shutdown: Shutdown,
    background: Background,
}

impl Serving {
    /// Check the webhook secret, install the Prometheus exporter, build the engine and the
    /// HTTP surface over `store`, start the background tasks `args` allow, and turn the
    /// shutdown switch on SIGTERM/SIGINT. Call inside a Tokio runtime.
    ///
    /// # Errors
    ///
    /// [`ServiceError::Config`] naming the variable at fault (e.g. no webhook secret with a
    /// `DATABASE_URL` of your own).
    pub fn start(
        config: &Config,
        store: Arc<dyn SyncStore>,
        args: &ServeArgs,
    ) -> Result<Serving, ServiceError> {
        config.webhook_verifier()?;
        let metrics = Metrics::install();
        let engine = build_engine(config, store)?;
        let http = build_http(
            config,
            engine.clone(),
            metrics.as_ref().map(Metrics::renderer),
        )?;
        let shutdown = Shutdown::new();
        shutdown.trigger_on_signal();
        let options = BackgroundOptions {
            outbound: !args.no_outbound,
            reconcile: !args.no_reconcile,
        };
        let background = Background::spawn(&engine, config, options, metrics, &shutdown);
        Ok(Serving {
            http,
            shutdown,
            background,
        })
    }

    /// The HTTP surface every route answers from.
    pub fn http(&self) -> &ClerkHttp<dyn SyncStore> {
        &self.http
    }

    /// The shutdown switch: serve with graceful shutdown on [`Shutdown::wait`].
    pub fn shutdown(&self) -> &Shutdown {
        &self.shutdown
    }

    /// Print the startup text on stdout: where it listens, the dashboard and how to sign in,
    /// the development secrets when they are in use, how to send a test webhook, what runs
    /// in the background, and (once) what is off without `CLERK_SECRET_KEY`.
    pub fn print_banner(&self, config: &Config, service: &str, local_addr: SocketAddr) {
        print!(
            "{}",
            banner(config, service, local_addr, &self.background.names())
        );
    }

    /// After the server has stopped: make sure the switch is turned, and wait for the
    /// background tasks (at most [`BACKGROUND_STOP_LIMIT`]).
    pub async fn stop(self) {
        self.shutdown.trigger();
        self.background.join(BACKGROUND_STOP_LIMIT).await;
        tracing::info!("stopped");
    }
}

/// The database in words, never its URL (which may hold a password).
pub fn describe_database(config: &Config) -> String {
    let url = config.database_url.as_str();
    let scheme = url
        .split(':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match scheme.as_str() {
        "sqlite" => {
            let path = url["sqlite:".len()..].trim_start_matches("//");
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() || path == ":memory:" {
                "SQLite in memory".to_owned()
            } else {
                format!("SQLite file {path}")
            }
        }
        "postgres" | "postgresql" => "PostgreSQL (DATABASE_URL)".to_owned(),
        "mysql" | "mariadb" => "MySQL/MariaDB (DATABASE_URL)".to_owned(),
        _ => "DATABASE_URL".to_owned(),
    }
}

fn banner(config: &Config, service: &str, addr: SocketAddr, tasks: &[&str]) -> String {
    use std::fmt::Write as _;

    let mut shown = addr;
    if shown.ip().is_unspecified() {
        shown.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let base = format!("http://{shown}");
    let mut out = String::new();
    let file = config
        .dev_secrets_file
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let kept = if config.dev_secrets_created {
        format!("generated now, kept in {file}")
    } else {
        format!("kept in {file}")
    };
    let _ = writeln!(out, "{service} listening on {base}");
    let _ = writeln!(out, "  database        {}", describe_database(config));
    let _ = writeln!(out, "  dashboard       {base}/admin");
    match (config.admin_key_source, &config.admin_api_key) {
        (SecretSource::Development, Some(key)) => {
            let _ = writeln!(out, "  admin key       {key}");
            let _ = writeln!(
                out,
                "                  (a development key, {kept}): paste it into the dashboard's \
                 sign-in box, or send Authorization: Bearer <key> to /api/admin/..."
            );
        }
        (_, Some(_)) => {
            let _ = writeln!(
                out,
                "  admin key       from ADMIN_API_KEY: sign in to the dashboard with it"
            );
        }
        (_, None) => {
            let _ = writeln!(
                out,
                "  admin key       none: ADMIN_API_KEY is not set, so the admin API and the \
                 dashboard's data answer 404"
            );
        }
    }
    match config.webhook_secret_source {
        SecretSource::Development => {
            let _ = writeln!(
                out,
                "  webhook secret  {} ({kept})",
                config.webhook_secrets.first().map_or("", String::as_str)
            );
        }
        _ => {
            let _ = writeln!(
                out,
                "  webhook secret  from CLERK_WEBHOOK_SECRET ({} configured)",
                config.webhook_secrets.len()
            );
        }
    }
    let _ = writeln!(out, "  webhooks        POST {base}/api/webhooks/clerk");
    let _ = writeln!(
        out,
        "  test webhook    in a second terminal: cargo run -p {service} -- send-test-webhook"
    );
    let _ = writeln!(
        out,
        "  health          {base}/health   metrics {base}/metrics"
    );
    let _ = writeln!(
        out,
        "  background      {}",
        if tasks.is_empty() {
            "none".to_owned()
        } else {
            tasks.join(", ")
        }
    );
    if !config.has_backend_api() {
        let _ = writeln!(
            out,
            "note: CLERK_SECRET_KEY is not set, so fallback fetch, reconcile and outbound sync \
             are off until it is; webhooks work."
        );
    }
    let _ = writeln!(out, "Stop with Ctrl-C (or SIGTERM).");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_banner_says_how_to_start() {
        let mut config = Config::from_lookup(|_| None).unwrap();
        config.webhook_secrets = vec!["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned()];
        config.webhook_secret_source = SecretSource::Development;
        config.admin_api_key = Some("dev_admin_0123456789abcdef".to_owned());
        config.admin_key_source = SecretSource::Development;
        config.dev_secrets_file = Some("clerk-sync.db.dev-secrets".into());
        let text = banner(
            &config,
            "svc",
            "127.0.0.1:8787".parse().unwrap(),
            &["ledger pruning"],
        );
        for expected in [
            "svc listening on http://127.0.0.1:8787",
            "SQLite file clerk-sync.db",
            "http://127.0.0.1:8787/admin",
            "dev_admin_0123456789abcdef",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "send-test-webhook",
            "CLERK_SECRET_KEY is not set",
        ] {
            assert!(text.contains(expected), "{expected}: {text}");
        }
        assert_eq!(text.matches("CLERK_SECRET_KEY").count(), 1, "said once");
    }

    #[test]
    fn secrets_from_the_environment_are_never_printed() {
        let config = Config::from_lookup(|name| match name {
            "DATABASE_URL" => Some("postgres://app:hunter2@db/app".to_owned()),
            "CLERK_WEBHOOK_SECRET" => Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned()),
            "ADMIN_API_KEY" => Some("prod-admin-key-0123456789".to_owned()),
            "CLERK_SECRET_KEY" => Some("sk_live_secret".to_owned()),
            _ => None,
        })
        .unwrap();
        let text = banner(&config, "svc", "0.0.0.0:80".parse().unwrap(), &[]);
        for secret in ["hunter2", "whsec_", "prod-admin-key", "sk_live"] {
            assert!(!text.contains(secret), "{secret}: {text}");
        }
        assert!(text.contains("PostgreSQL"));
        assert!(text.contains("http://127.0.0.1:80/admin"));
    }
}
