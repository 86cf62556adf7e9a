//! The clerk-sync reference service on axum and sqlx.
//!
//! Everything but the HTTP framework and the database comes from `service-common`
//! (configuration, command line, engine, background tasks, shutdown) and the routes from
//! `clerk_sync_axum`. This file adds what a deployed axum process needs around them: rate
//! limits on the webhook and admin routes, CORS for `/api/me`, request timeouts, a log line
//! per request, and a graceful shutdown on SIGTERM/SIGINT.
#![forbid(unsafe_code)]

use std::future::IntoFuture as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use clerk_sync_axum::{ClerkResponse, ClerkState};
use clerk_sync_core::http::{ApiError, ClerkHttp};
use clerk_sync_core::store::SyncStore;
use clerk_sync_sqlx::SqlxStore;
use service_common::{Cli, Command, Config, ServeArgs, ServiceError, Serving};
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::{GovernorError, GovernorLayer};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};

const NAME: &str = env!("CARGO_PKG_NAME");

/// Longest time for a request, but for the admin API: past it the answer is 503 with
/// `Retry-After` (for a webhook, Svix delivers it again; nothing half-written stays).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The admin API's limit: `POST /api/admin/sync-users` runs a whole reconcile. Large tables
/// are better reconciled by the schedule or the `reconcile` command.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(600);

fn main() -> ExitCode {
    let cli = Cli::parse_for(NAME, env!("CARGO_PKG_VERSION"));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    service_common::exit_code(runtime.block_on(run(cli.into_command())))
}

async fn run(command: Command) -> Result<(), ServiceError> {
    let config = Config::load()?;
    service_common::init_logging(config.log_format, command.default_log_level());
    if let Command::SendTestWebhook(_) = command {
        // Talks to the running service and opens no database: the command runner's store
        // is an empty in-memory one.
        let store = Arc::new(clerk_sync_core::memory::MemoryStore::new());
        return service_common::run_command(&config, store, command).await;
    }
    if let Command::Serve(_) = command {
        // Before the database: a missing secret is a configuration error, not an outage.
        config.webhook_verifier()?;
    }
    let store = SqlxStore::connect(&config.database_url)
        .await
        .map_err(ServiceError::database)?;
    store.migrate().await.map_err(ServiceError::database)?;
    let store: Arc<dyn SyncStore> = Arc::new(store);
    match command {
        Command::Serve(args) => serve(&config, store, &args).await,
        other => service_common::run_command(&config, store, other).await,
    }
}

async fn serve(
    config: &Config,
    store: Arc<dyn SyncStore>,
    args: &ServeArgs,
) -> Result<(), ServiceError> {
    let serving = Serving::start(config, store, args)?;
    let app = app(serving.http().clone(), config)?;
    let listener = tokio::net::TcpListener::bind(config.bind_addr)
        .await
        .map_err(|e| ServiceError::Other(format!("BIND_ADDR: cannot listen there: {e}")))?;
    let local = listener
        .local_addr()
        .map_err(|e| ServiceError::Other(format!("BIND_ADDR: {e}")))?;
    serving.print_banner(config, NAME, local);
    tracing::info!(address = %local, "listening");

    let shutdown = serving.shutdown().clone();
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown.wait())
    .into_future();
    // After the signal: no new connections; requests in flight get REQUEST_DRAIN_LIMIT.
    let drained = async {
        shutdown.wait().await;
        tokio::time::sleep(service_common::REQUEST_DRAIN_LIMIT).await;
    };
    tokio::select! {
        result = server => result.map_err(|e| ServiceError::Other(format!("the server failed: {e}")))?,
        () = drained => tracing::warn!("requests still in flight after the drain limit were cut off"),
    }
    serving.stop().await;
    Ok(())
}

/// Every route of `clerk_sync_axum`, with the service's layers:
///
/// - per-address rate limits on the webhook route (`RATE_LIMIT_WEBHOOK`, burst twice that)
///   and the admin API (`RATE_LIMIT_ADMIN`): 429 with `Retry-After`, and
///   `X-RateLimit-Limit` / `X-RateLimit-Remaining` on every answer of those routes;
/// - CORS on `/api/me` for the exact origins of `CORS_ORIGINS`, with credentials (the
///   `__session` cookie);
/// - request timeouts, and a log line per request (status and latency) inside the
///   request's span, which carries its `X-Request-ID`.
fn app(http: ClerkHttp<dyn SyncStore>, config: &Config) -> Result<Router, ServiceError> {
    let webhook = rate_limited(
        clerk_sync_axum::webhook_router().layer(axum::middleware::from_fn(|r, n| {
            timeout(REQUEST_TIMEOUT, r, n)
        })),
        config.rate_limit_webhook,
    )?;
    let admin = rate_limited(
        clerk_sync_axum::admin_router().layer(axum::middleware::from_fn(|r, n| {
            timeout(ADMIN_TIMEOUT, r, n)
        })),
        config.rate_limit_admin,
    )?;
    // The route's own 405 fallback first, so that the CORS layer wraps it too: a preflight
    // (OPTIONS) reaches no handler, and the router-wide fallback set below would replace a
    // default one without the layer.
    let mut me = clerk_sync_axum::me_router()
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(|r, n| {
            timeout(REQUEST_TIMEOUT, r, n)
        }));
    if !config.cors_origins.is_empty() {
        me = me.layer(cors(&config.cors_origins)?);
    }
    let rest = Router::new()
        .merge(clerk_sync_axum::health_router())
        .merge(clerk_sync_axum::metrics_router())
        .merge(clerk_sync_axum::dashboard_router())
        .layer(axum::middleware::from_fn(|r, n| {
            timeout(REQUEST_TIMEOUT, r, n)
        }));
    let routes = Router::new()
        .merge(webhook)
        .merge(admin)
        .merge(me)
        .merge(rest)
        .fallback(|| async { ClerkResponse::from(ApiError::route_not_found()) })
        .method_not_allowed_fallback(method_not_allowed)
        .layer(
            TraceLayer::new_for_http()
                // The request id layer's span (method, route template, request id) is the
                // one every line of the request is written in; no second span with the raw
                // URI, which could carry ids in its query string.
                .make_span_with(|_: &Request| tracing::Span::none())
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .with_state(ClerkState::new(http));
    // Outermost, so that even a 429 or a timeout carries X-Request-ID.
    Ok(clerk_sync_axum::with_request_id(routes))
}

/// `router` behind a per-address limit of `per_second` requests, with a burst of twice that;
/// its 429 is core's JSON error with `Retry-After` (at least 1 s). Forgotten addresses are
/// swept every minute, so the limiter's table stays small.
fn rate_limited(
    router: Router<ClerkState>,
    per_second: u32,
) -> Result<Router<ClerkState>, ServiceError> {
    let config = GovernorConfigBuilder::default()
        .period(Duration::from_nanos(
            1_000_000_000 / u64::from(per_second.max(1)),
        ))
        .burst_size(per_second.saturating_mul(2).max(1))
        .use_headers()
        .finish()
        .ok_or_else(|| ServiceError::Other("a rate limit cannot be zero".to_owned()))?;
    let config = Arc::new(config);
    let limiter = Arc::clone(config.limiter());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            limiter.retain_recent();
        }
    });
    Ok(router.layer(GovernorLayer::new(config).error_handler(too_many_requests)))
}

fn too_many_requests(error: GovernorError) -> Response<Body> {
    match error {
        GovernorError::TooManyRequests { wait_time, headers } => {
            let mut response = ClerkResponse::from(ApiError::new(
                429,
                "rate_limited",
                "too many requests from this address; retry after the Retry-After seconds",
            ))
            .into_response();
            if let Some(headers) = headers {
                response.headers_mut().extend(headers);
            }
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(wait_time.max(1)));
            response
        }
        // No peer address: served without connect info, a bug of this file.
        _ => ClerkResponse::from(ApiError::internal()).into_response(),
    }
}

async fn method_not_allowed() -> ClerkResponse {
    ApiError::method_not_allowed().into()
}

/// CORS for the frontend's exact origins, with credentials: never a wildcard.
fn cors(origins: &[String]) -> Result<CorsLayer, ServiceError> {
    let origins = origins
        .iter()
        .map(|origin| HeaderValue::from_str(origin))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| ServiceError::Other("CORS_ORIGINS: not a valid header value".to_owned()))?;
    Ok(CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .allow_credentials(true)
        .max_age(Duration::from_secs(600)))
}

/// Answer 503 with `Retry-After` when the request takes longer than `limit`. Dropping the
/// handler rolls back an uncommitted transaction, and an unacknowledged webhook is delivered
/// again, so a timeout loses nothing.
async fn timeout(limit: Duration, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(limit_secs = limit.as_secs(), "request timed out");
            ClerkResponse::from(ApiError::unavailable(
                "request_timeout",
                "the request took too long; retry later",
            ))
            .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::routing::get;
    use tower::ServiceExt as _;

    use super::*;

    #[tokio::test]
    async fn a_slow_request_is_a_json_503_with_retry_after() {
        let app: Router = Router::new()
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "late"
                }),
            )
            .route("/fast", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn(|r, n| {
                timeout(Duration::from_millis(50), r, n)
            }));
        let fast = app
            .clone()
            .oneshot(Request::get("/fast").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(fast.status(), 200);
        let slow = app
            .oneshot(Request::get("/slow").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(slow.status(), 503);
        assert!(slow.headers().contains_key("retry-after"));
        let body = axum::body::to_bytes(slow.into_body(), 4096).await.unwrap();
        let body = String::from_utf8_lossy(&body);
        assert!(body.contains("\"error\":\"request_timeout\""), "{body}");
    }
}
