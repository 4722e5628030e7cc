//! The GitHub world as it changes: repositories, files, secrets at three levels (each level with
//! its own X25519 key pair), workflow runs and their jobs, tokens and their budgets.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use crypto_box::aead::OsRng;
use sha2::{Digest, Sha256};

use crate::scenario::{AppSpec, OwnerKind, RepoSpec, Scenario, TokenSpec};
use crate::time;

/// A scope's sealed-box key pair, as GitHub keeps one per repository, environment and organization.
pub struct KeyPair {
    pub key_id: String,
    pub secret: crypto_box::SecretKey,
}

impl KeyPair {
    fn generate() -> KeyPair {
        let secret = crypto_box::SecretKey::generate(&mut OsRng);
        let key_id = format!(
            "{}",
            rand::random::<u64>() % 9_000_000_000_000_000_000 + 1_000_000_000_000_000_000
        );
        KeyPair { key_id, secret }
    }

    pub fn public_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.secret.public_key().as_bytes())
    }

    /// Opens a sealed box sent with `key_id`; `Err` names what GitHub would answer 422 for.
    pub fn unseal(&self, key_id: &str, encrypted_value: &str) -> Result<String, &'static str> {
        if key_id != self.key_id {
            return Err("key_id does not match the public key of this scope");
        }
        let sealed = base64::engine::general_purpose::STANDARD
            .decode(encrypted_value)
            .map_err(|_| "encrypted_value is not base64")?;
        let plain = self
            .secret
            .unseal(&sealed)
            .map_err(|_| "encrypted_value cannot be opened with this scope's key")?;
        String::from_utf8(plain).map_err(|_| "the secret is not UTF-8 text")
    }
}

#[derive(Clone, Debug)]
pub struct Stored {
    pub value: String,
    pub created_at: String,
    pub updated_at: String,
}

pub struct Environment {
    pub name: String,
    pub secrets: BTreeMap<String, Stored>,
    pub keys: KeyPair,
    pub requires_approval: bool,
    pub branch_policy: Option<BranchPolicy>,
}

/// Which branches may deploy to an environment (`deployment_branch_policy`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BranchPolicy {
    /// Only protected branches.
    Protected,
    /// Only branches whose names match one of these patterns.
    Custom(Vec<String>),
}

impl BranchPolicy {
    /// Whether a run on `branch` may use the environment; `protected` says whether the branch is.
    pub fn allows(&self, branch: &str, protected: bool) -> bool {
        match self {
            BranchPolicy::Protected => protected,
            BranchPolicy::Custom(patterns) => patterns.iter().any(|p| branch_matches(p, branch)),
        }
    }
}

/// GitHub's branch name patterns (`File.fnmatch`): `*` and `?` stop at `/`, `**` does not.
pub fn branch_matches(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match p {
            [] => n.is_empty(),
            [b'*', b'*', rest @ ..] => (0..=n.len()).any(|i| go(rest, &n[i..])),
            [b'*', rest @ ..] => (0..=n.len())
                .take_while(|&i| i == 0 || n[i - 1] != b'/')
                .any(|i| go(rest, &n[i..])),
            [b'?', rest @ ..] => n.first().is_some_and(|&c| c != b'/') && go(rest, &n[1..]),
            [c, rest @ ..] => n.first() == Some(c) && go(rest, &n[1..]),
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

/// A branch other than the default one: its head commit and the files there.
pub struct Branch {
    pub head: String,
    pub files: BTreeMap<String, File>,
}

/// A commit made through the Git database API.
pub struct Commit {
    pub tree: String,
    pub parents: Vec<String>,
    pub message: String,
}

/// A pull request opened through the API.
pub struct Pull {
    pub number: u64,
    pub title: String,
    pub head: String,
    pub base: String,
}

#[derive(Clone)]
pub struct File {
    pub text: String,
    pub sha: String,
}

/// A content address for a set of files (a tree, or the default branch's head).
pub fn tree_sha(files: &BTreeMap<String, File>) -> String {
    let mut hasher = Sha256::new();
    for (path, file) in files {
        hasher.update(path.as_bytes());
        hasher.update([0]);
        hasher.update(file.sha.as_bytes());
    }
    hex::encode(hasher.finalize())[..40].to_owned()
}

impl File {
    pub fn new(text: String) -> File {
        let sha = hex::encode(Sha256::digest(
            format!("blob {}\0{text}", text.len()).as_bytes(),
        ))[..40]
            .to_owned();
        File { text, sha }
    }
}

pub struct Repo {
    pub id: u64,
    pub owner: String,
    pub name: String,
    pub default_branch: String,
    pub private: bool,
    pub archived: bool,
    pub files: BTreeMap<String, File>,
    pub secrets: BTreeMap<String, Stored>,
    pub keys: KeyPair,
    pub environments: BTreeMap<String, Environment>,
    pub variables: BTreeMap<String, String>,
    pub protection: Option<crate::scenario::Protection>,
    /// Branches besides the default one, by name.
    pub branches: BTreeMap<String, Branch>,
    /// Tags, by name: each a commit with its files.
    pub tags: BTreeMap<String, Branch>,
    /// Trees made through the Git database API, by sha.
    pub trees: BTreeMap<String, BTreeMap<String, File>>,
    pub commits: BTreeMap<String, Commit>,
    pub pulls: Vec<Pull>,
    pub log_filler: Option<crate::scenario::LogFiller>,
}

impl Repo {
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    /// The files at `reference`, the default branch's when `None`: a branch, a tag (either
    /// also as `refs/heads/…`, `refs/tags/…`) or a commit's full SHA, as the Contents API takes
    /// them.
    pub fn files_on(&self, reference: Option<&str>) -> Option<&BTreeMap<String, File>> {
        let Some(reference) = reference else {
            return Some(&self.files);
        };
        let branch = reference.strip_prefix("refs/heads/").unwrap_or(reference);
        let tag = reference.strip_prefix("refs/tags/").unwrap_or(reference);
        if branch == self.default_branch {
            return Some(&self.files);
        }
        self.branches
            .get(branch)
            .or_else(|| self.tags.get(tag))
            .map(|b| &b.files)
            .or_else(|| self.files_at_commit(reference))
    }

    /// The files of the commit `sha`: a branch's or tag's head, or one made through the API.
    fn files_at_commit(&self, sha: &str) -> Option<&BTreeMap<String, File>> {
        if sha == tree_sha(&self.files) {
            return Some(&self.files);
        }
        let head = self.branches.values().chain(self.tags.values());
        if let Some(found) = head.clone().find(|b| b.head == sha) {
            return Some(&found.files);
        }
        let commit = self.commits.get(sha)?;
        self.trees.get(&commit.tree)
    }

    pub fn files_on_mut(&mut self, branch: &str) -> Option<&mut BTreeMap<String, File>> {
        if branch == self.default_branch {
            return Some(&mut self.files);
        }
        self.branches.get_mut(branch).map(|b| &mut b.files)
    }

    /// Records a new head for a branch other than the default one, after its files changed.
    pub fn commit_on(&mut self, branch: &str, message: &str) {
        let Some(files) = self.branches.get(branch).map(|b| b.files.clone()) else {
            return;
        };
        let parent = self.branches[branch].head.clone();
        let tree = tree_sha(&files);
        let sha = File::new(format!(
            "tree {tree}\nparent {parent}\n{}\n{message}",
            rand::random::<u64>()
        ))
        .sha;
        self.trees.insert(tree.clone(), files);
        self.commits.insert(
            sha.clone(),
            Commit {
                tree,
                parents: vec![parent],
                message: message.to_owned(),
            },
        );
        if let Some(b) = self.branches.get_mut(branch) {
            b.head = sha;
        }
    }

    /// The head commit of `branch`: the default branch's is derived from its files.
    pub fn head_of(&self, branch: &str) -> Option<String> {
        if branch == self.default_branch {
            return Some(tree_sha(&self.files));
        }
        self.branches.get(branch).map(|b| b.head.clone())
    }

    /// Whether `sha` names a commit of this repository.
    pub fn has_commit(&self, sha: &str) -> bool {
        self.commits.contains_key(sha)
            || sha == tree_sha(&self.files)
            || self.branches.values().any(|b| b.head == sha)
    }

    /// Workflow files, in path order, with the ids GitHub gives them.
    pub fn workflows(&self) -> Vec<(u64, &str, &File)> {
        self.files
            .iter()
            .filter(|(path, _)| {
                path.starts_with(".github/workflows/")
                    && (path.ends_with(".yml") || path.ends_with(".yaml"))
            })
            .enumerate()
            .map(|(i, (path, file))| (self.id * 1000 + i as u64 + 1, path.as_str(), file))
            .collect()
    }

    /// A workflow by id, file name or path.
    pub fn workflow(&self, reference: &str) -> Option<(u64, String)> {
        self.workflows()
            .into_iter()
            .find(|(id, path, _)| {
                id.to_string() == reference
                    || *path == reference
                    || path.rsplit('/').next() == Some(reference)
            })
            .map(|(id, path, _)| (id, path.to_owned()))
    }
}

pub struct OrgSecret {
    pub stored: Stored,
    pub visibility: String,
    pub selected: BTreeSet<u64>,
}

pub struct Owner {
    pub id: u64,
    pub login: String,
    pub kind: OwnerKind,
    pub secrets: BTreeMap<String, OrgSecret>,
    pub keys: KeyPair,
    pub variables: BTreeMap<String, String>,
}

impl Owner {
    /// Whether an organization secret reaches a repository.
    pub fn secret_visible_to(&self, secret: &OrgSecret, repo: &Repo) -> bool {
        match secret.visibility.as_str() {
            "all" => true,
            "private" => repo.private,
            _ => secret.selected.contains(&repo.id),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Perm {
    Metadata,
    ContentsRead,
    ContentsWrite,
    WorkflowsWrite,
    ActionsRead,
    ActionsWrite,
    SecretsRead,
    SecretsWrite,
    EnvironmentsRead,
    EnvironmentsWrite,
    OrgSecretsRead,
    OrgSecretsWrite,
    PullRequestsWrite,
    ChecksRead,
}

impl Perm {
    /// The `x-accepted-github-permissions` value GitHub sends with a 403.
    pub fn accepted_header(self) -> &'static str {
        match self {
            Perm::Metadata => "metadata=read",
            Perm::ContentsRead => "contents=read",
            Perm::ContentsWrite => "contents=write",
            Perm::WorkflowsWrite => "workflows=write",
            Perm::ActionsRead => "actions=read",
            Perm::ActionsWrite => "actions=write",
            Perm::SecretsRead => "secrets=read",
            Perm::SecretsWrite => "secrets=write",
            Perm::EnvironmentsRead => "environments=read",
            Perm::EnvironmentsWrite => "environments=write",
            Perm::PullRequestsWrite => "pull_requests=write",
            Perm::ChecksRead => "checks=read",
            Perm::OrgSecretsRead => "organization_secrets=read",
            Perm::OrgSecretsWrite => "organization_secrets=write",
        }
    }

    fn from_fine_grained(text: &str) -> Vec<Perm> {
        let (name, level) = text.split_once(':').unwrap_or((text, "read"));
        let write = level == "write";
        let pair = |read, wr| if write { vec![read, wr] } else { vec![read] };
        match name {
            "metadata" => vec![Perm::Metadata],
            "contents" => pair(Perm::ContentsRead, Perm::ContentsWrite),
            "workflows" => vec![Perm::WorkflowsWrite],
            "actions" => pair(Perm::ActionsRead, Perm::ActionsWrite),
            "secrets" => pair(Perm::SecretsRead, Perm::SecretsWrite),
            "environments" => pair(Perm::EnvironmentsRead, Perm::EnvironmentsWrite),
            "organization_secrets" => pair(Perm::OrgSecretsRead, Perm::OrgSecretsWrite),
            "pull_requests" if write => vec![Perm::PullRequestsWrite],
            "checks" => vec![Perm::ChecksRead],
            _ => Vec::new(),
        }
    }

    fn from_classic(scope: &str) -> Vec<Perm> {
        match scope {
            "repo" => vec![
                Perm::Metadata,
                Perm::ContentsRead,
                Perm::ContentsWrite,
                Perm::ActionsRead,
                Perm::ActionsWrite,
                Perm::SecretsRead,
                Perm::SecretsWrite,
                Perm::EnvironmentsRead,
                Perm::EnvironmentsWrite,
                Perm::PullRequestsWrite,
                Perm::ChecksRead,
            ],
            "workflow" => vec![Perm::WorkflowsWrite],
            "admin:org" => vec![Perm::OrgSecretsRead, Perm::OrgSecretsWrite],
            _ => Vec::new(),
        }
    }
}

pub struct Token {
    pub name: String,
    pub value: String,
    pub classic: bool,
    pub perms: BTreeSet<Perm>,
    pub remaining: u64,
    /// The repositories (`owner/name`) a fine-grained token was given; `None`: all.
    pub repositories: Option<Vec<String>>,
}

impl Token {
    /// Whether the token was given `owner/name` (or every repository).
    pub fn selects(&self, owner: &str, name: &str) -> bool {
        let full = format!("{owner}/{name}");
        self.repositories
            .as_ref()
            .is_none_or(|names| names.iter().any(|n| n.eq_ignore_ascii_case(&full)))
    }
}

impl Token {
    fn from_spec(spec: &TokenSpec, budget: u64) -> Token {
        let mut perms: BTreeSet<Perm> = spec
            .permissions
            .iter()
            .flat_map(|p| Perm::from_fine_grained(p))
            .collect();
        perms.extend(spec.scopes.iter().flat_map(|s| Perm::from_classic(s)));
        if !spec.is_classic() {
            // Every fine-grained token can read metadata.
            perms.insert(Perm::Metadata);
        }
        Token {
            name: spec.name.clone(),
            value: spec.value(),
            classic: spec.is_classic(),
            perms,
            remaining: budget,
            repositories: spec.repositories.clone(),
        }
    }
}

/// A GitHub App: what its JWTs are checked against, and its own request budget.
pub struct App {
    pub id: u64,
    pub name: String,
    pub client_id: String,
    /// RSAPublicKey DER.
    pub public_key: Vec<u8>,
    pub remaining: u64,
}

/// An App installed on one owner, with its permissions and the repositories it may see.
pub struct Installation {
    pub id: u64,
    pub app_id: u64,
    /// The owner's login, as the scenario spells it.
    pub account: String,
    /// GitHub's names and levels, Metadata: read included.
    pub permissions: BTreeMap<String, String>,
    pub perms: BTreeSet<Perm>,
    /// `None`: every repository of the account.
    pub repositories: Option<Vec<String>>,
    /// The installation's budget, which all its tokens share.
    pub remaining: u64,
}

impl Installation {
    /// Whether the installation can see `owner/repo`.
    pub fn sees(&self, owner: &str, repo: &str) -> bool {
        self.account.eq_ignore_ascii_case(owner)
            && self
                .repositories
                .as_ref()
                .is_none_or(|names| names.iter().any(|n| n.eq_ignore_ascii_case(repo)))
    }

    /// `all` or `selected`, as GitHub says it.
    pub fn selection(&self) -> &'static str {
        if self.repositories.is_some() {
            "selected"
        } else {
            "all"
        }
    }

    fn from_spec(app: &AppSpec, index: usize, spec_index: usize, budget: u64) -> Installation {
        let spec = &app.installations[spec_index];
        let mut permissions = spec.permissions.clone();
        permissions.insert("metadata".to_owned(), "read".to_owned());
        let perms = permissions
            .iter()
            .flat_map(|(name, level)| Perm::from_fine_grained(&format!("{name}:{level}")))
            .collect();
        Installation {
            id: 50_000_000 + index as u64,
            app_id: app.id,
            account: spec.owner.clone(),
            permissions,
            perms,
            repositories: spec.repositories.clone(),
            remaining: budget,
        }
    }
}

/// An installation token: valid until it expires.
pub struct InstallationToken {
    pub value: String,
    /// `APP@OWNER`, as the request log names it.
    pub name: String,
    pub installation: u64,
    pub expires_at_ms: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunStatus {
    Queued,
    InProgress,
    Waiting,
    Completed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::InProgress => "in_progress",
            RunStatus::Waiting => "waiting",
            RunStatus::Completed => "completed",
        }
    }
}

pub struct Run {
    pub id: u64,
    pub repo_id: u64,
    pub workflow_id: u64,
    pub workflow_path: String,
    pub name: String,
    pub display_title: String,
    pub run_number: u64,
    pub run_attempt: u32,
    pub event: String,
    pub actor: String,
    pub from_fork: bool,
    /// The fork the run came from was deleted: its `head_repository` is `null`.
    pub fork_deleted: bool,
    /// The account that started the run was deleted: its `actor` is `null`.
    pub actor_deleted: bool,
    pub head_branch: String,
    /// The commit the run ran on, and that commit's message.
    pub head_sha: String,
    pub head_message: String,
    pub status: RunStatus,
    pub conclusion: Option<String>,
    pub created_at: u64,
    pub updated_at: u64,
    /// Inputs of a `workflow_dispatch` run.
    pub inputs: BTreeMap<String, String>,
    /// The workflow file as it was at the run's commit.
    pub workflow_text: String,
    /// The action's era for this run, when it is not the scenario's.
    pub action_log: Option<crate::scenario::ActionLog>,
}

pub struct Step {
    pub name: String,
    pub status: RunStatus,
    pub conclusion: Option<String>,
}

pub struct Job {
    pub id: u64,
    pub run_id: u64,
    pub run_attempt: u32,
    pub name: String,
    /// The labels of its `runs-on`.
    pub labels: Vec<String>,
    pub status: RunStatus,
    pub conclusion: Option<String>,
    pub steps: Vec<Step>,
    pub log: String,
    /// Why GitHub failed the job before it ran, as its check run's annotation says.
    pub annotation: Option<String>,
    pub started_at: u64,
    pub completed_at: Option<u64>,
}

/// A pre-signed log URL: valid for about a minute, for one job.
pub struct Presigned {
    pub job_id: u64,
    pub expires_at: u64,
}

pub struct GithubState {
    pub owners: Vec<Owner>,
    pub repos: Vec<Repo>,
    pub runs: Vec<Run>,
    pub jobs: Vec<Job>,
    pub tokens: Vec<Token>,
    pub apps: Vec<App>,
    pub installations: Vec<Installation>,
    pub installation_tokens: Vec<InstallationToken>,
    pub presigned: BTreeMap<String, Presigned>,
    pub rate_reset: u64,
    /// The GraphQL points each credential (by scenario name) spent in this window: GraphQL has
    /// a budget of its own.
    pub graphql_used: BTreeMap<String, u64>,
    /// When the writes of the secondary limit's window were made (epoch milliseconds).
    pub writes: std::collections::VecDeque<u64>,
}

const PAST: &str = "2026-01-15T10:00:00Z";

fn stored(value: String, updated_at: Option<&String>) -> Stored {
    match updated_at.map(|at| days_ago(at).unwrap_or_else(|| at.clone())) {
        // Made when it was last updated: no earlier copy to date it by.
        Some(at) => Stored {
            value,
            created_at: at.clone(),
            updated_at: at,
        },
        None => Stored {
            value,
            created_at: PAST.to_owned(),
            updated_at: PAST.to_owned(),
        },
    }
}

/// `200 days ago` as an RFC 3339 time, so that a scenario's secret ages stay what it says
/// whatever day it runs.
fn days_ago(text: &str) -> Option<String> {
    let days: u64 = text.strip_suffix(" days ago")?.trim().parse().ok()?;
    let now = crate::time::now_epoch_millis();
    Some(crate::time::rfc3339(now.saturating_sub(days * 86_400_000)))
}

impl GithubState {
    pub fn new(scenario: &Scenario) -> GithubState {
        let mut owners: Vec<Owner> = scenario
            .owners
            .iter()
            .enumerate()
            .map(|(i, o)| Owner {
                id: 9000 + i as u64,
                login: o.login.clone(),
                kind: o.kind,
                secrets: BTreeMap::new(),
                keys: KeyPair::generate(),
                variables: o.variables.clone(),
            })
            .collect();
        let repos: Vec<Repo> = scenario
            .expanded_repos()
            .iter()
            .enumerate()
            .map(|(i, spec)| repo_from_spec(scenario, spec, 100_000 + i as u64))
            .collect();
        // Owners named only by repositories are organizations with nothing of their own.
        for repo in &repos {
            if !owners
                .iter()
                .any(|o| o.login.eq_ignore_ascii_case(&repo.owner))
            {
                owners.push(Owner {
                    id: 9000 + owners.len() as u64,
                    login: repo.owner.clone(),
                    kind: OwnerKind::Organization,
                    secrets: BTreeMap::new(),
                    keys: KeyPair::generate(),
                    variables: BTreeMap::new(),
                });
            }
        }
        for spec in &scenario.owners {
            let selected_ids = |names: &[String]| -> BTreeSet<u64> {
                repos
                    .iter()
                    .filter(|r| {
                        r.owner.eq_ignore_ascii_case(&spec.login) && names.contains(&r.name)
                    })
                    .map(|r| r.id)
                    .collect()
            };
            let owner = owners
                .iter_mut()
                .find(|o| o.login == spec.login)
                .expect("declared owner");
            for secret in &spec.secrets {
                owner.secrets.insert(
                    secret.secret.name.to_ascii_uppercase(),
                    OrgSecret {
                        stored: stored(
                            scenario.secret_value(&secret.secret),
                            secret.secret.updated_at.as_ref(),
                        ),
                        visibility: secret.visibility.clone(),
                        selected: selected_ids(&secret.selected),
                    },
                );
            }
        }
        let budget = scenario.github.rate_limit;
        let apps = scenario
            .apps
            .iter()
            .map(|spec| App {
                id: spec.id,
                name: spec.name.clone(),
                client_id: spec.client_id(),
                public_key: super::apps::rsa_public_key(&spec.public_key)
                    .expect("checked with the scenario"),
                remaining: budget,
            })
            .collect();
        let mut installations = Vec::new();
        for app in &scenario.apps {
            for i in 0..app.installations.len() {
                let index = installations.len();
                installations.push(Installation::from_spec(app, index, i, budget));
            }
        }
        GithubState {
            apps,
            installations,
            installation_tokens: Vec::new(),
            owners,
            repos,
            runs: Vec::new(),
            jobs: Vec::new(),
            tokens: scenario
                .effective_tokens()
                .iter()
                .map(|t| Token::from_spec(t, budget))
                .collect(),
            presigned: BTreeMap::new(),
            rate_reset: 0,
            graphql_used: BTreeMap::new(),
            writes: Default::default(),
        }
    }

    /// The first request opens the budgets' window; once it has passed, every token has its
    /// whole budget again, for a new window. A window of 0 is never renewed.
    pub fn renew_budgets(&mut self, limit: u64, window_secs: u64) {
        let now = time::now_epoch_millis() / 1000;
        if self.rate_reset == 0 {
            self.rate_reset = now + window_secs.max(1);
            return;
        }
        if window_secs == 0 || now < self.rate_reset {
            return;
        }
        for token in &mut self.tokens {
            token.remaining = limit;
        }
        for installation in &mut self.installations {
            installation.remaining = limit;
        }
        for app in &mut self.apps {
            app.remaining = limit;
        }
        self.graphql_used.clear();
        self.rate_reset = now + window_secs;
    }

    /// How the request log names a GitHub credential: a token's or an App's scenario name
    /// (`app:NAME` for its JWT, `NAME@OWNER` for an installation token), never its value.
    pub fn credential_name(&self, value: &str) -> String {
        if let Some(token) = self.tokens.iter().find(|t| t.value == value) {
            return token.name.clone();
        }
        if let Some(token) = self.installation_tokens.iter().find(|t| t.value == value) {
            return token.name.clone();
        }
        if super::apps::looks_like_jwt(value) {
            return super::apps::issuer(&self.apps, value)
                .map_or_else(|| "(unknown app)".to_owned(), |a| format!("app:{}", a.name));
        }
        "(unknown token)".to_owned()
    }

    pub fn repo(&self, owner: &str, name: &str) -> Option<&Repo> {
        self.repos
            .iter()
            .find(|r| r.owner.eq_ignore_ascii_case(owner) && r.name.eq_ignore_ascii_case(name))
    }

    pub fn repo_mut(&mut self, owner: &str, name: &str) -> Option<&mut Repo> {
        self.repos
            .iter_mut()
            .find(|r| r.owner.eq_ignore_ascii_case(owner) && r.name.eq_ignore_ascii_case(name))
    }

    pub fn owner(&self, login: &str) -> Option<&Owner> {
        self.owners
            .iter()
            .find(|o| o.login.eq_ignore_ascii_case(login))
    }

    pub fn owner_mut(&mut self, login: &str) -> Option<&mut Owner> {
        self.owners
            .iter_mut()
            .find(|o| o.login.eq_ignore_ascii_case(login))
    }

    pub fn run(&self, id: u64) -> Option<&Run> {
        self.runs.iter().find(|r| r.id == id)
    }

    pub fn run_mut(&mut self, id: u64) -> Option<&mut Run> {
        self.runs.iter_mut().find(|r| r.id == id)
    }

    pub fn job_mut(&mut self, id: u64) -> Option<&mut Job> {
        self.jobs.iter_mut().find(|j| j.id == id)
    }

    /// The secret a job gets for `name`: environment > repository > organization, or `None`.
    pub fn resolve_secret(
        &self,
        repo: &Repo,
        environment: Option<&str>,
        name: &str,
    ) -> Option<String> {
        let name = name.to_ascii_uppercase();
        if let Some(env) = environment.and_then(|e| repo.environments.get(e)) {
            if let Some(s) = env.secrets.get(&name) {
                return Some(s.value.clone());
            }
        }
        if let Some(s) = repo.secrets.get(&name) {
            return Some(s.value.clone());
        }
        let owner = self.owner(&repo.owner)?;
        let secret = owner.secrets.get(&name)?;
        owner
            .secret_visible_to(secret, repo)
            .then(|| secret.stored.value.clone())
    }

    /// A variable as `vars.NAME` reads it: repository first, then organization.
    pub fn resolve_variable(&self, repo: &Repo, name: &str) -> Option<String> {
        repo.variables
            .get(name)
            .cloned()
            .or_else(|| self.owner(&repo.owner)?.variables.get(name).cloned())
    }

    pub fn next_run_id(&self) -> u64 {
        self.runs
            .iter()
            .map(|r| r.id)
            .max()
            .unwrap_or(7_000_000_000)
            + 1
    }

    pub fn next_job_id(&self) -> u64 {
        self.jobs
            .iter()
            .map(|j| j.id)
            .max()
            .unwrap_or(30_000_000_000)
            + 1
    }
}

fn repo_from_spec(scenario: &Scenario, spec: &RepoSpec, id: u64) -> Repo {
    Repo {
        id,
        owner: spec.owner.clone(),
        name: spec.name.clone(),
        default_branch: spec.default_branch.clone(),
        private: spec.private,
        archived: spec.archived,
        files: spec
            .files
            .iter()
            .map(|(p, t)| (p.clone(), File::new(t.clone())))
            .collect(),
        secrets: spec
            .secrets
            .iter()
            .map(|s| {
                (
                    s.name.to_ascii_uppercase(),
                    stored(scenario.secret_value(s), s.updated_at.as_ref()),
                )
            })
            .collect(),
        keys: KeyPair::generate(),
        environments: spec
            .environments
            .iter()
            .map(|e| {
                (
                    e.name.clone(),
                    Environment {
                        name: e.name.clone(),
                        secrets: e
                            .secrets
                            .iter()
                            .map(|s| {
                                (
                                    s.name.to_ascii_uppercase(),
                                    stored(scenario.secret_value(s), s.updated_at.as_ref()),
                                )
                            })
                            .collect(),
                        keys: KeyPair::generate(),
                        requires_approval: e.requires_approval,
                        branch_policy: match (&e.deployment_branches, e.protected_branches) {
                            (Some(patterns), _) => Some(BranchPolicy::Custom(patterns.clone())),
                            (None, true) => Some(BranchPolicy::Protected),
                            (None, false) => None,
                        },
                    },
                )
            })
            .collect(),
        variables: spec.variables.clone(),
        protection: spec.protection,
        branches: BTreeMap::new(),
        tags: spec
            .tags
            .iter()
            .map(|(name, files)| {
                let files: BTreeMap<String, File> = files
                    .iter()
                    .map(|(p, t)| (p.clone(), File::new(t.clone())))
                    .collect();
                let head = tree_sha(&files);
                (name.clone(), Branch { head, files })
            })
            .collect(),
        trees: BTreeMap::new(),
        commits: BTreeMap::new(),
        pulls: Vec::new(),
        log_filler: spec.log_filler.clone(),
    }
}
