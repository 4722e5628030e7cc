//! `keyfix scan OWNER --probe --max-age`: every distinct stored secret of an organization
//! probed once, the same key stored in several places shown once, secrets over age flagged,
//! and the exit code of the most urgent (`scenarios/health.toml`).

mod common;

use common::*;
use keyfix_sim::Sim;

const PROBE: &str = ".github/workflows/keyfix-probe.yml";

fn health_text() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/health.toml"
    ))
    .expect("the health scenario")
}

fn health() -> Sim {
    start(scenario(&health_text()))
}

/// The health scenario with every key working: only `acme/docs`'s 200-day-old secret is left.
fn healthy_but_old() -> Sim {
    let text = health_text()
        .replace("key = \"orphaned\"", "key = \"good\"")
        .replace(
            "value = \"sk-ant-api03-PastedWithANewlineXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXAA\\n\"",
            "key = \"fresh\"",
        );
    start(scenario(&text))
}

/// `keyfix scan acme --probe --install-probe --max-age MAX_AGE` with the fresh key as reference.
fn scan_probe(sim: &Sim, max_age: &str) -> assert_cmd::Command {
    let mut cmd = keyfix(sim);
    cmd.args([
        "scan",
        "acme",
        "--probe",
        "--install-probe",
        "--max-age",
        max_age,
        "--reference-key-env",
        "REFERENCE",
    ])
    .env("REFERENCE", sim.key("fresh"));
    cmd
}

/// The probe dispatches the simulator received.
fn dispatches(sim: &Sim) -> Vec<String> {
    sim.requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("keyfix-probe.yml/dispatches"))
        .map(|r| r.path)
        .collect()
}

/// Each key group as (cause, [(scope, holder)]).
fn groups(doc: &serde_json::Value) -> Vec<(String, Vec<(String, String)>)> {
    doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let scopes = g["scopes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    let holder = s["owner"].as_str().or(s["repo"].as_str()).unwrap();
                    (s["scope"].as_str().unwrap().to_owned(), holder.to_owned())
                })
                .collect();
            (g["cause"].as_str().unwrap().to_owned(), scopes)
        })
        .collect()
}

#[test]
fn every_stored_secret_is_probed_once_and_each_key_shown_once() {
    let sim = health();
    let (doc, code, stderr) = json_and_stderr_of(&mut scan_probe(&sim, "90d"));
    assert_eq!(code, 10, "{doc:#}");
    assert_eq!(doc["exit_code"], 10);
    // Five stored secrets: the organization's (read by four repositories), legacy's copy of the
    // same key, web's, deploy's environment secret and docs'.
    let sent = dispatches(&sim);
    assert_eq!(sent.len(), 5, "{sent:#?}");
    assert_eq!(
        sent.iter().filter(|p| p.contains("/svc-")).count(),
        1,
        "the organization secret is probed from one repository"
    );
    assert_eq!(
        groups(&doc),
        [
            (
                "orphaned_key".to_owned(),
                vec![
                    ("organization".to_owned(), "acme".to_owned()),
                    ("repository".to_owned(), "acme/legacy".to_owned()),
                ]
            ),
            (
                "malformed_secret".to_owned(),
                vec![("repository".to_owned(), "acme/web".to_owned())]
            ),
            (
                "ok".to_owned(),
                vec![
                    (
                        "environment:production".to_owned(),
                        "acme/deploy".to_owned()
                    ),
                    ("repository".to_owned(), "acme/docs".to_owned()),
                ]
            ),
        ]
    );
    let orphaned = &doc["keys"][0];
    assert_eq!(
        orphaned["scopes"][0]["read_by"],
        serde_json::json!(["acme/svc-1", "acme/svc-2", "acme/svc-3", "acme/svc-4"])
    );
    // The same key, seen through one nonce: one fingerprint in both places.
    let fingerprint = orphaned["fingerprint"].as_str().unwrap();
    for repo in doc["repos"].as_array().unwrap() {
        let name = repo["repo"].as_str().unwrap();
        let health = &repo["workflows"][0]["health"];
        let expected = match name {
            "acme/legacy" | "acme/svc-1" | "acme/svc-2" | "acme/svc-3" | "acme/svc-4" => {
                assert_eq!(health["fingerprint"], fingerprint, "{name}");
                "orphaned_key"
            }
            "acme/web" => "malformed_secret",
            _ => "ok",
        };
        assert_eq!(health["cause"], expected, "{name}");
        assert_eq!(health["over_age"] == true, name == "acme/docs", "{name}");
        assert!(health["updated_at"].is_string(), "{name}");
    }
    let everything = format!("{doc}{stderr}");
    for key in ["orphaned", "good", "fresh"] {
        assert_no_piece_of(&sim.key(key), &everything, key);
    }
}

#[test]
fn the_human_report_names_each_key_once_with_its_places() {
    let sim = health();
    let output = scan_probe(&sim, "90d").output().unwrap();
    assert_eq!(output.status.code(), Some(10));
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(text.matches("orphaned_key").count(), 1, "{text}");
    assert!(text.contains("orphaned_key, stored in 2 places"), "{text}");
    assert!(
        text.contains("organization secret ANTHROPIC_API_KEY of acme, updated "),
        "{text}"
    );
    assert!(
        text.contains("read by acme/svc-1, acme/svc-2, acme/svc-3, acme/svc-4"),
        "{text}"
    );
    assert!(text.contains("(over 90d); read by acme/docs"), "{text}");
    assert!(
        text.contains(
            "5 stored secrets: 1 working, 2 needing attention; 1 not updated for over 90d."
        ),
        "{text}"
    );
}

#[test]
fn every_key_working_but_one_secret_over_age_exits_19() {
    let sim = healthy_but_old();
    let (doc, code) = json_of(&mut scan_probe(&sim, "90d"));
    assert_eq!(code, 19, "{doc:#}");
    let causes: Vec<&str> = doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["cause"].as_str().unwrap())
        .collect();
    assert!(causes.iter().all(|c| *c == "ok"), "{causes:?}");
    let old: Vec<&str> = doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["scopes"].as_array().unwrap())
        .filter(|s| s["over_age"] == true)
        .map(|s| s["repo"].as_str().unwrap())
        .collect();
    assert_eq!(old, ["acme/docs"]);
    // A longer policy: nothing is over age, and every key works.
    let (doc, code) = json_of(&mut scan_probe(&sim, "300d"));
    assert_eq!(code, 0, "{doc:#}");
}

#[test]
fn max_age_alone_probes_nothing_and_flags_old_secrets() {
    let sim = healthy_but_old();
    let (doc, code) = json_of(keyfix(&sim).args(["scan", "acme", "--max-age", "12w"]));
    assert_eq!(code, 19, "{doc:#}");
    assert!(dispatches(&sim).is_empty());
    assert_eq!(sim.default_branch_file("acme", "docs", PROBE), None);
    let docs = doc["repos"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["repo"] == "acme/docs")
        .unwrap();
    assert_eq!(docs["workflows"][0]["health"]["over_age"], true);
    assert!(docs["workflows"][0]["health"].get("cause").is_none());
}

#[test]
fn without_consent_to_install_no_probe_is_committed_and_the_way_out_is_named() {
    let sim = health();
    let (doc, code) = json_of(keyfix(&sim).args(["scan", "acme", "--probe"]));
    assert_eq!(code, 3, "{doc:#}");
    assert!(dispatches(&sim).is_empty());
    for repo in ["svc-1", "legacy", "web", "deploy", "docs"] {
        assert_eq!(sim.default_branch_file("acme", repo, PROBE), None, "{repo}");
    }
    let scopes: Vec<&serde_json::Value> = doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["scopes"].as_array().unwrap())
        .collect();
    assert_eq!(scopes.len(), 5);
    for scope in scopes {
        assert_eq!(scope["error"]["kind"], "input_needed", "{scope}");
        let message = scope["error"]["message"].as_str().unwrap();
        assert!(message.contains("--install-probe"), "{message}");
        assert!(message.contains("--probe-branch"), "{message}");
    }
}

#[test]
fn the_branch_probe_commits_nothing_to_any_default_branch() {
    let sim = health();
    let mut cmd = keyfix(&sim);
    cmd.args(["scan", "acme", "--probe", "--probe-branch"]);
    let (doc, code) = json_of(&mut cmd);
    // web's malformed secret must be replaced (10, before 14); with no reference key, the
    // orphaned key cannot be told from an organization without credit.
    assert_eq!(code, 10, "{doc:#}");
    assert_eq!(doc["keys"][0]["cause"], "undetermined", "{doc:#}");
    for repo in ["svc-1", "legacy", "web", "deploy", "docs"] {
        assert_eq!(sim.default_branch_file("acme", repo, PROBE), None, "{repo}");
        let branches = sim.branches("acme", repo);
        assert!(
            branches
                .iter()
                .all(|(name, _)| !name.starts_with("keyfix-probe/")),
            "{repo}: {branches:?}"
        );
    }
}

#[test]
fn bad_health_options_are_refused_before_any_request() {
    let sim = health();
    for (args, says) in [
        (&["--max-age", "ninety"][..], "90d"),
        (&["--max-age", "90m"][..], "days, weeks or hours"),
        (&["--max-age", "0d"][..], "days, weeks or hours"),
        (&["--install-probe"][..], "--probe"),
        (&["--probe-branch"][..], "--probe"),
        (&["--reference-key-env", "X"][..], "--probe"),
        (&["--probe-concurrency", "2"][..], "--probe"),
        (&["--probe", "--probe-concurrency", "0"][..], "0"),
    ] {
        let output = keyfix(&sim)
            .args(["scan", "acme"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    assert!(sim.requests().is_empty(), "{:?}", sim.requests());
}
