//! Parsing a query string, the same way for every framework.

use std::collections::HashMap;

use super::ApiError;

/// The parameters of a query string (`a=1&b=x%20y`), percent-decoded; the last value of a
/// repeated name wins.
#[derive(Debug, Default)]
pub(super) struct Query(HashMap<String, String>);

impl Query {
    pub(super) fn parse(query: &str) -> Result<Self, ApiError> {
        let mut params = HashMap::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            params.insert(decode(name)?, decode(value)?);
        }
        Ok(Query(params))
    }

    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub(super) fn u32(&self, name: &str) -> Result<Option<u32>, ApiError> {
        self.number(name)
    }

    pub(super) fn i64(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.number(name)
    }

    fn number<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, ApiError> {
        self.get(name)
            .filter(|v| !v.is_empty())
            .map(|v| {
                v.parse()
                    .map_err(|_| ApiError::bad_request(format!("{name} must be a number")))
            })
            .transpose()
    }

    pub(super) fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            // `?dry_run` alone means yes, as a flag would.
            Some("" | "true" | "1" | "yes") => Ok(Some(true)),
            Some("false" | "0" | "no") => Ok(Some(false)),
            Some(_) => Err(ApiError::bad_request(format!(
                "{name} must be true or false"
            ))),
        }
    }
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte.
fn decode(text: &str) -> Result<String, ApiError> {
    percent_decode(text, true)
        .ok_or_else(|| ApiError::bad_request("the query string is not validly encoded"))
}

/// Percent-decoding to UTF-8 text, `+` as a space when `plus_is_space` (query strings, not
/// paths); `None` for a bad escape or bytes that are not UTF-8.
pub(super) fn percent_decode(text: &str, plus_is_space: bool) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut input = text.bytes();
    while let Some(byte) = input.next() {
        match byte {
            b'+' if plus_is_space => bytes.push(b' '),
            b'%' => {
                let hex = [input.next()?, input.next()?];
                let hex = std::str::from_utf8(&hex).ok()?;
                bytes.push(u8::from_str_radix(hex, 16).ok()?);
            }
            byte => bytes.push(byte),
        }
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_decodes() {
        let q = Query::parse("limit=10&outcome=failed&name=a+b%21&dry_run&force=false").unwrap();
        assert_eq!(q.u32("limit").unwrap(), Some(10));
        assert_eq!(q.get("outcome"), Some("failed"));
        assert_eq!(q.get("name"), Some("a b!"));
        assert_eq!(q.bool("dry_run").unwrap(), Some(true));
        assert_eq!(q.bool("force").unwrap(), Some(false));
        assert_eq!(q.bool("absent").unwrap(), None);
        assert_eq!(q.u32("absent").unwrap(), None);
    }

    #[test]
    fn bad_values_are_400s() {
        assert_eq!(Query::parse("a=%zz").unwrap_err().status, 400);
        assert_eq!(Query::parse("a=%4").unwrap_err().status, 400);
        assert_eq!(Query::parse("a=%ff").unwrap_err().status, 400);
        let q = Query::parse("limit=ten&flag=maybe").unwrap();
        assert_eq!(q.u32("limit").unwrap_err().status, 400);
        assert_eq!(q.bool("flag").unwrap_err().status, 400);
    }
}
