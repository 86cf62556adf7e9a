//! Listing users: a one-shot page query, and the cursor walk a reconcile or backfill uses.
//!
//! The walk pages with `starting_after=<last id>` in `created_at` order. Offset paging slows
//! down with depth, and skips users when others are deleted mid-scan; the cursor does
//! neither.

use super::ClerkApi;
use super::error::ClerkApiError;
use super::user::ClerkUser;

/// The largest page Clerk serves.
pub const MAX_PAGE_SIZE: u32 = 500;

/// Which way a cursor walk goes through creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CreatedAtOrder {
    /// Oldest first (`+created_at`): users created during the walk are still reached.
    #[default]
    OldestFirst,
    /// Newest first (`-created_at`, Clerk's default order).
    NewestFirst,
}

impl CreatedAtOrder {
    fn as_param(self) -> &'static str {
        match self {
            CreatedAtOrder::OldestFirst => "+created_at",
            CreatedAtOrder::NewestFirst => "-created_at",
        }
    }
}

/// Options of a cursor walk over every user ([`ClerkApi::list_users`]).
///
/// ```
/// use clerk_sync_core::clerk_api::ListUsers;
///
/// // Resume a backfill after the last user it stored.
/// let options = ListUsers::new().limit(200).starting_after("user_2abc");
/// # let _ = options;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListUsers {
    limit: u32,
    order: CreatedAtOrder,
    starting_after: Option<String>,
}

impl Default for ListUsers {
    /// Pages of 500, oldest first, from the beginning.
    fn default() -> Self {
        Self {
            limit: MAX_PAGE_SIZE,
            order: CreatedAtOrder::OldestFirst,
            starting_after: None,
        }
    }
}

impl ListUsers {
    /// Pages of 500, oldest first, from the beginning.
    pub fn new() -> Self {
        Self::default()
    }

    /// Users per page, 1 to 500 (checked when the first page is fetched).
    #[must_use]
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = limit;
        self
    }

    /// The direction through creation time.
    #[must_use]
    pub fn order(mut self, order: CreatedAtOrder) -> Self {
        self.order = order;
        self
    }

    /// Starts after this user id (a cursor saved from an earlier walk).
    #[must_use]
    pub fn starting_after(mut self, user_id: impl Into<String>) -> Self {
        self.starting_after = Some(user_id.into());
        self
    }
}

/// A cursor walk over every user, one page at a time, so no caller holds every user.
///
/// Created by [`ClerkApi::list_users`]. Each [`next_page`](Self::next_page) fetches the
/// users after [`cursor`](Self::cursor) and moves the cursor to the last of them. A failed
/// page leaves the cursor where it was, so calling again retries that page; a backfill can
/// save the cursor and resume later with [`set_cursor`](Self::set_cursor) or
/// [`ListUsers::starting_after`].
///
/// ```no_run
/// # async fn walk(api: clerk_sync_core::clerk_api::ClerkApi)
/// #     -> Result<(), clerk_sync_core::clerk_api::ClerkApiError> {
/// use clerk_sync_core::clerk_api::ListUsers;
///
/// let mut pages = api.list_users(ListUsers::new());
/// while let Some(page) = pages.next_page().await? {
///     for user in &page {
///         println!("{:?} v{:?}", user.id(), user.updated_at());
///     }
///     // Persist pages.cursor() here to resume after a crash.
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct UserPages {
    api: ClerkApi,
    limit: u32,
    order: CreatedAtOrder,
    cursor: Option<String>,
    done: bool,
}

impl UserPages {
    pub(crate) fn new(api: ClerkApi, options: ListUsers) -> Self {
        Self {
            api,
            limit: options.limit,
            order: options.order,
            cursor: options.starting_after,
            done: false,
        }
    }

    /// The next page, or `None` when the walk is over.
    ///
    /// The walk ends after a page shorter than the limit (Clerk's documented end
    /// condition), or an empty one.
    ///
    /// # Errors
    ///
    /// Any [`ClerkApiError`] of the request (after the client's retries);
    /// [`ClerkApiError::UnexpectedResponse`] when the last user of a page has no id to
    /// continue from; [`ClerkApiError::InvalidArgument`] for a limit outside 1..=500. The
    /// cursor does not move.
    pub async fn next_page(&mut self) -> Result<Option<Vec<ClerkUser>>, ClerkApiError> {
        if self.done {
            return Ok(None);
        }
        let query = ListUsersQuery {
            limit: Some(self.limit),
            order_by: Some(self.order.as_param().to_owned()),
            starting_after: self.cursor.clone(),
            ..ListUsersQuery::default()
        };
        let page = self.api.list_users_page(&query).await?;
        let Some(last) = page.last() else {
            self.done = true;
            return Ok(None);
        };
        let Some(last_id) = last.id() else {
            return Err(ClerkApiError::UnexpectedResponse {
                status: 200,
                reason: "the last user of a page has no id to continue from",
            });
        };
        self.cursor = Some(last_id.to_owned());
        if page.len() < self.limit as usize {
            self.done = true;
        }
        Ok(Some(page))
    }

    /// The id of the last user returned so far (or the starting cursor).
    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }

    /// Moves the cursor: the next page starts after this user id (`None`: from the start).
    /// Also restarts a finished walk.
    pub fn set_cursor(&mut self, user_id: Option<String>) {
        self.cursor = user_id;
        self.done = false;
    }

    /// Like [`set_cursor`](Self::set_cursor), builder style.
    #[must_use]
    pub fn starting_after(mut self, user_id: impl Into<String>) -> Self {
        self.set_cursor(Some(user_id.into()));
        self
    }

    /// Whether the walk has ended.
    pub fn is_done(&self) -> bool {
        self.done
    }
}

/// One `GET /v1/users` request ([`ClerkApi::list_users_page`]).
///
/// Unset parameters are left out, so Clerk's defaults apply (10 users, newest first).
/// `starting_after` requires a `created_at` ordering and no offset; Clerk answers 422
/// otherwise.
///
/// ```
/// use clerk_sync_core::clerk_api::ListUsersQuery;
///
/// let query = ListUsersQuery::new().email_address("ada@example.com").limit(10);
/// # let _ = query;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListUsersQuery {
    /// Users per page, 1 to 500.
    pub limit: Option<u32>,
    /// Users to skip (avoid for deep paging; use `starting_after`).
    pub offset: Option<u32>,
    /// `created_at`, `+created_at`, `-created_at`, `updated_at`, `-updated_at`, ...
    pub order_by: Option<String>,
    /// The id of the last user of the previous page.
    pub starting_after: Option<String>,
    /// Only users with one of these email addresses (up to 100).
    pub email_address: Vec<String>,
    /// Only these users (up to 100; `-id` excludes one).
    pub user_id: Vec<String>,
    /// Only users with one of these external ids (up to 100; `-id` excludes one).
    pub external_id: Vec<String>,
}

impl ListUsersQuery {
    /// No parameters: Clerk's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the page size (1 to 500).
    #[must_use]
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Sets the offset.
    #[must_use]
    pub fn offset(mut self, offset: u32) -> Self {
        self.offset = Some(offset);
        self
    }

    /// Sets the order, e.g. `+created_at`.
    #[must_use]
    pub fn order_by(mut self, order_by: impl Into<String>) -> Self {
        self.order_by = Some(order_by.into());
        self
    }

    /// Sets the cursor.
    #[must_use]
    pub fn starting_after(mut self, user_id: impl Into<String>) -> Self {
        self.starting_after = Some(user_id.into());
        self
    }

    /// Adds an email address filter.
    #[must_use]
    pub fn email_address(mut self, email: impl Into<String>) -> Self {
        self.email_address.push(email.into());
        self
    }

    /// Adds a user id filter.
    #[must_use]
    pub fn user_id(mut self, user_id: impl Into<String>) -> Self {
        self.user_id.push(user_id.into());
        self
    }

    /// Adds an external id filter.
    #[must_use]
    pub fn external_id(mut self, external_id: impl Into<String>) -> Self {
        self.external_id.push(external_id.into());
        self
    }

    /// Checks what can be checked without asking Clerk.
    pub(crate) fn validate(&self) -> Result<(), ClerkApiError> {
        if self.limit.is_some_and(|l| l == 0 || l > MAX_PAGE_SIZE) {
            return Err(ClerkApiError::InvalidArgument(
                "a page holds 1 to 500 users",
            ));
        }
        if [&self.email_address, &self.user_id, &self.external_id]
            .iter()
            .any(|filter| filter.len() > 100)
        {
            return Err(ClerkApiError::InvalidArgument(
                "a user filter takes at most 100 values",
            ));
        }
        Ok(())
    }

    /// The query pairs, array filters as repeated keys (`email_address=a&email_address=b`).
    pub(crate) fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if let Some(limit) = self.limit {
            pairs.push(("limit", limit.to_string()));
        }
        if let Some(offset) = self.offset {
            pairs.push(("offset", offset.to_string()));
        }
        if let Some(order_by) = &self.order_by {
            pairs.push(("order_by", order_by.clone()));
        }
        if let Some(after) = &self.starting_after {
            pairs.push(("starting_after", after.clone()));
        }
        for (name, values) in [
            ("email_address", &self.email_address),
            ("user_id", &self.user_id),
            ("external_id", &self.external_id),
        ] {
            pairs.extend(values.iter().map(|v| (name, v.clone())));
        }
        pairs
    }
}
