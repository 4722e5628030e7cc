//! The branch probe: a throwaway branch `keyfix-probe/<8 hex>` made from the default branch's
//! head, holding one commit whose tree is the probe workflow alone — so its push starts the
//! probe and no other workflow of the repository — and deleted once the run has reported.

use http::Method;
use serde::Deserialize;
use serde_json::json;

use super::{BRANCH_PREFIX, PATH};
use crate::github::{Access, Answer, Client, Error, RepoName};

#[derive(Deserialize)]
struct Sha {
    sha: String,
}

#[derive(Deserialize)]
struct Reference {
    object: Sha,
}

/// The answer to reading branch `branch`'s reference.
async fn read_ref(client: &Client, repo: &RepoName, branch: &str) -> Result<Answer, Error> {
    client
        .send(
            Method::GET,
            &format!("/repos/{repo}/git/ref/heads/{branch}"),
            None,
            &[],
        )
        .await
}

fn head_of(answer: &Answer) -> Result<String, Error> {
    Ok(answer.json::<Reference>("a branch reference")?.object.sha)
}

/// The head commit of `branch`, `None` when there is no such branch.
async fn head(client: &Client, repo: &RepoName, branch: &str) -> Result<Option<String>, Error> {
    let answer = read_ref(client, repo, branch).await?;
    match answer.status {
        200 => head_of(&answer).map(Some),
        404 => Ok(None),
        _ => Err(client.error_for(&answer, Access::Read, &format!("branch {branch} of {repo}"))),
    }
}

/// Posts a Git object (tree, commit): content-addressed, so sending it again after a lost answer
/// makes the same object or an unreferenced twin, never a second change.
async fn create_object(
    client: &Client,
    repo: &RepoName,
    kind: &str,
    body: &serde_json::Value,
) -> Result<String, Error> {
    let path = format!("/repos/{repo}/git/{kind}");
    let answer = client
        .send_repeatable(Method::POST, &path, Some(body))
        .await?;
    if answer.status != 201 {
        return Err(super::run::write_refusal(
            client,
            &answer,
            repo,
            "a new branch",
        ));
    }
    answer
        .json::<Sha>(&format!("a Git {kind} object in {repo}"))
        .map(|o| o.sha)
}

/// The head commit of the default branch, which must be there.
async fn default_head(
    client: &Client,
    repo: &RepoName,
    default_branch: &str,
) -> Result<String, Error> {
    let answer = read_ref(client, repo, default_branch).await?;
    if answer.status != 200 {
        let what = format!("the default branch {default_branch} of {repo}");
        return Err(client.error_for(&answer, Access::Read, &what));
    }
    head_of(&answer)
}

/// Creates branch `name` at commit `sha`. Not sent twice: after a lost answer the branch's
/// head tells whether it was made.
async fn create_ref(client: &Client, repo: &RepoName, name: &str, sha: &str) -> Result<(), Error> {
    let body = json!({"ref": format!("refs/heads/{name}"), "sha": sha});
    let sent = client
        .send(
            Method::POST,
            &format!("/repos/{repo}/git/refs"),
            Some(&body),
            &[],
        )
        .await;
    let lost = match sent {
        Ok(answer) if answer.status == 201 => return Ok(()),
        Ok(answer) if answer.status < 500 => {
            return Err(super::run::write_refusal(client, &answer, repo, name))
        }
        Ok(answer) => client.error_for(
            &answer,
            Access::WriteWorkflowFile,
            &format!("branch {name} of {repo}"),
        ),
        Err(error) if error.answer_lost() => error,
        Err(error) => return Err(error),
    };
    match head(client, repo, name).await {
        Ok(Some(head)) if head == sha => Ok(()),
        _ => Err(lost),
    }
}

/// Creates branch `name` from `default_branch`'s head with one commit holding `workflow` alone.
pub async fn create(
    client: &Client,
    repo: &RepoName,
    default_branch: &str,
    name: &str,
    workflow: &str,
) -> Result<(), Error> {
    let parent = default_head(client, repo, default_branch).await?;
    let tree = create_object(
        client,
        repo,
        "trees",
        &json!({"tree": [{"path": PATH, "mode": "100644", "type": "blob", "content": workflow}]}),
    )
    .await?;
    let commit = create_object(
        client,
        repo,
        "commits",
        &json!({
            "message": "keyfix probe: one run from a throwaway branch (deleted afterwards)",
            "tree": tree,
            "parents": [parent],
        }),
    )
    .await?;
    create_ref(client, repo, name, &commit).await
}

/// Creates branch `name` at `default_branch`'s head (a branch for a pull request).
pub async fn create_from_head(
    client: &Client,
    repo: &RepoName,
    default_branch: &str,
    name: &str,
) -> Result<(), Error> {
    let parent = default_head(client, repo, default_branch).await?;
    create_ref(client, repo, name, &parent).await
}

#[derive(Deserialize)]
pub struct PullRequest {
    pub number: u64,
    pub html_url: String,
}

/// Opens a pull request from `head` into `base`. Not sent twice: a second one would be refused
/// as a duplicate at best.
pub async fn open_pull_request(
    client: &Client,
    repo: &RepoName,
    head: &str,
    base: &str,
    title: &str,
    body: &str,
) -> Result<PullRequest, Error> {
    let request = json!({"title": title, "head": head, "base": base, "body": body});
    let answer = client
        .send(
            Method::POST,
            &format!("/repos/{repo}/pulls"),
            Some(&request),
            &[],
        )
        .await?;
    if answer.status != 201 {
        return Err(client.error_for(
            &answer,
            Access::OpenPullRequest,
            &format!("a pull request from {head} in {repo}"),
        ));
    }
    answer.json("the new pull request")
}

/// Deletes branch `name`; one that is already gone counts as deleted.
pub async fn delete(client: &Client, repo: &RepoName, name: &str) -> Result<(), Error> {
    let path = format!("/repos/{repo}/git/refs/heads/{name}");
    let answer = client.send_repeatable(Method::DELETE, &path, None).await?;
    let gone = answer.status == 204
        || (answer.status == 422 && answer.message().contains("Reference does not exist"));
    if gone {
        return Ok(());
    }
    Err(client.error_for(
        &answer,
        Access::WriteWorkflowFile,
        &format!("branch {name} of {repo}"),
    ))
}

/// A fresh throwaway branch name.
pub fn new_name() -> String {
    format!("{BRANCH_PREFIX}{}", crate::key::random_hex(4))
}

/// The list of the push runs on branch `name`, where the probe's run appears.
pub fn runs_path(repo: &RepoName, name: &str) -> String {
    format!("/repos/{repo}/actions/runs?branch={name}&event=push&per_page=20")
}

/// The command a person runs to delete a branch keyfix could not.
pub fn delete_command(name: &str) -> String {
    format!("git push origin --delete {name}")
}

#[derive(Deserialize)]
struct Environment {
    #[serde(default)]
    deployment_branch_policy: Option<serde_json::Value>,
}

/// Whether `environment` limits which branches may deploy to it.
pub async fn deployment_restricted(
    client: &Client,
    repo: &RepoName,
    environment: &str,
) -> Result<bool, Error> {
    let encoded: String = url::form_urlencoded::byte_serialize(environment.as_bytes()).collect();
    let found: Environment = client
        .get(
            &format!("/repos/{repo}/environments/{encoded}"),
            Access::Read,
            &format!("environment {environment} of {repo}"),
        )
        .await?;
    Ok(found
        .deployment_branch_policy
        .is_some_and(|policy| !policy.is_null()))
}
