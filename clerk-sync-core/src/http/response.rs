//! [`HttpResponse`]: what every route answers, before an adapter turns it into its framework's
//! response type.

use serde::Serialize;

/// A status, headers and a body: the whole answer of a route, framework-neutral.
///
/// Adapters copy it into their own response type and add nothing but framework plumbing, so
/// that axum and actix-web answer byte for byte the same.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Headers, by lowercase name; `content-type` among them when there is a body.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// `value` as a JSON body with `status`.
    pub fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => HttpResponse {
                status,
                headers: vec![("content-type", "application/json".to_owned())],
                body,
            },
            // Every type answered here serializes; this is only the fallback for a bug.
            Err(_) => super::ApiError::internal().into_response(),
        }
    }

    /// An HTML page.
    pub fn html(status: u16, page: &str) -> Self {
        HttpResponse {
            status,
            headers: vec![
                ("content-type", "text/html; charset=utf-8".to_owned()),
                ("cache-control", "no-store".to_owned()),
            ],
            body: page.as_bytes().to_vec(),
        }
    }

    /// Plain text, e.g. Prometheus' exposition format.
    pub fn text(status: u16, content_type: &str, text: String) -> Self {
        HttpResponse {
            status,
            headers: vec![("content-type", content_type.to_owned())],
            body: text.into_bytes(),
        }
    }

    /// Add a header.
    #[must_use]
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The value of header `name` (lowercase), if set.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}
