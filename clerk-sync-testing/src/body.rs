//! Reading a JSON request body the way Clerk validates it: a JSON object, only the
//! parameters the endpoint documents, each of its documented type.

use serde_json::{Map, Value};

use crate::clerk_error::ClerkError;

/// A request body that passed the shape checks.
pub(crate) struct JsonBody(Map<String, Value>);

impl JsonBody {
    /// Parses `bytes` (empty means `{}`) and refuses any parameter not in `allowed`, as Clerk
    /// does (`additionalProperties: false` in its schemas).
    pub(crate) fn parse(bytes: &[u8], allowed: &[&str]) -> Result<Self, ClerkError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(Map::new()));
        }
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(bytes) else {
            return Err(ClerkError::malformed_body());
        };
        if let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(ClerkError::unknown_param(unknown));
        }
        Ok(Self(map))
    }

    /// Whether the parameter is present and explicitly `null`.
    pub(crate) fn is_null(&self, name: &str) -> bool {
        self.0.get(name).is_some_and(Value::is_null)
    }

    pub(crate) fn string(&self, name: &str) -> Result<Option<&str>, ClerkError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ClerkError::format_invalid(
                name,
                format!("{name} must be a string."),
            )),
        }
    }

    pub(crate) fn bool(&self, name: &str) -> Result<Option<bool>, ClerkError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ClerkError::format_invalid(
                name,
                format!("{name} must be a boolean."),
            )),
        }
    }

    pub(crate) fn int(&self, name: &str) -> Result<Option<i64>, ClerkError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) if n.as_i64().is_some() => Ok(n.as_i64()),
            Some(_) => Err(ClerkError::format_invalid(
                name,
                format!("{name} must be an integer."),
            )),
        }
    }

    pub(crate) fn strings(&self, name: &str) -> Result<Vec<String>, ClerkError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(ClerkError::format_invalid(
                        name,
                        format!("{name} must be an array of strings."),
                    )),
                })
                .collect(),
            Some(_) => Err(ClerkError::format_invalid(
                name,
                format!("{name} must be an array of strings."),
            )),
        }
    }

    pub(crate) fn object(&self, name: &str) -> Result<Option<Map<String, Value>>, ClerkError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map.clone())),
            Some(_) => Err(ClerkError::format_invalid(
                name,
                format!("{name} must be a JSON object."),
            )),
        }
    }

    /// Refuses documented parameters FakeClerk does not model, rather than silently
    /// ignoring them: a test must not pass on behaviour the fake only pretended to have.
    /// Each name may come with the one value the fake does render (its default), which is
    /// accepted; `null` and empty arrays are always accepted.
    pub(crate) fn refuse_unsupported(
        &self,
        names: &[(&str, Option<Value>)],
    ) -> Result<(), ClerkError> {
        for (name, accepted) in names {
            let refused = match self.0.get(*name) {
                None | Some(Value::Null) => false,
                Some(Value::Array(items)) => !items.is_empty(),
                Some(value) => accepted.as_ref() != Some(value),
            };
            if refused {
                return Err(ClerkError::unsupported(name));
            }
        }
        Ok(())
    }
}

/// Clerk's password rule that matters for tests: at least 8 characters.
pub(crate) fn check_password(body: &JsonBody) -> Result<bool, ClerkError> {
    match body.string("password")? {
        None => Ok(false),
        Some(p) if p.chars().count() < 8 => Err(ClerkError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "form_password_length_too_short",
            "Passwords must be 8 characters or more.",
            "Passwords must be 8 characters or more.",
        )
        .param("password")),
        Some(_) => Ok(true),
    }
}
