//! GitHub's objects, complete as its OpenAPI description (`api.github.com.json` of the npm
//! package @octokit/openapi) defines them: every required property, with the value GitHub would
//! send for the simulated world, and the optional ones GitHub sends too. keyfix's
//! `tests/openapi.rs` holds every answer against that description.
//!
//! URLs follow GitHub Enterprise Server's layout: API URLs under the simulator's API URL (with its
//! `path_prefix`), web URLs under its origin.

use base64::Engine;
use serde_json::{json, Map, Value};

use super::state::{GithubState, Owner, Repo};
use crate::scenario::OwnerKind;
use crate::World;

/// When everything the scenario declares was created.
pub const CREATED: &str = "2026-01-15T10:00:00Z";

/// A GitHub global node id of the older form: base64 of `0NN:KindID`.
pub fn node_id(kind: &str, id: u64) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("0{:02}:{kind}{id}", kind.len()))
}

/// The account id of a login: an owner's own id, else a stable number derived from the login.
pub fn account_id(state: &GithubState, login: &str) -> u64 {
    if login == "dependabot[bot]" {
        return 49_699_333;
    }
    if let Some(owner) = state.owner(login) {
        return owner.id;
    }
    let hash = login.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    1_000_000 + hash % 9_000_000
}

/// The `type` GitHub gives an account.
fn account_type(login: &str, kind: Option<OwnerKind>) -> &'static str {
    match kind {
        Some(OwnerKind::Organization) => "Organization",
        _ if login.ends_with("[bot]") => "Bot",
        _ => "User",
    }
}

/// A `simple-user`: an account as other objects name it.
pub fn simple_user(world: &World, login: &str, id: u64, kind: Option<OwnerKind>) -> Value {
    let api = format!("{}/users/{login}", world.github_url());
    let kind = account_type(login, kind);
    json!({
        "login": login,
        "id": id,
        "node_id": node_id(if kind == "Organization" { "Organization" } else { "User" }, id),
        "avatar_url": format!("{}/avatars/u/{id}?v=4", world.github_origin()),
        "gravatar_id": "",
        "url": api,
        "html_url": format!("{}/{login}", world.github_origin()),
        "followers_url": format!("{api}/followers"),
        "following_url": format!("{api}/following{{/other_user}}"),
        "gists_url": format!("{api}/gists{{/gist_id}}"),
        "starred_url": format!("{api}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{api}/subscriptions"),
        "organizations_url": format!("{api}/orgs"),
        "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events{{/privacy}}"),
        "received_events_url": format!("{api}/received_events"),
        "type": kind,
        "user_view_type": "public",
        "site_admin": false,
    })
}

/// An account named by its login alone (a run's actor, a token's user).
pub fn user_by_login(world: &World, state: &GithubState, login: &str) -> Value {
    let kind = state.owner(login).map(|o| o.kind);
    simple_user(world, login, account_id(state, login), kind)
}

pub fn owner_as_user(world: &World, owner: &Owner) -> Value {
    simple_user(world, &owner.login, owner.id, Some(owner.kind))
}

/// A `public-user`: `GET /users/{username}`, for users and organizations alike.
pub fn public_user(world: &World, owner: &Owner, public_repos: usize) -> Value {
    let mut user = owner_as_user(world, owner);
    let more = json!({
        "name": owner.login,
        "company": null,
        "blog": "",
        "location": null,
        "email": null,
        "hireable": null,
        "bio": null,
        "twitter_username": null,
        "public_repos": public_repos,
        "public_gists": 0,
        "followers": 0,
        "following": 0,
        "created_at": CREATED,
        "updated_at": CREATED,
    });
    extend(&mut user, more);
    user
}

/// An `organization-full`: `GET /orgs/{org}`.
pub fn organization_full(world: &World, owner: &Owner, public_repos: usize) -> Value {
    let login = &owner.login;
    let api = format!("{}/orgs/{login}", world.github_url());
    json!({
        "login": login,
        "id": owner.id,
        "node_id": node_id("Organization", owner.id),
        "url": api,
        "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events"),
        "hooks_url": format!("{api}/hooks"),
        "issues_url": format!("{api}/issues"),
        "members_url": format!("{api}/members{{/member}}"),
        "public_members_url": format!("{api}/public_members{{/member}}"),
        "avatar_url": format!("{}/avatars/u/{}?v=4", world.github_origin(), owner.id),
        "description": null,
        "name": login,
        "company": null,
        "blog": null,
        "location": null,
        "email": null,
        "twitter_username": null,
        "is_verified": false,
        "has_organization_projects": true,
        "has_repository_projects": true,
        "public_repos": public_repos,
        "public_gists": 0,
        "followers": 0,
        "following": 0,
        "html_url": format!("{}/{login}", world.github_origin()),
        "type": "Organization",
        "created_at": CREATED,
        "updated_at": CREATED,
        "archived_at": null,
    })
}

/// How much of a repository an object carries: a run's `repository` (the `minimal-repository`
/// required properties only, as GitHub sends it there), a list's item, or `GET /repos/{o}/{r}`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum RepoForm {
    InRun,
    Listed,
    Full,
}

/// A repository as `form` says, from its owner's login and id and the repository's facts.
pub fn repository(world: &World, state: &GithubState, repo: &Repo, form: RepoForm) -> Value {
    let owner = state.owner(&repo.owner);
    let owner_json = user_by_login(world, state, &repo.owner);
    let facts = RepoFacts {
        id: repo.id,
        name: &repo.name,
        owner: &repo.owner,
        private: repo.private,
        fork: false,
    };
    let mut value = repository_core(world, &facts, owner_json.clone());
    if form == RepoForm::InRun {
        return value;
    }
    let full_name = repo.full_name();
    let web = format!("{}/{full_name}", world.github_origin());
    let host = world
        .github_origin()
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .to_owned();
    let more = json!({
        "git_url": format!("git://{host}/{full_name}.git"),
        "ssh_url": format!("git@{host}:{full_name}.git"),
        "clone_url": format!("{web}.git"),
        "svn_url": web,
        "mirror_url": null,
        "homepage": null,
        "language": null,
        "forks_count": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "size": 1,
        "default_branch": repo.default_branch,
        "open_issues_count": 0,
        "is_template": false,
        "topics": [],
        "has_issues": true,
        "has_projects": true,
        "has_wiki": true,
        "has_pages": false,
        "has_downloads": true,
        "has_discussions": false,
        "archived": repo.archived,
        "disabled": false,
        "visibility": if repo.private { "private" } else { "public" },
        "pushed_at": CREATED,
        "created_at": CREATED,
        "updated_at": CREATED,
        "permissions": {"admin": true, "maintain": true, "push": true, "triage": true, "pull": true},
        "allow_forking": true,
        "web_commit_signoff_required": false,
        "license": null,
        "forks": 0,
        "open_issues": 0,
        "watchers": 0,
    });
    extend(&mut value, more);
    if form == RepoForm::Full {
        let mut full = json!({
            "temp_clone_token": "",
            "allow_squash_merge": true,
            "allow_merge_commit": true,
            "allow_rebase_merge": true,
            "allow_auto_merge": false,
            "delete_branch_on_merge": false,
            "allow_update_branch": false,
            "use_squash_pr_title_as_default": false,
            "squash_merge_commit_title": "COMMIT_OR_PR_TITLE",
            "squash_merge_commit_message": "COMMIT_MESSAGES",
            "merge_commit_title": "MERGE_MESSAGE",
            "merge_commit_message": "PR_TITLE",
            "network_count": 0,
            "subscribers_count": 0,
        });
        if owner.is_some_and(|o| o.kind == OwnerKind::Organization) {
            full["organization"] = owner_json;
        }
        extend(&mut value, full);
    }
    value
}

/// What a repository object is made from, for repositories the simulator does not keep (a
/// fork a run came from).
pub struct RepoFacts<'a> {
    pub id: u64,
    pub name: &'a str,
    pub owner: &'a str,
    pub private: bool,
    pub fork: bool,
}

/// The required properties of a `minimal-repository`: what a run's `repository` holds.
pub fn repository_core(world: &World, facts: &RepoFacts, owner: Value) -> Value {
    let full_name = format!("{}/{}", facts.owner, facts.name);
    let api = format!("{}/repos/{full_name}", world.github_url());
    let mut value = json!({
        "id": facts.id,
        "node_id": node_id("Repository", facts.id),
        "name": facts.name,
        "full_name": full_name,
        "private": facts.private,
        "owner": owner,
        "html_url": format!("{}/{full_name}", world.github_origin()),
        "description": null,
        "fork": facts.fork,
        "url": api,
    });
    let templates = [
        ("archive_url", "/{archive_format}{/ref}"),
        ("assignees_url", "/assignees{/user}"),
        ("blobs_url", "/git/blobs{/sha}"),
        ("branches_url", "/branches{/branch}"),
        ("collaborators_url", "/collaborators{/collaborator}"),
        ("comments_url", "/comments{/number}"),
        ("commits_url", "/commits{/sha}"),
        ("compare_url", "/compare/{base}...{head}"),
        ("contents_url", "/contents/{+path}"),
        ("contributors_url", "/contributors"),
        ("deployments_url", "/deployments"),
        ("downloads_url", "/downloads"),
        ("events_url", "/events"),
        ("forks_url", "/forks"),
        ("git_commits_url", "/git/commits{/sha}"),
        ("git_refs_url", "/git/refs{/sha}"),
        ("git_tags_url", "/git/tags{/sha}"),
        ("hooks_url", "/hooks"),
        ("issue_comment_url", "/issues/comments{/number}"),
        ("issue_events_url", "/issues/events{/number}"),
        ("issues_url", "/issues{/number}"),
        ("keys_url", "/keys{/key_id}"),
        ("labels_url", "/labels{/name}"),
        ("languages_url", "/languages"),
        ("merges_url", "/merges"),
        ("milestones_url", "/milestones{/number}"),
        (
            "notifications_url",
            "/notifications{?since,all,participating}",
        ),
        ("pulls_url", "/pulls{/number}"),
        ("releases_url", "/releases{/id}"),
        ("stargazers_url", "/stargazers"),
        ("statuses_url", "/statuses/{sha}"),
        ("subscribers_url", "/subscribers"),
        ("subscription_url", "/subscription"),
        ("tags_url", "/tags"),
        ("teams_url", "/teams"),
        ("trees_url", "/git/trees{/sha}"),
    ];
    for (name, tail) in templates {
        value[name] = json!(format!("{api}{tail}"));
    }
    value
}

/// Adds `more`'s properties to `value` (both objects).
pub fn extend(value: &mut Value, more: Value) {
    if let (Value::Object(into), Value::Object(from)) = (value, more) {
        let from: Map<String, Value> = from;
        into.extend(from);
    }
}

/// Where a repository's API and web pages are.
pub struct RepoUrls {
    pub full_name: String,
    /// `{api}/repos/{owner}/{repo}`
    pub api: String,
    /// `{web}/{owner}/{repo}`
    pub web: String,
}

impl RepoUrls {
    pub fn of(world: &World, full_name: &str) -> RepoUrls {
        RepoUrls {
            full_name: full_name.to_owned(),
            api: format!("{}/repos/{full_name}", world.github_url()),
            web: format!("{}/{full_name}", world.github_origin()),
        }
    }
}

/// A `workflow`, as the workflow list holds it.
pub fn workflow(urls: &RepoUrls, id: u64, name: &str, path: &str, branch: &str) -> Value {
    let file = path.rsplit('/').next().unwrap_or(path);
    json!({
        "id": id,
        "node_id": node_id("Workflow", id),
        "name": name,
        "path": path,
        "state": "active",
        "created_at": CREATED,
        "updated_at": CREATED,
        "url": format!("{}/actions/workflows/{id}", urls.api),
        "html_url": format!("{}/blob/{branch}/{path}", urls.web),
        "badge_url": format!("{}/workflows/{}/badge.svg", urls.web, file.trim_end_matches(".yml").trim_end_matches(".yaml")),
    })
}

/// A Git person (`author`, `committer`) at `date`.
pub fn git_person(name: &str, date: &str) -> Value {
    let email = if name == "GitHub" {
        "noreply@github.com".to_owned()
    } else {
        format!("{name}@users.noreply.github.com")
    };
    json!({"name": name, "email": email, "date": date})
}

/// A `git-commit`: what making a commit answers, and a file write's `commit`.
pub fn git_commit(
    urls: &RepoUrls,
    sha: &str,
    tree: &str,
    parents: &[String],
    message: &str,
    author: &str,
    date: &str,
) -> Value {
    json!({
        "sha": sha,
        "node_id": format!("C_{}", &sha[..sha.len().min(20)]),
        "url": format!("{}/git/commits/{sha}", urls.api),
        "html_url": format!("{}/commit/{sha}", urls.web),
        "author": git_person(author, date),
        "committer": git_person(author, date),
        "message": message,
        "tree": {"sha": tree, "url": format!("{}/git/trees/{tree}", urls.api)},
        "parents": parents.iter().map(|p| json!({
            "sha": p,
            "url": format!("{}/git/commits/{p}", urls.api),
            "html_url": format!("{}/commit/{p}", urls.web),
        })).collect::<Vec<_>>(),
        "verification": {"verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null},
    })
}

/// A file or directory entry of the Contents API (`content-file` without its content, or a
/// `content-directory` item).
pub fn content_entry(urls: &RepoUrls, path: &str, branch: &str, entry: ContentEntry) -> Value {
    let name = path.rsplit('/').next().unwrap_or(path);
    let (path_text, path, branch) = (path, url_encoded(path), url_encoded(branch));
    let url = format!("{}/contents/{path}?ref={branch}", urls.api);
    let (kind, sha, size, git_url, html_url, download_url) = match entry {
        ContentEntry::File { sha, size } => (
            "file",
            sha.to_owned(),
            size,
            format!("{}/git/blobs/{sha}", urls.api),
            format!("{}/blob/{branch}/{path}", urls.web),
            json!(format!("{}/raw/{branch}/{path}", urls.web)),
        ),
        ContentEntry::Dir { sha } => (
            "dir",
            sha.to_owned(),
            0,
            format!("{}/git/trees/{sha}", urls.api),
            format!("{}/tree/{branch}/{path}", urls.web),
            Value::Null,
        ),
    };
    json!({
        "type": kind,
        "name": name,
        "path": path_text,
        "sha": sha,
        "size": size,
        "url": url,
        "html_url": html_url,
        "git_url": git_url,
        "download_url": download_url,
        "_links": {"self": url, "git": git_url, "html": html_url},
    })
}

/// A path or ref as GitHub writes it into a URL: every byte but the unreserved characters and
/// `/` percent-encoded, so that a file named with spaces or accents still makes a valid URI.
fn url_encoded(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

pub enum ContentEntry<'a> {
    File { sha: &'a str, size: usize },
    Dir { sha: &'a str },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_links_carry_the_path_encoded_and_the_path_as_it_is() {
        let urls = RepoUrls {
            full_name: "acme/app".to_owned(),
            api: "http://sim/repos/acme/app".to_owned(),
            web: "http://sim/acme/app".to_owned(),
        };
        let entry = content_entry(
            &urls,
            ".github/workflows/claude review ü.yml",
            "main",
            ContentEntry::File {
                sha: "abc",
                size: 1,
            },
        );
        assert_eq!(entry["path"], ".github/workflows/claude review ü.yml");
        assert_eq!(
            entry["url"],
            "http://sim/repos/acme/app/contents/.github/workflows/claude%20review%20%C3%BC.yml?ref=main"
        );
        assert_eq!(
            entry["download_url"],
            "http://sim/acme/app/raw/main/.github/workflows/claude%20review%20%C3%BC.yml"
        );
    }
}
