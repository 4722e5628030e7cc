//! keyfix at a terminal: the hidden prompt and the confirmation, typed in a pseudo-terminal as a
//! person would, and the progress bar drawn there.

mod common;

use common::*;
use keyfix_sim::Sim;
use rexpect::session::{spawn_command, PtySession};

fn session(sim: &Sim) -> PtySession {
    session_of(sim, &["repo", "acme/app", "--install-probe"])
}

fn session_of(sim: &Sim, args: &[&str]) -> PtySession {
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("keyfix"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TERM", "xterm")
        .env("NO_COLOR", "1")
        .envs(sim.env());
    spawn_command(command, Some(30_000)).expect("keyfix starts in a pseudo-terminal")
}

fn exit_code(session: &mut PtySession) -> i32 {
    match session.process().wait().expect("keyfix exits") {
        rexpect::process::WaitStatus::Exited(_, code) => code,
        other => panic!("keyfix did not exit normally: {other:?}"),
    }
}

fn secret(sim: &Sim) -> Option<String> {
    sim.secret("acme", Some("app"), "repo", "ANTHROPIC_API_KEY")
}

#[test]
fn a_key_typed_at_the_hidden_prompt_and_confirmed_fixes_the_repository() {
    let sim = world(&[case("app", Some("orphaned"), "claude-haiku-4-5")], "");
    let mut p = session(&sim);
    p.exp_string("New Anthropic API key for ANTHROPIC_API_KEY")
        .unwrap();
    p.send_line(&sim.key("fresh")).unwrap();
    p.exp_string("Replace ANTHROPIC_API_KEY (repository secret of acme/app)")
        .unwrap();
    p.send("y").unwrap();
    p.flush().unwrap();
    let rest = p.exp_eof().unwrap();
    assert!(rest.contains("attempt 2: success"), "{rest}");
    assert_no_piece_of(&sim.key("fresh"), &rest, "the terminal");
    assert_eq!(exit_code(&mut p), 0);
    assert_eq!(secret(&sim), Some(sim.key("fresh")));
}

#[test]
fn declining_the_confirmation_changes_nothing() {
    let sim = world(&[case("app", Some("orphaned"), "claude-haiku-4-5")], "");
    let mut p = session(&sim);
    p.exp_string("New Anthropic API key").unwrap();
    p.send_line(&sim.key("fresh")).unwrap();
    p.exp_string("Replace ANTHROPIC_API_KEY").unwrap();
    p.send("n").unwrap();
    p.flush().unwrap();
    let rest = p.exp_eof().unwrap();
    assert!(rest.contains("The secret was not changed"), "{rest}");
    assert_eq!(exit_code(&mut p), 10);
    assert_eq!(secret(&sim), Some(sim.key("orphaned")));
}

#[test]
fn an_empty_key_at_the_prompt_changes_nothing() {
    let sim = world(&[case("app", Some("orphaned"), "claude-haiku-4-5")], "");
    let mut p = session(&sim);
    p.exp_string("New Anthropic API key").unwrap();
    p.send_line("").unwrap();
    let rest = p.exp_eof().unwrap();
    assert!(rest.contains("the key is empty"), "{rest}");
    assert_eq!(exit_code(&mut p), 2);
    assert_eq!(secret(&sim), Some(sim.key("orphaned")));
}

#[test]
fn ctrl_c_at_the_prompt_changes_nothing() {
    let sim = world(&[case("app", Some("orphaned"), "claude-haiku-4-5")], "");
    let mut p = session(&sim);
    p.exp_string("New Anthropic API key").unwrap();
    p.send_control('c').unwrap();
    let _ = p.exp_eof();
    let _ = p.process().wait();
    assert_eq!(secret(&sim), Some(sim.key("orphaned")));
    assert!(sim
        .requests()
        .iter()
        .all(|r| !(r.method == "PUT" && r.path.contains("/secrets/"))));
}

#[test]
fn rotate_at_a_terminal_asks_for_the_key_and_draws_a_bar_with_eta() {
    let mut scenario = org_scenario();
    scenario.faults.clear();
    let sim = start(scenario);
    let mut p = session_of(
        &sim,
        &[
            "rotate",
            "--owner",
            "acme",
            "--no-canary",
            "--write-interval",
            "0.5",
        ],
    );
    let mut transcript = p.exp_string("New Anthropic API key (hidden)").unwrap();
    p.send_line(&sim.key("fresh")).unwrap();
    transcript += &p.exp_string("with 4 writes?").unwrap();
    p.send("y").unwrap();
    p.flush().unwrap();
    // Four writes half a second apart: after the first, three more take about 1.5 s.
    transcript += &p.exp_string("1/4 writes, ETA 2s").unwrap();
    let rest = p.exp_eof().unwrap();
    transcript += &rest;
    assert!(
        rest.contains("9 of 9 targets rotated with 4 of 4 writes"),
        "{rest}"
    );
    assert!(
        !rest.contains("\nwrote acme"),
        "on a terminal the bar replaces the lines: {rest}"
    );
    assert_no_piece_of(&sim.key("fresh"), &transcript, "the terminal");
    assert_eq!(exit_code(&mut p), 0);
    assert_eq!(
        sim.secret("acme", None, "org", "ANTHROPIC_API_KEY"),
        Some(sim.key("fresh"))
    );
}

#[test]
fn declining_a_rotation_writes_nothing_and_ends_as_a_declined_fix_does() {
    let mut scenario = org_scenario();
    scenario.faults.clear();
    let sim = start(scenario);
    let mut p = session_of(&sim, &["rotate", "--owner", "acme", "--no-canary"]);
    p.exp_string("New Anthropic API key (hidden)").unwrap();
    p.send_line(&sim.key("fresh")).unwrap();
    p.exp_string("with 4 writes?").unwrap();
    p.send("n").unwrap();
    p.flush().unwrap();
    let rest = p.exp_eof().unwrap();
    assert!(rest.contains("Nothing was written"), "{rest}");
    assert_eq!(exit_code(&mut p), 10, "as repo's declined confirmation");
    assert!(sim
        .requests()
        .iter()
        .all(|r| !(r.method == "PUT" && r.path.contains("/secrets/"))));
}
