//! Sign a sample Clerk `user.created` webhook, verify it as a receiving endpoint would, and
//! print the typed event.
//!
//! ```text
//! cargo run -p clerk-sync-core --example verify_webhook
//! ```
//!
//! Set `CLERK_WEBHOOK_SECRET` (the `whsec_...` signing secret from the Clerk dashboard) to use
//! your own; the example falls back to a throwaway one.

use std::time::{SystemTime, UNIX_EPOCH};

use clerk_sync_core::event::{ClerkEvent, WebhookEvent};
use clerk_sync_core::webhook::{WebhookHeaders, WebhookVerifier};

/// Clerk's documented `user.created` payload (see `tests/fixtures/events/user_created.json`).
const SAMPLE_BODY: &str = include_str!("../tests/fixtures/events/user_created.json");

/// A throwaway secret, so the example runs on a fresh machine with nothing configured.
const DEMO_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = std::env::var("CLERK_WEBHOOK_SECRET").unwrap_or_else(|_| DEMO_SECRET.to_owned());
    let verifier = WebhookVerifier::new(&secret)?;

    // What Svix would send: an id, a Unix timestamp and a `v1,<base64>` signature header.
    let msg_id = "msg_2hxDQRQHkQWk0vA4rUI2JxU3Rw9";
    let now = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs())?;
    let timestamp = now.to_string();
    let signature = verifier.sign(msg_id, now, SAMPLE_BODY.as_bytes());
    println!("signed   svix-id={msg_id} svix-timestamp={timestamp} svix-signature={signature}");

    // The receiving side: look the headers up by name, verify, then parse.
    let headers = WebhookHeaders::from_lookup(|name| match name {
        "svix-id" => Some(msg_id),
        "svix-timestamp" => Some(timestamp.as_str()),
        "svix-signature" => Some(signature.as_str()),
        _ => None,
    })?;
    verifier.verify(&headers, SAMPLE_BODY.as_bytes())?;
    println!("verified signature for {msg_id}");

    let event = WebhookEvent::parse(SAMPLE_BODY.as_bytes())?;
    println!(
        "parsed   type={} at={} instance={}",
        event.event_type,
        event.timestamp(),
        event.instance_id.as_deref().unwrap_or("-")
    );
    if let ClerkEvent::UserCreated(user) = &event.data {
        let email = user.primary_email().map(|e| e.email_address.as_str());
        println!(
            "user     id={} email={} verified={} name={} {} version(updated_at)={}",
            user.id,
            email.unwrap_or("-"),
            user.primary_email().is_some_and(|e| e.is_verified()),
            user.first_name.as_deref().unwrap_or(""),
            user.last_name.as_deref().unwrap_or(""),
            user.updated_at
        );
    }

    // A tampered body must fail, which is the point of verifying.
    let tampered = SAMPLE_BODY.replace("example@example.org", "attacker@example.org");
    match verifier.verify(&headers, tampered.as_bytes()) {
        Err(err) => println!("tampered body rejected: {err}"),
        Ok(()) => return Err("a tampered body verified".into()),
    }
    Ok(())
}
