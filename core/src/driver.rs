//! The async boundary between the I/O-free core and a runtime.
//!
//! A driver moves a compiled [`Statement`] out and [`RawRows`] in. It never
//! builds SQL and never decodes values: both happen in the core, identically
//! for every driver, which is what makes native and wasm results comparable.

use crate::compile::Statement;
use crate::error::Result;
use crate::rows::RawRows;

/// Executes compiled statements. Native drivers are `Send` so tokio can spawn
/// their futures; wasm futures hold JS values and are not.
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait Driver {
    /// Runs one statement with its bound parameters and returns the rows with
    /// every cell in binary wire format.
    async fn query(&self, statement: &Statement) -> Result<RawRows>;
}
