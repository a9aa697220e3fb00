//! keel for Rust services: the core API on a `tokio-postgres` driver.
//!
//! The driver only moves bytes. It asks tokio-postgres for every result column
//! in binary and hands the raw cells to the core, which decodes them exactly
//! as it does in WebAssembly.

pub mod driver;
pub mod proxy;

pub use driver::NativeDriver;
pub use keel_core::*;
