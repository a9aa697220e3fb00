//! The `keel` command-line tool.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use keel_native::query::RowShape;
use keel_native::{Db, NativeDriver, Query, Schema};

#[derive(Parser)]
#[command(
    name = "keel",
    about = "keel: compile and run PostgreSQL query definitions"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the SQL and parameters a query definition compiles to, as JSON.
    Compile { schema: PathBuf, query: PathBuf },
    /// Run a query definition and print its rows as canonical JSON (arrays of
    /// values for `"row_shape": "values"`).
    Query {
        /// Connection string, e.g. postgres://user:pass@127.0.0.1:5432/db
        url: String,
        query: PathBuf,
        /// The schema the query is checked against.
        #[arg(long)]
        schema: PathBuf,
        /// Print `{"sql", "params", "rows"}` instead of just the rows.
        #[arg(long)]
        detailed: bool,
    },
    /// Read a live database's tables, columns, keys, relations, enums,
    /// domains and indexes, and print them as a schema JSON.
    Introspect {
        /// Connection string, e.g. postgres://user:pass@127.0.0.1:5432/db
        url: String,
    },
    /// Generate code from a schema.
    Codegen {
        #[command(subcommand)]
        target: Codegen,
    },
}

#[derive(Subcommand)]
enum Codegen {
    /// Print TypeScript declarations of each table's row as keel-orm returns
    /// it, for `client.from<Tables["track"]>("track")`.
    Ts {
        schema: PathBuf,
        /// How the connection returns int8 (its `int8` option).
        #[arg(long, value_parser = ["bigint", "string"], default_value = "bigint")]
        int8: String,
        /// How the connection returns timestamptz (its `timestamptz` option).
        #[arg(long, value_parser = ["date", "string"], default_value = "date")]
        timestamptz: String,
    },
}

/// `keel query --detailed` output. A struct rather than `json!`, which would
/// re-sort each row's keys and lose the column order.
#[derive(serde::Serialize)]
struct Detailed<'a> {
    sql: &'a str,
    params: &'a [keel_native::Value],
    rows: ShapedRows<'a>,
}

/// Rows as objects, or as arrays of values when the definition asks for
/// `"row_shape": "values"`.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum ShapedRows<'a> {
    Objects(&'a keel_native::Rows),
    Values(&'a [Vec<keel_native::Value>]),
}

impl<'a> ShapedRows<'a> {
    fn new(rows: &'a keel_native::Rows, shape: RowShape) -> ShapedRows<'a> {
        match shape {
            RowShape::Objects => ShapedRows::Objects(rows),
            RowShape::Values => ShapedRows::Values(&rows.rows),
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid {what}: {source}")]
    Parse {
        path: PathBuf,
        what: &'static str,
        source: serde_json::Error,
    },
    #[error(transparent)]
    Keel(#[from] keel_native::Error),
    #[error(transparent)]
    Native(#[from] keel_native::NativeError),
    #[error("cannot write JSON output: {0}")]
    Output(serde_json::Error),
}

fn read_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    what: &'static str,
) -> Result<T, CliError> {
    let text = std::fs::read_to_string(path).map_err(|source| CliError::Read {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| CliError::Parse {
        path: path.to_owned(),
        what,
        source,
    })
}

fn compile_json(schema: &Schema, query: &Query) -> Result<serde_json::Value, CliError> {
    let statement = keel_native::compile(query, schema).map_err(keel_native::Error::from)?;
    Ok(serde_json::json!({ "sql": statement.sql, "params": statement.params }))
}

async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Compile { schema, query } => {
            let schema: Schema = read_json(&schema, "schema")?;
            let query: Query = read_json(&query, "query definition")?;
            println!("{}", compile_json(&schema, &query)?);
        }
        Command::Query {
            url,
            query,
            schema,
            detailed,
        } => {
            let schema: Schema = read_json(&schema, "schema")?;
            let query: Query = read_json(&query, "query definition")?;
            // Compile first so an invalid definition never opens a connection.
            let statement =
                keel_native::compile(&query, &schema).map_err(keel_native::Error::from)?;
            let db = Db::new(NativeDriver::connect(&url).await?, schema);
            let rows = db.fetch_statement(&statement).await?;
            let rows = ShapedRows::new(&rows, query.row_shape);
            let out = if detailed {
                serde_json::to_string(&Detailed {
                    sql: &statement.sql,
                    params: &statement.params,
                    rows,
                })
            } else {
                serde_json::to_string(&rows)
            };
            println!("{}", out.map_err(CliError::Output)?);
        }
        Command::Codegen {
            target:
                Codegen::Ts {
                    schema,
                    int8,
                    timestamptz,
                },
        } => {
            let schema: Schema = read_json(&schema, "schema")?;
            let options = keel_native::codegen::TsOptions {
                int8_as_string: int8 == "string",
                timestamptz_as_string: timestamptz == "string",
            };
            print!("{}", keel_native::codegen::typescript(&schema, options));
        }
        Command::Introspect { url } => {
            let schema = keel_native::introspect::introspect(&url).await?;
            let json = serde_json::to_string_pretty(&schema).map_err(CliError::Output)?;
            println!("{json}");
        }
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("keel: {error}");
            ExitCode::FAILURE
        }
    }
}
