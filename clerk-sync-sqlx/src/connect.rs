//! [`SqlxStore::connect`]: from a URL to a pool, with errors a new user can act on.
//!
//! Three rules, each from a user who hit the opposite:
//! - **Nothing of the URL in an error.** Not the scheme, host, user, password, database or
//!   query string, and not the server's message either: PostgreSQL and MySQL name the user and
//!   the database in theirs. An error says what went wrong in fixed words, with the server's
//!   error code or the I/O error kind ([`ConnectFailure`]).
//! - **The cause, at once.** sqlx's pool retries a refused connection until its acquire
//!   timeout, then reports only that it timed out. So one connection is opened first, with the
//!   pool's options and no retry; its failure is the answer.
//! - **Configuration is not an outage.** A malformed URL, a refused password, an unknown role
//!   or database are [`StoreError::Configuration`] (not transient: retrying never helps); a
//!   server that cannot be reached is [`StoreError::Unavailable`].

use std::time::Duration;

use clerk_sync_core::store::StoreError;
use sqlx::ConnectOptions;

use crate::SqlxStore;
use crate::error::Class;

/// How long the first connection may take, and the pools' acquire timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What went wrong while connecting, in words that quote nothing of the URL or of the server's
/// message: kept as the `source` of a connect error.
#[derive(Debug)]
pub(crate) struct ConnectFailure(String);

impl std::fmt::Display for ConnectFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConnectFailure {}

impl ConnectFailure {
    /// `err` described by its kind and code only.
    fn of(err: &sqlx::Error) -> Self {
        ConnectFailure(match err {
            sqlx::Error::Io(io) => match (io.get_ref(), io.raw_os_error()) {
                // An operating-system error: its text is the system's, not ours to fill in.
                (None, Some(_)) => io.to_string(),
                // Another I/O error (name resolution, a custom one) may carry text built from
                // the host name: say its kind only.
                _ => format!("I/O error: {}", io.kind()),
            },
            sqlx::Error::Database(db) => match (mysql_number(db.as_ref()), db.code()) {
                (Some(number), _) => format!("the server answered with error {number}"),
                (None, Some(code)) => format!("the server answered with error code {code}"),
                (None, None) => "the server answered with an error".to_owned(),
            },
            sqlx::Error::Tls(_) => "TLS negotiation failed".to_owned(),
            sqlx::Error::Protocol(_) => {
                "the server's answer did not follow the protocol".to_owned()
            }
            sqlx::Error::PoolTimedOut => "timed out".to_owned(),
            sqlx::Error::Configuration(_) => "the connection options were rejected".to_owned(),
            _ => "the connection failed".to_owned(),
        })
    }
}

/// The MySQL error number, which says more than its SQLSTATE.
fn mysql_number(db: &dyn sqlx::error::DatabaseError) -> Option<u16> {
    #[cfg(feature = "mysql")]
    if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return Some(my.number());
    }
    let _ = db;
    None
}

/// A connect error from sqlx, classified and described without anything of the URL.
fn connect_error(err: sqlx::Error) -> StoreError {
    let failure = ConnectFailure::of(&err);
    let configuration = |reason: &str| StoreError::Configuration {
        reason: reason.to_owned(),
        source: Some(Box::new(ConnectFailure(failure.0.clone()))),
    };
    match &err {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => {
            StoreError::Unavailable(Box::new(failure))
        }
        sqlx::Error::Tls(_) => configuration("TLS negotiation with the server failed"),
        sqlx::Error::Protocol(_) => configuration(
            "the server does not speak this database's protocol: check the scheme and the port",
        ),
        sqlx::Error::Configuration(_) => configuration("the database URL's options are invalid"),
        sqlx::Error::Database(_) => match crate::error::class_of(&err) {
            Class::Configuration(reason) => configuration(reason),
            Class::Unavailable | Class::Conflict(_) => StoreError::Unavailable(Box::new(failure)),
            Class::Schema | Class::Other => StoreError::Backend(Box::new(failure)),
        },
        _ => StoreError::Backend(Box::new(failure)),
    }
}

/// A configuration error about the URL itself; there is no source worth keeping, since sqlx's
/// parse errors quote the values they reject.
fn bad_url(reason: impl Into<String>) -> StoreError {
    StoreError::Configuration {
        reason: reason.into(),
        source: None,
    }
}

/// The databases this build can open, for error messages.
fn enabled() -> String {
    let mut schemes = Vec::new();
    if cfg!(feature = "postgres") {
        schemes.push("postgres://");
    }
    if cfg!(feature = "sqlite") {
        schemes.push("sqlite:");
    }
    if cfg!(feature = "mysql") {
        schemes.push("mysql:// (or mariadb://)");
    }
    schemes.join(", ")
}

/// The URL's scheme, lowercased, if it starts with one (`letter *(letter / digit / + - .)`
/// followed by `:`).
fn scheme(url: &str) -> Option<String> {
    let (scheme, _) = url.split_once(':')?;
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then(|| scheme.to_ascii_lowercase())
}

pub(crate) async fn connect(url: &str) -> Result<SqlxStore, StoreError> {
    let url = url.trim();
    let Some(scheme) = scheme(url) else {
        // libpq's `host=db user=app password=...`: common in DATABASE_URL, and full of secrets.
        if url.contains('=') && !url.contains("://") {
            return Err(bad_url(format!(
                "the database URL looks like a libpq key=value string, which is not supported: \
                 use a URL such as postgres://user:password@host:5432/database (enabled: {})",
                enabled()
            )));
        }
        return Err(bad_url(format!(
            "the database URL has no scheme; expected one of: {}",
            enabled()
        )));
    };
    match scheme.as_str() {
        #[cfg(feature = "postgres")]
        "postgres" | "postgresql" => {
            let options: sqlx::postgres::PgConnectOptions = url
                .parse()
                .map_err(|_| bad_url("the PostgreSQL URL is malformed (check the host, the port and percent-encoding)"))?;
            probe(&options).await?;
            Ok(SqlxStore::from_pool(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(CONNECT_TIMEOUT)
                    .connect_lazy_with(options),
            ))
        }
        #[cfg(feature = "mysql")]
        "mysql" | "mariadb" => {
            // sqlx knows the scheme as mysql://; mariadb:// is the same protocol.
            let rest = &url[scheme.len()..];
            let options: sqlx::mysql::MySqlConnectOptions = format!("mysql{rest}")
                .parse()
                .map_err(|_| bad_url("the MySQL URL is malformed (check the host, the port and percent-encoding)"))?;
            probe(&options).await?;
            Ok(SqlxStore::from_pool(
                sqlx::mysql::MySqlPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(CONNECT_TIMEOUT)
                    .connect_lazy_with(options),
            ))
        }
        #[cfg(feature = "sqlite")]
        "sqlite" => {
            let (options, pool) = crate::sqlite::options(url)
                .map_err(|_| bad_url("the SQLite URL is malformed (check its query parameters)"))?;
            // SQLite errors at open are not retried by the pool: the first is returned.
            let pool = pool.connect_with(options).await.map_err(connect_error)?;
            Ok(SqlxStore::from_pool(pool))
        }
        other
            if matches!(
                other,
                "postgres" | "postgresql" | "mysql" | "mariadb" | "sqlite"
            ) =>
        {
            Err(bad_url(format!(
                "this build of clerk-sync-sqlx does not include that database (enabled: {}); \
                 turn on its feature",
                enabled()
            )))
        }
        _ => Err(bad_url(format!(
            "unsupported database URL scheme; expected one of: {}",
            enabled()
        ))),
    }
}

/// Open one connection with `options` and close it again: a refused connection or a refused
/// login fails here, at once and with its cause.
async fn probe<O>(options: &O) -> Result<(), StoreError>
where
    O: ConnectOptions,
    O::Connection: Sized,
{
    match tokio::time::timeout(CONNECT_TIMEOUT, options.connect()).await {
        Ok(Ok(connection)) => {
            // Closing politely can fail on a flaky network; the pool opens its own anyway.
            let _ = sqlx::Connection::close(connection).await;
            Ok(())
        }
        Ok(Err(err)) => Err(connect_error(err)),
        Err(_) => Err(StoreError::Unavailable(Box::new(ConnectFailure(format!(
            "no connection within {} s",
            CONNECT_TIMEOUT.as_secs()
        ))))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes() {
        assert_eq!(scheme("postgres://u@h/db").as_deref(), Some("postgres"));
        assert_eq!(scheme("SQLite:app.db").as_deref(), Some("sqlite"));
        assert_eq!(scheme("sqlite::memory:").as_deref(), Some("sqlite"));
        assert_eq!(scheme("host=db user=app password=hunter2"), None);
        assert_eq!(scheme("hunter2"), None);
        assert_eq!(scheme(":memory:"), None);
        assert_eq!(scheme("user:pass@host/db").as_deref(), Some("user"));
    }

    #[test]
    fn os_errors_keep_their_text_others_only_their_kind() {
        let refused = std::io::Error::from_raw_os_error(111);
        let text = ConnectFailure::of(&sqlx::Error::Io(refused)).to_string();
        assert!(text.to_lowercase().contains("refused"), "{text}");
        let custom = std::io::Error::other("failed to lookup secret-host.internal");
        let text = ConnectFailure::of(&sqlx::Error::Io(custom)).to_string();
        assert!(!text.contains("secret-host"), "{text}");
    }
}
