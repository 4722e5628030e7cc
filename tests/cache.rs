//! The cache of conditional requests across runs: a second `scan` is answered by 304s, which
//! the simulator, as GitHub, does not count against the budget; a change is seen; the cache holds
//! no piece of the token or of any key; `--no-cache` neither reads nor writes it.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use keyfix_sim::{LoggedRequest, Sim};

fn organization() -> String {
    let claude = workflow_on("claude-haiku-4-5");
    format!(
        r#"
[[organizations]]
name = "acme"

[[keys]]
name = "old"
organization = "acme"

[[keys]]
name = "new"
organization = "acme"

[[owners]]
login = "acme"
secrets = [{{ name = "ANTHROPIC_API_KEY", key = "old", visibility = "all" }}]

[[repos]]
owner = "acme"
name = "shared-{{n}}"
count = 3
files = {{ ".github/workflows/claude.yml" = '''{claude}''' }}

[[repos]]
owner = "acme"
name = "own"
secrets = [{{ name = "ANTHROPIC_API_KEY", key = "old" }}]
files = {{ ".github/workflows/claude.yml" = '''{claude}''' }}

[[repos]]
owner = "acme"
name = "plain"
"#
    )
}

/// `scan acme` with its cache in `cache`; the document and the GitHub requests it sent.
fn scan(sim: &Sim, cache: &Path, extra: &[&str]) -> (serde_json::Value, Vec<LoggedRequest>) {
    let before = sim.requests().len();
    let (doc, code) = json_of(
        keyfix(sim)
            .env("XDG_CACHE_HOME", cache)
            .args(["scan", "acme"])
            .args(extra),
    );
    assert_eq!(code, 0, "{doc:#}");
    let sent = sim.requests()[before..]
        .iter()
        .filter(|r| r.service == "github")
        .cloned()
        .collect();
    (doc, sent)
}

fn remaining(sim: &Sim) -> u64 {
    sim.world().github.lock().unwrap().tokens[0].remaining
}

fn statuses(sent: &[LoggedRequest], status: u16) -> usize {
    sent.iter().filter(|r| r.status == status).count()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            found.push(path);
        }
    }
    found
}

#[test]
fn a_second_scan_is_answered_by_304s_that_cost_no_budget() {
    let sim = start(scenario(&organization()));
    let cache = tempfile::tempdir().unwrap();
    let (first, cold) = scan(&sim, cache.path(), &[]);
    assert_eq!(statuses(&cold, 304), 0, "nothing was cached yet");

    let budget = remaining(&sim);
    let (second, warm) = scan(&sim, cache.path(), &[]);
    assert_eq!(first["repos"], second["repos"], "the same findings");
    let not_modified = statuses(&warm, 304);
    assert!(not_modified > 0, "{warm:#?}");
    let reads_of_discovery = warm
        .iter()
        // Public keys and runs are never kept; an absent directory (404) has nothing to
        // revalidate; GraphQL queries are not REST reads.
        .filter(|r| {
            !r.path.contains("public-key")
                && !r.path.contains("/runs?")
                && r.status != 404
                && r.method == "GET"
        })
        .count();
    assert_eq!(
        not_modified, reads_of_discovery,
        "every discovery read was revalidated: {warm:#?}"
    );
    let rest = warm.iter().filter(|r| r.method == "GET").count();
    assert_eq!(
        budget - remaining(&sim),
        (rest - not_modified) as u64,
        "a 304 costs nothing (and GraphQL spends a budget of its own)"
    );
}

#[test]
fn a_changed_workflow_is_seen_through_the_cache() {
    let sim = start(scenario(&organization()));
    let cache = tempfile::tempdir().unwrap();
    scan(&sim, cache.path(), &[]);
    {
        let mut state = sim.world().github.lock().unwrap();
        let repo = state.repo_mut("acme", "own").unwrap();
        let file = repo.files.get_mut(".github/workflows/claude.yml").unwrap();
        file.text = workflow_on("claude-haiku-4-5").replace("ANTHROPIC_API_KEY", "OTHER_KEY");
        file.sha = "0123456789abcdef0123456789abcdef01234567".to_owned();
    }
    let (doc, warm) = scan(&sim, cache.path(), &[]);
    assert!(statuses(&warm, 304) > 0);
    let own = doc["repos"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["repo"] == "acme/own")
        .unwrap();
    assert_eq!(own["workflows"][0]["secret"], "OTHER_KEY", "{own:#}");
}

#[test]
fn the_cache_holds_no_piece_of_the_token_or_of_any_key() {
    let sim = start(scenario(&organization()));
    let cache = tempfile::tempdir().unwrap();
    scan(&sim, cache.path(), &[]);
    let (doc, code) = json_of(
        keyfix(&sim)
            .env("XDG_CACHE_HOME", cache.path())
            .args([
                "rotate",
                "--owner",
                "acme",
                "--no-canary",
                "--key-env",
                "NEW_KEY",
            ])
            .args(["--write-interval", "0"])
            .env("NEW_KEY", sim.key("new")),
    );
    assert_eq!(code, 0, "{doc:#}");
    scan(&sim, cache.path(), &[]);

    let files = files_under(cache.path());
    assert!(files.len() > 5, "the runs kept their reads: {files:?}");
    let token = sim
        .env()
        .into_iter()
        .find(|(name, _)| name == "GH_ENTERPRISE_TOKEN")
        .unwrap()
        .1;
    for file in files {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        let what = file.display().to_string();
        assert!(!text.contains(&token[4..16]), "{what} holds the token");
        for key in ["old", "new"] {
            assert_no_piece_of(&sim.key(key), &text, &what);
        }
        assert!(!text.contains("\"key\""), "{what} holds a public key");
    }
}

#[test]
fn no_cache_neither_asks_conditionally_nor_writes() {
    let sim = start(scenario(&organization()));
    let cache = tempfile::tempdir().unwrap();
    scan(&sim, cache.path(), &["--no-cache"]);
    assert!(
        files_under(cache.path()).is_empty(),
        "--no-cache wrote nothing"
    );
    scan(&sim, cache.path(), &[]);
    let (_, sent) = scan(&sim, cache.path(), &["--no-cache"]);
    assert_eq!(
        statuses(&sent, 304),
        0,
        "--no-cache asked nothing conditionally"
    );
}
