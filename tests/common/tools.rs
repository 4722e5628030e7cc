//! What the tests need beyond the Rust toolchain, provisioned by the tests themselves so that
//! `cargo test` passes on a machine with nothing installed by hand: a Python virtual environment
//! under the target directory with the pinned packages of `tests/tools/requirements.txt`, made
//! once and kept for later runs (a changed requirements file makes a new one).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const REQUIREMENTS: &str = include_str!("../tools/requirements.txt");
const JQ: &str = include_str!("../tools/jq.py");

/// The `bin` directory of the tests' virtual environment: its `python`, and a `jq` command.
pub fn tools_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("test-tools-{:016x}", fnv1a(REQUIREMENTS)));
        if !dir.join("ready").exists() {
            provision(&dir);
        }
        let bin = dir.join("venv/bin");
        if !bin.join("jq").exists() {
            write_jq(&bin);
        }
        bin
    })
}

/// The tests' Python, with PyNaCl and jq's library.
pub fn python() -> PathBuf {
    tools_bin().join("python")
}

/// Builds the environment beside `dir` and moves it into place, so that a run stopped half-way,
/// or another test process doing the same at once, never leaves a half-made one in use.
fn provision(dir: &Path) {
    let building = dir.with_extension(format!("building-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&building);
    std::fs::create_dir_all(&building).unwrap();
    let venv = building.join("venv");
    run(Command::new("python3").args(["-m", "venv"]).arg(&venv));
    let requirements = building.join("requirements.txt");
    std::fs::write(&requirements, REQUIREMENTS).unwrap();
    run(Command::new(venv.join("bin/python"))
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-input",
            "-r",
        ])
        .arg(&requirements));
    std::fs::write(building.join("ready"), "").unwrap();
    if std::fs::rename(&building, dir).is_err() {
        // Another process finished first: use its environment.
        let _ = std::fs::remove_dir_all(&building);
        assert!(
            dir.join("ready").exists(),
            "no test tools at {}",
            dir.display()
        );
    }
}

/// The `jq` command, written after the move so that it names the environment's final path.
fn write_jq(bin: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let path = bin.join("jq");
    let script = format!("#!{}\n{JQ}", bin.join("python").display());
    let partial = bin.join(format!("jq.{}", std::process::id()));
    std::fs::write(&partial, script).unwrap();
    std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::rename(partial, path).unwrap();
}

fn run(command: &mut Command) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "provisioning the test tools failed: {command:?}\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A stable hash of the requirements, to name the environment they make.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
