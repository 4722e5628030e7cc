//! `keyfix repo OWNER/REPO`: the whole fix. Diagnose as `check` does; only where a new key
//! fixes it, take the new key, validate it on the workflow's model, upload it to the scope the
//! failing job reads, prove with the probe that the secret now holds it, and re-run the failed
//! jobs. Every step that can change something happens after the one that proves it safe.

use std::time::Duration;

use crate::cli::{KeyInputArgs, ProbeRunArgs};
use crate::diagnosis::{self, Cause, Diagnosis, Verdict};
use crate::github::runs::{self, RerunError, Signature, WatchError};
use crate::github::secrets::{self, Scope, UploadError};
use crate::github::Client;
use crate::input;
use crate::key::Key;
use crate::outcome::{Action, CommandName, Failure, FailureKind, Outcome, RepoEnd};

use super::check::{add_reference, gather, run_probe, CheckOptions, Findings};
use super::validate::judge_new_key;
use super::Context;

pub struct RepoOptions {
    pub check: CheckOptions,
    pub key: KeyInputArgs,
    pub force: bool,
    pub no_rerun: bool,
    pub no_watch: bool,
    pub include_shadowed: bool,
    pub yes: bool,
}

pub async fn run(options: RepoOptions, ctx: &Context) -> Result<Outcome, Failure> {
    let client = ctx.github_client()?;
    let mut findings = gather(&client, &options.check, ctx).await?;
    let before = findings.diagnosis();
    let mut outcome = findings.outcome(CommandName::Repo);

    if before.cause == Cause::Ok {
        outcome.diagnosis = Some(before);
        rerun_after_earlier_fix(&client, &findings, &options, ctx, &mut outcome).await?;
        outcome.repo_end.get_or_insert(RepoEnd::StoredKeyWorks);
        return Ok(outcome);
    }
    if let Some(refusal) = refuse_without_force(&before, &options, ctx) {
        outcome.diagnosis = Some(before);
        outcome.repo_end = Some(refusal);
        return Ok(outcome);
    }

    let target = findings
        .resolution
        .reads
        .clone()
        .unwrap_or(Scope::Repository);
    let prompt = format!(
        "New Anthropic API key for {} ({} secret of {}), hidden",
        findings.secret, target, findings.repo
    );
    let key = read_new_key(&options.key, ctx, &prompt)?;
    if let Some(rejected) = reject_by_shape(&key, &mut outcome) {
        outcome.diagnosis = Some(before);
        outcome.repo_end = Some(rejected);
        return Ok(outcome);
    }
    add_reference(&mut findings, &key, ctx).await?;
    if let Some(rejected) = reject_by_answer(&findings, &key, &mut outcome) {
        outcome.diagnosis = Some(findings.diagnosis());
        outcome.repo_end = Some(rejected);
        return Ok(outcome);
    }
    outcome.actions.push(Action::KeyValidated {
        key: key.display_form(),
        model: findings.model.clone(),
    });
    // With the new key as reference, an undetermined credit text becomes a named cause.
    let diagnosis = findings.diagnosis();
    if let Some(refusal) = refuse_without_force(&diagnosis, &options, ctx) {
        outcome.diagnosis = Some(diagnosis);
        outcome.repo_end = Some(refusal);
        return Ok(outcome);
    }
    outcome.diagnosis = Some(diagnosis);

    let question = format!(
        "Replace {} ({} secret of {}) with {}?",
        findings.secret,
        target,
        findings.repo,
        key.display_form()
    );
    if !input::confirm(ctx.interactivity, options.yes, true, &question)
        .or_else(allow_without_terminal)?
    {
        ctx.progress.step("Nothing was changed.");
        outcome.repo_end = Some(RepoEnd::Declined);
        return Ok(outcome);
    }
    let mut scopes = vec![target.clone()];
    scopes.extend(shadowed_to_write(&findings, &options, ctx)?);
    for scope in scopes {
        upload(&client, &findings, &scope, &key, ctx, &mut outcome).await?;
    }
    // A secret that was defined nowhere now is, where the job reads it.
    findings.resolution.reads = Some(target);
    if let Some(workflow) = &mut findings.evidence.workflow {
        workflow.defined_in_visible_scope = Some(true);
    }

    if !verify(
        &client,
        &mut findings,
        &key,
        &options.check.probe,
        ctx,
        &mut outcome,
    )
    .await?
    {
        outcome.repo_end = Some(RepoEnd::VerificationFailed);
        return Ok(outcome);
    }
    let passed = rerun(&client, &findings, &options, ctx, &mut outcome).await?;
    outcome.repo_end = Some(if passed {
        RepoEnd::Fixed
    } else {
        RepoEnd::VerificationFailed
    });
    Ok(outcome)
}

/// A confirmation that cannot be asked because keyfix runs without a terminal is the script's
/// own consent: it passed the key by flag. Only a no typed by a person declines.
fn allow_without_terminal(error: input::Error) -> Result<bool, input::Error> {
    match error {
        input::Error::InputNeeded { .. } => Ok(true),
        other => Err(other),
    }
}

fn read_new_key(args: &KeyInputArgs, ctx: &Context, prompt: &str) -> Result<Key, Failure> {
    input::read_key(args, ctx.interactivity, prompt).map_err(|e| {
        let mut failure = Failure::from(e);
        if failure.kind == FailureKind::Usage {
            failure.message.push_str("; nothing was changed");
        }
        failure
    })
}

/// Where a new key cannot help, nothing is uploaded unless `--force` says so knowingly.
fn refuse_without_force(
    diagnosis: &Diagnosis,
    options: &RepoOptions,
    ctx: &Context,
) -> Option<RepoEnd> {
    if diagnosis.rotation_helps() != Some(false) {
        return None;
    }
    if options.force {
        ctx.progress.step(&format!(
            "--force: uploading although the cause is {} and a new key is not expected to help.",
            diagnosis.cause
        ));
        return None;
    }
    ctx.progress.step(&format!(
        "Nothing was uploaded: the cause is {}, which a new key does not fix (--force uploads anyway).",
        diagnosis.cause
    ));
    Some(RepoEnd::NotFixable(diagnosis.cause))
}

/// A new key that is not a clean API key is never sent anywhere.
fn reject_by_shape(key: &Key, outcome: &mut Outcome) -> Option<RepoEnd> {
    let shape = key.shape();
    if shape.is_clean_api_key() {
        return None;
    }
    let evidence = diagnosis::KeyEvidence {
        shape,
        fingerprint: None,
        calls: Vec::new(),
    };
    let verdict = judge_new_key(&evidence, "");
    outcome.error = Some(Failure::new(
        FailureKind::Usage,
        format!(
            "the new key was rejected and nothing was uploaded: {}",
            verdict.summary
        ),
    ));
    Some(RepoEnd::NewKeyRejected(verdict.cause))
}

/// The new key must succeed on the workflow's model; otherwise say what it is, upload nothing.
fn reject_by_answer(findings: &Findings, key: &Key, outcome: &mut Outcome) -> Option<RepoEnd> {
    let reference = findings.evidence.reference.as_ref()?;
    let works = reference
        .calls
        .iter()
        .any(|c| c.is_messages_on(&findings.model) && Verdict::of(c) == Verdict::Success);
    if works {
        return None;
    }
    let verdict = judge_new_key(reference, &findings.model);
    outcome.error = Some(Failure::new(
        FailureKind::Api,
        format!(
            "the new key {} cannot be used on {} ({}): {} Nothing was uploaded.",
            key.display_form(),
            findings.model,
            verdict.cause,
            verdict.summary
        ),
    ));
    Some(RepoEnd::NewKeyRejected(verdict.cause))
}

/// Stale copies under the scope the job reads: written only with `--include-shadowed`, or when
/// a person says yes to each (`--yes` does not answer this).
fn shadowed_to_write(
    findings: &Findings,
    options: &RepoOptions,
    ctx: &Context,
) -> Result<Vec<Scope>, Failure> {
    let mut scopes = Vec::new();
    for scope in &findings.resolution.shadows {
        if options.include_shadowed {
            scopes.push(scope.clone());
            continue;
        }
        let question = format!(
            "{} also exists as a {scope} secret, which the job does not read (it is shadowed). Update it too?",
            findings.secret
        );
        match input::confirm(ctx.interactivity, options.yes, false, &question) {
            Ok(true) => scopes.push(scope.clone()),
            Ok(false) => {}
            Err(input::Error::InputNeeded { .. }) => ctx.progress.step(&format!(
                "The stale {scope} copy of {} is left as it is (--include-shadowed writes it too).",
                findings.secret
            )),
            Err(other) => return Err(other.into()),
        }
    }
    Ok(scopes)
}

async fn upload(
    client: &Client,
    findings: &Findings,
    scope: &Scope,
    key: &Key,
    ctx: &Context,
    outcome: &mut Outcome,
) -> Result<(), Failure> {
    ctx.progress
        .step(&format!("Uploading to {} ({scope}) …", findings.secret));
    match secrets::upload(client, &findings.repo, scope, &findings.secret, key).await {
        Ok(written) => {
            outcome.actions.push(Action::SecretUpdated {
                secret: findings.secret.clone(),
                scope: scope.clone(),
                written,
            });
            Ok(())
        }
        Err(error) => {
            let message = format!(
                "uploading {} ({scope}) of {}: {error}",
                findings.secret, findings.repo
            );
            let kind = match error {
                UploadError::Refused(e) | UploadError::Unknown(e) => Failure::from(e).kind,
            };
            Err(Failure::new(kind, message))
        }
    }
}

/// Runs the probe again: the secret must now work and hold exactly the new key.
async fn verify(
    client: &Client,
    findings: &mut Findings,
    key: &Key,
    probe: &ProbeRunArgs,
    ctx: &Context,
    outcome: &mut Outcome,
) -> Result<bool, Failure> {
    ctx.progress.step("Verifying with the probe …");
    let args = ProbeRunArgs {
        install_probe: true,
        timeout: probe.timeout,
    };
    findings.evidence.reference = None;
    findings.evidence.admin = None;
    let already = findings.actions.len();
    let run_id = run_probe(client, findings, &args, ctx).await?;
    outcome
        .actions
        .extend(findings.actions[already..].iter().cloned());
    let nonce = findings.nonce.clone().unwrap_or_default();
    let holds_new_key = findings
        .evidence
        .stored
        .fingerprint
        .as_ref()
        .is_some_and(|stored| stored.matches(&key.fingerprint(nonce.as_bytes())));
    let after = findings.diagnosis();
    outcome.actions.push(Action::Verified {
        run_id,
        fingerprint_matches: holds_new_key,
    });
    if holds_new_key && after.cause == Cause::Ok {
        return Ok(true);
    }
    let seen = if holds_new_key {
        format!(
            "the secret holds the new key, but the probe saw {}: {}",
            after.cause, after.summary
        )
    } else {
        "the secret the job reads does not hold the new key (another scope may shadow it, or the upload did not land)".to_owned()
    };
    outcome.error = Some(Failure::new(
        FailureKind::Api,
        format!("uploaded, but verification failed: {seen}"),
    ));
    Ok(false)
}

/// Re-runs the failed run's failed jobs and watches them; `true` unless the re-run failed.
async fn rerun(
    client: &Client,
    findings: &Findings,
    options: &RepoOptions,
    ctx: &Context,
    outcome: &mut Outcome,
) -> Result<bool, Failure> {
    let Some(run) = &findings.failed_run else {
        ctx.progress.step("No failed run to re-run.");
        return Ok(true);
    };
    if options.no_rerun {
        return Ok(true);
    }
    if run.no_secrets_reason().is_some() {
        ctx.progress.step("The failed run got no Actions secrets (a fork or Dependabot): a re-run would fail the same way, so keyfix leaves it.");
        return Ok(true);
    }
    ctx.progress
        .step(&format!("Re-running the failed jobs of run {} …", run.id));
    match runs::rerun_failed_jobs(client, &findings.repo, run.id).await {
        Ok(()) => outcome
            .actions
            .push(Action::RerunRequested { run_id: run.id }),
        Err(RerunError::Github(e)) => return Err(e.into()),
        Err(refused) => {
            ctx.progress
                .step(&format!("GitHub would not re-run it: {refused}"));
            outcome.actions.push(Action::RerunRefused {
                run_id: run.id,
                reason: refused.to_string(),
            });
            return Ok(true);
        }
    }
    if options.no_watch {
        return Ok(true);
    }
    let timeout = Duration::from_secs(options.check.probe.timeout);
    let watched = runs::watch(
        client,
        &findings.repo,
        run.id,
        run.run_attempt,
        timeout,
        |r| {
            ctx.progress.step(&format!(
                "  run {}: {}",
                r.id,
                r.status.as_deref().unwrap_or("queued")
            ));
            true
        },
    )
    .await;
    let finished = match watched {
        Ok(finished) => finished,
        Err(WatchError::TimedOut { .. }) | Err(WatchError::Stopped(_)) => {
            let message = watched.err().map(|e| e.to_string()).unwrap_or_default();
            return Err(Failure::new(
                FailureKind::Run,
                format!("the fix is in place and verified, but {message}"),
            ));
        }
        Err(WatchError::Github(e)) => {
            let failure = Failure::from(e);
            return Err(Failure::new(
                failure.kind,
                format!("the fix is in place and verified, and the re-run was requested, but watching it failed: {}; run keyfix again or see {}", failure.message, run.html_url.clone().unwrap_or_default()),
            ));
        }
    };
    let conclusion = finished.conclusion.clone().unwrap_or_default();
    outcome.actions.push(Action::RerunFinished {
        run_id: finished.id,
        attempt: finished.run_attempt,
        conclusion: conclusion.clone(),
    });
    if conclusion != "success" {
        outcome.error = Some(Failure::new(
            FailureKind::Api,
            format!(
                "the key is fixed and verified, but the re-run {conclusion}: see {}",
                finished.html_url.unwrap_or_default()
            ),
        ));
    }
    Ok(conclusion == "success")
}

/// The stored key works but the last failed run was a refusal: an earlier fix (this command
/// stopped after its upload, or someone rotated by hand) is finished by re-running it.
async fn rerun_after_earlier_fix(
    client: &Client,
    findings: &Findings,
    options: &RepoOptions,
    ctx: &Context,
    outcome: &mut Outcome,
) -> Result<(), Failure> {
    let refused = findings.failed_run.as_ref().is_some_and(|run| {
        runs::signature(run, &findings.run_reading) == Some(Signature::PreflightRefusal)
    });
    if !refused {
        return Ok(());
    }
    ctx.progress.step("The stored key works now, and the failed run was a refusal before any work: re-running it.");
    if !rerun(client, findings, options, ctx, outcome).await? {
        outcome.repo_end = Some(RepoEnd::VerificationFailed);
    }
    Ok(())
}
