//! keel against its native peers: the diesel benchmark workloads, pooled
//! throughput against pgbench, a bulk load of a million rows, and the pool
//! starvation scenario. Writes one JSON file in the shared results format.

mod bulk;
mod checksum;
mod error;
mod models;
mod orm;
mod phases;
mod pool;
mod report;
mod starvation;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use keel_native::Schema;

use crate::error::{BenchError, BenchResult};
use crate::report::{Report, Workload};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Group {
    Diesel,
    Pool,
    Bulk,
    Starvation,
    /// Not in the default set: prints keel's per-phase breakdown of the
    /// trivial query next to tokio-postgres, writes no workload.
    Phases,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DieselWorkload {
    Trivial,
    Medium,
    Insert,
    Associations,
}

#[derive(Debug, Parser)]
#[command(about = "keel's native benchmark suite (see bench/native/README.md)")]
struct Args {
    /// A database the suite may create and drop its own tables in.
    #[arg(long)]
    url: String,
    /// Where to write the results JSON.
    #[arg(long)]
    out: PathBuf,
    /// Samples per contender per workload (bulk uses at most 3).
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    /// Smaller sizes and shorter samples: a smoke run of under a minute.
    #[arg(long)]
    quick: bool,
    /// Only these groups (comma-separated); all by default.
    #[arg(long, value_delimiter = ',')]
    only: Vec<Group>,
    /// Only these diesel workloads (comma-separated), e.g. for profiling.
    #[arg(long, value_delimiter = ',')]
    workloads: Vec<DieselWorkload>,
    /// Only these contenders (comma-separated names as in the results).
    #[arg(long, value_delimiter = ',')]
    contenders: Vec<String>,
}

/// Run-wide settings the groups read.
pub struct Settings {
    pub url: String,
    pub repeats: usize,
    pub quick: bool,
    pub contenders: Vec<String>,
}

impl Settings {
    /// Warm-up and measured time per sample of the diesel workloads.
    pub fn sample_budget(&self) -> (Duration, Duration) {
        if self.quick {
            (Duration::from_millis(10), Duration::from_millis(40))
        } else {
            (Duration::from_millis(50), Duration::from_millis(250))
        }
    }

    pub fn wants(&self, contender: &str) -> bool {
        self.contenders.is_empty() || self.contenders.iter().any(|c| c == contender)
    }
}

/// A plain tokio-postgres connection (setup and the hand-written contender).
pub async fn tokio_postgres_client(url: &str) -> BenchResult<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            eprintln!("bench: a tokio-postgres connection ended: {error}");
        }
    });
    Ok(client)
}

/// `scheme://user:secret@host` → `scheme://user:***@host`, so the results
/// file can be shared.
fn redact_password(arg: &str) -> String {
    let Some(scheme_end) = arg.find("://") else {
        return arg.to_owned();
    };
    let rest = &arg[scheme_end + 3..];
    let Some(at) = rest.find('@') else {
        return arg.to_owned();
    };
    match rest[..at].find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &arg[..scheme_end + 3],
            &rest[..colon],
            &rest[at..]
        ),
        None => arg.to_owned(),
    }
}

const CARGO_LOCK: &str = include_str!("../Cargo.lock");

fn locked_version(name: &str) -> Option<String> {
    let needle = format!("name = \"{name}\"\nversion = \"");
    let start = CARGO_LOCK.find(&needle)? + needle.len();
    let len = CARGO_LOCK[start..].find('"')?;
    Some(CARGO_LOCK[start..start + len].to_owned())
}

async fn versions(setup: &tokio_postgres::Client) -> BenchResult<BTreeMap<String, String>> {
    let mut versions = BTreeMap::new();
    for (key, package) in [
        ("keel", "keel-native"),
        ("tokio-postgres", "tokio-postgres"),
        ("deadpool-postgres", "deadpool-postgres"),
        ("sqlx", "sqlx"),
        ("sea-orm", "sea-orm"),
        ("diesel", "diesel"),
        ("diesel-async", "diesel-async"),
        ("tokio", "tokio"),
    ] {
        if let Some(version) = locked_version(package) {
            versions.insert(key.to_owned(), version);
        }
    }
    versions.insert("rustc".to_owned(), env!("BENCH_RUSTC_VERSION").to_owned());
    let row = setup.query_one("SHOW server_version", &[]).await?;
    versions.insert("postgresql".to_owned(), row.try_get(0)?);
    if let Some(pgbench) = pool::pgbench_version() {
        versions.insert("pgbench".to_owned(), pgbench);
    }
    Ok(versions)
}

async fn run_diesel(
    args: &Args,
    settings: &Settings,
    setup: &tokio_postgres::Client,
    schema: &Schema,
    out: &mut Vec<Workload>,
) -> BenchResult<()> {
    let mut contenders = Vec::new();
    for name in orm::CONTENDERS {
        if settings.wants(name) {
            contenders.push(orm::connect(name, &settings.url, schema).await?);
        }
    }
    for plan in orm::plans(settings.quick) {
        let kind = match plan.op {
            orm::Op::Trivial => DieselWorkload::Trivial,
            orm::Op::Medium => DieselWorkload::Medium,
            orm::Op::Insert(_) => DieselWorkload::Insert,
            orm::Op::Associations => DieselWorkload::Associations,
        };
        if !args.workloads.is_empty() && !args.workloads.contains(&kind) {
            continue;
        }
        for n in plan.params {
            let workload = orm::run_workload(settings, setup, &mut contenders, plan.op, n).await?;
            eprintln!("{}", workload.summary());
            out.push(workload);
        }
    }
    Ok(())
}

async fn run(args: Args) -> BenchResult<()> {
    let settings = Settings {
        url: args.url.clone(),
        repeats: args.repeats.max(1),
        quick: args.quick,
        contenders: args.contenders.clone(),
    };
    let started_at = report::utc_now();
    let schema = Schema::from_json(models::SCHEMA_JSON)
        .map_err(|e| BenchError::Setup(format!("bench/native/schema.json: {e}")))?;
    let setup = tokio_postgres_client(&settings.url).await?;
    setup
        .batch_execute(&format!(
            "SET client_min_messages = warning; {}",
            models::DDL
        ))
        .await?;
    let groups = if args.only.is_empty() {
        vec![Group::Diesel, Group::Pool, Group::Bulk, Group::Starvation]
    } else {
        args.only.clone()
    };

    let mut workloads = Vec::new();
    for group in &groups {
        match group {
            Group::Diesel => run_diesel(&args, &settings, &setup, &schema, &mut workloads).await?,
            Group::Pool => {
                let workload = pool::run(&settings, &schema).await?;
                eprintln!("{}", workload.summary());
                workloads.push(workload);
            }
            Group::Bulk => {
                let workload = bulk::run(&settings, &setup, &schema).await?;
                eprintln!("{}", workload.summary());
                workloads.push(workload);
            }
            Group::Phases => phases::run(&settings, &setup, &schema).await?,
            Group::Starvation => {
                for workload in starvation::run(&settings).await? {
                    eprintln!("{}", workload.summary());
                    workloads.push(workload);
                }
            }
        }
    }

    let report = Report {
        suite: "native",
        started_at,
        command: std::env::args()
            .map(|a| redact_password(&a))
            .collect::<Vec<_>>()
            .join(" "),
        versions: versions(&setup).await?,
        repeats: settings.repeats,
        workloads,
    };
    let json = serde_json::to_string_pretty(&report)?;
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(BenchError::io(format!("creating {}", dir.display())))?;
    }
    std::fs::write(&args.out, json + "\n")
        .map_err(BenchError::io(format!("writing {}", args.out.display())))?;
    eprintln!("wrote {}", args.out.display());
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Args::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("keel-bench-native: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{locked_version, redact_password};

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_password("postgres://u:secret@127.0.0.1:5432/db"),
            "postgres://u:***@127.0.0.1:5432/db"
        );
        assert_eq!(redact_password("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_password("--quick"), "--quick");
    }

    #[test]
    fn versions_come_from_the_lock_file() {
        assert_eq!(locked_version("tokio-postgres").as_deref(), Some("0.7.18"));
        assert_eq!(locked_version("no-such-crate"), None);
    }
}
