//! Everything found about one repository's key before anything is changed: the workflow and
//! its Claude step, the secret's scopes, the failed run and its log, then the probe's report,
//! the Admin API's view and a reference key. `check` stops here; `repo` acts on it.

use std::time::Duration;

use crate::anthropic;
use crate::cli::ProbeRunArgs;
use crate::diagnosis::{
    self, Diagnosis, Evidence, KeyEvidence, Outcome as CallOutcome, RunFacts, Source, WorkflowFacts,
};
use crate::github::runs::{self, LogReading, WorkflowRun};
use crate::github::secrets::Resolution;
use crate::github::survey::Survey;
use crate::github::workflows::{
    ClaudeStep, Credential, ModelChoice, ModelSource, CLAUDE_CODE_DEFAULT_MODEL, DEFAULT_SECRET,
};
use crate::github::{names, Client, RepoName};
use crate::key::{Fingerprint, Key, Shape};
use crate::outcome::{
    Action, FailedRunSummary, Failure, FailureKind, Found, SecretSummary, WorkflowSummary,
};
use crate::probe::{ProbeSpec, BASELINE_MODEL};

use super::admin::{admin_key_from_env, admin_record, needs_admin_view};
use super::new_key::evidence_of;
use super::probe::{not_allowed_failure, read_secret, ready, Asked, Consent, ReadyProbe};
use super::Context;

/// What the command line named to look at, as given.
#[derive(Clone, Debug)]
pub struct SubjectArgs {
    pub repo: String,
    pub secret: Option<String>,
    pub model: Option<String>,
    pub run: Option<u64>,
}

/// What to look at: the repository, and what the command line chose instead of the workflow.
pub struct Subject {
    pub repo: RepoName,
    /// `--secret`, already checked.
    pub secret: Option<String>,
    pub model: Option<String>,
    pub run: Option<u64>,
}

impl Subject {
    /// Checks the names the command line gave, before any request, and names the repository
    /// in `report` once it is one.
    pub fn parse(args: &SubjectArgs, report: &mut Found) -> Result<Subject, Failure> {
        let repo = RepoName::parse(&args.repo)?;
        report.repo = Some(repo.to_string());
        Ok(Subject {
            repo,
            secret: args
                .secret
                .as_deref()
                .map(names::parse_secret_name)
                .transpose()?,
            model: args
                .model
                .clone()
                .map(|model| names::check_model(&model).map(|()| model))
                .transpose()?,
            run: args.run,
        })
    }
}

/// Everything found about one repository's key, before any change.
#[derive(Clone)]
pub struct Findings {
    pub repo: RepoName,
    pub default_branch: String,
    pub secret: String,
    pub environment: Option<String>,
    pub resolution: Resolution,
    pub workflow: Option<WorkflowSummary>,
    pub model: String,
    /// Where the model came from: the workflow, the command line, or Claude Code's default.
    pub model_source: ModelSource,
    pub failed_run: Option<WorkflowRun>,
    pub run_reading: LogReading,
    pub evidence: Evidence,
    /// The nonce the probe salted its fingerprints with, when it ran.
    pub nonce: Option<String>,
    /// The probe's salted fingerprint of the stored key's Admin API hint.
    pub hint_fingerprint: Option<String>,
    pub probe_spec: ProbeSpec,
    /// Where the probe ran, once it has: later runs (verifying a new key) go the same way.
    pub ready_probe: Option<ReadyProbe>,
}

impl Findings {
    pub fn diagnosis(&self) -> Diagnosis {
        diagnosis::diagnose(&self.evidence)
    }

    /// The probe's answer is needed: the secret is defined where the job can see it (otherwise
    /// row 1 holds already).
    pub fn needs_probe(&self) -> bool {
        self.resolution.reads.is_some()
    }

    /// What the probe is asked about this repository's key.
    pub fn asked(&self, timeout: Duration) -> Asked<'_> {
        Asked {
            secret: &self.secret,
            environment: self.environment.as_deref(),
            model: &self.model,
            timeout,
            nonce: None,
        }
    }

    /// Writes what was found into the command's report.
    pub fn fill(&self, report: &mut Found) {
        report.repo = Some(self.repo.to_string());
        report.secret = Some(SecretSummary {
            name: self.secret.clone(),
            scope: self.resolution.reads.clone(),
            shadows: self.resolution.shadows.clone(),
            updated_at: self.resolution.defined.first().and_then(|(_, u)| u.clone()),
        });
        report.workflow = self.workflow.clone();
        report.failed_run = self.failed_run.as_ref().map(|run| FailedRunSummary {
            id: run.id,
            url: run.html_url.clone(),
            event: run.event.clone(),
            actor: run.actor.as_ref().map(|a| a.login.clone()),
            signature: runs::signature(run, &self.run_reading),
            green: run.is_green(),
            result: self.run_reading.result.clone(),
        });
    }
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

/// Reads the repository: its Claude step, the secret's scopes, the failed run and its log.
/// Reads only; the probe comes after, in [`probe_stored_key`].
pub async fn read_repository(
    client: &Client,
    subject: &Subject,
    ctx: &Context,
) -> Result<Findings, Failure> {
    let repo = subject.repo.clone();
    ctx.progress.step(&format!("Reading {repo} …"));
    let survey = match Survey::read(client, &repo, 4).await? {
        Some(survey) => survey,
        None if subject.secret.is_some() => Survey::bare(client, &repo).await?,
        None => {
            return Err(Failure::new(
                FailureKind::Usage,
                format!("{repo} has no workflow on its default branch that uses anthropics/claude-code-action; name a secret with --secret to probe it anyway"),
            ))
        }
    };
    for warning in &survey.analysis.warnings {
        ctx.progress.step(&format!("warning: {warning}"));
    }
    let (failed_run, run_reading) = match subject.run {
        Some(id) => {
            let run = runs::get(client, &repo, id).await?;
            let reading = if run.is_completed() {
                runs::read_logs(client, &repo, run.id).await?
            } else {
                LogReading::default()
            };
            (Some(run), reading)
        }
        None => runs::latest_refused(client, &repo, &survey.analysis.workflow_paths())
            .await?
            .map_or((None, LogReading::default()), |(run, reading)| {
                (Some(run), reading)
            }),
    };
    let step = chosen_step(&survey, failed_run.as_ref());
    if let (None, None) = (step, &subject.secret) {
        if let Some(unread) = survey.analysis.unread_calls().next() {
            return Err(Failure::new(
                FailureKind::Usage,
                format!("{unread}; pass --secret NAME to check the secret its Claude step uses"),
            ));
        }
    }
    if let (Some(step), None) = (step, &subject.secret) {
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
    if let (Some(step), None) = (step, &subject.secret) {
        if let Some(expression) = &step.api_key_expression {
            return Err(unresolved_secret(&survey, step, expression));
        }
    }
    let mut findings = findings_of(
        &survey,
        step,
        Chosen {
            secret: subject.secret.clone(),
            model: subject.model.clone(),
        },
        failed_run,
        run_reading,
    );
    // As the command line spelled it.
    findings.repo = repo;
    if findings.model_source == ModelSource::Default {
        ctx.progress.step(&format!(
            "The workflow names no model; assuming Claude Code's default, {}.",
            findings.model
        ));
    }
    Ok(findings)
}

/// What the command line chose in place of what the workflow says.
#[derive(Clone, Debug, Default)]
pub struct Chosen {
    pub secret: Option<String>,
    pub model: Option<String>,
}

/// The findings of one Claude `step` of a surveyed repository, before the probe: its secret and
/// where the job reads it, its model, and the run being diagnosed, if any.
pub fn findings_of(
    survey: &Survey,
    step: Option<&ClaudeStep>,
    chosen: Chosen,
    failed_run: Option<WorkflowRun>,
    run_reading: LogReading,
) -> Findings {
    let repo = survey.repo_name();
    let secret = chosen
        .secret
        .or_else(|| step.and_then(|s| s.api_key_secret.clone()))
        .unwrap_or_else(|| DEFAULT_SECRET.to_owned());
    let environment = step.and_then(|s| s.environment.clone());
    let resolution = survey.scopes.resolve(&secret, environment.as_deref());
    let model_choice = match chosen.model {
        Some(model) => ModelChoice {
            model,
            source: ModelSource::ClaudeArgs,
        },
        None => step.map_or_else(
            || ModelChoice {
                model: CLAUDE_CODE_DEFAULT_MODEL.to_owned(),
                source: ModelSource::Default,
            },
            |s| survey.model_of(s),
        ),
    };
    let probe_spec = ProbeSpec::for_survey(survey, Some(&secret));
    Findings {
        default_branch: survey.repository.default_branch.clone(),
        workflow: step.map(|s| WorkflowSummary {
            path: s.workflow_path.clone(),
            job: s.job_id.clone(),
            model: model_choice.model.clone(),
            model_source: model_choice.source,
            called_workflow: s.called_workflow.clone(),
        }),
        model: model_choice.model.clone(),
        model_source: model_choice.source,
        evidence: Evidence {
            model: model_choice.model,
            baseline_model: BASELINE_MODEL.to_owned(),
            stored_source: Source::Probe,
            stored: KeyEvidence {
                shape: Shape::of(""),
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
        ready_probe: None,
    }
}

/// Reads the repository and probes the stored key where it must: [`read_repository`], then
/// [`probe_stored_key`], each finding and action written into `report` as it comes, so that a
/// failure part-way still reports them.
pub async fn gather(
    client: &Client,
    subject: &Subject,
    probe: &ProbeRunArgs,
    ctx: &Context,
    report: &mut Found,
) -> Result<Findings, Failure> {
    let mut findings = read_repository(client, subject, ctx).await?;
    findings.fill(report);
    if findings.needs_probe() {
        probe_stored_key(client, &mut findings, probe, ctx, &mut report.actions).await?;
    }
    Ok(findings)
}

/// The probe's report on the stored key (installed first with consent), then the Admin API's
/// view where it decides. The probe's actions go to `actions` as they happen.
pub async fn probe_stored_key(
    client: &Client,
    findings: &mut Findings,
    args: &ProbeRunArgs,
    ctx: &Context,
    actions: &mut Vec<Action>,
) -> Result<(), Failure> {
    let probe = ready_probe(client, findings, args.into(), ctx, actions)
        .await?
        .map_err(|refusal| not_allowed_failure(&findings.repo, &refusal, "the diagnosis"))?;
    let timeout = Duration::from_secs(args.timeout);
    read_stored_key(client, findings, probe, timeout, None, ctx, actions).await
}

/// Runs the `probe` already in place and reads its report on the stored key, salted with
/// `nonce` (a fresh one when `None`), then the Admin API's view where it decides.
pub async fn read_stored_key(
    client: &Client,
    findings: &mut Findings,
    probe: ReadyProbe,
    timeout: Duration,
    nonce: Option<&str>,
    ctx: &Context,
    actions: &mut Vec<Action>,
) -> Result<(), Failure> {
    findings.ready_probe = Some(probe.clone());
    let asked = Asked {
        nonce,
        ..findings.asked(timeout)
    };
    let reading = read_secret(client, &probe, &asked, ctx, actions).await?;
    findings.evidence.stored = reading.evidence;
    findings.nonce = Some(reading.nonce);
    findings.hint_fingerprint = reading.hint_fingerprint;
    add_admin_view(findings, ctx).await
}

/// The findings' repository with its probe in place (where it already ran, the same place),
/// or why it may not be.
pub async fn ready_probe(
    client: &Client,
    findings: &Findings,
    consent: Consent,
    ctx: &Context,
    actions: &mut Vec<Action>,
) -> Result<Result<ReadyProbe, super::probe::NotAllowed>, Failure> {
    if let Some(probe) = &findings.ready_probe {
        return Ok(Ok(probe.clone()));
    }
    ready(
        client,
        &findings.repo,
        &findings.default_branch,
        &findings.probe_spec,
        consent,
        ctx,
        actions,
    )
    .await
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

/// Calls the API with a reference key directly (the new key of `repo`, or `check`'s
/// `--reference-key-*`); its organization is salted like the probe's so the two compare.
pub async fn add_reference(
    findings: &mut Findings,
    key: &Key,
    ctx: &Context,
) -> Result<(), Failure> {
    let client = anthropic::Client::new(ctx.anthropic.clone())?;
    if key.shape().is_clean_api_key() {
        ctx.progress.step(&format!(
            "Checking the reference key {} on {} …",
            key.display_form(),
            findings.model
        ));
    }
    findings.evidence.reference =
        Some(reference_evidence(&client, key, &findings.model, findings.nonce.as_deref()).await?);
    Ok(())
}

/// A reference key's calls on `model`, its organization and workspace ids salted with `nonce`
/// as the probe salts the stored key's, so that the two compare.
pub async fn reference_evidence(
    client: &anthropic::Client,
    key: &Key,
    model: &str,
    nonce: Option<&str>,
) -> Result<KeyEvidence, Failure> {
    let mut reference = evidence_of(client, key, model).await?;
    if let Some(nonce) = nonce {
        for call in &mut reference.calls {
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
    Ok(reference)
}

/// A step whose key comes from an expression keyfix cannot resolve (`secrets[matrix.key]`):
/// never replaced by a guess; the secrets the repository has are the candidates.
fn unresolved_secret(survey: &Survey, step: &ClaudeStep, expression: &str) -> Failure {
    let candidates = survey.scopes.names();
    let seen = if candidates.is_empty() {
        "it can see no secret".to_owned()
    } else {
        format!("the secrets it can see: {}", candidates.join(", "))
    };
    Failure::new(
        FailureKind::Usage,
        format!(
            "the Claude step of {} ({}) reads its key from {expression}, which keyfix cannot resolve; {seen}. Pass --secret NAME",
            step.workflow_path, step.job_id
        ),
    )
}
