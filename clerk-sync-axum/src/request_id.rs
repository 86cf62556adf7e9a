//! `X-Request-ID` and the request's `tracing` span, as one layer.
//!
//! One hand-written layer rather than tower-http's set/propagate/trace trio: each of those
//! wraps the request future and the response body again, and on the webhook route over
//! PostgreSQL the three measured about 10% of throughput on a loaded two-core machine
//! (`benches/benches/axum_routes.rs`). This one allocates the id, one span and one boxed
//! future.

use std::collections::hash_map::RandomState;
use std::convert::Infallible;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::pin::Pin;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::response::Response;
use tower::{Layer, Service};
use tracing::Instrument as _;

pub(crate) const X_REQUEST_ID: &str = "x-request-id";

/// The longest caller-chosen request id kept.
const REQUEST_ID_MAX: usize = 128;

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
        let id = callers_id(&request).unwrap_or_else(new_request_id);
        request.headers_mut().insert(X_REQUEST_ID, id.clone());
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map_or("unmatched", MatchedPath::as_str);
        // The id is letters, digits and `-_.:` only (checked, or made here): text.
        let span = tracing::info_span!(
            "http",
            method = %request.method(),
            route,
            request_id = id.to_str().unwrap_or_default(),
        );
        let response = self.inner.call(request);
        Box::pin(
            async move {
                let Ok(mut response) = response.await;
                tracing::debug!(status = response.status().as_u16(), "answered");
                response.headers_mut().insert(X_REQUEST_ID, id);
                Ok(response)
            }
            .instrument(span),
        )
    }
}

/// The caller's `X-Request-ID` when there is exactly one and it is short and plain. It is
/// echoed in the response and written to every log line of the request, so any other is
/// replaced: a log line must not be forged or flooded through it.
fn callers_id(request: &Request) -> Option<HeaderValue> {
    let mut ids = request.headers().get_all(X_REQUEST_ID).iter();
    let (Some(id), None) = (ids.next(), ids.next()) else {
        return None;
    };
    let bytes = id.as_bytes();
    let usable = !bytes.is_empty()
        && bytes.len() <= REQUEST_ID_MAX
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    usable.then(|| id.clone())
}

/// A new id in UUID form (version 4 layout), without a system call: a per-process random
/// seed, and a counter through a bijective mix, so ids never repeat within a process and
/// collide across processes only by the chance of two random seeds meeting.
fn new_request_id() -> HeaderValue {
    static SEEDS: LazyLock<(u64, u64)> = LazyLock::new(|| {
        let random = |n: u64| {
            let mut hasher = RandomState::new().build_hasher();
            hasher.write_u64(n);
            hasher.finish()
        };
        (random(1), random(2))
    });
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let high = mix(SEEDS.0.wrapping_add(n));
    let low = mix(SEEDS.1.wrapping_add(n));
    // Version 4 and the RFC 4122 variant, as a random UUID carries them.
    let high = (high & !0xf000) | 0x4000;
    let low = (low & !(0b11 << 62)) | (0b10 << 62);
    let text = format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xffff,
        high & 0xffff,
        low >> 48,
        low & 0xffff_ffff_ffff
    );
    HeaderValue::try_from(text).unwrap_or_else(|_| HeaderValue::from_static("request-id"))
}

/// SplitMix64's finalizer: a bijection of `u64` that spreads every input bit.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_are_uuid_shaped_and_distinct() {
        let ids: Vec<String> = (0..1000)
            .map(|_| new_request_id().to_str().unwrap().to_owned())
            .collect();
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len());
        for id in &ids {
            let parts: Vec<&str> = id.split('-').collect();
            let lengths: Vec<usize> = parts.iter().map(|p| p.len()).collect();
            assert_eq!(lengths, [8, 4, 4, 4, 12], "{id}");
            assert!(parts[2].starts_with('4'), "version 4: {id}");
            assert!(
                matches!(&parts[3][..1], "8" | "9" | "a" | "b"),
                "variant: {id}"
            );
        }
    }
}
