//! Compiles every example in docs/query-format.md and checks what is printed
//! under it (the SQL, the DDL, a plan's statements, an error's message), so
//! the format's documentation cannot drift from the compiler.
//!
//! After an intended change, `KEEL_BLESS=1 cargo test -p keel-core --test
//! query_format_doc` rewrites the expected blocks; review the diff.

use keel_core::compile::{compile_plan, ddl, Load};
use keel_core::{compile, Query, Schema};

const DOC_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/query-format.md");

/// A fenced block: its info string, body, and the line range of the body.
struct Block {
    info: String,
    body: String,
    lines: std::ops::Range<usize>,
}

fn blocks(lines: &[&str]) -> Vec<Block> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if let Some(info) = lines[i].strip_prefix("```") {
            let start = i + 1;
            let mut end = start;
            while end < lines.len() && !lines[end].starts_with("```") {
                end += 1;
            }
            let body = lines[start..end].iter().map(|l| format!("{l}\n")).collect();
            out.push(Block {
                info: info.trim().to_owned(),
                body,
                lines: start..end,
            });
            i = end + 1;
        } else {
            i += 1;
        }
    }
    out
}

fn plan_statements(loads: &[Load], out: &mut Vec<String>) {
    for load in loads {
        out.push(load.statement.sql.clone());
        plan_statements(&load.loads, out);
    }
}

/// What the block after `block` must hold, or the error if it does not compile.
fn expected_output(block: &Block, schema: &Schema) -> Option<String> {
    let parse = || {
        Query::from_json(&block.body)
            .unwrap_or_else(|e| panic!("example does not parse: {e}\n{}", block.body))
    };
    match block.info.as_str() {
        "json query" => {
            let query = parse();
            // A serde round trip loses nothing.
            assert_eq!(Query::from_json(&query.to_json()).unwrap(), query);
            let statement = compile(&query, schema)
                .unwrap_or_else(|e| panic!("example does not compile: {e}\n{}", block.body));
            Some(statement.sql)
        }
        "json plan" => {
            let plan = compile_plan(&parse(), schema).unwrap_or_else(|e| panic!("{e}"));
            let mut statements = vec![plan.root.sql.clone()];
            plan_statements(&plan.loads, &mut statements);
            Some(statements.join("\n"))
        }
        "json error" => {
            let query = parse();
            let error = compile(&query, schema).expect_err("a documented error compiles");
            let (model, _) = error.subject();
            assert!(
                model.is_some() || error.to_string().contains("version"),
                "{error} names no model"
            );
            Some(error.to_string())
        }
        "json schema" => Some(
            ddl::create_schema(schema)
                .unwrap_or_else(|e| panic!("{e}"))
                .join(";\n")
                + ";",
        ),
        _ => None,
    }
}

#[test]
fn every_documented_example_gives_the_documented_output() {
    let doc = std::fs::read_to_string(DOC_PATH).unwrap();
    let lines: Vec<&str> = doc.lines().collect();
    let blocks = blocks(&lines);
    let schema_json = &blocks
        .iter()
        .find(|b| b.info == "json schema")
        .expect("the document shows a schema")
        .body;
    let schema = Schema::from_json(schema_json).expect("documented schema parses");
    let bless = std::env::var("KEEL_BLESS").as_deref() == Ok("1");

    let mut replacements: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    let mut failures = Vec::new();
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for (i, block) in blocks.iter().enumerate() {
        let Some(expected) = expected_output(block, &schema) else {
            continue;
        };
        *counts.entry(block.info.as_str()).or_default() += 1;
        let want_info = match block.info.as_str() {
            "json query" => "sql",
            "json plan" => "sql plan",
            "json error" => "text",
            _ => "sql ddl",
        };
        // The schema's DDL is shown in the first `sql ddl` block after it.
        let next = if block.info == "json schema" {
            blocks[i + 1..].iter().find(|b| b.info == "sql ddl")
        } else {
            blocks.get(i + 1)
        };
        let next = next.unwrap_or_else(|| panic!("block {i} ({}) has no output block", block.info));
        assert_eq!(next.info, want_info, "block {i}: {}", block.body);
        if next.body.trim_end() != expected {
            if bless {
                replacements.push((next.lines.clone(), expected));
            } else {
                failures.push(format!(
                    "line {}:\n  documented {}\n  actual     {expected}",
                    next.lines.start,
                    next.body.trim_end()
                ));
            }
        }
    }
    if bless && !replacements.is_empty() {
        let mut out: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
        for (range, text) in replacements.into_iter().rev() {
            out.splice(range, text.lines().map(str::to_owned));
        }
        std::fs::write(DOC_PATH, out.join("\n") + "\n").unwrap();
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        counts.get("json query").copied().unwrap_or(0) >= 40,
        "{counts:?}"
    );
    assert!(
        counts.get("json error").copied().unwrap_or(0) >= 10,
        "{counts:?}"
    );
    assert_eq!(counts.get("json plan").copied(), Some(2), "{counts:?}");
}
