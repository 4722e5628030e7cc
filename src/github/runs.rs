//! Workflow runs: the failed run to diagnose, its log signature, re-running its failed jobs and
//! watching the new attempt to the end.

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use http::header::HeaderName;
use http::Method;
use serde::{Deserialize, Serialize};

use super::{logs, Access, Client, Error, RepoName};
use crate::diagnosis::NoSecretsReason;

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Login {
    pub login: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct RepoRef {
    #[serde(default)]
    pub full_name: Option<String>,
}

/// A run as the API lists it; the fields GitHub may send as null are optional.
#[derive(Clone, Debug, Deserialize)]
pub struct WorkflowRun {
    pub id: u64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub display_title: Option<String>,
    #[serde(default = "one")]
    pub run_attempt: u32,
    pub event: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub conclusion: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub actor: Option<Login>,
    #[serde(default)]
    pub triggering_actor: Option<Login>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
    #[serde(default)]
    pub head_repository: Option<RepoRef>,
    #[serde(default)]
    pub repository: Option<RepoRef>,
}

fn one() -> u32 {
    1
}

impl WorkflowRun {
    pub fn is_completed(&self) -> bool {
        self.status.as_deref() == Some("completed")
    }

    /// Completed and passed.
    pub fn is_green(&self) -> bool {
        self.is_completed() && self.conclusion.as_deref() == Some("success")
    }

    /// Why GitHub gave this run no Actions secrets, if it gave none.
    pub fn no_secrets_reason(&self) -> Option<NoSecretsReason> {
        let by_dependabot = [&self.actor, &self.triggering_actor]
            .iter()
            .any(|a| a.as_ref().is_some_and(|a| a.login == "dependabot[bot]"));
        if by_dependabot {
            return Some(NoSecretsReason::Dependabot);
        }
        let head = self
            .head_repository
            .as_ref()
            .and_then(|r| r.full_name.as_deref());
        let base = self
            .repository
            .as_ref()
            .and_then(|r| r.full_name.as_deref());
        // A pull request run whose head repository is null came from a fork deleted since
        // (GitHub answers `head_repository: null` then): a pull request from the repository
        // itself has that repository as its head.
        let from_fork = self.event == "pull_request" && base.is_some() && head != base;
        from_fork.then_some(NoSecretsReason::ForkPullRequest)
    }
}

#[derive(Deserialize)]
struct RunList {
    workflow_runs: Vec<WorkflowRun>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct JobInfo {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub conclusion: Option<String>,
    #[serde(default)]
    pub steps: Vec<StepInfo>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct StepInfo {
    pub name: String,
}

impl JobInfo {
    /// Failed before any step ran: GitHub refused it before a runner took it (an environment's
    /// deployment branches, a startup failure).
    pub fn failed_unstarted(&self) -> bool {
        self.conclusion.as_deref() == Some("failure") && self.steps.is_empty()
    }
}

/// What a run's log says, read from the claude-code-action step's output.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LogReading {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_error: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_cost_usd: Option<f64>,
    /// "Credit balance is too low" in the log (the versions that print the result text).
    pub credit_text: bool,
    /// The action found no key at all ("Either ANTHROPIC_API_KEY or … is required").
    pub no_key: bool,
    /// The result text, where the action's version printed it: the whole result (full output)
    /// or the SDK's `Claude Code returned an error result: …`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

/// A refusal before any work is answered in well under this.
const PREFLIGHT_MAX_MS: u64 = 1500;

impl LogReading {
    /// `is_error`, nothing billed and a short run, or the credit text: the API refused before
    /// any work was done. A retried 429 or 529 takes far longer; a mid-run failure costs.
    pub fn preflight_refusal(&self) -> bool {
        let summary = self.is_error == Some(true)
            && self.total_cost_usd == Some(0.0)
            && self.duration_ms.is_some_and(|ms| ms < PREFLIGHT_MAX_MS);
        summary || self.credit_text
    }

    /// Reads a job log however it was framed (a download, or `gh run view --log`), then looks
    /// for the action's result fields and texts. The last result in the log counts.
    pub fn of(log: &str) -> LogReading {
        let mut scan = LogScan::default();
        logs::each_line(log.as_bytes(), |line| {
            scan.line(line);
            ControlFlow::Continue(())
        });
        scan.finish()
    }
}

/// A [`LogReading`] gathered line by line, so that a log is never held whole: only the latest
/// value of each field is kept.
#[derive(Debug, Default)]
pub struct LogScan {
    is_error: Option<String>,
    duration_ms: Option<String>,
    total_cost_usd: Option<String>,
    credit_text: bool,
    no_key_named: bool,
    no_key_required: bool,
    /// The last `"result": "…"` string.
    json_result: Option<String>,
    /// The first SDK error line's text.
    sdk_result: Option<String>,
}

impl LogScan {
    /// One line of a log, as it was downloaded.
    pub fn line(&mut self, raw: &str) {
        let line = clean_line(raw);
        for (key, slot) in [
            ("is_error", &mut self.is_error),
            ("duration_ms", &mut self.duration_ms),
            ("total_cost_usd", &mut self.total_cost_usd),
        ] {
            if line.contains(key) {
                if let Some(value) = json_field(&line, key) {
                    *slot = Some(value.to_owned());
                }
            }
        }
        let lower = line.to_lowercase();
        self.credit_text |= lower.contains("credit balance is too low");
        self.no_key_named |= lower.contains("either anthropic_api_key");
        self.no_key_required |= lower.contains("is required");
        if let Some(result) = json_result(&line) {
            self.json_result = Some(result);
        }
        if self.sdk_result.is_none() {
            self.sdk_result = sdk_result(&line);
        }
    }

    pub fn finish(self) -> LogReading {
        LogReading {
            is_error: self.is_error.and_then(|v| v.parse().ok()),
            duration_ms: self.duration_ms.and_then(|v| v.parse().ok()),
            total_cost_usd: self.total_cost_usd.and_then(|v| v.parse().ok()),
            credit_text: self.credit_text,
            no_key: self.no_key_named && self.no_key_required,
            result: self
                .json_result
                .or(self.sdk_result)
                .filter(|t| !t.is_empty())
                .map(|t| t.chars().take(RESULT_MAX_CHARS).collect()),
        }
    }
}

/// The most of the action's result text keyfix keeps.
const RESULT_MAX_CHARS: usize = 500;

/// One log line as the action wrote it: a byte-order mark, `gh run view --log`'s job and step
/// columns, GitHub's timestamp and ESC colour codes taken off.
fn clean_line(line: &str) -> String {
    let line = line.trim_start_matches('\u{feff}');
    let line = match line.splitn(3, '\t').collect::<Vec<_>>().as_slice() {
        [_, _, rest] if is_timestamped(rest) => rest,
        _ => line,
    };
    strip_escapes(strip_timestamp(line))
}

fn is_timestamped(line: &str) -> bool {
    line.split_once(' ')
        .is_some_and(|(stamp, _)| is_timestamp(stamp))
}

/// `2026-04-12T05:10:05.3594082Z`: a date, a `T`, and `Z` at the end.
fn is_timestamp(stamp: &str) -> bool {
    let bytes = stamp.as_bytes();
    stamp.len() >= 20 && bytes[4] == b'-' && bytes[10] == b'T' && stamp.ends_with('Z')
}

/// `2026-11-23T22:49:09.1234567Z text` → `text`; a continuation line has no timestamp.
fn strip_timestamp(line: &str) -> &str {
    match line.split_once(' ') {
        Some((stamp, rest)) if is_timestamp(stamp) => rest,
        _ => line,
    }
}

/// Removes ANSI escape sequences (`ESC[36;1m`), as the runner wraps script lines in them.
fn strip_escapes(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'[') {
            chars.next();
            // Parameters and intermediates, then one final byte in @..~.
            for next in chars.by_ref() {
                if ('@'..='~').contains(&next) {
                    break;
                }
            }
        }
    }
    out
}

/// The raw value after the last `"key":` in a line of JSON, whether compact or pretty-printed.
fn json_field<'t>(text: &'t str, key: &str) -> Option<&'t str> {
    let quoted = format!("\"{key}\"");
    let start = text.rfind(&quoted)? + quoted.len();
    let rest = text[start..].trim_start().strip_prefix(':')?.trim_start();
    let end = rest
        .find(|c: char| c == ',' || c == '}' || c.is_whitespace())
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

/// A result's `"result": "…"` (full output): the last such key in the line whose value is a
/// string (`"type": "result"` holds the same word as a value).
fn json_result(line: &str) -> Option<String> {
    line.rmatch_indices("\"result\"").find_map(|(at, key)| {
        let rest = line[at + key.len()..].trim_start().strip_prefix(':')?;
        serde_json::Deserializer::from_str(rest.trim_start())
            .into_iter::<String>()
            .next()?
            .ok()
    })
}

/// The SDK's `Claude Code returned an error result: <text>`.
fn sdk_result(line: &str) -> Option<String> {
    const SDK: &str = "Claude Code returned an error result: ";
    let start = line.find(SDK)? + SDK.len();
    Some(line[start..].trim().to_owned())
}

/// How a run failed, in the names of `cli.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Signature {
    PreflightRefusal,
    NoSecrets,
}

/// The signature of a run from its facts and its Claude log.
pub fn signature(run: &WorkflowRun, log: &LogReading) -> Option<Signature> {
    if run.no_secrets_reason().is_some() {
        return Some(Signature::NoSecrets);
    }
    log.preflight_refusal()
        .then_some(Signature::PreflightRefusal)
}

/// The workflow's file name as the runs endpoint takes it: one encoded path segment.
fn workflow_file(path: &str) -> String {
    crate::net::url_path::segment(path.rsplit('/').next().unwrap_or(path))
}

/// The newest run of `workflow_path`, failed ones only when `failed_only`.
pub async fn latest(
    client: &Client,
    repo: &RepoName,
    workflow_path: &str,
    failed_only: bool,
) -> Result<Option<WorkflowRun>, Error> {
    let filter = if failed_only { "&status=failure" } else { "" };
    let url = format!(
        "/repos/{repo}/actions/workflows/{}/runs?per_page=1{filter}",
        workflow_file(workflow_path)
    );
    let list: Option<RunList> = client
        .get_optional(&url, Access::Read, &format!("the runs of {workflow_path}"))
        .await?;
    Ok(list.and_then(|l| l.workflow_runs.into_iter().next()))
}

/// The newest run among the given workflows, failed ones only when `failed_only`.
async fn newest_of(
    client: &Client,
    repo: &RepoName,
    workflow_paths: &[String],
    failed_only: bool,
) -> Result<Option<WorkflowRun>, Error> {
    let mut newest: Option<WorkflowRun> = None;
    for path in workflow_paths {
        if let Some(run) = latest(client, repo, path, failed_only).await? {
            if newest.as_ref().is_none_or(|n| {
                run.created_at > n.created_at || (run.created_at == n.created_at && run.id > n.id)
            }) {
                newest = Some(run);
            }
        }
    }
    Ok(newest)
}

/// The run a diagnosis is about, with its log read: the newest failed run of the workflows;
/// where none failed, the newest run when it passed although its Claude step was refused before
/// any work (a green refusal: action versions v1.0.146–v1.0.171 let such a step pass).
pub async fn latest_refused(
    client: &Client,
    repo: &RepoName,
    workflow_paths: &[String],
) -> Result<Option<(WorkflowRun, LogReading)>, Error> {
    let failed = newest_of(client, repo, workflow_paths, true).await?;
    let candidate = match failed {
        Some(run) => Some(run),
        None => newest_of(client, repo, workflow_paths, false)
            .await?
            .filter(WorkflowRun::is_green),
    };
    let Some(run) = candidate else {
        return Ok(None);
    };
    let reading = if run.is_completed() {
        read_logs(client, repo, run.id).await?
    } else {
        LogReading::default()
    };
    if run.is_green() && !reading.preflight_refusal() {
        return Ok(None);
    }
    Ok(Some((run, reading)))
}

pub async fn get(client: &Client, repo: &RepoName, id: u64) -> Result<WorkflowRun, Error> {
    client
        .get(
            &format!("/repos/{repo}/actions/runs/{id}"),
            Access::Read,
            &format!("run {id} of {repo}"),
        )
        .await
}

pub async fn jobs(client: &Client, repo: &RepoName, run_id: u64) -> Result<Vec<JobInfo>, Error> {
    client
        .get_all(
            &format!("/repos/{repo}/actions/runs/{run_id}/jobs"),
            Some("jobs"),
            Access::Read,
            &format!("the jobs of run {run_id}"),
        )
        .await
}

/// The log reading of a run's failed jobs (all jobs when none failed, as for a green refusal),
/// each log read as a stream.
pub async fn read_logs(client: &Client, repo: &RepoName, run_id: u64) -> Result<LogReading, Error> {
    let jobs = jobs(client, repo, run_id).await?;
    let failed: Vec<&JobInfo> = jobs
        .iter()
        .filter(|j| j.conclusion.as_deref() == Some("failure"))
        .collect();
    let chosen: Vec<&JobInfo> = if failed.is_empty() {
        jobs.iter().collect()
    } else {
        failed
    };
    let mut scan = LogScan::default();
    for job in chosen {
        logs::read_job_log(client, repo, job.id, |line| {
            scan.line(line);
            ControlFlow::Continue(())
        })
        .await?;
    }
    Ok(scan.finish())
}

/// Why GitHub would not re-run a run.
#[derive(Debug, thiserror::Error)]
pub enum RerunError {
    #[error("run {0} is still in progress: wait for it to finish, then re-run it")]
    InProgress(u64),
    #[error("run {0} is older than 30 days, and GitHub re-runs only newer runs: start a new run instead")]
    TooOld(u64),
    #[error("run {0} has been re-run 50 times, GitHub's limit: start a new run instead")]
    TooManyAttempts(u64),
    #[error("run {0} has no failed jobs to re-run")]
    NothingFailed(u64),
    #[error(transparent)]
    Github(#[from] Error),
}

/// Asks GitHub once to re-run the failed jobs (never repeated: a repeat would start twice).
pub async fn rerun_failed_jobs(
    client: &Client,
    repo: &RepoName,
    run_id: u64,
) -> Result<(), RerunError> {
    let path = format!("/repos/{repo}/actions/runs/{run_id}/rerun-failed-jobs");
    let answer = client.send(Method::POST, &path, None, &[]).await?;
    if answer.is_success() {
        return Ok(());
    }
    let message = answer.message().to_lowercase();
    if answer.status == 403 && !message.contains("not accessible") {
        if message.contains("already running") || message.contains("in progress") {
            return Err(RerunError::InProgress(run_id));
        }
        if message.contains("month") || message.contains("30 days") {
            return Err(RerunError::TooOld(run_id));
        }
        if message.contains("maximum") || message.contains("50") {
            return Err(RerunError::TooManyAttempts(run_id));
        }
        if message.contains("no failed jobs") {
            return Err(RerunError::NothingFailed(run_id));
        }
    }
    Err(client
        .error_for(
            &answer,
            Access::WriteActions,
            &format!("re-running run {run_id}"),
        )
        .into())
}

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("run {run_id} was still {status} after {waited} s: see {url}")]
    TimedOut {
        run_id: u64,
        status: String,
        waited: u64,
        url: String,
    },
    /// The caller stopped watching at this state of the run.
    #[error("stopped watching run {}", .0.id)]
    Stopped(Box<WorkflowRun>),
    #[error(transparent)]
    Github(#[from] Error),
}

/// Polls a run until an attempt after `after_attempt` completes: first look within a second,
/// intervals growing to 5 s, conditional requests so an unchanged run costs a 304.
/// `on_change` sees every new state; returning `false` stops the watch there.
pub async fn watch(
    client: &Client,
    repo: &RepoName,
    run_id: u64,
    after_attempt: u32,
    timeout: Duration,
    mut on_change: impl FnMut(&WorkflowRun) -> bool,
) -> Result<WorkflowRun, WatchError> {
    let started = Instant::now();
    let path = format!("/repos/{repo}/actions/runs/{run_id}");
    let what = format!("run {run_id} of {repo}");
    let mut etag: Option<String> = None;
    let mut last: Option<WorkflowRun> = None;
    loop {
        let headers: Vec<(HeaderName, String)> = etag
            .iter()
            .map(|e| (http::header::IF_NONE_MATCH, e.clone()))
            .collect();
        let answer = client.send(Method::GET, &path, None, &headers).await?;
        if answer.status != 304 {
            if !answer.is_success() {
                return Err(client.error_for(&answer, Access::Read, &what).into());
            }
            etag = answer.header("etag").map(str::to_owned);
            let run: WorkflowRun = answer.json(&what)?;
            let changed = last
                .as_ref()
                .is_none_or(|l| l.status != run.status || l.run_attempt != run.run_attempt);
            if changed && !on_change(&run) {
                return Err(WatchError::Stopped(Box::new(run)));
            }
            if run.run_attempt > after_attempt && run.is_completed() {
                return Ok(run);
            }
            last = Some(run);
        }
        let interval = poll_interval(started.elapsed());
        if started.elapsed() + interval > timeout {
            let last = last.unwrap_or_else(|| unreachable_run(run_id));
            return Err(WatchError::TimedOut {
                run_id,
                status: last.status.unwrap_or_else(|| "queued".to_owned()),
                waited: started.elapsed().as_secs(),
                url: last.html_url.unwrap_or_default(),
            });
        }
        tokio::time::sleep(interval).await;
    }
}

/// How long to wait before the next look at a run, `elapsed` after the watch began: often while
/// a short run may end any moment (an unchanged run costs a 304, which GitHub does not count
/// against the hourly budget), then backing off to 5 s for long runs.
pub fn poll_interval(elapsed: Duration) -> Duration {
    const QUICK: Duration = Duration::from_millis(200);
    const QUICK_PHASE: Duration = Duration::from_secs(5);
    if elapsed < QUICK_PHASE {
        return QUICK;
    }
    let beyond = (elapsed - QUICK_PHASE).as_secs_f64();
    Duration::from_secs_f64((0.2 * 1.5f64.powf(beyond / 2.0)).min(5.0))
}

fn unreachable_run(id: u64) -> WorkflowRun {
    WorkflowRun {
        id,
        name: None,
        display_title: None,
        run_attempt: 0,
        event: String::new(),
        status: None,
        conclusion: None,
        path: None,
        actor: None,
        triggering_actor: None,
        created_at: None,
        html_url: None,
        head_repository: None,
        repository: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUMMARY_LOG: &str = "\u{feff}2026-11-23T22:49:09.1230000Z Running Claude Code via SDK...\n\
2026-11-23T22:49:09.3100000Z {\"type\":\"result\",\"subtype\":\"success\",\"is_error\":true,\"duration_ms\":187,\"num_turns\":1,\"total_cost_usd\":0,\"session_id\":\"x\"}\n\
2026-11-23T22:49:09.3200000Z ##[error]Action failed with error: Claude Code execution failed\n";

    const PRETTY_SUMMARY: &str = "2026-11-23T22:49:09.1Z {\n2026-11-23T22:49:09.1Z   \"is_error\": true,\n2026-11-23T22:49:09.1Z   \"duration_ms\": 412,\n2026-11-23T22:49:09.1Z   \"total_cost_usd\": 0\n2026-11-23T22:49:09.1Z }\n";

    const TEXT_LOG: &str = "2026-06-01T10:00:00.0000000Z SDK execution error: Error: Claude Code returned an error result: Credit balance is too low\n";

    #[test]
    fn polls_are_quick_at_first_and_never_more_than_5_s_apart() {
        assert_eq!(poll_interval(Duration::ZERO), Duration::from_millis(200));
        assert_eq!(
            poll_interval(Duration::from_secs(4)),
            Duration::from_millis(200)
        );
        let later = poll_interval(Duration::from_secs(12));
        assert!(
            later > Duration::from_millis(200) && later < Duration::from_secs(5),
            "{later:?}"
        );
        assert_eq!(
            poll_interval(Duration::from_secs(600)),
            Duration::from_secs(5)
        );
    }

    /// A job log of `tests/fixtures/action-logs/` (its README names the real form each follows).
    fn fixture(name: &str) -> LogReading {
        let path = format!(
            "{}/tests/fixtures/action-logs/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        LogReading::of(&std::fs::read_to_string(&path).expect("the fixture"))
    }

    #[test]
    fn a_credit_refusal_is_a_refusal_before_any_work_in_every_era() {
        for name in [
            "e0-credit.log",
            "e2-credit.log",
            "e3a-credit.log",
            "e3b-credit.log",
            "e4-credit.log",
            "e5-green-refusal.log",
            "e6-credit.log",
            "e7-credit.log",
            "e7-full-output-credit.log",
            "gh-run-view-e4-credit.log",
        ] {
            let reading = fixture(name);
            assert!(reading.preflight_refusal(), "{name}: {reading:?}");
            assert_eq!(reading.is_error, Some(true), "{name}");
            assert_eq!(reading.total_cost_usd, Some(0.0), "{name}");
            assert!(!reading.no_key, "{name}");
        }
    }

    #[test]
    fn the_result_text_is_read_where_the_era_printed_it() {
        for (name, text) in [
            ("e0-credit.log", Some("Credit balance is too low")),
            ("e4-credit.log", Some("Credit balance is too low")),
            (
                "gh-run-view-e4-credit.log",
                Some("Credit balance is too low"),
            ),
            (
                "e7-full-output-credit.log",
                Some("Credit balance is too low"),
            ),
            ("e2-credit.log", None),
            ("e3b-credit.log", None),
            ("e5-green-refusal.log", None),
            ("e7-credit.log", None),
        ] {
            assert_eq!(fixture(name).result.as_deref(), text, "{name}");
        }
    }

    #[test]
    fn retries_mid_run_failures_and_failures_before_the_step_are_not_refusals() {
        for name in [
            "e7-overloaded-retried.log",
            "e7-mid-run-failure.log",
            "checkout-failed.log",
            "e7-no-key.log",
        ] {
            let reading = fixture(name);
            assert!(!reading.preflight_refusal(), "{name}: {reading:?}");
        }
        assert_eq!(
            fixture("e7-overloaded-retried.log").duration_ms,
            Some(41873)
        );
        assert_eq!(
            fixture("e7-mid-run-failure.log").total_cost_usd,
            Some(0.3312)
        );
        assert!(fixture("e7-no-key.log").no_key);
    }

    #[test]
    fn escapes_and_columns_are_taken_off_a_line() {
        assert_eq!(clean_line("\u{1b}[36;1mbun run x\u{1b}[0m"), "bun run x");
        assert_eq!(
            clean_line("claude\tRun Claude\t2026-04-12T05:10:05.3594082Z \"is_error\": true,"),
            "\"is_error\": true,"
        );
        assert_eq!(clean_line("  - continuation"), "  - continuation");
    }

    #[test]
    fn both_log_formats_are_a_preflight_refusal() {
        for log in [SUMMARY_LOG, PRETTY_SUMMARY, TEXT_LOG] {
            assert!(LogReading::of(log).preflight_refusal(), "{log}");
        }
        let reading = LogReading::of(SUMMARY_LOG);
        assert_eq!(reading.duration_ms, Some(187));
        assert_eq!(reading.is_error, Some(true));
    }

    #[test]
    fn real_work_is_not_a_refusal() {
        let worked = SUMMARY_LOG
            .replace("\"duration_ms\":187", "\"duration_ms\":48210")
            .replace("\"total_cost_usd\":0", "\"total_cost_usd\":0.42");
        assert!(!LogReading::of(&worked).preflight_refusal());
        let ok = SUMMARY_LOG.replace("\"is_error\":true", "\"is_error\":false");
        assert!(!LogReading::of(&ok).preflight_refusal());
        assert!(!LogReading::of("2026-11-23T22:49:09.1Z all good\n").preflight_refusal());
    }

    fn run(event: &str, actor: &str, head: &str) -> WorkflowRun {
        WorkflowRun {
            event: event.to_owned(),
            actor: Some(Login {
                login: actor.to_owned(),
            }),
            head_repository: Some(RepoRef {
                full_name: Some(head.to_owned()),
            }),
            repository: Some(RepoRef {
                full_name: Some("acme/app".to_owned()),
            }),
            ..unreachable_run(1)
        }
    }

    #[test]
    fn forks_and_dependabot_get_no_secrets() {
        assert_eq!(
            run("pull_request", "eve", "eve/app").no_secrets_reason(),
            Some(NoSecretsReason::ForkPullRequest)
        );
        assert_eq!(
            run("pull_request", "alice", "acme/app").no_secrets_reason(),
            None
        );
        assert_eq!(
            run("pull_request_target", "eve", "eve/app").no_secrets_reason(),
            None
        );
        assert_eq!(
            run("push", "dependabot[bot]", "acme/app").no_secrets_reason(),
            Some(NoSecretsReason::Dependabot)
        );
        let deleted_fork = WorkflowRun {
            head_repository: None,
            ..run("pull_request", "eve", "eve/app")
        };
        assert_eq!(
            deleted_fork.no_secrets_reason(),
            Some(NoSecretsReason::ForkPullRequest)
        );
        let fork = run("pull_request", "eve", "eve/app");
        assert_eq!(
            signature(&fork, &LogReading::of(SUMMARY_LOG)),
            Some(Signature::NoSecrets)
        );
        let own = run("issue_comment", "alice", "acme/app");
        assert_eq!(
            signature(&own, &LogReading::of(SUMMARY_LOG)),
            Some(Signature::PreflightRefusal)
        );
    }
}
