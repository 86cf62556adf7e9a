//! The first recovery layer: a user missing locally is fetched from Clerk on demand
//! ([`SyncEngine::user_or_fetch`]), and one user can be fetched again ([`SyncEngine::resync`]).
//!
//! Webhooks are the primary sync path, and Clerk does not guarantee their delivery. A request
//! from a signed-in user whose `user.created` never arrived must not fail: the engine fetches
//! the user from the Backend API and writes it through the same conditional write as a
//! webhook, so a fetch racing a delivery ends in the same row.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use tokio::sync::OnceCell;

use super::inbound::record_for;
use super::{SyncEngine, SyncError, metrics};
use crate::clerk_api::{ClerkApi, ClerkUser};
use crate::event::read_user;
use crate::store::{
    ClerkUserRecord, InboundStore, LocalUser, StoreError, Tombstone, UpsertOutcome, whole_micros,
};

/// How long a "Clerk does not know this user" answer is remembered by default.
pub const DEFAULT_NOT_FOUND_TTL: Duration = Duration::from_secs(30);

/// The most not-found answers remembered at once; beyond it, new ones are not cached (the
/// cache protects Clerk's rate limit from repeated bogus ids, it must not grow without bound).
const NOT_FOUND_CAPACITY: usize = 10_000;

/// What one shared fetch ended with, as every caller that waited on it sees it.
#[derive(Clone)]
enum Fetched {
    Found(Box<LocalUser>),
    NotFound,
    ApiFailed(Arc<crate::clerk_api::ClerkApiError>),
    /// The fetch worked but the write failed; the caller that ran it has the store's error.
    StoreFailed,
}

/// The Backend API and the state of the on-demand fetch, shared by an engine's clones.
#[derive(Clone, Default)]
pub(super) struct Recovery {
    pub(super) api: Option<ClerkApi>,
    state: Arc<FetchState>,
    pub(super) not_found_ttl: Option<Duration>,
}

#[derive(Default)]
struct FetchState {
    /// One fetch per user id at a time: concurrent misses wait on the same cell.
    in_flight: Mutex<HashMap<String, Arc<OnceCell<Fetched>>>>,
    /// Ids Clerk answered 404 for, and when.
    not_found: Mutex<HashMap<String, Instant>>,
}

impl FetchState {
    fn cell(&self, clerk_id: &str) -> Arc<OnceCell<Fetched>> {
        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Arc::clone(in_flight.entry(clerk_id.to_owned()).or_default())
    }

    /// Forget the finished fetch of `clerk_id`, unless a newer one already replaced it.
    fn finish(&self, clerk_id: &str, cell: &Arc<OnceCell<Fetched>>) {
        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if in_flight
            .get(clerk_id)
            .is_some_and(|c| Arc::ptr_eq(c, cell))
        {
            in_flight.remove(clerk_id);
        }
    }

    fn recently_not_found(&self, clerk_id: &str, ttl: Duration) -> bool {
        let mut not_found = self
            .not_found
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match not_found.get(clerk_id) {
            Some(at) if at.elapsed() < ttl => true,
            Some(_) => {
                not_found.remove(clerk_id);
                false
            }
            None => false,
        }
    }

    fn remember_not_found(&self, clerk_id: &str, ttl: Duration) {
        let mut not_found = self
            .not_found
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if not_found.len() >= NOT_FOUND_CAPACITY {
            not_found.retain(|_, at| at.elapsed() < ttl);
        }
        if not_found.len() < NOT_FOUND_CAPACITY {
            not_found.insert(clerk_id.to_owned(), Instant::now());
        }
    }

    fn forget_not_found(&self, clerk_id: &str) {
        self.not_found
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(clerk_id);
    }
}

/// What [`SyncEngine::resync`] did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "result", content = "user", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ResyncOutcome {
    /// Clerk's data was newer (or the user was new here): the row was written.
    Updated(LocalUser),
    /// The row already held Clerk's version; nothing was written.
    Unchanged(LocalUser),
    /// Clerk no longer knows the user: the row is now a tombstone.
    Deleted(LocalUser),
    /// Neither Clerk nor the local table knows the user.
    NotFound,
}

impl<S: ?Sized> SyncEngine<S> {
    /// Use `api` for the recovery paths (fallback fetch, resync, reconcile, backfill) and the
    /// outbound worker. Without it those return [`SyncError::ClerkApiNotConfigured`].
    pub fn with_clerk_api(mut self, api: ClerkApi) -> Self {
        self.recovery.api = Some(api);
        self
    }

    /// Remember Clerk's "no such user" answers for `ttl` (default
    /// [`DEFAULT_NOT_FOUND_TTL`], 30 s), so that repeated requests for an unknown id cost no
    /// Backend API call. `Duration::ZERO` turns the cache off.
    pub fn with_not_found_ttl(mut self, ttl: Duration) -> Self {
        self.recovery.not_found_ttl = Some(ttl);
        self
    }

    /// The Backend API client, when one is configured.
    pub fn clerk_api(&self) -> Option<&ClerkApi> {
        self.recovery.api.as_ref()
    }

    pub(super) fn require_api(&self) -> Result<&ClerkApi, SyncError> {
        self.recovery
            .api
            .as_ref()
            .ok_or(SyncError::ClerkApiNotConfigured)
    }

    fn not_found_ttl(&self) -> Duration {
        self.recovery.not_found_ttl.unwrap_or(DEFAULT_NOT_FOUND_TTL)
    }
}

impl<S: InboundStore + ?Sized> SyncEngine<S> {
    /// The local row of Clerk user `clerk_id`, fetched from Clerk when it is missing here.
    ///
    /// This is what an authenticated request uses to find its user: the local row first; on a
    /// miss, `GET /v1/users/{id}`, written through the same conditional write as a webhook
    /// (so a webhook racing the fetch ends in the same row), then read back.
    ///
    /// - `Ok(None)` when Clerk does not know the user, or the row is a tombstone (the user was
    ///   deleted). Clerk's 404 is remembered for a short while ([`with_not_found_ttl`]).
    /// - Concurrent misses for one user make one API call and share its answer.
    /// - Clerk being unavailable is an error ([`SyncError::ClerkApi`], retryable), never
    ///   "not found".
    ///
    /// # Errors
    ///
    /// [`SyncError::Store`] when the store fails, [`SyncError::ClerkApi`] when the Backend API
    /// does, [`SyncError::ClerkApiNotConfigured`] on a miss without an API client.
    ///
    /// [`with_not_found_ttl`]: SyncEngine::with_not_found_ttl
    pub async fn user_or_fetch(&self, clerk_id: &str) -> Result<Option<LocalUser>, SyncError> {
        if let Some(user) = self.store().get_user(clerk_id).await? {
            return Ok((!user.is_deleted()).then_some(user));
        }
        let api = self.require_api()?;
        let ttl = self.not_found_ttl();
        let state = &self.recovery.state;
        if state.recently_not_found(clerk_id, ttl) {
            metrics::fallback_fetch("cached_not_found");
            return Ok(None);
        }

        let cell = state.cell(clerk_id);
        let mut own_error = None;
        let fetched = cell
            .get_or_init(|| async {
                let fetched = match self.fetch_and_apply(api, clerk_id).await {
                    Ok(Some(user)) => Fetched::Found(Box::new(user)),
                    Ok(None) => Fetched::NotFound,
                    Err(SyncError::ClerkApi(error)) => Fetched::ApiFailed(error),
                    Err(error) => {
                        own_error = Some(error);
                        Fetched::StoreFailed
                    }
                };
                if matches!(fetched, Fetched::NotFound) && !ttl.is_zero() {
                    state.remember_not_found(clerk_id, ttl);
                }
                metrics::fallback_fetch(match &fetched {
                    Fetched::Found(_) => "found",
                    Fetched::NotFound => "not_found",
                    _ => "error",
                });
                fetched
            })
            .await
            .clone();
        state.finish(clerk_id, &cell);
        match fetched {
            Fetched::Found(user) => Ok(Some(*user)),
            Fetched::NotFound => Ok(None),
            Fetched::ApiFailed(error) => Err(SyncError::ClerkApi(error)),
            Fetched::StoreFailed => Err(own_error.unwrap_or_else(|| {
                // This call waited on another that hit the store's error; it has no error of
                // its own to report, and the store is what failed.
                SyncError::Store(StoreError::Unavailable(
                    "the fetch this request waited on could not be stored".into(),
                ))
            })),
        }
    }

    /// Fetch Clerk user `clerk_id` and apply it (a 404 tombstones a live local row).
    ///
    /// For an operator ("this row looks wrong"): the same conditional write as a webhook, so
    /// an older answer never overwrites newer data.
    ///
    /// # Errors
    ///
    /// [`SyncError::Store`], [`SyncError::ClerkApi`], [`SyncError::ClerkApiNotConfigured`].
    pub async fn resync(&self, clerk_id: &str) -> Result<ResyncOutcome, SyncError> {
        let api = self.require_api()?;
        let now = whole_micros(OffsetDateTime::now_utc());
        self.recovery.state.forget_not_found(clerk_id);
        let Some(clerk_user) = api.fetch_user(clerk_id).await? else {
            let Some(local) = self.store().get_user(clerk_id).await? else {
                return Ok(ResyncOutcome::NotFound);
            };
            if !local.is_deleted() {
                self.store()
                    .tombstone_user(&Tombstone::new(clerk_id, now), now)
                    .await?;
            }
            let row = self.must_get(clerk_id).await?;
            tracing::info!(clerk_id, "resync: Clerk no longer has the user; tombstoned");
            return Ok(ResyncOutcome::Deleted(row));
        };
        let record = user_record(&clerk_user).ok_or(SyncError::InvalidInput {
            reason: "Clerk's answer has no usable id or updated_at",
        })?;
        let outcome = self.store().upsert_user(&record, now).await?;
        let row = self.must_get(clerk_id).await?;
        tracing::info!(clerk_id, ?outcome, "resync applied");
        Ok(match outcome {
            _ if row.is_deleted() => ResyncOutcome::Deleted(row),
            outcome if outcome.applied() => ResyncOutcome::Updated(row),
            _ => ResyncOutcome::Unchanged(row),
        })
    }

    /// `GET /v1/users/{id}`, applied: the row afterwards, or `None` on a 404.
    async fn fetch_and_apply(
        &self,
        api: &ClerkApi,
        clerk_id: &str,
    ) -> Result<Option<LocalUser>, SyncError> {
        let Some(clerk_user) = api.fetch_user(clerk_id).await? else {
            return Ok(None);
        };
        let Some(record) = user_record(&clerk_user).filter(|r| r.clerk_id == clerk_id) else {
            tracing::warn!(
                clerk_id,
                "fallback fetch: Clerk's answer is not a usable user"
            );
            return Ok(None);
        };
        let now = whole_micros(OffsetDateTime::now_utc());
        let outcome = self.store().upsert_user(&record, now).await?;
        if outcome == UpsertOutcome::Deleted {
            return Ok(None);
        }
        tracing::debug!(clerk_id, ?outcome, "fallback fetch applied");
        let row = self.store().get_user(clerk_id).await?;
        Ok(row.filter(|u| !u.is_deleted()))
    }

    async fn must_get(&self, clerk_id: &str) -> Result<LocalUser, SyncError> {
        self.store()
            .get_user(clerk_id)
            .await?
            .ok_or(SyncError::Store(StoreError::NotFound { what: "user" }))
    }
}

/// The record the store writes for a user as the Backend API sent it: read as a webhook's
/// user is (strictly, then field by field), `None` without a usable id and version.
pub(super) fn user_record(user: &ClerkUser) -> Option<ClerkUserRecord> {
    let raw = user.raw_json();
    let parsed = read_user(raw)?;
    (!parsed.id.is_empty()).then(|| record_for(&parsed, raw))
}
