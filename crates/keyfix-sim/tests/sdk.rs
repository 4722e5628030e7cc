//! The simulated Anthropic API as the official Python SDK (`anthropic`, pinned in
//! `tests/tools/requirements.txt`) sees it: `tests/tools/anthropic_sdk.py` calls it over every key
//! state, credential kind, organization condition and fault the simulator offers, and counts
//! every answer the SDK's own types or exception classes disagree with.
//!
//! The cases are enumerated from the simulator's own code, not chosen: `KeyState::ALL`,
//! `CredentialKind::ALL`, every field of an organization (each one changed from its default in
//! an organization of its own) and every field of a fault, with every HTTP status for `status`.
//! A field this test does not know how to exercise fails it, and the script fails on a case it
//! has no expectation for.

#[path = "../../../tests/common/tools.rs"]
mod tools;

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use axum::http::StatusCode;
use keyfix_sim::scenario::{CredentialKind, Fault, KeyState, Refusal};
use keyfix_sim::Scenario;
use serde_json::{json, Map, Value};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/tools/anthropic_sdk.py"
);

/// The organization every key belongs to unless a case needs one of its own.
const ORG: &str = "acme";
/// A date for the organization fields that hold one.
const UNTIL: &str = "2026-12-01";

/// What the script is told about one case: the key it calls with and what makes it special.
struct Plan {
    keys: Vec<Value>,
    organizations: Vec<Value>,
    faults: Vec<Value>,
    cases: Vec<Value>,
}

impl Plan {
    fn new() -> Plan {
        Plan {
            keys: Vec::new(),
            organizations: vec![json!({ "name": ORG })],
            faults: Vec::new(),
            cases: Vec::new(),
        }
    }

    /// A key of its own for a case, and the case.
    fn case(&mut self, group: &str, condition: &str, key: Value, detail: Value) -> String {
        let name = format!("{group}-{condition}").replace([':', '_'], "-");
        let mut key = key;
        key["name"] = json!(name);
        self.keys.push(key);
        self.cases.push(json!({
            "group": group,
            "condition": condition,
            "key": name,
            "detail": detail,
        }));
        name
    }

    fn key_states(&mut self) {
        for state in KeyState::ALL {
            let state = serde_json::to_value(state).unwrap();
            let condition = state.as_str().unwrap().to_owned();
            let key = json!({ "organization": ORG, "state": state });
            self.case("state", &condition, key, Value::Null);
        }
    }

    fn credential_kinds(&mut self) {
        for kind in CredentialKind::ALL {
            let kind = serde_json::to_value(kind).unwrap();
            let condition = kind.as_str().unwrap().to_owned();
            let key = json!({ "organization": ORG, "kind": kind });
            self.case("kind", &condition, key, Value::Null);
        }
        // A well-formed key the API does not know.
        self.case("kind", "unknown", json!({}), Value::Null);
    }

    /// Each field of an organization changed from its default, in an organization of its own.
    fn organization_conditions(&mut self, baseline_model: &str) {
        let defaults = organization_defaults();
        for (field, default) in defaults {
            let changes: Vec<(String, Value)> = match (field.as_str(), &default) {
                // Names, not conditions.
                ("name" | "id", _) => continue,
                ("restricted_models", _) => Refusal::ALL
                    .into_iter()
                    .map(|refusal| {
                        let refusal = serde_json::to_value(refusal).unwrap();
                        let label = format!("{field}:{}", refusal.as_str().unwrap());
                        (label, json!({ baseline_model: refusal }))
                    })
                    .collect(),
                (_, Value::Bool(b)) => vec![(field.clone(), json!(!b))],
                (_, Value::Null) => vec![(field.clone(), json!(UNTIL))],
                (_, Value::Number(_)) => vec![(field.clone(), json!(1))],
                (_, other) => panic!("no way to exercise organization field {field} ({other})"),
            };
            for (condition, value) in changes {
                let org_name = format!("org-{}", condition.replace([':', '_'], "-"));
                self.organizations
                    .push(json!({ "name": org_name, (field.as_str()): value }));
                let key = json!({ "organization": org_name });
                self.case("organization", &condition, key, json!({ "value": value }));
            }
        }
    }

    /// Every field of a fault: every status for `status`; the others each in a case that shows
    /// what they do.
    fn faults(&mut self, models: &[String]) {
        let fields = serde_json::to_value(Fault::default()).unwrap();
        for field in fields.as_object().unwrap().keys() {
            let cases: Vec<(String, Value)> = match field.as_str() {
                // Every case names its key; `path` is always given.
                "key" | "path" => continue,
                "status" => statuses()
                    .map(|s| (format!("status:{s}"), json!({ "status": s })))
                    .collect(),
                "service" | "method" => vec![(
                    field.clone(),
                    json!({ "service": "anthropic", "method": "GET", "path": "/v1/models", "status": 503 }),
                )],
                "model" => vec![(field.clone(), json!({ "model": models[1], "status": 529 }))],
                "drop_connection" => vec![(field.clone(), json!({ "drop_connection": true }))],
                "latency_ms" => vec![(field.clone(), json!({ "latency_ms": 1500 }))],
                "retry_after_secs" => vec![(
                    field.clone(),
                    json!({ "status": 429, "retry_after_secs": 2, "times": 1 }),
                )],
                "times" => vec![(field.clone(), json!({ "status": 503, "times": 1 }))],
                "skip" => vec![(field.clone(), json!({ "status": 500, "skip": 1 }))],
                "applied" => vec![(
                    field.clone(),
                    json!({ "method": "POST", "path": "/v1/organizations/api_keys/", "drop_connection": true, "applied": true }),
                )],
                other => panic!("no case exercises the fault field {other}"),
            };
            for (condition, fault) in cases {
                let kind = if field == "applied" { "admin" } else { "api" };
                let key = json!({ "organization": ORG, "kind": kind });
                let name = self.case("fault", &condition, key, fault.clone());
                let mut fault = fault;
                fault["key"] = json!(name);
                if fault.get("path").is_none() {
                    fault["path"] = json!("/");
                }
                self.faults.push(fault);
            }
        }
    }

    /// The keys the Admin API calls act on and with.
    fn admin(&mut self) {
        for name in ["admin", "admin-target", "admin-applied-target"] {
            let kind = if name == "admin" { "admin" } else { "api" };
            self.keys
                .push(json!({ "name": name, "organization": ORG, "kind": kind }));
        }
    }

    fn scenario(&self) -> Scenario {
        serde_json::from_value(json!({
            "organizations": self.organizations,
            "keys": self.keys,
            "faults": self.faults,
        }))
        .expect("a valid scenario")
    }
}

/// An organization's fields and their defaults, as a scenario file would spell them.
fn organization_defaults() -> Map<String, Value> {
    let scenario: Scenario =
        serde_json::from_value(json!({ "organizations": [{ "name": ORG }] })).unwrap();
    match serde_json::to_value(&scenario.organizations[0]).unwrap() {
        Value::Object(fields) => fields,
        other => panic!("an organization is an object, not {other}"),
    }
}

/// Every client and server error status HTTP names, and the API's own 529.
fn statuses() -> impl Iterator<Item = u16> {
    (400..=599)
        .filter(|s| {
            StatusCode::from_u16(*s)
                .ok()
                .and_then(|s| s.canonical_reason())
                .is_some()
        })
        .chain([529])
}

/// The API keys of `org` the Admin API lists: every one but the revoked.
fn listed_api_keys(scenario: &Scenario, org: &str) -> usize {
    scenario
        .keys
        .iter()
        .filter(|k| k.kind == CredentialKind::Api && k.organization.as_deref() == Some(org))
        .filter(|k| k.state != KeyState::Revoked)
        .count()
}

#[test]
fn the_official_sdk_accepts_every_answer_of_every_state_and_fault() {
    let models = keyfix_sim::scenario::default_models();
    let mut plan = Plan::new();
    plan.key_states();
    plan.credential_kinds();
    plan.organization_conditions(&models[0]);
    plan.faults(&models);
    plan.admin();
    let scenario = plan.scenario();
    let listed = listed_api_keys(&scenario, ORG);
    let sim = common::start(scenario);
    let keys: Map<String, Value> = plan
        .keys
        .iter()
        .map(|k| {
            let name = k["name"].as_str().unwrap();
            (name.to_owned(), json!(sim.key(name)))
        })
        .collect();
    let input = json!({
        "base_url": sim.anthropic_base_url(),
        "models": models,
        "keys": keys,
        "cases": plan.cases,
        "admin_listed": listed,
    });

    let python = tools::python();
    // The plan holds the simulated keys, so it goes in on stdin rather than in argv.
    let mut child = Command::new(python)
        .arg(SCRIPT)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the SDK script runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    println!("{report}");
    assert!(
        output.status.success(),
        "the SDK disagrees with the simulator:\n{report}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        report.contains("discrepancies: 0"),
        "no figures came back:\n{report}"
    );
}
