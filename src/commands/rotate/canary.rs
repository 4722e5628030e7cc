//! The canary: its repository's probe readied before any write, and the probe's word on it
//! after its write.

use std::time::Duration;

use crate::cli::ProbeRunArgs;
use crate::github::secrets::Scope;
use crate::github::survey::Survey;
use crate::github::Client;
use crate::key::Key;
use crate::outcome::Failure;
use crate::probe::{ProbeSpec, BASELINE_MODEL};
use crate::work::probe::{not_allowed_failure, ready, verify_key, Asked, ReadyProbe};
use crate::work::Context;

use super::plan;

/// The canary's repository with its probe workflow in place, ready to be dispatched.
pub(super) struct CanaryProbe {
    pub(super) probe: ReadyProbe,
    pub(super) environment: Option<String>,
}

/// Makes sure the canary's repository has the probe workflow, before anything is written: with
/// `--install-probe` or a yes at the prompt it is committed; otherwise the run stops (exit 3).
pub(super) async fn ready_canary_probe(
    client: &Client,
    write: &plan::Write,
    args: &ProbeRunArgs,
    ctx: &Context,
) -> Result<CanaryProbe, Failure> {
    let repo = write.destination.repo.clone();
    let survey = match Survey::read(client, &repo, 1).await? {
        Some(survey) => survey,
        None => Survey::bare(client, &repo).await?,
    };
    let environment = match &write.destination.scope {
        Scope::Environment(env) => Some(env.clone()),
        _ => None,
    };
    let mut spec = ProbeSpec::for_survey(&survey, Some(&write.destination.name));
    if spec.job_for(environment.as_deref()).is_none() {
        spec = ProbeSpec::single(&write.destination.name);
    }
    let branch = &survey.repository.default_branch;
    let probe = ready(
        client,
        &repo,
        branch,
        &spec,
        args.into(),
        ctx,
        &mut Vec::new(),
    )
    .await?
    .map_err(|refusal| {
        let mut failure = not_allowed_failure(&repo, &refusal, "the canary");
        failure.message += " (or --no-canary to rotate without a canary); nothing was written";
        failure
    })?;
    Ok(CanaryProbe { probe, environment })
}

/// The probe on the canary's repository must see the new key working in the scope written.
/// `None` when it does; otherwise what it saw.
pub(super) async fn verify_canary(
    client: &Client,
    write: &plan::Write,
    canary: &CanaryProbe,
    key: &Key,
    args: &ProbeRunArgs,
    ctx: &Context,
) -> Result<Option<String>, Failure> {
    let model = write
        .models
        .iter()
        .next()
        .cloned()
        .unwrap_or_else(|| BASELINE_MODEL.to_owned());
    ctx.progress.step(&format!(
        "Verifying the canary {} with the probe …",
        canary.probe.repo
    ));
    let asked = Asked {
        secret: &write.destination.name,
        environment: canary.environment.as_deref(),
        model: &model,
        timeout: Duration::from_secs(args.timeout),
    };
    let verification = verify_key(client, &canary.probe, &asked, key, ctx, &mut Vec::new()).await?;
    Ok(verification.shortfall(&write.destination.describe()))
}
