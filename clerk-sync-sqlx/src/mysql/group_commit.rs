//! Group commit for MySQL/MariaDB inbound events.
//!
//! On its own an inbound event is one `CALL` of `clerk_sync_apply_inbound`: one round trip,
//! but on the server a procedure call, five statements and a commit for two rows, which costs
//! more than writing the rows. When webhooks arrive faster than that, the upserts and
//! ledger-only events queued behind the writes in flight are committed together: one read of
//! what the procedure would look up, one multi-row statement per kind of write, and one
//! transaction and commit for the whole batch.
//!
//! The rules are the procedure's (`migrations/mysql`); what differs is when rows are read.
//! The batch foretells every event's outcome from one plain read, and its writes check that
//! each did what was foretold:
//! - a user who was not there is a plain multi-row `INSERT`: if a row for one of them
//!   appeared meanwhile, the statement fails on the unique key;
//! - a user who was there with an older version is a guarded upsert that must report every
//!   row changed: if one changed meanwhile (a newer version, a tombstone), the count is short.
//!
//! Either surprise rolls the batch back, and every event in it then runs alone through the
//! procedure, which settles every race itself. So does any failure of the batch, and any event
//! a batch does not settle: a link to a local row by email. Tombstones never queue.
//!
//! At most [`BATCHES_IN_FLIGHT`] batches (or lone calls) run at once. An event that finds a
//! free slot and nothing queued runs alone at once, so a quiet store answers as fast as
//! before. Whichever task gets a free slot takes what is queued (flat combining) and answers
//! every event it took; a task whose event another took waits for that answer, and runs its
//! event alone if that task was cancelled first. One batch holds at most one event per svix
//! id and per user, since its read foretells each row once; a user's next event waits for a
//! later batch.
//!
//! Each slot keeps the connection it wrote on for the next write: taking one from the pool
//! costs a round trip (sqlx checks every connection it hands out), which on the benchmark
//! machine was a sixth of a lone webhook's write. A kept connection is checked the same way
//! only after [`IDLE_CHECK`] unused, when the server may have closed it. One that turns out
//! dead during a lone call is dropped and the call made again on a new one; writes are
//! idempotent, so a repeat of one that did commit is answered as a duplicate. A batch whose
//! connection fails falls back like any failed batch. The slots' connections are opened
//! outside the pool, so the pool may have up to [`BATCHES_IN_FLIGHT`] more connections open
//! than its `max_connections`; they close with the store, and are not kept once the pool is
//! closed.
//!
//! The batch statements go as text, every value written as a hex string literal
//! (`_utf8mb4 X'..'`), an integer, `NULL` or a `DATETIME` literal of digits. None of those can
//! change a statement's meaning whatever the value holds, and nothing needs preparing: a
//! prepared statement per batch size would crowd out the connection's statement cache. Since the text
//! holds the values, the slots' connections never log statements (sqlx logs each statement's
//! text at `debug`, and a slow one at `warn`), and a batch's log lines carry only counts and
//! error numbers.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use clerk_sync_core::store::{
    ClerkUserRecord, InboundApplied, InboundChange, NewLedgerEntry, StoreError, UpsertOutcome,
};
use futures_util::TryStreamExt;
use sqlx::{ConnectOptions, Connection, Executor, MySqlConnection, MySqlPool, Row};
use time::{OffsetDateTime, PrimitiveDateTime};
use tokio::sync::{Semaphore, oneshot};

use super::{BEGIN, GUARDED_OVERWRITE, call_apply_inbound, call_apply_inbound_on, dt};
use crate::error::map_sqlx;
use crate::time_fmt::to_mysql_literal;

/// Events per batch.
const MAX_BATCH: usize = 32;

/// Statement text per batch, above which a batch takes no more events: well below the
/// servers' default `max_allowed_packet` (16 MiB on MariaDB, 64 MiB on MySQL 8), and lowered
/// to half of a smaller one the server reports.
const MAX_BATCH_BYTES: usize = 4 << 20;

/// How long a kept connection may sit unused before it is checked (a ping) before a write:
/// the server closes idle connections (`wait_timeout`), and a restart closes them all.
const IDLE_CHECK: Duration = Duration::from_secs(10);

/// Batches (or lone calls) in flight at once, per store. Two keep the server busy while one
/// waits for its commit, and leave the batches large: on the benchmark machine, 16 webhooks
/// at a time made batches of about 8 events; four slots made them half that size and were
/// no faster at 16 and slower at 64 (docs/benchmarks.md).
const BATCHES_IN_FLIGHT: usize = 2;

/// The inbound events of one store waiting to be written, and the slots to write them in.
pub(super) struct InboundQueue {
    waiting: Mutex<VecDeque<Job>>,
    slots: Semaphore,
    next_job: AtomicU64,
    /// Events settled by a batch of two or more.
    batched: AtomicU64,
    /// Batches that settled nothing and sent their events to run alone.
    fallbacks: AtomicU64,
    /// Connections kept for the slots' writes, outside the pool: at most one per slot.
    spare: Mutex<Vec<Spare>>,
    /// [`MAX_BATCH_BYTES`], or less if the server's `max_allowed_packet` is small.
    batch_bytes: AtomicUsize,
}

/// A slot's connection between writes.
struct Spare {
    conn: MySqlConnection,
    idle_since: Instant,
}

impl std::fmt::Debug for InboundQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboundQueue")
            .field("waiting", &self.lock().len())
            .field("batched", &self.batched.load(Ordering::Relaxed))
            .field("fallbacks", &self.fallbacks.load(Ordering::Relaxed))
            .field("spare", &self.spares().len())
            .finish()
    }
}

/// An event waiting in the queue, owned so that whichever task leads a batch can write it.
struct Job {
    id: u64,
    event: QueuedEvent,
    reply: oneshot::Sender<Reply>,
}

struct QueuedEvent {
    svix_id: String,
    event_type: String,
    object_id: Option<String>,
    received_at: OffsetDateTime,
    payload: String,
    now: PrimitiveDateTime,
    change: InboundChange,
}

impl QueuedEvent {
    fn new(e: &NewLedgerEntry<'_>, change: &InboundChange, now: PrimitiveDateTime) -> Self {
        QueuedEvent {
            svix_id: e.svix_id.to_owned(),
            event_type: e.event_type.to_owned(),
            object_id: e.object_id.map(str::to_owned),
            received_at: e.received_at,
            payload: e.payload.to_owned(),
            now,
            change: change.clone(),
        }
    }

    fn entry(&self) -> NewLedgerEntry<'_> {
        NewLedgerEntry::new(
            &self.svix_id,
            &self.event_type,
            self.object_id.as_deref(),
            self.received_at,
            &self.payload,
        )
    }

    fn record(&self) -> Option<&ClerkUserRecord> {
        match &self.change {
            InboundChange::Upsert(r) => Some(r),
            _ => None,
        }
    }

    /// About what this event adds to a batch's statements: hex doubles every byte.
    fn statement_bytes(&self) -> usize {
        let raw = self.record().map_or(0, |r| r.raw_json.len());
        2 * (self.payload.len() + 2 * raw) + 2048
    }
}

/// What a batch leader tells an event's task.
enum Reply {
    /// The event's result.
    Done(Result<Option<InboundApplied>, StoreError>),
    /// The batch did not settle this event: run it alone.
    RunAlone,
}

/// The key MySQL compares `s` by: its PAD SPACE collations ignore trailing spaces.
fn key(s: &str) -> &str {
    s.trim_end_matches(' ')
}

impl InboundQueue {
    pub(super) fn new() -> Self {
        InboundQueue {
            waiting: Mutex::new(VecDeque::new()),
            slots: Semaphore::new(BATCHES_IN_FLIGHT),
            next_job: AtomicU64::new(0),
            batched: AtomicU64::new(0),
            fallbacks: AtomicU64::new(0),
            spare: Mutex::new(Vec::new()),
            batch_bytes: AtomicUsize::new(MAX_BATCH_BYTES),
        }
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Job>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn spares(&self) -> MutexGuard<'_, Vec<Spare>> {
        self.spare.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A connection for a slot's writes: a kept one (the second value `true`), or a new one.
    async fn connection(&self, pool: &MySqlPool) -> Result<(MySqlConnection, bool), sqlx::Error> {
        if pool.is_closed() {
            self.spares().clear();
            return Err(sqlx::Error::PoolClosed);
        }
        let spare = self.spares().pop();
        if let Some(Spare {
            mut conn,
            idle_since,
        }) = spare
            && (idle_since.elapsed() < IDLE_CHECK || conn.ping().await.is_ok())
        {
            return Ok((conn, true));
        }
        Ok((self.open(pool).await?, false))
    }

    /// A new connection for a slot, with the pool's connect options and timeout but without
    /// statement logging: batch statements hold values in their text. The pool's
    /// `after_connect` does not run; nothing the store sends depends on session settings (its
    /// transactions set their isolation level, and its times carry no zone).
    async fn open(&self, pool: &MySqlPool) -> Result<MySqlConnection, sqlx::Error> {
        let options = (*pool.connect_options())
            .clone()
            .disable_statement_logging();
        let mut conn = tokio::time::timeout(
            pool.options().get_acquire_timeout(),
            MySqlConnection::connect_with(&options),
        )
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)??;
        let packet: i64 = sqlx::query_scalar("SELECT CAST(@@max_allowed_packet AS SIGNED)")
            .fetch_one(&mut conn)
            .await?;
        let half = usize::try_from(packet / 2).unwrap_or(MAX_BATCH_BYTES);
        self.batch_bytes
            .store(half.min(MAX_BATCH_BYTES), Ordering::Relaxed);
        Ok(conn)
    }

    /// Keeps `conn` for the next write, unless the pool was closed or enough are kept.
    fn keep(&self, pool: &MySqlPool, conn: MySqlConnection) {
        let mut spare = self.spares();
        if !pool.is_closed() && spare.len() < BATCHES_IN_FLIGHT {
            spare.push(Spare {
                conn,
                idle_since: Instant::now(),
            });
        }
    }

    /// One event through the procedure on a slot's connection. A kept connection that fails
    /// as a connection (the server closed it, or restarted) is dropped and the call made once
    /// more on a new one: safe, since a repeat of an event that did commit is answered as a
    /// duplicate.
    async fn call(
        &self,
        pool: &MySqlPool,
        e: &NewLedgerEntry<'_>,
        change: &InboundChange,
        now: PrimitiveDateTime,
    ) -> Result<Option<InboundApplied>, StoreError> {
        let (mut conn, kept) = self.connection(pool).await.map_err(map_sqlx)?;
        let mut result = call_apply_inbound_on(&mut conn, e, change, now).await;
        if kept && matches!(result, Err(StoreError::Unavailable(_))) {
            conn = self.open(pool).await.map_err(map_sqlx)?;
            result = call_apply_inbound_on(&mut conn, e, change, now).await;
        }
        if !matches!(result, Err(StoreError::Unavailable(_))) {
            self.keep(pool, conn);
        }
        result
    }

    /// Closes the kept connections; the caller has closed the pool, so none is kept after.
    pub(super) async fn close(&self) {
        let spare = std::mem::take(&mut *self.spares());
        for Spare { conn, .. } in spare {
            let _ = conn.close().await;
        }
    }

    /// Applies one upsert or ledger-only event, alone or in a batch with others.
    pub(super) async fn apply(
        &self,
        pool: &MySqlPool,
        e: &NewLedgerEntry<'_>,
        change: &InboundChange,
        now: PrimitiveDateTime,
    ) -> Result<Option<InboundApplied>, StoreError> {
        let mut slot = self.slots.try_acquire().ok();
        if slot.is_some() && self.lock().is_empty() {
            // Nothing to combine with: one CALL, as if there were no queue.
            return self.call(pool, e, change, now).await;
        }
        let id = self.next_job.fetch_add(1, Ordering::Relaxed);
        let (reply, mut answer) = oneshot::channel();
        self.lock().push_back(Job {
            id,
            event: QueuedEvent::new(e, change, now),
            reply,
        });
        loop {
            let permit = match slot.take() {
                Some(permit) => permit,
                None => tokio::select! {
                    biased;
                    reply = &mut answer => return settle_alone(pool, e, change, now, reply).await,
                    permit = self.slots.acquire() => match permit {
                        Ok(permit) => permit,
                        // The semaphore is never closed; if it were, the event still applies.
                        Err(_) => return call_apply_inbound(pool, e, change, now).await,
                    },
                },
            };
            let batch = self.take_batch();
            if batch.is_empty() {
                // Another task took this event; its answer comes on `answer`.
                drop(permit);
                let reply = (&mut answer).await;
                return settle_alone(pool, e, change, now, reply).await;
            }
            if let [job] = batch.as_slice()
                && job.id == id
            {
                // Only this event was waiting: run it here, without a channel hop.
                return self.call(pool, e, change, now).await;
            }
            self.lead(pool, batch).await;
            drop(permit);
        }
    }

    /// The events to write next, in queue order: at most [`MAX_BATCH`] and
    /// [`MAX_BATCH_BYTES`], one per svix id and per user. Events nobody waits for any more
    /// (their task was cancelled) are dropped: their webhook got no answer, so it will come
    /// again.
    fn take_batch(&self) -> Vec<Job> {
        let mut waiting = self.lock();
        let mut batch = Vec::new();
        let mut svix_ids = HashSet::new();
        let mut users = HashSet::new();
        let max_bytes = self.batch_bytes.load(Ordering::Relaxed);
        let mut bytes = 0usize;
        let mut i = 0;
        while i < waiting.len() && batch.len() < MAX_BATCH {
            let job = &waiting[i];
            if job.reply.is_closed() {
                waiting.remove(i);
                continue;
            }
            let cost = job.event.statement_bytes();
            if !batch.is_empty() && bytes + cost > max_bytes {
                break;
            }
            let svix_id = key(&job.event.svix_id).to_owned();
            let user = job.event.record().map(|r| key(&r.clerk_id).to_owned());
            if svix_ids.contains(&svix_id) || user.as_ref().is_some_and(|u| users.contains(u)) {
                i += 1;
                continue;
            }
            svix_ids.insert(svix_id);
            users.extend(user);
            bytes += cost;
            batch.extend(waiting.remove(i));
        }
        batch
    }

    /// Writes `batch` and answers every event in it.
    async fn lead(&self, pool: &MySqlPool, batch: Vec<Job>) {
        if batch.len() == 1 {
            for job in batch {
                let e = &job.event;
                let result = self.call(pool, &e.entry(), &e.change, e.now).await;
                let _ = job.reply.send(Reply::Done(result));
            }
            return;
        }
        let events: Vec<&QueuedEvent> = batch.iter().map(|job| &job.event).collect();
        let outcomes = match self.run_batch(pool, &events).await {
            Ok(outcomes) => {
                let settled = outcomes.iter().filter(|o| o.is_some()).count();
                self.batched.fetch_add(settled as u64, Ordering::Relaxed);
                outcomes
            }
            Err(error) => {
                self.fallbacks.fetch_add(1, Ordering::Relaxed);
                // A surprise is a race another delivery won, and a deadlock or lock wait
                // timeout one the database settled: both part of normal operation under
                // concurrent deliveries. Another database error will also reach the events'
                // own calls.
                if error.is_race() {
                    tracing::debug!(
                        events = batch.len(),
                        reason = error.reason(),
                        error_number = error.number(),
                        "clerk-sync: inbound batch rolled back; its events run one by one"
                    );
                } else {
                    tracing::warn!(
                        events = batch.len(),
                        reason = error.reason(),
                        error_number = error.number(),
                        "clerk-sync: inbound batch failed; its events run one by one"
                    );
                }
                Vec::new()
            }
        };
        let mut outcomes = outcomes.into_iter();
        for job in batch {
            let reply = match outcomes.next().flatten() {
                Some(applied) => Reply::Done(Ok(Some(applied))),
                None => Reply::RunAlone,
            };
            // A closed channel: the event's task was cancelled, and nobody needs the answer.
            let _ = job.reply.send(reply);
        }
    }
}

/// The result of an event whose task did not write it.
async fn settle_alone(
    pool: &MySqlPool,
    e: &NewLedgerEntry<'_>,
    change: &InboundChange,
    now: PrimitiveDateTime,
    reply: Result<Reply, oneshot::error::RecvError>,
) -> Result<Option<InboundApplied>, StoreError> {
    match reply {
        Ok(Reply::Done(result)) => result,
        // The batch did not settle it, or its leader was cancelled (possibly after the
        // commit: the procedure then reports a duplicate).
        Ok(Reply::RunAlone) | Err(_) => call_apply_inbound(pool, e, change, now).await,
    }
}

/// Why a batch settled nothing.
#[derive(Debug)]
enum BatchError {
    /// A row changed between the batch's read and its writes.
    Surprise,
    /// The database failed.
    Sql(sqlx::Error),
}

impl BatchError {
    /// For the log line: no values, no server text.
    fn reason(&self) -> &'static str {
        match self {
            BatchError::Surprise => "a row changed since the batch read it",
            BatchError::Sql(err) if is_lock_conflict(err) => "deadlock or lock wait timeout",
            BatchError::Sql(_) => "database error",
        }
    }

    /// Whether another transaction caused this: a row it changed, or locks it held.
    fn is_race(&self) -> bool {
        match self {
            BatchError::Surprise => true,
            BatchError::Sql(err) => is_lock_conflict(err),
        }
    }

    /// The server's error number (`1213`, `1153`, ...): a code, never a value.
    fn number(&self) -> Option<u16> {
        match self {
            BatchError::Sql(err) => server_error_number(err),
            BatchError::Surprise => None,
        }
    }
}

fn server_error_number(err: &sqlx::Error) -> Option<u16> {
    match err {
        sqlx::Error::Database(db) => db
            .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
            .map(|my| my.number()),
        _ => None,
    }
}

/// A deadlock (which the store re-runs elsewhere too), or 1205, a lock wait timeout.
fn is_lock_conflict(err: &sqlx::Error) -> bool {
    crate::error::is_conflict(err) || server_error_number(err) == Some(1205)
}

impl From<sqlx::Error> for BatchError {
    fn from(err: sqlx::Error) -> Self {
        // A unique key that the read did not see is the first surprise of the module docs.
        if crate::error::is_unique_violation(&err) {
            BatchError::Surprise
        } else {
            BatchError::Sql(err)
        }
    }
}

impl InboundQueue {
    /// Settles every event of a batch in one transaction: per event, its result, or `None`
    /// for one to run alone.
    async fn run_batch(
        &self,
        pool: &MySqlPool,
        events: &[&QueuedEvent],
    ) -> Result<Vec<Option<InboundApplied>>, BatchError> {
        // The transaction begins inside the batch's first query, to save a round trip, so
        // sqlx does not track it: the connection is kept only once COMMIT or ROLLBACK has
        // ended it. On every other way out (an error, or the task cancelled at an await) it is
        // dropped, which closes it, and the server rolls the transaction back.
        let (mut conn, _) = self.connection(pool).await?;
        let settled = settle(&mut conn, events).await;
        if matches!(&settled, Err(BatchError::Sql(err)) if crate::error::is_unavailable(err)) {
            return settled;
        }
        let end = if settled.is_ok() {
            "COMMIT"
        } else {
            "ROLLBACK"
        };
        match conn.execute(end).await {
            Ok(_) => self.keep(pool, conn),
            Err(err) if settled.is_ok() => return Err(err.into()),
            // The batch failed already; a connection that cannot roll back is closed instead.
            Err(_) => {}
        }
        settled
    }
}

/// Reads, plans and writes; the caller ends the transaction.
async fn settle(
    conn: &mut MySqlConnection,
    events: &[&QueuedEvent],
) -> Result<Vec<Option<InboundApplied>>, BatchError> {
    let known = Known::read(conn, events).await?;
    let plan = Plan::new(events, &known);
    plan.write(conn).await?;
    Ok(plan.outcomes)
}

/// What the procedure would look up for a batch, read in one statement.
#[derive(Debug, Default)]
struct Known {
    /// Svix ids (keys) already processed.
    processed: HashSet<String>,
    /// Per clerk id (key): the stored version and whether the row is a tombstone.
    users: HashMap<String, (Option<i64>, bool)>,
    /// Emails (keys) of live local rows without a clerk id: rows an event could link.
    linkable: HashSet<String>,
}

impl Known {
    fn sql(events: &[&QueuedEvent]) -> String {
        let mut sql = String::from(
            "SELECT 0, svix_id, CAST(NULL AS SIGNED), CAST(NULL AS SIGNED) \
             FROM clerk_webhook_events WHERE processed_at IS NOT NULL AND svix_id IN (",
        );
        list(&mut sql, events.iter().map(|e| Some(e.svix_id.as_str())));
        let records: Vec<&ClerkUserRecord> = events.iter().filter_map(|e| e.record()).collect();
        if !records.is_empty() {
            sql.push_str(
                ") UNION ALL SELECT 1, clerk_id, clerk_updated_at, deleted_at IS NOT NULL \
                 FROM clerk_users WHERE clerk_id IN (",
            );
            list(&mut sql, records.iter().map(|r| Some(r.clerk_id.as_str())));
        }
        if records.iter().any(|r| r.link_email.is_some()) {
            sql.push_str(
                ") UNION ALL SELECT 2, email, NULL, NULL FROM clerk_users \
                 WHERE clerk_id IS NULL AND deleted_at IS NULL AND email IN (",
            );
            list(&mut sql, records.iter().map(|r| r.link_email.as_deref()));
        }
        sql.push(')');
        sql
    }

    /// Begins the batch's transaction and reads, in one round trip.
    async fn read(
        conn: &mut MySqlConnection,
        events: &[&QueuedEvent],
    ) -> Result<Known, BatchError> {
        let sql = format!("{BEGIN}; {}", Known::sql(events));
        let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut *conn)
            .await?;
        let mut known = Known::default();
        for row in rows {
            let what: i64 = row.try_get(0)?;
            let id: String = row.try_get(1)?;
            let id = key(&id).to_owned();
            match what {
                0 => {
                    known.processed.insert(id);
                }
                1 => {
                    let version: Option<i64> = row.try_get(2)?;
                    let deleted: Option<i64> = row.try_get(3)?;
                    known.users.insert(id, (version, deleted == Some(1)));
                }
                _ => {
                    known.linkable.insert(id);
                }
            }
        }
        Ok(known)
    }
}

/// A batch's foretold outcomes and the statements that write them.
struct Plan {
    /// Per event, in batch order.
    outcomes: Vec<Option<InboundApplied>>,
    /// New users, sorted by clerk id (the order their keys are locked in).
    inserts: Vec<usize>,
    /// Users stored with an older version, sorted by clerk id.
    updates: Vec<usize>,
    /// Ledger rows, sorted by svix id, each with its outcome.
    ledger: Vec<(usize, &'static str)>,
    sql: String,
}

impl Plan {
    fn new(events: &[&QueuedEvent], known: &Known) -> Plan {
        let mut plan = Plan {
            outcomes: Vec::with_capacity(events.len()),
            inserts: Vec::new(),
            updates: Vec::new(),
            ledger: Vec::new(),
            sql: String::new(),
        };
        for (i, e) in events.iter().enumerate() {
            let outcome = if known.processed.contains(key(&e.svix_id)) {
                Some(InboundApplied::Duplicate)
            } else {
                match &e.change {
                    InboundChange::LedgerOnly => Some(InboundApplied::LedgerOnly),
                    InboundChange::Upsert(r) => plan.upsert(i, r, known),
                    _ => None,
                }
            };
            if let Some(ledger) = outcome.and_then(InboundApplied::ledger_outcome) {
                plan.ledger.push((i, ledger.as_str()));
            }
            plan.outcomes.push(outcome);
        }
        let clerk_id = |&i: &usize| events[i].record().map(|r| r.clerk_id.as_str());
        plan.inserts.sort_by_key(clerk_id);
        plan.updates.sort_by_key(clerk_id);
        plan.ledger
            .sort_by_key(|&(i, _)| events[i].svix_id.as_str());
        plan.sql = plan.statements(events);
        plan
    }

    /// The procedure's upsert rules, on the rows as read.
    fn upsert(&mut self, i: usize, r: &ClerkUserRecord, known: &Known) -> Option<InboundApplied> {
        let outcome = match known.users.get(key(&r.clerk_id)) {
            Some((_, true)) => UpsertOutcome::Deleted,
            Some((Some(stored), false)) if *stored >= r.clerk_updated_at => UpsertOutcome::Stale,
            Some(_) => {
                self.updates.push(i);
                UpsertOutcome::Updated
            }
            None if r
                .link_email
                .as_deref()
                .is_some_and(|email| known.linkable.contains(key(email))) =>
            {
                // A local row to link: the procedure decides which, and whether.
                return None;
            }
            None => {
                self.inserts.push(i);
                UpsertOutcome::Inserted
            }
        };
        Some(InboundApplied::Upsert(outcome))
    }

    /// Rows each statement must report, in order; `None`: any count.
    fn expected_counts(&self) -> Vec<Option<u64>> {
        let mut counts = Vec::new();
        if !self.inserts.is_empty() {
            counts.push(Some(self.inserts.len() as u64));
        }
        if !self.updates.is_empty() {
            // CLIENT_FOUND_ROWS: 2 for each changed row, 1 for an untouched (or inserted) one.
            counts.push(Some(2 * self.updates.len() as u64));
        }
        if !self.ledger.is_empty() {
            counts.push(None);
        }
        counts
    }

    fn statements(&self, events: &[&QueuedEvent]) -> String {
        const USER_COLUMNS: &str = "INSERT INTO clerk_users (clerk_id, email, first_name, \
             last_name, username, image_url, external_id, public_metadata, raw_json, \
             clerk_updated_at, sync_status, created_at, updated_at) VALUES ";
        let mut sql = String::new();
        if !self.inserts.is_empty() {
            sql.push_str(USER_COLUMNS);
            user_rows(&mut sql, events, &self.inserts);
            sql.push_str(";\n");
        }
        if !self.updates.is_empty() {
            sql.push_str(USER_COLUMNS);
            user_rows(&mut sql, events, &self.updates);
            sql.push_str(" ON DUPLICATE KEY UPDATE ");
            sql.push_str(GUARDED_OVERWRITE);
            sql.push_str(";\n");
        }
        if !self.ledger.is_empty() {
            sql.push_str(
                "INSERT INTO clerk_webhook_events (svix_id, event_type, object_id, received_at, \
                 payload, processed_at, outcome) VALUES ",
            );
            for (n, &(i, outcome)) in self.ledger.iter().enumerate() {
                let e = events[i];
                sql.push_str(if n == 0 { "(" } else { ", (" });
                text(&mut sql, &e.svix_id);
                sql.push_str(", ");
                text(&mut sql, &e.event_type);
                sql.push_str(", ");
                opt_text(&mut sql, e.object_id.as_deref());
                sql.push_str(", ");
                sql.push_str(&to_mysql_literal(dt(e.received_at)));
                sql.push_str(", ");
                text(&mut sql, &e.payload);
                sql.push_str(", ");
                sql.push_str(&to_mysql_literal(e.now));
                sql.push_str(", ");
                text(&mut sql, outcome);
                sql.push(')');
            }
            // Completes a row an earlier attempt left unprocessed, as the procedure does.
            sql.push_str(
                " ON DUPLICATE KEY UPDATE \
                 outcome = IF(processed_at IS NULL, VALUES(outcome), outcome), \
                 error = IF(processed_at IS NULL, NULL, error), \
                 processed_at = IF(processed_at IS NULL, VALUES(processed_at), processed_at)",
            );
        }
        sql
    }

    /// Runs the statements, and fails with [`BatchError::Surprise`] unless every count is as
    /// foretold.
    async fn write(&self, conn: &mut MySqlConnection) -> Result<(), BatchError> {
        if self.sql.is_empty() {
            return Ok(());
        }
        let mut as_foretold = true;
        let mut results = sqlx::raw_sql(sqlx::AssertSqlSafe(self.sql.as_str())).execute_many(conn);
        for expected in self.expected_counts() {
            let Some(done) = results.try_next().await? else {
                as_foretold = false;
                break;
            };
            if expected.is_some_and(|n| n != done.rows_affected()) {
                as_foretold = false;
            }
        }
        while results.try_next().await?.is_some() {}
        if as_foretold {
            Ok(())
        } else {
            Err(BatchError::Surprise)
        }
    }
}

/// `(..), (..)` of the users at `rows`, in `clerk_users` column order.
fn user_rows(sql: &mut String, events: &[&QueuedEvent], rows: &[usize]) {
    for (n, &i) in rows.iter().enumerate() {
        let e = events[i];
        let Some(r) = e.record() else { continue };
        let metadata = r.public_metadata.as_ref().map(|m| m.to_string());
        sql.push_str(if n == 0 { "(" } else { ", (" });
        for value in [
            Some(r.clerk_id.as_str()),
            r.email.as_deref(),
            r.first_name.as_deref(),
            r.last_name.as_deref(),
            r.username.as_deref(),
            r.image_url.as_deref(),
            r.external_id.as_deref(),
            metadata.as_deref(),
            Some(r.raw_json.as_str()),
        ] {
            opt_text(sql, value);
            sql.push_str(", ");
        }
        let _ = write!(sql, "{}, 'synced', ", r.clerk_updated_at);
        let now = to_mysql_literal(e.now);
        sql.push_str(&now);
        sql.push_str(", ");
        sql.push_str(&now);
        sql.push(')');
    }
}

/// `v1, v2, ..` for an `IN (..)` list.
fn list<'a>(sql: &mut String, values: impl Iterator<Item = Option<&'a str>>) {
    for (n, value) in values.enumerate() {
        if n > 0 {
            sql.push_str(", ");
        }
        opt_text(sql, value);
    }
}

/// `s` as a utf8mb4 string literal made of hex digits only.
fn text(sql: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    sql.reserve(2 * s.len() + 12);
    sql.push_str("_utf8mb4 X'");
    for b in s.bytes() {
        sql.push(char::from(HEX[usize::from(b >> 4)]));
        sql.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    sql.push('\'');
}

fn opt_text(sql: &mut String, s: Option<&str>) {
    match s {
        Some(s) => text(sql, s),
        None => sql.push_str("NULL"),
    }
}

#[cfg(test)]
mod tests;
