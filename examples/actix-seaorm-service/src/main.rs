//! The clerk-sync reference service on actix-web and sea-orm.
//!
//! Everything but the HTTP framework and the database comes from `service-common`
//! (configuration, command line, engine, background tasks, shutdown) and the routes from
//! `clerk_sync_actix`. This file adds what a deployed actix-web process needs around them:
//! rate limits on the webhook and admin routes, CORS for `/api/me`, request timeouts, a log
//! line per request, and a graceful shutdown on SIGTERM/SIGINT. It answers exactly as
//! `axum-sqlx-service` does.
#![forbid(unsafe_code)]

mod middleware;
mod rate_limit;

use std::process::ExitCode;
use std::sync::Arc;

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, Uri, header};
use actix_web::middleware::{Condition, from_fn};
use actix_web::{App, Error, HttpServer, guard, web};
use clerk_sync_actix::{ClerkState, RequestId};
use clerk_sync_core::store::SyncStore;
use clerk_sync_seaorm::SeaOrmStore;
use middleware::{log_request, timeout};
use rate_limit::{RateLimits, rate_limit};
use service_common::{Cli, Command, Config, ServeArgs, ServiceError, Serving};

const NAME: &str = env!("CARGO_PKG_NAME");

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
    // sea-orm-migration says "Applying migration ..." at `info` on every fresh database: the
    // schema is the library's business, and a failed start must stay one line.
    let filter = format!("{},sea_orm_migration=warn", command.default_log_level());
    service_common::init_logging(config.log_format, &filter);
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
    let store = SeaOrmStore::connect(&config.database_url)
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
    let origins = cors_origins(&config.cors_origins)?;
    let serving = Serving::start(config, store, args)?;
    let state = web::Data::new(ClerkState::new(serving.http().clone()));
    let limits = web::Data::new(RateLimits::new(
        config.rate_limit_webhook,
        config.rate_limit_admin,
        serving.shutdown(),
    )?);
    let listener = std::net::TcpListener::bind(config.bind_addr)
        .map_err(|e| ServiceError::Other(format!("BIND_ADDR: cannot listen there: {e}")))?;
    let local = listener
        .local_addr()
        .map_err(|e| ServiceError::Other(format!("BIND_ADDR: {e}")))?;
    let server = HttpServer::new(move || app(state.clone(), limits.clone(), origins.clone()))
        // SIGTERM/SIGINT turn service-common's switch, which stops this server below.
        .disable_signals()
        // After the signal: no new connections; requests in flight get REQUEST_DRAIN_LIMIT.
        .shutdown_timeout(service_common::REQUEST_DRAIN_LIMIT.as_secs())
        .listen(listener)
        .map_err(|e| ServiceError::Other(format!("BIND_ADDR: cannot listen there: {e}")))?
        .run();
    serving.print_banner(config, NAME, local);
    tracing::info!(address = %local, "listening");

    let (handle, shutdown) = (server.handle(), serving.shutdown().clone());
    tokio::spawn(async move {
        shutdown.wait().await;
        handle.stop(true).await;
    });
    server
        .await
        .map_err(|e| ServiceError::Other(format!("the server failed: {e}")))?;
    serving.stop().await;
    Ok(())
}

/// Every route of `clerk_sync_actix`, with the service's middleware:
///
/// - per-address rate limits on the webhook route (`RATE_LIMIT_WEBHOOK`, burst twice that)
///   and the admin API (`RATE_LIMIT_ADMIN`): 429 with `Retry-After`, and
///   `X-RateLimit-Limit` / `X-RateLimit-Remaining` on every answer of those routes;
/// - CORS on `/api/me` for the exact origins of `CORS_ORIGINS`, with credentials (the
///   `__session` cookie);
/// - request timeouts, and a log line per request (status and latency) inside the
///   request's span, which carries its `X-Request-ID`.
fn app(
    state: web::Data<ClerkState>,
    limits: web::Data<RateLimits>,
    origins: Vec<String>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = Error,
        InitError = (),
    >,
> {
    // `/api/me` in a scope of its own, so that CORS applies to it alone; the guard lets
    // every other path go by. Mounted last: an empty scope first would hide the other
    // routes' templates from the request span (actix-web looks them up in order).
    let me = web::scope("")
        .guard(guard::fn_guard(|ctx| ctx.head().uri.path() == "/api/me"))
        .wrap(Condition::new(!origins.is_empty(), cors(&origins)))
        .configure(clerk_sync_actix::me_routes);
    App::new()
        .app_data(state)
        .app_data(limits)
        .configure(clerk_sync_actix::webhook_routes)
        .configure(clerk_sync_actix::admin_routes)
        .configure(clerk_sync_actix::health_routes)
        .configure(clerk_sync_actix::metrics_routes)
        .configure(clerk_sync_actix::dashboard_routes)
        .service(me)
        .default_service(web::to(clerk_sync_actix::not_found))
        .wrap(from_fn(rate_limit))
        .wrap(from_fn(timeout))
        .wrap(from_fn(log_request))
        // Outermost, so that even a 429 or a timeout carries X-Request-ID.
        .wrap(RequestId::default())
}

/// `CORS_ORIGINS` as actix-cors takes them: it refuses to start a worker on an origin that is
/// not a URI, so such a value stops the start here, naming the variable.
fn cors_origins(origins: &[String]) -> Result<Vec<String>, ServiceError> {
    for origin in origins {
        if origin == "*" || origin.parse::<Uri>().is_err() {
            return Err(ServiceError::Other(
                "CORS_ORIGINS: not an origin (scheme://host[:port])".to_owned(),
            ));
        }
    }
    Ok(origins.to_vec())
}

/// CORS for the frontend's exact origins, with credentials: never a wildcard. Requests from
/// other origins are served without CORS headers (the browser withholds the answer), as
/// tower-http does.
fn cors(origins: &[String]) -> Cors {
    origins
        .iter()
        .fold(Cors::default(), |cors, origin| cors.allowed_origin(origin))
        .allowed_methods([Method::GET])
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .supports_credentials()
        .max_age(600)
        .block_on_origin_mismatch(false)
}
