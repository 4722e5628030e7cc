//! `keyfix-sim`: serve a scenario on loopback, or run the offline demo against one.

mod bench;
mod demo;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use keyfix_sim::scenario::key_env_name;
use keyfix_sim::tls::{Authority, Https};
use keyfix_sim::{Options, Scenario, Sim};

#[derive(Parser)]
#[command(
    name = "keyfix-sim",
    version,
    about = "A local Anthropic API for keyfix's tests, its offline demo and runbook rehearsals",
    after_help = "Examples:\n  keyfix-sim demo\n  keyfix-sim serve --scenario scenarios/keys.toml > sim.env &\n  . ./sim.env && keyfix validate --key-env KEYFIX_SIM_KEY_ORPHANED"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve a scenario until interrupted; print the `export` lines that point keyfix at it
    Serve {
        /// The scenario file (TOML, or JSON when it ends in .json)
        #[arg(long, value_name = "FILE")]
        scenario: PathBuf,
        /// Port on 127.0.0.1 (0: any free port)
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Also serve the GitHub API on this Unix socket (for `gh`'s http_unix_socket setting)
        #[arg(long, value_name = "PATH")]
        unix_socket: Option<PathBuf>,
        /// Serve HTTPS as `localhost`, with a certificate authority made for this run, written
        /// to DIR/ca.pem (the export lines set SSL_CERT_FILE to it)
        #[arg(long, value_name = "DIR")]
        https: Option<PathBuf>,
    },
    /// Run keyfix against a built-in scenario and show what a user would see
    Demo {
        /// A scenario file to use instead of the built-in one
        scenario: Option<PathBuf>,
    },
    /// Time keyfix against the simulator (docs/benchmarks.md)
    #[command(subcommand)]
    Bench(Bench),
}

#[derive(Subcommand)]
enum Bench {
    /// `keyfix repo` from start to a watched, passing re-run, at several simulated run delays
    Repo {
        /// Simulated delays of each run phase (queued, in progress), in milliseconds
        #[arg(long, value_delimiter = ',', default_value = "0,500,1000,2000")]
        delays_ms: Vec<u64>,
        /// Runs per delay; the median is reported
        #[arg(long, default_value_t = 5)]
        repeat: usize,
    },
    /// `keyfix rotate --no-canary` over a simulated organization (a tenth of its repositories
    /// with their own secret), cold, and its plan twice, beside a `gh secret set` loop
    Rotate {
        /// Repositories of the organization
        #[arg(long, default_value_t = 1000)]
        repos: u32,
        /// Latency added to every GitHub answer, in milliseconds
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
        /// keyfix's --write-interval
        #[arg(long, default_value_t = 0.0)]
        write_interval: f64,
        /// keyfix's --concurrency
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// The token's hourly budget of REST requests
        #[arg(long, default_value_t = 15_000)]
        rate_limit: u64,
        /// Also time a `gh secret set` loop over the repository secrets (gh from the system)
        #[arg(long)]
        gh: bool,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Serve {
            scenario,
            port,
            unix_socket,
            https,
        } => serve(&scenario, port, unix_socket.as_deref(), https.as_deref()),
        Command::Demo { scenario } => demo::run(scenario.as_deref()),
        Command::Bench(Bench::Repo { delays_ms, repeat }) => {
            bench::repo(&demo::keyfix_binary()?, &delays_ms, repeat.max(1))
        }
        Command::Bench(Bench::Rotate {
            repos,
            latency_ms,
            write_interval,
            concurrency,
            rate_limit,
            gh,
        }) => bench::rotate(
            &demo::keyfix_binary()?,
            &bench::RotateBench {
                repos,
                latency_ms,
                write_interval,
                concurrency,
                rate_limit,
                with_gh: gh,
            },
        ),
    }
}

fn serve(
    path: &std::path::Path,
    port: u16,
    unix_socket: Option<&std::path::Path>,
    https_dir: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let scenario = Scenario::from_path(path)?;
    let mut ca_file = None;
    let https = match https_dir {
        Some(dir) => {
            let authority = Authority::new("keyfix-sim local authority")?;
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let file = std::path::absolute(dir.join("ca.pem"))?;
            std::fs::write(&file, authority.cert_pem())
                .with_context(|| format!("cannot write {}", file.display()))?;
            ca_file = Some(file);
            Some(Https {
                identity: authority.issue(&["localhost", "127.0.0.1"])?,
                github_host: "localhost".into(),
                anthropic_host: "localhost".into(),
            })
        }
        None => None,
    };
    let sim = Sim::start_with(
        scenario,
        Options {
            anthropic: ([127, 0, 0, 1], port).into(),
            https,
            ..Options::default()
        },
    )
    .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
    if let Some(socket) = unix_socket {
        sim.serve_unix_socket(socket)
            .with_context(|| format!("cannot listen on {}", socket.display()))?;
    }
    print!("{}", export_lines(&sim));
    if let Some(file) = ca_file {
        println!("export SSL_CERT_FILE={}", file.display());
    }
    eprintln!(
        "keyfix-sim: serving {} on {} (request log: {}/_sim/requests); Ctrl-C stops it",
        path.display(),
        sim.anthropic_base_url(),
        sim.anthropic_base_url()
    );
    sim.wait();
    Ok(())
}

/// `export` lines for the base URL and every key of the scenario (simulated keys, not secrets).
pub fn export_lines(sim: &Sim) -> String {
    let mut out = String::new();
    for (name, value) in sim.env() {
        out.push_str(&format!("export {name}={value}\n"));
    }
    for key in &sim.scenario().keys {
        let org = key.organization.as_deref().unwrap_or("no organization");
        out.push_str(&format!(
            "export {}={}  # {:?} {:?} key, {org}\n",
            key_env_name(&key.name),
            sim.key(&key.name),
            key.state,
            key.kind
        ));
    }
    for app in &sim.scenario().apps {
        let owners: Vec<&str> = app.installations.iter().map(|i| i.owner.as_str()).collect();
        out.push_str(&format!(
            "# GitHub App {}: KEYFIX_GITHUB_APP_ID={} with its private key in KEYFIX_GITHUB_APP_PRIVATE_KEY_FILE (installed on {})
",
            app.name,
            app.id,
            owners.join(", ")
        ));
    }
    out
}
