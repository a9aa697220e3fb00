//! Compiles every example in docs/query-format.md and checks the SQL printed
//! under it, so the format's documentation cannot drift from the compiler.

use keel_core::{compile, Query, Schema};

const DOC: &str = include_str!("../../docs/query-format.md");

/// The fenced blocks of the document, as (info string, body).
fn blocks(doc: &str) -> Vec<(&str, String)> {
    let mut out = Vec::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        if let Some(info) = line.strip_prefix("```") {
            let mut body = String::new();
            for inner in lines.by_ref() {
                if inner.starts_with("```") {
                    break;
                }
                body.push_str(inner);
                body.push('\n');
            }
            out.push((info.trim(), body));
        }
    }
    out
}

#[test]
fn every_documented_query_compiles_to_the_documented_sql() {
    let blocks = blocks(DOC);
    let schema_json = &blocks
        .iter()
        .find(|(info, _)| *info == "json schema")
        .expect("the document shows a schema")
        .1;
    let schema = Schema::from_json(schema_json).expect("documented schema parses");

    let mut checked = 0;
    for (i, (info, body)) in blocks.iter().enumerate() {
        if *info != "json query" {
            continue;
        }
        let query = Query::from_json(body)
            .unwrap_or_else(|e| panic!("example {i} does not parse: {e}\n{body}"));
        let statement = compile(&query, &schema)
            .unwrap_or_else(|e| panic!("example {i} does not compile: {e}"));
        let (next_info, sql) = blocks
            .get(i + 1)
            .expect("each query is followed by its SQL");
        assert_eq!(
            *next_info, "sql",
            "example {i} must be followed by a sql block"
        );
        assert_eq!(statement.sql, sql.trim(), "example {i}");
        // A serde round trip loses nothing.
        assert_eq!(Query::from_json(&query.to_json()).unwrap(), query);
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} examples found");
}

#[test]
fn documented_error_messages_are_the_real_ones() {
    let schema = Schema::from_json(
        &blocks(DOC)
            .into_iter()
            .find(|(info, _)| *info == "json schema")
            .unwrap()
            .1,
    )
    .unwrap();
    let cases = [
        (
            r#"{"version":1,"select":{"from":"trak","columns":["name"]}}"#,
            r#"unknown model "trak": the schema has no such table"#,
        ),
        (
            r#"{"version":1,"select":{"from":"track","columns":["nme"]}}"#,
            r#"track: unknown column "nme""#,
        ),
        (
            r#"{"version":1,"select":{"from":"track","columns":["name"],"where":{"eq":{"column":"album_id","value":"one"}}}}"#,
            r#"track.album_id: expected a value of type int4, got string "one""#,
        ),
        (
            r#"{"version":1,"select":{"from":"track","columns":["name","name"]}}"#,
            "track.name: selected twice; each result column needs a distinct name",
        ),
        (
            r#"{"version":2,"select":{"from":"track","columns":["name"]}}"#,
            "query format version 2 is not supported; this build reads version 1",
        ),
    ];
    for (json, message) in cases {
        let err = compile(&Query::from_json(json).unwrap(), &schema).unwrap_err();
        assert_eq!(err.to_string(), message);
        assert!(
            DOC.contains(&format!("`{message}`")),
            "the document lists {message:?}"
        );
    }
}
