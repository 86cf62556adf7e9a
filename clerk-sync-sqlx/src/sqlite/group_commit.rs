//! Group commit for SQLite's inbound upserts.
//!
//! SQLite takes one writer at a time, and every write costs a round trip to the writer
//! connection's thread plus a commit. When webhooks arrive faster than that, the upserts
//! queued behind the writer run together: one multi-statement query in one transaction, each
//! event's statements exactly those of `INBOUND_UPSERT` with its parameters renumbered, and
//! each event gets the row its own first statement returned. The events of a batch apply in
//! queue order, as they would one after another; one alone is a batch of one.
//!
//! Whoever holds the writer runs everything queued (flat combining): a task that gets the
//! writer and finds its result already there returns it. If a batch fails, none of it was
//! committed, and each event is run alone so that each gets its own result. If the task
//! running a batch is cancelled, the others find no result and their event no longer queued
//! when their turn comes, and run it then (as a duplicate if the batch had committed).

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use clerk_sync_core::store::{ClerkUserRecord, NewLedgerEntry, StoreError};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{INBOUND_UPSERT, SqliteQuery, bind_upsert};
use crate::error::map_sqlx;

/// Events per batch: 17 parameters each stays far below SQLite's limit, and the statement
/// text (about 3 kB per event) stays small enough to prepare once and cache.
pub(super) const MAX_BATCH: usize = 32;

/// Parameters of one event in `INBOUND_UPSERT`.
const PARAMS: usize = 17;

/// What an upsert's first statement read: whether the event was processed before, and the
/// label of what the write did.
#[derive(Debug)]
pub(super) struct UpsertState {
    pub(super) processed: Option<bool>,
    pub(super) label: String,
}

/// An inbound upsert waiting for the writer, owned so that whichever task holds the writer
/// can run it.
pub(super) struct QueuedUpsert {
    record: ClerkUserRecord,
    svix_id: String,
    event_type: String,
    object_id: Option<String>,
    received: String,
    payload: String,
    now: String,
    result: Mutex<Option<Result<UpsertState, StoreError>>>,
}

// By svix id only: the payload holds a user's profile.
impl std::fmt::Debug for QueuedUpsert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueuedUpsert")
            .field("svix_id", &self.svix_id)
            .finish_non_exhaustive()
    }
}

impl QueuedUpsert {
    pub(super) fn new(
        e: &NewLedgerEntry<'_>,
        record: &ClerkUserRecord,
        received: String,
        now: String,
    ) -> Self {
        QueuedUpsert {
            record: record.clone(),
            svix_id: e.svix_id.to_owned(),
            event_type: e.event_type.to_owned(),
            object_id: e.object_id.map(str::to_owned),
            received,
            payload: e.payload.to_owned(),
            now,
            result: Mutex::new(None),
        }
    }

    pub(super) fn take_result(&self) -> Option<Result<UpsertState, StoreError>> {
        self.result
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    pub(super) fn set_result(&self, result: Result<UpsertState, StoreError>) {
        *self.result.lock().unwrap_or_else(PoisonError::into_inner) = Some(result);
    }

    /// Binds this event's 17 parameters, in `INBOUND_UPSERT`'s order.
    pub(super) fn bind<'q>(&'q self, q: SqliteQuery<'q>) -> SqliteQuery<'q> {
        bind_upsert(q, &self.record, &self.now)
            .bind(self.record.link_email.as_deref())
            .bind(self.svix_id.as_str())
            .bind(self.event_type.as_str())
            .bind(self.object_id.as_deref())
            .bind(self.received.as_str())
            .bind(self.payload.as_str())
    }
}

/// The upserts waiting for the writer.
pub(super) type UpsertQueue = Arc<Mutex<Vec<Arc<QueuedUpsert>>>>;

pub(super) fn enqueue(queue: &UpsertQueue, job: Arc<QueuedUpsert>) {
    queue
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(job);
}

/// Everything queued, plus `own` if it is no longer there without a result (the task that
/// took it was cancelled).
pub(super) fn drain(queue: &UpsertQueue, own: &Arc<QueuedUpsert>) -> Vec<Arc<QueuedUpsert>> {
    let mut jobs = std::mem::take(&mut *queue.lock().unwrap_or_else(PoisonError::into_inner));
    if !jobs.iter().any(|j| Arc::ptr_eq(j, own)) {
        jobs.push(Arc::clone(own));
    }
    jobs
}

/// The query for `jobs.len()` events (at most [`MAX_BATCH`]), with every event's parameters
/// bound.
pub(super) fn batch_query(jobs: &[Arc<QueuedUpsert>]) -> SqliteQuery<'_> {
    let mut q = sqlx::query(batch_sql(jobs.len()));
    for job in jobs {
        q = job.bind(q);
    }
    q
}

/// One event's state from its first statement's row.
pub(super) fn upsert_state(row: &SqliteRow) -> Result<UpsertState, StoreError> {
    Ok(UpsertState {
        processed: row.try_get(0).map_err(map_sqlx)?,
        label: row.try_get(1).map_err(map_sqlx)?,
    })
}

/// The state of a single upsert's query: its first row.
pub(super) fn first_upsert_state(rows: &[SqliteRow]) -> Result<UpsertState, StoreError> {
    match rows.first() {
        Some(row) => upsert_state(row),
        None => Err(StoreError::InvalidData {
            what: "no row from an inbound upsert".to_owned(),
        }),
    }
}

/// `BEGIN IMMEDIATE`, `n` copies of the upsert statements with the i-th copy's `$k` made
/// `$(17 i + k)`, `COMMIT`; built once per batch size.
fn batch_sql(n: usize) -> &'static str {
    static SQL: [OnceLock<String>; MAX_BATCH] = [const { OnceLock::new() }; MAX_BATCH];
    let n = n.clamp(1, MAX_BATCH);
    SQL[n - 1].get_or_init(|| {
        let mut sql = String::from("BEGIN IMMEDIATE; ");
        for i in 0..n {
            renumber(INBOUND_UPSERT.bare, i * PARAMS, &mut sql);
            sql.push_str("; ");
        }
        sql.push_str("COMMIT");
        sql
    })
}

/// Appends `sql` to `out` with every `$k` parameter made `$(k + offset)`.
fn renumber(sql: &str, offset: usize, out: &mut String) {
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        match rest[..digits].parse::<usize>() {
            Ok(k) => out.push_str(&(k + offset).to_string()),
            Err(_) => out.push_str(&rest[..digits]),
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renumber_moves_every_parameter() {
        let mut out = String::new();
        renumber("SELECT $1, $12 WHERE x = $17 AND '$' = '$'", 34, &mut out);
        assert_eq!(out, "SELECT $35, $46 WHERE x = $51 AND '$' = '$'");
    }

    #[test]
    fn batch_sql_numbers_each_event_apart() {
        let one = batch_sql(1);
        assert!(one.starts_with("BEGIN IMMEDIATE; ") && one.ends_with("COMMIT"));
        assert!(one.contains("$17") && !one.contains("$18"));
        let three = batch_sql(3);
        assert!(three.contains("$51") && !three.contains("$52"));
        assert_eq!(three.matches("BEGIN").count(), 1);
        assert_eq!(three.matches("COMMIT").count(), 1);
    }
}
