//! Runs the example service.
//!
//! Environment: `KEEL_DATABASE_URL` (required), `KEEL_LISTEN` (default
//! `127.0.0.1:8080`; port 0 picks a free one), `KEEL_QUERIES` (the directory
//! holding `schema.json` and `queries/`, default examples/music). Prints
//! `listening on <addr>` once it accepts connections.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use keel_example_service::{load, router, App};
use keel_native::{Pool, PoolSettings};

async fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("KEEL_DATABASE_URL").map_err(|_| "KEEL_DATABASE_URL is not set")?;
    let listen = std::env::var("KEEL_LISTEN").unwrap_or_else(|_| "127.0.0.1:8080".to_owned());
    let dir = std::env::var_os("KEEL_QUERIES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../music"));
    let (schema, queries) = load(&dir)?;
    let pool = Pool::connect(
        &url,
        PoolSettings {
            min_idle: 1,
            ..PoolSettings::default()
        },
    )
    .await?;
    let app = Arc::new(App {
        pool,
        schema,
        queries,
    });
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, router(app)).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match serve().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("keel-example-service: {error}");
            ExitCode::FAILURE
        }
    }
}
