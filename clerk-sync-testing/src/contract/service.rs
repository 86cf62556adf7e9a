//! Health, user-sync health, metrics, the dashboard, unknown routes and request ids.

use reqwest::Method;
use serde_json::json;

use super::ContractContext;

/// `GET /health`: 200 `{"status":"healthy","database":"connected"}`; while the database is
/// down, 503 `{"status":"unhealthy","database":"disconnected"}` with `Retry-After`.
pub async fn health_reports_the_database(ctx: &ContractContext) {
    let reply = ctx.call(Method::GET, "/health").send().await;
    assert_eq!(
        reply.expect(200).json(),
        json!({"status": "healthy", "database": "connected"})
    );
    let Some(outage) = ctx.outage_or_skip("health_reports_the_database (its 503)") else {
        return;
    };
    outage.begin();
    let reply = ctx.call(Method::GET, "/health").send().await;
    outage.end();
    reply.expect(503).expect_retry_after();
    assert_eq!(
        reply.json(),
        json!({"status": "unhealthy", "database": "disconnected"})
    );
    ctx.call(Method::GET, "/health").send().await.expect(200);
}

/// `GET /api/health/user-sync`: Clerk's user count against the live rows with a Clerk id
/// (tombstones and local-only rows excluded), with `failed` and `pending`.
pub async fn user_sync_health_counts(ctx: &ContractContext) {
    let fake = ctx.fake();
    let kept = ctx.synced_user("health1@example.com").await;
    let deleted = ctx.synced_user("health2@example.com").await;
    fake.delete_user_directly(&deleted);
    for delivery in fake.take_webhooks() {
        ctx.deliver(&delivery).await.expect(200);
    }
    fake.seed_users(2);
    ctx.admin(Method::POST, "/api/admin/users")
        .json(&json!({"email": "health-local@example.com"}))
        .send()
        .await
        .expect(202);

    let health = ctx
        .call(Method::GET, "/api/health/user-sync")
        .send()
        .await
        .expect(200)
        .json();
    assert_eq!(
        health["clerk_users"],
        json!(3),
        "contract: Clerk's count: {health}"
    );
    assert_eq!(
        health["db_users"],
        json!(1),
        "contract: live rows with a Clerk id, tombstones excluded ({kept}): {health}"
    );
    assert_eq!(health["discrepancy"], json!(2), "{health}");
    assert_eq!(
        (health["failed"].clone(), health["pending"].clone()),
        (json!(0), json!(1)),
        "{health}"
    );
    assert!(
        matches!(health["status"].as_str(), Some("healthy" | "warning")),
        "{health}"
    );
}

/// `GET /metrics`: 200, Prometheus' text format.
pub async fn metrics_is_prometheus_text(ctx: &ContractContext) {
    // Something to count first.
    ctx.synced_user("metrics@example.com").await;
    let reply = ctx.call(Method::GET, "/metrics").send().await;
    reply.expect(200);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|v| v.starts_with("text/plain")),
        "contract: /metrics is text/plain"
    );
    reply.expect_no_leak("metrics@example.com", "an email");
}

/// `GET /admin`: one self-contained HTML page that calls the admin API, under a
/// Content-Security-Policy that allows only its own script and forbids framing.
pub async fn dashboard_is_self_contained_html(ctx: &ContractContext) {
    let reply = ctx.call(Method::GET, "/admin").send().await;
    reply.expect(200);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|v| v.starts_with("text/html")),
        "contract: /admin is HTML"
    );
    let page = reply.text();
    assert!(
        page.contains("<html") && page.contains("/api/admin/"),
        "contract: the dashboard calls the admin API"
    );
    for external in [
        "src=\"http",
        "href=\"http",
        "src=\"//",
        "href=\"//",
        "@import",
    ] {
        assert!(
            !page.contains(external),
            "contract: the dashboard loads no external asset ({external})"
        );
    }
    reply.expect_no_leak(ctx.admin_key(), "the admin key");
    let policy = reply.header("content-security-policy").unwrap_or_default();
    assert!(
        policy.contains("frame-ancestors 'none'") && !policy.contains("unsafe-inline"),
        "contract: the dashboard runs only its own script and cannot be framed: {policy:?}"
    );
}

/// A path no route serves is 404 with the JSON error; a method a route does not take is 405.
pub async fn unknown_route_is_404_json(ctx: &ContractContext) {
    ctx.call(Method::GET, "/api/contract-nowhere")
        .send()
        .await
        .expect_error(404, "not_found");
    ctx.call(Method::GET, "/api/webhooks/clerk")
        .send()
        .await
        .expect_error(405, "method_not_allowed");
}

/// Every response carries `X-Request-ID`: the caller's own when it sent a short plain one
/// (up to 128 letters, digits and `-_.:`), otherwise a new one per request.
pub async fn request_id_is_kept_or_generated(ctx: &ContractContext) {
    let a = ctx.call(Method::GET, "/health").send().await;
    let b = ctx.call(Method::GET, "/health").send().await;
    assert_ne!(
        a.header("x-request-id"),
        b.header("x-request-id"),
        "contract: each request gets its own id"
    );
    for path in [
        "/health",
        "/api/me",
        "/api/admin/users",
        "/api/contract-nowhere",
    ] {
        let reply = ctx
            .call(Method::GET, path)
            .header("x-request-id", "contract-req-7")
            .send()
            .await;
        assert_eq!(
            reply.header("x-request-id"),
            Some("contract-req-7"),
            "contract: {path} keeps the caller's X-Request-ID"
        );
    }
    // Echoed and logged: an id that could forge or flood a log line is replaced.
    let flood = "r".repeat(200);
    for unusable in [flood.as_str(), "two words", "quo\"te"] {
        let reply = ctx
            .call(Method::GET, "/health")
            .header("x-request-id", unusable)
            .send()
            .await;
        assert_ne!(
            reply.header("x-request-id"),
            Some(unusable),
            "contract: an unusable X-Request-ID is replaced, never echoed"
        );
    }
}
