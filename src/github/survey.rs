//! What keyfix learns of one repository before it acts: its Claude steps, where each step's
//! secret resolves, and the model each runs. `scan`, `check`, `repo` and `rotate` all start here;
//! an owner's repositories are found here too.

use super::graphql::{self, Discovered};
use super::reach::OrganizationSecrets;
use super::repos::{self, Owner, Repository};
use super::secrets::{Resolution, ScopeIndex};
use super::workflows::{self, Analysis, Callees, ClaudeStep, ModelChoice};
use super::{Client, Error, RepoName};

pub struct Survey {
    pub repository: Repository,
    pub analysis: Analysis,
    pub scopes: ScopeIndex,
    /// The model of the repository's `.claude/settings.json`, read only when a step names none.
    pub settings_model: Option<String>,
}

impl Survey {
    /// Reads the repository, its workflows, and the secret lists its Claude steps need; `None`
    /// when no workflow uses claude-code-action.
    pub async fn read(
        client: &Client,
        repo: &RepoName,
        concurrency: usize,
    ) -> Result<Option<Survey>, Error> {
        let found = Discovered::listed(repos::get(client, repo).await?);
        let organization = OrganizationSecrets::PerRepository;
        Survey::discovered(client, found, &organization, concurrency).await
    }

    /// As [`Survey::read`], for a repository discovery found, with its workflow entries where
    /// discovery listed them, and its organization's secrets learnt through `organization`.
    pub async fn discovered(
        client: &Client,
        found: Discovered,
        organization: &OrganizationSecrets,
        concurrency: usize,
    ) -> Result<Option<Survey>, Error> {
        let repository = found.repository;
        let settings = found.settings;
        let name = repository.repo_name();
        let branch = &repository.default_branch;
        let (files, unread) = match found.workflows {
            Some(entries) => {
                repos::read_workflows(client, &name, branch, entries, concurrency).await?
            }
            None => repos::workflow_files(client, &name, branch, concurrency).await?,
        };
        let parsed = workflows::Workflows::parse(&files);
        let mut callees = Callees::new();
        for called in parsed.called() {
            let callee = repos::called_workflow(client, &called).await?;
            callees.insert(called, callee);
        }
        let mut analysis = parsed.analyze(&callees);
        analysis.warnings.splice(0..0, unread);
        if analysis.steps.is_empty() && analysis.warnings.is_empty() {
            return Ok(None);
        }
        read_settings_files(client, &name, branch, &mut analysis).await?;
        let mut environments: Vec<String> = Vec::new();
        for env in analysis.steps.iter().filter_map(|s| s.environment.clone()) {
            if !environments.contains(&env) {
                environments.push(env);
            }
        }
        let scopes = if analysis.steps.is_empty() {
            ScopeIndex::default()
        } else {
            ScopeIndex::read(client, &repository, &environments, organization).await?
        };
        let settings_model = if analysis.steps.iter().any(|s| s.model.is_none()) {
            match settings {
                Some(text) => text.as_deref().and_then(workflows::model_from_settings),
                None => repos::settings_model(client, &name, branch).await?,
            }
        } else {
            None
        };
        Ok(Some(Survey {
            repository,
            analysis,
            scopes,
            settings_model,
        }))
    }

    /// A repository without Claude workflows, for a secret named on the command line: its
    /// repository and organization secrets only.
    pub async fn bare(client: &Client, repo: &RepoName) -> Result<Survey, Error> {
        let repository = repos::get(client, repo).await?;
        let organization = OrganizationSecrets::PerRepository;
        let scopes = ScopeIndex::read(client, &repository, &[], &organization).await?;
        Ok(Survey {
            repository,
            analysis: Analysis::default(),
            scopes,
            settings_model: None,
        })
    }

    pub fn repo_name(&self) -> RepoName {
        self.repository.repo_name()
    }

    pub fn model_of(&self, step: &ClaudeStep) -> ModelChoice {
        step.effective_model(self.settings_model.as_deref())
    }

    /// Where `step`'s API-key secret resolves, for its job.
    pub fn resolution(&self, step: &ClaudeStep) -> Option<Resolution> {
        let name = step.api_key_secret.as_deref()?;
        Some(self.scopes.resolve(name, step.environment.as_deref()))
    }
}

/// An owner and its repositories as discovery found them, with what their surveys share.
pub struct OwnerRepositories {
    pub owner: Owner,
    pub found: Vec<Discovered>,
    /// Read once for all of them where the token may.
    pub organization_secrets: OrganizationSecrets,
}

/// The owner `login` and every repository of it, found through GraphQL (with their workflow
/// entries) where it answers, else through REST.
pub async fn owner_repositories(client: &Client, login: &str) -> Result<OwnerRepositories, Error> {
    let (owner, found) = match graphql::owner_repositories(client, login).await? {
        Some(found) => found,
        None => {
            let owner = repos::owner(client, login).await?;
            let listed = repos::list_for_owner(client, &owner).await?;
            (owner, listed.into_iter().map(Discovered::listed).collect())
        }
    };
    Ok(OwnerRepositories {
        organization_secrets: OrganizationSecrets::of_owner(&owner, &found),
        owner,
        found,
    })
}

/// The model of each step whose `settings:` is a file in the repository that names one.
async fn read_settings_files(
    client: &Client,
    repo: &RepoName,
    branch: &str,
    analysis: &mut Analysis,
) -> Result<(), Error> {
    for step in analysis.steps.iter_mut().filter(|s| s.model.is_none()) {
        let Some(path) = step.settings_file.clone() else {
            continue;
        };
        if let Some(model) = repos::settings_file_model(client, repo, branch, &path).await? {
            step.model = Some(ModelChoice {
                model,
                source: workflows::ModelSource::Settings,
            });
        }
    }
    Ok(())
}
