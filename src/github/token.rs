//! The GitHub token: found where `gh` would find it, and never printed.

use std::fmt;
use std::process::Command;

use secrecy::{ExposeSecret, SecretString};

/// A GitHub token. `Debug` and `Display` redact it.
#[derive(Clone)]
pub struct Token {
    value: SecretString,
    pub source: &'static str,
}

impl Token {
    pub fn new(value: String, source: &'static str) -> Token {
        Token {
            value: SecretString::from(value.trim().to_owned()),
            source,
        }
    }

    pub fn expose(&self) -> &str {
        self.value.expose_secret()
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token(redacted, from {})", self.source)
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a token from {}", self.source)
    }
}

/// The host of a GitHub Enterprise Server API URL, or `None` for github.com.
pub fn enterprise_host(api_url: &str) -> Option<String> {
    let url = url::Url::parse(api_url).ok()?;
    let host = url.host_str()?.to_owned();
    (host != "api.github.com" && host != "github.com").then_some(host)
}

/// `GH_TOKEN`, then `GITHUB_TOKEN`, then `gh auth token`; for an Enterprise Server host,
/// `GH_ENTERPRISE_TOKEN`, then `GITHUB_ENTERPRISE_TOKEN`, then `gh auth token --hostname HOST`.
pub fn discover(api_url: &str) -> Option<Token> {
    let host = enterprise_host(api_url);
    let vars: [&'static str; 2] = if host.is_some() {
        ["GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN"]
    } else {
        ["GH_TOKEN", "GITHUB_TOKEN"]
    };
    for var in vars {
        if let Some(value) = std::env::var(var).ok().filter(|v| !v.trim().is_empty()) {
            return Some(Token::new(value, var));
        }
    }
    from_gh_cli(host.as_deref())
}

fn from_gh_cli(host: Option<&str>) -> Option<Token> {
    let mut command = Command::new("gh");
    command.args(["auth", "token"]);
    if let Some(host) = host {
        command.args(["--hostname", host]);
    }
    let output = command.stdin(std::process::Stdio::null()).output().ok()?;
    let value = String::from_utf8(output.stdout).ok()?;
    (output.status.success() && !value.trim().is_empty())
        .then(|| Token::new(value, "gh auth token"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_never_prints() {
        let token = Token::new("ghp_supersecretvalue1234567890".into(), "GH_TOKEN");
        let shown = format!("{token:?} {token}");
        assert!(!shown.contains("supersecret"), "{shown}");
    }

    #[test]
    fn enterprise_hosts() {
        assert_eq!(enterprise_host("https://api.github.com"), None);
        assert_eq!(
            enterprise_host("https://ghe.example.com/api/v3").as_deref(),
            Some("ghe.example.com")
        );
    }
}
