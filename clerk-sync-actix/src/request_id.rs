//! [`RequestId`]: `X-Request-ID` and the request's `tracing` span, as one middleware.
//!
//! Which id a request gets and what its span records is core's
//! ([`request_id`], [`request_span`]), so actix-web and axum log and answer the same; this
//! only reads the request's ids and route template and copies the id onto the response.

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;

use actix_web::Error;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{HeaderName, HeaderValue};
use clerk_sync_core::http::{X_REQUEST_ID, record_answer, request_id, request_span};
use tracing::Instrument as _;

/// Middleware: `X-Request-ID` on every response, and a `tracing` span per request; the
/// counterpart of `clerk_sync_axum::with_request_id`.
///
/// - The id is the request's own `X-Request-ID` when it has exactly one of up to 128
///   letters, digits and `-_.:` (any other is replaced, since the id is echoed and logged),
///   otherwise a new one in UUID form. Handlers see it in the request's `X-Request-ID`
///   header.
/// - It is on every response that passes through the middleware: handlers' answers,
///   extractor refusals, and the default service's 404. Wrap the whole `App` with it.
/// - The span (`http`) carries the method, the route template (`/api/admin/users/{id}`, or
///   `unmatched`) and the id: never a query string, a header or a body.
///
/// ```
/// use actix_web::{App, web};
/// use clerk_sync_actix::RequestId;
///
/// let app = App::new()
///     .wrap(RequestId::default())
///     .route("/", web::get().to(|| async { "hello" }));
/// # let _ = app;
/// ```
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct RequestId;

impl<S, B> Transform<S, ServiceRequest> for RequestId
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = RequestIdService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequestIdService {
            service: Rc::new(service),
        }))
    }
}

/// The service [`RequestId`] wraps an application in.
#[derive(Debug)]
pub struct RequestIdService<S> {
    service: Rc<S>,
}

impl<S, B> Service<ServiceRequest> for RequestIdService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<ServiceResponse<B>, Error>>>>;

    forward_ready!(service);

    fn call(&self, mut request: ServiceRequest) -> Self::Future {
        let name = HeaderName::from_static(X_REQUEST_ID);
        let id = request_id(request.headers().get_all(&name).map(HeaderValue::as_bytes));
        // Letters, digits and `-_.:` only (checked, or made by core): a valid header value.
        let id = HeaderValue::from_str(&id).unwrap_or_else(|_| HeaderValue::from_static("invalid"));
        request.headers_mut().insert(name.clone(), id.clone());
        let route = request.match_pattern();
        let span = request_span(
            request.method().as_str(),
            route.as_deref(),
            id.to_str().unwrap_or_default(),
        );
        let response = span.in_scope(|| self.service.call(request));
        Box::pin(
            async move {
                let mut response = response.await?;
                record_answer(response.status().as_u16());
                response.headers_mut().insert(name, id);
                Ok(response)
            }
            .instrument(span),
        )
    }
}
