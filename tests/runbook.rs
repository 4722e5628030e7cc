//! Every example in docs/runbook.md, run with bash against the simulator.

mod common;

use common::*;

struct Example {
    name: String,
    code: String,
    expect_exit: i32,
    expect_output: String,
}

/// The `sh` blocks that follow a `<!-- runbook-test: NAME expect-exit=N expect-output=TEXT -->`
/// marker, in document order.
fn examples() -> Vec<Example> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/runbook.md")).unwrap();
    let mut examples = Vec::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("<!-- runbook-test:") {
        let marker_end = rest[start..].find("-->").unwrap() + start;
        let marker = &rest[start + "<!-- runbook-test:".len()..marker_end];
        let mut words = marker.split_whitespace();
        let name = words.next().unwrap().to_owned();
        let field = |key: &str| {
            marker
                .split_whitespace()
                .find_map(|w| w.strip_prefix(key))
                .unwrap_or_default()
                .to_owned()
        };
        let block_start = rest[marker_end..].find("```sh\n").unwrap() + marker_end + 6;
        let block_end = rest[block_start..].find("```").unwrap() + block_start;
        examples.push(Example {
            name,
            code: rest[block_start..block_end].to_owned(),
            expect_exit: field("expect-exit=").parse().unwrap(),
            expect_output: field("expect-output="),
        });
        rest = &rest[block_end..];
    }
    examples
}

#[test]
fn every_runbook_example_works_as_written() {
    let examples = examples();
    assert_eq!(examples.len(), 5, "the runbook's examples are all found");
    let sim = world(&[case("app", Some("orphaned"), "claude-haiku-4-5")], "");
    let bin_dir = assert_cmd::cargo::cargo_bin("keyfix")
        .parent()
        .unwrap()
        .to_owned();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let work = tempfile::tempdir().unwrap();
    for example in examples {
        let output = std::process::Command::new("bash")
            .args(["-eo", "pipefail", "-c", &example.code])
            .current_dir(work.path())
            .env_clear()
            .env("PATH", &path)
            .env("HOME", work.path())
            .env("NO_COLOR", "1")
            .envs(sim.env())
            .env("REPO", "acme/app")
            .env("NEW_ANTHROPIC_KEY", sim.key("fresh"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            output.status.code(),
            Some(example.expect_exit),
            "{}: {stdout}\n{}",
            example.name,
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            stdout.contains(&example.expect_output),
            "{}: {stdout}",
            example.name
        );
        assert_no_piece_of(&sim.key("fresh"), &stdout, &example.name);
    }
    assert_eq!(
        sim.secret("acme", Some("app"), "repo", "ANTHROPIC_API_KEY"),
        Some(sim.key("fresh"))
    );
}
