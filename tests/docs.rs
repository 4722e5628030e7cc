//! Every example in docs/runbook.md and docs/rotate.md, run with bash against the simulator, the
//! scheduled rotation workflow of docs/rotate.md run step by step for each organization, and the
//! daily health check of docs/health.md run red and green.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;
use keyfix_sim::runner::evaluate;
use keyfix_sim::scenario::key_env_name;
use keyfix_sim::Sim;

const MARKER: &str = "<!-- example-test:";

struct Example {
    name: String,
    code: String,
    expect_exit: i32,
    expect_output: String,
}

fn read_doc(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("docs")
            .join(name),
    )
    .unwrap()
}

/// The value of `key=` in a marker: a word, or a `"quoted text"`.
fn marker_field(marker: &str, key: &str) -> String {
    let Some(start) = marker.find(&format!(" {key}=")) else {
        return String::new();
    };
    let value = &marker[start + key.len() + 2..];
    match value.strip_prefix('"') {
        Some(quoted) => quoted[..quoted.find('"').unwrap()].to_owned(),
        None => value
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned(),
    }
}

/// The fenced block of `language` that follows byte `from` of `text`: its body and its end.
fn block_after(text: &str, from: usize, language: &str) -> (String, usize) {
    let fence = format!("```{language}\n");
    let start = text[from..].find(&fence).unwrap() + from + fence.len();
    let end = text[start..].find("```").unwrap() + start;
    (text[start..end].to_owned(), end)
}

/// The `sh` blocks that follow an `example-test: NAME expect-exit=N expect-output=TEXT` marker,
/// in document order.
fn examples(doc: &str) -> Vec<Example> {
    let text = read_doc(doc);
    let mut examples = Vec::new();
    let mut from = 0;
    while let Some(found) = text[from..].find(MARKER) {
        let start = from + found;
        let marker_end = text[start..].find("-->").unwrap() + start;
        let marker = &text[start + MARKER.len() - 1..marker_end];
        let (code, block_end) = block_after(&text, marker_end, "sh");
        examples.push(Example {
            name: marker.split_whitespace().next().unwrap().to_owned(),
            code,
            expect_exit: marker_field(marker, "expect-exit").parse().unwrap(),
            expect_output: marker_field(marker, "expect-output"),
        });
        from = block_end;
    }
    examples
}

/// `PATH` with the keyfix under test first, then the tests' own `jq`.
fn path_with_keyfix() -> String {
    let bin_dir = assert_cmd::cargo::cargo_bin("keyfix")
        .parent()
        .unwrap()
        .to_owned();
    format!(
        "{}:{}:{}",
        bin_dir.display(),
        tools::tools_bin().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// `script` under `bash -eo pipefail` in `dir`, with the simulator's environment (and its keys as
/// `KEYFIX_SIM_KEY_<NAME>`, as `keyfix-sim serve` exports them) and nothing else of the caller's.
fn run_bash(script: &str, dir: &Path, sim: &Sim, env: &[(&str, String)]) -> Output {
    let keys = sim
        .scenario()
        .keys
        .iter()
        .map(|k| (key_env_name(&k.name), sim.key(&k.name)));
    std::process::Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
        .current_dir(dir)
        .env_clear()
        .env("PATH", path_with_keyfix())
        .env("HOME", dir)
        .env("NO_COLOR", "1")
        .envs(sim.env())
        .envs(keys)
        .envs(env.iter().map(|(k, v)| (*k, v)))
        .output()
        .unwrap()
}

/// Runs every example of `doc` in order, in one directory, and checks its exit code, that its
/// stdout or stderr says the expected text, and that neither holds a piece of `new_key`.
fn run_examples(doc: &str, sim: &Sim, env: &[(&str, String)], new_key: &str) -> usize {
    let work = tempfile::tempdir().unwrap();
    let examples = examples(doc);
    for example in &examples {
        let output = run_bash(&example.code, work.path(), sim, env);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let what = format!("{doc} {}", example.name);
        assert_eq!(
            output.status.code(),
            Some(example.expect_exit),
            "{what}: {stdout}\n{stderr}"
        );
        assert!(
            stdout.contains(&example.expect_output) || stderr.contains(&example.expect_output),
            "{what}: {stdout}\n{stderr}"
        );
        assert_no_piece_of(new_key, &format!("{stdout}{stderr}"), &what);
    }
    for entry in std::fs::read_dir(work.path()).unwrap() {
        let path = entry.unwrap().path();
        if let Ok(text) = std::fs::read_to_string(&path) {
            assert_no_piece_of(new_key, &text, &path.display().to_string());
        }
    }
    examples.len()
}

#[test]
fn every_runbook_example_works_as_written() {
    let sim = world(&[case("app", Some("orphaned"), "claude-haiku-4-5")], "");
    let fresh = sim.key("fresh");
    let env = [
        ("REPO", "acme/app".to_owned()),
        ("NEW_ANTHROPIC_KEY", fresh.clone()),
    ];
    assert_eq!(run_examples("runbook.md", &sim, &env, &fresh), 5);
    assert_eq!(
        sim.secret("acme", Some("app"), "repo", "ANTHROPIC_API_KEY"),
        Some(fresh)
    );
}

/// Every scope of `owner` that a rotation writes, and what it holds now.
fn held(sim: &Sim, owner: &str, scopes: &[(Option<&str>, &str)]) -> Vec<Option<String>> {
    scopes
        .iter()
        .map(|(repo, scope)| sim.secret(owner, *repo, scope, "ANTHROPIC_API_KEY"))
        .collect()
}

const ACME_SCOPES: [(Option<&str>, &str); 4] = [
    (None, "org"),
    (Some("web"), "repo"),
    (Some("deploy"), "env:production"),
    (Some("legacy"), "repo"),
];

#[test]
fn every_rotate_example_works_as_written() {
    let sim = start(org_scenario());
    let fresh = sim.key("fresh");
    let env = [("NEW_ANTHROPIC_KEY", fresh.clone())];
    assert_eq!(run_examples("rotate.md", &sim, &env, &fresh), 5);
    assert_eq!(
        held(&sim, "acme", &ACME_SCOPES),
        vec![Some(fresh.clone()); 4],
        "every scope acme's jobs read holds the new key"
    );
    assert_eq!(
        sim.secret("acme", Some("deploy"), "repo", "ANTHROPIC_API_KEY"),
        Some(sim.key("orphaned")),
        "the shadowed copy is left as it is"
    );
    let legacy_puts = sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT" && r.path.contains("/repos/acme/legacy/actions/secrets/"))
        .map(|r| r.status)
        .collect::<Vec<_>>();
    assert_eq!(
        legacy_puts,
        [502, 204],
        "the failed write once, then resume"
    );
}

/// The workflow `name` documented in `doc` (after its `example-workflow` marker).
fn documented_workflow(doc: &str, name: &str) -> serde_json::Value {
    let text = read_doc(doc);
    let marker = text
        .find(&format!("<!-- example-workflow: {name} -->"))
        .unwrap();
    let (yaml, _) = block_after(&text, marker, "yaml");
    yaml_serde::from_str(&yaml).unwrap()
}

/// The `env:` of a workflow step, evaluated with `lookup` as Actions would.
fn step_env(
    step: &serde_json::Value,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Vec<(String, String)> {
    step["env"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), evaluate(v.as_str().unwrap(), lookup)))
        .collect()
}

/// The workflow's `Rotate` step runs, for each organization of its matrix, with its `env:`
/// evaluated as Actions would (the secrets and the matrix value), against the simulated
/// organizations. The install and artifact steps need the network and the runner's services, so
/// the keyfix under test stands in for the first and the files are checked instead of the second.
#[test]
fn the_scheduled_rotation_workflow_rotates_every_organization() {
    let workflow = documented_workflow("rotate.md", "scheduled");
    let job = &workflow["jobs"]["rotate"];
    let steps = job["steps"].as_array().unwrap();
    let rotate = steps.iter().find(|s| s["name"] == "Rotate").unwrap();
    let kept = steps
        .iter()
        .find_map(|s| s["with"]["path"].as_str())
        .unwrap();
    let orgs: Vec<String> = job["strategy"]["matrix"]["org"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(orgs, ["acme", "acme-labs"]);

    let mut scenario = org_scenario();
    scenario.faults.clear();
    let sim = start(scenario);
    let fresh = sim.key("fresh");
    let work = tempfile::tempdir().unwrap();
    for org in &orgs {
        let lookup = |path: &str| match path {
            "secrets.KEYFIX_GITHUB_TOKEN" => Some(sim.token("default")),
            "secrets.NEW_ANTHROPIC_KEY" => Some(fresh.clone()),
            "matrix.org" => Some(org.clone()),
            _ => None,
        };
        let env = step_env(rotate, &lookup);
        let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        let output = run_bash(rotate["run"].as_str().unwrap(), work.path(), &sim, &env);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{org}: {stderr}");
        assert_no_piece_of(&fresh, &stderr, org);

        let files = artifact_files(work.path(), &evaluate(kept, &lookup));
        assert_eq!(files.len(), 2, "{org}: the journal and the report");
        for file in &files {
            assert_no_piece_of(&fresh, &std::fs::read_to_string(file).unwrap(), org);
        }
        let report: serde_json::Value = serde_json::from_slice(
            &std::fs::read(work.path().join(format!("rotate-{org}.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(report["exit_code"], 0, "{org}: {report:#}");
        assert!(target_statuses(&report).iter().all(|s| s == "rotated"));
    }
    assert_eq!(
        held(&sim, "acme", &ACME_SCOPES),
        vec![Some(fresh.clone()); 4]
    );
    assert_eq!(
        sim.secret("acme-labs", None, "org", "ANTHROPIC_API_KEY"),
        Some(fresh)
    );
}

/// The files of `dir` that the artifact's `path:` glob (`NAME.*`) takes.
fn artifact_files(dir: &Path, glob: &str) -> Vec<PathBuf> {
    let prefix = glob.strip_suffix('*').unwrap();
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .collect()
}

/// The daily check of docs/health.md, its `Check every stored key` step run as Actions would
/// (its `env:` evaluated, `GITHUB_STEP_SUMMARY` set): red on `scenarios/health.toml`, whose
/// organization secret holds an orphaned key; green once every key works and is young enough.
#[test]
fn the_daily_health_check_turns_red_on_a_bad_key_and_green_on_good_ones() {
    let workflow = documented_workflow("health.md", "health");
    let steps = workflow["jobs"]["health"]["steps"].as_array().unwrap();
    let check = steps
        .iter()
        .find(|s| s["name"] == "Check every stored key")
        .unwrap();
    let kept = steps
        .iter()
        .find_map(|s| s["with"]["path"].as_str())
        .unwrap();
    let health = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/health.toml"
    ))
    .unwrap();
    let all_good = health
        .replace("key = \"orphaned\"", "key = \"good\"")
        .replace("200 days ago", "2 days ago");
    let all_good = all_good.replace(
        &all_good[all_good.find("value = \"sk-ant").unwrap()..all_good.find("\\n\"").unwrap() + 3],
        "key = \"good\"",
    );
    for (text, code) in [(health, 10), (all_good, 0)] {
        let sim = start(scenario(&text));
        let work = tempfile::tempdir().unwrap();
        let summary = work.path().join("summary.md");
        let lookup = |path: &str| match path {
            "secrets.KEYFIX_GITHUB_TOKEN" => Some(sim.token("default")),
            "secrets.ANTHROPIC_REFERENCE_KEY" => Some(sim.key("fresh")),
            "github.repository_owner" => Some("acme".to_owned()),
            _ => None,
        };
        let mut env = step_env(check, &lookup);
        env.push((
            "GITHUB_STEP_SUMMARY".to_owned(),
            summary.display().to_string(),
        ));
        let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        let output = run_bash(check["run"].as_str().unwrap(), work.path(), &sim, &env);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{stderr}");

        let report_path = work.path().join(kept);
        let report = std::fs::read_to_string(&report_path).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&report).unwrap();
        assert_eq!(doc["exit_code"], code);
        let summary = std::fs::read_to_string(&summary).unwrap();
        assert!(summary.starts_with("### keyfix scan\n"), "{summary}");
        assert!(
            summary.contains("| Key | Cause | Stored in | Updated | Read by |"),
            "{summary}"
        );
        if code == 10 {
            assert!(
                summary.contains("| key 1 | `orphaned_key` | organization secret ANTHROPIC\\_API\\_KEY of acme |"),
                "{summary}"
            );
            assert!(summary.contains("`malformed_secret`"), "{summary}");
        } else {
            assert!(!summary.contains("orphaned"), "{summary}");
        }
        assert!(!summary.contains("sk-ant"), "{summary}");
        for key in &sim.scenario().keys {
            let value = key.value();
            for text in [&summary, &report, &stderr.to_string()] {
                assert_no_piece_of(&value, text, "the health check");
            }
            assert!(!summary.contains(&admin_hint(&value)), "{summary}");
        }
        // Fingerprints stay in the JSON report: the summary numbers the keys instead.
        for group in doc["keys"].as_array().unwrap() {
            assert!(!summary.contains(group["fingerprint"].as_str().unwrap()));
        }
    }
}
