//! `keyfix validate`: classify one key by calling the Anthropic API directly.

use crate::anthropic::Client;
use crate::cli::KeyInputArgs;
use crate::diagnosis::{self, Evidence};
use crate::input;
use crate::outcome::{Failure, Finished, KeySummary, ValidateReport};
use crate::work::admin::{admin_key_from_env, admin_record, needs_admin_view};
use crate::work::new_key::{evidence_of, key_alone};
use crate::work::Context;

pub struct ValidateOptions {
    pub key: KeyInputArgs,
    pub model: String,
}

pub async fn run(options: ValidateOptions, ctx: &Context) -> Finished<ValidateReport> {
    let mut report = ValidateReport::default();
    let result = classify(&options, ctx, &mut report).await;
    Finished::of(report, result)
}

async fn classify(
    options: &ValidateOptions,
    ctx: &Context,
    report: &mut ValidateReport,
) -> Result<(), Failure> {
    crate::github::names::check_model(&options.model)?;
    let key = input::read_key(
        &options.key,
        ctx.interactivity,
        "Anthropic API key (hidden)",
    )?;
    let admin_key = admin_key_from_env()?;
    let client = Client::new(ctx.anthropic.clone())?;
    // Only a clean API key is sent: anything else is named from its shape alone.
    if key.shape().is_clean_api_key() {
        ctx.progress.step(&format!(
            "Checking {} against {} on {} …",
            key.display_form(),
            ctx.anthropic.base_url,
            options.model
        ));
    }
    let stored = evidence_of(&client, &key, &options.model).await?;
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
    report.key = Some(KeySummary::of(&key));
    report.model = Some(options.model.clone());
    report.diagnosis = Some(diagnosis::diagnose(&evidence));
    Ok(())
}
