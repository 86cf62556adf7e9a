//! [`SyncEngine`]: verified webhooks in, local changes queued out.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use super::inbound::change_for;
use super::{HookContext, ProcessOutcome, SyncError, SyncHooks};
use crate::event::{ClerkEvent, WebhookEvent};
use crate::store::{
    InboundApplied, InboundChange, InboundStore, LedgerInsert, LedgerOutcome, NewLedgerEntry,
    apply_change, payload_kept_for, whole_micros,
};
use crate::webhook::{WebhookHeaders, WebhookVerifier};

/// The longest event type or object id written to the ledger: the schema's `varchar(255)`.
const LEDGER_ID_MAX: usize = 255;

/// How long ledger entries are kept by default. Svix retries a delivery for about 27 hours, so
/// anything shorter than that would let a late retry miss the fast dedupe path (still correct,
/// through the conditional write, but it would re-run hooks); 30 days also leaves an audit trail.
pub const DEFAULT_LEDGER_RETENTION: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// Keeps a store in step with Clerk: applies verified webhooks through the store's conditional
/// write, runs [`SyncHooks`], and queues local changes for Clerk.
///
/// Cloning is cheap (the store, verifier and hooks are shared behind `Arc`s), so one engine
/// can be handed to every request handler.
///
/// ```
/// use clerk_sync_core::memory::MemoryStore;
/// use clerk_sync_core::store::UserStore;
/// use clerk_sync_core::sync::{ProcessOutcome, SyncEngine};
/// use clerk_sync_core::webhook::{WebhookHeaders, WebhookVerifier};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let verifier = WebhookVerifier::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
/// let engine = SyncEngine::new(MemoryStore::new(), verifier.clone());
///
/// // What Clerk (through Svix) would send.
/// let body = br#"{"type":"user.created","object":"event","timestamp":1772366400000,
///   "data":{"id":"user_2x","object":"user","created_at":1772366400000,"updated_at":1772366400000,
///   "primary_email_address_id":"idn_1","email_addresses":[{"id":"idn_1",
///   "email_address":"ann@example.com","verification":{"status":"verified","strategy":"email_code"}}],
///   "first_name":"Ann"}}"#;
/// let now = time::OffsetDateTime::now_utc().unix_timestamp();
/// let signature = verifier.sign("msg_1", now, body);
/// let timestamp = now.to_string();
/// let headers = WebhookHeaders { id: "msg_1", timestamp: &timestamp, signature: &signature };
///
/// assert_eq!(engine.process_webhook(&headers, body).await?, ProcessOutcome::Applied);
/// // Svix delivers at least once: the same delivery again changes nothing.
/// assert_eq!(engine.process_webhook(&headers, body).await?, ProcessOutcome::Duplicate);
///
/// let user = engine.store().get_user("user_2x").await?.expect("stored");
/// assert_eq!(user.email.as_deref(), Some("ann@example.com"));
/// assert_eq!(user.first_name.as_deref(), Some("Ann"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct SyncEngine<S: ?Sized> {
    store: Arc<S>,
    verifier: Arc<WebhookVerifier>,
    hooks: Option<Arc<dyn SyncHooks>>,
    ledger_retention: Duration,
    #[cfg(feature = "clerk-api")]
    pub(super) recovery: super::recovery::Recovery,
    #[cfg(feature = "clerk-api")]
    pub(super) jobs: super::reconcile::JobSettings,
}

impl<S: ?Sized> Clone for SyncEngine<S> {
    fn clone(&self) -> Self {
        SyncEngine {
            store: Arc::clone(&self.store),
            verifier: Arc::clone(&self.verifier),
            hooks: self.hooks.clone(),
            ledger_retention: self.ledger_retention,
            #[cfg(feature = "clerk-api")]
            recovery: self.recovery.clone(),
            #[cfg(feature = "clerk-api")]
            jobs: self.jobs.clone(),
        }
    }
}

impl<S: ?Sized> std::fmt::Debug for SyncEngine<S> {
    // The verifier holds keys and the store holds personal data: neither is printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut debug = f.debug_struct("SyncEngine");
        debug.field("hooks", &self.hooks.is_some());
        #[cfg(feature = "clerk-api")]
        debug.field("clerk_api", &self.recovery.api.is_some());
        debug.finish_non_exhaustive()
    }
}

impl<S: ?Sized> SyncEngine<S> {
    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The store, shared.
    pub fn shared_store(&self) -> &Arc<S> {
        &self.store
    }
}

impl<S: InboundStore> SyncEngine<S> {
    /// An engine over `store` that accepts webhooks signed for `verifier`'s secrets.
    ///
    /// Webhooks need only the user table and the ledger ([`InboundStore`]); local changes,
    /// the outbound worker and reconcile become available when the store also implements the
    /// traits they use.
    pub fn new(store: S, verifier: WebhookVerifier) -> Self {
        SyncEngine::from_shared(Arc::new(store), verifier)
    }
}

impl<S: InboundStore + ?Sized> SyncEngine<S> {
    /// An engine over a store that is already shared, e.g. an `Arc<dyn SyncStore>`.
    pub fn from_shared(store: Arc<S>, verifier: WebhookVerifier) -> Self {
        SyncEngine {
            store,
            verifier: Arc::new(verifier),
            hooks: None,
            ledger_retention: DEFAULT_LEDGER_RETENTION,
            #[cfg(feature = "clerk-api")]
            recovery: super::recovery::Recovery::default(),
            #[cfg(feature = "clerk-api")]
            jobs: super::reconcile::JobSettings::default(),
        }
    }

    /// Run `hooks` after each inbound event is stored and before it is acknowledged.
    ///
    /// With hooks, the ledger insert, the write, the hooks and the "processed" mark are
    /// separate store calls, so that an event whose hooks failed stays unprocessed and its
    /// redelivery runs them again. Without hooks they are one [`InboundStore::apply_inbound`]
    /// call.
    pub fn with_hooks(mut self, hooks: Arc<dyn SyncHooks>) -> Self {
        self.hooks = Some(hooks);
        self
    }

    /// Keep ledger entries for `retention` (default [`DEFAULT_LEDGER_RETENTION`], 30 days)
    /// when [`SyncEngine::prune_ledger`] runs.
    ///
    /// Keep it above Svix's retry window (about 27 hours): a redelivery whose entry was pruned
    /// is still applied correctly, but its hooks run again.
    pub fn with_ledger_retention(mut self, retention: Duration) -> Self {
        self.ledger_retention = retention;
        self
    }

    /// Delete ledger entries received longer ago than the retention period; returns how many.
    ///
    /// Call it periodically (hourly is plenty); it is one indexed delete.
    pub async fn prune_ledger(&self) -> Result<u64, SyncError> {
        self.prune_ledger_at(OffsetDateTime::now_utc()).await
    }

    /// [`SyncEngine::prune_ledger`] as of `now`.
    pub async fn prune_ledger_at(&self, now: OffsetDateTime) -> Result<u64, SyncError> {
        let cutoff = now
            .checked_sub(
                time::Duration::try_from(self.ledger_retention).unwrap_or(time::Duration::MAX),
            )
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        Ok(self.store.ledger_prune(cutoff).await?)
    }

    /// Verify, parse and apply one webhook delivery; the entry point HTTP adapters call.
    ///
    /// Steps, in order: verify the signature over the raw `body`; parse it; deduplicate by
    /// `svix-id` in the ledger; apply through the store's conditional write; run the hooks;
    /// mark the event processed. `user.created` and `user.updated` upsert (version
    /// `data.updated_at`), `user.deleted` leaves a terminal tombstone, every other type is only
    /// recorded ([`ProcessOutcome::Ignored`]).
    ///
    /// A validly signed body that cannot be applied for a permanent reason (not a Clerk event,
    /// a user event without an id) is recorded in the ledger as `failed` and answered with
    /// `Ok(ProcessOutcome::Ignored)`: Svix redelivering it would not help.
    ///
    /// # Errors
    ///
    /// [`SyncError::Verification`] (not retryable) when the delivery is not authentic;
    /// [`SyncError::Store`] and [`SyncError::Hook`] (retryable) when the event could not be
    /// stored or its hooks failed, in which case it is not marked processed.
    pub async fn process_webhook(
        &self,
        headers: &WebhookHeaders<'_>,
        body: &[u8],
    ) -> Result<ProcessOutcome, SyncError> {
        self.process_webhook_at(headers, body, OffsetDateTime::now_utc())
            .await
    }

    /// [`process_webhook`](Self::process_webhook) as if the time were `now`: the signature's
    /// timestamp is checked against it, and it is written as the receive and processing time.
    /// For replaying recorded deliveries and for tests.
    ///
    /// # Errors
    ///
    /// As [`process_webhook`](Self::process_webhook).
    pub async fn process_webhook_at(
        &self,
        headers: &WebhookHeaders<'_>,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<ProcessOutcome, SyncError> {
        let started = std::time::Instant::now();
        let result = self.process_verified_at(headers, body, now).await;
        match &result {
            Ok((event_type, outcome)) => {
                super::metrics::webhook(event_type, outcome.as_str(), started.elapsed());
            }
            Err(error) if error.is_retryable() => {
                super::metrics::webhook("unknown", "retryable_error", started.elapsed());
            }
            Err(_) => super::metrics::webhook("unknown", "rejected", started.elapsed()),
        }
        result.map(|(_, outcome)| outcome)
    }

    /// [`process_webhook_at`](Self::process_webhook_at), also answering the event type (for
    /// metrics).
    async fn process_verified_at(
        &self,
        headers: &WebhookHeaders<'_>,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<(String, ProcessOutcome), SyncError> {
        let now = whole_micros(now);
        if let Err(error) = self.verifier.verify_at(headers, body, now.unix_timestamp()) {
            tracing::debug!(%error, "webhook rejected");
            return Err(error.into());
        }

        let event = match WebhookEvent::parse(body) {
            Ok(event) => event,
            Err(error) => {
                let event_type = match &error {
                    crate::event::EventError::InvalidData { event_type, .. } => event_type.as_str(),
                    _ => "unknown",
                };
                // Only the top-level message: the source of a data error may quote values.
                let reason = error.to_string();
                return self
                    .record_failed(headers.id, event_type, None, body, &reason, now)
                    .await
                    .map(|outcome| (event_type.to_owned(), outcome));
            }
        };
        let change = match change_for(&event) {
            Ok(change) => change,
            Err(reason) => {
                return self
                    .record_failed(
                        headers.id,
                        &event.event_type,
                        event.object_id(),
                        body,
                        reason,
                        now,
                    )
                    .await
                    .map(|outcome| (event.event_type.clone(), outcome));
            }
        };

        let payload = String::from_utf8_lossy(body);
        let entry = ledger_entry(
            headers.id,
            &event.event_type,
            event.object_id(),
            now,
            Some(&payload),
        );
        let outcome = match &self.hooks {
            None => outcome_of(self.store.apply_inbound(&entry, &change, now).await?),
            Some(hooks) => {
                self.apply_with_hooks(hooks.as_ref(), &entry, &event, &change, now)
                    .await?
            }
        };
        tracing::debug!(
            svix_id = headers.id,
            event_type = %event.event_type,
            object_id = event.object_id(),
            outcome = outcome.as_str(),
            "webhook processed"
        );
        Ok((event.event_type, outcome))
    }

    /// The steps of [`InboundStore::apply_inbound`] with the hooks in between, so that a hook
    /// failure leaves the event unprocessed.
    async fn apply_with_hooks(
        &self,
        hooks: &dyn SyncHooks,
        entry: &NewLedgerEntry<'_>,
        event: &WebhookEvent,
        change: &InboundChange,
        now: OffsetDateTime,
    ) -> Result<ProcessOutcome, SyncError> {
        if let LedgerInsert::Exists { processed: true } = self.store.ledger_insert(entry).await? {
            return Ok(ProcessOutcome::Duplicate);
        }
        let applied = apply_change(&*self.store, change, now).await?;
        let outcome = outcome_of(applied);
        let user = match change {
            InboundChange::Upsert(record) => self.store.get_user(&record.clerk_id).await?,
            InboundChange::Tombstone(tombstone) => self.store.get_user(&tombstone.clerk_id).await?,
            _ => None,
        };
        let ctx = HookContext {
            svix_id: entry.svix_id,
            event,
            outcome,
            user: user.as_ref(),
        };
        let result = match &event.data {
            ClerkEvent::UserCreated(user) => hooks.on_user_created(&ctx, user).await,
            ClerkEvent::UserUpdated(user) => hooks.on_user_updated(&ctx, user).await,
            ClerkEvent::UserDeleted(deleted) => hooks.on_user_deleted(&ctx, deleted).await,
            _ => hooks.on_event(&ctx).await,
        };
        if let Err(source) = result {
            tracing::warn!(
                svix_id = entry.svix_id,
                event_type = %event.event_type,
                "webhook hook failed; the event stays unprocessed until redelivered"
            );
            return Err(SyncError::Hook {
                event_type: event.event_type.clone(),
                source,
            });
        }
        if let Some(ledger_outcome) = applied.ledger_outcome() {
            self.store
                .ledger_mark_processed(entry.svix_id, ledger_outcome, None, now)
                .await?;
        }
        Ok(outcome)
    }

    /// Record a verified delivery that can never be applied, and acknowledge it.
    async fn record_failed(
        &self,
        svix_id: &str,
        event_type: &str,
        object_id: Option<&str>,
        body: &[u8],
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<ProcessOutcome, SyncError> {
        let payload = String::from_utf8_lossy(body);
        let entry = ledger_entry(svix_id, event_type, object_id, now, Some(&payload));
        if let LedgerInsert::Exists { processed: true } = self.store.ledger_insert(&entry).await? {
            return Ok(ProcessOutcome::Duplicate);
        }
        self.store
            .ledger_mark_processed(svix_id, LedgerOutcome::Failed, Some(reason), now)
            .await?;
        tracing::warn!(
            svix_id,
            event_type = entry.event_type,
            reason,
            "verified webhook cannot be applied; recorded as failed and acknowledged"
        );
        Ok(ProcessOutcome::Ignored)
    }
}

/// The ledger row for a delivery. The payload is kept only for the event types replay needs
/// ([`payload_kept_for`]): never for `email.*` or `sms.*`, which carry one-time codes and links.
fn ledger_entry<'a>(
    svix_id: &'a str,
    event_type: &'a str,
    object_id: Option<&'a str>,
    now: OffsetDateTime,
    payload: Option<&'a str>,
) -> NewLedgerEntry<'a> {
    let payload = payload.filter(|_| payload_kept_for(event_type));
    NewLedgerEntry::new(svix_id, clip(event_type), object_id.map(clip), now, payload)
}

/// `s` cut to at most [`LEDGER_ID_MAX`] bytes on a character boundary, so that an odd event
/// type or id from Clerk cannot make the ledger insert fail (and the delivery retry forever).
fn clip(s: &str) -> &str {
    if s.len() <= LEDGER_ID_MAX {
        return s;
    }
    let mut end = LEDGER_ID_MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn outcome_of(applied: InboundApplied) -> ProcessOutcome {
    match applied {
        InboundApplied::Duplicate => ProcessOutcome::Duplicate,
        InboundApplied::LedgerOnly => ProcessOutcome::Ignored,
        applied => match applied.ledger_outcome() {
            Some(LedgerOutcome::Applied) => ProcessOutcome::Applied,
            _ => ProcessOutcome::Stale,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keeps_short_and_cuts_on_char_boundaries() {
        assert_eq!(clip("user.created"), "user.created");
        let long = "é".repeat(200); // 400 bytes
        let clipped = clip(&long);
        assert!(clipped.len() <= LEDGER_ID_MAX);
        assert_eq!(
            clipped.len(),
            254,
            "the last whole character before byte 255"
        );
    }
}
