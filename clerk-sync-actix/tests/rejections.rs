//! Every rejection path of the extractors and services, one request each through
//! `actix_web::test::init_service`.

mod support;

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::http::header::HeaderValue;
use actix_web::test::{self, TestRequest};
use actix_web::web::{self, Bytes};
use actix_web::{App, HttpResponse};
use clerk_sync_actix::{
    ClerkError, ClerkSession, ClerkState, CurrentUser, OptionalClerkSession, RequestId,
};
use clerk_sync_core::http::{ClerkHttp, WWW_AUTHENTICATE_TOKEN};
use clerk_sync_testing::{
    FakeClerk, Fault, Route, SESSION_TOKEN_CLASS, SeedUser, SessionOrg, SessionTokenOptions,
    StatusCode,
};
use serde_json::json;
use support::{ADMIN_KEY, Reply, TestApp, bearer, send_to};

async fn whoami(session: ClerkSession) -> String {
    session.user_id().to_owned()
}

async fn maybe(session: OptionalClerkSession) -> String {
    session
        .into_inner()
        .map_or_else(|| "anonymous".to_owned(), |s| s.user_id().to_owned())
}

/// actix-web's own `Option<T>`: every refusal is `None`. Pinned here so that the docs'
/// warning is known to be true (and noticed if actix-web ever changes it).
async fn actix_option(session: Option<ClerkSession>) -> String {
    session.map_or_else(|| "anonymous".to_owned(), |s| s.user_id().to_owned())
}

async fn profile(user: CurrentUser) -> String {
    user.email.clone().unwrap_or_default()
}

async fn billing(session: ClerkSession) -> Result<&'static str, ClerkError> {
    session.require_org_role("admin")?;
    Ok("billing")
}

async fn invoices(session: ClerkSession) -> Result<&'static str, ClerkError> {
    session.require_org_permission("org:invoices:read")?;
    Ok("invoices")
}

/// Both extractors in one handler: the token is verified once (the session is kept in the
/// request's extensions).
async fn both(session: ClerkSession, user: CurrentUser) -> String {
    assert_eq!(
        session.user_id(),
        user.clerk_id.as_deref().unwrap_or_default()
    );
    "both".to_owned()
}

/// The protected handlers above, with `state` as `web::Data`, wrapped in `RequestId`.
macro_rules! protected {
    ($state:expr) => {
        test::init_service(
            App::new()
                .wrap(RequestId::default())
                .app_data(web::Data::new($state))
                .route("/whoami", web::get().to(whoami))
                .route("/maybe", web::get().to(maybe))
                .route("/actix-option", web::get().to(actix_option))
                .route("/profile", web::get().to(profile))
                .route("/billing", web::get().to(billing))
                .route("/invoices", web::get().to(invoices))
                .route("/both", web::get().to(both)),
        )
        .await
    };
}

async fn call(app: &TestApp, uri: &str, authorization: Option<&str>) -> Reply {
    let mut request = TestRequest::get().uri(uri);
    if let Some(value) = authorization {
        request = request.insert_header(("authorization", value));
    }
    let service = protected!(app.state.clone());
    send_to(&service, request.to_request()).await
}

fn assert_token_401(reply: &Reply, code: &str) {
    assert_eq!(reply.error(), (401, code.to_owned()), "{reply:?}");
    assert_eq!(
        reply.header("www-authenticate"),
        Some(WWW_AUTHENTICATE_TOKEN),
        "a 401 for a session token carries the Bearer challenge"
    );
    assert!(
        reply.header("x-request-id").is_some(),
        "a rejection carries X-Request-ID"
    );
}

#[actix_web::test]
async fn a_request_without_a_token_is_401_with_the_challenge() {
    let app = TestApp::start().await;
    assert_token_401(&call(&app, "/whoami", None).await, "missing_token");
    assert_token_401(&call(&app, "/profile", None).await, "missing_token");
    // A scheme that is not Bearer carries no session token.
    assert_token_401(
        &call(&app, "/whoami", Some("Basic dXNlcjpwdw==")).await,
        "missing_token",
    );
}

#[actix_web::test]
async fn a_valid_token_from_the_header_or_the_cookie_is_accepted() {
    let app = TestApp::start().await;
    let token = app
        .fake
        .session_token(SessionTokenOptions::new("user_2header"));
    let reply = call(&app, "/whoami", Some(&bearer(&token))).await;
    assert_eq!(
        (reply.status, reply.body.as_slice()),
        (200, b"user_2header".as_slice())
    );

    let token = app
        .fake
        .session_token(SessionTokenOptions::new("user_2cookie"));
    let request = TestRequest::get()
        .uri("/whoami")
        .insert_header(("cookie", format!("theme=dark; __session={token}")))
        .to_request();
    let service = protected!(app.state.clone());
    let reply = send_to(&service, request).await;
    assert_eq!(
        (reply.status, reply.body.as_slice()),
        (200, b"user_2cookie".as_slice())
    );

    // The cookie in a second `Cookie` header (HTTP/2 splits them) is found too.
    let token = app
        .fake
        .session_token(SessionTokenOptions::new("user_2split"));
    let request = TestRequest::get()
        .uri("/whoami")
        .append_header(("cookie", "theme=dark"))
        .append_header(("cookie", format!("__session={token}")))
        .to_request();
    let reply = send_to(&service, request).await;
    assert_eq!(
        (reply.status, reply.body.as_slice()),
        (200, b"user_2split".as_slice())
    );
}

#[actix_web::test]
async fn a_malformed_token_is_401() {
    let app = TestApp::start().await;
    assert_token_401(
        &call(&app, "/whoami", Some("Bearer not-a-jwt")).await,
        "token_malformed",
    );
    assert_token_401(
        &call(&app, "/whoami", Some("Bearer a.b.c")).await,
        "token_malformed",
    );
}

#[actix_web::test]
async fn a_token_signed_by_another_instance_is_401() {
    let app = TestApp::start().await;
    let other = FakeClerk::start().await;
    let token = other.session_token(SessionTokenOptions::new("user_2other"));
    assert_token_401(
        &call(&app, "/whoami", Some(&bearer(&token))).await,
        "signature_invalid",
    );
}

#[actix_web::test]
async fn an_expired_token_is_401() {
    let app = TestApp::start().await;
    let token = app
        .fake
        .session_token(SessionTokenOptions::new("user_2old").expired());
    assert_token_401(
        &call(&app, "/whoami", Some(&bearer(&token))).await,
        "token_expired",
    );
}

#[actix_web::test]
async fn a_token_of_another_class_or_a_machine_is_401() {
    let app = TestApp::start().await;
    let oauth = app
        .fake
        .session_token(SessionTokenOptions::new("user_2x").token_class("cl_OAuthAccessToken"));
    let reply = call(&app, "/whoami", Some(&bearer(&oauth))).await;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(
        reply.header("www-authenticate"),
        Some(WWW_AUTHENTICATE_TOKEN)
    );

    // The session class itself is fine.
    let session = app
        .fake
        .session_token(SessionTokenOptions::new("user_2x").token_class(SESSION_TOKEN_CLASS));
    assert_eq!(
        call(&app, "/whoami", Some(&bearer(&session))).await.status,
        200
    );

    let machine = app
        .fake
        .session_token(SessionTokenOptions::new("mch_2robot"));
    let reply = call(&app, "/whoami", Some(&bearer(&machine))).await;
    assert_eq!(reply.status, 401, "{reply:?}");
}

#[actix_web::test]
async fn an_authorization_header_that_is_not_text_is_400() {
    let app = TestApp::start().await;
    let not_text = HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap();
    for uri in ["/maybe", "/whoami"] {
        let request = TestRequest::get()
            .uri(uri)
            .insert_header(("authorization", not_text.clone()))
            .to_request();
        let service = protected!(app.state.clone());
        let reply = send_to(&service, request).await;
        assert_eq!(reply.error(), (400, "invalid_header".to_owned()), "{uri}");
        assert!(
            !String::from_utf8_lossy(&reply.body).contains('\u{fffd}'),
            "the value is never quoted back"
        );
    }
    // The admin key check reads it the same way.
    let reply = app
        .send(
            TestRequest::get()
                .uri("/api/admin/users")
                .insert_header(("authorization", not_text)),
        )
        .await;
    assert_eq!(reply.error(), (400, "invalid_header".to_owned()));
}

#[actix_web::test]
async fn an_optional_session_is_none_without_a_token_but_a_bad_token_is_still_refused() {
    let app = TestApp::start().await;
    let reply = call(&app, "/maybe", None).await;
    assert_eq!(
        (reply.status, reply.body.as_slice()),
        (200, b"anonymous".as_slice())
    );

    let token = app
        .fake
        .session_token(SessionTokenOptions::new("user_2maybe"));
    let reply = call(&app, "/maybe", Some(&bearer(&token))).await;
    assert_eq!(
        (reply.status, reply.body.as_slice()),
        (200, b"user_2maybe".as_slice())
    );

    let expired = app
        .fake
        .session_token(SessionTokenOptions::new("user_2maybe").expired());
    assert_token_401(
        &call(&app, "/maybe", Some(&bearer(&expired))).await,
        "token_expired",
    );

    // actix-web's `Option<ClerkSession>` reads the same expired token as signed out: the
    // reason `OptionalClerkSession` exists (and the docs say so).
    let reply = call(&app, "/actix-option", Some(&bearer(&expired))).await;
    assert_eq!(
        (reply.status, reply.body.as_slice()),
        (200, b"anonymous".as_slice())
    );
}

#[actix_web::test]
async fn sessions_without_a_configured_verifier_are_503() {
    let app = TestApp::start().await;
    let fake = &app.fake;
    // The same store and engine, but no session verifier.
    let state = ClerkState::new(ClerkHttp::new(app.state.engine().clone()));
    let token = fake.session_token(SessionTokenOptions::new("user_2x"));
    let service = protected!(state);
    let request = TestRequest::get()
        .uri("/whoami")
        .insert_header(("authorization", bearer(&token)))
        .to_request();
    let reply = send_to(&service, request).await;
    assert_eq!(reply.error(), (503, "sessions_not_configured".to_owned()));
    assert!(reply.header("retry-after").is_some());
    // Without a token, an optional session is still simply absent.
    let request = TestRequest::get().uri("/maybe").to_request();
    assert_eq!(send_to(&service, request).await.status, 200);
}

#[actix_web::test]
async fn without_a_registered_state_the_extractors_answer_500_and_say_nothing_more() {
    let service = test::init_service(
        App::new()
            .wrap(RequestId::default())
            .route("/whoami", web::get().to(whoami))
            .configure(clerk_sync_actix::webhook_routes),
    )
    .await;
    for request in [
        TestRequest::get().uri("/whoami"),
        TestRequest::post().uri("/api/webhooks/clerk"),
    ] {
        let reply = send_to(&service, request.to_request()).await;
        assert_eq!(reply.error(), (500, "internal_error".to_owned()));
        assert!(reply.header("x-request-id").is_some());
    }
}

#[actix_web::test]
async fn the_org_role_and_permission_checks_are_403_without_them() {
    let app = TestApp::start().await;
    let fake = &app.fake;
    let token = |org: Option<SessionOrg>, v2: bool| {
        let mut options = SessionTokenOptions::new("user_2org");
        if let Some(org) = org {
            options = options.org(org);
        }
        if v2 {
            options = options.v2();
        }
        bearer(&fake.session_token(options))
    };

    for v2 in [false, true] {
        let no_org = token(None, v2);
        let member = token(
            Some(
                SessionOrg::new("org_1")
                    .role("org:member")
                    .permissions(["org:invoices:read"]),
            ),
            v2,
        );
        let admin = token(Some(SessionOrg::new("org_1").role("org:admin")), v2);

        let reply = call(&app, "/billing", Some(&no_org)).await;
        assert_eq!(reply.error(), (403, "forbidden".to_owned()), "v2={v2}");
        assert!(
            reply.header("www-authenticate").is_none(),
            "a 403 is no challenge"
        );
        assert_eq!(
            call(&app, "/billing", Some(&member)).await.error(),
            (403, "forbidden".to_owned())
        );
        assert_eq!(
            call(&app, "/billing", Some(&admin)).await.status,
            200,
            "v2={v2}"
        );

        assert_eq!(
            call(&app, "/invoices", Some(&no_org)).await.error(),
            (403, "forbidden".to_owned())
        );
        assert_eq!(
            call(&app, "/invoices", Some(&admin)).await.error(),
            (403, "forbidden".to_owned())
        );
        assert_eq!(
            call(&app, "/invoices", Some(&member)).await.status,
            200,
            "v2={v2}"
        );
    }
}

#[actix_web::test]
async fn the_current_user_is_fetched_from_clerk_on_a_miss() {
    let app = TestApp::start().await;
    let ada = app
        .fake
        .seed_user(SeedUser::new("ada@example.com").first_name("Ada"))
        .unwrap();
    let token = bearer(&app.fake.session_token(SessionTokenOptions::new(&ada.id)));
    let reply = call(&app, "/profile", Some(&token)).await;
    assert_eq!(
        (reply.status, reply.body.as_slice()),
        (200, b"ada@example.com".as_slice())
    );
    assert_eq!(app.fake.requests_to("GET", "/v1/users/{id}").len(), 1);
    // Now it is local: no second fetch.
    assert_eq!(call(&app, "/both", Some(&token)).await.status, 200);
    assert_eq!(app.fake.requests_to("GET", "/v1/users/{id}").len(), 1);
}

#[actix_web::test]
async fn a_user_clerk_does_not_know_is_404() {
    let app = TestApp::start().await;
    let token = bearer(
        &app.fake
            .session_token(SessionTokenOptions::new("user_2nobody")),
    );
    let reply = call(&app, "/profile", Some(&token)).await;
    assert_eq!(reply.error(), (404, "not_found".to_owned()));
    let reply = app
        .send(
            TestRequest::get()
                .uri("/api/me")
                .insert_header(("authorization", token)),
        )
        .await;
    assert_eq!(reply.error(), (404, "not_found".to_owned()));
}

#[actix_web::test]
async fn clerk_being_unavailable_is_503_with_retry_after() {
    let app = TestApp::start().await;
    let ada = app
        .fake
        .seed_user(SeedUser::new("ada@example.com"))
        .unwrap();
    app.fake.fail_always(
        Route::get("/v1/users/{id}"),
        Fault::Status(StatusCode::SERVICE_UNAVAILABLE),
    );
    let token = bearer(&app.fake.session_token(SessionTokenOptions::new(&ada.id)));
    let reply = call(&app, "/profile", Some(&token)).await;
    assert_eq!(reply.error(), (503, "clerk_unavailable".to_owned()));
    assert!(reply.header("retry-after").is_some());
}

// ----- the admin API -----

async fn admin(app: &TestApp, method: &str, uri: &str, key: Option<&str>) -> Reply {
    let method = actix_web::http::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = TestRequest::default().method(method).uri(uri);
    if let Some(key) = key {
        request = request.insert_header(("authorization", key));
    }
    app.send(request).await
}

#[actix_web::test]
async fn every_admin_route_needs_the_key() {
    let app = TestApp::start().await;
    let routes = [
        ("GET", "/api/admin/users"),
        ("POST", "/api/admin/users"),
        ("GET", "/api/admin/users/user_1"),
        ("PATCH", "/api/admin/users/user_1"),
        ("DELETE", "/api/admin/users/user_1"),
        ("POST", "/api/admin/users/user_1/resync"),
        ("POST", "/api/admin/invitations"),
        ("POST", "/api/admin/sync-users?dry_run=true"),
        ("POST", "/api/admin/retry-failed"),
        ("GET", "/api/admin/events"),
        ("GET", "/api/admin/runs"),
        ("GET", "/api/admin/counts"),
    ];
    for (method, uri) in routes {
        let reply = admin(&app, method, uri, None).await;
        assert_eq!(
            reply.error(),
            (401, "missing_admin_key".to_owned()),
            "{method} {uri}"
        );
        assert!(
            reply
                .header("www-authenticate")
                .is_some_and(|v| v.starts_with("Bearer")),
            "{method} {uri}"
        );
        let reply = admin(&app, method, uri, Some("Bearer wrong-key")).await;
        assert_eq!(
            reply.error(),
            (403, "invalid_admin_key".to_owned()),
            "{method} {uri}"
        );
        // A session token is not the admin key.
        let token = app.fake.session_token(SessionTokenOptions::new("user_2x"));
        let reply = admin(&app, method, uri, Some(&bearer(&token))).await;
        assert_eq!(reply.status, 403, "{method} {uri}");
    }
    assert!(
        !String::from_utf8_lossy(
            &admin(&app, "GET", "/api/admin/users", Some("Bearer wrong-key"))
                .await
                .body
        )
        .contains("wrong-key"),
        "the key given is never quoted back"
    );
}

#[actix_web::test]
async fn without_an_admin_key_the_admin_api_is_404() {
    let app = TestApp::start().await;
    let state = ClerkState::new(ClerkHttp::new(app.state.engine().clone()));
    let service =
        test::init_service(App::new().configure(clerk_sync_actix::configure(state))).await;
    let request = TestRequest::get()
        .uri("/api/admin/users")
        .insert_header(("authorization", bearer(ADMIN_KEY)))
        .to_request();
    let reply = send_to(&service, request).await;
    assert_eq!(reply.error(), (404, "not_found".to_owned()));
}

#[actix_web::test]
async fn bad_query_parameters_are_400() {
    let app = TestApp::start().await;
    let key = bearer(ADMIN_KEY);
    for (method, uri) in [
        ("GET", "/api/admin/users?limit=ten"),
        ("GET", "/api/admin/users?limit=0"),
        ("GET", "/api/admin/users?limit=100000"),
        ("GET", "/api/admin/users?sync_status=bogus"),
        ("GET", "/api/admin/users?cursor=abc"),
        ("GET", "/api/admin/users?include_deleted=maybe"),
        ("GET", "/api/admin/users?sync_status=%zz"),
        ("GET", "/api/admin/events?outcome=bogus"),
        ("GET", "/api/admin/events?limit=-1"),
        ("GET", "/api/admin/runs?limit=x"),
        ("POST", "/api/admin/sync-users?dry_run=maybe"),
        ("POST", "/api/admin/sync-users?force=2"),
        ("POST", "/api/admin/retry-failed?user_id=abc"),
    ] {
        let reply = admin(&app, method, uri, Some(&key)).await;
        assert_eq!(
            reply.error(),
            (400, "bad_request".to_owned()),
            "{method} {uri}"
        );
    }
    // A path segment that does not decode to text is 400 too, never quoted back.
    let reply = admin(&app, "GET", "/api/admin/users/user_%ff%fe", Some(&key)).await;
    assert_eq!(reply.error(), (400, "bad_request".to_owned()));
}

#[actix_web::test]
async fn missing_users_and_routes_are_404_and_wrong_methods_405() {
    let app = TestApp::start().await;
    let key = bearer(ADMIN_KEY);
    for (method, uri) in [
        ("GET", "/api/admin/users/user_2missing"),
        ("GET", "/api/admin/users/12345"),
        ("PATCH", "/api/admin/users/user_2missing"),
        ("DELETE", "/api/admin/users/user_2missing"),
        ("POST", "/api/admin/users/user_2missing/resync"),
    ] {
        let mut request = TestRequest::default()
            .method(actix_web::http::Method::from_bytes(method.as_bytes()).unwrap())
            .uri(uri)
            .insert_header(("authorization", key.as_str()));
        if method == "PATCH" {
            request = request
                .insert_header(("content-type", "application/json"))
                .set_payload(r#"{"first_name":"X"}"#);
        }
        let reply = app.send(request).await;
        assert_eq!(
            reply.error(),
            (404, "not_found".to_owned()),
            "{method} {uri}"
        );
    }
    let reply = app.send(TestRequest::get().uri("/nowhere")).await;
    assert_eq!(reply.error(), (404, "not_found".to_owned()));
    assert!(reply.header("x-request-id").is_some());
    // No metrics renderer configured.
    let reply = app.send(TestRequest::get().uri("/metrics")).await;
    assert_eq!(reply.error(), (404, "not_found".to_owned()));

    let reply = app
        .send(TestRequest::get().uri("/api/webhooks/clerk"))
        .await;
    assert_eq!(reply.error(), (405, "method_not_allowed".to_owned()));
    assert!(reply.header("x-request-id").is_some());
    let reply = app.send(TestRequest::put().uri("/api/admin/users")).await;
    assert_eq!(reply.error(), (405, "method_not_allowed".to_owned()));

    // HEAD is answered wherever GET is, as axum's `get` does.
    let reply = app
        .send(
            TestRequest::default()
                .method(actix_web::http::Method::HEAD)
                .uri("/health"),
        )
        .await;
    assert_eq!(reply.status, 200);
}

#[actix_web::test]
async fn admin_bodies_that_are_not_the_json_or_too_large_are_400_and_413() {
    let app = TestApp::start().await;
    let key = bearer(ADMIN_KEY);
    let send = |uri: &str, body: Vec<u8>| {
        TestRequest::post()
            .uri(uri)
            .insert_header(("authorization", key.as_str()))
            .insert_header(("content-type", "application/json"))
            .set_payload(body)
    };
    let reply = app
        .send(send("/api/admin/users", b"{not json".to_vec()))
        .await;
    assert_eq!(reply.error(), (400, "bad_request".to_owned()));
    let reply = app
        .send(send(
            "/api/admin/invitations",
            br#"{"first_name":"x"}"#.to_vec(),
        ))
        .await;
    assert_eq!(reply.error(), (400, "bad_request".to_owned()));
    let mut big = br#"{"email":"a@example.com","first_name":""#.to_vec();
    big.extend(std::iter::repeat_n(
        b'a',
        clerk_sync_core::http::ADMIN_BODY_LIMIT,
    ));
    big.extend(br#""}"#);
    let reply = app.send(send("/api/admin/users", big)).await;
    assert_eq!(reply.error(), (413, "payload_too_large".to_owned()));
}

// ----- webhooks -----

fn webhook_request(headers: &[(&str, String)]) -> TestRequest {
    let mut request = TestRequest::post()
        .uri("/api/webhooks/clerk")
        .insert_header(("content-type", "application/json"));
    for (name, value) in headers {
        request = request.insert_header((*name, value.as_str()));
    }
    request
}

/// `$request` (a `TestRequest`) with the stream `$chunks` as its body, without a
/// `Content-Length`.
macro_rules! streamed {
    ($request:expr, $chunks:expr) => {{
        let chunks: std::pin::Pin<
            Box<dyn futures_util::Stream<Item = Result<Bytes, PayloadError>>>,
        > = Box::pin($chunks);
        $request
            .to_request()
            .replace_payload(Payload::Stream { payload: chunks })
            .0
    }};
}

fn user_created(fake: &FakeClerk, id: &str) -> clerk_sync_testing::SignedWebhook {
    fake.sign_webhook(
        "user.created",
        json!({
            "id": id, "object": "user", "created_at": 1_772_366_400_000_i64,
            "updated_at": 1_772_366_400_000_i64, "primary_email_address_id": "idn_1",
            "email_addresses": [{"id": "idn_1", "email_address": "wh@example.com",
                "verification": {"status": "verified", "strategy": "email_code"}}],
        }),
    )
}

fn delivery_headers(delivery: &clerk_sync_testing::SignedWebhook) -> Vec<(&'static str, String)> {
    delivery
        .headers()
        .iter()
        .map(|(n, v)| (*n, v.clone()))
        .collect()
}

#[actix_web::test]
async fn webhooks_answer_as_the_table_says() {
    let app = TestApp::start().await;
    let delivery = user_created(&app.fake, "user_2wh");
    let headers = delivery_headers(&delivery);

    let reply = app
        .send(webhook_request(&headers).set_payload(delivery.body.clone()))
        .await;
    assert_eq!(
        (reply.status, reply.json()),
        (200, json!({"status": "applied"}))
    );
    let reply = app
        .send(webhook_request(&headers).set_payload(delivery.body.clone()))
        .await;
    assert_eq!(
        (reply.status, reply.json()),
        (200, json!({"status": "duplicate"}))
    );

    // Missing headers: 400.
    let reply = app
        .send(webhook_request(&headers[..2]).set_payload(delivery.body.clone()))
        .await;
    assert_eq!(reply.error(), (400, "missing_webhook_headers".to_owned()));
    // A body that is not the one signed: 401.
    let mut tampered = delivery.body.clone().into_bytes();
    tampered.push(b' ');
    let reply = app
        .send(webhook_request(&headers).set_payload(tampered))
        .await;
    assert_eq!(reply.error(), (401, "invalid_signature".to_owned()));
    // An old timestamp: 401.
    let verifier =
        clerk_sync_core::webhook::WebhookVerifier::new(app.fake.webhook_secret()).unwrap();
    let old = 1_600_000_000;
    let signature = verifier.sign("msg_old", old, delivery.body.as_bytes());
    let old_headers = [
        ("svix-id", "msg_old".to_owned()),
        ("svix-timestamp", old.to_string()),
        ("svix-signature", signature),
    ];
    let reply = app
        .send(webhook_request(&old_headers).set_payload(delivery.body.clone()))
        .await;
    assert_eq!(
        reply.error(),
        (401, "webhook_timestamp_out_of_tolerance".to_owned())
    );
    assert!(reply.header("x-request-id").is_some());
}

/// The services as `init_service` runs them, for requests built by hand (streamed bodies).
macro_rules! everything {
    ($state:expr) => {
        test::init_service(
            App::new()
                .wrap(RequestId::default())
                .configure(clerk_sync_actix::configure($state)),
        )
        .await
    };
}

#[actix_web::test]
async fn a_webhook_over_the_limit_is_413_with_core_json_announced_or_streamed() {
    let app = TestApp::start_with(|http| http.with_webhook_body_limit(1024)).await;
    let delivery = user_created(&app.fake, "user_2big");
    let headers = delivery_headers(&delivery);
    let big = vec![b' '; 1025];

    // Announced by Content-Length: refused before a byte is read (the body here is short,
    // so only the announcement can be what refuses it).
    let request = webhook_request(&headers)
        .set_payload(b"{}".to_vec())
        .insert_header(("content-length", "1025"));
    let reply = app.send(request).await;
    assert_eq!(reply.error(), (413, "payload_too_large".to_owned()));
    assert!(reply.header("x-request-id").is_some());

    // Streamed without a length.
    let service = everything!(app.state.clone());
    let chunks: Vec<Result<Bytes, PayloadError>> = vec![
        Ok(Bytes::copy_from_slice(&big[..600])),
        Ok(Bytes::copy_from_slice(&big[600..])),
    ];
    let request = streamed!(
        webhook_request(&headers),
        futures_util::stream::iter(chunks)
    );
    let reply = send_to(&service, request).await;
    assert_eq!(reply.error(), (413, "payload_too_large".to_owned()));

    // At the limit exactly, it is read (and refused for its signature, not its size).
    let reply = app
        .send(webhook_request(&headers).set_payload(vec![b' '; 1024]))
        .await;
    assert_eq!(reply.status, 401);

    // Over actix-web's own 256 kB default (its `Bytes` extractor's), within the state's limit:
    // read, and answered by core.
    let app = TestApp::start_with(|http| http.with_webhook_body_limit(512 * 1024)).await;
    let reply = app
        .send(webhook_request(&headers).set_payload(vec![b' '; 300 * 1024]))
        .await;
    assert_eq!(reply.error(), (401, "invalid_signature".to_owned()));
}

#[actix_web::test]
async fn an_endless_webhook_body_is_cut_at_the_limit() {
    let app = TestApp::start_with(|http| http.with_webhook_body_limit(64 * 1024)).await;
    // A client that never stops sending: the read must stop at the limit, not at the end.
    // Each chunk yields to the runtime first, so that the timeout below can fire.
    let endless = futures_util::stream::unfold((), |()| async {
        tokio::task::yield_now().await;
        Some((Ok::<_, PayloadError>(Bytes::from(vec![b'a'; 4096])), ()))
    });
    let service = everything!(app.state.clone());
    let request = streamed!(webhook_request(&[]), endless);
    let reply = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        send_to(&service, request),
    )
    .await
    .expect("answered without reading the whole (endless) body");
    assert_eq!(reply.error(), (413, "payload_too_large".to_owned()));
}

#[actix_web::test]
async fn a_body_stream_that_fails_is_400() {
    let app = TestApp::start().await;
    let chunks: Vec<Result<Bytes, PayloadError>> = vec![
        Ok(Bytes::from_static(b"{")),
        Err(PayloadError::Io(std::io::Error::other("connection reset"))),
    ];
    let service = everything!(app.state.clone());
    let request = streamed!(webhook_request(&[]), futures_util::stream::iter(chunks));
    let reply = send_to(&service, request).await;
    assert_eq!(reply.error(), (400, "unreadable_body".to_owned()));
    assert!(!String::from_utf8_lossy(&reply.body).contains("reset"));
}

#[actix_web::test]
async fn each_group_of_routes_mounts_alone() {
    let app = TestApp::start().await;
    let service = test::init_service(
        App::new()
            .app_data(web::Data::new(app.state.clone()))
            .configure(clerk_sync_actix::health_routes)
            .configure(clerk_sync_actix::dashboard_routes)
            .route("/mine", web::get().to(HttpResponse::Ok)),
    )
    .await;
    let health = send_to(&service, TestRequest::get().uri("/health").to_request()).await;
    assert_eq!(
        health.json(),
        json!({"status": "healthy", "database": "connected"})
    );
    let page = send_to(&service, TestRequest::get().uri("/admin").to_request()).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        send_to(&service, TestRequest::get().uri("/mine").to_request())
            .await
            .status,
        200,
        "the application's own routes sit beside them"
    );
    // Not mounted here: the webhook route.
    let reply = send_to(
        &service,
        TestRequest::post().uri("/api/webhooks/clerk").to_request(),
    )
    .await;
    assert_eq!(reply.status, 404);
}

#[actix_web::test]
async fn every_response_carries_x_request_id_and_keeps_the_callers() {
    let app = TestApp::start().await;
    let reply = app.send(TestRequest::get().uri("/health")).await;
    assert_eq!(reply.status, 200);
    let generated = reply.header("x-request-id").expect("generated").to_owned();
    assert_eq!(generated.len(), 36, "a UUID: {generated}");
    let other = app.send(TestRequest::get().uri("/health")).await;
    assert_ne!(other.header("x-request-id"), Some(generated.as_str()));

    let reply = app
        .send(
            TestRequest::get()
                .uri("/api/me")
                .insert_header(("x-request-id", "req-42")),
        )
        .await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.header("x-request-id"), Some("req-42"));

    // An id that would forge or flood log lines is replaced, never echoed.
    for unusable in [
        "line\tbreak".to_owned(),
        "quote\"d".to_owned(),
        "a".repeat(129),
        "spa ce".to_owned(),
    ] {
        let reply = app
            .send(
                TestRequest::get()
                    .uri("/health")
                    .insert_header(("x-request-id", unusable.as_str())),
            )
            .await;
        let id = reply.header("x-request-id").expect("an id");
        assert_eq!(
            id.len(),
            36,
            "{unusable:?} was replaced by a UUID, got {id:?}"
        );
    }
    let longest = "a".repeat(128);
    let reply = app
        .send(
            TestRequest::get()
                .uri("/health")
                .insert_header(("x-request-id", longest.as_str())),
        )
        .await;
    assert_eq!(reply.header("x-request-id"), Some(longest.as_str()));
}

#[actix_web::test]
async fn the_dashboard_is_html_and_clerk_sync_health_needs_clerk() {
    let app = TestApp::start().await;
    let reply = app.send(TestRequest::get().uri("/admin")).await;
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    app.fake.fail_always(
        Route::get("/v1/users/count"),
        Fault::Status(StatusCode::BAD_GATEWAY),
    );
    let reply = app
        .send(TestRequest::get().uri("/api/health/user-sync"))
        .await;
    assert_eq!(reply.error(), (503, "clerk_unavailable".to_owned()));
}
