//! Deserialization helpers that keep parsing going when Clerk sends `null` for a collection or
//! flag it normally fills in.

use serde::{Deserialize, Deserializer};

/// `null` or absent (with `#[serde(default)]`) becomes `T::default()`.
///
/// Clerk's schemas mark arrays and booleans as non-null, yet older instances and some events
/// send `null` (`organization_memberships`, for one); refusing the whole event for that would
/// drop a valid change.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}
