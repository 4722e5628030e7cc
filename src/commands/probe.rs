//! `keyfix probe print`, `install` and `remove`: the probe workflow, shown, committed or deleted.

use crate::github::survey::Survey;
use crate::github::workflows::DEFAULT_SECRET;
use crate::github::{names, RepoName};
use crate::outcome::{Action, Failure, Finished, ProbeReport};
use crate::probe::{self, ProbeSpec};
use crate::work::probe::ready;
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

/// The workflow text, to stdout.
pub async fn print(
    repo: Option<String>,
    secret: Option<String>,
    ctx: &Context,
) -> Finished<ProbeReport> {
    let mut report = ProbeReport::default();
    let result = async {
        let repo = repo.as_deref().map(RepoName::parse).transpose()?;
        report.repo = repo.as_ref().map(ToString::to_string);
        let (spec, _) = spec_for(repo.as_ref(), secret.as_deref(), ctx).await?;
        report.workflow = Some(probe::render(&spec));
        Ok(())
    }
    .await;
    Finished::of(report, result)
}

/// Commits the probe to the default branch (the command is the consent), or leaves an
/// up-to-date one alone.
pub async fn install(repo: String, secret: Option<String>, ctx: &Context) -> Finished<ProbeReport> {
    let mut report = ProbeReport::default();
    let result = async {
        let repo = RepoName::parse(&repo)?;
        report.repo = Some(repo.to_string());
        let (spec, branch) = spec_for(Some(&repo), secret.as_deref(), ctx).await?;
        let branch = branch.expect("a repository was named");
        let client = ctx.github_client()?;
        let before = report.actions.len();
        if ready(
            &client,
            &repo,
            &branch,
            &spec,
            true,
            ctx,
            &mut report.actions,
        )
        .await?
        .is_ok()
            && report.actions.len() == before
        {
            ctx.progress
                .step(&format!("{} on {repo} is up to date.", probe::PATH));
        }
        Ok(())
    }
    .await;
    Finished::of(report, result)
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
