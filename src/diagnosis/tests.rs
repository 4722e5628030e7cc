//! The decision table, row by row, and the precedence between rows.

use super::*;
use crate::key::{tests::sample_api_key, Shape};

const MODEL: &str = "claude-opus-4-1";
const BASELINE: &str = "claude-haiku-4-5";
const CREDIT: &str = "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.";

fn answer(status: u16, error_type: &str, message: &str) -> Answer {
    Answer {
        status,
        error_type: (!error_type.is_empty()).then(|| error_type.to_owned()),
        message: (!message.is_empty()).then(|| message.to_owned()),
        request_id: Some("req_test".into()),
        ..Answer::default()
    }
}

fn success() -> Answer {
    answer(200, "", "")
}

fn credit() -> Answer {
    answer(400, "invalid_request_error", CREDIT)
}

fn with_org(mut a: Answer, org: &str) -> Answer {
    a.organization_id = Some(org.into());
    a
}

fn messages(model: &str, answer: Answer) -> Call {
    Call {
        endpoint: Endpoint::Messages,
        model: Some(model.into()),
        outcome: Outcome::Answered(answer),
        latency_ms: 180,
    }
}

fn models(answer: Answer) -> Call {
    Call {
        endpoint: Endpoint::Models,
        model: None,
        outcome: Outcome::Answered(answer),
        latency_ms: 90,
    }
}

fn key(calls: Vec<Call>) -> KeyEvidence {
    KeyEvidence {
        shape: Shape::of(&sample_api_key('S')),
        fingerprint: None,
        calls,
    }
}

/// The stored key answers `on_model` on the workflow's model, and `on_baseline` (when given) on
/// the baseline model, after a successful models call.
fn stored(on_model: Answer, on_baseline: Option<Answer>) -> Evidence {
    let mut calls = vec![models(success()), messages(MODEL, on_model)];
    calls.extend(on_baseline.map(|a| messages(BASELINE, a)));
    Evidence {
        model: MODEL.into(),
        baseline_model: BASELINE.into(),
        stored_source: Source::Probe,
        stored: key(calls),
        reference: None,
        admin: None,
        run: None,
        workflow: None,
    }
}

fn credit_case() -> Evidence {
    stored(
        with_org(credit(), "org-s"),
        Some(with_org(credit(), "org-s")),
    )
}

fn reference(on_model: Answer, on_baseline: Option<Answer>) -> KeyEvidence {
    let mut calls = vec![models(success()), messages(MODEL, on_model)];
    calls.extend(on_baseline.map(|a| messages(BASELINE, a)));
    key(calls)
}

fn admin(status: &str) -> AdminRecord {
    AdminRecord {
        id: "apikey_01".into(),
        name: "ci".into(),
        status: status.into(),
        workspace_id: None,
        created_at: None,
        expires_at: None,
    }
}

fn assert_row(evidence: &Evidence, row: u8, cause: Cause) -> Diagnosis {
    let diagnosis = diagnose(evidence);
    assert_eq!(
        (diagnosis.row, diagnosis.cause),
        (row, cause),
        "{diagnosis:#?}"
    );
    assert!(!diagnosis.summary.is_empty());
    assert!(!diagnosis.remedy.is_empty());
    diagnosis
}

#[test]
fn row_1_missing_secret_when_empty() {
    let mut e = stored(success(), None);
    e.stored.shape = Shape::of("");
    e.stored.calls.clear();
    assert_row(&e, 1, Cause::MissingSecret);
}

#[test]
fn row_1_missing_secret_when_defined_in_no_visible_scope() {
    let mut e = stored(success(), None);
    e.workflow = Some(WorkflowFacts {
        secret_name: "ANTHROPIC_API_KEY".into(),
        defined_in_visible_scope: Some(false),
        api_key_beside_oauth_token: false,
    });
    let d = assert_row(&e, 1, Cause::MissingSecret);
    assert!(d.summary.contains("ANTHROPIC_API_KEY"), "{}", d.summary);
}

#[test]
fn row_2_malformed_secret() {
    let mut e = stored(success(), None);
    e.stored.shape = Shape::of(&format!("{}\n", sample_api_key('S')));
    let d = assert_row(&e, 2, Cause::MalformedSecret);
    assert!(
        d.summary.contains("a newline after the key"),
        "{}",
        d.summary
    );
}

#[test]
fn row_3_wrong_credential_kinds() {
    let body: String = std::iter::repeat_n('a', 93).collect();
    for value in [
        format!("sk-ant-oat01-{body}"),
        format!("sk-ant-admin01-{body}AA"),
        format!("sk-ant-sid01-{body}"),
        format!("sk-ant-ort01-{body}"),
        "not-a-key".to_owned(),
        sample_api_key('S')[..90].to_owned(),
    ] {
        let mut e = stored(success(), None);
        e.stored.shape = Shape::of(&value);
        assert_row(&e, 3, Cause::WrongCredentialKind);
    }
}

#[test]
fn row_3_admin_key_says_revoke_it() {
    let body: String = std::iter::repeat_n('a', 93).collect();
    let mut e = stored(success(), None);
    e.stored.shape = Shape::of(&format!("sk-ant-admin01-{body}AA"));
    let d = assert_row(&e, 3, Cause::WrongCredentialKind);
    assert!(
        d.notes.iter().any(|n| n.contains("revoke")),
        "{:?}",
        d.notes
    );
}

#[test]
fn row_3_outranks_a_defect_around_another_kind() {
    let body: String = std::iter::repeat_n('a', 93).collect();
    let mut e = stored(success(), None);
    e.stored.shape = Shape::of(&format!("sk-ant-oat01-{body}\n"));
    assert_row(&e, 3, Cause::WrongCredentialKind);
}

#[test]
fn row_4_invalid_key() {
    let mut e = stored(
        answer(401, "authentication_error", "invalid x-api-key"),
        None,
    );
    e.stored.calls[0] = models(answer(401, "authentication_error", "invalid x-api-key"));
    assert_row(&e, 4, Cause::InvalidKey);
}

#[test]
fn row_5_permission_denied() {
    let e = stored(answer(403, "permission_error", "not allowed"), None);
    assert_row(&e, 5, Cause::PermissionDenied);
}

#[test]
fn row_6_organization_disabled() {
    let e = stored(
        answer(
            400,
            "invalid_request_error",
            "This organization has been disabled.",
        ),
        None,
    );
    assert_row(&e, 6, Cause::OrganizationDisabled);
}

#[test]
fn row_7_spend_limit_by_text_whatever_the_status() {
    for status in [400, 429] {
        let e = stored(
            answer(status, "invalid_request_error", "You have reached your specified workspace API usage limits. You will regain access on 2026-12-01 at 00:00 UTC."),
            None,
        );
        assert_row(&e, 7, Cause::SpendLimitReached);
    }
}

#[test]
fn row_8_tier_spend_cap() {
    let mut a = answer(
        429,
        "rate_limit_error",
        "You have reached your API usage limits.",
    );
    a.error_code = Some("enforced_spend_limit_reached".into());
    assert_row(&stored(a, None), 8, Cause::TierSpendCap);
}

#[test]
fn row_9_rate_limited() {
    let mut a = answer(
        429,
        "rate_limit_error",
        "This request would exceed your organization's rate limit of 50 requests per minute.",
    );
    a.retry_after = true;
    assert_row(&stored(a, None), 9, Cause::RateLimited);
}

#[test]
fn row_10_api_unavailable_on_529_500_and_timeout() {
    for a in [
        answer(529, "overloaded_error", "Overloaded"),
        answer(500, "api_error", "Internal server error"),
        answer(504, "timeout_error", "timeout"),
    ] {
        assert_row(&stored(a, None), 10, Cause::ApiUnavailable);
    }
    let mut e = stored(success(), None);
    e.stored.calls[1].outcome = Outcome::TimedOut;
    assert_row(&e, 10, Cause::ApiUnavailable);
}

#[test]
fn row_11_model_tier_restricted_and_model_unavailable() {
    assert_row(
        &stored(credit(), Some(success())),
        11,
        Cause::ModelTierRestricted,
    );
    assert_row(
        &stored(
            answer(404, "not_found_error", "model: claude-opus-4-1"),
            Some(success()),
        ),
        11,
        Cause::ModelUnavailable,
    );
}

#[test]
fn row_12_wrong_organization() {
    let mut e = credit_case();
    e.reference = Some(reference(with_org(success(), "org-r"), None));
    assert_row(&e, 12, Cause::WrongOrganization);
}

#[test]
fn row_13_orphaned_key_same_or_unknown_organization() {
    let mut e = credit_case();
    e.reference = Some(reference(with_org(success(), "org-s"), None));
    assert_row(&e, 13, Cause::OrphanedKey);
    let mut e = credit_case();
    e.reference = Some(reference(success(), None));
    assert_row(&e, 13, Cause::OrphanedKey);
}

#[test]
fn row_14_credit_exhausted() {
    let mut e = credit_case();
    e.reference = Some(reference(credit(), Some(credit())));
    assert_row(&e, 14, Cause::CreditExhausted);
}

#[test]
fn row_15_admin_shows_the_key_disabled() {
    for status in ["inactive", "archived", "expired"] {
        let mut e = credit_case();
        e.admin = Some(admin(status));
        assert_row(&e, 15, Cause::InvalidKey);
    }
}

#[test]
fn row_16_undetermined_without_reference() {
    let d = assert_row(&credit_case(), 16, Cause::Undetermined);
    assert_eq!(d.rotation_helps(), None);
    assert!(d.notes.iter().any(|n| n.contains("credit_exhausted")));
}

#[test]
fn row_16_active_admin_record_is_not_decisive() {
    let mut e = credit_case();
    e.admin = Some(admin("active"));
    assert_row(&e, 16, Cause::Undetermined);
}

#[test]
fn row_16_reference_failing_on_its_own_is_reported() {
    let mut e = credit_case();
    e.reference = Some(reference(
        answer(401, "authentication_error", "invalid x-api-key"),
        None,
    ));
    let d = assert_row(&e, 16, Cause::Undetermined);
    assert!(d.notes.iter().any(|n| n.contains("401")), "{:?}", d.notes);

    let mut e = credit_case();
    e.reference = Some(reference(credit(), Some(success())));
    let d = assert_row(&e, 16, Cause::Undetermined);
    assert!(
        d.notes.iter().any(|n| n.contains("model_tier_restricted")),
        "{:?}",
        d.notes
    );
}

#[test]
fn a_reference_key_that_could_not_be_checked_leaves_the_diagnosis_transient() {
    let overloaded = || answer(529, "overloaded_error", "Overloaded");
    let mut e = credit_case();
    e.reference = Some(reference(overloaded(), Some(overloaded())));
    let d = assert_row(&e, 10, Cause::ApiUnavailable);
    assert!(
        d.summary
            .contains("529 overloaded_error from messages on claude-opus-4-1"),
        "the call that failed is named: {}",
        d.summary
    );
    assert_eq!(d.cause.exit_code(), 13);
    assert!(d.evidence.iter().any(|i| i.source == Source::Reference));

    let mut e = credit_case();
    e.reference = Some(reference(
        answer(429, "rate_limit_error", "rate limit"),
        None,
    ));
    assert_row(&e, 9, Cause::RateLimited);

    // The credit text on the workflow's model, the baseline unanswered: a tier restriction and
    // an organization without credit are still both possible.
    let mut e = credit_case();
    let mut timed_out = messages(BASELINE, success());
    timed_out.outcome = Outcome::TimedOut;
    let mut r = reference(credit(), None);
    r.calls.push(timed_out);
    e.reference = Some(r);
    assert_row(&e, 10, Cause::ApiUnavailable);

    // A failure of the reference's own (401) decides nothing, whatever the baseline met.
    let mut e = credit_case();
    e.reference = Some(reference(
        answer(401, "authentication_error", "invalid x-api-key"),
        Some(overloaded()),
    ));
    assert_row(&e, 16, Cause::Undetermined);

    // An Admin API record that shows the key disabled decides without the reference.
    let mut e = credit_case();
    e.reference = Some(reference(overloaded(), None));
    e.admin = Some(admin("inactive"));
    assert_row(&e, 15, Cause::InvalidKey);
}

#[test]
fn row_17_ok_explains_the_fork() {
    let mut e = stored(success(), None);
    e.run = Some(RunFacts {
        event: "pull_request".into(),
        got_no_secrets: Some(NoSecretsReason::ForkPullRequest),
        preflight_refusal: false,
    });
    let d = assert_row(&e, 17, Cause::Ok);
    assert!(d.summary.contains("fork"));
    assert!(d.evidence.iter().any(|i| i.source == Source::Run));
}

#[test]
fn row_17_ok_names_the_api_key_beside_the_oauth_token() {
    let mut e = stored(success(), None);
    e.workflow = Some(WorkflowFacts {
        secret_name: "ANTHROPIC_API_KEY".into(),
        defined_in_visible_scope: Some(true),
        api_key_beside_oauth_token: true,
    });
    let d = assert_row(&e, 17, Cause::Ok);
    assert!(d
        .notes
        .iter()
        .any(|n| n.contains("claude_code_oauth_token")));
}

#[test]
fn precedence_first_match_wins() {
    // A missing secret outranks everything the calls say.
    let mut e = stored(
        answer(401, "authentication_error", "invalid x-api-key"),
        None,
    );
    e.stored.shape = Shape::of("");
    assert_row(&e, 1, Cause::MissingSecret);
    // 401 on the models call outranks a credit text on messages.
    let mut e = credit_case();
    e.stored.calls[0] = models(answer(401, "authentication_error", "invalid x-api-key"));
    assert_row(&e, 4, Cause::InvalidKey);
    // A transient error on the baseline outranks the model row.
    let e = stored(
        credit(),
        Some(answer(529, "overloaded_error", "Overloaded")),
    );
    assert_row(&e, 10, Cause::ApiUnavailable);
    // The reference key decides before the Admin API (row 13 before row 15).
    let mut e = credit_case();
    e.reference = Some(reference(success(), None));
    e.admin = Some(admin("inactive"));
    assert_row(&e, 13, Cause::OrphanedKey);
    // A spend limit outranks a rate limit.
    let mut e = stored(
        answer(
            429,
            "rate_limit_error",
            "This request would exceed your organization's rate limit",
        ),
        None,
    );
    e.stored.calls.insert(
        0,
        messages(
            MODEL,
            answer(
                400,
                "invalid_request_error",
                "You have reached your specified API usage limits.",
            ),
        ),
    );
    assert_row(&e, 7, Cause::SpendLimitReached);
    // The model row needs the baseline to work: credit on both is a credit case.
    assert_row(&credit_case(), 16, Cause::Undetermined);
}

#[test]
fn an_unrecognised_answer_is_undetermined_and_says_what_it_was() {
    let d = assert_row(
        &stored(
            answer(400, "invalid_request_error", "max_tokens: bad"),
            Some(credit()),
        ),
        16,
        Cause::Undetermined,
    );
    let d2 = assert_row(
        &stored(
            answer(400, "invalid_request_error", "max_tokens: bad"),
            None,
        ),
        16,
        Cause::Undetermined,
    );
    assert!(d2.summary.contains("400"), "{}", d2.summary);
    assert!(!d.evidence.is_empty());
}

#[test]
fn rotation_helps_follows_the_rows() {
    let helps = [1, 2, 3, 4, 5, 6, 12, 13, 15];
    let never = [7, 8, 9, 10, 11, 14, 17];
    let cases = every_reachable_diagnosis();
    assert!(cases.len() > 100);
    let rows: std::collections::BTreeSet<u8> = cases.iter().map(|d| d.row).collect();
    assert_eq!(rows.len(), 17, "every row is reached: {rows:?}");
    for d in cases {
        if helps.contains(&d.row) {
            assert_eq!(d.rotation_helps(), Some(true), "row {}", d.row);
        } else if never.contains(&d.row) {
            assert_eq!(
                d.rotation_helps(),
                Some(false),
                "row {} ({})",
                d.row,
                d.cause
            );
        } else {
            assert_eq!(d.row, 16);
            assert_eq!(d.rotation_helps(), None);
        }
    }
}

/// Every combination of a set of answers for the stored key (workflow model, baseline), the
/// reference key and the Admin API, with a few shapes: the invariant must hold on all of them.
fn every_reachable_diagnosis() -> Vec<Diagnosis> {
    let mut tier_cap = answer(
        429,
        "rate_limit_error",
        "You have reached your API usage limits.",
    );
    tier_cap.error_code = Some("enforced_spend_limit_reached".into());
    let answers = vec![
        with_org(success(), "org-s"),
        with_org(credit(), "org-s"),
        answer(401, "authentication_error", "invalid x-api-key"),
        answer(403, "permission_error", "no"),
        answer(
            400,
            "invalid_request_error",
            "This organization has been disabled.",
        ),
        answer(
            400,
            "invalid_request_error",
            "You have reached your specified API usage limits.",
        ),
        tier_cap,
        answer(429, "rate_limit_error", "rate limit"),
        answer(529, "overloaded_error", "Overloaded"),
        answer(404, "not_found_error", "model: x"),
    ];
    let references = [
        None,
        Some(with_org(success(), "org-r")),
        Some(with_org(success(), "org-s")),
        Some(credit()),
        Some(answer(401, "authentication_error", "invalid x-api-key")),
        Some(answer(529, "overloaded_error", "Overloaded")),
    ];
    let body: String = std::iter::repeat_n('a', 93).collect();
    let shapes = [
        Shape::of(&sample_api_key('S')),
        Shape::of(""),
        Shape::of(&format!(" {}", sample_api_key('S'))),
        Shape::of(&format!("sk-ant-oat01-{body}")),
    ];
    let mut out = Vec::new();
    for on_model in &answers {
        for on_baseline in answers.iter().map(Some).chain([None]) {
            for r in &references {
                for a in [None, Some(admin("inactive")), Some(admin("active"))] {
                    for shape in &shapes {
                        let mut e = stored(on_model.clone(), on_baseline.cloned());
                        e.stored.shape = shape.clone();
                        e.reference = r.clone().map(|r| reference(r, None));
                        e.admin = a.clone();
                        out.push(diagnose(&e));
                    }
                }
            }
        }
    }
    let mut e = stored(success(), None);
    e.workflow = Some(WorkflowFacts {
        secret_name: "X".into(),
        defined_in_visible_scope: Some(false),
        api_key_beside_oauth_token: false,
    });
    out.push(diagnose(&e));
    out
}
