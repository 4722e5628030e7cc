//! The simulator's GitHub endpoints that keyfix itself never calls, asked as any other client
//! would: what they answer, and (through the recording every simulator of the tests makes) that
//! `tests/openapi.rs` holds those answers against GitHub's description like keyfix's.

mod common;

use common::{github, Answer};
use keyfix_sim::{Scenario, Sim};
use serde_json::Value;

/// A repository whose environment deploys only from release branches, and a run of a workflow
/// that deploys to it from the default branch: GitHub fails that job before it runs.
const WORLD: &str = r#"
[[owners]]
login = "acme"

[[repos]]
owner = "acme"
name = "app"
environments = [{ name = "prod", deployment_branches = ["release/*"] }]
runs = [{ workflow = ".github/workflows/deploy.yml", event = "push", actor = "alice" }]

[repos.files]
".github/workflows/deploy.yml" = """
name: Deploy
on: push
jobs:
  deploy:
    runs-on: ubuntu-latest
    environment: prod
    steps:
      - run: echo deploying
"""
"#;

fn start() -> Sim {
    common::start(Scenario::from_toml(WORLD).expect("the scenario is valid"))
}

fn get(sim: &Sim, path: &str) -> Answer {
    let answer = github(sim, "default", "GET", path, None).expect("an answer");
    assert_eq!(answer.status, 200, "GET {path}: {}", answer.body);
    answer
}

fn strings<'a>(items: &'a Value, field: &str) -> Vec<&'a str> {
    items
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|item| item[field].as_str())
        .collect()
}

#[test]
fn the_workflow_list_names_each_workflow_file() {
    let sim = start();
    let listed = get(&sim, "/repos/acme/app/actions/workflows").body;
    assert_eq!(listed["total_count"], 1);
    assert_eq!(
        strings(&listed["workflows"], "path"),
        [".github/workflows/deploy.yml"]
    );
    assert_eq!(strings(&listed["workflows"], "name"), ["Deploy"]);
}

#[test]
fn matching_refs_lists_the_branches_that_start_with_the_name() {
    let sim = start();
    let refs = get(&sim, "/repos/acme/app/git/matching-refs/heads/ma").body;
    assert_eq!(strings(&refs, "ref"), ["refs/heads/main"]);
    let none = get(&sim, "/repos/acme/app/git/matching-refs/heads/release").body;
    assert_eq!(none, Value::Array(Vec::new()));
}

#[test]
fn deployment_branch_policies_list_the_environment_s_patterns() {
    let sim = start();
    let listed = get(
        &sim,
        "/repos/acme/app/environments/prod/deployment-branch-policies",
    )
    .body;
    assert_eq!(listed["total_count"], 1);
    assert_eq!(strings(&listed["branch_policies"], "name"), ["release/*"]);
    assert_eq!(strings(&listed["branch_policies"], "type"), ["branch"]);
}

#[test]
fn a_job_refused_by_its_environment_says_why_in_its_check_run_annotation() {
    let sim = start();
    let runs = get(&sim, "/repos/acme/app/actions/runs").body;
    let run = runs["workflow_runs"][0]["id"].as_u64().expect("the run");
    let jobs = get(&sim, &format!("/repos/acme/app/actions/runs/{run}/jobs")).body;
    let job = &jobs["jobs"][0];
    assert_eq!(job["conclusion"], "failure");
    let check_run = job["check_run_url"]
        .as_str()
        .and_then(|url| url.rsplit('/').next())
        .expect("the job's check run");
    let annotations = get(
        &sim,
        &format!("/repos/acme/app/check-runs/{check_run}/annotations"),
    )
    .body;
    assert_eq!(
        strings(&annotations, "message"),
        ["Branch \"main\" is not allowed to deploy to prod due to environment protection rules."]
    );
}

/// An organization's shared workflows at a tag and on its default branch, a public repository,
/// and a fine-grained token given only acme/app.
const SHARED: &str = r#"
[[owners]]
login = "acme"

[[tokens]]
name = "default"
scopes = ["repo", "workflow"]

[[tokens]]
name = "app-only"
permissions = ["contents:read", "actions:read", "secrets:read"]
repositories = ["acme/app"]

[[repos]]
owner = "acme"
name = "app"

[[repos]]
owner = "acme"
name = "open"
private = false
files = { "README.md" = "open" }

[[repos]]
owner = "acme"
name = "shared"
files = { ".github/workflows/claude.yml" = "on: workflow_call # main" }
tags = { v1 = { ".github/workflows/claude.yml" = "on: workflow_call # v1" } }
"#;

/// The text of a contents answer.
fn content_text(answer: &Answer) -> String {
    use base64::Engine;
    let encoded = answer.body["content"]
        .as_str()
        .expect("content")
        .replace('\n', "");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("base64");
    String::from_utf8(bytes).expect("text")
}

#[test]
fn contents_are_served_at_a_branch_a_tag_or_a_commit_and_an_unknown_ref_is_404() {
    let sim = common::start(Scenario::from_toml(SHARED).expect("the scenario is valid"));
    let at = |reference: &str| {
        github(
            &sim,
            "default",
            "GET",
            &format!("/repos/acme/shared/contents/.github/workflows/claude.yml?ref={reference}"),
            None,
        )
        .expect("an answer")
    };
    let tag_head = {
        let state = sim.world().github.lock().unwrap();
        state.repo("acme", "shared").unwrap().tags["v1"]
            .head
            .clone()
    };
    for (reference, text) in [
        ("main", "# main"),
        ("refs/heads/main", "# main"),
        ("v1", "# v1"),
        ("refs/tags/v1", "# v1"),
        (tag_head.as_str(), "# v1"),
    ] {
        let answer = at(reference);
        assert_eq!(answer.status, 200, "{reference}: {}", answer.body);
        assert!(content_text(&answer).ends_with(text), "{reference}");
    }
    let missing = at("v9");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body["message"], "No commit found for the ref v9");
}

#[test]
fn a_token_given_selected_repositories_sees_only_those_and_public_ones() {
    let sim = common::start(Scenario::from_toml(SHARED).expect("the scenario is valid"));
    let ask = |path: &str| github(&sim, "app-only", "GET", path, None).expect("an answer");
    let hidden = ask("/repos/acme/shared/contents/.github/workflows/claude.yml?ref=v1");
    assert_eq!(
        (hidden.status, &hidden.body["message"]),
        (404, &"Not Found".into())
    );
    assert_eq!(ask("/repos/acme/shared").status, 404);
    assert_eq!(ask("/repos/acme/app").status, 200);
    assert_eq!(ask("/repos/acme/open/contents/README.md").status, 200);
    let listed = ask("/orgs/acme/repos").body;
    assert_eq!(strings(&listed, "name"), ["app", "open"]);
    // The token that was given every repository reads it.
    let all = github(&sim, "default", "GET", "/repos/acme/shared", None).expect("an answer");
    assert_eq!(all.status, 200);
}
