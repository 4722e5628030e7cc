//! keyfix: tells the causes of "Credit balance is too low" apart and fixes the key when a new
//! key is the fix. This file parses, runs, prints and exits; nothing else does.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;

use keyfix::anthropic;
use keyfix::cli::{self, Cli, Command};
use keyfix::commands::{self, Context};
use keyfix::input::Interactivity;
use keyfix::outcome::Outcome;
use keyfix::output::{self, Progress, Style};
use keyfix::work::findings::SubjectArgs;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(printed) = print_shell_integration(&cli.command) {
        return printed;
    }
    init_logging(cli.global.verbose, cli.global.quiet);
    // reqwest is built without a default TLS provider, so that only ring is linked.
    let _ = rustls::crypto::ring::default_provider().install_default();

    let ctx = Context {
        interactivity: Interactivity::decide(cli.global.no_input, cli.global.json),
        progress: Progress::new(cli.global.quiet > 0),
        anthropic: anthropic::Config::new(cli.global.anthropic_base_url.clone()),
        github: github_config(&cli.global),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("the async runtime starts");
    let outcome = runtime.block_on(run(cli.command, &cli.global, &ctx));
    print(&outcome, cli.global.json);
    output::summary::append_to_step_summary(&outcome);
    ExitCode::from(outcome.exit_code())
}

/// GitHub's settings from the command line and the environment.
fn github_config(global: &cli::GlobalArgs) -> keyfix::github::Config {
    let mut config = keyfix::github::Config::new(global.github_api_url.clone());
    if !global.no_cache {
        config.cache = keyfix::github::cache::default_root(
            std::env::var_os("XDG_CACHE_HOME"),
            std::env::var_os("HOME"),
        );
    }
    config
}

async fn run(command: Command, global: &cli::GlobalArgs, ctx: &Context) -> Outcome {
    match command {
        Command::Validate(args) => {
            let options = commands::validate::ValidateOptions {
                key: args.key,
                model: global
                    .model
                    .clone()
                    .unwrap_or_else(|| anthropic::BASELINE_MODEL.to_owned()),
            };
            commands::validate::run(options, ctx).await.into()
        }
        Command::Repo(args) => {
            let options = commands::repo::RepoOptions {
                subject: subject(args.repo, global),
                probe: args.probe,
                key: args.key,
                force: args.force,
                no_rerun: args.no_rerun,
                no_watch: args.no_watch,
                include_shadowed: args.include_shadowed,
                retire_old: args.retire_old,
                yes: global.yes,
            };
            commands::repo::run(options, ctx).await.into()
        }
        Command::Rotate(args) => {
            let options = commands::rotate::RotateOptions {
                targets: args.targets,
                owner: args.owner,
                targets_file: args.targets_file,
                secret: global.secret.clone(),
                key: args.key,
                dry_run: args.dry_run,
                canary: args.canary,
                no_canary: args.no_canary,
                probe: args.probe,
                journal: args.journal,
                resume: args.resume,
                write_interval: args.write_interval,
                concurrency: args.concurrency.map(usize::from),
                include_shadowed: args.include_shadowed,
                force: args.force,
                retire_old: args.retire_old,
                yes: global.yes,
            };
            commands::rotate::run(options, ctx).await.into()
        }
        Command::Check(args) => {
            let options = commands::check::CheckOptions {
                subject: subject(args.repo, global),
                probe: args.probe,
                reference: cli::KeyInputArgs {
                    key_stdin: args.reference_key_stdin,
                    key_env: args.reference_key_env,
                },
            };
            commands::check::run(options, ctx).await.into()
        }
        Command::Probe(cli::ProbeCommand::Print { repo, branch }) => {
            commands::probe::print(repo, global.secret.clone(), branch, ctx)
                .await
                .into()
        }
        Command::Probe(cli::ProbeCommand::Remove { repo }) => {
            commands::probe::remove(repo, ctx).await.into()
        }
        Command::Probe(cli::ProbeCommand::Install { repo, pull_request }) => {
            commands::probe::install(repo, global.secret.clone(), pull_request, ctx)
                .await
                .into()
        }
        Command::Completions { .. } | Command::Man => {
            unreachable!("printed before any command runs")
        }
        Command::Scan(args) => {
            let options = commands::scan::ScanOptions {
                owner: args.owner,
                concurrency: usize::from(args.concurrency),
                health: commands::scan::HealthOptions {
                    probe: args.probe,
                    probe_run: args.probe_run,
                    probe_concurrency: usize::from(args.probe_concurrency),
                    reference: cli::KeyInputArgs {
                        key_stdin: args.reference_key_stdin,
                        key_env: args.reference_key_env,
                    },
                    max_age: args.max_age,
                },
            };
            commands::scan::run(options, ctx).await.into()
        }
    }
}

/// `keyfix completions SHELL` and `keyfix man`: text about keyfix itself, printed as it is.
fn print_shell_integration(command: &Command) -> Option<ExitCode> {
    use clap::CommandFactory;
    // Made whole first: the generator panics on a write error, such as a closed pipe.
    let mut text = Vec::new();
    match command {
        Command::Completions { shell } => {
            clap_complete::generate(*shell, &mut Cli::command(), "keyfix", &mut text);
        }
        Command::Man => clap_mangen::Man::new(Cli::command())
            .render(&mut text)
            .expect("the man page renders into memory"),
        _ => return None,
    }
    Some(match std::io::stdout().lock().write_all(&text) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(1),
    })
}

/// The repository a diagnosis is about, and what the common options chose in it.
fn subject(repo: String, global: &cli::GlobalArgs) -> SubjectArgs {
    SubjectArgs {
        repo,
        secret: global.secret.clone(),
        model: global.model.clone(),
        run: global.run,
    }
}

fn print(outcome: &Outcome, json: bool) {
    let mut stdout = std::io::stdout().lock();
    if json {
        let _ = writeln!(stdout, "{}", output::json::v1::render(outcome));
        return;
    }
    if let Some(failure) = &outcome.error {
        eprintln!("error: {}", output::shown(&failure.message));
    }
    let _ = write!(
        stdout,
        "{}",
        output::human::render(outcome, Style::for_stdout())
    );
}

/// Logs go to stderr. `RUST_LOG` wins; otherwise -v raises keyfix's own level and -q lowers it.
fn init_logging(verbose: u8, quiet: u8) {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::prelude::*;
    let level = match (quiet, verbose) {
        (q, _) if q > 0 => LevelFilter::ERROR,
        (_, 0) => LevelFilter::WARN,
        (_, 1) => LevelFilter::INFO,
        (_, 2) => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    };
    let by_flags = || {
        Targets::new()
            .with_default(LevelFilter::WARN)
            .with_target("keyfix", level)
    };
    // Targets reads `LEVEL` and `TARGET=LEVEL` directives, not span or field filters: the
    // full filter language would cost the binary a regular-expression engine.
    let rust_log = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let read = rust_log.as_deref().map(str::parse::<Targets>);
    let filter = match &read {
        Some(Ok(targets)) => targets.clone(),
        _ => by_flags(),
    };
    let ansi = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let format = tracing_subscriber::fmt::layer()
        .with_ansi(ansi)
        .with_writer(|| keyfix::output::stderr::Writer)
        .with_target(false)
        .without_time();
    tracing_subscriber::registry()
        .with(filter)
        .with(format)
        .init();
    if let (Some(directives), Some(Err(_))) = (&rust_log, &read) {
        tracing::warn!(
            "RUST_LOG={directives:?} is not read (keyfix takes comma-separated LEVEL and \
             TARGET=LEVEL directives, such as warn,keyfix=debug): -v/-q decide the levels"
        );
    }
}
