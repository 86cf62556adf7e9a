//! Local operations: changes made on the application's side, queued for Clerk.

use time::OffsetDateTime;

use super::{SyncEngine, SyncError};
use crate::store::{
    EnqueuedChange, LocalChange, OutboxStore, StoreError, UserProfile, UserStore, whole_micros,
};

/// The schema's limit for `email` (`varchar(320)`), also the longest address RFC 5321 allows.
const EMAIL_MAX: usize = 320;

impl<S: UserStore + OutboxStore + ?Sized> SyncEngine<S> {
    /// Insert a local user (no Clerk id yet) and queue its creation in Clerk.
    ///
    /// The row is `pending` until the outbox worker reports Clerk's answer. The email is
    /// stored lowercased, as Clerk stores it, so that the `user.created` echo links this row
    /// instead of inserting a twin.
    ///
    /// # Errors
    ///
    /// [`SyncError::InvalidInput`] without an email or username, with a malformed email, an
    /// empty username or metadata that is not a JSON object; [`SyncError::Store`].
    pub async fn create_local_user(
        &self,
        profile: UserProfile,
    ) -> Result<EnqueuedChange, SyncError> {
        let profile = validated(profile)?;
        if profile.email.is_none() && profile.username.is_none() {
            return Err(SyncError::InvalidInput {
                reason: "a new user needs an email address or a username",
            });
        }
        self.enqueue(LocalChange::Create(profile)).await
    }

    /// Insert a local row for `email` and queue a Clerk invitation to it, with optional
    /// `public_metadata` (a JSON object) for the user the invitation creates.
    ///
    /// # Errors
    ///
    /// [`SyncError::InvalidInput`] for a malformed email or non-object metadata;
    /// [`SyncError::Store`].
    pub async fn invite_user(
        &self,
        email: &str,
        public_metadata: Option<serde_json::Value>,
    ) -> Result<EnqueuedChange, SyncError> {
        let profile = validated(UserProfile {
            email: Some(email.to_owned()),
            public_metadata,
            ..UserProfile::default()
        })?;
        self.enqueue(LocalChange::Invite(profile)).await
    }

    /// Change the given fields of local row `id` (`None` fields stay) and queue the update
    /// for Clerk.
    ///
    /// # Errors
    ///
    /// [`SyncError::InvalidInput`] when no field is given or one is malformed, or for a new
    /// email on a user who exists in Clerk (Clerk verifies a new address with its owner, so
    /// the change is made there);
    /// [`SyncError::UserNotFound`] when the row does not exist or is deleted;
    /// [`SyncError::Store`].
    pub async fn update_local_user(
        &self,
        id: i64,
        profile: UserProfile,
    ) -> Result<EnqueuedChange, SyncError> {
        let profile = validated(profile)?;
        if profile == UserProfile::default() {
            return Err(SyncError::InvalidInput {
                reason: "an update needs at least one field",
            });
        }
        if let Some(email) = &profile.email
            && let Some(row) = self.store().get_user_by_id(id).await?
            && row.clerk_id.is_some()
            && row.email.as_deref() != Some(email.as_str())
        {
            // Clerk sends a verification to a new address and makes it primary only once its
            // owner confirms; a push from here would bypass that.
            return Err(SyncError::InvalidInput {
                reason: "the email of a user who exists in Clerk is changed in Clerk, \
                         which verifies the new address with its owner",
            });
        }
        self.enqueue(LocalChange::Update {
            user_id: id,
            profile,
        })
        .await
        .map_err(|e| not_found_as(e, id))
    }

    /// Queue the deletion of local row `id` in Clerk. The row becomes a tombstone when the
    /// outbound worker's delete succeeds, or when Clerk's `user.deleted` arrives, whichever
    /// comes first.
    ///
    /// # Errors
    ///
    /// [`SyncError::UserNotFound`] when the row does not exist or is already deleted;
    /// [`SyncError::Store`].
    pub async fn delete_local_user(&self, id: i64) -> Result<EnqueuedChange, SyncError> {
        self.enqueue(LocalChange::Delete { user_id: id })
            .await
            .map_err(|e| not_found_as(e, id))
    }

    /// Revive dead letters (all of them, or `user_id`'s): they are retried from the first
    /// attempt, and their rows go back to `pending`. Returns how many were revived.
    ///
    /// # Errors
    ///
    /// [`SyncError::Store`].
    pub async fn retry_failed(&self, user_id: Option<i64>) -> Result<u64, SyncError> {
        let now = whole_micros(OffsetDateTime::now_utc());
        let revived = self.store().revive_dead_letters(user_id, now).await?;
        tracing::info!(revived, ?user_id, "dead letters revived");
        Ok(revived)
    }

    async fn enqueue(&self, change: LocalChange) -> Result<EnqueuedChange, SyncError> {
        let now = whole_micros(OffsetDateTime::now_utc());
        let queued = self.store().enqueue_local_change(&change, now).await?;
        tracing::debug!(
            user_id = queued.user.id,
            outbox_id = queued.outbox_id,
            operation = change.operation().as_str(),
            "local change queued for Clerk"
        );
        Ok(queued)
    }
}

fn not_found_as(error: SyncError, id: i64) -> SyncError {
    match error {
        SyncError::Store(StoreError::NotFound { .. }) => SyncError::UserNotFound { id },
        other => other,
    }
}

/// `profile` checked and normalized, or why it is refused.
fn validated(mut profile: UserProfile) -> Result<UserProfile, SyncError> {
    let invalid = |reason| Err(SyncError::InvalidInput { reason });
    if let Some(email) = &profile.email {
        let email = email.trim().to_lowercase();
        if !is_plausible_email(&email) {
            return invalid("the email address is malformed");
        }
        profile.email = Some(email);
    }
    if profile
        .username
        .as_deref()
        .is_some_and(|u| u.trim().is_empty())
    {
        return invalid("the username is empty");
    }
    if profile
        .public_metadata
        .as_ref()
        .is_some_and(|m| !m.is_object())
    {
        return invalid("public_metadata must be a JSON object");
    }
    Ok(profile)
}

/// One `@` between a non-empty local part and a dotted domain, no whitespace or control
/// characters, within [`EMAIL_MAX`]. Clerk does the real validation; this catches mistakes
/// before a row is written and a push is queued that can only fail.
fn is_plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    email.len() <= EMAIL_MAX
        && !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plausible_emails() {
        for ok in ["a@b.co", "first.last+tag@example.com", "zoë@exämple.com"] {
            assert!(is_plausible_email(ok), "{ok}");
        }
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@b",
            "a@@b.com",
            "a@b.com.",
            "a@.com",
            "a b@c.com",
            "a@b.com\n",
        ] {
            assert!(!is_plausible_email(bad), "{bad:?}");
        }
        let long = format!("{}@example.com", "a".repeat(320));
        assert!(!is_plausible_email(&long), "over 320 bytes");
    }

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        let profile = validated(UserProfile {
            email: Some("  Ann@Example.COM ".to_owned()),
            ..UserProfile::default()
        })
        .expect("valid");
        assert_eq!(profile.email.as_deref(), Some("ann@example.com"));
    }
}
