//! What keyfix-sim's integration tests share: a simulator that records its GitHub exchanges for
//! `tests/openapi.rs`, and a plain HTTP/1.1 client that sends exactly what a test writes.

#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use keyfix_sim::{exchanges, Options, Scenario, Sim};
use serde_json::Value;

/// Starts `scenario`, recording its GitHub exchanges as every test binary's simulators do
/// (`keyfix_sim::exchanges::test_binary_recording`).
pub fn start(scenario: Scenario) -> Sim {
    let options = Options {
        record_into: exchanges::test_binary_recording(Path::new(env!("CARGO_TARGET_TMPDIR")))
            .map(Path::to_owned),
        ..Options::default()
    };
    Sim::start_with(scenario, options).expect("the simulator starts")
}

/// An answer as it came over the wire.
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// One HTTP/1.1 exchange on a fresh connection. `Err` is a transport error: the connection
/// closed or failed before a whole answer came.
pub fn send(
    base_url: &str,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: Option<Value>,
) -> std::io::Result<Answer> {
    let (authority, prefix) = base_url
        .trim_start_matches("http://")
        .split_once('/')
        .map_or((base_url.trim_start_matches("http://"), ""), |(a, p)| {
            (a, p)
        });
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut request = format!(
        "{method} {}{path} HTTP/1.1\r\nhost: {authority}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        if prefix.is_empty() { String::new() } else { format!("/{prefix}") },
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(&body);
    let mut stream = TcpStream::connect(authority)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    if raw.is_empty() {
        return Err(ErrorKind::ConnectionAborted.into());
    }
    parse(&String::from_utf8_lossy(&raw))
}

fn parse(raw: &str) -> std::io::Result<Answer> {
    let incomplete = || std::io::Error::new(ErrorKind::UnexpectedEof, format!("{raw:?}"));
    let (head, body) = raw.split_once("\r\n\r\n").ok_or_else(incomplete)?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(incomplete)?;
    let mut answer = Answer {
        status,
        head: head.to_owned(),
        body: Value::Null,
    };
    let length: usize = answer
        .header("content-length")
        .and_then(|n| n.parse().ok())
        .ok_or_else(incomplete)?;
    if body.len() < length {
        return Err(incomplete());
    }
    answer.body = serde_json::from_str(&body[..length]).unwrap_or(Value::Null);
    Ok(answer)
}

/// A GitHub request with the scenario token `token`.
pub fn github(
    sim: &Sim,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> std::io::Result<Answer> {
    let authorization = ("authorization", format!("Bearer {}", sim.token(token)));
    send(&sim.github_api_url(), method, path, &[authorization], body)
}
