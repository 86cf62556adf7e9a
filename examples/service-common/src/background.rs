//! The background tasks of `serve`: the outbound worker, the scheduled reconcile, ledger
//! pruning and the metrics upkeep, all stopping on one [`Shutdown`].

use std::time::Duration;

use clerk_sync_core::store::SyncStore;
use clerk_sync_core::sync::{ReconcileOptions, SyncEngine, SyncError};
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::error::chain;
use crate::observe::Metrics;
use crate::shutdown::Shutdown;

/// How often the ledger is pruned (entries past the engine's retention, 30 days by default).
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// How long a scheduled reconcile in progress may go on after shutdown is asked for; then it
/// is dropped, and its lease expires by itself (the next run, on any replica, starts over).
pub const RECONCILE_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Which background tasks to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackgroundOptions {
    /// Run the outbound worker (when the Backend API is configured).
    pub outbound: bool,
    /// Run the scheduled reconcile (when `RECONCILE_INTERVAL` and the Backend API are set).
    pub reconcile: bool,
}

impl Default for BackgroundOptions {
    fn default() -> Self {
        BackgroundOptions {
            outbound: true,
            reconcile: true,
        }
    }
}

/// The running tasks; [`Background::join`] waits for them after shutdown.
#[derive(Debug)]
pub struct Background {
    tasks: Vec<(&'static str, JoinHandle<()>)>,
}

impl Background {
    /// Start the tasks `config` and `options` call for, each stopping when `shutdown` is
    /// triggered:
    ///
    /// - the outbound worker ([`SyncEngine::run_outbound`]), with `CLERK_SECRET_KEY`;
    /// - a reconcile every `RECONCILE_INTERVAL`, the first one interval after start (the
    ///   engine's lease lets one replica at a time run it; the others skip that round);
    /// - ledger pruning, now and every [`PRUNE_EVERY`];
    /// - the metrics exporter's upkeep, with `metrics`.
    pub fn spawn(
        engine: &SyncEngine<dyn SyncStore>,
        config: &Config,
        options: BackgroundOptions,
        metrics: Option<Metrics>,
        shutdown: &Shutdown,
    ) -> Background {
        let mut tasks = Vec::new();
        let api = engine.clerk_api().is_some();
        if options.outbound && api {
            let engine = engine.clone();
            let stop = shutdown.wait();
            tasks.push((
                "outbound worker",
                tokio::spawn(async move {
                    if let Err(error) = engine.run_outbound(stop).await {
                        tracing::error!(error = %chain(&error), "the outbound worker stopped");
                    }
                }),
            ));
        }
        if let (true, true, Some(interval)) = (options.reconcile, api, config.reconcile_interval) {
            let engine = engine.clone();
            let shutdown = shutdown.clone();
            tasks.push((
                "scheduled reconcile",
                tokio::spawn(scheduled_reconcile(engine, interval, shutdown)),
            ));
        }
        {
            let engine = engine.clone();
            let shutdown = shutdown.clone();
            tasks.push(("ledger pruning", tokio::spawn(prune(engine, shutdown))));
        }
        if let Some(metrics) = metrics {
            tasks.push((
                "metrics upkeep",
                tokio::spawn(metrics.upkeep(shutdown.wait())),
            ));
        }
        Background { tasks }
    }

    /// The names of the tasks running, for the startup text.
    pub fn names(&self) -> Vec<&'static str> {
        self.tasks.iter().map(|(name, _)| *name).collect()
    }

    /// Wait for every task to stop (after shutdown was triggered), at most `limit`; a task
    /// still running then is aborted, with a warning.
    pub async fn join(self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        for (name, mut task) in self.tasks {
            match tokio::time::timeout_at(deadline, &mut task).await {
                Ok(_) => tracing::debug!(task = name, "stopped"),
                Err(_) => {
                    tracing::warn!(task = name, "did not stop in time; aborted");
                    task.abort();
                }
            }
        }
    }
}

async fn scheduled_reconcile(
    engine: SyncEngine<dyn SyncStore>,
    interval: Duration,
    shutdown: Shutdown,
) {
    tracing::info!(every_secs = interval.as_secs(), "scheduled reconcile on");
    let mut next = tokio::time::Instant::now() + interval;
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(next) => {}
            () = shutdown.wait() => return,
        }
        let run = engine.reconcile(ReconcileOptions {
            triggered_by: "schedule".to_owned(),
            ..ReconcileOptions::default()
        });
        let mut run = std::pin::pin!(run);
        let result = tokio::select! {
            result = &mut run => result,
            () = shutdown.wait() => {
                match tokio::time::timeout(RECONCILE_SHUTDOWN_GRACE, run).await {
                    Ok(result) => result,
                    Err(_) => {
                        tracing::warn!("scheduled reconcile stopped by shutdown; its lease expires by itself");
                        return;
                    }
                }
            }
        };
        match result {
            Ok(report) => tracing::info!(
                created = report.created,
                updated = report.updated,
                deleted = report.deleted,
                unchanged = report.unchanged,
                failed = report.failed,
                stopped = report.stopped.as_deref(),
                "scheduled reconcile finished"
            ),
            Err(SyncError::AlreadyRunning { .. }) => {
                tracing::info!("scheduled reconcile skipped: another replica is running one");
            }
            Err(error) => tracing::warn!(error = %chain(&error), "scheduled reconcile failed"),
        }
        next = tokio::time::Instant::now() + interval;
        if shutdown.is_triggered() {
            return;
        }
    }
}

async fn prune(engine: SyncEngine<dyn SyncStore>, shutdown: Shutdown) {
    let mut tick = tokio::time::interval(PRUNE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.wait() => return,
        }
        match engine.prune_ledger().await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, "ledger pruned"),
            Err(error) => tracing::warn!(error = %chain(&error), "ledger pruning failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use clerk_sync_core::memory::MemoryStore;
    use clerk_sync_core::store::{RunLogStore as _, SyncStore, UserQuery, UserStore as _};
    use clerk_sync_testing::{FakeClerk, SeedUser};

    use super::*;

    /// The scheduled reconcile runs one interval after the start (not at once), is logged
    /// as triggered by the schedule, and every task stops promptly on shutdown.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn scheduled_reconcile_and_clean_stop() {
        let fake = FakeClerk::start().await;
        fake.seed_user(SeedUser::new("scheduled@example.com"))
            .unwrap();
        let mut config = Config::from_lookup(|name| match name {
            "CLERK_SECRET_KEY" => Some(fake.secret_key().to_owned()),
            "CLERK_API_URL" => Some(fake.base_url().to_owned()),
            "CLERK_WEBHOOK_SECRET" => Some(fake.webhook_secret().to_owned()),
            _ => None,
        })
        .unwrap();
        // Below the configuration's minimum, which only guards the environment.
        config.reconcile_interval = Some(Duration::from_millis(700));
        let store = Arc::new(MemoryStore::new());
        let shared: Arc<dyn SyncStore> = store.clone();
        let engine = crate::build_engine(&config, shared).unwrap();
        let shutdown = Shutdown::new();
        let background = Background::spawn(
            &engine,
            &config,
            BackgroundOptions::default(),
            None,
            &shutdown,
        );
        assert_eq!(
            background.names(),
            ["outbound worker", "scheduled reconcile", "ledger pruning"]
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            store.recent_runs(10).await.unwrap().is_empty(),
            "not at start"
        );
        let started = std::time::Instant::now();
        let runs = loop {
            let runs = store.recent_runs(10).await.unwrap();
            if runs.iter().any(|r| r.finished_at.is_some()) {
                break runs;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "no scheduled run"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(runs[0].triggered_by, "schedule");
        let users = store.list_users(&UserQuery::new(10)).await.unwrap();
        assert!(
            users
                .iter()
                .any(|u| u.email.as_deref() == Some("scheduled@example.com")),
            "the reconcile applied Clerk's user"
        );

        shutdown.trigger();
        let stopping = std::time::Instant::now();
        background.join(Duration::from_secs(15)).await;
        assert!(
            stopping.elapsed() < Duration::from_secs(5),
            "stopped promptly"
        );
    }
}
