//! Names checked before anything is sent: `OWNER/REPO` and secret names the user types, and the
//! names a workflow file gives (secrets, environments, runner labels, models), which anyone with
//! push access chose. A name GitHub or Anthropic would not accept is reported, never written into
//! the probe, a dispatch input or a request path.

use std::fmt;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    #[error("{0:?} is not OWNER/REPO (for example octo-org/app)")]
    Repo(String),
    #[error("{0:?} is not a valid owner name: letters, digits and single hyphens, at most 39 characters")]
    Owner(String),
    #[error("{name:?} is not a valid secret name: {why}")]
    Secret { name: String, why: &'static str },
    #[error("\"{name}\" is not an environment name GitHub accepts: {why}")]
    Environment { name: String, why: &'static str },
    #[error("\"{name}\" is not a runner label GitHub accepts: {why}")]
    RunnerLabel { name: String, why: &'static str },
    #[error("\"{name}\" is not a model name the Anthropic API accepts: {why}")]
    Model { name: String, why: &'static str },
}

/// GitHub's limit on an environment's name.
const ENVIRONMENT_MAX_CHARS: usize = 255;
/// The longest runner label keyfix copies into the probe.
const LABEL_MAX_CHARS: usize = 256;
/// The longest model name keyfix sends; the API's ids (Bedrock ARNs included) are far shorter.
const MODEL_MAX_CHARS: usize = 256;

/// Why a name from a workflow (or the command line) cannot be used as it is: a control
/// character, an expression that only a run can evaluate, or an empty or overlong name.
fn text_problem(name: &str, max_chars: usize) -> Option<&'static str> {
    if name.trim().is_empty() {
        Some("it is empty")
    } else if name.chars().any(char::is_control) {
        Some("it holds a control character")
    } else if name.contains("${{") {
        Some("it is an expression, which only a run can evaluate")
    } else if name.trim() != name {
        Some("it has whitespace around it")
    } else if name.chars().count() > max_chars {
        Some("it is too long")
    } else {
        None
    }
}

/// An environment name as GitHub takes it: at most 255 characters, none of them a control
/// character. Quotes, `#`, `:` and `/` are allowed: the probe quotes the name and request paths
/// encode it.
pub fn check_environment(name: &str) -> Result<(), NameError> {
    match text_problem(name, ENVIRONMENT_MAX_CHARS) {
        None => Ok(()),
        Some(why) => Err(NameError::Environment {
            name: name.to_owned(),
            why,
        }),
    }
}

/// A runner label (or runner group) to copy into the probe's `runs-on:`.
pub fn check_runner_label(name: &str) -> Result<(), NameError> {
    match text_problem(name, LABEL_MAX_CHARS) {
        None => Ok(()),
        Some(why) => Err(NameError::RunnerLabel {
            name: name.to_owned(),
            why,
        }),
    }
}

/// A model name as the Anthropic API (and Bedrock, Vertex and Claude Code's aliases) spell one:
/// ASCII letters, digits and `-._:@/[]` (`claude-sonnet-4-5`, `sonnet[1m]`,
/// `claude-3-5-sonnet-v2@20241022`, `us.anthropic.claude-sonnet-4-5-v1:0`).
pub fn check_model(name: &str) -> Result<(), NameError> {
    let fail = |why| {
        Err(NameError::Model {
            name: name.to_owned(),
            why,
        })
    };
    if let Some(why) = text_problem(name, MODEL_MAX_CHARS) {
        return fail(why);
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-._:@/[]".contains(c);
    if !name.chars().all(allowed) {
        return fail("only ASCII letters, digits and -._:@/[] are allowed");
    }
    Ok(())
}

/// A repository, `owner/name`, as GitHub spells it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoName {
    pub owner: String,
    pub name: String,
}

impl RepoName {
    /// Accepts `owner/name`, and the same with `https://github.com/` before it or `.git` after it.
    pub fn parse(text: &str) -> Result<RepoName, NameError> {
        let bad = || NameError::Repo(text.to_owned());
        let trimmed = text.trim();
        let trimmed = ["https://github.com/", "http://github.com/", "github.com/"]
            .iter()
            .find_map(|p| trimmed.strip_prefix(p))
            .unwrap_or(trimmed);
        let trimmed = trimmed.trim_end_matches('/');
        let trimmed = trimmed.strip_suffix(".git").unwrap_or(trimmed);
        let (owner, name) = trimmed.split_once('/').ok_or_else(bad)?;
        if !is_owner(owner) || !is_repo(name) {
            return Err(bad());
        }
        Ok(RepoName {
            owner: owner.to_owned(),
            name: name.to_owned(),
        })
    }
}

impl serde::Serialize for RepoName {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for RepoName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        RepoName::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// GitHub's rule for user and organization names.
pub fn is_owner(owner: &str) -> bool {
    !owner.is_empty()
        && owner.len() <= 39
        && !owner.starts_with('-')
        && !owner.ends_with('-')
        && !owner.contains("--")
        && owner.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

pub fn parse_owner(owner: &str) -> Result<String, NameError> {
    if is_owner(owner) {
        Ok(owner.to_owned())
    } else {
        Err(NameError::Owner(owner.to_owned()))
    }
}

fn is_repo(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A secret name as GitHub stores it: upper-case `[A-Z0-9_]`, not starting with a digit or
/// `GITHUB_`.
pub fn parse_secret_name(name: &str) -> Result<String, NameError> {
    let fail = |why| {
        Err(NameError::Secret {
            name: name.to_owned(),
            why,
        })
    };
    if name.is_empty() {
        return fail("it is empty");
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return fail("only letters, digits and _ are allowed");
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        return fail("it may not start with a digit");
    }
    let upper = name.to_ascii_uppercase();
    if upper.starts_with("GITHUB_") {
        return fail("names starting with GITHUB_ are reserved");
    }
    Ok(upper)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_names() {
        let ok = RepoName::parse("octo-org/app.web_1").unwrap();
        assert_eq!(ok.to_string(), "octo-org/app.web_1");
        assert_eq!(
            RepoName::parse("https://github.com/octo-org/app.git").unwrap(),
            RepoName::parse("octo-org/app").unwrap()
        );
        for bad in [
            "app",
            "/app",
            "octo/",
            "octo/app/extra",
            "-octo/app",
            "octo--org/app",
            "octo/..",
            "oc to/app",
        ] {
            assert!(RepoName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secret_names() {
        assert_eq!(
            parse_secret_name("anthropic_api_key").unwrap(),
            "ANTHROPIC_API_KEY"
        );
        assert!(parse_secret_name("GITHUB_TOKEN").is_err());
        assert!(parse_secret_name("1KEY").is_err());
        assert!(parse_secret_name("MY-KEY").is_err());
        assert!(parse_secret_name("").is_err());
        assert!(parse_secret_name("X }}\n  evil: ${{ github.token").is_err());
    }

    #[test]
    fn names_from_workflows() {
        for good in ["prod", "prod/eu west", "it's #1: \"quoted\"", "ünïcode"] {
            assert!(check_environment(good).is_ok(), "{good}");
        }
        for bad in ["", " prod", "prod\n", "pr\u{1b}[2Jod", "${{ inputs.env }}"] {
            assert!(check_environment(bad).is_err(), "{bad:?}");
        }
        assert!(check_environment(&"e".repeat(256)).is_err());
        assert!(check_runner_label("self-hosted").is_ok());
        assert!(check_runner_label("linux\u{7}").is_err());
        for good in [
            "claude-sonnet-4-5",
            "sonnet[1m]",
            "claude-3-5-sonnet-v2@20241022",
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude",
        ] {
            assert!(check_model(good).is_ok(), "{good}");
        }
        for bad in [
            "claude-\u{1b}[2Jsonnet",
            "claude sonnet",
            "claude?x=1",
            "clàude",
            "",
        ] {
            assert!(check_model(bad).is_err(), "{bad:?}");
        }
    }
}
