//! `keyfix repo --retire-old` against the simulator: after a verified rotation the old key is
//! set inactive through the Admin API, found by the probe's salted fingerprint of its hint; every
//! doubt keeps it, and says why.

mod common;

use common::*;
use keyfix_sim::scenario::Fault;
use keyfix_sim::Sim;
use serde_json::Value;

const ADMIN_KEYS: &str = "/v1/organizations/api_keys";

/// `keyfix repo acme/app --retire-old` with the scenario key `new`, and the admin key `admin`
/// when given.
fn retire(sim: &Sim, new: &str, admin: Option<&str>) -> (Value, i32) {
    let mut cmd = keyfix(sim);
    cmd.args([
        "repo",
        "acme/app",
        "--install-probe",
        "--key-env",
        "NEW_KEY",
        "--retire-old",
    ])
    .env("NEW_KEY", sim.key(new));
    if let Some(admin) = admin {
        cmd.env("ANTHROPIC_ADMIN_KEY", sim.key(admin));
    }
    json_of(&mut cmd)
}

fn action<'d>(doc: &'d Value, kind: &str) -> Option<&'d Value> {
    doc["actions"]
        .as_array()?
        .iter()
        .find(|a| a["kind"] == kind)
}

fn admin_requests(sim: &Sim) -> Vec<(String, String)> {
    sim.requests()
        .into_iter()
        .filter(|r| r.path.starts_with(ADMIN_KEYS))
        .map(|r| (r.method, r.path))
        .collect()
}

/// A key of 108 characters whose hint is `sk-ant-api03-Twn...xyAA`, told apart by `fill`.
fn twin(fill: char) -> String {
    format!("sk-ant-api03-Twn{}xyAA", fill.to_string().repeat(88))
}

fn twin_keys(names: &[(&str, char, &str)]) -> String {
    names
        .iter()
        .map(|(name, fill, state)| {
            format!(
                "[[keys]]\nname = \"{name}\"\nvalue = \"{}\"\norganization = \"acme\"\nstate = \"{state}\"\n",
                twin(*fill)
            )
        })
        .collect()
}

#[test]
fn the_old_key_is_retired_after_a_verified_rotation_and_refused_from_then_on() {
    let sim = world(&[case("app", Some("orphaned"), "claude-haiku-4-5")], "");
    let (doc, code) = retire(&sim, "fresh", Some("admin"));
    assert_eq!(code, 0, "{doc:#}");
    let retired = action(&doc, "old_key_retired").expect("retired");
    assert_eq!(retired["name"], "orphaned", "{doc:#}");
    assert_eq!(retired["hint"], admin_hint(&sim.key("orphaned")));
    let kinds = action_kinds(&doc);
    let at = |kind: &str| kinds.iter().position(|k| k == kind).unwrap();
    assert!(at("verified") < at("old_key_retired"), "{kinds:?}");
    assert!(at("old_key_retired") < at("rerun_requested"), "{kinds:?}");
    assert_eq!(
        doc["actions"].as_array().unwrap().last().unwrap()["conclusion"],
        "success"
    );

    let posts: Vec<_> = admin_requests(&sim)
        .into_iter()
        .filter(|(method, _)| method == "POST")
        .collect();
    let id = retired["id"].as_str().unwrap();
    assert_eq!(posts, [("POST".to_owned(), format!("{ADMIN_KEYS}/{id}"))]);

    // The simulator now refuses the old key, and its Admin API shows it inactive.
    let (old, code) = json_of(
        keyfix(&sim)
            .args(["validate", "--key-env", "OLD"])
            .env("OLD", sim.key("orphaned"))
            .env("ANTHROPIC_ADMIN_KEY", sim.key("admin")),
    );
    assert_ne!(code, 0, "{old:#}");
    assert_eq!(old["diagnosis"]["cause"], "invalid_key", "{old:#}");
    let admin = old["diagnosis"]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["source"] == "admin")
        .expect("the admin record");
    assert_eq!(admin["admin_record"]["status"], "inactive", "{old:#}");
}

#[test]
fn without_an_admin_key_the_old_key_is_kept_and_the_way_to_disable_it_named() {
    let sim = world(&[case("app", Some("orphaned"), "claude-haiku-4-5")], "");
    let (doc, code) = retire(&sim, "fresh", None);
    assert_eq!(code, 0, "{doc:#}");
    let reason = action(&doc, "old_key_kept").expect("kept")["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(reason.contains("ANTHROPIC_ADMIN_KEY"), "{reason}");
    assert!(reason.contains("Console"), "{reason}");
    assert!(admin_requests(&sim).is_empty());
}

#[test]
fn a_refused_admin_key_keeps_the_old_key_and_says_so() {
    let sim = world(&[case("app", Some("orphaned"), "claude-haiku-4-5")], "");
    let (doc, code) = retire(&sim, "fresh", Some("good"));
    assert_eq!(code, 0, "{doc:#}");
    let reason = action(&doc, "old_key_kept").expect("kept")["reason"]
        .as_str()
        .unwrap();
    assert!(
        reason.contains("refused") && reason.contains("401"),
        "{reason}"
    );
    assert!(admin_requests(&sim).iter().all(|(m, _)| m == "GET"));
}

#[test]
fn two_active_keys_with_the_old_keys_hint_are_both_kept() {
    let keys = twin_keys(&[("twin_old", 'a', "orphaned"), ("twin_other", 'b', "active")]);
    let sim = world(&[case("app", Some("twin_old"), "claude-haiku-4-5")], &keys);
    let (doc, code) = retire(&sim, "fresh", Some("admin"));
    assert_eq!(code, 0, "{doc:#}");
    let reason = action(&doc, "old_key_kept").expect("kept")["reason"]
        .as_str()
        .unwrap();
    assert!(reason.contains("2 active keys share"), "{reason}");
    assert!(admin_requests(&sim).iter().all(|(m, _)| m == "GET"));
}

#[test]
fn an_old_key_whose_hint_is_the_new_keys_is_kept() {
    let keys = twin_keys(&[("twin_old", 'a', "orphaned"), ("twin_new", 'c', "active")]);
    let sim = world(&[case("app", Some("twin_old"), "claude-haiku-4-5")], &keys);
    let (doc, code) = retire(&sim, "twin_new", Some("admin"));
    assert_eq!(code, 0, "{doc:#}");
    let reason = action(&doc, "old_key_kept").expect("kept")["reason"]
        .as_str()
        .unwrap();
    assert!(reason.contains("also the new key's"), "{reason}");
    assert!(admin_requests(&sim).iter().all(|(m, _)| m == "GET"));
}

#[test]
fn a_rotation_whose_verification_fails_retires_nothing() {
    let sim = world(&[case("app", Some("orphaned"), "claude-haiku-4-5")], "");
    // The probe run after the upload cannot start: the new key is not proven in the secret.
    sim.world().add_fault(Fault {
        path: "/repos/acme/app/actions/workflows/keyfix-probe.yml/dispatches".into(),
        method: Some("POST".into()),
        status: Some(500),
        skip: 1,
        times: Some(1),
        ..Fault::default()
    });
    let (doc, code) = retire(&sim, "fresh", Some("admin"));
    assert_ne!(code, 0, "{doc:#}");
    assert!(action(&doc, "secret_updated").is_some(), "{doc:#}");
    assert!(action(&doc, "old_key_retired").is_none(), "{doc:#}");
    // The diagnosis looked the stored key up (a GET); nothing was changed.
    assert!(admin_requests(&sim).iter().all(|(m, _)| m == "GET"));
}
