//! The probe as commands use it: in place on the default branch (committed only with consent),
//! dispatched, its report on one secret read, and a new key verified through it.

use std::cell::Cell;
use std::time::{Duration, Instant};

use crate::cli::ProbeRunArgs;
use crate::diagnosis::{self, Diagnosis, Evidence, KeyEvidence, Source};
use crate::github::{Client, Error as GithubError, RepoName};
use crate::input;
use crate::key::{random_hex, Key};
use crate::outcome::{Action, Failure, FailureKind};
use crate::probe::branch;
use crate::probe::run::{self, Installed, ProbeError, ProbeRun};
use crate::probe::{self, ProbeSpec, RunValues, Trigger, BASELINE_MODEL};

use super::interrupt::Handling;
use super::Context;

/// A repository where the probe can run.
#[derive(Clone, Debug)]
pub struct ReadyProbe {
    pub repo: RepoName,
    /// The default branch.
    pub branch: String,
    pub place: Place,
}

/// Where each probe run comes from.
#[derive(Clone, Debug)]
pub enum Place {
    /// The probe on the default branch, dispatched. `fresh`: just committed, so its first
    /// dispatch may need to wait for GitHub to see it.
    Dispatched { fresh: bool },
    /// A throwaway branch for each run, holding the probe `spec` renders for that run.
    Branch { spec: ProbeSpec },
}

/// What the person allowed: committing the probe to the default branch (`--install-probe` or a
/// yes), and running it from a throwaway branch (`--probe-branch`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Consent {
    pub install: bool,
    pub branch: bool,
}

impl From<&ProbeRunArgs> for Consent {
    fn from(args: &ProbeRunArgs) -> Consent {
        Consent {
            install: args.install_probe,
            branch: args.probe_branch,
        }
    }
}

/// Why the probe is not in place: it is missing or outdated, and keyfix may not commit it.
pub struct NotAllowed {
    /// `is not installed` or `is outdated`.
    pub what: &'static str,
    /// Why keyfix could not ask (`--json`, no terminal); `None` when a person said no.
    pub could_not_ask: Option<&'static str>,
}

/// Makes sure the probe `spec` renders can run in `repo`: from a throwaway branch with
/// `--probe-branch`; else from the default branch, where it is committed with `--install-probe`
/// or a person's yes (`--yes` does not answer this) — or, when the default branch refuses the
/// commit, from a throwaway branch after all, with the same consent.
pub async fn ready(
    client: &Client,
    repo: &RepoName,
    branch: &str,
    spec: &ProbeSpec,
    consent: Consent,
    ctx: &Context,
    actions: &mut Vec<Action>,
) -> Result<Result<ReadyProbe, NotAllowed>, Failure> {
    let state = match in_place(client, repo, branch, spec, consent).await? {
        Ok(probe) => return Ok(Ok(probe)),
        Err(state) => state,
    };
    let ready_at = |place| {
        Ok(Ok(ReadyProbe {
            repo: repo.clone(),
            branch: branch.to_owned(),
            place,
        }))
    };
    let text = probe::render(spec);
    let what = match state {
        Installed::Missing => "is not installed",
        _ => "is outdated",
    };
    if !consent.install {
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
    match commit(client, repo, branch, &text, &state, ctx, actions).await? {
        Committed::Yes => ready_at(Place::Dispatched { fresh: true }),
        Committed::Refused { message } => {
            ctx.progress.step(&format!(
                "{repo}:{branch} refuses direct commits ({message}); running the probe from a throwaway branch instead."
            ));
            ready_at(Place::Branch { spec: spec.clone() })
        }
    }
}

/// The probe where it runs with no commit to the default branch and no question: from a
/// throwaway branch with `--probe-branch`, else only where it is up to date on the default
/// branch. Otherwise, what is on the default branch.
pub async fn in_place(
    client: &Client,
    repo: &RepoName,
    branch: &str,
    spec: &ProbeSpec,
    consent: Consent,
) -> Result<Result<ReadyProbe, Installed>, Failure> {
    let at = |place| ReadyProbe {
        repo: repo.clone(),
        branch: branch.to_owned(),
        place,
    };
    if consent.branch {
        return Ok(Ok(at(Place::Branch { spec: spec.clone() })));
    }
    let state = run::installed(client, repo, branch, &probe::render(spec)).await?;
    Ok(match state {
        Installed::UpToDate => Ok(at(Place::Dispatched { fresh: false })),
        other => Err(other),
    })
}

/// Whether the default branch took the probe's commit.
pub enum Committed {
    Yes,
    /// Rules that protect the branch refused it, in GitHub's words.
    Refused {
        message: String,
    },
}

/// Commits the probe `text` to `branch`, where it is in `state`, and records it in `actions`.
pub async fn commit(
    client: &Client,
    repo: &RepoName,
    branch: &str,
    text: &str,
    state: &Installed,
    ctx: &Context,
    actions: &mut Vec<Action>,
) -> Result<Committed, Failure> {
    ctx.progress
        .step(&format!("Committing {} to {repo}:{branch} …", probe::PATH));
    match run::install(client, repo, branch, text, state).await {
        Ok(()) => {}
        Err(GithubError::BranchProtected { message, .. }) => {
            return Ok(Committed::Refused { message });
        }
        Err(error) => {
            // An answer lost after the commit landed must not hide the commit: look before saying.
            if run::installed(client, repo, branch, text).await.ok() != Some(Installed::UpToDate) {
                return Err(Failure::from(error).with_file(text.to_owned()));
            }
        }
    }
    actions.push(Action::ProbeInstalled {
        path: probe::PATH.to_owned(),
        updated: *state != Installed::Missing,
    });
    Ok(Committed::Yes)
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
            "keyfix's probe workflow {} on {repo} and {because}; {what_for} needs it: pass --install-probe to commit {}, or --probe-branch to run it from a throwaway branch, or commit the output of `keyfix probe print {repo}` yourself",
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
    /// The nonce to salt the fingerprints with, where several runs must compare (`scan
    /// --probe`); a fresh one for this run when `None`.
    pub nonce: Option<&'a str>,
}

/// Runs the probe (dispatched, or pushed to a throwaway branch) and reads its report on the
/// secret asked about.
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
        nonce,
    } = *asked;
    let nonce = nonce.map_or_else(|| random_hex(16), str::to_owned);
    let correlation_id = format!("kf-{}", random_hex(6));
    let values = RunValues {
        correlation_id: &correlation_id,
        nonce: &nonce,
        model,
    };
    let (run_id, probe_run) = match &probe.place {
        Place::Dispatched { fresh } => {
            let inputs = run::Dispatch {
                branch: &probe.branch,
                correlation_id: &correlation_id,
                nonce: &nonce,
                model,
            };
            ctx.progress
                .step(&format!("Dispatching the probe in {} …", probe.repo));
            let run_id = run::dispatch(client, &probe.repo, &inputs, *fresh).await?;
            (
                run_id,
                watch(client, probe, run_id, &values, timeout, ctx).await?,
            )
        }
        Place::Branch { spec } => {
            run_from_branch(client, probe, spec, &values, timeout, ctx, actions).await?
        }
    };
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

/// Waits for the probe run `run_id` and reads its reports.
async fn watch(
    client: &Client,
    probe: &ReadyProbe,
    run_id: u64,
    values: &RunValues<'_>,
    timeout: Duration,
    ctx: &Context,
) -> Result<ProbeRun, ProbeError> {
    run::wait_and_read(
        client,
        &probe.repo,
        run_id,
        values.correlation_id,
        timeout,
        |s| {
            ctx.progress.step(&format!("  probe run {run_id}: {s}"));
        },
    )
    .await
}

/// One probe run from a throwaway branch: made, its push run found and read, and the branch
/// deleted — also after a failure or Ctrl-C. A branch keyfix could not delete is reported with
/// the command that deletes it.
async fn run_from_branch(
    client: &Client,
    probe: &ReadyProbe,
    spec: &ProbeSpec,
    values: &RunValues<'_>,
    timeout: Duration,
    ctx: &Context,
    actions: &mut Vec<Action>,
) -> Result<(u64, ProbeRun), Failure> {
    let repo = &probe.repo;
    let name = branch::new_name();
    let workflow = probe::render_for(spec, Trigger::Push(values));
    let mut handling = Handling::begin();
    let created = Cell::new(false);
    let work = async {
        ctx.progress.step(&format!(
            "Pushing the probe to a throwaway branch {name} of {repo} …"
        ));
        if let Err(error) = branch::create(client, repo, &probe.branch, &name, &workflow).await {
            // A branch whose creation went unanswered may be there all the same.
            created.set(error.answer_lost());
            return Err(error.into());
        }
        created.set(true);
        let runs = branch::runs_path(repo, &name);
        let run_id = run::find_run(client, &runs, values.correlation_id, Instant::now()).await?;
        let probe_run = watch(client, probe, run_id, values, timeout, ctx).await;
        match probe_run {
            Err(ProbeError::JobNotStarted { job, url }) => {
                Err(refused_job(client, probe, spec, &name, job, url).await)
            }
            other => other.map(|read| (run_id, read)),
        }
    };
    let outcome = tokio::select! {
        biased;
        () = handling.pressed() => Err(Failure::new(
            FailureKind::Interrupted,
            format!("stopped by Ctrl-C while the probe ran from branch {name} of {repo}"),
        )),
        result = work => result.map_err(Failure::from),
    };
    let interrupted = outcome
        .as_ref()
        .is_err_and(|f| f.kind == FailureKind::Interrupted);
    if created.get() || interrupted {
        let deleted = branch::delete(client, repo, &name).await;
        if let Err(error) = &deleted {
            crate::output::stderr::line(&format!(
                "warning: keyfix could not delete the throwaway branch {name} of {repo} ({error}); delete it with `{}`",
                branch::delete_command(&name)
            ));
        }
        actions.push(Action::ProbeBranch {
            branch: name,
            deleted: deleted.is_ok(),
        });
    }
    outcome
}

/// Why a job of the branch probe failed before any step ran: an environment whose deployment
/// branches leave out the throwaway branch, where it has such a policy.
async fn refused_job(
    client: &Client,
    probe: &ReadyProbe,
    spec: &ProbeSpec,
    branch_name: &str,
    job: String,
    url: String,
) -> ProbeError {
    let environment = spec
        .jobs
        .iter()
        .find(|j| j.id() == job)
        .and_then(|j| j.environment.clone());
    let Some(environment) = environment else {
        return ProbeError::JobNotStarted { job, url };
    };
    match branch::deployment_restricted(client, &probe.repo, &environment).await {
        Ok(true) => ProbeError::EnvironmentRefused {
            environment,
            branch: branch_name.to_owned(),
            repo: probe.repo.to_string(),
        },
        _ => ProbeError::JobNotStarted { job, url },
    }
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
