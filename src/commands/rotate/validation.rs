//! The new key validated once per model the targets' jobs run, before anything is written.

use std::collections::{BTreeMap, BTreeSet};

use crate::anthropic;
use crate::key::Key;
use crate::outcome::{new_key_exit, new_key_rejected, rejected_with_exit, Failure};
use crate::work::new_key::{evidence_of, judge_new_key, works_on};
use crate::work::Context;

use super::plan::Plan;

/// The evidence of a key that is not sent anywhere: its shape alone.
pub(super) fn evidence_of_shape(key: &Key) -> crate::diagnosis::KeyEvidence {
    crate::diagnosis::KeyEvidence {
        shape: key.shape(),
        fingerprint: None,
        calls: Vec::new(),
    }
}

/// Validates the key once per model. `Ok` maps each model to `None` (works) or the reason it
/// does not; the whole rotation stops when the key works on no model at all.
pub(super) async fn validate(
    key: &Key,
    plan: &Plan,
    ctx: &Context,
) -> Result<BTreeMap<String, Option<String>>, Failure> {
    let client = anthropic::Client::new(ctx.anthropic.clone())?;
    let mut results = BTreeMap::new();
    let mut causes = Vec::new();
    for model in plan.models() {
        ctx.progress
            .step(&format!("Validating {} on {model} …", key.display_form()));
        let evidence = evidence_of(&client, key, &model).await?;
        if works_on(&evidence, &model) {
            results.insert(model, None);
            continue;
        }
        let cause = judge_new_key(&evidence, &model).cause;
        if new_key_exit(cause) == 13 {
            return Err(new_key_rejected(cause, format!("validating the new key met {cause} on {model}: nothing was written; try again later")));
        }
        causes.push(cause);
        results.insert(
            model.clone(),
            Some(format!("the new key cannot be used on {model} ({cause})")),
        );
    }
    if results.values().all(Option::is_some) {
        // One exit for all the models where they agree; a mixed failure is a rejection.
        let exits: BTreeSet<u8> = causes.iter().map(|c| new_key_exit(*c)).collect();
        let exit = match exits.len() {
            1 => exits.into_iter().next().unwrap_or(15),
            _ => 15,
        };
        let reasons: Vec<String> = results.values().flatten().cloned().collect();
        return Err(rejected_with_exit(
            exit,
            format!("{}: nothing was written", reasons.join("; ")),
        ));
    }
    Ok(results)
}

pub(super) fn models_list(models: &BTreeMap<String, Option<String>>) -> Vec<String> {
    models
        .iter()
        .filter(|(_, failure)| failure.is_none())
        .map(|(m, _)| m.clone())
        .collect()
}
