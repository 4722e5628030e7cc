//! GitHub's own description of its API, held against every GitHub exchange of the workspace's
//! integration tests: each request keyfix sent (its operation exists, its parameters, body and
//! headers are valid) and each answer the simulator gave (a status the operation documents, a
//! body valid against its schema, required properties included), checked by
//! `tests/tools/github_openapi.py` against `api.github.com.json` of the npm package
//! @octokit/openapi, fetched once, verified by its sha512 and kept under `target/`.
//!
//! The exchanges: every simulator a test binary starts (through `tests/common`, keyfix's or
//! keyfix-sim's) records them into `target/tmp/exchanges/NAME`
//! (`keyfix_sim::exchanges::test_binary_recording`). Under `cargo test --workspace` this test
//! runs after keyfix's test binaries (keyfix-sim is the last package) and after keyfix-sim's
//! whose names sort before it, so their recordings are there, made by the build under test in a
//! run of all their tests, and nothing is run again; a binary without such a recording (run
//! alone, with a filter, or by another build; or one that starts no simulator, run once per
//! build) is run here, with `KEYFIX_SIM_EXCHANGES` naming its directory.
//!
//! The GraphQL queries among them (`POST /graphql`, which has no REST operation) are held against
//! GitHub's published GraphQL schema instead, `schema.graphql` of the npm package
//! @octokit/graphql-schema, by `tests/tools/github_graphql.py`: each query keyfix sent valid
//! (fields, arguments, fragments, types) and its variables of the types it declares.
//!
//! Left out: the fault sweep (`tests/fault_sweep.rs`), whose every answer is a deliberate fault
//! (the other tests' faults are recorded as such, their answers checked as GitHub's error
//! document); the official SDK's test (`tests/sdk.rs`), which asks only the Anthropic API;
//! unit-test binaries, which start no simulator; and this test.

#[path = "../../../tests/common/tools.rs"]
mod tools;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use base64::Engine;
use keyfix_sim::exchanges;
use serde_json::{json, Value};
use sha2::{Digest, Sha512};

const PACKAGE: &str = "@octokit/openapi@23.0.2";
/// `dist.integrity` of the package in the npm registry.
const INTEGRITY: &str =
    "sha512-pV8M7L9GY23AybNvTmo2nyjmpmnt6+2sRE/tqr0ZLQcPS4lnw7u5eZGNmwRNkBC3D7gZXbFx5AHzLUVRBXGDhg==";
const DESCRIPTION: &str = "package/generated/api.github.com.json";
const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
const CHECK: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/tools/github_openapi.py"
);
const GRAPHQL_PACKAGE: &str = "@octokit/graphql-schema@15.26.1";
const GRAPHQL_INTEGRITY: &str =
    "sha512-RFDC2MpRBd4AxSRvUeBIVeBU7ojN/SxDfALUd7iVYOSeEK3gZaqR2MGOysj4Zh2xj2RY5fQAUT+Oqq7hWTraMA==";
const GRAPHQL_SCHEMA: &str = "package/schema.graphql";
const GRAPHQL_CHECK: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/tools/github_graphql.py"
);

/// Integration-test binaries that are not checked, and why.
const LEFT_OUT: &[(&str, &str)] = &[
    ("openapi", "this test"),
    ("fault_sweep", "its every answer is a deliberate fault"),
    ("sdk", "it asks only the Anthropic API"),
];

#[test]
fn every_github_exchange_of_the_tests_is_valid_against_githubs_openapi_description() {
    if std::env::var_os(exchanges::ENV).is_some() {
        // Run by this test itself: nothing to check here.
        return;
    }
    let started = Instant::now();
    let description = description();
    let python = tools::python();
    let ready = started.elapsed();
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join(exchanges::TEST_RECORDINGS);
    let (dirs, run_here) = recordings(&root);
    let recorded = started.elapsed();

    let report = root.join("report.json");
    let output = Command::new(&python)
        .arg(CHECK)
        .arg(&description)
        .arg(&report)
        .args(&dirs)
        .output()
        .expect("the check runs");
    let summary = String::from_utf8_lossy(&output.stdout);
    println!(
        "{} test binaries; run here for want of a full recording: {}\n\
         description and tools ready in {:.0} s, recordings in {:.0} s, checked in {:.0} s\n{summary}",
        dirs.len(),
        if run_here.is_empty() { "none".to_owned() } else { run_here.join(", ") },
        ready.as_secs_f64(),
        (recorded - ready).as_secs_f64(),
        (started.elapsed() - recorded).as_secs_f64()
    );
    let graphql_report = root.join("graphql-report.json");
    let graphql = Command::new(&python)
        .arg(GRAPHQL_CHECK)
        .arg(graphql_schema())
        .arg(&graphql_report)
        .args(&dirs)
        .output()
        .expect("the GraphQL check runs");
    let graphql_summary = String::from_utf8_lossy(&graphql.stdout);
    println!("{graphql_summary}");
    assert!(
        output.status.success(),
        "exchanges that GitHub's description rejects (report: {}):\n{summary}{}",
        report.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        graphql.status.success(),
        "GraphQL queries that GitHub's schema rejects (report: {}):\n{graphql_summary}{}",
        graphql_report.display(),
        String::from_utf8_lossy(&graphql.stderr)
    );
}

/// The recording directory under `root` of each integration-test binary, and the names of those run here
/// for want of a full recording by this build.
fn recordings(root: &Path) -> (Vec<PathBuf>, Vec<String>) {
    let binaries = test_binaries();
    assert!(
        binaries.len() >= 10,
        "the test binaries were not found: {binaries:?}"
    );
    let mut run_here = Vec::new();
    let dirs = binaries
        .iter()
        .map(|binary| {
            let dir = root.join(&binary.name);
            if !exchanges::is_full_recording(&dir, &binary.executable) {
                run_here.push(binary.name.clone());
                record(binary, &dir);
            }
            dir
        })
        .collect();
    (dirs, run_here)
}

/// `api.github.com.json` of the pinned package, fetched with npm once and kept under `target/`.
fn description() -> PathBuf {
    npm_file(
        PACKAGE,
        INTEGRITY,
        DESCRIPTION,
        "github-openapi-23.0.2",
        "api.github.com.json",
    )
}

/// `schema.graphql` of the pinned package, fetched with npm once and kept under `target/`.
fn graphql_schema() -> PathBuf {
    npm_file(
        GRAPHQL_PACKAGE,
        GRAPHQL_INTEGRITY,
        GRAPHQL_SCHEMA,
        "github-graphql-schema-15.26.1",
        "schema.graphql",
    )
}

/// The file `inner` of the npm package `package`, verified by its `integrity`, fetched once into
/// `TARGET_TMPDIR/dir/name`.
fn npm_file(package: &str, integrity: &str, inner: &str, dir: &str, name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(dir);
    let kept = dir.join(name);
    if kept.exists() {
        return kept;
    }
    let building = dir.with_extension(format!("building-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&building);
    std::fs::create_dir_all(&building).unwrap();
    let packed = Command::new("npm")
        .args([
            "pack",
            package,
            "--silent",
            "--ignore-scripts",
            "--pack-destination",
        ])
        .arg(&building)
        .output()
        .expect("npm runs");
    assert!(
        packed.status.success(),
        "npm pack {package}: {}",
        String::from_utf8_lossy(&packed.stderr)
    );
    let packed_name = String::from_utf8_lossy(&packed.stdout).trim().to_owned();
    let tarball = building.join(packed_name.lines().last().unwrap_or_default());
    let bytes = std::fs::read(&tarball).expect("npm pack wrote the package");
    let found = format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(Sha512::digest(&bytes))
    );
    assert_eq!(found, integrity, "{package} is not the package pinned");
    let extracted = Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(&building)
        .arg(inner)
        .status()
        .expect("tar runs");
    assert!(extracted.success(), "tar could not extract {inner}");
    std::fs::rename(building.join(inner), building.join(name)).unwrap();
    std::fs::remove_file(&tarball).unwrap();
    let _ = std::fs::remove_dir_all(building.join("package"));
    if std::fs::rename(&building, &dir).is_err() {
        // Another process finished first: use its copy.
        let _ = std::fs::remove_dir_all(&building);
    }
    assert!(kept.exists(), "no {name} at {}", kept.display());
    kept
}

/// An integration-test binary of the workspace: its target's name, its executable, its
/// package's directory.
#[derive(Debug)]
struct Binary {
    name: String,
    executable: PathBuf,
    package_dir: PathBuf,
}

/// The workspace's integration-test binaries, as cargo names them: already built when this
/// runs under `cargo test --workspace`, so cargo only reports them.
fn test_binaries() -> Vec<Binary> {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command
        .args([
            "test",
            "--workspace",
            "--locked",
            "--tests",
            "--no-run",
            "--message-format=json",
        ])
        .current_dir(WORKSPACE)
        .stderr(Stdio::inherit());
    for name in set_by_cargo_for_this_test() {
        command.env_remove(name);
    }
    let exe = std::env::current_exe().unwrap();
    if exe.components().any(|c| c.as_os_str() == "release") {
        command.arg("--release");
    }
    let output = command.output().expect("cargo runs");
    assert!(output.status.success(), "cargo test --no-run failed");
    let mut binaries = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let (Some(executable), Some(name), Some(manifest)) = (
            message["executable"].as_str(),
            message["target"]["name"].as_str(),
            message["manifest_path"].as_str(),
        ) else {
            continue;
        };
        let integration_test = message["target"]["kind"] == json!(["test"]);
        if message["reason"] != "compiler-artifact" || !integration_test {
            continue;
        }
        if LEFT_OUT.iter().any(|(left_out, _)| *left_out == name) {
            continue;
        }
        binaries.push(Binary {
            name: name.to_owned(),
            executable: executable.into(),
            package_dir: Path::new(manifest).parent().unwrap().to_owned(),
        });
    }
    binaries
}

/// What cargo set for the test it runs, not for a cargo this test runs: build scripts that watch
/// these (ring's do) would see them changed and build again.
fn set_by_cargo_for_this_test() -> Vec<std::ffi::OsString> {
    const PREFIXES: [&str; 4] = [
        "CARGO_PKG_",
        "CARGO_MANIFEST_",
        "CARGO_BIN_",
        "CARGO_CRATE_",
    ];
    const NAMES: [&str; 4] = [
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_TMPDIR",
        "CARGO_RUSTC_CURRENT_DIR",
        "OUT_DIR",
    ];
    std::env::vars_os()
        .map(|(name, _)| name)
        .filter(|name| {
            let name = name.to_string_lossy();
            PREFIXES.iter().any(|prefix| name.starts_with(prefix)) || NAMES.contains(&name.as_ref())
        })
        .collect()
}

/// Runs every test of `binary` with its simulators recording into `dir`.
fn record(binary: &Binary, dir: &Path) {
    exchanges::start_test_recording(dir, &binary.executable, &[], 0);
    let output = Command::new(&binary.executable)
        .arg("--quiet")
        .current_dir(&binary.package_dir)
        .env("CARGO_MANIFEST_DIR", &binary.package_dir)
        .env(exchanges::ENV, dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.executable.display()));
    assert!(
        output.status.success(),
        "{} failed while recording: {}\n{}\n{}",
        binary.name,
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
