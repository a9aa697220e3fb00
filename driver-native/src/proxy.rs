//! A WebSocket-to-PostgreSQL proxy: each binary frame from the client is
//! written to a TCP connection to one fixed server, and every chunk read from
//! the server goes back as one binary frame.
//!
//! It exists so keel's wasm driver, which can only open WebSockets in browsers
//! and workers, can reach a real PostgreSQL. It never parses the protocol.

use std::net::SocketAddr;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

/// Largest chunk read from the server and sent as one frame.
const READ_CHUNK: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
}

/// A bound proxy, not yet serving; binding first lets the caller learn the port.
pub struct Proxy {
    listener: TcpListener,
    target: String,
}

impl Proxy {
    pub async fn bind(listen: &str, target: impl Into<String>) -> Result<Proxy, ProxyError> {
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|source| ProxyError::Listen {
                addr: listen.to_owned(),
                source,
            })?;
        Ok(Proxy {
            listener,
            target: target.into(),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections until the task is dropped; each runs on its own task.
    pub async fn serve(self) {
        loop {
            match self.listener.accept().await {
                Ok((stream, peer)) => {
                    let target = self.target.clone();
                    tokio::spawn(async move {
                        if let Err(error) = relay(stream, &target).await {
                            tracing::debug!(%peer, %error, "proxy connection ended");
                        }
                    });
                }
                Err(error) => tracing::warn!(%error, "proxy accept failed"),
            }
        }
    }
}

async fn relay(
    client: TcpStream,
    target: &str,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    client.set_nodelay(true)?;
    let ws = tokio_tungstenite::accept_async(client).await?;
    let server = TcpStream::connect(target).await?;
    server.set_nodelay(true)?;
    let (mut server_read, mut server_write) = server.into_split();
    let (mut ws_write, mut ws_read) = ws.split();

    let upstream = async {
        while let Some(message) = ws_read.next().await {
            match message? {
                Message::Binary(bytes) => server_write.write_all(&bytes).await?,
                Message::Close(_) => break,
                // Text frames carry no protocol bytes; pings are answered by tungstenite.
                _ => {}
            }
        }
        server_write.shutdown().await?;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    };
    let downstream = async {
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            let n = server_read.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            ws_write
                .send(Message::Binary(bytes::Bytes::copy_from_slice(&buf[..n])))
                .await?;
        }
        ws_write.close().await?;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    };
    // Whichever side finishes first ends the session; dropping the other
    // closes its socket, so neither peer is left waiting.
    tokio::select! {
        result = upstream => result,
        result = downstream => result,
    }
}
