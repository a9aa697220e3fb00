//! The PostgreSQL types a schema can declare, with their OIDs.
//!
//! A type is written as a plain string in the JSON forms: PostgreSQL's own
//! name (`int4`, `timestamptz`, `"char"`), one of its SQL aliases
//! (`integer`, `timestamp with time zone`), an element type followed by `[]`
//! for an array (`text[]`, `int4[][]` is the same type as `int4[]`), or any
//! other identifier, which names a user-defined type (an enum or a domain)
//! that the schema resolves.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A PostgreSQL type: a built-in the codec knows, an array of one, or a
/// user-defined type by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PgType {
    Bool,
    /// The one-byte internal type `"char"` (not `char(n)`, which is [`PgType::Bpchar`]).
    Char,
    Int2,
    Int4,
    Int8,
    Oid,
    Float4,
    Float8,
    Numeric,
    Text,
    Varchar,
    Bpchar,
    Name,
    Bytea,
    Uuid,
    Json,
    Jsonb,
    Date,
    Time,
    Timetz,
    Timestamp,
    Timestamptz,
    Interval,
    Inet,
    Cidr,
    Macaddr,
    Int4Range,
    Int8Range,
    NumRange,
    DateRange,
    TsRange,
    TstzRange,
    /// An anonymous composite (`ROW(...)`).
    Record,
    /// An array of any dimension: PostgreSQL does not distinguish `int4[]`
    /// from `int4[][]`.
    Array(Box<PgType>),
    /// A user-defined type (enum, domain, composite) known only by name.
    /// Its OID depends on the database, so it is bound with OID 0 and the
    /// server infers it from the SQL.
    Named(String),
}

/// Every built-in scalar: (type, name, OID, array OID).
const BUILTINS: &[(PgType, &str, u32, u32)] = &[
    (PgType::Bool, "bool", 16, 1000),
    (PgType::Char, "\"char\"", 18, 1002),
    (PgType::Int2, "int2", 21, 1005),
    (PgType::Int4, "int4", 23, 1007),
    (PgType::Int8, "int8", 20, 1016),
    (PgType::Oid, "oid", 26, 1028),
    (PgType::Float4, "float4", 700, 1021),
    (PgType::Float8, "float8", 701, 1022),
    (PgType::Numeric, "numeric", 1700, 1231),
    (PgType::Text, "text", 25, 1009),
    (PgType::Varchar, "varchar", 1043, 1015),
    (PgType::Bpchar, "bpchar", 1042, 1014),
    (PgType::Name, "name", 19, 1003),
    (PgType::Bytea, "bytea", 17, 1001),
    (PgType::Uuid, "uuid", 2950, 2951),
    (PgType::Json, "json", 114, 199),
    (PgType::Jsonb, "jsonb", 3802, 3807),
    (PgType::Date, "date", 1082, 1182),
    (PgType::Time, "time", 1083, 1183),
    (PgType::Timetz, "timetz", 1266, 1270),
    (PgType::Timestamp, "timestamp", 1114, 1115),
    (PgType::Timestamptz, "timestamptz", 1184, 1185),
    (PgType::Interval, "interval", 1186, 1187),
    (PgType::Inet, "inet", 869, 1041),
    (PgType::Cidr, "cidr", 650, 651),
    (PgType::Macaddr, "macaddr", 829, 1040),
    (PgType::Int4Range, "int4range", 3904, 3905),
    (PgType::Int8Range, "int8range", 3926, 3927),
    (PgType::NumRange, "numrange", 3906, 3907),
    (PgType::DateRange, "daterange", 3912, 3913),
    (PgType::TsRange, "tsrange", 3908, 3909),
    (PgType::TstzRange, "tstzrange", 3910, 3911),
    (PgType::Record, "record", 2249, 2287),
];

/// SQL spellings PostgreSQL accepts for the built-ins, beyond their names.
const ALIASES: &[(&str, PgType)] = &[
    ("boolean", PgType::Bool),
    ("smallint", PgType::Int2),
    ("integer", PgType::Int4),
    ("int", PgType::Int4),
    ("bigint", PgType::Int8),
    ("real", PgType::Float4),
    ("double precision", PgType::Float8),
    ("decimal", PgType::Numeric),
    ("character varying", PgType::Varchar),
    ("character", PgType::Bpchar),
    ("char", PgType::Bpchar),
    ("timestamp with time zone", PgType::Timestamptz),
    ("timestamp without time zone", PgType::Timestamp),
    ("time with time zone", PgType::Timetz),
    ("time without time zone", PgType::Time),
];

impl PgType {
    /// The OID to declare in Parse; 0 for a user-defined type, so the
    /// server infers it.
    pub fn oid(&self) -> u32 {
        match self {
            PgType::Named(_) => 0,
            PgType::Array(element) => element.array_oid(),
            scalar => BUILTINS
                .iter()
                .find(|(t, ..)| t == scalar)
                .map_or(0, |(_, _, oid, _)| *oid),
        }
    }

    fn array_oid(&self) -> u32 {
        match self {
            // An array of arrays is the same PostgreSQL type as the array.
            PgType::Array(element) => element.array_oid(),
            scalar => BUILTINS
                .iter()
                .find(|(t, ..)| t == scalar)
                .map_or(0, |(_, _, _, oid)| *oid),
        }
    }

    /// The built-in type (or array of one) with this OID, if the codec knows it.
    pub fn from_oid(oid: u32) -> Option<PgType> {
        BUILTINS.iter().find_map(|(t, _, scalar, array)| {
            if *scalar == oid {
                Some(t.clone())
            } else if *array == oid {
                Some(PgType::Array(Box::new(t.clone())))
            } else {
                None
            }
        })
    }

    /// Whether values of this type are encoded and decoded by keel's binary
    /// codec; other types travel in text format.
    pub fn is_builtin(&self) -> bool {
        match self {
            PgType::Named(_) => false,
            PgType::Array(element) => element.is_builtin(),
            _ => true,
        }
    }

    /// The name as PostgreSQL writes it in a cast (`int4`, `"char"`,
    /// `text[]`), and the string form in JSON.
    pub fn name(&self) -> String {
        self.to_string()
    }

    /// Parses a type as written in a schema or a cast. Case is ignored for
    /// built-ins; a length or precision modifier (`varchar(20)`,
    /// `numeric(10,2)`) is accepted and dropped, since it does not change
    /// the wire format.
    pub fn parse(text: &str) -> PgType {
        let trimmed = text.trim();
        if let Some(element) = trimmed.strip_suffix("[]") {
            let element = PgType::parse(element);
            return match element {
                PgType::Array(_) => element,
                other => PgType::Array(Box::new(other)),
            };
        }
        let without_modifier = match (trimmed.find('('), trimmed.ends_with(')')) {
            (Some(open), true) if open > 0 => trimmed[..open].trim_end(),
            _ => trimmed,
        };
        if without_modifier == "\"char\"" {
            return PgType::Char;
        }
        let lower = without_modifier.to_ascii_lowercase();
        if let Some((t, ..)) = BUILTINS.iter().find(|(_, name, ..)| *name == lower) {
            return t.clone();
        }
        if let Some((_, t)) = ALIASES.iter().find(|(alias, _)| *alias == lower) {
            return t.clone();
        }
        PgType::Named(trimmed.to_owned())
    }
}

impl fmt::Display for PgType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PgType::Named(name) => f.write_str(name),
            PgType::Array(element) => {
                // Nested arrays collapse: PostgreSQL has one array type per element.
                let mut inner = element.as_ref();
                while let PgType::Array(next) = inner {
                    inner = next;
                }
                write!(f, "{inner}[]")
            }
            scalar => f.write_str(
                BUILTINS
                    .iter()
                    .find(|(t, ..)| t == scalar)
                    .map_or("unknown", |(_, name, ..)| name),
            ),
        }
    }
}

impl Serialize for PgType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PgType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
        if text.trim().is_empty() {
            return Err(serde::de::Error::custom("a type name cannot be empty"));
        }
        Ok(PgType::parse(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_aliases_and_arrays_round_trip_as_strings() {
        for (t, name, oid, array_oid) in BUILTINS {
            assert_eq!(PgType::parse(name), *t);
            assert_eq!(t.to_string(), *name);
            assert_eq!(t.oid(), *oid);
            assert_eq!(PgType::from_oid(*oid).as_ref(), Some(t));
            let array = PgType::Array(Box::new(t.clone()));
            assert_eq!(array.oid(), *array_oid);
            assert_eq!(PgType::from_oid(*array_oid), Some(array.clone()));
            let json = serde_json::to_string(&array).unwrap();
            assert_eq!(serde_json::from_str::<PgType>(&json).unwrap(), array);
        }
        let parse = |s: &str| serde_json::from_str::<PgType>(&format!("{s:?}")).unwrap();
        assert_eq!(parse("integer"), PgType::Int4);
        assert_eq!(parse("BIGINT"), PgType::Int8);
        assert_eq!(parse("double precision"), PgType::Float8);
        assert_eq!(parse("timestamp with time zone"), PgType::Timestamptz);
        assert_eq!(parse("character varying(20)"), PgType::Varchar);
        assert_eq!(parse("numeric(10,2)"), PgType::Numeric);
        assert_eq!(parse("char"), PgType::Bpchar);
        assert_eq!(parse("\"char\""), PgType::Char);
        assert_eq!(
            parse("text[]"),
            PgType::Array(Box::new(PgType::Text)),
            "arrays are the element name plus []"
        );
        assert_eq!(parse("int4[][]").to_string(), "int4[]");
        assert_eq!(parse("mood"), PgType::Named("mood".into()));
        assert_eq!(
            parse("mood[]"),
            PgType::Array(Box::new(PgType::Named("mood".into())))
        );
        assert_eq!(
            serde_json::to_string(&PgType::Char).unwrap(),
            r#""\"char\"""#
        );
        assert!(serde_json::from_str::<PgType>(r#""""#).is_err());
        assert_eq!(PgType::Named("mood".into()).oid(), 0);
        assert!(!parse("mood[]").is_builtin());
        assert_eq!(PgType::from_oid(705), None);
    }
}
