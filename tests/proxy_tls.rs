//! keyfix behind a proxy, against services whose certificates come from a private authority:
//! the simulator serves both APIs over HTTPS under names only the test's proxy can resolve
//! (`*.keyfix.test`), with a certificate from an authority made for the test, given to keyfix
//! through `SSL_CERT_FILE` (or `SSL_CERT_DIR`).

mod common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;

use common::proxy::Proxy;
use common::*;
use keyfix_sim::tls::{Authority, Https};
use keyfix_sim::{LoggedRequest, Options, Scenario, Sim};

const GITHUB_HOST: &str = "github.keyfix.test";
const ANTHROPIC_HOST: &str = "anthropic.keyfix.test";

/// The demo scenario: acme/app's stored key is orphaned, the key `fresh` fixes it.
fn demo() -> Scenario {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/demo.toml");
    scenario(&std::fs::read_to_string(path).expect("the shipped scenario"))
}

/// A simulator serving HTTPS under the given names, and the directory holding its authority's
/// certificate as `ca.pem`.
struct Secured {
    sim: Sim,
    dir: tempfile::TempDir,
}

impl Secured {
    fn start(github_host: &str, anthropic_host: &str) -> Secured {
        let authority = Authority::new("keyfix test authority").unwrap();
        let identity = authority
            .issue(&[GITHUB_HOST, ANTHROPIC_HOST, "localhost", "127.0.0.1"])
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), authority.cert_pem()).unwrap();
        let sim = start_with(
            demo(),
            Options {
                https: Some(Https {
                    identity,
                    github_host: github_host.into(),
                    anthropic_host: anthropic_host.into(),
                }),
                ..Options::default()
            },
        );
        Secured { sim, dir }
    }

    fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    fn port(&self, service: &str) -> u16 {
        let url = match service {
            "github" => self.sim.github_api_url(),
            _ => self.sim.anthropic_base_url(),
        };
        url.rsplit(':').next().unwrap().parse().unwrap()
    }
}

fn repo_fix(secured: &Secured) -> assert_cmd::Command {
    let mut cmd = keyfix(&secured.sim);
    cmd.args([
        "repo",
        "acme/app",
        "--install-probe",
        "--key-env",
        "NEW_KEY",
    ])
    .env("NEW_KEY", secured.sim.key("fresh"));
    cmd
}

fn assert_fixed(doc: &serde_json::Value, code: i32) {
    assert_eq!(
        (doc["diagnosis"]["cause"].as_str(), code),
        (Some("orphaned_key"), 0),
        "{doc:#}"
    );
    let last = doc["actions"].as_array().unwrap().last().unwrap();
    assert_eq!(
        (last["kind"].as_str(), last["conclusion"].as_str()),
        (Some("rerun_finished"), Some("success")),
        "{doc:#}"
    );
}

/// Every request keyfix made (the ones over TLS: the simulated runners speak plain HTTP to
/// 127.0.0.1) came through one of `proxy`'s tunnels; returns how many there were per service.
fn assert_all_through(requests: &[LoggedRequest], proxy: &Proxy) -> (usize, usize) {
    let upstream: HashSet<SocketAddr> = proxy.tunnels().iter().map(|t| t.upstream).collect();
    let mut counts = (0, 0);
    for request in requests {
        if request.service == "github" {
            assert!(request.tls, "a GitHub request not over TLS: {request:?}");
        }
        if !request.tls {
            continue;
        }
        let peer = request.peer.expect("a request over TLS has a peer");
        assert!(
            upstream.contains(&peer),
            "a request that did not come through the proxy: {request:?}"
        );
        match request.service {
            "github" => counts.0 += 1,
            _ => counts.1 += 1,
        }
    }
    counts
}

#[test]
fn a_fix_goes_through_the_proxy_to_services_of_a_private_authority() {
    let secured = Secured::start(GITHUB_HOST, ANTHROPIC_HOST);
    let proxy = Proxy::start();
    let (doc, code) = json_of(
        repo_fix(&secured)
            .env("HTTPS_PROXY", proxy.url())
            .env("SSL_CERT_FILE", secured.ca_file()),
    );
    assert_fixed(&doc, code);
    assert!(
        doc["failed_run"]["url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("https://{GITHUB_HOST}:")),
        "{doc:#}"
    );
    let tunnels = proxy.tunnels();
    let targets: HashSet<String> = tunnels.iter().map(|t| t.target.clone()).collect();
    assert_eq!(
        targets,
        HashSet::from([
            format!("{GITHUB_HOST}:{}", secured.port("github")),
            format!("{ANTHROPIC_HOST}:{}", secured.port("anthropic")),
        ])
    );
    let (github, anthropic) = assert_all_through(&secured.sim.requests(), &proxy);
    assert!(github > 10 && anthropic >= 1, "{github} {anthropic}");
    // The pre-signed log URL the simulator built from its origin, and the upload, went the
    // same way.
    let requests = secured.sim.requests();
    for wanted in ["/_presigned/", "/actions/secrets/ANTHROPIC_API_KEY"] {
        assert!(
            requests.iter().any(|r| r.tls && r.path.contains(wanted)),
            "{wanted}: {requests:#?}"
        );
    }
    assert!(proxy.other_requests().is_empty());
}

#[test]
fn proxy_credentials_are_sent_and_shown_nowhere() {
    let secured = Secured::start(GITHUB_HOST, ANTHROPIC_HOST);
    let (user, password) = ("ci-bot", "s3cr@t:pw/ü");
    let proxy = Proxy::with_credentials(user, password);
    let url = format!(
        "http://ci-bot:s3cr%40t%3Apw%2F%C3%BC@127.0.0.1:{}",
        proxy.port()
    );
    let forbidden = [
        password.to_owned(),
        "s3cr".to_owned(),
        "%40t".to_owned(),
        "ci-bot".to_owned(),
        proxy.expected_authorization().unwrap(),
        proxy.expected_authorization().unwrap()[6..].to_owned(),
    ];
    let check = |output: &std::process::Output, what: &str| {
        for stream in [&output.stdout, &output.stderr] {
            let text = String::from_utf8_lossy(stream);
            for piece in &forbidden {
                assert!(
                    !text.contains(piece.as_str()),
                    "{what} shows {piece:?}:\n{text}"
                );
            }
        }
    };

    // The fix, at -vv, with the lower-case variable.
    let output = repo_fix(&secured)
        .arg("-vv")
        .env("https_proxy", &url)
        .env("SSL_CERT_FILE", secured.ca_file())
        .output()
        .unwrap();
    check(&output, "repo -vv");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("orphaned_key"));
    let after_fix = proxy.tunnels().len();
    assert!(after_fix > 0);

    // Every library's own logs too.
    let output = keyfix(&secured.sim)
        .args(["check", "acme/app", "--json"])
        .env("RUST_LOG", "trace")
        .env("HTTPS_PROXY", &url)
        .env("SSL_CERT_FILE", secured.ca_file())
        .output()
        .unwrap();
    check(&output, "check with RUST_LOG=trace");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("CONNECT")
            || String::from_utf8_lossy(&output.stderr).contains("tunnel"),
        "the trace shows the tunnelling"
    );
    assert!(proxy.tunnels().len() > after_fix);
    assert_eq!(proxy.refused(), 0);
    assert_all_through(&secured.sim.requests(), &proxy);

    // Refused credentials: one line naming the proxy, without them.
    let wrong = format!("http://ci-bot:s3cr%40t-wrong@127.0.0.1:{}", proxy.port());
    let output = keyfix(&secured.sim)
        .args(["validate", "--key-env", "KEY", "--json"])
        .env("KEY", secured.sim.key("fresh"))
        .env("HTTPS_PROXY", &wrong)
        .env("SSL_CERT_FILE", secured.ca_file())
        .output()
        .unwrap();
    check(&output, "validate with wrong credentials");
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(doc["exit_code"], 1, "{doc:#}");
    assert_eq!(doc["error"]["kind"], "network");
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("proxy authorization required")
            && message.contains(&format!(
                "the proxy http://127.0.0.1:{} (HTTPS_PROXY)",
                proxy.port()
            )),
        "{message}"
    );
    assert!(proxy.refused() > 0);
}

#[test]
fn no_proxy_sends_the_named_hosts_past_the_proxy() {
    // Names keyfix resolves itself: an address, and localhost.
    let secured = Secured::start("127.0.0.1", "localhost");
    let proxy = Proxy::start();
    let anthropic_port = secured.port("anthropic");
    let (doc, code) = json_of(
        repo_fix(&secured)
            .env("HTTPS_PROXY", proxy.url())
            .env("NO_PROXY", format!("127.0.0.1, localhost:{anthropic_port}"))
            .env("SSL_CERT_FILE", secured.ca_file()),
    );
    assert_fixed(&doc, code);
    assert_eq!(proxy.tunnels(), Vec::new());
    assert!(secured.sim.requests().iter().any(|r| r.tls));

    // localhost on another port is not what the entry names: that request takes the proxy.
    let (doc, code) = json_of(
        keyfix(&secured.sim)
            .args(["validate", "--key-env", "KEY"])
            .env("KEY", secured.sim.key("fresh"))
            .env("HTTPS_PROXY", proxy.url())
            .env("no_proxy", "127.0.0.1,localhost:1")
            .env("SSL_CERT_FILE", secured.ca_file()),
    );
    assert_eq!(code, 0, "{doc:#}");
    let targets: Vec<String> = proxy.tunnels().into_iter().map(|t| t.target).collect();
    assert!(!targets.is_empty());
    assert!(
        targets
            .iter()
            .all(|t| *t == format!("localhost:{anthropic_port}")),
        "{targets:?}"
    );
}

#[test]
fn an_untrusted_certificate_is_one_line_and_exit_1() {
    let secured = Secured::start(GITHUB_HOST, ANTHROPIC_HOST);
    let proxy = Proxy::start();
    let line = |host: &str| {
        format!(
            "could not verify the TLS certificate of {host}: not issued by a trusted authority; \
             if your organization uses its own certificate authority, point SSL_CERT_FILE at its \
             certificate"
        )
    };

    let output = repo_fix(&secured)
        .env("HTTPS_PROXY", proxy.url())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    // Beside the progress line, the one line of the error.
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("Reading acme/app"))
        .collect();
    assert_eq!(lines, [format!("error: {}", line(GITHUB_HOST))], "{stderr}");
    // Refused at once: the same certificate would be met again.
    assert_eq!(proxy.tunnels().len(), 1);

    let (doc, code) = json_of(repo_fix(&secured).env("HTTPS_PROXY", proxy.url()));
    assert_eq!(code, 1);
    assert_eq!(doc["error"]["kind"], "network");
    assert_eq!(doc["error"]["message"], line(GITHUB_HOST));

    let (doc, code) = json_of(
        keyfix(&secured.sim)
            .args(["validate", "--key-env", "KEY"])
            .env("KEY", secured.sim.key("fresh"))
            .env("HTTPS_PROXY", proxy.url()),
    );
    assert_eq!(
        (code, &doc["error"]["message"]),
        (1, &line(ANTHROPIC_HOST).into())
    );

    // Nothing reached either API; an authority of the machine's own is no help.
    assert!(secured.sim.requests().iter().all(|r| !r.tls));
    let (doc, code) = json_of(
        keyfix(&secured.sim)
            .args(["validate", "--key-env", "KEY"])
            .env("KEY", secured.sim.key("fresh"))
            .env("HTTPS_PROXY", proxy.url())
            .env("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt"),
    );
    assert_eq!(
        (code, &doc["error"]["message"]),
        (1, &line(ANTHROPIC_HOST).into())
    );

    // The same without a proxy (rustls's error then comes wrapped once more).
    let direct = Secured::start("127.0.0.1", "localhost");
    let (doc, code) = json_of(
        keyfix(&direct.sim)
            .args(["validate", "--key-env", "KEY"])
            .env("KEY", direct.sim.key("fresh")),
    );
    assert_eq!(
        (code, &doc["error"]["message"]),
        (1, &line("localhost").into())
    );
    let (doc, code) = json_of(&mut repo_fix(&direct));
    assert_eq!(
        (code, &doc["error"]["message"]),
        (1, &line("127.0.0.1").into())
    );
    assert!(direct.sim.requests().iter().all(|r| !r.tls));
}

#[test]
fn ssl_cert_dir_all_proxy_and_socks5_reach_the_api_too() {
    let secured = Secured::start(GITHUB_HOST, ANTHROPIC_HOST);
    let validate = |env: &[(&str, String)]| {
        let (doc, code) = json_of(
            keyfix(&secured.sim)
                .args(["validate", "--key-env", "KEY"])
                .env("KEY", secured.sim.key("fresh"))
                .envs(env.iter().map(|(k, v)| (k, v))),
        );
        assert_eq!(code, 0, "{env:?}: {doc:#}");
    };
    let target = format!("{ANTHROPIC_HOST}:{}", secured.port("anthropic"));

    let proxy = Proxy::start();
    validate(&[
        ("ALL_PROXY", proxy.url()),
        ("SSL_CERT_DIR", secured.dir.path().display().to_string()),
    ]);
    assert_eq!(proxy.tunnels().len(), 1);
    assert_eq!(proxy.tunnels()[0].target, target);

    let socks = Proxy::with_credentials("ci-bot", "pw");
    let before = secured.sim.requests().len();
    validate(&[
        (
            "all_proxy",
            format!("socks5h://ci-bot:pw@127.0.0.1:{}", socks.port()),
        ),
        ("SSL_CERT_FILE", secured.ca_file().display().to_string()),
    ]);
    let tunnels = socks.tunnels();
    assert_eq!(tunnels.len(), 1);
    assert!(
        tunnels[0].socks && tunnels[0].target == target,
        "{tunnels:?}"
    );
    let (_, anthropic) = assert_all_through(&secured.sim.requests()[before..], &socks);
    assert!(anthropic > 0);
}

#[test]
fn a_proxy_variable_keyfix_cannot_use_is_a_usage_error_that_keeps_its_password() {
    let sim = start(demo());
    let before = sim.requests().len();
    let (doc, code) = json_of(
        keyfix(&sim)
            .args(["validate", "--key-env", "KEY"])
            .env("KEY", sim.key("fresh"))
            .env("HTTP_PROXY", "ftp://ci-bot:hunter2@proxy.example:21"),
    );
    assert_eq!(code, 2, "{doc:#}");
    assert_eq!(doc["error"]["kind"], "usage");
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("HTTP_PROXY is not a proxy URL keyfix can use"),
        "{message}"
    );
    assert!(!doc.to_string().contains("hunter2"));
    assert_eq!(sim.requests().len(), before);
}
