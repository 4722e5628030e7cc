//! What keyfix has seen, as plain data: the answers a key got, what the Admin API says of it,
//! what the failed run and the secret scopes show. Gathered by the I/O modules, read by the table.

use serde::Serialize;

use crate::key::{Fingerprint, Shape};

/// Where a piece of evidence came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The stored secret, used from inside a workflow run.
    Probe,
    /// A key held on this machine and called directly.
    Reference,
    Admin,
    Run,
}

/// Which endpoint a call went to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    Models,
    Messages,
}

/// An HTTP answer from the Anthropic API, reduced to what tells causes apart.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub error_type: Option<String>,
    pub message: Option<String>,
    /// `error.details.error_code`: tells the tier's spend cap from an ordinary 429.
    pub error_code: Option<String>,
    pub request_id: Option<String>,
    /// `anthropic-organization-id`: raw from a direct call, salted when it comes from the probe.
    pub organization_id: Option<String>,
    pub workspace_id: Option<String>,
    pub retry_after: bool,
    /// `anthropic-ratelimit-requests-limit`: a hint at the usage tier, not proof.
    pub requests_limit: Option<u64>,
}

/// How a call ended: an answer, or none in time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Answered(Answer),
    TimedOut,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    pub endpoint: Endpoint,
    /// The model asked for (messages calls only).
    pub model: Option<String>,
    pub outcome: Outcome,
    pub latency_ms: u64,
}

impl Call {
    pub fn answer(&self) -> Option<&Answer> {
        match &self.outcome {
            Outcome::Answered(answer) => Some(answer),
            Outcome::TimedOut => None,
        }
    }

    pub fn is_messages_on(&self, model: &str) -> bool {
        self.endpoint == Endpoint::Messages && self.model.as_deref() == Some(model)
    }
}

/// Everything known about one key: its shape and the calls made with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyEvidence {
    pub shape: Shape,
    pub fingerprint: Option<Fingerprint>,
    pub calls: Vec<Call>,
}

/// The Admin API's record of the key whose `partial_key_hint` matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminRecord {
    pub id: String,
    pub name: String,
    pub status: String,
    pub workspace_id: Option<String>,
    pub created_at: Option<String>,
    pub expires_at: Option<String>,
}

impl AdminRecord {
    /// Whether the record shows a key that can no longer be used.
    pub fn is_disabled(&self) -> bool {
        matches!(self.status.as_str(), "inactive" | "archived" | "expired")
    }
}

/// Facts of the failed workflow run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunFacts {
    pub event: String,
    /// A fork's pull request or a Dependabot run: GitHub gave it no Actions secrets.
    pub got_no_secrets: Option<NoSecretsReason>,
    /// The action's log shows a refusal before any work was done.
    pub preflight_refusal: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoSecretsReason {
    ForkPullRequest,
    Dependabot,
}

/// Facts of the workflow and of where its secret is defined.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkflowFacts {
    pub secret_name: String,
    /// `Some(false)` when no scope the job can see defines the secret; `None` when not looked at.
    pub defined_in_visible_scope: Option<bool>,
    /// The job passes both `anthropic_api_key` and `claude_code_oauth_token`: the API key bills.
    pub api_key_beside_oauth_token: bool,
}

/// All the evidence for one diagnosis. `stored` is the key under suspicion: the secret as the
/// probe saw it, or the one key `validate` was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// The model the workflow runs (or `validate --model`).
    pub model: String,
    /// The model every tier can use, tried when the workflow's model fails.
    pub baseline_model: String,
    /// Where `stored`'s evidence comes from: the probe, or a direct call for `validate`.
    pub stored_source: Source,
    pub stored: KeyEvidence,
    pub reference: Option<KeyEvidence>,
    pub admin: Option<AdminRecord>,
    pub run: Option<RunFacts>,
    pub workflow: Option<WorkflowFacts>,
}
