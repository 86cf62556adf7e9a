//! The outbox: local changes and their queue entries, claims with a lease.

use std::time::Duration;

use clerk_sync_core::store::{LocalChange, UserProfile};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, Value,
};
use time::OffsetDateTime;

use crate::entity::{clerk_user, sync_outbox};
use crate::sql::{Dialect, sv};

/// Later of `now + d`, saturating instead of overflowing.
pub(crate) fn later(now: OffsetDateTime, d: Duration) -> OffsetDateTime {
    now.checked_add(time::Duration::try_from(d).unwrap_or(time::Duration::MAX))
        .unwrap_or(now)
}

fn q(d: Dialect, n: usize) -> String {
    if d.is_mysql() { "?".to_owned() } else { d.p(n) }
}

fn qj(d: Dialect, n: usize) -> String {
    if d.is_mysql() {
        "?".to_owned()
    } else {
        d.json_p(n)
    }
}

fn json_text(v: &Option<serde_json::Value>) -> Value {
    v.as_ref().map(|v| v.to_string()).into()
}

/// Insert a row and return its id.
async fn insert_returning_id(
    d: Dialect,
    txn: &DatabaseTransaction,
    sql: String,
    values: Vec<Value>,
) -> Result<i64, DbErr> {
    if d.is_mysql() {
        let r = txn.execute_raw(d.stmt(sql, values)).await?;
        i64::try_from(r.last_insert_id()).map_err(|_| DbErr::UnpackInsertId)
    } else {
        let row = txn
            .query_one_raw(d.stmt(format!("{sql} RETURNING id"), values))
            .await?
            .ok_or(DbErr::UnpackInsertId)?;
        row.try_get("", "id")
    }
}

/// Write the row change and queue the entry; `None` when the row to change is missing or a
/// tombstone.
pub(crate) async fn enqueue(
    d: Dialect,
    txn: &DatabaseTransaction,
    change: &LocalChange,
    now: OffsetDateTime,
) -> Result<Option<(clerk_user::Model, i64)>, DbErr> {
    let (user_id, profile) = match change {
        LocalChange::Create(profile) | LocalChange::Invite(profile) => {
            let sql = format!(
                "INSERT INTO clerk_users (email, first_name, last_name, username, external_id, \
                 public_metadata, sync_status, created_at, updated_at) \
                 VALUES ({}, {}, {}, {}, {}, {}, 'pending', {}, {})",
                q(d, 1),
                q(d, 2),
                q(d, 3),
                q(d, 4),
                q(d, 5),
                qj(d, 6),
                q(d, 7),
                q(d, 8)
            );
            let values = vec![
                sv(profile.email.as_deref()),
                sv(profile.first_name.as_deref()),
                sv(profile.last_name.as_deref()),
                sv(profile.username.as_deref()),
                sv(profile.external_id.as_deref()),
                json_text(&profile.public_metadata),
                d.tv(now),
                d.tv(now),
            ];
            (
                insert_returning_id(d, txn, sql, values).await?,
                profile.clone(),
            )
        }
        LocalChange::Update { user_id, profile } => {
            let sql = format!(
                "UPDATE clerk_users SET email = COALESCE({}, email), \
                 first_name = COALESCE({}, first_name), last_name = COALESCE({}, last_name), \
                 username = COALESCE({}, username), external_id = COALESCE({}, external_id), \
                 public_metadata = COALESCE({}, public_metadata), sync_status = 'pending', \
                 updated_at = {} WHERE id = {} AND deleted_at IS NULL",
                q(d, 1),
                q(d, 2),
                q(d, 3),
                q(d, 4),
                q(d, 5),
                qj(d, 6),
                q(d, 7),
                q(d, 8)
            );
            let values = vec![
                sv(profile.email.as_deref()),
                sv(profile.first_name.as_deref()),
                sv(profile.last_name.as_deref()),
                sv(profile.username.as_deref()),
                sv(profile.external_id.as_deref()),
                json_text(&profile.public_metadata),
                d.tv(now),
                (*user_id).into(),
            ];
            if txn.execute_raw(d.stmt(sql, values)).await?.rows_affected() == 0 {
                return Ok(None);
            }
            (*user_id, profile.clone())
        }
        LocalChange::Delete { user_id } => {
            let sql = format!(
                "UPDATE clerk_users SET sync_status = 'pending', updated_at = {} \
                 WHERE id = {} AND deleted_at IS NULL",
                q(d, 1),
                q(d, 2)
            );
            let values = vec![d.tv(now), (*user_id).into()];
            if txn.execute_raw(d.stmt(sql, values)).await?.rows_affected() == 0 {
                return Ok(None);
            }
            (*user_id, UserProfile::default())
        }
        // A change kind added to core after this store: refuse rather than guess its effect.
        _ => return Err(DbErr::Custom("unsupported local change".to_owned())),
    };
    let payload = serde_json::to_string(&profile).map_err(|e| DbErr::Json(e.to_string()))?;
    let sql = format!(
        "INSERT INTO clerk_sync_outbox (user_id, operation, payload, attempts, next_attempt_at, created_at) \
         VALUES ({}, {}, {}, 0, {}, {})",
        q(d, 1),
        q(d, 2),
        qj(d, 3),
        q(d, 4),
        q(d, 5)
    );
    let values = vec![
        user_id.into(),
        change.operation().as_str().to_owned().into(),
        payload.into(),
        d.tv(now),
        d.tv(now),
    ];
    let outbox_id = insert_returning_id(d, txn, sql, values).await?;
    let user = clerk_user::Entity::find_by_id(user_id)
        .one(txn)
        .await?
        .ok_or(DbErr::RecordNotFound("user".to_owned()))?;
    Ok(Some((user, outbox_id)))
}

/// The due-entry filter: due, unclaimed or claim expired, and the oldest queued entry of its
/// user (one user's operations go out in order: an update must not overtake its create).
fn due_filter(d: Dialect, now_n: usize) -> String {
    let now = if d.is_mysql() {
        "?".to_owned()
    } else {
        d.p(now_n)
    };
    format!(
        "{next} <= {now} AND (o.claimed_until IS NULL OR {until} <= {now}) \
         AND NOT EXISTS (SELECT 1 FROM clerk_sync_outbox p WHERE p.user_id = o.user_id AND p.id < o.id)",
        next = d.time_col("o.next_attempt_at"),
        until = d.time_col("o.claimed_until"),
    )
}

/// Claim up to `limit` due entries for `worker`.
pub(crate) async fn claim(
    d: Dialect,
    txn: &DatabaseTransaction,
    worker: &str,
    now: OffsetDateTime,
    lease: Duration,
    limit: u32,
) -> Result<Vec<sync_outbox::Model>, DbErr> {
    let until = d.tv(later(now, lease));
    let limit = i64::from(limit);
    if d.is_mysql() {
        // Skip rows another worker has locked instead of waiting for them: two workers then
        // claim disjoint entries without blocking each other.
        let rows = txn
            .query_all_raw(d.stmt(
                format!(
                    "SELECT o.id FROM clerk_sync_outbox o WHERE {} ORDER BY o.id LIMIT ? \
                     FOR UPDATE SKIP LOCKED",
                    due_filter(d, 0)
                ),
                vec![d.time_key(now), d.time_key(now), limit.into()],
            ))
            .await?;
        let ids = rows
            .iter()
            .map(|r| r.try_get::<i64>("", "id"))
            .collect::<Result<Vec<_>, _>>()?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let marks = vec!["?"; ids.len()].join(", ");
        let mut values: Vec<Value> = vec![worker.to_owned().into(), until];
        values.extend(ids.iter().map(|&id| Value::from(id)));
        txn.execute_raw(d.stmt(
            format!(
                "UPDATE clerk_sync_outbox SET claimed_by = ?, claimed_until = ?, attempts = attempts + 1 \
                 WHERE id IN ({marks})"
            ),
            values,
        ))
        .await?;
        return sync_outbox::Entity::find()
            .filter(sync_outbox::Column::Id.is_in(ids))
            .order_by_asc(sync_outbox::Column::Id)
            .all(txn)
            .await;
    }
    let lock = if d.is_pg() {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let sql = format!(
        "UPDATE clerk_sync_outbox SET claimed_by = {}, claimed_until = {}, attempts = attempts + 1 \
         WHERE id IN (SELECT o.id FROM clerk_sync_outbox o WHERE {} ORDER BY o.id LIMIT {}{lock}) \
         RETURNING *",
        d.p(1),
        d.p(2),
        due_filter(d, 3),
        d.p(4),
    );
    let rows = txn
        .query_all_raw(d.stmt(
            sql,
            vec![
                worker.to_owned().into(),
                until,
                d.time_key(now),
                limit.into(),
            ],
        ))
        .await?;
    let mut models = rows
        .iter()
        .map(|r| sync_outbox::Model::from_query_result(r, ""))
        .collect::<Result<Vec<_>, _>>()?;
    models.sort_by_key(|m| m.id);
    Ok(models)
}

/// The user id of entry `id`, locking the entry.
async fn entry_user(d: Dialect, txn: &DatabaseTransaction, id: i64) -> Result<Option<i64>, DbErr> {
    let lock = if d.is_sqlite() { "" } else { " FOR UPDATE" };
    let row = txn
        .query_one_raw(d.stmt(
            format!(
                "SELECT user_id FROM clerk_sync_outbox WHERE id = {}{lock}",
                q(d, 1)
            ),
            vec![id.into()],
        ))
        .await?;
    row.map(|r| r.try_get::<i64>("", "user_id")).transpose()
}

/// `complete_outbox`; `None` when the entry is gone.
pub(crate) async fn complete(
    d: Dialect,
    txn: &DatabaseTransaction,
    id: i64,
    clerk_id: Option<&str>,
    now: OffsetDateTime,
) -> Result<Option<()>, DbErr> {
    let Some(user_id) = entry_user(d, txn, id).await? else {
        return Ok(None);
    };
    txn.execute_raw(d.stmt(
        format!("DELETE FROM clerk_sync_outbox WHERE id = {}", q(d, 1)),
        vec![id.into()],
    ))
    .await?;
    // The webhook echo of this create may already have inserted a row with the same Clerk id;
    // taking it twice would break its uniqueness, so the id is only set when it is free. MySQL
    // cannot name the updated table in a subquery unless it is materialized (the LIMIT does).
    let taken = if d.is_mysql() {
        "EXISTS (SELECT 1 FROM (SELECT c.id FROM clerk_users c WHERE c.clerk_id = ? LIMIT 1) t)"
            .to_owned()
    } else {
        format!(
            "EXISTS (SELECT 1 FROM clerk_users c WHERE c.clerk_id = {})",
            d.p(2)
        )
    };
    let sql = format!(
        "UPDATE clerk_users SET \
         clerk_id = CASE WHEN clerk_id IS NULL AND {cid} IS NOT NULL AND NOT {taken} THEN {cid} ELSE clerk_id END, \
         last_sync_attempt = {now}, sync_error = NULL, updated_at = {now}, \
         sync_status = CASE WHEN EXISTS (SELECT 1 FROM clerk_sync_outbox o WHERE o.user_id = {uid}) \
         THEN sync_status ELSE 'synced' END \
         WHERE id = {uid}",
        cid = q(d, 1),
        now = q(d, 3),
        uid = q(d, 4),
    );
    let clerk: Value = sv(clerk_id);
    let values = if d.is_mysql() {
        vec![
            clerk.clone(),
            clerk.clone(),
            clerk,
            d.tv(now),
            d.tv(now),
            user_id.into(),
            user_id.into(),
        ]
    } else {
        vec![clerk.clone(), clerk, d.tv(now), user_id.into()]
    };
    txn.execute_raw(d.stmt(sql, values)).await?;
    Ok(Some(()))
}

/// `fail_outbox`; `None` when the entry is gone.
pub(crate) async fn fail(
    d: Dialect,
    txn: &DatabaseTransaction,
    id: i64,
    error: &str,
    next_attempt_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<Option<()>, DbErr> {
    let Some(user_id) = entry_user(d, txn, id).await? else {
        return Ok(None);
    };
    txn.execute_raw(d.stmt(
        format!(
            "UPDATE clerk_sync_outbox SET claimed_by = NULL, claimed_until = NULL, \
             next_attempt_at = {}, last_error = {} WHERE id = {}",
            q(d, 1),
            q(d, 2),
            q(d, 3)
        ),
        vec![d.tv(next_attempt_at), error.to_owned().into(), id.into()],
    ))
    .await?;
    txn.execute_raw(d.stmt(
        format!(
            "UPDATE clerk_users SET sync_error = {}, last_sync_attempt = {}, updated_at = {} WHERE id = {}",
            q(d, 1),
            q(d, 2),
            q(d, 3),
            q(d, 4)
        ),
        vec![error.to_owned().into(), d.tv(now), d.tv(now), user_id.into()],
    ))
    .await?;
    Ok(Some(()))
}

/// `give_up_outbox`; `None` when the entry is gone.
pub(crate) async fn give_up(
    d: Dialect,
    txn: &DatabaseTransaction,
    id: i64,
    error: &str,
    now: OffsetDateTime,
) -> Result<Option<()>, DbErr> {
    let Some(user_id) = entry_user(d, txn, id).await? else {
        return Ok(None);
    };
    txn.execute_raw(d.stmt(
        format!("DELETE FROM clerk_sync_outbox WHERE id = {}", q(d, 1)),
        vec![id.into()],
    ))
    .await?;
    txn.execute_raw(d.stmt(
        format!(
            "UPDATE clerk_users SET sync_status = 'failed', sync_error = {}, last_sync_attempt = {}, \
             updated_at = {} WHERE id = {}",
            q(d, 1),
            q(d, 2),
            q(d, 3),
            q(d, 4)
        ),
        vec![error.to_owned().into(), d.tv(now), d.tv(now), user_id.into()],
    ))
    .await?;
    Ok(Some(()))
}

/// Entries of one row, oldest first.
pub(crate) async fn for_user<C: ConnectionTrait>(
    conn: &C,
    user_id: i64,
) -> Result<Vec<sync_outbox::Model>, DbErr> {
    sync_outbox::Entity::find()
        .filter(sync_outbox::Column::UserId.eq(user_id))
        .order_by_asc(sync_outbox::Column::Id)
        .all(conn)
        .await
}
