//! Error answers in Clerk's shape:
//! `{"errors":[{"message","long_message","code","meta"?}],"clerk_trace_id"}`.

use std::hash::{BuildHasher, Hasher};

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// One failed request, as Clerk would answer it.
#[derive(Debug, Clone)]
pub(crate) struct ClerkError {
    status: StatusCode,
    code: &'static str,
    message: String,
    long_message: String,
    meta: Option<Value>,
}

impl ClerkError {
    pub(crate) fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
        long_message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            long_message: long_message.into(),
            meta: None,
        }
    }

    /// Names the request parameter at fault (`meta.param_name`), as Clerk does for form
    /// errors.
    pub(crate) fn param(mut self, name: &str) -> Self {
        self.meta = Some(json!({ "param_name": name }));
        self
    }

    /// 422 `form_param_format_invalid`: a parameter of the wrong type or form.
    pub(crate) fn format_invalid(param: &str, long_message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "form_param_format_invalid",
            "is invalid",
            long_message,
        )
        .param(param)
    }

    /// 422 `form_param_value_invalid`: a well-formed parameter with a refused value.
    pub(crate) fn value_invalid(param: &str, long_message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "form_param_value_invalid",
            "is invalid",
            long_message,
        )
        .param(param)
    }

    /// 422 `form_param_unknown`: a parameter this endpoint does not take.
    pub(crate) fn unknown_param(param: &str) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "form_param_unknown",
            "is unknown",
            format!("{param} is not a valid parameter for this request."),
        )
        .param(param)
    }

    /// 422 `form_param_missing`.
    pub(crate) fn missing_param(param: &str) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "form_param_missing",
            "is missing",
            format!("{param} must be included."),
        )
        .param(param)
    }

    /// 422 `form_identifier_exists`: an email address, username or external id is taken.
    pub(crate) fn identifier_exists(param: &str) -> Self {
        let what = match param {
            "email_address" => "That email address",
            "username" => "That username",
            "external_id" => "That external ID",
            _ => "That identifier",
        };
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "form_identifier_exists",
            format!("{what} is taken. Please try another."),
            format!("{what} is taken. Please try another."),
        )
        .param(param)
    }

    /// 422 `fake_clerk_unsupported`: a documented parameter FakeClerk does not model.
    pub(crate) fn unsupported(param: &str) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "fake_clerk_unsupported",
            "not supported by FakeClerk",
            format!("FakeClerk does not model {param}; remove it or extend FakeClerk."),
        )
        .param(param)
    }

    /// 404 `resource_not_found`.
    pub(crate) fn not_found(long_message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "resource_not_found",
            "not found",
            long_message,
        )
    }

    /// 400 for a body that is not a JSON object.
    pub(crate) fn malformed_body() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed_request_body",
            "Malformed request body",
            "The request body is not a valid JSON object.",
        )
    }

    /// 401 for a missing or wrong secret key.
    pub(crate) fn unauthorized(missing: bool) -> Self {
        if missing {
            Self::new(
                StatusCode::UNAUTHORIZED,
                "authentication_invalid",
                "Invalid authentication",
                "Unable to authenticate the request, you need to supply an active API key",
            )
        } else {
            Self::new(
                StatusCode::UNAUTHORIZED,
                "clerk_key_invalid",
                "The provided Clerk Secret Key is invalid. Make sure that your Clerk Secret Key is correct.",
                "The provided Clerk Secret Key is invalid. Make sure that your Clerk Secret Key is correct.",
            )
        }
    }

    /// 429 with `Retry-After` in whole seconds.
    pub(crate) fn too_many_requests(retry_after_secs: u64) -> Response {
        let mut response = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            "Too Many Requests",
            "Too many requests, please try again later.",
        )
        .into_response();
        if let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }

    /// An injected server error with this status.
    pub(crate) fn server(status: StatusCode) -> Self {
        Self::new(
            status,
            "internal_clerk_error",
            "Oops, an unexpected error occurred",
            "There was an internal error on our servers. We've been notified and are working on fixing it.",
        )
    }
}

impl IntoResponse for ClerkError {
    fn into_response(self) -> Response {
        let mut error = json!({
            "message": self.message,
            "long_message": self.long_message,
            "code": self.code,
        });
        if let Some(meta) = self.meta {
            error["meta"] = meta;
        }
        let body = json!({ "errors": [error], "clerk_trace_id": trace_id() });
        (self.status, Json(body)).into_response()
    }
}

/// A fresh 32-hex-digit trace id, as Clerk attaches to each error.
fn trace_id() -> String {
    let state = std::collections::hash_map::RandomState::new();
    let a = state.build_hasher().finish();
    let b = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    format!("{a:016x}{b:016x}")
}
