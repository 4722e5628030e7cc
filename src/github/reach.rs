//! Which organization secrets reach a repository. One repository is answered by its own list
//! (`/repos/{repo}/actions/organization-secrets`), a request each; an owner's many repositories
//! by the organization's list, read once, with each secret's visibility and, for `selected`
//! ones, the repositories it names. That list needs more of the token (the organization's
//! Secrets: read, or `admin:org`), so without it each repository is asked as before.

use std::collections::BTreeSet;

use serde::Deserialize;
use tokio::sync::OnceCell;
use tracing::info;

use super::graphql::Discovered;
use super::repos::{Owner, Repository};
use super::secrets::SecretMeta;
use super::{Access, Client, Error};
use crate::net::url_path;

/// How a survey learns the organization secrets that reach a repository.
pub enum OrganizationSecrets {
    /// Each repository's own list.
    PerRepository,
    /// The owner is a user: no organization secret reaches its repositories.
    Unowned,
    /// The organization's list, read at the first need and shared by all its repositories.
    Listed(Box<Roster>),
}

impl OrganizationSecrets {
    /// For surveying many of `found`, all of `owner`.
    pub fn of_owner(owner: &Owner, found: &[Discovered]) -> OrganizationSecrets {
        if owner.is_organization() {
            let with_workflows = found
                .iter()
                .filter(|f| f.workflows.as_ref().is_none_or(|w| !w.is_empty()))
                .count();
            OrganizationSecrets::Listed(Box::new(Roster {
                org: owner.login.clone(),
                with_workflows,
                secrets: OnceCell::new(),
                listing: found.iter().map(|f| f.repository.clone()).collect(),
                confirmed: [OnceCell::new(), OnceCell::new()],
            }))
        } else {
            OrganizationSecrets::Unowned
        }
    }

    /// The organization secrets that reach `repository`, as its own list would give them.
    pub async fn reaching(
        &self,
        client: &Client,
        repository: &Repository,
    ) -> Result<Vec<SecretMeta>, Error> {
        match self {
            OrganizationSecrets::PerRepository => own_list(client, repository).await,
            OrganizationSecrets::Unowned => Ok(Vec::new()),
            OrganizationSecrets::Listed(roster) => roster.reaching(client, repository).await,
        }
    }
}

/// An organization's secrets, each with the repositories it reaches.
pub struct Roster {
    org: String,
    /// The owner's repositories that have workflows (or may: discovery did not list them), and
    /// so may be surveyed: at most as many requests as asking each of them costs.
    with_workflows: usize,
    /// `None` where the token may not list them.
    secrets: OnceCell<Option<Vec<Reaching>>>,
    /// The owner's repositories, in the listing's order, of which one of each kind (public,
    /// private) is the witness: the organization's plan also decides what reaches a private
    /// repository, and the token may not see the plan, so the witness is asked itself and the
    /// roster is trusted for its kind only where the two agree.
    listing: Vec<Repository>,
    /// Whether they agreed, for public `[0]` and private `[1]` repositories.
    confirmed: [OnceCell<bool>; 2],
}

struct Reaching {
    secret: SecretMeta,
    visibility: Visibility,
}

enum Visibility {
    All,
    /// Private and internal repositories.
    Private,
    Selected(BTreeSet<u64>),
}

impl Reaching {
    fn reaches(&self, repository: &Repository) -> bool {
        match &self.visibility {
            Visibility::All => true,
            Visibility::Private => repository.private,
            Visibility::Selected(ids) => ids.contains(&repository.id),
        }
    }
}

#[derive(Deserialize)]
struct RepositoryId {
    id: u64,
}

impl Roster {
    async fn reaching(
        &self,
        client: &Client,
        repository: &Repository,
    ) -> Result<Vec<SecretMeta>, Error> {
        let secrets = self
            .secrets
            .get_or_try_init(|| read_roster(client, &self.org, self.with_workflows))
            .await?;
        let Some(secrets) = secrets else {
            return own_list(client, repository).await;
        };
        let kind = usize::from(repository.private);
        let trusted = *self.confirmed[kind]
            .get_or_try_init(|| async {
                let witness =
                    witness(&self.listing, secrets, repository.private).unwrap_or(repository);
                let Some(own) = unless_refused(own_list(client, witness).await)? else {
                    return Ok(false);
                };
                let agrees = names(&own) == names(&predicted(secrets, witness));
                if !agrees {
                    info!(
                        "the organization secrets of {} differ from {}'s list of them; each repository of its kind is asked",
                        self.org, witness.full_name
                    );
                }
                Ok::<bool, Error>(agrees)
            })
            .await?;
        if trusted {
            Ok(predicted(secrets, repository))
        } else {
            own_list(client, repository).await
        }
    }
}

/// The first repository of the kind `private` in `listing` that the roster says some secret
/// reaches (a witness with none would agree with a plan that withholds them all), else the
/// first of the kind.
fn witness<'l>(
    listing: &'l [Repository],
    secrets: &[Reaching],
    private: bool,
) -> Option<&'l Repository> {
    let mut of_kind = listing.iter().filter(|r| r.private == private);
    let first = of_kind.clone().next();
    of_kind
        .find(|r| secrets.iter().any(|s| s.reaches(r)))
        .or(first)
}

/// The roster's answer for `repository`.
fn predicted(secrets: &[Reaching], repository: &Repository) -> Vec<SecretMeta> {
    secrets
        .iter()
        .filter(|s| s.reaches(repository))
        .map(|s| s.secret.clone())
        .collect()
}

fn names(list: &[SecretMeta]) -> BTreeSet<String> {
    list.iter().map(|s| s.name.to_ascii_uppercase()).collect()
}

/// The organization's secrets with whom each reaches; `None` where the token may not read
/// them, or a secret's visibility is one keyfix does not know.
async fn read_roster(
    client: &Client,
    org: &str,
    with_workflows: usize,
) -> Result<Option<Vec<Reaching>>, Error> {
    let listed = client
        .get_all::<SecretMeta>(
            &format!("/orgs/{}/actions/secrets", url_path::segment(org)),
            Some("secrets"),
            Access::ReadOrganizationSecrets,
            &format!("the secrets of organization {org}"),
        )
        .await;
    let Some(listed) = unless_refused(listed)? else {
        return Ok(None);
    };
    // Each `selected` secret's repositories are a listing of their own, and the two witnesses
    // are asked too: where that costs more than asking the repositories, they are asked.
    let listings = listed
        .iter()
        .filter(|s| s.visibility.as_deref() == Some("selected"))
        .count();
    if listings + 2 >= with_workflows {
        info!(
            "{listings} selected organization secrets against {with_workflows} repositories with workflows: each repository's organization secrets are listed on their own"
        );
        return Ok(None);
    }
    let mut roster = Vec::new();
    for secret in listed {
        let visibility = match secret.visibility.as_deref() {
            Some("all") => Visibility::All,
            Some("private") => Visibility::Private,
            Some("selected") => match selected(client, org, &secret.name).await? {
                Some(ids) => Visibility::Selected(ids),
                None => return Ok(None),
            },
            other => {
                info!(
                    "organization secret {} has visibility {other:?}; each repository's organization secrets are listed on their own",
                    secret.name
                );
                return Ok(None);
            }
        };
        roster.push(Reaching { secret, visibility });
    }
    Ok(Some(roster))
}

/// The ids of the repositories a `selected` secret names; `None` where the token may not read
/// them.
async fn selected(client: &Client, org: &str, name: &str) -> Result<Option<BTreeSet<u64>>, Error> {
    let path = format!(
        "/orgs/{}/actions/secrets/{}/repositories",
        url_path::segment(org),
        url_path::segment(name)
    );
    let listed = client
        .get_all::<RepositoryId>(
            &path,
            Some("repositories"),
            Access::ReadOrganizationSecrets,
            &format!("the repositories organization secret {name} reaches"),
        )
        .await;
    Ok(unless_refused(listed)?.map(|listed| listed.into_iter().map(|r| r.id).collect()))
}

/// `None` where the token may not read what was asked (or cannot see it): each repository is
/// then asked for its own list.
fn unless_refused<T>(result: Result<T, Error>) -> Result<Option<T>, Error> {
    match result {
        Ok(answer) => Ok(Some(answer)),
        Err(e @ (Error::Permission { .. } | Error::NotFound { .. })) => {
            info!("{e}; each repository's organization secrets are listed on their own");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The repository's own list of the organization secrets that reach it.
async fn own_list(client: &Client, repository: &Repository) -> Result<Vec<SecretMeta>, Error> {
    let repo = repository.repo_name();
    client
        .get_all(
            &format!("/repos/{repo}/actions/organization-secrets"),
            Some("secrets"),
            Access::ReadSecrets,
            &format!("the organization secrets of {repo}"),
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repository(id: u64, private: bool) -> Repository {
        Repository {
            id,
            name: format!("r{id}"),
            full_name: format!("acme/r{id}"),
            owner: Owner {
                login: "acme".into(),
                kind: "Organization".into(),
            },
            private,
            archived: false,
            default_branch: "main".into(),
        }
    }

    fn secret(name: &str, visibility: Visibility) -> Reaching {
        Reaching {
            secret: SecretMeta {
                name: name.into(),
                updated_at: None,
                visibility: None,
            },
            visibility,
        }
    }

    #[test]
    fn a_secret_reaches_by_its_visibility() {
        let roster = [
            secret("ALL", Visibility::All),
            secret("PRIVATE", Visibility::Private),
            secret("PICKED", Visibility::Selected(BTreeSet::from([2]))),
        ];
        let reached = |r: &Repository| -> Vec<String> {
            predicted(&roster, r).into_iter().map(|s| s.name).collect()
        };
        assert_eq!(reached(&repository(1, false)), ["ALL"]);
        assert_eq!(reached(&repository(2, false)), ["ALL", "PICKED"]);
        assert_eq!(reached(&repository(3, true)), ["ALL", "PRIVATE"]);
    }

    #[test]
    fn the_witness_is_the_first_of_its_kind_that_a_secret_reaches() {
        let listing: Vec<Repository> = [(1, true), (2, false), (3, true), (4, false)]
            .into_iter()
            .map(|(id, private)| repository(id, private))
            .collect();
        let id = |secrets: &[Reaching], private| witness(&listing, secrets, private).map(|r| r.id);
        let everywhere = [secret("ALL", Visibility::All)];
        assert_eq!(id(&everywhere, false), Some(2));
        assert_eq!(id(&everywhere, true), Some(1));
        let picked = [secret(
            "PICKED",
            Visibility::Selected(BTreeSet::from([3, 4])),
        )];
        assert_eq!(id(&picked, false), Some(4));
        assert_eq!(id(&picked, true), Some(3));
        assert_eq!(
            id(&[], true),
            Some(1),
            "none reached: the first of its kind"
        );
        assert!(witness(&listing[..1], &everywhere, false).is_none());
    }

    #[test]
    fn a_user_s_repositories_are_reached_by_no_organization_secret() {
        let listed = [Discovered::listed(repository(1, false))];
        let user = Owner {
            login: "alice".into(),
            kind: "User".into(),
        };
        assert!(matches!(
            OrganizationSecrets::of_owner(&user, &listed),
            OrganizationSecrets::Unowned
        ));
    }
}
