//! Workflow shapes seen in real repositories.

use super::*;

fn file(path: &str, text: &str) -> WorkflowFile {
    WorkflowFile {
        path: path.to_owned(),
        text: text.to_owned(),
    }
}

fn one(text: &str) -> ClaudeStep {
    let analysis = analyze(&[file(".github/workflows/claude.yml", text)]);
    assert!(analysis.warnings.is_empty(), "{:?}", analysis.warnings);
    assert_eq!(analysis.steps.len(), 1, "{:?}", analysis.steps);
    analysis.steps.into_iter().next().unwrap()
}

/// The workflow of the original bug report: issue-comment triggers and a plain secret.
const ISSUE_COMMENT: &str = r#"
name: Claude Code
on:
  issue_comment:
    types: [created]
  pull_request_review_comment:
    types: [created]
  issues:
    types: [opened, assigned]
jobs:
  claude:
    if: contains(github.event.comment.body, '@claude')
    runs-on: ubuntu-latest
    permissions:
      contents: write
      id-token: write
    steps:
      - name: Checkout repository
        uses: actions/checkout@v6
      - name: Run Claude Code
        id: claude
        uses: anthropics/claude-code-action@v1
        with:
          anthropic_api_key: ${{ secrets.ANTHROPIC_API_KEY }}
"#;

#[test]
fn issue_comment_workflow() {
    let step = one(ISSUE_COMMENT);
    assert_eq!(step.api_key_secret.as_deref(), Some("ANTHROPIC_API_KEY"));
    assert_eq!(step.credential, Credential::ApiKey);
    assert_eq!(
        step.triggers,
        ["issue_comment", "pull_request_review_comment", "issues"]
    );
    assert_eq!(step.job_id, "claude");
    assert_eq!(step.runs_on, ["ubuntu-latest"]);
    assert_eq!(step.model, None);
    assert_eq!(step.effective_model(None).source, ModelSource::Default);
    assert_eq!(step.uses, "anthropics/claude-code-action@v1");
}

#[test]
fn model_from_claude_args() {
    let step = one(r#"
on: pull_request
jobs:
  review:
    runs-on: [self-hosted, linux]
    steps:
      - uses: anthropics/claude-code-action@v1
        with:
          anthropic_api_key: ${{ secrets.CLAUDE_KEY }}
          claude_args: |
            --max-turns 5
            --model claude-opus-4-1
"#);
    assert_eq!(step.api_key_secret.as_deref(), Some("CLAUDE_KEY"));
    assert_eq!(
        step.model,
        Some(ModelChoice {
            model: "claude-opus-4-1".into(),
            source: ModelSource::ClaudeArgs
        })
    );
    assert_eq!(step.runs_on, ["self-hosted", "linux"]);
}

#[test]
fn model_from_settings_json_and_the_deprecated_input() {
    let step = one(r#"
on: [push]
jobs:
  c:
    runs-on: ubuntu-latest
    steps:
      - uses: anthropics/claude-code-action@v1
        with:
          anthropic_api_key: ${{ secrets['ANTHROPIC_API_KEY'] }}
          settings: |
            {"env": {"ANTHROPIC_MODEL": "claude-sonnet-4-5"}}
"#);
    assert_eq!(step.api_key_secret.as_deref(), Some("ANTHROPIC_API_KEY"));
    assert_eq!(step.model.unwrap().source, ModelSource::Settings);
    let step = one(r#"
on: workflow_dispatch
jobs:
  c:
    runs-on: ubuntu-latest
    steps:
      - uses: anthropics/claude-code-action@beta
        with:
          anthropic_api_key: ${{ secrets.ANTHROPIC_API_KEY }}
          model: claude-3-7-sonnet-20250219
"#);
    assert_eq!(step.model.unwrap().model, "claude-3-7-sonnet-20250219");
}

#[test]
fn environment_jobs_and_env_indirection() {
    let step = one(r#"
on: issue_comment
env:
  ANTHROPIC_MODEL: claude-haiku-4-5
jobs:
  claude:
    runs-on: ubuntu-latest
    environment: production
    env:
      KEY: ${{ secrets.PROD_ANTHROPIC_KEY }}
      ANTHROPIC_BASE_URL: ${{ vars.ANTHROPIC_BASE_URL }}
    steps:
      - uses: anthropics/claude-code-action@v1
        with:
          anthropic_api_key: ${{ env.KEY }}
"#);
    assert_eq!(step.environment.as_deref(), Some("production"));
    assert_eq!(step.api_key_secret.as_deref(), Some("PROD_ANTHROPIC_KEY"));
    assert_eq!(step.model.unwrap().source, ModelSource::Env);
    assert_eq!(
        step.base_url.as_deref(),
        Some("${{ vars.ANTHROPIC_BASE_URL }}")
    );
    let with_url = one(r#"
on: push
jobs:
  c:
    runs-on: ubuntu-latest
    environment:
      name: staging
      url: https://example.com
    steps:
      - uses: anthropics/claude-code-action@v1
        with:
          anthropic_api_key: ${{ secrets.K }}
"#);
    assert_eq!(with_url.environment.as_deref(), Some("staging"));
}

#[test]
fn two_claude_jobs_with_different_secrets() {
    let analysis = analyze(&[file(
        ".github/workflows/claude.yml",
        r#"
on: pull_request
jobs:
  review:
    runs-on: ubuntu-latest
    steps:
      - uses: anthropics/claude-code-action@v1
        with:
          anthropic_api_key: ${{ secrets.REVIEW_KEY }}
  triage:
    runs-on: ubuntu-latest
    environment: triage
    steps:
      - uses: actions/checkout@v4
      - uses: anthropics/claude-code-action@v1
        with:
          anthropic_api_key: ${{ secrets.TRIAGE_KEY }}
          claude_args: --model=claude-haiku-4-5
"#,
    )]);
    let secrets: Vec<_> = analysis
        .steps
        .iter()
        .map(|s| s.api_key_secret.clone().unwrap())
        .collect();
    assert_eq!(secrets, ["REVIEW_KEY", "TRIAGE_KEY"]);
    assert_eq!(analysis.api_key_secrets(), ["REVIEW_KEY", "TRIAGE_KEY"]);
    assert_eq!(
        analysis.steps[1].model.as_ref().unwrap().model,
        "claude-haiku-4-5"
    );
}

#[test]
fn credentials_other_than_an_api_key() {
    let step = one(r#"
on: push
jobs:
  c:
    runs-on: ubuntu-latest
    steps:
      - uses: anthropics/claude-code-action@v1
        with:
          claude_code_oauth_token: ${{ secrets.CLAUDE_CODE_OAUTH_TOKEN }}
"#);
    assert_eq!(step.credential, Credential::OauthToken);
    assert_eq!(step.api_key_secret, None);
    assert_eq!(
        step.oauth_secret.as_deref(),
        Some("CLAUDE_CODE_OAUTH_TOKEN")
    );
    let both = one(r#"
on: push
jobs:
  c:
    runs-on: ubuntu-latest
    steps:
      - uses: anthropics/claude-code-action@v1
        with:
          anthropic_api_key: ${{ secrets.ANTHROPIC_API_KEY }}
          claude_code_oauth_token: ${{ secrets.CLAUDE_CODE_OAUTH_TOKEN }}
"#);
    assert_eq!(both.credential, Credential::ApiKeyAndOauthToken);
    assert!(both.credential.uses_api_key());
    let bedrock = one(r#"
on: push
jobs:
  c:
    runs-on: ubuntu-latest
    steps:
      - uses: anthropics/claude-code-action@v1
        with:
          use_bedrock: "true"
"#);
    assert_eq!(bedrock.credential, Credential::Bedrock);
}

#[test]
fn reusable_workflows_map_secret_names_through_the_call() {
    let callee = file(
        ".github/workflows/claude-reusable.yml",
        r#"
on:
  workflow_call:
    secrets:
      API_KEY:
        required: true
jobs:
  run:
    runs-on: ubuntu-latest
    steps:
      - uses: anthropics/claude-code-action@v1
        with:
          anthropic_api_key: ${{ secrets.API_KEY }}
"#,
    );
    let mapped = file(
        ".github/workflows/caller.yml",
        r#"
on: issue_comment
jobs:
  claude:
    uses: ./.github/workflows/claude-reusable.yml
    secrets:
      API_KEY: ${{ secrets.ORG_ANTHROPIC_KEY }}
"#,
    );
    let inherit = file(
        ".github/workflows/inherit.yml",
        r#"
on: pull_request
jobs:
  claude:
    uses: ./.github/workflows/claude-reusable.yml
    secrets: inherit
"#,
    );
    let analysis = analyze(&[callee, mapped, inherit]);
    let found: Vec<_> = analysis
        .steps
        .iter()
        .map(|s| {
            (
                s.workflow_path.as_str(),
                s.api_key_secret.as_deref(),
                s.job_id.as_str(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            (
                ".github/workflows/caller.yml",
                Some("ORG_ANTHROPIC_KEY"),
                "claude / run"
            ),
            (
                ".github/workflows/inherit.yml",
                Some("API_KEY"),
                "claude / run"
            ),
        ]
    );
}

#[test]
fn an_unreadable_workflow_is_a_warning_that_names_the_file() {
    let analysis = analyze(&[
        file(".github/workflows/broken.yml", "on: [push\njobs: {"),
        file(".github/workflows/claude.yml", ISSUE_COMMENT),
    ]);
    assert_eq!(analysis.steps.len(), 1);
    assert_eq!(analysis.warnings.len(), 1);
    assert_eq!(analysis.warnings[0].path, ".github/workflows/broken.yml");
}

#[test]
fn workflows_without_claude_give_nothing() {
    let analysis = analyze(&[file(
        ".github/workflows/ci.yml",
        "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - run: cargo test\n",
    )]);
    assert!(analysis.steps.is_empty());
    assert!(analysis.warnings.is_empty());
}

#[test]
fn expressions() {
    assert_eq!(
        secret_name("${{ secrets.my_key }}").as_deref(),
        Some("MY_KEY")
    );
    assert_eq!(secret_name("${{secrets[\"K\"]}}").as_deref(), Some("K"));
    assert_eq!(secret_name("sk-ant-literal"), None);
    assert_eq!(
        model_from_args("--model 'claude-opus-4-1' --max-turns 3").as_deref(),
        Some("claude-opus-4-1")
    );
    assert_eq!(model_from_args("--max-turns 3"), None);
    assert_eq!(
        model_from_settings(r#"{"model":"claude-x"}"#).as_deref(),
        Some("claude-x")
    );
    assert_eq!(model_from_settings(".claude/settings.json"), None);
}
