//! The byte pipe a [`Client`](super::Client) runs over: a TCP stream, a
//! WebSocket, a Cloudflare socket, an in-process PGlite.

use crate::error::Result;

/// `Send` natively, where tokio may move futures across threads; nothing on
/// wasm32, where transports hold JS values that are not `Send`.
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSend: Send {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Send + ?Sized> MaybeSend for T {}

/// `Send` natively, where tokio may move futures across threads; nothing on
/// wasm32, where transports hold JS values that are not `Send`.
#[cfg(target_arch = "wasm32")]
pub trait MaybeSend {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSend for T {}

/// An ordered, reliable byte stream to a PostgreSQL server.
///
/// `read` must be cancel-safe (no bytes lost if its future is dropped),
/// because a query can be abandoned mid-read and the next one continues on
/// the same stream. A `write` cancelled midway cannot be recovered from, and
/// [`Client`](super::Client) stops using the connection if that happens.
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait Transport: MaybeSend {
    /// Writes all of `bytes`.
    async fn write(&mut self, bytes: Vec<u8>) -> Result<()>;
    /// The next chunk of bytes, of any size; `None` at end of stream.
    async fn read(&mut self) -> Result<Option<Vec<u8>>>;
    /// Called by [`Client::close`](super::Client::close) after Terminate is
    /// written. The default does nothing, for transports that close on drop.
    async fn close(&mut self) -> Result<()> {
        Ok(())
    }
}
