//! Reusable workflows in another repository (`uses: org/shared/.github/workflows/claude.yml@v1`,
//! an organization's shared workflows): which file, at which ref, a job calls, and what it passes
//! of its own secrets. Pure: the survey reads the files and hands their text back here.

use std::collections::BTreeMap;
use std::fmt;

use github_actions_models::common::RepositoryUses;
use serde::Serialize;

use crate::github::names::RepoName;

/// A reusable workflow of another repository, at the ref the calling job names.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct CalledWorkflow {
    pub repo: RepoName,
    pub path: String,
    #[serde(rename = "ref")]
    pub git_ref: String,
}

impl fmt::Display for CalledWorkflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}@{}", self.repo, self.path, self.git_ref)
    }
}

/// The directory GitHub runs reusable workflows from; a call elsewhere fails before any job.
const WORKFLOWS_DIR: &str = ".github/workflows/";

impl CalledWorkflow {
    /// The workflow a job's `uses:` calls; `Err` says why keyfix will not read it. The names
    /// come from a workflow file anyone with push access wrote, so each is checked before it
    /// joins a request path.
    pub fn of(uses: &RepositoryUses) -> Result<CalledWorkflow, String> {
        let repo = RepoName::parse(&format!("{}/{}", uses.owner(), uses.repo()))
            .map_err(|e| e.to_string())?;
        let path = uses.subpath().unwrap_or_default();
        let is_workflow = path.starts_with(WORKFLOWS_DIR)
            && (path.ends_with(".yml") || path.ends_with(".yaml"))
            && !path.split('/').any(|part| part.is_empty() || part == "..");
        if !is_workflow {
            return Err(format!(
                "{path:?} is not a workflow file under {WORKFLOWS_DIR}, where GitHub runs reusable workflows from"
            ));
        }
        let git_ref = uses.git_ref();
        if git_ref.is_empty() || git_ref.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(format!("{git_ref:?} is not a ref GitHub accepts"));
        }
        Ok(CalledWorkflow {
            repo,
            path: path.to_owned(),
            git_ref: git_ref.to_owned(),
        })
    }
}

/// A called workflow as the survey found it: its text, or why it could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Callee {
    Text(String),
    Unreadable(String),
}

/// Every called workflow of a repository's jobs, read once each.
pub type Callees = BTreeMap<CalledWorkflow, Callee>;

/// What a calling job hands the called workflow of its own secrets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PassedSecrets {
    /// `secrets: inherit`: every secret the caller can see, under its own name.
    pub inherit: bool,
    /// The caller's secrets an explicit mapping passes, by the caller's names.
    pub names: Vec<String>,
}

impl fmt::Display for PassedSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.inherit, self.names.as_slice()) {
            (true, _) => write!(f, "all its secrets (secrets: inherit)"),
            (false, []) => write!(f, "none of its secrets"),
            (false, [one]) => write!(f, "its secret {one}"),
            (false, names) => write!(f, "its secrets {}", names.join(", ")),
        }
    }
}

/// A job's call to another repository's workflow that keyfix could not read: the Claude job
/// may be in it, so what the caller passes is all that is known of the secret it uses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UnreadCall {
    pub job_id: String,
    pub called_workflow: CalledWorkflow,
    pub passed_secrets: PassedSecrets,
}

/// The reason a job's called workflow could not be analyzed, for the warning on the caller.
pub fn unreadable_message(
    job_id: &str,
    called: &CalledWorkflow,
    reason: &str,
    passed: &PassedSecrets,
) -> String {
    format!(
        "job {job_id} calls {called}, which keyfix could not read ({reason}); the job passes it {passed}, and its Claude steps, if any, are not checked"
    )
}
