//! GitHub, as keyfix uses it: the client (its own requests, types and retry policy),
//! token discovery or GitHub App credentials, what each request needs of them, and the pieces
//! built on it.

pub mod access;
pub mod app;
pub mod cache;
pub mod client;
pub mod graphql;
pub mod logs;
pub mod names;
pub mod reach;
pub mod repos;
pub mod retry;
pub mod route;
pub mod runs;
pub mod secrets;
pub mod survey;
pub mod token;
pub mod workflows;

pub use access::Access;
pub use app::App;
pub use client::{Answer, Client, Config, Credentials};
pub use names::RepoName;
pub use token::Token;

/// Why a GitHub request did not give keyfix what it needed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no GitHub token{}", match .host {
        Some(host) => format!(" for {host}: set GH_ENTERPRISE_TOKEN (or GITHUB_ENTERPRISE_TOKEN), or log in with `gh auth login --hostname {host}`"),
        None => ": set GH_TOKEN (or GITHUB_TOKEN), or log in with `gh auth login`".to_owned(),
    })]
    NoToken { host: Option<String> },
    #[error("GitHub rejected the token from {source_name} (401 Bad credentials): it is expired, revoked or mistyped; make a new one")]
    BadCredentials { source_name: &'static str },
    #[error("the token cannot {doing}: it needs {fine_grained} (fine-grained token or GitHub App), or the {classic} scope (classic token)")]
    Permission {
        doing: &'static str,
        fine_grained: &'static str,
        classic: &'static str,
    },
    #[error("{what} not found, or {by} cannot see it")]
    NotFound { what: String, by: String },
    #[error("{repo} is archived: its secrets and workflows cannot be changed")]
    Archived { repo: String },
    #[error("{repo}'s default branch {branch} refuses direct commits (GitHub: {message}): run the probe from a throwaway branch with --probe-branch, or add it through a pull request with `keyfix probe install --pull-request {repo}`")]
    BranchProtected {
        repo: String,
        branch: String,
        message: String,
    },
    #[error("the token's GitHub rate limit is used up until {reset} (epoch seconds); wait, or use another token")]
    RateLimited { reset: u64 },
    #[error("GitHub's secondary rate limit refused the request; wait {retry_after} s and run keyfix again")]
    SecondaryLimit { retry_after: u64 },
    #[error("cannot reach GitHub at {url}: {detail}; check --github-api-url / GITHUB_API_URL and the network")]
    Unreachable { url: String, detail: String },
    #[error(transparent)]
    Certificate(crate::net::CertificateRejected),
    #[error(transparent)]
    Proxy(crate::net::ProxyError),
    #[error("GitHub answered {status} to {what}; GitHub may be having an outage (githubstatus.com): try again later")]
    Server { status: u16, what: String },
    #[error("GitHub answered {status} to {what}: {message}")]
    Unexpected {
        status: u16,
        what: String,
        message: String,
    },
    #[error(
        "the GitHub API URL {url:?} is not an http(s) URL; fix --github-api-url or GITHUB_API_URL"
    )]
    InvalidApiUrl { url: String },
    #[error("could not start the GitHub client: {0}")]
    Client(String),
    #[error("{message}")]
    AppConfig { message: String },
    #[error("the GitHub App private key from {source_name} cannot be used: {detail}; give the .pem file downloaded from the App's settings (-----BEGIN RSA PRIVATE KEY-----, or -----BEGIN PRIVATE KEY-----)")]
    AppKey { source_name: String, detail: String },
    #[error("{}", app_rejected(.app_id, .message))]
    AppRejected { app_id: String, message: String },
    #[error("{}", match .repo {
        Some(repo) => format!("the GitHub App {app_id} is not installed on {owner}/{repo} (GitHub has no installation of it that can see the repository): install the App on {owner} with access to {repo}, or check the repository's name"),
        None => format!("the GitHub App {app_id} is not installed on {owner}: install the App on {owner} with access to the repositories keyfix works on"),
    })]
    AppNotInstalled {
        app_id: String,
        owner: String,
        repo: Option<String>,
    },
    #[error("GitHub would not give an installation token for {owner} ({status} {message}): check the GitHub App's installation on {owner} (a suspended installation gets none)")]
    AppInstallation {
        owner: String,
        status: u16,
        message: String,
    },
    #[error("GitHub rejected a new installation token for {owner} (401 Bad credentials): check the GitHub App's installation on {owner}, which may have been suspended or removed")]
    InstallationTokenRejected { owner: String },
    #[error("the GitHub App's installation on {owner} cannot {doing}: grant the GitHub App {permission}, and approve the new permission on the installation in {owner}")]
    AppPermission {
        doing: &'static str,
        permission: &'static str,
        owner: String,
    },
    #[error("keyfix sends each request with the installation token of the owner its path names, and {path} names none")]
    AppUnowned { path: String },
}

/// The fix for GitHub's 401 to the App's JWT, by GitHub's message.
fn app_rejected(app_id: &str, message: &str) -> String {
    let said = format!("401 {message}");
    if message.contains("Integration not found") {
        format!("GitHub knows no App with the id {app_id} ({said}): set KEYFIX_GITHUB_APP_ID to the App ID on the App's settings page")
    } else if message.contains("('iss')") {
        format!("GitHub does not take {app_id:?} as an App id ({said}): set KEYFIX_GITHUB_APP_ID to the App ID on the App's settings page")
    } else if message.contains("could not be decoded") {
        format!("GitHub could not verify the JWT signed for the App {app_id} ({said}): the private key is not that App's; give the App's own key, or set KEYFIX_GITHUB_APP_ID to the App the key belongs to")
    } else if message.contains("('exp')") || message.contains("('iat')") {
        format!(
            "GitHub refused the App's JWT for its times ({said}): set this machine's clock right"
        )
    } else {
        format!("GitHub refused the JWT of the GitHub App {app_id} ({said}): check KEYFIX_GITHUB_APP_ID and the App's private key")
    }
}

impl Error {
    /// No answer came, or a server error did: a write may or may not have been carried out.
    pub fn answer_lost(&self) -> bool {
        matches!(self, Error::Unreachable { .. } | Error::Server { .. })
    }

    /// Whether this is about the token or the repository (exit 4) rather than the network or
    /// GitHub's health (exit 1).
    pub fn is_access(&self) -> bool {
        matches!(
            self,
            Error::NoToken { .. }
                | Error::BadCredentials { .. }
                | Error::Permission { .. }
                | Error::NotFound { .. }
                | Error::Archived { .. }
                | Error::BranchProtected { .. }
                | Error::AppConfig { .. }
                | Error::AppKey { .. }
                | Error::AppRejected { .. }
                | Error::AppNotInstalled { .. }
                | Error::AppInstallation { .. }
                | Error::InstallationTokenRejected { .. }
                | Error::AppPermission { .. }
        )
    }
}
