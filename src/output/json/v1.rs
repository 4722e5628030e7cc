//! `keyfix/v1`: the one JSON document a command prints with `--json` (`cli.md`, `docs/json.md`).
//! Fields that do not apply are omitted, never invented.

use serde::Serialize;

use crate::diagnosis::{Cause, Diagnosis, EvidenceItem};
use crate::key::{Defect, KeyKind};
use crate::outcome::{
    Action, FailedRunSummary, Failure, KeySummary, Outcome, RepoReport, RotationReport,
    SecretSummary, TargetReport, WorkflowSummary,
};

pub const SCHEMA: &str = "keyfix/v1";

#[derive(Debug, Serialize)]
pub struct Document<'a> {
    pub schema: &'static str,
    pub command: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repo: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<&'a SecretSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow: Option<&'a WorkflowSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_run: Option<&'a FailedRunSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<KeyDoc<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<DiagnosisDoc<'a>>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub actions: &'a [Action],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub targets: Option<&'a [TargetReport]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation: Option<&'a RotationReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repos: Option<&'a [RepoReport]>,
    /// The probe workflow (`probe print`, or a file to commit by hand).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe: Option<ProbeDoc<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDoc<'a>>,
    pub exit_code: u8,
}

/// The key's display form and shape (`validate`): nothing of its secret part.
#[derive(Debug, Serialize)]
pub struct KeyDoc<'a> {
    pub display: &'a str,
    pub kind: KeyKind,
    pub length: usize,
    pub defects: &'a [Defect],
}

#[derive(Debug, Serialize)]
pub struct DiagnosisDoc<'a> {
    pub cause: Cause,
    /// `null` while it is not known (`undetermined`).
    pub rotation_helps: Option<bool>,
    pub summary: &'a str,
    pub remedy: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub notes: &'a [String],
    pub evidence: &'a [EvidenceItem],
}

#[derive(Debug, Serialize)]
pub struct ProbeDoc<'a> {
    pub path: &'static str,
    pub workflow: &'a str,
}

#[derive(Debug, Serialize)]
pub struct ErrorDoc<'a> {
    pub kind: &'static str,
    pub message: &'a str,
}

impl<'a> Document<'a> {
    pub fn of(outcome: &'a Outcome) -> Document<'a> {
        Document {
            schema: SCHEMA,
            command: outcome.command.name(),
            repo: outcome.repo.as_deref(),
            secret: outcome.secret.as_ref(),
            workflow: outcome.workflow.as_ref(),
            failed_run: outcome.failed_run.as_ref(),
            actions: &outcome.actions,
            probe: outcome.file_to_commit.as_deref().map(|workflow| ProbeDoc {
                path: crate::probe::PATH,
                workflow,
            }),
            key: outcome.key.as_ref().map(KeyDoc::of),
            model: outcome.model.as_deref(),
            diagnosis: outcome.diagnosis.as_ref().map(DiagnosisDoc::of),
            targets: outcome.targets.as_deref(),
            rotation: outcome.rotation.as_ref(),
            repos: outcome.repos.as_deref(),
            error: outcome.error.as_ref().map(ErrorDoc::of),
            exit_code: outcome.exit_code(),
        }
    }
}

impl<'a> KeyDoc<'a> {
    fn of(key: &'a KeySummary) -> KeyDoc<'a> {
        KeyDoc {
            display: &key.display,
            kind: key.kind,
            length: key.length,
            defects: &key.defects,
        }
    }
}

impl<'a> DiagnosisDoc<'a> {
    fn of(d: &'a Diagnosis) -> DiagnosisDoc<'a> {
        DiagnosisDoc {
            cause: d.cause,
            rotation_helps: d.rotation_helps(),
            summary: &d.summary,
            remedy: &d.remedy,
            notes: &d.notes,
            evidence: &d.evidence,
        }
    }
}

impl<'a> ErrorDoc<'a> {
    fn of(f: &'a Failure) -> ErrorDoc<'a> {
        ErrorDoc {
            kind: f.kind.name(),
            message: &f.message,
        }
    }
}

/// The document as pretty-printed JSON, ready for stdout.
pub fn render(outcome: &Outcome) -> String {
    serde_json::to_string_pretty(&Document::of(outcome)).expect("the document serialises")
}
