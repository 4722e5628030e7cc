//! `keyfix rotate` against a simulated organization: every scope afterwards (unsealed by the
//! simulator), the plan, validation, the canary, faults, limits, the journal and resume.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::*;
use keyfix_sim::scenario::Fault;
use keyfix_sim::Sim;

fn workflow(model: &str, environment: Option<&str>) -> String {
    let env = environment
        .map(|e| format!("    environment: {e}\n"))
        .unwrap_or_default();
    format!(
        "on: issue_comment\njobs:\n  claude:\n    runs-on: ubuntu-latest\n{env}    steps:\n      - uses: anthropics/claude-code-action@v1\n        with:\n          anthropic_api_key: ${{{{ secrets.ANTHROPIC_API_KEY }}}}\n          claude_args: --model {model}\n"
    )
}

fn repo(name: &str, body: &str, model: &str, environment: Option<&str>) -> String {
    format!(
        "[[repos]]\nowner = \"acme\"\nname = \"{name}\"\n{body}\nfiles = {{ \".github/workflows/claude.yml\" = '''{}''' }}\n",
        workflow(model, environment)
    )
}

/// The mixed organization of `rotate.md`: most repositories read the organization secret, two
/// have their own, one reads an environment secret over a stale repository copy, one has a stale
/// repository secret that shadows the organization's and is what its job reads.
fn mixed(extra: &str) -> Sim {
    let keys = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/keys.toml"))
        .unwrap();
    let old = "secrets = [{ name = \"ANTHROPIC_API_KEY\", key = \"orphaned\" }]";
    let repos = [
        repo("a-{n}", "count = 5", "claude-haiku-4-5", None),
        repo("own1", old, "claude-haiku-4-5", None),
        repo("own2", old, "claude-sonnet-4-5", None),
        repo(
            "envrepo",
            "secrets = [{ name = \"ANTHROPIC_API_KEY\", key = \"revoked\" }]\nenvironments = [{ name = \"prod\", secrets = [{ name = \"ANTHROPIC_API_KEY\", key = \"orphaned\" }] }]",
            "claude-haiku-4-5",
            Some("prod"),
        ),
        repo("stale", old, "claude-haiku-4-5", None),
        "[[repos]]\nowner = \"acme\"\nname = \"bystander\"\n".to_owned(),
    ];
    let owners = "[[owners]]\nlogin = \"acme\"\nsecrets = [{ name = \"ANTHROPIC_API_KEY\", key = \"orphaned\", visibility = \"selected\", selected = [\"a-1\", \"a-2\", \"a-3\", \"a-4\", \"a-5\", \"envrepo\", \"stale\", \"bystander\"] }]\n";
    start(scenario(&format!(
        "{keys}\n{owners}\n{}\n{extra}",
        repos.join("\n")
    )))
}

/// acme/own2's secret write answers 502 once.
fn fail_own2_write_once(sim: &Sim) {
    sim.world().add_fault(Fault {
        path: "/repos/acme/own2/actions/secrets/ANTHROPIC_API_KEY$".into(),
        method: Some("PUT".into()),
        status: Some(502),
        times: Some(1),
        ..Fault::default()
    });
}

fn rotate(sim: &Sim, key: &str, args: &[&str]) -> (serde_json::Value, i32) {
    let (doc, code, _) = rotate_logged(sim, key, args);
    (doc, code)
}

/// `rotate`, with what it said on stderr.
fn rotate_logged(sim: &Sim, key: &str, args: &[&str]) -> (serde_json::Value, i32, String) {
    json_and_stderr_of(
        keyfix(sim)
            .args(["rotate", "--key-env", "NEW_KEY", "--write-interval", "0"])
            .args(args)
            .env("NEW_KEY", sim.key(key)),
    )
}

fn secret_puts(sim: &Sim) -> Vec<(String, u16)> {
    sim.requests()
        .into_iter()
        .filter(|r| r.method == "PUT" && r.path.contains("/secrets/"))
        .map(|r| (r.path, r.status))
        .collect()
}

fn org_selection(sim: &Sim) -> (String, Vec<u64>) {
    let state = sim.world().github.lock().unwrap();
    let secret = &state.owner("acme").unwrap().secrets["ANTHROPIC_API_KEY"];
    (
        secret.visibility.clone(),
        secret.selected.iter().copied().collect(),
    )
}

fn assert_rotated(sim: &Sim, new: &str) {
    let new = sim.key(new);
    let holds =
        |repo: Option<&str>, scope: &str| sim.secret("acme", repo, scope, "ANTHROPIC_API_KEY");
    assert_eq!(holds(None, "org"), Some(new.clone()), "organization");
    for repo in ["own1", "own2", "stale"] {
        assert_eq!(holds(Some(repo), "repo"), Some(new.clone()), "{repo}");
    }
    assert_eq!(
        holds(Some("envrepo"), "env:prod"),
        Some(new.clone()),
        "envrepo prod"
    );
}

#[test]
fn a_mixed_organization_gets_exactly_one_write_per_scope() {
    let sim = mixed("");
    let selection = org_selection(&sim);
    let (doc, code) = rotate(&sim, "fresh", &["--owner", "acme", "--no-canary"]);
    assert_eq!(code, 0, "{doc:#}");
    assert_rotated(&sim, "fresh");
    assert_eq!(
        sim.secret("acme", Some("envrepo"), "repo", "ANTHROPIC_API_KEY"),
        Some(sim.key("revoked")),
        "the shadowed copy is left"
    );
    assert_eq!(secret_puts(&sim).len(), 5, "{:?}", secret_puts(&sim));
    assert_eq!(
        org_selection(&sim),
        selection,
        "visibility and selection unchanged"
    );
    let targets = doc["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 9);
    assert!(targets.iter().all(|t| t["status"] == "rotated"), "{doc:#}");
    let scope_of =
        |repo: &str| targets.iter().find(|t| t["repo"] == repo).unwrap()["scope"].clone();
    assert_eq!(scope_of("acme/a-3"), "organization");
    assert_eq!(scope_of("acme/envrepo"), "environment:prod");
    assert_eq!(scope_of("acme/stale"), "repository");
    assert_eq!(doc["rotation"]["writes"], 5);
    assert_eq!(
        doc["rotation"]["validated_models"],
        serde_json::json!(["claude-haiku-4-5", "claude-sonnet-4-5"])
    );
    let messages = sim
        .requests()
        .iter()
        .filter(|r| r.path == "/v1/messages")
        .count();
    assert_eq!(
        messages, 2,
        "validated once per model, not once per repository"
    );
}

#[test]
fn include_shadowed_writes_the_stale_copies_too() {
    let sim = mixed("");
    let (doc, code) = rotate(
        &sim,
        "fresh",
        &["--owner", "acme", "--no-canary", "--include-shadowed"],
    );
    assert_eq!(code, 0, "{doc:#}");
    assert_rotated(&sim, "fresh");
    assert_eq!(
        sim.secret("acme", Some("envrepo"), "repo", "ANTHROPIC_API_KEY"),
        Some(sim.key("fresh"))
    );
    assert_eq!(secret_puts(&sim).len(), 6);
}

#[test]
fn a_dry_run_needs_no_key_and_writes_nothing() {
    let sim = mixed("");
    let (doc, code) = json_of(keyfix(&sim).args(["rotate", "--owner", "acme", "--dry-run"]));
    assert_eq!(code, 0, "{doc:#}");
    assert!(target_statuses(&doc).iter().all(|s| s == "pending"));
    assert!(sim.requests().iter().all(only_reads), "only reads");
}

#[test]
fn a_key_that_cannot_be_used_uploads_nothing() {
    let sim = mixed("");
    let (doc, code) = rotate(&sim, "revoked", &["--owner", "acme", "--no-canary"]);
    assert_eq!(code, 15, "{doc:#}");
    let (doc, code) = rotate(&sim, "no_credit", &["--owner", "acme", "--no-canary"]);
    assert_eq!(code, 11, "{doc:#}");
    let (_, code) = rotate(&sim, "oauth", &["--owner", "acme", "--no-canary"]);
    assert_eq!(code, 15);
    assert!(secret_puts(&sim).is_empty());
}

#[test]
fn a_key_that_cannot_use_one_target_s_model_skips_just_that_target() {
    let extra = repo(
        "opus",
        "secrets = [{ name = \"ANTHROPIC_API_KEY\", key = \"orphaned\" }]",
        "claude-opus-4-5",
        None,
    );
    let sim = mixed(&extra);
    let (doc, code) = rotate(&sim, "fresh", &["--owner", "acme", "--no-canary"]);
    assert_eq!(code, 16, "{doc:#}");
    let opus = doc["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["repo"] == "acme/opus")
        .unwrap();
    assert_eq!(opus["status"], "skipped");
    assert!(opus["error"].as_str().unwrap().contains("claude-opus-4-5"));
    assert_rotated(&sim, "fresh");
    assert_eq!(
        sim.secret("acme", Some("opus"), "repo", "ANTHROPIC_API_KEY"),
        Some(sim.key("orphaned"))
    );
}

#[test]
fn a_failed_canary_writes_nothing_more() {
    let sim = mixed("");
    // GitHub acknowledges the canary's write but the job goes on reading the old value.
    sim.world().add_fault(Fault {
        path: "/repos/acme/own1/actions/secrets/ANTHROPIC_API_KEY$".into(),
        method: Some("PUT".into()),
        status: Some(204),
        times: Some(1),
        ..Fault::default()
    });
    let (doc, code) = rotate(
        &sim,
        "fresh",
        &[
            "--owner",
            "acme",
            "--canary",
            "acme/own1",
            "--install-probe",
        ],
    );
    assert_eq!(code, 17, "{doc:#}");
    assert!(
        doc["error"]["message"].as_str().unwrap().contains("canary"),
        "{doc:#}"
    );
    assert_eq!(secret_puts(&sim).len(), 1, "only the canary's write");
    assert_eq!(
        sim.secret("acme", None, "org", "ANTHROPIC_API_KEY"),
        Some(sim.key("orphaned"))
    );
}

#[test]
fn a_passing_canary_is_verified_by_the_probe_before_the_rest() {
    let sim = mixed("");
    let (doc, code) = rotate(&sim, "fresh", &["--owner", "acme", "--install-probe"]);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["rotation"]["canary"], "acme/own1");
    let log = sim.requests();
    let first_put = log
        .iter()
        .position(|r| r.method == "PUT" && r.path.contains("/secrets/"))
        .unwrap();
    let dispatch = log
        .iter()
        .position(|r| r.path.ends_with("/dispatches"))
        .unwrap();
    let second_put = log
        .iter()
        .rposition(|r| r.method == "PUT" && r.path.contains("/secrets/"))
        .unwrap();
    assert!(
        first_put < dispatch && dispatch < second_put,
        "canary, probe, then the rest"
    );
    assert_rotated(&sim, "fresh");
}

#[test]
fn the_canary_is_verified_from_a_throwaway_branch_with_probe_branch() {
    let sim = mixed("");
    let (doc, code) = rotate(&sim, "fresh", &["--owner", "acme", "--probe-branch"]);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["rotation"]["canary"], "acme/own1");
    let log = sim.requests();
    let pushed = log
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/git/refs"))
        .count();
    let deleted = log
        .iter()
        .filter(|r| r.method == "DELETE" && r.path.contains("/git/refs/heads/keyfix-probe/"))
        .count();
    assert_eq!(
        (pushed, deleted),
        (1, 1),
        "one branch for the canary, deleted"
    );
    assert!(!log
        .iter()
        .any(|r| r.path.ends_with("/dispatches")
            || r.path.contains("/contents/") && r.method == "PUT"));
    assert!(sim.branches("acme", "own1").is_empty());
    assert_rotated(&sim, "fresh");
}

#[test]
fn a_canary_without_its_probe_stops_before_writing() {
    let sim = mixed("");
    let (doc, code) = rotate(&sim, "fresh", &["--owner", "acme"]);
    assert_eq!(code, 3, "{doc:#}");
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("--install-probe") && message.contains("--no-canary"),
        "{message}"
    );
    assert_eq!(secret_puts(&sim), [], "nothing written");
}

#[test]
fn a_502_on_one_write_leaves_the_others_rotated_and_resume_finishes_it() {
    let sim = mixed("");
    fail_own2_write_once(&sim);
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.jsonl");
    let journal = journal.to_str().unwrap();
    let (doc, code) = rotate(
        &sim,
        "fresh",
        &["--owner", "acme", "--no-canary", "--journal", journal],
    );
    assert_eq!(code, 16, "{doc:#}");
    let own2 = doc["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["repo"] == "acme/own2")
        .unwrap();
    assert_eq!(own2["status"], "failed");
    assert!(own2["error"]
        .as_str()
        .unwrap()
        .contains("the secret holds the old key"));
    assert_eq!(
        secret_puts(&sim).len(),
        5,
        "the failed write was not repeated in the run"
    );
    let (doc, code) = rotate(&sim, "fresh", &["--resume", journal]);
    assert_eq!(code, 0, "{doc:#}");
    assert_rotated(&sim, "fresh");
    assert_eq!(
        secret_puts(&sim).len(),
        6,
        "resume sent only the unfinished write"
    );
}

#[test]
fn a_secondary_limit_is_waited_out() {
    let sim = mixed("[github]\nwrites_per_minute = 2\nwrite_window_secs = 1\n");
    let (doc, code, stderr) = rotate_logged(&sim, "fresh", &["--owner", "acme", "--no-canary"]);
    assert_eq!(code, 0, "{doc:#}");
    assert_rotated(&sim, "fresh");
    assert!(
        doc["rotation"]["secondary_limit_waits"].as_u64().unwrap() > 0,
        "{doc:#}"
    );
    assert!(secret_puts(&sim).iter().any(|(_, status)| *status == 403));
    assert!(
        stderr.contains("GitHub's secondary rate limit: waiting"),
        "{stderr}"
    );
}

/// The GitHub requests a rotation of the mixed organization makes before its first write.
fn requests_before_the_first_write() -> usize {
    let sim = mixed("");
    let (doc, code) = rotate(&sim, "fresh", &["--owner", "acme", "--no-canary"]);
    assert_eq!(code, 0, "{doc:#}");
    sim.requests()
        .iter()
        .filter(|r| r.service == "github")
        .position(|r| r.method == "PUT")
        .unwrap()
}

#[test]
fn an_exhausted_hourly_budget_is_waited_until_its_reset() {
    // A budget that runs out after discovery, during the writes: the write it refuses (403,
    // remaining 0) was not carried out, and is sent again once the budget is renewed, 3 s after
    // the simulator started.
    let budget = requests_before_the_first_write() + 2;
    let sim = mixed(&format!(
        "[github]\nrate_limit = {budget}\nrate_window_secs = 3\n"
    ));
    let (doc, code, stderr) = rotate_logged(&sim, "fresh", &["--owner", "acme", "--no-canary"]);
    assert_eq!(code, 0, "{doc:#}\n{stderr}");
    assert_rotated(&sim, "fresh");
    assert!(
        stderr.contains("GitHub's rate limit is used up: waiting"),
        "{stderr}"
    );
    let puts = secret_puts(&sim);
    let refused: Vec<usize> = (0..puts.len()).filter(|i| puts[*i].1 == 403).collect();
    assert_eq!(
        refused.len(),
        1,
        "one write refused for the budget: {puts:?}"
    );
    assert_eq!(
        puts[refused[0] + 1].0,
        puts[refused[0]].0,
        "and sent again: {puts:?}"
    );
    assert_eq!(
        puts.iter().filter(|(_, status)| *status < 300).count(),
        5,
        "one write a scope: {puts:?}"
    );
}

/// `keyfix rotate` of the mixed organization, writes 0.4 s apart, in the background.
fn spawn_paced_rotation(sim: &Sim, journal: &std::path::Path) -> std::process::Child {
    let journal = journal.to_str().unwrap();
    spawn_rotate(
        sim,
        &[
            "--owner",
            "acme",
            "--no-canary",
            "--write-interval",
            "0.4",
            "--journal",
            journal,
        ],
    )
}

/// `keyfix rotate ARGS --key-env NEW_KEY --json` in the background, the new key `fresh`.
fn spawn_rotate(sim: &Sim, args: &[&str]) -> std::process::Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("keyfix"))
        .arg("rotate")
        .args(args)
        .args(["--key-env", "NEW_KEY", "--json"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .envs(sim.env())
        .env("NEW_KEY", sim.key("fresh"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_for_writes(sim: &Sim, count: usize) {
    let started = Instant::now();
    while secret_puts(sim).len() < count && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// How many times each secret was written.
fn puts_by_path(sim: &Sim) -> BTreeMap<String, usize> {
    let mut puts: BTreeMap<String, usize> = BTreeMap::new();
    for (path, _) in secret_puts(sim) {
        *puts.entry(path).or_default() += 1;
    }
    puts
}

#[test]
fn ctrl_c_finishes_the_write_in_flight_and_prints_the_resume_command() {
    let sim = mixed("");
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.jsonl");
    let child = spawn_paced_rotation(&sim, &journal);
    wait_for_writes(&sim, 2);
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(doc["exit_code"], 130);
    assert!(
        target_statuses(&doc).contains(&"pending".to_owned()),
        "{doc:#}"
    );
    let resume = format!(
        "Stopped. Resume with: keyfix rotate --resume {} --key-env NEW_KEY",
        journal.display()
    );
    assert!(stderr.contains(&resume), "{stderr}");

    // Every write sent was answered and journaled before it stopped.
    let (_, entries) = keyfix::commands::rotate::journal::Journal::load(&journal).unwrap();
    let sent = entries
        .iter()
        .filter(|e| matches!(e, keyfix::commands::rotate::journal::Entry::Sending { .. }))
        .count();
    let answered = entries
        .iter()
        .filter(|e| matches!(e, keyfix::commands::rotate::journal::Entry::Done { .. }))
        .count();
    assert_eq!(sent, answered, "{entries:?}");
    assert!(answered < 5, "it stopped part-way: {entries:?}");
    assert_eq!(secret_puts(&sim).len(), answered);

    let (doc, code) = rotate(&sim, "fresh", &["--resume", journal.to_str().unwrap()]);
    assert_eq!(code, 0, "{doc:#}");
    assert_rotated(&sim, "fresh");
    assert!(
        puts_by_path(&sim).values().all(|n| *n == 1),
        "no write sent twice: {:?}",
        puts_by_path(&sim)
    );
}

#[test]
fn a_second_ctrl_c_stops_at_once_during_a_slow_write() {
    let sim = mixed("");
    sim.world().add_fault(Fault {
        path: "/repos/acme/own1/actions/secrets/ANTHROPIC_API_KEY$".into(),
        method: Some("PUT".into()),
        latency_ms: 20_000,
        times: Some(1),
        ..Fault::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.jsonl");
    let child = spawn_paced_rotation(&sim, &journal);
    wait_for_writes(&sim, 1);
    // The write to own1 (the second) is in flight, held 20 s by the simulator.
    let started = Instant::now();
    while sim.in_flight() == 0 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let interrupt = || {
        std::thread::sleep(Duration::from_millis(300));
        std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap()
    };
    let started = Instant::now();
    interrupt();
    interrupt();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(10), "{stderr}");
    assert!(
        stderr.contains("Stopped. Resume with: keyfix rotate --resume"),
        "{stderr}"
    );
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(doc["exit_code"], 130);
    let own1 = doc["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["repo"] == "acme/own1")
        .unwrap();
    assert_eq!(own1["status"], "pending", "{doc:#}");
    let (doc, code) = rotate(&sim, "fresh", &["--resume", journal.to_str().unwrap()]);
    assert_eq!(code, 0, "{doc:#}");
    assert_rotated(&sim, "fresh");
    let puts = puts_by_path(&sim);
    assert!(
        puts.iter()
            .filter(|(path, _)| !path.contains("/own1/"))
            .all(|(_, n)| *n == 1),
        "only the abandoned write is sent again: {puts:?}"
    );
}

#[test]
fn killed_mid_run_then_resumed_every_target_holds_the_new_key() {
    let sim = mixed("");
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.jsonl");
    let mut child = spawn_paced_rotation(&sim, &journal);
    wait_for_writes(&sim, 2);
    child.kill().unwrap();
    child.wait().unwrap();
    let before = secret_puts(&sim);
    assert!(
        before.len() >= 2 && before.len() < 5,
        "killed part-way: {before:?}"
    );
    let text = std::fs::read_to_string(&journal).unwrap();
    assert_no_piece_of(&sim.key("fresh"), &text, "the journal");
    // The writes whose answer the killed run journaled.
    let (header, entries) = keyfix::commands::rotate::journal::Journal::load(&journal).unwrap();
    let answered_first: Vec<usize> = entries
        .iter()
        .filter_map(|e| match e {
            keyfix::commands::rotate::journal::Entry::Done { write, .. } => Some(*write),
            _ => None,
        })
        .collect();
    let (doc, code) = rotate(&sim, "fresh", &["--resume", journal.to_str().unwrap()]);
    assert_eq!(code, 0, "{doc:#}");
    assert_rotated(&sim, "fresh");
    // None of them was sent again: only the one in flight when it was killed may have been.
    let puts = puts_by_path(&sim);
    assert!(!answered_first.is_empty());
    for write in answered_first {
        let d = &header.plan.writes[write].destination;
        let path = put_path(&d.repo.to_string(), &d.scope.to_string());
        assert_eq!(
            puts.get(&path),
            Some(&1),
            "{path} was written once: {puts:?}"
        );
    }
    assert!(
        puts.values().filter(|n| **n > 1).count() <= 1,
        "at most the write in flight was sent twice: {puts:?}"
    );
}

/// A journal whose run was killed (SIGKILL) after its first write: the lock died with it.
fn killed_journal(sim: &Sim, dir: &tempfile::TempDir) -> std::path::PathBuf {
    let journal = dir.path().join("j.jsonl");
    let mut child = spawn_paced_rotation(sim, &journal);
    wait_for_writes(sim, 1);
    child.kill().unwrap();
    child.wait().unwrap();
    let written = secret_puts(sim).len();
    assert!(written < 5, "killed part-way: {written} writes");
    journal
}

/// A resume of `journal` in the background, writes a second apart so that it is still running
/// while a test looks at it, once it has sent its first write.
fn spawn_slow_resume(sim: &Sim, journal: &std::path::Path) -> std::process::Child {
    let before = secret_puts(sim).len();
    let child = spawn_rotate(
        sim,
        &[
            "--resume",
            journal.to_str().unwrap(),
            "--write-interval",
            "1",
        ],
    );
    wait_for_writes(sim, before + 1);
    child
}

/// Every write sent once, but the one in flight when the first run was killed.
fn assert_each_write_once_but_the_killed_one(sim: &Sim) {
    let puts = puts_by_path(sim);
    assert!(
        puts.values().filter(|n| **n > 1).count() <= 1 && puts.values().all(|n| *n <= 2),
        "at most the write in flight at the kill was sent twice: {puts:?}"
    );
}

#[test]
fn a_journal_in_use_refuses_a_second_resume_which_sends_nothing() {
    let tokens = "[[tokens]]\nname = \"first\"\nscopes = [\"repo\", \"workflow\", \"admin:org\"]\n\
                  [[tokens]]\nname = \"second\"\nscopes = [\"repo\", \"workflow\", \"admin:org\"]\n";
    let sim = mixed(tokens);
    // Where the second process's Anthropic requests would go: it must make none.
    let witness = start(keys_scenario());
    let dir = tempfile::tempdir().unwrap();
    let journal = killed_journal(&sim, &dir);
    let first = spawn_slow_resume(&sim, &journal);

    let started = Instant::now();
    let (doc, code, stderr) = json_and_stderr_of(
        keyfix(&sim)
            .args(["rotate", "--resume", journal.to_str().unwrap()])
            .args(["--key-env", "NEW_KEY"])
            .env("NEW_KEY", sim.key("fresh"))
            .env("GH_ENTERPRISE_TOKEN", sim.token("second"))
            .env("ANTHROPIC_BASE_URL", witness.anthropic_base_url()),
    );
    assert_eq!(code, 2, "{doc:#}\n{stderr}");
    assert_eq!(doc["error"]["kind"], "usage");
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&journal.display().to_string())
            && message.contains(&format!("keyfix process {} ", first.id())),
        "names the journal and the process holding it: {message}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        !sim.requests()
            .iter()
            .any(|r| r.key.as_deref() == Some("second")),
        "the refused process sent nothing to GitHub"
    );
    assert!(witness.requests().is_empty(), "nor to Anthropic");

    let output = first.wait_with_output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_rotated(&sim, "fresh");
    assert_each_write_once_but_the_killed_one(&sim);
    let lines = std::fs::read_to_string(&journal).unwrap();
    assert!(
        lines
            .lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "one writer: no interleaved lines\n{lines}"
    );
}

#[test]
fn a_resume_killed_while_holding_the_journal_leaves_no_lock_behind() {
    let sim = mixed("");
    let dir = tempfile::tempdir().unwrap();
    let journal = killed_journal(&sim, &dir);
    let mut holder = spawn_slow_resume(&sim, &journal);
    holder.kill().unwrap();
    holder.wait().unwrap();

    let (doc, code) = rotate(&sim, "fresh", &["--resume", journal.to_str().unwrap()]);
    assert_eq!(code, 0, "{doc:#}");
    assert_rotated(&sim, "fresh");
    let puts = puts_by_path(&sim);
    assert!(
        puts.values().filter(|n| **n > 1).count() <= 2,
        "at most the write in flight at each kill was sent again: {puts:?}"
    );
}

/// The path of a secret write, as the simulator logs it.
fn put_path(repo: &str, scope: &str) -> String {
    match scope {
        "organization" => format!(
            "/orgs/{}/actions/secrets/ANTHROPIC_API_KEY",
            repo.split('/').next().unwrap()
        ),
        "repository" => format!("/repos/{repo}/actions/secrets/ANTHROPIC_API_KEY"),
        env => format!(
            "/repos/{repo}/environments/{}/secrets/ANTHROPIC_API_KEY",
            env.trim_start_matches("environment:")
        ),
    }
}

#[test]
fn a_different_key_on_resume_is_refused() {
    let sim = mixed("");
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.jsonl");
    let journal = journal.to_str().unwrap();
    let (_, code) = rotate(
        &sim,
        "fresh",
        &["--owner", "acme", "--no-canary", "--journal", journal],
    );
    assert_eq!(code, 0);
    let (doc, code) = rotate(&sim, "good", &["--resume", journal]);
    assert_eq!(code, 2, "{doc:#}");
    assert!(doc["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not the key this journal started with"));
}

#[test]
fn bad_targets_are_usage_errors_before_anything_is_read() {
    let sim = mixed("");
    let (_, code) = json_of(keyfix(&sim).args(["rotate", "--dry-run"]));
    assert_eq!(code, 2);
    let (doc, code) = json_of(keyfix(&sim).args(["rotate", "acme/ok", "not-a-repo", "--dry-run"]));
    assert_eq!(code, 2, "{doc:#}");
    assert!(sim.requests().is_empty() || sim.requests().iter().all(|r| r.service != "github"));
    let output = keyfix(&sim)
        .args(["rotate", "--owner", "acme", "--concurrency", "17"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn targets_come_from_arguments_then_the_targets_file_each_once() {
    let sim = mixed("");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("targets.txt");
    std::fs::write(
        &file,
        "# the repositories with their own secret\nacme/own1\n\n  acme/own2  # sonnet\nacme/stale\n",
    )
    .unwrap();
    let (doc, code) = rotate(
        &sim,
        "fresh",
        &[
            "acme/stale",
            "--targets-file",
            file.to_str().unwrap(),
            "--no-canary",
        ],
    );
    assert_eq!(code, 0, "{doc:#}");
    let repos: Vec<&str> = doc["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["repo"].as_str().unwrap())
        .collect();
    assert_eq!(repos, ["acme/stale", "acme/own1", "acme/own2"]);
    assert_eq!(secret_puts(&sim).len(), 3, "{:?}", secret_puts(&sim));
    assert_eq!(
        sim.secret("acme", None, "org", "ANTHROPIC_API_KEY"),
        Some(sim.key("orphaned")),
        "no target reads the organization secret"
    );
    let missing = dir.path().join("absent.txt");
    let (doc, code) = rotate(
        &sim,
        "fresh",
        &["--targets-file", missing.to_str().unwrap(), "--dry-run"],
    );
    assert_eq!(code, 2, "{doc:#}");
    assert!(doc["error"]["message"]
        .as_str()
        .unwrap()
        .contains("cannot read --targets-file"));
}

#[test]
fn no_piece_of_the_key_appears_at_any_verbosity() {
    let sim = mixed("");
    let output = keyfix(&sim)
        .args([
            "rotate",
            "--owner",
            "acme",
            "--no-canary",
            "--key-stdin",
            "--write-interval",
            "0",
            "-vvv",
        ])
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
    assert_no_piece_of(&sim.key("fresh"), &text, "keyfix's output");
}

/// `rotate --retire-old` with acme's admin key in `ANTHROPIC_ADMIN_KEY`.
fn rotate_retiring(sim: &Sim, args: &[&str]) -> (serde_json::Value, i32) {
    json_of(
        keyfix(sim)
            .args(["rotate", "--key-env", "NEW_KEY", "--write-interval", "0"])
            .args(["--retire-old"])
            .args(args)
            .env("NEW_KEY", sim.key("fresh"))
            .env("ANTHROPIC_ADMIN_KEY", sim.key("admin")),
    )
}

fn admin_posts(sim: &Sim) -> Vec<String> {
    sim.requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.starts_with("/v1/organizations/api_keys/"))
        .map(|r| r.path)
        .collect()
}

fn action_of<'d>(doc: &'d serde_json::Value, kind: &str) -> &'d serde_json::Value {
    doc["actions"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["kind"] == kind))
        .unwrap_or_else(|| panic!("no {kind} action: {doc:#}"))
}

#[test]
fn retire_old_retires_the_canarys_old_key_once_every_target_is_rotated() {
    let sim = mixed("");
    let (doc, code) = rotate_retiring(&sim, &["--owner", "acme", "--install-probe"]);
    assert_eq!(code, 0, "{doc:#}");
    assert_rotated(&sim, "fresh");
    let retired = action_of(&doc, "old_key_retired");
    assert_eq!(retired["name"], "orphaned");
    assert_eq!(retired["hint"], admin_hint(&sim.key("orphaned")));
    assert_eq!(
        admin_posts(&sim),
        [format!(
            "/v1/organizations/api_keys/{}",
            retired["id"].as_str().unwrap()
        )]
    );
    // The old key was fingerprinted by a probe run before the first write.
    let log = sim.requests();
    let first_dispatch = log.iter().position(|r| r.path.ends_with("/dispatches"));
    let first_put = log
        .iter()
        .position(|r| r.method == "PUT" && r.path.contains("/secrets/"));
    assert!(first_dispatch < first_put, "probe, then writes");
    let retire = log
        .iter()
        .position(|r| r.method == "POST" && r.path.starts_with("/v1/organizations/"));
    let last_put = log
        .iter()
        .rposition(|r| r.method == "PUT" && r.path.contains("/secrets/"));
    assert!(last_put < retire, "every write, then the retirement");
}

#[test]
fn retire_old_keeps_the_key_while_a_write_failed_and_the_resume_retires_it() {
    let sim = mixed("");
    fail_own2_write_once(&sim);
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.jsonl");
    let journal = journal.to_str().unwrap();
    let (doc, code) = rotate_retiring(
        &sim,
        &["--owner", "acme", "--install-probe", "--journal", journal],
    );
    assert_eq!(code, 16, "{doc:#}");
    let kept = action_of(&doc, "old_key_kept");
    assert!(
        kept["reason"].as_str().unwrap().contains("not every write"),
        "{kept}"
    );
    assert!(admin_posts(&sim).is_empty());
    let written = std::fs::read_to_string(journal).unwrap();
    assert!(written.contains("old_key_seen"), "{written}");
    assert_no_piece_of(&sim.key("orphaned"), &written, "the journal");

    let (doc, code) = json_of(
        keyfix(&sim)
            .args(["rotate", "--resume", journal, "--key-env", "NEW_KEY"])
            .env("NEW_KEY", sim.key("fresh"))
            .env("ANTHROPIC_ADMIN_KEY", sim.key("admin")),
    );
    assert_eq!(code, 0, "{doc:#}");
    assert_rotated(&sim, "fresh");
    assert_eq!(action_of(&doc, "old_key_retired")["name"], "orphaned");
    assert_eq!(admin_posts(&sim).len(), 1);
}

#[test]
fn retire_old_without_a_canary_is_a_usage_error_before_any_request() {
    let sim = mixed("");
    let output = keyfix(&sim)
        .args(["rotate", "--owner", "acme", "--no-canary", "--retire-old"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--retire-old"), "{stderr}");
    assert!(sim.requests().is_empty());
}

#[test]
fn a_dry_run_names_the_key_retire_old_would_retire_and_changes_nothing() {
    let sim = mixed("");
    let (doc, code) = json_of(
        keyfix(&sim)
            .args(["rotate", "--owner", "acme", "--dry-run", "--retire-old"])
            .args(["--probe-branch"])
            .env("ANTHROPIC_ADMIN_KEY", sim.key("admin")),
    );
    assert_eq!(code, 0, "{doc:#}");
    let named = action_of(&doc, "old_key_to_retire");
    assert_eq!(named["name"], "orphaned");
    assert_eq!(named["hint"], admin_hint(&sim.key("orphaned")));
    assert!(secret_puts(&sim).is_empty());
    assert!(admin_posts(&sim).is_empty());

    // Without a way to run the probe that commits nothing, it says so.
    let sim = mixed("");
    let (doc, code) = json_of(
        keyfix(&sim)
            .args(["rotate", "--owner", "acme", "--dry-run", "--retire-old"])
            .env("ANTHROPIC_ADMIN_KEY", sim.key("admin")),
    );
    assert_eq!(code, 0, "{doc:#}");
    let kept = action_of(&doc, "old_key_kept");
    assert!(
        kept["reason"]
            .as_str()
            .unwrap()
            .contains("a dry run commits nothing"),
        "{kept}"
    );
    assert!(sim.requests().iter().all(only_reads));
}
