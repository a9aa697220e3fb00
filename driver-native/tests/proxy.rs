//! keel-proxy in process, in front of a local echo server, so every behaviour
//! is checked without a database: relaying, the allow-list, limits and shutdown.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use keel_native::proxy::{ConnectionStats, Proxy, ProxyConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// A TCP server that writes back whatever it reads; returns its address.
async fn echo_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 || stream.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

struct Running {
    url: String,
    closed: Arc<Mutex<Vec<ConnectionStats>>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

async fn start(config: ProxyConfig) -> Running {
    let closed = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&closed);
    let proxy = Proxy::bind("127.0.0.1:0", config)
        .await
        .unwrap()
        .on_close(move |stats| sink.lock().unwrap().push(stats.clone()));
    let url = format!("ws://{}", proxy.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(proxy.serve_until(
        async {
            let _ = rx.await;
        },
        Duration::from_secs(5),
    ));
    Running {
        url,
        closed,
        shutdown: Some(tx),
        task,
    }
}

async fn connect(
    url: &str,
) -> Result<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    WsError,
> {
    tokio_tungstenite::connect_async(url)
        .await
        .map(|(ws, _)| ws)
}

fn http_status(error: WsError) -> u16 {
    match error {
        WsError::Http(response) => response.status().as_u16(),
        other => panic!("expected an HTTP refusal, got {other}"),
    }
}

async fn next_binary<S>(ws: &mut S) -> Vec<u8>
where
    S: StreamExt<Item = Result<Message, WsError>> + Unpin,
{
    loop {
        match ws.next().await {
            Some(Ok(Message::Binary(bytes))) => return bytes.to_vec(),
            Some(Ok(_)) => continue,
            other => panic!("expected a binary frame, got {other:?}"),
        }
    }
}

/// Waits (bounded) until the proxy reports `n` finished connections.
async fn wait_closed(running: &Running, n: usize) -> Vec<ConnectionStats> {
    for _ in 0..500 {
        let closed = running.closed.lock().unwrap().clone();
        if closed.len() >= n {
            return closed;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the proxy did not report {n} closed connections");
}

#[tokio::test]
async fn relays_frames_to_an_allowed_address_and_counts_them() {
    let echo = echo_server().await;
    let running = start(ProxyConfig {
        allow: vec!["127.0.0.1:*".into()],
        ..ProxyConfig::default()
    })
    .await;
    let mut ws = connect(&format!("{}/v2?address={echo}", running.url))
        .await
        .unwrap();
    for payload in [&b"hello"[..], b"pg", b"bytes"] {
        ws.send(Message::Binary(payload.to_vec().into()))
            .await
            .unwrap();
        let mut got = Vec::new();
        while got.len() < payload.len() {
            got.extend(next_binary(&mut ws).await);
        }
        assert_eq!(got, payload);
    }
    ws.close(None).await.unwrap();
    let closed = wait_closed(&running, 1).await;
    assert_eq!(closed[0].target, echo);
    assert_eq!(closed[0].frames_from_client, 3);
    assert_eq!(closed[0].bytes_from_client, 12);
    assert_eq!(closed[0].bytes_to_client, 12);
    assert_eq!(closed[0].ended, "client closed");
}

#[tokio::test]
async fn refuses_targets_outside_the_allow_list() {
    let echo = echo_server().await;
    let running = start(ProxyConfig {
        default_target: Some(echo.clone()),
        allow: vec!["127.0.0.1:5432".into()],
        ..ProxyConfig::default()
    })
    .await;
    let refused = connect(&format!("{}/v2?address=10.0.0.1:5432", running.url))
        .await
        .unwrap_err();
    assert_eq!(http_status(refused), 403);
    let refused = connect(&format!("{}/v2?address=127.0.0.1:5433", running.url))
        .await
        .unwrap_err();
    assert_eq!(http_status(refused), 403);
    // Without an address the default target is used, and it is always allowed by name.
    connect(&running.url).await.unwrap();
    connect(&format!("{}/?address={echo}", running.url))
        .await
        .unwrap();

    let no_default = start(ProxyConfig::default()).await;
    assert_eq!(
        http_status(connect(&no_default.url).await.unwrap_err()),
        400
    );
}

#[tokio::test]
async fn refuses_connections_over_the_cap() {
    let echo = echo_server().await;
    let running = start(ProxyConfig {
        default_target: Some(echo),
        max_connections: 1,
        ..ProxyConfig::default()
    })
    .await;
    let mut first = connect(&running.url).await.unwrap();
    assert_eq!(http_status(connect(&running.url).await.unwrap_err()), 503);
    first.close(None).await.unwrap();
    wait_closed(&running, 1).await;
    connect(&running.url).await.expect("a slot is free again");
}

#[tokio::test]
async fn closes_idle_connections() {
    let echo = echo_server().await;
    let running = start(ProxyConfig {
        default_target: Some(echo),
        idle_timeout: Duration::from_millis(200),
        ..ProxyConfig::default()
    })
    .await;
    let mut ws = connect(&running.url).await.unwrap();
    // Traffic keeps it open past one timeout period.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        ws.send(Message::Binary(b"x".to_vec().into()))
            .await
            .unwrap();
        next_binary(&mut ws).await;
    }
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(end.is_ok(), "an idle connection was left open");
    let closed = wait_closed(&running, 1).await;
    assert_eq!(closed[0].ended, "idle");
}

#[tokio::test]
async fn rejects_frames_over_the_limit() {
    let echo = echo_server().await;
    let running = start(ProxyConfig {
        default_target: Some(echo),
        max_frame_bytes: 1024,
        ..ProxyConfig::default()
    })
    .await;
    let mut ws = connect(&running.url).await.unwrap();
    let _ = ws.send(Message::Binary(vec![7u8; 4096].into())).await;
    let closed = wait_closed(&running, 1).await;
    assert_eq!(
        closed[0].frames_from_client, 0,
        "the oversized frame was not forwarded"
    );
    assert!(
        closed[0].ended.contains("too long") || closed[0].ended.contains("limit"),
        "{}",
        closed[0].ended
    );
}

#[tokio::test]
async fn graceful_shutdown_lets_open_connections_finish() {
    let echo = echo_server().await;
    let mut running = start(ProxyConfig {
        default_target: Some(echo),
        ..ProxyConfig::default()
    })
    .await;
    let mut ws = connect(&running.url).await.unwrap();
    running.shutdown.take().unwrap().send(()).unwrap();
    // New connections are refused once the listener is gone...
    let mut refused = false;
    for _ in 0..100 {
        if connect(&running.url).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(refused, "the proxy kept accepting after shutdown");
    // ...while the open one still relays, and the proxy waits for it.
    ws.send(Message::Binary(b"still here".to_vec().into()))
        .await
        .unwrap();
    assert_eq!(next_binary(&mut ws).await, b"still here");
    assert!(!running.task.is_finished());
    ws.close(None).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), &mut running.task)
        .await
        .expect("serve_until returned after the last connection closed")
        .unwrap();
}
