//! Taking a key from a person or a script: the hidden prompt, stdin, or an environment variable.
//! keyfix decides whether it may prompt before anything asks (`dialoguer` would only fail late).

use std::io::{IsTerminal, Read};

use zeroize::Zeroizing;

use crate::cli::KeyInputArgs;
use crate::key::Key;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the key is empty{0}; it was not sent anywhere")]
    Empty(&'static str),
    #[error("environment variable {0} is not set or is empty; no key was sent anywhere")]
    EnvMissing(String),
    #[error("environment variable {0} does not hold valid UTF-8 text")]
    EnvNotText(String),
    #[error("standard input is not valid UTF-8 text")]
    StdinNotText,
    #[error("could not read standard input: {0}")]
    Stdin(std::io::Error),
    #[error(
        "a key is needed and keyfix may not prompt ({why}): pass --key-stdin or --key-env VAR"
    )]
    KeyNeeded { why: &'static str },
    #[error("keyfix needs an answer and may not ask ({why})")]
    InputNeeded { why: &'static str },
    #[error("the prompt failed: {0}")]
    Prompt(String),
}

impl Error {
    /// Exit 3 when input was needed but not allowed; exit 2 for everything the caller got wrong.
    pub fn is_input_needed(&self) -> bool {
        matches!(self, Error::InputNeeded { .. } | Error::KeyNeeded { .. })
    }
}

/// Whether keyfix may ask a person anything, decided once per run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interactivity {
    Allowed,
    Refused(&'static str),
}

impl Interactivity {
    pub fn decide(no_input: bool, json: bool) -> Interactivity {
        if json {
            Interactivity::Refused("--json")
        } else if no_input {
            Interactivity::Refused("--no-input")
        } else if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
            Interactivity::Refused("no terminal")
        } else {
            Interactivity::Allowed
        }
    }
}

/// Reads the key from the source the flags name, else from the hidden prompt.
pub fn read_key(
    args: &KeyInputArgs,
    interactivity: Interactivity,
    prompt: &str,
) -> Result<Key, Error> {
    let given = key_from_flags(args)?;
    key_or_prompt(given, interactivity, prompt)
}

/// The key `--key-stdin` or `--key-env` names, read at once so that a missing one stops keyfix
/// before its first request; `None` when neither is given (the prompt asks, when needed).
pub fn key_from_flags(args: &KeyInputArgs) -> Result<Option<Key>, Error> {
    let key = if args.key_stdin {
        let mut raw = Zeroizing::new(Vec::new());
        std::io::stdin()
            .read_to_end(&mut raw)
            .map_err(Error::Stdin)?;
        let text = String::from_utf8(std::mem::take(&mut *raw)).map_err(|e| {
            let mut bytes = e.into_bytes();
            zeroize::Zeroize::zeroize(&mut bytes);
            Error::StdinNotText
        })?;
        Key::from_input(text)
    } else if let Some(var) = &args.key_env {
        let value = std::env::var_os(var).ok_or_else(|| Error::EnvMissing(var.clone()))?;
        let text = value
            .into_string()
            .map_err(|_| Error::EnvNotText(var.clone()))?;
        let key = Key::from_input(text);
        if key.is_empty() {
            return Err(Error::EnvMissing(var.clone()));
        }
        key
    } else {
        return Ok(None);
    };
    if key.is_empty() {
        return Err(Error::Empty(" (standard input held nothing)"));
    }
    Ok(Some(key))
}

/// The key read from the flags, else one typed at the hidden prompt.
pub fn key_or_prompt(
    given: Option<Key>,
    interactivity: Interactivity,
    prompt: &str,
) -> Result<Key, Error> {
    if let Some(key) = given {
        return Ok(key);
    }
    let key = match interactivity {
        Interactivity::Refused(why) => return Err(Error::KeyNeeded { why }),
        Interactivity::Allowed => prompt_hidden(prompt)?,
    };
    if key.is_empty() {
        return Err(Error::Empty(""));
    }
    Ok(key)
}

fn prompt_hidden(prompt: &str) -> Result<Key, Error> {
    let text = crate::output::stderr::suspended(|| {
        dialoguer::Password::new()
            .with_prompt(prompt)
            .allow_empty_password(true)
            .interact()
    })
    .map_err(|e| Error::Prompt(e.to_string()))?;
    Ok(Key::from_input(text))
}

/// Asks a yes/no question on the terminal; the answer defaults to no. `--yes` answers it only
/// where `yes_may_answer` (never for a key, a commit of the probe, or writes beyond the scope
/// the job reads). Without a terminal the question cannot be asked: `Err` names why.
pub fn confirm(
    interactivity: Interactivity,
    yes: bool,
    yes_may_answer: bool,
    question: &str,
) -> Result<bool, Error> {
    if yes && yes_may_answer {
        return Ok(true);
    }
    match interactivity {
        Interactivity::Refused(why) => Err(Error::InputNeeded { why }),
        Interactivity::Allowed => crate::output::stderr::suspended(|| {
            dialoguer::Confirm::new()
                .with_prompt(crate::output::shown(question))
                .default(false)
                .interact()
        })
        .map_err(|e| Error::Prompt(e.to_string())),
    }
}
