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

/// An organization of `shared + own` repositories: `shared` read the organization secret, `own`
/// have their own repository secret; every one runs Claude on issue comments.
fn organization(shared: u32, own: u32, latency_ms: u64) -> anyhow::Result<Scenario> {
    let workflow = "on: issue_comment\njobs:\n  claude:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: anthropics/claude-code-action@v1\n        with:\n          anthropic_api_key: ${{ secrets.ANTHROPIC_API_KEY }}\n";
    let text = format!(
        r#"
[github]
latency_ms = {latency_ms}
# A GitHub App installation's budget: a user token's 5,000 an hour is less than one discovery
# of a thousand repositories needs.
rate_limit = 15000

[[organizations]]
name = "bigco"

[[keys]]
name = "old"
organization = "bigco"
state = "orphaned"

[[keys]]
name = "new"
organization = "bigco"

[[owners]]
login = "bigco"
secrets = [{{ name = "ANTHROPIC_API_KEY", key = "old", visibility = "all" }}]

[[repos]]
owner = "bigco"
name = "shared-{{n}}"
count = {shared}
files = {{ ".github/workflows/claude.yml" = '''{workflow}''' }}

[[repos]]
owner = "bigco"
name = "own-{{n}}"
count = {own}
secrets = [{{ name = "ANTHROPIC_API_KEY", key = "old" }}]
files = {{ ".github/workflows/claude.yml" = '''{workflow}''' }}
"#
    );
    Scenario::from_toml(&text)
}

/// The phases of a rotation, read off the simulator's request log.
struct Phases {
    discovery_ms: u64,
    reads_before_writes: usize,
    write_phase_ms: u64,
    writes: usize,
    github_requests: usize,
    /// GraphQL queries among the requests: they spend points of GraphQL's own budget.
    graphql_queries: usize,
    /// REST reads answered 304 from keyfix's cache: GitHub does not count them.
    not_modified: usize,
}

fn phases(sim: &Sim, started_at_ms: u64) -> Phases {
    let log: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.service == "github" && r.at_ms >= started_at_ms)
        .collect();
    let is_write =
        |r: &keyfix_sim::LoggedRequest| r.method == "PUT" && r.path.contains("/secrets/");
    let first_write = log.iter().position(is_write).unwrap_or(log.len());
    let first_at = log.first().map_or(started_at_ms, |r| r.at_ms);
    let write_start = log.get(first_write).map_or(first_at, |r| r.at_ms);
    let last_write = log
        .iter()
        .rev()
        .find(|r| is_write(r))
        .map_or(write_start, |r| r.at_ms);
    Phases {
        discovery_ms: write_start - first_at,
        reads_before_writes: log[..first_write]
            .iter()
            .filter(|r| r.method == "GET")
            .count(),
        write_phase_ms: last_write - write_start,
        writes: log.iter().filter(|r| is_write(r)).count(),
        github_requests: log.len(),
        graphql_queries: log.iter().filter(|r| r.path.ends_with("/graphql")).count(),
        not_modified: log.iter().filter(|r| r.status == 304).count(),
    }
}

/// `keyfix rotate` over an organization of `shared + own` repositories, `--no-canary`, and
/// beside it the loop of `gh secret set` over the `own` repository secrets.
pub fn rotate(
    keyfix: &Path,
    shared: u32,
    own: u32,
    latency_ms: u64,
    write_interval: f64,
    concurrency: usize,
    with_gh: bool,
) -> anyhow::Result<()> {
    let sim = Sim::start(organization(shared, own, latency_ms)?)?;
    let mark = sim.requests().last().map_or(0, |r| r.at_ms + 1);
    let started = Instant::now();
    let output = Command::new(keyfix)
        .args([
            "rotate",
            "--owner",
            "bigco",
            "--no-canary",
            "--key-env",
            "NEW_KEY",
            "--json",
            "-q",
        ])
        .args([
            "--write-interval",
            &write_interval.to_string(),
            "--concurrency",
            &concurrency.to_string(),
        ])
        .args([
            "--journal",
            &std::env::temp_dir()
                .join(format!("keyfix-bench-{}.jsonl", std::process::id()))
                .display()
                .to_string(),
        ])
        .envs(sim.env())
        // A cache of its own, empty: the figures are a first run's, and the user's cache is
        // left alone.
        .env("XDG_CACHE_HOME", tempfile_dir()?.join("cache"))
        .env("NEW_KEY", sim.key("new"))
        .output()?;
    let wall = started.elapsed().as_secs_f64();
    let document: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    if output.status.code() != Some(0) {
        bail!("keyfix rotate failed: {document:#}");
    }
    let p = phases(&sim, mark);
    let repos = f64::from(shared + own);
    let expected_discovery =
        p.reads_before_writes as f64 * latency_ms as f64 / concurrency as f64 / 1000.0;
    println!("keyfix rotate: {} repositories ({shared} reading the organization secret, {own} their own), latency {latency_ms} ms, --write-interval {write_interval}, --concurrency {concurrency}", shared + own);
    println!("  wall time                 {wall:.2} s");
    println!("  discovery and plan        {:.2} s ({} reads; reads x latency / concurrency = {expected_discovery:.2} s)", p.discovery_ms as f64 / 1000.0, p.reads_before_writes);
    println!(
        "  write phase               {:.2} s for {} writes (pace alone: {:.2} s)",
        p.write_phase_ms as f64 / 1000.0,
        p.writes,
        (p.writes.saturating_sub(1)) as f64 * write_interval
    );
    println!(
        "  GitHub requests           {} ({:.2} per repository)",
        p.github_requests,
        p.github_requests as f64 / repos
    );
    let rest = p.github_requests - p.graphql_queries;
    let points: u64 = sim
        .world()
        .github
        .lock()
        .expect("github state")
        .graphql_used
        .values()
        .sum();
    println!(
        "    REST                    {rest} ({} answered 304, not counted); GraphQL {} queries, {points} points",
        p.not_modified, p.graphql_queries
    );
    let counted = rest - p.not_modified + p.graphql_queries;
    println!(
        "    counted by GitHub       {counted} ({:.2} per repository)",
        counted as f64 / repos
    );
    if with_gh {
        gh_loop(&sim_for_gh(shared, own, latency_ms)?, own)?;
    }
    Ok(())
}

fn sim_for_gh(shared: u32, own: u32, latency_ms: u64) -> anyhow::Result<Sim> {
    Sim::start(organization(shared, own, latency_ms)?)
}

/// `gh secret set` once per repository secret, through the simulator's Unix socket.
fn gh_loop(sim: &Sim, own: u32) -> anyhow::Result<()> {
    let dir = tempfile_dir()?;
    let socket = dir.join("github.sock");
    sim.serve_unix_socket(&socket)?;
    std::fs::write(
        dir.join("config.yml"),
        format!("http_unix_socket: {}\n", socket.display()),
    )?;
    let token = sim.scenario().effective_tokens()[0].value();
    let key = sim.key("new");
    let mark = sim.requests().last().map_or(0, |r| r.at_ms + 1);
    let started = Instant::now();
    for n in 1..=own {
        let mut child = Command::new("gh")
            .args([
                "secret",
                "set",
                "ANTHROPIC_API_KEY",
                "--repo",
                &format!("bigco/own-{n}"),
            ])
            .env("GH_CONFIG_DIR", &dir)
            .env("GH_TOKEN", &token)
            .env("GH_PROMPT_DISABLED", "1")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .context("gh is not installed (apt-get install gh)")?;
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(key.as_bytes())?;
        if !child.wait()?.success() {
            bail!("gh secret set failed for bigco/own-{n}");
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let requests = sim
        .requests()
        .into_iter()
        .filter(|r| r.service == "github" && r.at_ms >= mark)
        .count();
    println!("gh secret set, once per repository secret ({own}), same latency:");
    println!("  wall time                 {wall:.2} s");
    println!("  GitHub requests           {requests} ({:.2} per secret); no validation, no pacing, no scope resolution", requests as f64 / f64::from(own));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("keyfix-bench-gh-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
