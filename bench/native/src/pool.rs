//! Pooled throughput: 64 tasks on a pool of 16 connections doing
//! primary-key lookups on pgbench's table, against `pgbench -S` itself as
//! the practical limit of this machine.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use keel_native::{Db, Pool, PoolSettings, Schema};
use tokio::process::Command;

use crate::error::{BenchError, BenchResult};
use crate::models::Account;
use crate::report::{Better, Target, Workload};
use crate::Settings;

const TASKS: usize = 64;
const POOL_SIZE: usize = 16;
const SCALE: i32 = 10;
const LOOKUP_SQL: &str = "SELECT abalance FROM pgbench_accounts WHERE aid = $1";

/// `pgbench` on PATH, else the newest under /usr/lib/postgresql/*/bin.
fn pgbench_path() -> Option<PathBuf> {
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let candidate = dir.join("pgbench");
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin/pgbench"))
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found.pop()
}

pub fn pgbench_version() -> Option<String> {
    let out = std::process::Command::new(pgbench_path()?)
        .arg("--version")
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// pgbench with the connection taken from the URL (libpq environment).
/// The tokio-postgres + deadpool contender's pool: `size` connections,
/// fast recycling (as keel's pool), `wait` as the acquire timeout.
pub fn deadpool(
    url: &str,
    size: usize,
    wait: Option<Duration>,
) -> BenchResult<deadpool_postgres::Pool> {
    let mut config = deadpool_postgres::Config::new();
    config.url = Some(url.to_owned());
    let mut pool = deadpool_postgres::PoolConfig::new(size);
    pool.timeouts.wait = wait;
    config.pool = Some(pool);
    config.manager = Some(deadpool_postgres::ManagerConfig {
        recycling_method: deadpool_postgres::RecyclingMethod::Fast,
    });
    Ok(config.create_pool(
        Some(deadpool_postgres::Runtime::Tokio1),
        tokio_postgres::NoTls,
    )?)
}

fn pgbench(url: &str) -> BenchResult<Command> {
    let path = pgbench_path().ok_or_else(|| {
        BenchError::Setup("pgbench not found on PATH or under /usr/lib/postgresql/*/bin".into())
    })?;
    let config: tokio_postgres::Config = url.parse()?;
    let mut command = Command::new(path);
    if let Some(tokio_postgres::config::Host::Tcp(host)) = config.get_hosts().first() {
        command.env("PGHOST", host);
    }
    if let Some(port) = config.get_ports().first() {
        command.env("PGPORT", port.to_string());
    }
    if let Some(user) = config.get_user() {
        command.env("PGUSER", user);
    }
    if let Some(password) = config.get_password() {
        command.env("PGPASSWORD", String::from_utf8_lossy(password).into_owned());
    }
    if let Some(dbname) = config.get_dbname() {
        command.env("PGDATABASE", dbname);
    }
    command.kill_on_drop(true);
    Ok(command)
}

async fn run_pgbench(url: &str, args: &[&str]) -> BenchResult<String> {
    let out = pgbench(url)?
        .args(args)
        .output()
        .await
        .map_err(BenchError::io("running pgbench"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(BenchError::Setup(format!(
            "pgbench {} failed: {}{}",
            args.join(" "),
            stdout,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(stdout)
}

/// The tps figure pgbench prints (`tps = 81234.5 (without initial connection time)`).
fn parse_tps(output: &str) -> Option<f64> {
    output
        .lines()
        .filter(|l| l.trim_start().starts_with("tps = "))
        .filter_map(|l| l.trim_start()["tps = ".len()..].split_whitespace().next())
        .filter_map(|v| v.parse().ok())
        .next_back()
}

/// xorshift64*: the lookup keys, cheap and without a dependency.
struct Keys(u64);

impl Keys {
    fn next(&mut self, max: i32) -> i32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let r = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let max = u64::from(max.unsigned_abs());
        i32::try_from(r % max + 1).unwrap_or(1)
    }
}

/// Runs `TASKS` lookup loops for `duration`; returns queries per second.
async fn drive<F, Fut>(duration: Duration, lookup: F) -> BenchResult<f64>
where
    F: Fn(i32) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = BenchResult<()>> + Send,
{
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let max_aid = 100_000 * SCALE;
    let started = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let (stop, done, lookup) = (stop.clone(), done.clone(), lookup.clone());
            tokio::spawn(async move {
                let mut keys = Keys(0x9E37_79B9_7F4A_7C15 ^ (t as u64 + 1));
                while !stop.load(Ordering::Relaxed) {
                    lookup(keys.next(max_aid)).await?;
                    done.fetch_add(1, Ordering::Relaxed);
                }
                Ok::<_, BenchError>(())
            })
        })
        .collect();
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed();
    let counted = done.load(Ordering::Relaxed);
    for task in tasks {
        task.await??;
    }
    Ok(counted as f64 / elapsed.as_secs_f64())
}

pub async fn run(settings: &Settings, schema: &Schema) -> BenchResult<Workload> {
    let url = settings.url.as_str();
    let scale = SCALE.to_string();
    run_pgbench(url, &["-i", "-q", "-s", &scale]).await?;
    let secs: u64 = if settings.quick { 1 } else { 5 };
    let duration = Duration::from_secs(secs);

    let keel_pool = Pool::connect(
        url,
        PoolSettings {
            max_size: POOL_SIZE,
            min_idle: POOL_SIZE,
            ..PoolSettings::default()
        },
    )
    .await?;
    let keel = Arc::new(Db::new(keel_pool, schema.clone()));
    let deadpool = deadpool(url, POOL_SIZE, None)?;

    let mut workload = Workload::new(
        "pool",
        "pooled primary-key lookups",
        format!("{TASKS} tasks, pool of {POOL_SIZE}, {secs} s"),
        "queries/s",
        Better::Higher,
    )
    .against("pgbench", Target::MinRatio(0.9));
    workload.note = format!(
        "{LOOKUP_SQL} with a random aid on pgbench_accounts (scale {SCALE}); keel: Db<Pool>, find::<Account>().filter(aid).values([abalance]) (the same SQL); tokio-postgres + deadpool: prepare_cached + query_one; pgbench: -S -M prepared -c {POOL_SIZE} -j 2 -T {secs}"
    );
    let names = ["keel", "tokio-postgres + deadpool", "pgbench"];
    let wanted: Vec<&str> = names.into_iter().filter(|n| settings.wants(n)).collect();
    // A short warm-up of each: connections opened, statements prepared.
    let warmup = Duration::from_millis(if settings.quick { 100 } else { 500 });
    for repeat in 0..settings.repeats {
        for k in 0..wanted.len() {
            let name = wanted[(k + repeat) % wanted.len()];
            let rate = match name {
                "keel" => {
                    let lookup = {
                        let keel = keel.clone();
                        move |aid: i32| {
                            let keel = keel.clone();
                            async move {
                                let rows = keel
                                    .find::<Account>()
                                    .filter(Account::aid.eq(aid))
                                    .values([Account::abalance.name()])
                                    .await?;
                                std::hint::black_box(rows);
                                Ok(())
                            }
                        }
                    };
                    drive(warmup, lookup.clone()).await?;
                    drive(duration, lookup).await?
                }
                "tokio-postgres + deadpool" => {
                    let lookup = {
                        let pool = deadpool.clone();
                        move |aid: i32| {
                            let pool = pool.clone();
                            async move {
                                let client = pool.get().await?;
                                let statement = client.prepare_cached(LOOKUP_SQL).await?;
                                let row = client.query_one(&statement, &[&aid]).await?;
                                std::hint::black_box(row.try_get::<_, Option<i32>>(0)?);
                                Ok(())
                            }
                        }
                    };
                    drive(warmup, lookup.clone()).await?;
                    drive(duration, lookup).await?
                }
                _ => {
                    let clients = POOL_SIZE.to_string();
                    let out = run_pgbench(
                        url,
                        &[
                            "-n",
                            "-S",
                            "-M",
                            "prepared",
                            "-c",
                            &clients,
                            "-j",
                            "2",
                            "-T",
                            &secs.to_string(),
                        ],
                    )
                    .await?;
                    parse_tps(&out).ok_or_else(|| {
                        BenchError::Setup(format!("no tps in pgbench's output: {out}"))
                    })?
                }
            };
            workload.sample(name, rate);
        }
    }
    Ok(workload.finish())
}

#[cfg(test)]
mod tests {
    use super::{parse_tps, Keys};

    #[test]
    fn reads_tps_from_pgbench_output() {
        let out = "latency average = 0.198 ms\ninitial connection time = 12.3 ms\ntps = 80515.812345 (without initial connection time)\n";
        assert_eq!(parse_tps(out), Some(80515.812345));
        assert_eq!(parse_tps("nothing"), None);
    }

    #[test]
    fn keys_stay_in_range() {
        let mut keys = Keys(42);
        assert!((0..10_000)
            .map(|_| keys.next(1_000))
            .all(|k| (1..=1_000).contains(&k)));
    }
}
