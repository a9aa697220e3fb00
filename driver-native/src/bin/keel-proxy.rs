//! `keel-proxy --listen 127.0.0.1:0 --target 127.0.0.1:5432`
//!
//! Prints `listening on ws://ADDR` once bound, so scripts and tests can use port 0.

use clap::Parser;
use keel_native::proxy::Proxy;

#[derive(Parser)]
#[command(about = "WebSocket-to-PostgreSQL proxy for keel's wasm driver")]
struct Args {
    /// Address to accept WebSocket connections on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// The PostgreSQL server (host:port) every connection is relayed to.
    #[arg(long)]
    target: String,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let proxy = match Proxy::bind(&args.listen, args.target).await {
        Ok(proxy) => proxy,
        Err(error) => {
            eprintln!("keel-proxy: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match proxy.local_addr() {
        Ok(addr) => println!("listening on ws://{addr}"),
        Err(error) => {
            eprintln!("keel-proxy: {error}");
            return std::process::ExitCode::FAILURE;
        }
    }
    tokio::select! {
        () = proxy.serve() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    std::process::ExitCode::SUCCESS
}
