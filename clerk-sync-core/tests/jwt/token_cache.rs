//! The verified-token cache: hits, expiry at `exp`, isolation between tokens, disabling.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use clerk_sync_core::jwt::{JwtError, JwtVerifier};
use serde_json::json;

use crate::support::{JwksServer, claims_at, jwks, key_a};

/// A PEM verifier with a clock the test moves.
fn verifier_with_clock(start: i64) -> (JwtVerifier, Arc<AtomicI64>) {
    let clock = Arc::new(AtomicI64::new(start));
    let reader = clock.clone();
    let verifier = JwtVerifier::from_pem(&key_a().pem)
        .unwrap()
        .with_clock(move || reader.load(Ordering::SeqCst));
    (verifier, clock)
}

#[tokio::test]
async fn repeat_verification_is_a_cache_hit() {
    let t = 1_800_000_000;
    let (verifier, _clock) = verifier_with_clock(t);
    let token = key_a().token(None, &claims_at(t));
    let first = verifier.verify_shared(&token).await.unwrap();
    let second = verifier.verify_shared(&token).await.unwrap();
    assert!(
        Arc::ptr_eq(&first, &second),
        "second verification must come from the cache"
    );
    assert_eq!(verifier.verify(&token).await.unwrap(), *first);
}

#[tokio::test]
async fn cache_hit_needs_no_key_fetch() {
    let server = JwksServer::start(jwks(&[key_a().jwk("kid_a", "RS256")])).await;
    let verifier = JwtVerifier::from_jwks_url(&server.jwks_url()).unwrap();
    let token = key_a().token(Some("kid_a"), &claims_at(crate::support::now()));
    verifier.verify(&token).await.unwrap();
    // Even a verifier clone that never saw the key set answers from the shared caches.
    let clone = verifier.clone();
    for _ in 0..100 {
        clone.verify(&token).await.unwrap();
    }
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn entry_expires_at_exp_and_expired_token_is_never_served() {
    let t = 1_800_000_000;
    let (verifier, clock) = verifier_with_clock(t);
    let token = key_a().token(None, &claims_at(t - 50)); // exp = t + 10
    let cached = verifier.verify_shared(&token).await.unwrap();
    clock.store(t + 9, Ordering::SeqCst);
    assert!(Arc::ptr_eq(
        &cached,
        &verifier.verify_shared(&token).await.unwrap()
    ));
    // At exp the entry is dead: the token is verified again (and still passes within leeway).
    clock.store(t + 10, Ordering::SeqCst);
    let again = verifier.verify_shared(&token).await.unwrap();
    assert!(
        !Arc::ptr_eq(&cached, &again),
        "must not be served from the cache at exp"
    );
    clock.store(t + 16, Ordering::SeqCst);
    assert!(matches!(
        verifier.verify(&token).await,
        Err(JwtError::Expired)
    ));
}

#[tokio::test]
async fn each_token_gets_its_own_claims() {
    let t = 1_800_000_000;
    let (verifier, _clock) = verifier_with_clock(t);
    let mut tokens = Vec::new();
    for i in 0..20 {
        let mut c = claims_at(t);
        c["sub"] = json!(format!("user_{i}"));
        tokens.push(key_a().token(None, &c));
    }
    for _ in 0..2 {
        for (i, token) in tokens.iter().enumerate() {
            assert_eq!(
                verifier.verify(token).await.unwrap().sub,
                format!("user_{i}")
            );
        }
    }
}

#[tokio::test]
async fn cache_is_keyed_by_the_whole_token_signature_included() {
    let t = 1_800_000_000;
    let (verifier, _clock) = verifier_with_clock(t);
    let token = key_a().token(None, &claims_at(t));
    verifier.verify(&token).await.unwrap();
    // Same header and payload as a cached token, but a forged signature.
    let (input, _) = token.rsplit_once('.').unwrap();
    let forged = format!("{input}.AAAA");
    for _ in 0..2 {
        assert!(matches!(
            verifier.verify(&forged).await,
            Err(JwtError::BadSignature)
        ));
    }
}

#[tokio::test]
async fn disabled_cache_verifies_every_time() {
    let t = 1_800_000_000;
    let (verifier, _clock) = verifier_with_clock(t);
    let verifier = verifier.without_token_cache();
    let token = key_a().token(None, &claims_at(t));
    let first = verifier.verify_shared(&token).await.unwrap();
    let second = verifier.verify_shared(&token).await.unwrap();
    assert!(!Arc::ptr_eq(&first, &second));
    let zero = verifier.with_token_cache(0);
    let third = zero.verify_shared(&token).await.unwrap();
    assert!(!Arc::ptr_eq(
        &third,
        &zero.verify_shared(&token).await.unwrap()
    ));
}

#[tokio::test]
async fn tiny_cache_still_answers_correctly() {
    let t = 1_800_000_000;
    let (verifier, _clock) = verifier_with_clock(t);
    let verifier = verifier.with_token_cache(1);
    let a = key_a().token(None, &claims_at(t));
    let mut c = claims_at(t);
    c["sub"] = json!("user_other");
    let b = key_a().token(None, &c);
    for _ in 0..3 {
        assert_eq!(verifier.verify(&a).await.unwrap().sub, "user_123");
        assert_eq!(verifier.verify(&b).await.unwrap().sub, "user_other");
    }
}

#[tokio::test]
async fn changing_the_rules_starts_an_empty_cache() {
    let t = 1_800_000_000;
    let (verifier, _clock) = verifier_with_clock(t);
    let token = key_a().token(None, &claims_at(t));
    verifier.verify(&token).await.unwrap();
    let strict = verifier.with_authorized_parties(["https://elsewhere.example.com"]);
    assert!(matches!(
        strict.verify(&token).await,
        Err(JwtError::UnauthorizedParty)
    ));
}

#[tokio::test]
async fn concurrent_hits_on_one_token_agree() {
    let t = crate::support::now();
    let verifier = JwtVerifier::from_pem(&key_a().pem).unwrap();
    let token = key_a().token(None, &claims_at(t));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (verifier, token) = (verifier.clone(), token.clone());
            tokio::spawn(async move {
                for _ in 0..200 {
                    assert_eq!(verifier.verify(&token).await.unwrap().sub, "user_123");
                }
            })
        })
        .collect();
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .unwrap()
            .unwrap();
    }
}
