//! Deserialization helpers that keep parsing going when Clerk sends `null` for a collection or
//! flag it normally fills in, or a field of a shape this version does not expect.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

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

/// `T` built from the fields of `object` that fit it: the `required` ones must all be there
/// and fit, then every other field is kept if `T` still parses with it, dropped otherwise
/// (it takes its default).
///
/// This runs only after a strict parse failed, so its cost (a parse per field) is paid only
/// for a payload that already does not fit the documented shape.
pub(crate) fn fitting_fields<T: DeserializeOwned>(
    object: &Map<String, Value>,
    required: &[&str],
) -> Option<T> {
    let mut kept = Map::new();
    for key in required {
        kept.insert((*key).to_owned(), object.get(*key)?.clone());
    }
    let fits = |kept: &Map<String, Value>| T::deserialize(&Value::Object(kept.clone())).is_ok();
    if !fits(&kept) {
        return None;
    }
    for (key, value) in object {
        if required.contains(&key.as_str()) {
            continue;
        }
        kept.insert(key.clone(), value.clone());
        if !fits(&kept) {
            kept.remove(key);
        }
    }
    T::deserialize(Value::Object(kept)).ok()
}
