//! [`ServiceError`]: what stops a command, printed as one line by [`exit_code`].

use std::process::ExitCode;

use clerk_sync_core::store::StoreError;
use clerk_sync_core::sync::SyncError;

use crate::config::ConfigError;

/// Why a command failed. `Display` is one line: the configuration variable at fault, or what
/// failed with its causes. Nothing in it quotes a secret, a URL or a payload.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The configuration cannot be used.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database failed.
    #[error("the database: {}", chain(.0))]
    Store(#[from] StoreError),
    /// The engine failed (Clerk, the database, a lease).
    #[error("{}", chain(.0))]
    Sync(#[from] SyncError),
    /// Anything else, already in words.
    #[error("{0}")]
    Other(String),
}

impl ServiceError {
    /// A connect or migrate error of the store: a malformed URL, an unknown database or a
    /// refused password name `DATABASE_URL` (the store's reasons never quote the URL).
    pub fn database(error: StoreError) -> ServiceError {
        match error {
            StoreError::Configuration { reason, .. } => {
                ServiceError::Config(ConfigError::Invalid {
                    var: "DATABASE_URL",
                    reason,
                })
            }
            StoreError::Unavailable(source) => ServiceError::Other(format!(
                "DATABASE_URL: the database does not answer: {}",
                chain(source.as_ref())
            )),
            other => ServiceError::Store(other),
        }
    }
}

/// Print a failed command's error as one line on stderr (`error: ...`) and answer the exit
/// code: success, or 1. Never a panic or a backtrace.
pub fn exit_code(result: Result<(), ServiceError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// An error and its sources on one line, `a: b: c`. The library's errors name kinds and ids,
/// never values, so the chain is safe to log and print.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let next = cause.to_string();
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_configuration_errors_name_database_url() {
        let error = ServiceError::database(StoreError::Configuration {
            reason: "the PostgreSQL URL is malformed".to_owned(),
            source: None,
        });
        assert_eq!(
            error.to_string(),
            "DATABASE_URL: the PostgreSQL URL is malformed"
        );
        let error = ServiceError::database(StoreError::Unavailable("connection refused".into()));
        assert_eq!(
            error.to_string(),
            "DATABASE_URL: the database does not answer: connection refused"
        );
    }
}
