//! How a time is written to and read from each database: [`Ts`].
//!
//! Every store keeps times to the microsecond in UTC ([`whole_micros`]), so a value read back
//! equals the value written on every dialect:
//! - PostgreSQL: `TIMESTAMPTZ`.
//! - MySQL / MariaDB: `DATETIME(6)`, which carries no zone; the store writes UTC and reads UTC,
//!   whatever the session's `time_zone`.
//! - SQLite, which has no time type: `TEXT` in one fixed-width RFC 3339 form,
//!   `2026-11-22T05:44:37.123456Z`, so that comparing the text (`<=` in claims, prune, leases)
//!   compares the instants. Any RFC 3339 form is read (a row written by another tool).
//!
//! One type for all three means a row struct decodes the same on every dialect (see
//! [`crate::rows`]), and a statement binds a time the same way on every dialect.

use clerk_sync_core::store::whole_micros;
use time::OffsetDateTime;

/// A stored time: UTC, whole microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Ts(pub(crate) OffsetDateTime);

impl Ts {
    /// `at` as the store keeps it.
    pub(crate) fn new(at: OffsetDateTime) -> Self {
        Ts(whole_micros(at))
    }
}

impl From<Ts> for OffsetDateTime {
    fn from(ts: Ts) -> Self {
        ts.0
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use sqlx::encode::IsNull;
    use sqlx::error::BoxDynError;
    use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
    use sqlx::{Decode, Encode, Postgres, Type};
    use time::{OffsetDateTime, UtcOffset};

    use super::Ts;

    impl Type<Postgres> for Ts {
        fn type_info() -> PgTypeInfo {
            <OffsetDateTime as Type<Postgres>>::type_info()
        }

        fn compatible(ty: &PgTypeInfo) -> bool {
            <OffsetDateTime as Type<Postgres>>::compatible(ty)
        }
    }

    impl Encode<'_, Postgres> for Ts {
        fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
            <OffsetDateTime as Encode<Postgres>>::encode_by_ref(&self.0, buf)
        }
    }

    impl<'r> Decode<'r, Postgres> for Ts {
        fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
            let at = <OffsetDateTime as Decode<Postgres>>::decode(value)?;
            Ok(Ts(at.to_offset(UtcOffset::UTC)))
        }
    }
}

#[cfg(feature = "mysql")]
mod mysql {
    use sqlx::encode::IsNull;
    use sqlx::error::BoxDynError;
    use sqlx::mysql::{MySqlTypeInfo, MySqlValueRef};
    use sqlx::{Decode, Encode, MySql, Type};
    use time::PrimitiveDateTime;

    use super::Ts;

    impl Ts {
        /// The UTC wall-clock time `DATETIME(6)` holds.
        fn utc(self) -> PrimitiveDateTime {
            PrimitiveDateTime::new(self.0.date(), self.0.time())
        }
    }

    impl Type<MySql> for Ts {
        fn type_info() -> MySqlTypeInfo {
            <PrimitiveDateTime as Type<MySql>>::type_info()
        }

        fn compatible(ty: &MySqlTypeInfo) -> bool {
            <PrimitiveDateTime as Type<MySql>>::compatible(ty)
        }
    }

    impl Encode<'_, MySql> for Ts {
        fn encode_by_ref(&self, buf: &mut Vec<u8>) -> Result<IsNull, BoxDynError> {
            <PrimitiveDateTime as Encode<MySql>>::encode_by_ref(&self.utc(), buf)
        }
    }

    impl<'r> Decode<'r, MySql> for Ts {
        fn decode(value: MySqlValueRef<'r>) -> Result<Self, BoxDynError> {
            Ok(Ts(
                <PrimitiveDateTime as Decode<MySql>>::decode(value)?.assume_utc()
            ))
        }
    }
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use sqlx::encode::IsNull;
    use sqlx::error::BoxDynError;
    use sqlx::sqlite::{SqliteArgumentsBuffer, SqliteTypeInfo, SqliteValueRef};
    use sqlx::{Decode, Encode, Sqlite, Type};
    use time::format_description::FormatItem;
    use time::format_description::well_known::Rfc3339;
    use time::macros::format_description;
    use time::{OffsetDateTime, UtcOffset};

    use super::Ts;

    /// Fixed width, so that the text sorts as the instants do.
    const TEXT: &[FormatItem<'static>] =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

    impl Ts {
        /// The SQLite text form.
        pub(crate) fn text(self) -> String {
            // Formatting a UTC time between the years 0 and 9999 cannot fail; the store never
            // keeps a time past `MAX_STORED_TIME` (9999-12-31).
            self.0
                .format(TEXT)
                .unwrap_or_else(|_| "9999-12-31T23:59:59.999999Z".to_owned())
        }

        /// A stored text time, in any RFC 3339 form.
        pub(crate) fn parse(text: &str) -> Result<Self, time::error::Parse> {
            OffsetDateTime::parse(text, &Rfc3339).map(|at| Ts(at.to_offset(UtcOffset::UTC)))
        }
    }

    impl Type<Sqlite> for Ts {
        fn type_info() -> SqliteTypeInfo {
            <String as Type<Sqlite>>::type_info()
        }

        fn compatible(ty: &SqliteTypeInfo) -> bool {
            <String as Type<Sqlite>>::compatible(ty)
        }
    }

    impl<'q> Encode<'q, Sqlite> for Ts {
        fn encode_by_ref(&self, buf: &mut SqliteArgumentsBuffer) -> Result<IsNull, BoxDynError> {
            <String as Encode<'q, Sqlite>>::encode(self.text(), buf)
        }
    }

    impl<'r> Decode<'r, Sqlite> for Ts {
        fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
            Ok(Ts::parse(<&str as Decode<Sqlite>>::decode(value)?)?)
        }
    }

    #[cfg(test)]
    mod tests {
        use time::macros::datetime;

        use super::Ts;

        #[test]
        fn text_is_fixed_width_and_sorts_like_time() {
            let a = Ts::new(datetime!(2026-01-02 03:04:05 UTC));
            let b = Ts::new(datetime!(2026-01-02 03:04:05.5 UTC));
            let c = Ts::new(datetime!(2026-01-02 03:04:05.000001999 +02:00));
            let (ta, tb, tc) = (a.text(), b.text(), c.text());
            assert_eq!(ta, "2026-01-02T03:04:05.000000Z");
            assert_eq!(tb, "2026-01-02T03:04:05.500000Z");
            assert_eq!(
                tc, "2026-01-02T01:04:05.000001Z",
                "UTC, truncated to micros"
            );
            assert!(tc < ta && ta < tb);
            assert_eq!(Ts::parse(&tb).expect("parse"), b);
            assert_eq!(
                Ts::new(clerk_sync_core::store::MAX_STORED_TIME).text(),
                "9999-12-31T23:59:59.999999Z"
            );
        }

        #[test]
        fn other_rfc3339_forms_are_read() {
            assert_eq!(
                Ts::parse("2026-01-02T05:04:05+02:00").expect("parse"),
                Ts::new(datetime!(2026-01-02 03:04:05 UTC))
            );
            assert!(Ts::parse("yesterday").is_err());
        }
    }
}
