//! keyfix-sim: a local Anthropic API and GitHub that behave like the real services in every way
//! keyfix depends on. Tests start it in-process with [`Sim::start`]; people run
//! `keyfix-sim serve --scenario FILE`.

// Handlers refuse with the ready HTTP answer; boxing it would only add noise.
#![allow(clippy::result_large_err)]

pub mod action_log;
pub mod anthropic;
pub mod exchanges;
pub mod faults;
pub mod github;
pub mod runner;
pub mod scenario;
pub mod time;
pub mod tls;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use rand::Rng;
use serde::Serialize;

use faults::{Fault, Faults};
pub use scenario::Scenario;
use scenario::{KeySpec, KeyState};

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
    /// A fault hit the request; `status` is then what the fault answered, 0 for a dropped
    /// connection.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub fault: bool,
    /// Where the request came from, when the simulator serves HTTPS (the proxy's side of a
    /// tunnel, for a request that came through one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<SocketAddr>,
    /// The request came over TLS.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls: bool,
}

/// The served world: the scenario and what has happened to it so far.
pub struct World {
    pub scenario: Scenario,
    /// The scenario's faults, and those added while running (tests add them between commands).
    faults: Faults,
    pub github: Mutex<github::state::GithubState>,
    keys_by_value: HashMap<String, usize>,
    /// Key states changed through the Admin API since the start, by key name.
    key_states: Mutex<HashMap<String, KeyState>>,
    log: Mutex<Vec<LoggedRequest>>,
    started: Instant,
    next_id: AtomicU64,
    github_url: OnceLock<String>,
    anthropic_url: OnceLock<String>,
    /// The Anthropic API as the simulated runners reach it: plain HTTP on loopback.
    runner_anthropic_url: OnceLock<String>,
    /// GitHub requests being served now, and the most there ever were at once.
    in_flight: (AtomicU64, AtomicU64),
    /// Where GitHub exchanges are recorded, when `KEYFIX_SIM_EXCHANGES` names a directory.
    recorder: Option<exchanges::Recorder>,
}

impl World {
    pub fn new(scenario: Scenario) -> World {
        World::recording(scenario, None)
    }

    /// A world whose GitHub exchanges are recorded into `dir` (or where `KEYFIX_SIM_EXCHANGES`
    /// says, when `dir` is `None`).
    pub fn recording(scenario: Scenario, dir: Option<std::path::PathBuf>) -> World {
        let keys_by_value = scenario
            .keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.value(), i))
            .collect();
        let secrets = scenario
            .keys
            .iter()
            .map(|k| k.value())
            .chain(scenario.effective_tokens().iter().map(|t| t.value()))
            .collect();
        World {
            recorder: exchanges::Recorder::new(dir, secrets),
            faults: Faults::new(&scenario.faults),
            github: Mutex::new(github::state::GithubState::new(&scenario)),
            scenario,
            keys_by_value,
            key_states: Mutex::new(HashMap::new()),
            log: Mutex::new(Vec::new()),
            started: Instant::now(),
            next_id: AtomicU64::new(1),
            github_url: OnceLock::new(),
            anthropic_url: OnceLock::new(),
            runner_anthropic_url: OnceLock::new(),
            in_flight: (AtomicU64::new(0), AtomicU64::new(0)),
        }
    }

    /// The GitHub API's base URL (with its path prefix), once the listener is bound.
    pub fn github_url(&self) -> String {
        format!(
            "{}{}",
            self.github_origin(),
            self.scenario.github.path_prefix.trim_end_matches('/')
        )
    }

    /// `http://127.0.0.1:PORT` of the simulated Anthropic API (`https://HOST:PORT` when it
    /// serves HTTPS).
    pub fn anthropic_url(&self) -> String {
        self.anthropic_url.get().cloned().unwrap_or_default()
    }

    /// `http://127.0.0.1:PORT` of the simulated Anthropic API, whatever else it serves: where
    /// the simulated runners reach it.
    pub fn runner_anthropic_url(&self) -> String {
        self.runner_anthropic_url.get().cloned().unwrap_or_default()
    }

    /// `http://127.0.0.1:PORT` of the GitHub listener (`https://HOST:PORT` when it serves
    /// HTTPS), without the path prefix.
    pub fn github_origin(&self) -> String {
        self.github_url.get().cloned().unwrap_or_default()
    }

    /// Adds an entry to the request log.
    pub fn record(
        &self,
        service: &'static str,
        method: &str,
        path: &str,
        status: u16,
        key: Option<String>,
        fault: bool,
    ) {
        self.record_from(service, method, path, status, key, fault, None);
    }

    /// Adds an entry to the request log, with the connection it came over.
    #[allow(clippy::too_many_arguments)]
    fn record_from(
        &self,
        service: &'static str,
        method: &str,
        path: &str,
        status: u16,
        key: Option<String>,
        fault: bool,
        peer: Option<tls::Peer>,
    ) {
        let entry = LoggedRequest {
            service,
            method: method.to_owned(),
            path: path.to_owned(),
            status,
            key,
            at_ms: self.started.elapsed().as_millis() as u64,
            fault,
            peer: peer.map(|p| p.addr),
            tls: peer.is_some_and(|p| p.tls),
        };
        self.log.lock().expect("request log").push(entry);
    }

    pub fn key_by_value(&self, value: &str) -> Option<&KeySpec> {
        self.keys_by_value
            .get(value)
            .map(|&i| &self.scenario.keys[i])
    }

    /// The key's state now: the scenario's, unless the Admin API has changed it since.
    pub fn key_state(&self, key: &KeySpec) -> KeyState {
        self.key_states
            .lock()
            .expect("key states")
            .get(&key.name)
            .copied()
            .unwrap_or(key.state)
    }

    /// Changes a key's state, as the Admin API's update does.
    pub fn set_key_state(&self, key: &KeySpec, state: KeyState) {
        self.key_states
            .lock()
            .expect("key states")
            .insert(key.name.clone(), state);
    }

    /// Adds a fault from now on, after the scenario's own. Panics on a fault the scenario
    /// check would refuse (an unknown key or service): tests name what they mean.
    pub fn add_fault(&self, fault: Fault) {
        if let Err(why) = fault.check(&self.scenario) {
            panic!("{why}");
        }
        self.faults.add(fault);
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

    /// The most GitHub requests that were ever in flight at once.
    pub fn max_in_flight(&self) -> u64 {
        self.in_flight.1.load(Ordering::SeqCst)
    }

    /// The GitHub requests in flight now.
    pub fn in_flight(&self) -> u64 {
        self.in_flight.0.load(Ordering::SeqCst)
    }
}

/// Who a request came from, by name: the scenario key (Anthropic) or token (GitHub).
fn caller_name(world: &World, service: &str, headers: &axum::http::HeaderMap) -> Option<String> {
    if service == "anthropic" {
        let value = anthropic::presented_credential(headers)?;
        return Some(
            world
                .key_by_value(value)
                .map_or_else(|| "(unknown)".to_owned(), |k| k.name.clone()),
        );
    }
    let value = headers.get("authorization")?.to_str().ok()?;
    let token = value.split_whitespace().last()?;
    let state = world.github.lock().expect("github state");
    Some(state.credential_name(token))
}

async fn log_request(
    State((world, service)): State<(Arc<World>, &'static str)>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().to_string();
    let path = request
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let caller = caller_name(&world, service, request.headers());
    let peer = request
        .extensions()
        .get::<axum::extract::ConnectInfo<tls::Peer>>()
        .map(|info| info.0);
    let counted = service == "github" && !path.starts_with("/_sim/");
    if counted {
        let now = world.in_flight.0.fetch_add(1, Ordering::SeqCst) + 1;
        world.in_flight.1.fetch_max(now, Ordering::SeqCst);
    }
    let response = match (&world.recorder, service) {
        (Some(recorder), "github") => exchanges::record(&world, recorder, request, next).await,
        _ => next.run(request).await,
    };
    if counted {
        world.in_flight.0.fetch_sub(1, Ordering::SeqCst);
    }
    let hit = response.extensions().get::<faults::Hit>().copied();
    let status = match hit {
        Some(faults::Hit { dropped: true, .. }) => 0,
        _ => response.status().as_u16(),
    };
    world.record_from(service, &method, &path, status, caller, hit.is_some(), peer);
    response
}

async fn request_log(State(world): State<Arc<World>>) -> Json<Vec<LoggedRequest>> {
    Json(world.requests())
}

/// One service's app: its API, the request log at `/_sim/requests`, every request logged.
fn app(world: Arc<World>, service: &'static str) -> Router {
    let api = match service {
        "anthropic" => anthropic::router(world.clone()),
        _ => github::router(world.clone()),
    };
    Router::new()
        .route("/_sim/requests", get(request_log))
        .with_state(world.clone())
        .merge(api)
        .layer(axum::middleware::from_fn_with_state(
            (world, service),
            log_request,
        ))
}

/// A running simulator on loopback, stopped when dropped.
pub struct Sim {
    world: Arc<World>,
    shutdown: Option<tokio::sync::watch::Sender<bool>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Where and how a simulator listens.
#[derive(Clone, Debug)]
pub struct Options {
    pub anthropic: SocketAddr,
    pub github: SocketAddr,
    /// Serve both APIs over HTTPS under these names (and plain HTTP on the same ports to the
    /// simulated runners); plain HTTP only when `None`.
    pub https: Option<tls::Https>,
    /// Record every GitHub exchange into a file of its own in this directory (see
    /// [`exchanges`]); `None` records only where `KEYFIX_SIM_EXCHANGES` says.
    pub record_into: Option<std::path::PathBuf>,
}

impl Default for Options {
    fn default() -> Options {
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        Options {
            anthropic: loopback,
            github: loopback,
            https: None,
            record_into: None,
        }
    }
}

fn bind(addr: SocketAddr) -> anyhow::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

impl Sim {
    /// Starts serving `scenario` on free loopback ports, on a thread of its own; the runs the
    /// scenario declares have happened by the time it returns.
    pub fn start(scenario: Scenario) -> anyhow::Result<Sim> {
        Sim::start_with(scenario, Options::default())
    }

    pub fn start_on(
        scenario: Scenario,
        anthropic: SocketAddr,
        github: SocketAddr,
    ) -> anyhow::Result<Sim> {
        Sim::start_with(
            scenario,
            Options {
                anthropic,
                github,
                ..Options::default()
            },
        )
    }

    /// Starts serving `scenario` as `options` say.
    pub fn start_with(scenario: Scenario, options: Options) -> anyhow::Result<Sim> {
        scenario.check()?;
        let world = Arc::new(World::recording(scenario, options.record_into));
        let anthropic_listener = bind(options.anthropic)?;
        let github_listener = bind(options.github)?;
        let anthropic_addr = anthropic_listener.local_addr()?;
        let github_addr = github_listener.local_addr()?;
        let acceptor = match &options.https {
            Some(https) => {
                let port = |addr: SocketAddr| addr.port();
                let _ = world.github_url.set(format!(
                    "https://{}:{}",
                    https.github_host,
                    port(github_addr)
                ));
                let _ = world.anthropic_url.set(format!(
                    "https://{}:{}",
                    https.anthropic_host,
                    port(anthropic_addr)
                ));
                Some(tls::acceptor(&https.identity)?)
            }
            None => {
                let _ = world.github_url.set(format!("http://{github_addr}"));
                let _ = world.anthropic_url.set(format!("http://{anthropic_addr}"));
                None
            }
        };
        let _ = world
            .runner_anthropic_url
            .set(format!("http://{anthropic_addr}"));
        let (shutdown, stopped) = tokio::sync::watch::channel(false);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
        let thread_world = world.clone();
        let thread = std::thread::Builder::new()
            .name("keyfix-sim".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("simulator runtime");
                runtime.block_on(async move {
                    let _ = ready_tx.send(past_runs(thread_world.clone()).await);
                    let serve = |listener: std::net::TcpListener, service: &'static str| {
                        let app = app(thread_world.clone(), service);
                        let mut stopped = stopped.clone();
                        let acceptor = acceptor.clone();
                        async move {
                            let listener =
                                tokio::net::TcpListener::from_std(listener).expect("listener");
                            let stop = async move {
                                let _ = stopped.wait_for(|stop| *stop).await;
                            };
                            match acceptor {
                                Some(acceptor) => {
                                    let listener = tls::TlsListener::new(listener, acceptor)
                                        .expect("listener");
                                    let app =
                                        app.into_make_service_with_connect_info::<tls::Peer>();
                                    let _ = axum::serve(listener, app)
                                        .with_graceful_shutdown(stop)
                                        .await;
                                }
                                None => {
                                    let _ = axum::serve(listener, app)
                                        .with_graceful_shutdown(stop)
                                        .await;
                                }
                            }
                        }
                    };
                    tokio::join!(
                        serve(anthropic_listener, "anthropic"),
                        serve(github_listener, "github")
                    );
                });
            })?;
        ready_rx
            .recv()
            .map_err(|_| anyhow::anyhow!("the simulator stopped while starting"))?
            .map_err(|why| anyhow::anyhow!("a run declared by the scenario cannot run: {why}"))?;
        Ok(Sim {
            world,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// The Anthropic API's base URL: `http://127.0.0.1:PORT`, or `https://HOST:PORT`.
    pub fn anthropic_base_url(&self) -> String {
        self.world.anthropic_url()
    }

    pub fn github_api_url(&self) -> String {
        self.world.github_url()
    }

    /// The value of the scenario's key `name`. Panics on an unknown name: tests name their keys.
    pub fn key(&self, name: &str) -> String {
        self.world
            .scenario
            .key(name)
            .unwrap_or_else(|| panic!("the scenario has no key named {name:?}"))
            .value()
    }

    /// The value of the scenario's GitHub token `name`.
    pub fn token(&self, name: &str) -> String {
        self.world
            .scenario
            .effective_tokens()
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("the scenario has no token named {name:?}"))
            .value()
    }

    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.world.requests()
    }

    /// The most GitHub requests that were ever in flight at once.
    pub fn max_in_flight(&self) -> u64 {
        self.world.max_in_flight()
    }

    /// The GitHub requests in flight now.
    pub fn in_flight(&self) -> u64 {
        self.world.in_flight()
    }

    /// The environment that points keyfix at this simulator, with its first token. The
    /// simulator's host is not github.com, so keyfix reads the token as an Enterprise Server
    /// host's, `GH_ENTERPRISE_TOKEN`.
    pub fn env(&self) -> Vec<(String, String)> {
        let token = self.world.scenario.effective_tokens()[0].value();
        vec![
            ("ANTHROPIC_BASE_URL".to_owned(), self.anthropic_base_url()),
            ("GITHUB_API_URL".to_owned(), self.github_api_url()),
            ("GH_ENTERPRISE_TOKEN".to_owned(), token),
        ]
    }

    /// The text of `path` on the default branch of `owner/repo`.
    pub fn default_branch_file(&self, owner: &str, repo: &str, path: &str) -> Option<String> {
        let state = self.world.github.lock().expect("github state");
        state
            .repo(owner, repo)
            .and_then(|r| r.files.get(path).map(|f| f.text.clone()))
    }

    /// The branches of `owner/repo` other than the default one, with the files each holds.
    pub fn branches(&self, owner: &str, repo: &str) -> Vec<(String, Vec<String>)> {
        let state = self.world.github.lock().expect("github state");
        state
            .repo(owner, repo)
            .map(|r| {
                r.branches
                    .iter()
                    .map(|(name, b)| (name.clone(), b.files.keys().cloned().collect()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The pull requests opened in `owner/repo`: (number, head branch, base branch).
    pub fn pulls(&self, owner: &str, repo: &str) -> Vec<(u64, String, String)> {
        let state = self.world.github.lock().expect("github state");
        state
            .repo(owner, repo)
            .map(|r| {
                r.pulls
                    .iter()
                    .map(|p| (p.number, p.head.clone(), p.base.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn scenario(&self) -> &Scenario {
        &self.world.scenario
    }

    pub fn world(&self) -> &Arc<World> {
        &self.world
    }

    /// What a secret holds now, by scope: `repo`, `env:NAME` for an environment of `repo`, or
    /// `org` for the organization secret of `owner`. `None` when it is not defined there.
    pub fn secret(
        &self,
        owner: &str,
        repo: Option<&str>,
        scope: &str,
        name: &str,
    ) -> Option<String> {
        let state = self.world.github.lock().expect("github state");
        let name = name.to_ascii_uppercase();
        match (scope, repo) {
            ("org", _) => state
                .owner(owner)?
                .secrets
                .get(&name)
                .map(|s| s.stored.value.clone()),
            ("repo", Some(repo)) => state
                .repo(owner, repo)?
                .secrets
                .get(&name)
                .map(|s| s.value.clone()),
            (env, Some(repo)) => {
                let env = env.strip_prefix("env:")?;
                state
                    .repo(owner, repo)?
                    .environments
                    .get(env)?
                    .secrets
                    .get(&name)
                    .map(|s| s.value.clone())
            }
            _ => None,
        }
    }

    /// Serves this simulator's GitHub API on a Unix socket too, as `gh` reaches a server through
    /// its `http_unix_socket` setting (every request then says `Host: api.github.com`).
    #[cfg(unix)]
    pub fn serve_unix_socket(&self, path: &std::path::Path) -> anyhow::Result<()> {
        let _ = std::fs::remove_file(path);
        let listener = std::os::unix::net::UnixListener::bind(path)?;
        listener.set_nonblocking(true)?;
        let app = app(self.world.clone(), "github");
        std::thread::Builder::new()
            .name("keyfix-sim-unix".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                runtime.block_on(async move {
                    let listener = tokio::net::UnixListener::from_std(listener).expect("listener");
                    let _ = axum::serve(listener, app).await;
                });
            })?;
        Ok(())
    }

    /// Blocks until the simulator stops (it stops only when the process does).
    pub fn wait(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Runs the scenario's past runs, oldest first, before anything is served.
async fn past_runs(world: Arc<World>) -> Result<(), String> {
    let now = time::now_epoch_millis();
    for repo in world.scenario.expanded_repos() {
        for run in &repo.runs {
            let request = runner::RunRequest {
                owner: repo.owner.clone(),
                repo: repo.name.clone(),
                workflow_path: run.workflow.clone(),
                event: run.event.clone(),
                actor: run.actor.clone(),
                from_fork: run.from_fork,
                fork_deleted: run.fork_deleted,
                actor_deleted: run.actor_deleted,
                inputs: Default::default(),
                created_at: now.saturating_sub(u64::from(run.days_ago) * 86_400_000),
                attempts: run.attempts,
                branch: None,
                action_log: run.action_log,
            };
            runner::run_now(world.clone(), request).await?;
        }
    }
    Ok(())
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(true);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
