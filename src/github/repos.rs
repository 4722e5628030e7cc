//! Repositories, their owners, and the workflow files on the default branch.

use base64::Engine;
use futures::stream::{self, StreamExt};
use serde::Deserialize;

use super::workflows::{CalledWorkflow, Callee, Warning, WorkflowFile};
use super::{Access, Client, Error, RepoName};
use crate::net::url_path;

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

/// A file or directory of `.github/workflows`, as a listing names it.
#[derive(Clone, Debug, Deserialize)]
pub struct DirEntry {
    /// `file`, `dir`, `symlink` or `submodule`.
    #[serde(rename = "type")]
    pub kind: String,
    pub path: String,
    #[serde(default)]
    pub size: u64,
    /// The file's text where the listing gave it whole (GraphQL does); read on its own else.
    #[serde(skip)]
    pub text: Option<String>,
}

#[derive(Deserialize)]
struct FileContent {
    #[serde(default)]
    content: String,
    #[serde(default)]
    encoding: String,
    sha: String,
    #[serde(default)]
    size: u64,
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

/// The largest file the Contents API sends the content of; for a larger one (up to GitHub's
/// 100 MiB) it answers `"encoding": "none"` and no content.
pub const CONTENTS_API_MAX_BYTES: u64 = 1024 * 1024;
/// GitHub lists at most this many files of one directory through the Contents API.
pub const DIRECTORY_LISTING_MAX: usize = 1000;
/// The workflow text keyfix reads of one repository; the files past it are named as not read, so
/// that a repository of thousands of large workflows costs bounded memory and time.
pub const WORKFLOW_BUDGET_BYTES: u64 = 16 * 1024 * 1024;

/// Why one file of a repository could not be read as text. The file alone is skipped, with a
/// warning that names it; an error of GitHub's own ([`FileError::Github`]) stops the command.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error(transparent)]
    Github(#[from] Error),
    #[error(
        "it is {size} bytes, over the {} the Contents API sends",
        human_bytes(CONTENTS_API_MAX_BYTES)
    )]
    TooLarge { size: u64 },
    #[error("GitHub sent its content as {0:?}, not base64 text")]
    NotBase64(String),
    #[error("it is not UTF-8 text")]
    NotText,
    #[error(
        "the repository's workflow files are over the {} keyfix reads of one repository",
        human_bytes(WORKFLOW_BUDGET_BYTES)
    )]
    OverBudget,
}

impl FileError {
    /// Whether this concerns the one file (skip it) rather than the token, GitHub or the network.
    fn is_about_the_file(&self) -> bool {
        match self {
            FileError::Github(e) => matches!(e, Error::NotFound { .. } | Error::Unexpected { .. }),
            _ => true,
        }
    }

    /// As a GitHub error, for callers that read one file they cannot do without.
    fn into_github(self, path: &str, repo: &RepoName) -> Error {
        match self {
            FileError::Github(e) => e,
            other => Error::Unexpected {
                status: 200,
                what: format!("{path} in {repo}"),
                message: other.to_string(),
            },
        }
    }
}

fn human_bytes(bytes: u64) -> String {
    format!("{} MiB", bytes / (1024 * 1024))
}

/// A file of `branch`, or `None` when there is none at that path.
pub async fn file(
    client: &Client,
    repo: &RepoName,
    branch: &str,
    path: &str,
) -> Result<Option<FileText>, Error> {
    read_file(client, repo, branch, path)
        .await
        .map_err(|e| e.into_github(path, repo))
}

/// A reusable workflow of another repository at the ref its caller names, read once per run
/// however many jobs and repositories call it. What GitHub will not give (no such repository,
/// ref or file, or none the token can see; a refused permission; a file keyfix cannot read) is
/// the reason it is unreadable; a failure of GitHub or the network stops the command, as for any
/// other read.
pub async fn called_workflow(client: &Client, called: &CalledWorkflow) -> Result<Callee, Error> {
    let cell = client.callee_cell(called);
    let callee = cell
        .get_or_try_init(|| async {
            let read = read_file(client, &called.repo, &called.git_ref, &called.path).await;
            match read {
                Ok(Some(file)) => Ok(Callee::Text(file.text)),
                Ok(None) => Ok(Callee::Unreadable(format!(
                    "GitHub answered 404: {} has no {} at {}, or the token cannot see {}",
                    called.repo, called.path, called.git_ref, called.repo
                ))),
                Err(FileError::Github(e)) if !e.is_access() => Err(e),
                Err(e) => Ok(Callee::Unreadable(e.to_string())),
            }
        })
        .await?;
    Ok(callee.clone())
}

async fn read_file(
    client: &Client,
    repo: &RepoName,
    branch: &str,
    path: &str,
) -> Result<Option<FileText>, FileError> {
    let url = format!(
        "/repos/{repo}/contents/{}?ref={}",
        url_path::path(path),
        url_path::segment(branch)
    );
    let found: Option<FileContent> = client
        .get_optional(&url, Access::Read, &format!("{path} in {repo}"))
        .await?;
    let Some(found) = found else {
        return Ok(None);
    };
    if found.encoding == "none" || found.size > CONTENTS_API_MAX_BYTES {
        return Err(FileError::TooLarge { size: found.size });
    }
    if found.encoding != "base64" {
        return Err(FileError::NotBase64(found.encoding));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(found.content.replace(['\n', '\r'], ""))
        .map_err(|_| FileError::NotBase64(found.encoding))?;
    let text = String::from_utf8(bytes).map_err(|_| FileError::NotText)?;
    Ok(Some(FileText {
        text,
        sha: found.sha,
    }))
}

/// The workflow files of a branch, read `concurrency` at a time, and a warning for each one that
/// could not be read (too large, not text, past the budget); GitHub's own errors stop it.
pub async fn workflow_files(
    client: &Client,
    repo: &RepoName,
    branch: &str,
    concurrency: usize,
) -> Result<(Vec<WorkflowFile>, Vec<Warning>), Error> {
    let url = format!(
        "/repos/{repo}/contents/.github/workflows?ref={}",
        url_path::segment(branch)
    );
    let entries: Vec<DirEntry> = client
        .get_optional(&url, Access::Read, &format!("the workflows of {repo}"))
        .await?
        .unwrap_or_default();
    let mut warnings = Vec::new();
    if entries.len() >= DIRECTORY_LISTING_MAX {
        warnings.push(Warning::new(
            ".github/workflows",
            format!("GitHub lists only the first {DIRECTORY_LISTING_MAX} files of a directory; workflows past those were not read"),
        ));
    }
    let (files, unread) = read_workflows(client, repo, branch, entries, concurrency).await?;
    warnings.extend(unread);
    Ok((files, warnings))
}

/// The workflow files of `entries` (a listing of `.github/workflows` on `branch`): the text an
/// entry holds already, else read `concurrency` at a time; a warning for each one that could not
/// be read (too large, not text, past the budget); GitHub's own errors stop it.
pub async fn read_workflows(
    client: &Client,
    repo: &RepoName,
    branch: &str,
    entries: Vec<DirEntry>,
    concurrency: usize,
) -> Result<(Vec<WorkflowFile>, Vec<Warning>), Error> {
    let mut warnings = Vec::new();
    let entries: Vec<DirEntry> = entries
        .into_iter()
        .filter(|e| e.kind == "file" && (e.path.ends_with(".yml") || e.path.ends_with(".yaml")))
        .collect();
    let mut budget = WORKFLOW_BUDGET_BYTES;
    let mut files = Vec::new();
    let mut reads = stream::iter(entries)
        .map(|entry| async move {
            let read = match entry.text {
                _ if entry.size > CONTENTS_API_MAX_BYTES => {
                    Err(FileError::TooLarge { size: entry.size })
                }
                Some(text) => Ok(Some(text)),
                None => read_file(client, repo, branch, &entry.path)
                    .await
                    .map(|file| file.map(|f| f.text)),
            };
            (entry.path, read)
        })
        .buffered(concurrency.max(1));
    while let Some((path, read)) = reads.next().await {
        let read = read.and_then(|text| match text {
            Some(t) if t.len() as u64 > budget => Err(FileError::OverBudget),
            other => Ok(other),
        });
        match read {
            Ok(Some(text)) => {
                budget -= text.len() as u64;
                files.push(WorkflowFile { path, text });
            }
            Ok(None) => {}
            Err(e) if e.is_about_the_file() => warnings.push(Warning::new(
                &path,
                format!("keyfix cannot read this workflow ({e}); it was skipped"),
            )),
            Err(e) => return Err(e.into_github(&path, repo)),
        }
    }
    Ok((files, warnings))
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
