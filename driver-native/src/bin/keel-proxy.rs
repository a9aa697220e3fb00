//! `keel-proxy --listen 127.0.0.1:0 --target 127.0.0.1:5432 [--allow '127.0.0.1:*']`
//!
//! Prints `listening on ws://ADDR` once bound, so scripts and tests can use
//! port 0. With `--stats`, prints one JSON line per finished connection.
//! SIGTERM or Ctrl-C stops accepting and lets open connections finish.

use std::time::Duration;

use clap::Parser;
use keel_native::proxy::{Proxy, ProxyConfig};
use keel_native::tls::{read_pem_certificates, SslMode, TlsSettings};

#[derive(Parser)]
#[command(about = "WebSocket-to-PostgreSQL proxy for keel's wasm driver (Neon wsproxy-compatible)")]
struct Args {
    /// Address to accept WebSocket connections on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// The PostgreSQL server (host:port) used when a client names no `?address=`.
    #[arg(long)]
    target: Option<String>,
    /// A host:port pattern clients may name with `?address=` (`*` is a wildcard); repeatable.
    #[arg(long = "allow")]
    allow: Vec<String>,
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
    /// Largest WebSocket frame accepted from a client, in bytes.
    #[arg(long, default_value_t = 1 << 20)]
    max_frame_bytes: usize,
    /// Close a connection after this many seconds without traffic.
    #[arg(long, default_value_t = 300)]
    idle_timeout_secs: u64,
    /// Delay each forwarded frame by this many milliseconds (latency simulation).
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// Seconds to let open connections finish after SIGTERM / Ctrl-C.
    #[arg(long, default_value_t = 10)]
    shutdown_grace_secs: u64,
    /// Print a JSON line with frame and byte counts when each connection ends.
    #[arg(long)]
    stats: bool,
    /// TLS to PostgreSQL: disable, prefer, require or verify-full (libpq's sslmode).
    #[arg(long, default_value = "disable")]
    upstream_sslmode: String,
    /// PEM file of the CA(s) trusted for --upstream-sslmode verify-full.
    #[arg(long)]
    upstream_ca: Option<String>,
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn upstream_tls(args: &Args) -> Result<Option<TlsSettings>, keel_native::NativeError> {
    let mode = SslMode::parse(&args.upstream_sslmode)?;
    let root_certificates = match &args.upstream_ca {
        Some(path) => read_pem_certificates(path)?,
        None => Vec::new(),
    };
    Ok((mode != SslMode::Disable).then_some(TlsSettings {
        mode,
        root_certificates,
    }))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let upstream_tls = match upstream_tls(&args) {
        Ok(tls) => tls,
        Err(error) => {
            eprintln!("keel-proxy: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let config = ProxyConfig {
        default_target: args.target,
        allow: args.allow,
        max_connections: args.max_connections,
        max_frame_bytes: args.max_frame_bytes,
        idle_timeout: Duration::from_secs(args.idle_timeout_secs),
        delay: Duration::from_millis(args.delay_ms),
        upstream_tls,
        ..ProxyConfig::default()
    };
    let mut proxy = match Proxy::bind(&args.listen, config).await {
        Ok(proxy) => proxy,
        Err(error) => {
            eprintln!("keel-proxy: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if args.stats {
        proxy = proxy.on_close(|stats| {
            if let Ok(line) = serde_json::to_string(stats) {
                println!("{line}");
            }
        });
    }
    match proxy.local_addr() {
        Ok(addr) => println!("listening on ws://{addr}"),
        Err(error) => {
            eprintln!("keel-proxy: {error}");
            return std::process::ExitCode::FAILURE;
        }
    }
    proxy
        .serve_until(
            shutdown_signal(),
            Duration::from_secs(args.shutdown_grace_secs),
        )
        .await;
    std::process::ExitCode::SUCCESS
}
