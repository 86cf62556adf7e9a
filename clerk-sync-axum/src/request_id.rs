//! `X-Request-ID` and the request's `tracing` span, as one layer.
//!
//! One hand-written layer rather than tower-http's set/propagate/trace trio: each of those
//! wraps the request future and the response body again, and on the webhook route over
//! PostgreSQL the three measured about 10% of throughput on a loaded two-core machine
//! (`benches/benches/axum_routes.rs`). This one allocates the id, one span and one boxed
//! future. Which id, and what the span records, is core's
//! ([`request_id`], [`request_span`]), as for the actix-web adapter.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::response::Response;
use clerk_sync_core::http::{X_REQUEST_ID, record_answer, request_id, request_span};
use tower::{Layer, Service};
use tracing::Instrument as _;

/// Sets `X-Request-ID` on the request (the caller's own when usable, else a new one), runs
/// the request inside a span naming it, and puts the same id on the response.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RequestIdLayer;

impl<S> Layer<S> for RequestIdLayer {
    type Service = RequestId<S>;

    fn layer(&self, inner: S) -> RequestId<S> {
        RequestId { inner }
    }
}

/// The service of [`RequestIdLayer`].
#[derive(Debug, Clone)]
pub(crate) struct RequestId<S> {
    inner: S,
}

impl<S> Service<Request> for RequestId<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let id = request_id(
            request
                .headers()
                .get_all(X_REQUEST_ID)
                .iter()
                .map(HeaderValue::as_bytes),
        );
        // Letters, digits and `-_.:` only (checked, or made by core): a valid header value.
        let id = HeaderValue::from_str(&id).unwrap_or_else(|_| HeaderValue::from_static("invalid"));
        request.headers_mut().insert(X_REQUEST_ID, id.clone());
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str);
        let span = request_span(
            request.method().as_str(),
            route,
            id.to_str().unwrap_or_default(),
        );
        let response = self.inner.call(request);
        Box::pin(
            async move {
                let Ok(mut response) = response.await;
                record_answer(response.status().as_u16());
                response.headers_mut().insert(X_REQUEST_ID, id);
                Ok(response)
            }
            .instrument(span),
        )
    }
}
