//! Snapshots of what every command prints, for people and for scripts, against the shipped
//! scenarios: `scan`, `check`, `repo`, `rotate`, `probe print` and `probe install`, with one
//! error document per command family. (`validate` has its own in `validate_output.rs`.)

mod common;

use std::path::Path;

use common::*;
use keyfix_sim::{Scenario, Sim};

/// A shipped scenario of `scenarios/`, with ordinary 429s retried at once and runs that take no
/// time.
fn shipped(file: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(file);
    scenario(&std::fs::read_to_string(path).expect("the shipped scenario"))
}

/// What one run of keyfix printed, and its exit code.
struct Run {
    stdout: String,
    stderr: String,
    code: i32,
}

/// Runs keyfix against `sim` with `args`; `keys` puts scenario keys in environment variables
/// (`(VAR, key name)`). No terminal: stdin is empty.
fn run(sim: &Sim, args: &[&str], keys: &[(&str, &str)]) -> Run {
    let mut cmd = keyfix(sim);
    cmd.args(args);
    for (var, key) in keys {
        cmd.env(var, sim.key(key));
    }
    let output = cmd.output().expect("keyfix runs");
    let run = Run {
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
        code: output.status.code().expect("exited"),
    };
    let both = format!("{}{}", run.stdout, run.stderr);
    for key in &sim.scenario().keys {
        assert_no_piece_of(&key.value(), &both, "keyfix's output");
    }
    run
}

/// Runs keyfix, checks its exit code (and, with `--json`, that stdout is one document stating
/// it), and snapshots stdout as `name`.
fn snapshot(name: &str, sim: &Sim, args: &[&str], keys: &[(&str, &str)], code: i32) {
    snapshot_with(snapshot_settings(), name, sim, args, keys, code);
}

/// [`snapshot`] with `settings` of its own.
fn snapshot_with(
    settings: insta::Settings,
    name: &str,
    sim: &Sim,
    args: &[&str],
    keys: &[(&str, &str)],
    code: i32,
) {
    let run = run(sim, args, keys);
    assert_eq!(
        run.code, code,
        "{name}: stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    if args.contains(&"--json") {
        let doc: serde_json::Value = serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("{name}: stdout is one JSON document ({e})"));
        assert_eq!(doc["schema"], "keyfix/v1");
        assert_eq!(
            doc["exit_code"], code,
            "{name}: the document states the exit code"
        );
    }
    let text = format!("{}(exit {code})\n", run.stdout);
    settings.bind(|| insta::assert_snapshot!(name, text));
}

/// `--json` and without, as `NAME_human` and `NAME_json`, each on a simulator of its own.
fn both(name: &str, scenario: fn() -> Scenario, args: &[&str], keys: &[(&str, &str)], code: i32) {
    let sim = start(scenario());
    snapshot(&format!("{name}_human"), &sim, args, keys, code);
    let sim = start(scenario());
    let json: Vec<&str> = args.iter().copied().chain(["--json"]).collect();
    snapshot(&format!("{name}_json"), &sim, &json, keys, code);
}

fn demo() -> Scenario {
    shipped("demo.toml")
}

fn shapes() -> Scenario {
    shipped("probe-shapes.toml")
}

fn hostile() -> Scenario {
    shipped("hostile.toml")
}

fn org() -> Scenario {
    shipped("org.toml")
}

fn shared_workflows() -> Scenario {
    shipped("shared-workflows.toml")
}

/// The organizations of `org.toml` without the scenario's 502 on one write.
fn org_without_faults() -> Scenario {
    let mut scenario = org();
    scenario.faults.clear();
    scenario
}

#[test]
fn scan_demo() {
    both("scan_demo", demo, &["scan", "acme"], &[], 0);
}

/// Claude jobs in the organization's shared workflows repository, followed through `inherit`
/// and a mapping; the calls GitHub would not let keyfix read, each with the secrets it passes.
#[test]
fn scan_shared_workflows() {
    both(
        "scan_shared_workflows",
        shared_workflows,
        &["scan", "acme"],
        &[],
        0,
    );
}

/// The diagnosis names the called workflow its Claude step is in.
#[test]
fn check_shared_workflow_mapped() {
    let sim = start(shared_workflows());
    snapshot(
        "check_shared_workflow_mapped_human",
        &sim,
        &[
            "check",
            "acme/api",
            "--install-probe",
            "--reference-key-env",
            "REFERENCE",
        ],
        &[("REFERENCE", "fresh")],
        10,
    );
}

/// `scan --probe --max-age` over `scenarios/health.toml`, one probe run at a time so that run
/// ids follow the order of the stored secrets. The scan's nonce is new every time, and the
/// scenario's secret ages are counted back from today.
#[test]
fn scan_health() {
    let mut settings = snapshot_settings();
    settings.add_filter(r"\bKey [0-9a-f]{16}\b", "Key [fingerprint]");
    settings.add_filter(
        r#""fingerprint": "[0-9a-f]{16}""#,
        r#""fingerprint": "[fingerprint]""#,
    );
    settings.add_filter(r"\b20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ\b", "[date]");
    let args = [
        "scan",
        "acme",
        "--probe",
        "--install-probe",
        "--probe-concurrency",
        "1",
        "--max-age",
        "90d",
        "--reference-key-env",
        "REFERENCE",
    ];
    let keys = [("REFERENCE", "fresh")];
    let health = || shipped("health.toml");
    let sim = start(health());
    snapshot_with(
        settings.clone(),
        "scan_health_human",
        &sim,
        &args,
        &keys,
        10,
    );
    let sim = start(health());
    let json: Vec<&str> = args.iter().copied().chain(["--json"]).collect();
    snapshot_with(settings, "scan_health_json", &sim, &json, &keys, 10);
}

#[test]
fn scan_shapes() {
    both("scan_shapes", shapes, &["scan", "acme"], &[], 0);
}

/// Names with terminal escapes shown escaped, odd file names read, refused names warned about
/// (on stderr, and as `warnings` in the document).
#[test]
fn scan_hostile() {
    both("scan_hostile", hostile, &["scan", "acme"], &[], 0);
}

#[test]
fn check_orphaned_key() {
    both(
        "check_orphaned_key",
        demo,
        &[
            "check",
            "acme/app",
            "--install-probe",
            "--reference-key-env",
            "REFERENCE",
        ],
        &[("REFERENCE", "fresh")],
        10,
    );
}

#[test]
fn check_credit_exhausted() {
    both(
        "check_credit_exhausted",
        demo,
        &[
            "check",
            "emptyco/bot",
            "--install-probe",
            "--reference-key-env",
            "REFERENCE",
        ],
        &[("REFERENCE", "emptyco_new")],
        11,
    );
}

#[test]
fn repo_orphaned_key_fixed() {
    both(
        "repo_orphaned_key_fixed",
        || shipped("orphaned-repo.toml"),
        &[
            "repo",
            "acme/app",
            "--install-probe",
            "--key-env",
            "NEW_KEY",
        ],
        &[("NEW_KEY", "fresh")],
        0,
    );
}

#[test]
fn repo_retires_the_old_key() {
    both(
        "repo_orphaned_key_fixed_old_key_retired",
        || shipped("orphaned-repo.toml"),
        &[
            "repo",
            "acme/app",
            "--install-probe",
            "--key-env",
            "NEW_KEY",
            "--retire-old",
        ],
        &[("NEW_KEY", "fresh"), ("ANTHROPIC_ADMIN_KEY", "admin")],
        0,
    );
}

#[test]
fn repo_refused_when_a_new_key_cannot_help() {
    let sim = start(demo());
    snapshot(
        "repo_credit_exhausted_json",
        &sim,
        &[
            "repo",
            "emptyco/bot",
            "--install-probe",
            "--key-env",
            "NEW_KEY",
            "--json",
        ],
        &[("NEW_KEY", "emptyco_new")],
        11,
    );
}

#[test]
fn rotate_dry_run() {
    both(
        "rotate_dry_run",
        org,
        &["rotate", "--owner", "acme", "--dry-run"],
        &[],
        0,
    );
}

#[test]
fn rotate_completed_with_a_canary() {
    let sim = start(org_without_faults());
    snapshot(
        "rotate_completed_json",
        &sim,
        &[
            "rotate",
            "--owner",
            "acme",
            "--key-env",
            "NEW_KEY",
            "--install-probe",
            "--write-interval",
            "0",
            "--json",
        ],
        &[("NEW_KEY", "fresh")],
        0,
    );
}

#[test]
fn rotate_retiring_the_old_key() {
    let args = [
        "rotate",
        "--owner",
        "acme",
        "--key-env",
        "NEW_KEY",
        "--install-probe",
        "--write-interval",
        "0",
        "--retire-old",
    ];
    both(
        "rotate_completed_old_key_retired",
        org_without_faults,
        &args,
        &[("NEW_KEY", "fresh"), ("ANTHROPIC_ADMIN_KEY", "admin")],
        0,
    );
}

#[test]
fn probe_print_generic() {
    let sim = start(shapes());
    snapshot("probe_print_generic", &sim, &["probe", "print"], &[], 0);
}

#[test]
fn probe_print_for_a_repository() {
    let sim = start(shapes());
    snapshot(
        "probe_print_shapes",
        &sim,
        &["probe", "print", "acme/shapes"],
        &[],
        0,
    );
}

#[test]
fn probe_print_as_the_branch_probe_pushes_it() {
    let sim = start(shapes());
    snapshot(
        "probe_print_shapes_branch",
        &sim,
        &["probe", "print", "acme/shapes", "--branch"],
        &[],
        0,
    );
}

#[test]
fn probe_install_as_a_pull_request() {
    both(
        "probe_install_pull_request",
        demo,
        &["probe", "install", "--pull-request", "acme/app"],
        &[],
        0,
    );
}

#[test]
fn probe_install() {
    both(
        "probe_install",
        demo,
        &["probe", "install", "acme/app"],
        &[],
        0,
    );
}

#[test]
fn error_documents() {
    let sim = start(demo());
    let cases: [(&str, &[&str], i32); 5] = [
        ("error_scan_unknown_owner_json", &["scan", "nobody"], 4),
        (
            "error_check_unknown_repo_json",
            &["check", "acme/nothing", "--install-probe"],
            4,
        ),
        ("error_repo_malformed_name_json", &["repo", "not-a-repo"], 2),
        (
            "error_rotate_malformed_target_json",
            &["rotate", "acme/app", "not-a-repo", "--dry-run"],
            2,
        ),
        (
            "error_probe_install_unknown_repo_json",
            &["probe", "install", "acme/nothing"],
            4,
        ),
    ];
    for (name, args, code) in cases {
        let json: Vec<&str> = args.iter().copied().chain(["--json"]).collect();
        snapshot(name, &sim, &json, &[], code);
    }
}
