//! The signature header: `v1,<base64>` entries separated by spaces.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Length of an HMAC-SHA256 tag.
pub(crate) const TAG_LEN: usize = 32;

/// The only scheme counted; `v1a` (ed25519), `v2` and unknown versions are ignored.
const VERSION: &str = "v1";

/// Yields the decoded tag of every well-formed `v1` entry, skipping everything else.
///
/// Decoding into a fixed 32-byte buffer and requiring exactly 32 bytes is the fix for
/// RUSTSEC-2024-0010, where comparing only the bytes present let `v1,` or a truncated
/// signature pass. `STANDARD` also refuses non-zero trailing bits, so each tag has exactly
/// one accepted spelling: a changed signature string can never decode to the same tag.
pub(crate) fn v1_candidates(header: &str) -> impl Iterator<Item = [u8; TAG_LEN]> + '_ {
    header.split(' ').filter_map(|entry| {
        let (version, encoded) = entry.split_once(',')?;
        if version != VERSION {
            return None;
        }
        let mut tag = [0u8; TAG_LEN];
        match STANDARD.decode_slice(encoded, &mut tag) {
            Ok(TAG_LEN) => Some(tag),
            _ => None,
        }
    })
}
