//! Retiring the key a rotation replaced (`--retire-old`). After a rotation the old key stays
//! alive in the Console; an orphaned or leaked one should not. With `ANTHROPIC_ADMIN_KEY`, the old
//! key's Admin API record is found by the probe's salted fingerprint of its hint and set
//! `inactive`, which the Console can undo (never `archived`, which it cannot). Every doubt keeps
//! the key: no match, several matches, a match that could be the new key, a rotation not
//! verified. Retiring is never the reason a fix fails: what happened is an action of the report.

use crate::anthropic::{AdminAnswer, Client, HintedRecord};
use crate::key::{Fingerprint, Key};
use crate::outcome::{Action, Failure};

use super::admin::{admin_key_from_env, ADMIN_KEY_ENV};
use super::Context;

/// What the probe saw of the key the secret held before the rotation.
pub struct OldKey<'a> {
    /// The nonce the probe salted its fingerprints with.
    pub nonce: &'a str,
    /// The probe's salted fingerprint of the old key's Admin API hint.
    pub hint_fingerprint: &'a str,
    /// The old key's name, when the diagnosis already found its Admin API record.
    pub name: Option<&'a str>,
}

/// Retires the old key once the new one is proven in every scope that held it; `unproven` says
/// why it is not, and then nothing is asked of the Admin API.
pub async fn retire_old_key(
    old: Option<OldKey<'_>>,
    new_key: &Key,
    unproven: Option<String>,
    ctx: &Context,
) -> Result<Action, Failure> {
    if let Some(reason) = unproven {
        return Ok(kept(format!("{reason}; the old key still works")));
    }
    let (admin, old_key) = match find_old_key(old, new_key.admin_hint().as_deref(), ctx).await? {
        Ok(found) => found,
        Err(reason) => return Ok(kept(reason)),
    };
    ctx.progress.step(&format!(
        "Setting the old key {} ({}) inactive …",
        old_key.record.name, old_key.hint
    ));
    let changed = admin
        .client
        .set_admin_key_status(&admin.key, &old_key.record.id, "inactive")
        .await;
    Ok(match changed {
        Ok(AdminAnswer::Done(record)) if record.status == "inactive" => Action::OldKeyRetired {
            id: record.id,
            name: record.name,
            hint: old_key.hint,
        },
        Ok(AdminAnswer::Done(record)) => kept(format!(
            "the Admin API left {} {}",
            old_key.record.id, record.status
        )),
        Ok(AdminAnswer::Refused(answer)) => kept(format!(
            "the Admin API refused to set {} inactive ({} {})",
            old_key.record.id,
            answer.status,
            answer.error_type.as_deref().unwrap_or("")
        )),
        Ok(AdminAnswer::TimedOut) | Err(_) => kept(format!(
            "the Admin API did not answer the change: {} ({}) may or may not be inactive; look in the Console",
            old_key.record.id, old_key.hint
        )),
    })
}

/// A dry run's word on `--retire-old`: the key it would retire, or why it would keep it.
pub async fn name_old_key(old: Option<OldKey<'_>>, ctx: &Context) -> Result<Action, Failure> {
    Ok(match find_old_key(old, None, ctx).await? {
        Ok((_, found)) => Action::OldKeyToRetire {
            id: found.record.id,
            name: found.record.name,
            hint: found.hint,
        },
        Err(reason) => kept(reason),
    })
}

/// The Admin API and the key that opens it.
struct Admin {
    client: Client,
    key: Key,
}

/// The one active Admin API record of the old key, or why there is none to retire.
async fn find_old_key(
    old: Option<OldKey<'_>>,
    new_hint: Option<&str>,
    ctx: &Context,
) -> Result<Result<(Admin, HintedRecord), String>, Failure> {
    let Some(old) = old else {
        return Ok(Err(
            "the probe did not fingerprint the old key, so keyfix cannot tell which key it was"
                .to_owned(),
        ));
    };
    let Some(key) = admin_key_from_env()? else {
        return Ok(Err(in_console(&old)));
    };
    ctx.progress
        .step("Looking for the old key in the Admin API (ANTHROPIC_ADMIN_KEY) …");
    let client = Client::new(ctx.anthropic.clone())?;
    let wanted = Fingerprint::parse(old.hint_fingerprint);
    let is_old = |hint: &str| {
        wanted
            .as_ref()
            .is_some_and(|w| w.matches(&Fingerprint::of(old.nonce.as_bytes(), hint.as_bytes())))
    };
    let candidates = match client.admin_keys(&key, Some("active"), is_old).await {
        Ok(AdminAnswer::Done(found)) => found,
        Ok(AdminAnswer::Refused(answer)) => {
            return Ok(Err(format!(
                "the Admin API refused {ADMIN_KEY_ENV} ({} {}); {}",
                answer.status,
                answer.error_type.as_deref().unwrap_or(""),
                in_console(&old)
            )))
        }
        Ok(AdminAnswer::TimedOut) | Err(_) => {
            return Ok(Err(format!(
                "the Admin API did not answer; {}",
                in_console(&old)
            )))
        }
    };
    Ok(pick_old_key(candidates, new_hint).map(|found| (Admin { client, key }, found)))
}

/// The one active record the old key's hint matches. Hints collide, so a match whose hint is
/// also the new key's, or more than one match, keeps every key.
pub fn pick_old_key(
    mut candidates: Vec<HintedRecord>,
    new_hint: Option<&str>,
) -> Result<HintedRecord, String> {
    if let Some(shared) = candidates
        .iter()
        .find(|c| new_hint == Some(c.hint.as_str()))
    {
        return Err(format!(
            "the old key's hint {} is also the new key's: keyfix cannot tell them apart and retires neither",
            shared.hint
        ));
    }
    match candidates.len() {
        0 => Err("no active key of the admin key's organization has the old key's hint: it is already disabled, or belongs to another organization".to_owned()),
        1 => Ok(candidates.remove(0)),
        n => {
            let ids: Vec<&str> = candidates.iter().map(|c| c.record.id.as_str()).collect();
            Err(format!(
                "{n} active keys share the old key's hint ({}): keyfix does not guess",
                ids.join(", ")
            ))
        }
    }
}

fn kept(reason: String) -> Action {
    Action::OldKeyKept { reason }
}

/// Where keyfix cannot retire the key itself: what to disable by hand.
fn in_console(old: &OldKey<'_>) -> String {
    let which = old.name.map_or_else(
        || "the old key".to_owned(),
        |name| format!("the old key {name}"),
    );
    format!(
        "set {ADMIN_KEY_ENV} to retire it, or disable {which} in the Console (Settings → API keys)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::AdminRecord;

    fn record(id: &str, hint: &str) -> HintedRecord {
        HintedRecord {
            record: AdminRecord {
                id: id.to_owned(),
                name: format!("key {id}"),
                status: "active".to_owned(),
                workspace_id: None,
                created_at: None,
                expires_at: None,
            },
            hint: hint.to_owned(),
        }
    }

    const OLD: &str = "sk-ant-api03-abc...wxyz";
    const NEW: &str = "sk-ant-api03-def...1234";

    #[test]
    fn the_one_match_is_retired() {
        let found = pick_old_key(vec![record("apikey_1", OLD)], Some(NEW)).unwrap();
        assert_eq!(found.record.id, "apikey_1");
    }

    #[test]
    fn no_match_keeps_every_key() {
        let reason = pick_old_key(vec![], Some(NEW)).unwrap_err();
        assert!(reason.contains("no active key"), "{reason}");
    }

    #[test]
    fn several_matches_keep_every_key_and_name_them() {
        let reason = pick_old_key(
            vec![record("apikey_1", OLD), record("apikey_2", OLD)],
            Some(NEW),
        )
        .unwrap_err();
        assert!(reason.contains("2 active keys"), "{reason}");
        assert!(reason.contains("apikey_1, apikey_2"), "{reason}");
    }

    #[test]
    fn a_match_with_the_new_keys_hint_is_kept() {
        let reason = pick_old_key(vec![record("apikey_1", NEW)], Some(NEW)).unwrap_err();
        assert!(reason.contains("also the new key's"), "{reason}");
        let both = vec![record("apikey_1", NEW), record("apikey_2", NEW)];
        let reason = pick_old_key(both, Some(NEW)).unwrap_err();
        assert!(reason.contains("also the new key's"), "{reason}");
    }
}
