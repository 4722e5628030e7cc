//! What a rotation tells: its plan before any write, and its report at the end.

use std::collections::BTreeSet;

use crate::github::{Client, RepoName};
use crate::outcome::{
    Failure, FailureKind, Finished, RotateEnd, RotateReport, RotationReport, TargetReport,
};
use crate::output::{budget, counted};
use crate::work::Context;

use super::plan::{self, Plan};
use super::writes::WriteState;

pub(super) fn describe_plan(
    plan: &Plan,
    canary: Option<usize>,
    client: &Client,
    interval: f64,
    ctx: &Context,
) {
    let (repository, environment, organization) = plan.count_by_scope();
    let targets: BTreeSet<&RepoName> = plan.targets.iter().map(|t| &t.repo).collect();
    ctx.progress.step(&format!(
        "Plan: {}, {} ({repository} repository, {environment} environment, {organization} organization).",
        counted(targets.len(), "target"),
        counted(plan.writes.len(), "write")
    ));
    for target in plan.targets.iter().filter(|t| !t.shadows.is_empty()) {
        let shadows: Vec<String> = target.shadows.iter().map(ToString::to_string).collect();
        let written = plan
            .writes
            .iter()
            .any(|w| w.shadowed && w.destination.repo == target.repo);
        let how = if written {
            "written too (--include-shadowed)"
        } else {
            "left as they are"
        };
        ctx.progress.step(&format!(
            "  {} {}: reads {}, shadows {} ({how})",
            target.repo,
            target.secret,
            target.scope,
            shadows.join(", ")
        ));
    }
    for write in plan.writes.iter().filter(|w| w.creates) {
        ctx.progress.step(&format!(
            "  {}: defined nowhere the job can see; created",
            write.destination.describe()
        ));
    }
    if let Some(canary) = canary {
        ctx.progress.step(&format!(
            "  canary: {}, verified with the probe before the rest",
            plan.writes[canary].destination.describe()
        ));
    }
    // A write costs its PUT and its public key; an organization secret also its settings; the
    // canary a probe run (dispatch, a dozen polls, jobs, log).
    let requests = plan.writes.len() * 2 + organization * 2 + if canary.is_some() { 16 } else { 0 };
    let spent = client.spent();
    ctx.progress.step(&format!(
        "  GitHub budget: reading the targets spent {}; the writes need about {requests} requests more; {}.",
        budget::spent(&spent),
        budget::left(&spent)
    ));
    ctx.progress.step(&format!(
        "  {}",
        plan::duration_estimate(plan.writes.len(), interval)
    ));
}

pub(super) fn outcome(
    plan: &Plan,
    states: &[WriteState],
    journal: Option<&std::path::Path>,
    client: &Client,
    validated: &[String],
    canary: Option<usize>,
    end: Option<RotateEnd>,
) -> Finished<RotateReport> {
    let targets = plan
        .targets
        .iter()
        .map(|t| {
            let (status, error) = match &states[t.write] {
                WriteState::Done => ("rotated", None),
                WriteState::Pending => ("pending", None),
                WriteState::Failed(e) => ("failed", Some(e.clone())),
                WriteState::Skipped(e) => ("skipped", Some(e.clone())),
            };
            TargetReport {
                repo: t.repo.to_string(),
                secret: t.secret.clone(),
                scope: t.scope.clone(),
                status,
                error,
            }
        })
        .collect();
    let error = match &end {
        Some(RotateEnd::CanaryFailed(seen)) => Some(Failure::new(
            FailureKind::Api,
            format!("the canary failed and nothing else was written: {seen}"),
        )),
        _ => None,
    };
    let report = RotateReport {
        targets: Some(targets),
        rotation: Some(RotationReport {
            journal: journal.map(|p| p.display().to_string()),
            writes: states.iter().filter(|s| **s == WriteState::Done).count(),
            planned_writes: plan.writes.len(),
            github_requests: client.requests_sent(),
            budget: client.spent(),
            secondary_limit_waits: client.secondary_waits(),
            validated_models: validated.to_vec(),
            canary: canary.map(|c| plan.writes[c].destination.repo.to_string()),
        }),
        end,
        actions: Vec::new(),
    };
    Finished {
        report,
        failure: error,
    }
}
