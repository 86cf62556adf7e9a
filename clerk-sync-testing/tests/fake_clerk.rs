//! FakeClerk answers as Clerk's Backend API reference documents: the checks it makes, the
//! shapes it answers, the events it emits, the faults it plays, the tokens it signs.

use std::time::{Duration, Instant};

use clerk_sync_core::event::{ClerkEvent, WebhookEvent};
use clerk_sync_core::jwt::JwtVerifier;
use clerk_sync_core::webhook::WebhookVerifier;
use clerk_sync_testing::{
    FakeClerk, Fault, Route, SESSION_TOKEN_CLASS, SeedUser, SessionOrg, SessionTokenOptions,
    StatusCode, UserChange,
};
use reqwest::Method;
use serde_json::{Value, json};

/// A raw HTTP view of the fake, so these tests check the wire, not the client.
struct Wire {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Wire {
    fn new(fake: &FakeClerk) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: fake.base_url().to_owned(),
            key: fake.secret_key().to_owned(),
        }
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(Method::POST, path, Some(body)).await
    }

    async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(Method::PATCH, path, Some(body)).await
    }
}

/// Asserts Clerk's error shape and returns the first error's code.
fn clerk_error(body: &Value) -> &str {
    let first = &body["errors"][0];
    assert!(first["message"].is_string(), "{body}");
    assert!(first["long_message"].is_string(), "{body}");
    assert!(body["clerk_trace_id"].is_string(), "{body}");
    first["code"].as_str().unwrap()
}

fn page_ids(page: &Value) -> Vec<String> {
    page.as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_secret_key_guards_everything_but_the_public_jwks() {
    let fake = FakeClerk::start().await;
    assert!(fake.secret_key().starts_with("sk_test_"));
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", fake.base_url());

    let missing = http.get(url("/v1/users")).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(clerk_error(&body), "authentication_invalid");

    let wrong = http
        .get(url("/v1/users"))
        .bearer_auth("sk_test_wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(
        clerk_error(&wrong.json::<Value>().await.unwrap()),
        "clerk_key_invalid"
    );

    assert_eq!(
        http.get(url("/v1/jwks")).send().await.unwrap().status(),
        401
    );
    let jwks: Value = http
        .get(url("/v1/jwks"))
        .bearer_auth(fake.secret_key())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["kid"], fake.instance_id());
    let public: Value = http
        .get(fake.jwks_url())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(public, jwks);

    let unknown = Wire::new(&fake).get("/v1/nothing").await;
    assert_eq!(unknown.0, 404);
    assert_eq!(clerk_error(&unknown.1), "resource_not_found");

    // FakeClerk speaks one API version and says so rather than answer in the wrong shapes.
    let other_version = http
        .get(url("/v1/users"))
        .bearer_auth(fake.secret_key())
        .header("Clerk-API-Version", "2024-10-01")
        .send()
        .await
        .unwrap();
    assert_eq!(other_version.status(), 400);
    let pinned = http
        .get(url("/v1/users"))
        .bearer_auth(fake.secret_key())
        .header("Clerk-API-Version", clerk_sync_testing::API_VERSION)
        .send()
        .await
        .unwrap();
    assert_eq!(pinned.status(), 200);
    let put = Wire::new(&fake)
        .send(Method::PUT, "/v1/users/user_1/metadata", Some(json!({})))
        .await;
    assert_eq!(
        (put.0, clerk_error(&put.1)),
        (405, "fake_clerk_unsupported")
    );
}

#[tokio::test]
async fn list_parameters_are_checked_as_documented() {
    let fake = FakeClerk::start().await;
    let ada = fake.seed_user(SeedUser::new("ada@example.com")).unwrap();
    let wire = Wire::new(&fake);
    for (query, param) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("offset=-1", "offset"),
        ("order_by=shoe_size", "order_by"),
        // A raw `+` is a space in a query string: the client must send %2B.
        ("order_by=+created_at", "order_by"),
        ("order_by=-updated_at&starting_after=USER", "starting_after"),
        ("offset=5&starting_after=USER", "starting_after"),
        ("starting_after=user_2NeverExisted", "starting_after"),
    ] {
        let query = query.replace("USER", &ada.id);
        let (status, body) = wire.get(&format!("/v1/users?{query}")).await;
        assert_eq!(status, 422, "{query}: {body}");
        assert!(clerk_error(&body).starts_with("form_param_"), "{query}");
        assert_eq!(body["errors"][0]["meta"]["param_name"], param, "{query}");
    }
    let too_many: String = (0..101)
        .map(|i| format!("email_address=a{i}@x.io&"))
        .collect();
    assert_eq!(wire.get(&format!("/v1/users?{too_many}")).await.0, 422);

    for ok in [
        "limit=1",
        "limit=500",
        "order_by=created_at",
        "order_by=%2Bcreated_at",
        "order_by=-created_at&starting_after=USER",
        "offset=0&starting_after=USER",
        "order_by=username&order_by=nonsense",
    ] {
        let query = ok.replace("USER", &ada.id);
        assert_eq!(
            wire.get(&format!("/v1/users?{query}")).await.0,
            200,
            "{query}"
        );
    }
}

#[tokio::test]
async fn listing_orders_filters_and_pages() {
    let fake = FakeClerk::start().await;
    let names = ["carol", "alice", "bob", "dave"];
    let users: Vec<_> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mut seed = SeedUser::new(format!("{name}@example.com")).first_name(*name);
            if i % 2 == 0 {
                seed = seed.external_id(format!("ext-{i}"));
            }
            fake.seed_user(seed).unwrap()
        })
        .collect();
    let id = |i: usize| users[i].id.clone();
    let wire = Wire::new(&fake);

    // Clerk's default: newest first, 10 per page.
    let (_, page) = wire.get("/v1/users").await;
    assert_eq!(page_ids(&page), [id(3), id(2), id(1), id(0)]);
    fake.seed_users(15);
    assert_eq!(page_ids(&wire.get("/v1/users").await.1).len(), 10);
    let (_, count) = wire.get("/v1/users/count").await;
    assert_eq!(count, json!({"object": "total_count", "total_count": 19}));

    let (_, page) = wire.get("/v1/users?order_by=first_name&limit=4").await;
    assert_eq!(page_ids(&page), [id(1), id(2), id(0), id(3)]);
    let (_, page) = wire
        .get("/v1/users?order_by=-first_name&limit=2&offset=1")
        .await;
    // Descending puts the 15 nameless users first (NULLs first), then dave, carol ...
    assert_eq!(page_ids(&page).len(), 2);

    let (_, page) = wire
        .get(&format!(
            "/v1/users?order_by=%2Bcreated_at&starting_after={}",
            id(1)
        ))
        .await;
    assert_eq!(page_ids(&page)[..2], [id(2), id(3)]);

    let (_, page) = wire
        .get("/v1/users?email_address=ALICE@example.com&email_address=dave@example.com&order_by=created_at")
        .await;
    assert_eq!(page_ids(&page), [id(1), id(3)]);
    let (_, page) = wire
        .get(&format!("/v1/users?user_id={}&user_id=%2B{}", id(0), id(2)))
        .await;
    assert_eq!(page_ids(&page), [id(2), id(0)]);
    let (_, page) = wire
        .get(&format!(
            "/v1/users?user_id=-{}&email_address=carol@example.com&email_address=bob@example.com",
            id(0)
        ))
        .await;
    assert_eq!(page_ids(&page), [id(2)]);
    let (_, page) = wire
        .get("/v1/users?external_id=ext-0&external_id=ext-2")
        .await;
    assert_eq!(page_ids(&page), [id(2), id(0)]);
    // Case-insensitive, and long enough that no random id can contain it.
    let (_, count) = wire.get("/v1/users/count?query=ALICE@").await;
    assert_eq!(count["total_count"], 1);
}

#[tokio::test]
async fn created_users_look_like_clerks() {
    let fake = FakeClerk::start().await;
    let wire = Wire::new(&fake);
    let (status, ada) = wire
        .post(
            "/v1/users",
            json!({"email_address": ["Ada@Example.com"], "first_name": "Ada",
                   "public_metadata": {"plan": "free"}, "skip_password_requirement": true}),
        )
        .await;
    assert_eq!(status, 200, "{ada}");
    let id = ada["id"].as_str().unwrap();
    assert!(id.starts_with("user_") && id.len() == 32);
    assert!(
        id[5..].bytes().any(|b| b.is_ascii_uppercase())
            && id[5..].bytes().any(|b| b.is_ascii_lowercase())
    );
    let email = &ada["email_addresses"][0];
    assert!(email["id"].as_str().unwrap().starts_with("idn_"));
    assert_eq!(ada["primary_email_address_id"], email["id"]);
    assert_eq!(email["email_address"], "ada@example.com");
    assert_eq!(email["verification"]["status"], "verified");
    assert_eq!(ada["created_at"], ada["updated_at"]);
    assert_eq!(ada["object"], "user");
    assert_eq!(ada["private_metadata"], json!({}));
    for field in [
        "phone_numbers",
        "web3_wallets",
        "external_accounts",
        "passkeys",
    ] {
        assert_eq!(ada[field], json!([]), "{field}");
    }
    // The typed user of the core crate reads it.
    let typed: clerk_sync_core::event::User = serde_json::from_value(ada.clone()).unwrap();
    assert!(typed.primary_email().unwrap().is_verified());

    let (_, grace) = wire
        .post("/v1/users", json!({"email_address": ["grace@example.com"]}))
        .await;
    assert!(grace["created_at"].as_i64() > ada["updated_at"].as_i64());

    for (body, code, param) in [
        (
            json!({"email_address": ["ADA@example.com"]}),
            "form_identifier_exists",
            "email_address",
        ),
        (
            json!({"email_address": ["x@example.com", "X@example.com"]}),
            "form_identifier_exists",
            "email_address",
        ),
        (
            json!({"email_address": ["not-an-email"]}),
            "form_param_format_invalid",
            "email_address",
        ),
        (
            json!({"email_address": "ada2@example.com"}),
            "form_param_format_invalid",
            "email_address",
        ),
        (
            json!({"first_name": "Nobody"}),
            "form_param_missing",
            "email_address",
        ),
        (
            json!({"email_address": ["n@example.com"], "shoe_size": 44}),
            "form_param_unknown",
            "shoe_size",
        ),
        (
            json!({"email_address": ["n@example.com"], "phone_number": ["+15555550100"]}),
            "fake_clerk_unsupported",
            "phone_number",
        ),
        (
            json!({"email_address": ["n@example.com"], "password": "short"}),
            "form_password_length_too_short",
            "password",
        ),
        (
            json!({"email_address": ["n@example.com"], "public_metadata": [1]}),
            "form_param_format_invalid",
            "public_metadata",
        ),
        (
            json!({"email_address": ["n@example.com"], "skip_password_requirement": "yes"}),
            "form_param_format_invalid",
            "skip_password_requirement",
        ),
    ] {
        let (status, error) = wire.post("/v1/users", body.clone()).await;
        assert_eq!(status, 422, "{body} -> {error}");
        assert_eq!(clerk_error(&error), code, "{body}");
        assert_eq!(error["errors"][0]["meta"]["param_name"], param, "{body}");
    }
    let malformed = wire
        .http
        .post(format!("{}/v1/users", wire.base))
        .bearer_auth(&wire.key)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    assert_eq!(fake.user_count(), 2);
}

#[tokio::test]
async fn updates_take_no_metadata_and_bump_the_version() {
    let fake = FakeClerk::start().await;
    let ada = fake
        .seed_user(SeedUser::new("ada@example.com").username("ada"))
        .unwrap();
    let wire = Wire::new(&fake);
    let path = format!("/v1/users/{}", ada.id);

    let (status, error) = wire
        .patch(&path, json!({"public_metadata": {"plan": "pro"}}))
        .await;
    assert_eq!(status, 422);
    assert_eq!(clerk_error(&error), "form_param_unknown");

    let (status, user) = wire
        .patch(
            &path,
            json!({"first_name": "Ada", "last_name": null, "username": ""}),
        )
        .await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["first_name"], "Ada");
    assert_eq!(
        user["username"],
        Value::Null,
        "an empty username removes it"
    );
    assert!(user["updated_at"].as_i64().unwrap() > ada.updated_at);

    let (status, error) = wire
        .patch(&path, json!({"primary_email_address_id": "idn_2NotHers"}))
        .await;
    assert_eq!(
        (status, clerk_error(&error)),
        (422, "form_param_value_invalid")
    );

    let grace = fake
        .seed_user(SeedUser::new("grace@example.com").external_id("g"))
        .unwrap();
    let (status, error) = wire.patch(&path, json!({"external_id": "g"})).await;
    assert_eq!(
        (status, clerk_error(&error)),
        (422, "form_identifier_exists")
    );

    let (status, error) = wire
        .patch("/v1/users/user_2Missing", json!({"first_name": "X"}))
        .await;
    assert_eq!((status, clerk_error(&error)), (404, "resource_not_found"));

    // Metadata goes through /metadata, merged deeply; null removes a key.
    fake.update_user_directly(
        &grace.id,
        UserChange::new().public_metadata(json!({"a": {"x": 1, "y": 2}, "b": 1})),
    )
    .unwrap();
    let (status, user) = wire
        .patch(
            &format!("/v1/users/{}/metadata", grace.id),
            json!({"public_metadata": {"a": {"y": null, "z": 3}, "b": null}, "private_metadata": {"k": "v"}}),
        )
        .await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["public_metadata"], json!({"a": {"x": 1, "z": 3}}));
    assert_eq!(user["private_metadata"], json!({"k": "v"}));
    let (status, error) = wire
        .patch(
            &format!("/v1/users/{}/metadata", grace.id),
            json!({"public_metadata": "pro"}),
        )
        .await;
    assert_eq!(
        (status, clerk_error(&error)),
        (422, "form_param_format_invalid")
    );
}

#[tokio::test]
async fn deletes_answer_the_deleted_object() {
    let fake = FakeClerk::start().await;
    let ada = fake.seed_user(SeedUser::new("ada@example.com")).unwrap();
    let wire = Wire::new(&fake);
    let path = format!("/v1/users/{}", ada.id);
    let (status, body) = wire.send(Method::DELETE, &path, None).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"object": "user", "id": ada.id, "deleted": true})
    );
    let (status, body) = wire.send(Method::DELETE, &path, None).await;
    assert_eq!((status, clerk_error(&body)), (404, "resource_not_found"));
    assert_eq!(wire.get(&path).await.0, 404);
    // The address is free again.
    assert!(fake.seed_user(SeedUser::new("ada@example.com")).is_ok());
}

#[tokio::test]
async fn invitations_follow_the_reference() {
    let fake = FakeClerk::start().await;
    fake.seed_user(SeedUser::new("ada@example.com")).unwrap();
    let wire = Wire::new(&fake);

    let (status, invitation) = wire
        .post(
            "/v1/invitations",
            json!({"email_address": "grace@example.com", "public_metadata": {"team": 1}, "notify": false, "expires_in_days": 7}),
        )
        .await;
    assert_eq!(status, 200, "{invitation}");
    assert!(invitation["id"].as_str().unwrap().starts_with("inv_"));
    assert_eq!(invitation["status"], "pending");
    assert_eq!(invitation["object"], "invitation");
    let lifetime =
        invitation["expires_at"].as_i64().unwrap() - invitation["created_at"].as_i64().unwrap();
    assert_eq!(lifetime, 7 * 86_400_000);

    for (body, code) in [
        (
            json!({"email_address": "grace@example.com"}),
            "duplicate_record",
        ),
        (
            json!({"email_address": "ada@example.com"}),
            "form_identifier_exists",
        ),
        (
            json!({"email_address": "x@example.com", "expires_in_days": 0}),
            "form_param_value_invalid",
        ),
        (
            json!({"email_address": "x@example.com", "template_slug": "other"}),
            "form_param_value_invalid",
        ),
        (json!({}), "form_param_missing"),
    ] {
        let (status, error) = wire.post("/v1/invitations", body.clone()).await;
        assert_eq!((status, clerk_error(&error)), (422, code), "{body}");
    }
    let (status, _) = wire
        .post(
            "/v1/invitations",
            json!({"email_address": "ada@example.com", "ignore_existing": true}),
        )
        .await;
    assert_eq!(status, 200);

    let (_, list) = wire
        .get("/v1/invitations?status=pending&order_by=email_address")
        .await;
    let emails: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["email_address"].clone())
        .collect();
    assert_eq!(emails, ["ada@example.com", "grace@example.com"]);
    assert_eq!(fake.invitations().len(), 2);
}

/// Every change, through the API or directly, queues the event Clerk would send, signed with
/// the fake's secret and readable by the core crate.
#[tokio::test]
async fn every_change_queues_its_signed_event() {
    let fake = FakeClerk::start().await;
    let seeded = fake.seed_user(SeedUser::new("seeded@example.com")).unwrap();
    assert!(
        fake.take_webhooks().is_empty(),
        "seeding is the state before the test"
    );
    let wire = Wire::new(&fake);

    let (_, ada) = wire
        .post("/v1/users", json!({"email_address": ["ada@example.com"]}))
        .await;
    let ada_id = ada["id"].as_str().unwrap().to_owned();
    wire.patch(&format!("/v1/users/{ada_id}"), json!({"first_name": "Ada"}))
        .await;
    wire.patch(
        &format!("/v1/users/{ada_id}/metadata"),
        json!({"public_metadata": {"a": 1}}),
    )
    .await;
    wire.send(Method::DELETE, &format!("/v1/users/{ada_id}"), None)
        .await;
    let direct = fake
        .create_user_directly(SeedUser::new("grace@example.com"))
        .unwrap();
    fake.update_user_directly(
        &seeded.id,
        UserChange::new().email_address("new@example.com"),
    )
    .unwrap();
    assert!(fake.delete_user_directly(&direct.id));
    assert!(!fake.delete_user_directly(&direct.id));

    let events = fake.take_webhooks();
    assert!(fake.take_webhooks().is_empty(), "drained");
    let verifier = WebhookVerifier::new(fake.webhook_secret()).unwrap();
    let mut seen = Vec::new();
    let mut versions = Vec::new();
    for event in &events {
        verifier
            .verify(&event.webhook_headers(), event.body.as_bytes())
            .unwrap();
        let [(id_name, _), (ts_name, ts), (sig_name, _)] = event.headers();
        assert_eq!(
            (id_name, ts_name, sig_name),
            ("svix-id", "svix-timestamp", "svix-signature")
        );
        assert_eq!(ts, event.timestamp.to_string());
        let parsed = WebhookEvent::parse(event.body.as_bytes()).unwrap();
        assert_eq!(parsed.instance_id.as_deref(), Some(fake.instance_id()));
        assert_eq!(parsed.event_type, event.event_type);
        match &parsed.data {
            ClerkEvent::UserCreated(user) | ClerkEvent::UserUpdated(user) => {
                seen.push((event.event_type.clone(), user.id.clone()));
                versions.push(user.updated_at);
            }
            ClerkEvent::UserDeleted(deleted) => {
                seen.push((event.event_type.clone(), deleted.id.clone().unwrap()));
            }
            other => panic!("unexpected event {other:?}"),
        }
    }
    let expected = [
        ("user.created", &ada_id),
        ("user.updated", &ada_id),
        ("user.updated", &ada_id),
        ("user.deleted", &ada_id),
        ("user.created", &direct.id),
        ("user.updated", &seeded.id),
        ("user.deleted", &direct.id),
    ];
    assert_eq!(
        seen,
        expected.map(|(t, id)| (t.to_owned(), id.clone())).to_vec()
    );
    assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");

    // The direct email change replaced the primary address with a new identification.
    let changed = fake.user(&seeded.id).unwrap();
    assert_eq!(changed.email_address.as_deref(), Some("new@example.com"));
    assert_ne!(changed.email_address_id, seeded.email_address_id);
    assert!(fake.user_by_email("seeded@example.com").is_none());

    let custom = fake.sign_webhook(
        "session.created",
        json!({"id": "sess_1", "object": "session"}),
    );
    verifier
        .verify(&custom.webhook_headers(), custom.body.as_bytes())
        .unwrap();
    assert_eq!(custom.data()["id"], "sess_1");
}

#[tokio::test]
async fn minted_tokens_verify_with_every_key_source() {
    let fake = FakeClerk::start().await;
    let token = fake.session_token(
        SessionTokenOptions::new("user_2abc")
            .authorized_party("https://app.example.com")
            .org(
                SessionOrg::new("org_1")
                    .slug("acme")
                    .role("org:admin")
                    .permissions(["org:billing:read"]),
            ),
    );

    let from_pem = JwtVerifier::from_pem(&fake.jwt_public_key_pem())
        .unwrap()
        .with_authorized_parties(["https://app.example.com"])
        .with_issuer(fake.issuer());
    let claims = from_pem.verify(&token).await.unwrap();
    assert_eq!(claims.sub, "user_2abc");
    assert!(
        claims
            .sid
            .as_deref()
            .is_some_and(|s| s.starts_with("sess_"))
    );
    let org = claims.org.unwrap();
    assert_eq!(
        (org.id.as_str(), org.role.as_deref()),
        ("org_1", Some("org:admin"))
    );
    assert_eq!(org.permissions, ["org:billing:read"]);

    let from_jwks = JwtVerifier::from_jwks_url(&fake.jwks_url()).unwrap();
    assert!(from_jwks.verify(&token).await.is_ok());
    let from_api = JwtVerifier::from_backend_api(fake.secret_key(), fake.base_url()).unwrap();
    assert!(from_api.verify(&token).await.is_ok());

    // v2 claims decode to the same organization, permissions included.
    let v2 = fake.session_token(
        SessionTokenOptions::new("user_2abc")
            .v2()
            .token_class(SESSION_TOKEN_CLASS)
            .org(SessionOrg::new("org_1").role("org:member").permissions([
                "org:billing:read",
                "org:billing:manage",
                "org:docs:read",
            ])),
    );
    let claims = from_pem
        .clone()
        .with_authorized_parties(Vec::<String>::new())
        .verify(&v2)
        .await
        .unwrap();
    assert_eq!(claims.sts.as_ref().map(|s| s.as_str()), Some("active"));
    let org = claims.org.unwrap();
    assert_eq!(org.role.as_deref(), Some("org:member"));
    let mut permissions = org.permissions;
    permissions.sort();
    assert_eq!(
        permissions,
        ["org:billing:manage", "org:billing:read", "org:docs:read"]
    );

    let expired = fake.session_token(SessionTokenOptions::new("user_2abc").expired());
    assert_eq!(
        from_jwks.verify(&expired).await.unwrap_err().code(),
        "token_expired"
    );
    // The token class travels in the header, for verifiers that check it.
    let header = v2.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header).unwrap(),
    )
    .unwrap();
    assert_eq!(
        header,
        json!({"alg": "RS256", "kid": fake.instance_id(), "typ": "JWT", "cat": SESSION_TOKEN_CLASS})
    );

    // Another instance's key does not verify this one's tokens.
    let other = FakeClerk::start().await;
    let foreign = other.session_token(SessionTokenOptions::new("user_2abc"));
    assert!(from_pem.verify(&foreign).await.is_err());
}

#[tokio::test]
async fn faults_play_as_injected() {
    let fake = FakeClerk::start().await;
    let ada = fake.seed_user(SeedUser::new("ada@example.com")).unwrap();
    let wire = Wire::new(&fake);
    let path = format!("/v1/users/{}", ada.id);

    fake.fail_next(
        2,
        Route::get("/v1/users/{id}"),
        Fault::Status(StatusCode::BAD_GATEWAY),
    );
    assert_eq!(
        wire.get("/v1/users").await.0,
        200,
        "another route is untouched"
    );
    let (status, body) = wire.get(&path).await;
    assert_eq!((status, clerk_error(&body)), (502, "internal_clerk_error"));
    assert_eq!(wire.get(&path).await.0, 502);
    assert_eq!(wire.get(&path).await.0, 200, "only the next two");

    fake.fail_next(
        1,
        Route::any(),
        Fault::RateLimited {
            retry_after: Duration::from_millis(1500),
        },
    );
    let response = wire
        .http
        .get(format!("{}{path}", wire.base))
        .bearer_auth(&wire.key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(
        response.headers()["retry-after"],
        "2",
        "whole seconds, rounded up"
    );
    assert_eq!(
        clerk_error(&response.json::<Value>().await.unwrap()),
        "too_many_requests"
    );

    fake.fail_next(1, Route::get("/v1/users/{id}"), Fault::Garbage);
    let response = wire
        .http
        .get(format!("{}{path}", wire.base))
        .bearer_auth(&wire.key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(serde_json::from_str::<Value>(&response.text().await.unwrap()).is_err());

    // A dropped answer: the change is applied, the client gets no response at all.
    fake.fail_next(1, Route::patch("/v1/users/{id}"), Fault::DropResponse);
    let error = wire
        .http
        .patch(format!("{}{path}", wire.base))
        .bearer_auth(&wire.key)
        .json(&json!({"first_name": "Applied"}))
        .send()
        .await
        .unwrap_err();
    assert!(!error.is_connect(), "the request was sent: {error}");
    assert_eq!(
        fake.user(&ada.id).unwrap().first_name.as_deref(),
        Some("Applied")
    );

    fake.fail_always(
        Route::path("/v1/users/count"),
        Fault::Latency(Duration::from_millis(300)),
    );
    let started = Instant::now();
    assert_eq!(wire.get("/v1/users/count").await.0, 200);
    assert_eq!(wire.get("/v1/users/count").await.0, 200);
    assert!(started.elapsed() >= Duration::from_millis(600));
    fake.clear_faults();
    let started = Instant::now();
    wire.get("/v1/users/count").await;
    assert!(started.elapsed() < Duration::from_millis(300));

    let log = fake.requests();
    let faults: Vec<_> = log.iter().filter_map(|r| r.fault.clone()).collect();
    assert_eq!(
        faults,
        [
            "status(502)",
            "status(502)",
            "rate_limited(1s)",
            "garbage",
            "drop_response",
            "latency(300ms)",
            "latency(300ms)"
        ]
    );
    let dropped = log
        .iter()
        .find(|r| r.fault.as_deref() == Some("drop_response"))
        .unwrap();
    assert_eq!(dropped.status, None);
    assert_eq!(dropped.body.as_deref(), Some(r#"{"first_name":"Applied"}"#));
}

#[tokio::test]
async fn the_built_in_limit_answers_429_with_retry_after() {
    let fake = FakeClerk::builder()
        .with_rate_limit(3, Duration::from_secs(1))
        .start()
        .await;
    let wire = Wire::new(&fake);
    for _ in 0..3 {
        assert_eq!(wire.get("/v1/users/count").await.0, 200);
    }
    let response = wire
        .http
        .get(format!("{}/v1/users", wire.base))
        .bearer_auth(&wire.key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "1");
    // The JWKS is not rate limited.
    assert_eq!(wire.get("/v1/jwks").await.0, 200);
    tokio::time::sleep(Duration::from_millis(1_050)).await;
    assert_eq!(wire.get("/v1/users/count").await.0, 200);
    assert_eq!(fake.max_requests_in_window(Duration::from_secs(1)), 5);

    fake.set_rate_limit(None);
    for _ in 0..5 {
        assert_eq!(wire.get("/v1/users/count").await.0, 200);
    }
}

#[tokio::test]
async fn the_request_log_records_each_request() {
    let fake = FakeClerk::start().await;
    let wire = Wire::new(&fake);
    wire.get("/v1/users?limit=5&email_address=a%40b.io").await;
    wire.post("/v1/users", json!({"email_address": ["a@b.io"]}))
        .await;
    let log = fake.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].endpoint(), "GET /v1/users");
    assert_eq!(log[0].query_values("email_address"), ["a@b.io"]);
    assert_eq!(log[0].status, Some(200));
    assert!(log[0].body.is_none());
    assert_eq!(log[1].endpoint(), "POST /v1/users");
    assert_eq!(
        log[1].body.as_deref(),
        Some(r#"{"email_address":["a@b.io"]}"#)
    );
    assert!(log[0].at <= log[1].at);
    assert_eq!(fake.requests_to("POST", "/v1/users").len(), 1);
    fake.clear_requests();
    assert!(fake.requests().is_empty());
}

/// The reconcile benchmarks seed hundreds of thousands of users: seeding and a cursor page
/// deep into them stay quick.
#[tokio::test]
async fn a_hundred_thousand_users_seed_quickly() {
    let fake = FakeClerk::start().await;
    let started = Instant::now();
    let ids = fake.seed_users(100_000);
    let seeded_in = started.elapsed();
    assert_eq!(fake.user_count(), 100_000);
    assert!(
        seeded_in < Duration::from_secs(10),
        "seeding took {seeded_in:?}"
    );

    let wire = Wire::new(&fake);
    let started = Instant::now();
    let (status, page) = wire
        .get(&format!(
            "/v1/users?limit=500&order_by=%2Bcreated_at&starting_after={}",
            ids[90_000]
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(page_ids(&page)[0], ids[90_001]);
    assert_eq!(page.as_array().unwrap().len(), 500);
    assert!(started.elapsed() < Duration::from_secs(2));
}
