//! A WebSocket-to-PostgreSQL proxy: each binary frame from the client is
//! written to a TCP connection to a PostgreSQL server, and every chunk read
//! from the server goes back as one binary frame. It never parses the
//! PostgreSQL protocol.
//!
//! It exists so keel's wasm driver, which can only open WebSockets in
//! browsers and workers, can reach a real PostgreSQL. The framing is that of
//! Neon's wsproxy, so `@neondatabase/serverless` can use it too: the target
//! comes from the `address=host:port` query parameter (checked against an
//! allow-list, so the proxy is never an open relay), or is the configured
//! default target.
//!
//! Memory per connection is bounded: one frame of at most `max_frame_bytes`
//! is written upstream before the next is read, and the server is read in
//! chunks of `read_chunk_bytes` that are sent before the next read.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore};
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::handshake::server::{
    Callback, ErrorResponse, Request, Response,
};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

use crate::tls::{client_config, SslMode, TlsSettings};

/// How the proxy behaves; every limit has a safe default.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Used when the client names no `address`; always allowed.
    pub default_target: Option<String>,
    /// `host:port` patterns a client may name with `address=`; `*` matches
    /// any run of characters (`127.0.0.1:*`, `*.db.internal:5432`).
    pub allow: Vec<String>,
    pub max_connections: usize,
    /// Largest WebSocket frame (and message) accepted from a client.
    pub max_frame_bytes: usize,
    /// Largest chunk read from the server and sent as one frame.
    pub read_chunk_bytes: usize,
    /// A connection with no traffic in either direction for this long is closed.
    pub idle_timeout: Duration,
    /// Added before forwarding each frame in each direction, to simulate a
    /// distant database in benchmarks. Zero in normal use.
    pub delay: Duration,
    /// TLS from the proxy to PostgreSQL (`None` or mode `disable`: plain
    /// TCP). The proxy negotiates it itself (SSLRequest, then the
    /// handshake) before relaying, so clients need no TLS code of their own.
    pub upstream_tls: Option<TlsSettings>,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            default_target: None,
            allow: Vec::new(),
            max_connections: 1024,
            max_frame_bytes: 1 << 20,
            read_chunk_bytes: 64 * 1024,
            idle_timeout: Duration::from_secs(300),
            delay: Duration::ZERO,
            upstream_tls: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("invalid proxy configuration: {0}")]
    Config(String),
}

/// What one finished connection moved; reported through [`Proxy::on_close`].
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ConnectionStats {
    pub target: String,
    /// Binary frames received from the client (each is one upstream write).
    pub frames_from_client: u64,
    pub frames_to_client: u64,
    pub bytes_from_client: u64,
    pub bytes_to_client: u64,
    /// Why the connection ended: `client closed`, `server closed`, `idle`, or an error.
    pub ended: String,
}

type CloseHook = Arc<dyn Fn(&ConnectionStats) + Send + Sync>;

/// A bound proxy, not yet serving; binding first lets the caller learn the port.
pub struct Proxy {
    listener: TcpListener,
    config: Arc<ProxyConfig>,
    upstream: Option<Arc<UpstreamTls>>,
    slots: Arc<Semaphore>,
    on_close: Option<CloseHook>,
}

impl Proxy {
    pub async fn bind(listen: &str, config: ProxyConfig) -> Result<Proxy, ProxyError> {
        if config.max_connections == 0
            || config.max_frame_bytes == 0
            || config.read_chunk_bytes == 0
        {
            return Err(ProxyError::Config(
                "max connections, frame size and read chunk must be positive".into(),
            ));
        }
        let upstream = match &config.upstream_tls {
            None => None,
            Some(tls) => client_config(tls.mode, &tls.root_certificates)
                .map_err(|e| ProxyError::Config(e.to_string()))?
                .map(|client| {
                    Arc::new(UpstreamTls {
                        mode: tls.mode,
                        connector: TlsConnector::from(Arc::new(client)),
                    })
                }),
        };
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|source| ProxyError::Listen {
                addr: listen.to_owned(),
                source,
            })?;
        Ok(Proxy {
            listener,
            upstream,
            slots: Arc::new(Semaphore::new(config.max_connections)),
            config: Arc::new(config),
            on_close: None,
        })
    }

    /// Called with each connection's statistics when it ends.
    pub fn on_close(mut self, hook: impl Fn(&ConnectionStats) + Send + Sync + 'static) -> Proxy {
        self.on_close = Some(Arc::new(hook));
        self
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves, then stops accepting and waits up to
    /// `grace` for open connections to finish; any still open are dropped.
    pub async fn serve_until(
        self,
        shutdown: impl std::future::Future<Output = ()>,
        grace: Duration,
    ) {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let config = Arc::clone(&self.config);
                        let upstream = self.upstream.clone();
                        let slots = Arc::clone(&self.slots);
                        let on_close = self.on_close.clone();
                        tokio::spawn(async move {
                            let upstream = upstream.as_deref();
                            if let Some(stats) = handle(stream, &config, upstream, &slots).await {
                                tracing::debug!(%peer, ?stats, "proxy connection ended");
                                if let Some(hook) = on_close {
                                    hook(&stats);
                                }
                            }
                        });
                    }
                    Err(error) => tracing::warn!(%error, "proxy accept failed"),
                },
            }
        }
        drop(self.listener);
        let all = u32::try_from(self.config.max_connections).unwrap_or(u32::MAX);
        if tokio::time::timeout(grace, self.slots.acquire_many(all))
            .await
            .is_err()
        {
            tracing::warn!("proxy shutdown grace period ended with connections still open");
        }
    }

    /// Serves until the task is dropped.
    pub async fn serve(self) {
        self.serve_until(std::future::pending(), Duration::ZERO)
            .await;
    }
}

/// Matches `candidate` against a pattern where `*` stands for any run of characters.
fn glob_match(pattern: &str, candidate: &str) -> bool {
    let Some((first, rest)) = pattern.split_once('*') else {
        return pattern == candidate;
    };
    let Some(mut remaining) = candidate.strip_prefix(first) else {
        return false;
    };
    let mut parts: Vec<&str> = rest.split('*').collect();
    let last = parts.pop().unwrap_or("");
    for part in parts {
        match remaining.find(part) {
            Some(at) => remaining = &remaining[at + part.len()..],
            None => return false,
        }
    }
    remaining.len() >= last.len() && remaining.ends_with(last)
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn reject(status: StatusCode, why: &str) -> ErrorResponse {
    let mut response = ErrorResponse::new(Some(why.to_owned()));
    *response.status_mut() = status;
    response
}

/// Handshake callback that refuses every request with a fixed status.
struct Refuse(StatusCode, &'static str);

impl Callback for Refuse {
    fn on_request(self, _: &Request, _: Response) -> Result<Response, ErrorResponse> {
        Err(reject(self.0, self.1))
    }
}

/// Handshake callback that picks the upstream, or refuses the request.
struct Route<'a> {
    config: &'a ProxyConfig,
    target: &'a mut Option<String>,
}

impl Callback for Route<'_> {
    fn on_request(self, request: &Request, response: Response) -> Result<Response, ErrorResponse> {
        let resolved =
            resolve_target(self.config, request).map_err(|(status, why)| reject(status, &why))?;
        *self.target = Some(resolved);
        Ok(response)
    }
}

/// Chooses the upstream for a handshake request, or the HTTP status and
/// reason to refuse it with.
fn resolve_target(config: &ProxyConfig, request: &Request) -> Result<String, (StatusCode, String)> {
    let named = request
        .uri()
        .query()
        .and_then(|q| query_param(q, "address"));
    match (named, &config.default_target) {
        (Some(address), default) => {
            // A host:port carries no characters that need percent-decoding
            // except an IPv6 literal's brackets, which pass through as is.
            let allowed = default.as_deref() == Some(address)
                || config
                    .allow
                    .iter()
                    .any(|pattern| glob_match(pattern, address));
            if allowed {
                Ok(address.to_owned())
            } else {
                Err((
                    StatusCode::FORBIDDEN,
                    format!("target {address} is not in this proxy's allow-list"),
                ))
            }
        }
        (None, Some(default)) => Ok(default.clone()),
        (None, None) => Err((
            StatusCode::BAD_REQUEST,
            "no target: pass ?address=host:port".to_owned(),
        )),
    }
}

async fn handle(
    stream: TcpStream,
    config: &ProxyConfig,
    upstream: Option<&UpstreamTls>,
    slots: &Semaphore,
) -> Option<ConnectionStats> {
    // Refuse rather than queue when full: a queued WebSocket would look alive
    // to the client while making no progress.
    let Ok(_slot) = slots.try_acquire() else {
        let full = Refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "proxy connection limit reached",
        );
        let _ = tokio_tungstenite::accept_hdr_async(stream, full).await;
        return None;
    };
    let _ = stream.set_nodelay(true);
    let ws_config = WebSocketConfig::default()
        .max_frame_size(Some(config.max_frame_bytes))
        .max_message_size(Some(config.max_frame_bytes))
        // Every frame is flushed as it is sent, so the write buffer only ever
        // holds the frame in flight.
        .write_buffer_size(0)
        .max_write_buffer_size(config.read_chunk_bytes.saturating_add(64 * 1024));
    let mut target = None;
    let route = Route {
        config,
        target: &mut target,
    };
    let handshake = tokio_tungstenite::accept_hdr_async_with_config(stream, route, Some(ws_config));
    let ws = match tokio::time::timeout(config.idle_timeout, handshake).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(error)) => {
            tracing::debug!(%error, "proxy handshake refused or failed");
            return None;
        }
        Err(_) => return None,
    };
    let target = target?;
    let mut stats = ConnectionStats {
        target: target.clone(),
        ..ConnectionStats::default()
    };
    stats.ended = match relay(ws, &target, config, upstream, &mut stats).await {
        Ok(why) => why.to_owned(),
        Err(error) => error.to_string(),
    };
    Some(stats)
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The proxy's TLS to PostgreSQL, built once when the proxy starts.
struct UpstreamTls {
    mode: SslMode,
    connector: TlsConnector,
}

/// The connection to PostgreSQL, plain or TLS.
trait ServerIo: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> ServerIo for T {}

/// PostgreSQL's TLS upgrade: SSLRequest, one byte (`S` or `N`), then the
/// handshake. Only that one byte is read before the handshake, so bytes a
/// man in the middle appends after it go to the TLS layer, which rejects
/// them, instead of into the session (CVE-2021-23222).
async fn upgrade(
    mut server: TcpStream,
    target: &str,
    tls: &UpstreamTls,
) -> Result<Box<dyn ServerIo>, BoxError> {
    server
        .write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])
        .await?;
    let mut answer = [0u8; 1];
    server.read_exact(&mut answer).await?;
    match answer[0] {
        b'S' => {
            let host = target.rsplit_once(':').map_or(target, |(host, _)| host);
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let name = ServerName::try_from(host.to_owned())
                .map_err(|e| format!("{host} is not a valid TLS server name: {e}"))?;
            let stream = tls
                .connector
                .connect(name, server)
                .await
                .map_err(|e| format!("TLS handshake with {target} failed: {e}"))?;
            Ok(Box::new(stream))
        }
        b'N' if tls.mode == SslMode::Prefer => Ok(Box::new(server)),
        b'N' => Err(format!("{target} does not accept TLS connections").into()),
        other => Err(format!("{target} answered the TLS request with byte {other}").into()),
    }
}

async fn relay(
    ws: tokio_tungstenite::WebSocketStream<TcpStream>,
    target: &str,
    config: &ProxyConfig,
    upstream: Option<&UpstreamTls>,
    stats: &mut ConnectionStats,
) -> Result<&'static str, BoxError> {
    let (mut ws_write, mut ws_read) = ws.split();
    let server = match tokio::time::timeout(config.idle_timeout, TcpStream::connect(target)).await {
        Ok(Ok(server)) => server,
        Ok(Err(error)) => {
            let _ = ws_write.close().await;
            return Err(format!("cannot connect to {target}: {error}").into());
        }
        Err(_) => {
            let _ = ws_write.close().await;
            return Err(format!("connecting to {target} timed out").into());
        }
    };
    server.set_nodelay(true)?;
    let server: Box<dyn ServerIo> = match upstream {
        None => Box::new(server),
        Some(tls) => match upgrade(server, target, tls).await {
            Ok(server) => server,
            Err(error) => {
                let _ = ws_write.close().await;
                return Err(error);
            }
        },
    };
    let (mut server_read, mut server_write) = tokio::io::split(server);
    let activity = Notify::new();
    let (mut up_frames, mut up_bytes, mut down_frames, mut down_bytes) = (0u64, 0u64, 0u64, 0u64);

    let upstream = async {
        while let Some(message) = ws_read.next().await {
            match message? {
                Message::Binary(bytes) => {
                    activity.notify_one();
                    if !config.delay.is_zero() {
                        tokio::time::sleep(config.delay).await;
                    }
                    up_frames += 1;
                    up_bytes += bytes.len() as u64;
                    server_write.write_all(&bytes).await?;
                }
                Message::Close(_) => return Ok::<_, BoxError>("client closed"),
                // Text frames carry no protocol bytes; pings are answered by tungstenite.
                _ => activity.notify_one(),
            }
        }
        Ok("client closed")
    };
    let downstream = async {
        let mut buf = vec![0u8; config.read_chunk_bytes];
        loop {
            let n = server_read.read(&mut buf).await?;
            if n == 0 {
                let _ = ws_write.close().await;
                return Ok::<_, BoxError>("server closed");
            }
            activity.notify_one();
            if !config.delay.is_zero() {
                tokio::time::sleep(config.delay).await;
            }
            down_frames += 1;
            down_bytes += n as u64;
            ws_write
                .send(Message::Binary(bytes::Bytes::copy_from_slice(&buf[..n])))
                .await?;
        }
    };
    let idle = async {
        while tokio::time::timeout(config.idle_timeout, activity.notified())
            .await
            .is_ok()
        {}
        Ok::<_, BoxError>("idle")
    };
    // Whichever side finishes first ends the session; dropping the others
    // closes their sockets, so neither peer is left waiting.
    let result = tokio::select! {
        result = upstream => result,
        result = downstream => result,
        result = idle => result,
    };
    stats.frames_from_client = up_frames;
    stats.bytes_from_client = up_bytes;
    stats.frames_to_client = down_frames;
    stats.bytes_to_client = down_bytes;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_patterns() {
        assert!(glob_match("127.0.0.1:5432", "127.0.0.1:5432"));
        assert!(!glob_match("127.0.0.1:5432", "127.0.0.1:5433"));
        assert!(glob_match("127.0.0.1:*", "127.0.0.1:6543"));
        assert!(glob_match("*.db.internal:5432", "a.db.internal:5432"));
        assert!(!glob_match(
            "*.db.internal:5432",
            "a.db.internal.evil.com:5432"
        ));
        assert!(!glob_match("*.db.internal:5432", "db.internal:5432"));
        assert!(glob_match("*", "anything:1"));
        assert!(glob_match("a*b*c", "aXbYc"));
        assert!(!glob_match("a*b*c", "aXcYb"));
        assert!(!glob_match("ab*ab", "ab"));
    }

    #[test]
    fn address_parameter() {
        assert_eq!(query_param("address=h:1&x=2", "address"), Some("h:1"));
        assert_eq!(query_param("x=2", "address"), None);
    }
}
