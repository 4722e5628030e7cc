//! `keyfix-sim bench repo`: how long `keyfix repo` takes from start to a watched, passing
//! re-run, and how much of that is keyfix's own time beyond the simulated runs.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context};
use keyfix_sim::{Scenario, Sim};

const SCENARIO: &str = include_str!("../../../scenarios/demo.toml");
/// Runs `keyfix repo` waits for: the probe, the verifying probe, and the re-run.
const RUNS_WAITED: u64 = 3;
/// Each run is queued for the delay, then in progress for the delay.
const PHASES_PER_RUN: u64 = 2;

pub fn repo(keyfix: &Path, delays_ms: &[u64], repeat: usize) -> anyhow::Result<()> {
    println!("| run delay | simulated run time | keyfix repo, wall (median of {repeat}) | keyfix's own time |");
    println!("|---|---|---|---|");
    for &delay in delays_ms {
        let mut walls: Vec<f64> = (0..repeat)
            .map(|_| one(keyfix, delay))
            .collect::<anyhow::Result<_>>()?;
        walls.sort_by(f64::total_cmp);
        let wall = walls[walls.len() / 2];
        let simulated = (RUNS_WAITED * PHASES_PER_RUN * delay) as f64 / 1000.0;
        println!(
            "| {delay} ms | {simulated:.2} s | {wall:.2} s | {:.2} s |",
            wall - simulated
        );
    }
    Ok(())
}

/// One `keyfix repo` on a fresh simulator, timed from start to exit.
fn one(keyfix: &Path, delay_ms: u64) -> anyhow::Result<f64> {
    let mut scenario = Scenario::from_toml(SCENARIO)?;
    scenario.github.run_delay_ms = delay_ms;
    let sim = Sim::start(scenario)?;
    let started = Instant::now();
    let output = Command::new(keyfix)
        .args([
            "repo",
            "acme/app",
            "--install-probe",
            "--key-env",
            "NEW_KEY",
            "--json",
            "-q",
        ])
        .envs(sim.env())
        .env("NEW_KEY", sim.key("fresh"))
        .output()
        .with_context(|| format!("cannot run {}", keyfix.display()))?;
    let wall = started.elapsed().as_secs_f64();
    let document: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let finished = document["actions"]
        .as_array()
        .and_then(|a| a.last())
        .filter(|a| a["kind"] == "rerun_finished" && a["conclusion"] == "success");
    if output.status.code() != Some(0) || finished.is_none() {
        bail!("keyfix repo did not end in a passing re-run: {document:#}");
    }
    Ok(wall)
}
