//! The GitHub side against the simulator: workflow shapes, secret scopes, sealed uploads, failed
//! runs and their signatures, re-runs, permissions, faults; through `keyfix scan` and through
//! the library where no command drives it yet.

mod common;

use std::time::Duration;

use common::*;
use keyfix::github::runs::{self, RerunError};
use keyfix::github::secrets::{self, Scope, UploadError, Written};
use keyfix::github::{logs, Client, Config, RepoName, Token};
use keyfix::key::Key;
use keyfix_sim::scenario::Fault;
use keyfix_sim::Sim;

const CLAUDE_COMMENT: &str = r#"
name: Claude Code
on:
  issue_comment:
    types: [created]
jobs:
  claude:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v6
      - uses: anthropics/claude-code-action@v1
        with:
          anthropic_api_key: ${{ secrets.ANTHROPIC_API_KEY }}
"#;

/// An organization whose repositories show the shapes found in real workflows.
fn shapes() -> String {
    format!(
        r##"
[[organizations]]
name = "acme"

[[keys]]
name = "orphaned"
organization = "acme"
state = "orphaned"

[[keys]]
name = "good"
organization = "acme"

[[keys]]
name = "fresh"
organization = "acme"

[[owners]]
login = "acme"
secrets = [
  {{ name = "ANTHROPIC_API_KEY", key = "good", visibility = "all" }},
  {{ name = "CLAUDE_KEY", key = "good", visibility = "selected", selected = ["args"] }},
]

[[repos]]
owner = "acme"
name = "comment"
secrets = [{{ name = "ANTHROPIC_API_KEY", key = "orphaned", updated_at = "2025-03-01T00:00:00Z" }}]
runs = [{{ workflow = ".github/workflows/claude.yml", event = "issue_comment", actor = "alice" }}]
files = {{ ".github/workflows/claude.yml" = '''{CLAUDE_COMMENT}''' }}

[[repos]]
owner = "acme"
name = "args"
files = {{ ".github/workflows/review.yml" = '''
on: pull_request
jobs:
  review:
    runs-on: ubuntu-latest
    steps:
      - uses: anthropics/claude-code-action@v1
        with:
          anthropic_api_key: ${{{{ secrets.CLAUDE_KEY }}}}
          claude_args: --max-turns 5 --model claude-opus-4-1
''' }}

[[repos]]
owner = "acme"
name = "settings"
files = {{ ".github/workflows/claude.yml" = '''
on: issues
jobs:
  claude:
    runs-on: ubuntu-latest
    steps:
      - uses: anthropics/claude-code-action@v1
        with:
          anthropic_api_key: ${{{{ secrets.ANTHROPIC_API_KEY }}}}
          settings: '{{"env": {{"ANTHROPIC_MODEL": "claude-haiku-4-5"}}}}'
''' }}

[[repos]]
owner = "acme"
name = "envjob"
secrets = [{{ name = "PROD_KEY", key = "orphaned" }}]
environments = [{{ name = "prod", secrets = [{{ name = "PROD_KEY", key = "good" }}] }}]
files = {{ ".github/workflows/claude.yml" = '''
on: issue_comment
jobs:
  claude:
    runs-on: ubuntu-latest
    environment: prod
    steps:
      - uses: anthropics/claude-code-action@v1
        with:
          anthropic_api_key: ${{{{ secrets.PROD_KEY }}}}
''' }}

[[repos]]
owner = "acme"
name = "twojobs"
secrets = [{{ name = "REVIEW_KEY", key = "good" }}]
files = {{ ".github/workflows/claude.yml" = '''
on: pull_request
jobs:
  review:
    runs-on: ubuntu-latest
    steps:
      - uses: anthropics/claude-code-action@v1
        with:
          anthropic_api_key: ${{{{ secrets.REVIEW_KEY }}}}
  triage:
    runs-on: ubuntu-latest
    steps:
      - uses: anthropics/claude-code-action@v1
        with:
          anthropic_api_key: ${{{{ secrets.TRIAGE_KEY }}}}
''' }}

[[repos]]
owner = "acme"
name = "plain"
files = {{ ".github/workflows/ci.yml" = "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo hi\n" }}

[[repos]]
owner = "acme"
name = "broken"
files = {{ ".github/workflows/claude.yml" = "on: [push\njobs: {{", ".github/workflows/ok.yml" = '''{CLAUDE_COMMENT}''' }}
"##
    )
}

fn scan(sim: &Sim, owner: &str) -> (serde_json::Value, i32) {
    json_of(keyfix(sim).args(["scan", owner]))
}

fn repo<'d>(doc: &'d serde_json::Value, name: &str) -> &'d serde_json::Value {
    doc["repos"]
        .as_array()
        .expect("repos")
        .iter()
        .find(|r| r["repo"] == name)
        .unwrap_or_else(|| panic!("{name} in {doc:#}"))
}

#[test]
fn scan_finds_secret_environment_and_model_in_real_world_shapes() {
    let sim = start(scenario(&shapes()));
    let (doc, code) = scan(&sim, "acme");
    assert_eq!(code, 0, "{doc:#}");
    let names: Vec<_> = doc["repos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["repo"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "acme/comment",
            "acme/args",
            "acme/settings",
            "acme/envjob",
            "acme/twojobs",
            "acme/broken"
        ]
    );

    let comment = &repo(&doc, "acme/comment")["workflows"][0];
    assert_eq!(comment["secret"], "ANTHROPIC_API_KEY");
    assert_eq!(comment["model"], "claude-sonnet-4-5");
    assert_eq!(comment["model_source"], "default");

    let args = &repo(&doc, "acme/args")["workflows"][0];
    assert_eq!(
        (args["secret"].as_str(), args["model"].as_str()),
        (Some("CLAUDE_KEY"), Some("claude-opus-4-1"))
    );
    assert_eq!(
        args["scope"], "organization",
        "a selected organization secret reaches it"
    );

    let settings = &repo(&doc, "acme/settings")["workflows"][0];
    assert_eq!(
        (
            settings["model"].as_str(),
            settings["model_source"].as_str()
        ),
        (Some("claude-haiku-4-5"), Some("settings"))
    );

    let env = &repo(&doc, "acme/envjob")["workflows"][0];
    assert_eq!(env["environment"], "prod");
    assert_eq!(env["scope"], "environment:prod");
    assert_eq!(env["shadows"], serde_json::json!(["repository"]));

    let two = &repo(&doc, "acme/twojobs")["workflows"];
    assert_eq!(two[0]["secret"], "REVIEW_KEY");
    assert_eq!(two[0]["scope"], "repository");
    assert_eq!(two[1]["secret"], "TRIAGE_KEY");
    assert!(
        two[1].get("scope").is_none(),
        "TRIAGE_KEY is defined nowhere: {two:#}"
    );

    let broken = repo(&doc, "acme/broken");
    assert_eq!(broken["workflows"].as_array().unwrap().len(), 1);
    assert_eq!(
        broken["warnings"][0]["path"],
        ".github/workflows/claude.yml"
    );
    assert!(broken["warnings"][0]["reason"]
        .as_str()
        .unwrap()
        .starts_with("keyfix cannot read this workflow"));
}

#[test]
fn a_stale_repository_secret_shadows_the_organization_secret() {
    let sim = start(scenario(&shapes()));
    let (doc, _) = scan(&sim, "acme");
    let comment = &repo(&doc, "acme/comment")["workflows"][0];
    assert_eq!(comment["scope"], "repository");
    assert_eq!(comment["shadows"], serde_json::json!(["organization"]));
    let settings = &repo(&doc, "acme/settings")["workflows"][0];
    assert_eq!(settings["scope"], "organization");
    assert!(settings.get("shadows").is_none());
}

#[test]
fn a_failed_run_is_a_preflight_refusal_in_the_summary_format() {
    let sim = start(scenario(&shapes()));
    let (doc, _) = scan(&sim, "acme");
    let last = &repo(&doc, "acme/comment")["last_run"];
    assert_eq!(last["conclusion"], "failure");
    assert_eq!(last["signature"], "preflight_refusal");
    assert_eq!(last["event"], "issue_comment");
}

#[test]
fn a_failed_run_is_a_preflight_refusal_in_the_older_text_format() {
    let text = format!("[github]\naction_log = \"text\"\n{}", shapes());
    let sim = start(scenario(&text));
    let (doc, _) = scan(&sim, "acme");
    assert_eq!(
        repo(&doc, "acme/comment")["last_run"]["signature"],
        "preflight_refusal"
    );
    let log = job_log_of_last_run(&sim, "acme/comment");
    assert!(
        log.contains("Claude Code returned an error result: Credit balance is too low"),
        "{log}"
    );
}

#[test]
fn a_fork_pull_request_is_a_run_without_secrets() {
    let toml = shapes().replace(
        r#"runs = [{ workflow = ".github/workflows/claude.yml", event = "issue_comment", actor = "alice" }]"#,
        r#"runs = [{ workflow = ".github/workflows/claude.yml", event = "pull_request", actor = "eve", from_fork = true }]"#,
    );
    let sim = start(scenario(&toml));
    let (doc, _) = scan(&sim, "acme");
    assert_eq!(
        repo(&doc, "acme/comment")["last_run"]["signature"],
        "no_secrets"
    );
    let log = job_log_of_last_run(&sim, "acme/comment");
    assert!(
        log.contains("Either ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN is required"),
        "{log}"
    );
}

#[test]
fn a_pull_request_from_a_deleted_fork_is_a_run_without_secrets() {
    // GitHub answers `head_repository: null` for a run whose fork was deleted since.
    let toml = shapes().replace(
        r#"runs = [{ workflow = ".github/workflows/claude.yml", event = "issue_comment", actor = "alice" }]"#,
        r#"runs = [{ workflow = ".github/workflows/claude.yml", event = "pull_request", actor = "eve", from_fork = true, fork_deleted = true }]"#,
    );
    let sim = start(scenario(&toml));
    let run = last_run_as_github_answers(&sim, "acme/comment");
    assert_eq!(run["head_repository"], serde_json::Value::Null, "{run:#}");
    assert_eq!(run["pull_requests"], serde_json::json!([]), "{run:#}");
    let (doc, _) = scan(&sim, "acme");
    assert_eq!(
        repo(&doc, "acme/comment")["last_run"]["signature"],
        "no_secrets"
    );
}

#[test]
fn a_run_whose_actor_was_deleted_is_read_without_one() {
    // GitHub answers `actor: null` for a run whose account was deleted since.
    let toml = shapes().replace(
        r#"event = "issue_comment", actor = "alice" }]"#,
        r#"event = "issue_comment", actor = "alice", actor_deleted = true }]"#,
    );
    let sim = start(scenario(&toml));
    let run = last_run_as_github_answers(&sim, "acme/comment");
    assert_eq!(run["actor"], serde_json::Value::Null, "{run:#}");
    assert_eq!(run["triggering_actor"], serde_json::Value::Null, "{run:#}");
    let (doc, _) = scan(&sim, "acme");
    assert_eq!(
        repo(&doc, "acme/comment")["last_run"]["signature"],
        "preflight_refusal"
    );
}

/// The newest run of the Claude workflow of `full`, as GitHub's API answers it.
fn last_run_as_github_answers(sim: &Sim, full: &str) -> serde_json::Value {
    with_client(sim, |client| async move {
        let path = format!("/repos/{full}/actions/workflows/claude.yml/runs?per_page=1");
        let answer = client
            .send(http::Method::GET, &path, None, &[])
            .await
            .unwrap();
        let mut list: serde_json::Value = answer.json("the runs").unwrap();
        list["workflow_runs"][0].take()
    })
}

/// The job log of the newest run, fetched as keyfix fetches it (302, then no token).
fn job_log_of_last_run(sim: &Sim, full: &str) -> String {
    with_client(sim, |client| async move {
        let repo = RepoName::parse(full).unwrap();
        let run = runs::latest(&client, &repo, ".github/workflows/claude.yml", false)
            .await
            .unwrap()
            .unwrap();
        let job = runs::jobs(&client, &repo, run.id).await.unwrap().remove(0);
        let mut log = String::new();
        logs::read_job_log(&client, &repo, job.id, |line| {
            log.push_str(line);
            log.push('\n');
            std::ops::ControlFlow::Continue(())
        })
        .await
        .unwrap();
        log
    })
}

/// Runs `body` with a keyfix GitHub client pointed at the simulator.
fn with_client<F, Fut, T>(sim: &Sim, body: F) -> T
where
    F: FnOnce(Client) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut config = Config::new(Some(sim.github_api_url()));
    config.retry.backoff.base = Duration::from_millis(10);
    let token = sim.scenario().effective_tokens()[0].value();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async move {
            let client = Client::new(config, Token::new(token, "test")).unwrap();
            body(client).await
        })
}

#[test]
fn uploads_are_unsealed_by_the_simulator_to_the_exact_value_in_every_scope() {
    let sim = start(scenario(&shapes()));
    let fresh = sim.key("fresh");
    let written = with_client(&sim, |client| {
        let key = Key::from_input(fresh.clone());
        async move {
            let comment = RepoName::parse("acme/comment").unwrap();
            let envjob = RepoName::parse("acme/envjob").unwrap();
            let args = RepoName::parse("acme/args").unwrap();
            let a = secrets::upload(
                &client,
                &comment,
                &Scope::Repository,
                "ANTHROPIC_API_KEY",
                &key,
            )
            .await
            .unwrap();
            let b = secrets::upload(
                &client,
                &envjob,
                &Scope::Environment("prod".into()),
                "PROD_KEY",
                &key,
            )
            .await
            .unwrap();
            let c = secrets::upload(&client, &args, &Scope::Organization, "CLAUDE_KEY", &key)
                .await
                .unwrap();
            let d = secrets::upload(&client, &comment, &Scope::Repository, "NEW_NAME", &key)
                .await
                .unwrap();
            [a, b, c, d]
        }
    });
    assert_eq!(
        written,
        [
            Written::Updated,
            Written::Updated,
            Written::Updated,
            Written::Created
        ]
    );
    assert_eq!(
        sim.secret("acme", Some("comment"), "repo", "ANTHROPIC_API_KEY")
            .as_deref(),
        Some(fresh.as_str())
    );
    assert_eq!(
        sim.secret("acme", Some("envjob"), "env:prod", "PROD_KEY")
            .as_deref(),
        Some(fresh.as_str())
    );
    assert_eq!(
        sim.secret("acme", None, "org", "CLAUDE_KEY").as_deref(),
        Some(fresh.as_str())
    );
    assert_eq!(
        sim.secret("acme", Some("comment"), "repo", "NEW_NAME")
            .as_deref(),
        Some(fresh.as_str())
    );
    // The stale repository copy under the environment secret was not touched.
    assert_eq!(
        sim.secret("acme", Some("envjob"), "repo", "PROD_KEY"),
        Some(sim.key("orphaned"))
    );
    // The organization secret kept its visibility and selection.
    let state = sim.world().github.lock().unwrap();
    let secret = &state.owner("acme").unwrap().secrets["CLAUDE_KEY"];
    assert_eq!(secret.visibility, "selected");
    let args_id = state.repo("acme", "args").unwrap().id;
    assert_eq!(
        secret.selected.iter().copied().collect::<Vec<_>>(),
        [args_id]
    );
}

#[test]
fn a_github_request_carries_one_user_agent_keyfixs() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    // The request's head as it came off the wire, before any parser could merge its lines.
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap() == 1 {
            head.push(byte[0]);
        }
        stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}")
            .unwrap();
        String::from_utf8(head).unwrap()
    });
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = Config::new(Some(format!("http://{address}")));
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async move {
            let client = Client::new(config, Token::new("ghp_test".into(), "test")).unwrap();
            let answer = client
                .send(http::Method::GET, "/rate_limit", None, &[])
                .await
                .unwrap();
            assert_eq!(answer.status, 200);
        });
    let head = server.join().unwrap();
    let agents: Vec<&str> = head
        .lines()
        .filter(|line| line.to_ascii_lowercase().starts_with("user-agent:"))
        .collect();
    assert_eq!(
        agents,
        [format!("user-agent: keyfix/{}", env!("CARGO_PKG_VERSION"))],
        "{head}"
    );
}

#[test]
fn pynacl_opens_a_box_keyfix_sealed() {
    use base64::Engine;
    let secret = crypto_box::SecretKey::generate(&mut crypto_box::aead::OsRng);
    let b64 = base64::engine::general_purpose::STANDARD;
    let public = b64.encode(secret.public_key().as_bytes());
    let sealed = secrets::seal(&public, b"sk-ant-api03-value-sealed-by-keyfix").unwrap();
    let script = "import base64,sys\nfrom nacl.public import PrivateKey, SealedBox\nkey = PrivateKey(base64.b64decode(sys.argv[1]))\nprint(SealedBox(key).decrypt(base64.b64decode(sys.argv[2])).decode())";
    let output = std::process::Command::new(tools::python())
        .args(["-c", script, &b64.encode(secret.to_bytes()), &sealed])
        .output()
        .expect("the tests' python runs");
    assert!(
        output.status.success(),
        "PyNaCl failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "sk-ant-api03-value-sealed-by-keyfix"
    );
}

#[test]
fn a_rerun_after_the_upload_is_watched_to_success() {
    let mut s = scenario(&shapes());
    s.github.run_delay_ms = 700;
    let sim = start(s);
    let fresh = sim.key("fresh");
    let (before, after) = with_client(&sim, |client| async move {
        let repo = RepoName::parse("acme/comment").unwrap();
        let (failed, _) =
            runs::latest_refused(&client, &repo, &[".github/workflows/claude.yml".to_owned()])
                .await
                .unwrap()
                .unwrap();
        secrets::upload(
            &client,
            &repo,
            &Scope::Repository,
            "ANTHROPIC_API_KEY",
            &Key::from_input(fresh),
        )
        .await
        .unwrap();
        runs::rerun_failed_jobs(&client, &repo, failed.id)
            .await
            .unwrap();
        let mut seen = Vec::new();
        let done = runs::watch(
            &client,
            &repo,
            failed.id,
            failed.run_attempt,
            Duration::from_secs(20),
            |run| {
                seen.push(run.status.clone().unwrap_or_default());
                true
            },
        )
        .await
        .unwrap();
        assert!(seen.len() >= 2, "the watch saw the run move: {seen:?}");
        (failed, done)
    });
    assert_eq!(before.conclusion.as_deref(), Some("failure"));
    assert_eq!(after.run_attempt, 2);
    assert_eq!(after.conclusion.as_deref(), Some("success"));
    let polls = sim
        .requests()
        .iter()
        .filter(|r| r.path.ends_with(&format!("/runs/{}", before.id)))
        .count();
    assert!(polls >= 2);
    assert!(
        sim.requests().iter().any(|r| r.status == 304),
        "unchanged polls cost a 304"
    );
}

#[test]
fn reruns_github_refuses_are_explained() {
    let toml = shapes().replace(
        r#"runs = [{ workflow = ".github/workflows/claude.yml", event = "issue_comment", actor = "alice" }]"#,
        r#"runs = [
  { workflow = ".github/workflows/claude.yml", event = "issue_comment", days_ago = 45 },
  { workflow = ".github/workflows/claude.yml", event = "issue_comment", attempts = 50 },
]"#,
    );
    let sim = start(scenario(&toml));
    let errors = with_client(&sim, |client| async move {
        let repo = RepoName::parse("acme/comment").unwrap();
        let state_runs = runs::jobs(&client, &repo, 0).await.err();
        assert!(state_runs.is_some());
        let mut out = Vec::new();
        for id in [7_000_000_001u64, 7_000_000_002] {
            out.push(
                runs::rerun_failed_jobs(&client, &repo, id)
                    .await
                    .unwrap_err(),
            );
        }
        out
    });
    assert!(matches!(errors[0], RerunError::TooOld(_)), "{}", errors[0]);
    assert!(
        matches!(errors[1], RerunError::TooManyAttempts(_)),
        "{}",
        errors[1]
    );
    assert!(errors[0].to_string().contains("older than 30 days"));
    assert!(errors[1].to_string().contains("50 times"));
}

#[test]
fn a_rerun_of_a_run_in_progress_is_explained() {
    let mut s = scenario(&shapes());
    s.github.run_delay_ms = 2_000;
    let sim = start(s);
    let fresh = sim.key("fresh");
    let error = with_client(&sim, |client| async move {
        let repo = RepoName::parse("acme/comment").unwrap();
        secrets::upload(
            &client,
            &repo,
            &Scope::Repository,
            "ANTHROPIC_API_KEY",
            &Key::from_input(fresh),
        )
        .await
        .unwrap();
        runs::rerun_failed_jobs(&client, &repo, 7_000_000_001)
            .await
            .unwrap();
        runs::rerun_failed_jobs(&client, &repo, 7_000_000_001)
            .await
            .unwrap_err()
    });
    assert!(matches!(error, RerunError::InProgress(_)), "{error}");
}

#[test]
fn a_502_on_a_read_is_retried_and_succeeds() {
    let mut s = scenario(&shapes());
    s.faults.push(Fault {
        path: "/repos/acme/comment/actions/secrets".into(),
        method: Some("GET".into()),
        status: Some(502),
        times: Some(1),
        ..Fault::default()
    });
    let sim = start(s);
    let (doc, code) = scan(&sim, "acme");
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(
        repo(&doc, "acme/comment")["workflows"][0]["scope"],
        "repository"
    );
    let tries: Vec<u16> = sim
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/repos/acme/comment/actions/secrets?"))
        .map(|r| r.status)
        .collect();
    assert_eq!(tries, [502, 200]);
}

#[test]
fn a_502_on_an_upload_is_reported_not_repeated_with_the_secret_s_possible_states() {
    let mut s = scenario(&shapes());
    s.faults.push(Fault {
        path: "/repos/acme/comment/actions/secrets/ANTHROPIC_API_KEY".into(),
        method: Some("PUT".into()),
        status: Some(502),
        ..Fault::default()
    });
    let sim = start(s);
    let fresh = sim.key("fresh");
    let error = with_client(&sim, |client| async move {
        let repo = RepoName::parse("acme/comment").unwrap();
        secrets::upload(
            &client,
            &repo,
            &Scope::Repository,
            "ANTHROPIC_API_KEY",
            &Key::from_input(fresh),
        )
        .await
        .unwrap_err()
    });
    assert!(matches!(error, UploadError::Unknown(_)), "{error}");
    assert!(
        error.to_string().contains("either the old or the new key"),
        "{error}"
    );
    let puts = sim.requests().iter().filter(|r| r.method == "PUT").count();
    assert_eq!(puts, 1, "a write is never repeated blindly");
}

#[test]
fn a_refused_upload_says_the_secret_is_unchanged() {
    let toml = format!("{}\n[[tokens]]\nname = \"reader\"\npermissions = [\"contents:read\", \"actions:read\", \"secrets:read\"]\n", shapes());
    let sim = start(scenario(&toml));
    let fresh = sim.key("fresh");
    let error = with_client(&sim, |client| async move {
        let repo = RepoName::parse("acme/comment").unwrap();
        secrets::upload(
            &client,
            &repo,
            &Scope::Repository,
            "ANTHROPIC_API_KEY",
            &Key::from_input(fresh),
        )
        .await
        .unwrap_err()
    });
    assert!(matches!(error, UploadError::Refused(_)));
    let text = error.to_string();
    assert!(
        text.contains("Secrets: write") && text.contains("not changed"),
        "{text}"
    );
    assert_eq!(
        sim.secret("acme", Some("comment"), "repo", "ANTHROPIC_API_KEY"),
        Some(sim.key("orphaned"))
    );
}

/// A token with only `permissions` (fine-grained) or `scopes` (classic).
fn scan_with_token(permissions: &str) -> (serde_json::Value, i32, String) {
    let toml = format!(
        "{}\n[[tokens]]\nname = \"limited\"\n{permissions}\n",
        shapes()
    );
    let sim = start(scenario(&toml));
    let (doc, code) = scan(&sim, "acme");
    let message = doc["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (doc, code, message)
}

#[test]
fn every_permission_failure_is_exit_4_naming_the_permission() {
    let cases = [
        (
            r#"permissions = ["actions:read", "secrets:read"]"#,
            "Contents",
        ),
        (
            r#"permissions = ["contents:read", "actions:read"]"#,
            "Secrets: read",
        ),
        (
            r#"permissions = ["contents:read", "secrets:read", "actions:read"]"#,
            "Environments: read",
        ),
        (
            r#"permissions = ["contents:read", "secrets:read", "environments:read"]"#,
            "Actions",
        ),
        (r#"scopes = ["read:org"]"#, "the repo scope"),
    ];
    for (token, named) in cases {
        let (doc, code, message) = scan_with_token(token);
        assert_eq!(code, 4, "{token}: {doc:#}");
        assert_eq!(doc["error"]["kind"], "github_access");
        assert!(message.contains(named), "{token}: {message}");
        assert!(
            message.contains("classic"),
            "both token kinds are named: {message}"
        );
    }
}

#[test]
fn token_and_owner_problems_are_exit_4() {
    let sim = start(scenario(&shapes()));
    let (doc, code) = json_of(
        keyfix(&sim)
            .args(["scan", "acme"])
            .env("GH_ENTERPRISE_TOKEN", "ghp_wrongwrongwrong"),
    );
    assert_eq!(code, 4);
    assert!(doc["error"]["message"]
        .as_str()
        .unwrap()
        .contains("401 Bad credentials"));
    let (doc, code) = json_of(
        keyfix(&sim)
            .args(["scan", "acme"])
            .env_remove("GH_ENTERPRISE_TOKEN"),
    );
    assert_eq!(code, 4);
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("GH_ENTERPRISE_TOKEN"),
        "{doc:#}"
    );
    let (doc, code) = scan(&sim, "nobody");
    assert_eq!(code, 4);
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nobody not found"),
        "{doc:#}"
    );
    let (doc, code) = scan(&sim, "bad--name");
    assert_eq!(code, 2);
    assert_eq!(doc["error"]["kind"], "usage");
}

#[test]
fn scan_pages_through_an_organization_of_250_repositories_with_at_most_8_requests_in_flight() {
    let toml = format!(
        r#"
[github]
latency_ms = 5

[[organizations]]
name = "big"

[[keys]]
name = "good"
organization = "big"

[[owners]]
login = "big"
secrets = [{{ name = "ANTHROPIC_API_KEY", key = "good" }}]

[[repos]]
owner = "big"
name = "svc-{{n}}"
count = 250
files = {{ ".github/workflows/claude.yml" = '''{CLAUDE_COMMENT}''' }}
"#
    );
    let sim = start(scenario(&toml));
    let (doc, code) = scan(&sim, "big");
    assert_eq!(code, 0);
    let repos = doc["repos"].as_array().unwrap();
    assert_eq!(repos.len(), 250);
    assert!(repos
        .iter()
        .all(|r| r["workflows"][0]["scope"] == "organization"));
    let pages = sim
        .requests()
        .iter()
        .filter(|r| r.path == "/graphql")
        .count();
    assert_eq!(pages, 5, "250 repositories are five GraphQL pages of 50");
    assert!(
        sim.max_in_flight() <= 8,
        "{} requests were in flight at once",
        sim.max_in_flight()
    );
    assert!(sim.max_in_flight() > 1, "requests overlap");
}

#[test]
fn an_enterprise_server_api_path_is_kept() {
    let toml = format!("[github]\npath_prefix = \"/api/v3\"\n{}", shapes());
    let sim = start(scenario(&toml));
    assert!(sim.github_api_url().ends_with("/api/v3"));
    let (doc, code) = scan(&sim, "acme");
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["repos"].as_array().unwrap().len(), 6);
    let outside: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| {
            r.service == "github"
                && !r.path.starts_with("/api/v3/")
                && r.path != "/api/graphql"
                && !r.path.starts_with("/_presigned/")
        })
        .collect();
    assert!(outside.is_empty(), "{outside:?}");
}

#[test]
fn scan_prints_a_table_for_people() {
    let sim = start(scenario(&shapes()));
    let output = keyfix(&sim).args(["scan", "acme"]).output().unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.starts_with("REPOSITORY"), "{text}");
    assert!(text.contains("repository (shadows organization)"), "{text}");
    assert!(text.contains("failure: preflight_refusal"), "{text}");
    assert!(text.contains("run `keyfix check acme/comment`"), "{text}");
    assert!(
        text.contains("6 repositories use claude-code-action."),
        "{text}"
    );
}

#[test]
fn no_key_reaches_the_job_log_or_keyfix_output() {
    let sim = start(scenario(&shapes()));
    let log = job_log_of_last_run(&sim, "acme/comment");
    assert!(log.contains("anthropic_api_key: ***"), "{log}");
    assert_no_piece_of(&sim.key("orphaned"), &log, "the job log");
    let output = keyfix(&sim)
        .args(["scan", "acme", "-vvv"])
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    for key in ["orphaned", "good", "fresh"] {
        assert_no_piece_of(
            &sim.key(key),
            &String::from_utf8_lossy(&output.stdout),
            "stdout",
        );
        assert_no_piece_of(
            &sim.key(key),
            &String::from_utf8_lossy(&output.stderr),
            "stderr",
        );
    }
    let token = sim.scenario().effective_tokens()[0].value();
    assert!(
        !String::from_utf8_lossy(&output.stderr).contains(&token[4..16]),
        "the token is not logged"
    );
}
