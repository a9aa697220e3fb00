//! The native driver against the throwaway PostgreSQL from scripts/test.

use keel_native::types::Timestamp;
use keel_native::{Db, Error, NativeDriver, NativeError, Query, Schema, Value};
use keel_testkit::{chinook_url, database_url, PgUrl};

const MUSIC_SCHEMA: &str = include_str!("../../examples/music/schema.json");
const DEMO_QUERY: &str = include_str!("../../examples/music/queries/tracks_of_album.json");

fn music_schema() -> Schema {
    Schema::from_json(MUSIC_SCHEMA).expect("fixture schema parses")
}

#[tokio::test]
async fn demo_definition_returns_the_fixture_rows() {
    let Some(url) = database_url() else { return };
    let db = Db::new(NativeDriver::connect(&url).await.unwrap(), music_schema());
    let rows = db
        .fetch(&Query::from_json(DEMO_QUERY).unwrap())
        .await
        .unwrap();

    assert_eq!(
        rows.columns,
        [
            "track_id",
            "name",
            "composer",
            "milliseconds",
            "bytes",
            "unit_price",
            "rating",
            "explicit",
            "released_at"
        ]
    );
    let ids: Vec<&Value> = rows.rows.iter().map(|r| &r[0]).collect();
    assert_eq!(
        ids,
        [1, 2, 3, 4, 5].map(Value::Int4).iter().collect::<Vec<_>>()
    );
    assert_eq!(
        rows.rows[2],
        vec![
            Value::Int4(3),
            Value::Text("Bilge Pump Blues".into()),
            Value::Text("M. Rivers, K. Ng".into()),
            Value::Int8(9_007_199_254_740_993),
            Value::Null,
            Value::Numeric("1.29".into()),
            Value::Float8(3.25),
            Value::Bool(true),
            Value::Timestamptz(Timestamp::parse("1999-12-31T23:59:59.999999Z").unwrap()),
        ]
    );
    assert_eq!(rows.rows[3][5], Value::Numeric("12345678.90".into()));
    assert_eq!(rows.rows[3][8], Value::Null);
    assert_eq!(rows.rows[4][1], Value::Text("Anchor's \"Aweigh\"".into()));
    assert_eq!(rows.rows[4][6], Value::Float8(1e-300));
}

#[tokio::test]
async fn server_errors_keep_their_fields() {
    let Some(url) = database_url() else { return };
    let mut schema = music_schema();
    schema.tables.push(
        serde_json::from_str(r#"{"name":"missing_table","columns":[{"name":"id","type":"int4"}]}"#)
            .unwrap(),
    );
    let db = Db::new(NativeDriver::connect(&url).await.unwrap(), schema);
    let query =
        Query::from_json(r#"{"version":1,"select":{"from":"missing_table","columns":["id"]}}"#)
            .unwrap();
    match db.fetch(&query).await {
        Err(Error::Server(e)) => {
            assert_eq!(e.code, "42P01");
            assert_eq!(e.severity, "ERROR");
            assert!(e.message.contains("missing_table"), "{e}");
        }
        other => panic!("expected a server error, got {other:?}"),
    }
    // The same connection still works.
    let rows = db
        .fetch(&Query::from_json(DEMO_QUERY).unwrap())
        .await
        .unwrap();
    assert_eq!(rows.rows.len(), 5);
}

#[tokio::test]
async fn wrong_password_is_an_auth_error() {
    let Some(url) = database_url() else { return };
    let mut parts = PgUrl::parse(&url).expect("harness URL");
    parts.password = "not-the-password".into();
    match NativeDriver::connect(&parts.to_url()).await {
        Err(NativeError::Db(Error::Auth { code, message })) => {
            assert_eq!(code.as_deref(), Some("28P01"));
            assert!(
                message.contains("password authentication failed"),
                "{message}"
            );
        }
        Err(other) => panic!("expected Error::Auth, got {other:?}"),
        Ok(_) => panic!("login with a wrong password succeeded"),
    }
}

/// The CLI compiles before it connects: with a bad definition and an address
/// nothing listens on, the error must be the definition's, not a connection error.
#[test]
fn cli_rejects_invalid_definitions_before_any_io() {
    let dir = std::env::temp_dir().join(format!("keel-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let schema = dir.join("schema.json");
    let query = dir.join("query.json");
    std::fs::write(&schema, MUSIC_SCHEMA).unwrap();
    std::fs::write(
        &query,
        r#"{"version":1,"select":{"from":"track","columns":["name"],"where":{"eq":{"column":"album_id","value":"one"}}}}"#,
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_keel"))
        .args(["query", "--schema"])
        .arg(&schema)
        .arg("postgres://nobody:x@127.0.0.1:1/none")
        .arg(&query)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert!(!output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).trim(),
        r#"keel: track.album_id: expected a value of type int4, got string "one""#
    );
}

/// Chinook, a database keel did not write: the JSON definition's rows must
/// equal those of the same query written by hand in SQL.
#[tokio::test]
async fn chinook_definition_matches_hand_written_sql() {
    let Some(url) = chinook_url() else { return };
    let schema = Schema::from_json(include_str!("../../tests/chinook/track.schema.json")).unwrap();
    let query = Query::from_json(include_str!("../../tests/chinook/tracks_of_album.json")).unwrap();
    let db = Db::new(NativeDriver::connect(&url).await.unwrap(), schema);
    let rows = db.fetch(&query).await.unwrap();

    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let expected = client
        .query(
            "SELECT track_id, name, composer, milliseconds, bytes, unit_price::text \
             FROM track WHERE album_id = 1 ORDER BY track_id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.rows.len(), expected.len());
    assert_eq!(expected.len(), 10, "Chinook's album 1 has ten tracks");
    for (got, want) in rows.rows.iter().zip(&expected) {
        let text = |v: Option<String>| v.map_or(Value::Null, Value::Text);
        let int = |v: Option<i32>| v.map_or(Value::Null, Value::Int4);
        assert_eq!(
            got,
            &vec![
                Value::Int4(want.get(0)),
                Value::Text(want.get(1)),
                text(want.get(2)),
                Value::Int4(want.get(3)),
                int(want.get(4)),
                Value::Numeric(want.get(5)),
            ]
        );
    }
}
