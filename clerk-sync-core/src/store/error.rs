//! The one error type every store returns.

use std::error::Error as StdError;

/// A boxed error from a storage backend, kept as the `source` of a [`StoreError`].
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Why a store operation failed.
///
/// Backends map their driver errors onto these kinds so the engine can decide what to answer
/// without knowing the driver: every kind here makes a webhook answer a retryable 5xx, because
/// a change that could not be stored must be delivered again.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend could not be reached, the pool is closed or timed out, or the connection
    /// dropped mid-operation. Retrying later may succeed.
    #[error("storage backend unavailable")]
    Unavailable(#[source] BoxError),
    /// The backend rejected or failed the operation (constraint, syntax, deadlock, ...).
    #[error("storage backend error")]
    Backend(#[source] BoxError),
    /// A row read from the backend does not fit the model (bad enum string, bad JSON, ...).
    #[error("stored data is invalid: {what}")]
    InvalidData {
        /// Which value was invalid; never contains row contents.
        what: String,
    },
    /// The referenced row does not exist (a local id, an outbox entry, ...).
    #[error("{what} not found")]
    NotFound {
        /// What was looked for, e.g. `"user"`, `"outbox entry"`.
        what: &'static str,
    },
    /// The schema is missing or older than this version of the library expects.
    #[error("storage schema is missing or out of date; run the migrations")]
    Schema(#[source] BoxError),
    /// The store is configured in a way that can never work: a malformed or unsupported
    /// database URL, an unknown database or role, a refused password. Retrying does not help;
    /// a person must fix the configuration.
    #[error("storage is misconfigured: {reason}")]
    Configuration {
        /// What is wrong, without the URL, the password or any other secret.
        reason: String,
        /// The driver's error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
}

impl StoreError {
    /// Whether retrying the same operation later may succeed.
    ///
    /// `Unavailable` and `Backend` (deadlocks, serialization failures) are transient; invalid
    /// data, a missing row, a missing schema or a wrong configuration need a person.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable(_) | StoreError::Backend(_))
    }
}
