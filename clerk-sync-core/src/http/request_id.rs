//! `X-Request-ID` and the request's `tracing` span, the same for every framework.
//!
//! The adapters' request-id layers (`clerk_sync_axum::with_request_id`,
//! `clerk_sync_actix::RequestId`) only read the request's ids and route template, call these,
//! and copy the id onto the response.

use std::borrow::Cow;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The header every response carries, by lowercase name.
pub const X_REQUEST_ID: &str = "x-request-id";

/// The longest caller-chosen request id kept.
pub const REQUEST_ID_MAX: usize = 128;

/// The id of a request: the caller's `X-Request-ID` (every value of the header, in order)
/// when there is exactly one and it is short and plain, otherwise a new one from
/// [`new_request_id`].
///
/// The id is echoed in the response and written to every log line of the request, so a
/// caller's id is kept only when it is 1 to [`REQUEST_ID_MAX`] letters, digits and `-_.:`:
/// a log line must not be forged or flooded through it.
///
/// ```
/// use clerk_sync_core::http::request_id;
///
/// assert_eq!(request_id([b"req-42".as_slice()]), "req-42");
/// assert_eq!(request_id([b"two words".as_slice()]).len(), 36); // replaced by a UUID
/// assert_eq!(request_id([b"a".as_slice(), b"b".as_slice()]).len(), 36);
/// assert_ne!(request_id([]), request_id([]));
/// ```
pub fn request_id<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Cow<'a, str> {
    let mut values = values.into_iter();
    let (Some(id), None) = (values.next(), values.next()) else {
        return Cow::Owned(new_request_id());
    };
    let usable = !id.is_empty()
        && id.len() <= REQUEST_ID_MAX
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    match std::str::from_utf8(id) {
        Ok(id) if usable => Cow::Borrowed(id),
        _ => Cow::Owned(new_request_id()),
    }
}

/// The `tracing` span a request runs in: `http` with its method, its route template
/// (`/api/admin/users/{id}`, never the raw path or query; `unmatched` when no route serves
/// it) and its id. Nothing else of the request is recorded.
pub fn request_span(method: &str, route: Option<&str>, request_id: &str) -> tracing::Span {
    tracing::info_span!(
        "http",
        method = %method,
        route = route.unwrap_or("unmatched"),
        request_id,
    )
}

/// The event that closes a request's span: its status, nothing else.
pub fn record_answer(status: u16) {
    tracing::debug!(status, "answered");
}

/// A new id in UUID form (version 4 layout), without a system call: a per-process random
/// seed, and a counter through a bijective mix, so ids never repeat within a process and
/// collide across processes only by the chance of two random seeds meeting.
pub fn new_request_id() -> String {
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
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xffff,
        high & 0xffff,
        low >> 48,
        low & 0xffff_ffff_ffff
    )
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
        let ids: Vec<String> = (0..1000).map(|_| new_request_id()).collect();
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

    #[test]
    fn only_one_short_plain_caller_id_is_kept() {
        let longest = "a".repeat(REQUEST_ID_MAX);
        assert_eq!(request_id([longest.as_bytes()]), longest.as_str());
        assert_eq!(request_id([b"a:b.c_d-9".as_slice()]), "a:b.c_d-9");
        let too_long = "a".repeat(REQUEST_ID_MAX + 1);
        for unusable in [
            too_long.as_bytes(),
            b"",
            b"line\tbreak",
            b"quote\"d",
            b"spa ce",
            b"\xff",
        ] {
            let id = request_id([unusable]);
            assert_eq!(id.len(), 36, "{unusable:?} replaced, got {id}");
        }
    }
}
