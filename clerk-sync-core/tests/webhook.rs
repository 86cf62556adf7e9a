//! Webhook verification: the published Svix vectors and every rule of the scheme.

use std::cell::RefCell;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use clerk_sync_core::webhook::{WebhookError, WebhookHeaders, WebhookVerifier};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const MSG_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const TS: i64 = 1614265330;
const TS_STR: &str = "1614265330";
const BODY: &[u8] = br#"{"test": 2432232314}"#;
const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

fn headers<'a>(id: &'a str, timestamp: &'a str, signature: &'a str) -> WebhookHeaders<'a> {
    WebhookHeaders {
        id,
        timestamp,
        signature,
    }
}

fn verifier() -> WebhookVerifier {
    WebhookVerifier::new(SECRET).unwrap()
}

/// Signs and verifies one published vector, through both `sign` and `verify_at`.
fn check_vector(secret: &str, id: &str, ts: i64, body: &[u8], expected: &str) {
    let v = WebhookVerifier::new(secret).unwrap();
    assert_eq!(v.sign(id, ts, body), expected);
    let ts_str = ts.to_string();
    v.verify_at(&headers(id, &ts_str, expected), body, ts)
        .unwrap();
}

/// An independent HMAC over the concatenated message, the way the Svix libraries compute it,
/// to check the streaming implementation against.
fn reference_signature(key: &[u8], id: &str, ts: &str, body: &[u8]) -> String {
    let mut message = format!("{id}.{ts}.").into_bytes();
    message.extend_from_slice(body);
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
    mac.update(&message);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

// ---------------------------------------------------------------------------------------------
// Published vectors (verbatim from issue 2 / the Svix test suites).

#[test]
fn vector_svix_readme() {
    check_vector(SECRET, MSG_ID, TS, BODY, SIGNATURE);
}

#[test]
fn vector_svix_readme_without_prefix() {
    check_vector(
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        MSG_ID,
        TS,
        BODY,
        SIGNATURE,
    );
}

#[test]
fn vector_svix_rust_library() {
    check_vector(
        "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
        1649367553,
        br#"{"email":"test@example.com","username":"test_user"}"#,
        "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
    );
}

#[test]
fn vector_short_18_byte_key() {
    check_vector(
        "whsec_plJ3nmyCDGBKInavdOK15jsl",
        "msg_loFOjxBNrRLzqYUf",
        1731705121,
        br#"{"event_type":"ping","data":{"success":true}}"#,
        "v1,rAvfW3dJ/X/qxhsaXPOyyCGmRKsaKWcsNccKXlIktD0=",
    );
}

#[test]
fn vector_262143_a() {
    let body = vec![b'a'; 262143];
    check_vector(
        SECRET,
        MSG_ID,
        TS,
        &body,
        "v1,NTItnqyWMoFhk2Bbe5V/BMdcFRWgcSQaTgqLHX7FC7c=",
    );
}

#[test]
fn vector_262144_a() {
    let body = vec![b'a'; 262144];
    check_vector(
        SECRET,
        MSG_ID,
        TS,
        &body,
        "v1,Mw4Pe2WgApuT7NSqnSq0PQPV9gbLdggCl9B865x5Xh0=",
    );
}

#[test]
fn vector_1048576_a() {
    let body = vec![b'a'; 1048576];
    check_vector(
        SECRET,
        MSG_ID,
        TS,
        &body,
        "v1,txpEUxqWZJ5nteTnymUVa+7C4NHpBeXJ6CsBAW0c3/A=",
    );
}

// ---------------------------------------------------------------------------------------------
// Secrets

#[test]
fn secret_padded_and_unpadded_base64_are_the_same_key() {
    // 16 bytes: the padded encoding ends in "==", so padding actually matters here.
    let key: Vec<u8> = (0u8..16).collect();
    let padded = STANDARD.encode(&key);
    let unpadded = STANDARD_NO_PAD.encode(&key);
    assert!(padded.ends_with("=="));
    assert_ne!(padded, unpadded);

    let expected = reference_signature(&key, MSG_ID, TS_STR, BODY);
    for secret in [
        padded.clone(),
        unpadded.clone(),
        format!("whsec_{padded}"),
        format!("whsec_{unpadded}"),
    ] {
        let v = WebhookVerifier::new(&secret).unwrap();
        assert_eq!(v.sign(MSG_ID, TS, BODY), expected, "secret {secret}");
    }
}

#[test]
fn secret_empty_is_rejected() {
    for secret in ["", "whsec_"] {
        assert_eq!(
            WebhookVerifier::new(secret).unwrap_err(),
            WebhookError::EmptySecret { index: 0 },
            "secret {secret:?}"
        );
    }
}

#[test]
fn secret_not_base64_is_rejected() {
    for secret in [
        "whsec_not base64!",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", // 31 chars: impossible length
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw=", // padding where none belongs
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n",
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa_w", // URL-safe alphabet
    ] {
        assert_eq!(
            WebhookVerifier::new(secret).unwrap_err(),
            WebhookError::InvalidSecret { index: 0 },
            "secret {secret:?}"
        );
    }
}

#[test]
fn secret_errors_never_contain_the_secret() {
    let secrets = ["whsec_sup3rS3cret$$", "whsec_sup3rS3cre!X", "sup3rS3cret!"];
    for secret in secrets {
        let err = WebhookVerifier::new(secret).unwrap_err();
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(!text.contains("sup3r"), "{text}");
            assert!(!text.contains('$') && !text.contains('!'), "{text}");
        }
    }
}

#[test]
fn rotation_accepts_a_signature_by_any_secret() {
    let old = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let new = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    let other = "whsec_plJ3nmyCDGBKInavdOK15jsl";
    let both = WebhookVerifier::from_secrets([new, old]).unwrap();

    for secret in [old, new] {
        let sig = WebhookVerifier::new(secret).unwrap().sign(MSG_ID, TS, BODY);
        both.verify_at(&headers(MSG_ID, TS_STR, &sig), BODY, TS)
            .unwrap();
    }
    let foreign = WebhookVerifier::new(other).unwrap().sign(MSG_ID, TS, BODY);
    assert_eq!(
        both.verify_at(&headers(MSG_ID, TS_STR, &foreign), BODY, TS),
        Err(WebhookError::NoMatchingSignature)
    );
    // `sign` uses the first secret.
    assert_eq!(
        both.sign(MSG_ID, TS, BODY),
        WebhookVerifier::new(new).unwrap().sign(MSG_ID, TS, BODY)
    );
}

#[test]
fn rotation_beyond_the_inline_tag_buffer() {
    // More secrets than the verifier keeps on the stack: the last one must still count.
    let secrets: Vec<String> = (1u8..=9).map(|n| STANDARD.encode([n; 24])).collect();
    let v = WebhookVerifier::from_secrets(secrets.iter().map(String::as_str)).unwrap();
    for secret in &secrets {
        let sig = WebhookVerifier::new(secret).unwrap().sign(MSG_ID, TS, BODY);
        v.verify_at(&headers(MSG_ID, TS_STR, &sig), BODY, TS)
            .unwrap();
    }
    assert_eq!(
        v.verify_at(&headers(MSG_ID, TS_STR, SIGNATURE), BODY, TS),
        Err(WebhookError::NoMatchingSignature)
    );
}

#[test]
fn from_secrets_reports_empty_list_and_which_secret_is_bad() {
    assert_eq!(
        WebhookVerifier::from_secrets([]).unwrap_err(),
        WebhookError::NoSecrets
    );
    assert_eq!(
        WebhookVerifier::from_secrets([SECRET, "whsec_"]).unwrap_err(),
        WebhookError::EmptySecret { index: 1 }
    );
    assert_eq!(
        WebhookVerifier::from_secrets([SECRET, SECRET, "whsec_%%"]).unwrap_err(),
        WebhookError::InvalidSecret { index: 2 }
    );
}

#[test]
fn debug_prints_no_key_material() {
    let v = WebhookVerifier::from_secrets([SECRET, "whsec_plJ3nmyCDGBKInavdOK15jsl"]).unwrap();
    let text = format!("{v:?}");
    assert_eq!(text, "WebhookVerifier { secrets: 2, tolerance: 300s }");
    let text = format!("{:#?}", v.with_tolerance(Duration::from_secs(60)));
    assert!(text.contains("60s"), "{text}");
    assert!(!text.contains("MfKQ") && !text.contains("plJ3"), "{text}");
}

#[test]
fn verifier_is_clone_send_sync() {
    fn assert_traits<T: Clone + Send + Sync + 'static>() {}
    assert_traits::<WebhookVerifier>();
    let v = verifier();
    let cloned = v.clone();
    std::thread::spawn(move || {
        cloned
            .verify_at(&headers(MSG_ID, TS_STR, SIGNATURE), BODY, TS)
            .unwrap();
    })
    .join()
    .unwrap();
    v.verify_at(&headers(MSG_ID, TS_STR, SIGNATURE), BODY, TS)
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Headers

fn lookup_in<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<&'a str> {
    move |name| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

#[test]
fn headers_svix_names() {
    let pairs = [
        ("svix-id", MSG_ID),
        ("svix-timestamp", TS_STR),
        ("svix-signature", SIGNATURE),
    ];
    let h = WebhookHeaders::from_lookup(lookup_in(&pairs)).unwrap();
    assert_eq!(h, headers(MSG_ID, TS_STR, SIGNATURE));
    verifier().verify_at(&h, BODY, TS).unwrap();
}

#[test]
fn headers_standard_webhooks_names() {
    let pairs = [
        ("webhook-id", MSG_ID),
        ("webhook-timestamp", TS_STR),
        ("webhook-signature", SIGNATURE),
    ];
    let h = WebhookHeaders::from_lookup(lookup_in(&pairs)).unwrap();
    assert_eq!(h, headers(MSG_ID, TS_STR, SIGNATURE));
}

#[test]
fn headers_fall_back_per_header() {
    let pairs = [
        ("svix-id", MSG_ID),
        ("webhook-timestamp", TS_STR),
        ("svix-signature", SIGNATURE),
        ("webhook-id", "msg_other"),
    ];
    let h = WebhookHeaders::from_lookup(lookup_in(&pairs)).unwrap();
    // svix-id wins over webhook-id; the timestamp comes from its fallback.
    assert_eq!(h, headers(MSG_ID, TS_STR, SIGNATURE));

    let pairs = [
        ("webhook-id", MSG_ID),
        ("svix-timestamp", TS_STR),
        ("webhook-signature", "v1,ignored"),
        ("svix-signature", SIGNATURE),
    ];
    let h = WebhookHeaders::from_lookup(lookup_in(&pairs)).unwrap();
    assert_eq!(h, headers(MSG_ID, TS_STR, SIGNATURE));
}

#[test]
fn headers_missing_one_is_named() {
    let full = [
        ("svix-id", MSG_ID),
        ("svix-timestamp", TS_STR),
        ("svix-signature", SIGNATURE),
    ];
    let expected = [
        ("svix-id", "webhook-id"),
        ("svix-timestamp", "webhook-timestamp"),
        ("svix-signature", "webhook-signature"),
    ];
    for (skip, (name, fallback)) in expected.into_iter().enumerate() {
        let pairs: Vec<_> = full
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != skip)
            .map(|(_, p)| *p)
            .collect();
        let err = WebhookHeaders::from_lookup(lookup_in(&pairs)).unwrap_err();
        assert_eq!(err, WebhookError::MissingHeader { name, fallback });
        let text = err.to_string();
        assert!(text.contains(name) && text.contains(fallback), "{text}");
    }
    assert!(matches!(
        WebhookHeaders::from_lookup(|_| None),
        Err(WebhookError::MissingHeader {
            name: "svix-id",
            ..
        })
    ));
}

#[test]
fn headers_are_looked_up_in_lowercase() {
    let asked = RefCell::new(Vec::new());
    let _ = WebhookHeaders::from_lookup(|name| {
        asked.borrow_mut().push(name.to_owned());
        None::<&str>
    });
    let _ = WebhookHeaders::from_lookup(|name| {
        asked.borrow_mut().push(name.to_owned());
        name.starts_with("webhook-").then_some("x")
    });
    let asked = asked.into_inner();
    assert!(asked.len() >= 7, "{asked:?}");
    for name in &asked {
        assert_eq!(name, &name.to_ascii_lowercase());
    }
}

// ---------------------------------------------------------------------------------------------
// Timestamp

#[test]
fn timestamp_must_be_plain_decimal() {
    let v = verifier();
    for ts in [
        "",
        "+1614265330",
        " 1614265330",
        "1614265330 ",
        "1614265330.0",
        "12.5",
        "-5",
        "-0",
        "1e9",
        "0x60380cf2",
        "1_614_265_330",
        "١٦١٤٢٦٥٣٣٠", // Arabic-Indic digits
        "-9223372036854775808",
        "9223372036854775808",  // i64::MAX + 1
        "18446744073709551616", // u64::MAX + 1
        "99999999999999999999", // 20 digits
        "12345678901234567890",
    ] {
        assert_eq!(
            v.verify_at(&headers(MSG_ID, ts, SIGNATURE), BODY, TS),
            Err(WebhookError::InvalidTimestamp),
            "timestamp {ts:?}"
        );
    }
}

#[test]
fn timestamp_extremes_parse_without_panicking() {
    // i64::MAX is a valid (if absurd) timestamp: it must sign and verify at that time.
    let v = verifier();
    let sig = v.sign(MSG_ID, i64::MAX, BODY);
    v.verify_at(
        &headers(MSG_ID, "9223372036854775807", &sig),
        BODY,
        i64::MAX,
    )
    .unwrap();
    // ...and be refused, not overflow, against any ordinary clock.
    assert!(matches!(
        v.verify_at(&headers(MSG_ID, "9223372036854775807", &sig), BODY, TS),
        Err(WebhookError::TimestampTooNew { .. })
    ));
    assert!(matches!(
        v.verify_at(
            &headers(MSG_ID, "9223372036854775807", &sig),
            BODY,
            i64::MIN
        ),
        Err(WebhookError::TimestampTooNew { .. })
    ));
    assert!(matches!(
        v.verify_at(&headers(MSG_ID, "0", &sig), BODY, i64::MAX),
        Err(WebhookError::TimestampTooOld { .. })
    ));
}

#[test]
fn timestamp_leading_zeros_are_signed_as_the_integer() {
    // The Svix libraries parse the header and sign the re-formatted integer.
    verifier()
        .verify_at(&headers(MSG_ID, "0001614265330", SIGNATURE), BODY, TS)
        .unwrap();
}

#[test]
fn tolerance_default_is_300_seconds_both_ways() {
    let v = verifier();
    let h = headers(MSG_ID, TS_STR, SIGNATURE);
    v.verify_at(&h, BODY, TS + 300).unwrap();
    v.verify_at(&h, BODY, TS - 300).unwrap();
    assert_eq!(
        v.verify_at(&h, BODY, TS + 301),
        Err(WebhookError::TimestampTooOld {
            timestamp: TS,
            now: TS + 301
        })
    );
    assert_eq!(
        v.verify_at(&h, BODY, TS - 301),
        Err(WebhookError::TimestampTooNew {
            timestamp: TS,
            now: TS - 301
        })
    );
}

#[test]
fn tolerance_is_configurable() {
    let h = headers(MSG_ID, TS_STR, SIGNATURE);
    let v = verifier().with_tolerance(Duration::from_secs(10));
    v.verify_at(&h, BODY, TS + 10).unwrap();
    v.verify_at(&h, BODY, TS - 10).unwrap();
    assert!(matches!(
        v.verify_at(&h, BODY, TS + 11),
        Err(WebhookError::TimestampTooOld { .. })
    ));
    assert!(matches!(
        v.verify_at(&h, BODY, TS - 11),
        Err(WebhookError::TimestampTooNew { .. })
    ));

    // Sub-second parts are dropped, never rounded up.
    let v = verifier().with_tolerance(Duration::from_millis(1999));
    v.verify_at(&h, BODY, TS + 1).unwrap();
    assert!(v.verify_at(&h, BODY, TS + 2).is_err());

    let v = verifier().with_tolerance(Duration::ZERO);
    v.verify_at(&h, BODY, TS).unwrap();
    assert!(v.verify_at(&h, BODY, TS + 1).is_err());

    // A tolerance beyond i64 seconds saturates instead of wrapping.
    let v = verifier().with_tolerance(Duration::MAX);
    v.verify_at(&h, BODY, i64::MAX).unwrap();
    v.verify_at(&h, BODY, i64::MIN).unwrap();
}

#[test]
fn timestamp_is_checked_before_the_signature() {
    let v = verifier();
    let h = headers(
        MSG_ID,
        TS_STR,
        "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    );
    assert!(matches!(
        v.verify_at(&h, BODY, TS + 1000),
        Err(WebhookError::TimestampTooOld { .. })
    ));
    assert_eq!(
        v.verify_at(&h, BODY, TS),
        Err(WebhookError::NoMatchingSignature)
    );
}

#[test]
fn verify_uses_the_system_clock() {
    let v = verifier();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let sig = v.sign(MSG_ID, now, BODY);
    v.verify(&headers(MSG_ID, &now.to_string(), &sig), BODY)
        .unwrap();
    // The published vector is from 2021: far outside the window today.
    assert!(matches!(
        v.verify(&headers(MSG_ID, TS_STR, SIGNATURE), BODY),
        Err(WebhookError::TimestampTooOld { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Signature header

#[test]
fn signature_valid_entry_first_middle_or_last() {
    let v = verifier();
    let other = "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=";
    for sig in [
        format!("{SIGNATURE} {other}"),
        format!("{other} {SIGNATURE} {other}"),
        format!("{other} {other} {SIGNATURE}"),
    ] {
        v.verify_at(&headers(MSG_ID, TS_STR, &sig), BODY, TS)
            .unwrap_or_else(|e| panic!("{sig}: {e}"));
    }
}

#[test]
fn signature_malformed_entries_are_skipped() {
    let v = verifier();
    for sig in [
        format!("garbage {SIGNATURE}"),
        format!("v1, v1,!!!! v1 ,, {SIGNATURE} trailing"),
        format!("v1,{} {SIGNATURE}", "A".repeat(4000)),
        format!("  {SIGNATURE}  "),
        format!("v1,g0hM9SsE {SIGNATURE}"),
    ] {
        v.verify_at(&headers(MSG_ID, TS_STR, &sig), BODY, TS)
            .unwrap_or_else(|e| panic!("{sig}: {e}"));
    }
}

#[test]
fn signature_only_v1_entries_count() {
    let v = verifier();
    let tag = &SIGNATURE[3..];
    for sig in [
        format!("v1a,{tag}"),
        format!("v2,{tag}"),
        format!("V1,{tag}"),
        format!("v0,{tag}"),
        format!(",{tag}"),
        format!("v1 ,{tag}"),
        tag.to_owned(),
    ] {
        assert_eq!(
            v.verify_at(&headers(MSG_ID, TS_STR, &sig), BODY, TS),
            Err(WebhookError::NoMatchingSignature),
            "{sig}"
        );
    }
}

#[test]
fn signature_empty_or_truncated_fails() {
    // RUSTSEC-2024-0010: a length-unchecked compare accepted `v1,` and any prefix of the tag.
    let v = verifier();
    let tag = STANDARD.decode(&SIGNATURE[3..]).unwrap();
    let mut cases = vec![
        String::new(),
        " ".to_owned(),
        "v1,".to_owned(),
        "v1, v1,".to_owned(),
        "v1,=".to_owned(),
        SIGNATURE[..SIGNATURE.len() - 1].to_owned(), // padding dropped
        SIGNATURE[..SIGNATURE.len() - 4].to_owned(), // one quad short
        SIGNATURE[..10].to_owned(),
        // Valid base64 of a prefix of the right tag.
        format!("v1,{}", STANDARD.encode(&tag[..1])),
        format!("v1,{}", STANDARD.encode(&tag[..16])),
        format!("v1,{}", STANDARD.encode(&tag[..31])),
    ];
    // The right tag followed by more bytes.
    let mut longer = tag.clone();
    longer.push(0);
    cases.push(format!("v1,{}", STANDARD.encode(&longer)));
    cases.push(format!("{SIGNATURE}AAAA"));
    for sig in cases {
        assert_eq!(
            v.verify_at(&headers(MSG_ID, TS_STR, &sig), BODY, TS),
            Err(WebhookError::NoMatchingSignature),
            "{sig:?}"
        );
    }
}

#[test]
fn signature_non_canonical_base64_fails() {
    // "...1OE=" -> "...1OF=": same 32 bytes if trailing bits were ignored, so a lenient
    // decoder would accept a string that was never sent.
    let v = verifier();
    let sig = SIGNATURE.replace("1OE=", "1OF=");
    assert_ne!(sig, SIGNATURE);
    assert_eq!(
        v.verify_at(&headers(MSG_ID, TS_STR, &sig), BODY, TS),
        Err(WebhookError::NoMatchingSignature)
    );
}

#[test]
fn signature_for_another_message_fails() {
    let v = verifier();
    for (id, body) in [
        ("msg_p5jXN8AQM9LWM0D4loKWxJeK", BODY),
        (MSG_ID, br#"{"test": 2432232315}"#.as_slice()),
        (MSG_ID, br#"{"test": 2432232314} "#.as_slice()),
        (MSG_ID, b"".as_slice()),
    ] {
        assert_eq!(
            v.verify_at(&headers(id, TS_STR, SIGNATURE), body, TS),
            Err(WebhookError::NoMatchingSignature)
        );
    }
    let sig = v.sign(MSG_ID, TS + 1, BODY);
    assert_eq!(
        v.verify_at(&headers(MSG_ID, TS_STR, &sig), BODY, TS),
        Err(WebhookError::NoMatchingSignature)
    );
}

// ---------------------------------------------------------------------------------------------
// Body

#[test]
fn body_need_not_be_utf8() {
    let v = verifier();
    let body = [0xff, 0xfe, 0x00, b'{', 0xc3, 0x28];
    let sig = v.sign(MSG_ID, TS, &body);
    let key = STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    assert_eq!(sig, reference_signature(&key, MSG_ID, TS_STR, &body));
    v.verify_at(&headers(MSG_ID, TS_STR, &sig), &body, TS)
        .unwrap();
}

#[test]
fn body_empty() {
    let v = verifier();
    let sig = v.sign(MSG_ID, TS, b"");
    v.verify_at(&headers(MSG_ID, TS_STR, &sig), b"", TS)
        .unwrap();
}

#[test]
fn errors_say_what_was_wrong() {
    let messages = [
        WebhookError::EmptySecret { index: 0 }.to_string(),
        WebhookError::InvalidSecret { index: 0 }.to_string(),
        WebhookError::NoSecrets.to_string(),
        WebhookError::MissingHeader {
            name: "svix-id",
            fallback: "webhook-id",
        }
        .to_string(),
        WebhookError::InvalidTimestamp.to_string(),
        WebhookError::TimestampTooOld {
            timestamp: 1,
            now: 2,
        }
        .to_string(),
        WebhookError::TimestampTooNew {
            timestamp: 2,
            now: 1,
        }
        .to_string(),
        WebhookError::NoMatchingSignature.to_string(),
    ];
    for (i, a) in messages.iter().enumerate() {
        assert!(!a.is_empty());
        for b in &messages[i + 1..] {
            assert_ne!(a, b);
        }
    }
}
