//! Names the user types: `OWNER/REPO` and secret names, checked before anything is sent.

use std::fmt;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    #[error("{0:?} is not OWNER/REPO (for example octo-org/app)")]
    Repo(String),
    #[error("{0:?} is not a valid owner name: letters, digits and single hyphens, at most 39 characters")]
    Owner(String),
    #[error("{name:?} is not a valid secret name: {why}")]
    Secret { name: String, why: &'static str },
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
    }
}
