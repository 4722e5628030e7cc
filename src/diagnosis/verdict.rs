//! One call's answer, read as a single verdict. The texts are matched before the status codes:
//! the API has answered the same condition with different statuses over time (`diagnosis.md` §1).

use super::evidence::{Call, Endpoint, Outcome};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Success,
    /// 401: invalid, revoked, expired or deleted key; an OAuth token as API key.
    Unauthorized,
    /// 403 `permission_error`.
    Forbidden,
    OrganizationDisabled,
    /// The user's own (organization or workspace) spend limit.
    SpendLimit,
    /// The usage tier's monthly cap (`enforced_spend_limit_reached`).
    TierSpendCap,
    RateLimited,
    /// 5xx, 529, 408, or no answer in time.
    Unavailable,
    /// "Credit balance is too low", whatever the status.
    CreditText,
    /// 404 `not_found_error` on a model.
    ModelNotFound,
    /// An answer none of the above explains.
    Unexpected,
}

pub const CREDIT_TEXT: &str = "credit balance is too low";
const SPEND_LIMIT_TEXTS: [&str; 2] = [
    "specified api usage limits",
    "specified workspace api usage limits",
];
const TIER_CAP_TEXT: &str = "you have reached your api usage limits";
const TIER_CAP_CODE: &str = "enforced_spend_limit_reached";
const DISABLED_TEXT: &str = "organization has been disabled";

impl Verdict {
    pub fn of(call: &Call) -> Verdict {
        let answer = match &call.outcome {
            Outcome::TimedOut => return Verdict::Unavailable,
            Outcome::Answered(answer) => answer,
        };
        let message = answer.message.as_deref().unwrap_or_default().to_lowercase();
        let status = answer.status;
        if (200..300).contains(&status) {
            return Verdict::Success;
        }
        if message.contains(CREDIT_TEXT) {
            return Verdict::CreditText;
        }
        if SPEND_LIMIT_TEXTS.iter().any(|t| message.contains(t)) {
            return Verdict::SpendLimit;
        }
        if answer.error_code.as_deref() == Some(TIER_CAP_CODE) || message.contains(TIER_CAP_TEXT) {
            return Verdict::TierSpendCap;
        }
        if message.contains(DISABLED_TEXT) {
            return Verdict::OrganizationDisabled;
        }
        match status {
            401 => Verdict::Unauthorized,
            403 => Verdict::Forbidden,
            429 => Verdict::RateLimited,
            404 if call.endpoint == Endpoint::Messages => Verdict::ModelNotFound,
            408 | 500..=599 => Verdict::Unavailable,
            _ => Verdict::Unexpected,
        }
    }

    pub fn is_failure(self) -> bool {
        self != Verdict::Success
    }

    /// A failure that another try may not meet: a rate limit, an outage, no answer in time.
    pub fn is_transient(self) -> bool {
        matches!(self, Verdict::RateLimited | Verdict::Unavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::evidence::Answer;

    fn messages(status: u16, message: &str, code: Option<&str>) -> Call {
        Call {
            endpoint: Endpoint::Messages,
            model: Some("m".into()),
            outcome: Outcome::Answered(Answer {
                status,
                message: Some(message.into()),
                error_code: code.map(Into::into),
                ..Answer::default()
            }),
            latency_ms: 1,
        }
    }

    #[test]
    fn texts_win_over_status() {
        let credit = "Your credit balance is too low to access the Claude API.";
        assert_eq!(
            Verdict::of(&messages(400, credit, None)),
            Verdict::CreditText
        );
        assert_eq!(
            Verdict::of(&messages(402, credit, None)),
            Verdict::CreditText
        );
        let workspace = "You have reached your specified workspace API usage limits.";
        assert_eq!(
            Verdict::of(&messages(429, workspace, None)),
            Verdict::SpendLimit
        );
        assert_eq!(
            Verdict::of(&messages(400, "You have reached your specified API usage limits. You will regain access on 2026-12-01 at 00:00 UTC.", None)),
            Verdict::SpendLimit
        );
    }

    #[test]
    fn the_tier_cap_is_told_from_a_rate_limit() {
        let cap = messages(
            429,
            "You have reached your API usage limits.",
            Some(TIER_CAP_CODE),
        );
        assert_eq!(Verdict::of(&cap), Verdict::TierSpendCap);
        let rate = messages(
            429,
            "This request would exceed your organization's rate limit",
            None,
        );
        assert_eq!(Verdict::of(&rate), Verdict::RateLimited);
    }

    #[test]
    fn statuses() {
        assert_eq!(Verdict::of(&messages(200, "", None)), Verdict::Success);
        assert_eq!(
            Verdict::of(&messages(401, "invalid x-api-key", None)),
            Verdict::Unauthorized
        );
        assert_eq!(Verdict::of(&messages(403, "no", None)), Verdict::Forbidden);
        assert_eq!(
            Verdict::of(&messages(404, "model: x", None)),
            Verdict::ModelNotFound
        );
        assert_eq!(
            Verdict::of(&messages(529, "Overloaded", None)),
            Verdict::Unavailable
        );
        assert_eq!(
            Verdict::of(&messages(400, "max_tokens: bad", None)),
            Verdict::Unexpected
        );
        assert_eq!(
            Verdict::of(&messages(400, "This organization has been disabled.", None)),
            Verdict::OrganizationDisabled
        );
        let timed_out = Call {
            outcome: Outcome::TimedOut,
            ..messages(200, "", None)
        };
        assert_eq!(Verdict::of(&timed_out), Verdict::Unavailable);
    }
}
