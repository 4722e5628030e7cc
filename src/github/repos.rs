//! Repositories, their owners, and the workflow files on the default branch.

use base64::Engine;
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::Deserialize;

use super::workflows::WorkflowFile;
use super::{Access, Client, Error, RepoName};

#[derive(Clone, Debug, Deserialize)]
pub struct Owner {
    pub login: String,
    #[serde(rename = "type")]
    pub kind: String,
}

impl Owner {
    pub fn is_organization(&self) -> bool {
        self.kind == "Organization"
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct Repository {
    pub id: u64,
    pub name: String,
    pub full_name: String,
    pub owner: Owner,
    #[serde(default)]
    pub private: bool,
    #[serde(default)]
    pub archived: bool,
    pub default_branch: String,
}

impl Repository {
    pub fn repo_name(&self) -> RepoName {
        RepoName {
            owner: self.owner.login.clone(),
            name: self.name.clone(),
        }
    }
}

#[derive(Deserialize)]
struct DirEntry {
    #[serde(rename = "type")]
    kind: String,
    path: String,
}

#[derive(Deserialize)]
struct FileContent {
    content: String,
    #[serde(default)]
    encoding: String,
    sha: String,
}

/// A file's text and blob sha.
pub struct FileText {
    pub text: String,
    pub sha: String,
}

pub async fn get(client: &Client, repo: &RepoName) -> Result<Repository, Error> {
    client
        .get(
            &format!("/repos/{repo}"),
            Access::Read,
            &format!("repository {repo}"),
        )
        .await
}

pub async fn owner(client: &Client, login: &str) -> Result<Owner, Error> {
    client
        .get(
            &format!("/users/{login}"),
            Access::Read,
            &format!("user or organization {login}"),
        )
        .await
}

/// Every repository of a user or organization, paged to the end, in GitHub's order.
pub async fn list_for_owner(client: &Client, owner: &Owner) -> Result<Vec<Repository>, Error> {
    let path = if owner.is_organization() {
        format!("/orgs/{}/repos", owner.login)
    } else {
        format!("/users/{}/repos", owner.login)
    };
    client
        .get_all(
            &path,
            None,
            Access::Read,
            &format!("the repositories of {}", owner.login),
        )
        .await
}

fn encode_path(path: &str) -> String {
    path.split('/')
        .map(|part| url::form_urlencoded::byte_serialize(part.as_bytes()).collect::<String>())
        .collect::<Vec<_>>()
        .join("/")
}

/// A file of the default branch, or `None` when there is none at that path.
pub async fn file(
    client: &Client,
    repo: &RepoName,
    branch: &str,
    path: &str,
) -> Result<Option<FileText>, Error> {
    let url = format!("/repos/{repo}/contents/{}?ref={branch}", encode_path(path));
    let found: Option<FileContent> = client
        .get_optional(&url, Access::Read, &format!("{path} in {repo}"))
        .await?;
    let Some(found) = found else {
        return Ok(None);
    };
    let bad = || Error::Unexpected {
        status: 200,
        what: format!("{path} in {repo}"),
        message: "the file's content is not base64 text".to_owned(),
    };
    if found.encoding != "base64" {
        return Err(bad());
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(found.content.replace(['\n', '\r'], ""))
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    Ok(Some(FileText {
        text,
        sha: found.sha,
    }))
}

/// The workflow files of the default branch, read `concurrency` at a time.
pub async fn workflow_files(
    client: &Client,
    repo: &RepoName,
    branch: &str,
    concurrency: usize,
) -> Result<Vec<WorkflowFile>, Error> {
    let url = format!("/repos/{repo}/contents/.github/workflows?ref={branch}");
    let entries: Option<Vec<DirEntry>> = client
        .get_optional(&url, Access::Read, &format!("the workflows of {repo}"))
        .await?;
    let paths: Vec<String> = entries
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e.kind == "file" && (e.path.ends_with(".yml") || e.path.ends_with(".yaml")))
        .map(|e| e.path)
        .collect();
    stream::iter(paths)
        .map(|path| async move {
            let text = file(client, repo, branch, &path).await?;
            Ok::<_, Error>(text.map(|t| WorkflowFile { path, text: t.text }))
        })
        .buffered(concurrency.max(1))
        .try_filter_map(|file| async move { Ok(file) })
        .try_collect()
        .await
}

/// The model in the repository's `.claude/settings.json`, which Claude Code reads too.
pub async fn settings_model(
    client: &Client,
    repo: &RepoName,
    branch: &str,
) -> Result<Option<String>, Error> {
    settings_file_model(client, repo, branch, ".claude/settings.json").await
}

/// The model a Claude Code settings file in the repository names, if it is there and names one.
pub async fn settings_file_model(
    client: &Client,
    repo: &RepoName,
    branch: &str,
    path: &str,
) -> Result<Option<String>, Error> {
    let path = path.trim().trim_start_matches("./");
    let settings = file(client, repo, branch, path).await?;
    Ok(settings.and_then(|s| super::workflows::model_from_settings(&s.text)))
}
