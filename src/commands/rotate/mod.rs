//! `keyfix rotate`: one validated key into the secret of many repositories, each in the scope
//! its Claude jobs read (`rotate.md`). Planned before any write, the key validated once per
//! model, a canary verified with the probe, writes paced one at a time, every step journaled.

mod canary;
mod interrupt;
pub mod journal;
pub mod plan;
mod report;
mod resume;
mod targets;
mod validation;
mod writes;

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::{KeyInputArgs, ProbeRunArgs};
use crate::github::{names, Client, RepoName};
use crate::input;
use crate::key::Key;
use crate::outcome::Action;
use crate::outcome::{new_key_rejected, Failure, FailureKind, Finished, RotateEnd, RotateReport};
use crate::output::counted;
use crate::output::progress::ProgressBar;
use crate::work::new_key::judge_new_key;
use crate::work::retire::{name_old_key, retire_old_key, OldKey};
use crate::work::{github_client, Context};
use canary::{canary_probe_in_place, read_old_key, ready_canary_probe, verify_canary};
use interrupt::Interrupt;
use journal::{Entry, Header, Journal};
use plan::Plan;
use report::{describe_plan, outcome};
use resume::resume_command;
use targets::{named_targets, survey_targets};
use validation::{evidence_of_shape, models_list, validate};
use writes::{prepare_all, Pacer, WriteState, Writer};

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
    pub retire_old: bool,
    pub yes: bool,
}

const DEFAULT_WRITE_INTERVAL: f64 = 1.0;
const DEFAULT_CONCURRENCY: usize = 8;

pub async fn run(options: RotateOptions, ctx: &Context) -> Finished<RotateReport> {
    rotate(options, ctx)
        .await
        .unwrap_or_else(|failure| Finished::of(RotateReport::default(), Err(failure)))
}

async fn rotate(options: RotateOptions, ctx: &Context) -> Result<Finished<RotateReport>, Failure> {
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

async fn start(
    options: &RotateOptions,
    github: crate::github::Config,
    ctx: &Context,
) -> Result<Finished<RotateReport>, Failure> {
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
        let mut planned = nothing_written(RotateEnd::DryRun);
        if let Some(canary) = canary.filter(|_| options.retire_old) {
            let named = name_old_key_of(&client, &plan.writes[canary], &options.probe, ctx).await?;
            planned.report.actions.push(named);
        }
        return Ok(planned);
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
        retire_old: options.retire_old,
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
) -> Result<Finished<RotateReport>, Failure> {
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

/// `--retire-old --dry-run`: the key the canary's secret holds now, named through the Admin API,
/// when its probe can run with nothing committed.
async fn name_old_key_of(
    client: &Client,
    write: &plan::Write,
    args: &ProbeRunArgs,
    ctx: &Context,
) -> Result<Action, Failure> {
    let probe = match canary_probe_in_place(client, write, args).await? {
        Ok(probe) => probe,
        Err(reason) => return Ok(Action::OldKeyKept { reason }),
    };
    let reading = read_old_key(client, write, &probe, args, ctx).await?;
    let old = reading.hint_fingerprint.as_deref().map(|hint| OldKey {
        nonce: &reading.nonce,
        hint_fingerprint: hint,
        name: None,
    });
    name_old_key(old, ctx).await
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
) -> Result<Finished<RotateReport>, Failure> {
    let interrupt = Interrupt::watch(ctx.progress);
    if let Some(interval) = options.write_interval {
        header.options.write_interval_secs = interval;
    }
    if let Some(concurrency) = options.concurrency {
        header.options.concurrency = concurrency;
    }
    let plan = header.plan.clone();
    let past = journal::Progress::of(&entries);
    let mut old_key = past.old_key.clone();
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
        let mut bar = ProgressBar::new(ctx.progress, pending.len() as u64, interval);
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
            let canary_sent = entries
                .iter()
                .any(|e| matches!(e, Entry::Sending { write } if *write == canary));
            if header.options.retire_old && old_key.is_none() && !canary_sent {
                let reading =
                    read_old_key(&client, &plan.writes[canary], &probe, &options.probe, ctx)
                        .await?;
                let seen = (reading.nonce, reading.hint_fingerprint);
                record(
                    &mut *writer.journal,
                    Entry::OldKeySeen {
                        nonce: seen.0.clone(),
                        hint_fingerprint: seen.1.clone(),
                    },
                )?;
                old_key = Some(seen);
            }
            if states[canary] == WriteState::Pending {
                pacer.wait().await;
                states[canary] = writer.write(canary).await?;
            }
            match &states[canary] {
                WriteState::Done => {}
                WriteState::Pending => return Ok(RotateEnd::Interrupted),
                other => {
                    let seen = format!("the canary write failed: {}", other.describe());
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
    let retire = |end: Option<&RotateEnd>| {
        let unproven = match end {
            Some(RotateEnd::AllRotated) => None,
            _ => Some(format!(
                "not every write was done (the journal can finish them: {resume})"
            )),
        };
        let old = old_key.as_ref().and_then(|(nonce, hint)| {
            Some(OldKey {
                nonce,
                hint_fingerprint: hint.as_deref()?,
                name: None,
            })
        });
        retire_old_key(old, &key, unproven, ctx)
    };
    let (end, failure) = match ended {
        Ok(end) => (Some(end), None),
        Err(failure) => {
            ctx.progress.step(&format!(
                "Stopped: {}. Resume with: {resume}",
                failure.message
            ));
            (None, Some(failure))
        }
    };
    let mut finished = finish(&states, end.clone());
    if header.options.retire_old {
        finished.report.actions.push(retire(end.as_ref()).await?);
    }
    Ok(match failure {
        None => finished,
        Some(failure) => Finished::of(finished.report, Err(failure)),
    })
}
