//! The job summary: in GitHub Actions (`GITHUB_STEP_SUMMARY` set), every command appends a short
//! Markdown account of what it found and did to the run's summary page. Others read that page,
//! and a public repository's runs are public: it holds no piece of any key (no display form, no
//! Admin API hint), and every outside text is escaped so that it stays text.

use std::fmt::Write as _;
use std::io::Write as _;

use crate::diagnosis::Diagnosis;
use crate::outcome::{Action, Health, Outcome, RotateReport, ScannedRepo};

use super::human::{fix_line, KeyPieces};
use super::shown::shown;
use super::Style;

/// The environment variable GitHub Actions names the summary file in.
pub const STEP_SUMMARY_ENV: &str = "GITHUB_STEP_SUMMARY";

/// Appends the outcome's summary to the file `GITHUB_STEP_SUMMARY` names, when it is set. A
/// summary that cannot be written is said on stderr: it never changes the command's result.
pub fn append_to_step_summary(outcome: &Outcome) {
    let Some(path) = std::env::var_os(STEP_SUMMARY_ENV).filter(|p| !p.is_empty()) else {
        return;
    };
    let written = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .and_then(|mut file| file.write_all(markdown(outcome).as_bytes()));
    if let Err(e) = written {
        tracing::warn!(
            "the job summary ({STEP_SUMMARY_ENV}={}) could not be written: {e}",
            std::path::Path::new(&path).display()
        );
    }
}

/// The summary of one command's outcome.
pub fn markdown(outcome: &Outcome) -> String {
    let mut out = String::new();
    let command = outcome.command().name();
    let _ = match outcome.repo() {
        Some(repo) => writeln!(out, "### keyfix {command}: {}\n", md(repo)),
        None => writeln!(out, "### keyfix {command}\n"),
    };
    if let Some(diagnosis) = outcome.diagnosis() {
        diagnosis_md(&mut out, diagnosis);
    }
    let done: Vec<String> = outcome
        .actions()
        .iter()
        .filter_map(action_md)
        .map(|line| format!("- {line}"))
        .collect();
    if !done.is_empty() {
        let _ = writeln!(out, "{}\n", done.join("\n"));
    }
    if let Some(rotated) = outcome.rotated() {
        rotation_md(&mut out, rotated);
    }
    if let Some(repos) = outcome.scanned() {
        scan_md(&mut out, repos);
    }
    if let Some(health) = outcome.health() {
        health_md(&mut out, health);
    }
    if let Some(failure) = &outcome.error {
        let _ = writeln!(out, "**Error:** {}\n", md(&failure.message));
    }
    let _ = writeln!(out, "Exit code: {}\n", outcome.exit_code());
    out
}

fn diagnosis_md(out: &mut String, diagnosis: &Diagnosis) {
    let _ = writeln!(
        out,
        "**Cause: `{}`** — {}\n\n{}\n",
        diagnosis.cause,
        md(&diagnosis.summary),
        md(&diagnosis.remedy)
    );
}

fn action_md(action: &Action) -> Option<String> {
    fix_line(action, Style::plain(), KeyPieces::Withheld).map(|line| md(&line))
}

fn rotation_md(out: &mut String, rotated: &RotateReport) {
    let Some(targets) = &rotated.targets else {
        return;
    };
    let rows: Vec<[String; 5]> = targets
        .iter()
        .map(|t| {
            [
                md(&t.repo),
                md(&t.secret),
                md(&t.scope.to_string()),
                t.status.to_owned(),
                t.error.as_deref().map(md).unwrap_or_default(),
            ]
        })
        .collect();
    table(
        out,
        ["Target", "Secret", "Scope", "Status", "Detail"],
        &rows,
    );
}

fn scan_md(out: &mut String, repos: &[ScannedRepo]) {
    let rows: Vec<[String; 5]> = repos
        .iter()
        .flat_map(|repo| {
            repo.workflows.iter().map(move |wf| {
                [
                    md(&repo.repo),
                    md(&format!("{} ({})", wf.path, wf.job)),
                    wf.secret.as_deref().map(md).unwrap_or_else(|| "-".into()),
                    wf.scope
                        .as_ref()
                        .map_or_else(|| "-".into(), |s| md(&s.to_string())),
                    md(&wf.model),
                ]
            })
        })
        .collect();
    if rows.is_empty() {
        let _ = writeln!(out, "No repository uses anthropics/claude-code-action.\n");
        return;
    }
    table(
        out,
        ["Repository", "Workflow", "Secret", "Scope", "Model"],
        &rows,
    );
}

/// The stored secrets by key, numbered rather than fingerprinted: the summary carries nothing
/// derived from any key.
fn health_md(out: &mut String, health: &Health) {
    let over = health.max_age.as_deref().map(md);
    let rows: Vec<[String; 5]> = health
        .keys()
        .iter()
        .enumerate()
        .flat_map(|(i, group)| {
            let over = over.clone();
            group.scopes.iter().map(move |scope| {
                let state = match (&scope.failure, scope.cause()) {
                    (Some(failure), _) => format!("not probed: {}", md(&failure.message)),
                    (None, Some(cause)) => format!("`{}`", cause.name()),
                    (None, None) => "-".to_owned(),
                };
                let updated = match (&scope.updated_at, &over) {
                    (Some(at), Some(max)) if scope.over_age => {
                        format!("{} (over {max})", md(at))
                    }
                    (Some(at), _) => md(at),
                    (None, _) => "-".to_owned(),
                };
                let key = if group.fingerprint.is_some() {
                    format!("key {}", i + 1)
                } else {
                    "-".to_owned()
                };
                [
                    key,
                    state,
                    md(&scope.stored.to_string()),
                    updated,
                    md(&scope.read_by.join(", ")),
                ]
            })
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    table(
        out,
        ["Key", "Cause", "Stored in", "Updated", "Read by"],
        &rows,
    );
}

fn table<const N: usize>(out: &mut String, header: [&str; N], rows: &[[String; N]]) {
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(N));
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    out.push('\n');
}

/// Outside text as Markdown text: control characters (a line break too, which would end a table
/// row) made visible as on a terminal, and every character Markdown or HTML would act on escaped.
fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in shown(text).chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '!' | '~' | '{' | '}' | '(' | ')' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_text_stays_text() {
        assert_eq!(
            md("<img src=x onerror=alert(1)> | **bold** `code` [link](http://x)"),
            "&lt;img src=x onerror=alert\\(1\\)&gt; \\| \\*\\*bold\\*\\* \\`code\\` \\[link\\]\\(http://x\\)"
        );
        assert_eq!(md("a\nb"), "a\\\\nb", "shown as a\\nb");
    }
}
