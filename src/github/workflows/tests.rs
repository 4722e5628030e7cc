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

/// The fixtures of `tests/fixtures/workflows/`, each following a real public form (its first
/// lines say which), read together as one repository's `.github/workflows/`.
fn fixtures() -> Analysis {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/workflows");
    let mut files: Vec<WorkflowFile> = std::fs::read_dir(dir)
        .expect("the fixtures")
        .map(|entry| {
            let path = entry.unwrap().path();
            file(
                &format!(
                    ".github/workflows/{}",
                    path.file_name().unwrap().to_string_lossy()
                ),
                &std::fs::read_to_string(&path).unwrap(),
            )
        })
        .collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    analyze(&files)
}

fn steps_of<'a>(analysis: &'a Analysis, name: &str) -> Vec<&'a ClaudeStep> {
    let path = format!(".github/workflows/{name}");
    analysis
        .steps
        .iter()
        .filter(|s| s.workflow_path == path)
        .collect()
}

fn only<'a>(analysis: &'a Analysis, name: &str) -> &'a ClaudeStep {
    let steps = steps_of(analysis, name);
    assert_eq!(steps.len(), 1, "{name}: {steps:?}");
    steps[0]
}

#[test]
fn every_public_shape_names_its_secret_and_credential() {
    let analysis = fixtures();
    for (name, secret, credential) in [
        (
            "env-workflow-level.yml",
            Some("CLAUDE_KEY"),
            Credential::ApiKey,
        ),
        (
            "env-step-no-input.yml",
            Some("REVIEW_KEY"),
            Credential::ApiKey,
        ),
        (
            "reusable-inherit-caller.yml",
            Some("ANTHROPIC_API_KEY"),
            Credential::ApiKey,
        ),
        (
            "reusable-mapped-caller.yml",
            Some("ORG_CLAUDE_KEY"),
            Credential::ApiKey,
        ),
        (
            "base-action-pinned.yml",
            Some("ANTHROPIC_API_KEY"),
            Credential::ApiKey,
        ),
        (
            "beta-anthropic-model.yml",
            Some("ANTHROPIC_API_KEY"),
            Credential::ApiKey,
        ),
        ("oauth-only.yml", None, Credential::OauthToken),
        (
            "both-credentials.yml",
            Some("ANTHROPIC_API_KEY"),
            Credential::ApiKeyAndOauthToken,
        ),
        ("bedrock.yml", None, Credential::Bedrock),
        ("workload-identity.yml", None, Credential::WorkloadIdentity),
        (
            "on-as-true.yml",
            Some("ANTHROPIC_API_KEY"),
            Credential::ApiKey,
        ),
    ] {
        let step = only(&analysis, name);
        assert_eq!(step.api_key_secret.as_deref(), secret, "{name}");
        assert_eq!(step.credential, credential, "{name}");
    }
    // The reusable workflow itself runs only when called: its step is reported under the callers.
    assert!(steps_of(&analysis, "reusable-claude.yml").is_empty());
    assert!(steps_of(&analysis, "reusable-review.yml").is_empty());
    assert_eq!(
        only(&analysis, "reusable-inherit-caller.yml").job_id,
        "call / assistant"
    );
}

#[test]
fn every_public_shape_names_its_model_or_says_it_cannot() {
    let analysis = fixtures();
    let model = |name: &str| only(&analysis, name).effective_model(None);
    for (name, expected, source) in [
        (
            "base-action-pinned.yml",
            "claude-3-7-sonnet-20250219",
            ModelSource::ModelInput,
        ),
        (
            "beta-anthropic-model.yml",
            "claude-opus-4-20250514",
            ModelSource::ModelInput,
        ),
        (
            "claude-args-multiline.yml",
            "claude-opus-4-1-20250805",
            ModelSource::ClaudeArgs,
        ),
        (
            "settings-inline.yml",
            "claude-haiku-4-5",
            ModelSource::Settings,
        ),
        ("model-env.yml", "claude-sonnet-4-5", ModelSource::Env),
        (
            "model-dispatch-input.yml",
            "claude-opus-4-1",
            ModelSource::InputDefault,
        ),
        (
            "model-variable.yml",
            CLAUDE_CODE_DEFAULT_MODEL,
            ModelSource::Unresolved,
        ),
        (
            "matrix-models.yml",
            CLAUDE_CODE_DEFAULT_MODEL,
            ModelSource::Unresolved,
        ),
        (
            "env-workflow-level.yml",
            CLAUDE_CODE_DEFAULT_MODEL,
            ModelSource::Default,
        ),
    ] {
        let choice = model(name);
        assert_eq!(
            (choice.model.as_str(), choice.source),
            (expected, source),
            "{name}"
        );
    }
    assert_eq!(
        only(&analysis, "model-variable.yml")
            .model_expression
            .as_deref(),
        Some("${{ vars.CLAUDE_MODEL }}")
    );
    assert_eq!(
        only(&analysis, "settings-file.yml")
            .settings_file
            .as_deref(),
        Some(".github/claude/settings.json")
    );
}

#[test]
fn a_secret_chosen_by_expression_is_reported_never_replaced() {
    let analysis = fixtures();
    let step = only(&analysis, "matrix-models.yml");
    assert_eq!(step.api_key_secret, None);
    assert_eq!(
        step.api_key_expression.as_deref(),
        Some("${{ secrets[matrix.key] }}")
    );
    assert_eq!(step.credential, Credential::ApiKey);
}

#[test]
fn several_jobs_yaml_as_written_and_a_broken_file() {
    let analysis = fixtures();
    let several = steps_of(&analysis, "several-jobs.yml");
    let facts: Vec<_> = several
        .iter()
        .map(|s| {
            (
                s.job_id.as_str(),
                s.api_key_secret.as_deref(),
                s.environment.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        facts,
        [
            (
                "staging-review",
                Some("STAGING_CLAUDE_KEY"),
                Some("staging")
            ),
            ("prod-review", Some("PROD_CLAUDE_KEY"), Some("production")),
        ]
    );
    let written = steps_of(&analysis, "yaml-as-written.yml");
    assert_eq!(written.len(), 2, "{written:?}");
    for step in written {
        assert_eq!(step.api_key_secret.as_deref(), Some("ANCHORED_KEY"));
        assert_eq!(step.effective_model(None).model, "claude-haiku-4-5");
        assert_eq!(step.triggers, ["issue_comment"]);
    }
    let broken: Vec<_> = analysis
        .warnings
        .iter()
        .filter(|w| w.path.ends_with("broken.yml"))
        .collect();
    assert_eq!(broken.len(), 1, "{:?}", analysis.warnings);
    assert!(
        broken[0].message.contains("line 7"),
        "{}",
        broken[0].message
    );
    assert_eq!(analysis.warnings.len(), 1, "{:?}", analysis.warnings);
}

#[test]
fn crlf_line_ends_and_a_byte_order_mark_read_the_same() {
    let text = include_str!("../../../tests/fixtures/workflows/several-jobs.yml");
    let windows = format!("\u{feff}{}", text.replace('\n', "\r\n"));
    let analysis = analyze(&[file(".github/workflows/x.yml", &windows)]);
    assert!(analysis.warnings.is_empty(), "{:?}", analysis.warnings);
    assert_eq!(analysis.steps.len(), 2);
    assert_eq!(
        analysis.steps[0].api_key_secret.as_deref(),
        Some("STAGING_CLAUDE_KEY")
    );
}

/// Billions of strings from a few lines, if the reader expanded every alias.
const ALIAS_BOMB: &str = r#"on: push
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
jobs: {}
"#;

#[test]
fn an_alias_bomb_is_refused_with_a_warning_at_once() {
    let started = std::time::Instant::now();
    let analysis = analyze(&[
        file(".github/workflows/bomb.yml", ALIAS_BOMB),
        file(".github/workflows/claude.yml", ISSUE_COMMENT),
    ]);
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert_eq!(analysis.steps.len(), 1);
    assert_eq!(analysis.warnings.len(), 1, "{:?}", analysis.warnings);
    assert_eq!(analysis.warnings[0].path, ".github/workflows/bomb.yml");
    assert!(
        analysis.warnings[0].message.contains("repetition limit"),
        "{}",
        analysis.warnings[0].message
    );
}

#[test]
fn names_github_or_anthropic_would_refuse_are_reported_and_left_out() {
    let analysis = analyze(&[file(
        ".github/workflows/claude.yml",
        r#"
on: issue_comment
jobs:
  claude:
    runs-on: ["self-hosted", "linux\u0007"]
    environment: "prod\u001b]52;c;eA==\u0007"
    steps:
      - uses: anthropics/claude-code-action@v1
        with:
          anthropic_api_key: "${{ secrets['KEY }}\n  evil: ${{ github.token'] }}"
          claude_args: "--model claude-\u001b[2Jsonnet"
"#,
    )]);
    let step = &analysis.steps[0];
    assert_eq!(step.api_key_secret, None);
    assert!(step.api_key_expression.as_deref().unwrap().contains("evil"));
    assert_eq!(step.environment, None);
    assert!(step.runs_on.is_empty());
    let model = step.model.as_ref().unwrap();
    assert_eq!(model.model, CLAUDE_CODE_DEFAULT_MODEL);
    assert_eq!(model.source, ModelSource::Unresolved);
    assert_eq!(
        step.model_expression.as_deref(),
        Some("claude-\u{1b}[2Jsonnet")
    );
    let reasons: Vec<&str> = analysis
        .warnings
        .iter()
        .map(|w| w.message.as_str())
        .collect();
    assert_eq!(reasons.len(), 4, "{reasons:#?}");
    for (reason, says) in reasons.iter().zip([
        "secret name",
        "environment name",
        "runner label",
        "model name",
    ]) {
        assert!(
            reason.starts_with("job claude: ") && reason.contains(says),
            "{reason}"
        );
    }
}

/// An organization's shared workflow, as `org/shared` keeps it at a tag: the Claude job reads
/// `secrets.anthropic_key`, declares an environment and names its model.
const SHARED_CLAUDE: &str = r#"
on:
  workflow_call:
    secrets:
      anthropic_key:
        required: true
jobs:
  review:
    runs-on: ubuntu-latest
    environment: ci
    steps:
      - uses: anthropics/claude-code-action@v1
        with:
          anthropic_api_key: ${{ secrets.anthropic_key }}
          claude_args: --model claude-haiku-4-5
"#;

const SHARED_INHERIT: &str = r#"
on: workflow_call
jobs:
  claude:
    runs-on: ubuntu-latest
    steps:
      - uses: anthropics/claude-code-action@v1
        with:
          anthropic_api_key: ${{ secrets.ANTHROPIC_API_KEY }}
"#;

fn called(repo: &str, path: &str, git_ref: &str) -> CalledWorkflow {
    CalledWorkflow {
        repo: crate::github::RepoName::parse(repo).unwrap(),
        path: path.to_owned(),
        git_ref: git_ref.to_owned(),
    }
}

fn caller(uses: &str, secrets: &str) -> WorkflowFile {
    file(
        ".github/workflows/claude.yml",
        &format!("on: issue_comment\njobs:\n  claude:\n    uses: {uses}\n{secrets}"),
    )
}

#[test]
fn another_repositorys_workflow_is_named_once_each() {
    let files = [
        caller(
            "org/shared/.github/workflows/claude.yml@v1",
            "    secrets: inherit\n",
        ),
        file(
            ".github/workflows/again.yml",
            "on: push\njobs:\n  a:\n    uses: org/shared/.github/workflows/claude.yml@v1\n  b:\n    uses: org/shared/.github/workflows/claude.yml@main\n  c:\n    uses: ./.github/workflows/local.yml\n  d:\n    uses: org/shared/.github/workflows/../../x.yml@v1\n",
        ),
    ];
    let parsed = Workflows::parse(&files);
    assert_eq!(
        parsed.called(),
        [
            called("org/shared", ".github/workflows/claude.yml", "v1"),
            called("org/shared", ".github/workflows/claude.yml", "main"),
        ]
    );
}

#[test]
fn a_called_workflow_of_another_repository_is_followed_with_inherit_and_a_mapping() {
    let files = [
        caller(
            "org/shared/.github/workflows/inherit.yml@v1",
            "    secrets: inherit\n",
        ),
        file(
            ".github/workflows/mapped.yml",
            "on: pull_request\njobs:\n  review:\n    uses: org/shared/.github/workflows/claude.yml@0123456789abcdef0123456789abcdef01234567\n    secrets:\n      anthropic_key: ${{ secrets.TEAM_CLAUDE_KEY }}\n",
        ),
    ];
    let inherit = called("org/shared", ".github/workflows/inherit.yml", "v1");
    let mapped = called(
        "org/shared",
        ".github/workflows/claude.yml",
        "0123456789abcdef0123456789abcdef01234567",
    );
    let callees = Callees::from([
        (inherit.clone(), Callee::Text(SHARED_INHERIT.to_owned())),
        (mapped.clone(), Callee::Text(SHARED_CLAUDE.to_owned())),
    ]);
    let analysis = Workflows::parse(&files).analyze(&callees);
    assert!(analysis.warnings.is_empty(), "{:?}", analysis.warnings);
    let [first, second] = analysis.steps.as_slice() else {
        panic!("{:?}", analysis.steps);
    };
    assert_eq!(first.workflow_path, ".github/workflows/claude.yml");
    assert_eq!(first.job_id, "claude / claude");
    assert_eq!(first.api_key_secret.as_deref(), Some("ANTHROPIC_API_KEY"));
    assert_eq!(first.triggers, ["issue_comment"]);
    assert_eq!(first.called_workflow.as_ref(), Some(&inherit));
    // The caller's secret name, the called job's environment and model.
    assert_eq!(second.workflow_path, ".github/workflows/mapped.yml");
    assert_eq!(second.job_id, "review / review");
    assert_eq!(second.api_key_secret.as_deref(), Some("TEAM_CLAUDE_KEY"));
    assert_eq!(second.environment.as_deref(), Some("ci"));
    assert_eq!(
        second.model,
        Some(ModelChoice {
            model: "claude-haiku-4-5".to_owned(),
            source: ModelSource::ClaudeArgs
        })
    );
    assert_eq!(second.called_workflow.as_ref(), Some(&mapped));
}

#[test]
fn an_unreadable_called_workflow_is_a_warning_naming_what_the_job_passes() {
    let files = [
        caller(
            "org/shared/.github/workflows/claude.yml@v9",
            "    secrets:\n      anthropic_key: ${{ secrets.TEAM_CLAUDE_KEY }}\n      other: ${{ secrets.OTHER }}\n",
        ),
        file(
            ".github/workflows/inherit.yml",
            "on: push\njobs:\n  c:\n    uses: org/gone/.github/workflows/claude.yml@v1\n    secrets: inherit\n",
        ),
        file(
            ".github/workflows/broken.yml",
            "on: push\njobs:\n  b:\n    uses: org/shared/.github/workflows/broken.yml@v1\n",
        ),
    ];
    let callees = Callees::from([
        (
            called("org/shared", ".github/workflows/claude.yml", "v9"),
            Callee::Unreadable("GitHub answered 404".to_owned()),
        ),
        (
            called("org/shared", ".github/workflows/broken.yml", "v1"),
            Callee::Text("jobs: [".to_owned()),
        ),
    ]);
    let analysis = Workflows::parse(&files).analyze(&callees);
    assert!(analysis.steps.is_empty(), "{:?}", analysis.steps);
    let [mapped, inherit, broken] = analysis.warnings.as_slice() else {
        panic!("{:?}", analysis.warnings);
    };
    assert_eq!(
        mapped.message,
        "job claude calls org/shared/.github/workflows/claude.yml@v9, which keyfix could not read (GitHub answered 404); the job passes it its secrets OTHER, TEAM_CLAUDE_KEY, and its Claude steps, if any, are not checked"
    );
    let call = mapped.unread_call.as_ref().unwrap();
    assert_eq!(call.job_id, "claude");
    assert_eq!(call.passed_secrets.names, ["OTHER", "TEAM_CLAUDE_KEY"]);
    assert!(!call.passed_secrets.inherit);
    // Not handed to the analysis: said as not read, never silently nothing.
    assert!(
        inherit.message.contains("(it was not read)")
            && inherit
                .message
                .contains("all its secrets (secrets: inherit)"),
        "{inherit:?}"
    );
    assert!(inherit.unread_call.as_ref().unwrap().passed_secrets.inherit);
    assert!(
        broken
            .message
            .contains("it is not a workflow keyfix can read"),
        "{broken:?}"
    );
    assert_eq!(analysis.unread_calls().count(), 3);
}

#[test]
fn a_call_whose_names_github_would_refuse_is_not_read() {
    let analysis = Workflows::parse(&[caller(
        "org/shared/scripts/claude.sh@v1",
        "    secrets: inherit\n",
    )])
    .analyze(&Callees::new());
    let [warning] = analysis.warnings.as_slice() else {
        panic!("{:?}", analysis.warnings);
    };
    assert!(
        warning
            .message
            .contains("is not a workflow file under .github/workflows/"),
        "{warning:?}"
    );
    assert!(warning.unread_call.is_none());
}
