//! `keyfix probe print`, `install` and `remove`: the probe workflow, shown, committed or deleted.

use crate::github::survey::Survey;
use crate::github::workflows::DEFAULT_SECRET;
use crate::github::{names, Client, RepoName};
use crate::key::random_hex;
use crate::outcome::{Action, Failure, Finished, ProbeReport};
use crate::probe::run::{self, Installed};
use crate::probe::{self, branch, ProbeSpec, RunValues, Trigger};
use crate::work::probe::{commit, Committed};
use crate::work::Context;

/// The probe for `repo` (its Claude steps' secrets and environments), or a generic one for
/// `secret` (default `ANTHROPIC_API_KEY`) when no repository is named.
async fn spec_for(
    repo: Option<&RepoName>,
    secret: Option<&str>,
    ctx: &Context,
) -> Result<(ProbeSpec, Option<String>), Failure> {
    let secret = secret.map(names::parse_secret_name).transpose()?;
    let Some(repo) = repo else {
        return Ok((
            ProbeSpec::single(secret.as_deref().unwrap_or(DEFAULT_SECRET)),
            None,
        ));
    };
    let client = ctx.github_client()?;
    let survey = Survey::read(&client, repo, 4).await?;
    let (spec, branch) = match &survey {
        Some(survey) => (
            ProbeSpec::for_survey(survey, secret.as_deref()),
            survey.repository.default_branch.clone(),
        ),
        None => {
            let repository = crate::github::repos::get(&client, repo).await?;
            (
                ProbeSpec::single(secret.as_deref().unwrap_or(DEFAULT_SECRET)),
                repository.default_branch,
            )
        }
    };
    Ok((spec, Some(branch)))
}

/// The workflow text, to stdout: as installed on the default branch, or as a branch probe
/// pushes it, one run's values shown as placeholders.
pub async fn print(
    repo: Option<String>,
    secret: Option<String>,
    branch: bool,
    ctx: &Context,
) -> Finished<ProbeReport> {
    let mut report = ProbeReport::default();
    let result = async {
        let repo = repo.as_deref().map(RepoName::parse).transpose()?;
        report.repo = repo.as_ref().map(ToString::to_string);
        let (spec, _) = spec_for(repo.as_ref(), secret.as_deref(), ctx).await?;
        let placeholders = RunValues {
            correlation_id: "CORRELATION_ID",
            nonce: "NONCE",
            model: "MODEL",
        };
        let trigger = if branch {
            Trigger::Push(&placeholders)
        } else {
            Trigger::Dispatch
        };
        report.workflow = Some(probe::render_for(&spec, trigger));
        Ok(())
    }
    .await;
    Finished::of(report, result)
}

/// Commits the probe to the default branch (the command is the consent), or leaves an
/// up-to-date one alone; with `pull_request`, opens a pull request that adds it instead.
pub async fn install(
    repo: String,
    secret: Option<String>,
    pull_request: bool,
    ctx: &Context,
) -> Finished<ProbeReport> {
    let mut report = ProbeReport::default();
    let result = async {
        let repo = RepoName::parse(&repo)?;
        report.repo = Some(repo.to_string());
        let (spec, branch) = spec_for(Some(&repo), secret.as_deref(), ctx).await?;
        let branch = branch.expect("a repository was named");
        let client = ctx.github_client()?;
        if pull_request {
            return propose(&client, &repo, &branch, &spec, ctx, &mut report.actions).await;
        }
        let text = probe::render(&spec);
        let state = run::installed(&client, &repo, &branch, &text).await?;
        if state == Installed::UpToDate {
            ctx.progress
                .step(&format!("{} on {repo} is up to date.", probe::PATH));
            return Ok(());
        }
        match commit(
            &client,
            &repo,
            &branch,
            &text,
            &state,
            ctx,
            &mut report.actions,
        )
        .await?
        {
            Committed::Yes => Ok(()),
            Committed::Refused { message } => Err(crate::github::Error::BranchProtected {
                repo: repo.to_string(),
                branch,
                message,
            }
            .into()),
        }
    }
    .await;
    Finished::of(report, result)
}

/// Opens a pull request that adds (or updates) the probe on the default branch, from a branch
/// of its own; an up-to-date probe needs none.
async fn propose(
    client: &Client,
    repo: &RepoName,
    default_branch: &str,
    spec: &ProbeSpec,
    ctx: &Context,
    actions: &mut Vec<Action>,
) -> Result<(), Failure> {
    let text = probe::render(spec);
    if run::installed(client, repo, default_branch, &text).await? == Installed::UpToDate {
        ctx.progress
            .step(&format!("{} on {repo} is up to date.", probe::PATH));
        return Ok(());
    }
    let name = format!("keyfix/add-probe-{}", random_hex(4));
    ctx.progress
        .step(&format!("Opening a pull request from {name} of {repo} …"));
    branch::create_from_head(client, repo, default_branch, &name).await?;
    let state = run::installed(client, repo, &name, &text).await?;
    run::install(client, repo, &name, &text, &state).await?;
    let body = format!(
        "This adds `{}`, the probe `keyfix check` and `keyfix repo` run to test the Anthropic key stored in this repository's secrets from inside Actions. It runs only when dispatched, has no permissions, uses no actions, and prints one report line with salted fingerprints — nothing of the key.",
        probe::PATH
    );
    let opened = branch::open_pull_request(
        client,
        repo,
        &name,
        default_branch,
        &format!("Add the keyfix probe workflow (v{})", probe::VERSION),
        &body,
    )
    .await?;
    actions.push(Action::PullRequestOpened {
        number: opened.number,
        url: opened.html_url,
        branch: name,
    });
    Ok(())
}

/// Deletes the probe from the default branch (the command is the consent), or says there is none.
pub async fn remove(repo: String, ctx: &Context) -> Finished<ProbeReport> {
    let mut report = ProbeReport::default();
    let result = async {
        let repo = RepoName::parse(&repo)?;
        report.repo = Some(repo.to_string());
        let client = ctx.github_client()?;
        let branch = crate::github::repos::get(&client, &repo)
            .await?
            .default_branch;
        if crate::probe::run::remove(&client, &repo, &branch).await? {
            report.actions.push(Action::ProbeRemoved {
                path: probe::PATH.to_owned(),
            });
        } else {
            ctx.progress
                .step(&format!("{} is not on {repo}:{branch}.", probe::PATH));
        }
        Ok(())
    }
    .await;
    Finished::of(report, result)
}
