//! Claude jobs in an organization's shared workflows repository (`scenarios/shared-workflows.toml`):
//! a caller with `secrets: inherit` and one with an explicit mapping are each found by `scan`,
//! diagnosed by `check` (the probe tests the caller's secret), and fixed by `repo` and `rotate` in
//! the caller's scope; a called workflow GitHub will not give (a missing tag, a repository the
//! token cannot see) is reported with the secrets its caller passes, never silently left out.

mod common;

use std::path::Path;

use common::*;
use keyfix_sim::{LoggedRequest, Sim};
use serde_json::Value;

fn shared_text() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/shared-workflows.toml");
    std::fs::read_to_string(path).expect("the shipped scenario")
}

/// The shipped scenario plus `extra` TOML, with runs that take no time.
fn world(extra: &str) -> Sim {
    start(scenario(&format!("{}\n{extra}", shared_text())))
}

/// A second caller of the tag `v1`'s workflow, so that two repositories call the same file (a
/// public repository: the scenario's token was given only the others).
const MOBILE: &str = r#"
[[repos]]
owner = "acme"
name = "mobile"
private = false
secrets = [{ name = "ANTHROPIC_API_KEY", key = "orphaned" }]

[repos.files]
".github/workflows/claude.yml" = """
on: issue_comment
jobs:
  claude:
    uses: acme/shared-workflows/.github/workflows/claude-inherit.yml@v1
    secrets: inherit
"""
"#;

fn repo_doc<'d>(doc: &'d Value, name: &str) -> &'d Value {
    doc["repos"]
        .as_array()
        .expect("repos")
        .iter()
        .find(|r| r["repo"] == name)
        .unwrap_or_else(|| panic!("{name} in {doc:#}"))
}

/// The contents requests for files of `repo` (`owner/name`).
fn contents_reads(sim: &Sim, repo: &str) -> Vec<LoggedRequest> {
    sim.requests()
        .into_iter()
        .filter(|r| r.path.starts_with(&format!("/repos/{repo}/contents/")))
        .collect()
}

#[test]
fn scan_follows_inherit_and_a_mapping_into_the_shared_repository_once_each() {
    let sim = world(MOBILE);
    let (doc, code) = json_of(keyfix(&sim).args(["scan", "acme"]));
    assert_eq!(code, 0, "{doc:#}");

    let app = &repo_doc(&doc, "acme/app")["workflows"][0];
    assert_eq!(app["path"], ".github/workflows/claude.yml");
    assert_eq!(app["job"], "claude / claude");
    assert_eq!(app["secret"], "ANTHROPIC_API_KEY");
    assert_eq!(app["scope"], "repository");
    assert_eq!(app["model"], "claude-sonnet-4-5");
    assert_eq!(
        app["called_workflow"],
        serde_json::json!({
            "repo": "acme/shared-workflows",
            "path": ".github/workflows/claude-inherit.yml",
            "ref": "v1"
        })
    );

    // The caller's secret name, the called job's environment and model, the caller's scopes.
    let api = &repo_doc(&doc, "acme/api")["workflows"][0];
    assert_eq!(api["job"], "review / review");
    assert_eq!(api["secret"], "TEAM_CLAUDE_KEY");
    assert_eq!(api["environment"], "ci");
    assert_eq!(api["scope"], "environment:ci");
    assert_eq!(api["shadows"], serde_json::json!(["repository"]));
    assert_eq!(api["model"], "claude-haiku-4-5");
    assert_eq!(api["called_workflow"]["ref"], "main");

    // Two repositories call claude-inherit.yml@v1: it is read once in the run.
    let reads = contents_reads(&sim, "acme/shared-workflows");
    let inherit_reads = reads
        .iter()
        .filter(|r| r.path.contains("claude-inherit.yml"))
        .count();
    assert_eq!(inherit_reads, 1, "{reads:#?}");
    assert!(
        reads
            .iter()
            .any(|r| r.path.contains("claude-inherit.yml?ref=v1") && r.status == 200),
        "{reads:#?}"
    );
    assert_eq!(
        repo_doc(&doc, "acme/mobile")["workflows"][0]["called_workflow"]["ref"],
        "v1"
    );
}

#[test]
fn an_unreadable_called_workflow_is_reported_with_the_secrets_its_caller_passes() {
    let sim = world("");
    let (doc, code) = json_of(keyfix(&sim).args(["scan", "acme"]));
    assert_eq!(code, 0, "{doc:#}");

    // A tag that does not exist.
    let web = repo_doc(&doc, "acme/web");
    assert_eq!(web["workflows"], serde_json::json!([]));
    let warning = &web["warnings"][0];
    assert_eq!(warning["path"], ".github/workflows/claude.yml");
    assert_eq!(warning["job"], "claude");
    assert_eq!(
        warning["called_workflow"],
        serde_json::json!({
            "repo": "acme/shared-workflows",
            "path": ".github/workflows/claude.yml",
            "ref": "v9"
        })
    );
    assert_eq!(
        warning["passed_secrets"],
        serde_json::json!({ "inherit": false, "names": ["WEB_CLAUDE_KEY"] })
    );
    let reason = warning["reason"].as_str().unwrap();
    assert!(
        reason.contains("could not read (GitHub answered 404")
            && reason.contains("passes it its secret WEB_CLAUDE_KEY"),
        "{reason}"
    );

    // A private repository the token was not given: GitHub answers 404 as if it did not exist.
    let docs = &repo_doc(&doc, "acme/docs")["warnings"][0];
    assert_eq!(docs["called_workflow"]["repo"], "acme/platform-workflows");
    assert_eq!(docs["passed_secrets"]["inherit"], true);
    let refused: Vec<(String, u16)> = contents_reads(&sim, "acme/platform-workflows")
        .into_iter()
        .map(|r| (r.path, r.status))
        .collect();
    assert_eq!(
        refused,
        [(
            "/repos/acme/platform-workflows/contents/.github/workflows/claude.yml?ref=v1"
                .to_owned(),
            404
        )]
    );

    // For people: a row for each call, and the reason on stdout.
    let out = keyfix(&sim).args(["scan", "acme"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "claude.yml (claude) via acme/shared-workflows@v9",
        "claude.yml (claude) via acme/platform-workflows@v1",
        "(inherit)",
        "NOT READ",
        "acme/web: .github/workflows/claude.yml: job claude calls acme/shared-workflows/.github/workflows/claude.yml@v9, which keyfix could not read",
    ] {
        assert!(text.contains(expected), "{expected} in:\n{text}");
    }

    // `check` will not guess the secret: it says what the job passes and asks for --secret.
    let (doc, code) = json_of(keyfix(&sim).args(["check", "acme/web", "--install-probe"]));
    assert_eq!(code, 2, "{doc:#}");
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("passes it its secret WEB_CLAUDE_KEY") && message.contains("--secret"),
        "{message}"
    );
}

#[test]
fn check_probes_the_callers_secret_in_the_callers_scope() {
    let sim = world("");
    for (repo, secret, scope, path) in [
        (
            "acme/app",
            "ANTHROPIC_API_KEY",
            "repository",
            ".github/workflows/claude-inherit.yml",
        ),
        (
            "acme/api",
            "TEAM_CLAUDE_KEY",
            "environment:ci",
            ".github/workflows/claude.yml",
        ),
    ] {
        let (doc, code) = json_of(
            keyfix(&sim)
                .args([
                    "check",
                    repo,
                    "--install-probe",
                    "--reference-key-env",
                    "REFERENCE",
                ])
                .env("REFERENCE", sim.key("fresh")),
        );
        assert_eq!(code, 10, "{repo}: {doc:#}");
        assert_eq!(doc["diagnosis"]["cause"], "orphaned_key", "{repo}");
        assert_eq!(doc["secret"]["name"], secret, "{repo}");
        assert_eq!(doc["secret"]["scope"], scope, "{repo}");
        assert_eq!(doc["workflow"]["called_workflow"]["path"], path, "{repo}");
        // The caller's run, which ran the shared workflow's job, is the failed run.
        assert_eq!(
            doc["failed_run"]["signature"], "preflight_refusal",
            "{repo}"
        );
        let probe = sim
            .default_branch_file(
                "acme",
                repo.trim_start_matches("acme/"),
                ".github/workflows/keyfix-probe.yml",
            )
            .expect("the probe is installed in the caller");
        assert!(probe.contains(&format!("secrets.{secret}")), "{probe}");
    }
    assert!(
        sim.default_branch_file(
            "acme",
            "shared-workflows",
            ".github/workflows/keyfix-probe.yml"
        )
        .is_none(),
        "nothing is installed in the shared repository"
    );
}

#[test]
fn repo_writes_the_new_key_into_the_callers_environment() {
    let sim = world("");
    let (doc, code) = json_of(
        keyfix(&sim)
            .args([
                "repo",
                "acme/api",
                "--install-probe",
                "--key-env",
                "NEW_KEY",
            ])
            .env("NEW_KEY", sim.key("fresh")),
    );
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["diagnosis"]["cause"], "orphaned_key");
    assert_eq!(
        sim.secret("acme", Some("api"), "env:ci", "TEAM_CLAUDE_KEY"),
        Some(sim.key("fresh"))
    );
    // The re-run of the caller's run ran the shared job again, now with the new key.
    let finished = doc["actions"].as_array().unwrap().last().unwrap();
    assert_eq!(finished["kind"], "rerun_finished", "{doc:#}");
    assert_eq!(finished["conclusion"], "success", "{doc:#}");
    assert!(sim
        .secret("acme", Some("shared-workflows"), "repo", "TEAM_CLAUDE_KEY")
        .is_none());
}

#[test]
fn rotate_writes_each_callers_secret_under_the_callers_name_and_leaves_out_the_unread() {
    let sim = world("");
    let (doc, code, stderr) = json_and_stderr_of(
        keyfix(&sim)
            .args([
                "rotate",
                "--owner",
                "acme",
                "--install-probe",
                "--key-env",
                "NEW_KEY",
                "--write-interval",
                "0",
            ])
            .env("NEW_KEY", sim.key("fresh")),
    );
    assert_eq!(code, 0, "{doc:#}\n{stderr}");
    let new = Some(sim.key("fresh"));
    assert_eq!(
        sim.secret("acme", Some("app"), "repo", "ANTHROPIC_API_KEY"),
        new
    );
    assert_eq!(
        sim.secret("acme", Some("api"), "env:ci", "TEAM_CLAUDE_KEY"),
        new
    );
    // Nothing written to the shared repository, nor a guessed name where the call was unread.
    let puts: Vec<String> = sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT" && r.path.contains("/secrets/"))
        .map(|r| r.path)
        .collect();
    assert_eq!(puts.len(), 2, "{puts:?}");
    assert!(
        puts.iter()
            .all(|p| p.starts_with("/repos/acme/app/") || p.starts_with("/repos/acme/api/")),
        "{puts:?}"
    );
    let targets: Vec<&str> = doc["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["repo"].as_str().unwrap())
        .collect();
    assert_eq!(targets, ["acme/app", "acme/api"], "{doc:#}");
    for left_out in ["acme/web is left out", "acme/docs is left out"] {
        assert!(stderr.contains(left_out), "{left_out} in:\n{stderr}");
    }
}

#[test]
fn a_refused_called_workflow_is_unreadable_and_a_transient_failure_is_retried() {
    use keyfix_sim::scenario::Fault;
    let mut scenario = scenario(&shared_text());
    // GitHub refuses the tag's file once with 403, and answers the branch's file 502 once.
    scenario.faults.push(Fault {
        service: Some("github".into()),
        path: "/repos/acme/shared-workflows/contents/.github/workflows/claude-inherit.yml$".into(),
        status: Some(403),
        ..Fault::default()
    });
    scenario.faults.push(Fault {
        service: Some("github".into()),
        path: "/repos/acme/shared-workflows/contents/.github/workflows/claude.yml$".into(),
        status: Some(502),
        times: Some(1),
        ..Fault::default()
    });
    let sim = start(scenario);
    let (doc, code) = json_of(keyfix(&sim).args(["scan", "acme"]));
    assert_eq!(code, 0, "{doc:#}");
    let app = repo_doc(&doc, "acme/app");
    assert_eq!(app["workflows"], serde_json::json!([]));
    let reason = app["warnings"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("claude-inherit.yml@v1, which keyfix could not read (the token cannot"),
        "{reason}"
    );
    assert_eq!(app["warnings"][0]["passed_secrets"]["inherit"], true);
    assert_eq!(
        repo_doc(&doc, "acme/api")["workflows"][0]["secret"],
        "TEAM_CLAUDE_KEY",
        "read again after the 502"
    );
}
