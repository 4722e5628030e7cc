//! The fault sweep. The flows of keyfix — `repo` fixing an orphaned key (probe, validation,
//! upload, verification, retiring the old key, re-run), `check` diagnosing it, `scan --probe`
//! probing each stored secret of an organization once, `rotate` over a mixed organization
//! with its canary — are each run once clean, then once for every request they sent, with
//! exactly that request failed: a 5xx (a 529 from the Anthropic API) or a dropped connection,
//! and for GitHub writes both again after the write took effect (its answer lost). Whatever
//! fails, the exit code is one of cli.md's for that flow, the document is true to the world, no
//! scope holds anything but the old or the new key, no write is sent again blindly, and the same
//! command run again without faults (`rotate`: `--resume`) finishes.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use keyfix_sim::scenario::{Fault, KeyState};
use keyfix_sim::{LoggedRequest, Sim};
use serde_json::Value;

/// One request of the clean run: where it is, and the how-manieth of its kind it was.
#[derive(Clone, Debug)]
struct Position {
    service: &'static str,
    method: String,
    path: String,
    occurrence: u32,
}

impl Position {
    /// A request that changes something: on GitHub an upload, dispatch, re-run or commit; on
    /// the Anthropic API a key's status (`--retire-old`). The Messages API's calls only read a
    /// key's standing.
    fn is_write(&self) -> bool {
        match self.service {
            // A GraphQL query only reads.
            "github" => self.method != "GET" && !self.path.ends_with("/graphql"),
            _ => self.is_admin_update(),
        }
    }

    fn is_admin_update(&self) -> bool {
        self.method == "POST" && self.path.starts_with("/v1/organizations/api_keys/")
    }

    /// A write that changes nothing more when sent twice, and may be sent again after a lost
    /// answer: deleting a branch, making a content-addressed Git object, setting a key's status.
    fn is_repeatable(&self) -> bool {
        (self.method == "DELETE" && self.path.contains("/git/refs/"))
            || (self.method == "POST"
                && (self.path.ends_with("/git/trees") || self.path.ends_with("/git/commits")))
            || self.is_admin_update()
    }

    fn same_request(&self, logged: &LoggedRequest) -> bool {
        logged.service == self.service
            && logged.method == self.method
            && path_of(logged) == self.path
    }
}

/// The path a fault matches: the logged path without its query, a throwaway branch's random
/// name as the pattern every such name matches.
fn path_of(logged: &LoggedRequest) -> String {
    let path = logged.path.split('?').next().unwrap_or_default();
    match path.split_once("keyfix-probe/") {
        Some((head, tail)) if tail.len() >= 8 => {
            format!("{head}keyfix-probe/[0-9a-f]{{8}}{}", &tail[8..])
        }
        _ => path.to_owned(),
    }
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
            let count = seen.entry((r.method.clone(), path_of(r))).or_default();
            *count += 1;
            Position {
                service: r.service,
                method: r.method.clone(),
                path: path_of(r),
                occurrence: *count,
            }
        })
        .collect()
}

/// The faults each position is tried with: a 5xx (a 529 from the Anthropic API) and a dropped
/// connection everywhere; for GitHub writes also both after the write took effect.
fn faults_at(position: &Position) -> Vec<Fault> {
    // A throwaway branch's name differs from run to run: its requests are matched by prefix.
    let path = match position.path.split_once("keyfix-probe/[0-9a-f]{8}") {
        Some((head, "")) => format!("{head}keyfix-probe/"),
        _ => format!("{}$", position.path),
    };
    let at = Fault {
        service: Some(position.service.to_owned()),
        path,
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
    let failed = Fault {
        status: Some(status),
        ..at.clone()
    };
    let dropped = Fault {
        drop_connection: true,
        ..at
    };
    let mut faults = vec![failed.clone(), dropped.clone()];
    if position.is_write() {
        for fault in [failed, dropped] {
            faults.push(Fault {
                applied: true,
                ..fault
            });
        }
    }
    faults
}

/// One flow of keyfix, as the sweep drives and judges it.
trait Flow: Sync {
    const NAME: &'static str;
    /// A new world, as the flow starts from.
    fn world(&self) -> Sim;
    /// The command, with `work` for the files it keeps.
    fn run(&self, sim: &Sim, work: &Path) -> (Value, i32);
    /// The exit codes a single fault may end in, the clean run's first.
    fn exits(&self) -> &'static [i32];
    /// The document says what the world holds, and every scope holds the old key or the new.
    fn faithful(&self, sim: &Sim, doc: &Value) -> Result<(), String>;
    /// Run again without faults, and it finishes.
    fn finish(&self, sim: &Sim, work: &Path) -> Result<(), String>;
}

fn did(doc: &Value, kind: &str) -> bool {
    doc["actions"]
        .as_array()
        .is_some_and(|actions| actions.iter().any(|a| a["kind"] == kind))
}

fn probe_committed(sim: &Sim, owner: &str, repo: &str) -> bool {
    let state = sim.world().github.lock().unwrap();
    state
        .repo(owner, repo)
        .is_some_and(|r| r.files.contains_key(".github/workflows/keyfix-probe.yml"))
}

/// `keyfix repo acme/app`: the fix of an orphaned key.
struct Fix;

impl Fix {
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

    /// Whether the Admin API shows the old key inactive.
    fn old_key_retired(sim: &Sim) -> bool {
        let old = sim.scenario().key("orphaned").expect("the old key");
        sim.world().key_state(old) == KeyState::Inactive
    }

    /// `--retire-old`'s action is true to the Admin API: retired where the key is inactive, kept
    /// where it is active, either where keyfix said it could not tell.
    fn retirement_is_faithful(sim: &Sim, doc: &Value) -> Result<(), String> {
        let unknown = doc["actions"].as_array().into_iter().flatten().any(|a| {
            a["kind"] == "old_key_kept"
                && a["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("may or may not"))
        });
        if !unknown && did(doc, "old_key_retired") != Fix::old_key_retired(sim) {
            return Err("old_key_retired does not match the Admin API".into());
        }
        Ok(())
    }
}

impl Flow for Fix {
    const NAME: &'static str = "repo";

    fn world(&self) -> Sim {
        world(&[case("app", Some("orphaned"), "claude-haiku-4-5")], "")
    }

    fn run(&self, sim: &Sim, _: &Path) -> (Value, i32) {
        json_of(
            keyfix(sim)
                .args([
                    "repo",
                    "acme/app",
                    "--install-probe",
                    "--key-env",
                    "NEW_KEY",
                    "--retire-old",
                ])
                .env("NEW_KEY", sim.key("fresh"))
                .env("ANTHROPIC_ADMIN_KEY", sim.key("admin")),
        )
    }

    fn exits(&self) -> &'static [i32] {
        &[0, 1, 13, 17, 18]
    }

    fn faithful(&self, sim: &Sim, doc: &Value) -> Result<(), String> {
        let (old, new) = (sim.key("orphaned"), sim.key("fresh"));
        let holds = Fix::stored(sim);
        if did(doc, "secret_updated") != (holds.as_deref() == Some(new.as_str())) {
            return Err("secret_updated does not match the secret".into());
        }
        if holds != Some(old) && holds != Some(new) {
            return Err("the secret holds neither key".into());
        }
        let (attempt, _) = Fix::failed_run(sim);
        if did(doc, "rerun_requested") != (attempt > 1) {
            return Err(format!(
                "rerun_requested does not match GitHub (attempt {attempt})"
            ));
        }
        if did(doc, "probe_installed") != probe_committed(sim, "acme", "app") {
            return Err("probe_installed does not match the repository".into());
        }
        Fix::retirement_is_faithful(sim, doc)
    }

    fn finish(&self, sim: &Sim, work: &Path) -> Result<(), String> {
        let (doc, code) = self.run(sim, work);
        let (attempt, conclusion) = Fix::failed_run(sim);
        let fixed = Fix::stored(sim) == Some(sim.key("fresh"));
        if code != 0 || !fixed || attempt < 2 || conclusion.as_deref() != Some("success") {
            return Err(format!(
                "running again did not finish (exit {code}, attempt {attempt}, {conclusion:?}): {doc}"
            ));
        }
        Ok(())
    }
}

/// `keyfix repo acme/app` where a ruleset protects `main`: the same fix with the probe run from
/// throwaway branches.
struct BranchFix;

impl Flow for BranchFix {
    const NAME: &'static str = "repo from a throwaway branch";

    fn world(&self) -> Sim {
        let case = case("app", Some("orphaned"), "claude-haiku-4-5").replacen(
            "name = \"app\"\n",
            "name = \"app\"\nprotection = \"ruleset\"\n",
            1,
        );
        world(&[case], "")
    }

    fn run(&self, sim: &Sim, work: &Path) -> (Value, i32) {
        Fix.run(sim, work)
    }

    fn exits(&self) -> &'static [i32] {
        Fix.exits()
    }

    /// As the fix's, and every branch the document calls deleted is gone, every other is there.
    fn faithful(&self, sim: &Sim, doc: &Value) -> Result<(), String> {
        Fix.faithful(sim, doc)?;
        let branches: Vec<String> = sim
            .branches("acme", "app")
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        let reported = doc["actions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["kind"] == "probe_branch");
        let mut left = Vec::new();
        for action in reported {
            let name = action["branch"].as_str().unwrap_or_default().to_owned();
            let there = branches.contains(&name);
            if action["deleted"] == there {
                return Err(format!(
                    "{name}: the document says deleted = {}",
                    action["deleted"]
                ));
            }
            if there {
                left.push(name);
            }
        }
        if branches.len() != left.len() {
            return Err(format!(
                "branches left that the document does not name: {branches:?}"
            ));
        }
        Ok(())
    }

    fn finish(&self, sim: &Sim, work: &Path) -> Result<(), String> {
        Fix.finish(sim, work)
    }
}

/// `keyfix check acme/app` with a reference key: the diagnosis of an orphaned key.
struct Check;

impl Flow for Check {
    const NAME: &'static str = "check";

    fn world(&self) -> Sim {
        Fix.world()
    }

    fn run(&self, sim: &Sim, _: &Path) -> (Value, i32) {
        json_of(
            keyfix(sim)
                .args(["check", "acme/app", "--install-probe"])
                .args(["--reference-key-env", "REFERENCE"])
                .env("REFERENCE", sim.key("fresh")),
        )
    }

    fn exits(&self) -> &'static [i32] {
        &[10, 1, 13, 18]
    }

    fn faithful(&self, sim: &Sim, doc: &Value) -> Result<(), String> {
        let cause = doc["diagnosis"]["cause"].as_str();
        let right = match doc["exit_code"].as_i64() {
            Some(10) => cause == Some("orphaned_key"),
            Some(13) => matches!(cause, Some("rate_limited" | "api_unavailable") | None),
            _ => cause.is_none(),
        };
        if !right {
            return Err(format!("another cause: {cause:?}"));
        }
        if Fix::stored(sim) != Some(sim.key("orphaned")) {
            return Err("check changed the secret".into());
        }
        if did(doc, "probe_installed") != probe_committed(sim, "acme", "app") {
            return Err("probe_installed does not match the repository".into());
        }
        Ok(())
    }

    fn finish(&self, sim: &Sim, work: &Path) -> Result<(), String> {
        let (doc, code) = self.run(sim, work);
        match (code, doc["diagnosis"]["cause"].as_str()) {
            (10, Some("orphaned_key")) => Ok(()),
            other => Err(format!("running again gave {other:?}")),
        }
    }
}

/// `keyfix scan acme --probe` with a reference key over an organization secret (an orphaned
/// key) read by two repositories and one repository's own secret (a working key): each stored
/// secret probed once.
struct Health;

impl Health {
    /// Each stored secret of the document: (where it is held, its cause, its probe's actions).
    fn scopes(doc: &Value) -> Vec<(String, Option<&str>, &[Value])> {
        doc["keys"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["scopes"].as_array().into_iter().flatten())
            .map(|s| {
                let holder = s["owner"]
                    .as_str()
                    .or(s["repo"].as_str())
                    .unwrap_or_default();
                let actions = s["actions"].as_array().map_or(&[][..], Vec::as_slice);
                (holder.to_owned(), s["diagnosis"]["cause"].as_str(), actions)
            })
            .collect()
    }
}

impl Flow for Health {
    const NAME: &'static str = "scan --probe";

    fn world(&self) -> Sim {
        let keys =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/keys.toml"))
                .unwrap();
        let repos = [
            case("svc-1", None, "claude-haiku-4-5"),
            case("svc-2", None, "claude-haiku-4-5"),
            case("own", Some("fresh"), "claude-haiku-4-5"),
        ]
        .join("\n");
        let org_secret = r#"{ name = "ANTHROPIC_API_KEY", key = "orphaned", visibility = "selected", selected = ["svc-1", "svc-2"] }"#;
        start(scenario(&format!(
            "{keys}\n[[owners]]\nlogin = \"acme\"\nsecrets = [{org_secret}]\n{repos}"
        )))
    }

    fn run(&self, sim: &Sim, _: &Path) -> (Value, i32) {
        json_of(
            keyfix(sim)
                .args(["scan", "acme", "--probe", "--install-probe"])
                .args(["--reference-key-env", "REFERENCE"])
                .env("REFERENCE", sim.key("fresh")),
        )
    }

    fn exits(&self) -> &'static [i32] {
        &[10, 1, 13, 18]
    }

    /// No other cause than the scope's own (or a transient one), no secret changed, and every
    /// probe commit the document names is on its default branch, and no other.
    fn faithful(&self, sim: &Sim, doc: &Value) -> Result<(), String> {
        let mut installed_in = Vec::new();
        for (holder, cause, actions) in Health::scopes(doc) {
            let own = if holder == "acme" {
                "orphaned_key"
            } else {
                "ok"
            };
            if !matches!(cause, None | Some("rate_limited" | "api_unavailable"))
                && cause != Some(own)
            {
                return Err(format!("{holder}: another cause: {cause:?}"));
            }
            if actions.iter().any(|a| a["kind"] == "probe_installed") {
                installed_in.push(if holder == "acme" {
                    "svc-1".to_owned()
                } else {
                    holder.replace("acme/", "")
                });
            }
        }
        for repo in ["svc-1", "svc-2", "own"] {
            if installed_in.iter().any(|r| r == repo) != probe_committed(sim, "acme", repo) {
                return Err(format!("probe_installed does not match acme/{repo}"));
            }
        }
        let org = sim.secret("acme", None, "org", "ANTHROPIC_API_KEY");
        let own = sim.secret("acme", Some("own"), "repo", "ANTHROPIC_API_KEY");
        if org != Some(sim.key("orphaned")) || own != Some(sim.key("fresh")) {
            return Err("scan changed a secret".into());
        }
        Ok(())
    }

    fn finish(&self, sim: &Sim, work: &Path) -> Result<(), String> {
        let (doc, code) = self.run(sim, work);
        let causes: Vec<(String, Option<&str>)> = Health::scopes(&doc)
            .into_iter()
            .map(|(holder, cause, _)| (holder, cause))
            .collect();
        let expected = vec![
            ("acme".to_owned(), Some("orphaned_key")),
            ("acme/own".to_owned(), Some("ok")),
        ];
        if code != 10 || causes != expected {
            return Err(format!("running again gave exit {code}, {causes:?}"));
        }
        Ok(())
    }
}

/// `keyfix rotate --owner acme` over docs/rotate.md's mixed organization, with its canary.
struct Rotate;

impl Rotate {
    fn journal(work: &Path) -> String {
        work.join("rotation.jsonl").display().to_string()
    }

    /// What the secret a target reads holds now.
    fn holds(sim: &Sim, target: &Value) -> Option<String> {
        let (owner, repo) = target["repo"].as_str()?.split_once('/')?;
        let scope = match target["scope"].as_str()? {
            "organization" => "org".to_owned(),
            "repository" => "repo".to_owned(),
            environment => environment.replace("environment:", "env:"),
        };
        sim.secret(owner, Some(repo), &scope, target["secret"].as_str()?)
    }

    fn targets(doc: &Value) -> &[Value] {
        doc["targets"].as_array().map_or(&[], Vec::as_slice)
    }
}

impl Flow for Rotate {
    const NAME: &'static str = "rotate";

    fn world(&self) -> Sim {
        let mut org = org_scenario();
        org.faults.clear();
        start(org)
    }

    fn run(&self, sim: &Sim, work: &Path) -> (Value, i32) {
        json_of(
            keyfix(sim)
                .args(["rotate", "--owner", "acme", "--install-probe"])
                .args(["--write-interval", "0", "--journal", &Rotate::journal(work)])
                .args(["--key-env", "NEW_KEY"])
                .env("NEW_KEY", sim.key("fresh")),
        )
    }

    fn exits(&self) -> &'static [i32] {
        &[0, 1, 13, 16, 17, 18]
    }

    fn faithful(&self, sim: &Sim, doc: &Value) -> Result<(), String> {
        let (old, new) = (sim.key("orphaned"), sim.key("fresh"));
        for target in Rotate::targets(doc) {
            let holds = Rotate::holds(sim, target);
            if (target["status"] == "rotated") != (holds.as_deref() == Some(new.as_str())) {
                return Err(format!("{target} does not match what it holds"));
            }
            if holds != Some(old.clone()) && holds != Some(new.clone()) {
                return Err(format!("{target} holds neither key"));
            }
        }
        Ok(())
    }

    fn finish(&self, sim: &Sim, work: &Path) -> Result<(), String> {
        let journal = Rotate::journal(work);
        let (doc, code) = if Path::new(&journal).exists() {
            json_of(
                keyfix(sim)
                    .args(["rotate", "--resume", &journal, "--install-probe"])
                    .args(["--key-env", "NEW_KEY"])
                    .env("NEW_KEY", sim.key("fresh")),
            )
        } else {
            self.run(sim, work)
        };
        let new = sim.key("fresh");
        let all = Rotate::targets(&doc)
            .iter()
            .all(|t| t["status"] == "rotated" && Rotate::holds(sim, t).as_deref() == Some(&new));
        if code != 0 || !all || Rotate::targets(&doc).is_empty() {
            return Err(format!("resuming did not finish (exit {code}): {doc}"));
        }
        Ok(())
    }
}

/// Runs `flow` with `fault`; `Err` says what broke the contract.
fn sweep_one<F: Flow>(
    flow: &F,
    position: &Position,
    fault: Fault,
    clean: &[LoggedRequest],
) -> Result<(), String> {
    let sim = flow.world();
    let work = tempfile::tempdir().unwrap();
    let before = sim.requests().len();
    sim.world().add_fault(fault);
    // (a) one document whose exit code is the process's (json_of checks), one of the flow's.
    let (doc, code) = flow.run(&sim, work.path());
    let log = sim.requests()[before..].to_vec();
    if !flow.exits().contains(&code) {
        return Err(format!("exit {code}: {doc}"));
    }
    // (b), (c): true to the world.
    flow.faithful(&sim, &doc)?;
    // (d) a write is not sent more often than in the clean run, unless sending it twice
    // changes nothing more.
    if position.is_write() && !position.is_repeatable() {
        let count =
            |log: &[&LoggedRequest]| log.iter().filter(|r| position.same_request(r)).count();
        let (faulted, clean) = (count(&sent_by_keyfix(&log)), count(&sent_by_keyfix(clean)));
        if faulted > clean {
            return Err(format!(
                "the write was sent {faulted} times (clean: {clean})"
            ));
        }
    }
    assert_no_piece_of(&sim.key("fresh"), &doc.to_string(), "the document");
    // (e) run again without faults: finished.
    flow.finish(&sim, work.path())
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

/// Runs `flow` clean, then once with each fault at each of its requests, side by side (each
/// run has a simulator of its own). Panics with every broken run.
fn sweep<F: Flow>(flow: &F) {
    let sim = flow.world();
    let work = tempfile::tempdir().unwrap();
    let before = sim.requests().len();
    let (doc, code) = flow.run(&sim, work.path());
    assert_eq!(code, flow.exits()[0], "the clean run: {doc:#}");
    let clean = sim.requests()[before..].to_vec();
    let positions = positions(&clean);
    let runs: Vec<(&Position, Fault)> = positions
        .iter()
        .flat_map(|position| faults_at(position).into_iter().map(move |f| (position, f)))
        .collect();
    // Most of a run is waiting on the simulated runner and the retry delays: more runs at once
    // than cores.
    let workers = 6;
    let broken: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|worker| {
                let (runs, clean) = (&runs, &clean);
                scope.spawn(move || {
                    runs.iter()
                        .skip(worker)
                        .step_by(workers)
                        .filter_map(|(position, fault)| {
                            sweep_one(flow, position, fault.clone(), clean)
                                .err()
                                .map(|why| format!("{}: {why}", describe(position, fault)))
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
        "fault sweep of {}: {} request positions, {} faulted runs",
        F::NAME,
        positions.len(),
        runs.len()
    );
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn every_request_of_the_fix_fails_once_and_nothing_is_lost() {
    sweep(&Fix);
}

#[test]
fn every_request_of_the_fix_from_throwaway_branches_fails_once_and_no_branch_is_lost() {
    sweep(&BranchFix);
}

#[test]
fn every_request_of_the_diagnosis_fails_once_and_no_other_cause_is_named() {
    sweep(&Check);
}

#[test]
fn every_request_of_a_health_scan_fails_once_and_no_other_cause_is_named() {
    sweep(&Health);
}

#[test]
fn every_request_of_a_rotation_fails_once_and_resume_finishes_it() {
    sweep(&Rotate);
}
