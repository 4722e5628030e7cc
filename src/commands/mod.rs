//! One module per command: each takes its options and a [`Context`], gathers evidence through
//! the I/O modules, and returns an [`Outcome`](crate::outcome::Outcome). Nothing here prints a
//! result or exits.

pub mod check;
pub mod probe;
pub mod repo;
pub mod rotate;
pub mod scan;
pub mod validate;

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
    /// A GitHub client with the token found where `gh` would find it (exit 4 without one).
    pub fn github_client(&self) -> Result<github::Client, Failure> {
        let token = github::token::discover(&self.github.api_url).ok_or_else(|| {
            github::Error::NoToken {
                host: github::token::enterprise_host(&self.github.api_url),
            }
        })?;
        Ok(github::Client::new(self.github.clone(), token)?)
    }
}
