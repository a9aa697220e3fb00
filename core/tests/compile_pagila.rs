//! On Pagila, whose `film` table has an enum (`mpaa_rating`), a domain
//! (`year`) and a `text[]` column, compiled queries return the rows of
//! hand-written SQL: user-defined types bound as keel binds them (an enum as
//! its label with an unspecified OID, an enum array as `text[]` cast in the
//! SQL, a domain in its base type's encoding). Skips with one line when the
//! Pagila URL is unset.

mod golden_support;

use golden_support::{param_types, Param};
use keel_core::{Query, Schema, Statement};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls};

/// Shared with the cross-runtime suite (tests/conformance-corpus.test.mjs).
const SCHEMA: &str = include_str!("../../tests/corpus/pagila/schema.json");
const CASES_JSON: &str = include_str!("../../tests/corpus/pagila/cases.json");

fn wrap(sql: &str) -> String {
    format!("WITH q AS ({sql}) SELECT coalesce(jsonb_agg(to_jsonb(q)), '[]')::text FROM q")
}

async fn rows_of_keel(client: &Client, statement: &Statement) -> String {
    let prepared = client
        .prepare_typed(&wrap(&statement.sql), &param_types(statement))
        .await
        .unwrap_or_else(|e| panic!("{}: {e:?}", statement.sql));
    let params: Vec<Param<'_>> = statement.params.iter().map(Param).collect();
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
    client
        .query_one(&prepared, &refs)
        .await
        .unwrap_or_else(|e| panic!("{}: {e:?}", statement.sql))
        .get(0)
}

#[tokio::test]
async fn compiled_queries_with_user_defined_types_return_the_rows_of_hand_written_sql() {
    let Some(url) = keel_testkit::pagila_url() else {
        return;
    };
    let (client, connection) = tokio_postgres::connect(&url, NoTls).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let schema = Schema::from_json(SCHEMA).unwrap();
    let cases = golden_support::corpus_cases(CASES_JSON);
    assert!(cases.len() >= 7, "the corpus lost cases");
    for (json, sql) in &cases {
        let query = Query::from_json(json).unwrap_or_else(|e| panic!("{e}: {json}"));
        let statement =
            keel_core::compile(&query, &schema).unwrap_or_else(|e| panic!("{e}: {json}"));
        let keel = rows_of_keel(&client, &statement).await;
        let expected: String = client.query_one(&wrap(sql), &[]).await.unwrap().get(0);
        assert_ne!(
            expected, "[]",
            "the case selects no rows, so it shows nothing: {sql}"
        );
        assert_eq!(keel, expected, "\nkeel: {}\nhand: {sql}", statement.sql);
    }
}
