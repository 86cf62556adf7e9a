//! What can go wrong talking to the Backend API, with Clerk's own `errors[]` kept.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One entry of Clerk's error list (`errors[]`).
///
/// Clerk answers every failure with `{"errors":[{"message","long_message","code","meta"?}],
/// "clerk_trace_id"?}`. `code` is the stable, machine-readable part (for example
/// `form_identifier_exists`); `long_message` is the readable one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClerkErrorDetail {
    /// The machine-readable code, e.g. `form_identifier_exists`, `resource_not_found`.
    #[serde(default)]
    pub code: String,
    /// A short message.
    #[serde(default)]
    pub message: String,
    /// A longer, readable message.
    #[serde(default)]
    pub long_message: Option<String>,
    /// Extra details, e.g. `{"param_name": "email_address"}`.
    #[serde(default)]
    pub meta: Option<serde_json::Value>,
}

impl ClerkErrorDetail {
    /// An entry with this code and message, for tests and fakes.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            long_message: None,
            meta: None,
        }
    }

    /// `meta.param_name`: the request parameter the error is about, when Clerk names one.
    pub fn param_name(&self) -> Option<&str> {
        self.meta.as_ref()?.get("param_name")?.as_str()
    }
}

/// Clerk's error body: the list of errors and the trace id to quote to Clerk support.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ClerkErrors {
    /// The errors, in Clerk's order. Empty when the body was not in Clerk's shape.
    pub errors: Vec<ClerkErrorDetail>,
    /// Clerk's trace id for the failed request, when sent.
    pub clerk_trace_id: Option<String>,
}

impl ClerkErrors {
    /// Reads an error body leniently: anything that is not Clerk's shape gives an empty list,
    /// because the status code alone still classifies the failure.
    pub(crate) fn parse(body: &[u8]) -> Self {
        #[derive(Deserialize)]
        struct Body {
            #[serde(default)]
            errors: Vec<ClerkErrorDetail>,
            #[serde(default)]
            clerk_trace_id: Option<String>,
        }
        match serde_json::from_slice::<Body>(body) {
            Ok(body) => Self {
                errors: body.errors,
                clerk_trace_id: body.clerk_trace_id,
            },
            Err(_) => Self::default(),
        }
    }

    /// The first error, the one Clerk's SDKs show.
    pub fn first(&self) -> Option<&ClerkErrorDetail> {
        self.errors.first()
    }

    /// Whether any entry carries this code.
    pub fn has_code(&self, code: &str) -> bool {
        self.errors.iter().any(|e| e.code == code)
    }
}

/// What kind of network failure a [`ClerkApiError::Transport`] was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// No connection could be made (refused, DNS, TLS, connect timeout). The request was
    /// surely not sent.
    Connect,
    /// The request or the answer took longer than the request timeout.
    Timeout,
    /// The connection failed after the request may have been sent (closed, reset, body cut).
    Connection,
}

impl fmt::Display for TransportErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportErrorKind::Connect => "could not connect",
            TransportErrorKind::Timeout => "timed out",
            TransportErrorKind::Connection => "connection failed",
        })
    }
}

/// Why a body could not be decoded: the kind of failure and where, never the offending
/// value (serde's own messages quote it, and it may be an email address or a name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeError {
    kind: &'static str,
    line: usize,
    column: usize,
}

impl DecodeError {
    /// `syntax` (not JSON), `data` (JSON of the wrong shape), `eof` (cut short) or `io`.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The line of the failure, 1-based.
    pub fn line(&self) -> usize {
        self.line
    }

    /// The column of the failure, 1-based.
    pub fn column(&self) -> usize {
        self.column
    }
}

impl From<serde_json::Error> for DecodeError {
    fn from(error: serde_json::Error) -> Self {
        use serde_json::error::Category;
        Self {
            kind: match error.classify() {
                Category::Io => "io",
                Category::Syntax => "syntax",
                Category::Data => "data",
                Category::Eof => "eof",
            },
            line: error.line(),
            column: error.column(),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} error at line {}, column {}",
            self.kind, self.line, self.column
        )
    }
}

impl std::error::Error for DecodeError {}

/// An error from [`ClerkApi`](super::ClerkApi).
///
/// Messages never contain the secret key, a request URL (which may carry an email address) or
/// a response body; the only text quoted from Clerk is its own `message`/`long_message`.
///
/// - [`is_retryable`](Self::is_retryable): a later attempt may succeed.
/// - [`is_ambiguous`](Self::is_ambiguous): a create (`POST`) may have been applied by Clerk
///   although no answer says so; resolve it before sending it again (look the user up by
///   email).
/// - [`first_error_code`](Self::first_error_code) / [`has_error_code`](Self::has_error_code) /
///   [`long_message`](Self::long_message): Clerk's own verdict, e.g.
///   `form_identifier_exists`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClerkApiError {
    /// The client could not be configured: a malformed secret key, base URL or limit.
    InvalidConfiguration(&'static str),
    /// An argument was refused before any request, e.g. an empty user id.
    InvalidArgument(&'static str),
    /// 401 or 403: the secret key is wrong, revoked, or not allowed to do this.
    Unauthorized {
        /// 401 or 403.
        status: u16,
        /// Clerk's error body.
        errors: ClerkErrors,
    },
    /// 404: the user (or other resource) does not exist.
    NotFound {
        /// Clerk's error body.
        errors: ClerkErrors,
    },
    /// 429, after the retries allowed by the [`RetryPolicy`](super::RetryPolicy).
    RateLimited {
        /// The `Retry-After` Clerk sent, when it sent one.
        retry_after: Option<Duration>,
        /// Clerk's error body.
        errors: ClerkErrors,
    },
    /// 400 or 422: Clerk refused the parameters (`form_identifier_exists`,
    /// `form_param_format_invalid`, ...).
    Validation {
        /// 400 or 422.
        status: u16,
        /// Clerk's error body.
        errors: ClerkErrors,
    },
    /// Any other 4xx (402 payment required, 409 conflict, ...).
    Rejected {
        /// The status code.
        status: u16,
        /// Clerk's error body.
        errors: ClerkErrors,
    },
    /// 5xx, after the retries allowed (none for a create).
    Server {
        /// The status code.
        status: u16,
        /// Clerk's error body, often empty for gateway errors.
        errors: ClerkErrors,
        /// `true` for a create (`POST`): Clerk may have applied it.
        ambiguous: bool,
    },
    /// No usable answer arrived: connect failure, timeout, dropped connection.
    Transport {
        /// What failed.
        kind: TransportErrorKind,
        /// `true` for a create (`POST`) that may have reached Clerk.
        ambiguous: bool,
        /// The HTTP client's error, without the request URL.
        #[source]
        source: reqwest::Error,
    },
    /// A success answer whose body could not be decoded as the expected JSON.
    Decode {
        /// The status code of the answer.
        status: u16,
        /// `true` for a create (`POST`): it was applied, but its result (the new id) is
        /// unknown.
        ambiguous: bool,
        /// Where decoding failed (without the offending value).
        #[source]
        source: DecodeError,
    },
    /// A success answer that decoded but cannot be used (for example a listed user without
    /// an id, which breaks the cursor), or that was too large.
    UnexpectedResponse {
        /// The status code of the answer.
        status: u16,
        /// Why it cannot be used.
        reason: &'static str,
    },
}

impl ClerkApiError {
    /// Whether a later attempt of the same call may succeed: rate limits, server errors and
    /// network failures. An [ambiguous](Self::is_ambiguous) create is retryable only once
    /// the caller has checked it did not already happen.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ClerkApiError::RateLimited { .. }
                | ClerkApiError::Server { .. }
                | ClerkApiError::Transport { .. }
        )
    }

    /// Whether a create (`POST`) may have been applied by Clerk without the client learning
    /// its result: a timeout or dropped connection after sending, a 5xx, or an undecodable
    /// success. Sending it again blindly could create a twin; look it up first.
    pub fn is_ambiguous(&self) -> bool {
        match self {
            ClerkApiError::Server { ambiguous, .. }
            | ClerkApiError::Transport { ambiguous, .. }
            | ClerkApiError::Decode { ambiguous, .. } => *ambiguous,
            _ => false,
        }
    }

    /// Whether Clerk answered 404.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ClerkApiError::NotFound { .. })
    }

    /// Whether Clerk refused the secret key (401/403).
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, ClerkApiError::Unauthorized { .. })
    }

    /// The HTTP status Clerk answered, when an answer arrived.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClerkApiError::Unauthorized { status, .. }
            | ClerkApiError::Validation { status, .. }
            | ClerkApiError::Rejected { status, .. }
            | ClerkApiError::Server { status, .. }
            | ClerkApiError::Decode { status, .. }
            | ClerkApiError::UnexpectedResponse { status, .. } => Some(*status),
            ClerkApiError::NotFound { .. } => Some(404),
            ClerkApiError::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    /// Clerk's error body, when the failure was an answer from Clerk.
    pub fn clerk_errors(&self) -> Option<&ClerkErrors> {
        match self {
            ClerkApiError::Unauthorized { errors, .. }
            | ClerkApiError::NotFound { errors }
            | ClerkApiError::RateLimited { errors, .. }
            | ClerkApiError::Validation { errors, .. }
            | ClerkApiError::Rejected { errors, .. }
            | ClerkApiError::Server { errors, .. } => Some(errors),
            _ => None,
        }
    }

    /// Clerk's error entries (empty when there are none).
    pub fn errors(&self) -> &[ClerkErrorDetail] {
        self.clerk_errors().map_or(&[], |e| e.errors.as_slice())
    }

    /// The code of Clerk's first error, e.g. `form_identifier_exists`.
    pub fn first_error_code(&self) -> Option<&str> {
        self.errors().first().map(|e| e.code.as_str())
    }

    /// Whether any of Clerk's errors carries this code.
    pub fn has_error_code(&self, code: &str) -> bool {
        self.errors().iter().any(|e| e.code == code)
    }

    /// The readable message of Clerk's first error: its `long_message`, else its `message`.
    pub fn long_message(&self) -> Option<&str> {
        let first = self.errors().first()?;
        first
            .long_message
            .as_deref()
            .filter(|m| !m.is_empty())
            .or(Some(first.message.as_str()).filter(|m| !m.is_empty()))
    }

    /// The `Retry-After` of a 429, when Clerk sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ClerkApiError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Clerk's trace id for the failed request, to quote to Clerk support.
    pub fn clerk_trace_id(&self) -> Option<&str> {
        self.clerk_errors()?.clerk_trace_id.as_deref()
    }
}

/// `: <message>` with Clerk's readable message, or nothing.
struct ClerkSays<'a>(Option<&'a str>);

impl fmt::Display for ClerkSays<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(message) => write!(f, ": {message}"),
            None => Ok(()),
        }
    }
}

fn ambiguity(ambiguous: bool) -> &'static str {
    if ambiguous {
        " (the create may have been applied)"
    } else {
        ""
    }
}

impl fmt::Display for ClerkApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let says = ClerkSays(self.long_message());
        match self {
            ClerkApiError::InvalidConfiguration(what) => {
                write!(f, "invalid Clerk API configuration: {what}")
            }
            ClerkApiError::InvalidArgument(what) => write!(f, "invalid argument: {what}"),
            ClerkApiError::Unauthorized { status, .. } => write!(
                f,
                "Clerk refused the secret key (HTTP {status}); check CLERK_SECRET_KEY{says}"
            ),
            ClerkApiError::NotFound { .. } => write!(f, "not found in Clerk (HTTP 404){says}"),
            ClerkApiError::RateLimited { retry_after, .. } => {
                write!(f, "rate limited by Clerk (HTTP 429)")?;
                if let Some(after) = retry_after {
                    write!(f, ", retry after {} s", after.as_secs())?;
                }
                write!(f, "{says}")
            }
            ClerkApiError::Validation { status, .. } => {
                write!(f, "Clerk refused the request (HTTP {status}){says}")
            }
            ClerkApiError::Rejected { status, .. } => {
                write!(f, "Clerk refused the request (HTTP {status}){says}")
            }
            ClerkApiError::Server {
                status, ambiguous, ..
            } => write!(
                f,
                "Clerk server error (HTTP {status}){}{says}",
                ambiguity(*ambiguous)
            ),
            ClerkApiError::Transport {
                kind, ambiguous, ..
            } => write!(
                f,
                "request to Clerk failed: {kind}{}",
                ambiguity(*ambiguous)
            ),
            ClerkApiError::Decode {
                status, ambiguous, ..
            } => write!(
                f,
                "Clerk's answer (HTTP {status}) is not the expected JSON{}",
                ambiguity(*ambiguous)
            ),
            ClerkApiError::UnexpectedResponse { status, reason } => {
                write!(f, "Clerk's answer (HTTP {status}) cannot be used: {reason}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_is_read_leniently() {
        let body = br#"{"errors":[{"message":"is taken","long_message":"That email address is taken.","code":"form_identifier_exists","meta":{"param_name":"email_address"}}],"clerk_trace_id":"t1"}"#;
        let errors = ClerkErrors::parse(body);
        assert_eq!(errors.errors.len(), 1);
        assert_eq!(errors.errors[0].param_name(), Some("email_address"));
        assert_eq!(errors.clerk_trace_id.as_deref(), Some("t1"));
        assert!(errors.has_code("form_identifier_exists"));

        assert!(
            ClerkErrors::parse(b"<html>bad gateway</html>")
                .errors
                .is_empty()
        );
        assert!(
            ClerkErrors::parse(br#"{"errors":"nope"}"#)
                .errors
                .is_empty()
        );
    }

    #[test]
    fn helpers_read_the_first_error() {
        let error = ClerkApiError::Validation {
            status: 422,
            errors: ClerkErrors::parse(
                br#"{"errors":[{"message":"short","long_message":"","code":"a"},{"message":"m2","code":"b"}]}"#,
            ),
        };
        assert_eq!(error.first_error_code(), Some("a"));
        assert!(error.has_error_code("b"));
        // An empty long_message falls back to the message.
        assert_eq!(error.long_message(), Some("short"));
        assert_eq!(
            error.to_string(),
            "Clerk refused the request (HTTP 422): short"
        );
        assert!(!error.is_retryable());
        assert_eq!(error.status(), Some(422));
    }

    #[test]
    fn retryable_and_ambiguous_are_separate() {
        let server = |ambiguous| ClerkApiError::Server {
            status: 503,
            errors: ClerkErrors::default(),
            ambiguous,
        };
        assert!(server(false).is_retryable());
        assert!(!server(false).is_ambiguous());
        assert!(server(true).is_ambiguous());
        assert!(
            server(true)
                .to_string()
                .contains("the create may have been applied")
        );
        assert!(
            !ClerkApiError::NotFound {
                errors: ClerkErrors::default()
            }
            .is_retryable()
        );
    }

    #[test]
    fn decode_errors_do_not_quote_the_body() {
        #[derive(Debug, Deserialize)]
        struct Count {
            #[allow(dead_code)]
            total_count: u64,
        }
        let serde_error =
            serde_json::from_str::<Count>(r#"{"total_count":"ada@example.com"}"#).unwrap_err();
        assert!(
            serde_error.to_string().contains("ada@example.com"),
            "serde quotes it"
        );
        let error = ClerkApiError::Decode {
            status: 200,
            ambiguous: false,
            source: serde_error.into(),
        };
        let texts = [
            error.to_string(),
            format!("{error:?}"),
            std::error::Error::source(&error).unwrap().to_string(),
        ];
        for text in texts {
            assert!(!text.contains("ada@example.com"), "{text}");
        }
        assert!(format!("{error:?}").contains("data"));
    }
}
