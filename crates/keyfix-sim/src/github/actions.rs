//! Workflows, runs, jobs, logs behind pre-signed redirects, re-runs and dispatches.

use std::sync::Arc;

use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::objects::{self, RepoForm, RepoUrls};
use super::state::{GithubState, Job, Perm, Presigned, Run, RunStatus};
use super::{counted_page, error, json_response, not_found, Caller, PageQuery};
use crate::runner::{self, RunRequest};
use crate::World;

/// How long a pre-signed log URL stays valid.
const PRESIGNED_TTL_MS: u64 = 60_000;
const MAX_ATTEMPTS: u32 = 50;
const RERUN_WINDOW_DAYS: u64 = 30;

pub fn routes() -> Router<Arc<World>> {
    Router::new()
        .route(
            "/repos/{owner}/{repo}/actions/workflows",
            get(list_workflows),
        )
        .route(
            "/repos/{owner}/{repo}/actions/workflows/{workflow}/runs",
            get(list_workflow_runs),
        )
        .route(
            "/repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches",
            post(dispatch),
        )
        .route("/repos/{owner}/{repo}/actions/runs", get(list_runs))
        .route("/repos/{owner}/{repo}/actions/runs/{id}", get(get_run))
        .route(
            "/repos/{owner}/{repo}/actions/runs/{id}/jobs",
            get(list_jobs),
        )
        .route(
            "/repos/{owner}/{repo}/actions/runs/{id}/rerun-failed-jobs",
            post(rerun_failed_jobs),
        )
        .route(
            "/repos/{owner}/{repo}/actions/jobs/{id}/logs",
            get(job_logs),
        )
}

/// The pre-signed log URLs: no token needed, and one that carries a token is refused.
pub fn presigned_routes() -> Router<Arc<World>> {
    Router::new().route("/_presigned/jobs/{id}/logs", get(presigned_log))
}

fn workflow_name(text: &str, path: &str) -> String {
    yaml_serde::from_str::<yaml_serde::Value>(text)
        .ok()
        .and_then(|v| v.get("name").and_then(|n| n.as_str().map(str::to_owned)))
        .unwrap_or_else(|| path.to_owned())
}

async fn list_workflows(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path((owner, repo)): Path<(String, String)>,
    Query(query): Query<PageQuery>,
    uri: OriginalUri,
) -> Response {
    if let Err(refusal) = caller.require(Perm::ActionsRead) {
        return refusal;
    }
    let state = world.github.lock().expect("github state");
    let Some(r) = state.repo(&owner, &repo) else {
        return not_found();
    };
    let urls = RepoUrls::of(&world, &r.full_name());
    let items = r
        .workflows()
        .into_iter()
        .map(|(id, path, file)| {
            objects::workflow(
                &urls,
                id,
                &workflow_name(&file.text, path),
                path,
                &r.default_branch,
            )
        })
        .collect();
    counted_page(&world, uri.path(), &query, items, "workflows")
}

/// A `workflow-run`, complete, with the nulls GitHub sends: `head_repository` when the fork a
/// run came from was deleted, `actor` and `triggering_actor` when the account that started it
/// was. `pull_requests` is empty: GitHub lists there only pull requests whose head is in the
/// repository itself, and the simulator has none behind its runs.
pub fn run_json(world: &World, state: &GithubState, run: &Run) -> Value {
    let Some(repo) = state.repos.iter().find(|r| r.id == run.repo_id) else {
        return Value::Null;
    };
    let urls = RepoUrls::of(world, &repo.full_name());
    let url = format!("{}/actions/runs/{}", urls.api, run.id);
    let check_suite_id = run.id + 20_000_000_000;
    let actor = if run.actor_deleted {
        Value::Null
    } else {
        objects::user_by_login(world, state, &run.actor)
    };
    let head_repository_id = if run.from_fork {
        repo.id + 50_000_000
    } else {
        repo.id
    };
    let head_repository = match (run.from_fork, run.fork_deleted) {
        (_, true) => Value::Null,
        (true, false) => {
            let fork_owner = format!("{}-fork", run.actor);
            objects::repository_core(
                world,
                &objects::RepoFacts {
                    id: head_repository_id,
                    name: &repo.name,
                    owner: &fork_owner,
                    private: false,
                    fork: true,
                },
                objects::user_by_login(world, state, &fork_owner),
            )
        }
        (false, false) => objects::repository(world, state, repo, RepoForm::InRun),
    };
    let created = crate::time::rfc3339(run.created_at);
    json!({
        "id": run.id,
        "name": run.name,
        "node_id": objects::node_id("WorkflowRun", run.id),
        "check_suite_id": check_suite_id,
        "check_suite_node_id": objects::node_id("CheckSuite", check_suite_id),
        "head_branch": run.head_branch,
        "head_sha": run.head_sha,
        "path": run.workflow_path,
        "display_title": run.display_title,
        "run_number": run.run_number,
        "run_attempt": run.run_attempt,
        "event": run.event,
        "status": run.status.as_str(),
        "conclusion": run.conclusion,
        "workflow_id": run.workflow_id,
        "url": url,
        "html_url": format!("{}/actions/runs/{}", urls.web, run.id),
        "pull_requests": [],
        "created_at": created,
        "updated_at": crate::time::rfc3339(run.updated_at),
        "run_started_at": created,
        "actor": actor,
        "triggering_actor": actor,
        "referenced_workflows": [],
        "jobs_url": format!("{url}/jobs"),
        "logs_url": format!("{url}/logs"),
        "check_suite_url": format!("{}/check-suites/{check_suite_id}", urls.api),
        "artifacts_url": format!("{url}/artifacts"),
        "cancel_url": format!("{url}/cancel"),
        "rerun_url": format!("{url}/rerun"),
        "previous_attempt_url": (run.run_attempt > 1)
            .then(|| format!("{url}/attempts/{}", run.run_attempt - 1)),
        "workflow_url": format!("{}/actions/workflows/{}", urls.api, run.workflow_id),
        "head_commit": {
            "id": run.head_sha,
            "tree_id": run.head_sha,
            "message": run.head_message,
            "timestamp": created,
            "author": {"name": run.actor, "email": format!("{}@users.noreply.github.com", run.actor)},
            "committer": {"name": "GitHub", "email": "noreply@github.com"},
        },
        "repository": objects::repository(world, state, repo, RepoForm::InRun),
        "head_repository": head_repository,
        "head_repository_id": head_repository_id,
    })
}

/// `status` filters by status or by conclusion, as GitHub's does.
fn matches_filters(run: &Run, query: &PageQuery) -> bool {
    let status_ok = query
        .status
        .as_deref()
        .is_none_or(|s| run.status.as_str() == s || run.conclusion.as_deref() == Some(s));
    let event_ok = query.event.as_deref().is_none_or(|e| run.event == e);
    let branch_ok = query.branch.as_deref().is_none_or(|b| run.head_branch == b);
    status_ok && event_ok && branch_ok
}

fn runs_page(
    world: &World,
    path: &str,
    query: &PageQuery,
    owner: &str,
    repo: &str,
    workflow: Option<&str>,
) -> Response {
    let state = world.github.lock().expect("github state");
    let Some(r) = state.repo(owner, repo) else {
        return not_found();
    };
    let workflow_id = match workflow {
        Some(reference) => match r.workflow(reference) {
            Some((id, _)) => Some(id),
            None => return not_found(),
        },
        None => None,
    };
    let mut runs: Vec<&Run> = state
        .runs
        .iter()
        .filter(|run| {
            run.repo_id == r.id
                && workflow_id.is_none_or(|id| run.workflow_id == id)
                && matches_filters(run, query)
        })
        .collect();
    runs.sort_by_key(|run| std::cmp::Reverse(run.id));
    let items = runs
        .iter()
        .map(|run| run_json(world, &state, run))
        .collect();
    counted_page(world, path, query, items, "workflow_runs")
}

async fn list_runs(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path((owner, repo)): Path<(String, String)>,
    Query(query): Query<PageQuery>,
    uri: OriginalUri,
) -> Response {
    if let Err(refusal) = caller.require(Perm::ActionsRead) {
        return refusal;
    }
    runs_page(&world, uri.path(), &query, &owner, &repo, None)
}

async fn list_workflow_runs(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path((owner, repo, workflow)): Path<(String, String, String)>,
    Query(query): Query<PageQuery>,
    uri: OriginalUri,
) -> Response {
    if let Err(refusal) = caller.require(Perm::ActionsRead) {
        return refusal;
    }
    runs_page(&world, uri.path(), &query, &owner, &repo, Some(&workflow))
}

/// The run with `id` in the repository, or GitHub's 404.
fn find_run<'s>(state: &'s GithubState, owner: &str, repo: &str, id: u64) -> Option<&'s Run> {
    let r = state.repo(owner, repo)?;
    state.run(id).filter(|run| run.repo_id == r.id)
}

async fn get_run(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path((owner, repo, id)): Path<(String, String, u64)>,
) -> Response {
    if let Err(refusal) = caller.require(Perm::ActionsRead) {
        return refusal;
    }
    let state = world.github.lock().expect("github state");
    let Some(run) = find_run(&state, &owner, &repo, id) else {
        return not_found();
    };
    json_response(StatusCode::OK, run_json(&world, &state, run))
}

/// A `job`, complete: a job no runner has taken (queued, waiting, refused before it ran) has
/// no runner.
fn job_json(world: &World, state: &GithubState, job: &Job, repo_full: &str) -> Value {
    let urls = RepoUrls::of(world, repo_full);
    let run = state.run(job.run_id);
    let steps: Vec<Value> = job
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| json!({"name": s.name, "status": s.status.as_str(), "conclusion": s.conclusion, "number": i + 1}))
        .collect();
    let ran =
        !matches!(job.status, RunStatus::Queued | RunStatus::Waiting) && !job.steps.is_empty();
    let runner = |value: Value| if ran { value } else { Value::Null };
    json!({
        "id": job.id,
        "run_id": job.run_id,
        "run_url": format!("{}/actions/runs/{}", urls.api, job.run_id),
        "run_attempt": job.run_attempt,
        "node_id": objects::node_id("CheckRun", job.id),
        "head_sha": run.map(|r| r.head_sha.as_str()),
        "url": format!("{}/actions/jobs/{}", urls.api, job.id),
        "html_url": format!("{}/actions/runs/{}/job/{}", urls.web, job.run_id, job.id),
        "status": job.status.as_str(),
        "conclusion": job.conclusion,
        "created_at": crate::time::rfc3339(job.started_at),
        "started_at": crate::time::rfc3339(job.started_at),
        "completed_at": job.completed_at.map(crate::time::rfc3339),
        "name": job.name,
        "steps": steps,
        "check_run_url": format!("{}/check-runs/{}", urls.api, job.id),
        "labels": job.labels,
        "runner_id": runner(json!(job.id % 1000 + 1)),
        "runner_name": runner(json!(format!("GitHub Actions {}", job.id % 1000 + 1))),
        "runner_group_id": runner(json!(2)),
        "runner_group_name": runner(json!("GitHub Actions")),
        "workflow_name": run.map(|r| r.name.as_str()),
        "head_branch": run.map(|r| r.head_branch.as_str()),
    })
}

/// The latest attempt of each job of a run, as `filter=latest` (GitHub's default) lists them.
pub fn latest_jobs(state: &GithubState, run_id: u64) -> Vec<&Job> {
    let mut latest: Vec<&Job> = Vec::new();
    for job in state.jobs.iter().filter(|j| j.run_id == run_id) {
        match latest.iter_mut().find(|j| j.name == job.name) {
            Some(slot) if slot.run_attempt < job.run_attempt => *slot = job,
            Some(_) => {}
            None => latest.push(job),
        }
    }
    latest
}

async fn list_jobs(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path((owner, repo, id)): Path<(String, String, u64)>,
    Query(query): Query<PageQuery>,
    uri: OriginalUri,
) -> Response {
    if let Err(refusal) = caller.require(Perm::ActionsRead) {
        return refusal;
    }
    let state = world.github.lock().expect("github state");
    if find_run(&state, &owner, &repo, id).is_none() {
        return not_found();
    }
    let full = format!("{owner}/{repo}");
    let items = latest_jobs(&state, id)
        .into_iter()
        .map(|j| job_json(&world, &state, j, &full))
        .collect();
    counted_page(&world, uri.path(), &query, items, "jobs")
}

async fn rerun_failed_jobs(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path((owner, repo, id)): Path<(String, String, u64)>,
) -> Response {
    if let Err(refusal) = caller.require(Perm::ActionsWrite) {
        return refusal;
    }
    let failed: Vec<String> = {
        let state = world.github.lock().expect("github state");
        let Some(run) = find_run(&state, &owner, &repo, id) else {
            return not_found();
        };
        if run.status != RunStatus::Completed {
            return error(StatusCode::FORBIDDEN, "This workflow is already running");
        }
        let age_days = crate::time::now_epoch_millis().saturating_sub(run.created_at) / 86_400_000;
        if age_days > RERUN_WINDOW_DAYS {
            return error(
                StatusCode::FORBIDDEN,
                "Unable to re-run this workflow run because it was created over a month ago",
            );
        }
        if run.run_attempt >= MAX_ATTEMPTS {
            return error(
                StatusCode::FORBIDDEN,
                "This workflow run cannot be re-run: it has reached the maximum of 50 attempts",
            );
        }
        let failed: Vec<String> = latest_jobs(&state, id)
            .into_iter()
            .filter(|j| {
                matches!(
                    j.conclusion.as_deref(),
                    Some("failure" | "cancelled" | "timed_out")
                )
            })
            .map(|j| j.name.clone())
            .collect();
        if failed.is_empty() {
            return error(
                StatusCode::FORBIDDEN,
                "This workflow run has no failed jobs to re-run",
            );
        }
        failed
    };
    runner::rerun(world.clone(), id, failed);
    (StatusCode::CREATED, Json(json!({}))).into_response()
}

#[derive(Deserialize)]
struct DispatchBody {
    #[serde(rename = "ref")]
    reference: String,
    #[serde(default)]
    inputs: serde_json::Map<String, Value>,
    #[serde(default)]
    return_run_details: Option<bool>,
}

async fn dispatch(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path((owner, repo, workflow)): Path<(String, String, String)>,
    Json(body): Json<DispatchBody>,
) -> Response {
    if let Err(refusal) = caller.require(Perm::ActionsWrite) {
        return refusal;
    }
    let mode = world.scenario.github.dispatch;
    if body.return_run_details.is_some() && mode == crate::scenario::DispatchMode::Enterprise {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid request.\n\n\"return_run_details\" is not a permitted key.",
        );
    }
    let path = {
        let state = world.github.lock().expect("github state");
        let Some(r) = state.repo(&owner, &repo) else {
            return not_found();
        };
        if body.reference != r.default_branch {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("No ref found for: {}", body.reference),
            );
        }
        match r.workflow(&workflow) {
            Some((_, path)) => path,
            None => return not_found(),
        }
    };
    if body.inputs.len() > 25 {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "you may only define up to 25 `inputs` for a `workflow_dispatch` event",
        );
    }
    let inputs = body
        .inputs
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string()),
            )
        })
        .collect();
    let request = RunRequest {
        owner,
        repo,
        workflow_path: path,
        event: "workflow_dispatch".to_owned(),
        actor: caller.token.clone(),
        from_fork: false,
        fork_deleted: false,
        actor_deleted: false,
        inputs,
        created_at: crate::time::now_epoch_millis(),
        attempts: 1,
        branch: None,
        action_log: None,
    };
    let run_id = match runner::start(world.clone(), request) {
        Ok(id) => id,
        Err(why) => return error(StatusCode::UNPROCESSABLE_ENTITY, &why),
    };
    if body.return_run_details == Some(true) && mode == crate::scenario::DispatchMode::RunDetails {
        let state = world.github.lock().expect("github state");
        let run = state.run(run_id).expect("the run just started");
        let details = run_json(&world, &state, run);
        return json_response(
            StatusCode::OK,
            json!({"workflow_run_id": run_id, "run_url": details["url"], "html_url": details["html_url"]}),
        );
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn job_logs(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path((owner, repo, id)): Path<(String, String, u64)>,
) -> Response {
    if let Err(refusal) = caller.require(Perm::ActionsRead) {
        return refusal;
    }
    let mut state = world.github.lock().expect("github state");
    let Some(r) = state.repo(&owner, &repo) else {
        return not_found();
    };
    let repo_id = r.id;
    let belongs = state
        .jobs
        .iter()
        .find(|j| j.id == id)
        .and_then(|j| state.run(j.run_id))
        .is_some_and(|run| run.repo_id == repo_id);
    if !belongs {
        return not_found();
    }
    let signature: String = (0..32)
        .map(|_| format!("{:x}", rand::random::<u8>() % 16))
        .collect();
    state.presigned.insert(
        signature.clone(),
        Presigned {
            job_id: id,
            expires_at: crate::time::now_epoch_millis() + PRESIGNED_TTL_MS,
        },
    );
    let location = format!(
        "{}/_presigned/jobs/{id}/logs?sig={signature}",
        world.github_origin()
    );
    let mut response = StatusCode::FOUND.into_response();
    response
        .headers_mut()
        .insert("location", HeaderValue::from_str(&location).expect("ascii"));
    response
}

#[derive(Deserialize)]
struct Signature {
    sig: Option<String>,
}

async fn presigned_log(
    State(world): State<Arc<World>>,
    Path(id): Path<u64>,
    Query(query): Query<Signature>,
    headers: HeaderMap,
) -> Response {
    if headers.contains_key("authorization") {
        // As a storage service does: a pre-signed URL plus a token is two auth mechanisms.
        return (
            StatusCode::BAD_REQUEST,
            "Only one auth mechanism allowed; the request carries an Authorization header",
        )
            .into_response();
    }
    let state = world.github.lock().expect("github state");
    let valid = query
        .sig
        .as_ref()
        .and_then(|s| state.presigned.get(s))
        .is_some_and(|p| p.job_id == id && p.expires_at > crate::time::now_epoch_millis());
    if !valid {
        return (
            StatusCode::FORBIDDEN,
            "Request has expired or the signature does not match",
        )
            .into_response();
    }
    let Some(job) = state.jobs.iter().find(|j| j.id == id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let filler = state
        .run(job.run_id)
        .and_then(|run| state.repos.iter().find(|r| r.id == run.repo_id))
        .and_then(|repo| repo.log_filler.clone());
    let log = job.log.clone();
    let body = match filler {
        None => axum::body::Body::from(log),
        Some(filler) => axum::body::Body::from_stream(filled_log(filler, log)),
    };
    ([("content-type", "text/plain; charset=utf-8")], body).into_response()
}

/// The filler, then the job's own log, made a chunk at a time as it is sent: a log of hundreds
/// of megabytes costs the simulator one chunk of memory.
fn filled_log(
    filler: crate::scenario::LogFiller,
    log: String,
) -> impl futures::Stream<Item = Result<bytes::Bytes, std::convert::Infallible>> {
    const CHUNK: usize = 256 * 1024;
    let line = if filler.line.is_empty() {
        "x".to_owned()
    } else {
        filler.line
    };
    // Whole lines to a chunk, so that every chunk but the last ends where a line does.
    let repeats = CHUNK.div_ceil(line.len());
    let ends_in_newline =
        line.ends_with('\n') && filler.bytes.is_multiple_of(line.len() as u64) || filler.bytes == 0;
    let chunk = bytes::Bytes::from(line.repeat(repeats));
    let mut left = filler.bytes;
    let filling = futures::stream::iter(std::iter::from_fn(move || {
        let take = usize::try_from(left).unwrap_or(usize::MAX).min(chunk.len());
        left -= take as u64;
        (take > 0).then(|| Ok(chunk.slice(..take)))
    }));
    let closing = if ends_in_newline { "" } else { "\n" };
    let rest = bytes::Bytes::from(format!("{closing}{log}"));
    futures::StreamExt::chain(filling, futures::stream::iter([Ok(rest)]))
}
