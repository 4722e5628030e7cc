//! What every command returns, and the one place that turns it into an exit code.

use crate::diagnosis::{Cause, CauseClass, Diagnosis};
use crate::github::runs::Signature;
use crate::github::secrets::{Scope, Written};
use crate::github::workflows::{Credential, ModelSource};
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
        }
    }

    fn exit_code(self) -> u8 {
        match self {
            FailureKind::Usage => 2,
            FailureKind::InputNeeded => 3,
            FailureKind::GithubAccess => 4,
            FailureKind::Network | FailureKind::Api | FailureKind::Io => 1,
            FailureKind::Run => 18,
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
            E::InvalidApiUrl { .. } => FailureKind::Usage,
            E::Unreachable { .. } | E::Client(_) => FailureKind::Network,
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
            E::InvalidBaseUrl { .. } => FailureKind::Usage,
            E::Unreachable { .. } | E::Client(_) => FailureKind::Network,
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
pub struct RepoReport {
    pub repo: String,
    pub archived: bool,
    pub workflows: Vec<WorkflowReport>,
    pub last_run: Option<RunReport>,
    pub warnings: Vec<String>,
}

/// One Claude step, with where its secret resolves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkflowReport {
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
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunReport {
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
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedRunSummary {
    pub id: u64,
    pub url: Option<String>,
    pub event: String,
    pub actor: Option<String>,
    pub signature: Option<Signature>,
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

/// The result of a command: what it found, and what stopped it if anything did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub command: CommandName,
    pub repo: Option<String>,
    pub secret: Option<SecretSummary>,
    pub workflow: Option<WorkflowSummary>,
    pub failed_run: Option<FailedRunSummary>,
    pub actions: Vec<Action>,
    /// A workflow file for the user to commit (the probe, when keyfix may not write it).
    pub file_to_commit: Option<String>,
    pub key: Option<KeySummary>,
    pub model: Option<String>,
    pub diagnosis: Option<Diagnosis>,
    /// How `repo` ended.
    pub repo_end: Option<RepoEnd>,
    /// `rotate`'s targets, its figures, and how it ended.
    pub targets: Option<Vec<TargetReport>>,
    pub rotation: Option<RotationReport>,
    pub rotate_end: Option<RotateEnd>,
    /// `scan`'s repositories.
    pub repos: Option<Vec<RepoReport>>,
    pub error: Option<Failure>,
}

impl Outcome {
    pub fn new(command: CommandName) -> Outcome {
        Outcome {
            command,
            repo: None,
            secret: None,
            workflow: None,
            failed_run: None,
            actions: Vec::new(),
            file_to_commit: None,
            key: None,
            model: None,
            diagnosis: None,
            repo_end: None,
            targets: None,
            rotation: None,
            rotate_end: None,
            repos: None,
            error: None,
        }
    }

    pub fn failed(command: CommandName, failure: Failure) -> Outcome {
        Outcome {
            file_to_commit: failure.file_to_commit.clone(),
            error: Some(failure),
            ..Outcome::new(command)
        }
    }

    /// The report as it stands when the command ends: with the failure that stopped it, if one
    /// did, beside everything found and done before it.
    pub fn finish(mut self, result: Result<(), Failure>) -> Outcome {
        if let Err(failure) = result {
            if self.file_to_commit.is_none() {
                self.file_to_commit = failure.file_to_commit.clone();
            }
            self.error = Some(failure);
        }
        self
    }

    /// The exit code of `cli.md`: how `repo` ended, else a failure's, else the diagnosis's.
    pub fn exit_code(&self) -> u8 {
        if let Some(end) = &self.repo_end {
            return end.exit_code();
        }
        if let Some(end) = &self.rotate_end {
            return end.exit_code();
        }
        if let Some(failure) = &self.error {
            return failure.exit.unwrap_or_else(|| failure.kind.exit_code());
        }
        self.diagnosis
            .as_ref()
            .map_or(0, |diagnosis| diagnosis.cause.exit_code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_map_to_their_exit_codes() {
        let code =
            |kind| Outcome::failed(CommandName::Validate, Failure::new(kind, "x")).exit_code();
        assert_eq!(code(FailureKind::Usage), 2);
        assert_eq!(code(FailureKind::InputNeeded), 3);
        assert_eq!(code(FailureKind::GithubAccess), 4);
        assert_eq!(code(FailureKind::Network), 1);
        assert_eq!(code(FailureKind::Api), 1);
        assert_eq!(Outcome::new(CommandName::Validate).exit_code(), 0);
    }
}
