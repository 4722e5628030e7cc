//! The command that resumes a rotation, printed so that it works from any directory.

use crate::cli::KeyInputArgs;

/// The command that resumes from `journal` from any directory, taking the key the way this run
/// took it, against the same GitHub when it is not github.com.
pub(super) fn resume_command(
    journal: &std::path::Path,
    key: &KeyInputArgs,
    github_api_url: &str,
) -> String {
    let journal = std::path::absolute(journal).unwrap_or_else(|_| journal.to_owned());
    let mut command = format!(
        "keyfix rotate --resume {}",
        shell_quote(&journal.display().to_string())
    );
    match (&key.key_env, key.key_stdin) {
        (Some(var), _) => command += &format!(" --key-env {}", shell_quote(var)),
        (None, true) => command += " --key-stdin",
        (None, false) => {}
    }
    if crate::github::token::enterprise_host(github_api_url).is_some() {
        command += &format!(" --github-api-url {}", shell_quote(github_api_url));
    }
    command
}

/// `text` as one shell word.
pub(super) fn shell_quote(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+:=@%,".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_input(env: Option<&str>, stdin: bool) -> KeyInputArgs {
        KeyInputArgs {
            key_stdin: stdin,
            key_env: env.map(str::to_owned),
        }
    }

    #[test]
    fn the_resume_command_takes_the_key_the_same_way() {
        let journal = std::path::Path::new("/state/rotate/20261201-1a2b.jsonl");
        let github = "https://api.github.com";
        assert_eq!(
            resume_command(journal, &key_input(Some("NEW_KEY"), false), github),
            "keyfix rotate --resume /state/rotate/20261201-1a2b.jsonl --key-env NEW_KEY"
        );
        assert_eq!(
            resume_command(journal, &key_input(None, true), github),
            "keyfix rotate --resume /state/rotate/20261201-1a2b.jsonl --key-stdin"
        );
        assert_eq!(
            resume_command(journal, &key_input(None, false), github),
            "keyfix rotate --resume /state/rotate/20261201-1a2b.jsonl"
        );
    }

    #[test]
    fn the_resume_command_names_an_enterprise_server_and_works_from_anywhere() {
        let command = resume_command(
            std::path::Path::new("-odd.jsonl"),
            &key_input(Some("NEW_KEY"), false),
            "https://ghe.example.com/api/v3",
        );
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            command,
            format!(
                "keyfix rotate --resume {} --key-env NEW_KEY --github-api-url https://ghe.example.com/api/v3",
                shell_quote(&cwd.join("-odd.jsonl").display().to_string())
            )
        );
    }

    #[test]
    fn a_journal_path_with_spaces_or_quotes_stays_one_word() {
        assert_eq!(
            shell_quote("my runs/it's.jsonl"),
            "'my runs/it'\\''s.jsonl'"
        );
        assert_eq!(shell_quote(""), "''");
    }
}
