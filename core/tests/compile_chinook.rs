//! keel's compiled SQL returns the same rows as hand-written SQL on Chinook.
//!
//! Both sides run on the server wrapped as `WITH q AS (...) SELECT
//! jsonb_agg(to_jsonb(q))`, so the comparison covers column names, values
//! and order. Data-modifying statements run in a transaction that is rolled
//! back. Skips with one line when the Chinook URL is unset.

mod golden_support;

use bytes::BytesMut;
use keel_core::compile::compile_plan;
use keel_core::types::PgType;
use keel_core::{Query, Schema, Statement, Value};
use tokio_postgres::types::{to_sql_checked, IsNull, Kind, ToSql, Type};
use tokio_postgres::{Client, NoTls};

/// Shared with the cross-runtime suite (tests/conformance-corpus.test.mjs),
/// which runs the same definitions through every driver.
const SCHEMA: &str = include_str!("../../tests/corpus/chinook/schema.json");
const CASES_JSON: &str = include_str!("../../tests/corpus/chinook/cases.json");

/// Opens a transaction with a scratch table for the upsert cases (Chinook's
/// own keys are identity columns, which an insert may not set).
const BEGIN: &str = "BEGIN; CREATE TEMP TABLE inventory (sku int4 PRIMARY KEY, qty int4 NOT NULL, note text) ON COMMIT DROP;
    INSERT INTO inventory VALUES (1, 5, NULL), (2, 0, NULL)";

#[derive(Debug)]
struct Param<'a>(&'a Value);

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self.0.encode_binary()? {
            None => Ok(IsNull::Yes),
            Some(bytes) => {
                out.extend_from_slice(&bytes);
                Ok(IsNull::No)
            }
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn types(statement: &Statement) -> Vec<Type> {
    statement
        .param_oids()
        .into_iter()
        .map(|oid| {
            Type::from_oid(oid).unwrap_or_else(|| {
                Type::new("unspecified".into(), oid, Kind::Simple, "pg_catalog".into())
            })
        })
        .collect()
}

fn wrap(sql: &str) -> String {
    format!("WITH q AS ({sql}) SELECT coalesce(jsonb_agg(to_jsonb(q)), '[]')::text FROM q")
}

async fn rows_of_keel(client: &Client, statement: &Statement) -> String {
    let prepared = client
        .prepare_typed(&wrap(&statement.sql), &types(statement))
        .await
        .unwrap_or_else(|e| panic!("{}: {e:?}", statement.sql));
    let params: Vec<Param<'_>> = statement.params.iter().map(Param).collect();
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
    client.query_one(&prepared, &refs).await.unwrap().get(0)
}

async fn rows_of_sql(client: &Client, sql: &str) -> String {
    client.query_one(&wrap(sql), &[]).await.unwrap().get(0)
}

async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

#[tokio::test]
async fn compiled_queries_return_the_rows_of_hand_written_sql() {
    let Some(url) = keel_testkit::chinook_url() else {
        return;
    };
    let client = connect(&url).await;
    let schema = Schema::from_json(SCHEMA).unwrap();
    let cases = golden_support::corpus_cases(CASES_JSON);
    assert!(cases.len() >= 20, "the corpus lost cases");
    for (json, sql) in &cases {
        let query = Query::from_json(json).unwrap_or_else(|e| panic!("{e}: {json}"));
        let statement =
            keel_core::compile(&query, &schema).unwrap_or_else(|e| panic!("{e}: {json}"));
        // Each side in its own rolled-back transaction, so writes see the same data.
        client.batch_execute(BEGIN).await.unwrap();
        let keel = rows_of_keel(&client, &statement).await;
        client.batch_execute("ROLLBACK").await.unwrap();
        client.batch_execute(BEGIN).await.unwrap();
        let expected = rows_of_sql(&client, sql).await;
        client.batch_execute("ROLLBACK").await.unwrap();
        assert_ne!(
            expected, "[]",
            "the case selects no rows, so it shows nothing: {sql}"
        );
        assert_eq!(keel, expected, "\nkeel: {}\nhand: {sql}", statement.sql);
    }
}

/// An eager-loading plan runs one statement per level, whatever the number
/// of parents, and returns the rows per-parent queries would.
#[tokio::test]
async fn an_eager_loading_plan_matches_per_parent_queries() {
    let Some(url) = keel_testkit::chinook_url() else {
        return;
    };
    let client = connect(&url).await;
    let schema = Schema::from_json(SCHEMA).unwrap();
    let query = Query::from_json(
        r#"{"version":1,"select":{"from":"artist","columns":["name"],"where":{"lte":{"column":"artist_id","value":5}},"order_by":[{"column":"artist_id"}],
            "with":[{"relation":"albums","columns":["title"],"order_by":[{"column":"album_id"}],"with":[{"relation":"tracks","columns":["name"],"order_by":[{"column":"track_id"}]}]}]}}"#,
    )
    .unwrap();
    let plan = compile_plan(&query, &schema).unwrap();
    assert_eq!(plan.loads.len(), 1);
    assert_eq!(plan.loads[0].loads.len(), 1);

    let root: serde_json::Value =
        serde_json::from_str(&rows_of_keel(&client, &plan.root).await).unwrap();
    let keys = |rows: &serde_json::Value, key: &str| -> serde_json::Value {
        rows.as_array()
            .unwrap()
            .iter()
            .map(|r| r[key].clone())
            .collect()
    };
    let run_level = |load: &keel_core::compile::Load, parent_keys: serde_json::Value| {
        let mut statement = load.statement.clone();
        statement.params[0] =
            Value::from_json(&parent_keys, &PgType::Array(Box::new(PgType::Int4))).unwrap();
        statement
    };
    let albums_statement = run_level(&plan.loads[0], keys(&root, &plan.loads[0].parent_key));
    let albums: serde_json::Value =
        serde_json::from_str(&rows_of_keel(&client, &albums_statement).await).unwrap();
    let tracks_load = &plan.loads[0].loads[0];
    let tracks_statement = run_level(tracks_load, keys(&albums, &tracks_load.parent_key));
    let tracks = rows_of_keel(&client, &tracks_statement).await;

    assert_eq!(
        albums.to_string(),
        serde_json::from_str::<serde_json::Value>(
            &rows_of_sql(&client, "SELECT title, artist_id, album_id FROM album WHERE artist_id <= 5 ORDER BY album_id").await
        )
        .unwrap()
        .to_string()
    );
    assert_eq!(
        tracks,
        rows_of_sql(
            &client,
            "SELECT t.name, t.album_id FROM track t JOIN album a ON a.album_id = t.album_id WHERE a.artist_id <= 5 ORDER BY t.track_id"
        )
        .await
    );
}

/// The smallest driver: tokio-postgres moving keel's binary parameters out
/// and binary cells in, so `Db::fetch_plan` runs against the real server.
struct TestDriver(Client, std::sync::atomic::AtomicUsize);

#[derive(Debug)]
struct Cell<'a>(Option<&'a [u8]>);

impl<'a> tokio_postgres::types::FromSql<'a> for Cell<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Cell(Some(raw)))
    }

    fn from_sql_null(_: &Type) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Cell(None))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

#[async_trait::async_trait]
impl keel_core::Driver for TestDriver {
    async fn query(&self, statement: &Statement) -> keel_core::Result<keel_core::RawRows> {
        self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let to_error = |e: tokio_postgres::Error| keel_core::Error::Transport(e.to_string());
        let prepared = self
            .0
            .prepare_typed(&statement.sql, &types(statement))
            .await
            .map_err(to_error)?;
        let params: Vec<Param<'_>> = statement.params.iter().map(Param).collect();
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let rows = self.0.query(&prepared, &refs).await.map_err(to_error)?;
        let mut raw = keel_core::RawRows::new(
            prepared
                .columns()
                .iter()
                .map(|c| keel_core::ColumnDesc {
                    name: c.name().to_owned(),
                    type_oid: c.type_().oid(),
                    format: 1,
                })
                .collect(),
        );
        for row in &rows {
            let cells: Vec<Option<&[u8]>> = (0..row.len())
                .map(|i| row.try_get::<_, Cell<'_>>(i).map(|c| c.0))
                .collect::<Result<_, _>>()
                .map_err(to_error)?;
            raw.push_row(cells)
                .map_err(|e| keel_core::Error::Transport(e.to_string()))?;
        }
        Ok(raw)
    }
}

/// `Db::fetch_plan` sends one statement per level, whatever the number of
/// parents, and each level holds exactly the children of the level above.
#[tokio::test]
async fn db_runs_a_plan_with_one_statement_per_level() {
    let Some(url) = keel_testkit::chinook_url() else {
        return;
    };
    let client = connect(&url).await;
    let db = keel_core::Db::new(
        TestDriver(client, Default::default()),
        Schema::from_json(SCHEMA).unwrap(),
    );
    let query = Query::from_json(
        r#"{"version":1,"select":{"from":"artist","columns":["name"],"where":{"lte":{"column":"artist_id","value":10}},"order_by":[{"column":"artist_id"}],
            "with":[{"relation":"albums","columns":["title"],"order_by":[{"column":"album_id"}],"with":[{"relation":"tracks","columns":["name"],"order_by":[{"column":"track_id"}]}]}]}}"#,
    )
    .unwrap();
    let result = db.fetch_plan(&query).await.unwrap();
    assert_eq!(result.rows.rows.len(), 10);
    // The root, the albums of all ten artists, the tracks of all those albums.
    assert_eq!(db.driver().1.load(std::sync::atomic::Ordering::SeqCst), 3);
    let albums = &result.loads[0];
    assert_eq!(albums.relation, "albums");
    let tracks = &albums.rows.loads[0];
    assert_eq!(tracks.relation, "tracks");

    let count = |sql: &str| {
        let sql = sql.to_owned();
        let client = &db.driver().0;
        async move { client.query_one(&sql, &[]).await.unwrap().get::<_, i64>(0) as usize }
    };
    assert_eq!(
        albums.rows.rows.rows.len(),
        count("SELECT count(*) FROM album WHERE artist_id <= 10").await
    );
    assert_eq!(
        tracks.rows.rows.rows.len(),
        count("SELECT count(*) FROM track t JOIN album a ON a.album_id = t.album_id WHERE a.artist_id <= 10").await
    );
    // Every child's key is one of its parents' keys.
    let key_column =
        |rows: &keel_core::Rows, name: &str| rows.columns.iter().position(|c| c == name).unwrap();
    let parent_ids: Vec<&Value> = {
        let i = key_column(&result.rows, &albums.parent_key);
        result.rows.rows.iter().map(|r| &r[i]).collect()
    };
    let i = key_column(&albums.rows.rows, &albums.child_key);
    assert!(albums
        .rows
        .rows
        .rows
        .iter()
        .all(|r| parent_ids.contains(&&r[i])));
}
