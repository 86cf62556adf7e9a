//! Properties of the verifier value itself.

use clerk_sync_core::jwt::JwtVerifier;

use crate::support::key_a;

#[test]
fn verifier_is_clone_send_sync_and_static() {
    fn assert_traits<T: Clone + Send + Sync + 'static>() {}
    assert_traits::<JwtVerifier>();
}

#[test]
fn debug_shows_no_key_material() {
    let verifier = JwtVerifier::from_pem(&key_a().pem).unwrap();
    let debug = format!("{verifier:?}");
    let body: String = key_a()
        .pem
        .lines()
        .nth(1)
        .unwrap()
        .chars()
        .take(24)
        .collect();
    assert!(!debug.contains(&body), "{debug}");
    assert!(debug.contains("leeway_secs: 5"), "{debug}");
}
