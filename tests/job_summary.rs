//! The job summary: with `GITHUB_STEP_SUMMARY` set, as in GitHub Actions, every command appends
//! a short Markdown account of what it found and did, and no piece of any key.

mod common;

use std::path::Path;

use common::*;
use keyfix_sim::Sim;

/// Runs keyfix with `args` (and the scenario keys `keys` in their variables), appending to the
/// summary file `summary`; its exit code.
fn run(sim: &Sim, summary: &Path, args: &[&str], keys: &[(&str, &str)]) -> i32 {
    let mut cmd = keyfix(sim);
    cmd.args(args).env("GITHUB_STEP_SUMMARY", summary);
    for (var, key) in keys {
        cmd.env(var, sim.key(key));
    }
    cmd.output().unwrap().status.code().unwrap()
}

fn assert_holds_no_key(sim: &Sim, text: &str) {
    assert!(!text.contains("sk-ant"), "{text}");
    for key in &sim.scenario().keys {
        let value = key.value();
        assert_no_piece_of(&value, text, "the job summary");
        assert!(!text.contains(&admin_hint(&value)), "{text}");
    }
}

#[test]
fn each_command_appends_what_it_found_and_did_and_no_key() {
    let sim = world(&[case("app", Some("orphaned"), "claude-haiku-4-5")], "");
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");

    let code = run(
        &sim,
        &summary,
        &[
            "check",
            "acme/app",
            "--install-probe",
            "--reference-key-env",
            "REF",
        ],
        &[("REF", "fresh")],
    );
    assert_eq!(code, 10);
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(text.starts_with("### keyfix check: acme/app\n"), "{text}");
    assert!(text.contains("**Cause: `orphaned_key`**"), "{text}");
    assert!(text.contains("Exit code: 10"), "{text}");

    let code = run(
        &sim,
        &summary,
        &[
            "repo",
            "acme/app",
            "--install-probe",
            "--key-env",
            "NEW_KEY",
            "--retire-old",
        ],
        &[("NEW_KEY", "fresh"), ("ANTHROPIC_ADMIN_KEY", "admin")],
    );
    assert_eq!(code, 0);
    let text = std::fs::read_to_string(&summary).unwrap();
    let repo = &text[text.find("### keyfix repo").expect("appended")..];
    for line in [
        "- validated the new key on claude-haiku-4-5",
        "- updated ANTHROPIC\\_API\\_KEY \\(repository\\)",
        "- retired the old key orphaned \\(apikey\\_0002\\)",
        "attempt 2: success",
    ] {
        assert!(repo.contains(line), "{line:?} in {repo}");
    }

    let code = run(&sim, &summary, &["scan", "acme"], &[]);
    assert_eq!(code, 0);
    let code = run(
        &sim,
        &summary,
        &["validate", "--key-env", "KEY"],
        &[("KEY", "orphaned")],
    );
    assert_ne!(code, 0);
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(
        text.contains("| Repository | Workflow | Secret | Scope | Model |"),
        "{text}"
    );
    assert!(text.contains("### keyfix validate\n"), "{text}");
    assert_eq!(text.matches("### keyfix").count(), 4, "{text}");
    assert_holds_no_key(&sim, &text);
}

#[test]
fn a_rotation_summarises_its_targets_and_an_error_its_message() {
    let sim = world(&[case("app", Some("orphaned"), "claude-haiku-4-5")], "");
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    let code = run(
        &sim,
        &summary,
        &[
            "rotate",
            "acme/app",
            "--key-env",
            "NEW_KEY",
            "--install-probe",
            "--write-interval",
            "0",
            "--journal",
            dir.path().join("j.jsonl").to_str().unwrap(),
        ],
        &[("NEW_KEY", "fresh")],
    );
    assert_eq!(code, 0);
    let code = run(&sim, &summary, &["check", "acme/nowhere"], &[]);
    assert_ne!(code, 0);
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(
        text.contains("| Target | Secret | Scope | Status | Detail |"),
        "{text}"
    );
    assert!(
        text.contains("| acme/app | ANTHROPIC\\_API\\_KEY | repository | rotated |  |"),
        "{text}"
    );
    assert!(text.contains("**Error:**"), "{text}");
    assert_holds_no_key(&sim, &text);
}

#[test]
fn an_unwritable_summary_never_changes_the_result() {
    let sim = world(&[case("app", Some("orphaned"), "claude-haiku-4-5")], "");
    let dir = tempfile::tempdir().unwrap();
    let code = run(&sim, dir.path(), &["scan", "acme"], &[]);
    assert_eq!(code, 0, "a directory is no summary file");
}
