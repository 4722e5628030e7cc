//! `keyfix validate` against the simulator: every key state, every bad input.

mod common;

use common::*;
use keyfix_sim::scenario::Fault;

fn cause(doc: &serde_json::Value) -> &str {
    doc["diagnosis"]["cause"].as_str().unwrap_or("(none)")
}

#[test]
fn every_key_state_gets_its_cause_and_exit_code() {
    let sim = start(keys_scenario());
    let cases = [
        ("good", "ok", 0),
        ("revoked", "invalid_key", 10),
        ("expired", "invalid_key", 10),
        ("oauth", "wrong_credential_kind", 10),
        ("admin", "wrong_credential_kind", 10),
        ("pasted_with_space", "malformed_secret", 10),
        ("orphaned", "undetermined", 14),
        ("no_credit", "undetermined", 14),
        ("frozen", "organization_disabled", 10),
        ("limited", "spend_limit_reached", 11),
        ("capped", "tier_spend_cap", 11),
        ("busy", "rate_limited", 13),
    ];
    for (name, expected, code) in cases {
        let (doc, got) = validate_json(&sim, name, &[]);
        assert_eq!((cause(&doc), got), (expected, code), "key {name}: {doc:#}");
    }
}

#[test]
fn rotation_helps_is_stated_and_null_when_unknown() {
    let sim = start(keys_scenario());
    let (doc, _) = validate_json(&sim, "revoked", &[]);
    assert_eq!(doc["diagnosis"]["rotation_helps"], true);
    let (doc, _) = validate_json(&sim, "capped", &[]);
    assert_eq!(doc["diagnosis"]["rotation_helps"], false);
    let (doc, _) = validate_json(&sim, "orphaned", &[]);
    assert!(doc["diagnosis"]["rotation_helps"].is_null());
}

#[test]
fn undetermined_says_both_possibilities_and_how_to_tell_them_apart() {
    let sim = start(keys_scenario());
    let (doc, _) = validate_json(&sim, "no_credit", &[]);
    let notes = doc["diagnosis"]["notes"].to_string();
    assert!(notes.contains("credit_exhausted"), "{notes}");
    assert!(notes.contains("make a new key"), "{notes}");
}

#[test]
fn the_evidence_carries_the_answer_s_facts() {
    let sim = start(keys_scenario());
    let (doc, _) = validate_json(&sim, "orphaned", &[]);
    let evidence = doc["diagnosis"]["evidence"].as_array().unwrap();
    let messages = evidence
        .iter()
        .find(|e| e["call"] == "messages")
        .expect("a messages call");
    assert_eq!(messages["status"], 400);
    assert_eq!(messages["error_type"], "invalid_request_error");
    assert!(messages["message"]
        .as_str()
        .unwrap()
        .contains("credit balance is too low"));
    assert!(messages["request_id"].as_str().unwrap().starts_with("req_"));
    assert!(messages["latency_ms"].is_u64());
    assert!(messages["organization_id"].as_str().unwrap().len() == 36);
    assert!(messages["workspace_id"]
        .as_str()
        .unwrap()
        .starts_with("wrkspc_"));
    assert_eq!(messages["requests_limit"], 1000);
}

#[test]
fn an_unknown_model_is_model_unavailable_when_the_baseline_works() {
    let sim = start(keys_scenario());
    let (doc, code) = validate_json(&sim, "good", &["--model", "claude-nonexistent-9"]);
    assert_eq!((cause(&doc), code), ("model_unavailable", 12), "{doc:#}");
    let models: Vec<_> = doc["diagnosis"]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["model"].as_str())
        .collect();
    assert_eq!(models, ["claude-nonexistent-9", "claude-haiku-4-5"]);
}

#[test]
fn a_model_above_the_tier_is_model_tier_restricted() {
    let sim = start(keys_scenario());
    let (doc, code) = validate_json(&sim, "good", &["--model", "claude-opus-4-5"]);
    assert_eq!(
        (cause(&doc), code),
        ("model_tier_restricted", 12),
        "{doc:#}"
    );
}

#[test]
fn an_overloaded_api_is_retried_twice_then_api_unavailable() {
    let mut scenario = keys_scenario();
    scenario.faults.push(Fault {
        path: "/v1/messages".into(),
        status: Some(529),
        times: None,
        ..Fault::default()
    });
    let sim = start(scenario);
    let (doc, code) = validate_json(&sim, "good", &[]);
    assert_eq!((cause(&doc), code), ("api_unavailable", 13), "{doc:#}");
    let attempts = sim
        .requests()
        .iter()
        .filter(|r| r.path == "/v1/messages")
        .count();
    assert_eq!(attempts, 3, "one request and two retries");
}

#[test]
fn one_529_is_retried_and_the_key_then_works() {
    let mut scenario = keys_scenario();
    scenario.faults.push(Fault {
        path: "/v1/messages".into(),
        status: Some(529),
        times: Some(1),
        ..Fault::default()
    });
    let sim = start(scenario);
    let (doc, code) = validate_json(&sim, "good", &[]);
    assert_eq!((cause(&doc), code), ("ok", 0), "{doc:#}");
}

#[test]
fn the_tier_cap_and_credit_text_are_not_retried() {
    let sim = start(keys_scenario());
    validate_json(&sim, "capped", &[]);
    validate_json(&sim, "orphaned", &[]);
    let messages: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1/messages")
        .map(|r| r.key.unwrap())
        .collect();
    assert_eq!(messages, ["capped", "orphaned"]);
}

#[test]
fn an_ordinary_rate_limit_is_retried_with_retry_after() {
    let sim = start(keys_scenario());
    validate_json(&sim, "busy", &[]);
    let attempts = sim
        .requests()
        .iter()
        .filter(|r| r.path == "/v1/messages")
        .count();
    assert_eq!(attempts, 3);
}

#[test]
fn wrong_kinds_and_malformed_keys_are_never_sent() {
    let sim = start(keys_scenario());
    for name in ["oauth", "admin", "pasted_with_space"] {
        validate_json(&sim, name, &[]);
    }
    assert!(sim.requests().is_empty(), "{:?}", sim.requests());
}

#[test]
fn an_admin_key_in_ci_says_to_revoke_it() {
    let sim = start(keys_scenario());
    let (doc, _) = validate_json(&sim, "admin", &[]);
    assert!(doc["diagnosis"]["notes"].to_string().contains("revoke"));
}

#[test]
fn the_admin_api_decides_a_key_disabled_in_the_console() {
    let sim = start(keys_scenario());
    let run = |name: &str| {
        let output = keyfix(&sim)
            .args(["validate", "--json", "--key-env", "KEY"])
            .env("KEY", sim.key(name))
            .env("ANTHROPIC_ADMIN_KEY", sim.key("admin"))
            .output()
            .unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        (doc, output.status.code().unwrap())
    };
    let (doc, code) = run("disabled_in_console");
    assert_eq!((cause(&doc), code), ("invalid_key", 10), "{doc:#}");
    let admin = doc["diagnosis"]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["source"] == "admin")
        .expect("admin evidence");
    assert_eq!(admin["admin_record"]["status"], "inactive");
    // An active record does not decide between the credit-text causes.
    let (doc, code) = run("orphaned");
    assert_eq!((cause(&doc), code), ("undetermined", 14), "{doc:#}");
    assert!(sim
        .requests()
        .iter()
        .any(|r| r.path.starts_with("/v1/organizations/api_keys")));
}

#[test]
fn a_trailing_newline_on_stdin_is_trimmed_like_gh_secret_set() {
    let sim = start(keys_scenario());
    let output = keyfix(&sim)
        .args(["validate", "--json", "--key-stdin"])
        .write_stdin(format!("{}\n", sim.key("good")))
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(cause(&doc), "ok", "{doc:#}");
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(doc["key"]["length"], 108);
}

#[test]
fn a_trailing_space_is_a_malformed_key() {
    let sim = start(keys_scenario());
    let output = keyfix(&sim)
        .args(["validate", "--json", "--key-stdin"])
        .write_stdin(format!("{} \n", sim.key("good")))
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(cause(&doc), "malformed_secret");
    assert_eq!(doc["key"]["defects"][0], "trailing_whitespace");
    assert_eq!(output.status.code(), Some(10));
}

#[test]
fn empty_input_is_a_usage_error_and_nothing_is_sent() {
    let sim = start(keys_scenario());
    keyfix(&sim)
        .args(["validate", "--key-stdin"])
        .write_stdin("")
        .assert()
        .code(2)
        .stderr(predicates::str::contains("the key is empty"));
    keyfix(&sim)
        .args(["validate", "--key-stdin"])
        .write_stdin("\r\n")
        .assert()
        .code(2);
    keyfix(&sim)
        .args(["validate", "--key-env", "NOT_SET"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("NOT_SET is not set or is empty"));
    keyfix(&sim)
        .args(["validate", "--key-env", "EMPTY"])
        .env("EMPTY", "")
        .assert()
        .code(2);
    assert!(sim.requests().is_empty());
}

#[test]
fn no_terminal_and_no_key_flag_is_exit_3_naming_the_flags() {
    let sim = start(keys_scenario());
    keyfix(&sim)
        .arg("validate")
        .assert()
        .code(3)
        .stdout("")
        .stderr(predicates::str::contains("--key-stdin or --key-env VAR"));
    let output = keyfix(&sim).args(["validate", "--json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(3));
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(doc["error"]["kind"], "input_needed");
    assert_eq!(doc["exit_code"], 3);
}

#[test]
fn an_unreachable_base_url_is_exit_1_with_one_clear_line() {
    let sim = start(keys_scenario());
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = keyfix(&sim)
        .args(["validate", "--key-env", "KEY"])
        .env("KEY", sim.key("good"))
        .env("ANTHROPIC_BASE_URL", format!("http://127.0.0.1:{port}"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    let error_lines: Vec<_> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(error_lines.len(), 1, "{stderr}");
    assert!(
        error_lines[0].contains("cannot reach the Anthropic API"),
        "{stderr}"
    );
    assert!(error_lines[0].contains("ANTHROPIC_BASE_URL"), "{stderr}");
}

#[test]
fn a_base_url_that_is_not_a_url_is_a_usage_error() {
    let sim = start(keys_scenario());
    keyfix(&sim)
        .args([
            "validate",
            "--key-env",
            "KEY",
            "--anthropic-base-url",
            "api.anthropic.com",
        ])
        .env("KEY", sim.key("good"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--anthropic-base-url"));
}

#[test]
fn a_key_flag_value_is_refused_by_the_parser() {
    let sim = start(keys_scenario());
    keyfix(&sim)
        .args(["validate", "--key", &sim.key("good")])
        .assert()
        .code(2);
}

#[test]
fn no_piece_of_any_key_appears_at_the_highest_verbosity() {
    let sim = start(keys_scenario());
    for name in [
        "good",
        "orphaned",
        "revoked",
        "busy",
        "oauth",
        "admin",
        "pasted_with_space",
    ] {
        for json in [false, true] {
            let key = sim.key(name);
            let mut cmd = keyfix(&sim);
            cmd.args(["validate", "-vvv", "--key-stdin"])
                .env("RUST_LOG", "trace")
                .env("ANTHROPIC_ADMIN_KEY", sim.key("admin"))
                .write_stdin(key.clone());
            if json {
                cmd.arg("--json");
            }
            let output = cmd.output().unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(stderr.len() > 100, "trace logging is on: {stderr}");
            for secret in [key.as_str(), sim.key("admin").as_str()] {
                assert_no_piece_of(secret, &stdout, &format!("stdout for {name}"));
                assert_no_piece_of(secret, &stderr, &format!("stderr for {name}"));
            }
        }
    }
}
