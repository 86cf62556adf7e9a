//! [`Config`]: the configuration table of `ARCHITECTURE.md` ("Reference services"), read from
//! the environment and an optional `.env` file, every value checked before anything starts.
//!
//! A bad value is a [`ConfigError`] whose `Display` is one line naming the variable and what
//! is wrong with it, never the value (it may be a secret with a typo).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clerk_sync_core::clerk_api::ClerkApi;
use clerk_sync_core::jwt::JwtVerifier;
use clerk_sync_core::webhook::WebhookVerifier;

use crate::dev_secrets::{self, DevSecrets};

/// The SQLite file used when `DATABASE_URL` is not set, relative to the working directory.
pub const DEFAULT_DATABASE_FILE: &str = "clerk-sync.db";
/// The address served when `BIND_ADDR` is not set.
pub const DEFAULT_BIND_ADDR: &str = "127.0.0.1:8787";
/// Clerk's Backend API origin, when `CLERK_API_URL` is not set.
pub const DEFAULT_CLERK_API_URL: &str = "https://api.clerk.com";
/// Webhook requests per second per client address (the burst is twice that).
pub const DEFAULT_RATE_LIMIT_WEBHOOK: u32 = 200;
/// Admin API requests per second per client address (the burst is twice that).
pub const DEFAULT_RATE_LIMIT_ADMIN: u32 = 20;
/// The shortest `RECONCILE_INTERVAL` accepted: a reconcile lists every Clerk user.
pub const MIN_RECONCILE_INTERVAL: Duration = Duration::from_secs(60);
/// The shortest `ADMIN_API_KEY` accepted, in characters.
pub const MIN_ADMIN_KEY_LEN: usize = 16;

/// How log lines are written (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Why the configuration cannot be used. `Display` is one line that names the variable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A variable has a value that cannot be used.
    #[error("{var}: {reason}")]
    Invalid {
        /// The variable, e.g. `"BIND_ADDR"`.
        var: &'static str,
        /// What is wrong, without the value.
        reason: String,
    },
    /// A variable that this configuration needs is not set.
    #[error("{var} is not set: {hint}")]
    Missing {
        /// The variable.
        var: &'static str,
        /// What to do about it.
        hint: &'static str,
    },
    /// The `.env` file exists but cannot be read or parsed.
    #[error(".env: {reason}")]
    EnvFile {
        /// What is wrong (dotenvy's message names the line, not the values).
        reason: String,
    },
    /// The development secrets could not be read or written beside the database.
    #[error("the development secrets file {}: {reason}", path.display())]
    DevSecrets {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

impl ConfigError {
    fn invalid(var: &'static str, reason: impl Into<String>) -> Self {
        ConfigError::Invalid {
            var,
            reason: reason.into(),
        }
    }
}

/// Where a secret came from, for the startup text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretSource {
    /// The environment or `.env`.
    Environment,
    /// A development secret kept beside the default SQLite database.
    Development,
    /// Not configured.
    Unset,
}

/// The service's configuration: every variable of the table, parsed and checked.
///
/// Build it with [`Config::load`] (environment, `.env`, development secrets) or, in tests,
/// [`Config::from_lookup`]. `Debug` prints no secret.
#[derive(Clone)]
#[non_exhaustive]
pub struct Config {
    /// `DATABASE_URL`: `sqlite:`, `postgres://` or `mysql://`.
    pub database_url: String,
    /// Whether `DATABASE_URL` was unset, so the database is the development SQLite file.
    pub database_is_default: bool,
    /// `CLERK_WEBHOOK_SECRET` (or `CLERK_WEBHOOK_SIGNING_SECRET`): one or more, for rotation.
    pub webhook_secrets: Vec<String>,
    /// Where the webhook secret came from.
    pub webhook_secret_source: SecretSource,
    /// `CLERK_SECRET_KEY`: the Backend API key. Without it, fallback fetch, reconcile and
    /// outbound sync are off.
    pub clerk_secret_key: Option<String>,
    /// `CLERK_API_URL`: the Backend API origin, without `/v1`.
    pub clerk_api_url: String,
    /// `CLERK_JWT_KEY`: the instance's PEM public key (networkless session checks).
    pub jwt_key: Option<String>,
    /// `CLERK_JWKS_URL`: a JWKS to fetch session keys from.
    pub jwks_url: Option<String>,
    /// `CLERK_AUTHORIZED_PARTIES`: the origins allowed in a session token's `azp`.
    pub authorized_parties: Vec<String>,
    /// `ADMIN_API_KEY`: the bearer key of the admin API and the dashboard.
    pub admin_api_key: Option<String>,
    /// Where the admin key came from.
    pub admin_key_source: SecretSource,
    /// `BIND_ADDR`.
    pub bind_addr: SocketAddr,
    /// `RECONCILE_INTERVAL`: how often to reconcile; `None`, no scheduled reconcile.
    pub reconcile_interval: Option<Duration>,
    /// `LOG_FORMAT`.
    pub log_format: LogFormat,
    /// `CORS_ORIGINS`: the exact origins allowed to call `/api/me` from a browser.
    pub cors_origins: Vec<String>,
    /// `RATE_LIMIT_WEBHOOK`: requests per second per client address on the webhook route.
    pub rate_limit_webhook: u32,
    /// `RATE_LIMIT_ADMIN`: requests per second per client address on the admin API.
    pub rate_limit_admin: u32,
    /// The development secrets file, when the secrets were generated or read from it.
    pub dev_secrets_file: Option<PathBuf>,
    /// Whether the development secrets were generated by this start (first run).
    pub dev_secrets_created: bool,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_is_default", &self.database_is_default)
            .field("webhook_secrets", &self.webhook_secrets.len())
            .field("clerk_secret_key", &self.clerk_secret_key.is_some())
            .field("clerk_api_url", &self.clerk_api_url)
            .field("jwt_key", &self.jwt_key.is_some())
            .field("jwks_url", &self.jwks_url)
            .field("authorized_parties", &self.authorized_parties)
            .field("admin_api_key", &self.admin_api_key.is_some())
            .field("bind_addr", &self.bind_addr)
            .field("reconcile_interval", &self.reconcile_interval)
            .field("log_format", &self.log_format)
            .field("cors_origins", &self.cors_origins)
            .field("rate_limit_webhook", &self.rate_limit_webhook)
            .field("rate_limit_admin", &self.rate_limit_admin)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Read the configuration: the `.env` file of the working directory if there is one (it
    /// never overrides a variable already set), then the environment; then, when the
    /// database is the default SQLite file and the webhook secret or admin key is unset,
    /// the development secrets kept beside it (generated on the first start).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first variable that cannot be used.
    pub fn load() -> Result<Config, ConfigError> {
        // `.env` of the working directory only: dotenvy's own search would also read one
        // from a parent directory, which a service should never pick up by surprise.
        match dotenvy::from_path(".env") {
            Ok(_) => {}
            Err(error) if error.not_found() => {}
            Err(dotenvy::Error::LineParse(_, index)) => {
                // The line, not its content: it may hold a secret.
                return Err(ConfigError::EnvFile {
                    reason: format!("cannot parse the line at byte {index}"),
                });
            }
            Err(dotenvy::Error::Io(error)) => {
                return Err(ConfigError::EnvFile {
                    reason: error.to_string(),
                });
            }
            Err(_) => {
                return Err(ConfigError::EnvFile {
                    reason: "cannot be read".to_owned(),
                });
            }
        }
        let mut config = Config::from_lookup(|name| std::env::var(name).ok())?;
        config.apply_dev_secrets()?;
        Ok(config)
    }

    /// Parse the configuration from `lookup` (a variable's value by name), without reading
    /// a file or writing one. Empty values count as unset.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first variable that cannot be used.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let (database_url, database_is_default) = match get("DATABASE_URL") {
            Some(url) => {
                check_database_url(&url)?;
                (url, false)
            }
            None => (format!("sqlite:{DEFAULT_DATABASE_FILE}"), true),
        };

        let (secret_var, secrets) = match get("CLERK_WEBHOOK_SECRET") {
            Some(value) => ("CLERK_WEBHOOK_SECRET", Some(value)),
            None => (
                "CLERK_WEBHOOK_SIGNING_SECRET",
                get("CLERK_WEBHOOK_SIGNING_SECRET"),
            ),
        };
        let webhook_secrets = secrets.as_deref().map(split_list).unwrap_or_default();
        for (index, secret) in webhook_secrets.iter().enumerate() {
            if WebhookVerifier::new(secret).is_err() {
                let which = if webhook_secrets.len() > 1 {
                    format!("secret {} of {}", index + 1, webhook_secrets.len())
                } else {
                    "the secret".to_owned()
                };
                return Err(ConfigError::invalid(
                    secret_var,
                    format!(
                        "{which} is not a Clerk signing secret (whsec_ followed by base64, \
                         as the Clerk dashboard shows it)"
                    ),
                ));
            }
        }

        let clerk_api_url = get("CLERK_API_URL").unwrap_or_else(|| DEFAULT_CLERK_API_URL.into());
        let clerk_secret_key = get("CLERK_SECRET_KEY");
        if let Some(key) = &clerk_secret_key {
            ClerkApi::new(key).map_err(|_| {
                ConfigError::invalid(
                    "CLERK_SECRET_KEY",
                    "not a Backend API key (it starts with sk_live_ or sk_test_)",
                )
            })?;
        }
        // Checked with any well-formed key, so that a bad URL is reported without one.
        ClerkApi::new("sk_test_check")
            .and_then(|api| api.with_base_url(&clerk_api_url))
            .map_err(|_| {
                ConfigError::invalid(
                    "CLERK_API_URL",
                    "not an http(s) origin such as https://api.clerk.com",
                )
            })?;

        let jwt_key = match get("CLERK_JWT_KEY") {
            Some(value) => Some(read_pem(&value)?),
            None => None,
        };
        let jwks_url = get("CLERK_JWKS_URL");
        if let Some(url) = &jwks_url
            && JwtVerifier::from_jwks_url(url).is_err()
        {
            return Err(ConfigError::invalid(
                "CLERK_JWKS_URL",
                "not an http(s) URL of a JWKS",
            ));
        }
        let authorized_parties = get("CLERK_AUTHORIZED_PARTIES")
            .as_deref()
            .map(split_list)
            .unwrap_or_default();

        let admin_api_key = get("ADMIN_API_KEY");
        if let Some(key) = &admin_api_key {
            check_admin_key(key)?;
        }

        let bind_addr = match get("BIND_ADDR") {
            Some(addr) => addr.parse::<SocketAddr>().map_err(|_| {
                ConfigError::invalid(
                    "BIND_ADDR",
                    "not an address and port such as 127.0.0.1:8787 or 0.0.0.0:8787",
                )
            })?,
            None => DEFAULT_BIND_ADDR
                .parse()
                .map_err(|_| ConfigError::invalid("BIND_ADDR", "the default is invalid"))?,
        };

        let reconcile_interval = match get("RECONCILE_INTERVAL") {
            Some(text) => {
                let interval = parse_duration(&text).map_err(|reason| {
                    ConfigError::invalid("RECONCILE_INTERVAL", reason.to_owned())
                })?;
                if interval < MIN_RECONCILE_INTERVAL {
                    return Err(ConfigError::invalid(
                        "RECONCILE_INTERVAL",
                        "shorter than the minimum of 1m (a reconcile lists every Clerk user)",
                    ));
                }
                Some(interval)
            }
            None => None,
        };

        let log_format = match get("LOG_FORMAT").map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(_) => {
                return Err(ConfigError::invalid(
                    "LOG_FORMAT",
                    "expected `json` or `text`",
                ));
            }
        };

        let cors_origins = match get("CORS_ORIGINS") {
            Some(list) => {
                let origins = split_list(&list);
                for origin in &origins {
                    check_origin(origin)?;
                }
                origins
            }
            None => Vec::new(),
        };

        let rate_limit_webhook = parse_rate(
            "RATE_LIMIT_WEBHOOK",
            get("RATE_LIMIT_WEBHOOK"),
            DEFAULT_RATE_LIMIT_WEBHOOK,
        )?;
        let rate_limit_admin = parse_rate(
            "RATE_LIMIT_ADMIN",
            get("RATE_LIMIT_ADMIN"),
            DEFAULT_RATE_LIMIT_ADMIN,
        )?;

        Ok(Config {
            database_url,
            database_is_default,
            webhook_secret_source: if webhook_secrets.is_empty() {
                SecretSource::Unset
            } else {
                SecretSource::Environment
            },
            webhook_secrets,
            clerk_secret_key,
            clerk_api_url,
            jwt_key,
            jwks_url,
            authorized_parties,
            admin_key_source: if admin_api_key.is_some() {
                SecretSource::Environment
            } else {
                SecretSource::Unset
            },
            admin_api_key,
            bind_addr,
            reconcile_interval,
            log_format,
            cors_origins,
            rate_limit_webhook,
            rate_limit_admin,
            dev_secrets_file: None,
            dev_secrets_created: false,
        })
    }

    /// When the database is the default SQLite file, fill an unset webhook secret and admin
    /// key from the development secrets file beside it
    /// ([`dev_secrets_path`](Self::dev_secrets_path)), generating it on the first start.
    /// Does nothing for any other database.
    ///
    /// # Errors
    ///
    /// [`ConfigError::DevSecrets`] when the file cannot be read, parsed or written.
    pub fn apply_dev_secrets(&mut self) -> Result<(), ConfigError> {
        if !self.database_is_default
            || (!self.webhook_secrets.is_empty() && self.admin_api_key.is_some())
        {
            return Ok(());
        }
        let path = self.dev_secrets_path();
        let (secrets, created): (DevSecrets, bool) = dev_secrets::load_or_create(&path)?;
        if self.webhook_secrets.is_empty() {
            self.webhook_secrets = vec![secrets.webhook_secret];
            self.webhook_secret_source = SecretSource::Development;
        }
        if self.admin_api_key.is_none() {
            self.admin_api_key = Some(secrets.admin_key);
            self.admin_key_source = SecretSource::Development;
        }
        self.dev_secrets_file = Some(path);
        self.dev_secrets_created = created;
        Ok(())
    }

    /// The development secrets file: beside the default database,
    /// `clerk-sync.db.dev-secrets`.
    pub fn dev_secrets_path(&self) -> PathBuf {
        Path::new(&format!("{DEFAULT_DATABASE_FILE}.dev-secrets")).to_path_buf()
    }

    /// The webhook verifier, for `serve` and `send-test-webhook`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Missing`] when no webhook secret is configured (only possible with a
    /// `DATABASE_URL` of your own: the default database gets a development secret).
    pub fn webhook_verifier(&self) -> Result<WebhookVerifier, ConfigError> {
        if self.webhook_secrets.is_empty() {
            return Err(ConfigError::Missing {
                var: "CLERK_WEBHOOK_SECRET",
                hint: "copy the endpoint's signing secret (whsec_...) from the Clerk dashboard",
            });
        }
        WebhookVerifier::from_secrets(self.webhook_secrets.iter().map(String::as_str))
            .map_err(|_| ConfigError::invalid("CLERK_WEBHOOK_SECRET", "not a Clerk signing secret"))
    }

    /// Whether the Backend API is configured: fallback fetch, reconcile, backfill, resync
    /// and the outbound worker need it.
    pub fn has_backend_api(&self) -> bool {
        self.clerk_secret_key.is_some()
    }
}

/// Split a list separated by commas and/or whitespace.
fn split_list(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A scheme this service's stores know, without quoting the URL.
fn check_database_url(url: &str) -> Result<(), ConfigError> {
    let scheme = url
        .split_once(':')
        .map(|(scheme, _)| scheme.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("sqlite" | "postgres" | "postgresql" | "mysql" | "mariadb") => Ok(()),
        _ => Err(ConfigError::invalid(
            "DATABASE_URL",
            "expected a URL starting with sqlite:, postgres:// or mysql://",
        )),
    }
}

/// `CLERK_JWT_KEY`: the PEM text itself (as Clerk's dashboard shows it, on several lines or
/// one), or the path of a file holding it.
fn read_pem(value: &str) -> Result<String, ConfigError> {
    let pem = if value.contains("-----BEGIN") || !Path::new(value).is_file() {
        value.to_owned()
    } else {
        std::fs::read_to_string(value).map_err(|error| {
            ConfigError::invalid(
                "CLERK_JWT_KEY",
                format!("the key file cannot be read: {error}"),
            )
        })?
    };
    JwtVerifier::from_pem(&pem).map_err(|_| {
        ConfigError::invalid(
            "CLERK_JWT_KEY",
            "not an RSA public key in PEM form (the JWT public key of the Clerk dashboard's \
             API keys page), nor a readable file holding one",
        )
    })?;
    Ok(pem)
}

fn check_admin_key(key: &str) -> Result<(), ConfigError> {
    if key.chars().count() < MIN_ADMIN_KEY_LEN {
        return Err(ConfigError::invalid(
            "ADMIN_API_KEY",
            format!(
                "too short: use at least {MIN_ADMIN_KEY_LEN} random characters \
                 (e.g. `openssl rand -hex 32`)"
            ),
        ));
    }
    if key.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(ConfigError::invalid(
            "ADMIN_API_KEY",
            "contains whitespace or control characters, which a bearer header cannot carry",
        ));
    }
    Ok(())
}

/// An exact origin: `http(s)://host[:port]`, no path, no wildcard.
fn check_origin(origin: &str) -> Result<(), ConfigError> {
    if origin.contains('*') {
        return Err(ConfigError::invalid(
            "CORS_ORIGINS",
            "a wildcard is not allowed: list the exact origins, e.g. https://app.example.com",
        ));
    }
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    let valid = rest.is_some_and(|host| {
        !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
    });
    if valid {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            "CORS_ORIGINS",
            "each entry must be an origin such as https://app.example.com (scheme, host and \
             optional port; no path or trailing slash)",
        ))
    }
}

fn parse_rate(var: &'static str, value: Option<String>, default: u32) -> Result<u32, ConfigError> {
    match value {
        None => Ok(default),
        Some(text) => match text.parse::<u32>() {
            Ok(rate) if (1..=1_000_000).contains(&rate) => Ok(rate),
            _ => Err(ConfigError::invalid(
                var,
                "expected requests per second per client address, a whole number from 1 to \
                 1000000",
            )),
        },
    }
}

/// A duration such as `24h`, `30m`, `90s`, `1d` or `1h30m`.
///
/// # Errors
///
/// A fixed message saying what is expected.
pub fn parse_duration(text: &str) -> Result<Duration, &'static str> {
    const EXPECTED: &str = "expected a duration such as 24h, 30m, 90s, 1d or 1h30m";
    let text = text.trim();
    if text.is_empty() {
        return Err(EXPECTED);
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit: u64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(EXPECTED),
        };
        let value: u64 = number.parse().map_err(|_| EXPECTED)?;
        number.clear();
        total = value
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or("too long")?;
    }
    if !number.is_empty() {
        return Err(EXPECTED);
    }
    if total == 0 {
        return Err("must be longer than zero");
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn parse(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    /// The error's one line, checked to name `var` and not to repeat `value`.
    fn error_line(var: &str, value: &str) -> String {
        let line = parse(&[(var, value)]).expect_err(var).to_string();
        assert!(!line.contains('\n'), "one line: {line}");
        assert!(line.starts_with(var), "names {var}: {line}");
        if value.len() > 3 {
            assert!(!line.contains(value), "does not echo the value: {line}");
        }
        line
    }

    #[test]
    fn defaults_work_on_a_fresh_machine() {
        let config = parse(&[]).unwrap();
        assert!(config.database_is_default);
        assert_eq!(config.database_url, "sqlite:clerk-sync.db");
        assert_eq!(config.bind_addr.to_string(), "127.0.0.1:8787");
        assert_eq!(config.clerk_api_url, "https://api.clerk.com");
        assert_eq!(
            (config.rate_limit_webhook, config.rate_limit_admin),
            (200, 20)
        );
        assert_eq!(config.reconcile_interval, None);
        assert_eq!(config.log_format, LogFormat::Text);
        assert!(config.webhook_secrets.is_empty() && config.admin_api_key.is_none());
        assert!(!config.has_backend_api());
    }

    #[test]
    fn every_variable_is_read() {
        let config = parse(&[
            ("DATABASE_URL", "postgres://app@db:5432/app"),
            (
                "CLERK_WEBHOOK_SIGNING_SECRET",
                &format!("{SECRET}, {SECRET} {SECRET}"),
            ),
            ("CLERK_SECRET_KEY", "sk_test_abc"),
            ("CLERK_API_URL", "http://127.0.0.1:9000"),
            (
                "CLERK_JWKS_URL",
                "https://clerk.example.com/.well-known/jwks.json",
            ),
            (
                "CLERK_AUTHORIZED_PARTIES",
                "https://a.example.com,https://b.example.com",
            ),
            ("ADMIN_API_KEY", "0123456789abcdef0123"),
            ("BIND_ADDR", "0.0.0.0:9000"),
            ("RECONCILE_INTERVAL", "1h30m"),
            ("LOG_FORMAT", "JSON"),
            (
                "CORS_ORIGINS",
                "https://app.example.com http://localhost:3000",
            ),
            ("RATE_LIMIT_WEBHOOK", "500"),
            ("RATE_LIMIT_ADMIN", "5"),
        ])
        .unwrap();
        assert!(!config.database_is_default);
        assert_eq!(config.webhook_secrets.len(), 3);
        assert_eq!(config.authorized_parties.len(), 2);
        assert_eq!(config.reconcile_interval, Some(Duration::from_secs(5400)));
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(
            config.cors_origins,
            ["https://app.example.com", "http://localhost:3000"]
        );
        assert_eq!(
            (config.rate_limit_webhook, config.rate_limit_admin),
            (500, 5)
        );
        assert!(config.has_backend_api());
        assert!(config.webhook_verifier().is_ok());
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("whsec_")
                && !debug.contains("sk_test")
                && !debug.contains("0123456789abcdef")
        );
    }

    #[test]
    fn empty_values_are_unset() {
        let config = parse(&[("DATABASE_URL", ""), ("BIND_ADDR", "  ")]).unwrap();
        assert!(config.database_is_default);
        assert_eq!(config.bind_addr.port(), 8787);
    }

    #[test]
    fn bad_values_name_their_variable_on_one_line() {
        error_line("DATABASE_URL", "htp://db/app");
        error_line("DATABASE_URL", "host=db user=app password=hunter2");
        let line = error_line("CLERK_WEBHOOK_SECRET", "whsec_not*base64!");
        assert!(line.contains("whsec_"), "says what is expected: {line}");
        error_line("CLERK_WEBHOOK_SIGNING_SECRET", "plainpassword");
        let two = parse(&[("CLERK_WEBHOOK_SECRET", &format!("{SECRET},oops!"))])
            .unwrap_err()
            .to_string();
        assert!(two.contains("secret 2 of 2"), "{two}");
        error_line("CLERK_SECRET_KEY", "pk_test_publishable");
        error_line("CLERK_API_URL", "ftp://api.clerk.com");
        error_line(
            "CLERK_JWT_KEY",
            "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----",
        );
        error_line("CLERK_JWT_KEY", "/nonexistent/key.pem");
        error_line("CLERK_JWKS_URL", "not a url");
        error_line("ADMIN_API_KEY", "pw123");
        error_line("ADMIN_API_KEY", "has a space in the middle of it");
        error_line("BIND_ADDR", "localhost");
        error_line("BIND_ADDR", "127.0.0.1:99999");
        error_line("RECONCILE_INTERVAL", "daily");
        error_line("RECONCILE_INTERVAL", "10s");
        error_line("RECONCILE_INTERVAL", "0h");
        error_line("LOG_FORMAT", "yaml");
        error_line("CORS_ORIGINS", "*");
        error_line("CORS_ORIGINS", "https://frontend.local/path");
        error_line("CORS_ORIGINS", "frontend.local");
        error_line("RATE_LIMIT_WEBHOOK", "0");
        error_line("RATE_LIMIT_ADMIN", "fast");
    }

    #[test]
    fn a_missing_webhook_secret_is_named() {
        let config = parse(&[("DATABASE_URL", "postgres://db/app")]).unwrap();
        let line = config.webhook_verifier().unwrap_err().to_string();
        assert!(
            line.starts_with("CLERK_WEBHOOK_SECRET is not set"),
            "{line}"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1_800)));
        assert_eq!(parse_duration("1d12h"), Ok(Duration::from_secs(129_600)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        for bad in ["", "24", "h", "1x", "-1h", "1.5h", "0m"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(parse_duration("99999999999999999999d").is_err());
    }
}
