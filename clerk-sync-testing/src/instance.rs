//! The state of the fake Clerk instance and every change to it. The HTTP handlers and the
//! direct helpers both go through here, so both emit the same webhooks.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::error::{FakeClerkError, is_valid_email};
use crate::ids::{IdGenerator, MutationClock};
use crate::invitations::InvitationRecord;
use crate::users::{EmailRecord, Metadata, UserRecord, UserStore};
use crate::webhooks::{SignedWebhook, WebhookSigner};

/// A user to create.
#[derive(Debug, Default)]
pub(crate) struct NewUser {
    pub(crate) emails: Vec<String>,
    pub(crate) verified: bool,
    pub(crate) first_name: Option<String>,
    pub(crate) last_name: Option<String>,
    pub(crate) username: Option<String>,
    pub(crate) external_id: Option<String>,
    pub(crate) locale: Option<String>,
    pub(crate) public_metadata: Map<String, Value>,
    pub(crate) private_metadata: Map<String, Value>,
    pub(crate) unsafe_metadata: Map<String, Value>,
    pub(crate) password_enabled: bool,
}

/// A change to a user's profile. `Some(None)` clears a field.
#[derive(Debug, Default)]
pub(crate) struct ProfileChange {
    pub(crate) first_name: Option<Option<String>>,
    pub(crate) last_name: Option<Option<String>>,
    pub(crate) username: Option<Option<String>>,
    pub(crate) external_id: Option<Option<String>>,
    pub(crate) locale: Option<Option<String>>,
    pub(crate) primary_email_address_id: Option<String>,
    /// Replaces the primary address with a new verified one.
    pub(crate) new_primary_email: Option<String>,
    pub(crate) password_set: bool,
    pub(crate) public_metadata: Option<Map<String, Value>>,
    pub(crate) private_metadata: Option<Map<String, Value>>,
}

/// Metadata to deep-merge.
#[derive(Debug, Default)]
pub(crate) struct MetadataPatch {
    pub(crate) public_metadata: Option<Map<String, Value>>,
    pub(crate) private_metadata: Option<Map<String, Value>>,
    pub(crate) unsafe_metadata: Option<Map<String, Value>>,
}

/// An invitation to create.
#[derive(Debug, Default)]
pub(crate) struct NewInvitation {
    pub(crate) email_address: String,
    pub(crate) public_metadata: Map<String, Value>,
    pub(crate) ignore_existing: bool,
    pub(crate) expires_in_days: i64,
}

/// Why an invitation was refused.
pub(crate) enum InvitationRefusal {
    EmailTaken,
    AlreadyInvited,
}

pub(crate) struct Instance {
    pub(crate) users: UserStore,
    pub(crate) invitations: Vec<InvitationRecord>,
    pub(crate) webhooks: Vec<SignedWebhook>,
    pub(crate) ids: IdGenerator,
    clock: MutationClock,
    seed_counter: u64,
}

impl Instance {
    pub(crate) fn new(ids: IdGenerator) -> Self {
        Self {
            users: UserStore::default(),
            invitations: Vec::new(),
            webhooks: Vec::new(),
            ids,
            clock: MutationClock::new(),
            seed_counter: 0,
        }
    }

    /// Creates a user; returns its id.
    pub(crate) fn create_user(&mut self, new: NewUser) -> Result<Arc<str>, FakeClerkError> {
        if new.emails.iter().any(|e| !is_valid_email(e)) {
            return Err(FakeClerkError::InvalidEmail);
        }
        self.users.check_free(
            &new.emails,
            new.username.as_deref(),
            new.external_id.as_deref(),
            None,
        )?;
        let now = self.clock.tick();
        let emails: Vec<EmailRecord> = new
            .emails
            .iter()
            .map(|address| EmailRecord {
                id: self.ids.id("idn").into(),
                address: address.to_ascii_lowercase().into(),
                verified: new.verified,
                created_at: now,
                updated_at: now,
            })
            .collect();
        let id: Arc<str> = Arc::from(self.ids.id("user"));
        let user = UserRecord {
            id: id.clone(),
            primary_email: (!emails.is_empty()).then_some(0),
            emails,
            first_name: new.first_name.map(Into::into),
            last_name: new.last_name.map(Into::into),
            username: new.username.map(Into::into),
            external_id: new.external_id.map(Into::into),
            locale: new.locale.map(Into::into),
            public_metadata: Metadata::from_map(new.public_metadata),
            private_metadata: Metadata::from_map(new.private_metadata),
            unsafe_metadata: Metadata::from_map(new.unsafe_metadata),
            password_enabled: new.password_enabled,
            created_at: now,
            updated_at: now,
        };
        self.users.insert(user);
        Ok(id)
    }

    /// `n` users with generated addresses (`seed<k>@fake-clerk.test`), no names; returns
    /// their ids in creation order.
    pub(crate) fn seed_many(&mut self, n: usize) -> Vec<String> {
        self.users.reserve(n);
        let mut ids = Vec::with_capacity(n);
        while ids.len() < n {
            self.seed_counter += 1;
            let email = format!("seed{}@fake-clerk.test", self.seed_counter);
            let new = NewUser {
                emails: vec![email],
                verified: true,
                ..NewUser::default()
            };
            // A test may have taken a generated address itself: skip to the next one.
            if let Ok(id) = self.create_user(new) {
                ids.push(id.to_string());
            }
        }
        ids
    }

    /// Applies a profile change, with a new `updated_at`.
    pub(crate) fn change_user(
        &mut self,
        id: &str,
        change: ProfileChange,
    ) -> Result<(), FakeClerkError> {
        let current = self.users.get(id).ok_or(FakeClerkError::UserNotFound)?;
        if let Some(primary) = &change.primary_email_address_id
            && !current
                .emails
                .iter()
                .any(|e| &*e.id == primary.as_str() && e.verified)
        {
            return Err(FakeClerkError::InvalidValue {
                param: "primary_email_address_id",
            });
        }
        if let Some(email) = &change.new_primary_email
            && !is_valid_email(email)
        {
            return Err(FakeClerkError::InvalidEmail);
        }
        let new_emails: Vec<String> = change.new_primary_email.iter().cloned().collect();
        self.users.check_free(
            &new_emails,
            change.username.as_ref().and_then(Option::as_deref),
            change.external_id.as_ref().and_then(Option::as_deref),
            Some(id),
        )?;
        let now = self.clock.tick();
        let new_email_id: Box<str> = self.ids.id("idn").into();
        self.users.update(id, |user| {
            let set = |field: &mut Option<Box<str>>, value: Option<Option<String>>| {
                if let Some(value) = value {
                    *field = value.map(Into::into);
                }
            };
            set(&mut user.first_name, change.first_name);
            set(&mut user.last_name, change.last_name);
            set(&mut user.username, change.username);
            set(&mut user.external_id, change.external_id);
            set(&mut user.locale, change.locale);
            if let Some(primary) = change.primary_email_address_id {
                let index = user.emails.iter().position(|e| *e.id == *primary);
                user.primary_email = index.and_then(|i| u32::try_from(i).ok());
            }
            if let Some(address) = change.new_primary_email {
                if let Some(old) = user.primary_email.take() {
                    user.emails.remove(old as usize);
                }
                user.emails.push(EmailRecord {
                    id: new_email_id,
                    address: address.to_ascii_lowercase().into(),
                    verified: true,
                    created_at: now,
                    updated_at: now,
                });
                user.primary_email = u32::try_from(user.emails.len() - 1).ok();
            }
            if change.password_set {
                user.password_enabled = true;
            }
            if let Some(metadata) = change.public_metadata {
                user.public_metadata = Metadata::from_map(metadata);
            }
            if let Some(metadata) = change.private_metadata {
                user.private_metadata = Metadata::from_map(metadata);
            }
            user.updated_at = now;
        })?;
        Ok(())
    }

    /// Deep-merges metadata, with a new `updated_at`.
    pub(crate) fn merge_metadata(
        &mut self,
        id: &str,
        patch: MetadataPatch,
    ) -> Result<(), FakeClerkError> {
        if self.users.get(id).is_none() {
            return Err(FakeClerkError::UserNotFound);
        }
        let now = self.clock.tick();
        self.users.update(id, |user| {
            for (target, part) in [
                (&mut user.public_metadata, patch.public_metadata),
                (&mut user.private_metadata, patch.private_metadata),
                (&mut user.unsafe_metadata, patch.unsafe_metadata),
            ] {
                if let Some(part) = part {
                    target.merge(part);
                }
            }
            user.updated_at = now;
        })?;
        Ok(())
    }

    /// Deletes a user; `false` when there was none.
    pub(crate) fn delete_user(&mut self, id: &str) -> bool {
        self.users.remove(id).is_some()
    }

    pub(crate) fn create_invitation(
        &mut self,
        new: NewInvitation,
    ) -> Result<usize, InvitationRefusal> {
        let email = new.email_address.to_ascii_lowercase();
        if !new.ignore_existing {
            if self.users.email_owner(&email).is_some() {
                return Err(InvitationRefusal::EmailTaken);
            }
            if self
                .invitations
                .iter()
                .any(|i| i.status == "pending" && i.email_address == email)
            {
                return Err(InvitationRefusal::AlreadyInvited);
            }
        }
        let now = self.clock.tick();
        let id = self.ids.id("inv");
        let ticket = self.ids.hex(40);
        self.invitations.push(InvitationRecord {
            url: format!("https://accounts.fake-clerk.test/sign-up?__clerk_ticket={ticket}"),
            id,
            email_address: email,
            public_metadata: new.public_metadata,
            status: "pending",
            expires_at: now.saturating_add(new.expires_in_days.saturating_mul(86_400_000)),
            created_at: now,
            updated_at: now,
        });
        Ok(self.invitations.len() - 1)
    }

    /// Queues the signed event Clerk would send for this user now (`user.created`,
    /// `user.updated`).
    pub(crate) fn emit_user(
        &mut self,
        signer: &WebhookSigner,
        event_type: &str,
        id: &str,
        user_agent: Option<&str>,
    ) {
        let Some(data) = self.users.get(id).map(UserRecord::to_value) else {
            return;
        };
        let event = signer.sign(&mut self.ids, event_type, data, user_agent);
        self.webhooks.push(event);
    }

    /// Queues `user.deleted`.
    pub(crate) fn emit_deleted(
        &mut self,
        signer: &WebhookSigner,
        id: &str,
        user_agent: Option<&str>,
    ) {
        let data = json!({"deleted": true, "id": id, "object": "user"});
        let event = signer.sign(&mut self.ids, "user.deleted", data, user_agent);
        self.webhooks.push(event);
    }

    /// Queues `invitation.created`.
    pub(crate) fn emit_invitation(
        &mut self,
        signer: &WebhookSigner,
        index: usize,
        user_agent: Option<&str>,
    ) {
        let Some(data) = self.invitations.get(index).map(InvitationRecord::to_value) else {
            return;
        };
        let event = signer.sign(&mut self.ids, "invitation.created", data, user_agent);
        self.webhooks.push(event);
    }
}
