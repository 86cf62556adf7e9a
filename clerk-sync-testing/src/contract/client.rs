//! Requests to the server under test, and the rules every answer follows.

use reqwest::Method;
use serde_json::Value;

use super::ContractContext;

/// One answer, read whole.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) what: String,
    pub(crate) status: u16,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| {
            panic!(
                "contract: {} must answer JSON, got {}: {}",
                self.what,
                self.status,
                self.text()
            )
        })
    }

    /// Asserts the status, naming the request and showing the body when it differs.
    #[track_caller]
    pub(crate) fn expect(&self, status: u16) -> &Self {
        assert_eq!(
            self.status,
            status,
            "contract: {} must answer {status}, got {}: {}",
            self.what,
            self.status,
            self.text()
        );
        self
    }

    /// Asserts a JSON error `{"error": code, "message": text}` with this status and code.
    #[track_caller]
    pub(crate) fn expect_error(&self, status: u16, code: &str) -> &Self {
        self.expect(status);
        let json = self.json();
        assert_eq!(
            json.get("error").and_then(Value::as_str),
            Some(code),
            "contract: {} must answer the error code `{code}`: {json}",
            self.what
        );
        assert!(
            json.get("message")
                .and_then(Value::as_str)
                .is_some_and(|m| !m.is_empty()),
            "contract: an error body carries a message: {} answered {json}",
            self.what
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "contract: an error of {} is JSON",
            self.what
        );
        self
    }

    /// Asserts a 401 for a session token: the JSON error and the Bearer challenge.
    #[track_caller]
    pub(crate) fn expect_token_challenge(&self) -> &Self {
        assert_eq!(
            self.header("www-authenticate"),
            Some(r#"Bearer error="invalid_token""#),
            "contract: a 401 of {} for a session token carries WWW-Authenticate",
            self.what
        );
        self
    }

    /// Asserts a 503 carries `Retry-After` in whole seconds.
    #[track_caller]
    pub(crate) fn expect_retry_after(&self) -> &Self {
        assert!(
            self.header("retry-after")
                .is_some_and(|v| v.parse::<u64>().is_ok()),
            "contract: the {} of {} carries Retry-After (seconds)",
            self.status,
            self.what
        );
        self
    }

    /// Asserts that `secret` appears nowhere in the answer (body or headers).
    #[track_caller]
    pub(crate) fn expect_no_leak(&self, secret: &str, what: &str) -> &Self {
        assert!(
            !self.text().contains(secret)
                && !self
                    .headers
                    .values()
                    .any(|v| String::from_utf8_lossy(v.as_bytes()).contains(secret)),
            "contract: {} must not quote {what} back",
            self.what
        );
        self
    }
}

/// A request being built.
pub(crate) struct Call<'a> {
    ctx: &'a ContractContext,
    what: String,
    builder: reqwest::RequestBuilder,
}

impl ContractContext {
    pub(crate) fn call(&self, method: Method, path: &str) -> Call<'_> {
        let what = format!("{method} {path}");
        let builder = self
            .client
            .request(method, format!("{}{path}", self.base_url));
        Call {
            ctx: self,
            what,
            builder,
        }
    }

    /// An admin request with the right key.
    pub(crate) fn admin(&self, method: Method, path: &str) -> Call<'_> {
        self.call(method, path).bearer(&self.admin_key)
    }
}

impl Call<'_> {
    pub(crate) fn header(mut self, name: &str, value: &str) -> Self {
        self.builder = self.builder.header(name, value);
        self
    }

    pub(crate) fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    pub(crate) fn json(mut self, body: &Value) -> Self {
        self.builder = self
            .builder
            .header("content-type", "application/json")
            .body(body.to_string());
        self
    }

    pub(crate) fn body(mut self, body: impl Into<reqwest::Body>) -> Self {
        self.builder = self.builder.body(body);
        self
    }

    /// Sends it; every answer must carry `X-Request-ID`.
    pub(crate) async fn send(self) -> Reply {
        let Call { ctx, what, builder } = self;
        let response = builder.send().await.unwrap_or_else(|error| {
            panic!(
                "contract: {what} to {} failed without an answer: {error}",
                ctx.base_url
            )
        });
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .unwrap_or_else(|error| {
                panic!("contract: the body of {what} could not be read: {error}")
            })
            .to_vec();
        let reply = Reply {
            what,
            status,
            headers,
            body,
        };
        assert!(
            reply.header("x-request-id").is_some_and(|v| !v.is_empty()),
            "contract: every response carries X-Request-ID; {} ({}) did not",
            reply.what,
            reply.status
        );
        reply
    }
}
