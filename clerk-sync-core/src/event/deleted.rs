//! The stub Clerk sends in place of an object that was deleted.

use serde::{Deserialize, Serialize};

/// The `data` of `*.deleted` events for users, organizations and domains:
/// `{id, object, deleted, external_id?, slug?}`.
///
/// Every field is lenient because Clerk sends only what it still knows about the object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeletedObject {
    /// The id of the deleted object.
    pub id: Option<String>,
    /// The kind of the deleted object, e.g. `"user"`.
    pub object: Option<String>,
    /// Always `true` in practice; `false` when absent.
    #[serde(default, deserialize_with = "super::lenient::null_as_default")]
    pub deleted: bool,
    /// The deleted user's external id, when it had one.
    pub external_id: Option<String>,
    /// The deleted organization's slug, when it had one.
    pub slug: Option<String>,
}

impl DeletedObject {
    /// A deleted-object stub for the given id and object kind, for building payloads in tests.
    pub fn new(id: impl Into<String>, object: impl Into<String>) -> Self {
        Self {
            id: Some(id.into()),
            object: Some(object.into()),
            deleted: true,
            external_id: None,
            slug: None,
        }
    }
}
