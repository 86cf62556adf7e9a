//! Time arithmetic: a huge TTL, lease or backoff means "far in the future" in every store.

use std::time::Duration;

use super::{StoreFactory, t};
use crate::store::{
    ClaimOutcome, LeaseStore, LocalChange, MAX_STORED_TIME, OutboxStore, SyncStore, UserProfile,
    saturating_add,
};

/// The year 9000: long after any real lease, long before [`MAX_STORED_TIME`].
fn far_future() -> time::OffsetDateTime {
    time::macros::datetime!(9000-01-01 00:00:00 UTC)
}

/// Leases, claims and backoffs of absurd length saturate at [`MAX_STORED_TIME`]; they never
/// wrap around to "now", which would make a lease free and an entry due at once.
pub async fn times_saturate<F: StoreFactory<Store: SyncStore>>(factory: F) {
    let store = factory.make().await;

    assert!(
        store
            .try_acquire_lease("forever", "a", Duration::MAX, t(0))
            .await
            .expect("try_acquire_lease")
    );
    assert!(
        !store
            .try_acquire_lease("forever", "b", Duration::from_secs(1), far_future())
            .await
            .expect("try_acquire_lease"),
        "a lease of Duration::MAX is still held in the year 9000"
    );
    assert!(
        store
            .renew_lease("forever", "a", Duration::MAX, far_future())
            .await
            .expect("renew_lease")
    );
    assert!(
        !store
            .try_acquire_lease("forever", "b", Duration::from_secs(1), far_future())
            .await
            .expect("try_acquire_lease"),
        "a renewal of Duration::MAX saturates too"
    );

    let profile = UserProfile {
        email: Some("forever@example.com".to_owned()),
        ..UserProfile::default()
    };
    let queued = store
        .enqueue_local_change(&LocalChange::Create(profile), t(0))
        .await
        .expect("enqueue_local_change");
    let claimed = store
        .claim_outbox("w", t(0), Duration::MAX, 10)
        .await
        .expect("claim_outbox");
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        claimed[0].claimed_until,
        Some(MAX_STORED_TIME),
        "claimed_until saturates at MAX_STORED_TIME"
    );
    assert!(
        store
            .claim_outbox("other", far_future(), Duration::from_secs(1), 10)
            .await
            .expect("claim_outbox")
            .is_empty(),
        "a claim of Duration::MAX is still held in the year 9000"
    );
    let token = claimed[0].claim_token.clone().expect("claim token");
    let backoff = saturating_add(t(0), Duration::MAX);
    let failed = store
        .fail_outbox(
            queued.outbox_id,
            &token,
            "retry much later",
            backoff,
            far_future(),
        )
        .await
        .expect("fail_outbox");
    assert_eq!(failed, ClaimOutcome::Applied, "held until MAX_STORED_TIME");
    let stored = store
        .outbox_for_user(queued.user.id)
        .await
        .expect("outbox_for_user");
    assert_eq!(stored[0].next_attempt_at, MAX_STORED_TIME);
    assert!(
        store
            .claim_outbox("other", far_future(), Duration::from_secs(1), 10)
            .await
            .expect("claim_outbox")
            .is_empty(),
        "an entry backed off to MAX_STORED_TIME is not due in the year 9000"
    );
    assert_eq!(store.outbox_due(far_future()).await.expect("outbox_due"), 0);
}
