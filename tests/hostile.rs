//! Repositories as a hostile pusher would write them, all in one simulated organization beside
//! an ordinary one: names that carry terminal escapes, file names a URL cannot hold as they are,
//! a YAML alias bomb, workflow files of every size GitHub allows and thousands of them, names a
//! probe or a request path must not take, job logs of hundreds of megabytes. `scan`, `check`,
//! `repo` and `rotate` finish, report the ordinary repository as they would alone, and print no
//! raw control character; peak memory and time stay small.

mod common;

use std::io::Read;
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use common::*;
use keyfix_sim::scenario::{LogFiller, RunSpec};
use keyfix_sim::{Scenario, Sim};
use serde_json::Value;

const CLAUDE: &str = r#"name: Claude
on: issue_comment
jobs:
  claude:
    runs-on: ubuntu-latest
    steps:
      - uses: anthropics/claude-code-action@v1
        with:
          anthropic_api_key: ${{ secrets.ANTHROPIC_API_KEY }}
          claude_args: --model claude-haiku-4-5
"#;

/// A job named with a colour escape and a model that clears the screen (and an OSC 52 sequence
/// that would write the clipboard), a secret, an environment and a runner label that no probe may
/// take.
const INJECTION: &str = r#"name: "Claude \u001b]52;c;cm0gLXJmIH4=\u0007"
on: issue_comment
jobs:
  "claude\u001b[31mRED":
    runs-on: ubuntu-latest
    steps:
      - uses: anthropics/claude-code-action@v1
        with:
          anthropic_api_key: ${{ secrets.ANTHROPIC_API_KEY }}
          claude_args: "--model claude-\u001b[2Jsonnet"
  "review\u009b2J":
    runs-on: ["self-hosted", "linux\u0007"]
    environment: "prod\u001b]52;c;eA==\u0007"
    steps:
      - uses: anthropics/claude-code-action@v1
        with:
          anthropic_api_key: "${{ secrets['KEY }}\n  evil: ${{ github.token'] }}"
"#;

/// Billions of strings from a few lines, if a reader expanded every alias.
const ALIAS_BOMB: &str = r#"on: push
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
jobs: {}
"#;

const ODD_NAMES: [&str; 3] = [
    ".github/workflows/claude\u{1b}[2J.yml",
    ".github/workflows/claude review ü.yml",
    ".github/workflows/a#b?c%d&e+f.yml",
];

/// The largest workflow the Contents API sends whole: a Claude job and thousands of others.
fn largest_workflow() -> String {
    let mut text = CLAUDE.to_owned();
    let job = |n: usize| {
        format!(
            "  lint-{n:05}:\n    runs-on: ubuntu-latest\n    steps:\n      - run: make lint-{n}\n"
        )
    };
    let mut n = 0;
    while text.len() + job(n).len() <= 1024 * 1024 {
        text.push_str(&job(n));
        n += 1;
    }
    text
}

fn repo(name: &str, extra: &str) -> String {
    format!(
        "[[repos]]\nowner = \"acme\"\nname = \"{name}\"\nsecrets = [{{ name = \"ANTHROPIC_API_KEY\", key = \"good\" }}]\n{extra}\n"
    )
}

/// One past run of `workflow` in `repo`, added once the files it names are there.
fn add_run(scenario: &mut Scenario, repo: &str, workflow: &str) {
    let repo = scenario.repos.iter_mut().find(|r| r.name == repo).unwrap();
    repo.runs.push(RunSpec {
        workflow: workflow.to_owned(),
        event: "issue_comment".to_owned(),
        actor: "alice".to_owned(),
        from_fork: false,
        days_ago: 0,
        attempts: 1,
        action_log: None,
        fork_deleted: false,
        actor_deleted: false,
    });
}

/// acme/app as any repository, and beside it every hostile one.
fn hostile_org() -> Scenario {
    let keys = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/keys.toml"))
        .unwrap();
    let claude_path = ".github/workflows/claude.yml";
    let toml = [
        keys,
        "[[owners]]\nlogin = \"acme\"\n".to_owned(),
        repo("app", ""),
        repo("inject", ""),
        repo("odd-names", ""),
        repo("bomb", ""),
        repo("huge", ""),
        repo("many", ""),
        repo("long-log", ""),
    ]
    .join("\n");
    let mut scenario = scenario(&toml);
    let files = |scenario: &mut Scenario, name: &str, files: Vec<(String, String)>| {
        let repo = scenario.repos.iter_mut().find(|r| r.name == name).unwrap();
        repo.files.extend(files);
    };
    let claude = || (claude_path.to_owned(), CLAUDE.to_owned());
    files(&mut scenario, "app", vec![claude()]);
    files(
        &mut scenario,
        "inject",
        vec![(claude_path.to_owned(), INJECTION.to_owned())],
    );
    files(
        &mut scenario,
        "odd-names",
        ODD_NAMES
            .iter()
            .map(|p| (p.to_string(), CLAUDE.to_owned()))
            .collect(),
    );
    files(
        &mut scenario,
        "bomb",
        vec![
            (
                ".github/workflows/bomb.yml".to_owned(),
                ALIAS_BOMB.to_owned(),
            ),
            claude(),
        ],
    );
    files(
        &mut scenario,
        "huge",
        vec![
            (
                ".github/workflows/claude.yml".to_owned(),
                largest_workflow(),
            ),
            (
                ".github/workflows/vendored.yml".to_owned(),
                format!("{CLAUDE}# {}\n", "x".repeat(3 * 1024 * 1024)),
            ),
        ],
    );
    let mut many: Vec<(String, String)> = (0..2500)
        .map(|n| {
            (
                format!(".github/workflows/job-{n:04}.yml"),
                format!("on: push\njobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo {n}\n"),
            )
        })
        .collect();
    many.push((
        ".github/workflows/a-claude.yml".to_owned(),
        CLAUDE.to_owned(),
    ));
    files(&mut scenario, "many", many);
    files(&mut scenario, "long-log", vec![claude()]);
    let long_log = scenario
        .repos
        .iter_mut()
        .find(|r| r.name == "long-log")
        .unwrap();
    long_log.log_filler = Some(LogFiller {
        bytes: 20_000_000,
        line: "2026-11-23T22:49:08.0000000Z \u{1b}[2J\u{9b}31m npm warn\n".to_owned(),
    });
    for (repo, workflow) in [
        ("app", claude_path),
        ("inject", claude_path),
        ("odd-names", ODD_NAMES[1]),
        ("long-log", claude_path),
    ] {
        add_run(&mut scenario, repo, workflow);
    }
    scenario.check().expect("the hostile scenario is valid");
    scenario
}

/// One simulator of [`hostile_org`] for the tests that only read it (and install the probe,
/// which no Claude workflow is): starting one takes a while (thousands of files, past runs
/// executed).
fn shared_org() -> &'static Sim {
    static SIM: std::sync::OnceLock<Sim> = std::sync::OnceLock::new();
    SIM.get_or_init(|| start(hostile_org()))
}

/// Every character a terminal would act on, other than the newlines and tabs keyfix writes.
fn raw_controls(text: &str) -> Vec<char> {
    text.chars()
        .filter(|c| (c.is_control() && *c != '\n') || matches!(c, '\u{202a}'..='\u{202e}'))
        .collect()
}

fn assert_printable(what: &str, text: &str) {
    let raw = raw_controls(text);
    assert!(raw.is_empty(), "{what} prints raw {raw:?}:\n{text}");
}

/// Runs keyfix; returns stdout, stderr and the exit code, and asserts neither stream holds a raw
/// control character.
fn run(sim: &Sim, args: &[&str], env: &[(&str, String)]) -> (String, String, i32) {
    let output = keyfix(sim)
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("keyfix runs");
    let stdout = String::from_utf8(output.stdout).expect("UTF-8 stdout");
    let stderr = String::from_utf8(output.stderr).expect("UTF-8 stderr");
    assert_printable(&format!("keyfix {args:?} on stdout"), &stdout);
    assert_printable(&format!("keyfix {args:?} on stderr"), &stderr);
    (stdout, stderr, output.status.code().expect("exited"))
}

fn repo_doc<'d>(doc: &'d Value, name: &str) -> &'d Value {
    doc["repos"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["repo"] == name)
        .unwrap_or_else(|| panic!("{name} is reported: {doc:#}"))
}

fn warnings_of(doc: &Value, name: &str) -> Vec<String> {
    repo_doc(doc, name)["warnings"]
        .as_array()
        .map(|w| {
            w.iter()
                .map(|w| {
                    format!(
                        "{}: {}",
                        w["path"].as_str().unwrap(),
                        w["reason"].as_str().unwrap()
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn scan_reports_every_repository_and_prints_no_control_character() {
    let sim: &Sim = shared_org();
    let (stdout, stderr, code) = run(sim, &["scan", "acme"], &[]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("claude.yml (claude\\e[31mRED)"), "{stdout}");
    assert!(stdout.contains("claude-\\e[2Jsonnet"), "{stdout}");
    assert!(stdout.contains("claude\\e[2J.yml (claude)"), "{stdout}");
    assert!(stdout.contains("claude review ü.yml (claude)"), "{stdout}");
    assert!(stdout.contains("a#b?c%d&e+f.yml (claude)"), "{stdout}");
    assert!(
        stdout.contains("7 repositories use claude-code-action."),
        "{stdout}"
    );
    assert!(stderr.contains("prod\\e]52;c;eA==\\x07"), "{stderr}");

    let (stdout, stderr, code) = run(sim, &["scan", "acme", "--json"], &[]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains(r#""job": "claude\u001b[31mRED""#),
        "{stdout}"
    );
    assert!(stdout.contains(r#""job": "review\u009b2J""#), "{stdout}");
    let doc: Value = serde_json::from_str(&stdout).unwrap();

    let app = repo_doc(&doc, "acme/app");
    assert_eq!(app["workflows"][0]["secret"], "ANTHROPIC_API_KEY");
    assert_eq!(app["workflows"][0]["scope"], "repository");
    assert_eq!(app["workflows"][0]["model"], "claude-haiku-4-5");
    assert_eq!(app["last_run"]["conclusion"], "success");
    assert!(app.get("warnings").is_none(), "{app:#}");

    let inject = repo_doc(&doc, "acme/inject");
    let claude = &inject["workflows"][0];
    assert_eq!(claude["job"], "claude\u{1b}[31mRED");
    assert_eq!(claude["model"], "claude-sonnet-4-5");
    assert_eq!(claude["model_source"], "unresolved");
    assert_eq!(claude["model_expression"], "claude-\u{1b}[2Jsonnet");
    let review = &inject["workflows"][1];
    assert!(review.get("secret").is_none(), "{review:#}");
    assert!(review.get("environment").is_none(), "{review:#}");
    let warnings = warnings_of(&doc, "acme/inject").join("\n");
    for refused in [
        "model name",
        "secret name",
        "environment name",
        "runner label",
    ] {
        assert!(warnings.contains(refused), "{refused}: {warnings}");
    }

    let odd = repo_doc(&doc, "acme/odd-names");
    let mut paths: Vec<&str> = odd["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["path"].as_str().unwrap())
        .collect();
    paths.sort();
    let mut expected = ODD_NAMES.to_vec();
    expected.sort();
    assert_eq!(paths, expected);
    assert_eq!(odd["last_run"]["workflow"], ODD_NAMES[1], "{odd:#}");

    let bomb = warnings_of(&doc, "acme/bomb");
    assert_eq!(bomb.len(), 1, "{bomb:?}");
    assert!(bomb[0].starts_with(".github/workflows/bomb.yml: keyfix cannot read this workflow"));
    assert_eq!(
        repo_doc(&doc, "acme/bomb")["workflows"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let huge = warnings_of(&doc, "acme/huge");
    assert_eq!(huge.len(), 1, "{huge:?}");
    assert!(
        huge[0].contains("vendored.yml") && huge[0].contains("over the 1 MiB"),
        "{huge:?}"
    );
    assert_eq!(
        repo_doc(&doc, "acme/huge")["workflows"][0]["model"],
        "claude-haiku-4-5"
    );

    let many = warnings_of(&doc, "acme/many");
    assert!(
        many.iter().any(|w| w.contains("first 1000 files")),
        "{many:?}"
    );
    assert_eq!(
        repo_doc(&doc, "acme/many")["workflows"][0]["path"],
        ".github/workflows/a-claude.yml"
    );

    let long_log = repo_doc(&doc, "acme/long-log");
    assert_eq!(
        long_log["last_run"]["conclusion"], "success",
        "{long_log:#}"
    );
}

#[test]
fn check_repo_and_rotate_finish_on_hostile_repositories() {
    let started = start(hostile_org());
    let sim: &Sim = &started;
    let (stdout, stderr, code) = run(sim, &["check", "acme/inject", "--install-probe"], &[]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("(job claude\\e[31mRED)"), "{stdout}");
    let probe = sim
        .default_branch_file("acme", "inject", keyfix::probe::PATH)
        .expect("the probe is installed");
    assert!(raw_controls(&probe).is_empty(), "{probe}");
    assert!(!probe.contains("evil"), "{probe}");

    let (doc, code) = json_of(keyfix(sim).args(["check", "acme/app", "--install-probe"]));
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["workflow"]["model"], "claude-haiku-4-5");

    let key = [("NEW_KEY", sim.key("fresh"))];
    let (stdout, stderr, code) = run(
        sim,
        &[
            "repo",
            "acme/app",
            "--key-env",
            "NEW_KEY",
            "--install-probe",
            "--yes",
        ],
        &key,
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    // The stored key works; the re-run fails again, as the workflow's model is no model at all.
    let (stdout, stderr, code) = run(
        sim,
        &[
            "repo",
            "acme/inject",
            "--key-env",
            "NEW_KEY",
            "--install-probe",
            "--yes",
        ],
        &key,
    );
    assert_eq!(code, 17, "{stdout}\n{stderr}");
    assert!(stdout.contains("Cause      ok"), "{stdout}");

    let (stdout, stderr, code) = run(sim, &["rotate", "--owner", "acme", "--dry-run"], &[]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    for repo in ["acme/app", "acme/inject", "acme/odd-names", "acme/many"] {
        assert!(stdout.contains(repo), "{repo}: {stdout}");
    }
    let (doc, code) = json_of(keyfix(sim).args(["rotate", "--owner", "acme", "--dry-run"]));
    assert_eq!(code, 0, "{doc:#}");
    let app: Vec<&Value> = doc["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["repo"] == "acme/app")
        .collect();
    assert_eq!(app.len(), 1, "{doc:#}");
    assert_eq!(app[0]["secret"], "ANTHROPIC_API_KEY");
    assert_eq!(app[0]["scope"], "repository");
}

/// Peak resident memory (the kernel's high-water mark of the process, `VmHWM`, sampled until it
/// exits) and wall time of one run of keyfix. Sampled rather than taken from `wait4`: a child
/// spawned from this test process starts as a copy of it, simulator and all, and `ru_maxrss`
/// would count that copy.
fn measured(sim: &Sim, args: &[&str]) -> (i32, String, u64, Duration) {
    let started = Instant::now();
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("keyfix"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .envs(sim.env())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("keyfix starts");
    let mut stdout_pipe = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut stdout = String::new();
        stdout_pipe.read_to_string(&mut stdout).unwrap();
        stdout
    });
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    let status = loop {
        if let Some(kib) = std::fs::read_to_string(&status_file)
            .ok()
            .and_then(|status| high_water_kib(&status))
        {
            peak = peak.max(kib * 1024);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stdout = reader.join().unwrap();
    (
        status.code().expect("exited"),
        stdout,
        peak,
        started.elapsed(),
    )
}

fn high_water_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

const MIB: u64 = 1024 * 1024;

/// acme/app with no past run, every job log of it `filler` first.
fn filled_logs(filler: LogFiller) -> Sim {
    let keys = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/keys.toml"))
        .unwrap();
    let mut scenario = scenario(&format!(
        "{keys}\n[[owners]]\nlogin = \"acme\"\n{}",
        repo("app", "")
    ));
    let app = &mut scenario.repos[0];
    app.files
        .insert(".github/workflows/claude.yml".to_owned(), CLAUDE.to_owned());
    app.log_filler = Some(filler);
    start(scenario)
}

/// A 300 MB job log, made by the simulator as it is sent: keyfix finds the probe's report line
/// at its end while holding a line at a time.
#[test]
fn a_job_log_of_hundreds_of_megabytes_is_read_in_little_memory() {
    let sim = filled_logs(LogFiller {
        bytes: 300_000_000,
        line: format!(
            "2026-11-23T22:49:08.0000000Z {}\n",
            "npm warn deprecated ".repeat(12)
        ),
    });
    let (code, stdout, peak, took) =
        measured(&sim, &["check", "acme/app", "--install-probe", "--json"]);
    let doc: Value = serde_json::from_str(&stdout).expect("one document");
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["diagnosis"]["cause"], "ok");
    eprintln!("300 MB log: peak {} MiB, {took:?}", peak / MIB);
    assert!(peak < 64 * MIB, "peak {} MiB", peak / MIB);
    assert!(took < Duration::from_secs(60), "{took:?}");
}

/// One line of 50 MB that starts like the report: cut, skipped, and the real report found.
#[test]
fn a_pathological_report_line_is_skipped_in_bounded_memory() {
    let sim = filled_logs(LogFiller {
        bytes: 50_000_000,
        line: "keyfix-probe-report: {\"secrets\": [[[[[[[[".to_owned(),
    });
    let (code, stdout, peak, took) =
        measured(&sim, &["check", "acme/app", "--install-probe", "--json"]);
    let doc: Value = serde_json::from_str(&stdout).expect("one document");
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["diagnosis"]["cause"], "ok");
    eprintln!("50 MB report line: peak {} MiB, {took:?}", peak / MIB);
    assert!(peak < 64 * MIB, "peak {} MiB", peak / MIB);
}

/// The largest workflow the Contents API sends, one larger, and 2,500 workflow files: read in
/// bounded time and memory.
#[test]
fn large_and_many_workflow_files_cost_bounded_time_and_memory() {
    let sim: &Sim = shared_org();
    for repo in ["acme/huge", "acme/many"] {
        let (code, stdout, peak, took) =
            measured(sim, &["check", repo, "--install-probe", "--json"]);
        let doc: Value = serde_json::from_str(&stdout).expect("one document");
        assert_eq!(code, 0, "{doc:#}");
        eprintln!("check {repo}: peak {} MiB, {took:?}", peak / MIB);
        assert!(peak < 128 * MIB, "{repo}: peak {} MiB", peak / MIB);
        assert!(took < Duration::from_secs(60), "{repo}: {took:?}");
    }
}
