//! What each kind of request needs from the token, in the words of both token kinds and of a
//! GitHub App (`cli.md`).

/// A kind of access keyfix asks GitHub for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Repository metadata, contents, runs: everything `scan` and `check` read.
    Read,
    ReadSecrets,
    ReadEnvironmentSecrets,
    ReadOrganizationSecrets,
    WriteWorkflowFile,
    /// Dispatch a workflow, re-run jobs.
    WriteActions,
    WriteSecrets,
    WriteEnvironmentSecrets,
    WriteOrganizationSecrets,
    OpenPullRequest,
}

impl Access {
    /// What the request was for, as a person would say it.
    pub fn doing(self) -> &'static str {
        match self {
            Access::Read => "read the repository and its workflow runs",
            Access::ReadSecrets => "list the repository's secrets",
            Access::ReadEnvironmentSecrets => "list the environment's secrets",
            Access::ReadOrganizationSecrets => "read the organization's secrets",
            Access::WriteWorkflowFile => "write a workflow file",
            Access::WriteActions => "dispatch workflows or re-run jobs",
            Access::WriteSecrets => "write repository secrets",
            Access::WriteEnvironmentSecrets => "write environment secrets",
            Access::WriteOrganizationSecrets => "write organization secrets",
            Access::OpenPullRequest => "open a pull request",
        }
    }

    /// The permission of a fine-grained token or GitHub App.
    pub fn fine_grained(self) -> &'static str {
        match self {
            Access::Read => "repository permissions Metadata, Contents and Actions: read",
            Access::ReadSecrets => "repository permission Secrets: read",
            Access::ReadEnvironmentSecrets => "repository permission Environments: read",
            Access::ReadOrganizationSecrets => "organization permission Secrets: read",
            Access::WriteWorkflowFile => {
                "repository permissions Contents: write and Workflows: write"
            }
            Access::WriteActions => "repository permission Actions: write",
            Access::WriteSecrets => "repository permission Secrets: write",
            Access::WriteEnvironmentSecrets => "repository permission Environments: write",
            Access::WriteOrganizationSecrets => "organization permission Secrets: write",
            Access::OpenPullRequest => "repository permission Pull requests: write",
        }
    }

    /// The permission to grant a GitHub App, as its settings page names it.
    pub fn app_permission(self) -> &'static str {
        match self {
            Access::Read => "the Metadata, Contents and Actions: read repository permissions",
            Access::ReadSecrets => "the Secrets: read repository permission",
            Access::ReadEnvironmentSecrets => "the Environments: read repository permission",
            Access::ReadOrganizationSecrets => "the Secrets: read organization permission",
            Access::WriteWorkflowFile => {
                "the Contents: write and Workflows: write repository permissions"
            }
            Access::WriteActions => "the Actions: write repository permission",
            Access::WriteSecrets => "the Secrets: write repository permission",
            Access::WriteEnvironmentSecrets => "the Environments: write repository permission",
            Access::WriteOrganizationSecrets => "the Secrets: write organization permission",
            Access::OpenPullRequest => "the Pull requests: write repository permission",
        }
    }

    /// The scope of a classic token.
    pub fn classic(self) -> &'static str {
        match self {
            Access::ReadOrganizationSecrets | Access::WriteOrganizationSecrets => "admin:org",
            Access::WriteWorkflowFile => "workflow",
            _ => "repo",
        }
    }

    pub fn is_write(self) -> bool {
        matches!(
            self,
            Access::WriteWorkflowFile
                | Access::WriteActions
                | Access::WriteSecrets
                | Access::WriteEnvironmentSecrets
                | Access::WriteOrganizationSecrets
                | Access::OpenPullRequest
        )
    }
}
