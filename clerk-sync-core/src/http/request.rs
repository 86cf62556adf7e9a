//! Reading a request's parts the way every route wants them, whatever the framework: the
//! credential headers, header text, and the body up to a limit.
//!
//! The adapters hand these functions raw bytes (header values as the framework holds them,
//! the body's chunks as they arrive), so that what is refused, and with which status, is
//! decided here once for axum and actix-web alike.

use std::borrow::Cow;

use futures_util::{Stream, StreamExt as _};

use super::ApiError;

/// The raw `Authorization` and `Cookie` values of a request, as
/// [`ClerkHttp::session`](super::ClerkHttp::session) and [`ClerkHttp::me`](super::ClerkHttp::me)
/// take them.
///
/// ```
/// use clerk_sync_core::http::SessionHeaders;
///
/// let headers = SessionHeaders::from_raw(
///     Some(b"Bearer a.b.c".as_slice()),
///     [b"theme=dark".as_slice(), b"__session=x.y.z".as_slice()],
/// )?;
/// assert_eq!(headers.authorization, Some("Bearer a.b.c"));
/// assert_eq!(headers.cookie.as_deref(), Some("theme=dark; __session=x.y.z"));
///
/// // An `Authorization` header that is not text is refused, never read as "signed out".
/// let error = SessionHeaders::from_raw(Some(b"Bearer \xff".as_slice()), []).unwrap_err();
/// assert_eq!((error.status, error.code), (400, "invalid_header"));
/// # Ok::<(), clerk_sync_core::http::ApiError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionHeaders<'a> {
    /// The `Authorization` value, as text.
    pub authorization: Option<&'a str>,
    /// Every `Cookie` header, joined with `; ` when there are several (HTTP/2 may split
    /// them).
    pub cookie: Option<Cow<'a, str>>,
}

impl<'a> SessionHeaders<'a> {
    /// From the request's `Authorization` value and its `Cookie` values, in order.
    ///
    /// # Errors
    ///
    /// 400 `invalid_header` when `Authorization` is present but not text: a credential that
    /// cannot be read is not the same as no credential, so it must not fall through to
    /// "signed out".
    pub fn from_raw(
        authorization: Option<&'a [u8]>,
        cookies: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Self, ApiError> {
        let authorization = authorization_text(authorization)?;
        // Other applications' cookies may hold any bytes; only `__session` matters here, so
        // unreadable bytes are replaced rather than refused.
        let mut cookies = cookies.into_iter().map(String::from_utf8_lossy);
        let cookie = match (cookies.next(), cookies.next()) {
            (None, _) => None,
            (Some(one), None) => Some(one),
            (Some(first), Some(second)) => {
                let mut joined = format!("{first}; {second}");
                for more in cookies {
                    joined.push_str("; ");
                    joined.push_str(&more);
                }
                Some(Cow::Owned(joined))
            }
        };
        Ok(SessionHeaders {
            authorization,
            cookie,
        })
    }
}

/// An `Authorization` value as text.
///
/// # Errors
///
/// 400 `invalid_header` when it is present but not UTF-8 (the value is never quoted back).
pub fn authorization_text(value: Option<&[u8]>) -> Result<Option<&str>, ApiError> {
    value
        .map(|value| {
            std::str::from_utf8(value).map_err(|_| ApiError::invalid_header("authorization"))
        })
        .transpose()
}

/// A header's value as text, for core's lookups (the webhook's `svix-*` headers): a value
/// that is not UTF-8 reads as absent, and core then answers what a missing header gets.
pub fn header_text(value: Option<&[u8]>) -> Option<&str> {
    value.and_then(|v| std::str::from_utf8(v).ok())
}

/// A path segment (the `{id}` of a route) as the framework matched it, percent-decoded.
///
/// For frameworks that hand routes a segment still (partly) percent-encoded, as actix-web
/// does (it leaves `%2F`, `%25` and `%2B` encoded, and decodes the rest lossily); a framework
/// that decodes segments itself refuses what this refuses, with [`ApiError::invalid_path`].
///
/// # Errors
///
/// 400 (`invalid_path`'s) for a bad escape, bytes that are not UTF-8, or U+FFFD: the
/// replacement character a lossy decoder put where bytes were not UTF-8 (no Clerk id or
/// local id contains it).
///
/// ```
/// use clerk_sync_core::http::path_segment;
///
/// assert_eq!(path_segment("user_2abc").unwrap(), "user_2abc");
/// assert_eq!(path_segment("a%20b+c%2F").unwrap(), "a b+c/");
/// assert_eq!(path_segment("%ff").unwrap_err().status, 400);
/// assert_eq!(path_segment("user_\u{fffd}").unwrap_err().status, 400);
/// ```
pub fn path_segment(raw: &str) -> Result<Cow<'_, str>, ApiError> {
    if raw.contains('\u{fffd}') {
        return Err(ApiError::invalid_path());
    }
    if !raw.contains('%') {
        return Ok(Cow::Borrowed(raw));
    }
    super::query::percent_decode(raw, false)
        .map(Cow::Owned)
        .ok_or_else(ApiError::invalid_path)
}

/// A request body, read to its end but never past `limit` bytes.
///
/// `content_length` is the raw `Content-Length` value, if any; `body` the body's chunks as
/// the framework yields them.
///
/// # Errors
///
/// 413 `payload_too_large` when `Content-Length` announces more than `limit` (nothing is
/// read) or the chunks add up to more (reading stops there, so an endless body is cut at the
/// limit); 400 `unreadable_body` when the stream fails (its error is logged at debug level,
/// never answered).
pub async fn read_body<S, B, E>(
    content_length: Option<&[u8]>,
    body: S,
    limit: usize,
) -> Result<Vec<u8>, ApiError>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
    E: std::fmt::Display,
{
    let announced = header_text(content_length).and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|length| length > limit as u64) {
        return Err(ApiError::payload_too_large(limit));
    }
    // The announced length (within the limit) is the likely size; without one, grow.
    let mut read = Vec::with_capacity(announced.map_or(0, |n| n as usize));
    let mut body = std::pin::pin!(body);
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(chunk) => {
                let chunk = chunk.as_ref();
                if chunk.len() > limit - read.len() {
                    return Err(ApiError::payload_too_large(limit));
                }
                read.extend_from_slice(chunk);
            }
            Err(error) => {
                tracing::debug!(%error, "request body could not be read");
                return Err(ApiError::unreadable_body());
            }
        }
    }
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(
        parts: Vec<Result<&'static [u8], &'static str>>,
    ) -> impl Stream<Item = Result<&'static [u8], &'static str>> {
        futures_util::stream::iter(parts)
    }

    fn run<T>(future: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(future)
    }

    #[test]
    fn a_body_is_read_up_to_the_limit_exactly() {
        let body = run(read_body(None, chunks(vec![Ok(b"ab"), Ok(b"cd")]), 4)).unwrap();
        assert_eq!(body, b"abcd");
        let error = run(read_body(None, chunks(vec![Ok(b"ab"), Ok(b"cde")]), 4)).unwrap_err();
        assert_eq!((error.status, error.code), (413, "payload_too_large"));
    }

    #[test]
    fn an_announced_length_over_the_limit_is_413_before_reading() {
        let error = run(read_body(Some(b"5"), chunks(vec![Ok(b"a")]), 4)).unwrap_err();
        assert_eq!(error.status, 413);
        let body = run(read_body(Some(b"4"), chunks(vec![Ok(b"abcd")]), 4)).unwrap();
        assert_eq!(body, b"abcd");
    }

    #[test]
    fn a_failing_stream_is_400_without_its_error() {
        let error = run(read_body(
            None,
            chunks(vec![Ok(b"{"), Err("connection reset")]),
            64,
        ))
        .unwrap_err();
        assert_eq!((error.status, error.code), (400, "unreadable_body"));
        assert!(!error.message.contains("reset"));
    }

    #[test]
    fn header_text_reads_bytes_that_are_not_utf8_as_absent() {
        assert_eq!(header_text(Some(b"msg_1")), Some("msg_1"));
        assert_eq!(header_text(Some(b"\xff")), None);
        assert_eq!(header_text(None), None);
    }
}
