//! Discovery through GitHub's GraphQL API: an owner's repositories with, in the same query, each
//! one's default branch, archived flag, the entries of `.github/workflows` with their text and
//! `.claude/settings.json`, a page of repositories per query. What GraphQL does not give whole (a blob it truncates, a binary
//! one, a file too large) is read through REST as before, and so are secrets, environments and
//! public keys, which GraphQL has no form of.
//!
//! Where GraphQL cannot be used (a server or proxy without `/graphql`, an answer keyfix cannot
//! read, any error but a rate limit) discovery falls back to REST for the same facts: `None`.

use serde::Deserialize;
use serde_json::json;
use tracing::{debug, info};

use super::repos::{self, DirEntry, Owner, Repository};
use super::{Client, Error};

/// Repositories per query: with their workflow texts, a page of 100 makes an answer of many
/// megabytes that GitHub may time out on; 50 keeps a query at 1 point and its answer moderate.
pub const PAGE_SIZE: u64 = 50;

const OWNER_REPOSITORIES: &str = r#"
query OwnerRepositories($login: String!, $first: Int!, $after: String) {
  rateLimit { cost remaining resetAt }
  repositoryOwner(login: $login) {
    __typename
    login
    repositories(first: $first, after: $after, ownerAffiliations: [OWNER]) {
      pageInfo { hasNextPage endCursor }
      nodes {
        databaseId
        name
        nameWithOwner
        isPrivate
        isArchived
        owner { __typename login }
        defaultBranchRef { name }
        workflows: object(expression: "HEAD:.github/workflows") {
          ... on Tree {
            entries {
              name
              type
              mode
              object { ... on Blob { byteSize isBinary isTruncated text } }
            }
          }
        }
        settings: object(expression: "HEAD:.claude/settings.json") {
          ... on Blob { byteSize isBinary isTruncated text }
        }
      }
    }
  }
}
"#;

/// A repository as discovery found it: `workflows` are the entries of `.github/workflows` (with
/// the text of each file GraphQL gave whole), `None` where REST is to list them; `settings` is the
/// text of `.claude/settings.json` (`Some(None)`: there is none), `None` where REST is to read it.
pub struct Discovered {
    pub repository: Repository,
    pub workflows: Option<Vec<DirEntry>>,
    pub settings: Option<Option<String>>,
}

impl Discovered {
    /// A repository REST listed: everything else is read through REST too.
    pub fn listed(repository: Repository) -> Discovered {
        Discovered {
            repository,
            workflows: None,
            settings: None,
        }
    }
}

#[derive(Deserialize)]
struct Answer<T> {
    data: Option<T>,
    #[serde(default)]
    errors: Vec<QueryError>,
}

#[derive(Deserialize)]
struct QueryError {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OwnerData {
    rate_limit: Option<RateLimit>,
    repository_owner: Option<OwnerNode>,
}

#[derive(Deserialize)]
struct RateLimit {
    cost: u64,
    remaining: u64,
}

#[derive(Deserialize)]
struct OwnerNode {
    #[serde(rename = "__typename")]
    typename: String,
    login: String,
    repositories: Connection,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Connection {
    page_info: PageInfo,
    nodes: Vec<RepoNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    has_next_page: bool,
    end_cursor: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RepoNode {
    database_id: u64,
    name: String,
    name_with_owner: String,
    is_private: bool,
    is_archived: bool,
    owner: OwnerRef,
    default_branch_ref: Option<BranchRef>,
    workflows: Option<TreeNode>,
    settings: Option<BlobNode>,
}

#[derive(Deserialize)]
struct OwnerRef {
    #[serde(rename = "__typename")]
    typename: String,
    login: String,
}

#[derive(Deserialize)]
struct BranchRef {
    name: String,
}

/// `.github/workflows` when it is a tree; `{}` (no entries) when the path is a file.
#[derive(Deserialize)]
struct TreeNode {
    #[serde(default)]
    entries: Option<Vec<EntryNode>>,
}

#[derive(Deserialize)]
struct EntryNode {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    mode: u32,
    object: Option<BlobNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlobNode {
    byte_size: Option<u64>,
    #[serde(default)]
    is_binary: bool,
    #[serde(default)]
    is_truncated: bool,
    text: Option<String>,
}

/// A symbolic link's mode: GitHub's Contents API follows it, so its target is read through REST.
const SYMLINK_MODE: u32 = 0o120000;

/// Every repository of `login` with its workflow entries, in pages of [`PAGE_SIZE`]; `None`
/// where GraphQL cannot tell (REST is then asked the same).
pub async fn owner_repositories(
    client: &Client,
    login: &str,
) -> Result<Option<(Owner, Vec<Discovered>)>, Error> {
    let mut owner = None;
    let mut found = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let variables = json!({"login": login, "first": PAGE_SIZE, "after": after});
        let Some(data) = query::<OwnerData>(client, login, OWNER_REPOSITORIES, variables).await?
        else {
            return Ok(None);
        };
        if let Some(rate) = &data.rate_limit {
            client.note_graphql_cost(rate.cost, rate.remaining);
        }
        let Some(node) = data.repository_owner else {
            // No such owner, or none the credential sees: REST says which, in its words.
            return Ok(None);
        };
        owner.get_or_insert_with(|| Owner {
            login: node.login.clone(),
            kind: node.typename.clone(),
        });
        let page = node.repositories;
        found.extend(page.nodes.into_iter().map(discovered));
        match page.page_info.end_cursor {
            Some(cursor) if page.page_info.has_next_page => after = Some(cursor),
            _ => break,
        }
    }
    Ok(owner.map(|owner| (owner, found)))
}

/// One query's `data`; `None` where discovery is to fall back to REST. A rate limit, and a
/// credential GitHub refuses, are errors as they would be through REST.
async fn query<T: serde::de::DeserializeOwned>(
    client: &Client,
    owner: &str,
    text: &str,
    variables: serde_json::Value,
) -> Result<Option<T>, Error> {
    let answer = match client.graphql(owner, text, variables).await {
        Ok(answer) => answer,
        Err(e) if e.answer_lost() => {
            info!("GitHub's GraphQL API gave no answer ({e}); reading through REST");
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    if !answer.is_success() {
        let error = client.error_for(&answer, super::Access::Read, "a GraphQL query");
        return match error {
            Error::RateLimited { .. } | Error::SecondaryLimit { .. } => Err(error),
            Error::BadCredentials { .. } | Error::InstallationTokenRejected { .. } => Err(error),
            other => {
                info!(
                    "GitHub's GraphQL API answered {}: {other}; reading through REST",
                    answer.status
                );
                Ok(None)
            }
        };
    }
    let parsed: Answer<T> = match answer.json("a GraphQL answer") {
        Ok(parsed) => parsed,
        Err(e) => {
            info!("{e}; reading through REST");
            return Ok(None);
        }
    };
    if let Some(limited) = parsed
        .errors
        .iter()
        .find(|e| e.kind.as_deref() == Some("RATE_LIMITED"))
    {
        debug!("GraphQL: {}", limited.message);
        let reset = answer
            .header("x-ratelimit-reset")
            .and_then(|r| r.parse().ok())
            .unwrap_or_default();
        return Err(Error::RateLimited { reset });
    }
    if let Some(error) = parsed.errors.first() {
        info!(
            "GitHub's GraphQL API answered an error ({}: {}); reading through REST",
            error.kind.as_deref().unwrap_or("error"),
            error.message
        );
        return Ok(None);
    }
    Ok(parsed.data)
}

fn discovered(node: RepoNode) -> Discovered {
    let (default_branch, workflows) = match node.default_branch_ref {
        Some(branch) => {
            let listed = entries(node.workflows);
            // As many files as the Contents API lists of a directory: REST reads it, and says
            // which were left out, as it would have without GraphQL.
            let whole = listed.len() < repos::DIRECTORY_LISTING_MAX;
            (branch.name, whole.then_some(listed))
        }
        // An empty repository has no branch, and so no workflows.
        None => ("main".to_owned(), Some(Vec::new())),
    };
    let settings = match node.settings {
        None => Some(None),
        Some(blob) if !blob.is_binary && !blob.is_truncated => blob.text.map(Some),
        Some(_) => None,
    };
    Discovered {
        repository: Repository {
            id: node.database_id,
            name: node.name,
            full_name: node.name_with_owner,
            owner: Owner {
                login: node.owner.login,
                kind: node.owner.typename,
            },
            private: node.is_private,
            archived: node.is_archived,
            default_branch,
        },
        workflows,
        settings,
    }
}

/// The entries of `.github/workflows` as the Contents API lists them: a file's text kept where
/// GraphQL gave it whole (not truncated, not binary), else left to be read through REST.
fn entries(tree: Option<TreeNode>) -> Vec<DirEntry> {
    let Some(entries) = tree.and_then(|t| t.entries) else {
        return Vec::new();
    };
    entries
        .into_iter()
        .map(|entry| {
            let blob = entry.object.filter(|_| entry.kind == "blob");
            let symlink = entry.mode == SYMLINK_MODE;
            let kind = match entry.kind.as_str() {
                "blob" => "file",
                "tree" => "dir",
                "commit" => "submodule",
                other => other,
            };
            let size = blob.as_ref().and_then(|b| b.byte_size).unwrap_or_default();
            let text = blob
                .filter(|b| !b.is_binary && !b.is_truncated && !symlink)
                .and_then(|b| b.text);
            DirEntry {
                kind: kind.to_owned(),
                path: format!(".github/workflows/{}", entry.name),
                size,
                text,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, kind: &str, mode: u32, blob: Option<serde_json::Value>) -> EntryNode {
        let value = json!({"name": name, "type": kind, "mode": mode, "object": blob});
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn only_whole_text_is_kept_and_the_rest_is_left_to_rest() {
        let text = |t: &str, truncated: bool, binary: bool| {
            Some(
                json!({"byteSize": t.len(), "isBinary": binary, "isTruncated": truncated, "text": t}),
            )
        };
        let tree = TreeNode {
            entries: Some(vec![
                entry("a.yml", "blob", 0o100644, text("on: push\n", false, false)),
                entry("big.yml", "blob", 0o100644, text("cut", true, false)),
                entry("bin.yml", "blob", 0o100644, text("x", false, true)),
                entry(
                    "link.yml",
                    "blob",
                    SYMLINK_MODE,
                    text("a.yml", false, false),
                ),
                entry("sub", "tree", 0o040000, Some(json!({}))),
            ]),
        };
        let listed = entries(Some(tree));
        let summary: Vec<(&str, &str, Option<&str>)> = listed
            .iter()
            .map(|e| (e.path.as_str(), e.kind.as_str(), e.text.as_deref()))
            .collect();
        assert_eq!(
            summary,
            vec![
                (".github/workflows/a.yml", "file", Some("on: push\n")),
                (".github/workflows/big.yml", "file", None),
                (".github/workflows/bin.yml", "file", None),
                (".github/workflows/link.yml", "file", None),
                (".github/workflows/sub", "dir", None),
            ]
        );
        assert_eq!(listed[1].size, 3);
        assert!(entries(None).is_empty());
        assert!(entries(Some(TreeNode { entries: None })).is_empty());
    }
}
