//! `keyfix check OWNER/REPO`: gather every piece of evidence about the key a Claude workflow
//! uses (workflows, scopes, the failed run, the probe, a reference key, the Admin API) and name
//! the cause. It changes no secret. `repo` starts from the same findings.

use std::time::Duration;

use crate::anthropic;
use crate::cli::{KeyInputArgs, ProbeRunArgs};
use crate::diagnosis::{
    self, Diagnosis, Evidence, KeyEvidence, Outcome as CallOutcome, RunFacts, Source, WorkflowFacts,
};
use crate::github::runs::{self, LogReading, WorkflowRun};
use crate::github::secrets::Resolution;
use crate::github::survey::Survey;
use crate::github::workflows::{ClaudeStep, Credential, ModelChoice, ModelSource, DEFAULT_SECRET};
use crate::github::{names, Client, RepoName};
use crate::input;
use crate::key::{random_hex, Fingerprint, Key};
use crate::outcome::{
    Action, CommandName, FailedRunSummary, Failure, FailureKind, Outcome, SecretSummary,
    WorkflowSummary,
};
use crate::probe::{self, run::Installed, ProbeSpec};

use super::validate::{admin_key_from_env, admin_record, key_calls, needs_admin_view};
use super::Context;

pub struct CheckOptions {
    pub repo: String,
    pub secret: Option<String>,
    pub model: Option<String>,
    pub run: Option<u64>,
    pub probe: ProbeRunArgs,
    pub reference: KeyInputArgs,
}

/// Everything found about one repository's key, before any change.
pub struct Findings {
    pub repo: RepoName,
    pub default_branch: String,
    pub secret: String,
    pub environment: Option<String>,
    pub resolution: Resolution,
    pub workflow: Option<WorkflowSummary>,
    pub model: String,
    pub failed_run: Option<WorkflowRun>,
    pub run_reading: LogReading,
    pub evidence: Evidence,
    /// The nonce the probe salted its fingerprints with, when it ran.
    pub nonce: Option<String>,
    /// The probe's salted fingerprint of the stored key's Admin API hint.
    pub hint_fingerprint: Option<String>,
    pub probe_spec: ProbeSpec,
    pub actions: Vec<Action>,
}

impl Findings {
    pub fn diagnosis(&self) -> Diagnosis {
        diagnosis::diagnose(&self.evidence)
    }

    /// The outcome with everything found filled in; the caller adds the diagnosis it acts on.
    pub fn outcome(&self, command: CommandName) -> Outcome {
        Outcome {
            repo: Some(self.repo.to_string()),
            secret: Some(SecretSummary {
                name: self.secret.clone(),
                scope: self.resolution.reads.clone(),
                shadows: self.resolution.shadows.clone(),
                updated_at: self.resolution.defined.first().and_then(|(_, u)| u.clone()),
            }),
            workflow: self.workflow.clone(),
            failed_run: self.failed_run.as_ref().map(|run| FailedRunSummary {
                id: run.id,
                url: run.html_url.clone(),
                event: run.event.clone(),
                actor: run.actor.as_ref().map(|a| a.login.clone()),
                signature: runs::signature(run, &self.run_reading),
            }),
            actions: self.actions.clone(),
            ..Outcome::new(command)
        }
    }
}

pub async fn run(options: CheckOptions, ctx: &Context) -> Result<Outcome, Failure> {
    let reference = read_reference_key(&options.reference, ctx)?;
    let client = ctx.github_client()?;
    let mut findings = gather(&client, &options, ctx).await?;
    if let Some(reference) = &reference {
        add_reference(&mut findings, reference, ctx).await?;
    }
    let diagnosis = findings.diagnosis();
    Ok(Outcome {
        diagnosis: Some(diagnosis),
        ..findings.outcome(CommandName::Check)
    })
}

/// A reference key from `--reference-key-stdin` / `--reference-key-env`, when one was given.
fn read_reference_key(args: &KeyInputArgs, ctx: &Context) -> Result<Option<Key>, Failure> {
    if !args.key_stdin && args.key_env.is_none() {
        return Ok(None);
    }
    Ok(Some(input::read_key(
        args,
        ctx.interactivity,
        "reference key",
    )?))
}

/// The Claude step a diagnosis is about: the failed run's, else the first that passes an API key.
fn chosen_step<'s>(survey: &'s Survey, failed: Option<&WorkflowRun>) -> Option<&'s ClaudeStep> {
    let steps = &survey.analysis.steps;
    let in_failed = failed.and_then(|run| run.path.as_deref()).and_then(|path| {
        steps
            .iter()
            .find(|s| s.workflow_path == path && s.credential.uses_api_key())
    });
    in_failed
        .or_else(|| steps.iter().find(|s| s.credential.uses_api_key()))
        .or_else(|| steps.first())
}

/// Reads the repository and runs the probe: every finding `check` and `repo` act on.
pub async fn gather(
    client: &Client,
    options: &CheckOptions,
    ctx: &Context,
) -> Result<Findings, Failure> {
    let repo = RepoName::parse(&options.repo)?;
    let wanted_secret = options
        .secret
        .as_deref()
        .map(names::parse_secret_name)
        .transpose()?;
    ctx.progress.step(&format!("Reading {repo} …"));
    let survey = Survey::read(client, &repo, 4).await?;
    let survey = match survey {
        Some(survey) => survey,
        None if wanted_secret.is_some() => Survey::bare(client, &repo).await?,
        None => {
            return Err(Failure::new(
                FailureKind::Usage,
                format!("{repo} has no workflow on its default branch that uses anthropics/claude-code-action; name a secret with --secret to probe it anyway"),
            ))
        }
    };
    for warning in &survey.analysis.warnings {
        ctx.progress
            .step(&format!("warning: {}: {}", warning.path, warning.message));
    }
    let failed_run = match options.run {
        Some(id) => Some(runs::get(client, &repo, id).await?),
        None => runs::latest_failed(client, &repo, &survey.analysis.workflow_paths()).await?,
    };
    let run_reading = match &failed_run {
        Some(run) if run.is_completed() => runs::read_logs(client, &repo, run.id).await?,
        _ => LogReading::default(),
    };
    let step = chosen_step(&survey, failed_run.as_ref());
    if let (Some(step), None) = (step, &wanted_secret) {
        if !step.credential.uses_api_key() {
            return Err(Failure::new(
                FailureKind::Usage,
                format!(
                    "the Claude step of {} ({}) uses {}, not an API key, so there is no key for keyfix to check; pass --secret NAME to probe another secret",
                    step.workflow_path,
                    step.job_id,
                    step.credential.describe()
                ),
            ));
        }
    }
    let secret = wanted_secret
        .or_else(|| step.and_then(|s| s.api_key_secret.clone()))
        .unwrap_or_else(|| DEFAULT_SECRET.to_owned());
    let environment = step.and_then(|s| s.environment.clone());
    let resolution = survey.scopes.resolve(&secret, environment.as_deref());
    let model_choice = match &options.model {
        Some(model) => ModelChoice {
            model: model.clone(),
            source: ModelSource::ClaudeArgs,
        },
        None => step.map_or_else(
            || ModelChoice {
                model: crate::github::workflows::CLAUDE_CODE_DEFAULT_MODEL.to_owned(),
                source: ModelSource::Default,
            },
            |s| survey.model_of(s),
        ),
    };
    if model_choice.source == ModelSource::Default {
        ctx.progress.step(&format!(
            "The workflow names no model; assuming Claude Code's default, {}.",
            model_choice.model
        ));
    }
    let probe_spec = ProbeSpec::for_survey(&survey, Some(&secret));
    let mut findings = Findings {
        default_branch: survey.repository.default_branch.clone(),
        workflow: step.map(|s| WorkflowSummary {
            path: s.workflow_path.clone(),
            job: s.job_id.clone(),
            model: model_choice.model.clone(),
            model_source: model_choice.source,
        }),
        model: model_choice.model.clone(),
        evidence: Evidence {
            model: model_choice.model,
            baseline_model: probe::BASELINE_MODEL.to_owned(),
            stored_source: Source::Probe,
            stored: KeyEvidence {
                shape: crate::key::Shape::of(""),
                fingerprint: None,
                calls: Vec::new(),
            },
            reference: None,
            admin: None,
            run: failed_run.as_ref().map(|run| RunFacts {
                event: run.event.clone(),
                got_no_secrets: run.no_secrets_reason(),
                preflight_refusal: run_reading.preflight_refusal(),
            }),
            workflow: Some(WorkflowFacts {
                secret_name: secret.clone(),
                defined_in_visible_scope: Some(resolution.reads.is_some()),
                api_key_beside_oauth_token: step
                    .is_some_and(|s| s.credential == Credential::ApiKeyAndOauthToken),
            }),
        },
        repo,
        secret,
        environment,
        resolution,
        failed_run,
        run_reading,
        nonce: None,
        hint_fingerprint: None,
        probe_spec,
        actions: Vec::new(),
    };
    // A secret defined nowhere the job can see needs no probe: row 1 holds already.
    if findings.resolution.reads.is_some() {
        run_probe(client, &mut findings, &options.probe, ctx).await?;
        add_admin_view(&mut findings, ctx).await?;
    }
    Ok(findings)
}

/// Installs the probe if it must (and may), dispatches it, and takes its report as the stored
/// key's evidence. Returns the probe run's id.
pub async fn run_probe(
    client: &Client,
    findings: &mut Findings,
    args: &ProbeRunArgs,
    ctx: &Context,
) -> Result<u64, Failure> {
    let repo = findings.repo.clone();
    let branch = findings.default_branch.clone();
    let text = probe::render(&findings.probe_spec);
    let state = probe::run::installed(client, &repo, &branch, &text).await?;
    let fresh = state != Installed::UpToDate;
    if fresh {
        ensure_may_install(&repo, &state, args, ctx)?;
        ctx.progress
            .step(&format!("Committing {} to {repo}:{branch} …", probe::PATH));
        probe::run::install(client, &repo, &branch, &text, &state)
            .await
            .map_err(|e| Failure::from(e).with_file(text.clone()))?;
        findings.actions.push(Action::ProbeInstalled {
            path: probe::PATH.to_owned(),
            updated: state != Installed::Missing,
        });
    }
    let nonce = random_hex(16);
    let correlation = format!("kf-{}", random_hex(6));
    let inputs = probe::run::Dispatch {
        branch: &branch,
        correlation_id: &correlation,
        nonce: &nonce,
        model: &findings.model,
    };
    ctx.progress.step("Dispatching the probe …");
    let run_id = probe::run::dispatch(client, &repo, &inputs, fresh).await?;
    let timeout = Duration::from_secs(args.timeout);
    let probe_run =
        probe::run::wait_and_read(client, &repo, run_id, &correlation, timeout, |status| {
            ctx.progress
                .step(&format!("  probe run {run_id}: {status}"));
        })
        .await?;
    findings.actions.push(Action::ProbeRun {
        run_id,
        url: probe_run.url.clone(),
    });
    let report = probe_run
        .reports
        .iter()
        .find(|r| r.environment == findings.environment)
        .and_then(|r| r.secrets.iter().find(|s| s.name == findings.secret))
        .ok_or_else(|| {
            Failure::new(
                FailureKind::Run,
                format!(
                    "the probe run {run_id} reported no result for secret {}",
                    findings.secret
                ),
            )
        })?;
    findings.evidence.stored = report.evidence();
    findings.nonce = Some(nonce);
    findings.hint_fingerprint = report.hint_fingerprint.clone();
    Ok(run_id)
}

/// The probe is a commit on the default branch: only `--install-probe` or a person's yes
/// allows it (`--yes` does not).
fn ensure_may_install(
    repo: &RepoName,
    state: &Installed,
    args: &ProbeRunArgs,
    ctx: &Context,
) -> Result<(), Failure> {
    if args.install_probe {
        return Ok(());
    }
    let what = match state {
        Installed::Missing => "is not installed",
        _ => "is outdated",
    };
    let question = format!(
        "keyfix's probe workflow {what} on {repo}'s default branch. Commit {} now?",
        probe::PATH
    );
    match input::confirm(ctx.interactivity, false, false, &question) {
        Ok(true) => Ok(()),
        Ok(false) => Err(Failure::new(
            FailureKind::InputNeeded,
            format!("the probe was not installed and nothing was changed; commit the output of `keyfix probe print {repo}` yourself, or pass --install-probe"),
        )),
        Err(input::Error::InputNeeded { why }) => Err(Failure::new(
            FailureKind::InputNeeded,
            format!("keyfix's probe workflow {what} on {repo} and keyfix may not ask ({why}): pass --install-probe to commit {}, or commit the output of `keyfix probe print {repo}` yourself", probe::PATH),
        )),
        Err(other) => Err(other.into()),
    }
}

/// With `ANTHROPIC_ADMIN_KEY`, the Admin API record whose hint the probe fingerprinted.
async fn add_admin_view(findings: &mut Findings, ctx: &Context) -> Result<(), Failure> {
    let (Some(admin_key), Some(nonce), Some(hint_fp)) = (
        admin_key_from_env()?,
        findings.nonce.clone(),
        findings.hint_fingerprint.clone(),
    ) else {
        return Ok(());
    };
    if !needs_admin_view(&findings.evidence.stored) {
        return Ok(());
    }
    let client = anthropic::Client::new(ctx.anthropic.clone())?;
    let wanted = Fingerprint::parse(&hint_fp);
    findings.evidence.admin = admin_record(&client, &admin_key, ctx, |hint| {
        wanted
            .as_ref()
            .is_some_and(|w| w.matches(&Fingerprint::of(nonce.as_bytes(), hint.as_bytes())))
    })
    .await?;
    Ok(())
}

/// Calls the API with the reference key directly; its organization is salted like the probe's
/// so the two can be compared.
pub async fn add_reference(
    findings: &mut Findings,
    key: &Key,
    ctx: &Context,
) -> Result<(), Failure> {
    let client = anthropic::Client::new(ctx.anthropic.clone())?;
    let shape = key.shape();
    let mut calls = Vec::new();
    if shape.is_clean_api_key() {
        ctx.progress.step(&format!(
            "Checking the reference key {} on {} …",
            key.display_form(),
            findings.model
        ));
        calls = key_calls(&client, key, &findings.model).await?;
    }
    if let Some(nonce) = &findings.nonce {
        for call in &mut calls {
            if let CallOutcome::Answered(answer) = &mut call.outcome {
                let salt = |id: &mut Option<String>| {
                    if let Some(raw) = id.take() {
                        *id = Some(
                            Fingerprint::of(nonce.as_bytes(), raw.as_bytes())
                                .as_str()
                                .to_owned(),
                        );
                    }
                };
                salt(&mut answer.organization_id);
                salt(&mut answer.workspace_id);
            }
        }
    }
    findings.evidence.reference = Some(KeyEvidence {
        shape,
        fingerprint: None,
        calls,
    });
    Ok(())
}
