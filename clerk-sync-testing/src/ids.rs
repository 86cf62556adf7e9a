//! Ids shaped like Clerk's, and the clock that stamps mutations.

use std::hash::{BuildHasher, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A small, fast generator (SplitMix64) seeded from the process's random hasher keys: ids
/// only need to be unique and unpredictable enough for tests, not secret.
pub(crate) struct IdGenerator {
    state: u64,
}

impl IdGenerator {
    pub(crate) fn new() -> Self {
        let seed = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        Self { state: seed }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `<prefix>_` and 27 base62 characters, with both upper- and lower-case letters, as
    /// Clerk's KSUID-based ids have: code that lower-cases or case-folds ids breaks on them,
    /// and tests should see that.
    pub(crate) fn id(&mut self, prefix: &str) -> String {
        let mut id = String::with_capacity(prefix.len() + 28);
        id.push_str(prefix);
        id.push('_');
        // Clerk's ids begin with a timestamp digit; the rest looks random.
        id.push('2');
        for _ in 0..26 {
            let index = (self.next_u64() % 62) as usize;
            id.push(BASE62[index] as char);
        }
        if !id.bytes().any(|b| b.is_ascii_uppercase()) {
            id.replace_range(prefix.len() + 2..prefix.len() + 3, "Q");
        }
        if !id[prefix.len() + 1..]
            .bytes()
            .any(|b| b.is_ascii_lowercase())
        {
            id.replace_range(prefix.len() + 3..prefix.len() + 4, "x");
        }
        id
    }

    /// Lower-case hex, for trace ids.
    pub(crate) fn hex(&mut self, len: usize) -> String {
        let mut out = String::with_capacity(len);
        while out.len() < len {
            out.push_str(&format!("{:016x}", self.next_u64()));
        }
        out.truncate(len);
        out
    }
}

/// Unix milliseconds now.
pub(crate) fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Unix seconds now.
pub(crate) fn unix_secs() -> i64 {
    unix_ms() / 1000
}

/// Mutation timestamps: the wall clock, but strictly increasing, so every change of a user
/// has a newer `updated_at` than the one before (the sync orders changes by it).
pub(crate) struct MutationClock {
    last: i64,
}

impl MutationClock {
    pub(crate) fn new() -> Self {
        Self { last: 0 }
    }

    pub(crate) fn tick(&mut self) -> i64 {
        self.last = unix_ms().max(self.last.saturating_add(1));
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_clerk_ids() {
        let mut ids = IdGenerator::new();
        for _ in 0..1000 {
            let id = ids.id("user");
            assert_eq!(id.len(), "user_".len() + 27);
            assert!(id.starts_with("user_2"));
            assert!(id.bytes().any(|b| b.is_ascii_uppercase()), "{id}");
            assert!(id[5..].bytes().any(|b| b.is_ascii_lowercase()), "{id}");
            assert!(id[5..].bytes().all(|b| b.is_ascii_alphanumeric()));
        }
    }

    #[test]
    fn the_clock_never_repeats() {
        let mut clock = MutationClock::new();
        let mut last = 0;
        for _ in 0..10_000 {
            let now = clock.tick();
            assert!(now > last);
            last = now;
        }
    }
}
