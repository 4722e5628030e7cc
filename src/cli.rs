//! The command line: clap types only. Names and flags are the contract of `cli.md`.

use clap::{ArgAction, Args, Parser, Subcommand};

const ABOUT: &str = "Find out why a Claude workflow says \"Credit balance is too low\", and fix the key when a new key is the fix.";

const AFTER_HELP: &str = "\
Examples:
  keyfix validate                      classify a key typed at a hidden prompt
  op read op://ci/anthropic | keyfix validate --key-stdin --json

Keys are never taken as flag values: use the prompt, --key-stdin or --key-env VAR.
GitHub: a token from GH_TOKEN, GITHUB_TOKEN or `gh auth token`; or a GitHub App, with
KEYFIX_GITHUB_APP_ID and KEYFIX_GITHUB_APP_PRIVATE_KEY (PEM text) or
KEYFIX_GITHUB_APP_PRIVATE_KEY_FILE, which then take the place of any token.
Proxies: HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY (either case), as curl reads them.
Trusted authorities: the system's, plus SSL_CERT_FILE and SSL_CERT_DIR.
Exit codes, JSON output and every cause: docs/ in the keyfix repository.";

#[derive(Debug, Parser)]
#[command(name = "keyfix", version, about = ABOUT, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes, before or after its name.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Common options")]
pub struct GlobalArgs {
    /// Print exactly one JSON document (keyfix/v1) on stdout; implies --no-input
    #[arg(long, global = true)]
    pub json: bool,

    /// Never prompt; where input is needed, exit 3 naming the flag that supplies it
    #[arg(long, global = true)]
    pub no_input: bool,

    /// Answer yes to confirmations (never to choosing a key)
    #[arg(short = 'y', long, global = true)]
    pub yes: bool,

    /// More detail on stderr (-v, -vv, -vvv)
    #[arg(short = 'v', long = "verbose", action = ArgAction::Count, global = true, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Less on stderr
    #[arg(short = 'q', long = "quiet", action = ArgAction::Count, global = true)]
    pub quiet: u8,

    /// Model to validate with [default: the Claude step's; validate: claude-haiku-4-5]
    #[arg(long, global = true, value_name = "MODEL")]
    pub model: Option<String>,

    /// The secret to check or set [default: the one the failed run's Claude step reads]
    #[arg(long, global = true, value_name = "NAME")]
    pub secret: Option<String>,

    /// The failed run to diagnose [default: the latest failed run of a Claude workflow]
    #[arg(long, global = true, value_name = "RUN_ID")]
    pub run: Option<u64>,

    /// GitHub API URL; GitHub Enterprise Server: https://HOST/api/v3
    #[arg(
        long,
        global = true,
        env = "GITHUB_API_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub github_api_url: Option<String>,

    /// Anthropic API base URL, without /v1
    #[arg(
        long,
        global = true,
        env = "ANTHROPIC_BASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub anthropic_base_url: Option<String>,

    /// Neither read nor update the on-disk cache of GitHub's answers (conditional requests)
    #[arg(long, global = true)]
    pub no_cache: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Classify a key directly against the Anthropic API (no GitHub involved)
    #[command(after_help = VALIDATE_HELP)]
    Validate(ValidateArgs),
    /// Diagnose a failing Claude workflow and, where a new key fixes it, fix it: upload, verify, re-run
    #[command(after_help = REPO_HELP)]
    Repo(RepoArgs),
    /// Diagnose the key behind a failing Claude workflow; changes no secret
    #[command(after_help = CHECK_HELP)]
    Check(CheckArgs),
    /// Put one validated key into the secret of many repositories: planned, canaried, paced, resumable
    #[command(after_help = ROTATE_HELP)]
    Rotate(RotateArgs),
    /// List the repositories of a user or organization that use claude-code-action; with
    /// --probe, the health of every stored key behind them
    #[command(after_help = SCAN_HELP)]
    Scan(ScanArgs),
    /// Print or install the probe workflow that tests a stored secret from inside Actions
    #[command(subcommand)]
    Probe(ProbeCommand),
    /// Print a completion script for a shell
    #[command(after_help = COMPLETIONS_HELP)]
    Completions {
        /// bash, zsh, fish, powershell or elvish
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff)
    #[command(after_help = "Example:\n  keyfix man > ~/.local/share/man/man1/keyfix.1")]
    Man,
}

const COMPLETIONS_HELP: &str = "\
Examples:
  keyfix completions bash > ~/.local/share/bash-completion/completions/keyfix
  keyfix completions zsh > \"${fpath[1]}/_keyfix\"
  keyfix completions fish > ~/.config/fish/completions/keyfix.fish";

const REPO_HELP: &str = "\
keyfix diagnoses as `keyfix check` does. Only where a new key fixes the cause (or the cause is
undetermined) does it take a new key: it validates the key on the workflow's model, uploads it
(sealed) to the scope the failing job reads, proves with the probe that the secret now holds that
key, then re-runs the failed jobs and watches them. Where a new key cannot help (no credit, spend
limits, model access, outages) it uploads nothing and says why, unless --force.

Examples:
  keyfix repo acme/app                                   prompts for the new key
  keyfix repo acme/app --install-probe --key-env NEW_KEY --json
  op read op://ci/anthropic | keyfix repo acme/app --key-stdin --yes
  ANTHROPIC_ADMIN_KEY=… keyfix repo acme/app --key-env NEW_KEY --retire-old

Exit codes: 0 fixed and the re-run passed (or the stored key works); 10/11/12/13/14 the cause,
no secret changed; 15 the new key was rejected; 17 uploaded but verification or the re-run failed;
18 a run gave no answer; 1 a failure part-way (the message says what state things are in).";

#[derive(Debug, Args)]
pub struct RepoArgs {
    /// The repository, OWNER/REPO
    pub repo: String,
    #[command(flatten)]
    pub probe: ProbeRunArgs,
    #[command(flatten)]
    pub key: KeyInputArgs,
    /// Upload even where the diagnosis says a new key cannot help
    #[arg(long)]
    pub force: bool,
    /// Do not re-run the failed jobs
    #[arg(long)]
    pub no_rerun: bool,
    /// Re-run the failed jobs but do not wait for them
    #[arg(long)]
    pub no_watch: bool,
    /// Also write the stale copies shadowed by the scope the job reads
    #[arg(long)]
    pub include_shadowed: bool,
    /// Once the new key is verified, set the old key inactive through the Admin API
    /// (ANTHROPIC_ADMIN_KEY); without one, say which key to disable in the Console
    #[arg(long)]
    pub retire_old: bool,
}

const ROTATE_HELP: &str = "\
keyfix resolves, for every target, the scope its Claude jobs read (environment > repository >
organization) and plans one write per distinct scope (one for an organization secret however many
repositories read it; its visibility and selection kept). It validates the key once per model,
writes a canary and verifies it with the probe, then writes the rest one at a time,
--write-interval apart, journaling every step so that --resume finishes an interrupted run.

Examples:
  keyfix rotate --owner acme --dry-run
  op read op://ci/anthropic | keyfix rotate --owner acme --key-stdin --install-probe --yes
  keyfix rotate acme/app acme/api --key-env NEW_KEY --no-canary --json
  keyfix rotate --resume ~/.local/state/keyfix/rotate/20261123-224909-1a2b.jsonl --key-env NEW_KEY

Exit codes: 0 every target rotated; 16 some failed or were skipped (see the table or JSON);
15 the key was rejected; 11 no credit; 17 the canary failed; 130 stopped by Ctrl-C.";

#[derive(Debug, Args)]
pub struct RotateArgs {
    /// Repositories, OWNER/REPO
    pub targets: Vec<String>,
    /// Every repository of a user or organization that uses claude-code-action
    #[arg(long, value_name = "OWNER")]
    pub owner: Option<String>,
    /// One OWNER/REPO a line; # comments and blank lines ignored
    #[arg(long, value_name = "FILE")]
    pub targets_file: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub key: KeyInputArgs,
    /// Print the plan and stop: no key needed, nothing written
    #[arg(long)]
    pub dry_run: bool,
    /// The repository whose write is verified with the probe before the rest
    #[arg(long, value_name = "OWNER/REPO", conflicts_with = "no_canary")]
    pub canary: Option<String>,
    /// Write everything without verifying a canary first
    #[arg(long)]
    pub no_canary: bool,
    #[command(flatten)]
    pub probe: ProbeRunArgs,
    /// Where to write the journal [default: $XDG_STATE_HOME/keyfix/rotate/DATE-TIME.jsonl]
    #[arg(long, value_name = "FILE")]
    pub journal: Option<std::path::PathBuf>,
    /// Finish the rotation a journal describes (one process at a time: a journal in use is refused)
    #[arg(long, value_name = "FILE", conflicts_with_all = ["targets", "owner", "targets_file", "journal", "dry_run"])]
    pub resume: Option<std::path::PathBuf>,
    /// Least seconds between the starts of two writes [default: 1]
    #[arg(long, value_name = "SECS")]
    pub write_interval: Option<f64>,
    /// Reads in flight at once, 1 to 16 [default: 8]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=16))]
    pub concurrency: Option<u8>,
    /// Also write the stale copies shadowed by the scope each job reads
    #[arg(long)]
    pub include_shadowed: bool,
    /// Write even where the key fails on a target's model
    #[arg(long)]
    pub force: bool,
    /// Once every target is rotated, set the key the canary's secret held before inactive
    /// through the Admin API (ANTHROPIC_ADMIN_KEY); needs the canary
    #[arg(long, conflicts_with = "no_canary")]
    pub retire_old: bool,
}

const CHECK_HELP: &str = "\
keyfix reads the repository's Claude workflows and the secret scopes, finds the failed run, and
runs its probe workflow (.github/workflows/keyfix-probe.yml), which tests the stored secret from
inside Actions and reports salted fingerprints, never the key. Then it names the cause.

Examples:
  keyfix check acme/app --install-probe
  keyfix check acme/app --reference-key-env FRESH_KEY     tell an orphaned key from no credit
  keyfix check acme/app --json --run 7012345678

Exit codes: 0 the key works; 10 replace the key; 11 billing; 12 model; 13 transient;
14 undetermined (give a reference key); 18 the probe run gave no answer; 2, 3, 4 as usual.";

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The repository, OWNER/REPO
    pub repo: String,
    #[command(flatten)]
    pub probe: ProbeRunArgs,
    /// Read a second key of the organization that should pay from standard input
    #[arg(long, conflicts_with = "reference_key_env")]
    pub reference_key_stdin: bool,
    /// Read a second key of the organization that should pay from the environment variable VAR
    #[arg(long, value_name = "VAR")]
    pub reference_key_env: Option<String>,
}

/// How keyfix may run its probe.
#[derive(Debug, Args, Clone)]
pub struct ProbeRunArgs {
    /// Install or update the probe workflow without asking (a commit on the default branch)
    #[arg(long)]
    pub install_probe: bool,
    /// Seconds to wait for the probe run (or a re-run)
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub timeout: u64,
    /// Run the probe from a throwaway branch keyfix-probe/<8 hex> (deleted afterwards):
    /// nothing is committed to the default branch
    #[arg(long)]
    pub probe_branch: bool,
}

#[derive(Debug, Subcommand)]
pub enum ProbeCommand {
    /// Print the probe workflow keyfix would install (for OWNER/REPO, or a generic one)
    #[command(
        after_help = "Examples:\n  keyfix probe print > .github/workflows/keyfix-probe.yml\n  keyfix probe print acme/app --secret CLAUDE_KEY\n  keyfix probe print acme/app --branch"
    )]
    Print {
        /// The repository whose Claude workflows decide the secret names and environments
        repo: Option<String>,
        /// Print it as a branch probe pushes it to keyfix-probe/<8 hex> (`--probe-branch`): a
        /// push trigger, and one run's values in place of the inputs (shown as placeholders)
        #[arg(long)]
        branch: bool,
    },
    /// Commit the probe workflow to the default branch of OWNER/REPO
    #[command(
        after_help = "Examples:\n  keyfix probe install acme/app\n  keyfix probe install --pull-request acme/app\n\nNeeds Contents and Workflows write (fine-grained) or the workflow scope (classic);\n--pull-request also Pull requests write."
    )]
    Install {
        /// The repository, OWNER/REPO
        repo: String,
        /// Open a pull request that adds the probe, for a default branch that takes no direct
        /// commits, and print its URL
        #[arg(long)]
        pull_request: bool,
    },
    /// Delete the probe workflow from the default branch of OWNER/REPO
    #[command(
        after_help = "Example:\n  keyfix probe remove acme/app\n\nNeeds Contents and Workflows write (fine-grained) or the workflow scope (classic)."
    )]
    Remove {
        /// The repository, OWNER/REPO
        repo: String,
    },
}

const SCAN_HELP: &str = "\
For every repository whose default branch has a workflow using anthropics/claude-code-action:
the secret each Claude step reads, the scope it resolves to (environment > repository >
organization) and the copies it shadows, the model, and the last run with its failure signature.
A Claude step in a reusable workflow of another repository (an organization's shared workflows,
`uses: org/shared/.github/workflows/claude.yml@v1`) is read there at that ref and listed under
its caller, with the caller's secret; a called workflow the token cannot read is listed as NOT
READ, with the secrets the caller passes it. Without --probe it is read-only: it dispatches
nothing and writes nothing.

With --probe, keyfix also tests every stored key behind those workflows, once per distinct
stored secret (an organization secret read by 300 repositories is probed once, from one of
them), with one nonce for the whole scan so that the same key stored in several places shows as
one key, and names each key's cause. The probe workflow is installed as for `keyfix check`
(--install-probe, a yes at a terminal, or --probe-branch). --max-age flags secrets not updated
for longer than a rotation policy allows.

Examples:
  keyfix scan acme
  keyfix scan acme --json | jq '.repos[] | select(.last_run.signature == \"preflight_refusal\")'
  keyfix scan acme --probe --install-probe --max-age 90d

Exit codes: 0 (with --probe: every key works, none over --max-age); 10 a key must be replaced;
11 billing; 12 model; 14 undetermined; 13 transient; 18 a probe run gave no answer; 19 every key
works but some secrets are older than --max-age; 2, 3, 4 as usual.

Token: GH_TOKEN, GITHUB_TOKEN or `gh auth token` (or a GitHub App: KEYFIX_GITHUB_APP_*); it
needs Metadata, Contents, Actions, Secrets and Environments read (fine-grained token or App) or
the repo scope (classic), and Contents read on the repositories of called workflows; --probe
needs what `keyfix check` needs to install and dispatch the probe.";

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// The user or organization
    pub owner: String,

    /// Requests in flight at once (1 to 8)
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u8).range(1..=8))]
    pub concurrency: u8,

    /// Probe the stored key behind every Claude workflow, once per distinct stored secret
    #[arg(long)]
    pub probe: bool,

    #[command(flatten)]
    pub probe_run: ProbeRunArgs,

    /// Probe runs at once (1 to 16), with --probe
    #[arg(long, value_name = "N", default_value_t = 4, requires = "probe",
          value_parser = clap::value_parser!(u8).range(1..=16))]
    pub probe_concurrency: u8,

    /// Flag secrets not updated for longer than DURATION (90d, 12w, 2160h)
    #[arg(long, value_name = "DURATION", value_parser = parse_max_age)]
    pub max_age: Option<(String, std::time::Duration)>,

    /// Read a second key of the organization that should pay from standard input (with --probe)
    #[arg(long, conflicts_with = "reference_key_env", requires = "probe")]
    pub reference_key_stdin: bool,

    /// Read a second key of the organization that should pay from the environment variable VAR
    /// (with --probe)
    #[arg(long, value_name = "VAR", requires = "probe")]
    pub reference_key_env: Option<String>,
}

/// `--max-age`: a positive duration in days, weeks or hours, kept as written for the report.
fn parse_max_age(text: &str) -> Result<(String, std::time::Duration), String> {
    let unit_ok = text
        .trim_start_matches(|c: char| c.is_ascii_digit())
        .chars()
        .all(|c| matches!(c, 'd' | 'w' | 'h'));
    match humantime::parse_duration(text) {
        Ok(duration) if unit_ok && !duration.is_zero() && text.len() > 1 => {
            Ok((text.to_owned(), duration))
        }
        _ => Err(format!(
            "`{text}` is not a duration keyfix reads: write a number of days, weeks or hours, such as 90d, 12w or 2160h"
        )),
    }
}

const VALIDATE_HELP: &str = "\
keyfix checks the key's shape, calls GET /v1/models and POST /v1/messages (max_tokens 1) on
the model, and on claude-haiku-4-5 when that fails, then names the cause with its evidence.
With ANTHROPIC_ADMIN_KEY set, it also looks the key up in the Admin API.

Examples:
  keyfix validate
  keyfix validate --key-env NEW_ANTHROPIC_KEY --model claude-sonnet-4-5
  printf '%s' \"$KEY\" | keyfix validate --key-stdin --json

Exit codes: 0 the key works; 10 replace the key; 11 billing; 12 model not available;
13 transient; 14 undetermined; 2 usage; 3 input needed; 1 unexpected failure.";

/// Where the key comes from: never a flag value.
#[derive(Debug, Args, Clone, Default)]
pub struct KeyInputArgs {
    /// Read the key from standard input (to end of file; trailing CR/LF trimmed)
    #[arg(long, conflicts_with = "key_env")]
    pub key_stdin: bool,

    /// Read the key from the environment variable VAR
    #[arg(long, value_name = "VAR")]
    pub key_env: Option<String>,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub key: KeyInputArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_go_before_or_after_the_command() {
        let before = Cli::try_parse_from(["keyfix", "--json", "validate", "--key-stdin"]).unwrap();
        let after = Cli::try_parse_from(["keyfix", "validate", "--key-stdin", "--json"]).unwrap();
        assert!(before.global.json && after.global.json);
    }

    #[test]
    fn there_is_no_flag_that_takes_a_key_value() {
        let err = Cli::try_parse_from(["keyfix", "validate", "--key", "sk-ant-api03-x"]);
        assert!(err.is_err());
    }
}
