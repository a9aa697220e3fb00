//! Starts the service binary against the fixture database and calls it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use keel_testkit::database_url;

/// Kills the service when the test ends, however it ends.
struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 GET; returns the status code and body.
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

#[test]
fn the_service_answers_shared_query_definitions() {
    let Some(url) = database_url() else { return };
    let child = Command::new(env!("CARGO_BIN_EXE_keel-example-service"))
        .env("KEEL_DATABASE_URL", &url)
        .env("KEEL_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut service = Service(child);
    let mut line = String::new();
    BufReader::new(service.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();

    let (status, body) = get(&addr, "/queries");
    assert_eq!(status, 200);
    let names: Vec<String> = serde_json::from_str(&body).unwrap();
    assert!(names.contains(&"tracks_of_album".to_owned()), "{names:?}");

    let (status, body) = get(&addr, "/queries/tracks_of_album");
    assert_eq!(status, 200, "{body}");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "Cast Off",
            "Low Tide",
            "Bilge Pump Blues",
            "Keel Over",
            "Anchor's \"Aweigh\""
        ]
    );

    let (status, body) = get(&addr, "/queries/nope");
    assert_eq!(status, 404);
    assert!(body.contains("no query named nope"), "{body}");

    let (status, body) = get(&addr, "/health");
    assert_eq!(status, 200);
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["pool"]["max_size"], 10);
    assert!(health["pool"]["size"].as_u64().unwrap() >= 1);
}
