//! Snapshots of what `keyfix validate` prints, for people and for scripts.

mod common;

use common::*;

/// Runs validate on the scenario key `name` and returns stdout with the run-to-run noise
/// (request ids, latencies, the port) replaced.
fn output(name: &str, args: &[&str]) -> String {
    let sim = start(keys_scenario());
    let output = keyfix(&sim)
        .args(["validate", "--key-env", "KEY"])
        .args(args)
        .env("KEY", sim.key(name))
        .output()
        .expect("keyfix runs");
    let code = output.status.code().unwrap();
    format!(
        "{}(exit {code})\n",
        String::from_utf8(output.stdout).unwrap()
    )
}

macro_rules! snapshot {
    ($name:ident, $key:expr, $args:expr) => {
        #[test]
        fn $name() {
            let text = output($key, $args);
            snapshot_settings().bind(|| insta::assert_snapshot!(text));
        }
    };
}

snapshot!(human_ok, "good", &[]);
snapshot!(human_undetermined, "orphaned", &[]);
snapshot!(human_invalid_key, "revoked", &[]);
snapshot!(human_malformed, "pasted_with_space", &[]);
snapshot!(human_admin_key, "admin", &[]);
snapshot!(human_tier_cap, "capped", &[]);
snapshot!(
    human_model_unavailable,
    "good",
    &["--model", "claude-nonexistent-9"]
);
snapshot!(json_ok, "good", &["--json"]);
snapshot!(json_undetermined, "no_credit", &["--json"]);
snapshot!(json_spend_limit, "limited", &["--json"]);
snapshot!(json_wrong_kind, "oauth", &["--json"]);
