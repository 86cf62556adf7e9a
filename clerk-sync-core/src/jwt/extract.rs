//! Picking the session token out of request headers, without any web framework.

/// The cookie Clerk's frontend SDKs store the session token in.
pub const SESSION_COOKIE: &str = "__session";

/// The session token from the raw `Authorization` and `Cookie` header values, in this order:
///
/// 1. `Authorization: Bearer <token>` (scheme matched case-insensitively);
/// 2. a bare `Authorization: <token>`, when the value looks like a JWT (three dot-separated
///    parts, no spaces);
/// 3. the `__session` cookie;
/// 4. the first `__session_<suffix>` cookie (Clerk suffixes the name when several apps share a
///    domain).
///
/// Other schemes (`Basic ...`, `Digest ...`) are ignored and the cookie is tried instead.
///
/// ```
/// use clerk_sync_core::jwt::token_from_parts;
///
/// assert_eq!(token_from_parts(Some("Bearer a.b.c"), None), Some("a.b.c"));
/// assert_eq!(token_from_parts(Some("a.b.c"), None), Some("a.b.c"));
/// assert_eq!(token_from_parts(Some("Basic dXNlcjpwdw=="), Some("__session=x.y.z")), Some("x.y.z"));
/// assert_eq!(token_from_parts(None, Some("theme=dark; __session_Ab12=x.y.z")), Some("x.y.z"));
/// assert_eq!(token_from_parts(None, None), None);
/// ```
pub fn token_from_parts<'a>(
    authorization: Option<&'a str>,
    cookie_header: Option<&'a str>,
) -> Option<&'a str> {
    authorization
        .and_then(token_from_authorization)
        .or_else(|| cookie_header.and_then(session_cookie))
}

/// The token in an `Authorization` header value (`Bearer <t>` or a bare JWT), if any.
pub fn token_from_authorization(value: &str) -> Option<&str> {
    let value = value.trim();
    match value.split_once(char::is_whitespace) {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => {
            Some(rest.trim()).filter(|t| !t.is_empty())
        }
        Some(_) => None,
        None => Some(value).filter(|v| looks_like_jwt(v)),
    }
}

/// The session token in a `Cookie` header value: `__session`, else the first
/// `__session_<suffix>`.
pub fn session_cookie(cookie_header: &str) -> Option<&str> {
    let mut suffixed = None;
    for pair in cookie_header.split(';') {
        let Some((name, value)) = pair.split_once('=') else {
            continue;
        };
        let (name, value) = (name.trim(), value.trim().trim_matches('"'));
        if value.is_empty() {
            continue;
        }
        if name == SESSION_COOKIE {
            return Some(value);
        }
        if suffixed.is_none()
            && name
                .strip_prefix(SESSION_COOKIE)
                .and_then(|rest| rest.strip_prefix('_'))
                .is_some_and(|suffix| !suffix.is_empty())
        {
            suffixed = Some(value);
        }
    }
    suffixed
}

fn looks_like_jwt(value: &str) -> bool {
    let mut parts = value.split('.');
    let shape = (parts.next(), parts.next(), parts.next(), parts.next());
    matches!(shape, (Some(h), Some(p), Some(_), None) if !h.is_empty() && !p.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_bearer_falls_back_to_cookie() {
        assert_eq!(
            token_from_parts(Some("Bearer "), Some("__session=c.c.c")),
            Some("c.c.c")
        );
    }

    #[test]
    fn exact_session_cookie_beats_suffixed() {
        assert_eq!(
            session_cookie("__session_x=s.s.s; __session=e.e.e"),
            Some("e.e.e")
        );
    }

    #[test]
    fn prefix_lookalikes_are_not_session_cookies() {
        assert_eq!(session_cookie("__sessionx=a.a.a; __session_=b.b.b"), None);
    }

    #[test]
    fn bare_non_jwt_is_ignored() {
        assert_eq!(token_from_authorization("Basic"), None);
        assert_eq!(token_from_authorization("a.b"), None);
    }
}
