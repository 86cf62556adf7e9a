//! v2 organization claims against Clerk's published parser (`@clerk/shared`,
//! `jwtPayloadParser.ts` and `splitByScope` in `authorization.ts`).
//!
//! `clerk_model` below is written from that parser's rules, in the parser's own style (string
//! long division for the masks, index loops), independently of the crate's code. The property
//! test signs generated `o`/`fea` claims and requires the verifier to derive exactly what the
//! model derives, and to refuse the token wherever the parser throws.

use clerk_sync_core::jwt::{JwtError, JwtVerifier, OrgClaims};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use crate::support::{claims, key_a};

fn verifier() -> JwtVerifier {
    JwtVerifier::from_pem(&key_a().pem).unwrap()
}

fn v2_claims(o: Value, fea: Option<&str>) -> Value {
    let mut c = claims();
    c["v"] = json!(2);
    c["o"] = o;
    if let Some(fea) = fea {
        c["fea"] = json!(fea);
    }
    c
}

async fn org_of(claims: &Value) -> Result<Option<OrgClaims>, JwtError> {
    verifier()
        .verify(&key_a().token(None, claims))
        .await
        .map(|c| c.org)
}

async fn permissions(fea: &str, per: &str, fpm: &str) -> Vec<String> {
    let o = json!({"id": "org_1", "rol": "admin", "per": per, "fpm": fpm});
    org_of(&v2_claims(o, Some(fea)))
        .await
        .unwrap()
        .expect("org")
        .permissions
}

fn numbered(n: usize) -> String {
    (0..n)
        .map(|i| format!("permission_{i}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[tokio::test]
async fn malformed_masks_grant_nothing() {
    for mask in ["1invalid", "1.5", "+1", "-1", "0x1", "1e0", "", " ", "١"] {
        assert!(
            permissions("o:feature", &numbered(54), mask)
                .await
                .is_empty(),
            "{mask:?}"
        );
    }
    // A malformed mask keeps its place, so the next feature still gets its own mask.
    assert_eq!(
        permissions("o:a,o:b", "read,manage", "1invalid,2").await,
        ["org:b:manage"]
    );
}

#[tokio::test]
async fn masks_above_2_pow_53_are_exact() {
    // 2^53 + 1 and 2^53 + 3: a float would lose the low bits or invent others.
    assert_eq!(
        permissions("o:feature", &numbered(54), "9007199254740993").await,
        ["org:feature:permission_0", "org:feature:permission_53"]
    );
    assert_eq!(
        permissions("o:feature", &numbered(54), "9007199254740995").await,
        [
            "org:feature:permission_0",
            "org:feature:permission_1",
            "org:feature:permission_53"
        ]
    );
    // 2^54: the only bit set is past the 54 declared permissions.
    assert!(
        permissions("o:feature", &numbered(54), "18014398509481984")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn only_exact_org_scopes_and_whole_feature_names() {
    assert!(
        permissions("ox:a,xo:b,O:c,o :d", "read", "1,1,1,1")
            .await
            .is_empty()
    );
    assert_eq!(
        permissions("o:a:b", "read", "1").await,
        ["org:a:b:read"],
        "the feature is everything after the first colon"
    );
    assert_eq!(
        permissions("u:x, uo:a ,ou:b,o:c", "read", "1,1,1").await,
        ["org:a:read", "org:b:read", "org:c:read"]
    );
}

#[tokio::test]
async fn fea_entry_without_a_colon_refuses_the_token() {
    // Clerk's parser throws here, which signs the request out.
    for fea in ["o:a,b", "o:a,", "dashboard"] {
        let o = json!({"id": "org_1", "per": "read", "fpm": "1"});
        let error = org_of(&v2_claims(o, Some(fea))).await.unwrap_err();
        assert!(
            matches!(error, JwtError::InvalidClaim("fea")),
            "{fea}: {error:?}"
        );
    }
    // Without `o` Clerk never reads `fea`, and neither does the verifier.
    let mut c = claims();
    c["v"] = json!(2);
    c["fea"] = json!("no-colon");
    assert!(org_of(&c).await.unwrap().is_none());
}

#[tokio::test]
async fn v_written_as_a_float_is_still_v2() {
    // JSON `2.0` is the number 2 to JavaScript, so Clerk reads `o` and ignores `org_*`.
    let mut c = v2_claims(json!({"id": "org_2", "rol": "member"}), None);
    c["v"] = json!(2.0);
    c["org_id"] = json!("org_1");
    c["org_permissions"] = json!(["org:billing:manage"]);
    let org = org_of(&c).await.unwrap().expect("org");
    assert_eq!(org.id, "org_2");
    assert!(org.permissions.is_empty());
}

// ---- the model -------------------------------------------------------------------------

/// Clerk's parser threw (it then signs the request out).
#[derive(Debug, PartialEq)]
struct Throws;

/// `String.prototype.trim`: Unicode White_Space without U+0085, plus U+FEFF.
fn js_trim(s: &str) -> &str {
    s.trim_matches(|c: char| (c.is_whitespace() && c != '\u{85}') || c == '\u{FEFF}')
}

/// `splitByScope(fea).org`.
fn split_by_scope_org(fea: Option<&str>) -> Result<Vec<String>, Throws> {
    let mut org = Vec::new();
    let Some(fea) = fea.filter(|f| !f.is_empty()) else {
        return Ok(org);
    };
    for raw in fea.split(',') {
        let part = js_trim(raw);
        let colon = part.find(':').ok_or(Throws)?;
        let scope = &part[..colon];
        let value = &part[colon + 1..];
        if scope == "o" || scope == "ou" || scope == "uo" {
            org.push(value.to_owned());
        }
    }
    Ok(org)
}

/// `decimalToBinaryBits`: the bits of a decimal string, least significant first, by repeated
/// halving of the digit string, padded with zeros to `minimum`.
fn decimal_to_binary_bits(decimal: &str, minimum: usize) -> Option<Vec<u8>> {
    if decimal.is_empty() || !decimal.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut remaining: Vec<u8> = decimal
        .trim_start_matches('0')
        .bytes()
        .map(|b| b - b'0')
        .collect();
    let mut bits = Vec::new();
    while !remaining.is_empty() {
        let mut quotient = Vec::new();
        let mut remainder = 0;
        for digit in remaining {
            let value = remainder * 10 + digit;
            if !quotient.is_empty() || value / 2 != 0 {
                quotient.push(value / 2);
            }
            remainder = value % 2;
        }
        bits.push(remainder);
        remaining = quotient;
    }
    if bits.is_empty() {
        bits.push(0);
    }
    while bits.len() < minimum {
        bits.push(0);
    }
    Some(bits)
}

/// `orgPermissions` of `__experimental_JWTPayloadToAuthObjectProperties` for a v2 token.
fn clerk_model(
    fea: Option<&str>,
    per: Option<&str>,
    fpm: Option<&str>,
) -> Result<Vec<String>, Throws> {
    let features = split_by_scope_org(fea)?;
    let (permissions, map): (Vec<&str>, Vec<Vec<u8>>) = match (per, fpm) {
        (Some(per), Some(fpm)) if !per.is_empty() && !fpm.is_empty() => {
            let permissions: Vec<&str> = per.split(',').map(js_trim).collect();
            let map = fpm
                .split(',')
                .map(|m| decimal_to_binary_bits(js_trim(m), permissions.len()).unwrap_or_default())
                .collect();
            (permissions, map)
        }
        _ => (Vec::new(), Vec::new()),
    };
    let mut granted = Vec::new();
    for (feature_index, feature) in features.iter().enumerate() {
        if feature_index >= map.len() {
            continue;
        }
        let bits = &map[feature_index];
        let mut perm_index = 0;
        while perm_index < bits.len() && perm_index < permissions.len() {
            if bits[perm_index] == 1 {
                granted.push(format!("org:{feature}:{}", permissions[perm_index]));
            }
            perm_index += 1;
        }
    }
    Ok(granted)
}

#[test]
fn the_model_agrees_with_clerks_published_cases() {
    // Cases from Clerk's own test suite for the parser.
    fn model(fea: &str, per: &str, fpm: &str) -> Vec<String> {
        clerk_model(Some(fea), Some(per), Some(fpm)).unwrap()
    }
    assert_eq!(
        model(
            "o:repositories,o:projects",
            "read,create,update,delete,revoke",
            "7,21"
        ),
        [
            "org:repositories:read",
            "org:repositories:create",
            "org:repositories:update",
            "org:projects:read",
            "org:projects:update",
            "org:projects:revoke"
        ]
    );
    assert_eq!(
        model(
            "o:repositories,o:impersonation,o:billing",
            "manage,read,update",
            "6,0,3"
        ),
        [
            "org:repositories:read",
            "org:repositories:update",
            "org:billing:manage",
            "org:billing:read"
        ]
    );
    assert_eq!(
        model("o:feature", &numbered(54), "9007199254740995"),
        [
            "org:feature:permission_0",
            "org:feature:permission_1",
            "org:feature:permission_53"
        ]
    );
    assert!(model("o:feature", "a", "1invalid").is_empty());
    assert_eq!(split_by_scope_org(Some("o:a,b")), Err(Throws));
}

// ---- generated claims ------------------------------------------------------------------

fn pad() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "", "", "", " ", "\t", "\u{FEFF}", "\u{85}", "\u{3000}",
    ])
}

fn fea_entry() -> impl Strategy<Value = String> {
    let scope = prop::sample::select(vec![
        "o", "o", "u", "ou", "uo", "ox", "xo", "O", "", " o", "o ", "oo", "uou",
    ]);
    let name = "[ab:_ ]{0,4}";
    prop_oneof![
        8 => (pad(), scope, name, pad())
            .prop_map(|(l, scope, name, r)| format!("{l}{scope}:{name}{r}")),
        1 => "[ou ]{0,2}",
    ]
}

fn per_list() -> impl Strategy<Value = Option<String>> {
    let name = prop_oneof![
        "[a-c]{1,3}",
        "[a-c ]{0,3}",
        pad().prop_map(|p| format!("{p}x{p}"))
    ];
    prop_oneof![
        1 => Just(None),
        1 => Just(Some(String::new())),
        // Short lists, and lists past 64 names, where a 64-bit mask would run out.
        4 => prop::collection::vec(name.clone(), 1..8).prop_map(|v| Some(v.join(","))),
        4 => prop::collection::vec(name, 60..140).prop_map(|v| Some(v.join(","))),
    ]
}

fn mask() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[0-9]{1,3}",
        4 => "[1-9][0-9]{15,45}",
        3 => (pad(), "[0-9]{1,2}", pad()).prop_map(|(l, d, r)| format!("{l}{d}{r}")),
        4 => prop::sample::select(vec![
            "1invalid", "1.5", "+1", "-1", "", " ", "0x1", "1e3", "00", "٣", "1 1", "Infinity",
        ])
        .prop_map(str::to_owned),
    ]
}

fn fpm_list() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        1 => Just(None),
        1 => Just(Some(String::new())),
        8 => prop::collection::vec(mask(), 1..7).prop_map(|v| Some(v.join(","))),
    ]
}

fn fea_list() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        1 => Just(None),
        1 => Just(Some(String::new())),
        8 => prop::collection::vec(fea_entry(), 1..7).prop_map(|v| Some(v.join(","))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn verifier_derives_what_clerks_parser_derives(
        fea in fea_list(),
        per in per_list(),
        fpm in fpm_list(),
        rol in "[a-z_]{0,6}",
        slg in proptest::option::of("[a-z-]{1,8}"),
    ) {
        let mut o = Map::new();
        o.insert("id".into(), json!("org_1"));
        o.insert("rol".into(), json!(rol));
        if let Some(slg) = &slg { o.insert("slg".into(), json!(slg)); }
        if let Some(per) = &per { o.insert("per".into(), json!(per)); }
        if let Some(fpm) = &fpm { o.insert("fpm".into(), json!(fpm)); }
        let claims = v2_claims(Value::Object(o), fea.as_deref());
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let derived = runtime.block_on(org_of(&claims));
        match clerk_model(fea.as_deref(), per.as_deref(), fpm.as_deref()) {
            Err(Throws) => prop_assert!(
                matches!(derived, Err(JwtError::InvalidClaim("fea"))),
                "Clerk's parser throws, so the token must be refused: {:?}", derived
            ),
            Ok(expected) => {
                let org = derived.expect("verifies").expect("org");
                prop_assert_eq!(org.permissions, expected);
                let role = (!rol.is_empty()).then(|| format!("org:{rol}"));
                prop_assert_eq!(org.role, role);
                prop_assert_eq!(org.slug, slg);
                prop_assert_eq!(org.id, "org_1");
            }
        }
    }
}
