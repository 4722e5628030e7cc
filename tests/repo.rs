//! `keyfix repo` against the simulator, one scenario at a time: the cause, the exit code, the
//! JSON, what every scope holds afterwards (unsealed by the simulator), and the re-run.

mod common;

use common::*;
use keyfix_sim::scenario::Fault;
use keyfix_sim::Sim;

/// `keyfix repo acme/NAME --install-probe --key-env NEW_KEY --json` with the scenario key `new`.
fn repo(sim: &Sim, name: &str, new: &str, extra: &[&str]) -> (serde_json::Value, i32) {
    json_of(
        keyfix(sim)
            .args([
                "repo",
                &format!("acme/{name}"),
                "--install-probe",
                "--key-env",
                "NEW_KEY",
            ])
            .args(extra)
            .env("NEW_KEY", sim.key(new)),
    )
}

const FIXED: [&str; 5] = [
    "key_validated",
    "secret_updated",
    "verified",
    "rerun_requested",
    "rerun_finished",
];

fn assert_fixed(
    sim: &Sim,
    doc: &serde_json::Value,
    code: i32,
    cause: &str,
    new: &str,
    scope: &str,
    name: &str,
) {
    assert_eq!(
        (doc["diagnosis"]["cause"].as_str(), code),
        (Some(cause), 0),
        "{doc:#}"
    );
    // The fix happens in this order; probe runs come before the upload (the diagnosis, unless a
    // missing secret needed none) and between the upload and the verification.
    let fix: Vec<String> = action_kinds(doc)
        .into_iter()
        .filter(|k| !k.starts_with("probe_"))
        .collect();
    assert_eq!(fix, FIXED, "{doc:#}");
    let all = action_kinds(doc);
    let upload = all.iter().position(|k| k == "secret_updated").unwrap();
    let verified = all.iter().position(|k| k == "verified").unwrap();
    assert!(
        all[upload..verified].contains(&"probe_run".to_owned()),
        "verified by a probe run after the upload: {all:?}"
    );
    let finished = doc["actions"].as_array().unwrap().last().unwrap();
    assert_eq!(finished["conclusion"], "success");
    assert_eq!(finished["attempt"], 2);
    assert_eq!(
        sim.secret("acme", Some(name), scope, "ANTHROPIC_API_KEY"),
        Some(sim.key(new)),
        "{name}: {scope}"
    );
}

fn puts(sim: &Sim) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.method == "PUT" && r.path.contains("/secrets/"))
        .count()
}

#[test]
fn keys_a_new_key_fixes_are_replaced_verified_and_re_run() {
    let good = keyfix_sim::Scenario::from_toml(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/keys.toml"))
            .unwrap(),
    )
    .unwrap()
    .key("good")
    .unwrap()
    .value();
    let cases = [
        ("orphaned", Some("orphaned".to_owned()), "orphaned_key"),
        (
            "otherorg",
            Some("no_credit".to_owned()),
            "wrong_organization",
        ),
        (
            "newline",
            Some(format!("value:{good}\n")),
            "malformed_secret",
        ),
        ("missing", None, "missing_secret"),
        ("oauth", Some("oauth".to_owned()), "wrong_credential_kind"),
        (
            "adminkey",
            Some("admin".to_owned()),
            "wrong_credential_kind",
        ),
        ("revoked", Some("revoked".to_owned()), "invalid_key"),
    ];
    let repos: Vec<String> = cases
        .iter()
        .map(|(n, k, _)| case(n, k.as_deref(), "claude-haiku-4-5"))
        .collect();
    let sim = world(&repos, "");
    for (name, _, cause) in cases {
        let (doc, code) = repo(&sim, name, "fresh", &[]);
        assert_fixed(&sim, &doc, code, cause, "fresh", "repo", name);
        if name == "adminkey" {
            assert!(doc["diagnosis"]["notes"].to_string().contains("revoke"));
        }
        let written = doc["actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["kind"] == "secret_updated")
            .map(|a| a["written"].clone());
        let expected = if name == "missing" {
            "created"
        } else {
            "updated"
        };
        assert_eq!(written, Some(expected.into()), "{name}");
    }
}

#[test]
fn a_new_key_that_cannot_help_uploads_nothing() {
    let repos = [
        case("nocredit", Some("no_credit"), "claude-haiku-4-5"),
        case("tier", Some("good"), "claude-opus-4-5"),
        case("busy", Some("busy"), "claude-haiku-4-5"),
    ];
    let sim = world(&repos, "");
    let (doc, code) = repo(&sim, "nocredit", "no_credit_fresh", &[]);
    assert_eq!(
        (doc["diagnosis"]["cause"].as_str(), code),
        (Some("credit_exhausted"), 11),
        "{doc:#}"
    );
    let (doc, code) = repo(&sim, "tier", "fresh", &[]);
    assert_eq!(
        (doc["diagnosis"]["cause"].as_str(), code),
        (Some("model_tier_restricted"), 12),
        "{doc:#}"
    );
    let (doc, code) = repo(&sim, "busy", "fresh", &[]);
    assert_eq!(
        (doc["diagnosis"]["cause"].as_str(), code),
        (Some("rate_limited"), 13),
        "{doc:#}"
    );
    assert_eq!(puts(&sim), 0, "nothing was uploaded");
    assert_eq!(
        sim.secret("acme", Some("nocredit"), "repo", "ANTHROPIC_API_KEY"),
        Some(sim.key("no_credit"))
    );
    // --force uploads knowingly, but never a key that fails on the workflow's model.
    let (doc, code) = repo(&sim, "tier", "fresh", &["--force"]);
    assert_eq!(code, 12, "{doc:#}");
    assert_eq!(puts(&sim), 0);
    let (doc, code) = repo(&sim, "busy", "fresh", &["--force", "--no-rerun"]);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(
        sim.secret("acme", Some("busy"), "repo", "ANTHROPIC_API_KEY"),
        Some(sim.key("fresh"))
    );
}

#[test]
fn a_rejected_new_key_is_exit_15_and_nothing_is_uploaded() {
    let sim = world(&[case("app", Some("orphaned"), "claude-haiku-4-5")], "");
    let (doc, code) = repo(&sim, "app", "revoked", &[]);
    assert_eq!(code, 15, "{doc:#}");
    assert!(doc["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Nothing was uploaded"));
    let (_, code) = repo(&sim, "app", "oauth", &[]);
    assert_eq!(code, 15);
    assert_eq!(puts(&sim), 0);
}

#[test]
fn an_environment_secret_is_written_in_its_environment() {
    let workflow = WORKFLOW.replace("MODEL", "claude-haiku-4-5").replace(
        "    runs-on: ubuntu-latest\n",
        "    runs-on: ubuntu-latest\n    environment: prod\n",
    );
    let env_repo = format!(
        "[[repos]]\nowner = \"acme\"\nname = \"envs\"\nsecrets = [{{ name = \"ANTHROPIC_API_KEY\", key = \"good\" }}]\nenvironments = [{{ name = \"prod\", secrets = [{{ name = \"ANTHROPIC_API_KEY\", key = \"revoked\" }}] }}]\nruns = [{{ workflow = \".github/workflows/claude.yml\" }}]\nfiles = {{ \".github/workflows/claude.yml\" = '''{workflow}''' }}\n"
    );
    let sim = world(&[env_repo], "");
    let (doc, code) = repo(&sim, "envs", "fresh", &[]);
    assert_fixed(&sim, &doc, code, "invalid_key", "fresh", "env:prod", "envs");
    assert_eq!(doc["secret"]["scope"], "environment:prod");
    assert_eq!(
        sim.secret("acme", Some("envs"), "repo", "ANTHROPIC_API_KEY"),
        Some(sim.key("good")),
        "the shadowed copy is untouched"
    );
}

#[test]
fn a_stale_repository_secret_is_replaced_where_the_job_reads_it() {
    let extra = "[[owners.secrets]]\nname = \"ANTHROPIC_API_KEY\"\nkey = \"good\"\nvisibility = \"selected\"\nselected = [\"stale\", \"other\"]\n";
    let sim = world(
        &[case("stale", Some("orphaned"), "claude-haiku-4-5")],
        extra,
    );
    let (doc, code) = repo(&sim, "stale", "fresh", &[]);
    assert_fixed(&sim, &doc, code, "orphaned_key", "fresh", "repo", "stale");
    assert_eq!(
        doc["secret"]["shadows"],
        serde_json::json!(["organization"])
    );
    assert_eq!(
        sim.secret("acme", None, "org", "ANTHROPIC_API_KEY"),
        Some(sim.key("good")),
        "not written by default"
    );

    let sim = world(
        &[case("stale", Some("orphaned"), "claude-haiku-4-5")],
        extra,
    );
    let (doc, code) = repo(&sim, "stale", "fresh", &["--include-shadowed"]);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(
        sim.secret("acme", None, "org", "ANTHROPIC_API_KEY"),
        Some(sim.key("fresh"))
    );
    let state = sim.world().github.lock().unwrap();
    let org = &state.owner("acme").unwrap().secrets["ANTHROPIC_API_KEY"];
    assert_eq!(org.visibility, "selected", "visibility kept");
    assert_eq!(
        org.selected.len(),
        1,
        "selection kept (only existing repositories)"
    );
}

#[test]
fn a_fork_pull_request_is_explained_and_nothing_is_uploaded() {
    let fork = case("forked", Some("good"), "claude-haiku-4-5").replace(
        "runs = [{ workflow = \".github/workflows/claude.yml\", actor = \"alice\" }]",
        "runs = [{ workflow = \".github/workflows/claude.yml\", event = \"pull_request\", actor = \"eve\", from_fork = true }]",
    );
    let sim = world(&[fork], "");
    let (doc, code) = repo(&sim, "forked", "fresh", &[]);
    assert_eq!(
        (doc["diagnosis"]["cause"].as_str(), code),
        (Some("ok"), 0),
        "{doc:#}"
    );
    assert!(doc["diagnosis"]["summary"]
        .as_str()
        .unwrap()
        .contains("fork"));
    assert_eq!(doc["failed_run"]["signature"], "no_secrets");
    assert_eq!(puts(&sim), 0);
    assert!(!action_kinds(&doc).contains(&"rerun_requested".to_owned()));
}

#[test]
fn a_pull_request_from_a_deleted_fork_is_explained_and_nothing_is_uploaded() {
    // GitHub answers such a run's `head_repository` as null.
    let fork = case("forked", Some("good"), "claude-haiku-4-5").replace(
        "runs = [{ workflow = \".github/workflows/claude.yml\", actor = \"alice\" }]",
        "runs = [{ workflow = \".github/workflows/claude.yml\", event = \"pull_request\", actor = \"eve\", from_fork = true, fork_deleted = true }]",
    );
    let sim = world(&[fork], "");
    let (doc, code) = repo(&sim, "forked", "fresh", &[]);
    assert_eq!(
        (doc["diagnosis"]["cause"].as_str(), code),
        (Some("ok"), 0),
        "{doc:#}"
    );
    assert_eq!(doc["failed_run"]["signature"], "no_secrets");
    assert_eq!(puts(&sim), 0);
}

#[test]
fn a_run_whose_actor_was_deleted_is_fixed_all_the_same() {
    // GitHub answers such a run's `actor` and `triggering_actor` as null.
    let app = case("app", Some("orphaned"), "claude-haiku-4-5").replace(
        "actor = \"alice\" }]",
        "actor = \"alice\", actor_deleted = true }]",
    );
    let sim = world(&[app], "");
    let (doc, code) = repo(&sim, "app", "fresh", &[]);
    assert_fixed(&sim, &doc, code, "orphaned_key", "fresh", "repo", "app");
    assert!(doc["failed_run"].get("actor").is_none(), "{doc:#}");
}

#[test]
fn an_enterprise_server_that_refuses_return_run_details_is_handled() {
    let sim = world(
        &[case("app", Some("orphaned"), "claude-haiku-4-5")],
        "[github]\ndispatch = \"enterprise\"\n",
    );
    let (doc, code) = repo(&sim, "app", "fresh", &[]);
    assert_fixed(&sim, &doc, code, "orphaned_key", "fresh", "repo", "app");
}

#[test]
fn a_502_on_the_upload_is_reported_and_running_again_finishes() {
    let sim = world(&[case("app", Some("orphaned"), "claude-haiku-4-5")], "");
    sim.world().add_fault(Fault {
        path: "/repos/acme/app/actions/secrets/ANTHROPIC_API_KEY".into(),
        method: Some("PUT".into()),
        status: Some(502),
        times: Some(1),
        ..Fault::default()
    });
    let (doc, code) = repo(&sim, "app", "fresh", &[]);
    assert_eq!(code, 1, "{doc:#}");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("the secret was not changed"),
        "{doc:#}"
    );
    assert_eq!(puts(&sim), 1, "the write was not repeated");
    let (doc, code) = repo(&sim, "app", "fresh", &[]);
    assert_fixed(&sim, &doc, code, "orphaned_key", "fresh", "repo", "app");
}

#[test]
fn a_dropped_connection_while_watching_is_reported_and_running_again_finishes() {
    let sim = world(
        &[case("app", Some("orphaned"), "claude-haiku-4-5")],
        "[github]\nrun_delay_ms = 300\n",
    );
    let (doc, code) = repo(&sim, "app", "fresh", &["--no-rerun"]);
    assert_eq!(code, 0, "{doc:#}");
    // The key is fixed; now the watch of the re-run loses its connection every time.
    sim.world().add_fault(Fault {
        path: "/repos/acme/app/actions/runs/7000000001$".into(),
        method: Some("GET".into()),
        drop_connection: true,
        times: Some(8),
        ..Fault::default()
    });
    let (doc, code) = repo(&sim, "app", "fresh", &[]);
    assert_eq!(code, 1, "{doc:#}");
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(message.contains("watching it failed"), "{message}");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let (doc, code) = repo(&sim, "app", "fresh", &[]);
    assert_eq!(
        (doc["diagnosis"]["cause"].as_str(), code),
        (Some("ok"), 0),
        "{doc:#}"
    );
}

#[test]
fn a_529_while_validating_the_new_key_uploads_nothing_and_running_again_finishes() {
    let sim = world(&[case("app", Some("orphaned"), "claude-haiku-4-5")], "");
    sim.world().add_fault(Fault {
        path: "/v1/messages".into(),
        key: Some("fresh".into()),
        status: Some(529),
        times: Some(3),
        ..Fault::default()
    });
    let (doc, code) = repo(&sim, "app", "fresh", &[]);
    assert_eq!(code, 13, "{doc:#}");
    assert_eq!(puts(&sim), 0);
    let (doc, code) = repo(&sim, "app", "fresh", &[]);
    assert_fixed(&sim, &doc, code, "orphaned_key", "fresh", "repo", "app");
}

#[test]
fn no_input_without_a_key_flag_is_exit_3_and_changes_nothing() {
    let sim = world(&[case("app", Some("orphaned"), "claude-haiku-4-5")], "");
    let (doc, code) = json_of(keyfix(&sim).args(["repo", "acme/app", "--install-probe"]));
    assert_eq!(code, 3, "{doc:#}");
    assert!(doc["error"]["message"]
        .as_str()
        .unwrap()
        .contains("--key-stdin or --key-env"));
    assert_eq!(puts(&sim), 0);
}

#[test]
fn no_piece_of_any_key_appears_in_any_output() {
    let sim = world(&[case("app", Some("orphaned"), "claude-haiku-4-5")], "");
    let output = keyfix(&sim)
        .args(["repo", "acme/app", "--install-probe", "--key-stdin", "-vvv"])
        .env("RUST_LOG", "trace")
        .write_stdin(sim.key("fresh"))
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    for key in &sim.scenario().keys {
        assert_no_piece_of(&key.value(), &text, "keyfix's output");
    }
    let state = sim.world().github.lock().unwrap();
    for job in &state.jobs {
        for key in &sim.scenario().keys {
            assert_no_piece_of(&key.value(), &job.log, "a job log");
        }
    }
}

/// `keyfix ARGS --json` against `sim` with the scenario key `new` in `NEW_KEY`.
fn run_with_key(sim: &Sim, args: &[&str], new: &str) -> (serde_json::Value, i32) {
    json_of(keyfix(sim).args(args).env("NEW_KEY", sim.key(new)))
}

#[test]
fn a_failure_after_the_upload_keeps_the_diagnosis_and_what_was_done() {
    let sim = world(&[case("app", Some("orphaned"), "claude-haiku-4-5")], "");
    sim.world().add_fault(Fault {
        path: "/repos/acme/app/actions/runs/".into(),
        method: Some("POST".into()),
        status: Some(500),
        times: Some(1),
        ..Fault::default()
    });
    let (doc, code) = repo(&sim, "app", "fresh", &["--yes"]);
    assert_eq!(code, 1, "{doc:#}");
    assert_eq!(doc["diagnosis"]["cause"], "orphaned_key", "{doc:#}");
    assert_eq!(doc["repo"], "acme/app");
    assert_eq!(doc["secret"]["name"], "ANTHROPIC_API_KEY");
    let done = action_kinds(&doc);
    for kind in ["key_validated", "secret_updated", "verified"] {
        assert!(done.iter().any(|k| k == kind), "{kind}: {doc:#}");
    }
    assert!(!done.iter().any(|k| k == "rerun_requested"), "{doc:#}");
    assert_eq!(
        sim.secret("acme", Some("app"), "repo", "ANTHROPIC_API_KEY"),
        Some(sim.key("fresh"))
    );
    // Run again: the stored key works, and the refused run is re-run.
    let (doc, code) = repo(&sim, "app", "fresh", &[]);
    assert_eq!((doc["diagnosis"]["cause"].as_str(), code), (Some("ok"), 0));
    assert!(
        action_kinds(&doc).contains(&"rerun_finished".to_owned()),
        "{doc:#}"
    );
}

#[test]
fn yes_never_commits_the_probe_to_verify_an_upload() {
    let sim = world(&[case("missing", None, "claude-haiku-4-5")], "");
    let args = ["repo", "acme/missing", "--yes", "--key-env", "NEW_KEY"];
    let (doc, code) = run_with_key(&sim, &args, "fresh");
    assert_eq!(code, 0, "{doc:#}");
    let done = action_kinds(&doc);
    assert!(done.contains(&"verification_skipped".to_owned()), "{doc:#}");
    assert!(!done
        .iter()
        .any(|k| k == "probe_installed" || k == "verified"));
    assert!(
        !sim.requests()
            .iter()
            .any(|r| r.method == "PUT" && r.path.contains("/contents/")),
        "no commit was made"
    );
    assert_eq!(
        sim.secret("acme", Some("missing"), "repo", "ANTHROPIC_API_KEY"),
        Some(sim.key("fresh"))
    );
}

#[test]
fn an_unset_key_variable_stops_before_the_first_request() {
    let sim = world(&[case("app", Some("orphaned"), "claude-haiku-4-5")], "");
    // The scenario's failed run is in the log from the start.
    let before = sim.requests().len();
    let args = ["repo", "acme/app", "--install-probe", "--key-env", "UNSET"];
    let (doc, code) = json_of(keyfix(&sim).args(args));
    assert_eq!(code, 2, "{doc:#}");
    assert_eq!(doc["repo"], "acme/app");
    assert!(!doc["error"]["message"].to_string().contains("changed"));
    let (_, code) = json_of(keyfix(&sim).args(["rotate", "acme/app", "--key-env", "UNSET"]));
    assert_eq!(code, 2);
    assert_eq!(sim.requests().len(), before, "{:?}", sim.requests());
}

#[test]
fn a_new_key_gets_one_verdict_in_repo_and_rotate() {
    let sim = world(&[case("app", Some("orphaned"), "claude-haiku-4-5")], "");
    let fix = [
        "repo",
        "acme/app",
        "--install-probe",
        "--key-env",
        "NEW_KEY",
    ];
    let rotate = [
        "rotate",
        "acme/app",
        "--no-canary",
        "--write-interval",
        "0",
        "--key-env",
        "NEW_KEY",
    ];
    for (new, exit, kind) in [
        ("limited", 11, "api"),
        ("revoked", 15, "usage"),
        ("pasted_with_space", 15, "usage"),
    ] {
        let (fixed, fixed_code) = run_with_key(&sim, &fix, new);
        let (rotated, rotated_code) = run_with_key(&sim, &rotate, new);
        assert_eq!(
            (fixed_code, rotated_code),
            (exit, exit),
            "{new}: {fixed:#}\n{rotated:#}"
        );
        assert_eq!(fixed["error"]["kind"], kind, "{new}: {fixed:#}");
        assert_eq!(rotated["error"]["kind"], kind, "{new}: {rotated:#}");
    }
    assert_eq!(puts(&sim), 0, "nothing was uploaded");
}

#[test]
fn a_missing_permission_keeps_the_repository_in_the_document() {
    let sim = world(
        &[case("app", Some("orphaned"), "claude-haiku-4-5")],
        "[[tokens]]\nname = \"reader\"\nscopes = [\"repo\"]\n",
    );
    let (doc, code) = json_of(keyfix(&sim).args(["check", "acme/app", "--install-probe"]));
    assert_eq!(code, 4, "{doc:#}");
    assert_eq!(doc["repo"], "acme/app", "{doc:#}");
    assert_eq!(doc["secret"]["name"], "ANTHROPIC_API_KEY", "{doc:#}");
}
