//! Logs (`LOG_FORMAT`, `RUST_LOG`) and the Prometheus exporter behind `GET /metrics`.

use std::io::IsTerminal as _;
use std::sync::Arc;
use std::time::Duration;

use clerk_sync_core::http::MetricsRenderer;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Start writing logs to stderr: text (coloured on a terminal) or one JSON object per line,
/// filtered by `RUST_LOG` (default: `default_level`, e.g. `"info"`). Each line of a request
/// carries its span's fields, among them the request id. Does nothing if logging is
/// already set up.
pub fn init_logging(format: LogFormat, default_level: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
}

/// The Prometheus exporter, installed as the process's `metrics` recorder: what the engine
/// records (`clerk_sync_webhooks_total`, ...) is rendered by [`Metrics::renderer`].
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Install the exporter as the global recorder. `None` (with a warning) if another
    /// recorder is already installed in this process.
    pub fn install() -> Option<Metrics> {
        match PrometheusBuilder::new().install_recorder() {
            Ok(handle) => Some(Metrics { handle }),
            Err(error) => {
                tracing::warn!(%error, "metrics: no Prometheus recorder; /metrics answers 404");
                None
            }
        }
    }

    /// The page renderer for [`ClerkHttp::with_metrics`](clerk_sync_core::http::ClerkHttp::with_metrics).
    pub fn renderer(&self) -> MetricsRenderer {
        let handle = self.handle.clone();
        Arc::new(move || handle.render())
    }

    /// Drain histogram buckets now and then (the exporter does not do it by itself without
    /// its HTTP listener); [`crate::background`] calls this.
    pub(crate) async fn upkeep(self, stop: impl std::future::Future<Output = ()>) {
        let mut stop = std::pin::pin!(stop);
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tokio::select! {
                _ = tick.tick() => self.handle.run_upkeep(),
                () = &mut stop => return,
            }
        }
    }
}
