//! The probe where the default branch takes no direct commits: rulesets and classic protection
//! refuse the probe's commit, and keyfix runs it from a throwaway branch instead — or always,
//! with `--probe-branch` — deleting the branch afterwards, also after Ctrl-C. Environments whose
//! deployment branches leave it out refuse its job (exit 18).

mod common;

use std::time::{Duration, Instant};

use common::*;
use keyfix_sim::Sim;

const PROBE: &str = ".github/workflows/keyfix-probe.yml";

/// The demo scenario (acme/app's stored key is orphaned; `fresh` fixes it), with `protection`
/// on acme/app's default branch when given.
fn demo(protection: Option<&str>) -> Sim {
    let mut text = demo_text();
    if let Some(protection) = protection {
        text = text.replacen(
            "name = \"app\"\n",
            &format!("name = \"app\"\nprotection = \"{protection}\"\n"),
            1,
        );
    }
    start(scenario(&text))
}

/// The branches the probe ran from, each deleted.
fn probe_branches(doc: &serde_json::Value) -> Vec<String> {
    doc["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["kind"] == "probe_branch")
        .map(|a| {
            assert_eq!(a["deleted"], true, "{a}");
            a["branch"].as_str().unwrap().to_owned()
        })
        .collect()
}

fn assert_default_branch_untouched(sim: &Sim) {
    assert_eq!(sim.default_branch_file("acme", "app", PROBE), None);
    assert!(
        !sim.requests()
            .iter()
            .any(|r| r.method == "PUT" && r.path.contains("/contents/") && r.status < 300),
        "nothing was committed through the Contents API"
    );
    assert_eq!(sim.branches("acme", "app"), Vec::new(), "no branch is left");
}

fn fix(sim: &Sim, extra: &[&str]) -> (serde_json::Value, i32, String) {
    json_and_stderr_of(
        keyfix(sim)
            .args(["repo", "acme/app", "--yes", "--key-env", "K"])
            .args(extra)
            .env("K", sim.key("fresh")),
    )
}

#[test]
fn a_ruleset_on_main_gets_the_fix_from_a_throwaway_branch_with_no_commit_on_main() {
    let sim = demo(Some("ruleset"));
    let (doc, code, stderr) = fix(&sim, &["--install-probe"]);
    assert_eq!(
        (doc["diagnosis"]["cause"].as_str(), code),
        (Some("orphaned_key"), 0),
        "{doc:#}\n{stderr}"
    );
    assert!(
        stderr.contains("acme/app:main refuses direct commits (Repository rule violations found); running the probe from a throwaway branch instead."),
        "{stderr}"
    );
    let branches = probe_branches(&doc);
    assert_eq!(
        branches.len(),
        2,
        "the diagnosis and the verification: {doc:#}"
    );
    for branch in &branches {
        assert!(
            branch.starts_with("keyfix-probe/")
                && branch.len() == "keyfix-probe/".len() + 8
                && branch["keyfix-probe/".len()..]
                    .chars()
                    .all(|c| c.is_ascii_hexdigit()),
            "{branch}"
        );
    }
    assert!(
        !action_kinds(&doc).contains(&"probe_installed".to_owned()),
        "{doc:#}"
    );
    let verified = doc["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "verified")
        .expect("verified");
    assert_eq!(verified["fingerprint_matches"], true);
    assert_eq!(
        doc["actions"].as_array().unwrap().last().unwrap()["conclusion"],
        "success"
    );
    assert_eq!(
        sim.secret("acme", Some("app"), "repo", "ANTHROPIC_API_KEY"),
        Some(sim.key("fresh"))
    );
    assert_default_branch_untouched(&sim);
}

#[test]
fn probe_branch_never_touches_the_default_branch() {
    let sim = demo(None);
    let (doc, code, stderr) = fix(&sim, &["--probe-branch"]);
    assert_eq!(
        (doc["diagnosis"]["cause"].as_str(), code),
        (Some("orphaned_key"), 0),
        "{doc:#}\n{stderr}"
    );
    assert_eq!(probe_branches(&doc).len(), 2, "{doc:#}");
    assert_default_branch_untouched(&sim);
    // The branch held the probe alone: its push started the probe and no other workflow.
    let pushes: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/git/trees"))
        .collect();
    assert_eq!(pushes.len(), 2);
}

#[test]
fn classic_protection_and_push_restrictions_also_fall_back_to_the_branch_probe() {
    for (protection, said) in [
        (
            "classic",
            "Protected branch update failed for refs/heads/main",
        ),
        (
            "push_restricted",
            "Protected branch update failed for refs/heads/main",
        ),
    ] {
        let sim = demo(Some(protection));
        let (doc, code, stderr) = json_and_stderr_of(&mut check_with_fresh_reference(&sim, &[]));
        assert_eq!(
            doc["diagnosis"]["cause"], "orphaned_key",
            "{protection}: {doc:#}"
        );
        assert_eq!(code, 10, "{protection}: a new key fixes it");
        assert!(stderr.contains(said), "{protection}: {stderr}");
        assert_eq!(probe_branches(&doc).len(), 1, "{protection}: {doc:#}");
        assert_default_branch_untouched(&sim);
    }
}

#[test]
fn without_consent_the_branch_probe_is_not_run_either() {
    let sim = demo(Some("ruleset"));
    let (doc, code) = json_of(keyfix(&sim).args(["check", "acme/app"]));
    assert_eq!(code, 3, "{doc:#}");
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(message.contains("--probe-branch"), "{message}");
    assert!(sim.branches("acme", "app").is_empty());
    let writes: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.service == "github" && r.method != "GET")
        .collect();
    assert!(writes.is_empty(), "nothing was written: {writes:?}");
}

#[test]
fn probe_install_on_a_protected_branch_names_the_ways_out_and_opens_a_pull_request() {
    let sim = demo(Some("ruleset"));
    let out = keyfix(&sim)
        .args(["probe", "install", "acme/app"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("acme/app's default branch main refuses direct commits (GitHub: Repository rule violations found): run the probe from a throwaway branch with --probe-branch, or add it through a pull request with `keyfix probe install --pull-request acme/app`"),
        "{stderr}"
    );

    let out = keyfix(&sim)
        .args(["probe", "install", "--pull-request", "acme/app"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pulls = sim.pulls("acme", "app");
    assert_eq!(pulls.len(), 1);
    let (number, head, base) = &pulls[0];
    assert_eq!(base, "main");
    assert!(head.starts_with("keyfix/add-probe-"), "{head}");
    assert!(
        stdout.contains(&format!(
            "pull request #{number} adds it: {}/acme/app/pull/{number}",
            sim.github_api_url()
        )),
        "{stdout}"
    );
    let on_branch = sim.branches("acme", "app");
    assert!(
        on_branch
            .iter()
            .any(|(name, files)| name == head && files.iter().any(|f| f == PROBE)),
        "{on_branch:?}"
    );
    assert_eq!(sim.default_branch_file("acme", "app", PROBE), None);

    let (doc, code) =
        json_of(keyfix(&sim).args(["probe", "install", "--pull-request", "acme/app"]));
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["actions"][0]["kind"], "pull_request_opened", "{doc:#}");
    assert_eq!(sim.pulls("acme", "app").len(), 2);
}

const DEPLOYS_FROM_MAIN: &str = r#"
[[organizations]]
name = "acme"

[[keys]]
name = "orphaned"
organization = "acme"
state = "orphaned"

[[keys]]
name = "fresh"
organization = "acme"

[[owners]]
login = "acme"

[[repos]]
owner = "acme"
name = "app"
environments = [{ name = "production", deployment_branches = ["main", "release/*"], secrets = [{ name = "ANTHROPIC_API_KEY", key = "orphaned" }] }]

[repos.files]
".github/workflows/claude.yml" = """
on: issue_comment
jobs:
  claude:
    runs-on: ubuntu-latest
    environment: production
    steps:
      - uses: anthropics/claude-code-action@v1
        with:
          anthropic_api_key: ${{ secrets.ANTHROPIC_API_KEY }}
"""
"#;

#[test]
fn an_environment_that_deploys_only_from_some_branches_refuses_the_branch_probe() {
    let sim = start(scenario(DEPLOYS_FROM_MAIN));
    let (doc, code, stderr) =
        json_and_stderr_of(keyfix(&sim).args(["check", "acme/app", "--probe-branch"]));
    assert_eq!(code, 18, "{doc:#}\n{stderr}");
    assert_eq!(doc["error"]["kind"], "run");
    let message = doc["error"]["message"].as_str().unwrap();
    let branch = probe_branches(&doc).pop().expect("the branch was deleted");
    assert_eq!(
        message,
        format!("environment production refused the probe job: its deployment branches do not include {branch}. Allow `keyfix-probe/*` in the environment's deployment branches (Settings → Environments → production), or put the probe on the default branch through a pull request: `keyfix probe install --pull-request acme/app`")
    );
    assert!(sim.branches("acme", "app").is_empty());

    // Allowed, it runs.
    let allowed = DEPLOYS_FROM_MAIN.replace("\"release/*\"", "\"keyfix-probe/*\"");
    let sim = start(scenario(&allowed));
    let (doc, code) = json_of(
        keyfix(&sim)
            .args([
                "check",
                "acme/app",
                "--probe-branch",
                "--reference-key-env",
                "R",
            ])
            .env("R", sim.key("fresh")),
    );
    assert_eq!(
        (doc["diagnosis"]["cause"].as_str(), code),
        (Some("orphaned_key"), 10),
        "{doc:#}"
    );
}

#[cfg(unix)]
#[test]
fn ctrl_c_while_the_branch_probe_runs_deletes_the_branch_and_says_so() {
    let mut scenario = scenario(&demo_text());
    // The probe run stays queued long enough to be interrupted.
    scenario.github.run_delay_ms = 30_000;
    let sim = start(scenario);
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("keyfix"))
        .env_clear()
        .env("NO_COLOR", "1")
        .envs(sim.env())
        .args(["check", "acme/app", "--probe-branch", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while sim.branches("acme", "app").is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no branch was made"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "keyfix did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "one JSON document ({e}), {:?}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(out.status.code(), Some(130), "{doc:#}");
    assert_eq!(doc["error"]["kind"], "interrupted", "{doc:#}");
    assert_eq!(probe_branches(&doc).len(), 1, "{doc:#}");
    assert!(
        sim.branches("acme", "app").is_empty(),
        "the branch was deleted"
    );
}
