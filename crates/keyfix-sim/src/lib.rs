//! keyfix-sim: a local Anthropic API (and, later, GitHub) that behaves like the real services in
//! every way keyfix depends on. Tests start it in-process with [`Sim::start`]; people run
//! `keyfix-sim serve --scenario FILE`.

pub mod anthropic;
pub mod scenario;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use rand::Rng;
use serde::Serialize;

pub use scenario::Scenario;
use scenario::{Fault, KeySpec};

/// One request as the simulator saw it: enough to assert what happened and what did not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LoggedRequest {
    pub service: &'static str,
    pub method: String,
    /// Path and query.
    pub path: String,
    pub status: u16,
    /// The scenario name of the key the request carried, never its value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Milliseconds since the simulator started.
    pub at_ms: u64,
}

/// The served world: the scenario and what has happened to it so far.
pub struct World {
    pub scenario: Scenario,
    keys_by_value: HashMap<String, usize>,
    fault_hits: Mutex<Vec<u32>>,
    log: Mutex<Vec<LoggedRequest>>,
    started: Instant,
    next_id: AtomicU64,
}

impl World {
    pub fn new(scenario: Scenario) -> World {
        let keys_by_value = scenario
            .keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.value(), i))
            .collect();
        let fault_hits = Mutex::new(vec![0; scenario.faults.len()]);
        World {
            scenario,
            keys_by_value,
            fault_hits,
            log: Mutex::new(Vec::new()),
            started: Instant::now(),
            next_id: AtomicU64::new(1),
        }
    }

    pub fn key_by_value(&self, value: &str) -> Option<&KeySpec> {
        self.keys_by_value
            .get(value)
            .map(|&i| &self.scenario.keys[i])
    }

    /// The first fault that matches and still has hits left; counts the hit.
    fn take_fault(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        model: Option<&str>,
    ) -> Option<Fault> {
        let mut hits = self.fault_hits.lock().expect("fault counters");
        for (i, fault) in self.scenario.faults.iter().enumerate() {
            let matches = path.starts_with(&fault.path)
                && fault
                    .method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && fault.key.as_deref().is_none_or(|k| Some(k) == key)
                && fault.model.as_deref().is_none_or(|m| Some(m) == model);
            if matches && fault.times.is_none_or(|t| hits[i] < t) {
                hits[i] += 1;
                return Some(fault.clone());
            }
        }
        None
    }

    /// A `req_…` id as the real API writes them.
    fn request_id(&self) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        let noise: String = rand::thread_rng()
            .sample_iter(rand::distributions::Alphanumeric)
            .take(16)
            .map(char::from)
            .collect();
        format!("req_011{n:06}{noise}")
    }

    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.log.lock().expect("request log").clone()
    }
}

async fn log_request(State(world): State<Arc<World>>, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let path = request
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let key = request
        .headers()
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            world
                .key_by_value(v)
                .map_or_else(|| "(unknown)".to_owned(), |k| k.name.clone())
        });
    let response = next.run(request).await;
    let entry = LoggedRequest {
        service: "anthropic",
        method,
        path,
        status: response.status().as_u16(),
        key,
        at_ms: world.started.elapsed().as_millis() as u64,
    };
    world.log.lock().expect("request log").push(entry);
    response
}

async fn request_log(State(world): State<Arc<World>>) -> Json<Vec<LoggedRequest>> {
    Json(world.requests())
}

/// The whole app: the Anthropic API, and `/_sim/requests` for the request log.
pub fn app(world: Arc<World>) -> Router {
    let logged = anthropic::router(world.clone()).layer(axum::middleware::from_fn_with_state(
        world.clone(),
        log_request,
    ));
    Router::new()
        .route("/_sim/requests", get(request_log))
        .with_state(world)
        .merge(logged)
}

/// A running simulator on loopback, stopped when dropped.
pub struct Sim {
    world: Arc<World>,
    anthropic_addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sim {
    /// Starts serving `scenario` on a free loopback port, on a thread of its own.
    pub fn start(scenario: Scenario) -> anyhow::Result<Sim> {
        Sim::start_on(scenario, "127.0.0.1:0".parse()?)
    }

    pub fn start_on(scenario: Scenario, addr: SocketAddr) -> anyhow::Result<Sim> {
        scenario.check()?;
        let world = Arc::new(World::new(scenario));
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let anthropic_addr = listener.local_addr()?;
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = app(world.clone());
        let thread = std::thread::Builder::new()
            .name("keyfix-sim".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("simulator runtime");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(async {
                            let _ = stopped.await;
                        })
                        .await;
                });
            })?;
        Ok(Sim {
            world,
            anthropic_addr,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    pub fn anthropic_base_url(&self) -> String {
        format!("http://{}", self.anthropic_addr)
    }

    /// The value of the scenario's key `name`. Panics on an unknown name: tests name their keys.
    pub fn key(&self, name: &str) -> String {
        self.world
            .scenario
            .key(name)
            .unwrap_or_else(|| panic!("the scenario has no key named {name:?}"))
            .value()
    }

    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.world.requests()
    }

    /// The environment that points keyfix at this simulator.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![("ANTHROPIC_BASE_URL".to_owned(), self.anthropic_base_url())]
    }

    pub fn scenario(&self) -> &Scenario {
        &self.world.scenario
    }

    /// Blocks until the simulator stops (it stops only when the process does).
    pub fn wait(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
