//! A new key (for `repo` or `rotate`), or the key `validate` classifies, called directly and
//! judged alone: the same calls and the same judgement for every command.

use crate::anthropic::{Client, BASELINE_MODEL};
use crate::diagnosis::{self, Call, Cause, Diagnosis, Evidence, KeyEvidence, Source, Verdict};
use crate::key::Key;
use crate::outcome::Failure;

/// The calls of `diagnosis.md` §2 for one key: models, messages on the model, and messages on
/// the baseline model when the first messages call fails.
pub async fn key_calls(client: &Client, key: &Key, model: &str) -> Result<Vec<Call>, Failure> {
    let mut calls = vec![client.models(key).await?];
    let on_model = client.messages(key, model).await?;
    let failed = Verdict::of(&on_model).is_failure();
    calls.push(on_model);
    if failed && model != BASELINE_MODEL {
        calls.push(client.messages(key, BASELINE_MODEL).await?);
    }
    Ok(calls)
}

/// The calls a key gets: none for a key that is not a clean API key, which is never sent.
pub async fn evidence_of(client: &Client, key: &Key, model: &str) -> Result<KeyEvidence, Failure> {
    let shape = key.shape();
    let calls = if shape.is_clean_api_key() {
        key_calls(client, key, model).await?
    } else {
        Vec::new()
    };
    Ok(KeyEvidence {
        shape,
        fingerprint: None,
        calls,
    })
}

/// The evidence of one key called directly, with nothing to compare it to.
pub fn key_alone(stored: KeyEvidence, model: &str) -> Evidence {
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

/// Whether the key's messages call on `model` succeeded: the one condition for an upload.
pub fn works_on(evidence: &KeyEvidence, model: &str) -> bool {
    evidence
        .calls
        .iter()
        .any(|c| c.is_messages_on(model) && Verdict::of(c) == Verdict::Success)
}

/// A new key judged alone on `model`, as `validate` judges a key. A new key that gets the credit
/// text too is no longer undetermined: the organization that should pay has no credit.
pub fn judge_new_key(evidence: &KeyEvidence, model: &str) -> Diagnosis {
    let verdict = diagnosis::diagnose(&key_alone(evidence.clone(), model));
    let credit_text = evidence
        .calls
        .iter()
        .any(|c| Verdict::of(c) == Verdict::CreditText);
    if verdict.cause == Cause::Undetermined && credit_text {
        return Diagnosis {
            cause: Cause::CreditExhausted,
            summary: format!(
                "The new key gets \"Credit balance is too low\" on {model} too: the organization that should pay has no credit."
            ),
            remedy: Cause::CreditExhausted.remedy().to_owned(),
            ..verdict
        };
    }
    verdict
}
