//! The Admin API's view of a key: the record whose hint matches, which tells an orphaned key
//! from an organization without credit when no reference key is at hand (row 15).

use crate::anthropic::{AdminLookup, Client};
use crate::diagnosis::{AdminRecord, KeyEvidence, Verdict};
use crate::input;
use crate::key::Key;
use crate::outcome::Failure;

use super::Context;

/// The environment variable that holds an optional Admin API key.
pub const ADMIN_KEY_ENV: &str = "ANTHROPIC_ADMIN_KEY";

/// The Admin API only decides between the credit-text causes.
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
) -> Result<Option<AdminRecord>, Failure> {
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
                "The Admin API refused {ADMIN_KEY_ENV} ({} {}); going on without it.",
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
