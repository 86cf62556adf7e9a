//! From a parsed Clerk event to the change the store writes.

use crate::event::{ClerkEvent, User, WebhookEvent};
use crate::store::{ClerkUserRecord, InboundChange, Tombstone};

/// The change `event` asks for, or why a verified event cannot be applied (a permanent
/// reason: the event is recorded as failed and acknowledged).
pub(super) fn change_for(event: &WebhookEvent) -> Result<InboundChange, &'static str> {
    match &event.data {
        ClerkEvent::UserCreated(user) | ClerkEvent::UserUpdated(user) => {
            if user.id.is_empty() {
                return Err("user event without data.id");
            }
            Ok(InboundChange::Upsert(record_for(user, event.raw_data())))
        }
        ClerkEvent::UserDeleted(deleted) => {
            let Some(clerk_id) = deleted.id.as_deref().filter(|id| !id.is_empty()) else {
                return Err("user.deleted without data.id");
            };
            // The event's own timestamp, not the time of receipt: every redelivery then writes
            // the same tombstone.
            let mut tombstone = Tombstone::new(clerk_id, event.timestamp());
            tombstone.external_id.clone_from(&deleted.external_id);
            Ok(InboundChange::Tombstone(tombstone))
        }
        _ => Ok(InboundChange::LedgerOnly),
    }
}

/// Clerk's view of `user` as the store writes it.
pub(crate) fn record_for(user: &User, raw_json: &str) -> ClerkUserRecord {
    // By id, never `email_addresses[0]`: Clerk does not order the list (invariant 5).
    let primary = user.primary_email();
    let mut record = ClerkUserRecord::new(&user.id, user.updated_at, raw_json);
    record.email = primary.map(|e| e.email_address.clone());
    // Only a verified address may take over a local row (invariant 6): anyone can sign up
    // with an unverified address they do not own.
    record.link_email = primary
        .filter(|e| e.is_verified())
        .map(|e| e.email_address.clone());
    record.first_name.clone_from(&user.first_name);
    record.last_name.clone_from(&user.last_name);
    record.username.clone_from(&user.username);
    record.image_url.clone_from(&user.image_url);
    record.external_id.clone_from(&user.external_id);
    record.public_metadata = match &user.public_metadata {
        serde_json::Value::Null => None,
        metadata => Some(metadata.clone()),
    };
    record
}
