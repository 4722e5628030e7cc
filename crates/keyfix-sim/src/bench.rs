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
/// have their own repository secret; every one runs Claude on issue comments. `rate_limit` is
/// the token's hourly budget.
fn organization(
    shared: u32,
    own: u32,
    latency_ms: u64,
    rate_limit: u64,
) -> anyhow::Result<Scenario> {
    let workflow = "on: issue_comment\njobs:\n  claude:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: anthropics/claude-code-action@v1\n        with:\n          anthropic_api_key: ${{ secrets.ANTHROPIC_API_KEY }}\n";
    let text = format!(
        r#"
[github]
latency_ms = {latency_ms}
rate_limit = {rate_limit}

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

/// What one keyfix run sent to GitHub, read off the simulator's request log: discovery runs
/// from the first request to the first write (the whole run when nothing is written).
struct Phases {
    wall_s: f64,
    discovery_ms: u64,
    reads_before_writes: usize,
    write_phase_ms: u64,
    writes: usize,
    discovery: Spent,
}

/// Discovery's requests, as GitHub counts them.
struct Spent {
    rest: usize,
    /// REST reads answered 304 from keyfix's cache: GitHub does not count them.
    not_modified: usize,
    /// GraphQL queries: they spend points of GraphQL's own budget.
    graphql_queries: usize,
    graphql_points: u64,
}

impl Spent {
    fn counted(&self) -> usize {
        self.rest - self.not_modified + self.graphql_queries
    }

    fn describe(&self, repos: u32) -> String {
        format!(
            "{} counted ({:.3} a repository): {} REST, {} GraphQL queries ({} points); {} more REST answered 304, not counted",
            self.counted(),
            self.counted() as f64 / f64::from(repos),
            self.rest - self.not_modified,
            self.graphql_queries,
            self.graphql_points,
            self.not_modified,
        )
    }
}

fn graphql_points(sim: &Sim) -> u64 {
    let world = sim.world();
    let state = world.github.lock().expect("github state");
    state.graphql_used.values().sum()
}

/// Runs `keyfix rotate --owner bigco --no-canary` with `args`, its cache under `cache`, and
/// reads its phases off the simulator's log.
fn run_rotate(keyfix: &Path, sim: &Sim, cache: &Path, args: &[String]) -> anyhow::Result<Phases> {
    let mark = sim.requests().last().map_or(0, |r| r.at_ms + 1);
    let points_before = graphql_points(sim);
    let journal = cache.join(format!("journal-{mark}.jsonl"));
    let started = Instant::now();
    let output = Command::new(keyfix)
        .args(["rotate", "--owner", "bigco", "--no-canary", "--json", "-q"])
        .args(args)
        .arg("--journal")
        .arg(&journal)
        .envs(sim.env())
        // A cache of the benchmark's own: the first run's is empty, and the user's is left alone.
        .env("XDG_CACHE_HOME", cache)
        .env("NEW_KEY", sim.key("new"))
        .output()?;
    let wall_s = started.elapsed().as_secs_f64();
    let document: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    if output.status.code() != Some(0) {
        bail!("keyfix rotate failed: {document:#}");
    }
    let log: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.service == "github" && r.at_ms >= mark)
        .collect();
    let is_write =
        |r: &keyfix_sim::LoggedRequest| r.method == "PUT" && r.path.contains("/secrets/");
    let first_write = log.iter().position(is_write).unwrap_or(log.len());
    let first_at = log.first().map_or(mark, |r| r.at_ms);
    let last_at = log.last().map_or(mark, |r| r.at_ms);
    let write_start = log.get(first_write).map_or(last_at, |r| r.at_ms);
    let last_write = log
        .iter()
        .rev()
        .find(|r| is_write(r))
        .map_or(write_start, |r| r.at_ms);
    let discovery = &log[..first_write];
    let graphql_queries = discovery
        .iter()
        .filter(|r| r.path.ends_with("/graphql"))
        .count();
    Ok(Phases {
        wall_s,
        discovery_ms: write_start - first_at,
        reads_before_writes: discovery.iter().filter(|r| r.method == "GET").count(),
        write_phase_ms: last_write - write_start,
        writes: log.iter().filter(|r| is_write(r)).count(),
        discovery: Spent {
            rest: discovery.len() - graphql_queries,
            not_modified: discovery.iter().filter(|r| r.status == 304).count(),
            graphql_queries,
            // Every query of a rotation is discovery's.
            graphql_points: graphql_points(sim) - points_before,
        },
    })
}

/// How a rotation is benchmarked.
pub struct RotateBench {
    pub repos: u32,
    pub latency_ms: u64,
    pub write_interval: f64,
    pub concurrency: usize,
    pub rate_limit: u64,
    pub with_gh: bool,
}

/// `keyfix rotate --no-canary` over an organization of `repos` repositories (a tenth with their
/// own repository secret) with an empty cache; then, on a fresh organization, its plan
/// (`--dry-run`) twice, the second answered from the first's cache; and beside them the loop of
/// `gh secret set` over the repository secrets.
pub fn rotate(keyfix: &Path, bench: &RotateBench) -> anyhow::Result<()> {
    let own = bench.repos / 10;
    let shared = bench.repos - own;
    let scenario = || organization(shared, own, bench.latency_ms, bench.rate_limit);
    let pacing = vec![
        "--write-interval".to_owned(),
        bench.write_interval.to_string(),
        "--concurrency".to_owned(),
        bench.concurrency.to_string(),
    ];
    println!("keyfix rotate: {} repositories ({shared} reading the organization secret, {own} their own), latency {} ms, --write-interval {}, --concurrency {}", bench.repos, bench.latency_ms, bench.write_interval, bench.concurrency);
    let dir = tempfile_dir()?;

    let sim = Sim::start(scenario()?)?;
    let mut rotation = pacing.clone();
    rotation.extend(["--key-env".to_owned(), "NEW_KEY".to_owned()]);
    let cold = run_rotate(keyfix, &sim, &dir.join("rotation"), &rotation)?;
    let expected_discovery = cold.reads_before_writes as f64 * bench.latency_ms as f64
        / bench.concurrency as f64
        / 1000.0;
    println!("rotation, empty cache:");
    println!("  wall time                 {:.2} s", cold.wall_s);
    println!("  discovery and plan        {:.2} s ({} REST reads; reads x latency / concurrency = {expected_discovery:.2} s)", cold.discovery_ms as f64 / 1000.0, cold.reads_before_writes);
    println!(
        "  discovery requests        {}",
        cold.discovery.describe(bench.repos)
    );
    println!(
        "  write phase               {:.2} s for {} writes (pace alone: {:.2} s)",
        cold.write_phase_ms as f64 / 1000.0,
        cold.writes,
        (cold.writes.saturating_sub(1)) as f64 * bench.write_interval
    );

    let sim = Sim::start(scenario()?)?;
    let mut dry_run = pacing;
    dry_run.push("--dry-run".to_owned());
    let cache = dir.join("plans");
    for what in ["empty cache", "the same command again"] {
        let plan = run_rotate(keyfix, &sim, &cache, &dry_run)?;
        println!("plan (--dry-run), {what}:");
        println!("  wall time                 {:.2} s", plan.wall_s);
        println!(
            "  requests                  {}",
            plan.discovery.describe(bench.repos)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    if bench.with_gh {
        gh_loop(&Sim::start(scenario()?)?, own)?;
    }
    Ok(())
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
    let dir = std::env::temp_dir().join(format!("keyfix-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
