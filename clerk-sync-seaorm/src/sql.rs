//! Dialect helpers: placeholders, JSON casts, time values and time comparisons.

use sea_orm::{DbBackend, Statement, Value};
use time::{OffsetDateTime, UtcOffset};

/// Stored times are UTC with whole microseconds: what `TIMESTAMPTZ` and `DATETIME(6)` keep, so
/// a value reads back equal on every dialect, and SQLite text written by either store agrees.
pub(crate) fn ts(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(UtcOffset::UTC);
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .unwrap_or(t)
}

/// The statement-building side of a store: which dialect, and how it spells things.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dialect(pub(crate) DbBackend);

impl Dialect {
    pub(crate) fn is_pg(self) -> bool {
        self.0 == DbBackend::Postgres
    }

    pub(crate) fn is_mysql(self) -> bool {
        self.0 == DbBackend::MySql
    }

    pub(crate) fn is_sqlite(self) -> bool {
        self.0 == DbBackend::Sqlite
    }

    /// Placeholder `n` (1-based) for PostgreSQL (`$n`) or SQLite (`?n`). MySQL statements are
    /// written separately with positional `?`.
    pub(crate) fn p(self, n: usize) -> String {
        if self.is_sqlite() {
            format!("?{n}")
        } else {
            format!("${n}")
        }
    }

    /// A JSON parameter bound as text: PostgreSQL needs the cast into `JSONB`; MySQL's `JSON`
    /// and SQLite's `TEXT` take the text as is.
    pub(crate) fn json_p(self, n: usize) -> String {
        if self.is_pg() {
            format!("CAST(${n} AS JSONB)")
        } else {
            self.p(n)
        }
    }

    /// A time column in a comparison or `ORDER BY`.
    ///
    /// SQLite keeps times as the RFC 3339 text sqlx writes for `OffsetDateTime`, which trims
    /// trailing zeros of the fraction (`…:37Z`, `…:37.5Z`), so plain text comparison orders
    /// `…:37.5Z` before `…:37Z`. The expression rebuilds a fixed-width key
    /// (`YYYY-MM-DDTHH:MM:SS` + 9 fraction digits), which [`Dialect::time_key`] also produces.
    /// It accepts `Z` or `+00:00` and a `T` or space separator, as written by either store.
    pub(crate) fn time_col(self, col: &str) -> String {
        if self.is_sqlite() {
            let n = format!("replace(replace({col}, '+00:00', 'Z'), ' ', 'T')");
            format!(
                "(substr({n}, 1, 19) || substr(substr(rtrim(substr({n}, 20), 'Z'), 2) || '000000000', 1, 9))"
            )
        } else {
            col.to_owned()
        }
    }

    /// The value a [`Dialect::time_col`] expression is compared with.
    pub(crate) fn time_key(self, t: OffsetDateTime) -> Value {
        let t = ts(t);
        if self.is_sqlite() {
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{:09}",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
                t.nanosecond()
            )
            .into()
        } else {
            t.into()
        }
    }

    /// A time value to write.
    ///
    /// On SQLite this is text in the one fixed-width form the sqlx store writes too
    /// (`2026-11-22T05:44:37.123456Z`), rather than sqlx's `OffsetDateTime` encoding, which
    /// trims trailing fraction zeros: fixed width keeps plain text comparison (which the sqlx
    /// store uses) ordered like the instants, and either store reads the other's rows.
    pub(crate) fn tv(self, t: OffsetDateTime) -> Value {
        let t = ts(t);
        if self.is_sqlite() {
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
                t.microsecond()
            )
            .into()
        } else {
            t.into()
        }
    }

    pub(crate) fn stmt(self, sql: impl Into<String>, values: Vec<Value>) -> Statement {
        Statement::from_sql_and_values(self.0, sql.into(), values)
    }
}

/// An optional string value.
pub(crate) fn sv(s: Option<&str>) -> Value {
    s.map(str::to_owned).into()
}
