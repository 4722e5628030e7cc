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
use crate::work::probe::{
    in_place, not_allowed_failure, read_secret, ready, verify_key, Asked, Consent, Reading,
    ReadyProbe,
};
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
    let (spec, branch, environment) = canary_spec(client, write).await?;
    let repo = &write.destination.repo;
    let probe = ready(
        client,
        repo,
        &branch,
        &spec,
        args.into(),
        ctx,
        &mut Vec::new(),
    )
    .await?
    .map_err(|refusal| {
        let mut failure = not_allowed_failure(repo, &refusal, "the canary");
        failure.message += " (or --no-canary to rotate without a canary); nothing was written";
        failure
    })?;
    Ok(CanaryProbe { probe, environment })
}

/// The canary's probe where it runs with nothing committed and nothing asked (a dry run), or
/// why not.
pub(super) async fn canary_probe_in_place(
    client: &Client,
    write: &plan::Write,
    args: &ProbeRunArgs,
) -> Result<Result<CanaryProbe, String>, Failure> {
    let (spec, branch, environment) = canary_spec(client, write).await?;
    let consent = Consent {
        install: false,
        branch: args.probe_branch,
    };
    Ok(
        match in_place(client, &write.destination.repo, &branch, &spec, consent).await? {
            Ok(probe) => Ok(CanaryProbe { probe, environment }),
            Err(_) => Err(format!(
                "keyfix's probe workflow is not up to date on {}'s default branch, and a dry run commits nothing (--probe-branch runs it from a throwaway branch)",
                write.destination.repo
            )),
        },
    )
}

/// The probe the canary's repository needs for the written secret, its default branch, and the
/// environment whose job reads the secret.
async fn canary_spec(
    client: &Client,
    write: &plan::Write,
) -> Result<(ProbeSpec, String, Option<String>), Failure> {
    let repo = &write.destination.repo;
    let survey = match Survey::read(client, repo, 1).await? {
        Some(survey) => survey,
        None => Survey::bare(client, repo).await?,
    };
    let environment = match &write.destination.scope {
        Scope::Environment(env) => Some(env.clone()),
        _ => None,
    };
    let mut spec = ProbeSpec::for_survey(&survey, Some(&write.destination.name));
    if spec.job_for(environment.as_deref()).is_none() {
        spec = ProbeSpec::single(&write.destination.name);
    }
    Ok((spec, survey.repository.default_branch, environment))
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
    ctx.progress.step(&format!(
        "Verifying the canary {} with the probe …",
        canary.probe.repo
    ));
    let model = model_of(write);
    let asked = asked(write, canary, &model, args);
    let verification = verify_key(client, &canary.probe, &asked, key, ctx, &mut Vec::new()).await?;
    Ok(verification.shortfall(&write.destination.describe()))
}

/// `--retire-old`: what the probe sees of the key the canary's secret holds before its write.
pub(super) async fn read_old_key(
    client: &Client,
    write: &plan::Write,
    canary: &CanaryProbe,
    args: &ProbeRunArgs,
    ctx: &Context,
) -> Result<Reading, Failure> {
    ctx.progress.step(&format!(
        "Fingerprinting the key {} holds now, to retire it afterwards …",
        write.destination.describe()
    ));
    let model = model_of(write);
    let asked = asked(write, canary, &model, args);
    read_secret(client, &canary.probe, &asked, ctx, &mut Vec::new()).await
}

/// The model the canary's probe calls: the first its readers use.
fn model_of(write: &plan::Write) -> String {
    write
        .models
        .iter()
        .next()
        .cloned()
        .unwrap_or_else(|| BASELINE_MODEL.to_owned())
}

fn asked<'a>(
    write: &'a plan::Write,
    canary: &'a CanaryProbe,
    model: &'a str,
    args: &ProbeRunArgs,
) -> Asked<'a> {
    Asked {
        secret: &write.destination.name,
        environment: canary.environment.as_deref(),
        model,
        timeout: Duration::from_secs(args.timeout),
        nonce: None,
    }
}
