//! `keyfix repo OWNER/REPO`: the whole fix. Diagnose as `check` does; only where a new key
//! fixes it, take the new key, validate it on the workflow's model, upload it to the scope the
//! failing job reads, prove with the probe that the secret now holds it, and re-run the failed
//! jobs. Every step that can change something happens after the one that proves it safe, and
//! the report holds each change as it happens, so a failure later still says what was done.

use std::time::Duration;

use crate::cli::{KeyInputArgs, ProbeRunArgs};
use crate::diagnosis::{Cause, Diagnosis};
use crate::github::runs::{self, RerunError, Signature, WatchError, WorkflowRun};
use crate::github::secrets::{self, Scope, UploadError};
use crate::github::Client;
use crate::input;
use crate::key::Key;
use crate::outcome::{
    new_key_rejected, Action, Failure, FailureKind, Finished, FixReport, Found, RepoEnd,
};
use crate::work::findings::{add_reference, gather, ready_probe, Findings, Subject, SubjectArgs};
use crate::work::new_key::{judge_new_key, works_on};
use crate::work::probe::verify_key;
use crate::work::retire::{retire_old_key, OldKey};
use crate::work::Context;

pub struct RepoOptions {
    pub subject: SubjectArgs,
    pub probe: ProbeRunArgs,
    pub key: KeyInputArgs,
    pub force: bool,
    pub no_rerun: bool,
    pub no_watch: bool,
    pub include_shadowed: bool,
    pub retire_old: bool,
    pub yes: bool,
}

pub async fn run(options: RepoOptions, ctx: &Context) -> Finished<FixReport> {
    let mut report = FixReport {
        found: Found::default(),
        end: None,
    };
    let result = fix(&options, ctx, &mut report).await;
    Finished::of(report, result)
}

/// Ends the fix as `end`; where a step found a failure beside it (the re-run failed, the
/// verification did not pass, the new key was rejected), the end is the one that failure makes.
fn end_as(report: &mut FixReport, end: RepoEnd, failure: Option<Failure>) -> Result<(), Failure> {
    match failure {
        None => {
            report.end = Some(end);
            Ok(())
        }
        Some(failure) => {
            report.end.get_or_insert(RepoEnd::VerificationFailed);
            Err(failure)
        }
    }
}

async fn fix(options: &RepoOptions, ctx: &Context, report: &mut FixReport) -> Result<(), Failure> {
    let subject = Subject::parse(&options.subject, &mut report.found)?;
    // A key named by flag is read before the first request: a missing one changes nothing.
    let given_key = input::key_from_flags(&options.key)?;
    let client = ctx.github_client()?;
    let mut findings = gather(&client, &subject, &options.probe, ctx, &mut report.found).await?;
    let before = findings.diagnosis();
    report.found.diagnosis = Some(before.clone());
    if before.cause == Cause::Ok {
        return rerun_after_earlier_fix(&client, &findings, options, ctx, report).await;
    }
    if let Some(refusal) = refuse_without_force(&before, options, ctx) {
        report.end = Some(refusal);
        return Ok(());
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
    let key = input::key_or_prompt(given_key, ctx.interactivity, &prompt)?;
    add_reference(&mut findings, &key, ctx).await?;
    // With the new key as reference, an undetermined credit text becomes a named cause.
    let diagnosis = findings.diagnosis();
    report.found.diagnosis = Some(diagnosis.clone());
    if let Some((cause, failure)) = reject_new_key(&findings, &key) {
        report.end = Some(RepoEnd::NewKeyRejected(cause));
        return Err(failure);
    }
    report.found.actions.push(Action::KeyValidated {
        key: key.display_form(),
        model: findings.model.clone(),
    });
    if let Some(refusal) = refuse_without_force(&diagnosis, options, ctx) {
        report.end = Some(refusal);
        return Ok(());
    }

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
        ctx.progress.step("The secret was not changed.");
        report.end = Some(RepoEnd::Declined);
        return Ok(());
    }
    let mut scopes = vec![target];
    scopes.extend(shadowed_to_write(&findings, options, ctx)?);
    for scope in &scopes {
        upload(&client, &findings, scope, &key, ctx, report).await?;
    }

    let verified = verify(&client, &findings, &key, options, ctx, report).await?;
    if options.retire_old {
        retire_old(&findings, &key, verified.as_ref(), ctx, report).await?;
    }
    if let Some(failure) = verified {
        report.end = Some(RepoEnd::VerificationFailed);
        return Err(failure);
    }
    let failed = rerun(&client, &findings, options, ctx, report).await?;
    end_as(report, RepoEnd::Fixed, failed)
}

/// A confirmation that cannot be asked because keyfix runs without a terminal is the script's
/// own consent: it passed the key by flag. Only a no typed by a person declines.
fn allow_without_terminal(error: input::Error) -> Result<bool, input::Error> {
    match error {
        input::Error::InputNeeded { .. } => Ok(true),
        other => Err(other),
    }
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

/// The new key must be a clean API key that succeeds on the workflow's model; otherwise say
/// what it is and upload nothing.
fn reject_new_key(findings: &Findings, key: &Key) -> Option<(Cause, Failure)> {
    let reference = findings.evidence.reference.as_ref()?;
    if works_on(reference, &findings.model) {
        return None;
    }
    let verdict = judge_new_key(reference, &findings.model);
    let message = if reference.shape.is_clean_api_key() {
        format!(
            "the new key {} cannot be used on {} ({}): {} Nothing was uploaded.",
            key.display_form(),
            findings.model,
            verdict.cause,
            verdict.summary
        )
    } else {
        format!(
            "the new key was rejected and nothing was uploaded: {}",
            verdict.summary
        )
    };
    Some((verdict.cause, new_key_rejected(verdict.cause, message)))
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

/// Writes the key to one scope. A write whose answer was lost is not sent again: GitHub's
/// `updated_at` says whether it landed, and the report says so either way.
async fn upload(
    client: &Client,
    findings: &Findings,
    scope: &Scope,
    key: &Key,
    ctx: &Context,
    report: &mut FixReport,
) -> Result<(), Failure> {
    let (repo, secret) = (&findings.repo, &findings.secret);
    ctx.progress
        .step(&format!("Uploading to {secret} ({scope}) …"));
    let before = findings.resolution.updated_at(scope);
    let written = async {
        let prepared = secrets::prepare(client, repo, scope, secret)
            .await
            .map_err(UploadError::Refused)?;
        secrets::put_settled(client, &prepared, key, before).await
    }
    .await
    .map_err(|error| upload_failure(&error, findings, scope))?;
    report.found.actions.push(Action::SecretUpdated {
        secret: secret.clone(),
        scope: scope.clone(),
        written,
    });
    Ok(())
}

fn upload_failure(error: &UploadError, findings: &Findings, scope: &Scope) -> Failure {
    Failure::new(
        FailureKind::of_github(error.inner()),
        format!(
            "uploading {} ({scope}) of {}: {error}",
            findings.secret, findings.repo
        ),
    )
}

/// Runs the probe again: the secret must now work and hold exactly the new key. Where the probe
/// is not in place and keyfix may not commit it (`--yes` does not allow that), the check is
/// skipped and the report says the upload is unverified. `Some`: what verification found.
async fn verify(
    client: &Client,
    findings: &Findings,
    key: &Key,
    options: &RepoOptions,
    ctx: &Context,
    report: &mut FixReport,
) -> Result<Option<Failure>, Failure> {
    let probe = match ready_probe(
        client,
        findings,
        (&options.probe).into(),
        ctx,
        &mut report.found.actions,
    )
    .await?
    {
        Ok(probe) => probe,
        Err(refusal) => {
            let reason = format!(
                "keyfix's probe workflow {} and may not be committed without --install-probe (or run from a throwaway branch without --probe-branch)",
                refusal.what
            );
            ctx.progress.step(&format!(
                "Not verified with the probe: {reason}. The new key worked when called directly."
            ));
            report
                .found
                .actions
                .push(Action::VerificationSkipped { reason });
            return Ok(None);
        }
    };
    ctx.progress.step("Verifying with the probe …");
    let asked = findings.asked(Duration::from_secs(options.probe.timeout));
    let verification =
        verify_key(client, &probe, &asked, key, ctx, &mut report.found.actions).await?;
    Ok(verification.shortfall(&findings.secret).map(|shortfall| {
        Failure::new(
            FailureKind::Api,
            format!("uploaded, but verification failed: {shortfall}"),
        )
    }))
}

/// `--retire-old`: the key the secret held is retired only when the probe proved the new one in
/// its place.
async fn retire_old(
    findings: &Findings,
    key: &Key,
    verification_failed: Option<&Failure>,
    ctx: &Context,
    report: &mut FixReport,
) -> Result<(), Failure> {
    let verified = report.found.actions.iter().any(|a| {
        matches!(
            a,
            Action::Verified {
                fingerprint_matches: true,
                ..
            }
        )
    });
    let unproven = match verification_failed {
        Some(_) => Some("the probe did not prove the new key in the secret".to_owned()),
        None if !verified => Some("the new key was not verified with the probe".to_owned()),
        None => None,
    };
    let old = findings
        .nonce
        .as_deref()
        .zip(findings.hint_fingerprint.as_deref())
        .map(|(nonce, hint_fingerprint)| OldKey {
            nonce,
            hint_fingerprint,
            name: findings.evidence.admin.as_ref().map(|r| r.name.as_str()),
        });
    let action = retire_old_key(old, key, unproven, ctx).await?;
    report.found.actions.push(action);
    Ok(())
}

/// Whether the failed run is re-run after the fix, and why not.
#[derive(Debug)]
enum Rerun<'r> {
    Due(&'r WorkflowRun),
    NoFailedRun,
    /// `--no-rerun`.
    NotAsked,
    /// A fork's pull request or a Dependabot run: a re-run gets no secrets either.
    GotNoSecrets,
    /// A green refusal: GitHub re-runs failed jobs only, and none failed.
    Passed(&'r WorkflowRun),
}

impl<'r> Rerun<'r> {
    fn decide(run: Option<&'r WorkflowRun>, no_rerun: bool) -> Rerun<'r> {
        match run {
            None => Rerun::NoFailedRun,
            Some(_) if no_rerun => Rerun::NotAsked,
            Some(run) if run.no_secrets_reason().is_some() => Rerun::GotNoSecrets,
            Some(run) if run.is_green() => Rerun::Passed(run),
            Some(run) => Rerun::Due(run),
        }
    }
}

/// Re-runs the failed run's failed jobs and watches them; `Some`: how the re-run failed.
async fn rerun(
    client: &Client,
    findings: &Findings,
    options: &RepoOptions,
    ctx: &Context,
    report: &mut FixReport,
) -> Result<Option<Failure>, Failure> {
    let run = match Rerun::decide(findings.failed_run.as_ref(), options.no_rerun) {
        Rerun::Due(run) => run,
        Rerun::NoFailedRun => {
            ctx.progress.step("No failed run to re-run.");
            return Ok(None);
        }
        Rerun::NotAsked => return Ok(None),
        Rerun::GotNoSecrets => {
            ctx.progress.step("The failed run got no Actions secrets (a fork or Dependabot): a re-run would fail the same way, so keyfix leaves it.");
            return Ok(None);
        }
        Rerun::Passed(run) => {
            let reason = format!(
                "run {} passed although Claude was refused, and GitHub re-runs only failed jobs: trigger the workflow again (a new @claude comment, a push, or Run workflow)",
                run.id
            );
            ctx.progress.step(&format!("No re-run: {reason}."));
            report.found.actions.push(Action::RerunRefused {
                run_id: run.id,
                reason,
            });
            return Ok(None);
        }
    };
    ctx.progress
        .step(&format!("Re-running the failed jobs of run {} …", run.id));
    match request_rerun(client, findings, run).await {
        Ok(()) => report
            .found
            .actions
            .push(Action::RerunRequested { run_id: run.id }),
        Err(RerunError::Github(e)) => return Err(e.into()),
        Err(refused) => {
            ctx.progress
                .step(&format!("GitHub would not re-run it: {refused}"));
            report.found.actions.push(Action::RerunRefused {
                run_id: run.id,
                reason: refused.to_string(),
            });
            return Ok(None);
        }
    }
    if options.no_watch {
        return Ok(None);
    }
    let finished = watch(client, findings, run, options, ctx).await?;
    let conclusion = finished.conclusion.clone().unwrap_or_default();
    report.found.actions.push(Action::RerunFinished {
        run_id: finished.id,
        attempt: finished.run_attempt,
        conclusion: conclusion.clone(),
    });
    if conclusion == "success" {
        return Ok(None);
    }
    Ok(Some(Failure::new(
        FailureKind::Api,
        format!(
            "the key is fixed, but the re-run {conclusion}: see {}",
            finished.html_url.unwrap_or_default()
        ),
    )))
}

/// Asks GitHub once to re-run; where the answer was lost, the run's attempt number says
/// whether GitHub accepted it (a second request would start a second attempt).
async fn request_rerun(
    client: &Client,
    findings: &Findings,
    run: &WorkflowRun,
) -> Result<(), RerunError> {
    let error = match runs::rerun_failed_jobs(client, &findings.repo, run.id).await {
        Ok(()) => return Ok(()),
        Err(RerunError::Github(error)) if error.answer_lost() => error,
        Err(other) => return Err(other),
    };
    match runs::get(client, &findings.repo, run.id).await {
        Ok(now) if now.run_attempt > run.run_attempt => Ok(()),
        _ => Err(RerunError::Github(error)),
    }
}

async fn watch(
    client: &Client,
    findings: &Findings,
    run: &WorkflowRun,
    options: &RepoOptions,
    ctx: &Context,
) -> Result<WorkflowRun, Failure> {
    let timeout = Duration::from_secs(options.probe.timeout);
    let on_status = |r: &WorkflowRun| {
        ctx.progress.step(&format!(
            "  run {}: {}",
            r.id,
            r.status.as_deref().unwrap_or("queued")
        ));
        true
    };
    runs::watch(
        client,
        &findings.repo,
        run.id,
        run.run_attempt,
        timeout,
        on_status,
    )
    .await
    .map_err(|error| match error {
        WatchError::Github(e) => {
            let failure = Failure::from(e);
            Failure::new(
                failure.kind,
                format!(
                    "the re-run was requested, but watching it failed: {}; see {}",
                    failure.message,
                    run.html_url.clone().unwrap_or_default()
                ),
            )
        }
        other => Failure::new(
            FailureKind::Run,
            format!("the re-run was requested, but {other}"),
        ),
    })
}

/// The stored key works. Where the failed run was a refusal that started before the secret was
/// last updated, an earlier fix (this command stopped after its upload, or someone rotated by
/// hand) is finished by re-running it.
async fn rerun_after_earlier_fix(
    client: &Client,
    findings: &Findings,
    options: &RepoOptions,
    ctx: &Context,
    report: &mut FixReport,
) -> Result<(), Failure> {
    let refused = findings.failed_run.as_ref().is_some_and(|run| {
        runs::signature(run, &findings.run_reading) == Some(Signature::PreflightRefusal)
    });
    if !refused {
        report.end = Some(RepoEnd::StoredKeyWorks);
        return Ok(());
    }
    ctx.progress.step("The stored key works now, and the failed run was a refusal before any work: re-running it.");
    let failed = rerun(client, findings, options, ctx, report).await?;
    end_as(report, RepoEnd::StoredKeyWorks, failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(event: &str, actor: &str) -> WorkflowRun {
        serde_json::from_value(serde_json::json!({
            "id": 7, "event": event, "actor": {"login": actor}
        }))
        .unwrap()
    }

    #[test]
    fn a_failed_run_is_re_run_unless_it_cannot_or_may_not_be() {
        let comment = run("issue_comment", "alice");
        let dependabot = run("pull_request", "dependabot[bot]");
        assert!(matches!(Rerun::decide(Some(&comment), false), Rerun::Due(r) if r.id == 7));
        assert!(matches!(Rerun::decide(None, false), Rerun::NoFailedRun));
        assert!(matches!(
            Rerun::decide(Some(&comment), true),
            Rerun::NotAsked
        ));
        assert!(matches!(
            Rerun::decide(Some(&dependabot), false),
            Rerun::GotNoSecrets
        ));
    }
}
