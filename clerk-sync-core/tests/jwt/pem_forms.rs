//! `CLERK_JWT_KEY` in the forms users paste, and what is refused.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clerk_sync_core::jwt::{JwtError, JwtVerifier};

use crate::support::{armour, claims, key_a, key_b};

/// Builds a verifier from `text`, then checks it is key A's: A's token verifies, B's does not.
async fn assert_loads_key_a(form: &str, text: &str) {
    let verifier = JwtVerifier::from_pem(text).unwrap_or_else(|e| panic!("{form}: {e:?}"));
    verifier
        .verify(&key_a().token(None, &claims()))
        .await
        .unwrap_or_else(|e| panic!("{form}: {e:?}"));
    assert!(
        matches!(
            verifier.verify(&key_b().token(None, &claims())).await,
            Err(JwtError::BadSignature)
        ),
        "{form}"
    );
}

fn lines() -> Vec<String> {
    key_a().pem.lines().map(str::to_owned).collect()
}

#[tokio::test]
async fn multi_line_pem_with_lf_or_crlf() {
    assert_loads_key_a("LF", &key_a().pem).await;
    assert_loads_key_a("CRLF", &lines().join("\r\n")).await;
    assert_loads_key_a("no final newline", key_a().pem.trim_end()).await;
}

#[tokio::test]
async fn pem_with_escaped_line_breaks() {
    assert_loads_key_a("escaped \\n", &lines().join("\\n")).await;
    assert_loads_key_a("escaped \\r\\n", &lines().join("\\r\\n")).await;
}

#[tokio::test]
async fn single_line_pem_separated_by_spaces() {
    let body = key_a().spki_base64();
    assert_loads_key_a(
        "header body footer",
        &format!("-----BEGIN PUBLIC KEY----- {body} -----END PUBLIC KEY-----"),
    )
    .await;
    // Every line break became a space, as when a multi-line value is pasted into one line.
    assert_loads_key_a("lines joined by spaces", &lines().join(" ")).await;
    assert_loads_key_a(
        "no separators",
        &format!("-----BEGIN PUBLIC KEY-----{body}-----END PUBLIC KEY-----"),
    )
    .await;
}

#[tokio::test]
async fn bare_base64_body_without_armour() {
    let body = key_a().spki_base64();
    assert_loads_key_a("one line", &body).await;
    assert_loads_key_a("with a newline", &format!("{body}\n")).await;
    let lines = lines();
    let wrapped = lines[1..lines.len() - 1].join("\n");
    assert_loads_key_a("64-character lines", &wrapped).await;
    assert_loads_key_a("quoted", &format!("\"{body}\"")).await;
}

#[tokio::test]
async fn pkcs1_rsa_public_key() {
    assert_loads_key_a("PKCS#1", &key_a().pkcs1_pem()).await;
    let one_line = key_a().pkcs1_pem().trim_end().replace('\n', " ");
    assert_loads_key_a("PKCS#1 on one line", &one_line).await;
}

/// The message of a refused key: always `InvalidConfiguration`, never an echo of the input.
fn refusal(text: &str) -> String {
    let error = JwtVerifier::from_pem(text).expect_err("must be refused");
    assert!(
        matches!(error, JwtError::InvalidConfiguration(_)),
        "{error:?}"
    );
    assert_eq!(error.code(), "configuration_invalid");
    assert!(!error.is_token_error());
    let message = format!("{error} {error:?}");
    let compact: String = text.split_whitespace().collect();
    for chunk in compact.as_bytes().chunks(12).filter(|c| c.len() == 12) {
        let chunk = std::str::from_utf8(chunk).unwrap_or_default();
        if !chunk.is_empty() && !chunk.contains("-----") {
            assert!(!message.contains(chunk), "{message} echoes the input");
        }
    }
    message
}

#[test]
fn private_keys_are_refused_and_named_as_such() {
    let der = key_a().private_pkcs8_der();
    for (form, text) in [
        ("PKCS#8 PEM", armour("PRIVATE KEY", &der)),
        ("PKCS#1 label", armour("RSA PRIVATE KEY", &der)),
        ("encrypted label", armour("ENCRYPTED PRIVATE KEY", &der)),
        ("bare PKCS#8 body", STANDARD.encode(&der)),
        (
            "private key under a public label",
            armour("PUBLIC KEY", &der),
        ),
    ] {
        let message = refusal(&text);
        assert!(message.contains("private key"), "{form}: {message}");
    }
}

#[test]
fn text_that_is_no_public_key_is_refused() {
    let pem = &key_a().pem;
    let body = key_a().spki_base64();
    let cases = [
        String::new(),
        "   \n".into(),
        "hello".into(),
        "not base64 at all!".into(),
        STANDARD.encode("just some bytes, not DER"),
        body[..body.len() / 2].to_owned(),
        pem.replace("PUBLIC KEY", "CERTIFICATE"),
        pem.replace("-----END PUBLIC KEY-----", ""),
        pem.replace("-----BEGIN PUBLIC KEY-----", ""),
        pem.replace("-----END PUBLIC KEY-----", "-----END RSA PUBLIC KEY-----"),
        "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n".into(),
        "-----BEGIN PUBLIC KEY".into(),
    ];
    for text in &cases {
        refusal(text);
    }
}
