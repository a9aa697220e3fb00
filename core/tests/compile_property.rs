//! Property test: randomly generated valid queries compile, PostgreSQL
//! accepts their SQL, their JSON round trip is exact, and arbitrary strings
//! used as values never change a statement's structure.
//!
//! Deterministic: a seeded generator, so a failure reproduces. More cases or
//! another seed: `KEEL_PROPTEST_CASES=5000 KEEL_PROPTEST_SEED=7 cargo test -p
//! keel-core --test compile_property`.

mod golden_support;

use golden_support::schema;
use keel_core::compile::ddl;
use keel_core::query::{Direction, Expr, Filter, Nulls, OrderBy, Select, SelectItem};
use keel_core::schema::{PgType, Schema, Table};
use keel_core::{compile, Query, Statement};
use serde_json::{json, Value as J};

/// xorshift64*: small, fast and reproducible; statistical quality is not the point.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Strings chosen to break naive SQL building: quotes, backslashes,
/// comments, placeholders, dollar quoting, unicode, long runs.
fn arbitrary_string(rng: &mut Rng) -> String {
    const PIECES: &[&str] = &[
        "'",
        "''",
        "\"",
        "\\",
        ";",
        "--",
        "/*",
        "*/",
        "$1",
        "$$",
        "$tag$",
        "%",
        "_",
        "\n",
        "\t",
        " OR 1=1",
        "') DROP TABLE track; --",
        "é",
        "日本",
        "🎵",
        "E'\\x41'",
        "NULL",
        "?",
        ":name",
    ];
    let mut s = String::new();
    for _ in 0..rng.below(6) {
        if rng.chance(60) {
            let piece: &&str = rng.pick(PIECES);
            s.push_str(piece);
        } else {
            let c = char::from(b' ' + (rng.below(95) as u8));
            s.push(c);
        }
    }
    s
}

fn value_for(rng: &mut Rng, ty: &PgType) -> Option<J> {
    Some(match ty {
        PgType::Int2 => json!(rng.below(1000) as i64 - 500),
        PgType::Int4 => json!(rng.next() as i32),
        PgType::Int8 => {
            if rng.chance(50) {
                json!(rng.next() as i64)
            } else {
                json!((rng.next() as i64).to_string())
            }
        }
        PgType::Numeric => json!(format!("{}.{:02}", rng.below(100000), rng.below(100))),
        PgType::Text => json!(arbitrary_string(rng)),
        PgType::Timestamptz => json!(format!(
            "20{:02}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            rng.below(30),
            1 + rng.below(12),
            1 + rng.below(28),
            rng.below(24),
            rng.below(60),
            rng.below(60),
            rng.below(1_000_000)
        )),
        PgType::Date => json!(format!(
            "20{:02}-{:02}-{:02}",
            rng.below(30),
            1 + rng.below(12),
            1 + rng.below(28)
        )),
        PgType::Named(n) if n == "mood" => {
            json!(rng.pick(&["calm", "energetic", "it's complicated"]))
        }
        PgType::Named(n) if n == "rating" => json!(1 + rng.below(5)),
        _ => return None,
    })
}

fn scalar_columns(table: &Table) -> Vec<(&str, &PgType, bool)> {
    table
        .columns
        .iter()
        .filter(|c| !matches!(c.ty, PgType::Array(_) | PgType::Jsonb))
        .map(|c| (c.name.as_str(), &c.ty, c.nullable))
        .collect()
}

fn filter(rng: &mut Rng, table: &Table, depth: usize) -> Filter {
    if depth < 2 && rng.chance(30) {
        let parts: Vec<Filter> = (0..1 + rng.below(3))
            .map(|_| filter(rng, table, depth + 1))
            .collect();
        return match rng.below(3) {
            0 => Filter::And(parts),
            1 => Filter::Or(parts),
            _ => Filter::not(filter(rng, table, depth + 1)),
        };
    }
    let columns = scalar_columns(table);
    let (name, ty, nullable) = *rng.pick(&columns);
    let value = value_for(rng, ty).unwrap_or(J::Null);
    let compare = keel_core::query::Compare::ColumnValue {
        column: name.to_owned(),
        value: value.clone(),
    };
    match rng.below(9) {
        0 => Filter::Eq(compare),
        1 => Filter::Ne(compare),
        2 => Filter::Lt(compare),
        3 => Filter::Gte(compare),
        4 => Filter::In(keel_core::query::filter::InList {
            column: name.to_owned(),
            values: Some(
                (0..rng.below(4))
                    .filter_map(|_| value_for(rng, ty))
                    .collect(),
            ),
            subquery: None,
        }),
        5 => Filter::Between(keel_core::query::filter::Between {
            column: name.to_owned(),
            low: value,
            high: value_for(rng, ty).unwrap_or(J::Null),
        }),
        6 if matches!(ty, PgType::Text) => Filter::Ilike(keel_core::query::filter::Pattern {
            column: name.to_owned(),
            pattern: arbitrary_string(rng),
        }),
        7 if nullable => Filter::IsNull(name.to_owned()),
        _ => Filter::IsDistinctFrom(compare),
    }
}

fn query(rng: &mut Rng, schema: &Schema) -> Query {
    let tables = ["track", "album", "artist", "playlist", "employee"];
    let name: &&str = rng.pick(&tables);
    let table = schema.table(name).unwrap();
    let columns = scalar_columns(table);
    let mut select = Select::from(table.name.clone());
    if rng.chance(80) {
        let mut chosen: Vec<SelectItem> = Vec::new();
        for (name, ty, _) in &columns {
            if rng.chance(50) {
                chosen.push(SelectItem::Column((*name).to_owned()));
            } else if rng.chance(10) && matches!(ty, PgType::Text) {
                chosen.push(SelectItem::Expr {
                    expr: Expr::func(
                        "coalesce",
                        [Expr::column(*name), Expr::value(arbitrary_string(rng))],
                    ),
                    alias: format!("{name}_or"),
                });
            }
        }
        if chosen.is_empty() {
            chosen.push(SelectItem::Column(columns[0].0.to_owned()));
        }
        select.columns = Some(chosen);
    }
    if rng.chance(70) {
        select.filter = Some(filter(rng, table, 0));
    }
    if rng.chance(15) {
        select.distinct = true;
    }
    for _ in 0..rng.below(3) {
        let (name, _, _) = *rng.pick(&columns);
        let mut order = OrderBy::column(
            name,
            if rng.chance(50) {
                Direction::Asc
            } else {
                Direction::Desc
            },
        );
        if rng.chance(30) {
            order = order.nulls(if rng.chance(50) {
                Nulls::First
            } else {
                Nulls::Last
            });
        }
        if !select.distinct {
            select.order_by.push(order);
        }
    }
    if rng.chance(50) {
        select.limit = Some(rng.below(1000) as u64);
    }
    if rng.chance(20) {
        select.offset = Some(rng.below(1000) as u64);
    }
    select.into()
}

/// The query with every string value replaced by "x": if strings could
/// change structure, the two statements would differ beyond their parameters.
fn neutralise(value: &mut J) {
    match value {
        J::Array(items) => items.iter_mut().for_each(neutralise),
        J::Object(map) => {
            for (key, v) in map.iter_mut() {
                if matches!(
                    key.as_str(),
                    "value" | "values" | "low" | "high" | "pattern"
                ) {
                    neutralise_values(v);
                } else {
                    neutralise(v);
                }
            }
        }
        _ => {}
    }
}

fn neutralise_values(value: &mut J) {
    match value {
        J::String(s) if !is_typed_literal(s) => *s = "x".to_owned(),
        J::Array(items) => items.iter_mut().for_each(neutralise_values),
        J::Object(_) => neutralise(value),
        _ => {}
    }
}

/// Strings that are the literal of a non-text type (numbers, dates, enum
/// labels) must stay valid; only free text is replaced.
fn is_typed_literal(s: &str) -> bool {
    ["calm", "energetic", "it's complicated"].contains(&s)
        || (!s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || "-.:TZ".contains(c)))
}

fn cases() -> usize {
    std::env::var("KEEL_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400)
}

fn seed() -> u64 {
    std::env::var("KEEL_PROPTEST_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x6b65_656c)
}

fn generated() -> Vec<(Query, Statement)> {
    let schema = schema();
    let mut rng = Rng(seed() | 1);
    (0..cases())
        .map(|i| {
            let q = query(&mut rng, &schema);
            let st = compile(&q, &schema)
                .unwrap_or_else(|e| panic!("case {i} does not compile: {e}\n{}", q.to_json()));
            (q, st)
        })
        .collect()
}

#[test]
fn generated_queries_compile_round_trip_and_keep_their_structure() {
    let schema = schema();
    let mut with_free_text = 0;
    let all = generated();
    let total = all.len();
    for (i, (q, st)) in all.into_iter().enumerate() {
        // The JSON round trip is exact, in both directions.
        let text = q.to_json();
        let back = Query::from_json(&text).unwrap();
        assert_eq!(back, q, "case {i}");
        assert_eq!(back.to_json(), text, "case {i}");

        let mut neutral = serde_json::to_value(&q).unwrap();
        neutralise(&mut neutral);
        let neutral: Query = serde_json::from_value(neutral).unwrap();
        if neutral != q {
            with_free_text += 1;
        }
        let neutral_st = compile(&neutral, &schema).unwrap();
        assert_eq!(
            st.sql, neutral_st.sql,
            "case {i}: a value changed the statement\n{text}"
        );
        assert_eq!(st.params.len(), neutral_st.params.len(), "case {i}");
        assert_eq!(st.param_types, neutral_st.param_types, "case {i}");
    }
    assert!(
        with_free_text * 4 >= total,
        "only {with_free_text} of {total} cases hold free text"
    );
}

#[tokio::test]
async fn postgres_accepts_every_generated_statement() {
    let Some(url) = keel_testkit::database_url() else {
        return;
    };
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let scratch = format!(
        "keel_prop_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    client
        .batch_execute(&format!(
            "CREATE SCHEMA \"{scratch}\"; SET search_path TO \"{scratch}\""
        ))
        .await
        .unwrap();
    let mut failures = Vec::new();
    for sql in ddl::create_schema(&schema()).unwrap() {
        client.batch_execute(&sql).await.unwrap();
    }
    for (i, (_, st)) in generated().into_iter().enumerate() {
        let types: Vec<tokio_postgres::types::Type> = st
            .param_oids()
            .into_iter()
            .map(|oid| {
                tokio_postgres::types::Type::from_oid(oid).unwrap_or_else(|| {
                    tokio_postgres::types::Type::new(
                        "unspecified".into(),
                        oid,
                        tokio_postgres::types::Kind::Simple,
                        "pg_catalog".into(),
                    )
                })
            })
            .collect();
        if let Err(e) = client.prepare_typed(&st.sql, &types).await {
            failures.push(format!("case {i}: {e:?}\n  {}", st.sql));
        }
    }
    client
        .batch_execute(&format!("DROP SCHEMA \"{scratch}\" CASCADE"))
        .await
        .unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
