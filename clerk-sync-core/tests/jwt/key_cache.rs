//! Remote key sources against an in-process JWKS server that counts its requests.

use std::time::Duration;

use clerk_sync_core::jwt::{JwtError, JwtVerifier, KeySourceError};

use crate::support::{JwksServer, Mode, claims, jwks, key_a, key_b, key_c};

/// Short enough to keep the suite fast, long enough to be distinguishable from "no limit".
const INTERVAL: Duration = Duration::from_millis(300);

async fn server_with_a() -> JwksServer {
    JwksServer::start(jwks(&[key_a().jwk("kid_a", "RS256")])).await
}

fn verifier(server: &JwksServer) -> JwtVerifier {
    JwtVerifier::from_jwks_url(&server.jwks_url())
        .unwrap()
        .with_min_refetch_interval(INTERVAL)
}

#[tokio::test]
async fn nothing_is_fetched_before_the_first_verification() {
    let server = server_with_a().await;
    let _verifier = verifier(&server);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(server.requests(), 0);
}

#[tokio::test]
async fn a_thousand_verifications_fetch_once() {
    let server = server_with_a().await;
    // No token cache: every verification goes through the key cache and the RSA check.
    let verifier = verifier(&server).without_token_cache();
    let token = key_a().token(Some("kid_a"), &claims());
    for _ in 0..1000 {
        verifier.verify(&token).await.unwrap();
    }
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn concurrent_cold_start_is_a_single_flight() {
    let server = server_with_a().await;
    server.set_delay(Duration::from_millis(100));
    let verifier = verifier(&server).without_token_cache();
    let token = key_a().token(Some("kid_a"), &claims());
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (verifier, token) = (verifier.clone(), token.clone());
            tokio::spawn(async move { verifier.verify(&token).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn unknown_kid_causes_exactly_one_refetch() {
    let server = server_with_a().await;
    let verifier = verifier(&server);
    verifier
        .verify(&key_a().token(Some("kid_a"), &claims()))
        .await
        .unwrap();
    assert_eq!(server.requests(), 1);
    tokio::time::sleep(INTERVAL).await;
    let stranger = key_a().token(Some("kid_unknown"), &claims());
    assert!(matches!(
        verifier.verify(&stranger).await,
        Err(JwtError::UnknownKey)
    ));
    assert_eq!(server.requests(), 2, "one refetch for the unknown kid");
    assert!(matches!(
        verifier.verify(&stranger).await,
        Err(JwtError::UnknownKey)
    ));
    assert_eq!(
        server.requests(),
        2,
        "no second refetch within the interval"
    );
}

#[tokio::test]
async fn a_hundred_random_kids_fetch_at_most_once_per_interval() {
    let server = server_with_a().await;
    let verifier = verifier(&server);
    verifier
        .verify(&key_a().token(Some("kid_a"), &claims()))
        .await
        .unwrap();
    tokio::time::sleep(INTERVAL).await;
    let flood = |round: u32| {
        (0..100)
            .map(|i| {
                let verifier = verifier.clone();
                let token = key_a().token(Some(&format!("random_{round}_{i}")), &claims());
                tokio::spawn(async move { verifier.verify(&token).await })
            })
            .collect::<Vec<_>>()
    };
    for task in flood(1) {
        assert!(matches!(task.await.unwrap(), Err(JwtError::UnknownKey)));
    }
    assert_eq!(server.requests(), 2, "100 random kids: one refetch");
    // Known kids keep working during a flood, without fetching.
    verifier
        .verify(&key_a().token(Some("kid_a"), &claims()))
        .await
        .unwrap();
    tokio::time::sleep(INTERVAL).await;
    for task in flood(2) {
        assert!(matches!(task.await.unwrap(), Err(JwtError::UnknownKey)));
    }
    assert_eq!(server.requests(), 3, "next interval: one more refetch");
}

#[tokio::test]
async fn default_interval_allows_one_fetch_per_five_seconds() {
    let server = server_with_a().await;
    let verifier = JwtVerifier::from_jwks_url(&server.jwks_url()).unwrap();
    verifier
        .verify(&key_a().token(Some("kid_a"), &claims()))
        .await
        .unwrap();
    for i in 0..100 {
        let token = key_a().token(Some(&format!("random_{i}")), &claims());
        assert!(matches!(
            verifier.verify(&token).await,
            Err(JwtError::UnknownKey)
        ));
    }
    assert_eq!(
        server.requests(),
        1,
        "the first fetch was under 5 s ago: no refetch at all"
    );
}

#[tokio::test]
async fn cached_keys_keep_working_while_the_endpoint_is_down_or_garbage() {
    let server = server_with_a().await;
    let verifier = verifier(&server).without_token_cache();
    verifier
        .verify(&key_a().token(Some("kid_a"), &claims()))
        .await
        .unwrap();
    for mode in [Mode::Down, Mode::Garbage] {
        server.set_mode(mode);
        tokio::time::sleep(INTERVAL).await;
        // An unknown kid makes the verifier try the broken endpoint ...
        let stranger = key_a().token(Some("kid_x"), &claims());
        assert!(matches!(
            verifier.verify(&stranger).await,
            Err(JwtError::UnknownKey)
        ));
        // ... and the cached key still verifies fresh tokens afterwards.
        verifier
            .verify(&key_a().token(Some("kid_a"), &claims()))
            .await
            .unwrap();
    }
    assert_eq!(server.requests(), 3);
}

#[tokio::test]
async fn an_empty_key_set_does_not_replace_cached_keys() {
    let server = server_with_a().await;
    let verifier = verifier(&server).without_token_cache();
    verifier
        .verify(&key_a().token(Some("kid_a"), &claims()))
        .await
        .unwrap();
    server.set_jwks(jwks(&[]));
    tokio::time::sleep(INTERVAL).await;
    let stranger = key_a().token(Some("kid_x"), &claims());
    assert!(matches!(
        verifier.verify(&stranger).await,
        Err(JwtError::UnknownKey)
    ));
    verifier
        .verify(&key_a().token(Some("kid_a"), &claims()))
        .await
        .unwrap();
}

#[tokio::test]
async fn endpoint_down_from_the_start_is_key_source_unavailable() {
    let server = server_with_a().await;
    server.set_mode(Mode::Down);
    let verifier = verifier(&server);
    let token = key_a().token(Some("kid_a"), &claims());
    let error = verifier.verify(&token).await.unwrap_err();
    assert!(
        matches!(
            error,
            JwtError::KeySourceUnavailable(KeySourceError::Status(503))
        ),
        "{error:?}"
    );
    assert!(!error.is_token_error());
    // Within the interval the verifier does not hammer the endpoint.
    let error = verifier.verify(&token).await.unwrap_err();
    assert!(matches!(
        error,
        JwtError::KeySourceUnavailable(KeySourceError::BackingOff)
    ));
    assert_eq!(server.requests(), 1);
    // Once it is back, the next attempt after the interval succeeds.
    server.set_mode(Mode::Serve);
    tokio::time::sleep(INTERVAL).await;
    verifier.verify(&token).await.unwrap();
    assert_eq!(server.requests(), 2);
}

#[tokio::test]
async fn unreachable_endpoint_is_key_source_unavailable() {
    // Bind then drop a listener: nothing answers on that port any more.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let verifier = JwtVerifier::from_jwks_url(&format!("http://127.0.0.1:{port}/jwks")).unwrap();
    let error = verifier
        .verify(&key_a().token(Some("kid_a"), &claims()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            JwtError::KeySourceUnavailable(KeySourceError::Request(_))
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn rotation_to_a_new_kid_works_without_restart() {
    let server = server_with_a().await;
    let verifier = verifier(&server);
    verifier
        .verify(&key_a().token(Some("kid_a"), &claims()))
        .await
        .unwrap();
    server.set_jwks(jwks(&[
        key_a().jwk("kid_a", "RS256"),
        key_b().jwk("kid_b", "RS256"),
    ]));
    tokio::time::sleep(INTERVAL).await;
    let rotated = key_b().token(Some("kid_b"), &claims());
    verifier.verify(&rotated).await.unwrap();
    verifier
        .verify(&key_a().token(Some("kid_a"), &claims()))
        .await
        .unwrap();
    assert_eq!(server.requests(), 2);
}

#[tokio::test]
async fn stale_key_set_is_refreshed_in_the_background_and_drops_removed_keys() {
    let server = server_with_a().await;
    let verifier = verifier(&server)
        .with_jwks_max_age(Duration::from_millis(100))
        .without_token_cache();
    verifier
        .verify(&key_a().token(Some("kid_a"), &claims()))
        .await
        .unwrap();
    // kid_a is revoked: the set now only holds kid_b.
    server.set_jwks(jwks(&[key_b().jwk("kid_b", "RS256")]));
    tokio::time::sleep(INTERVAL).await;
    // Served from the stale set while a background refresh starts.
    verifier
        .verify(&key_a().token(Some("kid_a"), &claims()))
        .await
        .unwrap();
    let mut refreshed = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if server.requests() == 2 {
            refreshed = true;
            break;
        }
    }
    assert!(refreshed, "background refresh did not happen");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let error = verifier
        .verify(&key_a().token(Some("kid_a"), &claims()))
        .await
        .unwrap_err();
    assert!(matches!(error, JwtError::UnknownKey), "{error:?}");
    verifier
        .verify(&key_b().token(Some("kid_b"), &claims()))
        .await
        .unwrap();
}

#[tokio::test]
async fn token_signed_by_another_instance_is_refused() {
    // Two Clerk instances that happen to use the same kid, verified in one process.
    let instance_a = server_with_a().await;
    let instance_b = JwksServer::start(jwks(&[key_b().jwk("kid_a", "RS256")])).await;
    let verifier_a = verifier(&instance_a);
    let verifier_b = verifier(&instance_b);
    let token_a = key_a().token(Some("kid_a"), &claims());
    let token_b = key_b().token(Some("kid_a"), &claims());
    verifier_a.verify(&token_a).await.unwrap();
    verifier_b.verify(&token_b).await.unwrap();
    assert!(matches!(
        verifier_a.verify(&token_b).await,
        Err(JwtError::BadSignature)
    ));
    assert!(matches!(
        verifier_b.verify(&token_a).await,
        Err(JwtError::BadSignature)
    ));
    // And a key the instance never published is just unknown.
    let token_c = key_c().token(Some("kid_c"), &claims());
    tokio::time::sleep(INTERVAL).await;
    assert!(matches!(
        verifier_a.verify(&token_c).await,
        Err(JwtError::UnknownKey)
    ));
}

#[tokio::test]
async fn jwks_algorithms_are_pinned_per_key() {
    let server = JwksServer::start(jwks(&[
        key_a().jwk("k256", "RS256"),
        key_a().jwk("k384", "RS384"),
        key_a().jwk("k512", "RS512"),
    ]))
    .await;
    let verifier = verifier(&server);
    for (kid, alg) in [("k256", "RS256"), ("k384", "RS384"), ("k512", "RS512")] {
        let header = serde_json::json!({"alg": alg, "typ": "JWT", "kid": kid});
        verifier
            .verify(&key_a().sign(&header, &claims()))
            .await
            .unwrap();
    }
    // Right key bytes, wrong algorithm for that key id.
    let header = serde_json::json!({"alg": "RS512", "typ": "JWT", "kid": "k256"});
    let error = verifier
        .verify(&key_a().sign(&header, &claims()))
        .await
        .unwrap_err();
    assert!(matches!(error, JwtError::AlgorithmMismatch), "{error:?}");
}

#[tokio::test]
async fn non_rsa_and_encryption_keys_in_the_set_are_skipped() {
    let mut enc = key_b().jwk("kid_enc", "RS256");
    enc["use"] = serde_json::json!("enc");
    let ec =
        serde_json::json!({"kty": "EC", "kid": "kid_ec", "crv": "P-256", "x": "AA", "y": "AA"});
    let server = JwksServer::start(jwks(&[ec, enc, key_a().jwk("kid_a", "RS256")])).await;
    let verifier = verifier(&server);
    verifier
        .verify(&key_a().token(Some("kid_a"), &claims()))
        .await
        .unwrap();
    let error = verifier
        .verify(&key_b().token(Some("kid_enc"), &claims()))
        .await
        .unwrap_err();
    assert!(matches!(error, JwtError::UnknownKey), "{error:?}");
}

#[tokio::test]
async fn jwks_token_without_kid_is_unknown_key() {
    let server = server_with_a().await;
    let error = verifier(&server)
        .verify(&key_a().token(None, &claims()))
        .await
        .unwrap_err();
    assert!(matches!(error, JwtError::UnknownKey), "{error:?}");
}

#[tokio::test]
async fn backend_api_sends_the_secret_key_to_v1_jwks() {
    let secret = "sk_test_abc123";
    let server =
        JwksServer::start_with_bearer(jwks(&[key_a().jwk("kid_a", "RS256")]), secret).await;
    let verifier = JwtVerifier::from_backend_api(secret, server.base()).unwrap();
    verifier
        .verify(&key_a().token(Some("kid_a"), &claims()))
        .await
        .unwrap();
    assert_eq!(server.paths(), ["/v1/jwks"]);
    assert!(
        !format!("{verifier:?}").contains(secret),
        "Debug must not show the secret key"
    );
}

#[tokio::test]
async fn backend_api_with_a_wrong_secret_is_key_source_unavailable() {
    let server =
        JwksServer::start_with_bearer(jwks(&[key_a().jwk("kid_a", "RS256")]), "sk_test_right")
            .await;
    let verifier = JwtVerifier::from_backend_api("sk_test_wrong", server.base()).unwrap();
    let error = verifier
        .verify(&key_a().token(Some("kid_a"), &claims()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            JwtError::KeySourceUnavailable(KeySourceError::Status(401))
        ),
        "{error:?}"
    );
}

#[test]
fn bad_key_source_configuration_is_refused() {
    assert!(matches!(
        JwtVerifier::from_jwks_url("not a url"),
        Err(JwtError::InvalidConfiguration(_))
    ));
    assert!(matches!(
        JwtVerifier::from_jwks_url("ftp://x/jwks"),
        Err(JwtError::InvalidConfiguration(_))
    ));
    assert!(matches!(
        JwtVerifier::from_backend_api("", "https://api.clerk.com"),
        Err(JwtError::InvalidConfiguration(_))
    ));
}
