//! The stable cause names of `diagnosis.md` §4, with what each means for the exit code and for
//! whether a new key can help.

use std::fmt;

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    Ok,
    MissingSecret,
    MalformedSecret,
    WrongCredentialKind,
    InvalidKey,
    PermissionDenied,
    OrganizationDisabled,
    OrphanedKey,
    WrongOrganization,
    CreditExhausted,
    SpendLimitReached,
    TierSpendCap,
    ModelTierRestricted,
    ModelUnavailable,
    RateLimited,
    ApiUnavailable,
    Undetermined,
}

/// How a cause bears on the command's exit code (`cli.md`, exit codes 0 and 10 to 14).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CauseClass {
    Works,
    KeyMustBeReplaced,
    Billing,
    Model,
    Transient,
    Undetermined,
}

impl CauseClass {
    pub fn exit_code(self) -> u8 {
        match self {
            CauseClass::Works => 0,
            CauseClass::KeyMustBeReplaced => 10,
            CauseClass::Billing => 11,
            CauseClass::Model => 12,
            CauseClass::Transient => 13,
            CauseClass::Undetermined => 14,
        }
    }
}

impl Cause {
    pub const ALL: [Cause; 17] = [
        Cause::Ok,
        Cause::MissingSecret,
        Cause::MalformedSecret,
        Cause::WrongCredentialKind,
        Cause::InvalidKey,
        Cause::PermissionDenied,
        Cause::OrganizationDisabled,
        Cause::OrphanedKey,
        Cause::WrongOrganization,
        Cause::CreditExhausted,
        Cause::SpendLimitReached,
        Cause::TierSpendCap,
        Cause::ModelTierRestricted,
        Cause::ModelUnavailable,
        Cause::RateLimited,
        Cause::ApiUnavailable,
        Cause::Undetermined,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Cause::Ok => "ok",
            Cause::MissingSecret => "missing_secret",
            Cause::MalformedSecret => "malformed_secret",
            Cause::WrongCredentialKind => "wrong_credential_kind",
            Cause::InvalidKey => "invalid_key",
            Cause::PermissionDenied => "permission_denied",
            Cause::OrganizationDisabled => "organization_disabled",
            Cause::OrphanedKey => "orphaned_key",
            Cause::WrongOrganization => "wrong_organization",
            Cause::CreditExhausted => "credit_exhausted",
            Cause::SpendLimitReached => "spend_limit_reached",
            Cause::TierSpendCap => "tier_spend_cap",
            Cause::ModelTierRestricted => "model_tier_restricted",
            Cause::ModelUnavailable => "model_unavailable",
            Cause::RateLimited => "rate_limited",
            Cause::ApiUnavailable => "api_unavailable",
            Cause::Undetermined => "undetermined",
        }
    }

    pub fn class(self) -> CauseClass {
        match self {
            Cause::Ok => CauseClass::Works,
            Cause::MissingSecret
            | Cause::MalformedSecret
            | Cause::WrongCredentialKind
            | Cause::InvalidKey
            | Cause::PermissionDenied
            | Cause::OrganizationDisabled
            | Cause::OrphanedKey
            | Cause::WrongOrganization => CauseClass::KeyMustBeReplaced,
            Cause::CreditExhausted | Cause::SpendLimitReached | Cause::TierSpendCap => {
                CauseClass::Billing
            }
            Cause::ModelTierRestricted | Cause::ModelUnavailable => CauseClass::Model,
            Cause::RateLimited | Cause::ApiUnavailable => CauseClass::Transient,
            Cause::Undetermined => CauseClass::Undetermined,
        }
    }

    pub fn exit_code(self) -> u8 {
        self.class().exit_code()
    }

    /// Whether replacing the key fixes it: `None` while that is not known yet (`undetermined`).
    pub fn rotation_helps(self) -> Option<bool> {
        match self.class() {
            CauseClass::KeyMustBeReplaced => Some(true),
            CauseClass::Undetermined => None,
            CauseClass::Works | CauseClass::Billing | CauseClass::Model | CauseClass::Transient => {
                Some(false)
            }
        }
    }

    /// The one remedy that works, in a sentence.
    pub fn remedy(self) -> &'static str {
        match self {
            Cause::Ok => "Nothing to change in the key; see the note on the failed run.",
            Cause::MissingSecret => "Create an API key in the Anthropic Console and store it in the secret, in the scope the job reads.",
            Cause::MalformedSecret => "Store the key again without the extra characters (`keyfix repo` uploads the clean value).",
            Cause::WrongCredentialKind => "Store an Anthropic API key (sk-ant-api03-…) in the secret; an OAuth token belongs in claude_code_oauth_token.",
            Cause::InvalidKey => "Create a new API key in the Anthropic Console and store it in the secret.",
            Cause::PermissionDenied => "Use a key from a workspace that has access to this model and endpoint.",
            Cause::OrganizationDisabled => "Contact Anthropic support about the organization, or use a key of another organization that is in good standing.",
            Cause::OrphanedKey => "Create a new key in the same organization and store it in the secret; no credit top-up is needed.",
            Cause::WrongOrganization => "Store a key of the organization that holds the credit.",
            Cause::CreditExhausted => "Buy credits in the Anthropic Console (Plans & Billing); a new key will not help.",
            Cause::SpendLimitReached => "Raise the spend limit in the Anthropic Console (organization or workspace limits), or wait for the date it names.",
            Cause::TierSpendCap => "Wait for the date the message names, or move the organization up a usage tier.",
            Cause::ModelTierRestricted => "Use a model the organization's usage tier allows, or move up a tier.",
            Cause::ModelUnavailable => "Change the workflow's model to one that exists and is enabled for the organization.",
            Cause::RateLimited => "Wait and re-run; if it keeps happening, lower the workflow's concurrency or ask for a higher rate limit.",
            Cause::ApiUnavailable => "Wait a few minutes and re-run; check status.anthropic.com.",
            Cause::Undetermined => "Give a second key of the organization that should pay (a freshly made one) to tell an orphaned key from an organization without credit.",
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_stable_ones() {
        let names: Vec<_> = Cause::ALL.iter().map(|c| c.name()).collect();
        let json: Vec<String> = Cause::ALL
            .iter()
            .map(|c| {
                serde_json::to_value(c)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(names, json);
        assert_eq!(names.len(), 17);
    }

    #[test]
    fn exit_codes_follow_the_contract() {
        let expect = |code: u8, causes: &[Cause]| {
            for cause in causes {
                assert_eq!(cause.exit_code(), code, "{cause}");
            }
        };
        expect(0, &[Cause::Ok]);
        expect(
            10,
            &[
                Cause::MissingSecret,
                Cause::MalformedSecret,
                Cause::WrongCredentialKind,
                Cause::InvalidKey,
                Cause::OrphanedKey,
                Cause::WrongOrganization,
                Cause::OrganizationDisabled,
                Cause::PermissionDenied,
            ],
        );
        expect(
            11,
            &[
                Cause::CreditExhausted,
                Cause::SpendLimitReached,
                Cause::TierSpendCap,
            ],
        );
        expect(12, &[Cause::ModelTierRestricted, Cause::ModelUnavailable]);
        expect(13, &[Cause::RateLimited, Cause::ApiUnavailable]);
        expect(14, &[Cause::Undetermined]);
    }
}
