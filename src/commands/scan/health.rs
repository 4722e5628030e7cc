//! `scan --probe` and `--max-age`: the health of every stored key behind the owner's Claude
//! workflows, each distinct stored secret probed once (an organization secret read by 300
//! repositories is probed from one of them), all with one nonce so that the same key stored in
//! several places shows as one key.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use futures::stream::{self, StreamExt};

use crate::anthropic;
use crate::cli::{KeyInputArgs, ProbeRunArgs};
use crate::diagnosis::KeyEvidence;
use crate::github::runs::LogReading;
use crate::github::survey::Survey;
use crate::github::Client;
use crate::input;
use crate::key::{random_hex, Key};
use crate::outcome::{Failure, FailureKind, Health, ScannedRepo, ScopeHealth, StoredSecret};
use crate::work::findings::{
    findings_of, read_stored_key, ready_probe, reference_evidence, Chosen, Findings,
};
use crate::work::probe::{not_allowed_failure, Consent, ReadyProbe};
use crate::work::Context;

/// What the command line asked of the stored keys, as given.
#[derive(Clone, Debug)]
pub struct HealthOptions {
    /// `--probe`.
    pub probe: bool,
    /// `--install-probe`, `--probe-branch`, `--timeout`.
    pub probe_run: ProbeRunArgs,
    /// Probe runs in flight at once.
    pub probe_concurrency: usize,
    pub reference: KeyInputArgs,
    /// `--max-age`, as given and as read.
    pub max_age: Option<(String, Duration)>,
}

/// [`HealthOptions`] checked before any request.
pub struct Checked {
    probe: Option<ProbeRunArgs>,
    probe_concurrency: usize,
    reference: Option<Key>,
    max_age: Option<(String, Duration)>,
}

impl HealthOptions {
    /// Refuses probe options without `--probe`, and reads the reference key, before any request.
    pub fn checked(&self) -> Result<Checked, Failure> {
        let run = &self.probe_run;
        if !self.probe && (run.install_probe || run.probe_branch) {
            return Err(Failure::new(
                FailureKind::Usage,
                "--install-probe and --probe-branch go with --probe: add --probe to test the stored keys",
            ));
        }
        Ok(Checked {
            probe: self.probe.then(|| run.clone()),
            probe_concurrency: self.probe_concurrency.max(1),
            reference: input::key_from_flags(&self.reference)?,
            max_age: self.max_age.clone(),
        })
    }
}

impl Checked {
    /// Whether anything beyond the listing was asked.
    pub fn wanted(&self) -> bool {
        self.probe.is_some() || self.max_age.is_some()
    }
}

/// One distinct stored secret and the Claude steps that read it (repository index, step index).
#[derive(Debug, PartialEq, Eq)]
pub struct Distinct {
    pub stored: StoredSecret,
    pub readers: Vec<(usize, usize)>,
}

/// Every distinct stored secret of `repos`, in the order first read.
pub fn distinct_secrets(repos: &[ScannedRepo]) -> Vec<Distinct> {
    let mut found: Vec<Distinct> = Vec::new();
    for (r, repo) in repos.iter().enumerate() {
        for (w, workflow) in repo.workflows.iter().enumerate() {
            let Some(stored) = workflow.stored_secret(&repo.repo) else {
                continue;
            };
            match found.iter_mut().find(|d| d.stored == stored) {
                Some(distinct) => distinct.readers.push((r, w)),
                None => found.push(Distinct {
                    stored,
                    readers: vec![(r, w)],
                }),
            }
        }
    }
    found
}

/// Whether a secret last updated at `updated_at` (RFC 3339) is older than `max_age` at `now`.
pub fn over_age(updated_at: Option<&str>, max_age: Duration, now: SystemTime) -> bool {
    updated_at
        .and_then(|t| humantime::parse_rfc3339_weak(t).ok())
        .and_then(|t| now.duration_since(t).ok())
        .is_some_and(|age| age > max_age)
}

/// Looks at every distinct stored secret of `repos` (surveyed as `surveys`, in the same order):
/// its age, and with `--probe`, its key. Each scope goes into `health` as it is done.
pub async fn assess(
    client: &Client,
    repos: &[ScannedRepo],
    surveys: &[Survey],
    checked: &Checked,
    ctx: &Context,
    health: &mut Option<Health>,
) -> Result<(), Failure> {
    let distinct = distinct_secrets(repos);
    let now = SystemTime::now();
    let mut looked: Vec<(ScopeHealth, Findings)> = distinct
        .into_iter()
        .map(|d| {
            let (r, w) = d.readers[0];
            let survey = &surveys[r];
            let step = &survey.analysis.steps[w];
            let findings = findings_of(
                survey,
                Some(step),
                Chosen::default(),
                None,
                LogReading::default(),
            );
            let mut read_by: Vec<String> = d
                .readers
                .iter()
                .map(|(r, _)| repos[*r].repo.clone())
                .collect();
            read_by.dedup();
            let updated_at = findings
                .resolution
                .reads
                .as_ref()
                .and_then(|scope| findings.resolution.updated_at(scope))
                .map(str::to_owned);
            let over_age = checked
                .max_age
                .as_ref()
                .is_some_and(|(_, max)| over_age(updated_at.as_deref(), *max, now));
            let scope = ScopeHealth {
                stored: d.stored,
                read_by,
                probed_in: None,
                fingerprint: None,
                updated_at,
                over_age,
                diagnosis: None,
                failure: None,
                actions: Vec::new(),
            };
            (scope, findings)
        })
        .collect();
    let report = health.insert(Health {
        scopes: Vec::new(),
        max_age: checked.max_age.as_ref().map(|(text, _)| text.clone()),
        probed: checked.probe.is_some(),
    });
    if let Some(run) = &checked.probe {
        let interrupted = probe_all(client, &mut looked, run, checked, ctx).await;
        report.scopes = looked.into_iter().map(|(scope, _)| scope).collect();
        interrupted?;
    } else {
        report.scopes = looked.into_iter().map(|(scope, _)| scope).collect();
    }
    Ok(())
}

/// Probes every scope of `looked` that holds a secret (one run each, `probe_concurrency` at a
/// time, one nonce for all), then diagnoses each. A scope that could not be probed keeps its
/// failure; only Ctrl-C stops the others.
async fn probe_all(
    client: &Client,
    looked: &mut [(ScopeHealth, Findings)],
    run: &ProbeRunArgs,
    checked: &Checked,
    ctx: &Context,
) -> Result<(), Failure> {
    let probes = ready_probes(client, looked, run.into(), ctx).await?;
    let nonce = random_hex(16);
    let timeout = Duration::from_secs(run.timeout);
    let to_probe: Vec<usize> = (0..looked.len())
        .filter(|i| looked[*i].1.needs_probe() && looked[*i].0.failure.is_none())
        .collect();
    if !to_probe.is_empty() {
        ctx.progress.step(&format!(
            "Probing {} stored secrets, {} at a time …",
            to_probe.len(),
            checked.probe_concurrency
        ));
    }
    let runs = stream::iter(to_probe.into_iter().map(|i| {
        let probe = probes[&looked[i].1.repo.to_string()].clone();
        let mut findings = looked[i].1.clone();
        let nonce = nonce.as_str();
        async move {
            let mut actions = Vec::new();
            let result = read_stored_key(
                client,
                &mut findings,
                probe,
                timeout,
                Some(nonce),
                ctx,
                &mut actions,
            )
            .await;
            (i, findings, actions, result)
        }
    }))
    .buffer_unordered(checked.probe_concurrency)
    .collect::<Vec<_>>()
    .await;
    let mut interrupted = None;
    for (i, findings, actions, result) in runs {
        let (scope, kept) = &mut looked[i];
        scope.actions.extend(actions);
        scope.probed_in = Some(findings.repo.to_string());
        *kept = findings;
        if let Err(failure) = result {
            if failure.kind == FailureKind::Interrupted {
                interrupted = Some(failure.clone());
            }
            scope.failure = Some(failure);
        }
    }
    if let Some(failure) = interrupted {
        return Err(failure);
    }
    add_reference(looked, checked.reference.as_ref(), &nonce, ctx).await;
    for (scope, findings) in looked.iter_mut() {
        if scope.failure.is_some() {
            continue;
        }
        scope.fingerprint = findings
            .evidence
            .stored
            .fingerprint
            .as_ref()
            .map(|f| f.as_str().to_owned());
        scope.diagnosis = Some(findings.diagnosis());
    }
    Ok(())
}

/// The probe made ready in each repository a scope is probed from, asking consent as `check`
/// does; a repository where it may not run gives its scopes that failure.
async fn ready_probes(
    client: &Client,
    looked: &mut [(ScopeHealth, Findings)],
    consent: Consent,
    ctx: &Context,
) -> Result<HashMap<String, ReadyProbe>, Failure> {
    let mut probes: HashMap<String, ReadyProbe> = HashMap::new();
    let mut refused: HashMap<String, Failure> = HashMap::new();
    for (scope, findings) in looked.iter_mut() {
        if !findings.needs_probe() {
            continue;
        }
        let repo = findings.repo.to_string();
        if let Some(failure) = refused.get(&repo) {
            scope.failure = Some(failure.clone());
            continue;
        }
        if probes.contains_key(&repo) {
            continue;
        }
        let made = ready_probe(client, findings, consent, ctx, &mut scope.actions).await;
        match made {
            Ok(Ok(probe)) => {
                probes.insert(repo, probe);
            }
            Ok(Err(refusal)) => {
                let failure = not_allowed_failure(&findings.repo, &refusal, "the health check");
                scope.failure = Some(failure.clone());
                refused.insert(repo, failure);
            }
            Err(failure) if failure.kind == FailureKind::Interrupted => return Err(failure),
            Err(failure) => {
                scope.failure = Some(failure.clone());
                refused.insert(repo, failure);
            }
        }
    }
    Ok(probes)
}

/// With a reference key: its calls on each model the probed scopes use, made once per model and
/// salted with the scan's nonce, beside each scope's stored key.
async fn add_reference(
    looked: &mut [(ScopeHealth, Findings)],
    reference: Option<&Key>,
    nonce: &str,
    ctx: &Context,
) {
    let Some(key) = reference else {
        return;
    };
    let client = match anthropic::Client::new(ctx.anthropic.clone()) {
        Ok(client) => client,
        Err(error) => {
            let failure = Failure::from(error);
            for (scope, _) in looked.iter_mut() {
                scope.failure.get_or_insert_with(|| failure.clone());
            }
            return;
        }
    };
    let mut by_model: HashMap<String, Result<KeyEvidence, Failure>> = HashMap::new();
    for (scope, findings) in looked.iter_mut() {
        if scope.failure.is_some() || !findings.needs_probe() {
            continue;
        }
        if !by_model.contains_key(&findings.model) {
            ctx.progress.step(&format!(
                "Checking the reference key {} on {} …",
                key.display_form(),
                findings.model
            ));
            let evidence = reference_evidence(&client, key, &findings.model, Some(nonce)).await;
            by_model.insert(findings.model.clone(), evidence);
        }
        match &by_model[&findings.model] {
            Ok(evidence) => findings.evidence.reference = Some(evidence.clone()),
            Err(failure) => scope.failure = Some(failure.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::secrets::Scope;
    use crate::github::workflows::{Credential, ModelSource};
    use crate::outcome::ScannedWorkflow;

    fn workflow(secret: &str, scope: Option<Scope>, environment: Option<&str>) -> ScannedWorkflow {
        ScannedWorkflow {
            path: ".github/workflows/claude.yml".into(),
            job: "claude".into(),
            secret: Some(secret.into()),
            environment: environment.map(str::to_owned),
            scope,
            shadows: Vec::new(),
            model: "claude-haiku-4-5".into(),
            model_source: ModelSource::ClaudeArgs,
            credential: Credential::ApiKey,
            secret_expression: None,
            model_expression: None,
            called_workflow: None,
        }
    }

    fn repo(name: &str, workflows: Vec<ScannedWorkflow>) -> ScannedRepo {
        ScannedRepo {
            repo: name.into(),
            archived: false,
            workflows,
            last_run: None,
            warnings: Vec::new(),
        }
    }

    #[test]
    fn an_organization_secret_read_by_many_repositories_is_one_scope() {
        let org = || workflow("ANTHROPIC_API_KEY", Some(Scope::Organization), None);
        let repos = [
            repo("acme/a", vec![org()]),
            repo("acme/b", vec![org(), org()]),
            repo(
                "acme/c",
                vec![
                    workflow("ANTHROPIC_API_KEY", Some(Scope::Repository), None),
                    workflow(
                        "ANTHROPIC_API_KEY",
                        Some(Scope::Environment("prod".into())),
                        Some("prod"),
                    ),
                    workflow("OTHER", None, Some("staging")),
                ],
            ),
        ];
        let distinct = distinct_secrets(&repos);
        let shown: Vec<String> = distinct.iter().map(|d| d.stored.to_string()).collect();
        assert_eq!(
            shown,
            [
                "organization secret ANTHROPIC_API_KEY of acme",
                "repository secret ANTHROPIC_API_KEY of acme/c",
                "environment secret ANTHROPIC_API_KEY of acme/c (prod)",
                "secret OTHER of acme/c (staging), defined nowhere",
            ]
        );
        assert_eq!(distinct[0].readers, [(0, 0), (1, 0), (1, 1)]);
    }

    #[test]
    fn steps_without_an_api_key_have_no_stored_secret() {
        let mut oauth = workflow("ANTHROPIC_API_KEY", Some(Scope::Repository), None);
        oauth.credential = Credential::OauthToken;
        assert!(distinct_secrets(&[repo("acme/a", vec![oauth])]).is_empty());
    }

    #[test]
    fn age_is_measured_from_the_last_update() {
        let now = humantime::parse_rfc3339("2026-12-01T00:00:00Z").unwrap();
        let ninety_days = Duration::from_secs(90 * 86_400);
        assert!(over_age(Some("2026-05-01T00:00:00Z"), ninety_days, now));
        assert!(!over_age(Some("2026-11-01T00:00:00Z"), ninety_days, now));
        assert!(!over_age(None, ninety_days, now));
        assert!(!over_age(Some("not a date"), ninety_days, now));
    }
}
