//! The world a simulator run serves, read from a TOML or JSON file (`docs/simulator.md`).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use crate::faults::Fault;

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A sentence saying what this world shows; printed by `serve` and `demo`.
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub anthropic: AnthropicSettings,
    #[serde(default)]
    pub organizations: Vec<Organization>,
    #[serde(default)]
    pub keys: Vec<KeySpec>,
    #[serde(default)]
    pub faults: Vec<Fault>,
    #[serde(default)]
    pub github: GithubSettings,
    /// GitHub users and organizations, with their organization secrets.
    #[serde(default)]
    pub owners: Vec<Owner>,
    #[serde(default)]
    pub repos: Vec<RepoSpec>,
    /// GitHub tokens; with none declared, one token named `default` with every permission.
    #[serde(default)]
    pub tokens: Vec<TokenSpec>,
    /// GitHub Apps, with their installations on owners.
    #[serde(default)]
    pub apps: Vec<AppSpec>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AnthropicSettings {
    /// The models the API knows; any other answers 404.
    #[serde(default = "default_models")]
    pub models: Vec<String>,
    /// Added to every answer, in milliseconds.
    #[serde(default)]
    pub latency_ms: u64,
    /// The `retry-after` of an ordinary 429, in seconds.
    #[serde(default = "one")]
    pub retry_after_secs: u64,
}

impl Default for AnthropicSettings {
    fn default() -> Self {
        AnthropicSettings {
            models: default_models(),
            latency_ms: 0,
            retry_after_secs: 1,
        }
    }
}

pub fn default_models() -> Vec<String> {
    [
        "claude-haiku-4-5",
        "claude-sonnet-4-5",
        "claude-sonnet-4",
        "claude-opus-4-1",
        "claude-opus-4-5",
    ]
    .map(String::from)
    .to_vec()
}

fn one() -> u64 {
    1
}

fn yes() -> bool {
    true
}

fn sixty() -> u64 {
    60
}

fn four() -> u8 {
    4
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Organization {
    pub name: String,
    /// The UUID sent as `anthropic-organization-id`; derived from the name when absent.
    #[serde(default)]
    pub id: Option<String>,
    /// Whether prepaid credit remains.
    #[serde(default = "yes")]
    pub credit: bool,
    #[serde(default)]
    pub disabled: bool,
    /// The organization's own spend limit is reached until this date (`YYYY-MM-DD`).
    #[serde(default)]
    pub spend_limit_until: Option<String>,
    /// A workspace spend limit is reached until this date.
    #[serde(default)]
    pub workspace_spend_limit_until: Option<String>,
    /// The usage tier's monthly cap is reached until this date.
    #[serde(default)]
    pub tier_cap_until: Option<String>,
    /// Every request meets an ordinary rate limit (429 with `retry-after`).
    #[serde(default)]
    pub rate_limited: bool,
    /// Usage tier 1 to 4: sets the requests-per-minute limit header.
    #[serde(default = "four")]
    pub tier: u8,
    /// Models this organization's tier may not use, and how the API refuses them.
    #[serde(default)]
    pub restricted_models: BTreeMap<String, Refusal>,
}

impl Organization {
    pub fn uuid(&self) -> String {
        self.id.clone().unwrap_or_else(|| derived_uuid(&self.name))
    }

    pub fn requests_per_minute(&self) -> u64 {
        match self.tier {
            0 | 1 => 50,
            2 => 1000,
            3 => 2000,
            _ => 4000,
        }
    }

    /// Input and output tokens per minute: the tier's published limits for Claude Sonnet.
    pub fn tokens_per_minute(&self) -> (u64, u64) {
        match self.tier {
            0 | 1 => (30_000, 8_000),
            2 => (450_000, 90_000),
            3 => (800_000, 160_000),
            _ => (2_000_000, 400_000),
        }
    }

    /// The organization's default workspace, which the Admin API names in a key's `scope`
    /// when the key has no workspace of its own.
    pub fn default_workspace_id(&self) -> String {
        format!(
            "wrkspc_{}",
            derived_chars(&format!("default-workspace/{}", self.name), 24)
        )
    }
}

/// How a restricted model is refused: both forms have been reported (`diagnosis.md` §1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    CreditText,
    NotFound,
}

impl Refusal {
    pub const ALL: [Refusal; 2] = [Refusal::CreditText, Refusal::NotFound];
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    #[default]
    Active,
    /// Authenticates, cannot bill: the credit text, while its organization has credit.
    Orphaned,
    /// Disabled in the Console: the credit text, and `inactive` in the Admin API.
    Inactive,
    Archived,
    /// 401, `expired` in the Admin API.
    Expired,
    /// 401, absent from the Admin API.
    Revoked,
}

impl KeyState {
    /// Every state, for tests that walk them all (`KeyState::position` keeps it complete).
    pub const ALL: [KeyState; 6] = [
        KeyState::Active,
        KeyState::Orphaned,
        KeyState::Inactive,
        KeyState::Archived,
        KeyState::Expired,
        KeyState::Revoked,
    ];

    /// Its place in `ALL`: a new state does not compile until it has one.
    pub const fn position(self) -> usize {
        match self {
            KeyState::Active => 0,
            KeyState::Orphaned => 1,
            KeyState::Inactive => 2,
            KeyState::Archived => 3,
            KeyState::Expired => 4,
            KeyState::Revoked => 5,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    #[default]
    Api,
    Admin,
    Oauth,
}

impl CredentialKind {
    pub const ALL: [CredentialKind; 3] = [
        CredentialKind::Api,
        CredentialKind::Admin,
        CredentialKind::Oauth,
    ];

    fn prefix(self) -> &'static str {
        match self {
            CredentialKind::Api => "sk-ant-api03-",
            CredentialKind::Admin => "sk-ant-admin01-",
            CredentialKind::Oauth => "sk-ant-oat01-",
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeySpec {
    pub name: String,
    /// The exact value; derived from the name (well-formed for its kind) when absent.
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub kind: CredentialKind,
    /// The organization it belongs to; a key of none is unknown to the API (401).
    #[serde(default)]
    pub organization: Option<String>,
    /// Workspace name; its `wrkspc_…` id is derived from it.
    #[serde(default)]
    pub workspace: Option<String>,
    #[serde(default)]
    pub state: KeyState,
}

impl KeySpec {
    pub fn value(&self) -> String {
        self.value
            .clone()
            .unwrap_or_else(|| derived_key(self.kind, &self.name))
    }

    pub fn workspace_id(&self) -> Option<String> {
        self.workspace
            .as_ref()
            .map(|w| format!("wrkspc_{}", &derived_chars(&format!("workspace/{w}"), 24)))
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GithubSettings {
    /// Added to every GitHub answer, in milliseconds.
    #[serde(default)]
    pub latency_ms: u64,
    /// How long a run stays queued, then in progress, in milliseconds each.
    #[serde(default = "default_run_delay")]
    pub run_delay_ms: u64,
    /// How the emulated claude-code-action logs its result: `summary` (since mid-2026) or `text`.
    #[serde(default)]
    pub action_log: ActionLog,
    /// The hourly request budget of each token.
    #[serde(default = "default_rate_limit")]
    pub rate_limit: u64,
    /// How often that budget is renewed, in seconds (GitHub's: an hour).
    #[serde(default = "default_rate_window")]
    pub rate_window_secs: u64,
    /// Writes allowed per window before the secondary limit answers 403 (0: no limit).
    #[serde(default)]
    pub writes_per_minute: u32,
    /// The window of that limit, in seconds (GitHub's is a minute).
    #[serde(default = "sixty")]
    pub write_window_secs: u64,
    /// The `retry-after` of a secondary-limit answer, in seconds; absent, the time until the
    /// window lets a write through again.
    #[serde(default)]
    pub secondary_retry_after_secs: Option<u64>,
    /// A path under which the API is served, as GitHub Enterprise Server's `/api/v3`.
    #[serde(default)]
    pub path_prefix: String,
    /// How a workflow dispatch answers: with the run's details (200), with 204, or with the 422
    /// of GitHub Enterprise Server 3.19 to `return_run_details`.
    #[serde(default)]
    pub dispatch: DispatchMode,
    /// Cancel every dispatched run while it is queued (someone pressed "Cancel run").
    #[serde(default)]
    pub cancel_dispatched_runs: bool,
    /// Runner tools that are not installed (`python3`, `jq`): steps that need them fail.
    #[serde(default)]
    pub missing_tools: Vec<String>,
    /// How long a GitHub App installation token lives, in seconds (GitHub's: an hour).
    #[serde(default = "default_token_lifetime")]
    pub installation_token_lifetime_secs: u64,
}

fn default_token_lifetime() -> u64 {
    3600
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DispatchMode {
    #[default]
    RunDetails,
    NoContent,
    Enterprise,
}

impl Default for GithubSettings {
    fn default() -> Self {
        GithubSettings {
            latency_ms: 0,
            run_delay_ms: default_run_delay(),
            action_log: ActionLog::default(),
            rate_limit: default_rate_limit(),
            rate_window_secs: default_rate_window(),
            writes_per_minute: 0,
            write_window_secs: 60,
            secondary_retry_after_secs: None,
            path_prefix: String::new(),
            dispatch: DispatchMode::default(),
            cancel_dispatched_runs: false,
            missing_tools: Vec::new(),
            installation_token_lifetime_secs: default_token_lifetime(),
        }
    }
}

fn default_run_delay() -> u64 {
    100
}

fn default_rate_limit() -> u64 {
    5000
}

fn default_rate_window() -> u64 {
    3600
}

pub use crate::action_log::ActionLog;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OwnerKind {
    #[default]
    Organization,
    User,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Owner {
    pub login: String,
    #[serde(default)]
    pub kind: OwnerKind,
    /// Organization secrets.
    #[serde(default)]
    pub secrets: Vec<OrgSecretSpec>,
    /// Organization variables.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
}

/// A secret's stored value: a scenario key by name, or a literal value.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SecretSpec {
    pub name: String,
    /// The name of a scenario key whose value the secret holds.
    #[serde(default)]
    pub key: Option<String>,
    /// A literal value (for malformed secrets: a trailing newline, quotes).
    #[serde(default)]
    pub value: Option<String>,
    /// RFC 3339, or `N days ago` (from when the simulator starts); a fixed past date when
    /// absent.
    #[serde(default)]
    pub updated_at: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OrgSecretSpec {
    #[serde(flatten)]
    pub secret: SecretSpec,
    /// `all`, `private` or `selected`.
    #[serde(default = "visibility_all")]
    pub visibility: String,
    /// Repository names (of this owner) for `selected`.
    #[serde(default)]
    pub selected: Vec<String>,
}

fn visibility_all() -> String {
    "all".to_owned()
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentSpec {
    pub name: String,
    #[serde(default)]
    pub secrets: Vec<SecretSpec>,
    /// A job in this environment waits for a reviewer's approval.
    #[serde(default)]
    pub requires_approval: bool,
    /// Deployment branches: only protected branches may deploy to it.
    #[serde(default)]
    pub protected_branches: bool,
    /// Deployment branches: only branches matching these name patterns may deploy to it.
    #[serde(default)]
    pub deployment_branches: Option<Vec<String>>,
}

/// What refuses direct commits to the default branch, each with GitHub's own answer.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Protection {
    /// A ruleset that requires a pull request: 409 "Repository rule violations found".
    Ruleset,
    /// Classic branch protection with required reviews: 422 "Protected branch update failed".
    Classic,
    /// Classic branch protection restricting who may push: 403 "Protected branch update failed".
    PushRestricted,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RepoSpec {
    pub owner: String,
    /// The name; with `count`, `{n}` in it is replaced by 1..=count.
    pub name: String,
    /// Declare this many repositories from this one entry (`name = "svc-{n}"`).
    #[serde(default)]
    pub count: Option<u32>,
    #[serde(default = "main_branch")]
    pub default_branch: String,
    #[serde(default = "yes")]
    pub private: bool,
    #[serde(default)]
    pub archived: bool,
    /// Rules that refuse direct commits to the default branch.
    #[serde(default)]
    pub protection: Option<Protection>,
    /// Files on the default branch, by path.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// Tags, each with the files of the commit it points at, by path
    /// (`tags = { v1 = { ".github/workflows/claude.yml" = "…" } }`).
    #[serde(default)]
    pub tags: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(default)]
    pub secrets: Vec<SecretSpec>,
    #[serde(default)]
    pub environments: Vec<EnvironmentSpec>,
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// Workflow runs that happened before the simulator started: executed for real at start-up.
    #[serde(default)]
    pub runs: Vec<RunSpec>,
    /// Text served before every job log of this repository, made as it is sent and never held:
    /// the log of a step that printed hundreds of megabytes.
    #[serde(default)]
    pub log_filler: Option<LogFiller>,
}

/// `line` repeated until `bytes` bytes are sent (the last repeat cut short). A `line` without a
/// newline makes the filler one line of `bytes` bytes.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LogFiller {
    pub bytes: u64,
    #[serde(default = "filler_line")]
    pub line: String,
}

fn filler_line() -> String {
    "2026-11-23T22:49:08.0000000Z npm warn deprecated inflight@1.0.6: This module is not supported\n"
        .to_owned()
}

fn main_branch() -> String {
    "main".to_owned()
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    /// The workflow file's path.
    pub workflow: String,
    #[serde(default = "default_event")]
    pub event: String,
    #[serde(default = "default_actor")]
    pub actor: String,
    /// A pull request from a fork: the run gets no Actions secrets.
    #[serde(default)]
    pub from_fork: bool,
    /// With `from_fork`: the fork has been deleted since, and GitHub answers the run's
    /// `head_repository` as `null`.
    #[serde(default)]
    pub fork_deleted: bool,
    /// The account that started the run has been deleted since: GitHub answers the run's
    /// `actor` and `triggering_actor` as `null`.
    #[serde(default)]
    pub actor_deleted: bool,
    /// How long ago the run was created, in days.
    #[serde(default)]
    pub days_ago: u32,
    /// How many times it has run already (a run re-run 50 times cannot be re-run again).
    #[serde(default = "one_u32")]
    pub attempts: u32,
    /// The action's era for this run (`[github] action_log` when absent).
    #[serde(default)]
    pub action_log: Option<ActionLog>,
}

fn default_event() -> String {
    "issue_comment".to_owned()
}

fn default_actor() -> String {
    "octocat".to_owned()
}

fn one_u32() -> u32 {
    1
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSpec {
    pub name: String,
    /// The exact value; derived from the name when absent.
    #[serde(default)]
    pub value: Option<String>,
    /// Fine-grained permissions (`secrets:write`, `actions:read`, `organization_secrets:read`…).
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Classic scopes (`repo`, `workflow`, `admin:org`).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// A fine-grained token's "Only select repositories" (`owner/name`); every repository when
    /// absent. Others are answered as to a token that cannot see them (public ones stay
    /// readable).
    #[serde(default)]
    pub repositories: Option<Vec<String>>,
}

impl TokenSpec {
    pub fn value(&self) -> String {
        self.value.clone().unwrap_or_else(|| {
            format!(
                "ghp_{}",
                derived_chars(&format!("token/{}", self.name), 36).replace(['-', '_'], "x")
            )
        })
    }

    pub fn is_classic(&self) -> bool {
        !self.scopes.is_empty()
    }
}

/// A GitHub App: its id, the public half of its key (JWTs are verified with it), and where it is
/// installed.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AppSpec {
    /// The App's slug; the request log names its JWT `app:NAME` and its installation tokens
    /// `NAME@OWNER`.
    pub name: String,
    /// The App ID.
    pub id: u64,
    /// The client ID, which GitHub takes as `iss` too; derived from the name when absent.
    #[serde(default)]
    pub client_id: Option<String>,
    /// PEM `PUBLIC KEY` (as `openssl rsa -pubout` writes it).
    pub public_key: String,
    #[serde(default)]
    pub installations: Vec<InstallationSpec>,
}

impl AppSpec {
    pub fn client_id(&self) -> String {
        self.client_id.clone().unwrap_or_else(|| {
            format!(
                "Iv23li{}",
                derived_chars(&format!("app/{}", self.name), 14).replace(['-', '_'], "x")
            )
        })
    }
}

/// The App installed on one owner.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InstallationSpec {
    /// The user or organization it is installed on.
    pub owner: String,
    /// GitHub's permission names and levels: `{ secrets = "write", actions = "read" }`
    /// (`metadata`, `contents`, `actions`, `secrets`, `environments`, `workflows`,
    /// `organization_secrets`); Metadata: read is always granted.
    #[serde(default)]
    pub permissions: BTreeMap<String, String>,
    /// The repositories (of the owner) it may see; all of them when absent.
    #[serde(default)]
    pub repositories: Option<Vec<String>>,
}

/// The App permissions the simulator knows, with the levels each takes.
pub const APP_PERMISSIONS: &[(&str, &[&str])] = &[
    ("metadata", &["read"]),
    ("contents", &["read", "write"]),
    ("actions", &["read", "write"]),
    ("secrets", &["read", "write"]),
    ("environments", &["read", "write"]),
    ("workflows", &["write"]),
    ("organization_secrets", &["read", "write"]),
];

impl Scenario {
    pub fn from_path(path: &Path) -> anyhow::Result<Scenario> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read scenario {}", path.display()))?;
        let is_json = path.extension().is_some_and(|e| e == "json");
        let scenario = if is_json {
            serde_json::from_str(&text).with_context(|| format!("scenario {}", path.display()))?
        } else {
            Scenario::from_toml(&text).with_context(|| format!("scenario {}", path.display()))?
        };
        Ok(scenario)
    }

    pub fn from_toml(text: &str) -> anyhow::Result<Scenario> {
        let scenario: Scenario = toml::from_str(text)?;
        scenario.check()?;
        Ok(scenario)
    }

    /// Rejects a world that cannot be served: unknown names, duplicate keys.
    pub fn check(&self) -> anyhow::Result<()> {
        let mut values = std::collections::HashSet::new();
        for key in &self.keys {
            if let Some(org) = &key.organization {
                if self.organization(org).is_none() {
                    bail!("key {:?} names unknown organization {org:?}", key.name);
                }
            }
            if !values.insert(key.value()) {
                bail!("key {:?} has the same value as another key", key.name);
            }
        }
        let secret_specs = self
            .repos
            .iter()
            .flat_map(|r| {
                r.secrets
                    .iter()
                    .chain(r.environments.iter().flat_map(|e| &e.secrets))
            })
            .chain(
                self.owners
                    .iter()
                    .flat_map(|o| o.secrets.iter().map(|s| &s.secret)),
            );
        for secret in secret_specs {
            if let Some(name) = &secret.key {
                if self.key(name).is_none() {
                    bail!("secret {:?} names unknown key {name:?}", secret.name);
                }
            }
        }
        for repo in &self.repos {
            if repo.count.is_some() && !repo.name.contains("{n}") {
                bail!(
                    "repository {:?} has a count but no {{n}} in its name",
                    repo.name
                );
            }
            for run in &repo.runs {
                if !repo.files.contains_key(&run.workflow) {
                    bail!(
                        "a run of {}/{} names missing workflow {:?}",
                        repo.owner,
                        repo.name,
                        run.workflow
                    );
                }
                if run.fork_deleted && !run.from_fork {
                    bail!(
                        "a run of {}/{} has fork_deleted without from_fork",
                        repo.owner,
                        repo.name
                    );
                }
            }
        }
        let mut app_ids = std::collections::HashSet::new();
        for app in &self.apps {
            if !app_ids.insert(app.id) {
                bail!("two apps have the id {}", app.id);
            }
            crate::github::apps::rsa_public_key(&app.public_key)
                .with_context(|| format!("app {:?}: public_key", app.name))?;
            for installation in &app.installations {
                let known = self.owner(&installation.owner).is_some()
                    || self
                        .repos
                        .iter()
                        .any(|r| r.owner.eq_ignore_ascii_case(&installation.owner));
                if !known {
                    bail!(
                        "app {:?} is installed on unknown owner {:?}",
                        app.name,
                        installation.owner
                    );
                }
                for (name, level) in &installation.permissions {
                    let levels = APP_PERMISSIONS
                        .iter()
                        .find(|(known, _)| known == name)
                        .map(|(_, levels)| *levels);
                    match levels {
                        None => bail!("app {:?}: unknown permission {name:?}", app.name),
                        Some(levels) if !levels.contains(&level.as_str()) => bail!(
                            "app {:?}: permission {name:?} takes {levels:?}, not {level:?}",
                            app.name
                        ),
                        Some(_) => {}
                    }
                }
            }
        }
        for fault in &self.faults {
            fault.check(self)?;
        }
        Ok(())
    }

    /// The names of every GitHub credential: tokens, and each App's JWT (`app:NAME`) and
    /// installation tokens (`NAME@OWNER`).
    pub fn credential_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .effective_tokens()
            .iter()
            .map(|t| t.name.clone())
            .collect();
        for app in &self.apps {
            names.push(format!("app:{}", app.name));
            names.extend(
                app.installations
                    .iter()
                    .map(|i| format!("{}@{}", app.name, i.owner)),
            );
        }
        names
    }

    /// Repositories with `count` expanded, in declaration order.
    pub fn expanded_repos(&self) -> Vec<RepoSpec> {
        let mut out = Vec::new();
        for repo in &self.repos {
            match repo.count {
                None => out.push(repo.clone()),
                Some(count) => out.extend((1..=count).map(|n| RepoSpec {
                    name: repo.name.replace("{n}", &n.to_string()),
                    count: None,
                    ..repo.clone()
                })),
            }
        }
        out
    }

    /// The value a secret holds: its key's, or its literal value.
    pub fn secret_value(&self, spec: &SecretSpec) -> String {
        match (&spec.key, &spec.value) {
            (Some(name), _) => self.key(name).map(KeySpec::value).unwrap_or_default(),
            (None, Some(value)) => value.clone(),
            (None, None) => String::new(),
        }
    }

    /// The declared tokens, or the one `default` token with every permission.
    pub fn effective_tokens(&self) -> Vec<TokenSpec> {
        if !self.tokens.is_empty() {
            return self.tokens.clone();
        }
        vec![TokenSpec {
            name: "default".to_owned(),
            value: None,
            permissions: Vec::new(),
            scopes: vec!["repo".into(), "workflow".into(), "admin:org".into()],
            repositories: None,
        }]
    }

    pub fn owner(&self, login: &str) -> Option<&Owner> {
        self.owners
            .iter()
            .find(|o| o.login.eq_ignore_ascii_case(login))
    }

    pub fn organization(&self, name: &str) -> Option<&Organization> {
        self.organizations.iter().find(|o| o.name == name)
    }

    pub fn key(&self, name: &str) -> Option<&KeySpec> {
        self.keys.iter().find(|k| k.name == name)
    }
}

/// The variable name `serve` exports a key's value under: `KEYFIX_SIM_KEY_<NAME>`.
pub fn key_env_name(key_name: &str) -> String {
    let upper: String = key_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("KEYFIX_SIM_KEY_{upper}")
}

const KEY_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

/// `n` characters of the key alphabet, the same for the same seed in every run.
fn derived_chars(seed: &str, n: usize) -> String {
    let mut out = String::with_capacity(n);
    let mut counter = 0u32;
    while out.len() < n {
        let digest = Sha256::digest(format!("{seed}/{counter}").as_bytes());
        out.extend(
            digest
                .iter()
                .map(|b| KEY_ALPHABET[(*b as usize) % KEY_ALPHABET.len()] as char),
        );
        counter += 1;
    }
    out.truncate(n);
    out
}

/// A well-formed value of the kind: `sk-ant-api03-` + 93 characters + `AA` for an API key.
pub fn derived_key(kind: CredentialKind, name: &str) -> String {
    let seed = format!("key/{name}");
    match kind {
        CredentialKind::Api | CredentialKind::Admin => {
            format!("{}{}AA", kind.prefix(), derived_chars(&seed, 93))
        }
        CredentialKind::Oauth => format!("{}{}", kind.prefix(), derived_chars(&seed, 95)),
    }
}

fn derived_uuid(name: &str) -> String {
    let h = hex::encode(Sha256::digest(format!("org/{name}").as_bytes()));
    format!(
        "{}-{}-4{}-8{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lists_of_states_kinds_and_refusals_are_complete() {
        for (i, state) in KeyState::ALL.into_iter().enumerate() {
            assert_eq!(state.position(), i);
        }
        // A new variant stops these matches compiling until it is listed.
        for kind in CredentialKind::ALL {
            match kind {
                CredentialKind::Api | CredentialKind::Admin | CredentialKind::Oauth => {}
            }
        }
        for refusal in Refusal::ALL {
            match refusal {
                Refusal::CreditText | Refusal::NotFound => {}
            }
        }
    }

    #[test]
    fn derived_keys_are_well_formed_and_stable() {
        let api = derived_key(CredentialKind::Api, "good");
        assert_eq!(api.len(), 108);
        assert!(api.starts_with("sk-ant-api03-") && api.ends_with("AA"));
        assert_eq!(api, derived_key(CredentialKind::Api, "good"));
        assert_ne!(api, derived_key(CredentialKind::Api, "other"));
        assert_eq!(derived_key(CredentialKind::Admin, "a").len(), 110);
    }

    #[test]
    fn unknown_names_are_refused() {
        let err = Scenario::from_toml(
            r#"
            [[keys]]
            name = "k"
            organization = "nowhere"
            "#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("nowhere"), "{err}");
        assert!(Scenario::from_toml("[[keys]]\nname = \"k\"\nbogus = 1\n").is_err());
    }

    #[test]
    fn the_shipped_scenarios_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            Scenario::from_path(&path).unwrap();
            seen += 1;
        }
        assert!(seen > 0);
    }
}
