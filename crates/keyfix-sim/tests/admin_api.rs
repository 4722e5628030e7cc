//! The Admin API's key update (`POST /v1/organizations/api_keys/{id}`), asked as any client
//! would: only an active admin key may change a key of its organization; `inactive` and
//! `archived` take effect on the key's next call; `archived` is final.

mod common;

use common::{send, Answer};
use keyfix_sim::{Scenario, Sim};
use serde_json::{json, Value};

const WORLD: &str = r#"
[[organizations]]
name = "acme"

[[organizations]]
name = "other"

[[keys]]
name = "good"
organization = "acme"

[[keys]]
name = "spare"
organization = "acme"

[[keys]]
name = "admin"
kind = "admin"
organization = "acme"

[[keys]]
name = "other_admin"
kind = "admin"
organization = "other"
"#;

fn start() -> Sim {
    common::start(Scenario::from_toml(WORLD).expect("the scenario is valid"))
}

fn call(sim: &Sim, key: &str, method: &str, path: &str, body: Option<Value>) -> Answer {
    let headers = [
        ("x-api-key", sim.key(key)),
        ("anthropic-version", "2023-06-01".to_owned()),
    ];
    send(&sim.anthropic_base_url(), method, path, &headers, body).expect("an answer")
}

fn set_status(sim: &Sim, admin: &str, id: &str, status: &str) -> Answer {
    let path = format!("/v1/organizations/api_keys/{id}");
    call(sim, admin, "POST", &path, Some(json!({ "status": status })))
}

fn message_status(sim: &Sim, key: &str) -> u16 {
    let body = json!({
        "model": "claude-haiku-4-5",
        "max_tokens": 1,
        "messages": [{"role": "user", "content": "hi"}],
    });
    call(sim, key, "POST", "/v1/messages", Some(body)).status
}

#[test]
fn an_inactive_key_is_refused_and_can_be_made_active_again() {
    let sim = start();
    assert_eq!(message_status(&sim, "good"), 200);
    let answer = set_status(&sim, "admin", "apikey_0000", "inactive");
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["type"], "api_key");
    assert_eq!(answer.body["name"], "good");
    assert_eq!(answer.body["status"], "inactive");
    assert_eq!(
        message_status(&sim, "good"),
        400,
        "the credit text of a disabled key"
    );
    assert_eq!(message_status(&sim, "spare"), 200, "only that key");

    let listed = call(
        &sim,
        "admin",
        "GET",
        "/v1/organizations/api_keys?status=inactive",
        None,
    );
    let ids: Vec<&str> = listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["apikey_0000"]);

    assert_eq!(
        set_status(&sim, "admin", "apikey_0000", "active").status,
        200
    );
    assert_eq!(message_status(&sim, "good"), 200);
}

#[test]
fn an_archived_key_stays_archived() {
    let sim = start();
    assert_eq!(
        set_status(&sim, "admin", "apikey_0001", "archived").status,
        200
    );
    let again = set_status(&sim, "admin", "apikey_0001", "active");
    assert_eq!(again.status, 400, "{}", again.body);
    assert_eq!(again.body["error"]["type"], "invalid_request_error");
    assert_eq!(message_status(&sim, "spare"), 400);
}

#[test]
fn only_an_admin_key_of_the_organization_changes_its_keys() {
    let sim = start();
    let by_api_key = set_status(&sim, "good", "apikey_0001", "inactive");
    assert_eq!(by_api_key.status, 401);
    assert_eq!(by_api_key.body["error"]["type"], "authentication_error");
    let by_other = set_status(&sim, "other_admin", "apikey_0001", "inactive");
    assert_eq!(by_other.status, 404, "{}", by_other.body);
    assert_eq!(by_other.body["error"]["type"], "not_found_error");
    let bad = set_status(&sim, "admin", "apikey_0001", "paused");
    assert_eq!(bad.status, 400);
    assert_eq!(message_status(&sim, "spare"), 200, "nothing changed");
}
