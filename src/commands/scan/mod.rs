//! `keyfix scan OWNER`: every repository of a user or organization that uses
//! claude-code-action, with its secrets, their scopes, and the last run. Read-only, except that
//! `--probe` runs the probe (installed with consent) once for each distinct stored secret.

mod health;

use futures::stream::{self, StreamExt};

use crate::github::graphql::Discovered;
use crate::github::reach::OrganizationSecrets;
use crate::github::runs::{self, LogReading};
use crate::github::survey::{self, Survey};
use crate::github::{names, Client, Error};
use crate::outcome::{Failure, Finished, LastRun, ScanReport, ScannedRepo, ScannedWorkflow};

use crate::output::budget;
use crate::work::Context;

pub use health::HealthOptions;

pub struct ScanOptions {
    pub owner: String,
    /// Requests in flight at once.
    pub concurrency: usize,
    pub health: HealthOptions,
}

pub async fn run(options: ScanOptions, ctx: &Context) -> Finished<ScanReport> {
    let mut report = ScanReport::default();
    let result = scan(&options, ctx, &mut report).await;
    Finished::of(report, result)
}

async fn scan(
    options: &ScanOptions,
    ctx: &Context,
    scanned: &mut ScanReport,
) -> Result<(), Failure> {
    let owner = names::parse_owner(&options.owner)?;
    let health = options.health.checked()?;
    let client = ctx.github_client()?;
    let listed = survey::owner_repositories(&client, &owner).await?;
    ctx.progress.step(&format!(
        "Scanning {} repositories of {} …",
        listed.found.len(),
        listed.owner.login
    ));
    let organization = &listed.organization_secrets;
    // Each repository is read one request at a time, so at most `concurrency` are in flight.
    let results: Vec<Result<Option<(ScannedRepo, Survey)>, Error>> = stream::iter(listed.found)
        .map(|found| report(&client, found, organization))
        .buffered(options.concurrency.max(1))
        .collect()
        .await;
    let mut reports = Vec::new();
    let mut surveys = Vec::new();
    for result in results {
        if let Some((report, survey)) = result? {
            for warning in &report.warnings {
                ctx.progress
                    .step(&format!("warning: {}: {warning}", report.repo));
            }
            reports.push(report);
            if health.wanted() {
                surveys.push(survey);
            }
        }
    }
    let spent = client.spent();
    ctx.progress.step(&format!(
        "{} of them use claude-code-action. Reading them spent {}; {}.",
        reports.len(),
        budget::spent(&spent),
        budget::left(&spent)
    ));
    let reports = scanned.repos.insert(reports);
    if health.wanted() {
        health::assess(
            &client,
            reports,
            &surveys,
            &health,
            ctx,
            &mut scanned.health,
        )
        .await?;
    }
    Ok(())
}

async fn report(
    client: &Client,
    found: Discovered,
    organization: &OrganizationSecrets,
) -> Result<Option<(ScannedRepo, Survey)>, Error> {
    let archived = found.repository.archived;
    let Some(survey) = Survey::discovered(client, found, organization, 1).await? else {
        return Ok(None);
    };
    let workflows = survey
        .analysis
        .steps
        .iter()
        .map(|step| {
            let resolution = survey.resolution(step);
            let model = survey.model_of(step);
            ScannedWorkflow {
                path: step.workflow_path.clone(),
                job: step.job_id.clone(),
                secret: step.api_key_secret.clone(),
                environment: step.environment.clone(),
                scope: resolution.as_ref().and_then(|r| r.reads.clone()),
                shadows: resolution.map(|r| r.shadows).unwrap_or_default(),
                model: model.model,
                model_source: model.source,
                credential: step.credential,
                secret_expression: step.api_key_expression.clone(),
                model_expression: step.model_expression.clone(),
                called_workflow: step.called_workflow.clone(),
            }
        })
        .collect();
    let last_run = last_run(client, &survey).await?;
    let scanned = ScannedRepo {
        repo: survey.repository.full_name.clone(),
        archived,
        workflows,
        last_run,
        warnings: survey.analysis.warnings.clone(),
    };
    Ok(Some((scanned, survey)))
}

/// The newest run of the repository's Claude workflows, with its signature when it failed (or
/// passed with a refusal in its log, as some action versions let it).
async fn last_run(client: &Client, survey: &Survey) -> Result<Option<LastRun>, Error> {
    let repo = survey.repo_name();
    let mut newest: Option<runs::WorkflowRun> = None;
    for path in survey.analysis.workflow_paths() {
        if let Some(run) = runs::latest(client, &repo, &path, false).await? {
            if newest.as_ref().is_none_or(|n| run.id > n.id) {
                newest = Some(run);
            }
        }
    }
    let Some(run) = newest else {
        return Ok(None);
    };
    let reading = if run.is_completed() {
        runs::read_logs(client, &repo, run.id).await?
    } else {
        LogReading::default()
    };
    Ok(Some(LastRun {
        id: run.id,
        workflow: run.path.clone().unwrap_or_default(),
        event: run.event.clone(),
        conclusion: run.conclusion.clone(),
        signature: runs::signature(&run, &reading),
        url: run.html_url.clone(),
    }))
}
