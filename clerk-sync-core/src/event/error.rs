//! Why a webhook body could not be turned into a [`WebhookEvent`](super::WebhookEvent).

/// Why a webhook body could not be parsed into a [`WebhookEvent`](super::WebhookEvent).
///
/// Every variant describes the body, never echoes it: bodies carry personal data and these
/// errors end up in logs and in the webhook ledger.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// The body is not UTF-8, so it cannot be JSON.
    #[error("webhook body is not valid UTF-8")]
    NotUtf8(#[source] std::str::Utf8Error),
    /// The body is not a JSON object of the envelope's shape (syntax error, wrong type of a
    /// top-level field, trailing data, ...).
    #[error("webhook body is not a well-formed Clerk event envelope")]
    Malformed(#[source] JsonShapeError),
    /// A field every Clerk event carries is absent (or `null`).
    #[error("webhook envelope has no `{field}` field")]
    MissingField {
        /// The envelope field that was missing: `"type"`, `"data"` or `"timestamp"`.
        field: &'static str,
    },
    /// The envelope `timestamp` is not an integer that fits a date between the years -9999 and
    /// 9999.
    #[error("webhook envelope timestamp is out of range or not an integer")]
    InvalidTimestamp,
    /// The event type is known but its `data` does not have the documented shape.
    #[error("`data` of a `{event_type}` event does not have the documented shape")]
    InvalidData {
        /// The wire event type, e.g. `"user.created"`.
        event_type: String,
        /// Where the data stopped fitting (line and column; no payload contents).
        #[source]
        source: JsonShapeError,
    },
}

/// Where a JSON text stopped fitting the expected shape: the kind of problem, the line and
/// the column, and nothing else.
///
/// serde_json's own messages quote the offending value (`invalid type: string "..."`,
/// `unknown variant `...``). Webhook bodies carry personal data and one-time codes, and these
/// errors reach logs and the ledger, so the message is dropped at the boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("JSON {kind} at line {line}, column {column}")]
pub struct JsonShapeError {
    kind: &'static str,
    line: usize,
    column: usize,
}

impl JsonShapeError {
    /// `"syntax error"`, `"unexpected end of input"`, `"data of the wrong shape"` or
    /// `"read error"`.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The 1-based line where the problem was found (0 when unknown).
    pub fn line(&self) -> usize {
        self.line
    }

    /// The 1-based column where the problem was found (0 when unknown).
    pub fn column(&self) -> usize {
        self.column
    }
}

impl From<serde_json::Error> for JsonShapeError {
    fn from(error: serde_json::Error) -> Self {
        use serde_json::error::Category;
        let kind = match error.classify() {
            Category::Syntax => "syntax error",
            Category::Eof => "unexpected end of input",
            Category::Data => "data of the wrong shape",
            Category::Io => "read error",
        };
        JsonShapeError {
            kind,
            line: error.line(),
            column: error.column(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_errors_never_quote_the_input() {
        for bad in [
            r#"{"id": "MARKER-secret-1"}"#,
            r#""MARKER-secret-2""#,
            r#"{"id": 1, "status": "MARKER-secret-3"}"#,
        ] {
            #[derive(Debug, serde::Deserialize)]
            #[allow(dead_code)]
            struct Shape {
                id: i64,
                status: Option<bool>,
            }
            let serde_error = serde_json::from_str::<Shape>(bad).expect_err("does not fit");
            assert!(
                serde_error.to_string().contains("MARKER"),
                "serde_json quotes the value, which is why this type exists"
            );
            let error = JsonShapeError::from(serde_error);
            assert!(!error.to_string().contains("MARKER"), "{error}");
            assert!(!format!("{error:?}").contains("MARKER"), "{error:?}");
            assert_eq!(error.kind(), "data of the wrong shape");
            assert_eq!(error.line(), 1);
        }
    }
}
