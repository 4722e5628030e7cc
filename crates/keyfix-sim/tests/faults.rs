//! Faults as a client meets them, on both APIs: which requests they hit, and what the client
//! sees and what happened on the server when they do.

mod common;

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use base64::Engine;
use common::{github, send, Answer};
use crypto_box::aead::OsRng;
use keyfix_sim::scenario::Fault;
use keyfix_sim::{Scenario, Sim};
use serde_json::{json, Value};

const WORLD: &str = r#"
[[organizations]]
name = "acme"

[[keys]]
name = "good"
organization = "acme"

[[keys]]
name = "other"
organization = "acme"

[[owners]]
login = "acme"

[[repos]]
owner = "acme"
name = "app"
secrets = [{ name = "ANTHROPIC_API_KEY", key = "good" }]

[[tokens]]
name = "writer"
scopes = ["repo"]

[[tokens]]
name = "reader"
scopes = ["repo"]
"#;

const SECRET: &str = "/repos/acme/app/actions/secrets/ANTHROPIC_API_KEY";

fn start(extra_toml: &str) -> Sim {
    let scenario = Scenario::from_toml(&format!("{WORLD}\n{extra_toml}")).unwrap();
    common::start(scenario)
}

fn anthropic(
    sim: &Sim,
    method: &str,
    path: &str,
    credential: (&str, String),
    body: Option<Value>,
) -> std::io::Result<Answer> {
    send(
        &sim.anthropic_base_url(),
        method,
        path,
        &[credential, ("anthropic-version", "2023-06-01".into())],
        body,
    )
}

fn api_key(sim: &Sim, name: &str) -> (&'static str, String) {
    ("x-api-key", sim.key(name))
}

fn message(model: &str) -> Option<Value> {
    Some(json!({"model": model, "max_tokens": 1, "messages": [{"role": "user", "content": "hi"}]}))
}

fn github_status(sim: &Sim, token: &str, path: &str) -> u16 {
    github(sim, token, "GET", path, None).unwrap().status
}

/// Seals `value` with the repository's public key and writes it as its secret.
fn put_secret(sim: &Sim, value: &str) -> std::io::Result<Answer> {
    let key = github(
        sim,
        "writer",
        "GET",
        "/repos/acme/app/actions/secrets/public-key",
        None,
    )?;
    let base64 = base64::engine::general_purpose::STANDARD;
    let public: [u8; 32] = base64
        .decode(key.body["key"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let sealed = crypto_box::PublicKey::from(public)
        .seal(&mut OsRng, value.as_bytes())
        .unwrap();
    let body = json!({"encrypted_value": base64.encode(sealed), "key_id": key.body["key_id"]});
    github(sim, "writer", "PUT", SECRET, Some(body))
}

fn secret_updated_at(sim: &Sim) -> String {
    let answer = github(sim, "writer", "GET", SECRET, None).unwrap();
    answer.body["updated_at"].as_str().unwrap().to_owned()
}

fn secret_value(sim: &Sim) -> String {
    sim.secret("acme", Some("app"), "repo", "ANTHROPIC_API_KEY")
        .unwrap()
}

/// (status, fault) of each logged request with this method and path.
fn logged(sim: &Sim, method: &str, path: &str) -> Vec<(u16, bool)> {
    sim.requests()
        .iter()
        .filter(|r| r.method == method && r.path == path)
        .map(|r| (r.status, r.fault))
        .collect()
}

#[test]
fn a_service_filter_keeps_a_fault_to_its_api() {
    let sim = start(
        r#"
        [[faults]]
        service = "anthropic"
        path = "/"
        status = 503
        "#,
    );
    assert_eq!(github_status(&sim, "reader", "/repos/acme/app"), 200);
    let models = anthropic(&sim, "GET", "/v1/models", api_key(&sim, "good"), None).unwrap();
    assert_eq!(models.status, 503);
    assert_eq!(models.body["error"]["type"], "api_error");

    sim.world().add_fault(Fault {
        service: Some("github".into()),
        path: "/".into(),
        status: Some(502),
        ..Fault::default()
    });
    assert_eq!(github_status(&sim, "reader", "/repos/acme/app"), 502);
}

#[test]
fn a_key_filter_names_the_anthropic_key_in_either_header() {
    let sim = start("");
    sim.world().add_fault(Fault {
        path: "/v1/models".into(),
        key: Some("good".into()),
        status: Some(529),
        ..Fault::default()
    });
    let bearer = |name: &str| ("authorization", format!("Bearer {}", sim.key(name)));
    let status = |credential| {
        anthropic(&sim, "GET", "/v1/models", credential, None)
            .unwrap()
            .status
    };
    let hit = anthropic(&sim, "GET", "/v1/models", api_key(&sim, "good"), None).unwrap();
    assert_eq!(hit.status, 529);
    assert_eq!(hit.body["error"]["type"], "overloaded_error");
    assert_eq!(hit.header("x-should-retry"), Some("true"));
    assert_eq!(status(api_key(&sim, "other")), 200);
    assert_eq!(status(bearer("good")), 529);
    // Not hit, so answered as usual: the API takes a key as a bearer token too.
    assert_eq!(status(bearer("other")), 200);
}

#[test]
fn a_key_filter_names_the_github_token() {
    let sim = start("");
    sim.world().add_fault(Fault {
        path: "/repos".into(),
        key: Some("writer".into()),
        status: Some(502),
        ..Fault::default()
    });
    let hit = github(&sim, "writer", "GET", "/repos/acme/app", None).unwrap();
    assert_eq!(hit.status, 502);
    assert_eq!(hit.body["message"], "Bad Gateway");
    assert!(hit.body["documentation_url"].is_string());
    assert!(hit.header("x-ratelimit-remaining").is_some());
    assert_eq!(github_status(&sim, "reader", "/repos/acme/app"), 200);
    assert_eq!(
        logged(&sim, "GET", "/repos/acme/app"),
        [(502, true), (200, false)]
    );
}

#[test]
fn a_model_filter_matches_anthropic_requests_for_the_model_and_never_github() {
    let sim = start(
        r#"
        [[faults]]
        path = "/"
        model = "claude-opus-4-1"
        status = 529
        "#,
    );
    let good = || api_key(&sim, "good");
    let post = |model| {
        anthropic(&sim, "POST", "/v1/messages", good(), message(model))
            .unwrap()
            .status
    };
    let get = |path: &str| anthropic(&sim, "GET", path, good(), None).unwrap().status;
    assert_eq!(post("claude-opus-4-1"), 529);
    assert_eq!(post("claude-haiku-4-5"), 200);
    assert_eq!(get("/v1/models/claude-opus-4-1"), 529);
    assert_eq!(get("/v1/models/claude-haiku-4-5"), 200);
    assert_eq!(get("/v1/models"), 200);
    assert_eq!(github_status(&sim, "reader", "/repos/acme/app"), 200);
}

#[test]
fn skip_targets_the_nth_matching_request() {
    let sim = start(
        r#"
        [[faults]]
        path = "/repos/acme/app$"
        method = "GET"
        skip = 2
        times = 1
        status = 502
        "#,
    );
    let statuses: Vec<u16> = [
        "/repos/acme/app",
        "/orgs/acme",
        "/repos/acme/app",
        "/repos/acme/app",
        "/repos/acme/app",
    ]
    .iter()
    .map(|path| github_status(&sim, "reader", path))
    .collect();
    assert_eq!(statuses, [200, 200, 200, 502, 200]);
}

#[test]
fn times_limits_the_hits() {
    let sim = start("");
    sim.world().add_fault(Fault {
        path: "/v1/models".into(),
        status: Some(503),
        times: Some(2),
        ..Fault::default()
    });
    let statuses: Vec<u16> = (0..3)
        .map(|_| {
            anthropic(&sim, "GET", "/v1/models", api_key(&sim, "good"), None)
                .unwrap()
                .status
        })
        .collect();
    assert_eq!(statuses, [503, 503, 200]);
}

fn secret_put_fault(applied: bool, status: Option<u16>, drop_connection: bool) -> Fault {
    Fault {
        path: format!("{SECRET}$"),
        method: Some("PUT".into()),
        status,
        drop_connection,
        applied,
        times: Some(1),
        ..Fault::default()
    }
}

#[test]
fn an_applied_fault_lands_the_write_and_loses_its_answer() {
    let sim = start("");
    let before = secret_updated_at(&sim);
    sim.world()
        .add_fault(secret_put_fault(true, Some(502), false));
    assert_eq!(put_secret(&sim, "new value").unwrap().status, 502);
    assert_eq!(secret_value(&sim), "new value");
    assert_ne!(secret_updated_at(&sim), before);
    assert_eq!(logged(&sim, "PUT", SECRET), [(502, true)]);
}

#[test]
fn a_fault_not_applied_leaves_the_write_undone() {
    let sim = start("");
    let before = (secret_value(&sim), secret_updated_at(&sim));
    sim.world()
        .add_fault(secret_put_fault(false, Some(502), false));
    assert_eq!(put_secret(&sim, "new value").unwrap().status, 502);
    assert_eq!((secret_value(&sim), secret_updated_at(&sim)), before);
}

#[test]
fn an_applied_dropped_connection_lands_the_write_without_an_answer() {
    let sim = start("");
    sim.world().add_fault(secret_put_fault(true, None, true));
    assert!(put_secret(&sim, "new value").is_err());
    assert_eq!(secret_value(&sim), "new value");
    assert_eq!(logged(&sim, "PUT", SECRET), [(0, true)]);
}

#[test]
fn a_dropped_connection_on_anthropic_is_a_transport_error() {
    let sim = start(
        r#"
        [[faults]]
        path = "/v1/messages$"
        drop_connection = true
        times = 1
        "#,
    );
    let good = api_key(&sim, "good");
    let send = || {
        anthropic(
            &sim,
            "POST",
            "/v1/messages",
            good.clone(),
            message("claude-haiku-4-5"),
        )
    };
    let dropped = send().err().expect("no answer");
    assert!(
        matches!(
            dropped.kind(),
            ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
        ),
        "not even a status line: {dropped}"
    );
    assert_eq!(send().unwrap().status, 200);
    assert_eq!(
        logged(&sim, "POST", "/v1/messages"),
        [(0, true), (200, false)]
    );
}

#[test]
fn retry_after_goes_with_the_status_on_both_apis() {
    let sim = start(
        r#"
        [[faults]]
        path = "/repos/acme/app$"
        status = 503
        retry_after_secs = 7

        [[faults]]
        path = "/v1/models$"
        status = 429

        [[faults]]
        path = "/v1/messages$"
        status = 503
        retry_after_secs = 3
        "#,
    );
    let github = github(&sim, "reader", "GET", "/repos/acme/app", None).unwrap();
    assert_eq!(
        (github.status, github.header("retry-after")),
        (503, Some("7"))
    );
    let good = || api_key(&sim, "good");
    let limited = anthropic(&sim, "GET", "/v1/models", good(), None).unwrap();
    assert_eq!(limited.body["error"]["type"], "rate_limit_error");
    assert_eq!(limited.header("retry-after"), Some("1"), "the scenario's");
    let failed = anthropic(
        &sim,
        "POST",
        "/v1/messages",
        good(),
        message("claude-haiku-4-5"),
    );
    assert_eq!(failed.unwrap().header("retry-after"), Some("3"));
}

#[test]
fn latency_delays_the_answer_of_a_request_that_goes_through() {
    let sim = start(
        r#"
        [[faults]]
        path = "/repos/acme/app$"
        latency_ms = 300
        "#,
    );
    let started = Instant::now();
    assert_eq!(github_status(&sim, "reader", "/repos/acme/app"), 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(logged(&sim, "GET", "/repos/acme/app"), [(200, true)]);
}

#[test]
fn the_scenario_refuses_faults_that_could_never_match() {
    let with_fault = |fault: &str| Scenario::from_toml(&format!("{WORLD}\n[[faults]]\n{fault}"));
    assert!(with_fault("path = \"/\"\nkey = \"writer\"").is_ok());
    for refused in [
        "path = \"/\"\nkey = \"nobody\"",
        "path = \"/\"\nservice = \"gihub\"",
        "path = \"/\"\nservice = \"github\"\nmodel = \"claude-opus-4-1\"",
        "path = \"/\"\nstatus = 1000",
    ] {
        assert!(with_fault(refused).is_err(), "{refused}");
    }
}
