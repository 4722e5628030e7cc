//! Running the probe: install or update the workflow, dispatch it, find its run, wait for it,
//! and read the report from the job logs.

use std::time::{Duration, Instant};

use base64::Engine;
use http::Method;
use serde::Deserialize;
use serde_json::json;

use super::{find_report, installed_version, Report, FILE, PATH, VERSION};
use crate::github::repos;
use crate::github::runs::{self, WatchError, WorkflowRun};
use crate::github::{Access, Client, Error, RepoName};

/// Why a probe run gave no report (exit 18), or why it could not be run.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error(transparent)]
    Github(#[from] Error),
    #[error("the probe run {url} was cancelled before it reported; run keyfix again")]
    Cancelled { url: String },
    #[error(
        "the probe run failed before it reported (job {job}: {conclusion}); its log is at {url}"
    )]
    FailedBeforeReport {
        job: String,
        conclusion: String,
        url: String,
    },
    #[error("the probe run waits for a reviewer to approve environment {environment}: approve it at {url}, then run keyfix again")]
    WaitingForApproval { environment: String, url: String },
    #[error("the probe run was still {status} after {waited} s (--timeout): see {url}; a queued run may be waiting for a free runner")]
    TimedOut {
        status: String,
        waited: u64,
        url: String,
    },
    #[error(
        "the probe run did not appear within {waited} s; look at the Actions tab of the repository"
    )]
    RunNotFound { waited: u64 },
    #[error("the probe job {job} failed before any step ran; its run is at {url}")]
    JobNotStarted { job: String, url: String },
    #[error("environment {environment} refused the probe job: its deployment branches do not include {branch}. Allow `keyfix-probe/*` in the environment's deployment branches (Settings → Environments → {environment}), or put the probe on the default branch through a pull request: `keyfix probe install --pull-request {repo}`")]
    EnvironmentRefused {
        environment: String,
        branch: String,
        repo: String,
    },
}

/// The probe on the default branch, compared with the one keyfix would install.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Installed {
    UpToDate,
    Missing,
    /// Present with other content (an older version, or other secret names); `sha` to update.
    Outdated {
        sha: String,
        version: Option<u32>,
    },
}

pub async fn installed(
    client: &Client,
    repo: &RepoName,
    branch: &str,
    wanted: &str,
) -> Result<Installed, Error> {
    Ok(match repos::file(client, repo, branch, PATH).await? {
        None => Installed::Missing,
        Some(file) if file.text == wanted => Installed::UpToDate,
        Some(file) => Installed::Outdated {
            version: installed_version(&file.text),
            sha: file.sha,
        },
    })
}

/// Commits the probe to the default branch (with `sha` when it replaces an older one).
pub async fn install(
    client: &Client,
    repo: &RepoName,
    branch: &str,
    text: &str,
    state: &Installed,
) -> Result<(), Error> {
    let message = match state {
        Installed::Missing => format!("Add keyfix probe workflow (v{VERSION})"),
        _ => format!("Update keyfix probe workflow (v{VERSION})"),
    };
    let mut body = json!({
        "message": message,
        "content": base64::engine::general_purpose::STANDARD.encode(text.as_bytes()),
        "branch": branch,
    });
    if let Installed::Outdated { sha, .. } = state {
        body["sha"] = json!(sha);
    }
    let answer = client
        .send(
            Method::PUT,
            &format!("/repos/{repo}/contents/{PATH}"),
            Some(&body),
            &[],
        )
        .await?;
    match answer.status {
        200 | 201 => Ok(()),
        _ => Err(write_refusal(client, &answer, repo, branch)),
    }
}

/// Deletes the probe from the default branch; `false` when there was none to delete.
pub async fn remove(client: &Client, repo: &RepoName, branch: &str) -> Result<bool, Error> {
    let Some(file) = repos::file(client, repo, branch, PATH).await? else {
        return Ok(false);
    };
    let body = json!({
        "message": "Remove keyfix probe workflow",
        "sha": file.sha,
        "branch": branch,
    });
    let answer = client
        .send(
            Method::DELETE,
            &format!("/repos/{repo}/contents/{PATH}"),
            Some(&body),
            &[],
        )
        .await?;
    match answer.status {
        200 => Ok(true),
        _ => Err(write_refusal(client, &answer, repo, branch)),
    }
}

/// The error of a refused write of the probe file: rules that protect `branch` (a ruleset's 409,
/// classic protection's 422 or 403), or a token without the workflow scope, to which GitHub may
/// answer 404 rather than 403.
pub fn write_refusal(
    client: &Client,
    answer: &crate::github::client::Answer,
    repo: &RepoName,
    branch: &str,
) -> Error {
    let message = answer.message();
    let lower = message.to_lowercase();
    if matches!(answer.status, 403 | 409 | 422)
        && (lower.contains("rule violation") || lower.contains("protected branch"))
    {
        return Error::BranchProtected {
            repo: repo.to_string(),
            branch: branch.to_owned(),
            message: message.lines().next().unwrap_or_default().trim().to_owned(),
        };
    }
    if matches!(answer.status, 403 | 404) && !lower.contains("rate limit") {
        return client.permission_error(answer, Access::WriteWorkflowFile);
    }
    client.error_for(
        answer,
        Access::WriteWorkflowFile,
        &format!("{PATH} in {repo}"),
    )
}

/// The inputs of one probe run.
pub struct Dispatch<'a> {
    pub branch: &'a str,
    pub correlation_id: &'a str,
    pub nonce: &'a str,
    pub model: &'a str,
}

#[derive(Deserialize)]
struct RunDetails {
    workflow_run_id: u64,
}

/// Dispatches the probe and returns its run id. A 422 to `return_run_details` (GitHub
/// Enterprise Server) and a 404 right after installing mean GitHub did not start a run, so
/// sending again starts no second one.
pub async fn dispatch(
    client: &Client,
    repo: &RepoName,
    inputs: &Dispatch<'_>,
    fresh_install: bool,
) -> Result<u64, ProbeError> {
    let path = format!("/repos/{repo}/actions/workflows/{FILE}/dispatches");
    let mut body = json!({
        "ref": inputs.branch,
        "inputs": {
            "correlation_id": inputs.correlation_id,
            "nonce": inputs.nonce,
            "model": inputs.model,
        },
        "return_run_details": true,
    });
    let started = Instant::now();
    let mut not_found_tries = 0;
    loop {
        let answer = client.send(Method::POST, &path, Some(&body), &[]).await?;
        match answer.status {
            200 => {
                let details: RunDetails = answer.json("the dispatch answer")?;
                return Ok(details.workflow_run_id);
            }
            204 => {
                let runs = format!(
                    "/repos/{repo}/actions/workflows/{FILE}/runs?event=workflow_dispatch&per_page=20"
                );
                return find_run(client, &runs, inputs.correlation_id, started).await;
            }
            422 if body.get("return_run_details").is_some()
                && answer.message().contains("return_run_details") =>
            {
                body.as_object_mut()
                    .expect("object")
                    .remove("return_run_details");
            }
            404 if fresh_install && not_found_tries < 10 => {
                // A workflow just committed takes GitHub a moment to register.
                not_found_tries += 1;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            _ => {
                return Err(client
                    .error_for(
                        &answer,
                        Access::WriteActions,
                        &format!("the probe workflow of {repo}"),
                    )
                    .into())
            }
        }
    }
}

#[derive(Deserialize)]
struct RunList {
    workflow_runs: Vec<WorkflowRun>,
}

/// Finds the run, among those `runs` lists, whose title carries the correlation id (the
/// probe's `run-name`).
pub async fn find_run(
    client: &Client,
    runs: &str,
    correlation_id: &str,
    started: Instant,
) -> Result<u64, ProbeError> {
    let limit = Duration::from_secs(60);
    let mut interval = Duration::from_millis(250);
    loop {
        let list: RunList = client.get(runs, Access::Read, "the probe's runs").await?;
        let found = list.workflow_runs.iter().find(|run| {
            [&run.display_title, &run.name]
                .iter()
                .any(|t| t.as_deref().is_some_and(|t| t.contains(correlation_id)))
        });
        if let Some(run) = found {
            return Ok(run.id);
        }
        if started.elapsed() > limit {
            return Err(ProbeError::RunNotFound {
                waited: started.elapsed().as_secs(),
            });
        }
        tokio::time::sleep(interval).await;
        interval = (interval * 2).min(Duration::from_secs(3));
    }
}

/// What a finished probe run gave.
pub struct ProbeRun {
    pub url: String,
    pub reports: Vec<Report>,
}

/// Waits for the probe run and reads one report per job. `on_status` hears each new status.
pub async fn wait_and_read(
    client: &Client,
    repo: &RepoName,
    run_id: u64,
    correlation_id: &str,
    timeout: Duration,
    mut on_status: impl FnMut(&str),
) -> Result<ProbeRun, ProbeError> {
    let watched = runs::watch(client, repo, run_id, 0, timeout, |run| {
        let status = run.status.as_deref().unwrap_or("queued");
        on_status(status);
        status != "waiting"
    })
    .await;
    let run = match watched {
        Ok(run) => run,
        Err(WatchError::Stopped(run)) => {
            let environment = runs::jobs(client, repo, run_id)
                .await?
                .into_iter()
                .find(|j| j.status.as_deref() == Some("waiting"))
                .map_or_else(|| "of the probe job".to_owned(), |j| j.name);
            return Err(ProbeError::WaitingForApproval {
                environment,
                url: run.html_url.unwrap_or_default(),
            });
        }
        Err(WatchError::TimedOut {
            status,
            waited,
            url,
            ..
        }) => {
            return Err(ProbeError::TimedOut {
                status,
                waited,
                url,
            })
        }
        Err(WatchError::Github(e)) => return Err(e.into()),
    };
    let url = run.html_url.clone().unwrap_or_default();
    if run.conclusion.as_deref() == Some("cancelled") {
        return Err(ProbeError::Cancelled { url });
    }
    let mut reports = Vec::new();
    for job in runs::jobs(client, repo, run_id).await? {
        if job.failed_unstarted() {
            return Err(ProbeError::JobNotStarted { job: job.name, url });
        }
        let log = runs::job_log(client, repo, job.id).await?;
        match find_report(&log, correlation_id) {
            Some(report) => reports.push(report),
            None => {
                return Err(ProbeError::FailedBeforeReport {
                    job: job.name,
                    conclusion: job.conclusion.unwrap_or_else(|| "no conclusion".to_owned()),
                    url,
                })
            }
        }
    }
    Ok(ProbeRun { url, reports })
}
