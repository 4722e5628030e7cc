//! The workflow shapes of public repositories (`tests/fixtures/workflows/`, each naming the real
//! form it follows), read by `scan`, `check` and `probe print` through the simulator: every
//! secret, credential, environment and model right, expressions reported as such, and the one
//! broken file a warning that names its line while the others still read.

mod common;

use std::path::Path;

use common::*;
use keyfix_sim::Sim;
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/workflows");

/// A TOML table of `.github/workflows/NAME` for each fixture named.
fn files(names: &[&str]) -> String {
    let mut table = String::from("[repos.files]\n");
    for name in names {
        let text = std::fs::read_to_string(Path::new(FIXTURES).join(name)).unwrap();
        table.push_str(&format!(
            "\".github/workflows/{name}\" = {}\n",
            toml_string(&text)
        ));
    }
    table
}

fn toml_string(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

fn all_fixtures() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(FIXTURES)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yml"))
        .collect();
    names.sort();
    names
}

fn world() -> Sim {
    let keys = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/keys.toml"))
        .unwrap();
    let names = all_fixtures();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let secret = |name: &str| format!("{{ name = \"{name}\", key = \"good\" }}");
    let repo_secrets: Vec<String> = [
        "ANTHROPIC_API_KEY",
        "CLAUDE_KEY",
        "REVIEW_KEY",
        "ORG_CLAUDE_KEY",
        "ANCHORED_KEY",
        "TEAM_A_KEY",
        "TEAM_B_KEY",
    ]
    .iter()
    .map(|n| secret(n))
    .collect();
    let toml = format!(
        "{keys}\n[[owners]]\nlogin = \"acme\"\n\n\
         [[repos]]\nowner = \"acme\"\nname = \"shapes\"\nsecrets = [{}]\n\
         environments = [{{ name = \"staging\", secrets = [{}] }}, {{ name = \"production\", secrets = [{}] }}]\n\
         {}\".github/claude/settings.json\" = {}\n\n\
         [[repos]]\nowner = \"acme\"\nname = \"dynamic\"\nsecrets = [{}, {}]\n{}\n\
         [[repos]]\nowner = \"acme\"\nname = \"oauth\"\n{}",
        repo_secrets.join(", "),
        secret("STAGING_CLAUDE_KEY"),
        secret("PROD_CLAUDE_KEY"),
        files(&names),
        toml_string(r#"{"model": "claude-opus-4-1"}"#),
        secret("TEAM_A_KEY"),
        secret("TEAM_B_KEY"),
        files(&["matrix-models.yml"]),
        files(&["oauth-only.yml"]),
    );
    start(scenario(&toml))
}

/// The scanned steps of acme/shapes, by workflow file name and job.
fn steps(doc: &Value) -> Vec<(String, Value)> {
    let repo = doc["repos"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["repo"] == "acme/shapes")
        .expect("acme/shapes is scanned");
    repo["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            let file = w["path"].as_str().unwrap().rsplit('/').next().unwrap();
            (format!("{file} {}", w["job"].as_str().unwrap()), w.clone())
        })
        .collect()
}

#[test]
fn scan_reads_every_shape() {
    let sim = world();
    let (doc, code) = json_of(keyfix(&sim).args(["scan", "acme"]));
    assert_eq!(code, 0, "{doc:#}");
    let steps = steps(&doc);
    let get = |key: &str| -> &Value {
        &steps
            .iter()
            .find(|(k, _)| k == key)
            .unwrap_or_else(|| {
                panic!(
                    "{key} in {:#?}",
                    steps.iter().map(|s| &s.0).collect::<Vec<_>>()
                )
            })
            .1
    };
    for (key, secret, credential, scope) in [
        (
            "env-workflow-level.yml claude",
            Some("CLAUDE_KEY"),
            "api_key",
            Some("repository"),
        ),
        (
            "env-step-no-input.yml review",
            Some("REVIEW_KEY"),
            "api_key",
            Some("repository"),
        ),
        (
            "reusable-inherit-caller.yml call / assistant",
            Some("ANTHROPIC_API_KEY"),
            "api_key",
            Some("repository"),
        ),
        (
            "reusable-mapped-caller.yml call / review",
            Some("ORG_CLAUDE_KEY"),
            "api_key",
            Some("repository"),
        ),
        (
            "base-action-pinned.yml weekly",
            Some("ANTHROPIC_API_KEY"),
            "api_key",
            Some("repository"),
        ),
        ("oauth-only.yml claude", None, "oauth_token", None),
        (
            "both-credentials.yml claude",
            Some("ANTHROPIC_API_KEY"),
            "api_key_and_oauth_token",
            Some("repository"),
        ),
        ("bedrock.yml claude", None, "bedrock", None),
        (
            "workload-identity.yml claude",
            None,
            "workload_identity",
            None,
        ),
        (
            "several-jobs.yml staging-review",
            Some("STAGING_CLAUDE_KEY"),
            "api_key",
            Some("environment:staging"),
        ),
        (
            "several-jobs.yml prod-review",
            Some("PROD_CLAUDE_KEY"),
            "api_key",
            Some("environment:production"),
        ),
        (
            "yaml-as-written.yml claude",
            Some("ANCHORED_KEY"),
            "api_key",
            Some("repository"),
        ),
        (
            "on-as-true.yml claude",
            Some("ANTHROPIC_API_KEY"),
            "api_key",
            Some("repository"),
        ),
    ] {
        let step = get(key);
        assert_eq!(step["secret"].as_str(), secret, "{key}: {step}");
        assert_eq!(step["credential"], credential, "{key}: {step}");
        assert_eq!(step["scope"].as_str(), scope, "{key}: {step}");
    }
    for (key, model, source) in [
        (
            "base-action-pinned.yml weekly",
            "claude-3-7-sonnet-20250219",
            "model_input",
        ),
        (
            "beta-anthropic-model.yml triage",
            "claude-opus-4-20250514",
            "model_input",
        ),
        (
            "claude-args-multiline.yml review",
            "claude-opus-4-1-20250805",
            "claude_args",
        ),
        ("settings-inline.yml claude", "claude-haiku-4-5", "settings"),
        ("settings-file.yml claude", "claude-opus-4-1", "settings"),
        ("model-env.yml claude", "claude-sonnet-4-5", "env"),
        (
            "model-dispatch-input.yml claude",
            "claude-opus-4-1",
            "input_default",
        ),
        (
            "model-variable.yml claude",
            "claude-sonnet-4-5",
            "unresolved",
        ),
        (
            "yaml-as-written.yml claude-again",
            "claude-haiku-4-5",
            "claude_args",
        ),
    ] {
        let step = get(key);
        assert_eq!(
            (step["model"].as_str(), step["model_source"].as_str()),
            (Some(model), Some(source)),
            "{key}: {step}"
        );
    }
    assert_eq!(
        get("model-variable.yml claude")["model_expression"],
        "${{ vars.CLAUDE_MODEL }}"
    );
    assert_eq!(
        get("matrix-models.yml eval")["secret_expression"],
        "${{ secrets[matrix.key] }}"
    );
    let repo = doc["repos"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["repo"] == "acme/shapes")
        .unwrap();
    let warnings = repo["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let warning = warnings[0].as_str().unwrap();
    assert!(
        warning.starts_with(".github/workflows/broken.yml: ") && warning.contains("line 7"),
        "{warning}"
    );
}

#[test]
fn check_names_what_it_cannot_resolve_and_what_uses_no_api_key() {
    let sim = world();
    let (doc, code) = json_of(keyfix(&sim).args(["check", "acme/dynamic", "--install-probe"]));
    assert_eq!(code, 2, "{doc:#}");
    assert_eq!(
        doc["error"]["message"],
        "the Claude step of .github/workflows/matrix-models.yml (eval) reads its key from ${{ secrets[matrix.key] }}, which keyfix cannot resolve; the secrets it can see: TEAM_A_KEY, TEAM_B_KEY. Pass --secret NAME"
    );

    let (doc, code) = json_of(keyfix(&sim).args(["check", "acme/oauth", "--install-probe"]));
    assert_eq!(code, 2, "{doc:#}");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("uses a Claude Code OAuth token (claude_code_oauth_token), not an API key"),
        "{doc:#}"
    );
    assert!(
        !sim.requests()
            .iter()
            .any(|r| r.method != "GET" && r.service == "github"),
        "nothing was installed or dispatched"
    );
    let (doc, code) = json_of(keyfix(&sim).args([
        "check",
        "acme/dynamic",
        "--install-probe",
        "--secret",
        "TEAM_B_KEY",
    ]));
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["secret"]["name"], "TEAM_B_KEY");
}

#[test]
fn probe_print_probes_every_secret_in_the_scope_its_job_reads() {
    let sim = world();
    let out = keyfix(&sim)
        .args(["probe", "print", "acme/shapes"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "  probe:\n",
        "  probe-staging:\n",
        "  probe-production:\n",
        "environment: 'staging'",
        "environment: 'production'",
        "${{ secrets.CLAUDE_KEY }}",
        "${{ secrets.REVIEW_KEY }}",
        "${{ secrets.ORG_CLAUDE_KEY }}",
        "${{ secrets.ANCHORED_KEY }}",
        "${{ secrets.STAGING_CLAUDE_KEY }}",
        "${{ secrets.PROD_CLAUDE_KEY }}",
        "runs-on: ['self-hosted', 'linux']",
    ] {
        assert!(text.contains(expected), "{expected} in:\n{text}");
    }
    assert!(!text.contains("secrets[") && !text.contains("CLAUDE_CODE_OAUTH_TOKEN"));
}
