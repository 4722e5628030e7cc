//! What `anthropics/claude-code-action` writes to the job log about its result, era by era
//! (the action's own history: E0 beta and v0.x, E1 v1.0 with full output, E2 sanitized CLI
//! output, E3a/E3b the Agent SDK before 0.2.75, E4 the SDK that names the error, E5 the versions
//! whose failed result left the step green, E6 and E7 today's). Pure: an outcome in, lines out.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The action's era, by the versions that wrote each format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionLog {
    /// `@beta`, `v0.0.1`–`v0.0.63` (2025-05 → 2025-08): every stream message pretty-printed.
    E0,
    /// `v1.0.0`–`v1.0.15` (→ 2025-10): as E0.
    E1,
    /// `v1.0.16`–`v1.0.23` (→ 2025-12): the CLI's output sanitized to an init and a result.
    E2,
    /// `v1.0.24`–`v1.0.43` (→ 2026-02-04): the Agent SDK's generic error, no `Action failed`.
    E3a,
    /// `v1.0.44`–`v1.0.71` (→ 2026-03-13): as E3a, with `Action failed with error: …`.
    E3b,
    /// `v1.0.72`–`v1.0.145` (→ 2026-06-12): the SDK error carries the result text.
    #[serde(alias = "text")]
    E4,
    /// `v1.0.146`–`v1.0.171` (→ 2026-07-13): a failed result leaves the step green.
    E5,
    /// `v1.0.172`–`v1.0.198` (→ 2026-08-20): `is_error: true` fails the step.
    E6,
    /// `v1.0.199` and later: as E6, the summary with `modelUsage`.
    #[default]
    #[serde(alias = "summary")]
    E7,
}

/// How the action's one Messages call went.
pub struct Outcome<'a> {
    pub status: u16,
    /// The API's error message, empty on success.
    pub message: &'a str,
    pub model: &'a str,
    /// How long the call took.
    pub duration_ms: u64,
}

/// What Claude Code makes of an API error: its result text, and how long it kept trying.
fn result_of(outcome: &Outcome<'_>) -> (String, u64) {
    let lower = outcome.message.to_lowercase();
    match outcome.status {
        _ if lower.contains("credit balance is too low") => {
            ("Credit balance is too low".to_owned(), outcome.duration_ms)
        }
        401 => (
            "Invalid API key · Fix external API key".to_owned(),
            outcome.duration_ms,
        ),
        404 => (
            format!(
                "There's an issue with the selected model ({}). It may not exist or you may not have access to it. Run --model to pick a different model.",
                outcome.model
            ),
            outcome.duration_ms,
        ),
        // Claude Code retries these ten times with back-off before it gives up.
        429 => (
            "API Error: Request rejected (429) · this may be a temporary capacity issue".to_owned(),
            outcome.duration_ms + 38_000,
        ),
        529 => (
            "API Error: Repeated 529 Overloaded errors".to_owned(),
            outcome.duration_ms + 41_000,
        ),
        status => (
            format!("API Error: {status} {}", outcome.message),
            outcome.duration_ms,
        ),
    }
}

fn pretty(value: &Value) -> Vec<String> {
    serde_json::to_string_pretty(value)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

const SAVED: &str = "Log saved to /home/runner/work/_temp/claude-execution-output.json";
const RERUN_HINT: &str =
    "Rerun in debug mode or enable `show_full_output: true` in your workflow file for full output.";
const PROCESS_FAILED: &str = "##[error]Process completed with exit code 1.";

/// The lines the action writes for `outcome` in `era`, and whether its step succeeds.
pub fn lines(era: ActionLog, outcome: &Outcome<'_>) -> (Vec<String>, bool) {
    let is_error = !(200..300).contains(&outcome.status);
    let (text, duration_ms) = if is_error {
        result_of(outcome)
    } else {
        ("Done.".to_owned(), outcome.duration_ms + 4_200)
    };
    let cost = if is_error { json!(0) } else { json!(0.0184) };
    let session = format!("{:08x}-5e55-4d1c-9a0b-5175e55105e5", rand::random::<u32>());
    let mut out = Vec::new();
    let succeeded = match era {
        ActionLog::E0 | ActionLog::E1 => {
            out.push("Running Claude with prompt from file: /home/runner/work/_temp/claude-prompts/claude-prompt.txt".to_owned());
            out.extend(pretty(&json!({"type": "system", "subtype": "init", "session_id": session, "model": outcome.model, "tools": ["Bash", "Edit", "Read"]})));
            if is_error {
                out.extend(pretty(&json!({"type": "assistant", "message": {"model": "<synthetic>", "role": "assistant", "content": [{"type": "text", "text": text}]}, "session_id": session})));
            }
            out.extend(pretty(&json!({
                "type": "result", "subtype": "success", "is_error": is_error,
                "duration_ms": duration_ms, "duration_api_ms": 0, "num_turns": 1,
                "result": text, "session_id": session, "total_cost_usd": cost,
                "usage": {"input_tokens": 0, "output_tokens": 0},
            })));
            if is_error {
                out.push(PROCESS_FAILED.to_owned());
            } else {
                out.push(SAVED.to_owned());
            }
            !is_error
        }
        ActionLog::E2 | ActionLog::E3a | ActionLog::E3b => {
            out.push(if era == ActionLog::E2 {
                "Running Claude Code (full output hidden for security)...".to_owned()
            } else {
                "Running Claude Code via SDK (full output hidden for security)...".to_owned()
            });
            out.push(RERUN_HINT.to_owned());
            out.extend(pretty(&json!({"type": "system", "subtype": "init", "message": "Claude Code initialized", "model": outcome.model})));
            out.extend(pretty(&json!({
                "type": "result", "subtype": "success", "is_error": is_error,
                "duration_ms": duration_ms, "num_turns": 1, "total_cost_usd": cost,
                "permission_denials": [],
            })));
            if is_error {
                if era != ActionLog::E2 {
                    out.push("SDK execution error: 14 |     depsCount: ${Q},".to_owned());
                    out.push("15 |     deps: ${$}}`};var Tj={keyword:\"dependencies\",type:\"object\",schemaType:\"object\",error:bB.error,...".to_owned());
                    out.push(String::new());
                    out.push("error: Claude Code process exited with code 1".to_owned());
                    out.push("      at $ (/home/runner/work/_actions/anthropics/claude-code-action/v1/node_modules/@anthropic-ai/claude-agent-sdk/sdk.mjs:14:1)".to_owned());
                }
                if era == ActionLog::E3b {
                    out.push("##[error]Action failed with error: SDK execution error: Error: Claude Code process exited with code 1".to_owned());
                }
                out.push(PROCESS_FAILED.to_owned());
            } else {
                out.push(SAVED.to_owned());
            }
            !is_error
        }
        ActionLog::E4 => {
            out.push("Running Claude Code via SDK (full output hidden for security)...".to_owned());
            out.push(RERUN_HINT.to_owned());
            out.extend(pretty(&json!({"type": "system", "subtype": "init", "message": "Claude Code initialized", "model": outcome.model})));
            out.extend(pretty(&json!({
                "type": "result", "subtype": "success", "is_error": is_error,
                "duration_ms": duration_ms, "num_turns": 1, "total_cost_usd": cost,
                "permission_denials_count": 0,
            })));
            if is_error {
                out.push(format!(
                    "error: Claude Code returned an error result: {text}"
                ));
                out.push(format!("##[error]Action failed with error: SDK execution error: Error: Claude Code returned an error result: {text}"));
                out.push(PROCESS_FAILED.to_owned());
            } else {
                out.push(SAVED.to_owned());
            }
            !is_error
        }
        ActionLog::E5 | ActionLog::E6 | ActionLog::E7 => {
            out.push("Running Claude Code via SDK (full output hidden for security)...".to_owned());
            out.push(RERUN_HINT.to_owned());
            out.extend(pretty(&json!({"type": "system", "subtype": "init", "message": "Claude Code initialized", "model": outcome.model})));
            let mut result = json!({
                "type": "result", "subtype": "success", "is_error": is_error,
                "duration_ms": duration_ms, "num_turns": 1, "total_cost_usd": cost,
                "permission_denials_count": 0,
            });
            if era == ActionLog::E7 {
                result["modelUsage"] = if is_error {
                    json!({})
                } else {
                    json!({outcome.model: {"contextWindow": 200000, "maxOutputTokens": 64000}})
                };
            }
            out.extend(pretty(&result));
            out.push(SAVED.to_owned());
            out.push(format!("Set session_id: {session}"));
            // E5 broke out of the result loop before the SDK could fail: the step passed.
            if is_error && era != ActionLog::E5 {
                out.push("##[error]Claude result reported subtype success with is_error:true (run did not complete successfully)".to_owned());
                out.push("##[error]Action failed with error: Claude execution failed: result is_error:true".to_owned());
                out.push(PROCESS_FAILED.to_owned());
                false
            } else {
                true
            }
        }
    };
    (out, succeeded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal() -> Outcome<'static> {
        Outcome {
            status: 400,
            message: "Your credit balance is too low to access the Anthropic API.",
            model: "claude-sonnet-4-5",
            duration_ms: 180,
        }
    }

    #[test]
    fn only_e5_lets_a_refused_step_pass() {
        for era in [
            ActionLog::E0,
            ActionLog::E1,
            ActionLog::E2,
            ActionLog::E3a,
            ActionLog::E3b,
            ActionLog::E4,
            ActionLog::E5,
            ActionLog::E6,
            ActionLog::E7,
        ] {
            let (_, passed) = lines(era, &refusal());
            assert_eq!(passed, era == ActionLog::E5, "{era:?}");
        }
    }

    #[test]
    fn the_credit_text_shows_only_where_the_era_printed_it() {
        for (era, shown) in [
            (ActionLog::E0, true),
            (ActionLog::E2, false),
            (ActionLog::E3b, false),
            (ActionLog::E4, true),
            (ActionLog::E5, false),
            (ActionLog::E7, false),
        ] {
            let (text, _) = lines(era, &refusal());
            assert_eq!(
                text.join("\n").contains("Credit balance is too low"),
                shown,
                "{era:?}"
            );
        }
    }

    #[test]
    fn a_retried_overload_takes_tens_of_seconds() {
        let (text, _) = lines(
            ActionLog::E7,
            &Outcome {
                status: 529,
                message: "Overloaded",
                model: "claude-sonnet-4-5",
                duration_ms: 20,
            },
        );
        assert!(text.join("\n").contains("\"duration_ms\": 41020"));
    }
}
