//! One module per command: each takes its options and a [`Context`], gathers evidence through
//! the I/O modules, and returns an [`Outcome`](crate::outcome::Outcome). Nothing here prints a
//! result or exits.

pub mod validate;

use crate::anthropic;
use crate::input::Interactivity;
use crate::output::Progress;

/// What every command needs from the command line and the environment.
pub struct Context {
    pub interactivity: Interactivity,
    pub progress: Progress,
    pub anthropic: anthropic::Config,
}
