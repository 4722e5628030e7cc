//! `keyfix/v1`: the one JSON document a command prints with `--json` (`cli.md`, `docs/json.md`).
//! Fields that do not apply are omitted, never invented. Every object of the document is a view
//! type of this module, built from the report: the shape of `v1` is written here and nowhere
//! else, so that no change to an internal type can change it. Leaf names (causes, scopes,
//! sources, signatures, credentials) are the contract's own names, kept by their types.

use serde::Serialize;

use crate::diagnosis::{AdminRecord, Answer, Cause, Diagnosis, Endpoint, EvidenceItem, Source};
use crate::github::client::Spent;
use crate::github::runs::Signature;
use crate::github::secrets::{Scope, Written};
use crate::github::workflows::{CalledWorkflow, Credential, ModelSource};
use crate::key::{Defect, KeyKind};
use crate::outcome::{
    Action, FailedRunSummary, Failure, Health, KeyGroup, KeySummary, LastRun, Outcome,
    RotationReport, ScannedRepo, ScannedWorkflow, ScopeHealth, SecretSummary, TargetReport,
    WorkflowSummary,
};

pub const SCHEMA: &str = "keyfix/v1";

#[derive(Debug, Serialize)]
pub struct Document<'a> {
    pub schema: &'static str,
    pub command: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repo: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretDoc<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow: Option<WorkflowDoc<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_run: Option<FailedRunDoc<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<KeyDoc<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<DiagnosisDoc<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<ActionDoc<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<TargetDoc<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation: Option<RotationDoc<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repos: Option<Vec<RepoDoc<'a>>>,
    /// `scan --probe` / `--max-age`: the stored secrets grouped by key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<KeyGroupDoc<'a>>>,
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
    pub evidence: Vec<EvidenceDoc<'a>>,
}

#[derive(Debug, Serialize)]
pub struct SecretDoc<'a> {
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<&'a Scope>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub shadows: &'a [Scope],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct WorkflowDoc<'a> {
    pub path: &'a str,
    pub job: &'a str,
    pub model: &'a str,
    pub model_source: ModelSource,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub called_workflow: Option<CalledWorkflowDoc<'a>>,
}

/// A reusable workflow of another repository, at the ref its caller names.
#[derive(Debug, Serialize)]
pub struct CalledWorkflowDoc<'a> {
    pub repo: String,
    pub path: &'a str,
    #[serde(rename = "ref")]
    pub git_ref: &'a str,
}

impl<'a> CalledWorkflowDoc<'a> {
    fn of(c: &'a CalledWorkflow) -> CalledWorkflowDoc<'a> {
        CalledWorkflowDoc {
            repo: c.repo.to_string(),
            path: &c.path,
            git_ref: &c.git_ref,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct FailedRunDoc<'a> {
    pub id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<&'a str>,
    pub event: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
    /// The run passed although its Claude step was refused.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub green: bool,
    /// The result text the action's log shows (versions that print it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<&'a str>,
}

/// One piece of evidence: where it came from, the call, and the answer's facts beside them.
#[derive(Debug, Serialize)]
pub struct EvidenceDoc<'a> {
    pub source: Source,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call: Option<Endpoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<&'a str>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub answer: Option<AnswerDoc<'a>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub timed_out: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_record: Option<AdminRecordDoc<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct AnswerDoc<'a> {
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub retry_after: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests_limit: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct AdminRecordDoc<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<&'a str>,
}

/// What a command did, in order.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ActionDoc<'a> {
    ProbeInstalled {
        path: &'a str,
        updated: bool,
    },
    ProbeRun {
        run_id: u64,
        url: &'a str,
    },
    ProbeRemoved {
        path: &'a str,
    },
    ProbeBranch {
        branch: &'a str,
        deleted: bool,
    },
    PullRequestOpened {
        number: u64,
        url: &'a str,
        branch: &'a str,
    },
    KeyValidated {
        key: &'a str,
        model: &'a str,
    },
    SecretUpdated {
        secret: &'a str,
        scope: &'a Scope,
        written: Written,
    },
    Verified {
        run_id: u64,
        fingerprint_matches: bool,
    },
    VerificationSkipped {
        reason: &'a str,
    },
    RerunRequested {
        run_id: u64,
    },
    RerunRefused {
        run_id: u64,
        reason: &'a str,
    },
    RerunFinished {
        run_id: u64,
        attempt: u32,
        conclusion: &'a str,
    },
    OldKeyRetired {
        id: &'a str,
        name: &'a str,
        hint: &'a str,
    },
    OldKeyToRetire {
        id: &'a str,
        name: &'a str,
        hint: &'a str,
    },
    OldKeyKept {
        reason: &'a str,
    },
}

#[derive(Debug, Serialize)]
pub struct TargetDoc<'a> {
    pub repo: &'a str,
    pub secret: &'a str,
    pub scope: &'a Scope,
    pub status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct RotationDoc<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journal: Option<&'a str>,
    pub writes: usize,
    pub planned_writes: usize,
    pub github_requests: u64,
    pub budget: BudgetDoc,
    pub secondary_limit_waits: u64,
    pub validated_models: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary: Option<&'a str>,
}

/// What a rotation spent of GitHub's budgets, and what the last answers said is left.
#[derive(Debug, Serialize)]
pub struct BudgetDoc {
    pub rest_requests: u64,
    /// REST reads answered 304 from the cache: GitHub does not count them.
    pub not_modified: u64,
    pub graphql_queries: u64,
    pub graphql_points: u64,
    pub remaining: Option<u64>,
    pub limit: Option<u64>,
    /// Epoch seconds.
    pub reset: Option<u64>,
    pub graphql_remaining: Option<u64>,
}

impl BudgetDoc {
    fn of(spent: &Spent) -> BudgetDoc {
        BudgetDoc {
            rest_requests: spent.rest_requests,
            not_modified: spent.not_modified,
            graphql_queries: spent.graphql_queries,
            graphql_points: spent.graphql_points,
            remaining: spent.left.map(|b| b.remaining),
            limit: spent.left.map(|b| b.limit),
            reset: spent.left.map(|b| b.reset),
            graphql_remaining: spent.graphql_left,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct RepoDoc<'a> {
    pub repo: &'a str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub archived: bool,
    pub workflows: Vec<RepoWorkflowDoc<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_run: Option<LastRunDoc<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<WarningDoc<'a>>,
}

/// What keyfix could not read, or would not use, of one file of a repository.
#[derive(Debug, Serialize)]
pub struct WarningDoc<'a> {
    pub path: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub reason: &'a str,
    /// The job whose call to another repository's workflow keyfix could not read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<&'a str>,
    /// The workflow it calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub called_workflow: Option<CalledWorkflowDoc<'a>>,
    /// What the job passes it of its secrets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passed_secrets: Option<PassedSecretsDoc<'a>>,
}

/// The caller's secrets a call to a reusable workflow passes.
#[derive(Debug, Serialize)]
pub struct PassedSecretsDoc<'a> {
    /// `secrets: inherit`: all of them, by their own names.
    pub inherit: bool,
    /// The caller's secrets an explicit mapping passes.
    pub names: &'a [String],
}

#[derive(Debug, Serialize)]
pub struct RepoWorkflowDoc<'a> {
    pub path: &'a str,
    pub job: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<&'a Scope>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub shadows: &'a [Scope],
    pub model: &'a str,
    pub model_source: ModelSource,
    pub credential: Credential,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_expression: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_expression: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub called_workflow: Option<CalledWorkflowDoc<'a>>,
    /// `scan --probe` / `--max-age`: the health of the secret this step reads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthDoc<'a>>,
}

/// One step's stored secret as the health check saw it.
#[derive(Debug, Serialize)]
pub struct HealthDoc<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
    /// Salted with the scan's one nonce: equal for the same key wherever it is stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub over_age: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDoc<'a>>,
}

/// The stored secrets that hold one key (by fingerprint), or one secret with no fingerprint.
#[derive(Debug, Serialize)]
pub struct KeyGroupDoc<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<&'a str>,
    /// The cause to act on first among its scopes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
    pub scopes: Vec<ScopeHealthDoc<'a>>,
}

/// One stored secret: where it is, who reads it, what the probe found.
#[derive(Debug, Serialize)]
pub struct ScopeHealthDoc<'a> {
    pub secret: &'a str,
    /// Absent where the secret is defined nowhere its readers can see.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<&'a Scope>,
    /// The organization, for an organization secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<&'a str>,
    /// The repository, for a repository or environment secret (or a missing one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repo: Option<&'a str>,
    /// The readers' environment, where the secret is defined nowhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<&'a str>,
    pub read_by: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probed_in: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub over_age: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<DiagnosisDoc<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDoc<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<ActionDoc<'a>>,
}

#[derive(Debug, Serialize)]
pub struct LastRunDoc<'a> {
    pub id: u64,
    pub workflow: &'a str,
    pub event: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conclusion: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<&'a str>,
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
        let found = outcome.found();
        let validated = outcome.validated();
        let rotated = outcome.rotated();
        Document {
            schema: SCHEMA,
            command: outcome.command().name(),
            repo: outcome.repo(),
            secret: found.and_then(|f| f.secret.as_ref()).map(SecretDoc::of),
            workflow: found.and_then(|f| f.workflow.as_ref()).map(WorkflowDoc::of),
            failed_run: found
                .and_then(|f| f.failed_run.as_ref())
                .map(FailedRunDoc::of),
            actions: outcome.actions().iter().map(ActionDoc::of).collect(),
            probe: outcome.file_to_commit().map(|workflow| ProbeDoc {
                path: crate::probe::PATH,
                workflow,
            }),
            key: validated.and_then(|v| v.key.as_ref()).map(KeyDoc::of),
            model: validated.and_then(|v| v.model.as_deref()),
            diagnosis: outcome.diagnosis().map(DiagnosisDoc::of),
            targets: rotated
                .and_then(|r| r.targets.as_ref())
                .map(|targets| targets.iter().map(TargetDoc::of).collect()),
            rotation: rotated
                .and_then(|r| r.rotation.as_ref())
                .map(RotationDoc::of),
            repos: outcome.scanned().map(|repos| {
                repos
                    .iter()
                    .map(|r| RepoDoc::of(r, outcome.health()))
                    .collect()
            }),
            keys: outcome
                .health()
                .map(|h| h.keys().iter().map(KeyGroupDoc::of).collect()),
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
            evidence: d.evidence.iter().map(EvidenceDoc::of).collect(),
        }
    }
}

impl<'a> SecretDoc<'a> {
    fn of(s: &'a SecretSummary) -> SecretDoc<'a> {
        SecretDoc {
            name: &s.name,
            scope: s.scope.as_ref(),
            shadows: &s.shadows,
            updated_at: s.updated_at.as_deref(),
        }
    }
}

impl<'a> WorkflowDoc<'a> {
    fn of(w: &'a WorkflowSummary) -> WorkflowDoc<'a> {
        WorkflowDoc {
            path: &w.path,
            job: &w.job,
            model: &w.model,
            model_source: w.model_source,
            called_workflow: w.called_workflow.as_ref().map(CalledWorkflowDoc::of),
        }
    }
}

impl<'a> FailedRunDoc<'a> {
    fn of(r: &'a FailedRunSummary) -> FailedRunDoc<'a> {
        FailedRunDoc {
            id: r.id,
            url: r.url.as_deref(),
            event: &r.event,
            actor: r.actor.as_deref(),
            signature: r.signature,
            green: r.green,
            result: r.result.as_deref(),
        }
    }
}

impl<'a> EvidenceDoc<'a> {
    fn of(e: &'a EvidenceItem) -> EvidenceDoc<'a> {
        EvidenceDoc {
            source: e.source,
            call: e.call,
            model: e.model.as_deref(),
            answer: e.answer.as_ref().map(AnswerDoc::of),
            timed_out: e.timed_out,
            latency_ms: e.latency_ms,
            admin_record: e.admin_record.as_ref().map(AdminRecordDoc::of),
            event: e.event.as_deref(),
        }
    }
}

impl<'a> AnswerDoc<'a> {
    fn of(a: &'a Answer) -> AnswerDoc<'a> {
        AnswerDoc {
            status: a.status,
            error_type: a.error_type.as_deref(),
            message: a.message.as_deref(),
            error_code: a.error_code.as_deref(),
            request_id: a.request_id.as_deref(),
            organization_id: a.organization_id.as_deref(),
            workspace_id: a.workspace_id.as_deref(),
            retry_after: a.retry_after,
            requests_limit: a.requests_limit,
        }
    }
}

impl<'a> AdminRecordDoc<'a> {
    fn of(r: &'a AdminRecord) -> AdminRecordDoc<'a> {
        AdminRecordDoc {
            id: &r.id,
            name: &r.name,
            status: &r.status,
            workspace_id: r.workspace_id.as_deref(),
            created_at: r.created_at.as_deref(),
            expires_at: r.expires_at.as_deref(),
        }
    }
}

impl<'a> ActionDoc<'a> {
    fn of(action: &'a Action) -> ActionDoc<'a> {
        match action {
            Action::ProbeInstalled { path, updated } => ActionDoc::ProbeInstalled {
                path,
                updated: *updated,
            },
            Action::ProbeRun { run_id, url } => ActionDoc::ProbeRun {
                run_id: *run_id,
                url,
            },
            Action::ProbeRemoved { path } => ActionDoc::ProbeRemoved { path },
            Action::ProbeBranch { branch, deleted } => ActionDoc::ProbeBranch {
                branch,
                deleted: *deleted,
            },
            Action::PullRequestOpened {
                number,
                url,
                branch,
            } => ActionDoc::PullRequestOpened {
                number: *number,
                url,
                branch,
            },
            Action::KeyValidated { key, model } => ActionDoc::KeyValidated { key, model },
            Action::SecretUpdated {
                secret,
                scope,
                written,
            } => ActionDoc::SecretUpdated {
                secret,
                scope,
                written: *written,
            },
            Action::Verified {
                run_id,
                fingerprint_matches,
            } => ActionDoc::Verified {
                run_id: *run_id,
                fingerprint_matches: *fingerprint_matches,
            },
            Action::VerificationSkipped { reason } => ActionDoc::VerificationSkipped { reason },
            Action::RerunRequested { run_id } => ActionDoc::RerunRequested { run_id: *run_id },
            Action::RerunRefused { run_id, reason } => ActionDoc::RerunRefused {
                run_id: *run_id,
                reason,
            },
            Action::RerunFinished {
                run_id,
                attempt,
                conclusion,
            } => ActionDoc::RerunFinished {
                run_id: *run_id,
                attempt: *attempt,
                conclusion,
            },
            Action::OldKeyRetired { id, name, hint } => ActionDoc::OldKeyRetired { id, name, hint },
            Action::OldKeyToRetire { id, name, hint } => {
                ActionDoc::OldKeyToRetire { id, name, hint }
            }
            Action::OldKeyKept { reason } => ActionDoc::OldKeyKept { reason },
        }
    }
}

impl<'a> TargetDoc<'a> {
    fn of(t: &'a TargetReport) -> TargetDoc<'a> {
        TargetDoc {
            repo: &t.repo,
            secret: &t.secret,
            scope: &t.scope,
            status: t.status,
            error: t.error.as_deref(),
        }
    }
}

impl<'a> RotationDoc<'a> {
    fn of(r: &'a RotationReport) -> RotationDoc<'a> {
        RotationDoc {
            journal: r.journal.as_deref(),
            writes: r.writes,
            planned_writes: r.planned_writes,
            github_requests: r.github_requests,
            budget: BudgetDoc::of(&r.budget),
            secondary_limit_waits: r.secondary_limit_waits,
            validated_models: &r.validated_models,
            canary: r.canary.as_deref(),
        }
    }
}

impl<'a> RepoDoc<'a> {
    fn of(r: &'a ScannedRepo, health: Option<&'a Health>) -> RepoDoc<'a> {
        RepoDoc {
            repo: &r.repo,
            archived: r.archived,
            workflows: r
                .workflows
                .iter()
                .map(|w| {
                    let scope = health.and_then(|h| h.of(&w.stored_secret(&r.repo)?));
                    RepoWorkflowDoc::of(w, scope)
                })
                .collect(),
            last_run: r.last_run.as_ref().map(LastRunDoc::of),
            warnings: r
                .warnings
                .iter()
                .map(|w| WarningDoc {
                    path: &w.path,
                    line: w.line,
                    reason: &w.message,
                    job: w.unread_call.as_ref().map(|c| c.job_id.as_str()),
                    called_workflow: w
                        .unread_call
                        .as_ref()
                        .map(|c| CalledWorkflowDoc::of(&c.called_workflow)),
                    passed_secrets: w.unread_call.as_ref().map(|c| PassedSecretsDoc {
                        inherit: c.passed_secrets.inherit,
                        names: &c.passed_secrets.names,
                    }),
                })
                .collect(),
        }
    }
}

impl<'a> RepoWorkflowDoc<'a> {
    /// `health`: the stored secret the step reads, where the scan looked at health.
    fn of(w: &'a ScannedWorkflow, health: Option<&'a ScopeHealth>) -> RepoWorkflowDoc<'a> {
        RepoWorkflowDoc {
            path: &w.path,
            job: &w.job,
            secret: w.secret.as_deref(),
            environment: w.environment.as_deref(),
            scope: w.scope.as_ref(),
            shadows: &w.shadows,
            model: &w.model,
            model_source: w.model_source,
            credential: w.credential,
            secret_expression: w.secret_expression.as_deref(),
            model_expression: w.model_expression.as_deref(),
            called_workflow: w.called_workflow.as_ref().map(CalledWorkflowDoc::of),
            health: health.map(HealthDoc::of),
        }
    }
}

impl<'a> HealthDoc<'a> {
    fn of(s: &'a ScopeHealth) -> HealthDoc<'a> {
        HealthDoc {
            cause: s.cause(),
            fingerprint: s.fingerprint.as_deref(),
            updated_at: s.updated_at.as_deref(),
            over_age: s.over_age,
            error: s.failure.as_ref().map(ErrorDoc::of),
        }
    }
}

impl<'a> KeyGroupDoc<'a> {
    fn of(g: &KeyGroup<'a>) -> KeyGroupDoc<'a> {
        KeyGroupDoc {
            fingerprint: g.fingerprint,
            cause: g.cause(),
            scopes: g.scopes.iter().map(|s| ScopeHealthDoc::of(s)).collect(),
        }
    }
}

impl<'a> ScopeHealthDoc<'a> {
    fn of(s: &'a ScopeHealth) -> ScopeHealthDoc<'a> {
        let stored = &s.stored;
        let by_owner = stored.scope == Some(Scope::Organization);
        ScopeHealthDoc {
            secret: &stored.secret,
            scope: stored.scope.as_ref(),
            owner: by_owner.then_some(stored.holder.as_str()),
            repo: (!by_owner).then_some(stored.holder.as_str()),
            environment: stored.environment.as_deref(),
            read_by: &s.read_by,
            probed_in: s.probed_in.as_deref(),
            updated_at: s.updated_at.as_deref(),
            over_age: s.over_age,
            diagnosis: s.diagnosis.as_ref().map(DiagnosisDoc::of),
            error: s.failure.as_ref().map(ErrorDoc::of),
            actions: s.actions.iter().map(ActionDoc::of).collect(),
        }
    }
}

impl<'a> LastRunDoc<'a> {
    fn of(r: &'a LastRun) -> LastRunDoc<'a> {
        LastRunDoc {
            id: r.id,
            workflow: &r.workflow,
            event: &r.event,
            conclusion: r.conclusion.as_deref(),
            signature: r.signature,
            url: r.url.as_deref(),
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
    super::to_string_pretty(&Document::of(outcome)).expect("the document serialises")
}
