//! Compile time of a typical query: a three-table join with filters,
//! ordering and a limit, from the parsed AST to SQL and bound parameters.
//!
//! `cargo bench -p keel-core --bench compile`. Prints the median and the
//! fastest per-compile time over 31 batches; the target is under 20 µs.

use std::hint::black_box;
use std::time::{Duration, Instant};

use keel_core::{compile, Query, Schema};

const SCHEMA: &str = include_str!("../tests/golden/schema.json");

const QUERY: &str = r#"{
  "version": 1,
  "select": {
    "from": "track",
    "columns": ["track_id", "name", "unit_price", "album.title", { "expr": { "column": "artist.name" }, "as": "artist_name" }],
    "joins": [
      { "relation": "album" },
      { "table": "artist", "on": { "eq": { "left": { "column": "artist.artist_id" }, "right": { "column": "album.artist_id" } } } }
    ],
    "where": { "and": [
      { "gt": { "column": "unit_price", "value": "0.5" } },
      { "in": { "column": "album_id", "values": [1, 2, 3, 4, 5] } },
      { "ilike": { "column": "artist.name", "pattern": "%a%" } }
    ] },
    "order_by": [{ "column": "artist.name" }, { "column": "track_id", "direction": "desc" }],
    "limit": 25
  }
}"#;

fn main() {
    let schema = Schema::from_json(SCHEMA).expect("schema");
    let query = Query::from_json(QUERY).expect("query");
    let statement = compile(&query, &schema).expect("compiles");
    println!("{}", statement.sql);

    const BATCH: u32 = 2_000;
    for _ in 0..BATCH {
        black_box(compile(black_box(&query), black_box(&schema)).ok());
    }
    let mut per_compile: Vec<Duration> = (0..31)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..BATCH {
                black_box(compile(black_box(&query), black_box(&schema)).ok());
            }
            start.elapsed() / BATCH
        })
        .collect();
    per_compile.sort();
    println!(
        "compile, three-table join with filters, ordering and a limit: median {:.2} µs, fastest {:.2} µs ({} compiles per batch, 31 batches)",
        per_compile[15].as_secs_f64() * 1e6,
        per_compile[0].as_secs_f64() * 1e6,
        BATCH
    );

    let start = Instant::now();
    for _ in 0..BATCH {
        black_box(Query::from_json(black_box(QUERY)).ok());
    }
    println!(
        "parse the JSON form of the same query: {:.2} µs",
        (start.elapsed() / BATCH).as_secs_f64() * 1e6
    );
}
