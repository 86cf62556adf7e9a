//! Only session tokens authenticate a session. Clerk signs JWT-template and machine tokens with
//! the same instance key and tells them apart by the header's `cat` and by a `mch_` subject.

use clerk_sync_core::jwt::{JwtError, JwtVerifier, TokenClass};
use serde_json::{Value, json};

use crate::support::{claims, key_a, key_b};

const SESSION: &str = "cl_B7d4PD111AAA";
const JWT_TEMPLATE: &str = "cl_B7d4PD222AAA";
const M2M: &str = "cl_B7d4PD333AAA";
const IGNORE: &str = "cl_I7d4PD111III";

fn verifier() -> JwtVerifier {
    JwtVerifier::from_pem(&key_a().pem).unwrap()
}

fn with_cat(cat: Value) -> Value {
    json!({"alg": "RS256", "typ": "JWT", "kid": "ins_1", "cat": cat})
}

async fn class_of_refusal(token: &str) -> TokenClass {
    match verifier().verify(token).await {
        Err(JwtError::TokenTypeMismatch(class)) => class,
        other => panic!("expected a token type mismatch, got {other:?}"),
    }
}

#[tokio::test]
async fn session_and_ignore_categories_verify() {
    for cat in [SESSION, IGNORE] {
        let token = key_a().sign(&with_cat(json!(cat)), &claims());
        let claims = verifier().verify(&token).await.unwrap();
        assert_eq!(claims.sub, "user_123", "{cat}");
    }
}

#[tokio::test]
async fn absent_category_verifies_for_tokens_minted_before_the_rollout() {
    let token = key_a().sign(&json!({"alg": "RS256", "typ": "JWT"}), &claims());
    verifier().verify(&token).await.unwrap();
}

#[tokio::test]
async fn jwt_template_token_is_refused() {
    // A template token looks like a session (it may even copy `sid`), which is the danger.
    let token = key_a().sign(&with_cat(json!(JWT_TEMPLATE)), &claims());
    assert_eq!(class_of_refusal(&token).await, TokenClass::JwtTemplate);
}

#[tokio::test]
async fn machine_to_machine_category_is_refused() {
    let token = key_a().sign(&with_cat(json!(M2M)), &claims());
    assert_eq!(class_of_refusal(&token).await, TokenClass::MachineToMachine);
}

#[tokio::test]
async fn unknown_null_or_non_string_category_is_refused() {
    for cat in [
        json!("cl_B7d4PD444AAA"),
        json!("cl_b7d4pd111aaa"),
        json!(format!(" {SESSION}")),
        json!(""),
        json!(null),
        json!(1),
        json!([SESSION]),
    ] {
        let token = key_a().sign(&with_cat(cat.clone()), &claims());
        assert_eq!(
            class_of_refusal(&token).await,
            TokenClass::UnknownCategory,
            "{cat}"
        );
    }
}

#[tokio::test]
async fn machine_subject_is_refused_whatever_the_category() {
    let mut c = claims();
    c["sub"] = json!("mch_2vYVtestTESTtestTESTtestTEST");
    for header in [
        json!({"alg": "RS256"}),
        with_cat(json!(SESSION)),
        with_cat(json!(IGNORE)),
    ] {
        let token = key_a().sign(&header, &c);
        assert_eq!(
            class_of_refusal(&token).await,
            TokenClass::MachineSubject,
            "{header}"
        );
    }
    // Only the exact prefix marks a machine.
    for sub in ["user_mch_1", "MCH_1", "mch1"] {
        c["sub"] = json!(sub);
        verifier()
            .verify(&key_a().token(None, &c))
            .await
            .unwrap_or_else(|e| panic!("{sub}: {e:?}"));
    }
}

#[tokio::test]
async fn category_is_refused_before_the_signature_is_checked() {
    // Like Clerk: the class decides first, so a template token signed by another instance is a
    // type mismatch, not a bad signature. Either way it is refused.
    let token = key_b().sign(&with_cat(json!(JWT_TEMPLATE)), &claims());
    assert_eq!(class_of_refusal(&token).await, TokenClass::JwtTemplate);
}

#[tokio::test]
async fn mismatch_is_a_401_with_its_own_code_and_no_token_data() {
    let mut c = claims();
    c["sub"] = json!("mch_secretmachineid");
    let machine = key_a().token(None, &c);
    let template = key_a().sign(&with_cat(json!(JWT_TEMPLATE)), &claims());
    let odd_category = key_a().sign(&with_cat(json!("cl_PRIVATEvalue")), &claims());
    for token in [machine, template, odd_category] {
        let error = verifier().verify(&token).await.unwrap_err();
        assert_eq!(error.code(), "token_type_mismatch");
        assert!(error.is_token_error(), "adapters answer 401");
        assert_eq!(error.www_authenticate(), r#"Bearer error="invalid_token""#);
        let text = format!("{error} {error:?}");
        for secret in ["secretmachineid", "cl_", "PRIVATEvalue", &token[..16]] {
            assert!(!text.contains(secret), "{text}");
        }
    }
}

#[tokio::test]
async fn refused_tokens_stay_refused_on_repeat() {
    // Nothing but a verified session reaches the token cache.
    let token = key_a().sign(&with_cat(json!(JWT_TEMPLATE)), &claims());
    let verifier = verifier();
    for _ in 0..3 {
        assert!(matches!(
            verifier.verify(&token).await,
            Err(JwtError::TokenTypeMismatch(TokenClass::JwtTemplate))
        ));
    }
}
