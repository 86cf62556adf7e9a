//! The command line both reference services share (clap 4, derive).

use clap::{Args, FromArgMatches as _, Parser, Subcommand, ValueEnum};

/// The reference service's command line. Configuration comes from the environment (and a
/// `.env` file); the flags only choose what to do.
#[derive(Debug, Parser)]
#[command(
    about = "Keep a local user table in step with Clerk: webhooks, sessions, reconcile, \
             outbound sync, the admin API and dashboard, health and metrics.",
    long_about = None,
    after_help = "Configuration comes from the environment and an optional .env file: \
DATABASE_URL, CLERK_WEBHOOK_SECRET, CLERK_SECRET_KEY, CLERK_API_URL, CLERK_JWT_KEY, \
CLERK_JWKS_URL, CLERK_AUTHORIZED_PARTIES, ADMIN_API_KEY, BIND_ADDR, RECONCILE_INTERVAL, \
LOG_FORMAT, CORS_ORIGINS, RATE_LIMIT_WEBHOOK, RATE_LIMIT_ADMIN (see docs/operations.md).\n\
With nothing set, it serves on 127.0.0.1:8787 with a SQLite file, clerk-sync.db, and \
development secrets kept beside it.",
    disable_help_subcommand = true
)]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// Parse the process's arguments, with `name` (the binary's name) in the help and usage
    /// lines and `version` (the binary's version) for `--version`. Exits with clap's message
    /// and status on `--help`, `--version` or a bad argument.
    pub fn parse_for(name: &'static str, version: &'static str) -> Cli {
        let matches = <Cli as clap::CommandFactory>::command()
            .name(name)
            .bin_name(name)
            .version(version)
            .get_matches();
        Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit())
    }

    /// The command, `serve` when none was given.
    pub fn into_command(self) -> Command {
        self.command.unwrap_or(Command::Serve(ServeArgs::default()))
    }
}

/// One thing to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service (the default): webhooks, /api/me, the admin API and dashboard,
    /// health and metrics, with the outbound worker and the scheduled reconcile.
    Serve(ServeArgs),
    /// Create or upgrade the database schema, then exit (serve does it at start too).
    Migrate,
    /// Compare the whole user table with Clerk's user list and repair the difference.
    Reconcile(ReconcileArgs),
    /// Import every Clerk user without deleting anything; continues an interrupted backfill.
    Backfill(BackfillArgs),
    /// Fetch one user from Clerk and apply it to the table.
    Resync(ResyncArgs),
    /// Queue failed outbound changes (local creates, updates, deletes) for Clerk again.
    RetryFailed(RetryFailedArgs),
    /// List the local users with their sync state.
    Users(UsersArgs),
    /// Sign sample user.created, user.updated and user.deleted events with the configured
    /// webhook secret, post them to the running service, and print its answers.
    SendTestWebhook(SendTestWebhookArgs),
}

/// `serve`.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Do not run the outbound worker here (another replica runs it, or a test wants the
    /// outbox left alone).
    #[arg(long)]
    pub no_outbound: bool,
    /// Do not run the scheduled reconcile here, whatever RECONCILE_INTERVAL says.
    #[arg(long)]
    pub no_reconcile: bool,
}

/// `reconcile`.
#[derive(Debug, Clone, Default, Args)]
pub struct ReconcileArgs {
    /// Change nothing: only report what a run would do.
    #[arg(long)]
    pub dry_run: bool,
    /// Rewrite every row from Clerk, and delete past the mass-deletion guard.
    #[arg(long)]
    pub force: bool,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `backfill`.
#[derive(Debug, Clone, Default, Args)]
pub struct BackfillArgs {
    /// Start from the first user even if an earlier backfill stopped part way.
    #[arg(long)]
    pub restart: bool,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `resync`.
#[derive(Debug, Clone, Args)]
pub struct ResyncArgs {
    /// The user's Clerk id (user_...).
    #[arg(value_name = "ID")]
    pub id: String,
}

/// `retry-failed`.
#[derive(Debug, Clone, Default, Args)]
pub struct RetryFailedArgs {
    /// Only this user's failed changes (a local id).
    #[arg(long, value_name = "LOCAL_ID")]
    pub user_id: Option<i64>,
}

/// The sync states `users --status` filters on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFilter {
    /// In step with Clerk.
    Synced,
    /// A local change waits to be pushed to Clerk.
    Pending,
    /// A local change failed; see its sync_error.
    Failed,
}

/// `users`.
#[derive(Debug, Clone, Args)]
pub struct UsersArgs {
    /// Only users in this sync state.
    #[arg(long, value_enum, value_name = "S")]
    pub status: Option<StatusFilter>,
    /// At most this many users.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: u32,
    /// Include deleted users (tombstones).
    #[arg(long)]
    pub include_deleted: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `send-test-webhook`.
#[derive(Debug, Clone, Default, Args)]
pub struct SendTestWebhookArgs {
    /// The webhook endpoint [default: http://BIND_ADDR/api/webhooks/clerk].
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        <Cli as clap::CommandFactory>::command().debug_assert();
    }

    #[test]
    fn serve_is_the_default() {
        let cli = Cli::try_parse_from(["svc"]).unwrap();
        assert!(matches!(cli.into_command(), Command::Serve(_)));
        let cli = Cli::try_parse_from(["svc", "reconcile", "--dry-run", "--json"]).unwrap();
        assert!(matches!(
            cli.into_command(),
            Command::Reconcile(ReconcileArgs {
                dry_run: true,
                force: false,
                json: true
            })
        ));
        let cli = Cli::try_parse_from(["svc", "users", "--status", "failed"]).unwrap();
        assert!(matches!(
            cli.into_command(),
            Command::Users(UsersArgs {
                status: Some(StatusFilter::Failed),
                ..
            })
        ));
        assert!(Cli::try_parse_from(["svc", "users", "--status", "lost"]).is_err());
        assert!(Cli::try_parse_from(["svc", "resync"]).is_err());
    }
}
