//! `keel introspect` on Chinook and Pagila: every table of the produced
//! schema answers a JSON query definition, with no hand edits.

use keel_native::introspect::introspect;
use keel_native::query::expr::Expr;
use keel_native::query::filter::{Compare, Filter};
use keel_native::query::select::{Include, Select};
use keel_native::schema::{EnumType, RelationKind};
use keel_native::types::PgType;
use keel_native::{Db, NativeDriver, Query, Schema, Value};
use keel_testkit::{chinook_url, pagila_url};

async fn count(db: &Db<NativeDriver>, select: Select) -> i64 {
    let rows = db
        .fetch(&Query::from(select.expr(Expr::count_all(), "n")))
        .await
        .unwrap();
    match rows.rows[0][0] {
        Value::Int8(n) => n,
        ref other => panic!("count returned {other:?}"),
    }
}

/// Every table: a JSON definition selecting all columns runs and returns
/// as many rows as the table holds (up to the limit).
async fn every_table_answers(url: &str) -> Db<NativeDriver> {
    let schema = introspect(url).await.unwrap();
    let json = serde_json::to_string(&schema).unwrap();
    let reparsed = Schema::from_json(&json).unwrap();
    assert_eq!(reparsed, schema);
    let db = Db::new(NativeDriver::connect(url).await.unwrap(), reparsed);
    for table in &db.schema().tables {
        let definition = format!(
            r#"{{"version": 1, "select": {{"from": {}, "columns": "*", "limit": 3}}}}"#,
            serde_json::to_string(&table.name).unwrap()
        );
        let rows = db
            .fetch(&Query::from_json(&definition).unwrap())
            .await
            .unwrap_or_else(|e| panic!("table {}: {e}", table.name));
        assert_eq!(rows.columns.len(), table.columns.len(), "{}", table.name);
        let total = count(&db, Select::from(table.name.clone())).await;
        assert_eq!(
            i64::try_from(rows.rows.len()).unwrap(),
            total.min(3),
            "{}",
            table.name
        );
    }
    db
}

#[tokio::test]
async fn chinook_introspects_into_a_working_schema() {
    let Some(url) = chinook_url() else { return };
    let db = every_table_answers(&url).await;
    let schema = db.schema();
    let album = schema.table("album").unwrap();
    assert_eq!(album.primary_key, ["album_id"]);
    let artist = schema.relation(album, "artist").unwrap();
    assert_eq!(artist.kind, RelationKind::BelongsTo);
    let playlist = schema.table("playlist").unwrap();
    let tracks = schema.relation(playlist, "track").unwrap();
    assert_eq!(tracks.kind, RelationKind::ManyToMany);

    // Eager loading through the introspected relation: one statement per level.
    let plan = db
        .fetch_plan(&Query::from(
            Select::from("album")
                .filter(Filter::Eq(Compare::ColumnValue {
                    column: "album_id".into(),
                    value: serde_json::json!(1),
                }))
                .with(Include::relation("artist")),
        ))
        .await
        .unwrap();
    assert_eq!(plan.rows.rows.len(), 1);
    let artist_rows = &plan.loads[0].rows.rows;
    let name = artist_rows
        .columns
        .iter()
        .position(|c| c == "name")
        .unwrap();
    assert_eq!(artist_rows.rows[0][name], Value::Text("AC/DC".into()));
}

#[tokio::test]
async fn pagila_introspects_enums_domains_arrays_and_partitions() {
    let Some(url) = pagila_url() else { return };
    let db = every_table_answers(&url).await;
    let schema = db.schema();
    assert!(schema.enums.contains(&EnumType {
        name: "mpaa_rating".into(),
        values: ["G", "PG", "PG-13", "R", "NC-17"]
            .map(String::from)
            .to_vec(),
    }));
    let year = schema.domains.iter().find(|d| d.name == "year").unwrap();
    assert_eq!(year.ty, PgType::Int4);
    assert!(year.check.as_deref().unwrap().contains("1901"), "{year:?}");
    let film = schema.table("film").unwrap();
    let column = |name: &str| film.column(name).unwrap().ty.clone();
    assert_eq!(column("rating"), PgType::Named("mpaa_rating".into()));
    assert_eq!(column("release_year"), PgType::Named("year".into()));
    assert_eq!(
        column("special_features"),
        PgType::Array(Box::new(PgType::Text))
    );
    assert!(schema.table("payment").is_some(), "the partitioned table");
    let actors = schema.relation(film, "actor").unwrap();
    assert_eq!(actors.kind, RelationKind::ManyToMany);

    // Values bind through the introspected enum and domain.
    let by_rating = count(
        &db,
        Select::from("film").filter(Filter::Eq(Compare::ColumnValue {
            column: "rating".into(),
            value: serde_json::json!("PG-13"),
        })),
    )
    .await;
    let all = count(&db, Select::from("film")).await;
    assert!(by_rating > 0 && by_rating < all, "{by_rating} of {all}");
    let by_year = count(
        &db,
        Select::from("film").filter(Filter::Eq(Compare::ColumnValue {
            column: "release_year".into(),
            value: serde_json::json!(2006),
        })),
    )
    .await;
    assert!(by_year > 0);
}

#[test]
fn the_cli_prints_the_same_schema() {
    let Some(url) = chinook_url() else { return };
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_keel"))
        .args(["introspect", &url])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = Schema::from_json(std::str::from_utf8(&output.stdout).unwrap()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(printed, runtime.block_on(introspect(&url)).unwrap());
}
