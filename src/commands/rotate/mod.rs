//! `keyfix rotate`: one validated key into the secret of many repositories, each in the scope
//! its Claude jobs read (`rotate.md`). Planned before any write, the key validated once per
//! model, a canary verified with the probe, writes paced one at a time, every step journaled.

mod interrupt;
pub mod journal;
pub mod plan;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};

use crate::anthropic;
use crate::cli::{KeyInputArgs, ProbeRunArgs};
use crate::github::secrets::{self, Prepared, Scope, UploadError};
use crate::github::survey::Survey;
use crate::github::workflows::DEFAULT_SECRET;
use crate::github::{names, repos, Client, RepoName};
use crate::input;
use crate::key::Key;
use crate::outcome::{
    new_key_exit, new_key_rejected, rejected_with_exit, CommandName, Failure, FailureKind, Outcome,
    RotateEnd, RotationReport, TargetReport,
};
use crate::output::{counted, stderr};
use crate::probe::{ProbeSpec, BASELINE_MODEL};
use crate::work::new_key::{evidence_of, judge_new_key, works_on};
use crate::work::probe::{not_allowed_failure, ready, verify_key, Asked, ReadyProbe};
use crate::work::{github_client, Context};
use interrupt::Interrupt;
use journal::{Entry, Header, Journal};
use plan::{Plan, SecretUse, Surveyed};

pub struct RotateOptions {
    pub targets: Vec<String>,
    pub owner: Option<String>,
    pub targets_file: Option<PathBuf>,
    pub secret: Option<String>,
    pub key: KeyInputArgs,
    pub dry_run: bool,
    pub canary: Option<String>,
    pub no_canary: bool,
    pub probe: ProbeRunArgs,
    pub journal: Option<PathBuf>,
    pub resume: Option<PathBuf>,
    pub write_interval: Option<f64>,
    pub concurrency: Option<usize>,
    pub include_shadowed: bool,
    pub force: bool,
    pub yes: bool,
}

const DEFAULT_WRITE_INTERVAL: f64 = 1.0;
const DEFAULT_CONCURRENCY: usize = 8;

/// What happened to each write in this run (and before it, on resume).
#[derive(Clone, Debug, PartialEq, Eq)]
enum WriteState {
    Pending,
    Done,
    Failed(String),
    Skipped(String),
}

pub async fn run(options: RotateOptions, ctx: &Context) -> Outcome {
    let mut report = Outcome::new(CommandName::Rotate);
    match rotate(options, ctx).await {
        Ok(outcome) => outcome,
        Err(failure) => {
            report.error = Some(failure);
            report
        }
    }
}

async fn rotate(options: RotateOptions, ctx: &Context) -> Result<Outcome, Failure> {
    let interval = options.write_interval.unwrap_or(DEFAULT_WRITE_INTERVAL);
    if !(0.0..=3600.0).contains(&interval) {
        return Err(Failure::new(
            FailureKind::Usage,
            "--write-interval takes seconds from 0 to 3600",
        ));
    }
    let mut github = ctx.github.clone();
    // A rotation waits for the hourly budget to come back rather than give up part-way.
    github.retry.max_primary_wait = Duration::from_secs(3700);
    match &options.resume {
        Some(path) => resume(path.clone(), &options, github, ctx).await,
        None => start(&options, github, ctx).await,
    }
}

/// Targets from arguments, then the file, then the owner's repositories; duplicates once.
fn named_targets(options: &RotateOptions) -> Result<Vec<RepoName>, Failure> {
    let mut names: Vec<String> = options.targets.clone();
    if let Some(path) = &options.targets_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Failure::new(
                FailureKind::Usage,
                format!("cannot read --targets-file {}: {e}", path.display()),
            )
        })?;
        names.extend(
            text.lines()
                .map(|l| l.split('#').next().unwrap_or_default().trim())
                .filter(|l| !l.is_empty())
                .map(str::to_owned),
        );
    }
    let mut repos: Vec<RepoName> = Vec::new();
    for name in names {
        let repo = RepoName::parse(&name)?;
        if !repos.contains(&repo) {
            repos.push(repo);
        }
    }
    Ok(repos)
}

async fn start(
    options: &RotateOptions,
    github: crate::github::Config,
    ctx: &Context,
) -> Result<Outcome, Failure> {
    let named = named_targets(options)?;
    let owner = options
        .owner
        .as_deref()
        .map(names::parse_owner)
        .transpose()?;
    if named.is_empty() && owner.is_none() {
        return Err(Failure::new(
            FailureKind::Usage,
            "no targets: name repositories (OWNER/REPO), --targets-file FILE or --owner OWNER",
        ));
    }
    let secret = options
        .secret
        .as_deref()
        .map(names::parse_secret_name)
        .transpose()?;
    let concurrency = options.concurrency.unwrap_or(DEFAULT_CONCURRENCY);
    let canary_repo = options.canary.as_deref().map(RepoName::parse).transpose()?;
    // A key named by flag is read before the first request: a missing one sends nothing.
    let given_key = if options.dry_run {
        None
    } else {
        input::key_from_flags(&options.key)?
    };
    let client = github_client(github)?;

    ctx.progress.step("Reading the targets …");
    let surveyed = survey_targets(
        &client,
        &named,
        owner.as_deref(),
        secret.as_deref(),
        concurrency,
        ctx,
    )
    .await?;
    let plan = Plan::build(&surveyed, options.include_shadowed);
    if plan.writes.is_empty() {
        return Err(Failure::new(
            FailureKind::Usage,
            "the targets have no Claude step that reads an API key secret; name one with --secret",
        ));
    }
    let canary = match (options.no_canary, &canary_repo) {
        (true, _) => None,
        (false, Some(repo)) => Some(plan.canary(Some(repo)).ok_or_else(|| {
            Failure::new(
                FailureKind::Usage,
                format!("--canary {repo} is not one of the targets"),
            )
        })?),
        (false, None) => plan.canary(None),
    };
    describe_plan(
        &plan,
        canary,
        &client,
        options.write_interval.unwrap_or(DEFAULT_WRITE_INTERVAL),
        ctx,
    );
    // How a run that writes nothing ends: every target pending.
    let nothing_written = |end| {
        let states = vec![WriteState::Pending; plan.writes.len()];
        outcome(&plan, &states, None, &client, &[], None, Some(end))
    };
    if options.dry_run {
        return Ok(nothing_written(RotateEnd::DryRun));
    }

    let key = input::key_or_prompt(
        given_key,
        ctx.interactivity,
        "New Anthropic API key (hidden)",
    )?;
    if !key.shape().is_clean_api_key() {
        let verdict = judge_new_key(&evidence_of_shape(&key), "");
        return Err(new_key_rejected(
            verdict.cause,
            format!(
                "the new key was rejected and nothing was uploaded: {}",
                verdict.summary
            ),
        ));
    }
    let question = format!(
        "Write the new key {} with {}?",
        key.display_form(),
        counted(plan.writes.len(), "write")
    );
    match input::confirm(ctx.interactivity, options.yes, true, &question) {
        Ok(true) | Err(input::Error::InputNeeded { .. }) => {}
        Ok(false) => {
            ctx.progress.step("Nothing was written.");
            return Ok(nothing_written(RotateEnd::Declined));
        }
        Err(other) => return Err(other.into()),
    }
    let journal_options = journal::Options {
        include_shadowed: options.include_shadowed,
        force: options.force,
        canary,
        write_interval_secs: options.write_interval.unwrap_or(DEFAULT_WRITE_INTERVAL),
        concurrency,
    };
    let header = Header::new(&key, journal_options, plan);
    let path = options
        .journal
        .clone()
        .unwrap_or_else(Journal::default_path);
    let journal =
        Journal::create(&path, &header).map_err(|e| Failure::new(FailureKind::Usage, e))?;
    ctx.progress.step(&format!(
        "Journal: {} (resume with: {})",
        path.display(),
        resume_command(&path, &options.key, client.api_url())
    ));
    execute(header, journal, Vec::new(), key, client, options, ctx).await
}

async fn resume(
    path: PathBuf,
    options: &RotateOptions,
    github: crate::github::Config,
    ctx: &Context,
) -> Result<Outcome, Failure> {
    let (journal, header, entries) =
        Journal::reopen(&path).map_err(|e| Failure::new(FailureKind::Usage, e))?;
    let key = input::read_key(
        &options.key,
        ctx.interactivity,
        "The rotation's new Anthropic API key (hidden)",
    )?;
    if !header.same_key(&key) {
        return Err(Failure::new(
            FailureKind::Usage,
            format!(
                "not the key this journal started with ({}): give the same key to resume",
                path.display()
            ),
        ));
    }
    let client = github_client(github)?;
    ctx.progress.step(&format!("Resuming {} …", path.display()));
    execute(header, journal, entries, key, client, options, ctx).await
}

/// Validation, canary, and the paced writes, journaled; shared by a new run and a resumed one.
async fn execute(
    mut header: Header,
    mut journal: Journal,
    entries: Vec<Entry>,
    key: Key,
    client: Client,
    options: &RotateOptions,
    ctx: &Context,
) -> Result<Outcome, Failure> {
    let interrupt = Interrupt::watch(ctx.progress);
    if let Some(interval) = options.write_interval {
        header.options.write_interval_secs = interval;
    }
    if let Some(concurrency) = options.concurrency {
        header.options.concurrency = concurrency;
    }
    let plan = header.plan.clone();
    let past = journal::Progress::of(&entries);
    let mut states: Vec<WriteState> = (0..plan.writes.len())
        .map(|i| {
            if past.done.contains(&i) {
                WriteState::Done
            } else {
                WriteState::Pending
            }
        })
        .collect();
    let journal_path = journal.path.clone();
    let resume = resume_command(&journal_path, &options.key, client.api_url());
    let record = |journal: &mut Journal, entry: Entry| {
        journal
            .record(&entry)
            .map_err(|e| Failure::new(FailureKind::Io, e))
    };

    // Validation: once per model, and the writes a model failure touches are skipped.
    let models = validate(&key, &plan, ctx).await?;
    let finish = |states: &[WriteState], end: Option<RotateEnd>| {
        if end == Some(RotateEnd::Interrupted) {
            ctx.progress
                .step(&format!("Stopped. Resume with: {resume}"));
        }
        outcome(
            &plan,
            states,
            Some(&journal_path),
            &client,
            &models_list(&models),
            header.options.canary,
            end,
        )
    };
    // The writes, ending how the run ended; an error part-way keeps every write's state.
    let ended = async {
        if !header.options.force {
            for write in &plan.writes {
                let failing: Vec<String> = write
                    .models
                    .iter()
                    .filter_map(|m| models.get(m).cloned().flatten())
                    .collect();
                if !failing.is_empty() && states[write.id] == WriteState::Pending {
                    let reason = failing.join("; ");
                    record(
                        &mut journal,
                        Entry::Skipped {
                            write: write.id,
                            reason: reason.clone(),
                        },
                    )?;
                    states[write.id] = WriteState::Skipped(reason);
                }
            }
        }

        // Public keys and organization settings, once per scope, reads overlapping.
        let pending: Vec<usize> = (0..plan.writes.len())
            .filter(|i| states[*i] == WriteState::Pending)
            .collect();
        ctx.progress.step(&format!(
            "Reading {} …",
            counted(pending.len(), "public key")
        ));
        let prepared = prepare_all(&client, &plan, &pending, header.options.concurrency).await?;
        if interrupt.stop_requested() {
            return Ok(RotateEnd::Interrupted);
        }

        let interval = Duration::from_secs_f64(header.options.write_interval_secs);
        let mut pacer = Pacer::new(interval);
        let mut bar = ProgressBar::new(ctx, pending.len() as u64, interval);
        let mut writer = Writer {
            client: &client,
            plan: &plan,
            prepared: &prepared,
            key: &key,
            journal: &mut journal,
            bar: &mut bar,
            interrupt: &interrupt,
        };

        // The canary: written first, verified by the probe before anything else is written.
        if let Some(canary) = header.options.canary.filter(|_| !past.canary_passed) {
            let probe =
                ready_canary_probe(&client, &plan.writes[canary], &options.probe, ctx).await?;
            if interrupt.stop_requested() {
                return Ok(RotateEnd::Interrupted);
            }
            if states[canary] == WriteState::Pending {
                pacer.wait().await;
                states[canary] = writer.write(canary).await?;
            }
            match &states[canary] {
                WriteState::Done => {}
                WriteState::Pending => return Ok(RotateEnd::Interrupted),
                other => {
                    let seen = format!("the canary write failed: {}", describe_state(other));
                    return Ok(RotateEnd::CanaryFailed(seen));
                }
            }
            let verified = interrupt
                .unless_aborted(verify_canary(
                    &client,
                    &plan.writes[canary],
                    &probe,
                    &key,
                    &options.probe,
                    ctx,
                ))
                .await;
            match verified.transpose()? {
                None => return Ok(RotateEnd::Interrupted),
                Some(Some(seen)) => return Ok(RotateEnd::CanaryFailed(seen)),
                Some(None) => record(&mut *writer.journal, Entry::CanaryPassed { write: canary })?,
            }
        }

        for id in pending {
            if states[id] != WriteState::Pending {
                continue;
            }
            tokio::select! {
                () = pacer.wait() => {}
                () = interrupt.stopped() => {}
            }
            if interrupt.stop_requested() {
                break;
            }
            states[id] = writer.write(id).await?;
        }
        bar.finish();
        let end = if interrupt.stop_requested() {
            RotateEnd::Interrupted
        } else if states.iter().all(|s| *s == WriteState::Done) {
            RotateEnd::AllRotated
        } else {
            if states.iter().any(|s| matches!(s, WriteState::Failed(_))) {
                ctx.progress
                    .step(&format!("Finish the failed writes with: {resume}"));
            }
            RotateEnd::Incomplete
        };
        Ok::<RotateEnd, Failure>(end)
    }
    .await;
    match ended {
        Ok(end) => Ok(finish(&states, Some(end))),
        Err(failure) => {
            ctx.progress.step(&format!(
                "Stopped: {}. Resume with: {resume}",
                failure.message
            ));
            Ok(finish(&states, None).finish(Err(failure)))
        }
    }
}

/// The command that resumes from `journal` from any directory, taking the key the way this run
/// took it, against the same GitHub when it is not github.com.
fn resume_command(journal: &std::path::Path, key: &KeyInputArgs, github_api_url: &str) -> String {
    let journal = std::path::absolute(journal).unwrap_or_else(|_| journal.to_owned());
    let mut command = format!(
        "keyfix rotate --resume {}",
        shell_quote(&journal.display().to_string())
    );
    match (&key.key_env, key.key_stdin) {
        (Some(var), _) => command += &format!(" --key-env {}", shell_quote(var)),
        (None, true) => command += " --key-stdin",
        (None, false) => {}
    }
    if crate::github::token::enterprise_host(github_api_url).is_some() {
        command += &format!(" --github-api-url {}", shell_quote(github_api_url));
    }
    command
}

/// `text` as one shell word.
fn shell_quote(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+:=@%,".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// Surveys the named repositories and the owner's (those with a Claude workflow), `concurrency`
/// at a time, into the secret uses the plan is built from.
async fn survey_targets(
    client: &Client,
    named: &[RepoName],
    owner: Option<&str>,
    secret: Option<&str>,
    concurrency: usize,
    ctx: &Context,
) -> Result<Vec<Surveyed>, Failure> {
    // A named target is read first; a listed one is known from the listing already.
    let mut targets: Vec<(RepoName, Option<repos::Repository>)> =
        named.iter().map(|r| (r.clone(), None)).collect();
    if let Some(owner) = owner {
        let owner = repos::owner(client, owner).await?;
        for repo in repos::list_for_owner(client, &owner).await? {
            let name = repo.repo_name();
            if !targets.iter().any(|(r, _)| *r == name) && !repo.archived {
                targets.push((name, Some(repo)));
            }
        }
    }
    let results: Vec<Result<Option<Surveyed>, Failure>> = stream::iter(targets)
        .map(|(repo, listed)| async move {
            let survey = match listed {
                Some(repository) => Survey::of(client, repository, 1).await?,
                None => match Survey::read(client, &repo, 1).await? {
                    Some(survey) => Some(survey),
                    // Named explicitly: its secret is written even with no Claude workflow.
                    None => Some(Survey::bare(client, &repo).await?),
                },
            };
            Ok(survey.map(|survey| uses_of(&survey, secret)))
        })
        .buffered(concurrency.max(1))
        .collect()
        .await;
    let mut surveyed = Vec::new();
    for result in results {
        if let Some(target) = result? {
            surveyed.push(target);
        }
    }
    ctx.progress.step(&format!(
        "{} ({} GitHub requests).",
        counted(surveyed.len(), "target"),
        client.requests_sent()
    ));
    Ok(surveyed)
}

/// The secret names a target's Claude steps pass as `anthropic_api_key` (or `--secret`), each
/// with the environment of the jobs that read it, resolved.
fn uses_of(survey: &Survey, secret: Option<&str>) -> Surveyed {
    let mut uses: Vec<(String, Option<String>, BTreeSet<String>)> = Vec::new();
    for step in &survey.analysis.steps {
        let Some(name) = secret
            .map(str::to_owned)
            .or_else(|| step.api_key_secret.clone())
        else {
            continue;
        };
        let model = survey.model_of(step).model;
        match uses
            .iter_mut()
            .find(|(n, e, _)| *n == name && *e == step.environment)
        {
            Some((_, _, models)) => {
                models.insert(model);
            }
            None => uses.push((name, step.environment.clone(), BTreeSet::from([model]))),
        }
    }
    if uses.is_empty() {
        let name = secret.unwrap_or(DEFAULT_SECRET).to_owned();
        let model = crate::github::workflows::CLAUDE_CODE_DEFAULT_MODEL.to_owned();
        uses.push((name, None, BTreeSet::from([model])));
    }
    Surveyed {
        repo: survey.repo_name(),
        uses: uses
            .into_iter()
            .map(|(name, env, models)| SecretUse {
                resolution: survey.scopes.resolve(&name, env.as_deref()),
                models: models.into_iter().collect(),
            })
            .collect(),
    }
}

fn describe_plan(
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
    let budget = client
        .budget()
        .map(|b| format!("{} of {} left this hour", b.remaining, b.limit))
        .unwrap_or_else(|| "budget unknown".to_owned());
    ctx.progress.step(&format!(
        "  about {requests} GitHub requests ({budget}); {}",
        plan::duration_estimate(plan.writes.len(), interval)
    ));
}

/// The evidence of a key that is not sent anywhere: its shape alone.
fn evidence_of_shape(key: &Key) -> crate::diagnosis::KeyEvidence {
    crate::diagnosis::KeyEvidence {
        shape: key.shape(),
        fingerprint: None,
        calls: Vec::new(),
    }
}

/// Validates the key once per model. `Ok` maps each model to `None` (works) or the reason it
/// does not; the whole rotation stops when the key works on no model at all.
async fn validate(
    key: &Key,
    plan: &Plan,
    ctx: &Context,
) -> Result<BTreeMap<String, Option<String>>, Failure> {
    let client = anthropic::Client::new(ctx.anthropic.clone())?;
    let mut results = BTreeMap::new();
    let mut causes = Vec::new();
    for model in plan.models() {
        ctx.progress
            .step(&format!("Validating {} on {model} …", key.display_form()));
        let evidence = evidence_of(&client, key, &model).await?;
        if works_on(&evidence, &model) {
            results.insert(model, None);
            continue;
        }
        let cause = judge_new_key(&evidence, &model).cause;
        if new_key_exit(cause) == 13 {
            return Err(new_key_rejected(cause, format!("validating the new key met {cause} on {model}: nothing was written; try again later")));
        }
        causes.push(cause);
        results.insert(
            model.clone(),
            Some(format!("the new key cannot be used on {model} ({cause})")),
        );
    }
    if results.values().all(Option::is_some) {
        // One exit for all the models where they agree; a mixed failure is a rejection.
        let exits: BTreeSet<u8> = causes.iter().map(|c| new_key_exit(*c)).collect();
        let exit = match exits.len() {
            1 => exits.into_iter().next().unwrap_or(15),
            _ => 15,
        };
        let reasons: Vec<String> = results.values().flatten().cloned().collect();
        return Err(rejected_with_exit(
            exit,
            format!("{}: nothing was written", reasons.join("; ")),
        ));
    }
    Ok(results)
}

fn models_list(models: &BTreeMap<String, Option<String>>) -> Vec<String> {
    models
        .iter()
        .filter(|(_, failure)| failure.is_none())
        .map(|(m, _)| m.clone())
        .collect()
}

/// Reads what every pending write needs, `concurrency` reads in flight.
async fn prepare_all(
    client: &Client,
    plan: &Plan,
    pending: &[usize],
    concurrency: usize,
) -> Result<BTreeMap<usize, Prepared>, Failure> {
    let results: Vec<(usize, Result<Prepared, crate::github::Error>)> =
        stream::iter(pending.iter().copied())
            .map(|id| async move {
                let d = &plan.writes[id].destination;
                (
                    id,
                    secrets::prepare(client, &d.repo, &d.scope, &d.name).await,
                )
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
    let mut prepared = BTreeMap::new();
    for (id, result) in results {
        prepared.insert(id, result?);
    }
    Ok(prepared)
}

/// Starts writes at least `interval` apart.
struct Pacer {
    interval: Duration,
    last: Option<Instant>,
}

impl Pacer {
    fn new(interval: Duration) -> Pacer {
        Pacer {
            interval,
            last: None,
        }
    }

    async fn wait(&mut self) {
        if let Some(last) = self.last {
            let next = last + self.interval;
            tokio::time::sleep_until(next.into()).await;
        }
        self.last = Some(Instant::now());
    }
}

/// A bar with ETA on a terminal; a line per write otherwise; nothing with `-q`. A failed write
/// is always a line, above the bar.
struct ProgressBar {
    bar: Option<stderr::Bar>,
    quiet: bool,
    eta: Eta,
}

impl ProgressBar {
    fn new(ctx: &Context, total: u64, interval: Duration) -> ProgressBar {
        use std::io::IsTerminal;
        let quiet = ctx.progress.is_quiet();
        let eta = Eta::new(total, interval);
        let bar = (std::io::stderr().is_terminal() && !quiet)
            .then(|| stderr::Bar::start(total, "writes", eta.remaining()));
        ProgressBar { bar, quiet, eta }
    }

    fn wrote(&mut self, text: &str) {
        self.eta.done_one();
        match &self.bar {
            Some(bar) => bar.step(text, self.eta.remaining()),
            None if !self.quiet => stderr::line(text),
            None => {}
        }
    }

    fn failed(&mut self, text: &str) {
        self.eta.done_one();
        if let Some(bar) = &self.bar {
            bar.step("", self.eta.remaining());
        }
        if !self.quiet {
            stderr::line(text);
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}

/// The time the remaining writes take: at the (lower) median gap between the last writes, so that
/// the canary's verification or one long wait does not skew it; never faster than their interval.
struct Eta {
    total: u64,
    done: u64,
    interval: Duration,
    last_write: Option<Instant>,
    recent_gaps: std::collections::VecDeque<Duration>,
}

const ETA_GAPS: usize = 20;

impl Eta {
    fn new(total: u64, interval: Duration) -> Eta {
        Eta {
            total,
            done: 0,
            interval,
            last_write: None,
            recent_gaps: std::collections::VecDeque::with_capacity(ETA_GAPS),
        }
    }

    fn done_one(&mut self) {
        self.done_one_at(Instant::now());
    }

    fn done_one_at(&mut self, now: Instant) {
        self.done = (self.done + 1).min(self.total);
        if let Some(last) = self.last_write.replace(now) {
            if self.recent_gaps.len() == ETA_GAPS {
                self.recent_gaps.pop_front();
            }
            self.recent_gaps.push_back(now - last);
        }
    }

    fn remaining(&self) -> Duration {
        let mut gaps: Vec<Duration> = self.recent_gaps.iter().copied().collect();
        gaps.sort();
        let pace = gaps
            .get(gaps.len().saturating_sub(1) / 2)
            .map_or(self.interval, |median| (*median).max(self.interval));
        pace * (self.total - self.done) as u32
    }
}

/// What the writes share: each journaled before it is sent and after its answer, never repeated
/// in this run, abandoned only by a second Ctrl-C.
struct Writer<'a> {
    client: &'a Client,
    plan: &'a Plan,
    prepared: &'a BTreeMap<usize, Prepared>,
    key: &'a Key,
    journal: &'a mut Journal,
    bar: &'a mut ProgressBar,
    interrupt: &'a Interrupt,
}

impl Writer<'_> {
    /// The write's end: `Pending` when it was abandoned before its answer came.
    async fn write(&mut self, id: usize) -> Result<WriteState, Failure> {
        let describe = self.plan.writes[id].destination.describe();
        let io = |e: journal::Error| Failure::new(FailureKind::Io, e);
        let Some(prepared) = self.prepared.get(&id) else {
            return Ok(WriteState::Failed(
                "its public key could not be read".to_owned(),
            ));
        };
        self.journal
            .record(&Entry::Sending { write: id })
            .map_err(io)?;
        let before = self.plan.writes[id].updated_at.as_deref();
        let sent = secrets::put_settled(self.client, prepared, self.key, before);
        let Some(answer) = self.interrupt.unless_aborted(sent).await else {
            return Ok(WriteState::Pending);
        };
        let state = match answer {
            Ok(written) => {
                let status = if written == secrets::Written::Created {
                    201
                } else {
                    204
                };
                self.journal
                    .record(&Entry::Done { write: id, status })
                    .map_err(io)?;
                self.bar.wrote(&format!("wrote {describe}"));
                WriteState::Done
            }
            Err(error) => {
                let message = match &error {
                    UploadError::Refused(e) => format!("{e}; the secret holds the old key"),
                    UploadError::Unknown(e) => format!("{e}; the secret holds the old or the new key (keyfix does not repeat a write: --resume does it)"),
                };
                self.journal
                    .record(&Entry::Failed {
                        write: id,
                        error: message.clone(),
                    })
                    .map_err(io)?;
                self.bar.failed(&format!("FAILED {describe}: {message}"));
                WriteState::Failed(message)
            }
        };
        Ok(state)
    }
}

/// The canary's repository with its probe workflow in place, ready to be dispatched.
struct CanaryProbe {
    probe: ReadyProbe,
    environment: Option<String>,
}

/// Makes sure the canary's repository has the probe workflow, before anything is written: with
/// `--install-probe` or a yes at the prompt it is committed; otherwise the run stops (exit 3).
async fn ready_canary_probe(
    client: &Client,
    write: &plan::Write,
    args: &ProbeRunArgs,
    ctx: &Context,
) -> Result<CanaryProbe, Failure> {
    let repo = write.destination.repo.clone();
    let survey = match Survey::read(client, &repo, 1).await? {
        Some(survey) => survey,
        None => Survey::bare(client, &repo).await?,
    };
    let environment = match &write.destination.scope {
        Scope::Environment(env) => Some(env.clone()),
        _ => None,
    };
    let mut spec = ProbeSpec::for_survey(&survey, Some(&write.destination.name));
    if spec.job_for(environment.as_deref()).is_none() {
        spec = ProbeSpec::single(&write.destination.name);
    }
    let branch = &survey.repository.default_branch;
    let probe = ready(
        client,
        &repo,
        branch,
        &spec,
        args.install_probe,
        ctx,
        &mut Vec::new(),
    )
    .await?
    .map_err(|refusal| {
        let mut failure = not_allowed_failure(&repo, &refusal, "the canary");
        failure.message += " (or --no-canary to rotate without a canary); nothing was written";
        failure
    })?;
    Ok(CanaryProbe { probe, environment })
}

/// The probe on the canary's repository must see the new key working in the scope written.
/// `None` when it does; otherwise what it saw.
async fn verify_canary(
    client: &Client,
    write: &plan::Write,
    canary: &CanaryProbe,
    key: &Key,
    args: &ProbeRunArgs,
    ctx: &Context,
) -> Result<Option<String>, Failure> {
    let model = write
        .models
        .iter()
        .next()
        .cloned()
        .unwrap_or_else(|| BASELINE_MODEL.to_owned());
    ctx.progress.step(&format!(
        "Verifying the canary {} with the probe …",
        canary.probe.repo
    ));
    let asked = Asked {
        secret: &write.destination.name,
        environment: canary.environment.as_deref(),
        model: &model,
        timeout: Duration::from_secs(args.timeout),
    };
    let verification = verify_key(client, &canary.probe, &asked, key, ctx, &mut Vec::new()).await?;
    Ok(verification.shortfall(&write.destination.describe()))
}

fn describe_state(state: &WriteState) -> String {
    match state {
        WriteState::Pending => "not reached".to_owned(),
        WriteState::Done => "written".to_owned(),
        WriteState::Failed(e) | WriteState::Skipped(e) => e.clone(),
    }
}

fn outcome(
    plan: &Plan,
    states: &[WriteState],
    journal: Option<&std::path::Path>,
    client: &Client,
    validated: &[String],
    canary: Option<usize>,
    end: Option<RotateEnd>,
) -> Outcome {
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
    Outcome {
        targets: Some(targets),
        rotation: Some(RotationReport {
            journal: journal.map(|p| p.display().to_string()),
            writes: states.iter().filter(|s| **s == WriteState::Done).count(),
            planned_writes: plan.writes.len(),
            github_requests: client.requests_sent(),
            secondary_limit_waits: client.secondary_waits(),
            validated_models: validated.to_vec(),
            canary: canary.map(|c| plan.writes[c].destination.repo.to_string()),
        }),
        rotate_end: end,
        error,
        ..Outcome::new(CommandName::Rotate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_input(env: Option<&str>, stdin: bool) -> KeyInputArgs {
        KeyInputArgs {
            key_stdin: stdin,
            key_env: env.map(str::to_owned),
        }
    }

    #[test]
    fn the_resume_command_takes_the_key_the_same_way() {
        let journal = std::path::Path::new("/state/rotate/20261201-1a2b.jsonl");
        let github = "https://api.github.com";
        assert_eq!(
            resume_command(journal, &key_input(Some("NEW_KEY"), false), github),
            "keyfix rotate --resume /state/rotate/20261201-1a2b.jsonl --key-env NEW_KEY"
        );
        assert_eq!(
            resume_command(journal, &key_input(None, true), github),
            "keyfix rotate --resume /state/rotate/20261201-1a2b.jsonl --key-stdin"
        );
        assert_eq!(
            resume_command(journal, &key_input(None, false), github),
            "keyfix rotate --resume /state/rotate/20261201-1a2b.jsonl"
        );
    }

    #[test]
    fn the_resume_command_names_an_enterprise_server_and_works_from_anywhere() {
        let command = resume_command(
            std::path::Path::new("-odd.jsonl"),
            &key_input(Some("NEW_KEY"), false),
            "https://ghe.example.com/api/v3",
        );
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            command,
            format!(
                "keyfix rotate --resume {} --key-env NEW_KEY --github-api-url https://ghe.example.com/api/v3",
                shell_quote(&cwd.join("-odd.jsonl").display().to_string())
            )
        );
    }

    #[test]
    fn the_eta_follows_the_pace_and_ignores_one_long_gap() {
        let second = Duration::from_secs(1);
        let mut eta = Eta::new(10, second);
        assert_eq!(
            eta.remaining(),
            10 * second,
            "the interval before any write"
        );
        let start = Instant::now();
        eta.done_one_at(start);
        eta.done_one_at(start + 40 * second); // the canary's verification
        eta.done_one_at(start + 42 * second);
        assert_eq!(eta.remaining(), 7 * 2 * second, "from the second gap on");
        eta.done_one_at(start + 44 * second);
        eta.done_one_at(start + 46 * second);
        assert_eq!(
            eta.remaining(),
            5 * 2 * second,
            "five left at two seconds each"
        );
        let mut fast = Eta::new(3, second);
        fast.done_one_at(start);
        fast.done_one_at(start + Duration::from_millis(10));
        assert_eq!(fast.remaining(), second, "never faster than the interval");
    }

    #[test]
    fn a_journal_path_with_spaces_or_quotes_stays_one_word() {
        assert_eq!(
            shell_quote("my runs/it's.jsonl"),
            "'my runs/it'\\''s.jsonl'"
        );
        assert_eq!(shell_quote(""), "''");
    }
}
