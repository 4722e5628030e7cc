//! Human text: evidence first, then the cause and the one remedy. Calm and short.

use std::fmt::Write;

use crate::diagnosis::{Cause, Diagnosis, EvidenceItem, Source};
use crate::github::runs::Signature;
use crate::github::secrets::Written;
use crate::github::workflows::Credential;
use crate::github::workflows::ModelSource;
use crate::outcome::{
    Action, CommandName, Found, Health, KeySummary, Outcome, RotateEnd, RotationReport,
    ScannedRepo, ScopeHealth, TargetReport,
};

use super::shown::shown;
use super::Style;

/// The text printed on stdout for an outcome that has one (failures go to stderr).
pub fn render(outcome: &Outcome, style: Style) -> String {
    if let (CommandName::Probe, None, Some(text)) =
        (outcome.command(), &outcome.error, outcome.file_to_commit())
    {
        return text.to_owned();
    }
    let mut out = String::new();
    if let Some(repo) = outcome.repo() {
        let _ = writeln!(out, "{:<10} {}", "Repository", shown(repo));
    }
    if let Some(found) = outcome.found() {
        render_context(&mut out, found);
    }
    render_probe(&mut out, outcome.actions());
    if let Some(validated) = outcome.validated() {
        if let Some(key) = &validated.key {
            let _ = writeln!(out, "{:<10} {}", "Key", describe_key(key));
        }
        if let Some(model) = &validated.model {
            let _ = writeln!(out, "{:<10} {}", "Model", shown(model));
        }
    }
    if let Some(diagnosis) = outcome.diagnosis() {
        render_diagnosis(&mut out, diagnosis, style);
    }
    match outcome.rotated() {
        // After the table: what `rotate` did beside the writes.
        Some(rotated) => {
            if let (Some(targets), Some(rotation)) = (&rotated.targets, &rotated.rotation) {
                render_rotation(&mut out, targets, rotation, rotated.end.as_ref(), style);
            }
            render_fix(&mut out, outcome.actions(), "Old key", style);
        }
        None => render_fix(&mut out, outcome.actions(), "Done", style),
    }
    if let Some(repos) = outcome.scanned() {
        render_scan(&mut out, repos, style);
    }
    if let Some(health) = outcome.health() {
        render_health(&mut out, health, style);
    }
    if let (Some(_), Some(text)) = (&outcome.error, outcome.file_to_commit()) {
        let _ = write!(
            out,
            "Commit this file as {} yourself, then run keyfix again:\n\n{text}",
            crate::probe::PATH
        );
    }
    out
}

/// What the diagnosis is about: workflow, secret, failed run.
fn render_context(out: &mut String, outcome: &Found) {
    if let Some(wf) = &outcome.workflow {
        let assumed = match wf.model_source {
            ModelSource::Default => " (Claude Code's default: the workflow names none)",
            ModelSource::InputDefault => {
                " (its input's default: runs given another model use that one)"
            }
            ModelSource::Unresolved => {
                " (assumed, Claude Code's default: the workflow chooses the model with an expression keyfix cannot resolve; pass --model)"
            }
            _ => "",
        };
        let called = wf
            .called_workflow
            .as_ref()
            .map(|c| format!(", in {}", shown(&c.to_string())))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{:<10} {} (job {}{called}), model {}{assumed}",
            "Workflow",
            shown(&wf.path),
            shown(&wf.job),
            shown(&wf.model)
        );
    }
    if let Some(secret) = &outcome.secret {
        let mut line = match &secret.scope {
            Some(scope) => format!(
                "{}, read from the {} secret",
                shown(&secret.name),
                shown(&scope.to_string())
            ),
            None => format!(
                "{}, defined in no scope the job can see",
                shown(&secret.name)
            ),
        };
        if let Some(updated) = &secret.updated_at {
            line.push_str(&format!(" (updated {})", shown(updated)));
        }
        if !secret.shadows.is_empty() {
            line.push_str(&format!(
                "; it shadows the {} copy",
                scopes_shown(&secret.shadows, " and ")
            ));
        }
        let _ = writeln!(out, "{:<10} {line}", "Secret");
    }
    if let Some(run) = &outcome.failed_run {
        let by = run
            .actor
            .as_ref()
            .map(|a| format!(" by {}", shown(a)))
            .unwrap_or_default();
        let signature = match run.signature {
            Some(Signature::PreflightRefusal) => " — refused before any work",
            Some(Signature::NoSecrets) => " — the run got no Actions secrets",
            None => "",
        };
        let label = if run.green { "Last run" } else { "Failed run" };
        let _ = writeln!(
            out,
            "{label:<10} run {} ({}{by}){signature}",
            run.id,
            shown(&run.event)
        );
        if run.green {
            let _ = writeln!(
                out,
                "{:<10} it passed although Claude was refused (action versions v1.0.146–v1.0.171 let such a step pass)",
                ""
            );
        }
        if let Some(result) = &run.result {
            let _ = writeln!(
                out,
                "{:<10} the action's log says \"{}\"",
                "",
                shown(result)
            );
        }
    }
}

/// What keyfix did with the probe, a line each.
fn render_probe(out: &mut String, actions: &[Action]) {
    for line in actions.iter().filter_map(probe_action) {
        let _ = writeln!(out, "{:<10} {line}", "Probe");
    }
}

fn probe_action(action: &Action) -> Option<String> {
    match action {
        Action::ProbeInstalled {
            path,
            updated: false,
        } => Some(format!("installed {}", shown(path))),
        Action::ProbeInstalled {
            path,
            updated: true,
        } => Some(format!("updated {}", shown(path))),
        Action::ProbeRun { run_id, .. } => Some(format!("run {run_id} reported")),
        Action::ProbeRemoved { path } => Some(format!("removed {}", shown(path))),
        Action::ProbeBranch {
            branch,
            deleted: true,
        } => Some(format!("ran from throwaway branch {branch}, since deleted")),
        Action::ProbeBranch {
            branch,
            deleted: false,
        } => Some(format!(
            "ran from throwaway branch {branch}, still there: delete it with `{}`",
            crate::probe::branch::delete_command(branch)
        )),
        Action::PullRequestOpened { number, url, .. } => {
            Some(format!("pull request #{number} adds it: {}", shown(url)))
        }
        _ => None,
    }
}

/// What `repo` did after the diagnosis, one line each.
fn render_fix(out: &mut String, actions: &[Action], heading: &str, style: Style) {
    let lines: Vec<String> = actions
        .iter()
        .filter_map(|action| fix_line(action, style, KeyPieces::Shown))
        .collect();
    if lines.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n{}", style.bold(heading));
    for line in lines {
        let _ = writeln!(out, "  {line}");
    }
}

/// Whether a line may show the pieces of a key that keyfix shows a person: a key's display form
/// (`sk-ant-api03-…igAA`) and an Admin API hint. Text that others read (a job summary) has none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum KeyPieces {
    Shown,
    Withheld,
}

/// One line for an action of the fix (or of `rotate --retire-old`); `None` for the probe's.
pub(super) fn fix_line(action: &Action, style: Style, pieces: KeyPieces) -> Option<String> {
    let hint = |hint: &str| match pieces {
        KeyPieces::Shown => format!("{}, ", shown(hint)),
        KeyPieces::Withheld => String::new(),
    };
    Some(match action {
        Action::KeyValidated { key, model } => match pieces {
            KeyPieces::Shown => format!("validated the new key {key} on {}", shown(model)),
            KeyPieces::Withheld => format!("validated the new key on {}", shown(model)),
        },
        Action::SecretUpdated {
            secret,
            scope,
            written,
        } => {
            let how = match written {
                Written::Created => "created",
                Written::Updated => "updated",
            };
            format!("{how} {} ({})", shown(secret), shown(&scope.to_string()))
        }
        Action::Verified {
            run_id,
            fingerprint_matches: true,
        } => format!("verified: probe run {run_id} saw the new key working"),
        Action::Verified { run_id, .. } => {
            format!("not verified: probe run {run_id} did not see the new key")
        }
        Action::VerificationSkipped { reason } => format!("not verified: {}", shown(reason)),
        Action::RerunRequested { run_id } => format!("re-ran the failed jobs of run {run_id}"),
        Action::RerunRefused { reason, .. } => format!("no re-run: {}", shown(reason)),
        Action::RerunFinished {
            run_id,
            attempt,
            conclusion,
        } => {
            let painted = if conclusion == "success" {
                style.good(conclusion)
            } else {
                style.bad(&shown(conclusion))
            };
            format!("run {run_id} attempt {attempt}: {painted}")
        }
        Action::OldKeyRetired { id, name, hint: h } => format!(
            "retired the old key {} ({}{}): inactive, which the Console can undo",
            shown(name),
            hint(h),
            shown(id)
        ),
        Action::OldKeyToRetire { id, name, hint: h } => format!(
            "--retire-old would retire {} ({}{}) once every target is rotated",
            shown(name),
            hint(h),
            shown(id)
        ),
        Action::OldKeyKept { reason } => format!("old key kept: {}", shown(reason)),
        Action::ProbeInstalled { .. }
        | Action::ProbeRun { .. }
        | Action::ProbeRemoved { .. }
        | Action::ProbeBranch { .. }
        | Action::PullRequestOpened { .. } => return None,
    })
}

/// `rotate`'s closing table: target, secret, scope, status, detail.
fn render_rotation(
    out: &mut String,
    targets: &[TargetReport],
    rotation: &RotationReport,
    end: Option<&RotateEnd>,
    style: Style,
) {
    let header = ["TARGET", "SECRET", "SCOPE", "STATUS", "DETAIL"].map(String::from);
    let rows: Vec<[String; 5]> = targets
        .iter()
        .map(|t| {
            let status = match t.status {
                "rotated" => style.good(t.status),
                "pending" => t.status.to_owned(),
                other => style.bad(other),
            };
            [
                shown(&t.repo).into_owned(),
                shown(&t.secret).into_owned(),
                shown(&t.scope.to_string()).into_owned(),
                status,
                shown(t.error.as_deref().unwrap_or_default()).into_owned(),
            ]
        })
        .collect();
    let _ = write!(out, "{}", table(&header, &rows, style));
    let rotated = targets.iter().filter(|t| t.status == "rotated").count();
    if end == Some(&RotateEnd::DryRun) {
        let _ = writeln!(
            out,
            "\nDry run: {} planned for {}, nothing written; {} GitHub requests.",
            super::counted(rotation.planned_writes, "write"),
            super::counted(targets.len(), "target"),
            rotation.github_requests,
        );
        return;
    }
    let _ = writeln!(
        out,
        "\n{rotated} of {} targets rotated with {} of {} writes; {} GitHub requests, {} secondary-limit waits.",
        targets.len(),
        rotation.writes,
        rotation.planned_writes,
        rotation.github_requests,
        rotation.secondary_limit_waits
    );
    if let Some(journal) = &rotation.journal {
        let _ = writeln!(out, "Journal: {}", shown(journal));
    }
}

/// Left-aligned columns, the last one free; the header in bold.
fn table<const N: usize>(header: &[String; N], rows: &[[String; N]], style: Style) -> String {
    let visible = |text: &str| {
        let mut plain = String::new();
        let mut in_escape = false;
        for c in text.chars() {
            match (in_escape, c) {
                (false, '\x1b') => in_escape = true,
                (true, 'm') => in_escape = false,
                (false, c) => plain.push(c),
                _ => {}
            }
        }
        plain.chars().count()
    };
    let widths: Vec<usize> = (0..N)
        .map(|c| {
            rows.iter()
                .map(|r| visible(&r[c]))
                .chain([header[c].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String; N]| {
        let mut text = String::new();
        for (c, cell) in cells.iter().enumerate() {
            text.push_str(cell);
            if c + 1 < N {
                text.push_str(&" ".repeat(widths[c] - visible(cell) + 2));
            }
        }
        text.trim_end().to_owned()
    };
    let mut out = format!("{}\n", style.bold(&line(header)));
    for row in rows {
        out.push_str(&line(row));
        out.push('\n');
    }
    out
}

/// `scan`'s table: one row per Claude step, then what to look at.
fn render_scan(out: &mut String, repos: &[ScannedRepo], style: Style) {
    if repos.is_empty() {
        let _ = writeln!(out, "No repository uses anthropics/claude-code-action.");
        return;
    }
    let header = [
        "REPOSITORY",
        "WORKFLOW",
        "SECRET",
        "SCOPE",
        "MODEL",
        "LAST RUN",
    ]
    .map(String::from);
    let mut rows: Vec<[String; 6]> = Vec::new();
    for repo in repos {
        let last = repo.last_run.as_ref().map_or_else(
            || "no runs".to_owned(),
            |run| {
                let conclusion = run
                    .conclusion
                    .as_deref()
                    .map_or_else(|| "in progress".to_owned(), |c| shown(c).into_owned());
                match run.signature {
                    Some(signature) => format!(
                        "{conclusion}: {}",
                        serde_json::to_value(signature)
                            .unwrap_or_default()
                            .as_str()
                            .unwrap_or_default()
                    ),
                    None => conclusion,
                }
            },
        );
        let mut repo_rows: Vec<[String; 4]> = repo.workflows.iter().map(scan_row).collect();
        repo_rows.extend(
            repo.warnings
                .iter()
                .filter_map(|w| Some(unread_call_row(&w.path, w.unread_call.as_ref()?))),
        );
        for (i, [workflow, secret, scope, model]) in repo_rows.into_iter().enumerate() {
            let (name, last) = if i == 0 {
                (shown(&repo.repo).into_owned(), last.clone())
            } else {
                (String::new(), String::new())
            };
            rows.push([name, workflow, secret, scope, model, last]);
        }
    }
    let _ = write!(out, "{}", table(&header, &rows, style));
    let refused: Vec<&str> = repos
        .iter()
        .filter(|r| {
            r.last_run
                .as_ref()
                .is_some_and(|run| run.signature == Some(Signature::PreflightRefusal))
        })
        .map(|r| r.repo.as_str())
        .collect();
    let count = match repos.len() {
        1 => "1 repository uses".to_owned(),
        n => format!("{n} repositories use"),
    };
    let _ = writeln!(out, "\n{count} claude-code-action.");
    // A call keyfix could not follow may hide the Claude job: its reason is said on stdout, not
    // only as a warning on stderr.
    for repo in repos {
        for warning in repo.warnings.iter().filter(|w| w.unread_call.is_some()) {
            let _ = writeln!(
                out,
                "{}: {}: {}",
                shown(&repo.repo),
                shown(&warning.path),
                shown(&warning.message)
            );
        }
    }
    for repo in refused {
        let repo = shown(repo);
        let _ = writeln!(
            out,
            "{repo}: the last run was refused before any work (a key or billing refusal); run `keyfix check {repo}`."
        );
    }
}

/// `scan --probe` / `--max-age`: each key with the places it is stored, its cause and remedy.
fn render_health(out: &mut String, health: &Health, style: Style) {
    let age = health
        .max_age
        .as_deref()
        .map(|max| format!(" (over {})", shown(max)));
    let heading = if health.probed {
        "Stored keys, each stored secret probed once"
    } else {
        "Stored secrets"
    };
    let _ = writeln!(out, "\n{}", style.bold(heading));
    for group in health.keys() {
        let cause = group.cause();
        let places = match group.scopes.len() {
            1 => String::new(),
            n => format!(", stored in {n} places"),
        };
        match (group.fingerprint, cause) {
            (Some(fingerprint), Some(cause)) => {
                let _ = writeln!(
                    out,
                    "\nKey {fingerprint}: {}{places}",
                    painted(cause, style)
                );
            }
            (None, Some(cause)) => {
                let _ = writeln!(out, "\nNo key: {}", painted(cause, style));
            }
            _ => out.push('\n'),
        }
        for scope in &group.scopes {
            render_scope_health(out, scope, cause, age.as_deref().unwrap_or_default(), style);
        }
        if let Some(diagnosis) = group.scopes.iter().find_map(|s| s.diagnosis.as_ref()) {
            if diagnosis.cause != Cause::Ok {
                let _ = writeln!(out, "  {}", shown(&diagnosis.summary));
                let _ = writeln!(out, "  Fix: {}", shown(&diagnosis.remedy));
            }
        }
    }
    let _ = writeln!(out, "\n{}", health_count(health));
}

/// One stored secret of a key: where, when last updated, who reads it, and what differs from
/// the key's cause (its own cause, or why it was not probed).
fn render_scope_health(
    out: &mut String,
    scope: &ScopeHealth,
    key_cause: Option<Cause>,
    over: &str,
    style: Style,
) {
    let updated = match &scope.updated_at {
        Some(at) if scope.over_age => format!(", updated {}{}", shown(at), style.bad(over)),
        Some(at) => format!(", updated {}", shown(at)),
        None => String::new(),
    };
    // An organization secret may be read by hundreds: the JSON lists them all.
    const SHOWN_READERS: usize = 5;
    let mut readers = scope
        .read_by
        .iter()
        .take(SHOWN_READERS)
        .map(|r| shown(r).into_owned())
        .collect::<Vec<_>>()
        .join(", ");
    if scope.read_by.len() > SHOWN_READERS {
        let _ = write!(readers, " and {} more", scope.read_by.len() - SHOWN_READERS);
    }
    let _ = writeln!(
        out,
        "  {}{updated}; read by {readers}",
        shown(&scope.stored.to_string())
    );
    match (&scope.failure, scope.cause()) {
        (Some(failure), _) => {
            let _ = writeln!(out, "    not probed: {}", shown(&failure.message));
        }
        (None, Some(cause)) if Some(cause) != key_cause => {
            let _ = writeln!(out, "    {} here", painted(cause, style));
        }
        _ => {}
    }
    let probe: Vec<String> = scope.actions.iter().filter_map(probe_action).collect();
    if !probe.is_empty() {
        let _ = writeln!(
            out,
            "    {}",
            style.dim(&format!("probe: {}", probe.join("; ")))
        );
    }
}

fn painted(cause: Cause, style: Style) -> String {
    if cause == Cause::Ok {
        style.good(cause.name())
    } else {
        style.bad(cause.name())
    }
}

/// `3 stored secrets, 2 keys: 1 works, 1 must be replaced; 1 secret over 90d.`
fn health_count(health: &Health) -> String {
    let scopes = crate::output::counted(health.scopes.len(), "stored secret");
    let mut parts = Vec::new();
    if health.probed {
        let keys = health.keys();
        let working = keys.iter().filter(|k| k.cause() == Some(Cause::Ok)).count();
        let failing = keys
            .iter()
            .filter(|k| k.cause().is_some_and(|c| c != Cause::Ok))
            .count();
        let unprobed = health.scopes.iter().filter(|s| s.failure.is_some()).count();
        parts.push(format!("{working} working, {failing} needing attention"));
        if unprobed > 0 {
            parts.push(format!("{unprobed} not probed"));
        }
    }
    if let Some(max) = &health.max_age {
        let old = health.scopes.iter().filter(|s| s.over_age).count();
        parts.push(format!("{old} not updated for over {}", shown(max)));
    }
    format!("{scopes}: {}.", parts.join("; "))
}

/// A Claude step's workflow, secret, scope and model in `scan`'s table.
fn scan_row(wf: &crate::outcome::ScannedWorkflow) -> [String; 4] {
    let file = wf.path.rsplit('/').next().unwrap_or(&wf.path);
    let secret = match (&wf.secret, &wf.secret_expression) {
        (Some(name), _) => shown(name).into_owned(),
        (None, Some(expression)) => format!("{} (unresolved)", shown(expression)),
        (None, None) => format!("({})", credential_name(wf.credential)),
    };
    let mut scope = match (&wf.scope, &wf.secret) {
        (Some(scope), _) => shown(&scope.to_string()).into_owned(),
        (None, Some(_)) => "MISSING".to_owned(),
        (None, None) => "-".to_owned(),
    };
    if !wf.shadows.is_empty() {
        scope.push_str(&format!(" (shadows {})", scopes_shown(&wf.shadows, ", ")));
    }
    let model = match (&wf.model_expression, wf.model_source) {
        (Some(expression), ModelSource::Unresolved) => {
            format!("{} (assumed; {})", shown(&wf.model), shown(expression))
        }
        _ => shown(&wf.model).into_owned(),
    };
    let workflow = format!(
        "{} ({}){}",
        shown(file),
        shown(&wf.job),
        called_suffix(wf.called_workflow.as_ref())
    );
    [workflow, secret, scope, model]
}

/// A job whose called workflow keyfix could not read, in `scan`'s table: the secrets it passes,
/// and no scope or model, since its Claude step (if any) was not seen.
fn unread_call_row(path: &str, call: &crate::github::workflows::UnreadCall) -> [String; 4] {
    let file = path.rsplit('/').next().unwrap_or(path);
    let passed = &call.passed_secrets;
    let secret = match (passed.inherit, passed.names.is_empty()) {
        (true, _) => "(inherit)".to_owned(),
        (false, true) => "-".to_owned(),
        (false, false) => shown(&passed.names.join(", ")).into_owned(),
    };
    let workflow = format!(
        "{} ({}){}",
        shown(file),
        shown(&call.job_id),
        called_suffix(Some(&call.called_workflow))
    );
    [workflow, secret, "-".to_owned(), "NOT READ".to_owned()]
}

/// ` via ORG/REPO@REF` for a step in another repository's workflow.
fn called_suffix(called: Option<&crate::github::workflows::CalledWorkflow>) -> String {
    called
        .map(|c| format!(" via {}@{}", shown(&c.repo.to_string()), shown(&c.git_ref)))
        .unwrap_or_default()
}

/// Scopes for a person: an environment's name is outside text.
fn scopes_shown(scopes: &[crate::github::secrets::Scope], separator: &str) -> String {
    scopes
        .iter()
        .map(|scope| shown(&scope.to_string()).into_owned())
        .collect::<Vec<_>>()
        .join(separator)
}

fn credential_name(credential: Credential) -> &'static str {
    match credential {
        Credential::ApiKey | Credential::ApiKeyAndOauthToken => "api key",
        Credential::OauthToken => "oauth token",
        Credential::Bedrock => "bedrock",
        Credential::Vertex => "vertex",
        Credential::Foundry => "foundry",
        Credential::WorkloadIdentity => "workload identity",
        Credential::None => "no credential",
    }
}

fn describe_key(key: &KeySummary) -> String {
    let mut text = format!(
        "{}  ({}, {} characters",
        key.display,
        key.kind.as_str(),
        key.length
    );
    if !key.defects.is_empty() {
        let defects: Vec<&str> = key.defects.iter().map(|d| d.describe()).collect();
        let _ = write!(text, "; {}", defects.join(", "));
    }
    text.push(')');
    text
}

fn render_diagnosis(out: &mut String, d: &Diagnosis, style: Style) {
    if !d.evidence.is_empty() {
        let _ = writeln!(out, "\n{}", style.bold("Evidence"));
        let mut last_account = None;
        for item in &d.evidence {
            render_evidence(out, item, style, &mut last_account);
        }
    }
    let _ = writeln!(
        out,
        "\n{} {}",
        style.bold(&format!("{:<10}", "Cause")),
        painted(d.cause, style)
    );
    let _ = writeln!(out, "  {}", shown(&d.summary));
    for note in &d.notes {
        let _ = writeln!(out, "  {}", shown(note));
    }
    let _ = writeln!(
        out,
        "\n{} {}",
        style.bold(&format!("{:<10}", "Fix")),
        shown(&d.remedy)
    );
    let helps = match d.rotation_helps() {
        _ if d.cause == Cause::Ok => None,
        Some(true) => Some("a new key fixes this"),
        Some(false) => Some("a new key will not help"),
        None => Some("whether a new key helps is not known yet"),
    };
    if let Some(helps) = helps {
        let _ = writeln!(out, "  {}", style.dim(&format!("({helps})")));
    }
}

fn source_label(source: Source) -> &'static str {
    match source {
        Source::Probe => "stored",
        Source::Reference => "key",
        Source::Admin => "admin",
        Source::Run => "run",
    }
}

/// The account facts of an answer, shown once per key rather than on every line.
fn account_line(item: &EvidenceItem) -> Option<String> {
    let answer = item.answer.as_ref()?;
    let mut facts = Vec::new();
    if let Some(org) = &answer.organization_id {
        facts.push(format!("organization {}", shown(org)));
    }
    if let Some(ws) = &answer.workspace_id {
        facts.push(format!("workspace {}", shown(ws)));
    }
    if let Some(limit) = answer.requests_limit {
        facts.push(format!("{limit} requests/min (a hint at the usage tier)"));
    }
    (!facts.is_empty()).then(|| facts.join(", "))
}

fn render_evidence(
    out: &mut String,
    item: &EvidenceItem,
    style: Style,
    last_account: &mut Option<(Source, String)>,
) {
    let label = source_label(item.source);
    if let Some(record) = &item.admin_record {
        let _ = writeln!(
            out,
            "  {label:<7}Admin API record {} ({}): status {}",
            shown(&record.id),
            shown(&record.name),
            shown(&record.status)
        );
        return;
    }
    if let Some(event) = &item.event {
        let _ = writeln!(out, "  {label:<7}failed run triggered by {}", shown(event));
        return;
    }
    let target = match (&item.call, &item.model) {
        (Some(call), Some(model)) => format!("{} {}", endpoint_name(*call), shown(model)),
        (Some(call), None) => endpoint_name(*call).to_owned(),
        (None, _) => String::new(),
    };
    let latency = item
        .latency_ms
        .map(|ms| format!("{ms} ms"))
        .unwrap_or_default();
    let Some(answer) = &item.answer else {
        let _ = writeln!(out, "  {label:<7}{target:<30} no answer {latency:>30}");
        return;
    };
    let status = answer.status.to_string();
    let status = if (200..300).contains(&answer.status) {
        style.good(&status)
    } else {
        style.bad(&status)
    };
    let error_type = shown(answer.error_type.as_deref().unwrap_or(""));
    let request_id = shown(answer.request_id.as_deref().unwrap_or(""));
    let _ = writeln!(
        out,
        "  {label:<7}{target:<30} {status} {error_type:<22} {latency:>7}  {}",
        style.dim(&request_id)
    );
    if let Some(message) = &answer.message {
        let _ = writeln!(out, "         \"{}\"", shown(message));
    }
    let mut facts = Vec::new();
    if let Some(code) = &answer.error_code {
        facts.push(format!("error_code {}", shown(code)));
    }
    if answer.retry_after {
        facts.push("retry-after set".to_owned());
    }
    if let Some(account) = account_line(item) {
        let current = Some((item.source, account.clone()));
        if *last_account != current {
            facts.push(account);
            *last_account = current;
        }
    }
    if !facts.is_empty() {
        let _ = writeln!(out, "         {}", style.dim(&facts.join("; ")));
    }
}

fn endpoint_name(endpoint: crate::diagnosis::Endpoint) -> &'static str {
    match endpoint {
        crate::diagnosis::Endpoint::Models => "models",
        crate::diagnosis::Endpoint::Messages => "messages",
    }
}
