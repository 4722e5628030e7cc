//! Everything keyfix prints: human text on stdout, the JSON document, progress on stderr.

pub mod budget;
pub mod human;
pub mod json;
pub mod progress;
pub mod shown;
pub mod stderr;
pub mod summary;

pub use shown::shown;

use std::io::IsTerminal;

/// `1 public key`, `4 public keys`.
pub fn counted(n: usize, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

/// Whether to colour text: only on a terminal, and never with `NO_COLOR` set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    color: bool,
}

impl Style {
    pub fn for_stdout() -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            color: !no_color && std::io::stdout().is_terminal(),
        }
    }

    pub fn plain() -> Style {
        Style { color: false }
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    pub fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }

    pub fn good(self, text: &str) -> String {
        self.paint("1;32", text)
    }

    pub fn bad(self, text: &str) -> String {
        self.paint("1;31", text)
    }

    pub fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }
}

/// Progress lines on stderr, silenced by `-q`.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    quiet: bool,
}

impl Progress {
    pub fn new(quiet: bool) -> Progress {
        Progress { quiet }
    }

    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    pub fn step(&self, text: &str) {
        if !self.quiet {
            stderr::line(text);
        }
    }
}
