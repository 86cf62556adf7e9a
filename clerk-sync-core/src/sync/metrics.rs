//! The engine's metrics, through the `metrics` facade: the application picks the exporter.
//!
//! Names and labels are those of ARCHITECTURE.md "Observability". Label values come from
//! small fixed sets (outcomes, kinds, known event types), never from ids or payloads, so the
//! series count stays bounded.

use std::time::Duration;

use crate::event::ClerkEvent;

/// Count one webhook delivery and how long it took to apply.
pub(super) fn webhook(event_type: &str, outcome: &'static str, elapsed: Duration) {
    // Unknown types are free text from the sender: one bucket for all of them.
    let event_type = if ClerkEvent::KNOWN_TYPES.contains(&event_type) {
        event_type.to_owned()
    } else {
        "other".to_owned()
    };
    metrics::counter!("clerk_sync_webhooks_total", "type" => event_type, "outcome" => outcome)
        .increment(1);
    metrics::histogram!("clerk_sync_webhook_apply_seconds").record(elapsed.as_secs_f64());
}

/// Count one on-demand fetch: `found`, `not_found`, `cached_not_found` or `error`.
#[cfg(feature = "clerk-api")]
pub(super) fn fallback_fetch(result: &'static str) {
    metrics::counter!("clerk_sync_fallback_fetches_total", "result" => result).increment(1);
}

/// Count one reconcile run: `ok`, `stopped` (the mass-deletion guard) or `error`.
#[cfg(feature = "clerk-api")]
pub(super) fn reconcile_run(result: &'static str) {
    metrics::counter!("clerk_sync_reconcile_runs_total", "result" => result).increment(1);
}

/// Count rows a reconcile or backfill changed: `created`, `updated` or `deleted`.
#[cfg(feature = "clerk-api")]
pub(super) fn reconcile_changes(kind: &'static str, count: u64) {
    if count > 0 {
        metrics::counter!("clerk_sync_reconcile_changes_total", "kind" => kind).increment(count);
    }
}
