//! GitHub, as keyfix uses it: the client (its own requests, types and retry policy),
//! token discovery, what each request needs of the token, and the pieces built on it.

pub mod access;
pub mod client;
pub mod names;
pub mod repos;
pub mod retry;
pub mod runs;
pub mod secrets;
pub mod survey;
pub mod token;
pub mod workflows;

pub use access::Access;
pub use client::{Answer, Client, Config};
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
    #[error("{what} not found, or the token cannot see it")]
    NotFound { what: String },
    #[error("{repo} is archived: its secrets and workflows cannot be changed")]
    Archived { repo: String },
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
        )
    }
}
