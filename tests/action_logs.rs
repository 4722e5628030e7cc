//! Every era of the action's job log, as keyfix-sim's emulated action writes it: `check`, `scan`
//! and `repo` read the failed run's signature and result text right in each; a green refusal
//! (the era whose failed result left the step green) is found although no run failed.

mod common;

use common::*;
use keyfix_sim::Sim;

/// The demo scenario (acme/app's key is orphaned) with its failed run logged by `era`.
fn demo_in(era: &str) -> Sim {
    let text = demo_text();
    let with_era = text.replacen(
        "event = \"issue_comment\", actor = \"alice\" }",
        &format!("event = \"issue_comment\", actor = \"alice\", action_log = \"{era}\" }}"),
        1,
    );
    assert_ne!(text, with_era, "the demo's run was found");
    start(scenario(&with_era))
}

fn check(sim: &Sim) -> (serde_json::Value, i32) {
    json_of(&mut check_with_fresh_reference(sim, &[]))
}

const ERAS: [&str; 9] = ["e0", "e1", "e2", "e3a", "e3b", "e4", "e5", "e6", "e7"];

#[test]
fn the_refusal_is_read_in_every_era_with_its_text_where_the_log_shows_it() {
    for era in ERAS {
        let sim = demo_in(era);
        let (doc, code) = check(&sim);
        assert_eq!(
            (doc["diagnosis"]["cause"].as_str(), code),
            (Some("orphaned_key"), 10),
            "{era}: {doc:#}"
        );
        let run = &doc["failed_run"];
        assert_eq!(run["signature"], "preflight_refusal", "{era}: {run}");
        assert_eq!(run["green"] == true, era == "e5", "{era}: {run}");
        let shows_text = matches!(era, "e0" | "e1" | "e4");
        assert_eq!(
            run["result"].as_str(),
            shows_text.then_some("Credit balance is too low"),
            "{era}: {run}"
        );
    }
}

#[test]
fn a_green_refusal_is_found_by_scan_check_and_repo() {
    let sim = demo_in("e5");
    {
        let state = sim.world().github.lock().unwrap();
        let run = state
            .runs
            .iter()
            .find(|r| r.event == "issue_comment")
            .unwrap();
        assert_eq!(run.conclusion.as_deref(), Some("success"), "the run passed");
    }
    let (doc, code) = json_of(keyfix(&sim).args(["scan", "acme"]));
    assert_eq!(code, 0, "{doc:#}");
    let last = &doc["repos"][0]["last_run"];
    assert_eq!(
        (last["conclusion"].as_str(), last["signature"].as_str()),
        (Some("success"), Some("preflight_refusal")),
        "{doc:#}"
    );

    let out = check_with_fresh_reference(&sim, &[]).output().unwrap();
    let human = String::from_utf8_lossy(&out.stdout);
    assert!(
        human.contains(
            "Last run   run 7000000001 (issue_comment by alice) — refused before any work"
        ) && human.contains("it passed although Claude was refused"),
        "{human}"
    );

    let (doc, code) = json_of(
        keyfix(&sim)
            .args(["repo", "acme/app", "--install-probe", "--key-env", "K"])
            .env("K", sim.key("fresh")),
    );
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["failed_run"]["green"], true, "{doc:#}");
    let refused = doc["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "rerun_refused")
        .expect("no re-run of a green run");
    assert!(
        refused["reason"]
            .as_str()
            .unwrap()
            .contains("GitHub re-runs only failed jobs: trigger the workflow again"),
        "{refused}"
    );
    assert!(
        !sim.requests()
            .iter()
            .any(|r| r.path.ends_with("/rerun-failed-jobs")),
        "nothing was re-run"
    );
    assert_eq!(
        sim.secret("acme", Some("app"), "repo", "ANTHROPIC_API_KEY"),
        Some(sim.key("fresh"))
    );
}
