//! What every integration test needs: a simulator with the shipped scenario, and the keyfix
//! binary run against it with a clean environment.

#![allow(dead_code)]

pub mod proxy;
pub mod tools;

use std::path::Path;

use assert_cmd::Command;
use keyfix_sim::scenario::Fault;
use keyfix_sim::{exchanges, Options, Scenario, Sim};

/// The shipped scenario of keys in every state, with ordinary 429s retried at once.
pub fn keys_scenario() -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/keys.toml");
    let mut scenario = Scenario::from_path(&path).expect("the shipped scenario loads");
    scenario.anthropic.retry_after_secs = 0;
    scenario
}

pub fn start(scenario: Scenario) -> Sim {
    start_with(scenario, Options::default())
}

/// [`start`] as `options` say. Every simulator of a test binary records its GitHub exchanges for
/// keyfix-sim's `tests/openapi.rs` (see `keyfix_sim::exchanges`), except the fault sweep's: its
/// answers are deliberate faults, thousands of them.
pub fn start_with(scenario: Scenario, mut options: Options) -> Sim {
    let binary = std::env::current_exe().expect("the test binary");
    if exchanges::test_binary_name(&binary) != "fault_sweep" {
        options.record_into =
            exchanges::test_binary_recording(Path::new(env!("CARGO_TARGET_TMPDIR")))
                .map(Path::to_owned);
    }
    Sim::start_with(scenario, options).expect("the simulator starts")
}

/// keyfix with nothing of the caller's environment that could reach a real service, and a cache
/// of conditional requests of its own, empty: no run of a test sees another's answers.
pub fn keyfix(sim: &Sim) -> Command {
    let mut cmd = Command::cargo_bin("keyfix").expect("keyfix is built");
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .env("XDG_CACHE_HOME", fresh_cache_home())
        .envs(sim.env());
    cmd
}

/// A new, empty directory for one run's cache, under this test process's own directory; those of
/// test processes that have ended are removed the first time.
pub fn fresh_cache_home() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static RUNS: AtomicU64 = AtomicU64::new(0);
    static SWEPT: std::sync::Once = std::sync::Once::new();
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("keyfix-cache");
    SWEPT.call_once(|| {
        for entry in std::fs::read_dir(&root).into_iter().flatten().flatten() {
            let pid = entry.file_name();
            if !Path::new("/proc").join(&pid).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    });
    let dir = root
        .join(std::process::id().to_string())
        .join(RUNS.fetch_add(1, Ordering::Relaxed).to_string());
    std::fs::create_dir_all(&dir).expect("a cache directory for the run");
    dir
}

/// Whether a logged request only reads: a GET, or a GraphQL query (keyfix sends no mutation).
pub fn only_reads(request: &keyfix_sim::LoggedRequest) -> bool {
    request.method == "GET" || (request.method == "POST" && request.path.ends_with("/graphql"))
}

/// Runs `keyfix validate --key-env KEY --json` with the scenario key `name`, plus `args`.
pub fn validate_json(sim: &Sim, name: &str, args: &[&str]) -> (serde_json::Value, i32) {
    let (doc, code) = json_of(
        keyfix(sim)
            .args(["validate", "--key-env", "KEY"])
            .args(args)
            .env("KEY", sim.key(name)),
    );
    assert_eq!(doc["schema"], "keyfix/v1");
    (doc, code)
}

/// A scenario from TOML text, with ordinary 429s retried at once and runs that take no time.
pub fn scenario(toml: &str) -> Scenario {
    let mut scenario = Scenario::from_toml(toml).expect("the test scenario is valid");
    scenario.anthropic.retry_after_secs = 0;
    scenario.github.run_delay_ms = 0;
    scenario
}

/// The organizations of docs/rotate.md (`scenarios/org.toml`), with runs that take no time.
pub fn org_scenario() -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/org.toml");
    scenario(&std::fs::read_to_string(path).expect("the shipped scenario"))
}

/// Runs keyfix with `args` and `--json`; returns the document and the exit code.
pub fn json_of(cmd: &mut Command) -> (serde_json::Value, i32) {
    let (doc, code, _) = json_and_stderr_of(cmd);
    (doc, code)
}

/// Runs keyfix with `args` and `--json`; returns the document, the exit code and stderr.
pub fn json_and_stderr_of(cmd: &mut Command) -> (serde_json::Value, i32, String) {
    let output = cmd.arg("--json").output().expect("keyfix runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is one JSON document ({e}):\n{}\nstderr:\n{stderr}",
            String::from_utf8_lossy(&output.stdout),
        )
    });
    let code = output.status.code().expect("exited");
    assert_eq!(doc["exit_code"], code, "the document states the exit code");
    (doc, code, stderr)
}

/// The `status` of every target of a `rotate` document, in order.
pub fn target_statuses(doc: &serde_json::Value) -> Vec<String> {
    doc["targets"]
        .as_array()
        .expect("a rotate document has targets")
        .iter()
        .map(|t| t["status"].as_str().expect("a status").to_owned())
        .collect()
}

/// The filters that take the run-to-run noise out of keyfix's output.
pub fn snapshot_settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"req_[A-Za-z0-9]+", "[request-id]");
    settings.add_filter(r#""latency_ms": \d+"#, r#""latency_ms": "[ms]""#);
    // Latencies are right-aligned: their width varies with the digits, so the padding goes too.
    settings.add_filter(r" +\d+ ms\b", " [ms]");
    settings.add_filter(r"127\.0\.0\.1:\d+", "127.0.0.1:[port]");
    // Organization and workspace ids are salted with a nonce new for every probe run.
    settings.add_filter(
        r#""(organization_id|workspace_id)": "[0-9a-f]{16}""#,
        r#""$1": "[salted]""#,
    );
    settings.add_filter(r"\b(organization|workspace) [0-9a-f]{16}\b", "$1 [salted]");
    // Throwaway and pull-request branches are named at random.
    settings.add_filter(
        r"\b(keyfix-probe/|keyfix/add-probe-)[0-9a-f]{8}\b",
        "$1[hex]",
    );
    // A default journal is named by the time it was started.
    settings.add_filter(r#""journal": "[^"]+""#, r#""journal": "[journal]""#);
    settings.add_filter(r"(?m)^Journal: .+$", "Journal: [journal]");
    // Polling a run costs as many requests as the run takes.
    settings.add_filter(
        r#""github_requests": \d+"#,
        r#""github_requests": "[count]""#,
    );
    settings.add_filter(r"\b\d+ GitHub requests\b", "[count] GitHub requests");
    settings.add_filter(
        r#""(rest_requests|not_modified|remaining)": \d+"#,
        r#""$1": "[count]""#,
    );
    // The hourly budget resets an hour after its first request.
    settings.add_filter(r#""reset": \d+"#, r#""reset": "[epoch]""#);
    settings
}

/// Every 12-character piece of `key` that holds at least one character past its public prefix.
pub fn secret_pieces(key: &str) -> Vec<&str> {
    let prefix = ["sk-ant-api03-", "sk-ant-admin01-", "sk-ant-oat01-"]
        .iter()
        .find(|p| key.starts_with(*p))
        .map_or(0, |p| p.len());
    (0..=key.len().saturating_sub(12))
        .filter(|start| start + 12 > prefix)
        .map(|start| &key[start..start + 12])
        .collect()
}

/// Asserts that `text` holds no piece of `key`. The Admin API's hint of the key (prefix, 3
/// characters, `...`, the last 4), which the Console shows every member and `--retire-old` names,
/// is the one form allowed.
pub fn assert_no_piece_of(key: &str, text: &str, what: &str) {
    let text = &text.replace(&admin_hint(key), "[hint]");
    for piece in secret_pieces(key) {
        assert!(
            !text.contains(piece),
            "{what} holds a piece of the key: {piece:?}"
        );
    }
}

/// The Admin API's `partial_key_hint` of `key`.
pub fn admin_hint(key: &str) -> String {
    let prefix = ["sk-ant-api03-", "sk-ant-admin01-", "sk-ant-oat01-"]
        .iter()
        .find(|p| key.starts_with(*p))
        .map_or(0, |p| p.len());
    if key.len() < prefix + 8 || !key.is_ascii() {
        return key.to_owned() + "\0never";
    }
    format!("{}...{}", &key[..prefix + 3], &key[key.len() - 4..])
}

pub const WORKFLOW: &str = r#"
name: Claude Code
on:
  issue_comment:
    types: [created]
jobs:
  claude:
    runs-on: ubuntu-latest
    steps:
      - uses: anthropics/claude-code-action@v1
        with:
          anthropic_api_key: ${{ secrets.ANTHROPIC_API_KEY }}
          claude_args: --model MODEL
"#;

/// [`WORKFLOW`] running `model`.
pub fn workflow_on(model: &str) -> String {
    WORKFLOW.replace("MODEL", model)
}

/// A repository `acme/NAME` whose secret holds `secret` (a scenario key name, or `value:…` for
/// a literal) and whose Claude step runs `model`.
pub fn case(name: &str, secret: Option<&str>, model: &str) -> String {
    let secrets = match secret {
        None => String::new(),
        Some(literal) if literal.starts_with("value:") => {
            format!(
                "secrets = [{{ name = \"ANTHROPIC_API_KEY\", value = {:?} }}]",
                &literal[6..]
            )
        }
        Some(key) => format!("secrets = [{{ name = \"ANTHROPIC_API_KEY\", key = \"{key}\" }}]"),
    };
    format!(
        "[[repos]]\nowner = \"acme\"\nname = \"{name}\"\n{secrets}\nruns = [{{ workflow = \".github/workflows/claude.yml\", actor = \"alice\" }}]\nfiles = {{ \".github/workflows/claude.yml\" = '''{}''' }}\n",
        workflow_on(model)
    )
}

/// The shipped keys scenario plus one repository per case.
pub fn world(cases: &[String], extra: &str) -> Sim {
    let keys = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/keys.toml"))
        .unwrap();
    let toml = format!(
        "{keys}\n[[owners]]\nlogin = \"acme\"\n{}\n{extra}",
        cases.join("\n")
    );
    let mut s = scenario(&toml);
    s.faults.push(Fault {
        path: "/v1/messages".into(),
        key: Some("fresh".into()),
        model: Some("claude-opus-4-1".into()),
        status: Some(529),
        ..Fault::default()
    });
    start(s)
}

/// The `kind` of every action of a document, in order.
pub fn action_kinds(doc: &serde_json::Value) -> Vec<String> {
    doc["actions"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| x["kind"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// `keyfix check acme/app --install-probe` with the scenario key `fresh` as the reference key,
/// plus `extra`; run as it is (add `--json` through [`json_of`]).
pub fn check_with_fresh_reference(sim: &Sim, extra: &[&str]) -> Command {
    let mut cmd = keyfix(sim);
    cmd.args([
        "check",
        "acme/app",
        "--install-probe",
        "--reference-key-env",
        "REFERENCE",
    ])
    .args(extra)
    .env("REFERENCE", sim.key("fresh"));
    cmd
}

/// The shipped demo scenario's text (`scenarios/demo.toml`): acme/app's key is orphaned and the
/// scenario key `fresh` fixes it.
pub fn demo_text() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/demo.toml"))
        .expect("the demo scenario")
}
