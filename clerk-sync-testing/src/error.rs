//! Errors of FakeClerk's own helpers (seeding, direct changes, start-up).

/// Why a FakeClerk helper refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FakeClerkError {
    /// An email address, username or external id belongs to another user (Clerk's
    /// `form_identifier_exists`).
    #[error("{param} is already taken by another user")]
    IdentifierTaken {
        /// `email_address`, `username` or `external_id`.
        param: &'static str,
    },
    /// The email address is not of the form `local@domain`.
    #[error("not a valid email address")]
    InvalidEmail,
    /// A value refused by Clerk's rules, e.g. a `primary_email_address_id` that is not a
    /// verified address of the user.
    #[error("{param} has a value Clerk would refuse")]
    InvalidValue {
        /// The parameter.
        param: &'static str,
    },
    /// No live user has this id.
    #[error("no such user")]
    UserNotFound,
    /// The server could not listen on 127.0.0.1.
    #[error("FakeClerk could not start: {0}")]
    Start(#[source] std::io::Error),
}

/// Clerk's check, loosely: something before and after one `@`, a dot in the domain, no
/// spaces.
pub(crate) fn is_valid_email(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !address.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_shapes() {
        assert!(is_valid_email("ada@example.com"));
        assert!(!is_valid_email("ada@example"));
        assert!(!is_valid_email("@example.com"));
        assert!(!is_valid_email("a b@example.com"));
        assert!(!is_valid_email("a@b@example.com"));
    }
}
