//! The GitHub REST API as `github.md` describes it: secrets at three levels with sealed boxes,
//! contents, workflows, runs, jobs, logs behind pre-signed redirects, re-runs; tokens with their
//! permissions and budgets; GitHub Apps (JWTs, installations, installation tokens); secondary
//! limits on writes; faults. Beside it, the GraphQL subset keyfix's discovery reads
//! (`graphql.rs`).

mod actions;
pub mod apps;
mod git;
pub mod graphql;
pub mod objects;
mod repos;
mod secrets;
pub mod state;

pub use actions::latest_jobs;
pub use git::runs_on_push;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};

use crate::faults::{self, RequestFacts};
use crate::World;
use state::{GithubState, Perm};

pub fn router(world: Arc<World>) -> Router {
    let api = gated(
        Router::new()
            .merge(repos::routes())
            .merge(secrets::routes())
            .merge(actions::routes())
            .merge(git::routes())
            .merge(apps::routes())
            .fallback(|| async { not_found() }),
        &world,
    );
    let graphql = gated(graphql::routes(), &world);
    let prefix = world
        .scenario
        .github
        .path_prefix
        .trim_end_matches('/')
        .to_owned();
    let presigned = actions::presigned_routes().with_state(world);
    // Enterprise Server serves REST under /api/v3 and GraphQL at /api/graphql.
    let graphql_prefix = prefix.strip_suffix("/v3").unwrap_or(&prefix).to_owned();
    match (prefix.is_empty(), graphql_prefix == prefix) {
        (true, _) => api.merge(graphql).merge(presigned),
        (false, true) => Router::new()
            .nest(&prefix, api.merge(graphql))
            .merge(presigned),
        (false, false) => Router::new()
            .nest(&prefix, api)
            .nest(&graphql_prefix, graphql)
            .merge(presigned),
    }
}

/// `routes` behind what every GitHub request meets: the gate (credentials, budgets, secondary
/// limits), the faults, and conditional reads.
fn gated(routes: Router<Arc<World>>, world: &Arc<World>) -> Router {
    routes
        .layer(axum::middleware::from_fn(conditional))
        .layer(axum::middleware::from_fn_with_state(
            world.clone(),
            apply_faults,
        ))
        .layer(axum::middleware::from_fn_with_state(world.clone(), gate))
        .with_state(world.clone())
}

/// The caller, as the gate found it from the `Authorization` header.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The credential's scenario name.
    pub token: String,
    pub classic: bool,
    pub perms: std::collections::BTreeSet<Perm>,
    /// An installation token's installation.
    pub installation: Option<u64>,
    /// The App whose JWT this is.
    pub app: Option<u64>,
}

impl Caller {
    /// A GitHub App, by its JWT or an installation token.
    pub fn is_integration(&self) -> bool {
        self.installation.is_some() || self.app.is_some()
    }

    /// `Err` is GitHub's 403 for a token without the permission.
    pub fn require(&self, perm: Perm) -> Result<(), Response> {
        if self.perms.contains(&perm) {
            return Ok(());
        }
        let message = if self.is_integration() {
            apps::NOT_ACCESSIBLE
        } else {
            "Resource not accessible by personal access token"
        };
        let mut response = error(StatusCode::FORBIDDEN, message);
        response.headers_mut().insert(
            "x-accepted-github-permissions",
            HeaderValue::from_static(perm.accepted_header()),
        );
        Err(response)
    }
}

/// GitHub's error body.
pub fn error(status: StatusCode, message: &str) -> Response {
    let body = json!({
        "message": message,
        "documentation_url": "https://docs.github.com/rest",
        "status": status.as_u16().to_string(),
    });
    (status, axum::Json(body)).into_response()
}

pub fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "Not Found")
}

pub fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// 201 with the new object and, as GitHub sends it, its API URL in `Location`.
pub fn created(body: Value) -> Response {
    let location = body["url"]
        .as_str()
        .and_then(|u| HeaderValue::from_str(u).ok());
    let mut response = json_response(StatusCode::CREATED, body);
    if let Some(location) = location {
        response.headers_mut().insert("location", location);
    }
    response
}

/// One page of `items`, with the `Link` header GitHub sends. `path` is the request's path.
pub fn page(
    world: &World,
    path: &str,
    query: &PageQuery,
    items: Vec<Value>,
    wrap: impl Fn(Vec<Value>, usize) -> Value,
) -> Response {
    let per_page = query.per_page.unwrap_or(30).clamp(1, 100);
    let page = query.page.unwrap_or(1).max(1);
    let total = items.len();
    let last = total.div_ceil(per_page).max(1);
    let slice: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let mut response = json_response(StatusCode::OK, wrap(slice, total));
    let link = |n: usize, rel: &str| {
        format!(
            "<{}{path}?per_page={per_page}&page={n}{}>; rel=\"{rel}\"",
            world.github_origin(),
            query.extra()
        )
    };
    let mut links = Vec::new();
    if page < last {
        links.push(link(page + 1, "next"));
        links.push(link(last, "last"));
    }
    if page > 1 {
        links.push(link(1, "first"));
        links.push(link(page - 1, "prev"));
    }
    if !links.is_empty() {
        if let Ok(value) = HeaderValue::from_str(&links.join(", ")) {
            response.headers_mut().insert("link", value);
        }
    }
    response
}

/// One page of a list GitHub wraps as `{"total_count": N, FIELD: [...]}`.
pub fn counted_page(
    world: &World,
    path: &str,
    query: &PageQuery,
    items: Vec<Value>,
    field: &str,
) -> Response {
    page(
        world,
        path,
        query,
        items,
        |items, total| json!({"total_count": total, field: items}),
    )
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct PageQuery {
    pub per_page: Option<usize>,
    pub page: Option<usize>,
    pub status: Option<String>,
    pub event: Option<String>,
    pub branch: Option<String>,
    #[serde(rename = "ref")]
    pub reference: Option<String>,
}

impl PageQuery {
    /// The filters to carry into `Link` URLs.
    fn extra(&self) -> String {
        let mut out = String::new();
        for (name, value) in [
            ("status", &self.status),
            ("event", &self.event),
            ("branch", &self.branch),
        ] {
            if let Some(value) = value {
                out.push_str(&format!("&{name}={value}"));
            }
        }
        out
    }
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .or_else(|| value.strip_prefix("token "))?;
    Some(token.trim().to_owned())
}

fn rate_headers(response: &mut Response, limit: u64, remaining: u64, reset: u64) {
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-ratelimit-limit", limit.to_string()),
        ("x-ratelimit-remaining", remaining.to_string()),
        ("x-ratelimit-used", (limit - remaining).to_string()),
        ("x-ratelimit-reset", reset.to_string()),
        ("x-ratelimit-resource", "core".to_owned()),
    ] {
        headers.insert(name, HeaderValue::from_str(&value).expect("ascii"));
    }
}

/// Which budget a request spends.
enum Budget {
    Token(usize),
    Installation(usize),
    App(usize),
}

/// The caller a credential stands for, or GitHub's refusal: a token; an App's installation
/// token (valid until it expires, only within its installation); an App's JWT (only on the
/// App's own endpoints, which take nothing else).
fn authenticate(
    state: &GithubState,
    value: &str,
    method: &Method,
    path: &str,
    now_ms: u64,
) -> Result<(Caller, Budget), Response> {
    let app_endpoint = apps::is_app_endpoint(path);
    let undecodable = || error(StatusCode::UNAUTHORIZED, apps::UNDECODABLE);
    if let Some(i) = state.tokens.iter().position(|t| t.value == value) {
        if app_endpoint {
            return Err(undecodable());
        }
        let token = &state.tokens[i];
        if let Some(refusal) = outside_selection(state, token, method, path) {
            return Err(refusal);
        }
        let caller = Caller {
            token: token.name.clone(),
            classic: token.classic,
            perms: token.perms.clone(),
            installation: None,
            app: None,
        };
        return Ok((caller, Budget::Token(i)));
    }
    if let Some(token) = state
        .installation_tokens
        .iter()
        .find(|t| t.value == value && now_ms < t.expires_at_ms)
    {
        if app_endpoint {
            return Err(undecodable());
        }
        let i = state
            .installations
            .iter()
            .position(|inst| inst.id == token.installation)
            .expect("a token's installation");
        let installation = &state.installations[i];
        if let Some(refusal) = apps::out_of_scope(installation, path) {
            return Err(refusal);
        }
        let caller = Caller {
            token: token.name.clone(),
            classic: false,
            perms: installation.perms.clone(),
            installation: Some(installation.id),
            app: None,
        };
        return Ok((caller, Budget::Installation(i)));
    }
    if apps::looks_like_jwt(value) {
        let i = apps::verify_jwt(&state.apps, value, now_ms / 1000)
            .map_err(|message| error(StatusCode::UNAUTHORIZED, message))?;
        if !app_endpoint {
            return Err(error(StatusCode::FORBIDDEN, apps::NOT_ACCESSIBLE));
        }
        let app = &state.apps[i];
        let caller = Caller {
            token: format!("app:{}", app.name),
            classic: false,
            perms: Default::default(),
            installation: None,
            app: Some(app.id),
        };
        return Ok((caller, Budget::App(i)));
    }
    if app_endpoint {
        return Err(undecodable());
    }
    Err(error(StatusCode::UNAUTHORIZED, "Bad credentials"))
}

/// GitHub's answer to a fine-grained token on a repository it was not given: a private one does
/// not exist for it (404); a public one it may read but not change.
fn outside_selection(
    state: &GithubState,
    token: &state::Token,
    method: &Method,
    path: &str,
) -> Option<Response> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let ["repos", owner, repo, ..] = parts.as_slice() else {
        return None;
    };
    if token.selects(owner, repo) {
        return None;
    }
    match state.repo(owner, repo) {
        Some(r) if !r.private && *method == Method::GET => None,
        Some(r) if !r.private => Some(error(
            StatusCode::FORBIDDEN,
            "Resource not accessible by personal access token",
        )),
        _ => Some(not_found()),
    }
}

impl GithubState {
    fn remaining_mut(&mut self, budget: &Budget) -> &mut u64 {
        match *budget {
            Budget::Token(i) => &mut self.tokens[i].remaining,
            Budget::Installation(i) => &mut self.installations[i].remaining,
            Budget::App(i) => &mut self.apps[i].remaining,
        }
    }
}

/// Authentication, budgets and secondary limits: what every GitHub request meets first.
async fn gate(State(world): State<Arc<World>>, mut request: Request, next: Next) -> Response {
    let latency = world.scenario.github.latency_ms;
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let limit = world.scenario.github.rate_limit;
    let method = request.method().clone();
    let caller = {
        let mut state = world.github.lock().expect("github state");
        state.renew_budgets(limit, world.scenario.github.rate_window_secs);
        let reset = state.rate_reset;
        let Some(value) = bearer(request.headers()) else {
            return error(StatusCode::UNAUTHORIZED, "Requires authentication");
        };
        let now = crate::time::now_epoch_millis();
        let path = request.uri().path();
        let (caller, budget) = match authenticate(&state, &value, &method, path, now) {
            Ok(found) => found,
            Err(refusal) => return refusal,
        };
        // A GraphQL query spends points of GraphQL's own budget, as many as its shape costs:
        // its handler counts them.
        let charged = if method == Method::POST && path == "/graphql" {
            None
        } else {
            match charge(&world, &mut state, &budget, &caller, &method, limit, reset) {
                Ok(remaining) => Some(remaining),
                Err(refusal) => return refusal,
            }
        };
        (caller, charged, reset)
    };
    let (caller, charged, reset) = caller;
    let credential = caller.clone();
    request.extensions_mut().insert(caller);
    let mut response = next.run(request).await;
    let Some(remaining) = charged else {
        return response;
    };
    let remaining = if response.status() == StatusCode::NOT_MODIFIED {
        // GitHub does not count a 304 against the budget.
        refund(&world, &credential).unwrap_or(remaining)
    } else {
        remaining
    };
    rate_headers(&mut response, limit, remaining, reset);
    response
}

/// Gives back the request `caller` was charged for; the budget left after it.
fn refund(world: &World, caller: &Caller) -> Option<u64> {
    let mut state = world.github.lock().expect("github state");
    let remaining = match caller.installation {
        Some(id) => {
            &mut state
                .installations
                .iter_mut()
                .find(|i| i.id == id)?
                .remaining
        }
        None => {
            &mut state
                .tokens
                .iter_mut()
                .find(|t| t.name == caller.token)?
                .remaining
        }
    };
    *remaining += 1;
    Some(*remaining)
}

/// ETags on every successful read, as GitHub sends them: a weak tag of the body, and 304 with no
/// body to a request whose `If-None-Match` names the tag of what the answer would be.
async fn conditional(request: Request, next: Next) -> Response {
    if request.method() != Method::GET {
        return next.run(request).await;
    }
    let asked = request
        .headers()
        .get("if-none-match")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let response = next.run(request).await;
    if response.status() != StatusCode::OK {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "Server Error");
    };
    let etag = weak_etag(&bytes);
    let value = HeaderValue::from_str(&etag).expect("ascii");
    if asked.is_some_and(|asked| asked.split(',').any(|tag| tag.trim() == etag)) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        response.headers_mut().insert("etag", value);
        return response;
    }
    parts.headers.insert("etag", value);
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

fn weak_etag(body: &[u8]) -> String {
    use sha2::Digest;
    format!("W/\"{}\"", hex::encode(&sha2::Sha256::digest(body)[..16]))
}

/// Spends one request of the caller's hourly budget; GitHub's refusal when it is used up or a
/// write meets the secondary limit. The budget left.
fn charge(
    world: &World,
    state: &mut GithubState,
    budget: &Budget,
    caller: &Caller,
    method: &Method,
    limit: u64,
    reset: u64,
) -> Result<u64, Response> {
    let remaining = state.remaining_mut(budget);
    if *remaining == 0 {
        let who = match (budget, caller.installation) {
            (Budget::Installation(_), Some(id)) => format!("installation ID {id}"),
            _ => "user ID 1".to_owned(),
        };
        let mut response = error(StatusCode::FORBIDDEN, &format!("API rate limit exceeded for {who}. If you reach out to GitHub Support for help, please include the request ID."));
        rate_headers(&mut response, limit, 0, reset);
        return Err(response);
    }
    *remaining -= 1;
    let remaining = *remaining;
    if let Some(refusal) = secondary_limit(world, state, method) {
        let mut response = refusal;
        rate_headers(&mut response, limit, remaining, reset);
        return Err(response);
    }
    Ok(remaining)
}

/// Applies the faults to a request the gate let in: inside the gate, because a fault names a
/// GitHub caller by its token, which the gate finds.
async fn apply_faults(State(world): State<Arc<World>>, request: Request, next: Next) -> Response {
    let hit = world.faults.take(&RequestFacts {
        service: "github",
        method: request.method().as_str(),
        path: request.uri().path(),
        key: request
            .extensions()
            .get::<Caller>()
            .map(|caller| caller.token.as_str()),
        model: None,
    });
    faults::apply(&world, hit, request, next, fault_answer).await
}

/// GitHub's error body for a fault's status; the gate adds the rate-limit headers.
fn fault_answer(_: &World, status: StatusCode) -> Response {
    error(status, status.canonical_reason().unwrap_or("Server Error"))
}

/// GitHub's secondary limit on content-creating requests: 403 with `retry-after` once the
/// window holds its share of writes. A refused write is not carried out.
fn secondary_limit(world: &World, state: &mut GithubState, method: &Method) -> Option<Response> {
    let settings = &world.scenario.github;
    if settings.writes_per_minute == 0 || *method == Method::GET {
        return None;
    }
    let now = crate::time::now_epoch_millis();
    let window = settings.write_window_secs * 1000;
    while state
        .writes
        .front()
        .is_some_and(|t| now.saturating_sub(*t) >= window)
    {
        state.writes.pop_front();
    }
    if state.writes.len() < settings.writes_per_minute as usize {
        state.writes.push_back(now);
        return None;
    }
    let frees_in = state
        .writes
        .front()
        .map_or(0, |oldest| (oldest + window).saturating_sub(now));
    let retry_after = settings
        .secondary_retry_after_secs
        .unwrap_or(frees_in.div_ceil(1000).max(1));
    let mut response = error(
        StatusCode::FORBIDDEN,
        "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.",
    );
    response.headers_mut().insert(
        "retry-after",
        HeaderValue::from_str(&retry_after.to_string()).expect("digits"),
    );
    Some(response)
}
