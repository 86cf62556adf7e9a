//! Every rule of issues 3 and 14 that does not need a key server: algorithms, header, claims,
//! leeway, parties, issuer, session status, organization claims.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clerk_sync_core::jwt::{JwtError, JwtVerifier, SessionStatus};
use serde_json::{Value, json};

use crate::support::{claims, claims_at, key_a, key_b, signing_input};

fn pem_verifier() -> JwtVerifier {
    JwtVerifier::from_pem(&key_a().pem).unwrap()
}

/// A PEM verifier whose clock is fixed at `at`.
fn verifier_at(at: i64) -> JwtVerifier {
    pem_verifier().with_clock(move || at)
}

async fn refused(verifier: &JwtVerifier, token: &str) -> JwtError {
    verifier
        .verify(token)
        .await
        .expect_err("token must be refused")
}

#[tokio::test]
async fn valid_token_verifies_without_kid() {
    let token = key_a().token(None, &claims());
    let claims = pem_verifier().verify(&token).await.unwrap();
    assert_eq!(claims.sub, "user_123");
    assert_eq!(claims.sid.as_deref(), Some("sess_123"));
    assert_eq!(claims.azp.as_deref(), Some("https://app.example.com"));
    assert_eq!(claims.iss.as_deref(), Some("https://clerk.example.com"));
    assert!(claims.org.is_none());
}

#[tokio::test]
async fn pem_with_escaped_newlines_is_accepted() {
    let one_line = key_a().pem.trim_end().replace('\n', "\\n");
    let verifier = JwtVerifier::from_pem(&one_line).unwrap();
    verifier
        .verify(&key_a().token(None, &claims()))
        .await
        .unwrap();
}

#[test]
fn private_key_or_garbage_pem_is_refused() {
    for pem in [
        "",
        "hello",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    ] {
        let error = JwtVerifier::from_pem(pem).unwrap_err();
        assert!(
            matches!(error, JwtError::InvalidConfiguration(_)),
            "{error:?}"
        );
    }
}

#[tokio::test]
async fn signature_by_another_key_is_refused() {
    let token = key_b().token(None, &claims());
    assert!(matches!(
        refused(&pem_verifier(), &token).await,
        JwtError::BadSignature
    ));
}

#[tokio::test]
async fn tampered_payload_is_refused() {
    let token = key_a().token(None, &claims());
    let (input, sig) = token.rsplit_once('.').unwrap();
    let (header, _) = input.split_once('.').unwrap();
    let mut forged = claims();
    forged["sub"] = json!("user_admin");
    let forged_payload = URL_SAFE_NO_PAD.encode(forged.to_string());
    let forged = format!("{header}.{forged_payload}.{sig}");
    assert!(matches!(
        refused(&pem_verifier(), &forged).await,
        JwtError::BadSignature
    ));
}

#[tokio::test]
async fn alg_none_is_refused() {
    let token = format!(
        "{}.",
        signing_input(&json!({"alg": "none", "typ": "JWT"}), &claims())
    );
    assert!(matches!(
        refused(&pem_verifier(), &token).await,
        JwtError::DisallowedAlgorithm
    ));
}

#[tokio::test]
async fn hs256_token_maced_with_the_public_key_pem_is_refused() {
    // The classic key-confusion attack: the attacker knows the public key and MACs with it.
    let input = signing_input(&json!({"alg": "HS256", "typ": "JWT"}), &claims());
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key_a().pem.as_bytes());
    let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()));
    assert!(matches!(
        refused(&pem_verifier(), &token).await,
        JwtError::DisallowedAlgorithm
    ));
}

#[tokio::test]
async fn hs384_hs512_es256_ps256_headers_are_refused() {
    for alg in [
        "HS384", "HS512", "ES256", "ES384", "PS256", "EdDSA", "rs256",
    ] {
        let input = signing_input(&json!({"alg": alg}), &claims());
        let token = format!("{input}.c2ln");
        let error = refused(&pem_verifier(), &token).await;
        assert!(
            matches!(error, JwtError::DisallowedAlgorithm),
            "{alg}: {error:?}"
        );
    }
}

#[tokio::test]
async fn header_alg_must_match_the_pinned_key_alg() {
    // Validly signed with RS512 by the right key, but the PEM key is pinned to RS256.
    let token = key_a().sign(&json!({"alg": "RS512", "typ": "JWT"}), &claims());
    assert!(matches!(
        refused(&pem_verifier(), &token).await,
        JwtError::AlgorithmMismatch
    ));
}

#[tokio::test]
async fn typ_other_than_jwt_is_refused() {
    for typ in ["at+jwt", "jwt", "JWS"] {
        let token = key_a().sign(&json!({"alg": "RS256", "typ": typ}), &claims());
        let error = refused(&pem_verifier(), &token).await;
        assert!(matches!(error, JwtError::InvalidType), "{typ}: {error:?}");
    }
}

#[tokio::test]
async fn absent_typ_is_accepted() {
    let token = key_a().sign(&json!({"alg": "RS256"}), &claims());
    pem_verifier().verify(&token).await.unwrap();
}

#[tokio::test]
async fn critical_header_extensions_are_refused() {
    let token = key_a().sign(
        &json!({"alg": "RS256", "crit": ["b64"], "b64": false}),
        &claims(),
    );
    assert!(matches!(
        refused(&pem_verifier(), &token).await,
        JwtError::Malformed(_)
    ));
}

#[tokio::test]
async fn malformed_tokens_are_refused() {
    let good = key_a().token(None, &claims());
    let (input, _) = good.rsplit_once('.').unwrap();
    let not_json = format!(
        "{}.{}.c2ln",
        URL_SAFE_NO_PAD.encode("{\"alg\":\"RS256\"}"),
        URL_SAFE_NO_PAD.encode("nope")
    );
    let cases = [
        String::new(),
        "abc".into(),
        "a.b".into(),
        format!("{good}.extra"),
        "!!!.e30.c2ln".into(),
        format!("{input}.***"),
        not_json,
    ];
    for token in &cases {
        let error = refused(&pem_verifier(), token).await;
        assert!(
            matches!(error, JwtError::Malformed(_) | JwtError::BadSignature),
            "{token:?}: {error:?}"
        );
    }
    // A validly signed payload that is JSON but not an object.
    let token = key_a().sign(&json!({"alg": "RS256"}), &json!(["sub"]));
    assert!(matches!(
        refused(&pem_verifier(), &token).await,
        JwtError::Malformed(_)
    ));
}

#[tokio::test]
async fn missing_exp_is_refused() {
    let mut c = claims();
    c.as_object_mut().unwrap().remove("exp");
    let token = key_a().token(None, &c);
    assert!(matches!(
        refused(&pem_verifier(), &token).await,
        JwtError::MissingClaim("exp")
    ));
}

#[tokio::test]
async fn non_numeric_exp_is_refused() {
    let mut c = claims();
    c["exp"] = json!("tomorrow");
    let token = key_a().token(None, &c);
    assert!(matches!(
        refused(&pem_verifier(), &token).await,
        JwtError::InvalidClaim("exp")
    ));
}

#[tokio::test]
async fn missing_sub_is_refused() {
    let mut c = claims();
    c.as_object_mut().unwrap().remove("sub");
    let token = key_a().token(None, &c);
    assert!(matches!(
        refused(&pem_verifier(), &token).await,
        JwtError::MissingClaim("sub")
    ));
}

#[tokio::test]
async fn non_string_sub_is_refused() {
    for sub in [
        json!(42),
        json!(["user_1"]),
        json!({"id": "user_1"}),
        json!(""),
    ] {
        let mut c = claims();
        c["sub"] = sub.clone();
        let token = key_a().token(None, &c);
        let error = refused(&pem_verifier(), &token).await;
        assert!(
            matches!(error, JwtError::InvalidClaim("sub")),
            "{sub}: {error:?}"
        );
    }
}

#[tokio::test]
async fn exp_leeway_edges_with_default_five_seconds() {
    let t = 1_800_000_000;
    let token = key_a().token(None, &claims_at(t - 60)); // exp = t
    verifier_at(t + 4)
        .verify(&token)
        .await
        .expect("4 s past exp is within the leeway");
    assert!(matches!(
        refused(&verifier_at(t + 6), &token).await,
        JwtError::Expired
    ));
}

#[tokio::test]
async fn leeway_is_configurable() {
    let t = 1_800_000_000;
    let token = key_a().token(None, &claims_at(t - 60));
    let strict = verifier_at(t + 1).with_leeway(Duration::ZERO);
    assert!(matches!(refused(&strict, &token).await, JwtError::Expired));
    let lax = verifier_at(t + 30).with_leeway(Duration::from_secs(60));
    lax.verify(&token).await.unwrap();
}

#[tokio::test]
async fn nbf_leeway_edges() {
    let t = 1_800_000_000;
    let mut c = claims_at(t);
    c["iat"] = json!(t);
    c["nbf"] = json!(t + 4);
    verifier_at(t)
        .verify(&key_a().token(None, &c))
        .await
        .expect("nbf 4 s ahead is tolerated");
    c["nbf"] = json!(t + 6);
    let error = refused(&verifier_at(t), &key_a().token(None, &c)).await;
    assert!(matches!(error, JwtError::NotYetValid), "{error:?}");
}

#[tokio::test]
async fn iat_in_the_future_is_refused() {
    let t = 1_800_000_000;
    let mut c = claims_at(t);
    c["nbf"] = json!(t);
    c["iat"] = json!(t + 4);
    verifier_at(t)
        .verify(&key_a().token(None, &c))
        .await
        .expect("iat 4 s ahead is tolerated");
    c["iat"] = json!(t + 6);
    let error = refused(&verifier_at(t), &key_a().token(None, &c)).await;
    assert!(matches!(error, JwtError::IssuedInFuture), "{error:?}");
}

#[tokio::test]
async fn listed_authorized_party_is_accepted() {
    let verifier = pem_verifier()
        .with_authorized_parties(["https://other.example.com", "https://app.example.com"]);
    verifier
        .verify(&key_a().token(None, &claims()))
        .await
        .unwrap();
}

#[tokio::test]
async fn unlisted_authorized_party_is_refused() {
    let verifier = pem_verifier().with_authorized_parties(["https://other.example.com"]);
    let error = refused(&verifier, &key_a().token(None, &claims())).await;
    assert!(matches!(error, JwtError::UnauthorizedParty), "{error:?}");
}

#[tokio::test]
async fn missing_azp_is_refused_when_parties_are_configured() {
    let mut c = claims();
    c.as_object_mut().unwrap().remove("azp");
    let token = key_a().token(None, &c);
    pem_verifier()
        .verify(&token)
        .await
        .expect("no parties configured: azp optional");
    let verifier = pem_verifier().with_authorized_parties(["https://app.example.com"]);
    assert!(matches!(
        refused(&verifier, &token).await,
        JwtError::MissingClaim("azp")
    ));
}

#[tokio::test]
async fn empty_azp_is_refused_when_parties_are_configured() {
    let mut c = claims();
    c["azp"] = json!("");
    let token = key_a().token(None, &c);
    pem_verifier()
        .verify(&token)
        .await
        .expect("no parties configured: azp optional");
    // Even a party list that happens to hold "" (say, from splitting an empty variable).
    for parties in [
        vec!["https://app.example.com"],
        vec!["", "https://app.example.com"],
    ] {
        let verifier = pem_verifier().with_authorized_parties(parties.clone());
        let error = refused(&verifier, &token).await;
        assert!(
            matches!(error, JwtError::MissingClaim("azp")),
            "{parties:?}: {error:?}"
        );
    }
}

#[tokio::test]
async fn issuer_is_checked_when_configured() {
    let token = key_a().token(None, &claims());
    pem_verifier()
        .with_issuer("https://clerk.example.com")
        .verify(&token)
        .await
        .unwrap();
    let wrong = pem_verifier().with_issuer("https://clerk.evil.com");
    assert!(matches!(
        refused(&wrong, &token).await,
        JwtError::InvalidIssuer
    ));
    let mut c = claims();
    c.as_object_mut().unwrap().remove("iss");
    let no_iss = key_a().token(None, &c);
    let verifier = pem_verifier().with_issuer("https://clerk.example.com");
    assert!(matches!(
        refused(&verifier, &no_iss).await,
        JwtError::InvalidIssuer
    ));
}

#[tokio::test]
async fn pending_session_is_exposed_and_can_be_refused() {
    let mut c = claims();
    c["sts"] = json!("pending");
    let token = key_a().token(None, &c);
    let claims = pem_verifier().verify(&token).await.unwrap();
    assert_eq!(claims.sts, Some(SessionStatus::Pending));
    assert!(claims.is_pending());
    let strict = pem_verifier().reject_pending_sessions();
    assert!(matches!(
        refused(&strict, &token).await,
        JwtError::PendingSession
    ));

    c["sts"] = json!("active");
    let active = key_a().token(None, &c);
    let claims = strict.verify(&active).await.unwrap();
    assert_eq!(claims.sts, Some(SessionStatus::Active));
}

#[tokio::test]
async fn v1_organization_claims() {
    let mut c = claims();
    let extra = json!({
        "org_id": "org_1", "org_slug": "acme", "org_role": "org:admin",
        "org_permissions": ["org:sys_memberships:manage", "org:sys_profile:read"],
        "jti": "abc", "custom": {"plan": "pro"},
    });
    c.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let claims = pem_verifier()
        .verify(&key_a().token(None, &c))
        .await
        .unwrap();
    let org = claims.org.expect("org");
    assert_eq!(org.id, "org_1");
    assert_eq!(org.slug.as_deref(), Some("acme"));
    assert_eq!(org.role.as_deref(), Some("org:admin"));
    assert_eq!(
        org.permissions,
        ["org:sys_memberships:manage", "org:sys_profile:read"]
    );
    // Normalized claims leave the extra map; the rest stay.
    assert!(!claims.extra.contains_key("org_id"));
    assert_eq!(claims.extra["jti"], "abc");
    assert_eq!(claims.extra["custom"]["plan"], "pro");
}

fn v2_claims(o: Value, fea: &str) -> Value {
    let mut c = claims();
    c["v"] = json!(2);
    c["o"] = o;
    c["fea"] = json!(fea);
    c["pla"] = json!("o:pro");
    c
}

#[tokio::test]
async fn v2_organization_claims_are_normalized_like_clerk_js() {
    // Features in `fea` with an `o` scope, in order: dashboard, billing (profile is user-only).
    // `per` = [manage, read]; fpm "2,3": dashboard -> bit1 (read); billing -> bits 0,1.
    let c = v2_claims(
        json!({"id": "org_2", "slg": "acme", "rol": "admin", "per": "manage,read", "fpm": "2,3"}),
        "o:dashboard,u:profile,ou:billing",
    );
    let claims = pem_verifier()
        .verify(&key_a().token(None, &c))
        .await
        .unwrap();
    let org = claims.org.expect("org");
    assert_eq!(org.id, "org_2");
    assert_eq!(org.slug.as_deref(), Some("acme"));
    assert_eq!(org.role.as_deref(), Some("org:admin"));
    assert_eq!(
        org.permissions,
        [
            "org:dashboard:read",
            "org:billing:manage",
            "org:billing:read"
        ]
    );
    assert!(!claims.extra.contains_key("o"));
    assert_eq!(claims.extra["fea"], "o:dashboard,u:profile,ou:billing");
    assert_eq!(claims.extra["v"], 2);
}

#[tokio::test]
async fn v2_without_active_org_has_no_org() {
    let mut c = claims();
    c["v"] = json!(2);
    c["fea"] = json!("u:profile");
    let claims = pem_verifier()
        .verify(&key_a().token(None, &c))
        .await
        .unwrap();
    assert!(claims.org.is_none());
}

#[tokio::test]
async fn v2_org_without_per_or_fpm_has_no_permissions() {
    let c = v2_claims(json!({"id": "org_3", "rol": "member"}), "o:dashboard");
    let claims = pem_verifier()
        .verify(&key_a().token(None, &c))
        .await
        .unwrap();
    let org = claims.org.unwrap();
    assert_eq!(org.role.as_deref(), Some("org:member"));
    assert!(org.permissions.is_empty());
    assert!(org.slug.is_none());
}

#[tokio::test]
async fn act_and_fva_are_exposed() {
    let mut c = claims();
    c["act"] = json!({"sub": "user_support", "iss": "https://dashboard.clerk.com"});
    c["fva"] = json!([3, -1]);
    let claims = pem_verifier()
        .verify(&key_a().token(None, &c))
        .await
        .unwrap();
    let act = claims.act.unwrap();
    assert_eq!(act.sub, "user_support");
    assert_eq!(act.extra["iss"], "https://dashboard.clerk.com");
    assert_eq!(claims.fva, Some([3, -1]));
}

#[tokio::test]
async fn unreadable_act_is_refused() {
    let mut c = claims();
    c["act"] = json!("user_support");
    let error = refused(&pem_verifier(), &key_a().token(None, &c)).await;
    assert!(matches!(error, JwtError::InvalidClaim("act")), "{error:?}");
}

#[tokio::test]
async fn error_messages_never_contain_the_token() {
    let mut c = claims();
    c["sub"] = json!(12345);
    let token = key_a().token(None, &c);
    let error = refused(&pem_verifier(), &token).await;
    let text = format!("{error} {error:?}");
    assert!(!text.contains(&token[..20]));
    assert!(!text.contains("12345"));
    assert_eq!(error.www_authenticate(), r#"Bearer error="invalid_token""#);
    assert!(error.is_token_error());
}
