//! The names a Claude step takes from its workflow file, checked before keyfix uses them: a
//! secret, environment, runner label or model that GitHub or Anthropic would not accept is
//! reported as a warning and left out, never written into the probe, a dispatch input or a
//! request path.

use super::{
    raw_secret_name, ClaudeStep, ModelChoice, ModelSource, Warning, CLAUDE_CODE_DEFAULT_MODEL,
};
use crate::github::names::{self, NameError};

/// Takes the unusable names out of `step`, with a warning for each.
pub fn refuse_unusable_names(step: &mut ClaudeStep) -> Vec<Warning> {
    let mut refused: Vec<String> = Vec::new();
    if let Some(error) = refused_secret(step) {
        refused.push(format!(
            "{error}; the key's secret is reported as its expression and not probed"
        ));
    }
    if let Some(error) = step
        .environment
        .as_deref()
        .and_then(|env| names::check_environment(env).err())
    {
        step.environment = None;
        refused.push(format!(
            "{error}; keyfix reads the repository's secrets as a job without one would"
        ));
    }
    if let Some(error) = step
        .runs_on
        .iter()
        .find_map(|label| names::check_runner_label(label).err())
    {
        step.runs_on.clear();
        refused.push(format!("{error}; the probe runs on the default runner"));
    }
    if let Some(error) = refused_model(step) {
        refused.push(format!(
            "{error}; Claude Code's default, {CLAUDE_CODE_DEFAULT_MODEL}, is assumed"
        ));
    }
    refused
        .into_iter()
        .map(|reason| {
            Warning::new(
                &step.workflow_path,
                format!("job {}: {reason}", step.job_id),
            )
        })
        .collect()
}

/// The key's secret, when its expression names one GitHub would not accept
/// (`secrets['X }}…']`): `secret_name` has already left it unresolved.
fn refused_secret(step: &ClaudeStep) -> Option<NameError> {
    let raw = raw_secret_name(step.api_key_expression.as_deref()?)?;
    names::parse_secret_name(&raw).err()
}

/// Replaces a model name the API would not accept by Claude Code's default, keeping what the
/// workflow wrote as its expression.
fn refused_model(step: &mut ClaudeStep) -> Option<NameError> {
    let choice = step.model.as_ref()?;
    let error = names::check_model(&choice.model).err()?;
    if step.model_expression.is_none() {
        step.model_expression = Some(choice.model.clone());
    }
    step.model = Some(ModelChoice {
        model: CLAUDE_CODE_DEFAULT_MODEL.to_owned(),
        source: ModelSource::Unresolved,
    });
    Some(error)
}
