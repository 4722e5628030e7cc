//! Running workflows for real: `run:` steps are executed with bash, their `env:` expressions
//! evaluated; `anthropics/claude-code-action` is emulated against the simulated Anthropic API;
//! every line goes to the job log with GitHub's timestamp prefix, secrets masked as `***`.
//!
//! A job that calls a reusable workflow (`uses: ./.github/workflows/x.yml`, or
//! `uses: owner/repo/.github/workflows/x.yml@REF` at a branch, tag or commit) runs the called
//! workflow's jobs as `CALLER / CALLED`, with the caller's secrets passed through `inherit` or the
//! mapping; a called workflow that cannot be found fails the run at start-up, as GitHub does.
//!
//! Simplifications: jobs run one after another in file order (`needs:` and `if:` are not
//! evaluated); a called workflow's `inputs.*` are the run's, not the call's `with:`; other
//! `uses:` steps do nothing; expressions support the forms workflows use to
//! pass values (`secrets.X`, `inputs.X`, `vars.X`, `env.X`, `github.*`, `a || b`, literals).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use github_actions_models::common::expr::LoE;
use github_actions_models::common::{Env, Uses};
use github_actions_models::workflow::job::{
    DeploymentEnvironment, NormalJob, ReusableWorkflowCallJob, Secrets, Step as StepDef,
};
use github_actions_models::workflow::{Job as JobDef, Workflow};

use crate::action_log::{self, ActionLog};
use crate::github::state::{Job, Run, RunStatus, Step};
use crate::time;
use crate::World;

/// The default model of Claude Code, used by the emulated action when the workflow names none.
pub const ACTION_DEFAULT_MODEL: &str = "claude-sonnet-4-5";

pub struct RunRequest {
    pub owner: String,
    pub repo: String,
    pub workflow_path: String,
    pub event: String,
    pub actor: String,
    pub from_fork: bool,
    /// The fork the run came from has been deleted since.
    pub fork_deleted: bool,
    /// The account that started the run has been deleted since.
    pub actor_deleted: bool,
    pub inputs: BTreeMap<String, String>,
    pub created_at: u64,
    pub attempts: u32,
    /// The branch the run is on; the default branch when `None`.
    pub branch: Option<String>,
    /// The action's era, when not the scenario's.
    pub action_log: Option<ActionLog>,
}

/// Records a queued run and returns its id.
fn create(world: &World, request: &RunRequest) -> Result<u64, String> {
    let mut state = world.github.lock().expect("github state");
    let repo = state
        .repo(&request.owner, &request.repo)
        .ok_or_else(|| format!("no repository {}/{}", request.owner, request.repo))?;
    let branch = request
        .branch
        .clone()
        .unwrap_or_else(|| repo.default_branch.clone());
    let files = repo
        .files_on(Some(&branch))
        .ok_or_else(|| format!("no branch {branch}"))?;
    let (workflow_id, path) = match repo.workflow(&request.workflow_path) {
        Some(found) => found,
        // A workflow only on another branch: GitHub registers it when it first runs.
        None if files.contains_key(&request.workflow_path) => {
            (repo.id * 1000 + 999, request.workflow_path.clone())
        }
        None => return Err(format!("no workflow {}", request.workflow_path)),
    };
    let text = files
        .get(&path)
        .map(|f| f.text.clone())
        .ok_or_else(|| format!("no workflow {path} on {branch}"))?;
    let text = &text;
    let parsed: Option<yaml_serde::Value> = yaml_serde::from_str(text).ok();
    let name = parsed
        .as_ref()
        .and_then(|v| v.get("name")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| path.clone());
    let run_name = parsed
        .as_ref()
        .and_then(|v| v.get("run-name")?.as_str().map(str::to_owned));
    let repo_id = repo.id;
    let head_sha = repo.head_of(&branch).unwrap_or_default();
    let head_message = repo
        .commits
        .get(&head_sha)
        .map_or_else(|| "Initial commit".to_owned(), |c| c.message.clone());
    let id = state.next_run_id();
    let run_number = state
        .runs
        .iter()
        .filter(|r| r.workflow_id == workflow_id)
        .count() as u64
        + 1;
    let display_title = match run_name {
        Some(template) => evaluate(&template, &|path| {
            path.strip_prefix("inputs.")
                .and_then(|name| request.inputs.get(name).cloned())
        }),
        None => name.clone(),
    };
    state.runs.push(Run {
        id,
        repo_id,
        workflow_id,
        workflow_path: path,
        name,
        display_title,
        run_number,
        run_attempt: request.attempts,
        event: request.event.clone(),
        actor: request.actor.clone(),
        from_fork: request.from_fork,
        fork_deleted: request.fork_deleted,
        actor_deleted: request.actor_deleted,
        head_branch: branch,
        head_sha,
        head_message,
        status: RunStatus::Queued,
        conclusion: None,
        created_at: request.created_at,
        updated_at: request.created_at,
        inputs: request.inputs.clone(),
        workflow_text: text.clone(),
        action_log: request.action_log,
    });
    Ok(id)
}

/// Starts a run in the background: queued, then in progress, then completed.
pub fn start(world: Arc<World>, request: RunRequest) -> Result<u64, String> {
    let id = create(&world, &request)?;
    let delay = Duration::from_millis(world.scenario.github.run_delay_ms);
    tokio::spawn(execute(world, id, None, delay));
    Ok(id)
}

/// Runs a past run to completion at once (at start-up, before serving).
pub async fn run_now(world: Arc<World>, request: RunRequest) -> Result<u64, String> {
    let id = create(&world, &request)?;
    execute(world, id, None, Duration::ZERO).await;
    Ok(id)
}

/// Re-runs the failed jobs of a completed run as a new attempt.
pub fn rerun(world: Arc<World>, run_id: u64, failed_jobs: Vec<String>) {
    {
        let mut state = world.github.lock().expect("github state");
        if let Some(run) = state.run_mut(run_id) {
            run.run_attempt += 1;
            run.status = RunStatus::Queued;
            run.conclusion = None;
            run.updated_at = time::now_epoch_millis();
        }
    }
    let delay = Duration::from_millis(world.scenario.github.run_delay_ms);
    tokio::spawn(execute(world, run_id, Some(failed_jobs), delay));
}

fn set_run(world: &World, run_id: u64, status: RunStatus, conclusion: Option<&str>) {
    let mut state = world.github.lock().expect("github state");
    if let Some(run) = state.run_mut(run_id) {
        run.status = status;
        run.conclusion = conclusion.map(str::to_owned);
        run.updated_at = time::now_epoch_millis();
    }
}

/// What a job needs to know of its run, read once.
struct RunContext {
    run_id: u64,
    attempt: u32,
    owner: String,
    repo: String,
    event: String,
    actor: String,
    branch: String,
    /// Whether the run's branch is protected (deployment branch policies ask).
    protected_branch: bool,
    no_secrets: bool,
    inputs: BTreeMap<String, String>,
    workflow_text: String,
    action_log: ActionLog,
}

fn run_context(world: &World, run_id: u64) -> Option<RunContext> {
    let state = world.github.lock().expect("github state");
    let run = state.run(run_id)?;
    let repo = state.repos.iter().find(|r| r.id == run.repo_id)?;
    Some(RunContext {
        run_id,
        attempt: run.run_attempt,
        owner: repo.owner.clone(),
        repo: repo.name.clone(),
        event: run.event.clone(),
        actor: run.actor.clone(),
        branch: run.head_branch.clone(),
        protected_branch: run.head_branch == repo.default_branch && repo.protection.is_some(),
        no_secrets: run.from_fork || run.actor == "dependabot[bot]",
        inputs: run.inputs.clone(),
        workflow_text: run.workflow_text.clone(),
        action_log: run.action_log.unwrap_or(world.scenario.github.action_log),
    })
}

async fn execute(world: Arc<World>, run_id: u64, only: Option<Vec<String>>, delay: Duration) {
    tokio::time::sleep(delay).await;
    let Some(context) = run_context(&world, run_id) else {
        return;
    };
    if context.event == "workflow_dispatch" && world.scenario.github.cancel_dispatched_runs {
        set_run(&world, run_id, RunStatus::Completed, Some("cancelled"));
        return;
    }
    set_run(&world, run_id, RunStatus::InProgress, None);
    // A workflow GitHub cannot read, or one calling a workflow it cannot find, never starts.
    let parsed = yaml_serde::from_str::<Workflow>(&context.workflow_text)
        .ok()
        .and_then(|workflow| {
            let called = called_workflows(&world, &context, &workflow)?;
            Some((workflow, called))
        });
    let Some((workflow, called)) = parsed else {
        set_run(
            &world,
            run_id,
            RunStatus::Completed,
            Some("startup_failure"),
        );
        return;
    };
    for planned in &planned_jobs(&workflow, &called) {
        if only
            .as_ref()
            .is_some_and(|names| !names.contains(&planned.name))
        {
            continue;
        }
        let waiting = run_job(&world, &context, planned).await;
        if waiting {
            set_run(&world, run_id, RunStatus::Waiting, None);
            return;
        }
    }
    tokio::time::sleep(delay).await;
    let failed = {
        let state = world.github.lock().expect("github state");
        crate::github::latest_jobs(&state, run_id)
            .iter()
            .any(|j| j.conclusion.as_deref() == Some("failure"))
    };
    let conclusion = if failed { "failure" } else { "success" };
    set_run(&world, run_id, RunStatus::Completed, Some(conclusion));
}

fn literal<T>(value: &LoE<T>) -> Option<&T> {
    match value {
        LoE::Literal(value) => Some(value),
        LoE::Expr(_) => None,
    }
}

/// A job's log in the making: GitHub's timestamps, and masking of every secret value seen.
struct JobLog {
    text: String,
    mask: BTreeSet<String>,
}

impl JobLog {
    fn new() -> JobLog {
        JobLog {
            text: "\u{feff}".to_owned(),
            mask: BTreeSet::new(),
        }
    }

    fn line(&mut self, line: &str) {
        let mut masked = line.to_owned();
        for secret in self.mask.iter().rev() {
            masked = masked.replace(secret.as_str(), "***");
        }
        self.text
            .push_str(&time::log_stamp(time::now_epoch_millis()));
        self.text.push(' ');
        self.text.push_str(&masked);
        self.text.push('\n');
    }

    fn lines(&mut self, text: &str) {
        for line in text.lines() {
            self.line(line);
        }
    }

    fn hide(&mut self, value: &str) {
        for part in value.lines().chain(std::iter::once(value)) {
            if !part.trim().is_empty() {
                self.mask.insert(part.to_owned());
            }
        }
    }
}

/// Resolves expression paths for one job: secrets (recorded for masking), inputs, vars, env.
struct Resolver<'a> {
    world: &'a World,
    context: &'a RunContext,
    environment: Option<String>,
    env: BTreeMap<String, String>,
    seen_secrets: std::sync::Mutex<Vec<String>>,
    secrets: Arc<PassedSecrets>,
}

impl Resolver<'_> {
    /// One of the run's own secrets, as the job's environment resolves it.
    fn own_secret(&self, name: &str) -> Option<String> {
        if self.context.no_secrets {
            return None;
        }
        let state = self.world.github.lock().expect("github state");
        let repo = state.repo(&self.context.owner, &self.context.repo)?;
        let value = state.resolve_secret(repo, self.environment.as_deref(), name)?;
        self.seen_secrets
            .lock()
            .expect("seen secrets")
            .push(value.clone());
        Some(value)
    }

    fn lookup(&self, path: &str) -> Option<String> {
        if let Some(name) = path.strip_prefix("secrets.") {
            return match self.secrets.as_ref() {
                PassedSecrets::Own => self.own_secret(name),
                PassedSecrets::Mapped(map) => {
                    let expression = map.get(&name.to_ascii_uppercase())?;
                    let value = evaluate(expression, &|path| {
                        self.own_secret(path.strip_prefix("secrets.")?)
                    });
                    (!value.is_empty()).then_some(value)
                }
            };
        }
        if let Some(name) = path
            .strip_prefix("inputs.")
            .or_else(|| path.strip_prefix("github.event.inputs."))
        {
            return self.context.inputs.get(name).cloned();
        }
        if let Some(name) = path.strip_prefix("vars.") {
            let state = self.world.github.lock().expect("github state");
            let repo = state.repo(&self.context.owner, &self.context.repo)?;
            // The simulated runners have no network but loopback: where a workflow would reach
            // api.anthropic.com, the simulator stands its own API in as the variable's value.
            return state.resolve_variable(repo, name).or_else(|| {
                (name == "ANTHROPIC_BASE_URL").then(|| self.world.runner_anthropic_url())
            });
        }
        if let Some(name) = path.strip_prefix("env.") {
            return self.env.get(name).cloned();
        }
        match path {
            "github.run_id" => Some(self.context.run_id.to_string()),
            "github.run_attempt" => Some(self.context.attempt.to_string()),
            "github.repository" => Some(format!("{}/{}", self.context.owner, self.context.repo)),
            "github.event_name" => Some(self.context.event.clone()),
            "github.actor" => Some(self.context.actor.clone()),
            _ => None,
        }
    }

    fn eval(&self, text: &str) -> String {
        evaluate(text, &|path| self.lookup(path))
    }

    /// Evaluates an `env:` map on top of what is already set.
    fn extend_env(&mut self, env: Option<&Env>) {
        for (name, value) in env.into_iter().flatten() {
            let value = self.eval(&value.to_string());
            self.env.insert(name.clone(), value);
        }
    }
}

/// Replaces every `${{ … }}` in `text`; an expression that resolves to nothing becomes empty.
pub fn evaluate(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 3..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        out.push_str(&evaluate_expression(after[..end].trim(), lookup));
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

fn evaluate_expression(expression: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    expression
        .split("||")
        .map(str::trim)
        .find_map(|alternative| {
            let value = if let Some(literal) = alternative
                .strip_prefix('\'')
                .and_then(|a| a.strip_suffix('\''))
            {
                Some(literal.to_owned())
            } else {
                lookup(&normalize_path(alternative))
            };
            value.filter(|v| !v.is_empty())
        })
        .unwrap_or_default()
}

/// `secrets['NAME']` → `secrets.NAME`.
fn normalize_path(path: &str) -> String {
    match path.split_once('[') {
        Some((head, tail)) => {
            let key = tail
                .trim_end_matches(']')
                .trim()
                .trim_matches(|c| c == '\'' || c == '"');
            format!("{head}.{key}")
        }
        None => path.to_owned(),
    }
}

fn environment_name(job: &NormalJob) -> Option<String> {
    job.environment.as_ref().map(|e| match e {
        DeploymentEnvironment::Name(name) => name.clone(),
        DeploymentEnvironment::NameURL { name, .. } => name.clone(),
    })
}

/// The caller's secrets as a called workflow sees them.
enum PassedSecrets {
    /// The run's own secrets, by their names (a job of the run's workflow, or `inherit`).
    Own,
    /// Each name inside the called workflow to the caller's expression for it.
    Mapped(BTreeMap<String, String>),
}

/// A job to run: its name in the run, its definition, and what it reads.
struct PlannedJob<'w> {
    name: String,
    job: &'w NormalJob,
    workflow_env: Option<&'w Env>,
    secrets: Arc<PassedSecrets>,
}

/// The workflows the run's jobs call, by the calling job's key; `None` when one cannot be found
/// or read (GitHub's start-up failure).
fn called_workflows(
    world: &World,
    context: &RunContext,
    workflow: &Workflow,
) -> Option<BTreeMap<String, Workflow>> {
    let mut called = BTreeMap::new();
    for (job_key, job) in &workflow.jobs {
        if let JobDef::ReusableWorkflowCallJob(call) = job {
            let text = called_text(world, context, call)?;
            called.insert(job_key.clone(), yaml_serde::from_str(&text).ok()?);
        }
    }
    Some(called)
}

/// The jobs of a run in file order, the called workflows' jobs in place of their callers.
fn planned_jobs<'w>(
    workflow: &'w Workflow,
    called: &'w BTreeMap<String, Workflow>,
) -> Vec<PlannedJob<'w>> {
    let own = Arc::new(PassedSecrets::Own);
    let mut planned = Vec::new();
    for (job_key, job) in &workflow.jobs {
        match (job, called.get(job_key)) {
            (JobDef::NormalJob(job), _) => planned.push(PlannedJob {
                name: job.name.clone().unwrap_or_else(|| job_key.clone()),
                job,
                workflow_env: literal(&workflow.env),
                secrets: own.clone(),
            }),
            (JobDef::ReusableWorkflowCallJob(call), Some(callee)) => {
                let caller = call.name.clone().unwrap_or_else(|| job_key.clone());
                let secrets = Arc::new(match &call.secrets {
                    Some(Secrets::Inherit) => PassedSecrets::Own,
                    Some(Secrets::Env(env)) => PassedSecrets::Mapped(
                        env.iter()
                            .map(|(k, v)| (k.to_ascii_uppercase(), v.to_string()))
                            .collect(),
                    ),
                    None => PassedSecrets::Mapped(BTreeMap::new()),
                });
                for (inner_key, inner) in &callee.jobs {
                    let JobDef::NormalJob(inner) = inner else {
                        continue;
                    };
                    let inner_name = inner.name.clone().unwrap_or_else(|| inner_key.clone());
                    planned.push(PlannedJob {
                        name: format!("{caller} / {inner_name}"),
                        job: inner,
                        workflow_env: literal(&callee.env),
                        secrets: secrets.clone(),
                    });
                }
            }
            (JobDef::ReusableWorkflowCallJob(_), None) => {}
        }
    }
    planned
}

/// The text of the workflow a job calls: of the run's repository at the run's commit, or of
/// the repository and ref `uses:` names.
fn called_text(
    world: &World,
    context: &RunContext,
    call: &ReusableWorkflowCallJob,
) -> Option<String> {
    let state = world.github.lock().expect("github state");
    let (repo, reference, path) = match &call.uses {
        Uses::Local(local) => (
            state.repo(&context.owner, &context.repo)?,
            context.branch.as_str(),
            local.raw().trim_start_matches("./"),
        ),
        Uses::Repository(uses) => (
            state.repo(uses.owner(), uses.repo())?,
            uses.git_ref(),
            uses.subpath()?,
        ),
        Uses::Docker(_) => return None,
    };
    repo.files_on(Some(reference))?
        .get(path)
        .map(|f| f.text.clone())
}

/// Runs one job; returns `true` when it waits for an environment approval.
async fn run_job(world: &World, context: &RunContext, planned: &PlannedJob<'_>) -> bool {
    let (name, job) = (planned.name.as_str(), &planned.job);
    let environment = environment_name(job);
    let job_id = {
        let mut state = world.github.lock().expect("github state");
        let id = state.next_job_id();
        state.jobs.push(Job {
            id,
            run_id: context.run_id,
            run_attempt: context.attempt,
            name: name.to_owned(),
            labels: runner_labels(job),
            status: RunStatus::InProgress,
            conclusion: None,
            steps: Vec::new(),
            log: String::new(),
            annotation: None,
            started_at: time::now_epoch_millis(),
            completed_at: None,
        });
        id
    };
    let (needs_approval, refused) = {
        let state = world.github.lock().expect("github state");
        let declared = state
            .repo(&context.owner, &context.repo)
            .and_then(|r| environment.as_ref().and_then(|e| r.environments.get(e)));
        let refused = declared
            .and_then(|e| e.branch_policy.as_ref())
            .is_some_and(|p| !p.allows(&context.branch, context.protected_branch));
        (declared.is_some_and(|e| e.requires_approval), refused)
    };
    if refused {
        // GitHub fails such a job before any runner takes it: no steps, no log, an annotation.
        let mut state = world.github.lock().expect("github state");
        if let Some(job) = state.job_mut(job_id) {
            job.status = RunStatus::Completed;
            job.conclusion = Some("failure".to_owned());
            job.completed_at = Some(time::now_epoch_millis());
            job.annotation = Some(format!(
                "Branch \"{}\" is not allowed to deploy to {} due to environment protection rules.",
                context.branch,
                environment.as_deref().unwrap_or_default()
            ));
        }
        return false;
    }
    if needs_approval {
        let mut state = world.github.lock().expect("github state");
        if let Some(job) = state.job_mut(job_id) {
            job.status = RunStatus::Waiting;
        }
        return true;
    }
    let mut resolver = Resolver {
        world,
        context,
        environment,
        env: BTreeMap::new(),
        seen_secrets: Default::default(),
        secrets: planned.secrets.clone(),
    };
    resolver.extend_env(planned.workflow_env);
    resolver.extend_env(literal(&job.env));
    let mut log = JobLog::new();
    log.line("Current runner version: '2.329.0' (simulated by keyfix-sim)");
    log.line(&format!(
        "Job {name}: event {}, attempt {}",
        context.event, context.attempt
    ));
    let mut steps = Vec::new();
    let mut failed = false;
    for (index, step) in job.steps.iter().enumerate() {
        let title = step_title(step, index);
        if failed {
            steps.push(Step {
                name: title,
                status: RunStatus::Completed,
                conclusion: Some("skipped".to_owned()),
            });
            continue;
        }
        let ok = run_step(world, &mut resolver, &mut log, step, &title).await;
        failed = !ok;
        steps.push(Step {
            name: title,
            status: RunStatus::Completed,
            conclusion: Some(if ok { "success" } else { "failure" }.to_owned()),
        });
    }
    log.line("Cleaning up orphan processes");
    let mut state = world.github.lock().expect("github state");
    if let Some(job) = state.job_mut(job_id) {
        job.status = RunStatus::Completed;
        job.conclusion = Some(if failed { "failure" } else { "success" }.to_owned());
        job.steps = steps;
        job.log = log.text;
        job.completed_at = Some(time::now_epoch_millis());
    }
    false
}

/// The labels of `runs-on`, as the job's `labels` lists them (none for an expression).
fn runner_labels(job: &NormalJob) -> Vec<String> {
    use github_actions_models::workflow::job::RunsOn;
    match literal(&job.runs_on) {
        Some(RunsOn::Target(labels)) => labels.clone(),
        Some(RunsOn::Group { labels, .. }) => labels.clone(),
        None => Vec::new(),
    }
}

fn step_title(step: &StepDef, index: usize) -> String {
    match step {
        StepDef::Run(run) => run
            .shared
            .name
            .clone()
            .unwrap_or_else(|| format!("Run {}", run.run.lines().next().unwrap_or_default())),
        StepDef::Uses(uses) => uses
            .shared
            .name
            .clone()
            .unwrap_or_else(|| format!("Run {}", uses_text(&uses.uses))),
        _ => format!("Step {}", index + 1),
    }
}

fn uses_text(uses: &Uses) -> String {
    match uses {
        Uses::Repository(r) => r.raw().to_owned(),
        Uses::Local(l) => l.raw().to_owned(),
        Uses::Docker(_) => "docker".to_owned(),
    }
}

/// Runs one step; `false` when it failed.
async fn run_step(
    world: &World,
    resolver: &mut Resolver<'_>,
    log: &mut JobLog,
    step: &StepDef,
    title: &str,
) -> bool {
    let outer_env = resolver.env.clone();
    let result = match step {
        StepDef::Run(run) => {
            resolver.extend_env(literal(&run.shared.env));
            hide_seen(resolver, log);
            run_bash(resolver, log, &run.run, title).await
        }
        StepDef::Uses(uses) => {
            resolver.extend_env(literal(&uses.shared.env));
            let with: BTreeMap<String, String> = literal(&uses.with)
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), resolver.eval(&v.to_string())))
                .collect();
            hide_seen(resolver, log);
            let text = uses_text(&uses.uses);
            log.line(&format!("##[group]Run {text}"));
            log.line("with:");
            for (name, value) in &with {
                log.line(&format!("  {name}: {value}"));
            }
            log.line("##[endgroup]");
            if text
                .to_ascii_lowercase()
                .starts_with("anthropics/claude-code-")
            {
                emulate_claude_action(world, resolver, log, &with)
            } else {
                log.line(&format!(
                    "(keyfix-sim: {text} is not run; the step succeeds)"
                ));
                true
            }
        }
        _ => true,
    };
    resolver.env = outer_env;
    result
}

fn hide_seen(resolver: &Resolver<'_>, log: &mut JobLog) {
    for value in resolver.seen_secrets.lock().expect("seen secrets").iter() {
        log.hide(value);
    }
}

async fn run_bash(resolver: &Resolver<'_>, log: &mut JobLog, script: &str, title: &str) -> bool {
    let script = resolver.eval(script);
    log.line(&format!("##[group]{title}"));
    log.lines(&script);
    log.line("shell: /usr/bin/bash --noprofile --norc -e -o pipefail {0}");
    if !resolver.env.is_empty() {
        log.line("env:");
        for (name, value) in &resolver.env {
            log.line(&format!("  {name}: {value}"));
        }
    }
    log.line("##[endgroup]");
    let dir = std::env::temp_dir().join(format!(
        "keyfix-sim-{}-{}",
        std::process::id(),
        rand::random::<u64>()
    ));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("step.sh");
    if std::fs::write(&path, &script).is_err() {
        log.line("##[error]keyfix-sim could not write the step's script");
        return false;
    }
    let context = resolver.context;
    let path_var = runner_path(resolver.world, &dir);
    let mut command = tokio::process::Command::new("bash");
    command
        .arg("-c")
        .arg("exec bash --noprofile --norc -eo pipefail \"$1\" 2>&1")
        .arg("bash")
        .arg(&path)
        .env_clear()
        .env("PATH", &path_var)
        .env("HOME", &dir)
        .env("LANG", "C.UTF-8")
        .env("CI", "true")
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_RUN_ID", context.run_id.to_string())
        .env("GITHUB_RUN_ATTEMPT", context.attempt.to_string())
        .env(
            "GITHUB_REPOSITORY",
            format!("{}/{}", context.owner, context.repo),
        )
        .env("GITHUB_EVENT_NAME", &context.event)
        .env("RUNNER_TEMP", &dir)
        .envs(&resolver.env)
        .current_dir(&dir)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(300), command.output()).await;
    let _ = std::fs::remove_dir_all(&dir);
    match output {
        Ok(Ok(output)) => {
            log.lines(&String::from_utf8_lossy(&output.stdout));
            match output.status.code() {
                Some(0) => true,
                code => {
                    log.line(&format!(
                        "##[error]Process completed with exit code {}.",
                        code.unwrap_or(1)
                    ));
                    false
                }
            }
        }
        Ok(Err(e)) => {
            log.line(&format!("##[error]keyfix-sim could not start bash: {e}"));
            false
        }
        Err(_) => {
            log.line("##[error]The step timed out.");
            false
        }
    }
}

/// The runner's `PATH`: the machine's, with the tools the scenario says are missing hidden
/// behind stubs that fail the way a missing command does.
fn runner_path(world: &World, dir: &std::path::Path) -> std::ffi::OsString {
    let system = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = Vec::new();
    let missing = &world.scenario.github.missing_tools;
    if !missing.is_empty() {
        let stubs = dir.join("missing-tools");
        let _ = std::fs::create_dir_all(&stubs);
        for tool in missing {
            let stub =
                format!("#!/bin/sh\necho \"bash: {tool}: command not found\" >&2\nexit 127\n");
            write_executable(&stubs.join(tool), &stub);
        }
        paths.push(stubs);
    }
    paths.extend(runner_tools().iter().cloned());
    paths.extend(std::env::split_paths(&system));
    std::env::join_paths(paths).unwrap_or(system)
}

/// A directory whose `python3` is this machine's, started as a runner's fresh interpreter would
/// be: without the site hooks (`.pth` files) an installation may carry, which cost each start
/// tens of milliseconds and give a probe nothing, since it uses the standard library alone.
/// Version managers' shims (pyenv) are passed by, for the same reason. `None` when there is no
/// Python: the step then fails as on a runner without one.
fn runner_tools() -> &'static Option<std::path::PathBuf> {
    static TOOLS: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
    TOOLS.get_or_init(|| {
        let output = std::process::Command::new("python3")
            .args(["-S", "-c", "import sys; print(sys.executable)"])
            .stdin(std::process::Stdio::null())
            .output()
            .ok()?;
        let python = String::from_utf8(output.stdout).ok()?.trim().to_owned();
        if !output.status.success() || python.is_empty() || python.contains('\'') {
            return None;
        }
        let dir = std::env::temp_dir().join(format!("keyfix-sim-tools-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        write_executable(
            &dir.join("python3"),
            &format!("#!/bin/sh\nexec '{python}' -S \"$@\"\n"),
        );
        Some(dir)
    })
}

fn write_executable(path: &std::path::Path, text: &str) {
    let _ = std::fs::write(path, text);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755));
    }
}

/// The model the action would use, from its inputs and the step's environment.
fn action_model(with: &BTreeMap<String, String>, env: &BTreeMap<String, String>) -> String {
    let from_args = with.get("claude_args").and_then(|args| {
        let words: Vec<&str> = args.split_whitespace().collect();
        words.iter().enumerate().find_map(|(i, w)| {
            w.strip_prefix("--model=").map(str::to_owned).or_else(|| {
                (*w == "--model")
                    .then(|| words.get(i + 1).map(|m| m.to_string()))
                    .flatten()
            })
        })
    });
    let from_settings = with.get("settings").and_then(|s| {
        let v: serde_json::Value = serde_json::from_str(s).ok()?;
        v["env"]["ANTHROPIC_MODEL"]
            .as_str()
            .or(v["model"].as_str())
            .map(str::to_owned)
    });
    from_args
        .or(from_settings)
        .or_else(|| {
            ["model", "anthropic_model"]
                .iter()
                .find_map(|input| with.get(*input).filter(|m| !m.is_empty()).cloned())
        })
        .or_else(|| {
            env.get("ANTHROPIC_MODEL")
                .filter(|m| !m.is_empty())
                .cloned()
        })
        .unwrap_or_else(|| ACTION_DEFAULT_MODEL.to_owned())
}

/// The action: validate its inputs, call the Messages API with the key, log the result the way
/// the action version of the scenario does, and fail the step on an error.
fn emulate_claude_action(
    world: &World,
    resolver: &Resolver<'_>,
    log: &mut JobLog,
    with: &BTreeMap<String, String>,
) -> bool {
    // The input, else the variable the action reads when the input is not given (v1.0.146 on).
    let credential = |input: &str, variable: &str| {
        with.get(input)
            .or_else(|| resolver.env.get(variable))
            .filter(|k| !k.is_empty())
            .cloned()
    };
    let key = credential("anthropic_api_key", "ANTHROPIC_API_KEY");
    let oauth = credential("claude_code_oauth_token", "CLAUDE_CODE_OAUTH_TOKEN");
    let Some(key) = key.or(oauth) else {
        log.line("##[error]Action failed with error: Environment variable validation failed:");
        log.line("  - Either ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN is required when using direct Anthropic API.");
        return false;
    };
    let model = action_model(with, &resolver.env);
    if key.trim() != key || key.chars().any(char::is_control) {
        // An HTTP client refuses such a header value before anything is sent.
        log.line("Running Claude Code via SDK (full output hidden for security)...");
        log.line("TypeError: Headers.append: the value of header 'x-api-key' is invalid");
        log.line("##[error]Action failed with error: Claude Code execution failed");
        return false;
    }
    let started = Instant::now();
    let (status, body) = crate::anthropic::emulated_messages(world, &key, &model);
    let duration_ms = started.elapsed().as_millis() as u64 + world.scenario.anthropic.latency_ms;
    let outcome = action_log::Outcome {
        status,
        message: body["error"]["message"].as_str().unwrap_or_default(),
        model: &model,
        duration_ms,
    };
    let (lines, succeeded) = action_log::lines(resolver.context.action_log, &outcome);
    for line in lines {
        log.line(&line);
    }
    succeeded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_are_evaluated() {
        let lookup = |path: &str| match path {
            "secrets.KEY" => Some("s3cret".to_owned()),
            "inputs.nonce" => Some("n1".to_owned()),
            _ => None,
        };
        assert_eq!(evaluate("${{ secrets.KEY }}", &lookup), "s3cret");
        assert_eq!(evaluate("${{ secrets['KEY'] }}", &lookup), "s3cret");
        assert_eq!(evaluate("a-${{inputs.nonce}}-b", &lookup), "a-n1-b");
        assert_eq!(
            evaluate("${{ vars.URL || 'https://api.anthropic.com' }}", &lookup),
            "https://api.anthropic.com"
        );
        assert_eq!(evaluate("${{ secrets.MISSING }}", &lookup), "");
    }

    #[test]
    fn masking_hides_every_secret_value() {
        let mut log = JobLog::new();
        log.hide("sk-ant-api03-abc");
        log.line("key is sk-ant-api03-abc here");
        assert!(log.text.contains("key is *** here"));
        assert!(log.text.starts_with('\u{feff}'));
    }

    #[test]
    fn the_action_model_comes_from_its_inputs() {
        let mut with = BTreeMap::new();
        with.insert(
            "claude_args".to_owned(),
            "--max-turns 3 --model claude-opus-4-1".to_owned(),
        );
        assert_eq!(action_model(&with, &BTreeMap::new()), "claude-opus-4-1");
        assert_eq!(
            action_model(&BTreeMap::new(), &BTreeMap::new()),
            ACTION_DEFAULT_MODEL
        );
    }
}
