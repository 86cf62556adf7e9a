//! Planning an [`apply_batch`](super::UserStore::apply_batch): one record per Clerk id.

use std::collections::HashMap;

use super::ClerkUserRecord;

/// The records of a batch that can win, one per Clerk id, and how many were superseded.
///
/// A batch may hold several records for one user (a reconcile page read while the user
/// changed, or a caller's own list). Only the newest can be written, and a bulk statement
/// cannot touch one row twice (an error on PostgreSQL), so every store first reduces the batch
/// with this, and counts the superseded records as `unchanged`. Among records of equal version
/// the first wins. The kept records stay in their original order.
///
/// ```
/// use clerk_sync_core::store::{BatchPlan, ClerkUserRecord};
///
/// let records = [
///     ClerkUserRecord::new("user_a", 1, "{}"),
///     ClerkUserRecord::new("user_b", 1, "{}"),
///     ClerkUserRecord::new("user_a", 2, "{}"),
/// ];
/// let plan = BatchPlan::new(&records);
/// assert_eq!(plan.superseded, 1);
/// let kept: Vec<_> = plan.records.iter().map(|r| (r.clerk_id.as_str(), r.clerk_updated_at)).collect();
/// assert_eq!(kept, [("user_b", 1), ("user_a", 2)]);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BatchPlan<'a> {
    /// The newest record of each Clerk id, in batch order.
    pub records: Vec<&'a ClerkUserRecord>,
    /// How many records lost to a newer (or earlier equal) one of the same id.
    pub superseded: u64,
}

impl<'a> BatchPlan<'a> {
    /// Reduce `records` to the newest per Clerk id.
    pub fn new(records: &'a [ClerkUserRecord]) -> Self {
        let mut newest: HashMap<&str, usize> = HashMap::with_capacity(records.len());
        for (i, record) in records.iter().enumerate() {
            newest
                .entry(record.clerk_id.as_str())
                .and_modify(|best| {
                    if records[*best].clerk_updated_at < record.clerk_updated_at {
                        *best = i;
                    }
                })
                .or_insert(i);
        }
        let kept: Vec<&ClerkUserRecord> = records
            .iter()
            .enumerate()
            .filter(|(i, r)| newest.get(r.clerk_id.as_str()) == Some(i))
            .map(|(_, r)| r)
            .collect();
        BatchPlan {
            superseded: (records.len() - kept.len()) as u64,
            records: kept,
        }
    }
}
