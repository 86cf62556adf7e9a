//! The outbound worker: local creates, invites, updates and deletes pushed to Clerk.
//!
//! Local changes are queued in the outbox in the same transaction as the row
//! ([`SyncEngine::create_local_user`] and the others). The worker claims due entries, sends
//! each to the Backend API, and settles it with its claim token:
//!
//! - success completes the entry (a create sets the row's `clerk_id`);
//! - a retryable failure (429, 5xx, network) fails it with a backoff (exponential, full
//!   jitter, capped) until the attempts run out;
//! - a permanent failure (a 4xx Clerk will refuse again), or the last attempt, makes it a dead
//!   letter and the row `failed`, with Clerk's readable message in `sync_error`.
//!
//! A create whose email Clerk already holds (`form_identifier_exists`), or whose answer was
//! lost (a timeout after sending), is resolved by looking the address up: a match is linked
//! instead of creating a second user. A worker that stalled past its claim can settle nothing
//! ([`ClaimOutcome::Lost`]), so workers on several replicas never send an entry twice on
//! purpose, and one user's changes go out in order.

use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use futures_util::StreamExt;
use time::OffsetDateTime;

use super::{SyncEngine, SyncError};
use crate::clerk_api::{
    ClerkApi, ClerkApiError, CreateInvitation, CreateUser, MetadataUpdate, UpdateUser,
};
use crate::store::{
    ClaimOutcome, InboundStore, LocalUser, OutboxEntry, OutboxOperation, OutboxStore,
    saturating_add, whole_micros,
};

/// How the outbound worker runs.
///
/// ```
/// use std::time::Duration;
/// use clerk_sync_core::sync::OutboundConfig;
///
/// let config = OutboundConfig { max_attempts: 5, ..OutboundConfig::default() };
/// assert_eq!(config.max_backoff, Duration::from_secs(300));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundConfig {
    /// This worker's name in claims (`claimed_by`); defaults to the engine's instance name.
    pub worker_id: Option<String>,
    /// Entries claimed per round.
    pub batch_size: u32,
    /// Calls to Clerk in flight at once within a round (the client's rate limiter still
    /// paces them).
    pub concurrency: usize,
    /// How long a claim lasts: a worker that stops (crash, deploy) leaves its entries to
    /// others after this. Keep it well above the client's total retry time.
    pub claim_lease: Duration,
    /// Attempts before an entry that keeps failing becomes a dead letter (8 by default).
    pub max_attempts: u32,
    /// The backoff before the second attempt; it doubles per attempt (with full jitter).
    pub base_backoff: Duration,
    /// The longest backoff.
    pub max_backoff: Duration,
    /// How long [`SyncEngine::run_outbound`] waits after a round that found nothing due.
    pub idle_poll: Duration,
    /// How long calls in flight may finish after shutdown is asked for; then they are dropped
    /// and their entries become claimable again when their claims expire.
    pub shutdown_grace: Duration,
    /// `redirect_url` of the invitations sent, if any.
    pub invitation_redirect_url: Option<String>,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        OutboundConfig {
            worker_id: None,
            batch_size: 50,
            concurrency: 8,
            claim_lease: Duration::from_secs(300),
            max_attempts: 8,
            base_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(300),
            idle_poll: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(10),
            invitation_redirect_url: None,
        }
    }
}

/// What one [`SyncEngine::outbound_tick`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct OutboundTick {
    /// Entries claimed.
    pub claimed: u64,
    /// Entries Clerk accepted (or that needed nothing from Clerk).
    pub completed: u64,
    /// Entries that failed and will be retried.
    pub retried: u64,
    /// Entries that became dead letters.
    pub dead: u64,
    /// Entries whose claim was lost before they were settled (another worker owns them).
    pub lost: u64,
}

/// How one entry ended, before it is written back.
enum Verdict {
    Done(Option<String>),
    Retry(ClerkApiError),
    GiveUp(String),
}

impl<S: InboundStore + OutboxStore + ?Sized> SyncEngine<S> {
    /// Configure the outbound worker (see [`OutboundConfig`]).
    pub fn with_outbound_config(mut self, config: OutboundConfig) -> Self {
        self.jobs.outbound = config;
        self
    }

    /// One claim-and-push round: claim up to a batch of due entries, send each to Clerk, and
    /// settle it. For tests and cron-style use; [`run_outbound`](Self::run_outbound) loops it.
    ///
    /// # Errors
    ///
    /// [`SyncError::ClerkApiNotConfigured`]; [`SyncError::Store`] when claiming or settling
    /// fails (entries already sent are then retried after their claim expires; a create is
    /// resolved by email, so no twin is made).
    pub async fn outbound_tick(&self) -> Result<OutboundTick, SyncError> {
        let api = self.require_api()?;
        let config = &self.jobs.outbound;
        let worker = self.worker_id();
        let now = whole_micros(OffsetDateTime::now_utc());
        let entries = self
            .store()
            .claim_outbox(&worker, now, config.claim_lease, config.batch_size)
            .await?;
        let mut tick = OutboundTick {
            claimed: entries.len() as u64,
            ..OutboundTick::default()
        };
        // Claims return at most one entry per user, so running them concurrently keeps each
        // user's changes in order.
        let mut results = futures_util::stream::iter(entries)
            .map(|entry| self.push_entry(api, entry))
            .buffer_unordered(config.concurrency.max(1));
        let mut first_error = None;
        while let Some(result) = results.next().await {
            match result {
                Ok(Settled::Completed) => tick.completed += 1,
                Ok(Settled::Retried) => tick.retried += 1,
                Ok(Settled::Dead) => tick.dead += 1,
                Ok(Settled::Lost) => tick.lost += 1,
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        if let Some(error) = first_error {
            return Err(error);
        }
        self.report_backlog().await;
        Ok(tick)
    }

    /// Run the worker until `shutdown` completes: claim, push, settle, repeat; wait
    /// [`OutboundConfig::idle_poll`] when nothing is due.
    ///
    /// On shutdown it stops claiming, lets the calls in flight finish for up to
    /// [`OutboundConfig::shutdown_grace`], and returns; entries it could not settle become
    /// claimable again when their claims expire. Store and API failures are logged and the
    /// loop goes on (after the idle wait), so a database blip does not stop the worker.
    ///
    /// # Errors
    ///
    /// [`SyncError::ClerkApiNotConfigured`] at once when there is no Backend API client.
    pub async fn run_outbound(&self, shutdown: impl Future<Output = ()>) -> Result<(), SyncError> {
        self.require_api()?;
        let config = self.jobs.outbound.clone();
        tracing::info!(worker = %self.worker_id(), "outbound worker started");
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let tick = self.outbound_tick();
            let mut tick = std::pin::pin!(tick);
            let finished = tokio::select! {
                result = &mut tick => Some(result),
                () = &mut shutdown => None,
            };
            let result = match finished {
                Some(result) => result,
                None => {
                    // Asked to stop in the middle of a round: let it finish, within the grace.
                    if let Ok(result) = tokio::time::timeout(config.shutdown_grace, tick).await {
                        log_round(&result);
                    } else {
                        tracing::warn!(
                            "outbound worker stopped with calls in flight; their entries are \
                             retried when their claims expire"
                        );
                    }
                    break;
                }
            };
            log_round(&result);
            let idle = !matches!(&result, Ok(tick) if tick.claimed > 0);
            if idle {
                tokio::select! {
                    () = tokio::time::sleep(config.idle_poll) => {}
                    () = &mut shutdown => break,
                }
            }
        }
        tracing::info!("outbound worker stopped");
        Ok(())
    }

    fn worker_id(&self) -> String {
        self.jobs
            .outbound
            .worker_id
            .clone()
            .unwrap_or_else(|| self.jobs.instance.to_string())
    }

    async fn report_backlog(&self) {
        let now = whole_micros(OffsetDateTime::now_utc());
        if let Ok(due) = self.store().outbox_due(now).await {
            metrics::gauge!("clerk_sync_outbox_due").set(due as f64);
        }
    }

    /// Send one entry and settle it.
    async fn push_entry(&self, api: &ClerkApi, entry: OutboxEntry) -> Result<Settled, SyncError> {
        let token = entry.claim_token.clone().unwrap_or_default();
        let user = self.store().get_user_by_id(entry.user_id).await?;
        let verdict = match &user {
            // The row is gone (deleted with its entries by the application): nothing to send.
            None => Verdict::Done(None),
            Some(user) => self.send(api, &entry, user).await,
        };
        let now = whole_micros(OffsetDateTime::now_utc());
        let op = entry.operation.as_str();
        let (settled, result) = match verdict {
            Verdict::Done(clerk_id) => {
                let claim = self
                    .store()
                    .complete_outbox(entry.id, &token, clerk_id.as_deref(), now)
                    .await?;
                (settle(claim, Settled::Completed), "synced")
            }
            Verdict::Retry(error) if entry.attempts < self.jobs.outbound.max_attempts => {
                let next = saturating_add(now, self.backoff(entry.attempts, &error));
                let message = readable(&error);
                let claim = self
                    .store()
                    .fail_outbox(entry.id, &token, &message, next, now)
                    .await?;
                tracing::debug!(
                    outbox_id = entry.id,
                    op,
                    attempts = entry.attempts,
                    status = error.status(),
                    "outbound call failed; retrying later"
                );
                (settle(claim, Settled::Retried), "retry")
            }
            Verdict::Retry(error) => {
                let message = format!(
                    "gave up after {} attempts: {}",
                    entry.attempts,
                    readable(&error)
                );
                let claim = self
                    .store()
                    .give_up_outbox(entry.id, &token, &message, now)
                    .await?;
                (settle(claim, Settled::Dead), "failed")
            }
            Verdict::GiveUp(message) => {
                let claim = self
                    .store()
                    .give_up_outbox(entry.id, &token, &message, now)
                    .await?;
                (settle(claim, Settled::Dead), "failed")
            }
        };
        let result = if settled == Settled::Lost {
            tracing::warn!(
                outbox_id = entry.id,
                op,
                "outbound claim lost before it was settled; another worker owns the entry"
            );
            "lost"
        } else {
            if settled == Settled::Dead {
                tracing::warn!(
                    outbox_id = entry.id,
                    user_id = entry.user_id,
                    op,
                    "outbound change failed for good"
                );
            }
            result
        };
        metrics::counter!("clerk_sync_outbound_total", "op" => op, "result" => result).increment(1);
        Ok(settled)
    }

    /// The Backend API calls for one entry, and what they came to.
    async fn send(&self, api: &ClerkApi, entry: &OutboxEntry, user: &LocalUser) -> Verdict {
        match entry.operation {
            OutboxOperation::Create => self.send_create(api, entry, user).await,
            OutboxOperation::Invite => {
                let Some(email) = user.email.clone().or_else(|| entry.profile.email.clone()) else {
                    return Verdict::GiveUp("an invitation needs an email address".to_owned());
                };
                let mut invitation = CreateInvitation::new(email).notify(true);
                if let Some(metadata) = &entry.profile.public_metadata {
                    invitation = invitation.public_metadata(metadata.clone());
                }
                if let Some(url) = &self.jobs.outbound.invitation_redirect_url {
                    invitation = invitation.redirect_url(url.clone());
                }
                match api.create_invitation(&invitation).await {
                    Ok(_) => Verdict::Done(None),
                    Err(error) => classify_failure(error),
                }
            }
            OutboxOperation::Update => {
                let Some(clerk_id) = user.clerk_id.as_deref() else {
                    return Verdict::GiveUp(
                        "the user has no Clerk id yet (its create did not go through); \
                         retry the create first"
                            .to_owned(),
                    );
                };
                send_update(api, clerk_id, entry).await
            }
            OutboxOperation::Delete => match user.clerk_id.as_deref() {
                // Never reached Clerk: there is nothing to delete there.
                None => Verdict::Done(None),
                Some(clerk_id) => match api.delete_user(clerk_id).await {
                    // A 404 means it is already gone: done either way.
                    Ok(_) => Verdict::Done(None),
                    Err(error) => classify_failure(error),
                },
            },
        }
    }

    async fn send_create(&self, api: &ClerkApi, entry: &OutboxEntry, user: &LocalUser) -> Verdict {
        // An earlier attempt may have reached Clerk, and its webhook echo linked the row.
        if let Some(clerk_id) = &user.clerk_id {
            return Verdict::Done(Some(clerk_id.clone()));
        }
        let profile = &entry.profile;
        let email = user.email.clone().or_else(|| profile.email.clone());
        let mut create = CreateUser::new().skip_password_requirement(true);
        if let Some(email) = &email {
            create = create.email_address(email.clone());
        }
        if let Some(name) = user
            .first_name
            .clone()
            .or_else(|| profile.first_name.clone())
        {
            create = create.first_name(name);
        }
        if let Some(name) = user.last_name.clone().or_else(|| profile.last_name.clone()) {
            create = create.last_name(name);
        }
        if let Some(username) = user.username.clone().or_else(|| profile.username.clone()) {
            create = create.username(username);
        }
        // The application's own id if it gave one, else the local row id: either way the
        // Clerk user points back at this row.
        let external_id = user
            .external_id
            .clone()
            .or_else(|| profile.external_id.clone())
            .unwrap_or_else(|| user.id.to_string());
        create = create.external_id(external_id);
        if let Some(metadata) = &profile.public_metadata {
            create = create.public_metadata(metadata.clone());
        }
        match api.create_user(&create).await {
            Ok(created) => match created.id() {
                Some(id) => Verdict::Done(Some(id.to_owned())),
                None => Verdict::GiveUp("Clerk's answer to the create has no user id".to_owned()),
            },
            Err(error)
                if error.has_error_code("form_identifier_exists") || error.is_ambiguous() =>
            {
                // Our own earlier create whose answer was lost, or a person who signed up with
                // the same address: link to that user rather than make a second one.
                let Some(email) = email else {
                    return classify_failure(error);
                };
                match api.find_users_by_email(&email).await {
                    Ok(found) => match found.first().and_then(|u| u.id()) {
                        Some(id) => {
                            tracing::info!(
                                outbox_id = entry.id,
                                user_id = user.id,
                                "create resolved by email: linked to the existing Clerk user"
                            );
                            Verdict::Done(Some(id.to_owned()))
                        }
                        // Nobody holds the address: an ambiguous create did not happen, so it
                        // may be sent again; an "identifier exists" was about another
                        // identifier (the username, say), which will not change.
                        None if error.is_ambiguous() => Verdict::Retry(error),
                        None => Verdict::GiveUp(readable(&error)),
                    },
                    Err(lookup) => classify_failure(lookup),
                }
            }
            Err(error) => classify_failure(error),
        }
    }

    /// The backoff before the next attempt: full jitter over an exponential ceiling, and at
    /// least the `Retry-After` Clerk asked for.
    fn backoff(&self, attempts: u32, error: &ClerkApiError) -> Duration {
        let config = &self.jobs.outbound;
        let exponent = attempts.saturating_sub(1).min(30);
        let ceiling = config
            .base_backoff
            .saturating_mul(1 << exponent)
            .min(config.max_backoff);
        let jittered = ceiling.mul_f64(random_unit());
        jittered.max(error.retry_after().unwrap_or(Duration::ZERO))
    }
}

/// `PATCH /v1/users/{id}`, and `PATCH /v1/users/{id}/metadata` when metadata changed.
async fn send_update(api: &ClerkApi, clerk_id: &str, entry: &OutboxEntry) -> Verdict {
    let profile = &entry.profile;
    let mut change = UpdateUser::new();
    if let Some(name) = &profile.first_name {
        change = change.first_name(name.clone());
    }
    if let Some(name) = &profile.last_name {
        change = change.last_name(name.clone());
    }
    if let Some(username) = &profile.username {
        change = change.username(username.clone());
    }
    if let Some(external_id) = &profile.external_id {
        change = change.external_id(external_id.clone());
    }
    if !change.is_empty()
        && let Err(error) = api.update_user(clerk_id, &change).await
    {
        return update_failure(error);
    }
    // In API version 2026-05-12 metadata has its own endpoint, which merges.
    if let Some(metadata) = &profile.public_metadata
        && let Err(error) = api
            .update_user_metadata(clerk_id, &MetadataUpdate::new().public(metadata.clone()))
            .await
    {
        return update_failure(error);
    }
    // A change of email never reaches here for a user Clerk knows: `update_local_user`
    // refuses it, because Clerk verifies a new address with its owner.
    Verdict::Done(None)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settled {
    Completed,
    Retried,
    Dead,
    Lost,
}

fn settle(claim: ClaimOutcome, settled: Settled) -> Settled {
    if claim.applied() {
        settled
    } else {
        Settled::Lost
    }
}

fn log_round(result: &Result<OutboundTick, SyncError>) {
    match result {
        Ok(tick) if tick.claimed > 0 => tracing::debug!(?tick, "outbound round"),
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "outbound round failed; retrying after a pause"),
    }
}

/// Retryable answers are retried; anything else Clerk refused will be refused again.
fn classify_failure(error: ClerkApiError) -> Verdict {
    if error.is_retryable() {
        Verdict::Retry(error)
    } else {
        Verdict::GiveUp(readable(&error))
    }
}

fn update_failure(error: ClerkApiError) -> Verdict {
    if error.is_not_found() {
        return Verdict::GiveUp(
            "Clerk no longer has this user (deleted in Clerk); the update was not applied"
                .to_owned(),
        );
    }
    classify_failure(error)
}

/// Clerk's own readable message (`long_message`), else the error's, for `sync_error`.
fn readable(error: &ClerkApiError) -> String {
    match (error.status(), error.long_message()) {
        (Some(status), Some(message)) => format!("Clerk answered {status}: {message}"),
        _ => error.to_string(),
    }
}

/// A number in `[0, 1)` for jitter: the standard library's randomly keyed hasher is random
/// enough to spread retries, and needs no dependency.
fn random_unit() -> f64 {
    let bits = RandomState::new().hash_one(std::time::Instant::now());
    (bits >> 11) as f64 / (1_u64 << 53) as f64
}
