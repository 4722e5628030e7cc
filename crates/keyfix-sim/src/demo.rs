//! The offline demo: the real keyfix binary against a simulated GitHub and Anthropic API, shown
//! as the transcript a person would see.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use keyfix_sim::{Scenario, Sim};

const BUILT_IN: &str = include_str!("../../../scenarios/demo.toml");

/// The environment variable the demo hands new keys in, as a secret manager would.
const NEW_KEY_VAR: &str = "NEW_ANTHROPIC_KEY";

/// One command of the story: its arguments and, where it takes one, the scenario key it is given.
struct Step {
    note: &'static str,
    args: &'static [&'static str],
    new_key: Option<&'static str>,
}

const STORY: [Step; 4] = [
    Step {
        note: "Which repositories use Claude, which secret each reads, and how their last runs ended:",
        args: &["scan", "acme"],
        new_key: None,
    },
    Step {
        note: "acme/app: find the cause; a fresh key of acme fixes an orphaned key, so keyfix uploads it, proves it, re-runs the job:",
        args: &["repo", "acme/app", "--install-probe", "--key-env", NEW_KEY_VAR],
        new_key: Some("fresh"),
    },
    Step {
        note: "emptyco/bot: a new key of emptyco gets the same refusal, so the organization has no credit; nothing is uploaded:",
        args: &["repo", "emptyco/bot", "--install-probe", "--key-env", NEW_KEY_VAR],
        new_key: Some("emptyco_new"),
    },
    Step {
        note: "Scripts get one JSON document and a stable exit code:",
        args: &["check", "acme/app", "--json", "-q"],
        new_key: None,
    },
];

pub fn run(scenario: Option<&Path>) -> anyhow::Result<()> {
    let keyfix = keyfix_binary()?;
    match scenario {
        None => {
            let scenario = Scenario::from_toml(BUILT_IN).context("the built-in scenario")?;
            let sim = start(scenario)?;
            for step in &STORY {
                let key = step.new_key.map(|name| sim.key(name));
                show(&keyfix, &sim, step.note, step.args, key.as_deref())?;
            }
        }
        Some(path) => {
            let sim = start(Scenario::from_path(path)?)?;
            for repo in sim.scenario().expanded_repos() {
                let full = format!("{}/{}", repo.owner, repo.name);
                show(
                    &keyfix,
                    &sim,
                    "",
                    &["check", &full, "--install-probe"],
                    None,
                )?;
            }
        }
    }
    Ok(())
}

fn start(scenario: Scenario) -> anyhow::Result<Sim> {
    let sim = Sim::start(scenario)?;
    println!(
        "keyfix demo: a simulated GitHub ({}) and Anthropic API ({}) on this machine; no network, no credentials.\n{}",
        sim.github_api_url(),
        sim.anthropic_base_url(),
        sim.scenario().description.trim()
    );
    Ok(sim)
}

/// Runs one keyfix command against the simulator and prints it as a transcript.
fn show(
    keyfix: &Path,
    sim: &Sim,
    note: &str,
    args: &[&str],
    new_key: Option<&str>,
) -> anyhow::Result<()> {
    if !note.is_empty() {
        println!("\n# {note}");
    }
    println!("$ keyfix {}", args.join(" "));
    let mut command = Command::new(keyfix);
    command.args(args).envs(sim.env());
    if let Some(key) = new_key {
        command.env(NEW_KEY_VAR, key);
    }
    let status = command
        .status()
        .with_context(|| format!("cannot run {}", keyfix.display()))?;
    println!("(exit {})", status.code().unwrap_or(-1));
    Ok(())
}

/// keyfix beside this binary (as `cargo build` leaves them), else `KEYFIX_BIN`, else on PATH.
pub fn keyfix_binary() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("KEYFIX_BIN") {
        return Ok(PathBuf::from(path));
    }
    let beside =
        std::env::current_exe()?.with_file_name(format!("keyfix{}", std::env::consts::EXE_SUFFIX));
    if beside.exists() {
        return Ok(beside);
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("keyfix"))
                .find(|p| p.exists())
        })
        .unwrap_or_default();
    match on_path {
        Some(path) => Ok(path),
        None => {
            bail!("keyfix is not built: run `cargo build --workspace` first, or set KEYFIX_BIN")
        }
    }
}
