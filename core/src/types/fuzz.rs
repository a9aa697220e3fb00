//! The fuzzing harness for the value decoders.

use super::{PgType, Value};

/// The fuzzing harness for the value decoders, shared by the cargo-fuzz
/// target and the regression-corpus replay in `cargo test`. The first byte
/// picks the type; whatever decodes must render, serialize and re-encode
/// without panicking, and re-encoding must decode to the same text.
pub fn fuzz_decode(data: &[u8]) {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let scalars = [
        PgType::Bool,
        PgType::Char,
        PgType::Int2,
        PgType::Int4,
        PgType::Int8,
        PgType::Oid,
        PgType::Float4,
        PgType::Float8,
        PgType::Numeric,
        PgType::Text,
        PgType::Bytea,
        PgType::Uuid,
        PgType::Json,
        PgType::Jsonb,
        PgType::Date,
        PgType::Time,
        PgType::Timetz,
        PgType::Timestamp,
        PgType::Timestamptz,
        PgType::Interval,
        PgType::Inet,
        PgType::Cidr,
        PgType::Macaddr,
        PgType::Int4Range,
        PgType::Int8Range,
        PgType::NumRange,
        PgType::DateRange,
        PgType::TsRange,
        PgType::TstzRange,
        PgType::Record,
        PgType::Named("mood".into()),
    ];
    let scalar = &scalars[usize::from(selector & 0x7f) % scalars.len()];
    let ty = if selector & 0x80 != 0 {
        PgType::Array(Box::new(scalar.clone()))
    } else {
        scalar.clone()
    };
    let Ok(value) = Value::decode_binary(&ty, bytes) else {
        return;
    };
    let text = value.to_pg_text();
    let _ = serde_json::to_string(&value);
    if let Ok(Some(encoded)) = value.encode_binary() {
        // A value that decoded must survive its own encoding.
        match Value::decode_binary(&ty, &encoded) {
            Ok(again) => assert_eq!(
                again.to_pg_text(),
                text,
                "{ty}: re-encoding changed the value"
            ),
            Err(e) => panic!("{ty}: keel cannot decode its own encoding: {e}"),
        }
    }
}
