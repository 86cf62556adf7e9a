//! Open string enums: the values Clerk documents today as variants, anything else kept verbatim.

/// Defines a public enum of documented wire strings plus `Other(String)`.
///
/// Clerk adds strategies and statuses without notice; a new value must never make a webhook
/// unparseable, so unknown strings land in `Other` with the exact wire text. Deserialization
/// matches the borrowed string directly (no `untagged` buffering) so known values cost no
/// allocation.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $wire:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this version of the library does not know, exactly as sent.
            ///
            /// A later version may give the value its own variant, so test for a specific
            /// string with `as_str()` rather than by matching `Other`.
            Other(String),
        }

        impl $name {
            /// The wire string.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $wire, )+
                    Self::Other(other) => other,
                }
            }
        }

        impl ::std::convert::From<&str> for $name {
            fn from(value: &str) -> Self {
                match value {
                    $( $wire => Self::$variant, )+
                    other => Self::Other(other.to_owned()),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D>(deserializer: D) -> Result<Self, D::Error>
            where
                D: ::serde::Deserializer<'de>,
            {
                struct Visit;
                impl ::serde::de::Visitor<'_> for Visit {
                    type Value = $name;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str("a string")
                    }
                    fn visit_str<E: ::serde::de::Error>(self, value: &str) -> Result<$name, E> {
                        Ok($name::from(value))
                    }
                    fn visit_string<E>(self, value: String) -> Result<$name, E>
                    where
                        E: ::serde::de::Error,
                    {
                        // Deserializers that own their strings (`serde_json::Value`) hand
                        // them over; keep that buffer instead of copying it into `Other`.
                        match $name::from(value.as_str()) {
                            $name::Other(_) => Ok($name::Other(value)),
                            known => Ok(known),
                        }
                    }
                }
                deserializer.deserialize_str(Visit)
            }
        }
    };
}

pub(crate) use string_enum;
