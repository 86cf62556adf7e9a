//! The claims of a verified Clerk session token, with organization claims normalized from the
//! v1 and v2 token formats.

use serde_json::{Map, Value};

use super::class::check_subject;
use super::error::JwtError;

/// The claims of a verified session token.
///
/// Organization claims arrive in two formats (v1: `org_id`, `org_slug`, `org_role`,
/// `org_permissions`; v2: `v: 2` with a compact `o` object and `fea`) and are normalized into
/// [`org`](Self::org). The claims consumed by `org` are removed from [`extra`](Self::extra);
/// every other claim not lifted into a field (`jti`, `v`, `fea`, `pla`, custom claims ...) is
/// kept there as JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionClaims {
    /// The user id (`user_...`).
    pub sub: String,
    /// The session id (`sess_...`).
    pub sid: Option<String>,
    /// The authorized party: the origin the token was issued for.
    pub azp: Option<String>,
    /// The issuer: the instance's Frontend API URL.
    pub iss: Option<String>,
    /// Expiry, Unix seconds. Always present: tokens without `exp` are refused.
    pub exp: i64,
    /// Issued at, Unix seconds.
    pub iat: Option<i64>,
    /// Not before, Unix seconds.
    pub nbf: Option<i64>,
    /// The session status (`sts`), present when the instance opted in.
    pub sts: Option<SessionStatus>,
    /// The actor (`act`) when the session is an impersonation.
    pub act: Option<ActorClaims>,
    /// Factor verification age (`fva`): minutes since the first and second factor were last
    /// verified, `-1` when that factor is not enabled.
    pub fva: Option<[i64; 2]>,
    /// The active organization, when there is one.
    pub org: Option<OrgClaims>,
    /// Every claim not represented above.
    pub extra: Map<String, Value>,
}

/// The active organization of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgClaims {
    /// Organization id (`org_...`).
    pub id: String,
    /// Organization slug.
    pub slug: Option<String>,
    /// The member's role, `org:`-prefixed (`org:admin`), as Clerk's SDKs expose it.
    pub role: Option<String>,
    /// The member's permissions (`org:<feature>:<permission>` for v2 tokens).
    pub permissions: Vec<String>,
}

/// The `sts` claim.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionStatus {
    /// A fully signed-in session.
    Active,
    /// The user still has tasks to complete (for example choosing an organization).
    Pending,
    /// A status this library does not know yet, kept verbatim.
    Other(String),
}

impl SessionStatus {
    fn from_claim(value: String) -> Self {
        match value.as_str() {
            "active" => SessionStatus::Active,
            "pending" => SessionStatus::Pending,
            _ => SessionStatus::Other(value),
        }
    }

    /// The claim value as Clerk writes it.
    pub fn as_str(&self) -> &str {
        match self {
            SessionStatus::Active => "active",
            SessionStatus::Pending => "pending",
            SessionStatus::Other(value) => value,
        }
    }
}

/// The `act` claim of an impersonated session.
#[derive(Debug, Clone, PartialEq)]
pub struct ActorClaims {
    /// The impersonator's user id.
    pub sub: String,
    /// The other actor fields, as JSON.
    pub extra: Map<String, Value>,
}

impl SessionClaims {
    /// Builds the claims from a payload whose signature has already been verified. Checks the
    /// shape of each claim; time and party checks belong to the verifier.
    pub(crate) fn from_payload(mut payload: Map<String, Value>) -> Result<Self, JwtError> {
        let exp =
            numeric_date(payload.remove("exp"), "exp")?.ok_or(JwtError::MissingClaim("exp"))?;
        let sub = match payload.remove("sub") {
            Some(Value::String(sub)) if !sub.is_empty() => sub,
            None | Some(Value::Null) => return Err(JwtError::MissingClaim("sub")),
            Some(_) => return Err(JwtError::InvalidClaim("sub")),
        };
        check_subject(&sub).map_err(JwtError::TokenTypeMismatch)?;
        let iat = numeric_date(payload.remove("iat"), "iat")?;
        let nbf = numeric_date(payload.remove("nbf"), "nbf")?;
        let sid = string_claim(payload.remove("sid"), "sid")?;
        let azp = string_claim(payload.remove("azp"), "azp")?;
        let iss = string_claim(payload.remove("iss"), "iss")?;
        let sts = string_claim(payload.remove("sts"), "sts")?.map(SessionStatus::from_claim);
        let act = match payload.remove("act") {
            None | Some(Value::Null) => None,
            // An impersonation marker we cannot read must not be silently dropped.
            Some(Value::Object(mut actor)) => match actor.remove("sub") {
                Some(Value::String(sub)) => Some(ActorClaims { sub, extra: actor }),
                _ => return Err(JwtError::InvalidClaim("act")),
            },
            Some(_) => return Err(JwtError::InvalidClaim("act")),
        };
        let fva = match payload.remove("fva") {
            None | Some(Value::Null) => None,
            Some(Value::Array(ages)) => match ages.as_slice() {
                [first, second] => match (first.as_i64(), second.as_i64()) {
                    (Some(first), Some(second)) => Some([first, second]),
                    _ => return Err(JwtError::InvalidClaim("fva")),
                },
                _ => return Err(JwtError::InvalidClaim("fva")),
            },
            Some(_) => return Err(JwtError::InvalidClaim("fva")),
        };
        // Clerk's JS SDK switches on `v === 2`, which a JSON `2.0` or `2e0` satisfies too;
        // anything else is read as v1.
        let org = if payload.get("v").and_then(Value::as_f64) == Some(2.0) {
            org_v2(&mut payload)?
        } else {
            org_v1(&mut payload)?
        };
        Ok(SessionClaims {
            sub,
            sid,
            azp,
            iss,
            exp,
            iat,
            nbf,
            sts,
            act,
            fva,
            org,
            extra: payload,
        })
    }

    /// The signed-in user's Clerk id (`sub`).
    pub fn user_id(&self) -> &str {
        &self.sub
    }

    /// The session id (`sid`).
    pub fn session_id(&self) -> Option<&str> {
        self.sid.as_deref()
    }

    /// The active organization's id.
    pub fn org_id(&self) -> Option<&str> {
        self.org.as_ref().map(|org| org.id.as_str())
    }

    /// The user's role in the active organization, `org:`-prefixed as Clerk writes it
    /// (`org:admin`).
    pub fn org_role(&self) -> Option<&str> {
        self.org.as_ref().and_then(|org| org.role.as_deref())
    }

    /// `true` when `sts` is `pending`.
    pub fn is_pending(&self) -> bool {
        self.sts == Some(SessionStatus::Pending)
    }
}

/// A NumericDate: integer seconds; fractional values are truncated toward the past.
fn numeric_date(value: Option<Value>, name: &'static str) -> Result<Option<i64>, JwtError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite())
                    .map(|f| f.floor() as i64)
            })
            .map(Some)
            .ok_or(JwtError::InvalidClaim(name)),
        Some(_) => Err(JwtError::InvalidClaim(name)),
    }
}

fn string_claim(value: Option<Value>, name: &'static str) -> Result<Option<String>, JwtError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(JwtError::InvalidClaim(name)),
    }
}

fn org_v1(payload: &mut Map<String, Value>) -> Result<Option<OrgClaims>, JwtError> {
    let id = string_claim(payload.remove("org_id"), "org_id")?;
    let slug = string_claim(payload.remove("org_slug"), "org_slug")?;
    let role = string_claim(payload.remove("org_role"), "org_role")?;
    let permissions = match payload.remove("org_permissions") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Value::String(s) => Ok(s),
                _ => Err(JwtError::InvalidClaim("org_permissions")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(JwtError::InvalidClaim("org_permissions")),
    };
    Ok(id.map(|id| OrgClaims {
        id,
        slug,
        role,
        permissions,
    }))
}

/// v2 organization claims, derived as Clerk's own parser derives them (`@clerk/shared`,
/// `jwtPayloadParser.ts`, and `splitByScope` in `authorization.ts`):
///
/// - the role is `org:` + `o.rol` (none when `rol` is empty), the slug `o.slg`;
/// - `fea` is a comma list of `<scope>:<feature>`, each entry trimmed; the org features are,
///   in order, the entries whose scope is exactly `o`, `ou` or `uo`, and the feature is all that
///   follows the first colon. An entry without a colon makes Clerk's parser throw, so the token
///   is refused ([`JwtError::InvalidClaim`]`("fea")`);
/// - `o.per` is a comma list of permission names and `o.fpm` a comma list of decimal masks,
///   one per org feature in the same order; bit `i` (least significant first) of the `j`th
///   mask grants `org:<feature j>:<per[i]>`. A mask that is not plain ASCII digits after
///   trimming (`1invalid`, `1.5`, `+1`, `-1`) grants nothing but keeps its place. Masks are
///   read exactly, however long: bit 53 and beyond are not rounded away.
///
/// Where Clerk's parser would read a value of the wrong JSON type (a non-object `o`, a
/// non-string field), the token is refused instead.
fn org_v2(payload: &mut Map<String, Value>) -> Result<Option<OrgClaims>, JwtError> {
    let org = match payload.remove("o") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(org)) => org,
        Some(_) => return Err(JwtError::InvalidClaim("o")),
    };
    let field = |name: &str| -> Result<Option<&str>, JwtError> {
        match org.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(JwtError::InvalidClaim("o")),
        }
    };
    // Clerk reads `fea` whenever `o` is present, id or not, and an entry it cannot split
    // throws and signs the request out: refuse such a token before looking further.
    let org_features = match payload.get("fea") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(fea)) => org_features(fea).ok_or(JwtError::InvalidClaim("fea"))?,
        Some(_) => return Err(JwtError::InvalidClaim("fea")),
    };
    let Some(id) = field("id")? else {
        return Ok(None);
    };
    let slug = field("slg")?.map(str::to_owned);
    let role = field("rol")?
        .filter(|r| !r.is_empty())
        .map(|r| format!("org:{r}"));
    let permissions = org_permissions(&org_features, field("per")?, field("fpm")?);
    Ok(Some(OrgClaims {
        id: id.to_owned(),
        slug,
        role,
        permissions,
    }))
}

/// The org-scoped features of a `fea` claim, in order; `None` when an entry has no colon.
fn org_features(fea: &str) -> Option<Vec<&str>> {
    if fea.is_empty() {
        return Some(Vec::new());
    }
    let mut features = Vec::new();
    for entry in fea.split(',') {
        let (scope, feature) = js_trim(entry).split_once(':')?;
        // Only these exact scopes: `ox` or ` o` name no org scope, however close.
        if matches!(scope, "o" | "ou" | "uo") {
            features.push(feature);
        }
    }
    Some(features)
}

fn org_permissions(features: &[&str], per: Option<&str>, fpm: Option<&str>) -> Vec<String> {
    let (Some(per), Some(fpm)) = (per.filter(|s| !s.is_empty()), fpm.filter(|s| !s.is_empty()))
    else {
        return Vec::new();
    };
    let names: Vec<&str> = per.split(',').map(js_trim).collect();
    let mut granted = Vec::new();
    // Masks are matched to features by position; a malformed mask must not shift the others.
    for (feature, mask) in features.iter().zip(fpm.split(',')) {
        let Some(mask) = PermissionMask::parse(js_trim(mask), names.len()) else {
            continue;
        };
        for (bit, name) in names.iter().enumerate() {
            if mask.is_set(bit) {
                granted.push(format!("org:{feature}:{name}"));
            }
        }
    }
    granted
}

/// The low bits of a decimal permission mask, at least as many as there are permission names:
/// the bits above them name no permission, so they are dropped while reading (the value modulo
/// 2^(64 x limbs)), which keeps the work linear in the length of the text.
struct PermissionMask {
    /// Little-endian 64-bit limbs.
    limbs: Vec<u64>,
}

impl PermissionMask {
    /// `None` unless `decimal` is one or more ASCII digits, the only form Clerk's parser
    /// reads (`/^\d+$/`, which in JavaScript matches ASCII digits only).
    fn parse(decimal: &str, width: usize) -> Option<Self> {
        if decimal.is_empty() || !decimal.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut limbs = vec![0u64; width.div_ceil(64)];
        for digit in decimal.bytes() {
            let mut carry = u128::from(digit - b'0');
            for limb in &mut limbs {
                let value = u128::from(*limb) * 10 + carry;
                // Keep the low 64 bits here and carry the rest into the next limb.
                *limb = value as u64;
                carry = value >> 64;
            }
        }
        Some(PermissionMask { limbs })
    }

    fn is_set(&self, bit: usize) -> bool {
        self.limbs
            .get(bit / 64)
            .is_some_and(|limb| limb >> (bit % 64) & 1 == 1)
    }
}

/// JavaScript's `String.prototype.trim`: it strips U+FEFF, which `str::trim` keeps, and keeps
/// U+0085, which `str::trim` strips. Clerk trims every `fea`, `per` and `fpm` entry this way,
/// so the same entries must survive here.
fn js_trim(s: &str) -> &str {
    s.trim_matches(|c: char| {
        matches!(
            c,
            '\u{9}'..='\u{D}'
                | ' '
                | '\u{A0}'
                | '\u{1680}'
                | '\u{2000}'..='\u{200A}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202F}'
                | '\u{205F}'
                | '\u{3000}'
                | '\u{FEFF}'
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2(fea: &str, per: &str, fpm: &str) -> Vec<String> {
        org_permissions(&org_features(fea).unwrap(), Some(per), Some(fpm))
    }

    #[test]
    fn v2_permission_bits_are_least_significant_first() {
        // per = [read, manage]; feature "dashboard" mask 1 -> read; feature "billing" mask 3.
        assert_eq!(
            v2("o:dashboard,u:profile,ou:billing", "read,manage", "1,3"),
            [
                "org:dashboard:read",
                "org:billing:read",
                "org:billing:manage"
            ]
        );
    }

    #[test]
    fn v2_permissions_need_both_per_and_fpm() {
        let features = ["a"];
        assert!(org_permissions(&features, Some("read"), None).is_empty());
        assert!(org_permissions(&features, None, Some("1")).is_empty());
        assert!(org_permissions(&features, Some(""), Some("1")).is_empty());
        assert!(org_permissions(&[], Some("read"), Some("1")).is_empty());
    }

    #[test]
    fn v2_bad_mask_keeps_feature_alignment() {
        assert_eq!(v2("o:a,o:b", "x,y", "zz,2"), ["org:b:y"]);
    }

    #[test]
    fn masks_must_be_plain_ascii_digits() {
        for mask in [
            "1invalid", "1.5", "+1", "-1", "", "0x1", "1e0", "\u{661}", "1 1",
        ] {
            assert!(v2("o:a", "x", mask).is_empty(), "{mask:?}");
        }
        assert_eq!(v2("o:a", "x", " 1 "), ["org:a:x"]);
        assert_eq!(v2("o:a", "x", "0001"), ["org:a:x"]);
    }

    #[test]
    fn masks_are_exact_beyond_64_bits() {
        let names: Vec<String> = (0..130).map(|i| format!("p{i}")).collect();
        // 2^129 + 2^64 + 1
        let mask = "680564733841876926945195958937245974529";
        let granted = v2("o:f", &names.join(","), mask);
        assert_eq!(granted, ["org:f:p0", "org:f:p64", "org:f:p129"]);
        // Bits beyond the names grant nothing: 2^2 with two names.
        assert!(v2("o:f", "a,b", "4").is_empty());
    }

    #[test]
    fn only_exact_org_scopes_count() {
        assert_eq!(
            org_features("o:a,ox:b,xo:c, ou:d ,uo:e,u:f,O:g,o :h,:i").unwrap(),
            ["a", "d", "e"]
        );
        // The feature is everything after the first colon.
        assert_eq!(org_features("o:a:b,o:").unwrap(), ["a:b", ""]);
        assert_eq!(org_features("").unwrap(), Vec::<&str>::new());
        assert!(org_features("o:a,b").is_none());
        assert!(org_features("o:a,").is_none());
    }

    #[test]
    fn js_trim_matches_javascript() {
        assert_eq!(js_trim("\u{FEFF} 1\t"), "1");
        assert_eq!(js_trim("\u{85}1"), "\u{85}1");
        assert_eq!(js_trim("\u{3000}a\u{2028}"), "a");
    }
}
