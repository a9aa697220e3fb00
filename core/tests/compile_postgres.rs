//! PostgreSQL accepts every statement of the golden corpus: the DDL builds a
//! scratch schema on the throwaway server, and every compiled statement
//! (every case and every eager-loading level) is prepared there with the
//! parameter types keel declares.

mod golden_support;

use golden_support::{case_files, golden_dir, param_types, schema, Param};
use keel_core::compile::{compile_plan, ddl, Load};
use keel_core::{Query, Statement};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls};

pub async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

fn unique_schema_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("keel_golden_{}_{nanos}", std::process::id())
}

async fn prepare_all(client: &Client) -> Result<usize, String> {
    let schema = schema();
    for sql in ddl::create_schema(&schema).map_err(|e| e.to_string())? {
        client
            .batch_execute(&sql)
            .await
            .map_err(|e| format!("{sql}: {e}"))?;
    }
    // CONCURRENTLY needs a unique index on the view.
    client
        .batch_execute(r#"CREATE UNIQUE INDEX "album_stats_key" ON "album_stats" ("album_id")"#)
        .await
        .map_err(|e| e.to_string())?;
    for sql in [
        ddl::refresh_materialized_view("album_stats", false),
        ddl::refresh_materialized_view("album_stats", true),
    ] {
        client
            .batch_execute(&sql)
            .await
            .map_err(|e| format!("{sql}: {e}"))?;
    }

    let mut statements: Vec<(String, Statement)> = Vec::new();
    for (path, cases) in case_files() {
        for case in cases {
            let query: Query = serde_json::from_value(case["query"].clone()).unwrap();
            let statement = keel_core::compile(&query, &schema).map_err(|e| e.to_string())?;
            statements.push((format!("{}: {}", path.display(), case["name"]), statement));
        }
    }
    let plans: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(golden_dir().join("plans.json")).unwrap())
            .unwrap();
    fn levels(name: &str, loads: &[Load], out: &mut Vec<(String, Statement)>) {
        for load in loads {
            out.push((
                format!("{name} / {}", load.relation),
                load.statement.clone(),
            ));
            levels(name, &load.loads, out);
        }
    }
    for case in plans {
        let query: Query = serde_json::from_value(case["query"].clone()).unwrap();
        let plan = compile_plan(&query, &schema).map_err(|e| e.to_string())?;
        let name = format!("plans.json: {}", case["name"]);
        statements.push((name.clone(), plan.root.clone()));
        levels(&name, &plan.loads, &mut statements);
    }

    let mut failures = Vec::new();
    for (name, statement) in &statements {
        match client
            .prepare_typed(&statement.sql, &param_types(statement))
            .await
        {
            Ok(prepared) => {
                let columns: Vec<&str> = prepared.columns().iter().map(|c| c.name()).collect();
                if columns != statement.columns {
                    failures.push(format!(
                        "{name}: the server returns columns {columns:?}, keel expects {:?}",
                        statement.columns
                    ));
                }
                // Executing makes the server decode every bound value. The
                // scratch tables are empty, so a write may violate a foreign
                // key (class 23): that is the data, not the statement.
                let params: Vec<Param<'_>> = statement.params.iter().map(Param).collect();
                let refs: Vec<&(dyn ToSql + Sync)> =
                    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
                client
                    .batch_execute("BEGIN")
                    .await
                    .map_err(|e| e.to_string())?;
                let executed = client.query(&prepared, &refs).await;
                client
                    .batch_execute("ROLLBACK")
                    .await
                    .map_err(|e| e.to_string())?;
                if let Err(e) = executed {
                    let code = e.code().map(|c| c.code().to_owned()).unwrap_or_default();
                    if !code.starts_with("23") {
                        failures.push(format!("{name}: executing: {e:?}\n  {}", statement.sql));
                    }
                }
            }
            Err(e) => failures.push(format!(
                "{name}: {}\n  {}",
                e.as_db_error()
                    .map_or(e.to_string(), |d| d.message().to_owned()),
                statement.sql
            )),
        }
    }
    if failures.is_empty() {
        Ok(statements.len())
    } else {
        Err(failures.join("\n"))
    }
}

#[tokio::test]
async fn postgres_prepares_every_golden_statement() {
    let Some(url) = keel_testkit::database_url() else {
        return;
    };
    let client = connect(&url).await;
    let scratch = unique_schema_name();
    client
        .batch_execute(&format!(
            "CREATE SCHEMA \"{scratch}\"; SET search_path TO \"{scratch}\""
        ))
        .await
        .unwrap();
    let result = prepare_all(&client).await;
    client
        .batch_execute(&format!("DROP SCHEMA \"{scratch}\" CASCADE"))
        .await
        .unwrap();
    let prepared = result.unwrap_or_else(|e| panic!("{e}"));
    assert!(prepared >= 60, "only {prepared} statements prepared");
    println!("{prepared} statements prepared");
}
