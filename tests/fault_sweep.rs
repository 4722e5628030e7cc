//! The fault sweep: `keyfix repo` fixing an orphaned key (probe, validation, upload,
//! verification, re-run) is run once clean, and then once for every request it sent, with
//! exactly that request failed — a 5xx (or a 529 from the Anthropic API), and for writes also a
//! dropped connection, before the write took effect and after it (its answer lost). Whatever fails, the document must be true to the world, no scope may hold
//! anything but the old or the new key, no write is sent again blindly, and the same command
//! run again without faults finishes the fix.

mod common;

use std::collections::BTreeMap;

use common::*;
use keyfix_sim::scenario::Fault;
use keyfix_sim::{LoggedRequest, Sim};

const REPO: &str = "acme/app";

fn fresh_world() -> Sim {
    world(&[case("app", Some("orphaned"), "claude-haiku-4-5")], "")
}

fn fix(sim: &Sim) -> (serde_json::Value, i32) {
    json_of(
        keyfix(sim)
            .args(["repo", REPO, "--install-probe", "--key-env", "NEW_KEY"])
            .env("NEW_KEY", sim.key("fresh")),
    )
}

/// One request of the clean run: where it is, and the how-manieth of its kind it was.
#[derive(Clone, Debug)]
struct Position {
    service: &'static str,
    method: String,
    path: String,
    occurrence: u32,
}

impl Position {
    /// A GitHub request that changes something (upload, dispatch, re-run, commit): never
    /// repeated blindly. The Messages API's calls only read a key's standing.
    fn is_write(&self) -> bool {
        self.service == "github" && self.method != "GET"
    }

    fn same_request(&self, logged: &LoggedRequest) -> bool {
        logged.service == self.service
            && logged.method == self.method
            && path_of(logged) == self.path
    }
}

/// The path a fault matches: the logged path without its query.
fn path_of(logged: &LoggedRequest) -> &str {
    logged.path.split('?').next().unwrap_or_default()
}

/// The requests keyfix sent in `log` (not the emulated action's own calls).
fn sent_by_keyfix(log: &[LoggedRequest]) -> Vec<&LoggedRequest> {
    log.iter()
        .filter(|r| !r.path.contains("(from a workflow run)"))
        .collect()
}

fn positions(log: &[LoggedRequest]) -> Vec<Position> {
    let mut seen: BTreeMap<(String, String), u32> = BTreeMap::new();
    sent_by_keyfix(log)
        .into_iter()
        .map(|r| {
            let count = seen
                .entry((r.method.clone(), path_of(r).to_owned()))
                .or_default();
            *count += 1;
            Position {
                service: r.service,
                method: r.method.clone(),
                path: path_of(r).to_owned(),
                occurrence: *count,
            }
        })
        .collect()
}

/// The faults each position is tried with.
fn faults_at(position: &Position) -> Vec<Fault> {
    let at = Fault {
        path: format!("{}$", position.path),
        method: Some(position.method.clone()),
        skip: position.occurrence - 1,
        times: Some(1),
        ..Fault::default()
    };
    let status = if position.service == "anthropic" {
        529
    } else {
        500
    };
    let mut faults = vec![Fault {
        status: Some(status),
        ..at.clone()
    }];
    if position.is_write() {
        // Refused before it took effect, and taken effect with its answer lost: a 500 or a drop.
        faults.push(Fault {
            drop_connection: true,
            ..at.clone()
        });
        for drop_connection in [false, true] {
            faults.push(Fault {
                status: Some(500),
                drop_connection,
                applied: true,
                ..at.clone()
            });
        }
    }
    faults
}

/// The failed run's latest attempt and its conclusion.
fn failed_run(sim: &Sim) -> (u32, Option<String>) {
    let state = sim.world().github.lock().unwrap();
    let run = state
        .runs
        .iter()
        .find(|r| r.event == "issue_comment")
        .expect("the scenario's failed run");
    (run.run_attempt, run.conclusion.clone())
}

fn stored(sim: &Sim) -> Option<String> {
    sim.secret("acme", Some("app"), "repo", "ANTHROPIC_API_KEY")
}

fn did(doc: &serde_json::Value, kind: &str) -> bool {
    doc["actions"]
        .as_array()
        .is_some_and(|actions| actions.iter().any(|a| a["kind"] == kind))
}

/// Runs the fix with `fault`; `Err` says what broke the contract.
fn sweep_one(position: &Position, fault: Fault, clean: &[LoggedRequest]) -> Result<(), String> {
    let sim = fresh_world();
    let before = sim.requests().len();
    sim.world().add_fault(fault);
    let (doc, code) = fix(&sim);
    let log = sim.requests()[before..].to_vec();
    let (old, new) = (sim.key("orphaned"), sim.key("fresh"));
    let holds = stored(&sim);
    // (a) one document, its exit code the process's (json_of checked), from cli.md's table.
    if ![0, 1, 13, 17, 18].contains(&code) {
        return Err(format!("exit {code}"));
    }
    // (b) the document is true to the world.
    if did(&doc, "secret_updated") != (holds.as_deref() == Some(new.as_str())) {
        return Err(format!("secret_updated does not match the secret ({code})"));
    }
    let (attempt, _) = failed_run(&sim);
    if did(&doc, "rerun_requested") != (attempt > 1) {
        return Err(format!(
            "rerun_requested does not match GitHub (attempt {attempt})"
        ));
    }
    // (c) the old key or the new one, nothing else.
    if holds != Some(old) && holds != Some(new.clone()) {
        return Err("the secret holds neither key".into());
    }
    // (d) a write is not sent more often than in the clean run.
    if position.is_write() {
        let count =
            |log: &[&LoggedRequest]| log.iter().filter(|r| position.same_request(r)).count();
        let (faulted, clean) = (count(&sent_by_keyfix(&log)), count(&sent_by_keyfix(clean)));
        if faulted > clean {
            return Err(format!(
                "the write was sent {faulted} times (clean: {clean})"
            ));
        }
    }
    // (e) run again without faults: fixed, and the failed jobs re-run and passed.
    let (again, code) = fix(&sim);
    let (attempt, conclusion) = failed_run(&sim);
    if code != 0
        || stored(&sim) != Some(new)
        || attempt < 2
        || conclusion.as_deref() != Some("success")
    {
        return Err(format!("running again did not finish (exit {code}, attempt {attempt}, {conclusion:?}): {again}"));
    }
    assert_no_piece_of(&sim.key("fresh"), &doc.to_string(), "the document");
    Ok(())
}

fn describe(position: &Position, fault: &Fault) -> String {
    format!(
        "{} {} #{} ({}{})",
        position.method,
        position.path,
        position.occurrence,
        if fault.drop_connection {
            "dropped"
        } else {
            "status"
        },
        if fault.applied {
            ", after taking effect"
        } else {
            ""
        }
    )
}

#[test]
fn every_request_of_the_fix_fails_once_and_nothing_is_lost() {
    let sim = fresh_world();
    let before = sim.requests().len();
    let (doc, code) = fix(&sim);
    assert_eq!(code, 0, "the clean run fixes: {doc:#}");
    let clean = sim.requests()[before..].to_vec();
    let positions = positions(&clean);
    let runs: Vec<(&Position, Fault)> = positions
        .iter()
        .flat_map(|position| faults_at(position).into_iter().map(move |f| (position, f)))
        .collect();
    let tried = runs.len();
    // Each faulted run has a simulator of its own: they run side by side.
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 4));
    let broken: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|worker| {
                let (runs, clean) = (&runs, &clean);
                scope.spawn(move || {
                    runs.iter()
                        .skip(worker)
                        .step_by(workers)
                        .filter_map(|(position, fault)| {
                            let what = describe(position, fault);
                            sweep_one(position, fault.clone(), clean)
                                .err()
                                .map(|why| format!("{what}: {why}"))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a sweep worker"))
            .collect()
    });
    // Straight to stderr, past the test harness's capture: the count belongs in every run's log.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "fault sweep of repo: {} request positions, {tried} faulted runs",
        positions.len()
    );
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}
