//! The second and third recovery layers: a periodic reconcile of the whole table against
//! Clerk's user list ([`SyncEngine::reconcile`]), and a backfill that walks the list without
//! deleting anything, resumable after a crash ([`SyncEngine::backfill`]).
//!
//! Both walk `GET /v1/users?limit=500&order_by=+created_at&starting_after=<last id>`: a cursor
//! needs the created-at order, and offset paging slows down and skips users when others are
//! deleted mid-walk. Memory stays bounded by one page plus one 8-byte hash per user seen:
//! never every user's JSON.
//!
//! Reconcile compares each page with the local versions and writes the difference through the
//! conditional write (so it can race webhooks safely). Deletion is never inferred from absence
//! alone: a live local row missing from the listing is tombstoned only after
//! `GET /v1/users/{id}` answers 404, and a run that would delete more than a configured share
//! *and* count of live rows stops before deleting anything, unless forced: a wrong secret key
//! pointed at another instance must not wipe a table.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::recovery::user_record;
use super::{SyncEngine, SyncError, metrics};
use crate::clerk_api::{ClerkApi, ClerkUser, ListUsers};
use crate::store::{
    ClerkUserRecord, InboundStore, LeaseStore, RunLogStore, SyncRun, Tombstone, UpsertOutcome,
    UserVersion, whole_micros,
};

/// The lease reconcile runs under.
pub const RECONCILE_LEASE: &str = "clerk-sync:reconcile";
/// The lease backfill runs under.
pub const BACKFILL_LEASE: &str = "clerk-sync:backfill";

/// How long a job's lease lasts without renewal. The job renews it before each page, so only
/// a stalled or dead job loses it.
const LEASE_TTL: Duration = Duration::from_secs(120);
/// Renew the lease when this much of it has passed.
const LEASE_RENEW_AFTER: Duration = Duration::from_secs(30);
/// Local rows read per page of the deletion sweep.
const SWEEP_PAGE: u32 = 1_000;
/// Ids kept per kind in a report.
const SAMPLES_PER_KIND: usize = 10;

/// The mass-deletion guard: a reconcile that would delete more than `max_share` of the live
/// rows **and** more than `max_count` rows stops and reports instead, unless forced.
///
/// Defaults: 10% and 10 rows. Both must be exceeded, so a small table can lose a few rows and
/// a large one a few percent in a normal run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeletionGuard {
    /// The share of live rows (0.0 to 1.0).
    pub max_share: f64,
    /// The number of rows.
    pub max_count: u64,
}

impl Default for DeletionGuard {
    fn default() -> Self {
        DeletionGuard {
            max_share: 0.10,
            max_count: 10,
        }
    }
}

impl DeletionGuard {
    /// Whether deleting `candidates` of `live` rows trips the guard.
    pub fn trips(&self, candidates: u64, live: u64) -> bool {
        candidates > self.max_count && (candidates as f64) > self.max_share * (live as f64)
    }
}

/// What a long run reports as it goes, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Which part of the run this is.
    pub phase: Phase,
    /// Clerk users listed so far (listing), or local rows checked so far (sweep).
    pub done: u64,
    /// Clerk's user count from `GET /v1/users/count` (listing), or the rows to check (sweep),
    /// when known.
    pub total: Option<u64>,
}

/// The part of a run a [`Progress`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    /// Walking Clerk's user list.
    Listing,
    /// Looking for local rows Clerk no longer lists (reconcile only).
    Sweeping,
}

/// A progress callback: called after each page.
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// How to run [`SyncEngine::reconcile`].
///
/// ```
/// use clerk_sync_core::sync::ReconcileOptions;
///
/// let preview = ReconcileOptions { dry_run: true, ..ReconcileOptions::default() };
/// assert!(!preview.force);
/// ```
#[derive(Clone, Default)]
pub struct ReconcileOptions {
    /// Change nothing: only report what a run would do.
    pub dry_run: bool,
    /// Rewrite every row from Clerk (also rows already at Clerk's version), and delete past
    /// the mass-deletion guard.
    pub force: bool,
    /// Who started the run, for the run log: an operator, `"schedule"`, ... (`"manual"` when
    /// empty).
    pub triggered_by: String,
    /// Called after each page.
    pub progress: Option<ProgressFn>,
}

impl std::fmt::Debug for ReconcileOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReconcileOptions")
            .field("dry_run", &self.dry_run)
            .field("force", &self.force)
            .field("triggered_by", &self.triggered_by)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// How to run [`SyncEngine::backfill`].
#[derive(Clone, Default)]
pub struct BackfillOptions {
    /// Start from the beginning even if an earlier backfill stopped part way.
    pub restart: bool,
    /// Who started the run, for the run log (`"manual"` when empty).
    pub triggered_by: String,
    /// Called after each page.
    pub progress: Option<ProgressFn>,
}

impl std::fmt::Debug for BackfillOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackfillOptions")
            .field("restart", &self.restart)
            .field("triggered_by", &self.triggered_by)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// Up to ten ids per kind of change, to look at after a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReportSamples {
    /// Users created locally.
    pub created: Vec<String>,
    /// Rows updated from Clerk.
    pub updated: Vec<String>,
    /// Rows tombstoned (or, while the guard holds, that would have been).
    pub deleted: Vec<String>,
    /// Users that could not be applied.
    pub failed: Vec<String>,
}

/// What a reconcile or backfill did (or, with `dry_run`, would do).
///
/// Serialized with the field names below; this is also the report the run log keeps.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReconcileReport {
    /// Users Clerk has that the table did not: inserted (or linked to a local row by email).
    pub created: u64,
    /// Rows whose version was older than Clerk's (with `force`, also rows at the same
    /// version): overwritten.
    pub updated: u64,
    /// Live rows Clerk answered 404 for: tombstoned.
    pub deleted: u64,
    /// Users already at Clerk's version, or whose row is a tombstone.
    pub unchanged: u64,
    /// Users Clerk listed that could not be applied (no usable id or version).
    pub failed: u64,
    /// Whether the run only reported.
    pub dry_run: bool,
    /// Whether the run was forced.
    #[serde(default)]
    pub force: bool,
    /// Users listed by Clerk.
    #[serde(default)]
    pub listed: u64,
    /// Why the run stopped before finishing, e.g. the mass-deletion guard. `None` for a run
    /// that did all its work.
    #[serde(default)]
    pub stopped: Option<String>,
    /// For a backfill: the user id it resumed after.
    #[serde(default)]
    pub resumed_from: Option<String>,
    /// Ids of each kind of change.
    #[serde(default)]
    pub samples: ReportSamples,
}

impl ReconcileReport {
    fn sample(list: &mut Vec<String>, id: &str) {
        if list.len() < SAMPLES_PER_KIND {
            list.push(id.to_owned());
        }
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// How the local table compares with Clerk: `GET /api/health/user-sync`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UserSyncHealth {
    /// `"healthy"`, or `"warning"` when the discrepancy passes the threshold.
    pub status: String,
    /// Clerk's user count.
    pub clerk_users: u64,
    /// Live local rows with a Clerk id (tombstones and rows not yet in Clerk excluded).
    pub db_users: u64,
    /// `|clerk_users - db_users|`.
    pub discrepancy: u64,
    /// Rows in `failed`.
    pub failed: u64,
    /// Rows in `pending`.
    pub pending: u64,
}

/// The default discrepancy above which [`SyncEngine::user_sync_health`] warns: the alert
/// threshold the operations guide recommends.
pub const DEFAULT_DISCREPANCY_WARNING: u64 = 10;

/// One run's walk state: the lease, the run log entry and the report so far.
struct Run<'a, S: ?Sized> {
    engine: &'a SyncEngine<S>,
    job: &'static str,
    lease: &'static str,
    holder: String,
    renewed: Instant,
    run_id: i64,
    report: ReconcileReport,
    progress: Option<ProgressFn>,
}

impl<S: LeaseStore + RunLogStore + ?Sized> Run<'_, S> {
    async fn keep_lease(&mut self) -> Result<(), SyncError> {
        if self.renewed.elapsed() < LEASE_RENEW_AFTER {
            return Ok(());
        }
        let now = whole_micros(OffsetDateTime::now_utc());
        if !self
            .engine
            .store()
            .renew_lease(self.lease, &self.holder, LEASE_TTL, now)
            .await?
        {
            return Err(SyncError::LeaseLost { job: self.job });
        }
        self.renewed = Instant::now();
        Ok(())
    }

    async fn checkpoint(&self, cursor: Option<&str>) -> Result<(), SyncError> {
        self.engine
            .store()
            .checkpoint_run(self.run_id, cursor, &self.report.to_json())
            .await?;
        Ok(())
    }

    async fn finish(&self, cursor: Option<&str>) -> Result<(), SyncError> {
        let now = whole_micros(OffsetDateTime::now_utc());
        self.engine
            .store()
            .finish_run(self.run_id, now, cursor, &self.report.to_json())
            .await?;
        Ok(())
    }

    async fn release(&self) {
        // A failed release only delays the next run until the lease expires.
        if let Err(error) = self
            .engine
            .store()
            .release_lease(self.lease, &self.holder)
            .await
        {
            tracing::warn!(job = self.job, %error, "could not release the lease");
        }
    }

    fn report_progress(&self, phase: Phase, done: u64, total: Option<u64>) {
        if let Some(progress) = &self.progress {
            progress(Progress { phase, done, total });
        }
    }
}

impl<S: InboundStore + LeaseStore + RunLogStore + ?Sized> SyncEngine<S> {
    /// Set the mass-deletion guard of [`reconcile`](Self::reconcile) (default: 10% and 10
    /// rows).
    pub fn with_deletion_guard(mut self, guard: DeletionGuard) -> Self {
        self.jobs.deletion_guard = guard;
        self
    }

    /// Set the discrepancy above which [`user_sync_health`](Self::user_sync_health) reports
    /// `"warning"` (default [`DEFAULT_DISCREPANCY_WARNING`]).
    pub fn with_discrepancy_warning(mut self, threshold: u64) -> Self {
        self.jobs.discrepancy_warning = threshold;
        self
    }

    /// Compare the whole table with Clerk's user list and repair the difference.
    ///
    /// - Walks Clerk's list by cursor, 500 users a page, comparing each page with the local
    ///   versions: users missing here are created (or linked by email), older rows updated,
    ///   all through the conditional write, so webhooks arriving meanwhile are safe.
    /// - Then looks for live local rows Clerk did not list, and tombstones each one only after
    ///   `GET /v1/users/{id}` answers 404. If that would delete more than the
    ///   [`DeletionGuard`] allows, it deletes nothing and reports why in `stopped`, unless
    ///   `force` is set.
    /// - `dry_run` writes nothing to the user table (the run is still logged); `force`
    ///   rewrites every row at Clerk's version too.
    /// - One replica at a time: a lease row guards the run ([`SyncError::AlreadyRunning`]
    ///   otherwise). Every run is recorded with its report ([`RunLogStore::recent_runs`]).
    ///
    /// # Errors
    ///
    /// [`SyncError::AlreadyRunning`], [`SyncError::ClerkApiNotConfigured`],
    /// [`SyncError::ClerkApi`] (the run is logged with the error and stops),
    /// [`SyncError::Store`], [`SyncError::LeaseLost`].
    pub async fn reconcile(&self, options: ReconcileOptions) -> Result<ReconcileReport, SyncError> {
        let api = self.require_api()?.clone();
        let mut run = self
            .start_job("reconcile", RECONCILE_LEASE, &options.triggered_by, |run| {
                run.dry_run = options.dry_run;
                run.force = options.force;
            })
            .await?;
        run.report.dry_run = options.dry_run;
        run.report.force = options.force;
        run.progress.clone_from(&options.progress);
        tracing::info!(
            dry_run = options.dry_run,
            force = options.force,
            "reconcile started"
        );
        let result = self.reconcile_walk(&api, &mut run, &options).await;
        let outcome = self.end_job(&mut run, result, true).await;
        metrics::reconcile_run(match &outcome {
            Ok(report) if report.stopped.is_some() => "stopped",
            Ok(_) => "ok",
            Err(_) => "error",
        });
        outcome
    }

    /// Walk Clerk's user list and apply it, without deleting anything: for users who existed
    /// before the webhook was set up, or after a long outage.
    ///
    /// Resumable: the cursor is saved after each page, and a backfill that stopped (a crash,
    /// Clerk unavailable) continues after the last applied user, unless `restart` is set.
    /// One replica at a time, under its own lease.
    ///
    /// # Errors
    ///
    /// As [`reconcile`](Self::reconcile). After an error the run stays unfinished in the run
    /// log, with its cursor, so that the next backfill resumes it.
    pub async fn backfill(&self, options: BackfillOptions) -> Result<ReconcileReport, SyncError> {
        let api = self.require_api()?.clone();
        let previous = if options.restart {
            None
        } else {
            self.store()
                .latest_run("backfill")
                .await?
                .filter(|r| !r.is_finished() && r.cursor.is_some())
        };
        let mut run = self
            .start_job("backfill", BACKFILL_LEASE, &options.triggered_by, |_| {})
            .await?;
        run.progress.clone_from(&options.progress);
        let mut cursor = None;
        if let Some(previous) = previous {
            // The earlier run's totals continue, so its report covers the whole walk.
            if let Ok(report) = serde_json::from_value::<ReconcileReport>(previous.report) {
                run.report = report;
            }
            run.report.stopped = None;
            run.report.resumed_from.clone_from(&previous.cursor);
            cursor = previous.cursor;
            // The earlier run is closed; this one carries on from its cursor.
            self.store()
                .finish_run(
                    previous.id,
                    whole_micros(OffsetDateTime::now_utc()),
                    cursor.as_deref(),
                    &serde_json::json!({"stopped": "resumed by a later backfill",
                        "resumed_by": run.run_id}),
                )
                .await?;
            tracing::info!(resumed_after = cursor.as_deref(), "backfill resumed");
        } else {
            tracing::info!("backfill started");
        }
        let result = self
            .listing_walk(&api, &mut run, cursor, false, false, None)
            .await
            .map(|_| ());
        self.end_job(&mut run, result, false).await
    }

    /// How the local table compares with Clerk: user counts and the rows in `failed` and
    /// `pending`.
    ///
    /// # Errors
    ///
    /// [`SyncError::Store`], [`SyncError::ClerkApi`], [`SyncError::ClerkApiNotConfigured`].
    pub async fn user_sync_health(&self) -> Result<UserSyncHealth, SyncError> {
        let api = self.require_api()?;
        let clerk_users = api.count_users().await?;
        let counts = self.store().count_by_status().await?;
        let discrepancy = clerk_users.abs_diff(counts.with_clerk_id);
        let status = if discrepancy > self.jobs.discrepancy_warning {
            "warning"
        } else {
            "healthy"
        };
        Ok(UserSyncHealth {
            status: status.to_owned(),
            clerk_users,
            db_users: counts.with_clerk_id,
            discrepancy,
            failed: counts.failed,
            pending: counts.pending,
        })
    }

    /// Take the job's lease and record the run's start.
    async fn start_job(
        &self,
        job: &'static str,
        lease: &'static str,
        triggered_by: &str,
        describe: impl FnOnce(&mut SyncRun),
    ) -> Result<Run<'_, S>, SyncError> {
        let now = whole_micros(OffsetDateTime::now_utc());
        let holder = format!("{}:{}", self.jobs.instance, crate::store::new_claim_token());
        if !self
            .store()
            .try_acquire_lease(lease, &holder, LEASE_TTL, now)
            .await?
        {
            return Err(SyncError::AlreadyRunning { job });
        }
        let triggered_by = if triggered_by.is_empty() {
            "manual"
        } else {
            triggered_by
        };
        let mut record = SyncRun::new(job, triggered_by, now);
        describe(&mut record);
        let run_id = match self.store().start_run(&record).await {
            Ok(id) => id,
            Err(error) => {
                let _ = self.store().release_lease(lease, &holder).await;
                return Err(error.into());
            }
        };
        Ok(Run {
            engine: self,
            job,
            lease,
            holder,
            renewed: Instant::now(),
            run_id,
            report: ReconcileReport::default(),
            progress: None,
        })
    }

    /// Record how the run ended, release its lease, and count its changes.
    async fn end_job(
        &self,
        run: &mut Run<'_, S>,
        result: Result<(), SyncError>,
        finish_on_error: bool,
    ) -> Result<ReconcileReport, SyncError> {
        let logged = match &result {
            Ok(()) => run.finish(None).await,
            Err(error) => {
                run.report.stopped = Some(format!("error: {error}"));
                if finish_on_error {
                    run.finish(None).await
                } else {
                    // Left unfinished with its cursor (saved after the last good page).
                    Ok(())
                }
            }
        };
        run.release().await;
        let report = std::mem::take(&mut run.report);
        if !report.dry_run {
            metrics::reconcile_changes("created", report.created);
            metrics::reconcile_changes("updated", report.updated);
            metrics::reconcile_changes("deleted", report.deleted);
        }
        match result {
            Ok(()) => {
                logged?;
                tracing::info!(
                    job = run.job,
                    created = report.created,
                    updated = report.updated,
                    deleted = report.deleted,
                    unchanged = report.unchanged,
                    failed = report.failed,
                    stopped = report.stopped.as_deref(),
                    "{} finished",
                    run.job
                );
                Ok(report)
            }
            Err(error) => {
                if let Err(log_error) = logged {
                    tracing::warn!(job = run.job, %log_error, "could not record the failed run");
                }
                tracing::warn!(job = run.job, %error, "{} failed", run.job);
                Err(error)
            }
        }
    }

    async fn reconcile_walk(
        &self,
        api: &ClerkApi,
        run: &mut Run<'_, S>,
        options: &ReconcileOptions,
    ) -> Result<(), SyncError> {
        let hasher = RandomState::new();
        let mut seen = HashSet::new();
        self.listing_walk(
            api,
            run,
            None,
            options.dry_run,
            options.force,
            Some((&hasher, &mut seen)),
        )
        .await?;
        self.sweep(api, run, options, &hasher, &seen).await
    }

    /// Walk Clerk's list from `cursor`, applying each page (unless `dry_run`) and counting.
    /// With `seen`, remember a hash of every listed id for the sweep.
    async fn listing_walk(
        &self,
        api: &ClerkApi,
        run: &mut Run<'_, S>,
        cursor: Option<String>,
        dry_run: bool,
        force: bool,
        mut seen: Option<(&RandomState, &mut HashSet<u64>)>,
    ) -> Result<Option<String>, SyncError> {
        // The total is for progress bars only: a failure to count must not stop the walk.
        let total = match api.count_users().await {
            Ok(total) => Some(total),
            Err(error) => {
                tracing::debug!(%error, "user count unavailable for progress");
                None
            }
        };
        let mut options = ListUsers::new();
        if let Some(cursor) = &cursor {
            options = options.starting_after(cursor.clone());
        }
        let mut pages = api.list_users(options);
        loop {
            run.keep_lease().await?;
            let Some(page) = pages.next_page().await? else {
                break;
            };
            run.report.listed += page.len() as u64;
            if let Some((hasher, seen)) = seen.as_mut() {
                for id in page.iter().filter_map(ClerkUser::id) {
                    seen.insert(hasher.hash_one(id));
                }
            }
            self.apply_page(&page, dry_run, force, &mut run.report)
                .await?;
            // Saved after the page is applied: a resumed backfill never skips a user.
            run.checkpoint(pages.cursor()).await?;
            run.report_progress(Phase::Listing, run.report.listed, total);
        }
        Ok(pages.cursor().map(str::to_owned))
    }

    /// Compare one page with the local versions, then write it (unless `dry_run`).
    async fn apply_page(
        &self,
        page: &[ClerkUser],
        dry_run: bool,
        force: bool,
        report: &mut ReconcileReport,
    ) -> Result<(), SyncError> {
        let mut records: Vec<ClerkUserRecord> = Vec::with_capacity(page.len());
        for user in page {
            match user_record(user) {
                Some(mut record) => {
                    record.rewrite_same_version = force;
                    records.push(record);
                }
                None => {
                    report.failed += 1;
                    ReconcileReport::sample(
                        &mut report.samples.failed,
                        user.id().unwrap_or("(no id)"),
                    );
                }
            }
        }
        let ids: Vec<&str> = records.iter().map(|r| r.clerk_id.as_str()).collect();
        let local: HashMap<String, UserVersion> = self
            .store()
            .versions_of(&ids)
            .await?
            .into_iter()
            .map(|v| (v.clerk_id.clone(), v))
            .collect();
        // Classified before writing: the samples, and a dry run's counts.
        let mut expected = crate::store::BatchOutcome::default();
        for record in &records {
            let change = classify(local.get(&record.clerk_id), record, force);
            expected.count(change);
            match change {
                UpsertOutcome::Inserted => {
                    ReconcileReport::sample(&mut report.samples.created, &record.clerk_id);
                }
                UpsertOutcome::Updated => {
                    ReconcileReport::sample(&mut report.samples.updated, &record.clerk_id);
                }
                _ => {}
            }
        }
        let counted = if dry_run {
            expected
        } else {
            // The store's own counts: exact even if a webhook changed a row meanwhile.
            let now = whole_micros(OffsetDateTime::now_utc());
            self.store().apply_batch(&records, now).await?
        };
        report.created += counted.inserted;
        report.updated += counted.updated;
        report.unchanged += counted.unchanged;
        Ok(())
    }

    /// Find live local rows Clerk did not list; tombstone those Clerk answers 404 for.
    async fn sweep(
        &self,
        api: &ClerkApi,
        run: &mut Run<'_, S>,
        options: &ReconcileOptions,
        hasher: &RandomState,
        seen: &HashSet<u64>,
    ) -> Result<(), SyncError> {
        let unseen = |v: &UserVersion| !v.deleted && !seen.contains(&hasher.hash_one(&v.clerk_id));

        // First pass: count, so that the guard decides before a single delete.
        let (mut live, mut candidates) = (0_u64, 0_u64);
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store()
                .scan_versions(after.as_deref(), SWEEP_PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            after = Some(last.clerk_id.clone());
            live += page.iter().filter(|v| !v.deleted).count() as u64;
            candidates += page.iter().filter(|v| unseen(v)).count() as u64;
        }
        let guard = self.jobs.deletion_guard;
        if !options.force && guard.trips(candidates, live) {
            let reason = format!(
                "mass-deletion guard: {candidates} of {live} live rows are missing from \
                 Clerk's list (the limit is more than {:.0}% and more than {} rows); nothing \
                 was deleted. Check that the secret key belongs to this instance, then run \
                 with force to delete them.",
                guard.max_share * 100.0,
                guard.max_count
            );
            tracing::warn!(
                candidates,
                live,
                "reconcile stopped by the mass-deletion guard"
            );
            run.report.stopped = Some(reason);
            // Show which rows, so an operator can check a few in the Clerk dashboard.
            let mut after: Option<String> = None;
            while run.report.samples.deleted.len() < SAMPLES_PER_KIND {
                let page = self
                    .store()
                    .scan_versions(after.as_deref(), SWEEP_PAGE)
                    .await?;
                let Some(last) = page.last() else { break };
                after = Some(last.clerk_id.clone());
                for v in page.iter().filter(|v| unseen(v)) {
                    ReconcileReport::sample(&mut run.report.samples.deleted, &v.clerk_id);
                }
            }
            return Ok(());
        }
        if candidates == 0 {
            return Ok(());
        }

        // Second pass: confirm each candidate with Clerk before deleting it.
        let mut checked = 0_u64;
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store()
                .scan_versions(after.as_deref(), SWEEP_PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            after = Some(last.clerk_id.clone());
            for version in page.iter().filter(|v| unseen(v)) {
                run.keep_lease().await?;
                self.confirm_missing(api, version, options, &mut run.report)
                    .await?;
                checked += 1;
            }
            run.report_progress(Phase::Sweeping, checked, Some(candidates));
        }
        run.checkpoint(None).await
    }

    /// `GET /v1/users/{id}` for a row Clerk did not list: 404 tombstones it; a user that does
    /// exist (created or changed during the walk) is applied like a listed one.
    async fn confirm_missing(
        &self,
        api: &ClerkApi,
        version: &UserVersion,
        options: &ReconcileOptions,
        report: &mut ReconcileReport,
    ) -> Result<(), SyncError> {
        let clerk_id = version.clerk_id.as_str();
        match api.fetch_user(clerk_id).await? {
            None => {
                ReconcileReport::sample(&mut report.samples.deleted, clerk_id);
                report.deleted += 1;
                if !options.dry_run {
                    let now = whole_micros(OffsetDateTime::now_utc());
                    self.store()
                        .tombstone_user(&Tombstone::new(clerk_id, now), now)
                        .await?;
                }
                Ok(())
            }
            Some(user) => {
                self.apply_page(&[user], options.dry_run, options.force, report)
                    .await
            }
        }
    }
}

/// What the conditional write will do with `record` given the local version.
fn classify(local: Option<&UserVersion>, record: &ClerkUserRecord, force: bool) -> UpsertOutcome {
    match local {
        None => UpsertOutcome::Inserted,
        Some(v) if v.deleted => UpsertOutcome::Deleted,
        Some(v) => match v.clerk_updated_at {
            None => UpsertOutcome::Updated,
            Some(stored) if stored < record.clerk_updated_at => UpsertOutcome::Updated,
            Some(stored) if force && stored == record.clerk_updated_at => UpsertOutcome::Updated,
            Some(_) => UpsertOutcome::Stale,
        },
    }
}

/// The engine's settings for the jobs, shared by its clones.
#[derive(Debug, Clone)]
pub(super) struct JobSettings {
    /// Names this engine in lease holders: the process, and a random part per engine.
    pub(super) instance: Arc<str>,
    pub(super) deletion_guard: DeletionGuard,
    pub(super) discrepancy_warning: u64,
    pub(super) outbound: super::outbound::OutboundConfig,
}

impl Default for JobSettings {
    fn default() -> Self {
        let token = crate::store::new_claim_token();
        JobSettings {
            instance: format!("pid{}-{}", std::process::id(), &token[..8]).into(),
            deletion_guard: DeletionGuard::default(),
            discrepancy_warning: DEFAULT_DISCREPANCY_WARNING,
            outbound: super::outbound::OutboundConfig::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guard_needs_both_share_and_count() {
        let guard = DeletionGuard::default();
        assert!(!guard.trips(10, 20), "50% but only 10 rows");
        assert!(!guard.trips(11, 1_000), "11 rows but 1.1%");
        assert!(guard.trips(11, 100), "11% and 11 rows");
        assert!(!guard.trips(0, 0));
    }

    #[test]
    fn classify_follows_the_conditional_write() {
        let record = ClerkUserRecord::new("user_1", 10, "{}");
        assert_eq!(classify(None, &record, false), UpsertOutcome::Inserted);
        let at = |v| UserVersion::new("user_1", Some(v), false);
        assert_eq!(
            classify(Some(&at(9)), &record, false),
            UpsertOutcome::Updated
        );
        assert_eq!(
            classify(Some(&at(10)), &record, false),
            UpsertOutcome::Stale
        );
        assert_eq!(
            classify(Some(&at(10)), &record, true),
            UpsertOutcome::Updated
        );
        assert_eq!(classify(Some(&at(11)), &record, true), UpsertOutcome::Stale);
        let gone = UserVersion::new("user_1", None, true);
        assert_eq!(classify(Some(&gone), &record, true), UpsertOutcome::Deleted);
    }
}
