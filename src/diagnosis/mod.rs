//! The decision table of `diagnosis.md` §3: from evidence to one named cause. Pure: no I/O, no
//! clock, no randomness, so every row can be tested on its own.

mod cause;
pub mod evidence;
mod verdict;

pub use cause::{Cause, CauseClass};
pub use evidence::{
    AdminRecord, Answer, Call, Endpoint, Evidence, KeyEvidence, NoSecretsReason, Outcome, RunFacts,
    Source, WorkflowFacts,
};
pub use verdict::Verdict;

use crate::key::KeyKind;

/// The verdict on the evidence: one cause, the row of the table that named it, and what to say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnosis {
    pub cause: Cause,
    /// The row of `diagnosis.md` §3 that matched first (1 to 17).
    pub row: u8,
    pub summary: String,
    pub remedy: String,
    /// Further lines worth reading: a security warning, the reference key's own failure, why an
    /// `ok` key still saw a failed run.
    pub notes: Vec<String>,
    /// The evidence the row rests on, in the order it was gathered.
    pub evidence: Vec<EvidenceItem>,
}

impl Diagnosis {
    pub fn rotation_helps(&self) -> Option<bool> {
        self.cause.rotation_helps()
    }
}

/// One piece of evidence as it is shown and written to JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvidenceItem {
    pub source: Source,
    pub call: Option<Endpoint>,
    pub model: Option<String>,
    pub answer: Option<Answer>,
    pub timed_out: bool,
    pub latency_ms: Option<u64>,
    /// For `admin` evidence: the matching key record.
    pub admin_record: Option<AdminRecord>,
    /// For `run` evidence: the event that triggered the failed run.
    pub event: Option<String>,
}

impl EvidenceItem {
    fn bare(source: Source) -> EvidenceItem {
        EvidenceItem {
            source,
            call: None,
            model: None,
            answer: None,
            timed_out: false,
            latency_ms: None,
            admin_record: None,
            event: None,
        }
    }

    fn from_call(source: Source, call: &Call) -> EvidenceItem {
        EvidenceItem {
            call: Some(call.endpoint),
            model: call.model.clone(),
            answer: call.answer().cloned(),
            timed_out: call.outcome == Outcome::TimedOut,
            latency_ms: Some(call.latency_ms),
            ..EvidenceItem::bare(source)
        }
    }

    fn from_admin(record: &AdminRecord) -> EvidenceItem {
        EvidenceItem {
            admin_record: Some(record.clone()),
            ..EvidenceItem::bare(Source::Admin)
        }
    }

    fn from_run(run: &RunFacts) -> EvidenceItem {
        EvidenceItem {
            event: Some(run.event.clone()),
            ..EvidenceItem::bare(Source::Run)
        }
    }
}

/// A key's calls, each read as a verdict.
struct Reading<'a> {
    evidence: &'a KeyEvidence,
}

impl<'a> Reading<'a> {
    fn first(&self, verdict: Verdict) -> Option<&'a Call> {
        self.evidence
            .calls
            .iter()
            .find(|call| Verdict::of(call) == verdict)
    }

    fn on_model(&self, model: &str) -> Option<Verdict> {
        self.evidence
            .calls
            .iter()
            .find(|call| call.is_messages_on(model))
            .map(Verdict::of)
    }

    /// The organization the key belongs to, from any answer that names it.
    fn organization(&self) -> Option<&'a str> {
        self.evidence
            .calls
            .iter()
            .filter_map(|call| call.answer()?.organization_id.as_deref())
            .next()
    }

    /// Every messages call got the credit text (and there was at least one).
    fn credit_text_everywhere(&self) -> bool {
        let mut messages = self
            .evidence
            .calls
            .iter()
            .filter(|call| call.endpoint == Endpoint::Messages)
            .peekable();
        messages.peek().is_some() && messages.all(|call| Verdict::of(call) == Verdict::CreditText)
    }

    fn has(&self, verdict: Verdict) -> bool {
        self.first(verdict).is_some()
    }

    /// The transient failure (a 429, a 5xx or 529, no answer) of the messages call that would
    /// have decided: on `model`, or on the baseline model where `model` got the credit text
    /// (the baseline tells a tier restriction from an organization without credit).
    fn transient_failure(&self, model: &str) -> Option<(Verdict, &'a Call)> {
        let on_model = self.on_model(model)?;
        if !(on_model.is_transient() || on_model == Verdict::CreditText) {
            return None;
        }
        self.evidence
            .calls
            .iter()
            .filter(|call| call.endpoint == Endpoint::Messages)
            .map(|call| (Verdict::of(call), call))
            .find(|(verdict, _)| verdict.is_transient())
    }
}

/// The rows that a single answer of the stored key decides, in table order (rows 4 to 10).
const ANSWER_ROWS: [(u8, Verdict, Cause); 7] = [
    (4, Verdict::Unauthorized, Cause::InvalidKey),
    (5, Verdict::Forbidden, Cause::PermissionDenied),
    (
        6,
        Verdict::OrganizationDisabled,
        Cause::OrganizationDisabled,
    ),
    (7, Verdict::SpendLimit, Cause::SpendLimitReached),
    (8, Verdict::TierSpendCap, Cause::TierSpendCap),
    (9, Verdict::RateLimited, Cause::RateLimited),
    (10, Verdict::Unavailable, Cause::ApiUnavailable),
];

/// Runs the decision table: the first row whose evidence holds names the cause.
pub fn diagnose(evidence: &Evidence) -> Diagnosis {
    let mut builder = Builder::default();
    builder.cite(evidence.stored_source, &evidence.stored);
    decide(evidence, &mut builder)
}

fn decide(e: &Evidence, b: &mut Builder) -> Diagnosis {
    let shape = &e.stored.shape;
    let secret = e
        .workflow
        .as_ref()
        .map(|w| format!("secret {}", w.secret_name))
        .unwrap_or_else(|| "key".to_owned());
    let subject = match e.stored_source {
        Source::Probe => format!("The stored {secret}"),
        _ => "The key".to_owned(),
    };

    // Row 1.
    let undefined = e
        .workflow
        .as_ref()
        .is_some_and(|w| w.defined_in_visible_scope == Some(false));
    if !shape.present || undefined {
        let summary = if undefined {
            format!("The {secret} is defined in no scope the Claude job can see.")
        } else {
            format!("{subject} is empty: the job got no value for it.")
        };
        return b.finish(1, Cause::MissingSecret, summary);
    }

    // Row 2.
    let defects: Vec<&str> = shape.defects.iter().map(|d| d.describe()).collect();
    if !defects.is_empty() && shape.kind == KeyKind::Api03 && shape.well_formed {
        let summary = format!(
            "{subject} is a well-formed API key, but the value also holds {}.",
            join_and(&defects)
        );
        return b.finish(2, Cause::MalformedSecret, summary);
    }

    // Row 3.
    if shape.kind != KeyKind::Api03 || !shape.well_formed {
        let mut summary = format!("{subject} is {}", shape.kind.describe());
        if shape.kind == KeyKind::Api03 {
            summary = format!(
                "{subject} starts like an API key but is not one: {} characters where an API key has 108.",
                shape.length
            );
        } else {
            summary.push_str(", not an API key.");
        }
        if !defects.is_empty() {
            b.note(format!("It also has {}.", join_and(&defects)));
        }
        if shape.kind == KeyKind::Admin01 {
            b.note(
                "An Admin API key can manage the whole organization: revoke it in the Anthropic Console now, since a CI secret is no place for it."
                    .to_owned(),
            );
        }
        return b.finish(3, Cause::WrongCredentialKind, summary);
    }

    // Rows 4 to 10: one answer of the stored key decides.
    let stored = Reading {
        evidence: &e.stored,
    };
    for (row, verdict, cause) in ANSWER_ROWS {
        if let Some(call) = stored.first(verdict) {
            let summary = answer_summary(&subject, cause, call);
            return b.finish(row, cause, summary);
        }
    }

    let on_model = stored.on_model(&e.model);
    let on_baseline = (e.model != e.baseline_model)
        .then(|| stored.on_model(&e.baseline_model))
        .flatten();

    // Row 17 before 11 to 16 is safe: those need the workflow's model to fail.
    if on_model == Some(Verdict::Success) {
        return ok(e, b, &subject);
    }

    // Row 11.
    if on_baseline == Some(Verdict::Success) {
        match on_model {
            Some(Verdict::CreditText) => {
                let summary = format!(
                    "{subject} works on {} but gets the credit text on {}: the model needs a higher usage tier.",
                    e.baseline_model, e.model
                );
                return b.finish(11, Cause::ModelTierRestricted, summary);
            }
            Some(Verdict::ModelNotFound) => {
                let summary = format!(
                    "{subject} works on {} but {} answers 404: the model does not exist or is not enabled for this organization.",
                    e.baseline_model, e.model
                );
                return b.finish(11, Cause::ModelUnavailable, summary);
            }
            _ => {}
        }
    }

    if stored.has(Verdict::CreditText) {
        return credit_text(e, b, &subject, &stored);
    }

    // No row matches: say what was seen rather than guess.
    let seen = e
        .stored
        .calls
        .iter()
        .find(|c| Verdict::of(c).is_failure())
        .map(describe_answer)
        .unwrap_or_else(|| "no answer on the workflow's model".to_owned());
    b.note(format!(
        "No row of the decision table matches this answer: {seen}."
    ));
    b.finish_with_remedy(
        16,
        Cause::Undetermined,
        format!("{subject} got an answer keyfix does not recognise: {seen}."),
        "Look at the evidence below; if it repeats, report it with the request id.".to_owned(),
    )
}

/// Rows 12 to 16: the stored key got the credit text on the workflow's model.
fn credit_text(e: &Evidence, b: &mut Builder, subject: &str, stored: &Reading) -> Diagnosis {
    // A reference key that met a transient failure where its answer would have decided.
    let mut unchecked = None;
    if let Some(reference) = &e.reference {
        b.cite(Source::Reference, reference);
        let reference = Reading {
            evidence: reference,
        };
        if reference.on_model(&e.model) == Some(Verdict::Success) {
            let (s_org, r_org) = (stored.organization(), reference.organization());
            if let (Some(s), Some(r)) = (s_org, r_org) {
                if s != r {
                    let summary = format!(
                        "{subject} belongs to another organization than the reference key, which works on {}: it bills an organization with no credit.",
                        e.model
                    );
                    return b.finish(12, Cause::WrongOrganization, summary);
                }
            }
            let same = if s_org.is_some() && r_org.is_some() {
                "in the same organization"
            } else {
                "of the organization that should pay"
            };
            let summary = format!(
                "{subject} gets the credit text while a fresh key {same} works on {}: the stored key is orphaned.",
                e.model
            );
            return b.finish(13, Cause::OrphanedKey, summary);
        }
        if reference.credit_text_everywhere() {
            let summary = format!(
                "{subject} and the reference key both get the credit text: the organization has no credit."
            );
            return b.finish(14, Cause::CreditExhausted, summary);
        }
        unchecked = reference.transient_failure(&e.model);
        if unchecked.is_none() {
            b.note(reference_failure(e, &reference));
        }
    }

    // Row 15.
    if let Some(record) = e.admin.as_ref().filter(|r| r.is_disabled()) {
        b.cite_admin(record);
        let summary = format!(
            "{subject} gets the credit text and the Admin API shows it {} (key {}).",
            record.status, record.name
        );
        return b.finish(15, Cause::InvalidKey, summary);
    }
    if let Some(record) = &e.admin {
        b.cite_admin(record);
        b.note(format!(
            "The Admin API shows the key {} ({}): that does not tell the two causes apart.",
            record.status, record.name
        ));
    }

    if let Some((verdict, call)) = unchecked {
        return reference_unavailable(b, subject, verdict, call);
    }

    // Row 16.
    b.note(
        "Either the organization has no credit (credit_exhausted: buy credits; a new key will not help), or this key is orphaned or belongs to an organization without credit (a new key fixes it)."
            .to_owned(),
    );
    b.note(
        "To tell them apart, make a new key in the organization that should pay and try it: if it works, replace the key; if it gets the same text, buy credits."
            .to_owned(),
    );
    let summary = format!(
        "{subject} gets \"Credit balance is too low\" on {}, and one key alone cannot say why.",
        e.model
    );
    b.finish(16, Cause::Undetermined, summary)
}

/// Rows 9 and 10 reached through the reference key: it could not be checked for a transient
/// reason, so the diagnosis is as transient as that failure (and the next run may decide).
fn reference_unavailable(
    b: &mut Builder,
    subject: &str,
    verdict: Verdict,
    call: &Call,
) -> Diagnosis {
    let (row, cause) = match verdict {
        Verdict::RateLimited => (9, Cause::RateLimited),
        _ => (10, Cause::ApiUnavailable),
    };
    let summary = format!(
        "{subject} gets the credit text, and the reference key could not be checked ({}).",
        describe_answer(call)
    );
    b.finish_with_remedy(
        row,
        cause,
        summary,
        "Wait a few minutes and run keyfix again with the same reference key; check status.anthropic.com.".to_owned(),
    )
}

/// Row 16's note when a reference key was given but failed for a reason of its own.
fn reference_failure(e: &Evidence, reference: &Reading) -> String {
    let baseline_only = e.model != e.baseline_model
        && reference.on_model(&e.baseline_model) == Some(Verdict::Success);
    if baseline_only {
        let cause = match reference.on_model(&e.model) {
            Some(Verdict::ModelNotFound) => Cause::ModelUnavailable,
            _ => Cause::ModelTierRestricted,
        };
        return format!(
            "The reference key works only on {}: it is {cause} on {}, so it cannot decide.",
            e.baseline_model, e.model
        );
    }
    let failure = reference
        .evidence
        .calls
        .iter()
        .find(|c| Verdict::of(c).is_failure())
        .map(describe_answer)
        .unwrap_or_else(|| "no answer".to_owned());
    format!("The reference key failed on its own ({failure}), so it cannot decide.")
}

/// Row 17: the stored key works; explain why the run failed anyway.
fn ok(e: &Evidence, b: &mut Builder, subject: &str) -> Diagnosis {
    let mut summary = format!("{subject} works on {}.", e.model);
    if let Some(run) = &e.run {
        b.cite_run(run);
        match run.got_no_secrets {
            Some(NoSecretsReason::ForkPullRequest) => {
                summary = format!("{subject} works; the failed run came from a pull request from a fork, and GitHub gives such runs no Actions secrets.");
                b.note("Use pull_request_target with care, or let maintainers trigger Claude with a comment; no key change will help.".to_owned());
            }
            Some(NoSecretsReason::Dependabot) => {
                summary = format!("{subject} works; the failed run was triggered by Dependabot, and GitHub gives such runs Dependabot secrets, not Actions secrets.");
                b.note(
                    "Add the key as a Dependabot secret too, or skip Claude on Dependabot runs."
                        .to_owned(),
                );
            }
            None => b.note(
                "The failed run may have met a transient error, or used another secret or environment than the one probed."
                    .to_owned(),
            ),
        }
    }
    if e.workflow
        .as_ref()
        .is_some_and(|w| w.api_key_beside_oauth_token)
    {
        b.note("The job passes both anthropic_api_key and claude_code_oauth_token: the API key is the one billed.".to_owned());
    }
    if e.run.is_none() {
        return b.finish_with_remedy(
            17,
            Cause::Ok,
            summary,
            "Nothing to change: this key works.".to_owned(),
        );
    }
    b.finish(17, Cause::Ok, summary)
}

fn answer_summary(subject: &str, cause: Cause, call: &Call) -> String {
    let seen = describe_answer(call);
    match cause {
        Cause::InvalidKey => format!("{subject} is rejected as invalid ({seen}): it was revoked, expired, deleted, or mistyped."),
        Cause::PermissionDenied => format!("{subject} lacks permission ({seen})."),
        Cause::OrganizationDisabled => format!("{subject} belongs to a disabled organization ({seen})."),
        Cause::SpendLimitReached => format!("{subject} hit a spend limit set in the Console ({seen})."),
        Cause::TierSpendCap => format!("{subject} hit the monthly spend cap of the usage tier ({seen})."),
        Cause::RateLimited => format!("{subject} is rate limited ({seen})."),
        _ => format!("The Anthropic API did not give a usable answer ({seen})."),
    }
}

/// `400 invalid_request_error on messages (claude-opus-4-1)`.
pub fn describe_answer(call: &Call) -> String {
    let target = match (&call.endpoint, &call.model) {
        (Endpoint::Messages, Some(model)) => format!("messages on {model}"),
        (Endpoint::Messages, None) => "messages".to_owned(),
        (Endpoint::Models, _) => "models".to_owned(),
    };
    match call.answer() {
        None => format!("no answer from {target} within the timeout"),
        Some(answer) => {
            let mut text = answer.status.to_string();
            if let Some(kind) = &answer.error_type {
                text.push(' ');
                text.push_str(kind);
            }
            format!("{text} from {target}")
        }
    }
}

fn join_and(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// Collects the notes and evidence a row cites, then writes the diagnosis.
#[derive(Default)]
struct Builder {
    notes: Vec<String>,
    evidence: Vec<EvidenceItem>,
}

impl Builder {
    fn note(&mut self, note: String) {
        self.notes.push(note);
    }

    fn cite(&mut self, source: Source, key: &KeyEvidence) {
        self.evidence
            .extend(key.calls.iter().map(|c| EvidenceItem::from_call(source, c)));
    }

    fn cite_admin(&mut self, record: &AdminRecord) {
        self.evidence.push(EvidenceItem::from_admin(record));
    }

    fn cite_run(&mut self, run: &RunFacts) {
        self.evidence.push(EvidenceItem::from_run(run));
    }

    fn finish(&mut self, row: u8, cause: Cause, summary: String) -> Diagnosis {
        self.finish_with_remedy(row, cause, summary, cause.remedy().to_owned())
    }

    fn finish_with_remedy(
        &mut self,
        row: u8,
        cause: Cause,
        summary: String,
        remedy: String,
    ) -> Diagnosis {
        Diagnosis {
            cause,
            row,
            summary,
            remedy,
            notes: std::mem::take(&mut self.notes),
            evidence: std::mem::take(&mut self.evidence),
        }
    }
}

#[cfg(test)]
mod tests;
