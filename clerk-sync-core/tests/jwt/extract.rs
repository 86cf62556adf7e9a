//! Picking the token from request headers, as the axum and actix-web adapters do.

use clerk_sync_core::jwt::{session_cookie, token_from_authorization, token_from_parts};

const T: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln";

#[test]
fn bearer_header() {
    assert_eq!(
        token_from_parts(Some(&format!("Bearer {T}")), None),
        Some(T)
    );
    assert_eq!(
        token_from_parts(Some(&format!("bearer   {T}  ")), None),
        Some(T)
    );
}

#[test]
fn bare_authorization_header() {
    assert_eq!(token_from_parts(Some(T), None), Some(T));
    assert_eq!(token_from_authorization("not-a-jwt"), None);
}

#[test]
fn bearer_wins_over_cookie() {
    let cookie = "__session=cookie.token.value";
    assert_eq!(
        token_from_parts(Some(&format!("Bearer {T}")), Some(cookie)),
        Some(T)
    );
}

#[test]
fn session_cookie_when_no_authorization() {
    assert_eq!(
        token_from_parts(None, Some(&format!("a=1; __session={T}; b=2"))),
        Some(T)
    );
}

#[test]
fn suffixed_session_cookie() {
    assert_eq!(
        token_from_parts(None, Some(&format!("__client_uat=1; __session_Xy7_q={T}"))),
        Some(T)
    );
    assert_eq!(
        session_cookie(&format!("__session_a=first.x.y; __session_b={T}")),
        Some("first.x.y")
    );
}

#[test]
fn other_schemes_are_ignored() {
    for header in [
        "Basic dXNlcjpwYXNz",
        &format!("Digest {T}"),
        &format!("Token {T}"),
    ] {
        assert_eq!(token_from_parts(Some(header), None), None, "{header}");
        assert_eq!(
            token_from_parts(Some(header), Some(&format!("__session={T}"))),
            Some(T)
        );
    }
}

#[test]
fn nothing_to_find() {
    assert_eq!(token_from_parts(None, None), None);
    assert_eq!(token_from_parts(Some(""), Some("")), None);
    assert_eq!(token_from_parts(Some("Bearer"), Some("__session=")), None);
    assert_eq!(
        token_from_parts(None, Some("session=abc; __clerk_db_jwt=x.y.z")),
        None
    );
}
