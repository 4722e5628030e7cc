//! `keyfix check` against the simulator, which runs the generated probe workflow itself with
//! bash: every cause a stored key can have, the probe's public log, dispatch modes, and the
//! named errors of a probe run that gives no answer.

mod common;

use common::*;
use keyfix_sim::Sim;

fn check(sim: &Sim, repo: &str, extra: &[&str]) -> (serde_json::Value, i32) {
    json_of(
        keyfix(sim)
            .args(["check", repo, "--install-probe"])
            .args(extra),
    )
}

/// Every probe job log the simulator holds.
fn probe_logs(sim: &Sim) -> Vec<String> {
    let state = sim.world().github.lock().unwrap();
    let probe_runs: Vec<u64> = state
        .runs
        .iter()
        .filter(|r| r.workflow_path.ends_with("keyfix-probe.yml"))
        .map(|r| r.id)
        .collect();
    state
        .jobs
        .iter()
        .filter(|j| probe_runs.contains(&j.run_id))
        .map(|j| j.log.clone())
        .collect()
}

#[test]
fn every_cause_a_stored_key_can_have() {
    let cases = [
        ("ok", Some("good"), "claude-haiku-4-5", "ok", 0),
        (
            "malformed",
            None,
            "claude-haiku-4-5",
            "malformed_secret",
            10,
        ),
        (
            "oauth",
            Some("oauth"),
            "claude-haiku-4-5",
            "wrong_credential_kind",
            10,
        ),
        (
            "adminkey",
            Some("admin"),
            "claude-haiku-4-5",
            "wrong_credential_kind",
            10,
        ),
        (
            "revoked",
            Some("revoked"),
            "claude-haiku-4-5",
            "invalid_key",
            10,
        ),
        (
            "frozen",
            Some("frozen"),
            "claude-haiku-4-5",
            "organization_disabled",
            10,
        ),
        (
            "limited",
            Some("limited"),
            "claude-haiku-4-5",
            "spend_limit_reached",
            11,
        ),
        (
            "capped",
            Some("capped"),
            "claude-haiku-4-5",
            "tier_spend_cap",
            11,
        ),
        ("busy", Some("busy"), "claude-haiku-4-5", "rate_limited", 13),
        (
            "overloaded",
            Some("fresh"),
            "claude-opus-4-1",
            "api_unavailable",
            13,
        ),
        (
            "tier",
            Some("good"),
            "claude-opus-4-5",
            "model_tier_restricted",
            12,
        ),
        (
            "nomodel",
            Some("good"),
            "claude-nonexistent-9",
            "model_unavailable",
            12,
        ),
        (
            "credit",
            Some("orphaned"),
            "claude-sonnet-4-5",
            "undetermined",
            14,
        ),
        ("missing", None, "claude-haiku-4-5", "missing_secret", 10),
    ];
    let good = {
        let keys =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/keys.toml"))
                .unwrap();
        keyfix_sim::Scenario::from_toml(&keys)
            .unwrap()
            .key("good")
            .unwrap()
            .value()
    };
    let repos: Vec<String> = cases
        .iter()
        .map(|(name, key, model, _, _)| match *name {
            "malformed" => case(name, Some(&format!("value:{good}\n")), model),
            _ => case(name, *key, model),
        })
        .collect();
    let sim = world(&repos, "");
    for (name, _, _, cause, code) in cases {
        let (doc, got) = check(&sim, &format!("acme/{name}"), &[]);
        assert_eq!(
            (doc["diagnosis"]["cause"].as_str(), got),
            (Some(cause), code),
            "{name}: {doc:#}"
        );
    }
    // Row 1 needs no probe: the missing secret's repository got no probe run.
    let state = sim.world().github.lock().unwrap();
    let missing = state.repo("acme", "missing").unwrap();
    assert!(!missing
        .files
        .contains_key(".github/workflows/keyfix-probe.yml"));
    drop(state);
    assert_logs_reveal_nothing(&sim);
}

#[test]
fn a_reference_key_decides_the_credit_text() {
    let repos = [
        case("orphaned", Some("orphaned"), "claude-haiku-4-5"),
        case("otherorg", Some("no_credit"), "claude-haiku-4-5"),
        case("nocredit", Some("no_credit"), "claude-haiku-4-5"),
    ];
    let sim = world(&repos, "");
    let with_reference = |repo: &str, reference: &str| {
        json_of(
            keyfix(&sim)
                .args([
                    "check",
                    repo,
                    "--install-probe",
                    "--reference-key-env",
                    "REFERENCE",
                ])
                .env("REFERENCE", sim.key(reference)),
        )
    };
    let (doc, code) = with_reference("acme/orphaned", "fresh");
    assert_eq!(
        (doc["diagnosis"]["cause"].as_str(), code),
        (Some("orphaned_key"), 10),
        "{doc:#}"
    );
    let (doc, code) = with_reference("acme/otherorg", "fresh");
    assert_eq!(
        (doc["diagnosis"]["cause"].as_str(), code),
        (Some("wrong_organization"), 10),
        "{doc:#}"
    );
    let (doc, code) = with_reference("acme/nocredit", "no_credit_fresh");
    assert_eq!(
        (doc["diagnosis"]["cause"].as_str(), code),
        (Some("credit_exhausted"), 11),
        "{doc:#}"
    );
    let (doc, _) = with_reference("acme/orphaned", "revoked");
    assert_eq!(doc["diagnosis"]["cause"], "undetermined");
    assert!(
        doc["diagnosis"]["notes"].to_string().contains("401"),
        "{doc:#}"
    );
    assert_logs_reveal_nothing(&sim);
}

#[test]
fn the_admin_api_finds_the_stored_key_by_its_salted_hint() {
    let repos = [case(
        "console",
        Some("disabled_in_console"),
        "claude-haiku-4-5",
    )];
    let sim = world(&repos, "");
    let (doc, code) = json_of(
        keyfix(&sim)
            .args(["check", "acme/console", "--install-probe"])
            .env("ANTHROPIC_ADMIN_KEY", sim.key("admin")),
    );
    assert_eq!(
        (doc["diagnosis"]["cause"].as_str(), code),
        (Some("invalid_key"), 10),
        "{doc:#}"
    );
    assert!(doc["diagnosis"]["evidence"]
        .to_string()
        .contains("\"status\":\"inactive\""));
}

#[test]
fn an_environment_scoped_secret_is_probed_in_its_environment() {
    let workflow = WORKFLOW.replace("MODEL", "claude-haiku-4-5").replace(
        "    runs-on: ubuntu-latest\n",
        "    runs-on: ubuntu-latest\n    environment: prod\n",
    );
    let repo = format!(
        "[[repos]]\nowner = \"acme\"\nname = \"envs\"\nsecrets = [{{ name = \"ANTHROPIC_API_KEY\", key = \"revoked\" }}]\nenvironments = [{{ name = \"prod\", secrets = [{{ name = \"ANTHROPIC_API_KEY\", key = \"good\" }}] }}]\nfiles = {{ \".github/workflows/claude.yml\" = '''{workflow}''' }}\n"
    );
    let sim = world(&[repo], "");
    let (doc, code) = check(&sim, "acme/envs", &[]);
    assert_eq!(
        (doc["diagnosis"]["cause"].as_str(), code),
        (Some("ok"), 0),
        "{doc:#}"
    );
    assert_eq!(doc["secret"]["scope"], "environment:prod");
    assert_eq!(doc["secret"]["shadows"], serde_json::json!(["repository"]));
    let state = sim.world().github.lock().unwrap();
    let probe =
        &state.repo("acme", "envs").unwrap().files[".github/workflows/keyfix-probe.yml"].text;
    assert!(probe.contains("environment: 'prod'"), "{probe}");
}

/// The probe's public log holds no 12-character piece of any key, and no raw organization id.
fn assert_logs_reveal_nothing(sim: &Sim) {
    let logs = probe_logs(sim);
    assert!(!logs.is_empty());
    for log in &logs {
        assert!(log.contains("keyfix-probe-report: "), "{log}");
        for key in &sim.scenario().keys {
            assert_no_piece_of(&key.value(), log, "the probe log");
        }
        for org in &sim.scenario().organizations {
            assert!(
                !log.contains(&org.uuid()),
                "the probe log holds the raw id of {}",
                org.name
            );
        }
    }
}

#[test]
fn a_reference_key_under_persistent_529_leaves_the_diagnosis_transient() {
    let sim = world(&[case("app", Some("orphaned"), "claude-haiku-4-5")], "");
    sim.world().add_fault(keyfix_sim::scenario::Fault {
        path: "/v1/messages".into(),
        key: Some("fresh".into()),
        status: Some(529),
        ..Default::default()
    });
    let (doc, code) = json_of(&mut check_with_fresh_reference(&sim, &[]));
    assert_eq!(
        (doc["diagnosis"]["cause"].as_str(), code),
        (Some("api_unavailable"), 13),
        "{doc:#}"
    );
    let summary = doc["diagnosis"]["summary"].as_str().unwrap();
    assert!(
        summary.contains("529 overloaded_error from messages on claude-haiku-4-5"),
        "the call that failed is named: {summary}"
    );

    // `repo` takes its new key as the reference and ends the same way, uploading nothing.
    let (doc, code) = json_of(
        keyfix(&sim)
            .args([
                "repo",
                "acme/app",
                "--install-probe",
                "--key-env",
                "NEW_KEY",
            ])
            .env("NEW_KEY", sim.key("fresh")),
    );
    assert_eq!(
        (doc["diagnosis"]["cause"].as_str(), code),
        (Some("api_unavailable"), 13),
        "{doc:#}"
    );
    assert!(!sim
        .requests()
        .iter()
        .any(|r| r.method == "PUT" && r.path.contains("/secrets/")));
}

#[test]
fn dispatch_works_in_all_three_server_modes() {
    for mode in ["run_details", "no_content", "enterprise"] {
        let sim = world(
            &[case("app", Some("orphaned"), "claude-haiku-4-5")],
            &format!("[github]\ndispatch = \"{mode}\"\n"),
        );
        let (doc, code) = check(&sim, "acme/app", &[]);
        assert_eq!(
            (doc["diagnosis"]["cause"].as_str(), code),
            (Some("undetermined"), 14),
            "{mode}: {doc:#}"
        );
        let dispatches: Vec<u16> = sim
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/dispatches"))
            .map(|r| r.status)
            .collect();
        let expected: &[u16] = match mode {
            "run_details" => &[200],
            "no_content" => &[204],
            _ => &[422, 204],
        };
        assert_eq!(dispatches, expected, "{mode}");
        let listed = sim.requests().iter().any(|r| {
            r.path
                .contains("keyfix-probe.yml/runs?event=workflow_dispatch")
        });
        assert_eq!(
            listed,
            mode != "run_details",
            "{mode}: the run is found by its correlation id"
        );
    }
}

#[test]
fn a_probe_run_without_an_answer_is_exit_18_with_its_name() {
    let app = case("app", Some("good"), "claude-haiku-4-5");
    let cancelled = world(
        std::slice::from_ref(&app),
        "[github]\ncancel_dispatched_runs = true\n",
    );
    let (doc, code) = check(&cancelled, "acme/app", &[]);
    assert_eq!(code, 18, "{doc:#}");
    assert_eq!(doc["error"]["kind"], "run");
    assert!(doc["error"]["message"]
        .as_str()
        .unwrap()
        .contains("cancelled"));

    let no_python = world(
        std::slice::from_ref(&app),
        "[github]\nmissing_tools = [\"python3\"]\n",
    );
    let (doc, code) = check(&no_python, "acme/app", &[]);
    assert_eq!(code, 18, "{doc:#}");
    assert!(doc["error"]["message"]
        .as_str()
        .unwrap()
        .contains("failed before it reported"));

    let workflow = WORKFLOW.replace("MODEL", "claude-haiku-4-5").replace(
        "    runs-on: ubuntu-latest\n",
        "    runs-on: ubuntu-latest\n    environment: guarded\n",
    );
    let guarded = format!(
        "[[repos]]\nowner = \"acme\"\nname = \"guarded\"\nenvironments = [{{ name = \"guarded\", requires_approval = true, secrets = [{{ name = \"ANTHROPIC_API_KEY\", key = \"good\" }}] }}]\nfiles = {{ \".github/workflows/claude.yml\" = '''{workflow}''' }}\n"
    );
    let waiting = world(&[guarded], "");
    let (doc, code) = check(&waiting, "acme/guarded", &[]);
    assert_eq!(code, 18, "{doc:#}");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("approve"),
        "{doc:#}"
    );
}

#[test]
fn the_probe_is_installed_only_when_allowed() {
    let sim = world(&[case("app", Some("good"), "claude-haiku-4-5")], "");
    let (doc, code) = json_of(keyfix(&sim).args(["check", "acme/app", "--yes"]));
    assert_eq!(code, 3, "--yes does not install the probe: {doc:#}");
    assert!(doc["error"]["message"]
        .as_str()
        .unwrap()
        .contains("--install-probe"));
    assert!(
        sim.requests()
            .iter()
            .all(|r| r.service != "github" || (r.method != "PUT" && r.method != "POST")),
        "nothing was written or dispatched"
    );
    let (doc, code) = check(&sim, "acme/app", &[]);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["actions"][0]["kind"], "probe_installed");
    // An up-to-date probe is left alone.
    let (doc, _) = check(&sim, "acme/app", &[]);
    assert_eq!(doc["actions"][0]["kind"], "probe_run");
    let puts = sim.requests().iter().filter(|r| r.method == "PUT").count();
    assert_eq!(puts, 1);
}

#[test]
fn a_token_that_cannot_write_workflows_gets_the_permission_and_the_file() {
    let tokens = "[[tokens]]\nname = \"noworkflow\"\nscopes = [\"repo\"]\n";
    let sim = world(&[case("app", Some("good"), "claude-haiku-4-5")], tokens);
    let output = keyfix(&sim)
        .args(["check", "acme/app", "--install-probe"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("Workflows: write") && stderr.contains("workflow scope"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("# keyfix-probe v"),
        "the file is printed to commit by hand: {stdout}"
    );
}

#[test]
fn probe_install_and_print() {
    let sim = world(&[case("app", Some("good"), "claude-haiku-4-5")], "");
    let printed = keyfix(&sim)
        .args(["probe", "print", "acme/app"])
        .output()
        .unwrap();
    assert!(printed.status.success());
    let text = String::from_utf8(printed.stdout).unwrap();
    assert!(text.starts_with("# keyfix-probe v"));
    let (doc, code) = json_of(keyfix(&sim).args(["probe", "install", "acme/app"]));
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["actions"][0]["kind"], "probe_installed");
    let state = sim.world().github.lock().unwrap();
    assert_eq!(
        state.repo("acme", "app").unwrap().files[".github/workflows/keyfix-probe.yml"].text,
        text
    );
}

#[test]
fn probe_remove_deletes_the_installed_probe_and_leaves_a_repository_without_one_alone() {
    let sim = world(&[case("app", Some("good"), "claude-haiku-4-5")], "");
    let installed = |sim: &Sim| {
        let state = sim.world().github.lock().unwrap();
        state
            .repo("acme", "app")
            .unwrap()
            .files
            .contains_key(".github/workflows/keyfix-probe.yml")
    };
    let (doc, code) = json_of(keyfix(&sim).args(["probe", "install", "acme/app"]));
    assert_eq!(code, 0, "{doc:#}");
    assert!(installed(&sim));
    let (doc, code) = json_of(keyfix(&sim).args(["probe", "remove", "acme/app"]));
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["actions"][0]["kind"], "probe_removed", "{doc:#}");
    assert!(!installed(&sim));
    // Nothing to remove: nothing is deleted, and that is no error.
    let before = sim.requests().len();
    let (doc, code) = json_of(keyfix(&sim).args(["probe", "remove", "acme/app"]));
    assert_eq!(code, 0, "{doc:#}");
    assert!(doc.get("actions").is_none(), "{doc:#}");
    assert!(sim.requests()[before..]
        .iter()
        .all(|r| r.method != "DELETE"));
}
