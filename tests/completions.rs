//! `keyfix completions` and `keyfix man`: the bash script sourced in bash and asked what a person
//! pressing TAB would be offered; the man page rendered.

use std::process::Command;

fn keyfix(args: &[&str]) -> String {
    let output = Command::new(assert_cmd::cargo::cargo_bin("keyfix"))
        .args(args)
        .output()
        .expect("keyfix runs");
    assert!(output.status.success(), "{args:?}: {output:?}");
    String::from_utf8(output.stdout).expect("UTF-8")
}

/// What bash's completion offers for the words typed so far (the last one being completed).
fn offered(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let line = words.join(" ");
    let program = format!(
        "source '{}'; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE='{line}'; COMP_POINT={}; \
         _keyfix keyfix '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        quoted.join(" "),
        words.len() - 1,
        line.len(),
        words[words.len() - 1],
        words[words.len().saturating_sub(2)],
    );
    let output = Command::new("bash")
        .args(["--noprofile", "--norc", "-c", &program])
        .output()
        .expect("bash runs");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completion_offers_the_commands_and_each_ones_options() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("keyfix.bash");
    std::fs::write(&script, keyfix(&["completions", "bash"])).unwrap();
    let commands = offered(&script, &["keyfix", ""]);
    for command in [
        "repo",
        "check",
        "validate",
        "rotate",
        "scan",
        "probe",
        "completions",
        "man",
    ] {
        assert!(
            commands.iter().any(|c| c == command),
            "{command}: {commands:?}"
        );
    }
    let options = offered(&script, &["keyfix", "repo", "--"]);
    for option in [
        "--install-probe",
        "--key-env",
        "--key-stdin",
        "--force",
        "--json",
        "--yes",
    ] {
        assert!(options.iter().any(|o| o == option), "{option}: {options:?}");
    }
    assert!(
        !options.iter().any(|o| o == "--dry-run"),
        "rotate's options are not repo's: {options:?}"
    );
}

#[test]
fn every_shell_gets_a_script_and_the_man_page_names_every_command() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        assert!(
            keyfix(&["completions", shell]).contains("keyfix"),
            "{shell}"
        );
    }
    let page = keyfix(&["man"]);
    assert!(
        page.starts_with(".ie") || page.contains(".TH keyfix 1"),
        "{page}"
    );
    for command in ["repo", "check", "validate", "rotate", "scan", "probe"] {
        assert!(page.contains(command), "{command}");
    }
}
