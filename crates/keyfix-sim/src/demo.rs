//! The offline demo: the real keyfix binary against a built-in scenario, shown as a transcript.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use keyfix_sim::scenario::key_env_name;
use keyfix_sim::{Scenario, Sim};

const BUILT_IN: &str = include_str!("../../../scenarios/keys.toml");

/// The keys the built-in demo validates, in the order a story reads well.
const DEMO_KEYS: [(&str, &str); 4] = [
    ("good", "a working key"),
    ("orphaned", "a key that authenticates but cannot bill"),
    ("revoked", "a revoked key"),
    ("pasted_with_space", "a key pasted with a trailing space"),
];

pub fn run(scenario: Option<&Path>) -> anyhow::Result<()> {
    let scenario = match scenario {
        Some(path) => Scenario::from_path(path)?,
        None => Scenario::from_toml(BUILT_IN).context("the built-in scenario")?,
    };
    let keyfix = keyfix_binary()?;
    let sim = Sim::start(scenario)?;
    println!(
        "keyfix demo: a simulated Anthropic API at {} (no network, no credentials).\n{}",
        sim.anthropic_base_url(),
        sim.scenario().description.trim()
    );
    let names: Vec<(String, String)> = if sim.scenario().key("good").is_some() {
        DEMO_KEYS
            .iter()
            .map(|(n, d)| (n.to_string(), d.to_string()))
            .collect()
    } else {
        sim.scenario()
            .keys
            .iter()
            .map(|k| (k.name.clone(), format!("key {:?}", k.name)))
            .collect()
    };
    for (name, what) in names {
        let var = key_env_name(&name);
        println!("\n# {what}\n$ keyfix validate --key-env {var}");
        let status = Command::new(&keyfix)
            .args(["validate", "--key-env", &var])
            .env(&var, sim.key(&name))
            .envs(sim.env())
            .status()
            .with_context(|| format!("cannot run {}", keyfix.display()))?;
        println!("(exit {})", status.code().unwrap_or(-1));
    }
    Ok(())
}

/// keyfix beside this binary (as `cargo build` leaves them), else `KEYFIX_BIN`, else on PATH.
fn keyfix_binary() -> anyhow::Result<PathBuf> {
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
