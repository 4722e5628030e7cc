//! The three readers of text that others write, fuzzed on stable Rust: the workflow reader, the
//! job-log signature reader and the probe's report parser. Inputs are the repository's fixtures
//! mutated (bytes flipped, cut, repeated, spliced with YAML, JSON and escape tokens) and token
//! soups made from scratch. For each: no panic, little time, and the facts that must hold
//! whatever the input (names keyfix would use are valid ones, a probe made from them still parses
//! with each name one scalar, a log reads the same however it arrives). A fixed seed and case
//! budget keep CI fast and its failures repeatable.

use std::ops::ControlFlow;
use std::path::Path;
use std::time::{Duration, Instant};

use keyfix::github::logs::LineSplitter;
use keyfix::github::names;
use keyfix::github::runs::{LogReading, LogScan};
use keyfix::github::workflows::{analyze, WorkflowFile};
use keyfix::probe::{self, BaseUrl, ProbeJob, ProbeSpec};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// Cases per reader: enough to reach deep into each format in a few seconds of an unoptimized
/// build.
const CASES: u32 = 512;
/// The most one input may take to read, in an unoptimized build on a busy machine.
const TIME_PER_INPUT: Duration = Duration::from_secs(2);

fn runner() -> TestRunner {
    let config = Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &[17; 32]))
}

fn fixtures(dir: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "log"))
        .collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// Pieces of the formats being read, and of what an attacker would write into them.
const TOKENS: &[&str] = &[
    "\n",
    "\r\n",
    "  ",
    "    ",
    "- ",
    ": ",
    "#",
    "&a ",
    "*a",
    "<<: *a",
    "[",
    "]",
    "{",
    "}",
    ",",
    "'",
    "\"",
    "|\n",
    ">-\n",
    "---\n",
    "on:",
    "jobs:",
    "steps:",
    "uses: ",
    "with:",
    "env:",
    "environment: ",
    "runs-on: ",
    "anthropics/claude-code-action@v1",
    "anthropic_api_key: ",
    "claude_args: --model ",
    "${{ secrets.KEY }}",
    "${{ secrets['A }}\n b'] }}",
    "${{ env.M }}",
    "${{ inputs.model }}",
    "settings: ",
    "\u{1b}[2J",
    "\u{9b}",
    "\u{0}",
    "\u{7}",
    "\u{feff}",
    "ü",
    "\t",
    "2026-11-23T22:49:09.1230000Z ",
    "\"is_error\":",
    "\"duration_ms\":",
    "\"total_cost_usd\":",
    "\"result\": \"",
    "true",
    "0",
    "1e999",
    "-1",
    "Credit balance is too low",
    "Claude Code returned an error result: ",
    "keyfix-probe-report: ",
    "{\"version\":1,\"correlation_id\":\"c-1\",\"secrets\":[",
    "{\"name\":\"K\",\"present\":true,\"length\":1,\"kind\":\"api03\",\"well_formed\":true}",
];

#[derive(Clone, Debug)]
enum Edit {
    /// Replace the byte at this place.
    Set(usize, u8),
    /// Insert one of [`TOKENS`] here.
    Token(usize, usize),
    /// Remove this many bytes here.
    Cut(usize, usize),
    /// Repeat a stretch in place.
    Repeat(usize, usize, usize),
    /// End the text here.
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Edit::Set(at, b)),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(at, t)| Edit::Token(at, t)),
        (any::<usize>(), 0usize..64).prop_map(|(at, n)| Edit::Cut(at, n)),
        (any::<usize>(), 1usize..64, 1usize..20).prop_map(|(at, n, k)| Edit::Repeat(at, n, k)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(mut text: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for edit in edits {
        let at = |i: usize| {
            if text.is_empty() {
                0
            } else {
                i % (text.len() + 1)
            }
        };
        match *edit {
            Edit::Set(i, b) if !text.is_empty() => {
                let i = i % text.len();
                text[i] = b;
            }
            Edit::Set(..) => {}
            Edit::Token(i, t) => {
                let i = at(i);
                text.splice(i..i, TOKENS[t].bytes());
            }
            Edit::Cut(i, n) => {
                let i = at(i);
                let end = (i + n).min(text.len());
                text.drain(i..end);
            }
            Edit::Repeat(i, n, k) => {
                let i = at(i);
                let end = (i + n).min(text.len());
                let stretch = text[i..end].to_vec();
                for _ in 0..k {
                    text.splice(end..end, stretch.iter().copied());
                }
            }
            Edit::Truncate(i) => {
                let i = at(i);
                text.truncate(i);
            }
        }
    }
    text
}

/// A fixture with edits, or a soup of tokens made from scratch.
fn input(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = String> {
    let mutated = (
        proptest::sample::select(seeds),
        proptest::collection::vec(edit(), 0..12),
    )
        .prop_map(|(seed, edits)| apply(seed, &edits));
    let soup = proptest::collection::vec(proptest::sample::select(TOKENS), 0..80)
        .prop_map(|tokens| tokens.concat().into_bytes());
    prop_oneof![3 => mutated, 1 => soup]
        .prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

fn timed<T>(what: &str, text: &str, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let value = f();
    let took = started.elapsed();
    assert!(took < TIME_PER_INPUT, "{what} took {took:?} on {text:?}");
    value
}

#[test]
fn the_workflow_reader_takes_any_text_and_passes_on_only_valid_names() {
    runner()
        .run(&input(fixtures("tests/fixtures/workflows")), |text| {
            let files = [WorkflowFile {
                path: ".github/workflows/fuzzed.yml".to_owned(),
                text: text.clone(),
            }];
            let analysis = timed("analyze", &text, || analyze(&files));
            for step in &analysis.steps {
                if let Some(secret) = &step.api_key_secret {
                    prop_assert!(names::parse_secret_name(secret).is_ok(), "{secret:?}");
                }
                if let Some(env) = &step.environment {
                    prop_assert!(names::check_environment(env).is_ok(), "{env:?}");
                }
                for label in &step.runs_on {
                    prop_assert!(names::check_runner_label(label).is_ok(), "{label:?}");
                }
                if let Some(model) = &step.model {
                    prop_assert!(names::check_model(&model.model).is_ok(), "{model:?}");
                }
            }
            probe_of_steps_parses(&analysis)?;
            Ok(())
        })
        .unwrap();
}

/// The probe made from what the reader passed on is YAML with each environment one scalar, as
/// written, and no raw control character.
fn probe_of_steps_parses(
    analysis: &keyfix::github::workflows::Analysis,
) -> Result<(), TestCaseError> {
    let jobs: Vec<ProbeJob> = analysis
        .steps
        .iter()
        .filter(|s| s.api_key_secret.is_some())
        .map(|s| ProbeJob {
            environment: s.environment.clone(),
            secret_names: s.api_key_secret.iter().cloned().collect(),
            runs_on: if s.runs_on.is_empty() || s.runs_on.iter().any(|l| l.contains("${{")) {
                vec!["ubuntu-latest".to_owned()]
            } else {
                s.runs_on.clone()
            },
            base_url: BaseUrl::Variable("ANTHROPIC_BASE_URL".to_owned()),
        })
        .collect();
    let mut distinct: Vec<ProbeJob> = Vec::new();
    for job in jobs {
        if !distinct.iter().any(|d| d.environment == job.environment) {
            distinct.push(job);
        }
    }
    if distinct.is_empty() {
        return Ok(());
    }
    let text = probe::render(&ProbeSpec {
        jobs: distinct.clone(),
    });
    prop_assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text}");
    let parsed: yaml_serde::Value =
        yaml_serde::from_str(&text).map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
    for job in &distinct {
        let declared = &parsed["jobs"][job.id().as_str()]["environment"];
        match &job.environment {
            Some(env) => prop_assert_eq!(declared.as_str(), Some(env.as_str()), "{}", text),
            None => prop_assert!(declared.is_null(), "{}", text),
        }
    }
    Ok(())
}

/// `text` fed to a splitter in pieces of the given sizes (cycled), as a download arrives.
fn in_pieces(text: &str, sizes: &[usize], mut each: impl FnMut(&str)) {
    let mut splitter = LineSplitter::default();
    let mut sink = |line: &str| {
        each(line);
        ControlFlow::Continue(())
    };
    let mut rest = text.as_bytes();
    for size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, after) = rest.split_at((*size).min(rest.len()));
        let _ = splitter.feed(piece, &mut sink);
        rest = after;
    }
    let _ = splitter.finish(&mut sink);
}

#[test]
fn the_log_reader_takes_any_log_and_reads_it_the_same_however_it_arrives() {
    let seeds = fixtures("tests/fixtures/action-logs");
    let strategy = (input(seeds), proptest::collection::vec(1usize..300, 1..8));
    runner()
        .run(&strategy, |(text, sizes)| {
            let whole = timed("LogReading::of", &text, || LogReading::of(&text));
            let mut scan = LogScan::default();
            timed("a streamed log", &text, || {
                in_pieces(&text, &sizes, |line| scan.line(line));
            });
            prop_assert_eq!(scan.finish(), whole);
            Ok(())
        })
        .unwrap();
}

const REPORT: &str = r#"2026-11-23T22:49:10.2000000Z keyfix-probe-report: {"version":1,"correlation_id":"c-1","environment":null,"run_id":"7","secrets":[{"name":"ANTHROPIC_API_KEY","present":true,"length":108,"kind":"api03","defects":[],"well_formed":true,"fingerprint":"0123456789abcdef","calls":[{"call":"models","status":200,"latency_ms":80},{"call":"messages","model":"claude-x","status":400,"error_type":"invalid_request_error","message":"Your credit balance is too low","organization_id":"aaaaaaaaaaaaaaaa","latency_ms":190}]}]}"#;

#[test]
fn the_report_parser_takes_any_log_and_never_loses_an_untouched_report() {
    let mut seeds = fixtures("tests/fixtures/action-logs");
    seeds.push(REPORT.as_bytes().to_vec());
    runner()
        .run(&input(seeds), |text| {
            timed("find_report", &text, || probe::find_report(&text, "c-1"));
            // The fuzzed text around a report line keyfix wrote leaves the report readable.
            let log = format!("{text}\n{REPORT}\n{text}");
            let found = timed("find_report", &log, || probe::find_report(&log, "c-1"));
            prop_assert!(found.is_some(), "{log:?}");
            Ok(())
        })
        .unwrap();
}

#[test]
fn an_overlong_report_line_is_cut_not_read_whole() {
    let line = format!(
        "2026-11-23T22:49:10.2000000Z keyfix-probe-report: {}{}",
        "[".repeat(5_000_000),
        "\n"
    );
    let started = Instant::now();
    assert!(probe::find_report(&line, "c-1").is_none());
    assert!(
        started.elapsed() < TIME_PER_INPUT,
        "{:?}",
        started.elapsed()
    );
}
