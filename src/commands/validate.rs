//! `keyfix validate`: classify one key by calling the Anthropic API directly.

use crate::anthropic::{AdminLookup, Client};
use crate::cli::KeyInputArgs;
use crate::diagnosis::{self, Evidence, KeyEvidence, Source, Verdict};
use crate::input;
use crate::key::Key;
use crate::outcome::{CommandName, Failure, KeySummary, Outcome};

use super::Context;

/// The model every usage tier can call: the one to try when the workflow's model fails.
pub const BASELINE_MODEL: &str = "claude-haiku-4-5";
/// The environment variable that holds an optional Admin API key.
pub const ADMIN_KEY_ENV: &str = "ANTHROPIC_ADMIN_KEY";

pub struct ValidateOptions {
    pub key: KeyInputArgs,
    pub model: String,
}

pub async fn run(options: ValidateOptions, ctx: &Context) -> Result<Outcome, Failure> {
    let key = input::read_key(
        &options.key,
        ctx.interactivity,
        "Anthropic API key (hidden)",
    )?;
    let admin_key = admin_key_from_env()?;
    let client = Client::new(ctx.anthropic.clone())?;
    let shape = key.shape();
    let mut calls = Vec::new();
    // Only a clean API key is sent: anything else is named from its shape alone.
    if shape.is_clean_api_key() {
        ctx.progress.step(&format!(
            "Checking {} against {} on {} …",
            key.display_form(),
            ctx.anthropic.base_url,
            options.model
        ));
        calls = key_calls(&client, &key, &options.model).await?;
    }
    let stored = KeyEvidence {
        shape,
        fingerprint: None,
        calls,
    };
    let admin = match (admin_key, key.admin_hint()) {
        (Some(admin_key), Some(hint)) if needs_admin_view(&stored) => {
            admin_record(&client, &admin_key, ctx, |listed| listed == hint).await?
        }
        _ => None,
    };
    let evidence = Evidence {
        admin,
        ..key_alone(stored, &options.model)
    };
    Ok(Outcome {
        key: Some(KeySummary::of(&key)),
        model: Some(options.model),
        diagnosis: Some(diagnosis::diagnose(&evidence)),
        ..Outcome::new(CommandName::Validate)
    })
}

/// The evidence of one key called directly, with nothing to compare it to.
fn key_alone(stored: KeyEvidence, model: &str) -> Evidence {
    Evidence {
        model: model.to_owned(),
        baseline_model: BASELINE_MODEL.to_owned(),
        stored_source: Source::Reference,
        stored,
        reference: None,
        admin: None,
        run: None,
        workflow: None,
    }
}

/// A new key (for `repo` or `rotate`) judged alone on `model`, as `validate` judges a key. A
/// new key that gets the credit text too is no longer undetermined: the organization that should
/// pay has no credit.
pub fn judge_new_key(evidence: &KeyEvidence, model: &str) -> diagnosis::Diagnosis {
    let verdict = diagnosis::diagnose(&key_alone(evidence.clone(), model));
    let credit_text = evidence
        .calls
        .iter()
        .any(|c| Verdict::of(c) == Verdict::CreditText);
    if verdict.cause == diagnosis::Cause::Undetermined && credit_text {
        return diagnosis::Diagnosis {
            cause: diagnosis::Cause::CreditExhausted,
            summary: format!(
                "The new key gets \"Credit balance is too low\" on {model} too: the organization that should pay has no credit."
            ),
            remedy: diagnosis::Cause::CreditExhausted.remedy().to_owned(),
            ..verdict
        };
    }
    verdict
}

/// The calls of `diagnosis.md` §2 for one key: models, messages on the model, and messages on
/// the baseline model when the first messages call fails.
pub async fn key_calls(
    client: &Client,
    key: &Key,
    model: &str,
) -> Result<Vec<diagnosis::Call>, Failure> {
    let mut calls = vec![client.models(key).await?];
    let on_model = client.messages(key, model).await?;
    let failed = Verdict::of(&on_model).is_failure();
    calls.push(on_model);
    if failed && model != BASELINE_MODEL {
        calls.push(client.messages(key, BASELINE_MODEL).await?);
    }
    Ok(calls)
}

/// The Admin API only decides between the credit-text causes (row 15).
pub fn needs_admin_view(stored: &KeyEvidence) -> bool {
    stored
        .calls
        .iter()
        .any(|call| Verdict::of(call) == Verdict::CreditText)
}

pub fn admin_key_from_env() -> Result<Option<Key>, Failure> {
    let Some(value) = std::env::var_os(ADMIN_KEY_ENV) else {
        return Ok(None);
    };
    let value = value
        .into_string()
        .map_err(|_| Failure::from(input::Error::EnvNotText(ADMIN_KEY_ENV.to_owned())))?;
    let key = Key::from_input(value);
    Ok((!key.is_empty()).then_some(key))
}

/// The Admin API record whose `partial_key_hint` satisfies `matches`, saying on stderr what the
/// lookup found; a refused admin key only loses this evidence.
pub async fn admin_record(
    client: &Client,
    admin_key: &Key,
    ctx: &Context,
    matches: impl Fn(&str) -> bool,
) -> Result<Option<diagnosis::AdminRecord>, Failure> {
    ctx.progress
        .step("Looking the key up in the Admin API (ANTHROPIC_ADMIN_KEY) …");
    Ok(match client.find_admin_record(admin_key, matches).await? {
        AdminLookup::Found(record) => Some(record),
        AdminLookup::NotFound => {
            ctx.progress
                .step("The Admin API lists no key with this key's hint: it may belong to another organization.");
            None
        }
        AdminLookup::Refused(answer) => {
            ctx.progress.step(&format!(
                "The Admin API refused ANTHROPIC_ADMIN_KEY ({} {}); going on without it.",
                answer.status,
                answer.error_type.as_deref().unwrap_or("")
            ));
            None
        }
        AdminLookup::TimedOut => {
            ctx.progress
                .step("The Admin API did not answer in time; going on without it.");
            None
        }
    })
}
