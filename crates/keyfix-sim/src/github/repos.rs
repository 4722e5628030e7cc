//! Users, organizations, repositories and their files.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Json, Router};
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

use super::objects::{self, ContentEntry, RepoForm, RepoUrls};
use super::state::{File, GithubState, Owner, Perm, Repo};
use super::{error, json_response, not_found, page, Caller, PageQuery};
use crate::scenario::{OwnerKind, Protection};
use crate::World;

pub fn routes() -> Router<Arc<World>> {
    Router::new()
        .route("/users/{owner}", get(get_user))
        .route("/orgs/{owner}", get(get_org))
        .route("/orgs/{owner}/repos", get(list_repos))
        .route("/users/{owner}/repos", get(list_repos))
        .route("/repos/{owner}/{repo}", get(get_repo))
        .route(
            "/repos/{owner}/{repo}/contents/{*path}",
            get(get_contents).put(put_contents).delete(delete_contents),
        )
}

/// How many public repositories `owner` has.
fn public_repos(state: &GithubState, owner: &Owner) -> usize {
    state
        .repos
        .iter()
        .filter(|r| r.owner.eq_ignore_ascii_case(&owner.login) && !r.private)
        .count()
}

/// `GET /users/{username}`: users and organizations alike, as a `public-user`.
async fn get_user(State(world): State<Arc<World>>, Path(login): Path<String>) -> Response {
    let state = world.github.lock().expect("github state");
    match state.owner(&login) {
        Some(owner) => json_response(
            StatusCode::OK,
            objects::public_user(&world, owner, public_repos(&state, owner)),
        ),
        None => not_found(),
    }
}

/// `GET /orgs/{org}`: an `organization-full`; a user is not found there.
async fn get_org(State(world): State<Arc<World>>, Path(login): Path<String>) -> Response {
    let state = world.github.lock().expect("github state");
    match state.owner(&login) {
        Some(owner) if owner.kind == OwnerKind::Organization => json_response(
            StatusCode::OK,
            objects::organization_full(&world, owner, public_repos(&state, owner)),
        ),
        _ => not_found(),
    }
}

async fn list_repos(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(owner): Path<String>,
    Query(query): Query<PageQuery>,
    request: axum::extract::OriginalUri,
) -> Response {
    let state = world.github.lock().expect("github state");
    if state.owner(&owner).is_none() {
        return not_found();
    }
    let items: Vec<Value> = state
        .repos
        .iter()
        .filter(|r| r.owner.eq_ignore_ascii_case(&owner))
        .filter(|r| visible_to(&state, &caller, r))
        .map(|r| objects::repository(&world, &state, r, RepoForm::Listed))
        .collect();
    page(&world, request.path(), &query, items, |items, _| {
        Value::Array(items)
    })
}

/// Whether `caller` sees `repo` in a listing: an installation token its installation's
/// repositories and public ones; so does a fine-grained token given only some repositories.
pub fn visible_to(state: &GithubState, caller: &Caller, repo: &Repo) -> bool {
    let installation = caller
        .installation
        .and_then(|id| state.installations.iter().find(|i| i.id == id));
    let token = state.tokens.iter().find(|t| t.name == caller.token);
    let selected = installation.is_none_or(|i| i.sees(&repo.owner, &repo.name))
        && token.is_none_or(|t| t.selects(&repo.owner, &repo.name));
    !repo.private || selected
}

async fn get_repo(
    State(world): State<Arc<World>>,
    Path((owner, repo)): Path<(String, String)>,
) -> Response {
    let state = world.github.lock().expect("github state");
    match state.repo(&owner, &repo) {
        Some(r) => json_response(
            StatusCode::OK,
            objects::repository(&world, &state, r, RepoForm::Full),
        ),
        None => not_found(),
    }
}

/// The largest file whose content the Contents API sends; a larger one (up to GitHub's 100 MiB)
/// comes with `"encoding": "none"` and an empty `content`.
const CONTENT_MAX_BYTES: usize = 1024 * 1024;
/// The Contents API lists at most this many entries of a directory.
const LISTING_MAX: usize = 1000;

/// A `content-file`: the entry, its base64 content wrapped at 60 characters as GitHub wraps it.
fn file_json(urls: &RepoUrls, path: &str, branch: &str, file: &File) -> Value {
    let mut value = file_entry(urls, path, branch, file);
    if file.text.len() > CONTENT_MAX_BYTES {
        value["encoding"] = json!("none");
        value["content"] = json!("");
        return value;
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(file.text.as_bytes());
    let wrapped: Vec<String> = encoded
        .as_bytes()
        .chunks(60)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    value["encoding"] = json!("base64");
    value["content"] = json!(wrapped.join("\n") + "\n");
    value
}

fn file_entry(urls: &RepoUrls, path: &str, branch: &str, file: &File) -> Value {
    objects::content_entry(
        urls,
        path,
        branch,
        ContentEntry::File {
            sha: &file.sha,
            size: file.text.len(),
        },
    )
}

async fn get_contents(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path((owner, repo, path)): Path<(String, String, String)>,
    Query(query): Query<PageQuery>,
) -> Response {
    if let Err(refusal) = caller.require(Perm::ContentsRead) {
        return refusal;
    }
    let state = world.github.lock().expect("github state");
    let Some(repo) = state.repo(&owner, &repo) else {
        return not_found();
    };
    let Some(files) = repo.files_on(query.reference.as_deref()) else {
        return error(
            StatusCode::NOT_FOUND,
            &format!(
                "No commit found for the ref {}",
                query.reference.as_deref().unwrap_or_default()
            ),
        );
    };
    let path = path.trim_matches('/');
    let branch = query.reference.as_deref().unwrap_or(&repo.default_branch);
    let urls = RepoUrls::of(&world, &repo.full_name());
    if let Some(file) = files.get(path) {
        return json_response(StatusCode::OK, file_json(&urls, path, branch, file));
    }
    let prefix = format!("{path}/");
    let mut entries: Vec<Value> = Vec::new();
    let mut dirs: Vec<String> = Vec::new();
    for (file_path, file) in files.range(prefix.clone()..) {
        let Some(rest) = file_path.strip_prefix(&prefix) else {
            break;
        };
        match rest.split_once('/') {
            None => entries.push(file_entry(&urls, file_path, branch, file)),
            Some((dir, _)) if !dirs.iter().any(|d| d == dir) => {
                dirs.push(dir.to_owned());
                let dir_path = format!("{prefix}{dir}");
                let sha = File::new(dir_path.clone()).sha;
                entries.push(objects::content_entry(
                    &urls,
                    &dir_path,
                    branch,
                    ContentEntry::Dir { sha: &sha },
                ));
            }
            Some(_) => {}
        }
    }
    if entries.is_empty() {
        return not_found();
    }
    entries.truncate(LISTING_MAX);
    json_response(StatusCode::OK, Value::Array(entries))
}

/// The repository and branch a file write goes to, or GitHub's refusal: the token's permissions
/// (and the workflow scope for a workflow file), an unknown or archived repository, an unknown
/// branch, rules that protect the default branch.
fn writable_repo<'s>(
    state: &'s mut GithubState,
    caller: &Caller,
    owner: &str,
    repo: &str,
    path: &str,
    branch: &Option<String>,
) -> Result<(&'s mut Repo, String), Response> {
    caller.require(Perm::ContentsWrite)?;
    if path.starts_with(".github/workflows/") {
        super::git::refuse_workflow_change(caller, path)?;
    }
    let repo = state.repo_mut(owner, repo).ok_or_else(not_found)?;
    if repo.archived {
        return Err(error(
            StatusCode::FORBIDDEN,
            "Repository was archived so is read-only.",
        ));
    }
    let branch = branch
        .clone()
        .unwrap_or_else(|| repo.default_branch.clone());
    if repo.head_of(&branch).is_none() {
        return Err(error(StatusCode::UNPROCESSABLE_ENTITY, "Branch not found"));
    }
    if branch == repo.default_branch {
        if let Some(protection) = repo.protection {
            return Err(protected_refusal(protection, &branch));
        }
    }
    Ok((repo, branch))
}

/// GitHub's answer to a direct commit on a protected default branch.
fn protected_refusal(protection: Protection, branch: &str) -> Response {
    match protection {
        Protection::Ruleset => error(
            StatusCode::CONFLICT,
            "Repository rule violations found\n\nChanges must be made through a pull request.\n\n",
        ),
        Protection::Classic => error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("Protected branch update failed for refs/heads/{branch}: At least 1 approving review is required by reviewers with write access."),
        ),
        Protection::PushRestricted => error(
            StatusCode::FORBIDDEN,
            &format!("Protected branch update failed for refs/heads/{branch}: You're not authorized to push to this branch."),
        ),
    }
}

#[derive(Deserialize)]
struct DeleteFile {
    message: String,
    sha: Option<String>,
    branch: Option<String>,
}

/// `DELETE /repos/{owner}/{repo}/contents/{path}`: the file's `sha` is required, as GitHub's.
async fn delete_contents(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path((owner, repo, path)): Path<(String, String, String)>,
    Json(body): Json<DeleteFile>,
) -> Response {
    let path = path.trim_matches('/').to_owned();
    let mut state = world.github.lock().expect("github state");
    let (r, branch) = match writable_repo(&mut state, &caller, &owner, &repo, &path, &body.branch) {
        Ok(found) => found,
        Err(refusal) => return refusal,
    };
    let parent = r.head_of(&branch).unwrap_or_default();
    let files = r
        .files_on_mut(&branch)
        .expect("writable_repo checked the branch");
    let Some(existing) = files.get(&path) else {
        return not_found();
    };
    match &body.sha {
        None => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid request.\n\n\"sha\" wasn't supplied.",
            )
        }
        Some(sha) if existing.sha != *sha => {
            return error(
                StatusCode::CONFLICT,
                &format!("{path} does not match {sha}"),
            )
        }
        Some(_) => {}
    }
    files.remove(&path);
    r.commit_on(&branch, &body.message);
    let answer = file_commit(&world, r, &branch, parent, &body.message, &caller, None);
    drop(state);
    pushed_unless_default(&world, &owner, &repo, &branch, &caller);
    json_response(StatusCode::OK, answer)
}

/// A `file-commit`: what a file write answers, the file's entry (`None` for a deletion) and
/// the commit it made on `branch`.
fn file_commit(
    world: &World,
    repo: &Repo,
    branch: &str,
    parent: String,
    message: &str,
    caller: &Caller,
    content: Option<Value>,
) -> Value {
    let urls = RepoUrls::of(world, &repo.full_name());
    let sha = repo.head_of(branch).unwrap_or_default();
    let tree = repo
        .commits
        .get(&sha)
        .map_or_else(|| sha.clone(), |c| c.tree.clone());
    let now = crate::time::rfc3339(crate::time::now_epoch_millis());
    json!({
        "content": content,
        "commit": objects::git_commit(&urls, &sha, &tree, &[parent], message, &caller.token, &now),
    })
}

#[derive(Deserialize)]
struct PutFile {
    message: String,
    content: String,
    sha: Option<String>,
    branch: Option<String>,
}

async fn put_contents(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path((owner, repo, path)): Path<(String, String, String)>,
    Json(body): Json<PutFile>,
) -> Response {
    let path = path.trim_matches('/').to_owned();
    let mut state = world.github.lock().expect("github state");
    let (r, branch) = match writable_repo(&mut state, &caller, &owner, &repo, &path, &body.branch) {
        Ok(found) => found,
        Err(refusal) => return refusal,
    };
    let Ok(bytes) =
        base64::engine::general_purpose::STANDARD.decode(body.content.replace('\n', ""))
    else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "content is not valid Base64",
        );
    };
    let Ok(text) = String::from_utf8(bytes) else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "content is not UTF-8 text",
        );
    };
    let parent = r.head_of(&branch).unwrap_or_default();
    let urls = RepoUrls::of(&world, &r.full_name());
    let files = r
        .files_on_mut(&branch)
        .expect("writable_repo checked the branch");
    let status = match (files.get(&path), &body.sha) {
        (Some(_), None) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid request.\n\n\"sha\" wasn't supplied.",
            )
        }
        (Some(existing), Some(sha)) if existing.sha != *sha => {
            return error(
                StatusCode::CONFLICT,
                &format!("{path} does not match {sha}"),
            )
        }
        (Some(_), Some(_)) => StatusCode::OK,
        (None, _) => StatusCode::CREATED,
    };
    let file = File::new(text);
    let entry = file_entry(&urls, &path, &branch, &file);
    files.insert(path, file);
    r.commit_on(&branch, &body.message);
    let answer = file_commit(
        &world,
        r,
        &branch,
        parent,
        &body.message,
        &caller,
        Some(entry),
    );
    drop(state);
    pushed_unless_default(&world, &owner, &repo, &branch, &caller);
    json_response(status, answer)
}

/// A commit on a branch other than the default one starts its `push` runs. (Pushes to the
/// default branch start none here: scenarios declare the runs they want there.)
fn pushed_unless_default(
    world: &Arc<World>,
    owner: &str,
    repo: &str,
    branch: &str,
    caller: &Caller,
) {
    let is_default = world
        .github
        .lock()
        .expect("github state")
        .repo(owner, repo)
        .is_some_and(|r| r.default_branch == branch);
    if !is_default {
        super::git::pushed(world, owner, repo, branch, &caller.token);
    }
}
