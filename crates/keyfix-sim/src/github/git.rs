//! Branches through the Git database API (refs, trees, commits), `push` runs on branches other
//! than the default one, pull requests, and environments with their deployment branch policies.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::objects::{self, RepoForm, RepoUrls};
use super::state::{Branch, BranchPolicy, Commit, File, GithubState, Perm, Pull, Repo};
use super::{counted_page, created, error, json_response, not_found, Caller, PageQuery};
use crate::runner::{self, RunRequest};
use crate::World;

pub fn routes() -> Router<Arc<World>> {
    Router::new()
        .route("/repos/{owner}/{repo}/git/ref/{*reference}", get(get_ref))
        .route(
            "/repos/{owner}/{repo}/git/matching-refs/{*reference}",
            get(matching_refs),
        )
        .route("/repos/{owner}/{repo}/git/refs", post(create_ref))
        .route(
            "/repos/{owner}/{repo}/git/refs/{*reference}",
            axum::routing::delete(delete_ref),
        )
        .route("/repos/{owner}/{repo}/git/trees", post(create_tree))
        .route("/repos/{owner}/{repo}/git/commits", post(create_commit))
        .route("/repos/{owner}/{repo}/pulls", post(create_pull))
        .route(
            "/repos/{owner}/{repo}/environments/{env}",
            get(get_environment),
        )
        .route(
            "/repos/{owner}/{repo}/environments/{env}/deployment-branch-policies",
            get(list_branch_policies),
        )
        .route(
            "/repos/{owner}/{repo}/check-runs/{id}/annotations",
            get(annotations),
        )
}

fn ref_json(world: &World, repo: &Repo, name: &str, sha: &str) -> Value {
    let base = format!("{}/repos/{}", world.github_url(), repo.full_name());
    json!({
        "ref": format!("refs/heads/{name}"),
        "node_id": format!("REF_{}", &sha[..12]),
        "url": format!("{base}/git/refs/heads/{name}"),
        "object": {"sha": sha, "type": "commit", "url": format!("{base}/git/commits/{sha}")},
    })
}

/// Every branch of the repository with its head, the default one first.
fn branch_heads(repo: &Repo) -> Vec<(String, String)> {
    let mut heads = vec![(
        repo.default_branch.clone(),
        repo.head_of(&repo.default_branch).unwrap_or_default(),
    )];
    heads.extend(
        repo.branches
            .iter()
            .map(|(n, b)| (n.clone(), b.head.clone())),
    );
    heads
}

/// `f` on `owner/repo` for a caller with `perm`: GitHub's 403 without it, 404 for an unknown
/// repository.
fn reading(
    world: &World,
    caller: &Caller,
    perm: Perm,
    (owner, repo): (&str, &str),
    f: impl FnOnce(&Repo) -> Response,
) -> Response {
    if let Err(refusal) = caller.require(perm) {
        return refusal;
    }
    let state = world.github.lock().expect("github state");
    state.repo(owner, repo).map_or_else(not_found, f)
}

/// As [`reading`], for a change to the repository.
fn writing(
    world: &World,
    caller: &Caller,
    perm: Perm,
    (owner, repo): (&str, &str),
    f: impl FnOnce(&mut Repo) -> Response,
) -> Response {
    if let Err(refusal) = caller.require(perm) {
        return refusal;
    }
    let mut state = world.github.lock().expect("github state");
    state.repo_mut(owner, repo).map_or_else(not_found, f)
}

async fn get_ref(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path((owner, repo, reference)): Path<(String, String, String)>,
) -> Response {
    reading(&world, &caller, Perm::ContentsRead, (&owner, &repo), |r| {
        let found = reference
            .strip_prefix("heads/")
            .and_then(|name| r.head_of(name).map(|sha| (name, sha)));
        match found {
            Some((name, sha)) => json_response(StatusCode::OK, ref_json(&world, r, name, &sha)),
            None => not_found(),
        }
    })
}

async fn matching_refs(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path((owner, repo, reference)): Path<(String, String, String)>,
) -> Response {
    reading(&world, &caller, Perm::ContentsRead, (&owner, &repo), |r| {
        let prefix = reference.strip_prefix("heads/").unwrap_or("\u{0}");
        let refs: Vec<Value> = branch_heads(r)
            .iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .map(|(name, sha)| ref_json(&world, r, name, sha))
            .collect();
        json_response(StatusCode::OK, Value::Array(refs))
    })
}

#[derive(Deserialize)]
struct NewRef {
    #[serde(rename = "ref")]
    reference: String,
    sha: String,
}

/// `Err` is GitHub's answer to a token that may not change the workflow file at `path`: a
/// classic token without `workflow` gets a 404, a fine-grained one or an App a 403.
pub fn refuse_workflow_change(caller: &Caller, path: &str) -> Result<(), Response> {
    if caller.perms.contains(&Perm::WorkflowsWrite) {
        return Ok(());
    }
    if caller.classic {
        return Err(not_found());
    }
    if caller.is_integration() {
        return Err(error(
            StatusCode::FORBIDDEN,
            &format!("refusing to allow a GitHub App to create or update workflow `{path}` without `workflows` permission"),
        ));
    }
    Err(error(
        StatusCode::FORBIDDEN,
        "Resource not accessible by personal access token (refusing to allow a Personal Access Token to create or update workflow without `workflows` permission)",
    ))
}

/// The files of commit `sha`: a commit made through the API, or a branch head.
fn commit_files(repo: &Repo, sha: &str) -> Option<BTreeMap<String, File>> {
    if let Some(commit) = repo.commits.get(sha) {
        return repo.trees.get(&commit.tree).cloned();
    }
    branch_heads(repo)
        .into_iter()
        .find(|(_, head)| head == sha)
        .and_then(|(name, _)| repo.files_on(Some(&name)).cloned())
}

async fn create_ref(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path((owner, repo)): Path<(String, String)>,
    Json(body): Json<NewRef>,
) -> Response {
    if let Err(refusal) = caller.require(Perm::ContentsWrite) {
        return refusal;
    }
    let branch = {
        let mut state = world.github.lock().expect("github state");
        let Some(r) = state.repo_mut(&owner, &repo) else {
            return not_found();
        };
        let Some(name) = body
            .reference
            .strip_prefix("refs/heads/")
            .filter(|n| !n.is_empty())
        else {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Reference name must start with 'refs/' and contain at least two slashes",
            );
        };
        if r.head_of(name).is_some() {
            return error(StatusCode::UNPROCESSABLE_ENTITY, "Reference already exists");
        }
        let Some(files) = commit_files(r, &body.sha) else {
            return error(StatusCode::UNPROCESSABLE_ENTITY, "Object does not exist");
        };
        let changed_workflow = files
            .iter()
            .filter(|(path, _)| path.starts_with(".github/workflows/"))
            .find(|(path, file)| r.files.get(*path).is_none_or(|f| f.sha != file.sha));
        if let Some((path, _)) = changed_workflow {
            if let Err(refusal) = refuse_workflow_change(&caller, path) {
                return refusal;
            }
        }
        let name = name.to_owned();
        r.branches.insert(
            name.clone(),
            Branch {
                head: body.sha.clone(),
                files,
            },
        );
        name
    };
    pushed(&world, &owner, &repo, &branch, &caller.token);
    let state = world.github.lock().expect("github state");
    let r = state.repo(&owner, &repo).expect("just written");
    created(ref_json(&world, r, &branch, &body.sha))
}

async fn delete_ref(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path((owner, repo, reference)): Path<(String, String, String)>,
) -> Response {
    writing(&world, &caller, Perm::ContentsWrite, (&owner, &repo), |r| {
        let name = reference.strip_prefix("heads/").unwrap_or_default();
        if name == r.default_branch {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Cannot delete the default branch",
            );
        }
        match r.branches.remove(name) {
            Some(_) => StatusCode::NO_CONTENT.into_response(),
            None => error(StatusCode::UNPROCESSABLE_ENTITY, "Reference does not exist"),
        }
    })
}

#[derive(Deserialize)]
struct TreeEntry {
    path: String,
    mode: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
struct NewTree {
    tree: Vec<TreeEntry>,
    #[serde(default)]
    base_tree: Option<String>,
}

async fn create_tree(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path((owner, repo)): Path<(String, String)>,
    Json(body): Json<NewTree>,
) -> Response {
    writing(&world, &caller, Perm::ContentsWrite, (&owner, &repo), |r| {
        let mut files = match &body.base_tree {
            None => BTreeMap::new(),
            Some(base) => match r.trees.get(base).cloned().or_else(|| commit_files(r, base)) {
                Some(files) => files,
                None => {
                    return error(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "base_tree is not a valid tree",
                    )
                }
            },
        };
        for entry in &body.tree {
            let valid_mode = matches!(entry.mode.as_str(), "100644" | "100755");
            let Some(content) = entry
                .content
                .as_ref()
                .filter(|_| valid_mode && entry.kind == "blob")
            else {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Invalid tree info: only blobs with content are supported here",
                );
            };
            files.insert(
                entry.path.trim_matches('/').to_owned(),
                File::new(content.clone()),
            );
        }
        let sha = super::state::tree_sha(&files);
        let base = format!("{}/repos/{}", world.github_url(), r.full_name());
        let entries: Vec<Value> = files
            .iter()
            .map(|(path, file)| {
                json!({"path": path, "mode": "100644", "type": "blob", "sha": file.sha, "size": file.text.len(), "url": format!("{base}/git/blobs/{}", file.sha)})
            })
            .collect();
        r.trees.insert(sha.clone(), files);
        created(
            json!({"sha": sha, "url": format!("{base}/git/trees/{sha}"), "tree": entries, "truncated": false}),
        )
    })
}

#[derive(Deserialize)]
struct NewCommit {
    message: String,
    tree: String,
    #[serde(default)]
    parents: Vec<String>,
}

async fn create_commit(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path((owner, repo)): Path<(String, String)>,
    Json(body): Json<NewCommit>,
) -> Response {
    writing(&world, &caller, Perm::ContentsWrite, (&owner, &repo), |r| {
        if !r.trees.contains_key(&body.tree) {
            return error(StatusCode::UNPROCESSABLE_ENTITY, "Tree SHA does not exist");
        }
        if let Some(parent) = body.parents.iter().find(|p| !r.has_commit(p)) {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("Parent SHA {parent} does not exist or is not a commit object"),
            );
        }
        let now = crate::time::rfc3339(crate::time::now_epoch_millis());
        let sha = File::new(format!(
            "tree {}\n{}\n{now}\n{}\n{}",
            body.tree,
            body.parents.join("\n"),
            rand::random::<u64>(),
            body.message
        ))
        .sha;
        let urls = RepoUrls::of(&world, &r.full_name());
        let answer = objects::git_commit(
            &urls,
            &sha,
            &body.tree,
            &body.parents,
            &body.message,
            &caller.token,
            &now,
        );
        r.commits.insert(
            sha,
            Commit {
                tree: body.tree,
                parents: body.parents,
                message: body.message,
            },
        );
        created(answer)
    })
}

/// Whether the workflow `text` runs on a push to `branch` (its `on:` and branch filters).
pub fn runs_on_push(text: &str, branch: &str) -> bool {
    let Ok(workflow) = yaml_serde::from_str::<yaml_serde::Value>(text) else {
        return false;
    };
    let Some(on) = workflow.get("on") else {
        return false;
    };
    let names = |value: &yaml_serde::Value| -> Vec<String> {
        match value {
            yaml_serde::Value::String(one) => vec![one.clone()],
            yaml_serde::Value::Sequence(many) => many
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    };
    if let Some(event) = on.as_str() {
        return event == "push";
    }
    if on.is_sequence() {
        return names(on).iter().any(|e| e == "push");
    }
    let Some(push) = on.get("push") else {
        return false;
    };
    if let Some(branches) = push.get("branches") {
        return names(branches)
            .iter()
            .any(|p| super::state::branch_matches(p, branch));
    }
    if let Some(ignored) = push.get("branches-ignore") {
        return !names(ignored)
            .iter()
            .any(|p| super::state::branch_matches(p, branch));
    }
    // Tag filters alone: the workflow runs for tags, not branches.
    push.get("tags").is_none() && push.get("tags-ignore").is_none()
}

/// Starts the `push` runs a new head of `branch` triggers (a branch other than the default).
pub fn pushed(world: &Arc<World>, owner: &str, repo: &str, branch: &str, actor: &str) {
    let workflows: Vec<String> = {
        let state = world.github.lock().expect("github state");
        let Some(files) = state
            .repo(owner, repo)
            .and_then(|r| r.files_on(Some(branch)))
        else {
            return;
        };
        files
            .iter()
            .filter(|(path, file)| {
                path.starts_with(".github/workflows/")
                    && (path.ends_with(".yml") || path.ends_with(".yaml"))
                    && runs_on_push(&file.text, branch)
            })
            .map(|(path, _)| path.clone())
            .collect()
    };
    for workflow_path in workflows {
        let request = RunRequest {
            owner: owner.to_owned(),
            repo: repo.to_owned(),
            workflow_path,
            event: "push".to_owned(),
            actor: actor.to_owned(),
            from_fork: false,
            fork_deleted: false,
            actor_deleted: false,
            inputs: BTreeMap::new(),
            created_at: crate::time::now_epoch_millis(),
            attempts: 1,
            branch: Some(branch.to_owned()),
            action_log: None,
        };
        let _ = runner::start(world.clone(), request);
    }
}

#[derive(Deserialize)]
struct NewPull {
    title: String,
    head: String,
    base: String,
    #[serde(default)]
    body: Option<String>,
}

fn validation_failed(field: &str, code: &str, message: Option<&str>) -> Response {
    let mut detail = json!({"resource": "PullRequest", "field": field, "code": code});
    if let Some(message) = message {
        detail["message"] = json!(message);
    }
    json_response(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"message": "Validation Failed", "errors": [detail], "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request", "status": "422"}),
    )
}

async fn create_pull(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path((owner, repo)): Path<(String, String)>,
    Json(body): Json<NewPull>,
) -> Response {
    if let Err(refusal) = caller.require(Perm::PullRequestsWrite) {
        return refusal;
    }
    let mut state = world.github.lock().expect("github state");
    let Some(r) = state.repo(&owner, &repo) else {
        return not_found();
    };
    let (Some(head_sha), Some(base_sha)) = (r.head_of(&body.head), r.head_of(&body.base)) else {
        return validation_failed("head", "invalid", None);
    };
    if r.pulls
        .iter()
        .any(|p| p.head == body.head && p.base == body.base)
    {
        let message = format!("A pull request already exists for {owner}:{}.", body.head);
        return validation_failed("head", "custom", Some(&message));
    }
    let number = state.runs.len() as u64 + state.jobs.len() as u64 + 1 + r.pulls.len() as u64;
    let r = state.repo_mut(&owner, &repo).expect("found above");
    r.pulls.push(Pull {
        number,
        title: body.title.clone(),
        head: body.head.clone(),
        base: body.base.clone(),
    });
    let r = state.repo(&owner, &repo).expect("found above");
    let answer = pull_json(
        &world,
        &state,
        r,
        &caller,
        &body,
        number,
        (&head_sha, &base_sha),
    );
    created(answer)
}

/// A `pull-request` just opened from `body.head` into `body.base`.
fn pull_json(
    world: &World,
    state: &GithubState,
    r: &Repo,
    caller: &Caller,
    body: &NewPull,
    number: u64,
    (head_sha, base_sha): (&str, &str),
) -> Value {
    let urls = RepoUrls::of(world, &r.full_name());
    let id = r.id * 100_000 + number;
    let now = crate::time::rfc3339(crate::time::now_epoch_millis());
    let user = objects::user_by_login(world, state, &caller.token);
    let url = format!("{}/pulls/{number}", urls.api);
    let html = format!("{}/pull/{number}", urls.web);
    let issue = format!("{}/issues/{number}", urls.api);
    let side = |name: &str, sha: &str| {
        json!({
            "label": format!("{}:{name}", r.owner),
            "ref": name,
            "sha": sha,
            "user": objects::user_by_login(world, state, &r.owner),
            "repo": objects::repository(world, state, r, RepoForm::Listed),
        })
    };
    let link = |href: String| json!({"href": href});
    let links = json!({
        "self": link(url.clone()),
        "html": link(html.clone()),
        "issue": link(issue.clone()),
        "comments": link(format!("{issue}/comments")),
        "review_comments": link(format!("{url}/comments")),
        "review_comment": link(format!("{}/pulls/comments{{/number}}", urls.api)),
        "commits": link(format!("{url}/commits")),
        "statuses": link(format!("{}/statuses/{head_sha}", urls.api)),
    });
    let mut pull = json!({
        "id": id,
        "node_id": objects::node_id("PullRequest", id),
        "number": number,
        "state": "open",
        "locked": false,
        "active_lock_reason": null,
        "title": body.title,
        "body": body.body,
        "user": user,
        "url": url,
        "html_url": html,
        "diff_url": format!("{html}.diff"),
        "patch_url": format!("{html}.patch"),
        "issue_url": issue,
        "commits_url": format!("{url}/commits"),
        "review_comments_url": format!("{url}/comments"),
        "review_comment_url": format!("{}/pulls/comments{{/number}}", urls.api),
        "comments_url": format!("{issue}/comments"),
        "statuses_url": format!("{}/statuses/{head_sha}", urls.api),
        "created_at": now,
        "updated_at": now,
        "closed_at": null,
        "merged_at": null,
        "merge_commit_sha": null,
        "assignee": null,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "labels": [],
        "milestone": null,
        "draft": false,
        "head": side(&body.head, head_sha),
        "base": side(&body.base, base_sha),
        "_links": links,
    });
    let state_of_merge = json!({
        "author_association": "OWNER",
        "auto_merge": null,
        "merged": false,
        "mergeable": null,
        "rebaseable": null,
        "mergeable_state": "unknown",
        "merged_by": null,
        "comments": 0,
        "review_comments": 0,
        "maintainer_can_modify": false,
        "commits": 1,
        "additions": 0,
        "deletions": 0,
        "changed_files": 1,
    });
    objects::extend(&mut pull, state_of_merge);
    pull
}

fn environment_json(world: &World, repo: &Repo, name: &str) -> Option<Value> {
    let env = repo.environments.get(name)?;
    let id = repo.id * 100 + repo.environments.keys().position(|k| k == name)? as u64;
    let policy = env.branch_policy.as_ref().map(|p| {
        json!({
            "protected_branches": *p == BranchPolicy::Protected,
            "custom_branch_policies": matches!(p, BranchPolicy::Custom(_)),
        })
    });
    let mut rules = Vec::new();
    if env.requires_approval {
        rules.push(json!({"id": id * 10 + 1, "node_id": format!("GA_{id}_1"), "type": "required_reviewers", "prevent_self_review": false, "reviewers": []}));
    }
    if env.branch_policy.is_some() {
        rules.push(
            json!({"id": id * 10 + 2, "node_id": format!("GA_{id}_2"), "type": "branch_policy"}),
        );
    }
    Some(json!({
        "id": id,
        "node_id": format!("EN_{id}"),
        "name": name,
        "url": format!("{}/repos/{}/environments/{name}", world.github_url(), repo.full_name()),
        "html_url": format!("{}/{}/deployments/activity_log?environments_filter={name}", world.github_url(), repo.full_name()),
        "created_at": "2026-01-15T10:00:00Z",
        "updated_at": "2026-01-15T10:00:00Z",
        "protection_rules": rules,
        "deployment_branch_policy": policy,
    }))
}

async fn get_environment(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path((owner, repo, env)): Path<(String, String, String)>,
) -> Response {
    reading(&world, &caller, Perm::ActionsRead, (&owner, &repo), |r| {
        environment_json(&world, r, &env)
            .map_or_else(not_found, |body| json_response(StatusCode::OK, body))
    })
}

async fn list_branch_policies(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path((owner, repo, env)): Path<(String, String, String)>,
    Query(query): Query<PageQuery>,
    uri: OriginalUri,
) -> Response {
    reading(&world, &caller, Perm::ActionsRead, (&owner, &repo), |r| {
        let Some(environment) = r.environments.get(&env) else {
            return not_found();
        };
        let patterns = match &environment.branch_policy {
            Some(BranchPolicy::Custom(patterns)) => patterns.as_slice(),
            _ => &[],
        };
        let items = patterns
            .iter()
            .enumerate()
            .map(|(i, name)| json!({"id": i + 1, "node_id": format!("MDE2OkdhdGVCcmFuY2hQb2xpY3k{i}"), "name": name, "type": "branch"}))
            .collect();
        counted_page(&world, uri.path(), &query, items, "branch_policies")
    })
}

/// A job's check run annotations: the reason GitHub failed a job before it ran.
async fn annotations(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path((owner, repo, id)): Path<(String, String, u64)>,
) -> Response {
    if let Err(refusal) = caller.require(Perm::ChecksRead) {
        return refusal;
    }
    let state: std::sync::MutexGuard<'_, GithubState> = world.github.lock().expect("github state");
    let Some(r) = state.repo(&owner, &repo) else {
        return not_found();
    };
    let Some(job) = state
        .jobs
        .iter()
        .find(|j| j.id == id && state.run(j.run_id).is_some_and(|run| run.repo_id == r.id))
    else {
        return not_found();
    };
    let items: Vec<Value> = job
        .annotation
        .iter()
        .map(|message| {
            json!({"path": ".github", "blob_href": "", "start_line": 1, "end_line": 1, "start_column": null, "end_column": null, "annotation_level": "failure", "title": "", "message": message, "raw_details": ""})
        })
        .collect();
    json_response(StatusCode::OK, Value::Array(items))
}
