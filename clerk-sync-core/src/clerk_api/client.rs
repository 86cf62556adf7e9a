//! [`ClerkApi`]: configuration and the calls themselves.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use reqwest::header::HeaderValue;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::endpoint::Endpoint;
use super::error::ClerkApiError;
use super::pages::{ListUsers, ListUsersQuery, UserPages};
use super::rate_limit::{RateLimit, RateLimiter};
use super::requests::{CreateInvitation, CreateUser, MetadataUpdate, UpdateUser};
use super::retry::RetryPolicy;
use super::transport::Answer;
use super::user::ClerkUser;
use crate::event::{Invitation, User};

/// Where the Backend API lives unless told otherwise (`CLERK_API_URL`).
pub const DEFAULT_BASE_URL: &str = "https://api.clerk.com";

/// The default time allowed to open a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The default time allowed for one attempt, answer body included.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

const USER_AGENT: &str = concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_PKG_VERSION"));

/// A client of Clerk's Backend API (version 2026-05-12) for users and invitations.
///
/// Cheap to clone; clones share the connection pool and the rate limiter, so the budget
/// holds for the whole process however many tasks call. Configure first (`with_*`), then
/// clone: a `with_*` call on one handle does not change clones made before it.
///
/// - Every request carries `Authorization: Bearer <secret key>`,
///   `Clerk-API-Version: 2026-05-12` and a `User-Agent` naming this crate.
/// - Requests wait for a sliding-window budget (1000 per 10 s for `sk_live_` keys, 100 for
///   `sk_test_`; see [`with_rate_limit`](Self::with_rate_limit)). A 429 pauses every clone for
///   its `Retry-After`.
/// - Failures are retried per the [`RetryPolicy`]; a create that may have reached Clerk is not
///   (see [`ClerkApiError::is_ambiguous`]).
/// - Each attempt increments `clerk_sync_clerk_api_requests_total{endpoint,status}`, where
///   `endpoint` is a route template such as `GET /v1/users/{id}`.
/// - The secret key never appears in `Debug`, errors or logs.
///
/// ```no_run
/// use clerk_sync_core::clerk_api::{ClerkApi, CreateUser};
///
/// # async fn run() -> Result<(), clerk_sync_core::clerk_api::ClerkApiError> {
/// let api = ClerkApi::new(&std::env::var("CLERK_SECRET_KEY").unwrap_or_default())?;
///
/// if let Some(user) = api.get_user("user_2abc").await? {
///     println!("{:?}", user.primary_email().map(|e| &e.email_address));
/// }
///
/// match api.create_user(&CreateUser::new().email_address("ada@example.com")).await {
///     Ok(created) => println!("created {:?}", created.id()),
///     Err(e) if e.has_error_code("form_identifier_exists") => println!("already there"),
///     Err(e) if e.is_ambiguous() => println!("unknown outcome: look the email up first"),
///     Err(e) => return Err(e),
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ClerkApi {
    pub(crate) http: reqwest::Client,
    base: Url,
    /// `Bearer <key>`, marked sensitive so no `Debug` of a header map shows it.
    pub(crate) authorization: HeaderValue,
    live_key: bool,
    pub(crate) limiter: Arc<RateLimiter>,
    pub(crate) retry: RetryPolicy,
    connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
}

impl ClerkApi {
    /// A client for the instance this secret key (`sk_live_...` or `sk_test_...`) belongs
    /// to, at `https://api.clerk.com`, with Clerk's documented budget for that kind of
    /// instance, the default [`RetryPolicy`], and 5 s / 30 s connect / request timeouts.
    ///
    /// # Errors
    ///
    /// [`ClerkApiError::InvalidConfiguration`] when the key does not start with `sk_` or is
    /// not a valid header value, or the HTTP client cannot be built.
    pub fn new(secret_key: &str) -> Result<Self, ClerkApiError> {
        let secret_key = secret_key.trim();
        if !secret_key.starts_with("sk_") || secret_key.len() <= 3 {
            // Do not echo the value: it may be a real key with a typo.
            return Err(ClerkApiError::InvalidConfiguration(
                "the secret key must start with sk_live_ or sk_test_",
            ));
        }
        let mut authorization =
            HeaderValue::from_str(&format!("Bearer {secret_key}")).map_err(|_| {
                ClerkApiError::InvalidConfiguration("the secret key is not a valid header value")
            })?;
        authorization.set_sensitive(true);
        let base = Url::parse(DEFAULT_BASE_URL)
            .map_err(|_| ClerkApiError::InvalidConfiguration("the default base URL is invalid"))?;
        Ok(Self {
            http: build_http(DEFAULT_CONNECT_TIMEOUT)?,
            base,
            authorization,
            live_key: secret_key.starts_with("sk_live_"),
            limiter: Arc::new(RateLimiter::new(RateLimit::for_secret_key(secret_key))),
            retry: RetryPolicy::default(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        })
    }

    /// Talks to another API origin (`CLERK_API_URL`), e.g. a proxy or
    /// [FakeClerk](https://docs.rs/clerk-sync-testing). Give the origin without `/v1`; a
    /// trailing `/v1` or `/` is accepted and dropped.
    ///
    /// # Errors
    ///
    /// [`ClerkApiError::InvalidConfiguration`] unless it is an `http`/`https` URL without a
    /// query or fragment.
    pub fn with_base_url(mut self, url: &str) -> Result<Self, ClerkApiError> {
        let trimmed = url.trim().trim_end_matches('/');
        let trimmed = trimmed.strip_suffix("/v1").unwrap_or(trimmed);
        let base = Url::parse(trimmed)
            .map_err(|_| ClerkApiError::InvalidConfiguration("the base URL is not a valid URL"))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(ClerkApiError::InvalidConfiguration(
                "the base URL must be an http(s) origin",
            ));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(ClerkApiError::InvalidConfiguration(
                "the base URL must not have a query or fragment",
            ));
        }
        self.base = base;
        Ok(self)
    }

    /// Replaces the request budget, e.g. a share of Clerk's when several processes use one
    /// key, or a small one in tests. This handle gets a new limiter: clones made earlier
    /// keep the old one.
    #[must_use]
    pub fn with_rate_limit(mut self, limit: RateLimit) -> Self {
        self.limiter = Arc::new(RateLimiter::new(limit));
        self
    }

    /// Replaces the retry policy.
    #[must_use]
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Time allowed for one attempt, from connecting to the end of the answer (default
    /// 30 s). A timed-out attempt counts as a transport failure.
    #[must_use]
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Time allowed to open a connection (default 5 s).
    ///
    /// # Errors
    ///
    /// [`ClerkApiError::InvalidConfiguration`] if the HTTP client cannot be rebuilt.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Result<Self, ClerkApiError> {
        self.http = build_http(timeout)?;
        self.connect_timeout = timeout;
        Ok(self)
    }

    /// The API origin, without `/v1`.
    pub fn base_url(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    /// The request budget in force.
    pub fn rate_limit(&self) -> RateLimit {
        self.limiter.limit()
    }

    /// The retry policy in force.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    /// `GET /v1/users/{id}`: the user, or `None` when Clerk answers 404.
    ///
    /// # Errors
    ///
    /// Any request error; [`ClerkApiError::Decode`] when the user lacks what [`User`]
    /// requires (use [`fetch_user`](Self::fetch_user) to get the raw JSON regardless).
    pub async fn get_user(&self, user_id: &str) -> Result<Option<User>, ClerkApiError> {
        let Some(user) = self.fetch_user(user_id).await? else {
            return Ok(None);
        };
        user.to_user()
            .map(Some)
            .map_err(|source| ClerkApiError::Decode {
                status: 200,
                ambiguous: false,
                source: source.into(),
            })
    }

    /// `GET /v1/users/{id}`, raw: the user's JSON as Clerk sent it, or `None` on 404.
    ///
    /// # Errors
    ///
    /// Any request error; [`ClerkApiError::InvalidArgument`] for an empty id.
    pub async fn fetch_user(&self, user_id: &str) -> Result<Option<ClerkUser>, ClerkApiError> {
        let url = self.url(&["users", check_id(user_id)?]);
        match self.execute(Endpoint::GetUser, &url, None).await {
            Ok(answer) => decode(Endpoint::GetUser, &answer).map(Some),
            Err(error) if error.is_not_found() => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// `GET /v1/users/count`: how many users the instance has.
    ///
    /// # Errors
    ///
    /// Any request error.
    pub async fn count_users(&self) -> Result<u64, ClerkApiError> {
        #[derive(Deserialize)]
        struct TotalCount {
            total_count: u64,
        }
        let url = self.url(&["users", "count"]);
        let answer = self.execute(Endpoint::CountUsers, &url, None).await?;
        decode::<TotalCount>(Endpoint::CountUsers, &answer).map(|c| c.total_count)
    }

    /// A cursor walk over every user (`GET /v1/users?limit=500&order_by=+created_at
    /// &starting_after=<last id>`), one page per [`UserPages::next_page`].
    pub fn list_users(&self, options: ListUsers) -> UserPages {
        UserPages::new(self.clone(), options)
    }

    /// One `GET /v1/users` request with these parameters.
    ///
    /// # Errors
    ///
    /// Any request error (a 422 for parameters Clerk refuses);
    /// [`ClerkApiError::InvalidArgument`] for a limit outside 1..=500 or a filter of more
    /// than 100 values.
    pub async fn list_users_page(
        &self,
        query: &ListUsersQuery,
    ) -> Result<Vec<ClerkUser>, ClerkApiError> {
        query.validate()?;
        let mut url = self.url(&["users"]);
        let pairs = query.pairs();
        if !pairs.is_empty() {
            url.query_pairs_mut().extend_pairs(pairs);
        }
        let answer = self.execute(Endpoint::ListUsers, &url, None).await?;
        decode(Endpoint::ListUsers, &answer)
    }

    /// `GET /v1/users?email_address=<email>`: the users holding this address (at most one,
    /// as Clerk keeps addresses unique). Used to resolve an
    /// [ambiguous](ClerkApiError::is_ambiguous) create.
    ///
    /// # Errors
    ///
    /// Any request error; [`ClerkApiError::InvalidArgument`] for an empty address.
    pub async fn find_users_by_email(&self, email: &str) -> Result<Vec<ClerkUser>, ClerkApiError> {
        if email.trim().is_empty() {
            return Err(ClerkApiError::InvalidArgument(
                "an email address cannot be empty",
            ));
        }
        self.list_users_page(&ListUsersQuery::new().email_address(email))
            .await
    }

    /// `POST /v1/users`: creates a user and returns it as Clerk stored it.
    ///
    /// Retried only when it surely did not reach Clerk (connection refused, 429). A timeout,
    /// dropped connection or 5xx returns an error with
    /// [`is_ambiguous`](ClerkApiError::is_ambiguous) set: look the user up by email before
    /// trying again. A taken email is a [`ClerkApiError::Validation`] with code
    /// `form_identifier_exists`.
    ///
    /// # Errors
    ///
    /// As above; [`ClerkApiError::InvalidArgument`] when a metadata value is not an object.
    pub async fn create_user(&self, user: &CreateUser) -> Result<ClerkUser, ClerkApiError> {
        let metadata = [
            &user.public_metadata,
            &user.private_metadata,
            &user.unsafe_metadata,
        ];
        if metadata.into_iter().flatten().any(|m| !m.is_object()) {
            return Err(ClerkApiError::InvalidArgument(
                "metadata must be a JSON object",
            ));
        }
        let url = self.url(&["users"]);
        let answer = self
            .execute(Endpoint::CreateUser, &url, Some(&to_body(user)?))
            .await?;
        decode(Endpoint::CreateUser, &answer)
    }

    /// `PATCH /v1/users/{id}`: changes profile fields (not metadata: see
    /// [`update_user_metadata`](Self::update_user_metadata)).
    ///
    /// # Errors
    ///
    /// Any request error; [`ClerkApiError::NotFound`] when the user does not exist.
    pub async fn update_user(
        &self,
        user_id: &str,
        change: &UpdateUser,
    ) -> Result<ClerkUser, ClerkApiError> {
        let url = self.url(&["users", check_id(user_id)?]);
        let answer = self
            .execute(Endpoint::UpdateUser, &url, Some(&to_body(change)?))
            .await?;
        decode(Endpoint::UpdateUser, &answer)
    }

    /// `PATCH /v1/users/{id}/metadata`: deep-merges metadata (a `null` value removes a key).
    ///
    /// # Errors
    ///
    /// Any request error; [`ClerkApiError::NotFound`] when the user does not exist;
    /// [`ClerkApiError::InvalidArgument`] when a part is not a JSON object.
    pub async fn update_user_metadata(
        &self,
        user_id: &str,
        change: &MetadataUpdate,
    ) -> Result<ClerkUser, ClerkApiError> {
        if change.has_non_object() {
            return Err(ClerkApiError::InvalidArgument(
                "metadata must be a JSON object",
            ));
        }
        let url = self.url(&["users", check_id(user_id)?, "metadata"]);
        let answer = self
            .execute(Endpoint::UpdateUserMetadata, &url, Some(&to_body(change)?))
            .await?;
        decode(Endpoint::UpdateUserMetadata, &answer)
    }

    /// `DELETE /v1/users/{id}`: `true` when deleted, `false` when Clerk answered 404 (already
    /// gone, or never existed).
    ///
    /// # Errors
    ///
    /// Any request error other than 404.
    pub async fn delete_user(&self, user_id: &str) -> Result<bool, ClerkApiError> {
        let url = self.url(&["users", check_id(user_id)?]);
        match self.execute(Endpoint::DeleteUser, &url, None).await {
            Ok(_) => Ok(true),
            Err(error) if error.is_not_found() => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// `POST /v1/invitations`: invites an address to sign up. Retried like
    /// [`create_user`](Self::create_user).
    ///
    /// # Errors
    ///
    /// Any request error (a 422 when the address is taken or already invited, unless
    /// `ignore_existing`); [`ClerkApiError::InvalidArgument`] for an empty address,
    /// `expires_in_days` outside 1..=365 or non-object metadata.
    pub async fn create_invitation(
        &self,
        invitation: &CreateInvitation,
    ) -> Result<Invitation, ClerkApiError> {
        if invitation.email_address.trim().is_empty() {
            return Err(ClerkApiError::InvalidArgument(
                "an email address cannot be empty",
            ));
        }
        if invitation
            .expires_in_days
            .is_some_and(|d| !(1..=365).contains(&d))
        {
            return Err(ClerkApiError::InvalidArgument(
                "expires_in_days must be 1 to 365",
            ));
        }
        if invitation
            .public_metadata
            .as_ref()
            .is_some_and(|m| !m.is_object())
        {
            return Err(ClerkApiError::InvalidArgument(
                "metadata must be a JSON object",
            ));
        }
        let url = self.url(&["invitations"]);
        let answer = self
            .execute(
                Endpoint::CreateInvitation,
                &url,
                Some(&to_body(invitation)?),
            )
            .await?;
        decode(Endpoint::CreateInvitation, &answer)
    }

    /// `GET /v1/jwks`: the instance's JSON Web Key Set, as JSON.
    ///
    /// # Errors
    ///
    /// Any request error.
    pub async fn get_jwks(&self) -> Result<serde_json::Value, ClerkApiError> {
        let url = self.url(&["jwks"]);
        let answer = self.execute(Endpoint::Jwks, &url, None).await?;
        decode(Endpoint::Jwks, &answer)
    }

    /// `<base>/v1/<segments>`, each segment percent-encoded.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        // The base was checked to be an http(s) URL, which always has path segments.
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().push("v1").extend(segments);
        }
        url
    }
}

impl fmt::Debug for ClerkApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClerkApi")
            .field("base_url", &self.base_url())
            .field(
                "secret_key",
                &if self.live_key {
                    "sk_live_<redacted>"
                } else {
                    "sk_<redacted>"
                },
            )
            .field("rate_limit", &self.limiter.limit())
            .field("retry", &self.retry)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

fn build_http(connect_timeout: Duration) -> Result<reqwest::Client, ClerkApiError> {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(connect_timeout)
        // The API never redirects; following one would only move the key somewhere else.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|_| ClerkApiError::InvalidConfiguration("the HTTP client could not be built"))
}

/// An id used as a path segment. Percent-encoding keeps any id inside its segment; the dot
/// segments are refused because URL normalization would climb out of it.
fn check_id(id: &str) -> Result<&str, ClerkApiError> {
    if id.is_empty() || id == "." || id == ".." {
        return Err(ClerkApiError::InvalidArgument(
            "a user id must be a non-empty id such as user_...",
        ));
    }
    Ok(id)
}

fn to_body<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, ClerkApiError> {
    serde_json::to_vec(value)
        .map_err(|_| ClerkApiError::InvalidArgument("the request body could not be serialized"))
}

fn decode<T: DeserializeOwned>(endpoint: Endpoint, answer: &Answer) -> Result<T, ClerkApiError> {
    serde_json::from_slice(&answer.body).map_err(|source| ClerkApiError::Decode {
        status: answer.status,
        ambiguous: !endpoint.is_idempotent(),
        source: source.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk_test_c2VjcmV0LWtleS1ub3QtdG8tbGVhaw";

    #[test]
    fn keys_are_checked_and_never_shown() {
        let api = ClerkApi::new(KEY).unwrap();
        let debug = format!("{api:?}");
        assert!(!debug.contains("c2VjcmV0"), "{debug}");
        assert_eq!(api.rate_limit().requests(), 100);
        assert_eq!(
            ClerkApi::new("sk_live_abc")
                .unwrap()
                .rate_limit()
                .requests(),
            1000
        );

        let error = ClerkApi::new("pk_test_abc").unwrap_err();
        assert!(!error.to_string().contains("pk_test_abc"));
        assert!(ClerkApi::new("").is_err());
        assert!(ClerkApi::new("sk_test_bad\nkey").is_err());
    }

    #[test]
    fn base_urls_are_normalized() {
        let api = ClerkApi::new(KEY).unwrap();
        assert_eq!(api.base_url(), "https://api.clerk.com");
        let local = api.clone().with_base_url("http://127.0.0.1:9/v1/").unwrap();
        assert_eq!(local.base_url(), "http://127.0.0.1:9");
        assert_eq!(
            local.url(&["users", "user_1"]).as_str(),
            "http://127.0.0.1:9/v1/users/user_1"
        );
        let proxied = api
            .clone()
            .with_base_url("https://proxy.test/clerk")
            .unwrap();
        assert_eq!(
            proxied.url(&["users"]).as_str(),
            "https://proxy.test/clerk/v1/users"
        );
        assert!(api.clone().with_base_url("ftp://x").is_err());
        assert!(api.clone().with_base_url("not a url").is_err());
        assert!(api.clone().with_base_url("https://x/?a=1").is_err());
    }

    #[test]
    fn ids_stay_inside_their_segment() {
        let api = ClerkApi::new(KEY).unwrap();
        assert_eq!(
            api.url(&["users", "a/../b?c"]).as_str(),
            "https://api.clerk.com/v1/users/a%2F..%2Fb%3Fc"
        );
        assert!(check_id("").is_err());
        assert!(check_id("..").is_err());
    }
}
