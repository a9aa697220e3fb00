//! Every class of invalid input gives a typed error naming the model and the
//! column, before any I/O, and the same error from the JSON form and from
//! the Rust builder.

use std::collections::BTreeMap;

use keel_core::compile::CompileError;
use keel_core::query::{Delete, Expr, Filter, Insert, JoinKind, Select, Update};
use keel_core::{compile, Query, Schema};

fn schema() -> Schema {
    Schema::from_json(include_str!("golden/schema.json")).unwrap()
}

/// Compiles the JSON form and the builder form, checks they are the same
/// definition and fail with the same error, and returns that error.
fn both(json: &str, built: impl Into<Query>) -> CompileError {
    let schema = schema();
    let parsed = Query::from_json(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    let built = built.into();
    assert_eq!(parsed, built, "the builder and the JSON form differ");
    let from_json = compile(&parsed, &schema).expect_err("invalid input compiled");
    let from_builder = compile(&built, &schema).expect_err("invalid input compiled");
    assert_eq!(from_json, from_builder);
    from_json
}

fn subject(e: &CompileError) -> (Option<&str>, Option<&str>) {
    e.subject()
}

#[test]
fn unknown_table() {
    let e = both(
        r#"{"version":1,"select":{"from":"trak","columns":["name"]}}"#,
        Select::from("trak").columns(["name"]),
    );
    assert!(matches!(&e, CompileError::UnknownModel { model } if model == "trak"));
    assert_eq!(subject(&e), (Some("trak"), None));
}

#[test]
fn unknown_column_in_each_position() {
    let cases: Vec<(&str, Query)> = vec![
        (
            r#"{"version":1,"select":{"from":"track","columns":["nme"]}}"#,
            Select::from("track").columns(["nme"]).into(),
        ),
        (
            r#"{"version":1,"select":{"from":"track","columns":["name"],"where":{"eq":{"column":"nme","value":"x"}}}}"#,
            Select::from("track")
                .columns(["name"])
                .filter(Filter::eq("nme", "x"))
                .into(),
        ),
        (
            r#"{"version":1,"select":{"from":"track","columns":["name"],"order_by":[{"column":"nme","direction":"asc"}]}}"#,
            Select::from("track")
                .columns(["name"])
                .order_by("nme", Default::default())
                .into(),
        ),
        (
            r#"{"version":1,"update":{"table":"track","set":{"nme":{"value":"x"}},"where":{"eq":{"column":"track_id","value":1}}}}"#,
            Update::table("track")
                .set("nme", Expr::value("x"))
                .filter(Filter::eq("track_id", 1))
                .into(),
        ),
        (
            r#"{"version":1,"insert":{"into":"track","rows":[{"nme":"x"}]}}"#,
            Insert::rows(
                "track",
                [BTreeMap::from([("nme".to_owned(), serde_json::json!("x"))])],
            )
            .into(),
        ),
    ];
    for (json, built) in cases {
        let e = both(json, built);
        assert!(
            matches!(&e, CompileError::UnknownColumn { model, column } if model == "track" && column == "nme"),
            "{e}"
        );
        assert_eq!(subject(&e), (Some("track"), Some("nme")));
    }
}

#[test]
fn unknown_column_of_a_joined_relation_names_that_model() {
    let e = both(
        r#"{"version":1,"select":{"from":"track","columns":["album.titel"],"joins":[{"relation":"album","kind":"inner"}]}}"#,
        Select::from("track")
            .columns(["album.titel"])
            .join("album", JoinKind::Inner),
    );
    assert_eq!(subject(&e), (Some("album"), Some("titel")));
}

#[test]
fn unknown_relation() {
    let e = both(
        r#"{"version":1,"select":{"from":"track","columns":["name"],"joins":[{"relation":"artist","kind":"inner"}]}}"#,
        Select::from("track")
            .columns(["name"])
            .join("artist", JoinKind::Inner),
    );
    assert!(
        matches!(&e, CompileError::UnknownRelation { model, relation } if model == "track" && relation == "artist")
    );
    let e = both(
        r#"{"version":1,"select":{"from":"album","columns":["title"],"where":{"has":{"relation":"trakcs"}}}}"#,
        Select::from("album")
            .columns(["title"])
            .filter(Filter::has("trakcs", None)),
    );
    assert!(matches!(&e, CompileError::UnknownRelation { relation, .. } if relation == "trakcs"));
}

#[test]
fn value_that_does_not_fit_its_column() {
    let cases: Vec<(&str, Query, &str)> = vec![
        (
            r#"{"version":1,"select":{"from":"track","columns":["name"],"where":{"eq":{"column":"album_id","value":"one"}}}}"#,
            Select::from("track")
                .columns(["name"])
                .filter(Filter::eq("album_id", "one"))
                .into(),
            "album_id",
        ),
        (
            r#"{"version":1,"select":{"from":"track","columns":["name"],"where":{"eq":{"column":"album_id","value":3000000000}}}}"#,
            Select::from("track")
                .columns(["name"])
                .filter(Filter::eq("album_id", 3_000_000_000_i64))
                .into(),
            "album_id",
        ),
        (
            r#"{"version":1,"select":{"from":"album","columns":["title"],"where":{"eq":{"column":"mood","value":"angry"}}}}"#,
            Select::from("album")
                .columns(["title"])
                .filter(Filter::eq("mood", "angry"))
                .into(),
            "mood",
        ),
        (
            r#"{"version":1,"update":{"table":"track","set":{"released_at":{"value":"yesterday"}},"where":{"eq":{"column":"track_id","value":1}}}}"#,
            Update::table("track")
                .set("released_at", "yesterday")
                .filter(Filter::eq("track_id", 1))
                .into(),
            "released_at",
        ),
    ];
    for (json, built, column) in cases {
        let e = both(json, built);
        assert!(matches!(&e, CompileError::TypeMismatch { .. }), "{e}");
        assert_eq!(subject(&e).1, Some(column), "{e}");
    }
}

#[test]
fn null_into_a_not_null_column() {
    let e = both(
        r#"{"version":1,"update":{"table":"track","set":{"name":{"value":null}},"where":{"eq":{"column":"track_id","value":1}}}}"#,
        Update::table("track")
            .set("name", Expr::Value(serde_json::Value::Null))
            .filter(Filter::eq("track_id", 1)),
    );
    assert!(
        matches!(&e, CompileError::NullNotAllowed { model, column } if model == "track" && column == "name")
    );
    let e = both(
        r#"{"version":1,"insert":{"into":"playlist","rows":[{"playlist_id":1,"name":null}]}}"#,
        Insert::rows(
            "playlist",
            [BTreeMap::from([
                ("playlist_id".to_owned(), serde_json::json!(1)),
                ("name".to_owned(), serde_json::Value::Null),
            ])],
        ),
    );
    assert!(matches!(&e, CompileError::NullNotAllowed { column, .. } if column == "name"));
}

#[test]
fn unknown_function() {
    let e = both(
        r#"{"version":1,"select":{"from":"track","columns":[{"expr":{"func":{"name":"pg_sleep","args":[{"value":10}]}},"as":"nap"}]}}"#,
        Select::from("track").expr(Expr::func("pg_sleep", [Expr::value(10)]), "nap"),
    );
    assert!(
        matches!(&e, CompileError::UnknownFunction { model, column, function } if model == "track" && column == "nap" && function == "pg_sleep")
    );
}

#[test]
fn aggregate_without_group_by() {
    let e = both(
        r#"{"version":1,"select":{"from":"track","columns":["album_id",{"expr":{"agg":{"func":"count"}},"as":"n"}]}}"#,
        Select::from("track")
            .columns(["album_id"])
            .expr(Expr::count_all(), "n"),
    );
    assert!(
        matches!(&e, CompileError::AggregateWithoutGroupBy { model, column } if model == "track" && column == "album_id")
    );
    let e = both(
        r#"{"version":1,"select":{"from":"track","columns":["name"],"where":{"gt":{"left":{"agg":{"func":"count"}},"right":{"value":1}}}}}"#,
        Select::from("track").columns(["name"]).filter(Filter::Gt(
            keel_core::query::Compare::Exprs {
                left: Expr::count_all(),
                right: Expr::value(1),
            },
        )),
    );
    assert!(
        matches!(
            &e,
            CompileError::AggregateNotAllowed {
                clause: "WHERE",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn update_and_delete_without_a_filter_are_refused() {
    let e = both(
        r#"{"version":1,"update":{"table":"track","set":{"stock":{"value":0}}}}"#,
        Update::table("track").set("stock", 0),
    );
    assert!(
        matches!(&e, CompileError::UnfilteredMutation { model, statement: "UPDATE" } if model == "track")
    );
    let e = both(
        r#"{"version":1,"delete":{"from":"track"}}"#,
        Delete::from("track"),
    );
    assert!(matches!(
        &e,
        CompileError::UnfilteredMutation {
            statement: "DELETE",
            ..
        }
    ));
    // Saying so explicitly is allowed.
    let all = Delete::from("track").all_rows();
    assert_eq!(
        compile(&all.into(), &schema()).unwrap().sql,
        r#"DELETE FROM "track""#
    );
}

#[test]
fn a_select_with_relations_to_load_needs_a_plan() {
    let q: Query = Select::from("artist")
        .with(keel_core::query::Include::relation("albums"))
        .into();
    let e = compile(&q, &schema()).unwrap_err();
    assert!(e.to_string().contains("compile_plan"), "{e}");
}
