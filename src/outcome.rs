//! Each command's report, the failure that can stop it, and the one place that turns them into
//! an exit code.

use std::fmt;

use crate::diagnosis::{Cause, CauseClass, Diagnosis};
use crate::github::runs::Signature;
use crate::github::secrets::{Scope, Written};
use crate::github::workflows::{CalledWorkflow, Credential, ModelSource};
use crate::key::{Defect, Key, KeyKind};

/// The kinds of failure that end a command before it could finish its work (`cli.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// Bad arguments, a malformed name, an empty key: exit 2.
    Usage,
    /// Input was needed but prompting is not allowed: exit 3.
    InputNeeded,
    /// No token, a missing permission, an unknown or archived repository: exit 4.
    GithubAccess,
    /// The network failed: exit 1.
    Network,
    /// An API answered in a way keyfix does not understand: exit 1.
    Api,
    /// A workflow run keyfix started or watched gave no answer: exit 18.
    Run,
    /// A local file keyfix keeps (the rotation journal) could not be read or written: exit 1.
    Io,
    /// Ctrl-C stopped the command after it cleaned up what it had started: exit 130.
    Interrupted,
}

impl FailureKind {
    pub fn name(self) -> &'static str {
        match self {
            FailureKind::Usage => "usage",
            FailureKind::InputNeeded => "input_needed",
            FailureKind::GithubAccess => "github_access",
            FailureKind::Network => "network",
            FailureKind::Api => "api",
            FailureKind::Run => "run",
            FailureKind::Io => "io",
            FailureKind::Interrupted => "interrupted",
        }
    }

    fn exit_code(self) -> u8 {
        match self {
            FailureKind::Usage => 2,
            FailureKind::InputNeeded => 3,
            FailureKind::GithubAccess => 4,
            FailureKind::Network | FailureKind::Api | FailureKind::Io => 1,
            FailureKind::Run => 18,
            FailureKind::Interrupted => 130,
        }
    }
}

/// A command that could not finish: one line that names the fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
    /// A file the user can commit by hand where keyfix could not (the probe workflow).
    pub file_to_commit: Option<String>,
    /// The exit code, where the contract gives this failure its own (a rejected new key: 15).
    pub exit: Option<u8>,
}

impl Failure {
    pub fn new(kind: FailureKind, message: impl ToString) -> Failure {
        Failure {
            kind,
            message: message.to_string(),
            file_to_commit: None,
            exit: None,
        }
    }

    /// Its own exit code where it has one, else its kind's.
    pub fn exit_code(&self) -> u8 {
        self.exit.unwrap_or_else(|| self.kind.exit_code())
    }

    pub fn with_exit(self, exit: u8) -> Failure {
        Failure {
            exit: Some(exit),
            ..self
        }
    }

    pub fn with_file(self, text: String) -> Failure {
        Failure {
            file_to_commit: Some(text),
            ..self
        }
    }
}

impl From<crate::input::Error> for Failure {
    fn from(error: crate::input::Error) -> Failure {
        let kind = if error.is_input_needed() {
            FailureKind::InputNeeded
        } else {
            FailureKind::Usage
        };
        Failure::new(kind, error)
    }
}

impl FailureKind {
    /// The kind of a GitHub error, decided by its variant.
    pub fn of_github(error: &crate::github::Error) -> FailureKind {
        use crate::github::Error as E;
        match error {
            e if e.is_access() => FailureKind::GithubAccess,
            E::InvalidApiUrl { .. } | E::Proxy(_) => FailureKind::Usage,
            E::Unreachable { .. } | E::Certificate(_) | E::Client(_) => FailureKind::Network,
            _ => FailureKind::Api,
        }
    }
}

impl From<crate::github::Error> for Failure {
    fn from(error: crate::github::Error) -> Failure {
        Failure::new(FailureKind::of_github(&error), error)
    }
}

impl From<crate::github::names::NameError> for Failure {
    fn from(error: crate::github::names::NameError) -> Failure {
        Failure::new(FailureKind::Usage, error)
    }
}

impl From<crate::probe::run::ProbeError> for Failure {
    fn from(error: crate::probe::run::ProbeError) -> Failure {
        match error {
            crate::probe::run::ProbeError::Github(e) => e.into(),
            other => Failure::new(FailureKind::Run, other),
        }
    }
}

impl From<crate::anthropic::Error> for Failure {
    fn from(error: crate::anthropic::Error) -> Failure {
        use crate::anthropic::Error as E;
        let kind = match error {
            E::InvalidBaseUrl { .. } | E::Proxy(_) => FailureKind::Usage,
            E::Unreachable { .. } | E::Certificate(_) | E::Client(_) => FailureKind::Network,
            E::NotAnthropic { .. } => FailureKind::Api,
        };
        Failure::new(kind, error)
    }
}

/// The exit code of a new key that is not uploaded because of what it is (`repo`, `rotate`):
/// billing 11, model 12, transient 13, anything else 15 (rejected by validation).
pub fn new_key_exit(cause: Cause) -> u8 {
    match cause.class() {
        CauseClass::Billing => 11,
        CauseClass::Model => 12,
        CauseClass::Transient => 13,
        CauseClass::Works | CauseClass::KeyMustBeReplaced | CauseClass::Undetermined => 15,
    }
}

/// The failure of a new key that is not uploaded: its exit from [`new_key_exit`]; kind `usage`
/// where the key itself is unusable (exit 15: give another), `api` where the API's answer about
/// it says a new key cannot help now.
pub fn new_key_rejected(cause: Cause, message: String) -> Failure {
    rejected_with_exit(new_key_exit(cause), message)
}

/// [`new_key_rejected`] where the exit is already decided (several models' verdicts combined).
pub fn rejected_with_exit(exit: u8, message: String) -> Failure {
    let kind = if exit == 15 {
        FailureKind::Usage
    } else {
        FailureKind::Api
    };
    Failure::new(kind, message).with_exit(exit)
}

/// A person answered no at the confirmation: nothing was written (`repo` and `rotate`).
const DECLINED_EXIT: u8 = 10;

/// What can be shown of a key: its display form and shape, nothing of its secret part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySummary {
    pub display: String,
    pub kind: KeyKind,
    pub length: usize,
    pub defects: Vec<Defect>,
}

impl KeySummary {
    pub fn of(key: &Key) -> KeySummary {
        let shape = key.shape();
        KeySummary {
            display: key.display_form(),
            kind: shape.kind,
            length: shape.length,
            defects: shape.defects,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommandName {
    Validate,
    Scan,
    Check,
    Probe,
    Repo,
    Rotate,
}

impl CommandName {
    pub fn name(self) -> &'static str {
        match self {
            CommandName::Validate => "validate",
            CommandName::Scan => "scan",
            CommandName::Check => "check",
            CommandName::Probe => "probe",
            CommandName::Repo => "repo",
            CommandName::Rotate => "rotate",
        }
    }
}

/// One repository of `scan`: its Claude workflows and its last run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScannedRepo {
    pub repo: String,
    pub archived: bool,
    pub workflows: Vec<ScannedWorkflow>,
    pub last_run: Option<LastRun>,
    pub warnings: Vec<crate::github::workflows::Warning>,
}

/// One Claude step, with where its secret resolves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScannedWorkflow {
    pub path: String,
    pub job: String,
    pub secret: Option<String>,
    pub environment: Option<String>,
    /// The scope the job reads; absent when the secret is defined nowhere it can see.
    pub scope: Option<Scope>,
    pub shadows: Vec<Scope>,
    pub model: String,
    pub model_source: ModelSource,
    pub credential: Credential,
    /// The key's expression, where it names no secret keyfix can read (`secrets[matrix.key]`).
    pub secret_expression: Option<String>,
    /// The model's expression, where the workflow writes one.
    pub model_expression: Option<String>,
    /// The reusable workflow of another repository the job calls, where its Claude step is.
    pub called_workflow: Option<CalledWorkflow>,
}

impl ScannedWorkflow {
    /// Where the secret this step passes as its API key is stored, seen from `repo`; `None`
    /// where it passes none keyfix can name.
    pub fn stored_secret(&self, repo: &str) -> Option<StoredSecret> {
        if !self.credential.uses_api_key() {
            return None;
        }
        let secret = self.secret.clone()?;
        let holder = match &self.scope {
            Some(Scope::Organization) => repo.split('/').next().unwrap_or(repo).to_owned(),
            _ => repo.to_owned(),
        };
        Some(StoredSecret {
            holder,
            secret,
            scope: self.scope.clone(),
            environment: match self.scope {
                None => self.environment.clone(),
                Some(_) => None,
            },
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastRun {
    pub id: u64,
    pub workflow: String,
    pub event: String,
    pub conclusion: Option<String>,
    pub signature: Option<Signature>,
    pub url: Option<String>,
}

/// The secret a diagnosis is about, and where the job reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretSummary {
    pub name: String,
    pub scope: Option<Scope>,
    pub shadows: Vec<Scope>,
    pub updated_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkflowSummary {
    pub path: String,
    pub job: String,
    pub model: String,
    pub model_source: ModelSource,
    /// The reusable workflow of another repository the job calls, where its Claude step is.
    pub called_workflow: Option<CalledWorkflow>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedRunSummary {
    pub id: u64,
    pub url: Option<String>,
    pub event: String,
    pub actor: Option<String>,
    pub signature: Option<Signature>,
    /// The run passed although its Claude step was refused (a green refusal).
    pub green: bool,
    /// The result text, where the action's version printed it.
    pub result: Option<String>,
}

/// What a command did, in order (`actions` in JSON).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    ProbeInstalled {
        path: String,
        updated: bool,
    },
    ProbeRun {
        run_id: u64,
        url: String,
    },
    ProbeRemoved {
        path: String,
    },
    /// The probe ran from a throwaway branch; `deleted` is false when it is still there.
    ProbeBranch {
        branch: String,
        deleted: bool,
    },
    /// A pull request that adds the probe to the default branch.
    PullRequestOpened {
        number: u64,
        url: String,
        branch: String,
    },
    KeyValidated {
        key: String,
        model: String,
    },
    SecretUpdated {
        secret: String,
        scope: Scope,
        written: Written,
    },
    Verified {
        run_id: u64,
        fingerprint_matches: bool,
    },
    /// The upload was not verified with the probe (it may not be committed): why.
    VerificationSkipped {
        reason: String,
    },
    RerunRequested {
        run_id: u64,
    },
    RerunRefused {
        run_id: u64,
        reason: String,
    },
    RerunFinished {
        run_id: u64,
        attempt: u32,
        conclusion: String,
    },
    /// `--retire-old`: the replaced key, set `inactive` through the Admin API.
    OldKeyRetired {
        id: String,
        name: String,
        hint: String,
    },
    /// `rotate --retire-old --dry-run`: the key a rotation would retire.
    OldKeyToRetire {
        id: String,
        name: String,
        hint: String,
    },
    /// `--retire-old`: the replaced key was left as it was, and why.
    OldKeyKept {
        reason: String,
    },
}

/// One target and secret name of `rotate`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetReport {
    pub repo: String,
    pub secret: String,
    pub scope: Scope,
    /// `rotated`, `skipped`, `failed` or `pending`.
    pub status: &'static str,
    pub error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RotationReport {
    pub journal: Option<String>,
    /// Writes done (in this run and, on resume, before it).
    pub writes: usize,
    pub planned_writes: usize,
    pub github_requests: u64,
    /// What the run spent of GitHub's budgets, and what is left.
    pub budget: crate::github::client::Spent,
    pub secondary_limit_waits: u64,
    pub validated_models: Vec<String>,
    pub canary: Option<String>,
}

/// How `rotate` ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RotateEnd {
    DryRun,
    AllRotated,
    /// Some targets failed or were skipped.
    Incomplete,
    /// Ctrl-C: stopped after the write in flight.
    Interrupted,
    CanaryFailed(String),
    /// A person said no at the confirmation: nothing was written.
    Declined,
}

impl RotateEnd {
    fn exit_code(&self) -> u8 {
        match self {
            RotateEnd::DryRun | RotateEnd::AllRotated => 0,
            RotateEnd::Declined => DECLINED_EXIT,
            RotateEnd::Incomplete => 16,
            RotateEnd::CanaryFailed(_) => 17,
            RotateEnd::Interrupted => 130,
        }
    }
}

/// How `repo` ended, which decides its exit code (`cli.md`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RepoEnd {
    /// The stored key works: nothing uploaded.
    StoredKeyWorks,
    /// A new key cannot help (the diagnosis's cause says why): nothing uploaded.
    NotFixable(Cause),
    /// The person declined, or stopped at the prompt: nothing uploaded.
    Declined,
    /// The new key failed validation for a reason of its own: nothing uploaded.
    NewKeyRejected(Cause),
    /// Uploaded and verified; the re-run passed, was skipped, or GitHub refused it.
    Fixed,
    /// Uploaded, but the probe or the re-run still fails.
    VerificationFailed,
}

impl RepoEnd {
    fn exit_code(&self) -> u8 {
        match self {
            RepoEnd::StoredKeyWorks | RepoEnd::Fixed => 0,
            RepoEnd::NotFixable(cause) => cause.exit_code(),
            RepoEnd::Declined => DECLINED_EXIT,
            RepoEnd::NewKeyRejected(cause) => new_key_exit(*cause),
            RepoEnd::VerificationFailed => 17,
        }
    }
}

/// What `check` and `repo` found about one repository's key, filled in as it is found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Found {
    /// `owner/name`, once the command line's name is known to be one.
    pub repo: Option<String>,
    pub secret: Option<SecretSummary>,
    pub workflow: Option<WorkflowSummary>,
    pub failed_run: Option<FailedRunSummary>,
    /// What keyfix did, in order (the probe installed and run; for `repo`, the fix).
    pub actions: Vec<Action>,
    pub diagnosis: Option<Diagnosis>,
}

/// `validate`: one key's shape and cause.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ValidateReport {
    pub key: Option<KeySummary>,
    pub model: Option<String>,
    pub diagnosis: Option<Diagnosis>,
}

/// `check`: the cause of a repository's failing key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckReport {
    pub found: Found,
}

/// `repo`: the cause, what the fix did, and how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixReport {
    pub found: Found,
    pub end: Option<RepoEnd>,
}

/// `scan`: the owner's repositories that use claude-code-action, and with `--probe` or
/// `--max-age`, the health of every stored key behind them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScanReport {
    pub repos: Option<Vec<ScannedRepo>>,
    pub health: Option<Health>,
}

/// Where one secret is stored, as a Claude job reads it: an organization secret (held by the
/// owner), a repository or environment secret (held by the repository), or a name defined
/// nowhere the job can see (`scope` absent, in the job's `environment`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StoredSecret {
    /// `owner` for an organization secret, else `owner/name`.
    pub holder: String,
    pub secret: String,
    pub scope: Option<Scope>,
    /// The job's environment, where the secret is defined nowhere it can see.
    pub environment: Option<String>,
}

impl fmt::Display for StoredSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (secret, holder) = (&self.secret, &self.holder);
        match (&self.scope, &self.environment) {
            (Some(Scope::Organization), _) => write!(f, "organization secret {secret} of {holder}"),
            (Some(Scope::Repository), _) => write!(f, "repository secret {secret} of {holder}"),
            (Some(Scope::Environment(env)), _) => {
                write!(f, "environment secret {secret} of {holder} ({env})")
            }
            (None, Some(env)) => write!(f, "secret {secret} of {holder} ({env}), defined nowhere"),
            (None, None) => write!(f, "secret {secret} of {holder}, defined nowhere"),
        }
    }
}

/// `scan --probe` / `--max-age`: each distinct stored secret once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Health {
    pub scopes: Vec<ScopeHealth>,
    /// `--max-age` as given (`90d`).
    pub max_age: Option<String>,
    /// Whether the keys were probed (`--probe`), or only their age was looked at.
    pub probed: bool,
}

/// One stored secret: who reads it, what the probe found, and its age.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopeHealth {
    pub stored: StoredSecret,
    /// The repositories whose Claude jobs read it.
    pub read_by: Vec<String>,
    /// The repository the probe ran in.
    pub probed_in: Option<String>,
    /// The stored key's fingerprint, salted with the scan's one nonce: equal across scopes for
    /// the same key.
    pub fingerprint: Option<String>,
    pub updated_at: Option<String>,
    /// Older than `--max-age`.
    pub over_age: bool,
    pub diagnosis: Option<Diagnosis>,
    /// Why it could not be probed.
    pub failure: Option<Failure>,
    /// What keyfix did for it (the probe installed and run), in order.
    pub actions: Vec<Action>,
}

impl ScopeHealth {
    pub fn cause(&self) -> Option<Cause> {
        self.diagnosis.as_ref().map(|d| d.cause)
    }

    /// Its exit code alone: the cause's, a failure's, 19 when only over age.
    fn exit_code(&self) -> u8 {
        match (&self.failure, self.cause()) {
            (Some(failure), _) => failure.exit_code(),
            (None, Some(cause)) if cause.exit_code() != 0 => cause.exit_code(),
            _ if self.over_age => OVER_AGE_EXIT,
            _ => 0,
        }
    }
}

/// `scan --max-age`: every key works, but some secrets are older than allowed.
const OVER_AGE_EXIT: u8 = 19;

/// Which exit wins when several scopes need attention (`cli.md`): a key to replace first, then
/// billing, model, undetermined, transient, a run without an answer; any other failure after
/// those, and over-age last.
const HEALTH_EXIT_ORDER: [u8; 6] = [10, 11, 12, 14, 13, 18];

/// The stored secrets of one key: every scope whose probe saw the same fingerprint, or a scope
/// alone where there is no fingerprint to compare.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyGroup<'a> {
    pub fingerprint: Option<&'a str>,
    pub scopes: Vec<&'a ScopeHealth>,
}

impl KeyGroup<'_> {
    /// The cause that needs acting on first among its scopes (the same key can fail on one
    /// scope's model and work on another's).
    pub fn cause(&self) -> Option<Cause> {
        self.scopes
            .iter()
            .filter_map(|s| s.cause())
            .min_by_key(|cause| exit_rank(cause.exit_code()))
    }
}

/// A smaller rank is more urgent; 0 (works) ranks last.
fn exit_rank(code: u8) -> usize {
    match code {
        0 => usize::MAX,
        OVER_AGE_EXIT => HEALTH_EXIT_ORDER.len() + 1,
        code => HEALTH_EXIT_ORDER
            .iter()
            .position(|c| *c == code)
            .unwrap_or(HEALTH_EXIT_ORDER.len()),
    }
}

impl Health {
    /// The scopes grouped by key, in the order their keys were first seen.
    pub fn keys(&self) -> Vec<KeyGroup<'_>> {
        let mut groups: Vec<KeyGroup<'_>> = Vec::new();
        for scope in &self.scopes {
            let fingerprint = scope.fingerprint.as_deref();
            match groups
                .iter_mut()
                .find(|g| fingerprint.is_some() && g.fingerprint == fingerprint)
            {
                Some(group) => group.scopes.push(scope),
                None => groups.push(KeyGroup {
                    fingerprint,
                    scopes: vec![scope],
                }),
            }
        }
        groups
    }

    /// 0 when every probed key works and none is over age; otherwise the most urgent scope's.
    pub fn exit_code(&self) -> u8 {
        self.scopes
            .iter()
            .map(ScopeHealth::exit_code)
            .min_by_key(|code| exit_rank(*code))
            .unwrap_or(0)
    }

    /// The health of the scope `stored`.
    pub fn of(&self, stored: &StoredSecret) -> Option<&ScopeHealth> {
        self.scopes.iter().find(|s| &s.stored == stored)
    }
}

/// `rotate`: every target, the figures, and how it ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RotateReport {
    pub targets: Option<Vec<TargetReport>>,
    pub rotation: Option<RotationReport>,
    pub end: Option<RotateEnd>,
    /// What was done beside the writes (`--retire-old`).
    pub actions: Vec<Action>,
}

/// `probe print` and `probe install`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProbeReport {
    pub repo: Option<String>,
    pub actions: Vec<Action>,
    /// The workflow text `probe print` shows.
    pub workflow: Option<String>,
}

/// Each command's own report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Report {
    Validate(ValidateReport),
    Check(CheckReport),
    Repo(FixReport),
    Scan(ScanReport),
    Rotate(RotateReport),
    Probe(ProbeReport),
}

/// A command's report, and the failure that stopped it part-way, if one did: everything found
/// and done before the failure stays in the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finished<R> {
    pub report: R,
    pub failure: Option<Failure>,
}

impl<R> Finished<R> {
    pub fn of(report: R, result: Result<(), Failure>) -> Finished<R> {
        Finished {
            report,
            failure: result.err(),
        }
    }
}

/// The one place a command's end becomes what keyfix prints and exits with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub report: Report,
    pub error: Option<Failure>,
}

impl<R: Into<Report>> From<Finished<R>> for Outcome {
    fn from(finished: Finished<R>) -> Outcome {
        Outcome {
            report: finished.report.into(),
            error: finished.failure,
        }
    }
}

macro_rules! into_report {
    ($($report:ident => $variant:ident),*) => {$(
        impl From<$report> for Report {
            fn from(report: $report) -> Report {
                Report::$variant(report)
            }
        }
    )*};
}

into_report!(ValidateReport => Validate, CheckReport => Check, FixReport => Repo,
    ScanReport => Scan, RotateReport => Rotate, ProbeReport => Probe);

impl Outcome {
    pub fn command(&self) -> CommandName {
        match &self.report {
            Report::Validate(_) => CommandName::Validate,
            Report::Check(_) => CommandName::Check,
            Report::Repo(_) => CommandName::Repo,
            Report::Scan(_) => CommandName::Scan,
            Report::Rotate(_) => CommandName::Rotate,
            Report::Probe(_) => CommandName::Probe,
        }
    }

    /// What `check` or `repo` found.
    pub fn found(&self) -> Option<&Found> {
        match &self.report {
            Report::Check(r) => Some(&r.found),
            Report::Repo(r) => Some(&r.found),
            _ => None,
        }
    }

    pub fn repo(&self) -> Option<&str> {
        match &self.report {
            Report::Probe(r) => r.repo.as_deref(),
            _ => self.found().and_then(|f| f.repo.as_deref()),
        }
    }

    pub fn actions(&self) -> &[Action] {
        match &self.report {
            Report::Probe(r) => &r.actions,
            Report::Rotate(r) => &r.actions,
            _ => self.found().map_or(&[], |f| &f.actions),
        }
    }

    pub fn diagnosis(&self) -> Option<&Diagnosis> {
        match &self.report {
            Report::Validate(r) => r.diagnosis.as_ref(),
            _ => self.found().and_then(|f| f.diagnosis.as_ref()),
        }
    }

    pub fn validated(&self) -> Option<&ValidateReport> {
        match &self.report {
            Report::Validate(r) => Some(r),
            _ => None,
        }
    }

    pub fn rotated(&self) -> Option<&RotateReport> {
        match &self.report {
            Report::Rotate(r) => Some(r),
            _ => None,
        }
    }

    pub fn scanned(&self) -> Option<&[ScannedRepo]> {
        match &self.report {
            Report::Scan(r) => r.repos.as_deref(),
            _ => None,
        }
    }

    /// `scan --probe` / `--max-age`: the stored secrets' health.
    pub fn health(&self) -> Option<&Health> {
        match &self.report {
            Report::Scan(r) => r.health.as_ref(),
            _ => None,
        }
    }

    /// A workflow for the user to commit: the probe `probe print` shows, or the one keyfix could
    /// not commit itself.
    pub fn file_to_commit(&self) -> Option<&str> {
        let printed = match &self.report {
            Report::Probe(r) => r.workflow.as_deref(),
            _ => None,
        };
        printed.or_else(|| self.error.as_ref()?.file_to_commit.as_deref())
    }

    /// The exit code of `cli.md`: how `repo` or `rotate` ended, else a failure's, else the
    /// diagnosis's.
    pub fn exit_code(&self) -> u8 {
        let end = match &self.report {
            Report::Repo(r) => r.end.as_ref().map(RepoEnd::exit_code),
            Report::Rotate(r) => r.end.as_ref().map(RotateEnd::exit_code),
            _ => None,
        };
        if let Some(code) = end {
            return code;
        }
        if let Some(failure) = &self.error {
            return failure.exit_code();
        }
        if let Report::Scan(ScanReport {
            health: Some(health),
            ..
        }) = &self.report
        {
            return health.exit_code();
        }
        self.diagnosis()
            .map_or(0, |diagnosis| diagnosis.cause.exit_code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_map_to_their_exit_codes() {
        let code = |kind| {
            let failed = Finished::of(ValidateReport::default(), Err(Failure::new(kind, "x")));
            Outcome::from(failed).exit_code()
        };
        assert_eq!(code(FailureKind::Usage), 2);
        assert_eq!(code(FailureKind::InputNeeded), 3);
        assert_eq!(code(FailureKind::GithubAccess), 4);
        assert_eq!(code(FailureKind::Network), 1);
        assert_eq!(code(FailureKind::Api), 1);
        let done = Finished::of(ValidateReport::default(), Ok(()));
        assert_eq!(Outcome::from(done).exit_code(), 0);
    }
}
