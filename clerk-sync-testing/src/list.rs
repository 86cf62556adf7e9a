//! `GET /v1/users` and `GET /v1/users/count`: parameters checked as Clerk documents them,
//! then filtering, ordering and paging over the user table.

use crate::clerk_error::ClerkError;
use crate::users::{UserRecord, UserStore};
use std::cmp::Ordering;

/// Each array filter takes at most this many values.
const MAX_FILTER_VALUES: usize = 100;

/// The fields `order_by` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OrderField {
    CreatedAt,
    UpdatedAt,
    EmailAddress,
    Web3Wallet,
    FirstName,
    LastName,
    PhoneNumber,
    Username,
    LastActiveAt,
    LastSignInAt,
}

impl OrderField {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "created_at" => Self::CreatedAt,
            "updated_at" => Self::UpdatedAt,
            "email_address" => Self::EmailAddress,
            "web3wallet" => Self::Web3Wallet,
            "first_name" => Self::FirstName,
            "last_name" => Self::LastName,
            "phone_number" => Self::PhoneNumber,
            "username" => Self::Username,
            "last_active_at" => Self::LastActiveAt,
            "last_sign_in_at" => Self::LastSignInAt,
            _ => return None,
        })
    }
}

/// `+id` / `id` include, `-id` excludes.
#[derive(Debug, Default)]
struct SignedFilter {
    include: Vec<String>,
    exclude: Vec<String>,
}

impl SignedFilter {
    fn push(&mut self, value: &str) {
        if let Some(excluded) = value.strip_prefix('-') {
            self.exclude.push(excluded.to_owned());
        } else {
            self.include
                .push(value.strip_prefix('+').unwrap_or(value).to_owned());
        }
    }

    fn len(&self) -> usize {
        self.include.len() + self.exclude.len()
    }

    fn admits(&self, value: Option<&str>) -> bool {
        if !self.include.is_empty() && !value.is_some_and(|v| self.include.iter().any(|i| i == v)) {
            return false;
        }
        !value.is_some_and(|v| self.exclude.iter().any(|e| e == v))
    }
}

/// The parsed parameters of a listing or count.
#[derive(Debug)]
pub(crate) struct ListParams {
    limit: usize,
    offset: usize,
    field: OrderField,
    ascending: bool,
    starting_after: Option<String>,
    email_address: Vec<String>,
    username: Vec<String>,
    user_id: SignedFilter,
    external_id: SignedFilter,
    query: Option<String>,
}

impl ListParams {
    /// Reads the query pairs. `paged` is false for `/users/count`, which takes the filters
    /// only (paging parameters there are ignored, as unknown parameters are).
    pub(crate) fn parse(pairs: &[(String, String)], paged: bool) -> Result<Self, ClerkError> {
        let mut params = ListParams {
            limit: 10,
            offset: 0,
            field: OrderField::CreatedAt,
            ascending: false,
            starting_after: None,
            email_address: Vec::new(),
            username: Vec::new(),
            user_id: SignedFilter::default(),
            external_id: SignedFilter::default(),
            query: None,
        };
        let mut order_seen = false;
        for (name, value) in pairs {
            match name.as_str() {
                "limit" if paged => {
                    params.limit = match value.parse::<i64>() {
                        Ok(limit @ 1..=500) => limit as usize,
                        Ok(_) => {
                            return Err(ClerkError::value_invalid(
                                "limit",
                                "limit must be between 1 and 500.",
                            ));
                        }
                        Err(_) => {
                            return Err(ClerkError::format_invalid(
                                "limit",
                                "limit must be an integer.",
                            ));
                        }
                    };
                }
                "offset" if paged => {
                    params.offset = match value.parse::<i64>() {
                        Ok(offset) if offset >= 0 => usize::try_from(offset).unwrap_or(usize::MAX),
                        Ok(_) => {
                            return Err(ClerkError::value_invalid(
                                "offset",
                                "offset must be greater than or equal to 0.",
                            ));
                        }
                        Err(_) => {
                            return Err(ClerkError::format_invalid(
                                "offset",
                                "offset must be an integer.",
                            ));
                        }
                    };
                }
                // Clerk keeps only the first order_by.
                "order_by" if paged && !order_seen => {
                    order_seen = true;
                    let (ascending, field) = match value.as_bytes().first() {
                        Some(b'+') => (true, &value[1..]),
                        Some(b'-') => (false, &value[1..]),
                        _ => (true, value.as_str()),
                    };
                    params.ascending = ascending;
                    params.field = OrderField::parse(field).ok_or_else(|| {
                        ClerkError::value_invalid(
                            "order_by",
                            format!("{value} is not a valid order_by value."),
                        )
                    })?;
                }
                "starting_after" if paged => params.starting_after = Some(value.clone()),
                "email_address" => params.email_address.push(value.to_ascii_lowercase()),
                "username" => params.username.push(value.to_ascii_lowercase()),
                "user_id" => params.user_id.push(value),
                "external_id" => params.external_id.push(value),
                "query" => params.query = Some(value.to_ascii_lowercase()),
                _ => {}
            }
        }
        for (name, count) in [
            ("email_address", params.email_address.len()),
            ("username", params.username.len()),
            ("user_id", params.user_id.len()),
            ("external_id", params.external_id.len()),
        ] {
            if count > MAX_FILTER_VALUES {
                return Err(ClerkError::value_invalid(
                    name,
                    format!("{name} accepts up to 100 values."),
                ));
            }
        }
        if params.starting_after.is_some() {
            if params.field != OrderField::CreatedAt {
                return Err(ClerkError::value_invalid(
                    "starting_after",
                    "starting_after requires ordering by created_at.",
                ));
            }
            if params.offset != 0 {
                return Err(ClerkError::value_invalid(
                    "starting_after",
                    "starting_after cannot be combined with a non-zero offset.",
                ));
            }
        }
        Ok(params)
    }

    fn admits(&self, user: &UserRecord) -> bool {
        if !self.email_address.is_empty()
            && !user
                .emails
                .iter()
                .any(|e| self.email_address.iter().any(|f| *f == *e.address))
        {
            return false;
        }
        if !self.username.is_empty()
            && !user
                .username
                .as_deref()
                .is_some_and(|u| self.username.iter().any(|f| f.eq_ignore_ascii_case(u)))
        {
            return false;
        }
        if !self.user_id.admits(Some(&user.id))
            || !self.external_id.admits(user.external_id.as_deref())
        {
            return false;
        }
        if let Some(query) = &self.query {
            let hit = |s: &str| s.to_ascii_lowercase().contains(query.as_str());
            let found = user.emails.iter().any(|e| hit(&e.address))
                || [
                    Some(&*user.id),
                    user.username.as_deref(),
                    user.first_name.as_deref(),
                    user.last_name.as_deref(),
                ]
                .into_iter()
                .flatten()
                .any(hit);
            if !found {
                return false;
            }
        }
        true
    }

    /// How many users pass the filters.
    pub(crate) fn count(&self, store: &UserStore) -> usize {
        store.iter().filter(|u| self.admits(u)).count()
    }

    /// The requested page.
    pub(crate) fn page<'a>(&self, store: &'a UserStore) -> Result<Vec<&'a UserRecord>, ClerkError> {
        if self.field == OrderField::CreatedAt {
            // The table is kept in (created_at, id) order: walk it from the cursor.
            let position = match &self.starting_after {
                None => None,
                Some(id) => Some(store.position_of(id).ok_or_else(|| {
                    ClerkError::value_invalid(
                        "starting_after",
                        "starting_after must be the id of a user of this instance.",
                    )
                })?),
            };
            return Ok(store
                .iter_from(position, self.ascending)
                .filter(|u| self.admits(u))
                .skip(self.offset)
                .take(self.limit)
                .collect());
        }
        let mut users: Vec<&UserRecord> = store.iter().filter(|u| self.admits(u)).collect();
        users.sort_by(|a, b| self.compare(a, b));
        Ok(users
            .into_iter()
            .skip(self.offset)
            .take(self.limit)
            .collect())
    }

    fn compare(&self, a: &UserRecord, b: &UserRecord) -> Ordering {
        let key = |u: &UserRecord| -> Option<String> {
            match self.field {
                OrderField::EmailAddress => u.primary_email().map(|e| e.address.to_string()),
                OrderField::FirstName => u.first_name.as_deref().map(str::to_owned),
                OrderField::LastName => u.last_name.as_deref().map(str::to_owned),
                OrderField::Username => u.username.as_deref().map(str::to_owned),
                OrderField::UpdatedAt => Some(format!("{:020}", u.updated_at)),
                // Not modelled: every user ties, and the tie-break orders them.
                _ => None,
            }
        };
        // As PostgreSQL sorts: NULLs last ascending, first descending.
        let primary = match (key(a), key(b)) {
            (Some(x), Some(y)) => x.cmp(&y),
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
        };
        let ordered = primary
            .then(a.created_at.cmp(&b.created_at))
            .then_with(|| a.id.cmp(&b.id));
        if self.ascending {
            ordered
        } else {
            ordered.reverse()
        }
    }
}
