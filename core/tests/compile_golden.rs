//! The golden corpus: every construct of the query language, with the exact
//! SQL, parameters and result columns it compiles to.
//!
//! Each `core/tests/golden/*.json` case file is a list of
//! `{name, query, sql, params, columns}`. After an intended change to the
//! compiler, `KEEL_BLESS=1 cargo test -p keel-core --test compile_golden`
//! rewrites the expected fields; review the diff like any other code.

mod golden_support;

use golden_support::{case_files, compiled, golden_dir, schema};
use keel_core::compile::ddl;
use keel_core::compile::{compile_plan, Load};
use keel_core::Query;
use serde_json::{json, Value as J};

fn bless() -> bool {
    std::env::var("KEEL_BLESS").as_deref() == Ok("1")
}

#[test]
fn every_case_compiles_to_its_golden_sql_and_params() {
    let schema = schema();
    let mut failures = Vec::new();
    let mut total = 0;
    for (path, mut cases) in case_files() {
        let mut changed = false;
        for case in cases.iter_mut() {
            total += 1;
            let name = case["name"].as_str().unwrap_or_default().to_owned();
            let query: Query = serde_json::from_value(case["query"].clone())
                .unwrap_or_else(|e| panic!("{}: {name}: does not parse: {e}", path.display()));
            // A serde round trip loses nothing.
            assert_eq!(
                Query::from_json(&query.to_json()).unwrap(),
                query,
                "{name}: round trip"
            );
            let got = match keel_core::compile(&query, &schema) {
                Ok(st) => compiled(&st),
                Err(e) => panic!("{}: {name}: {e}", path.display()),
            };
            for key in ["sql", "params", "columns"] {
                if case.get(key) != Some(&got[key]) {
                    if bless() {
                        case[key] = got[key].clone();
                        changed = true;
                    } else {
                        failures.push(format!(
                            "{}: {name}: {key}\n  expected {}\n  got      {}",
                            path.display(),
                            case.get(key).unwrap_or(&J::Null),
                            got[key]
                        ));
                    }
                }
            }
        }
        if changed {
            std::fs::write(&path, serde_json::to_string_pretty(&cases).unwrap() + "\n").unwrap();
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(total >= 60, "only {total} golden cases");
}

fn load_json(load: &Load) -> J {
    json!({
        "relation": load.relation,
        "parent_key": load.parent_key,
        "child_key": load.child_key,
        "statement": compiled(&load.statement),
        "loads": load.loads.iter().map(load_json).collect::<Vec<_>>(),
    })
}

/// The plan's shape: the root, then one select-in statement per relation level.
#[test]
fn eager_loading_plans_are_golden() {
    let schema = schema();
    let path = golden_dir().join("plans.json");
    let mut cases: Vec<J> = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut changed = false;
    for case in cases.iter_mut() {
        let query: Query = serde_json::from_value(case["query"].clone()).unwrap();
        let plan =
            compile_plan(&query, &schema).unwrap_or_else(|e| panic!("{}: {e}", case["name"]));
        let got = json!({
            "root": compiled(&plan.root),
            "loads": plan.loads.iter().map(load_json).collect::<Vec<_>>(),
        });
        if case.get("plan") != Some(&got) {
            assert!(
                bless(),
                "{}: plan\n  expected {}\n  got      {}",
                case["name"],
                case.get("plan").unwrap_or(&J::Null),
                got
            );
            case["plan"] = got;
            changed = true;
        }
        // Every level's statement has the parent keys as its first parameter.
        fn check(load: &Load) {
            assert!(
                load.statement.sql.contains("= ANY($1)"),
                "{}",
                load.statement.sql
            );
            load.loads.iter().for_each(check);
        }
        plan.loads.iter().for_each(check);
    }
    if changed {
        std::fs::write(&path, serde_json::to_string_pretty(&cases).unwrap() + "\n").unwrap();
    }
}

#[test]
fn ddl_is_golden() {
    let schema = schema();
    let path = golden_dir().join("ddl.json");
    let mut got = ddl::create_schema(&schema).unwrap();
    got.push(ddl::refresh_materialized_view("album_stats", false));
    got.push(ddl::refresh_materialized_view("album_stats", true));
    let got = J::from(got);
    let expected: J = std::fs::read_to_string(&path)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(J::Null);
    if expected != got {
        assert!(bless(), "ddl\n  expected {expected:#}\n  got      {got:#}");
        std::fs::write(&path, serde_json::to_string_pretty(&got).unwrap() + "\n").unwrap();
    }
}
