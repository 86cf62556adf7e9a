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
        // Clerk's JS SDK switches on `v === 2`; anything else is read as v1.
        let org = if payload.get("v").and_then(Value::as_u64) == Some(2) {
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

/// v2 organization claims, decoded exactly like Clerk's JS SDK
/// (`@clerk/shared` `jwtPayloadParser.ts` and `splitByScope` in `authorization.ts`):
///
/// - the role is `org:` + `o.rol`;
/// - `fea` is a comma list of `<scopes>:<feature>`; the org features are, in order, those whose
///   scope part contains `o`;
/// - `o.per` is a comma list of permission names and `o.fpm` a comma list of integers, one per
///   org feature in the same order; bit `i` (least significant first) of the `j`th integer
///   grants `org:<feature j>:<permission i>`.
///
/// Deliberate differences on inputs Clerk does not produce: bits beyond the `per` list, and
/// features without a name, grant nothing (the JS code would emit `undefined` in the string).
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
    let Some(id) = field("id")? else {
        return Ok(None);
    };
    let slug = field("slg")?.map(str::to_owned);
    let role = field("rol")?
        .filter(|r| !r.is_empty())
        .map(|r| format!("org:{r}"));
    let features = match payload.get("fea") {
        None | Some(Value::Null) => None,
        Some(Value::String(fea)) => Some(fea.as_str()),
        Some(_) => return Err(JwtError::InvalidClaim("fea")),
    };
    let permissions = v2_permissions(features, field("per")?, field("fpm")?);
    Ok(Some(OrgClaims {
        id: id.to_owned(),
        slug,
        role,
        permissions,
    }))
}

fn v2_permissions(fea: Option<&str>, per: Option<&str>, fpm: Option<&str>) -> Vec<String> {
    let (Some(per), Some(fpm)) = (per.filter(|s| !s.is_empty()), fpm.filter(|s| !s.is_empty()))
    else {
        return Vec::new();
    };
    let permissions: Vec<&str> = per.split(',').map(str::trim).collect();
    // Entries without a feature name keep their place: `fpm` is indexed by position.
    let org_features = fea
        .filter(|s| !s.is_empty())
        .into_iter()
        .flat_map(|fea| fea.split(','))
        .map(str::trim)
        .filter(|f| f.split(':').next().is_some_and(|scope| scope.contains('o')))
        .map(|f| f.split(':').nth(1));
    let mut granted = Vec::new();
    for (feature, mask) in org_features.zip(fpm.split(',')) {
        let (Some(feature), Some(mask)) = (feature, parse_leading_int(mask.trim())) else {
            continue;
        };
        for (bit, permission) in permissions.iter().enumerate().take(64) {
            if mask >> bit & 1 == 1 {
                granted.push(format!("org:{feature}:{permission}"));
            }
        }
    }
    granted
}

/// `parseInt(s, 10)` for the non-negative values Clerk writes: leading decimal digits, the rest
/// ignored; `None` where JS would give `NaN` (or the value does not fit 64 bits).
fn parse_leading_int(s: &str) -> Option<u64> {
    let s = s.strip_prefix('+').unwrap_or(s);
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    s[..digits].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_permission_bits_are_least_significant_first() {
        // per = [read, manage]; feature "dashboard" mask 1 -> read; feature "billing" mask 3.
        let granted = v2_permissions(
            Some("o:dashboard,u:profile,ou:billing"),
            Some("read,manage"),
            Some("1,3"),
        );
        assert_eq!(
            granted,
            [
                "org:dashboard:read",
                "org:billing:read",
                "org:billing:manage"
            ]
        );
    }

    #[test]
    fn v2_permissions_need_both_per_and_fpm() {
        assert!(v2_permissions(Some("o:a"), Some("read"), None).is_empty());
        assert!(v2_permissions(Some("o:a"), None, Some("1")).is_empty());
        assert!(v2_permissions(None, Some("read"), Some("1")).is_empty());
    }

    #[test]
    fn v2_bad_mask_keeps_feature_alignment() {
        let granted = v2_permissions(Some("o:a,o:b"), Some("x,y"), Some("zz,2"));
        assert_eq!(granted, ["org:b:y"]);
    }

    #[test]
    fn parse_leading_int_matches_parse_int() {
        assert_eq!(parse_leading_int("12abc"), Some(12));
        assert_eq!(parse_leading_int("abc"), None);
        assert_eq!(parse_leading_int(""), None);
        assert_eq!(parse_leading_int("+7"), Some(7));
    }
}
