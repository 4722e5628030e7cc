//! The probe as commands use it: in place on the default branch (committed only with consent),
//! dispatched, its report on one secret read, and a new key verified through it.

use std::time::Duration;

use crate::diagnosis::{self, Diagnosis, Evidence, KeyEvidence, Source};
use crate::github::{Client, RepoName};
use crate::input;
use crate::key::{random_hex, Key};
use crate::outcome::{Action, Failure, FailureKind};
use crate::probe::run::{self, Installed};
use crate::probe::{self, ProbeSpec, BASELINE_MODEL};

use super::Context;

/// A repository whose probe workflow is in place, ready to be dispatched.
pub struct ReadyProbe {
    pub repo: RepoName,
    pub branch: String,
    /// Just committed: its first dispatch may need to wait for GitHub to see it.
    pub fresh: bool,
}

/// Why the probe is not in place: it is missing or outdated, and keyfix may not commit it.
pub struct NotAllowed {
    /// `is not installed` or `is outdated`.
    pub what: &'static str,
    /// Why keyfix could not ask (`--json`, no terminal); `None` when a person said no.
    pub could_not_ask: Option<&'static str>,
}

/// Makes sure `repo`'s default branch has the probe `spec` renders. It is committed with
/// `--install-probe` or a person's yes; `--yes` does not answer this.
pub async fn ready(
    client: &Client,
    repo: &RepoName,
    branch: &str,
    spec: &ProbeSpec,
    install_probe: bool,
    ctx: &Context,
    actions: &mut Vec<Action>,
) -> Result<Result<ReadyProbe, NotAllowed>, Failure> {
    let text = probe::render(spec);
    let state = run::installed(client, repo, branch, &text).await?;
    let ready = |fresh| {
        Ok(Ok(ReadyProbe {
            repo: repo.clone(),
            branch: branch.to_owned(),
            fresh,
        }))
    };
    if state == Installed::UpToDate {
        return ready(false);
    }
    let what = match state {
        Installed::Missing => "is not installed",
        _ => "is outdated",
    };
    if !install_probe {
        let question = format!(
            "keyfix's probe workflow {what} on {repo}'s default branch. Commit {} now?",
            probe::PATH
        );
        match input::confirm(ctx.interactivity, false, false, &question) {
            Ok(true) => {}
            Ok(false) => {
                return Ok(Err(NotAllowed {
                    what,
                    could_not_ask: None,
                }))
            }
            Err(input::Error::InputNeeded { why }) => {
                return Ok(Err(NotAllowed {
                    what,
                    could_not_ask: Some(why),
                }))
            }
            Err(other) => return Err(other.into()),
        }
    }
    ctx.progress
        .step(&format!("Committing {} to {repo}:{branch} …", probe::PATH));
    if let Err(error) = run::install(client, repo, branch, &text, &state).await {
        // An answer lost after the commit landed must not hide the commit: look before saying.
        if run::installed(client, repo, branch, &text).await.ok() != Some(Installed::UpToDate) {
            return Err(Failure::from(error).with_file(text));
        }
    }
    actions.push(Action::ProbeInstalled {
        path: probe::PATH.to_owned(),
        updated: state != Installed::Missing,
    });
    ready(true)
}

/// The one-line error for a probe keyfix may not install, naming both ways out.
pub fn not_allowed_failure(repo: &RepoName, refusal: &NotAllowed, what_for: &str) -> Failure {
    let because = match refusal.could_not_ask {
        Some(why) => format!("keyfix may not ask ({why})"),
        None => "it was not approved".to_owned(),
    };
    Failure::new(
        FailureKind::InputNeeded,
        format!(
            "keyfix's probe workflow {} on {repo} and {because}; {what_for} needs it: pass --install-probe to commit {}, or commit the output of `keyfix probe print {repo}` yourself",
            refusal.what,
            probe::PATH
        ),
    )
}

/// What one probe run said of one secret.
pub struct Reading {
    pub run_id: u64,
    /// The nonce the probe salted its fingerprints with.
    pub nonce: String,
    pub evidence: KeyEvidence,
    /// The salted fingerprint of the stored key's Admin API hint.
    pub hint_fingerprint: Option<String>,
}

/// What a probe run is asked: the secret as the job in `environment` sees it, on `model`.
pub struct Asked<'a> {
    pub secret: &'a str,
    pub environment: Option<&'a str>,
    pub model: &'a str,
    /// How long to wait for the run.
    pub timeout: Duration,
}

/// Dispatches the probe and reads its report on the secret asked about.
pub async fn read_secret(
    client: &Client,
    probe: &ReadyProbe,
    asked: &Asked<'_>,
    ctx: &Context,
    actions: &mut Vec<Action>,
) -> Result<Reading, Failure> {
    let Asked {
        secret,
        environment,
        model,
        timeout,
    } = *asked;
    let nonce = random_hex(16);
    let correlation = format!("kf-{}", random_hex(6));
    let inputs = run::Dispatch {
        branch: &probe.branch,
        correlation_id: &correlation,
        nonce: &nonce,
        model,
    };
    ctx.progress.step("Dispatching the probe …");
    let run_id = run::dispatch(client, &probe.repo, &inputs, probe.fresh).await?;
    let probe_run = run::wait_and_read(client, &probe.repo, run_id, &correlation, timeout, |s| {
        ctx.progress.step(&format!("  probe run {run_id}: {s}"));
    })
    .await?;
    actions.push(Action::ProbeRun {
        run_id,
        url: probe_run.url.clone(),
    });
    let report = probe_run
        .reports
        .iter()
        .find(|r| r.environment.as_deref() == environment)
        .and_then(|r| r.secrets.iter().find(|s| s.name == secret))
        .ok_or_else(|| {
            Failure::new(
                FailureKind::Run,
                format!("the probe run {run_id} reported no result for secret {secret}"),
            )
        })?;
    Ok(Reading {
        run_id,
        nonce,
        evidence: report.evidence(),
        hint_fingerprint: report.hint_fingerprint.clone(),
    })
}

/// What the probe saw after a new key was written.
pub struct Verification {
    pub run_id: u64,
    /// The secret holds exactly the new key (salted fingerprints match).
    pub holds_key: bool,
    /// The stored key's cause as the probe saw it, alone.
    pub diagnosis: Diagnosis,
}

impl Verification {
    pub fn passed(&self) -> bool {
        self.holds_key && self.diagnosis.cause == diagnosis::Cause::Ok
    }

    /// What went wrong, in one clause, where it did not pass.
    pub fn shortfall(&self, secret: &str) -> Option<String> {
        match (self.holds_key, self.diagnosis.cause) {
            (true, diagnosis::Cause::Ok) => None,
            (false, _) => Some(format!(
                "the probe run {} did not see the new key in {secret} (another scope may shadow it, or the write did not land)",
                self.run_id
            )),
            (true, cause) => Some(format!(
                "the probe run {} saw the new key in {secret}, but {cause}: {}",
                self.run_id, self.diagnosis.summary
            )),
        }
    }
}

/// Runs the probe again and compares: the secret must hold `key`, and it must work on the model.
pub async fn verify_key(
    client: &Client,
    probe: &ReadyProbe,
    asked: &Asked<'_>,
    key: &Key,
    ctx: &Context,
    actions: &mut Vec<Action>,
) -> Result<Verification, Failure> {
    let model = asked.model;
    let reading = read_secret(client, probe, asked, ctx, actions).await?;
    let holds_key = reading
        .evidence
        .fingerprint
        .as_ref()
        .is_some_and(|stored| stored.matches(&key.fingerprint(reading.nonce.as_bytes())));
    let diagnosis = diagnosis::diagnose(&Evidence {
        model: model.to_owned(),
        baseline_model: BASELINE_MODEL.to_owned(),
        stored_source: Source::Probe,
        stored: reading.evidence,
        reference: None,
        admin: None,
        run: None,
        workflow: None,
    });
    actions.push(Action::Verified {
        run_id: reading.run_id,
        fingerprint_matches: holds_key,
    });
    Ok(Verification {
        run_id: reading.run_id,
        holds_key,
        diagnosis,
    })
}
