//! Human text: evidence first, then the cause and the one remedy. Calm and short.

use std::fmt::Write;

use crate::diagnosis::{Diagnosis, EvidenceItem, Source};
use crate::outcome::{KeySummary, Outcome};

use super::Style;

/// The text printed on stdout for an outcome that has one (failures go to stderr).
pub fn render(outcome: &Outcome, style: Style) -> String {
    let mut out = String::new();
    if let Some(key) = &outcome.key {
        let _ = writeln!(out, "{:<10} {}", "Key", describe_key(key));
    }
    if let Some(model) = &outcome.model {
        let _ = writeln!(out, "{:<10} {model}", "Model");
    }
    if let Some(diagnosis) = &outcome.diagnosis {
        render_diagnosis(&mut out, diagnosis, style);
    }
    out
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
        for item in &d.evidence {
            render_evidence(out, item, style);
        }
    }
    let cause = d.cause.name();
    let painted = if d.cause == crate::diagnosis::Cause::Ok {
        style.good(cause)
    } else {
        style.bad(cause)
    };
    let _ = writeln!(out, "\n{:<10} {painted}", style.bold("Cause"));
    let _ = writeln!(out, "  {}", d.summary);
    for note in &d.notes {
        let _ = writeln!(out, "  {note}");
    }
    let helps = match d.rotation_helps() {
        Some(true) => "a new key fixes this",
        Some(false) => "a new key will not help",
        None => "whether a new key helps is not known yet",
    };
    let _ = writeln!(out, "\n{:<10} {}", style.bold("Fix"), d.remedy);
    let _ = writeln!(out, "  {}", style.dim(&format!("({helps})")));
}

fn source_label(source: Source) -> &'static str {
    match source {
        Source::Probe => "stored",
        Source::Reference => "key",
        Source::Admin => "admin",
        Source::Run => "run",
    }
}

fn render_evidence(out: &mut String, item: &EvidenceItem, style: Style) {
    let label = source_label(item.source);
    if let Some(record) = &item.admin_record {
        let _ = writeln!(
            out,
            "  {label:<7}Admin API record {} ({}): status {}",
            record.id, record.name, record.status
        );
        return;
    }
    if let Some(event) = &item.event {
        let _ = writeln!(out, "  {label:<7}failed run triggered by {event}");
        return;
    }
    let target = match (&item.call, &item.model) {
        (Some(call), Some(model)) => format!("{} {model}", endpoint_name(*call)),
        (Some(call), None) => endpoint_name(*call).to_owned(),
        (None, _) => String::new(),
    };
    let latency = item
        .latency_ms
        .map(|ms| format!("{ms} ms"))
        .unwrap_or_default();
    let Some(answer) = &item.answer else {
        let _ = writeln!(out, "  {label:<7}{target:<32} no answer   {latency}");
        return;
    };
    let status = answer.status.to_string();
    let status = if (200..300).contains(&answer.status) {
        style.good(&status)
    } else {
        style.bad(&status)
    };
    let error_type = answer.error_type.as_deref().unwrap_or("");
    let _ = writeln!(
        out,
        "  {label:<7}{target:<32} {status} {error_type:<22} {latency:>7}"
    );
    if let Some(message) = &answer.message {
        let _ = writeln!(out, "         \"{}\"", message);
    }
    let mut facts = Vec::new();
    if let Some(code) = &answer.error_code {
        facts.push(format!("error_code {code}"));
    }
    if let Some(id) = &answer.request_id {
        facts.push(format!("request {id}"));
    }
    if let Some(org) = &answer.organization_id {
        facts.push(format!("organization {org}"));
    }
    if let Some(ws) = &answer.workspace_id {
        facts.push(format!("workspace {ws}"));
    }
    if let Some(limit) = answer.requests_limit {
        facts.push(format!("{limit} requests/min (tier hint)"));
    }
    if answer.retry_after {
        facts.push("retry-after set".to_owned());
    }
    if !facts.is_empty() {
        let _ = writeln!(out, "         {}", style.dim(&facts.join(", ")));
    }
}

fn endpoint_name(endpoint: crate::diagnosis::Endpoint) -> &'static str {
    match endpoint {
        crate::diagnosis::Endpoint::Models => "models",
        crate::diagnosis::Endpoint::Messages => "messages",
    }
}
