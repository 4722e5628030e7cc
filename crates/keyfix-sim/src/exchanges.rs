//! A recording of every GitHub exchange, for checking the simulator and its clients against
//! GitHub's own OpenAPI description (`tests/openapi.rs`). A simulator started with a directory to
//! record into ([`crate::Options::record_into`]), or while the environment variable
//! `KEYFIX_SIM_EXCHANGES` names one, writes one JSON line per GitHub request it served into a
//! file of its own there: method, path and query, request headers and JSON body, status, answer
//! headers and JSON body, and whether a fault replaced the answer.
//!
//! Nothing secret is written: the `Authorization` header keeps only its scheme, a sealed
//! `encrypted_value` and an installation `token` only their length and alphabet (every base64
//! character becomes `A`), and any scenario key or token value left anywhere is replaced by
//! `[redacted]`.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::faults::Hit;
use crate::World;

/// The environment variable that names the directory recordings go to.
pub const ENV: &str = "KEYFIX_SIM_EXCHANGES";

/// The properties of a body whose values are masked: a sealed secret, and an installation token
/// GitHub made (not a scenario token, so not among the values redacted by name).
const MASKED: [&str; 2] = ["encrypted_value", "token"];

/// Bodies larger than this are not read into the recording (none of GitHub's JSON is).
const BODY_LIMIT: usize = 64 * 1024 * 1024;

/// The directory, under the target directory's `tmp`, where each test binary's simulators record.
pub const TEST_RECORDINGS: &str = "exchanges";

/// What identifies one build of a (test) binary: its size and when it was written. A recording
/// made by another build is not this one's.
fn binary_identity(path: &Path) -> Value {
    let meta = std::fs::metadata(path).ok();
    let modified = meta
        .as_ref()
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos().to_string());
    json!({"len": meta.map(|m| m.len()), "modified": modified})
}

/// A test binary's target name (`repo` for `tests/repo.rs`): its file name without cargo's hash.
pub fn test_binary_name(executable: &Path) -> String {
    let file = executable.file_stem().unwrap_or_default().to_string_lossy();
    match file.rsplit_once('-') {
        Some((name, hash)) if hash.len() == 16 => name.to_owned(),
        _ => file.into_owned(),
    }
}

/// Where the simulators of the running test binary record their GitHub exchanges, for keyfix-sim's
/// `tests/openapi.rs` to hold against GitHub's OpenAPI description: `TARGET_TMPDIR/exchanges/NAME`,
/// emptied the first time it is asked for, with `run.json` saying which build of the binary ran and
/// with which arguments ([`is_full_recording`]). `None` while [`ENV`] names a directory: the
/// simulators record there themselves.
pub fn test_binary_recording(target_tmpdir: &Path) -> Option<&'static Path> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        if std::env::var_os(ENV).is_some() {
            return None;
        }
        let executable = std::env::current_exe().expect("the test binary");
        let dir = target_tmpdir
            .join(TEST_RECORDINGS)
            .join(test_binary_name(&executable));
        let args: Vec<String> = std::env::args().skip(1).collect();
        start_test_recording(&dir, &executable, &args, std::process::id());
        Some(dir)
    })
    .as_deref()
}

/// Empties `dir` for a run of `executable` with `args` by process `pid`, and says so in its
/// `run.json`.
pub fn start_test_recording(dir: &Path, executable: &Path, args: &[String], pid: u32) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("the recording directory");
    let run = json!({"binary": binary_identity(executable), "args": args, "pid": pid});
    std::fs::write(dir.join("run.json"), run.to_string()).expect("run.json");
}

/// Whether `dir` holds what a run of every test of this very build of `executable` recorded, the
/// run being over.
pub fn is_full_recording(dir: &Path, executable: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(dir.join("run.json")) else {
        return false;
    };
    let Ok(run) = serde_json::from_str::<Value>(&text) else {
        return false;
    };
    let same_build = run["binary"] == binary_identity(executable);
    let args: Option<Vec<&str>> = run["args"]
        .as_array()
        .map(|args| args.iter().filter_map(Value::as_str).collect());
    let over = run["pid"]
        .as_u64()
        .is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists());
    same_build && args.is_some_and(|args| runs_every_test(&args)) && over
}

/// Whether a test binary given `args` runs all its tests: no name filter, no `--skip`, not only
/// the ignored ones, not a listing.
fn runs_every_test(args: &[&str]) -> bool {
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match *arg {
            "--test-threads" | "--color" | "--format" | "--logfile" | "--shuffle-seed" | "-Z" => {
                args.next();
            }
            "--ignored" | "--list" => return false,
            skip if skip.starts_with("--skip") => return false,
            filter if !filter.starts_with('-') => return false,
            _ => {}
        }
    }
    true
}

/// Where one simulator records its GitHub exchanges.
pub struct Recorder {
    path: PathBuf,
    file: Mutex<Option<File>>,
    /// The test (thread) that started the simulator.
    test: String,
    /// The values never to write: every scenario key and token.
    secrets: Vec<String>,
}

impl Recorder {
    /// A recorder into `dir`, else into the directory [`ENV`] names, else `None`.
    pub fn new(dir: Option<PathBuf>, secrets: Vec<String>) -> Option<Recorder> {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let dir = dir.or_else(|| {
            std::env::var_os(ENV)
                .filter(|d| !d.is_empty())
                .map(PathBuf::from)
        })?;
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let test = std::thread::current()
            .name()
            .unwrap_or("(unnamed)")
            .to_owned();
        let mut secrets: Vec<String> = secrets.into_iter().filter(|s| s.len() >= 8).collect();
        // The longest first, so that a value holding another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Some(Recorder {
            path: dir.join(format!("{}-{n}.jsonl", std::process::id())),
            file: Mutex::new(None),
            test,
            secrets,
        })
    }

    fn write(&self, mut exchange: Map<String, Value>) {
        exchange.insert("test".into(), json!(self.test));
        let mut line = Value::Object(exchange).to_string();
        for secret in &self.secrets {
            if line.contains(secret.as_str()) {
                line = line.replace(secret.as_str(), "[redacted]");
            }
        }
        line.push('\n');
        let mut file = self.file.lock().expect("recording");
        if file.is_none() {
            if let Some(dir) = self.path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            *file = File::create(&self.path).ok();
        }
        if let Some(file) = file.as_mut() {
            let _ = file.write_all(line.as_bytes());
        }
    }
}

fn headers_json(headers: &HeaderMap) -> Value {
    let pairs: Vec<Value> = headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            let value = if name.as_str() == "authorization" {
                // The scheme only: the token stays out of the recording.
                let scheme = value.split_whitespace().next().unwrap_or_default();
                format!("{scheme} [redacted]")
            } else {
                value
            };
            json!([name.as_str(), value])
        })
        .collect();
    Value::Array(pairs)
}

/// A sealed value with every base64 character made `A`: its length and alphabet stay, so its
/// form can still be checked; its content is gone.
fn masked(value: &str) -> String {
    value
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '+' || c == '/' {
                'A'
            } else {
                c
            }
        })
        .collect()
}

/// Adds a body to the exchange as JSON (`{side}_body`) or, when it is not JSON, as the start of
/// its text (`{side}_body_text`). An empty body adds nothing.
fn add_body(exchange: &mut Map<String, Value>, side: &str, bytes: &Bytes) {
    if bytes.is_empty() {
        return;
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(mut value) => {
            for name in MASKED {
                if let Some(text) = value.get(name).and_then(Value::as_str) {
                    value[name] = json!(masked(text));
                }
            }
            exchange.insert(format!("{side}_body"), value);
        }
        Err(_) => {
            let text: String = String::from_utf8_lossy(bytes).chars().take(200).collect();
            exchange.insert(format!("{side}_body_text"), json!(text));
        }
    }
}

/// Serves a GitHub request and records the exchange.
pub(crate) async fn record(
    world: &World,
    recorder: &Recorder,
    request: Request,
    next: Next,
) -> Response {
    let path = request
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let mut exchange = Map::new();
    exchange.insert("method".into(), json!(request.method().as_str()));
    exchange.insert("path".into(), json!(path));
    exchange.insert(
        "prefix".into(),
        json!(world.scenario.github.path_prefix.trim_end_matches('/')),
    );
    exchange.insert("request_headers".into(), headers_json(request.headers()));
    // The simulator's own paths and the pre-signed log URLs are not GitHub API operations:
    // named in the recording, their bodies left out.
    // Their bodies also pass through unread: a job log may be hundreds of megabytes, sent as it
    // is made.
    let api = !path.starts_with("/_sim/") && !path.starts_with("/_presigned/");
    let response = if api {
        let (parts, body) = request.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, BODY_LIMIT).await else {
            return axum::http::StatusCode::PAYLOAD_TOO_LARGE.into_response();
        };
        add_body(&mut exchange, "request", &bytes);
        next.run(Request::from_parts(parts, Body::from(bytes)))
            .await
    } else {
        next.run(request).await
    };
    exchange.insert("status".into(), json!(response.status().as_u16()));
    exchange.insert("response_headers".into(), headers_json(response.headers()));
    let hit = response.extensions().get::<Hit>().copied();
    let fault = match hit {
        Some(Hit { dropped: true, .. }) => Some("dropped"),
        Some(Hit { replaced: true, .. }) => Some("status"),
        Some(_) => Some("latency"),
        None => None,
    };
    if let Some(fault) = fault {
        exchange.insert("fault".into(), json!(fault));
    }
    if fault == Some("dropped") || !api {
        recorder.write(exchange);
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        // Never an answer cut short in silence: the test sees a failure it can name.
        return (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "keyfix-sim: an answer larger than the recording holds",
        )
            .into_response();
    };
    add_body(&mut exchange, "response", &bytes);
    recorder.write(exchange);
    Response::from_parts(parts, Body::from(bytes))
}
