//! Secrets at repository, environment and organization level. Every `PUT` is unsealed with the
//! scope's private key, so a box sealed with the wrong key, or sent with the wrong `key_id`, fails
//! here as it would at GitHub.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::objects::{self, RepoForm};
use super::state::{KeyPair, OrgSecret, Perm, Stored};
use super::{counted_page, error, json_response, not_found, Caller, PageQuery};
use crate::World;

pub fn routes() -> Router<Arc<World>> {
    Router::new()
        .route(
            "/repos/{owner}/{repo}/actions/secrets/public-key",
            get(repo_public_key),
        )
        .route("/repos/{owner}/{repo}/actions/secrets", get(repo_list))
        .route(
            "/repos/{owner}/{repo}/actions/secrets/{name}",
            get(repo_get).put(repo_put),
        )
        .route(
            "/repos/{owner}/{repo}/actions/organization-secrets",
            get(repo_org_list),
        )
        .route(
            "/repos/{owner}/{repo}/environments/{env}/secrets/public-key",
            get(env_public_key),
        )
        .route(
            "/repos/{owner}/{repo}/environments/{env}/secrets",
            get(env_list),
        )
        .route(
            "/repos/{owner}/{repo}/environments/{env}/secrets/{name}",
            get(env_get).put(env_put),
        )
        .route(
            "/orgs/{org}/actions/secrets/public-key",
            get(org_public_key),
        )
        .route("/orgs/{org}/actions/secrets", get(org_list))
        .route(
            "/orgs/{org}/actions/secrets/{name}",
            get(org_get).put(org_put),
        )
        .route(
            "/orgs/{org}/actions/secrets/{name}/repositories",
            get(org_selected),
        )
}

fn public_key(keys: &KeyPair) -> Response {
    json_response(
        StatusCode::OK,
        json!({"key_id": keys.key_id, "key": keys.public_base64()}),
    )
}

fn secret_json(name: &str, stored: &Stored) -> Value {
    json!({"name": name, "created_at": stored.created_at, "updated_at": stored.updated_at})
}

fn list(world: &World, path: &str, query: &PageQuery, items: Vec<Value>) -> Response {
    counted_page(world, path, query, items, "secrets")
}

#[derive(Deserialize)]
struct SealedSecret {
    encrypted_value: Option<String>,
    key_id: Option<String>,
    visibility: Option<String>,
    selected_repository_ids: Option<Vec<u64>>,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && !name.to_ascii_uppercase().starts_with("GITHUB_")
}

/// Opens the box and stores the value: 201 when created, 204 when updated.
fn store(
    secrets: &mut BTreeMap<String, Stored>,
    keys: &KeyPair,
    name: &str,
    body: &SealedSecret,
) -> Result<StatusCode, Response> {
    let value = unseal(keys, name, body)?;
    let now = crate::time::rfc3339(crate::time::now_epoch_millis());
    let name = name.to_ascii_uppercase();
    let status = match secrets.get_mut(&name) {
        Some(existing) => {
            existing.value = value;
            existing.updated_at = now;
            StatusCode::NO_CONTENT
        }
        None => {
            secrets.insert(
                name,
                Stored {
                    value,
                    created_at: now.clone(),
                    updated_at: now,
                },
            );
            StatusCode::CREATED
        }
    };
    Ok(status)
}

fn unseal(keys: &KeyPair, name: &str, body: &SealedSecret) -> Result<String, Response> {
    if !valid_name(name) {
        return Err(error(StatusCode::UNPROCESSABLE_ENTITY, "Secret names can only contain alphanumeric characters ([a-z], [A-Z], [0-9]) or underscores (_)."));
    }
    let (Some(value), Some(key_id)) = (&body.encrypted_value, &body.key_id) else {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid request.\n\n\"key_id\" wasn't supplied.",
        ));
    };
    keys.unseal(key_id, value).map_err(|why| {
        error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("Bad request: {why}"),
        )
    })
}

fn created_or_updated(status: StatusCode) -> Response {
    if status == StatusCode::CREATED {
        (status, Json(json!({}))).into_response()
    } else {
        status.into_response()
    }
}

macro_rules! with_repo {
    ($world:expr, $owner:expr, $repo:expr, |$state:ident, $r:ident| $body:expr) => {{
        let $state = $world.github.lock().expect("github state");
        match $state.repo(&$owner, &$repo) {
            Some($r) => $body,
            None => not_found(),
        }
    }};
}

async fn repo_public_key(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path((owner, repo)): Path<(String, String)>,
) -> Response {
    if let Err(refusal) = caller.require(Perm::SecretsRead) {
        return refusal;
    }
    with_repo!(world, owner, repo, |state, r| public_key(&r.keys))
}

async fn repo_list(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path((owner, repo)): Path<(String, String)>,
    Query(query): Query<PageQuery>,
    uri: OriginalUri,
) -> Response {
    if let Err(refusal) = caller.require(Perm::SecretsRead) {
        return refusal;
    }
    with_repo!(world, owner, repo, |state, r| {
        let items = r.secrets.iter().map(|(n, s)| secret_json(n, s)).collect();
        list(&world, uri.path(), &query, items)
    })
}

async fn repo_get(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path((owner, repo, name)): Path<(String, String, String)>,
) -> Response {
    if let Err(refusal) = caller.require(Perm::SecretsRead) {
        return refusal;
    }
    with_repo!(
        world,
        owner,
        repo,
        |state, r| match r.secrets.get(&name.to_ascii_uppercase()) {
            Some(s) => json_response(StatusCode::OK, secret_json(&name.to_ascii_uppercase(), s)),
            None => not_found(),
        }
    )
}

async fn repo_put(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path((owner, repo, name)): Path<(String, String, String)>,
    Json(body): Json<SealedSecret>,
) -> Response {
    if let Err(refusal) = caller.require(Perm::SecretsWrite) {
        return refusal;
    }
    let mut state = world.github.lock().expect("github state");
    let Some(r) = state.repo_mut(&owner, &repo) else {
        return not_found();
    };
    if r.archived {
        return error(
            StatusCode::FORBIDDEN,
            "Repository was archived so is read-only.",
        );
    }
    match store(&mut r.secrets, &r.keys, &name, &body) {
        Ok(status) => created_or_updated(status),
        Err(refusal) => refusal,
    }
}

async fn repo_org_list(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path((owner, repo)): Path<(String, String)>,
    Query(query): Query<PageQuery>,
    uri: OriginalUri,
) -> Response {
    if let Err(refusal) = caller.require(Perm::SecretsRead) {
        return refusal;
    }
    with_repo!(world, owner, repo, |state, r| {
        let items = state
            .owner(&r.owner)
            .map(|o| {
                // Listed for the repository: names and dates, not the organization's settings.
                o.secrets
                    .iter()
                    .filter(|(_, s)| o.secret_visible_to(s, r))
                    .map(|(n, s)| secret_json(n, &s.stored))
                    .collect()
            })
            .unwrap_or_default();
        list(&world, uri.path(), &query, items)
    })
}

async fn env_public_key(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path((owner, repo, env)): Path<(String, String, String)>,
) -> Response {
    if let Err(refusal) = caller.require(Perm::EnvironmentsRead) {
        return refusal;
    }
    with_repo!(
        world,
        owner,
        repo,
        |state, r| match r.environments.get(&env) {
            Some(e) => public_key(&e.keys),
            None => not_found(),
        }
    )
}

async fn env_list(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path((owner, repo, env)): Path<(String, String, String)>,
    Query(query): Query<PageQuery>,
    uri: OriginalUri,
) -> Response {
    if let Err(refusal) = caller.require(Perm::EnvironmentsRead) {
        return refusal;
    }
    with_repo!(
        world,
        owner,
        repo,
        |state, r| match r.environments.get(&env) {
            Some(e) => {
                let items = e.secrets.iter().map(|(n, s)| secret_json(n, s)).collect();
                list(&world, uri.path(), &query, items)
            }
            None => not_found(),
        }
    )
}

async fn env_get(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path((owner, repo, env, name)): Path<(String, String, String, String)>,
) -> Response {
    if let Err(refusal) = caller.require(Perm::EnvironmentsRead) {
        return refusal;
    }
    let name = name.to_ascii_uppercase();
    with_repo!(world, owner, repo, |state, r| match r
        .environments
        .get(&env)
        .and_then(|e| e.secrets.get(&name))
    {
        Some(s) => json_response(StatusCode::OK, secret_json(&name, s)),
        None => not_found(),
    })
}

async fn env_put(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path((owner, repo, env, name)): Path<(String, String, String, String)>,
    Json(body): Json<SealedSecret>,
) -> Response {
    if let Err(refusal) = caller.require(Perm::EnvironmentsWrite) {
        return refusal;
    }
    let mut state = world.github.lock().expect("github state");
    let Some(e) = state
        .repo_mut(&owner, &repo)
        .and_then(|r| r.environments.get_mut(&env))
    else {
        return not_found();
    };
    match store(&mut e.secrets, &e.keys, &name, &body) {
        Ok(status) => created_or_updated(status),
        Err(refusal) => refusal,
    }
}

fn org_secret_json(world: &World, org: &str, name: &str, secret: &OrgSecret) -> Value {
    let mut value = secret_json(name, &secret.stored);
    value["visibility"] = json!(secret.visibility);
    if secret.visibility == "selected" {
        value["selected_repositories_url"] = json!(format!(
            "{}/orgs/{org}/actions/secrets/{name}/repositories",
            world.github_url()
        ));
    }
    value
}

async fn org_public_key(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(org): Path<String>,
) -> Response {
    if let Err(refusal) = caller.require(Perm::OrgSecretsRead) {
        return refusal;
    }
    let state = world.github.lock().expect("github state");
    match state.owner(&org) {
        Some(o) => public_key(&o.keys),
        None => not_found(),
    }
}

async fn org_list(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path(org): Path<String>,
    Query(query): Query<PageQuery>,
    uri: OriginalUri,
) -> Response {
    if let Err(refusal) = caller.require(Perm::OrgSecretsRead) {
        return refusal;
    }
    let state = world.github.lock().expect("github state");
    let Some(o) = state.owner(&org) else {
        return not_found();
    };
    let items = o
        .secrets
        .iter()
        .map(|(n, s)| org_secret_json(&world, &o.login, n, s))
        .collect();
    list(&world, uri.path(), &query, items)
}

async fn org_get(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path((org, name)): Path<(String, String)>,
) -> Response {
    if let Err(refusal) = caller.require(Perm::OrgSecretsRead) {
        return refusal;
    }
    let state = world.github.lock().expect("github state");
    let name = name.to_ascii_uppercase();
    match state
        .owner(&org)
        .and_then(|o| o.secrets.get(&name).map(|s| (o, s)))
    {
        Some((o, s)) => json_response(StatusCode::OK, org_secret_json(&world, &o.login, &name, s)),
        None => not_found(),
    }
}

async fn org_selected(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path((org, name)): Path<(String, String)>,
    Query(query): Query<PageQuery>,
    uri: OriginalUri,
) -> Response {
    if let Err(refusal) = caller.require(Perm::OrgSecretsRead) {
        return refusal;
    }
    let state = world.github.lock().expect("github state");
    let Some(s) = state
        .owner(&org)
        .and_then(|o| o.secrets.get(&name.to_ascii_uppercase()))
    else {
        return not_found();
    };
    if s.visibility != "selected" {
        return error(
            StatusCode::CONFLICT,
            "The visibility of this secret is not set to selected.",
        );
    }
    let items: Vec<Value> = state
        .repos
        .iter()
        .filter(|r| s.selected.contains(&r.id))
        .map(|r| objects::repository(&world, &state, r, RepoForm::Listed))
        .collect();
    counted_page(&world, uri.path(), &query, items, "repositories")
}

async fn org_put(
    State(world): State<Arc<World>>,
    Extension(caller): Extension<Caller>,
    Path((org, name)): Path<(String, String)>,
    Json(body): Json<SealedSecret>,
) -> Response {
    if let Err(refusal) = caller.require(Perm::OrgSecretsWrite) {
        return refusal;
    }
    let Some(visibility) = body
        .visibility
        .clone()
        .filter(|v| ["all", "private", "selected"].contains(&v.as_str()))
    else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid request.\n\n\"visibility\" wasn't supplied.",
        );
    };
    let mut state = world.github.lock().expect("github state");
    let Some(o) = state.owner_mut(&org) else {
        return not_found();
    };
    let value = match unseal(&o.keys, &name, &body) {
        Ok(value) => value,
        Err(refusal) => return refusal,
    };
    let now = crate::time::rfc3339(crate::time::now_epoch_millis());
    let name = name.to_ascii_uppercase();
    let selected = body.selected_repository_ids.clone();
    let status = match o.secrets.get_mut(&name) {
        Some(existing) => {
            existing.stored.value = value;
            existing.stored.updated_at = now;
            existing.visibility = visibility;
            if let Some(ids) = selected {
                existing.selected = ids.into_iter().collect();
            }
            StatusCode::NO_CONTENT
        }
        None => {
            let stored = Stored {
                value,
                created_at: now.clone(),
                updated_at: now,
            };
            let selected = selected.unwrap_or_default().into_iter().collect();
            o.secrets.insert(
                name,
                OrgSecret {
                    stored,
                    visibility,
                    selected,
                },
            );
            StatusCode::CREATED
        }
    };
    created_or_updated(status)
}
