//! The targets of a rotation: named ones, a file's, an owner's repositories, surveyed into the
//! secret uses the plan is built from.

use std::collections::BTreeSet;

use futures::stream::{self, StreamExt};

use crate::github::graphql::Discovered;
use crate::github::reach::OrganizationSecrets;
use crate::github::survey::{self, Survey};
use crate::github::workflows::DEFAULT_SECRET;
use crate::github::{Client, RepoName};
use crate::outcome::{Failure, FailureKind};
use crate::output::counted;
use crate::work::Context;

use super::plan::{SecretUse, Surveyed};
use super::RotateOptions;

/// Targets from arguments, then the file, then the owner's repositories; duplicates once.
pub(super) fn named_targets(options: &RotateOptions) -> Result<Vec<RepoName>, Failure> {
    let mut names: Vec<String> = options.targets.clone();
    if let Some(path) = &options.targets_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Failure::new(
                FailureKind::Usage,
                format!("cannot read --targets-file {}: {e}", path.display()),
            )
        })?;
        names.extend(
            text.lines()
                .map(|l| l.split('#').next().unwrap_or_default().trim())
                .filter(|l| !l.is_empty())
                .map(str::to_owned),
        );
    }
    let mut repos: Vec<RepoName> = Vec::new();
    for name in names {
        let repo = RepoName::parse(&name)?;
        if !repos.contains(&repo) {
            repos.push(repo);
        }
    }
    Ok(repos)
}

/// Surveys the named repositories and the owner's (those with a Claude workflow), `concurrency`
/// at a time, into the secret uses the plan is built from.
pub(super) async fn survey_targets(
    client: &Client,
    named: &[RepoName],
    owner: Option<&str>,
    secret: Option<&str>,
    concurrency: usize,
    ctx: &Context,
) -> Result<Vec<Surveyed>, Failure> {
    // A named target is read first; a listed one is known from the listing already.
    let mut targets: Vec<(RepoName, Option<Discovered>)> =
        named.iter().map(|r| (r.clone(), None)).collect();
    let mut organization = OrganizationSecrets::PerRepository;
    if let Some(owner) = owner {
        let listed = survey::owner_repositories(client, owner).await?;
        organization = listed.organization_secrets;
        for found in listed.found {
            let name = found.repository.repo_name();
            if !targets.iter().any(|(r, _)| *r == name) && !found.repository.archived {
                targets.push((name, Some(found)));
            }
        }
    }
    let organization = &organization;
    let results: Vec<Result<Option<Surveyed>, Failure>> = stream::iter(targets)
        .map(|(repo, listed)| async move {
            let survey = match listed {
                Some(found) => Survey::discovered(client, found, organization, 1).await?,
                None => match Survey::read(client, &repo, 1).await? {
                    Some(survey) => Some(survey),
                    // Named explicitly: its secret is written even with no Claude workflow.
                    None => Some(Survey::bare(client, &repo).await?),
                },
            };
            if let Some(unread) = survey.as_ref().and_then(|s| unread_only(s, secret)) {
                ctx.progress.step(&format!(
                    "warning: {repo} is left out: {unread}; name its secret with --secret to rotate it"
                ));
                return Ok(None);
            }
            Ok(survey.map(|survey| uses_of(&survey, secret)))
        })
        .buffered(concurrency.max(1))
        .collect()
        .await;
    let mut surveyed = Vec::new();
    for result in results {
        if let Some(target) = result? {
            surveyed.push(target);
        }
    }
    ctx.progress.step(&format!(
        "{} ({} GitHub requests).",
        counted(surveyed.len(), "target"),
        client.requests_sent()
    ));
    Ok(surveyed)
}

/// A repository whose only lead to its Claude step is another repository's workflow keyfix
/// could not read: with no `--secret`, the secret it uses is unknown, and guessing the default
/// name would write a secret nothing reads.
fn unread_only<'s>(
    survey: &'s Survey,
    secret: Option<&str>,
) -> Option<&'s crate::github::workflows::Warning> {
    if secret.is_some() || !survey.analysis.steps.is_empty() {
        return None;
    }
    survey.analysis.unread_calls().next()
}

/// The secret names a target's Claude steps pass as `anthropic_api_key` (or `--secret`), each
/// with the environment of the jobs that read it, resolved.
pub(super) fn uses_of(survey: &Survey, secret: Option<&str>) -> Surveyed {
    let mut uses: Vec<(String, Option<String>, BTreeSet<String>)> = Vec::new();
    for step in &survey.analysis.steps {
        let Some(name) = secret
            .map(str::to_owned)
            .or_else(|| step.api_key_secret.clone())
        else {
            continue;
        };
        let model = survey.model_of(step).model;
        match uses
            .iter_mut()
            .find(|(n, e, _)| *n == name && *e == step.environment)
        {
            Some((_, _, models)) => {
                models.insert(model);
            }
            None => uses.push((name, step.environment.clone(), BTreeSet::from([model]))),
        }
    }
    if uses.is_empty() {
        let name = secret.unwrap_or(DEFAULT_SECRET).to_owned();
        let model = crate::github::workflows::CLAUDE_CODE_DEFAULT_MODEL.to_owned();
        uses.push((name, None, BTreeSet::from([model])));
    }
    Surveyed {
        repo: survey.repo_name(),
        uses: uses
            .into_iter()
            .map(|(name, env, models)| SecretUse {
                resolution: survey.scopes.resolve(&name, env.as_deref()),
                models: models.into_iter().collect(),
            })
            .collect(),
    }
}
