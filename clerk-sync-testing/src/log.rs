//! The request log: every request FakeClerk received, in arrival order.

use std::time::{Duration, Instant, SystemTime};

/// One request as FakeClerk saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, e.g. `/v1/users/user_2abc`.
    pub path: String,
    /// The route template, e.g. `/v1/users/{id}`; `None` for a path FakeClerk does not serve.
    pub route: Option<String>,
    /// The raw query string, when there was one.
    pub query: Option<String>,
    /// The status answered; `None` when the connection was closed without an answer
    /// ([`Fault::DropResponse`](crate::Fault::DropResponse)).
    pub status: Option<u16>,
    /// The injected fault that shaped the answer, if any.
    pub fault: Option<String>,
    /// The request body, for requests that had one.
    pub body: Option<String>,
    /// The `Clerk-API-Version` header.
    pub api_version: Option<String>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    /// Whether the request carried the right secret key.
    pub authorized: bool,
    /// When it arrived (monotonic, for rate checks).
    pub at: Instant,
    /// When it arrived (wall clock).
    pub received_at: SystemTime,
}

impl RecordedRequest {
    /// `METHOD /route/template` (or the raw path when unrouted), e.g. `GET /v1/users/{id}`.
    pub fn endpoint(&self) -> String {
        format!(
            "{} {}",
            self.method,
            self.route.as_deref().unwrap_or(&self.path)
        )
    }

    /// The values of a query parameter, in order (`email_address=a&email_address=b`).
    pub fn query_values(&self, name: &str) -> Vec<String> {
        let Some(query) = &self.query else {
            return Vec::new();
        };
        query
            .split('&')
            .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
            .filter(|(key, _)| percent_decode(key) == name)
            .map(|(_, value)| percent_decode(value))
            .collect()
    }
}

/// The most requests that arrived within any span shorter than `window`: the number a
/// sliding-window limit of that width would have counted at its worst moment.
pub fn max_in_window(requests: &[RecordedRequest], window: Duration) -> usize {
    let mut times: Vec<Instant> = requests.iter().map(|r| r.at).collect();
    times.sort_unstable();
    let mut best = 0;
    let mut start = 0;
    for end in 0..times.len() {
        while times[end].duration_since(times[start]) >= window {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte.
fn percent_decode(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(base: Instant, ms: u64) -> RecordedRequest {
        RecordedRequest {
            method: "GET".into(),
            path: "/v1/users".into(),
            route: Some("/v1/users".into()),
            query: Some("order_by=%2Bcreated_at&email_address=a%40b.c&email_address=x+y".into()),
            status: Some(200),
            fault: None,
            body: None,
            api_version: None,
            user_agent: None,
            authorized: true,
            at: base + Duration::from_millis(ms),
            received_at: SystemTime::now(),
        }
    }

    #[test]
    fn windows_count_the_worst_span() {
        let base = Instant::now();
        let log: Vec<_> = [0, 100, 900, 1000, 1050, 1999]
            .iter()
            .map(|&ms| at(base, ms))
            .collect();
        // {100, 900, 1000, 1050} spans 950 ms; 0 and 1000 are a full second apart, and so
        // are 900 and 1999 (more than).
        assert_eq!(max_in_window(&log, Duration::from_secs(1)), 4);
        assert_eq!(max_in_window(&log, Duration::from_millis(950)), 3);
        assert_eq!(max_in_window(&log, Duration::from_secs(2)), 6);
        assert_eq!(max_in_window(&[], Duration::from_secs(1)), 0);
    }

    #[test]
    fn query_values_are_decoded() {
        let request = at(Instant::now(), 0);
        assert_eq!(request.query_values("order_by"), ["+created_at"]);
        assert_eq!(request.query_values("email_address"), ["a@b.c", "x y"]);
        assert_eq!(request.endpoint(), "GET /v1/users");
    }
}
