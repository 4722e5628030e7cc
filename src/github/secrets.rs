//! Where a secret name is defined for a repository (environment, repository, organization),
//! which definition a job reads, and writing a new value into exactly that scope.

use std::fmt;

use base64::Engine;
use crypto_box::aead::OsRng;
use http::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::reach::OrganizationSecrets;
use super::repos::Repository;
use super::{Access, Client, Error, RepoName};
use crate::key::Key;
use crate::net::url_path;

/// A level at which a secret can be defined.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    Environment(String),
    Repository,
    Organization,
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Environment(name) => write!(f, "environment:{name}"),
            Scope::Repository => f.write_str("repository"),
            Scope::Organization => f.write_str("organization"),
        }
    }
}

impl Serialize for Scope {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl std::str::FromStr for Scope {
    type Err = String;

    fn from_str(text: &str) -> Result<Scope, String> {
        match text {
            "repository" => Ok(Scope::Repository),
            "organization" => Ok(Scope::Organization),
            _ => text
                .strip_prefix("environment:")
                .map(|env| Scope::Environment(env.to_owned()))
                .ok_or_else(|| format!("{text:?} is not a secret scope")),
        }
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct SecretMeta {
    pub name: String,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub visibility: Option<String>,
}

/// Where one name is defined for one job, and what the job reads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Resolution {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Every level that defines the name and that this job could see, highest first.
    pub defined: Vec<(Scope, Option<String>)>,
    /// The level the job reads: the highest that defines the name. `None`: defined nowhere.
    pub reads: Option<Scope>,
    /// The other levels, hidden under the one read (stale copies, often).
    pub shadows: Vec<Scope>,
}

impl Resolution {
    /// When the name was last updated in `scope`; `None` where it is not defined there.
    pub fn updated_at(&self, scope: &Scope) -> Option<&str> {
        self.defined
            .iter()
            .find(|(defined, _)| defined == scope)
            .and_then(|(_, updated)| updated.as_deref())
    }
}

/// The secret lists of one repository: its own, its environments', and the organization's
/// that reach it.
#[derive(Clone, Debug, Default)]
pub struct ScopeIndex {
    pub repository: Vec<SecretMeta>,
    pub organization: Vec<SecretMeta>,
    pub environments: Vec<(String, Option<Vec<SecretMeta>>)>,
}

impl ScopeIndex {
    /// Every secret name the lists hold, once each, sorted.
    pub fn names(&self) -> Vec<String> {
        let environments = self
            .environments
            .iter()
            .flat_map(|(_, list)| list.iter().flatten());
        let mut names: Vec<String> = self
            .repository
            .iter()
            .chain(&self.organization)
            .chain(environments)
            .map(|s| s.name.clone())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Reads the lists a resolution for `environments` needs, learning the organization's
    /// through `organization`.
    pub async fn read(
        client: &Client,
        repository: &Repository,
        environments: &[String],
        organization: &OrganizationSecrets,
    ) -> Result<ScopeIndex, Error> {
        let repo = &repository.repo_name();
        let own = client
            .get_all(
                &format!("/repos/{repo}/actions/secrets"),
                Some("secrets"),
                Access::ReadSecrets,
                &format!("the secrets of {repo}"),
            )
            .await?;
        let organization = organization.reaching(client, repository).await?;
        let mut envs = Vec::new();
        for env in environments {
            let path = format!(
                "/repos/{repo}/environments/{}/secrets",
                url_path::segment(env)
            );
            // An environment the job names but the repository lacks has no secrets: GitHub
            // creates it empty on the first run.
            let listed = match client
                .get_all(
                    &path,
                    Some("secrets"),
                    Access::ReadEnvironmentSecrets,
                    &format!("environment {env} of {repo}"),
                )
                .await
            {
                Ok(list) => Some(list),
                Err(Error::NotFound { .. }) => None,
                Err(e) => return Err(e),
            };
            envs.push((env.clone(), listed));
        }
        Ok(ScopeIndex {
            repository: own,
            organization,
            environments: envs,
        })
    }

    /// Which definition of `name` a job in `environment` reads (environment > repository >
    /// organization), and which it shadows.
    pub fn resolve(&self, name: &str, environment: Option<&str>) -> Resolution {
        let find = |list: &[SecretMeta]| {
            list.iter()
                .find(|s| s.name.eq_ignore_ascii_case(name))
                .map(|s| s.updated_at.clone())
        };
        let mut defined = Vec::new();
        if let Some(env) = environment {
            let listed = self
                .environments
                .iter()
                .find(|(e, _)| e == env)
                .and_then(|(_, list)| list.as_deref());
            if let Some(updated) = listed.and_then(find) {
                defined.push((Scope::Environment(env.to_owned()), updated));
            }
        }
        if let Some(updated) = find(&self.repository) {
            defined.push((Scope::Repository, updated));
        }
        if let Some(updated) = find(&self.organization) {
            defined.push((Scope::Organization, updated));
        }
        let reads = defined.first().map(|(scope, _)| scope.clone());
        let shadows = defined
            .iter()
            .skip(1)
            .map(|(scope, _)| scope.clone())
            .collect();
        Resolution {
            name: name.to_ascii_uppercase(),
            environment: environment.map(str::to_owned),
            defined,
            reads,
            shadows,
        }
    }
}

#[derive(Deserialize)]
struct PublicKey {
    key_id: String,
    key: String,
}

/// `crypto_box_seal(value, public_key)`, base64: what GitHub's `encrypted_value` holds.
pub fn seal(public_key_base64: &str, value: &[u8]) -> Result<String, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(public_key_base64)
        .map_err(|_| "the public key is not base64".to_owned())?;
    let key = crypto_box::PublicKey::from_slice(&bytes)
        .map_err(|_| "the public key is not 32 bytes".to_owned())?;
    let sealed = key
        .seal(&mut OsRng, value)
        .map_err(|_| "sealing failed".to_owned())?;
    Ok(base64::engine::general_purpose::STANDARD.encode(sealed))
}

/// What an upload did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Written {
    Created,
    Updated,
}

/// Why an upload did not finish, and so what the secret holds now.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// GitHub refused the write, or its record shows that a write whose answer was lost did not
    /// land: the secret is unchanged.
    #[error("{0}; the secret was not changed")]
    Refused(Error),
    /// No answer, or a server error: the write may or may not have happened.
    #[error("{0}; the secret holds either the old or the new key, and keyfix does not repeat a write blindly: run the command again to check and finish")]
    Unknown(Error),
}

impl UploadError {
    pub fn inner(&self) -> &Error {
        match self {
            UploadError::Refused(e) | UploadError::Unknown(e) => e,
        }
    }
}

/// The paths of a scope's public key and of a secret in it.
fn scope_paths(repo: &RepoName, scope: &Scope, name: &str) -> (String, String, Access, Access) {
    match scope {
        Scope::Repository => (
            format!("/repos/{repo}/actions/secrets/public-key"),
            format!("/repos/{repo}/actions/secrets/{name}"),
            Access::ReadSecrets,
            Access::WriteSecrets,
        ),
        Scope::Environment(env) => (
            format!(
                "/repos/{repo}/environments/{}/secrets/public-key",
                url_path::segment(env)
            ),
            format!(
                "/repos/{repo}/environments/{}/secrets/{name}",
                url_path::segment(env)
            ),
            Access::ReadEnvironmentSecrets,
            Access::WriteEnvironmentSecrets,
        ),
        Scope::Organization => (
            format!("/orgs/{}/actions/secrets/public-key", repo.owner),
            format!("/orgs/{}/actions/secrets/{name}", repo.owner),
            Access::ReadOrganizationSecrets,
            Access::WriteOrganizationSecrets,
        ),
    }
}

#[derive(Deserialize)]
struct SelectedRepo {
    id: u64,
}

/// The visibility and selection of an organization secret, to send back unchanged.
async fn org_secret_settings(
    client: &Client,
    org: &str,
    name: &str,
) -> Result<serde_json::Value, Error> {
    let what = format!("organization secret {name} of {org}");
    let meta: Option<SecretMeta> = client
        .get_optional(
            &format!("/orgs/{org}/actions/secrets/{name}"),
            Access::ReadOrganizationSecrets,
            &what,
        )
        .await?;
    let visibility = meta
        .and_then(|m| m.visibility)
        .unwrap_or_else(|| "private".to_owned());
    if visibility != "selected" {
        return Ok(json!({"visibility": visibility}));
    }
    let selected: Vec<SelectedRepo> = client
        .get_all(
            &format!("/orgs/{org}/actions/secrets/{name}/repositories"),
            Some("repositories"),
            Access::ReadOrganizationSecrets,
            &what,
        )
        .await?;
    let ids: Vec<u64> = selected.into_iter().map(|r| r.id).collect();
    Ok(json!({"visibility": "selected", "selected_repository_ids": ids}))
}

/// Everything a write needs but the key: the scope's public key, and for an organization
/// secret its visibility and selection to send back unchanged. Fetched once per scope.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub repo: RepoName,
    pub scope: Scope,
    pub name: String,
    key_id: String,
    public_key: String,
    settings: serde_json::Value,
}

/// Reads what a write to `scope` needs (reads only: safe to repeat).
pub async fn prepare(
    client: &Client,
    repo: &RepoName,
    scope: &Scope,
    name: &str,
) -> Result<Prepared, Error> {
    let (key_path, _, read, _) = scope_paths(repo, scope, name);
    let what = format!("secret {name} ({scope}) of {repo}");
    let public: PublicKey = client.get(&key_path, read, &what).await?;
    let settings = match scope {
        Scope::Organization => org_secret_settings(client, &repo.owner, name).await?,
        _ => json!({}),
    };
    Ok(Prepared {
        repo: repo.clone(),
        scope: scope.clone(),
        name: name.to_owned(),
        key_id: public.key_id,
        public_key: public.key,
        settings,
    })
}

/// Seals `key` and sends the write once: a 5xx or a lost connection is reported as an unknown
/// state, never repeated.
pub async fn put(client: &Client, prepared: &Prepared, key: &Key) -> Result<Written, UploadError> {
    let (_, secret_path, _, write) = scope_paths(&prepared.repo, &prepared.scope, &prepared.name);
    let what = format!(
        "secret {} ({}) of {}",
        prepared.name, prepared.scope, prepared.repo
    );
    let sealed =
        seal(&prepared.public_key, key.expose_for_request().as_bytes()).map_err(|message| {
            UploadError::Refused(Error::Unexpected {
                status: 200,
                what: what.clone(),
                message,
            })
        })?;
    let mut body = prepared.settings.clone();
    body["encrypted_value"] = json!(sealed);
    body["key_id"] = json!(prepared.key_id);
    let answer = client
        .send(Method::PUT, &secret_path, Some(&body), &[])
        .await
        .map_err(UploadError::Unknown)?;
    match answer.status {
        201 => Ok(Written::Created),
        204 | 200 => Ok(Written::Updated),
        status if status >= 500 => Err(UploadError::Unknown(
            client.error_for(&answer, write, &what),
        )),
        _ => Err(UploadError::Refused(
            client.error_for(&answer, write, &what),
        )),
    }
}

/// [`put`], where a write whose answer was lost is looked up before it is called unknown:
/// GitHub's `updated_at` against `before` (the secret's, read before the write; `None` where it
/// did not exist) says whether it landed. The write itself is never sent again.
pub async fn put_settled(
    client: &Client,
    prepared: &Prepared,
    key: &Key,
    before: Option<&str>,
) -> Result<Written, UploadError> {
    let error = match put(client, prepared, key).await {
        Err(UploadError::Unknown(error)) => error,
        other => return other,
    };
    let (repo, scope, name) = (&prepared.repo, &prepared.scope, &prepared.name);
    match landed(client, repo, scope, name, before).await {
        Ok(true) if before.is_some() => Ok(Written::Updated),
        Ok(true) => Ok(Written::Created),
        // GitHub's own record says the write did not land: the secret is unchanged.
        Ok(false) => Err(UploadError::Refused(error)),
        Err(_) => Err(UploadError::Unknown(error)),
    }
}

/// Seals `key` with the public key of exactly `scope` and writes it under `name`.
pub async fn upload(
    client: &Client,
    repo: &RepoName,
    scope: &Scope,
    name: &str,
    key: &Key,
) -> Result<Written, UploadError> {
    let prepared = prepare(client, repo, scope, name)
        .await
        .map_err(UploadError::Refused)?;
    put(client, &prepared, key).await
}

/// Whether a write whose answer was lost (no answer, or a server error) landed: GitHub's
/// `updated_at` of the secret now, against the one it had before the write (`None`: the secret
/// did not exist). A read, so it is safe where sending the write again is not.
async fn landed(
    client: &Client,
    repo: &RepoName,
    scope: &Scope,
    name: &str,
    before: Option<&str>,
) -> Result<bool, Error> {
    let (_, secret_path, read, _) = scope_paths(repo, scope, name);
    let now: Option<SecretMeta> = client
        .get_optional(
            &secret_path,
            read,
            &format!("secret {name} ({scope}) of {repo}"),
        )
        .await?;
    Ok(now.is_some_and(|meta| meta.updated_at.is_some() && meta.updated_at.as_deref() != before))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(name: &str) -> SecretMeta {
        SecretMeta {
            name: name.to_owned(),
            updated_at: Some("2026-01-01T00:00:00Z".to_owned()),
            visibility: None,
        }
    }

    #[test]
    fn environment_beats_repository_beats_organization() {
        let index = ScopeIndex {
            repository: vec![meta("ANTHROPIC_API_KEY")],
            organization: vec![meta("ANTHROPIC_API_KEY")],
            environments: vec![("prod".into(), Some(vec![meta("ANTHROPIC_API_KEY")]))],
        };
        let r = index.resolve("anthropic_api_key", Some("prod"));
        assert_eq!(r.reads, Some(Scope::Environment("prod".into())));
        assert_eq!(r.shadows, [Scope::Repository, Scope::Organization]);
        let r = index.resolve("ANTHROPIC_API_KEY", None);
        assert_eq!(r.reads, Some(Scope::Repository));
        assert_eq!(r.shadows, [Scope::Organization]);
        let r = index.resolve("OTHER", None);
        assert_eq!(r.reads, None);
        assert!(r.defined.is_empty());
    }

    #[test]
    fn a_job_without_its_environment_secret_falls_back() {
        let index = ScopeIndex {
            repository: vec![],
            organization: vec![meta("K")],
            environments: vec![("prod".into(), None)],
        };
        let r = index.resolve("K", Some("prod"));
        assert_eq!(r.reads, Some(Scope::Organization));
        assert!(r.shadows.is_empty());
    }

    #[test]
    fn scopes_print_as_the_json_names() {
        assert_eq!(
            Scope::Environment("prod".into()).to_string(),
            "environment:prod"
        );
        assert_eq!(
            serde_json::to_value(Scope::Organization).unwrap(),
            "organization"
        );
    }

    #[test]
    fn a_sealed_box_opens_with_the_private_key() {
        let secret = crypto_box::SecretKey::generate(&mut OsRng);
        let public =
            base64::engine::general_purpose::STANDARD.encode(secret.public_key().as_bytes());
        let sealed = seal(&public, b"value").unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(sealed)
            .unwrap();
        assert_eq!(bytes.len(), 5 + 48);
        assert_eq!(secret.unseal(&bytes).unwrap(), b"value");
        assert!(seal("not base64!", b"v").is_err());
    }
}
