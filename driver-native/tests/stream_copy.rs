//! Cursor streaming in bounded batches, and binary COPY bulk loads.

mod common;

use common::{int_column, observer, pool, quiesce, sessions, settings, stmt};
use futures_util::{StreamExt, TryStreamExt};
use keel_native::types::{Array, ArrayDim, PgType, Timestamp};
use keel_native::Value;
use keel_testkit::database_url;

#[tokio::test]
async fn a_pool_stream_yields_bounded_batches_in_order() {
    let Some(url) = database_url() else { return };
    let app = "keel_stream_pool";
    let pool = pool(&url, app, settings(2)).await;
    let statement = stmt(
        "SELECT i AS v, point(i, -i) AS p FROM generate_series(1, $1::int4) i ORDER BY i",
        vec![Value::Int4(40_000)],
        &["v", "p"],
    );
    let batches: Vec<_> = pool.stream(statement, 1_000).try_collect().await.unwrap();
    assert_eq!(batches.len(), 40);
    let mut expected = 1;
    for batch in &batches {
        assert!(batch.rows.len() <= 1_000);
        assert_eq!(batch.columns, ["v", "p"]);
        for row in &batch.rows {
            assert_eq!(row[0], Value::Int4(expected));
            assert_eq!(row[1], Value::Text(format!("({expected},-{expected})")));
            expected += 1;
        }
    }
    assert_eq!(expected, 40_001);
    let status = pool.status();
    assert_eq!(status.available, status.size);

    // Dropped after two batches: the connection comes back clean.
    let mut stream = Box::pin(pool.stream(
        stmt(
            "SELECT i AS v FROM generate_series(1, 100000) i",
            vec![],
            &["v"],
        ),
        100,
    ));
    assert_eq!(stream.next().await.unwrap().unwrap().rows.len(), 100);
    assert_eq!(stream.next().await.unwrap().unwrap().rows.len(), 100);
    drop(stream);
    quiesce(&pool).await;
    let observer = observer(&url).await;
    for (pid, state) in sessions(&observer, app).await {
        assert_eq!(state, "idle", "session {pid}");
    }
}

#[tokio::test]
async fn a_transaction_streams_and_keeps_going() {
    let Some(url) = database_url() else { return };
    let pool = pool(&url, "keel_stream_tx", settings(1)).await;
    let mut tx = pool.begin().await.unwrap();
    let statement = stmt(
        "SELECT i AS v FROM generate_series(1, $1::int4) i",
        vec![Value::Int4(25)],
        &["v"],
    );
    let sizes: Vec<usize> = tx
        .stream(&statement, 10)
        .map_ok(|rows| rows.rows.len())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(sizes, [10, 10, 5]);
    // Exactly a multiple of the batch: the last fetch is empty and ends it.
    let statement = stmt("SELECT 1 AS v UNION ALL SELECT 2", vec![], &["v"]);
    let sizes: Vec<usize> = tx
        .stream(&statement, 2)
        .map_ok(|rows| rows.rows.len())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(sizes, [2]);
    let rows = tx
        .fetch_statement(&stmt("SELECT 7 AS v", vec![], &["v"]))
        .await
        .unwrap();
    assert_eq!(rows.rows[0][0], Value::Int4(7));
    tx.commit().await.unwrap();
}

fn tags(items: &[&str]) -> Value {
    Value::Array(Array {
        element: PgType::Text,
        dims: vec![ArrayDim {
            len: i32::try_from(items.len()).unwrap(),
            lower: 1,
        }],
        elements: items.iter().map(|t| Value::Text((*t).into())).collect(),
    })
}

#[tokio::test]
async fn binary_copy_loads_rows_and_reports_progress() {
    let Some(url) = database_url() else { return };
    let pool = pool(&url, "keel_copy", settings(1)).await;
    pool.execute(
        "DROP TABLE IF EXISTS keel_copy; CREATE TABLE keel_copy \
         (id int4 PRIMARY KEY, label text, amount numeric, at timestamptz, tags text[])",
    )
    .await
    .unwrap();
    let at = Timestamp::parse("2024-02-29T12:34:56.789Z").unwrap();
    let rows = (0..50_000).map(|i| {
        vec![
            Value::Int4(i),
            if i % 7 == 0 {
                Value::Null
            } else {
                Value::Text(format!("row {i}"))
            },
            Value::Numeric(format!("{i}.25")),
            Value::Timestamptz(at),
            tags(&["a", "b"]),
        ]
    });
    let mut reports = Vec::new();
    let mut conn = pool.get().await.unwrap();
    let stored = conn
        .copy_in(
            "keel_copy",
            &["id", "label", "amount", "at", "tags"],
            rows,
            |sent| reports.push(sent),
        )
        .await
        .unwrap();
    drop(conn);
    assert_eq!(stored, 50_000);
    assert!(reports.len() > 2, "{reports:?}");
    assert!(reports.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(reports.last(), Some(&50_000));

    let sample = pool
        .fetch_statement(&stmt(
            "SELECT label, amount, at, tags FROM keel_copy WHERE id IN (41, 42) ORDER BY id",
            vec![],
            &["label", "amount", "at", "tags"],
        ))
        .await
        .unwrap();
    assert_eq!(
        sample.rows[0],
        [
            Value::Text("row 41".into()),
            Value::Numeric("41.25".into()),
            Value::Timestamptz(at),
            tags(&["a", "b"])
        ]
    );
    assert_eq!(sample.rows[1][0], Value::Null);

    // Inside a rolled-back transaction nothing stays; a type mismatch
    // loads nothing and leaves the connection usable.
    let mut tx = pool.begin().await.unwrap();
    let loaded = tx
        .copy_in(
            "keel_copy",
            &["id"],
            (100_000..100_010).map(|i| vec![Value::Int4(i)]),
            |_| {},
        )
        .await
        .unwrap();
    assert_eq!(loaded, 10);
    tx.rollback().await.unwrap();
    let mut conn = pool.get().await.unwrap();
    let error = conn
        .copy_in("keel_copy", &["id"], [vec![Value::Int8(200_000)]], |_| {})
        .await
        .unwrap_err();
    assert_eq!(error.sqlstate(), Some("22P03"), "{error:?}");
    drop(conn);
    assert_eq!(
        int_column(&pool, "SELECT count(*) AS v FROM keel_copy").await,
        [50_000]
    );
}

#[derive(keel_native::query::typed::Model, keel_native::orm::FromRow, Debug)]
#[keel(table = "track")]
struct TrackName {
    #[keel(primary_key)]
    track_id: i32,
    name: String,
}

#[tokio::test]
async fn models_stream_through_a_cursor() {
    use keel_native::query::typed::Model;
    let Some(url) = database_url() else { return };
    let pool = pool(&url, "keel_stream_models", settings(1)).await;
    let mut schema =
        keel_native::Schema::from_json(include_str!("../../examples/music/schema.json")).unwrap();
    schema.tables.retain(|t| t.name == "track");
    let query = keel_native::Query::from(
        TrackName::select()
            .columns([TrackName::track_id.name(), TrackName::name.name()])
            .order(TrackName::track_id.asc()),
    );
    let tracks: Vec<TrackName> = pool
        .stream_models(&schema, &query, 3)
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let ids: Vec<i32> = tracks.iter().map(|t| t.track_id).collect();
    assert_eq!(ids, (1..=8).collect::<Vec<_>>());
    assert_eq!(tracks[7].name, "Überfahrt");
}
