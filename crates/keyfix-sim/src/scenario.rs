//! The world a simulator run serves, read from a TOML or JSON file (`docs/simulator.md`).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A sentence saying what this world shows; printed by `serve` and `demo`.
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub anthropic: AnthropicSettings,
    #[serde(default)]
    pub organizations: Vec<Organization>,
    #[serde(default)]
    pub keys: Vec<KeySpec>,
    #[serde(default)]
    pub faults: Vec<Fault>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AnthropicSettings {
    /// The models the API knows; any other answers 404.
    #[serde(default = "default_models")]
    pub models: Vec<String>,
    /// Added to every answer, in milliseconds.
    #[serde(default)]
    pub latency_ms: u64,
    /// The `retry-after` of an ordinary 429, in seconds.
    #[serde(default = "one")]
    pub retry_after_secs: u64,
}

impl Default for AnthropicSettings {
    fn default() -> Self {
        AnthropicSettings {
            models: default_models(),
            latency_ms: 0,
            retry_after_secs: 1,
        }
    }
}

pub fn default_models() -> Vec<String> {
    [
        "claude-haiku-4-5",
        "claude-sonnet-4-5",
        "claude-sonnet-4",
        "claude-opus-4-1",
        "claude-opus-4-5",
    ]
    .map(String::from)
    .to_vec()
}

fn one() -> u64 {
    1
}

fn yes() -> bool {
    true
}

fn four() -> u8 {
    4
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Organization {
    pub name: String,
    /// The UUID sent as `anthropic-organization-id`; derived from the name when absent.
    #[serde(default)]
    pub id: Option<String>,
    /// Whether prepaid credit remains.
    #[serde(default = "yes")]
    pub credit: bool,
    #[serde(default)]
    pub disabled: bool,
    /// The organization's own spend limit is reached until this date (`YYYY-MM-DD`).
    #[serde(default)]
    pub spend_limit_until: Option<String>,
    /// A workspace spend limit is reached until this date.
    #[serde(default)]
    pub workspace_spend_limit_until: Option<String>,
    /// The usage tier's monthly cap is reached until this date.
    #[serde(default)]
    pub tier_cap_until: Option<String>,
    /// Every request meets an ordinary rate limit (429 with `retry-after`).
    #[serde(default)]
    pub rate_limited: bool,
    /// Usage tier 1 to 4: sets the requests-per-minute limit header.
    #[serde(default = "four")]
    pub tier: u8,
    /// Models this organization's tier may not use, and how the API refuses them.
    #[serde(default)]
    pub restricted_models: BTreeMap<String, Refusal>,
}

impl Organization {
    pub fn uuid(&self) -> String {
        self.id.clone().unwrap_or_else(|| derived_uuid(&self.name))
    }

    pub fn requests_per_minute(&self) -> u64 {
        match self.tier {
            0 | 1 => 50,
            2 => 1000,
            3 => 2000,
            _ => 4000,
        }
    }
}

/// How a restricted model is refused: both forms have been reported (`diagnosis.md` §1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    CreditText,
    NotFound,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    #[default]
    Active,
    /// Authenticates, cannot bill: the credit text, while its organization has credit.
    Orphaned,
    /// Disabled in the Console: the credit text, and `inactive` in the Admin API.
    Inactive,
    Archived,
    /// 401, `expired` in the Admin API.
    Expired,
    /// 401, absent from the Admin API.
    Revoked,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    #[default]
    Api,
    Admin,
    Oauth,
}

impl CredentialKind {
    fn prefix(self) -> &'static str {
        match self {
            CredentialKind::Api => "sk-ant-api03-",
            CredentialKind::Admin => "sk-ant-admin01-",
            CredentialKind::Oauth => "sk-ant-oat01-",
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeySpec {
    pub name: String,
    /// The exact value; derived from the name (well-formed for its kind) when absent.
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub kind: CredentialKind,
    /// The organization it belongs to; a key of none is unknown to the API (401).
    #[serde(default)]
    pub organization: Option<String>,
    /// Workspace name; its `wrkspc_…` id is derived from it.
    #[serde(default)]
    pub workspace: Option<String>,
    #[serde(default)]
    pub state: KeyState,
}

impl KeySpec {
    pub fn value(&self) -> String {
        self.value
            .clone()
            .unwrap_or_else(|| derived_key(self.kind, &self.name))
    }

    pub fn workspace_id(&self) -> Option<String> {
        self.workspace
            .as_ref()
            .map(|w| format!("wrkspc_{}", &derived_chars(&format!("workspace/{w}"), 24)))
    }
}

/// A failure injected into matching requests.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// Matches requests whose path starts with this (`/v1/messages`).
    pub path: String,
    #[serde(default)]
    pub method: Option<String>,
    /// Only requests made with this key (by name).
    #[serde(default)]
    pub key: Option<String>,
    /// Only requests for this model (messages calls).
    #[serde(default)]
    pub model: Option<String>,
    /// Answer with this status and the API's error body for it.
    #[serde(default)]
    pub status: Option<u16>,
    /// Wait this long before answering.
    #[serde(default)]
    pub latency_ms: u64,
    /// How many matching requests it hits; every one when absent.
    #[serde(default)]
    pub times: Option<u32>,
    /// With a 429: the `retry-after` to send.
    #[serde(default)]
    pub retry_after_secs: Option<u64>,
}

impl Scenario {
    pub fn from_path(path: &Path) -> anyhow::Result<Scenario> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read scenario {}", path.display()))?;
        let is_json = path.extension().is_some_and(|e| e == "json");
        let scenario = if is_json {
            serde_json::from_str(&text).with_context(|| format!("scenario {}", path.display()))?
        } else {
            Scenario::from_toml(&text).with_context(|| format!("scenario {}", path.display()))?
        };
        Ok(scenario)
    }

    pub fn from_toml(text: &str) -> anyhow::Result<Scenario> {
        let scenario: Scenario = toml::from_str(text)?;
        scenario.check()?;
        Ok(scenario)
    }

    /// Rejects a world that cannot be served: unknown names, duplicate keys.
    pub fn check(&self) -> anyhow::Result<()> {
        let mut values = std::collections::HashSet::new();
        for key in &self.keys {
            if let Some(org) = &key.organization {
                if self.organization(org).is_none() {
                    bail!("key {:?} names unknown organization {org:?}", key.name);
                }
            }
            if !values.insert(key.value()) {
                bail!("key {:?} has the same value as another key", key.name);
            }
        }
        for fault in &self.faults {
            if let Some(name) = &fault.key {
                if self.key(name).is_none() {
                    bail!("a fault names unknown key {name:?}");
                }
            }
        }
        Ok(())
    }

    pub fn organization(&self, name: &str) -> Option<&Organization> {
        self.organizations.iter().find(|o| o.name == name)
    }

    pub fn key(&self, name: &str) -> Option<&KeySpec> {
        self.keys.iter().find(|k| k.name == name)
    }
}

/// The variable name `serve` exports a key's value under: `KEYFIX_SIM_KEY_<NAME>`.
pub fn key_env_name(key_name: &str) -> String {
    let upper: String = key_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("KEYFIX_SIM_KEY_{upper}")
}

const KEY_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

/// `n` characters of the key alphabet, the same for the same seed in every run.
fn derived_chars(seed: &str, n: usize) -> String {
    let mut out = String::with_capacity(n);
    let mut counter = 0u32;
    while out.len() < n {
        let digest = Sha256::digest(format!("{seed}/{counter}").as_bytes());
        out.extend(
            digest
                .iter()
                .map(|b| KEY_ALPHABET[(*b as usize) % KEY_ALPHABET.len()] as char),
        );
        counter += 1;
    }
    out.truncate(n);
    out
}

/// A well-formed value of the kind: `sk-ant-api03-` + 93 characters + `AA` for an API key.
pub fn derived_key(kind: CredentialKind, name: &str) -> String {
    let seed = format!("key/{name}");
    match kind {
        CredentialKind::Api | CredentialKind::Admin => {
            format!("{}{}AA", kind.prefix(), derived_chars(&seed, 93))
        }
        CredentialKind::Oauth => format!("{}{}", kind.prefix(), derived_chars(&seed, 95)),
    }
}

fn derived_uuid(name: &str) -> String {
    let h = hex::encode(Sha256::digest(format!("org/{name}").as_bytes()));
    format!(
        "{}-{}-4{}-8{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_are_well_formed_and_stable() {
        let api = derived_key(CredentialKind::Api, "good");
        assert_eq!(api.len(), 108);
        assert!(api.starts_with("sk-ant-api03-") && api.ends_with("AA"));
        assert_eq!(api, derived_key(CredentialKind::Api, "good"));
        assert_ne!(api, derived_key(CredentialKind::Api, "other"));
        assert_eq!(derived_key(CredentialKind::Admin, "a").len(), 110);
    }

    #[test]
    fn unknown_names_are_refused() {
        let err = Scenario::from_toml(
            r#"
            [[keys]]
            name = "k"
            organization = "nowhere"
            "#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("nowhere"), "{err}");
        assert!(Scenario::from_toml("[[keys]]\nname = \"k\"\nbogus = 1\n").is_err());
    }

    #[test]
    fn the_shipped_scenarios_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            Scenario::from_path(&path).unwrap();
            seen += 1;
        }
        assert!(seen > 0);
    }
}
