//! An owner's repositories are discovered through GraphQL, a page of them per query with their
//! workflow texts and `.claude/settings.json`; REST reads only what GraphQL does not give whole (a workflow too large for a
//! query), secrets and public keys; where GraphQL is not served, REST finds the same.

mod common;

use common::*;
use keyfix_sim::scenario::Fault;
use keyfix_sim::{LoggedRequest, Sim};

/// A workflow over the 512 KiB of text GitHub's GraphQL gives of a blob, and under the 1 MiB the
/// Contents API sends: a long comment after a Claude step reading its own secret.
fn large_workflow() -> String {
    let padding = format!("# {}\n", "x".repeat(98)).repeat(6 * 1024);
    workflow_on("claude-haiku-4-5").replace("ANTHROPIC_API_KEY", "LARGE_KEY") + &padding
}

fn world() -> String {
    let claude = workflow_on("claude-haiku-4-5");
    format!(
        r#"
[[owners]]
login = "acme"
secrets = [{{ name = "ANTHROPIC_API_KEY", value = "sk-ant-api03-org", visibility = "all" }}]

[[repos]]
owner = "acme"
name = "shared-{{n}}"
count = 120
files = {{ ".github/workflows/claude.yml" = '''{claude}''' }}

[[repos]]
owner = "acme"
name = "large"
secrets = [{{ name = "LARGE_KEY", value = "sk-ant-api03-large" }}]
files = {{ ".github/workflows/claude.yml" = '''{large}''' }}

[[repos]]
owner = "acme"
name = "settled"
files = {{ ".github/workflows/claude.yml" = '''{unnamed}''', ".claude/settings.json" = '{{"model": "claude-opus-4-1"}}' }}

[[repos]]
owner = "acme"
name = "plain"
files = {{ "README.md" = "hello" }}
"#,
        large = large_workflow(),
        unnamed = claude.replace("          claude_args: --model claude-haiku-4-5\n", ""),
    )
}

fn scan(sim: &Sim) -> (serde_json::Value, Vec<LoggedRequest>) {
    let (doc, code) = json_of(keyfix(sim).args(["scan", "acme"]));
    assert_eq!(code, 0, "{doc:#}");
    let sent = sim
        .requests()
        .into_iter()
        .filter(|r| r.service == "github")
        .collect();
    (doc, sent)
}

/// As [`scan`], on a simulator of `world` that answers `status` to every request to `path`.
fn scan_refused(world: &str, path: &str, status: u16) -> (serde_json::Value, Vec<LoggedRequest>) {
    let sim = start(scenario(world));
    sim.world().add_fault(Fault {
        path: path.into(),
        status: Some(status),
        ..Default::default()
    });
    scan(&sim)
}

fn count(sent: &[LoggedRequest], what: impl Fn(&LoggedRequest) -> bool) -> usize {
    sent.iter().filter(|r| what(r)).count()
}

#[test]
fn an_owner_is_discovered_in_pages_of_graphql_and_a_large_workflow_through_rest() {
    let sim = start(scenario(&world()));
    let (doc, sent) = scan(&sim);
    let repos = doc["repos"].as_array().unwrap();
    assert_eq!(repos.len(), 122, "every Claude repository, none other");
    let large = repos.iter().find(|r| r["repo"] == "acme/large").unwrap();
    assert_eq!(large["workflows"][0]["secret"], "LARGE_KEY", "{large:#}");
    assert_eq!(large["workflows"][0]["scope"], "repository");
    let shared = repos.iter().find(|r| r["repo"] == "acme/shared-7").unwrap();
    assert_eq!(shared["workflows"][0]["scope"], "organization");

    let settled = repos.iter().find(|r| r["repo"] == "acme/settled").unwrap();
    assert_eq!(
        settled["workflows"][0]["model"], "claude-opus-4-1",
        "{settled:#}"
    );
    assert_eq!(
        settled["workflows"][0]["model_source"],
        "repository_settings"
    );

    // 123 repositories in pages of 50: three queries.
    assert_eq!(count(&sent, |r| r.path == "/graphql"), 3);
    assert_eq!(
        count(&sent, |r| r.path.contains("/contents/")),
        1,
        "only the workflow GraphQL cut short is read through REST, not even settings: {:#?}",
        sent.iter()
            .filter(|r| r.path.contains("/contents/"))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        count(&sent, |r| r.path.contains("/repos?")
            || r.path == "/users/acme"),
        0,
        "nothing is listed through REST"
    );
}

#[test]
fn where_graphql_is_not_served_rest_finds_the_same() {
    let sim = start(scenario(&world()));
    let (through_graphql, _) = scan(&sim);
    let (through_rest, sent) = scan_refused(&world(), "/graphql", 404);
    assert_eq!(through_graphql["repos"], through_rest["repos"]);
    assert!(count(&sent, |r| r.path.starts_with("/orgs/acme/repos")) > 0);
}

/// Organization secrets of every visibility, and repositories that see each or not (a
/// simulated repository is private unless it says otherwise).
fn visibilities() -> String {
    let claude = workflow_on("claude-haiku-4-5");
    let uses = |name: &str| claude.replace("ANTHROPIC_API_KEY", name);
    format!(
        r#"
[[owners]]
login = "acme"
secrets = [
  {{ name = "ANTHROPIC_API_KEY", value = "sk-ant-api03-all", visibility = "all" }},
  {{ name = "PRIVATE_KEY", value = "sk-ant-api03-private", visibility = "private" }},
  {{ name = "PICKED_KEY", value = "sk-ant-api03-picked", visibility = "selected", selected = ["picked"] }},
]

[[repos]]
owner = "acme"
name = "docs"
private = false
files = {{ "README.md" = "hello" }}

[[repos]]
owner = "acme"
name = "public-{{n}}"
private = false
count = 3
files = {{ ".github/workflows/claude.yml" = '''{claude}''' }}

[[repos]]
owner = "acme"
name = "shadowed"
private = false
secrets = [{{ name = "ANTHROPIC_API_KEY", value = "sk-ant-api03-own" }}]
files = {{ ".github/workflows/claude.yml" = '''{claude}''' }}

[[repos]]
owner = "acme"
name = "private"
files = {{ ".github/workflows/claude.yml" = '''{private}''' }}

[[repos]]
owner = "acme"
name = "public-reads-private"
private = false
files = {{ ".github/workflows/claude.yml" = '''{private}''' }}

[[repos]]
owner = "acme"
name = "picked"
private = false
files = {{ ".github/workflows/claude.yml" = '''{picked}''' }}

[[repos]]
owner = "acme"
name = "not-picked"
files = {{ ".github/workflows/claude.yml" = '''{picked}''' }}
"#,
        private = uses("PRIVATE_KEY"),
        picked = uses("PICKED_KEY"),
    )
}

#[test]
fn the_organization_s_secrets_are_listed_once_and_resolve_as_each_repository_s_own_list() {
    let sim = start(scenario(&visibilities()));
    let (listed_once, sent) = scan(&sim);
    let own_lists = count(&sent, |r| r.path.contains("/actions/organization-secrets"));
    assert_eq!(
        own_lists, 2,
        "one public and one private repository are asked, to hold the organization's list against: {sent:#?}"
    );
    assert_eq!(
        count(&sent, |r| r.path.starts_with("/orgs/acme/actions/secrets?")),
        1
    );
    let scope = |doc: &serde_json::Value, repo: &str| {
        let found = doc["repos"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["repo"] == format!("acme/{repo}"))
            .unwrap_or_else(|| panic!("{repo}: {doc:#}"));
        (
            found["workflows"][0]["scope"].clone(),
            found["workflows"][0]["shadows"].clone(),
        )
    };
    let organization = serde_json::json!("organization");
    assert_eq!(scope(&listed_once, "public-2").0, organization);
    assert_eq!(scope(&listed_once, "private").0, organization);
    assert_eq!(scope(&listed_once, "picked").0, organization);
    assert_eq!(
        scope(&listed_once, "public-reads-private").0,
        serde_json::Value::Null
    );
    assert_eq!(scope(&listed_once, "not-picked").0, serde_json::Value::Null);
    assert_eq!(
        scope(&listed_once, "shadowed"),
        (
            serde_json::json!("repository"),
            serde_json::json!(["organization"])
        )
    );

    // A token that may not list the organization's secrets asks each repository, and finds
    // the same.
    let (asked_each, sent) = scan_refused(&visibilities(), "/orgs/acme/actions/secrets", 403);
    assert_eq!(listed_once["repos"], asked_each["repos"]);
    assert_eq!(
        count(&sent, |r| r.path.contains("/actions/organization-secrets")),
        8,
        "each Claude repository is asked"
    );

    // Nor is a witness the token may not read: the repositories of its kind are asked.
    let (witness_refused, sent) = scan_refused(
        &visibilities(),
        "/repos/acme/docs/actions/organization-secrets",
        403,
    );
    assert_eq!(listed_once["repos"], witness_refused["repos"]);
    assert_eq!(
        count(&sent, |r| r.path.contains("/actions/organization-secrets")),
        1 + 6 + 1,
        "the public witness, each public Claude repository, the private witness: {sent:#?}"
    );
}

#[test]
fn a_few_repositories_are_asked_themselves_rather_than_each_selected_secret() {
    let claude = workflow_on("claude-haiku-4-5");
    let world = format!(
        r#"
[[owners]]
login = "acme"
secrets = [
  {{ name = "ANTHROPIC_API_KEY", value = "sk-ant-api03-picked", visibility = "selected", selected = ["one"] }},
  {{ name = "DEPLOY_TOKEN", value = "x", visibility = "selected", selected = ["two"] }},
]

[[repos]]
owner = "acme"
name = "one"
files = {{ ".github/workflows/claude.yml" = '''{claude}''' }}

[[repos]]
owner = "acme"
name = "two"
files = {{ ".github/workflows/claude.yml" = '''{claude}''' }}
"#
    );
    let (doc, sent) = scan(&start(scenario(&world)));
    assert_eq!(doc["repos"][0]["workflows"][0]["scope"], "organization");
    assert_eq!(
        doc["repos"][1]["workflows"][0]["scope"],
        serde_json::Value::Null
    );
    assert_eq!(
        count(&sent, |r| r.path.contains("/actions/organization-secrets")),
        2
    );
    assert_eq!(count(&sent, |r| r.path.contains("/repositories")), 0);
}
