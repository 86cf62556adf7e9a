//! Verified tokens, keyed by the SHA-256 of the whole token, each kept until its `exp`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use sha2::{Digest, Sha256};

use super::claims::SessionClaims;

/// SHA-256 of the token: collision resistance is what makes it safe to answer a token with
/// claims cached for "its" hash.
pub(crate) type TokenHash = [u8; 32];

pub(crate) fn hash_token(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

struct Entry {
    claims: Arc<SessionClaims>,
    exp: i64,
}

/// Sharded so concurrent requests rarely touch the same lock; each shard is an `RwLock`, so
/// hits on one shard do not serialize either.
pub(crate) struct TokenCache {
    shards: Box<[RwLock<HashMap<TokenHash, Entry>>]>,
    shard_capacity: usize,
    capacity: usize,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    /// `capacity` must be at least 1.
    pub(crate) fn new(capacity: usize) -> Self {
        let shard_count = capacity.clamp(1, 16);
        let shard_capacity = capacity.div_ceil(shard_count);
        let shards = (0..shard_count)
            .map(|_| RwLock::new(HashMap::new()))
            .collect();
        TokenCache {
            shards,
            shard_capacity,
            capacity,
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    fn shard(&self, hash: &TokenHash) -> &RwLock<HashMap<TokenHash, Entry>> {
        &self.shards[usize::from(hash[0]) % self.shards.len()]
    }

    /// The cached claims, only while `now < exp`: an expired token is never answered from here.
    pub(crate) fn get(&self, hash: &TokenHash, now: i64) -> Option<Arc<SessionClaims>> {
        let shard = self.shard(hash).read().unwrap_or_else(|e| e.into_inner());
        shard
            .get(hash)
            .filter(|entry| now < entry.exp)
            .map(|entry| entry.claims.clone())
    }

    pub(crate) fn insert(&self, hash: TokenHash, claims: Arc<SessionClaims>, now: i64) {
        let exp = claims.exp;
        if now >= exp {
            return;
        }
        let mut shard = self.shard(&hash).write().unwrap_or_else(|e| e.into_inner());
        if shard.len() >= self.shard_capacity && !shard.contains_key(&hash) {
            // Expired entries go first; if the shard is still full of live tokens, drop the one
            // that expires soonest (it had the least life left to save RSA work for).
            shard.retain(|_, entry| now < entry.exp);
            if shard.len() >= self.shard_capacity {
                let soonest = shard
                    .iter()
                    .min_by_key(|(_, entry)| entry.exp)
                    .map(|(k, _)| *k);
                if let Some(soonest) = soonest {
                    shard.remove(&soonest);
                }
            }
        }
        shard.insert(hash, Entry { claims, exp });
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Arc<SessionClaims> {
        Arc::new(SessionClaims {
            sub: "user_1".into(),
            sid: None,
            azp: None,
            iss: None,
            exp,
            iat: None,
            nbf: None,
            sts: None,
            act: None,
            fva: None,
            org: None,
            extra: Default::default(),
        })
    }

    #[test]
    fn bounded_by_capacity() {
        let cache = TokenCache::new(32);
        for i in 0..1000 {
            cache.insert(hash_token(&format!("t{i}")), claims(100 + i), 0);
        }
        assert!(cache.len() <= 32, "len {}", cache.len());
    }

    #[test]
    fn entry_dies_at_exp() {
        let cache = TokenCache::new(4);
        let h = hash_token("a");
        cache.insert(h, claims(10), 0);
        assert!(cache.get(&h, 9).is_some());
        assert!(cache.get(&h, 10).is_none());
    }

    #[test]
    fn already_expired_is_not_stored() {
        let cache = TokenCache::new(4);
        let h = hash_token("a");
        cache.insert(h, claims(10), 10);
        assert!(cache.get(&h, 0).is_none());
    }

    #[test]
    fn full_shard_evicts_soonest_expiry() {
        let cache = TokenCache::new(1);
        let (a, b) = (hash_token("a"), hash_token("b"));
        cache.insert(a, claims(50), 0);
        cache.insert(b, claims(60), 0);
        assert!(cache.get(&a, 0).is_none());
        assert!(cache.get(&b, 0).is_some());
    }
}
