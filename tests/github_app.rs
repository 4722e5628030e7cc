//! keyfix with GitHub App credentials alone (`KEYFIX_GITHUB_APP_*`, no token variable): an
//! installation token per owner, taken through the App's JWT, refreshed before it expires and
//! when GitHub refuses it; the three ways App credentials fail before anything is changed; the
//! App permission a refusal names; and no part of the key or of any token in the output.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use common::*;
use keyfix::github::{App, Client, Config, Credentials, Error};
use keyfix_sim::scenario::Fault;
use keyfix_sim::{LoggedRequest, Scenario, Sim};

const APP_ID: u64 = 424_242;
const READER_ID: u64 = 535_353;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The App's key, PKCS#1 as GitHub's downloads are.
fn app_key() -> PathBuf {
    fixture("github-app-test-key.pem")
}

/// The second App's key, in PKCS#8 form.
fn reader_key() -> PathBuf {
    fixture("github-app-test-key-pkcs8.pem")
}

fn public(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

const ALL: &str = r#"{ contents = "write", workflows = "write", actions = "write", secrets = "write", environments = "write", organization_secrets = "write" }"#;
const NO_SECRET_WRITES: &str = r#"{ contents = "write", workflows = "write", actions = "write", secrets = "read", environments = "read" }"#;

fn workflow(model: &str) -> String {
    format!(
        "on: issue_comment\njobs:\n  claude:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: anthropics/claude-code-action@v1\n        with:\n          anthropic_api_key: ${{{{ secrets.ANTHROPIC_API_KEY }}}}\n          claude_args: --model {model}\n"
    )
}

fn repo(owner: &str, name: &str) -> String {
    format!(
        "[[repos]]\nowner = \"{owner}\"\nname = \"{name}\"\nsecrets = [{{ name = \"ANTHROPIC_API_KEY\", key = \"orphaned\" }}]\nruns = [{{ workflow = \".github/workflows/claude.yml\", actor = \"alice\" }}]\nfiles = {{ \".github/workflows/claude.yml\" = '''{}''' }}\n",
        workflow("claude-haiku-4-5")
    )
}

/// Two owners, the organization `acme` and the user `bob`, each with the App `keyfix-ops`
/// installed (every permission keyfix uses); `acme` also has `reader`, an App without Secrets
/// write; `zed` has neither. The one token of the scenario has no permission at all.
fn world(extra: &str) -> Scenario {
    let keys = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/keys.toml"))
        .unwrap();
    let text = format!(
        r#"{keys}
[[owners]]
login = "acme"

[[owners]]
login = "bob"
kind = "user"

[[owners]]
login = "zed"

{acme_app}
{acme_web}
{bob_tools}
{zed_app}

[[tokens]]
name = "powerless"
permissions = []

[[apps]]
name = "keyfix-ops"
id = {APP_ID}
public_key = '''{ops_public}'''
installations = [
  {{ owner = "acme", permissions = {ALL} }},
  {{ owner = "bob", permissions = {ALL} }},
]

[[apps]]
name = "reader"
id = {READER_ID}
public_key = '''{reader_public}'''
installations = [{{ owner = "acme", permissions = {NO_SECRET_WRITES} }}]

{extra}
"#,
        acme_app = repo("acme", "app"),
        acme_web = repo("acme", "web"),
        bob_tools = repo("bob", "tools"),
        zed_app = repo("zed", "app"),
        ops_public = public("github-app-test-key.pub.pem"),
        reader_public = public("github-app-test-key-pkcs8.pub.pem"),
    );
    scenario(&text)
}

/// keyfix with the App's id and key file, and no token of any kind in its environment.
fn keyfix_app(sim: &Sim, id: &str, key: &Path) -> Command {
    let mut cmd = Command::cargo_bin("keyfix").expect("keyfix is built");
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .env("ANTHROPIC_BASE_URL", sim.anthropic_base_url())
        .env("GITHUB_API_URL", sim.github_api_url())
        .env("KEYFIX_GITHUB_APP_ID", id)
        .env("KEYFIX_GITHUB_APP_PRIVATE_KEY_FILE", key);
    cmd
}

fn ops(sim: &Sim) -> Command {
    keyfix_app(sim, &APP_ID.to_string(), &app_key())
}

fn github_requests(sim: &Sim) -> Vec<LoggedRequest> {
    sim.requests()
        .into_iter()
        .filter(|r| r.service == "github")
        .collect()
}

fn token_posts(sim: &Sim) -> Vec<LoggedRequest> {
    github_requests(sim)
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/access_tokens"))
        .collect()
}

/// Every GitHub request of the log went with the credential that belongs to it: the App's JWT
/// for the App's own endpoints, and for everything else the installation token of the owner
/// the path names.
fn assert_each_owner_s_own_token(sim: &Sim) {
    for r in github_requests(sim) {
        let path = r.path.split('?').next().unwrap();
        if path.starts_with("/_presigned/") {
            assert_eq!(
                r.key, None,
                "a pre-signed URL is fetched with no credential"
            );
            continue;
        }
        let key = r.key.clone().unwrap_or_default();
        if path.starts_with("/app/") || path.ends_with("/installation") {
            assert_eq!(key, "app:keyfix-ops", "{r:?}");
            continue;
        }
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let owner = match parts.as_slice() {
            ["repos" | "orgs" | "users", owner, ..] => *owner,
            // A GraphQL query names the owner it reads in its body, not its path.
            ["graphql"] => {
                assert!(key.starts_with("keyfix-ops@"), "{r:?}");
                continue;
            }
            _ => panic!("a request with no owner: {r:?}"),
        };
        assert_eq!(key, format!("keyfix-ops@{owner}"), "{r:?}");
    }
}

#[test]
fn repo_fixes_a_key_with_the_app_alone() {
    let sim = start(world(""));
    let (doc, code) = json_of(
        ops(&sim)
            .args([
                "repo",
                "acme/app",
                "--install-probe",
                "--key-env",
                "NEW_KEY",
            ])
            .env("NEW_KEY", sim.key("fresh"))
            // Set, but not used: App credentials come first.
            .env("GH_ENTERPRISE_TOKEN", sim.token("powerless")),
    );
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["diagnosis"]["cause"], "orphaned_key");
    assert_eq!(
        sim.secret("acme", Some("app"), "repo", "ANTHROPIC_API_KEY"),
        Some(sim.key("fresh"))
    );
    assert_each_owner_s_own_token(&sim);
    let lookups: Vec<String> = github_requests(&sim)
        .into_iter()
        .filter(|r| r.path.ends_with("/installation"))
        .map(|r| format!("{} {}", r.path, r.status))
        .collect();
    assert_eq!(lookups, ["/repos/acme/app/installation 200"]);
    assert_eq!(
        token_posts(&sim).len(),
        1,
        "one token, kept for the whole run"
    );
    assert!(token_posts(&sim).iter().all(|r| r.status == 201));
}

fn rotate_two_owners(sim: &Sim) -> (serde_json::Value, i32) {
    json_of(
        ops(sim)
            .args([
                "rotate",
                "acme/app",
                "bob/tools",
                "acme/web",
                "--key-env",
                "NEW_KEY",
                "--no-canary",
                "--write-interval",
                "0",
            ])
            .env("NEW_KEY", sim.key("fresh")),
    )
}

#[test]
fn rotate_writes_across_two_owners_each_with_its_installation() {
    let sim = start(world(""));
    let (doc, code) = rotate_two_owners(&sim);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(
        target_statuses(&doc),
        ["rotated", "rotated", "rotated"],
        "{doc:#}"
    );
    for (owner, name) in [("acme", "app"), ("bob", "tools"), ("acme", "web")] {
        assert_eq!(
            sim.secret(owner, Some(name), "repo", "ANTHROPIC_API_KEY"),
            Some(sim.key("fresh")),
            "{owner}/{name}"
        );
    }
    assert_eq!(
        sim.secret("zed", Some("app"), "repo", "ANTHROPIC_API_KEY"),
        Some(sim.key("orphaned")),
        "not a target"
    );
    assert_each_owner_s_own_token(&sim);
    let mut lookups: Vec<String> = github_requests(&sim)
        .into_iter()
        .filter(|r| r.path.ends_with("/installation"))
        .map(|r| r.path)
        .collect();
    lookups.sort();
    assert_eq!(
        lookups,
        [
            "/repos/acme/app/installation",
            "/repos/bob/tools/installation"
        ],
        "one lookup per owner, though the targets are read side by side"
    );
    assert_eq!(token_posts(&sim).len(), 2, "one token per owner");
}

#[test]
fn an_owner_named_by_login_is_looked_up_as_a_user_then_as_an_organization() {
    let sim = start(world(""));
    let (doc, code) = json_of(ops(&sim).args(["rotate", "--owner", "acme", "--dry-run"]));
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(target_statuses(&doc).len(), 2, "{doc:#}");
    let lookups: Vec<String> = github_requests(&sim)
        .into_iter()
        .filter(|r| r.path.ends_with("/installation"))
        .map(|r| format!("{} {}", r.path, r.status))
        .collect();
    assert_eq!(
        lookups,
        [
            "/users/acme/installation 404",
            "/orgs/acme/installation 200"
        ]
    );
    let (doc, code) = json_of(ops(&sim).args(["scan", "bob"]));
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["repos"][0]["repo"], "bob/tools", "{doc:#}");
    assert!(github_requests(&sim)
        .iter()
        .any(|r| r.path == "/users/bob/installation" && r.status == 200));
    assert_each_owner_s_own_token(&sim);
}

#[test]
fn an_installation_token_is_taken_again_before_it_expires() {
    let mut scenario = world("");
    // Tokens that live 61 s are due for renewal one second after they are taken; runs that
    // take a while make the fix last several seconds.
    scenario.github.installation_token_lifetime_secs = 61;
    scenario.github.run_delay_ms = 400;
    let sim = start(scenario);
    let (doc, code) = json_of(
        ops(&sim)
            .args([
                "repo",
                "acme/app",
                "--install-probe",
                "--key-env",
                "NEW_KEY",
            ])
            .env("NEW_KEY", sim.key("fresh")),
    );
    assert_eq!(code, 0, "{doc:#}");
    let posts = token_posts(&sim);
    assert!(
        posts.len() >= 2,
        "a new token once the first was due: {posts:?}"
    );
    let lookups = github_requests(&sim)
        .iter()
        .filter(|r| r.path.ends_with("/installation"))
        .count();
    assert_eq!(lookups, 1, "the installation is looked up once");
    assert!(
        github_requests(&sim).iter().all(|r| r.status != 401),
        "no request went with an expired token"
    );
    assert_each_owner_s_own_token(&sim);
}

#[test]
fn an_installation_token_github_refuses_is_replaced_and_the_request_sent_again() {
    let sim = start(world(""));
    // GitHub refuses acme's token once, on the write itself (its clock says it has expired).
    sim.world().add_fault(Fault {
        service: Some("github".into()),
        path: "/repos/acme/app/actions/secrets/ANTHROPIC_API_KEY$".into(),
        method: Some("PUT".into()),
        key: Some("keyfix-ops@acme".into()),
        status: Some(401),
        times: Some(1),
        ..Fault::default()
    });
    let (doc, code) = rotate_two_owners(&sim);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(
        sim.secret("acme", Some("app"), "repo", "ANTHROPIC_API_KEY"),
        Some(sim.key("fresh"))
    );
    let puts: Vec<u16> = github_requests(&sim)
        .into_iter()
        .filter(|r| r.method == "PUT" && r.path.starts_with("/repos/acme/app/"))
        .map(|r| r.status)
        .collect();
    assert_eq!(puts, [401, 204], "sent again once, with a new token");
    assert_eq!(token_posts(&sim).len(), 3, "acme's second token, bob's one");
}

#[test]
fn an_expired_installation_token_is_refused_by_the_simulator() {
    let mut scenario = world("");
    scenario.github.installation_token_lifetime_secs = 1;
    let sim = start(scenario);
    let app = App::from_vars(|name| match name {
        "KEYFIX_GITHUB_APP_ID" => Some(APP_ID.to_string()),
        "KEYFIX_GITHUB_APP_PRIVATE_KEY_FILE" => Some(app_key().display().to_string()),
        _ => None,
    })
    .unwrap()
    .unwrap();
    let jwt = app.jwt(now()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let http = reqwest::Client::new();
    let api = sim.github_api_url();
    let (taken, first, later) = runtime.block_on(async {
        use secrecy::ExposeSecret;
        let lookup: serde_json::Value = http
            .get(format!("{api}/orgs/acme/installation"))
            .bearer_auth(jwt.expose_secret())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let answer = http
            .post(format!(
                "{api}/app/installations/{}/access_tokens",
                lookup["id"]
            ))
            .bearer_auth(jwt.expose_secret())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 201);
        let taken: serde_json::Value = answer.json().await.unwrap();
        let token = taken["token"].as_str().unwrap().to_owned();
        let get = |token: String| {
            let http = http.clone();
            let url = format!("{api}/repos/acme/app");
            async move { http.get(url).bearer_auth(token).send().await.unwrap() }
        };
        let first = get(token.clone()).await.status().as_u16();
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let later = get(token).await;
        let status = later.status().as_u16();
        let body: serde_json::Value = later.json().await.unwrap();
        (taken, first, (status, body["message"].clone()))
    });
    assert!(taken["token"].as_str().unwrap().starts_with("ghs_"));
    assert_eq!(taken["repository_selection"], "all");
    assert_eq!(taken["permissions"]["secrets"], "write");
    assert_eq!(taken["permissions"]["metadata"], "read");
    assert!(taken["expires_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(first, 200);
    assert_eq!(later, (401, serde_json::json!("Bad credentials")));
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Runs keyfix twice, human and `--json`: both exit 4 with the same one-line message, and
/// nothing but `allowed` requests reached GitHub.
fn refused_before_anything(
    sim: &Sim,
    mut command: impl FnMut() -> Command,
    args: &[&str],
) -> String {
    let human = command().args(args).output().unwrap();
    assert_eq!(human.status.code(), Some(4), "{human:?}");
    let stderr = String::from_utf8_lossy(&human.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    let message = errors[0].trim_start_matches("error: ").to_owned();
    let (doc, code) = json_of(command().args(args));
    assert_eq!(code, 4, "{doc:#}");
    assert_eq!(doc["error"]["kind"], "github_access", "{doc:#}");
    assert_eq!(doc["error"]["message"], message, "{doc:#}");
    assert!(!message.contains('\n'));
    let changes: Vec<LoggedRequest> = github_requests(sim)
        .into_iter()
        .filter(|r| r.method != "GET" && !r.path.ends_with("/access_tokens"))
        .collect();
    assert!(changes.is_empty(), "nothing changed: {changes:?}");
    assert!(
        !sim.requests()
            .iter()
            .any(|r| r.key.as_deref() == Some("fresh")),
        "the new key was sent nowhere"
    );
    message
}

const REPO_ARGS: &[&str] = &[
    "repo",
    "acme/app",
    "--install-probe",
    "--key-env",
    "NEW_KEY",
];

#[test]
fn a_private_key_that_does_not_parse_is_named_before_any_request() {
    let sim = start(world(""));
    let broken = "-----BEGIN RSA PRIVATE KEY-----\nMIIEnot*base64\n-----END RSA PRIVATE KEY-----\n";
    let message = refused_before_anything(
        &sim,
        || {
            let mut cmd = keyfix(&sim);
            cmd.env_remove("GH_ENTERPRISE_TOKEN")
                .env("KEYFIX_GITHUB_APP_ID", APP_ID.to_string())
                .env("KEYFIX_GITHUB_APP_PRIVATE_KEY", broken)
                .env("NEW_KEY", sim.key("fresh"));
            cmd
        },
        REPO_ARGS,
    );
    assert!(
        message.starts_with(
            "the GitHub App private key from KEYFIX_GITHUB_APP_PRIVATE_KEY cannot be used"
        ),
        "{message}"
    );
    assert!(message.contains("BEGIN RSA PRIVATE KEY"), "{message}");
    assert!(
        !message.contains("MIIEnot"),
        "no part of the key: {message}"
    );
    assert!(github_requests(&sim).is_empty(), "nothing sent");

    let not_a_key = fixture("github-app-test-key.pub.pem");
    let message = refused_before_anything(
        &sim,
        || {
            let mut cmd = keyfix_app(&sim, &APP_ID.to_string(), &not_a_key);
            cmd.env("NEW_KEY", sim.key("fresh"));
            cmd
        },
        REPO_ARGS,
    );
    assert!(
        message.contains(&not_a_key.display().to_string()),
        "{message}"
    );
    assert!(
        message.contains("no RSA PRIVATE KEY or PRIVATE KEY"),
        "{message}"
    );
    assert!(github_requests(&sim).is_empty(), "nothing sent");
}

#[test]
fn an_app_not_installed_on_the_owner_is_named_before_anything_changes() {
    let sim = start(world(""));
    let message = refused_before_anything(
        &sim,
        || {
            let mut cmd = ops(&sim);
            cmd.env("NEW_KEY", sim.key("fresh"));
            cmd
        },
        &["repo", "zed/app", "--install-probe", "--key-env", "NEW_KEY"],
    );
    assert_eq!(
        message,
        format!("the GitHub App {APP_ID} is not installed on zed/app (GitHub has no installation of it that can see the repository): install the App on zed with access to app, or check the repository's name")
    );
    let message = refused_before_anything(
        &sim,
        || ops(&sim),
        &["rotate", "--owner", "zed", "--dry-run"],
    );
    assert_eq!(
        message,
        format!("the GitHub App {APP_ID} is not installed on zed: install the App on zed with access to the repositories keyfix works on")
    );
    // A rotation that reaches an owner without the App writes nowhere, not even to the
    // owner that has it.
    let message = refused_before_anything(
        &sim,
        || {
            let mut cmd = ops(&sim);
            cmd.env("NEW_KEY", sim.key("fresh"));
            cmd
        },
        &[
            "rotate",
            "acme/app",
            "zed/app",
            "--key-env",
            "NEW_KEY",
            "--no-canary",
            "--yes",
        ],
    );
    assert!(message.contains("not installed on zed/app"), "{message}");
    assert_eq!(
        sim.secret("acme", Some("app"), "repo", "ANTHROPIC_API_KEY"),
        Some(sim.key("orphaned"))
    );
}

#[test]
fn a_wrong_app_id_is_named_with_github_s_reason() {
    let sim = start(world(""));
    let cases = [
        // No App has this id.
        (
            "999999".to_owned(),
            app_key(),
            "GitHub knows no App with the id 999999 (401 Integration not found): set KEYFIX_GITHUB_APP_ID to the App ID on the App's settings page".to_owned(),
        ),
        // An id that is no id.
        (
            "keyfix-ops".to_owned(),
            app_key(),
            "GitHub does not take \"keyfix-ops\" as an App id (401 'Issuer' claim ('iss') must be an Integer): set KEYFIX_GITHUB_APP_ID to the App ID on the App's settings page".to_owned(),
        ),
        // Another App's id for this key.
        (
            READER_ID.to_string(),
            app_key(),
            format!("GitHub could not verify the JWT signed for the App {READER_ID} (401 A JSON web token could not be decoded): the private key is not that App's; give the App's own key, or set KEYFIX_GITHUB_APP_ID to the App the key belongs to"),
        ),
    ];
    for (id, key, expected) in cases {
        let message = refused_before_anything(
            &sim,
            || {
                let mut cmd = keyfix_app(&sim, &id, &key);
                cmd.env("NEW_KEY", sim.key("fresh"));
                cmd
            },
            REPO_ARGS,
        );
        assert_eq!(message, expected);
    }
    assert!(
        token_posts(&sim).is_empty(),
        "no installation token was given"
    );
}

#[test]
fn a_missing_installation_permission_names_the_app_permission() {
    let sim = start(world(""));
    // The reader App's PEM text in the variable, PKCS#8.
    let pem = std::fs::read_to_string(reader_key()).unwrap();
    let mut cmd = keyfix(&sim);
    cmd.env_remove("GH_ENTERPRISE_TOKEN")
        .env("KEYFIX_GITHUB_APP_ID", READER_ID.to_string())
        .env("KEYFIX_GITHUB_APP_PRIVATE_KEY", &pem)
        .env("NEW_KEY", sim.key("fresh"))
        .args(REPO_ARGS);
    let (doc, code) = json_of(&mut cmd);
    assert_eq!(code, 4, "{doc:#}");
    assert_eq!(doc["diagnosis"]["cause"], "orphaned_key", "diagnosed first");
    assert_eq!(doc["error"]["kind"], "github_access");
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("the GitHub App's installation on acme cannot write repository secrets: grant the GitHub App the Secrets: write repository permission, and approve the new permission on the installation in acme"),
        "{message}"
    );
    assert_eq!(
        sim.secret("acme", Some("app"), "repo", "ANTHROPIC_API_KEY"),
        Some(sim.key("orphaned"))
    );
    let refused = github_requests(&sim)
        .into_iter()
        .find(|r| r.status == 403)
        .expect("GitHub refused the write");
    assert_eq!(refused.key.as_deref(), Some("reader@acme"));
}

#[test]
fn no_part_of_the_key_or_of_any_token_is_printed_at_the_highest_verbosity() {
    let sim = start(world(""));
    let pem = std::fs::read_to_string(app_key()).unwrap();
    let output = keyfix(&sim)
        .env_remove("GH_ENTERPRISE_TOKEN")
        .env("KEYFIX_GITHUB_APP_ID", APP_ID.to_string())
        .env("KEYFIX_GITHUB_APP_PRIVATE_KEY", &pem)
        .env("NEW_KEY", sim.key("fresh"))
        .args([
            "-vv",
            "repo",
            "acme/app",
            "--install-probe",
            "--key-env",
            "NEW_KEY",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        text.contains("took an installation token"),
        "-vv says what it does: {text}"
    );
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("-----"))
        .collect();
    for piece in body.as_bytes().chunks(12) {
        let piece = std::str::from_utf8(piece).unwrap();
        assert!(!text.contains(piece), "a piece of the private key: {piece}");
    }
    let tokens: Vec<String> = {
        let state = sim.world().github.lock().unwrap();
        state
            .installation_tokens
            .iter()
            .map(|t| t.value.clone())
            .collect()
    };
    assert!(!tokens.is_empty());
    for token in &tokens {
        for piece in token.as_bytes()[4..].chunks(8) {
            let piece = std::str::from_utf8(piece).unwrap();
            assert!(!text.contains(piece), "a piece of an installation token");
        }
    }
    assert!(!text.contains("ghs_"), "no installation token");
    // Every JWT keyfix signs starts with the same header: it is nowhere in the output.
    assert!(
        !text.contains("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9"),
        "no JWT"
    );
}

#[test]
fn a_path_that_names_no_owner_is_not_sent() {
    let sim = start(world(""));
    let _ = rustls::crypto::ring::default_provider().install_default();
    let app = App::from_vars(|name| match name {
        "KEYFIX_GITHUB_APP_ID" => Some(APP_ID.to_string()),
        "KEYFIX_GITHUB_APP_PRIVATE_KEY_FILE" => Some(app_key().display().to_string()),
        _ => None,
    })
    .unwrap()
    .unwrap();
    let client = Client::with_credentials(
        Config::new(Some(sim.github_api_url())),
        Credentials::App(app),
    )
    .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (unowned, owned) = runtime.block_on(async {
        let unowned = client
            .send(http::Method::GET, "/rate_limit", None, &[])
            .await;
        let owned = client
            .send(http::Method::GET, "/repos/bob/tools", None, &[])
            .await;
        (unowned, owned)
    });
    match unowned {
        Err(error @ Error::AppUnowned { .. }) => {
            assert!(error.to_string().contains("/rate_limit"), "{error}");
            assert!(!error.is_access(), "keyfix's own mistake, not the App's");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(owned.unwrap().status, 200);
    let paths: Vec<String> = github_requests(&sim).into_iter().map(|r| r.path).collect();
    assert!(!paths.iter().any(|p| p.contains("rate_limit")), "{paths:?}");
}
