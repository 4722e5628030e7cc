//! What several commands share, composed from the I/O edges (`github`, `anthropic`, `probe`):
//! gathering the findings about a repository's key, judging a new key, readying and reading the
//! probe, the Admin API view. Commands compose these; nothing here prints a result or exits, and
//! nothing here knows which command called it.

pub mod admin;
pub mod findings;
pub mod interrupt;
pub mod new_key;
pub mod probe;
pub mod retire;

use crate::anthropic;
use crate::github;
use crate::input::Interactivity;
use crate::outcome::Failure;
use crate::output::Progress;

/// What every command needs from the command line and the environment.
pub struct Context {
    pub interactivity: Interactivity,
    pub progress: Progress,
    pub anthropic: anthropic::Config,
    pub github: github::Config,
}

impl Context {
    /// A GitHub client with the GitHub App of the environment, else the token found where `gh`
    /// would find it (exit 4 without either).
    pub fn github_client(&self) -> Result<github::Client, Failure> {
        github_client(self.github.clone())
    }
}

/// A client for `config`'s GitHub: with the GitHub App that `KEYFIX_GITHUB_APP_*` name when they
/// are set (then no token variable is read), else with the token found where `gh` would find it.
pub fn github_client(config: github::Config) -> Result<github::Client, Failure> {
    if let Some(app) = github::App::from_env()? {
        return Ok(github::Client::with_credentials(
            config,
            github::Credentials::App(app),
        )?);
    }
    let token = github::token::discover(&config.api_url).ok_or_else(|| github::Error::NoToken {
        host: github::token::enterprise_host(&config.api_url),
    })?;
    Ok(github::Client::new(config, token)?)
}
