//! Shared by the golden and PostgreSQL acceptance tests: the corpus on disk
//! and a statement's canonical JSON form.
#![allow(dead_code)]

use std::path::PathBuf;

use keel_core::{Schema, Statement};
use serde_json::{json, Value as J};

pub fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

pub fn schema() -> Schema {
    Schema::from_json(&std::fs::read_to_string(golden_dir().join("schema.json")).unwrap())
        .expect("golden schema parses")
}

/// Every case file (all JSON files but the schema, the plans and the DDL), sorted.
pub fn case_files() -> Vec<(PathBuf, Vec<J>)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && !["schema.json", "plans.json", "ddl.json"]
                    .iter()
                    .any(|n| p.ends_with(n))
        })
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let cases = serde_json::from_str(&std::fs::read_to_string(&p).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, cases)
        })
        .collect()
}

/// SQL, typed parameters and result columns, as compared with the corpus.
pub fn compiled(st: &Statement) -> J {
    json!({
        "sql": st.sql,
        "params": st.params.iter().zip(&st.param_types).map(|(v, t)| json!({"type": t, "value": v})).collect::<Vec<_>>(),
        "columns": st.columns,
    })
}

/// A keel value bound through tokio-postgres in keel's own binary encoding,
/// so the server decodes exactly the bytes keel's drivers send.
#[derive(Debug)]
pub struct Param<'a>(pub &'a keel_core::Value);

impl tokio_postgres::types::ToSql for Param<'_> {
    fn to_sql(
        &self,
        _: &tokio_postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self.0.encode_binary()? {
            None => Ok(tokio_postgres::types::IsNull::Yes),
            Some(bytes) => {
                out.extend_from_slice(&bytes);
                Ok(tokio_postgres::types::IsNull::No)
            }
        }
    }

    fn accepts(_: &tokio_postgres::types::Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

/// The declared types of a statement's parameters. OID 0 (a user-defined
/// type) is "unspecified", so the server infers it, as keel's drivers do.
pub fn param_types(statement: &Statement) -> Vec<tokio_postgres::types::Type> {
    statement
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
        .collect()
}

/// The cases of a corpus file in tests/corpus/ (shared with the
/// cross-runtime suite): (query definition as JSON text, hand-written SQL).
pub fn corpus_cases(json: &str) -> Vec<(String, String)> {
    #[derive(serde::Deserialize)]
    struct Case {
        query: J,
        sql: String,
    }
    let cases: Vec<Case> = serde_json::from_str(json).expect("the corpus parses");
    cases
        .into_iter()
        .map(|c| (c.query.to_string(), c.sql))
        .collect()
}
