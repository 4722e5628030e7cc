//! Reading workflow files: every `anthropics/claude-code-action` step, the secret it reads, the
//! job's environment and the model. Pure: text in, facts out. A file that cannot be parsed is a
//! warning naming it, never an error.

use std::collections::BTreeMap;

use github_actions_models::common::expr::LoE;
use github_actions_models::common::{Env, EnvValue, Uses};
use github_actions_models::workflow::job::{
    DeploymentEnvironment, NormalJob, ReusableWorkflowCallJob, RunsOn, Secrets, Step, UsesStep,
};
use github_actions_models::workflow::{Job, Workflow};
use serde::Serialize;

pub use called::{CalledWorkflow, Callee, Callees, PassedSecrets, UnreadCall};

pub const CLAUDE_ACTION: &str = "anthropics/claude-code-action";
/// The action's base, used alone by some workflows (and by the action itself before v0.0.35).
pub const CLAUDE_BASE_ACTION: &str = "anthropics/claude-code-base-action";
/// The model Claude Code uses when a workflow names none; reported as an assumption.
pub const CLAUDE_CODE_DEFAULT_MODEL: &str = "claude-sonnet-4-5";
/// The secret name the action's documentation uses, and keyfix's default.
pub const DEFAULT_SECRET: &str = "ANTHROPIC_API_KEY";

/// A workflow file as read from the repository.
#[derive(Clone, Debug)]
pub struct WorkflowFile {
    pub path: String,
    pub text: String,
}

/// Where a step's model comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelSource {
    ClaudeArgs,
    Settings,
    ModelInput,
    Env,
    RepositorySettings,
    /// A `workflow_dispatch` or `workflow_call` input's default: what runs without that input
    /// get, an assumption.
    InputDefault,
    /// An expression keyfix cannot resolve from the file (`vars.*`, `matrix.*`): Claude Code's
    /// default is assumed.
    Unresolved,
    /// The workflow names none: Claude Code's default, an assumption.
    Default,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ModelChoice {
    pub model: String,
    pub source: ModelSource,
}

/// How the step authenticates to Claude.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Credential {
    ApiKey,
    /// Both an API key and an OAuth token: the API key is billed.
    ApiKeyAndOauthToken,
    OauthToken,
    Bedrock,
    Vertex,
    Foundry,
    /// Workload identity federation (`anthropic_federation_rule_id` and its kin): no stored key.
    WorkloadIdentity,
    /// Neither input is set: the action has nothing to authenticate with.
    None,
}

impl Credential {
    pub fn uses_api_key(self) -> bool {
        matches!(self, Credential::ApiKey | Credential::ApiKeyAndOauthToken)
    }

    /// What the step uses instead of an API key, for a person.
    pub fn describe(self) -> &'static str {
        match self {
            Credential::ApiKey => "an Anthropic API key",
            Credential::ApiKeyAndOauthToken => {
                "both an API key and an OAuth token (the API key is billed)"
            }
            Credential::OauthToken => "a Claude Code OAuth token (claude_code_oauth_token)",
            Credential::Bedrock => "Amazon Bedrock (use_bedrock)",
            Credential::Vertex => "Google Vertex AI (use_vertex)",
            Credential::Foundry => "Microsoft Foundry (use_foundry)",
            Credential::WorkloadIdentity => {
                "workload identity federation (anthropic_federation_rule_id)"
            }
            Credential::None => "no credential at all",
        }
    }
}

/// One `anthropics/claude-code-action` step, as the run that executes it sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClaudeStep {
    /// The workflow file a run of this step belongs to (the caller, for a reusable workflow).
    pub workflow_path: String,
    pub job_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_name: Option<String>,
    /// `uses:` as written (`anthropics/claude-code-action@v1`).
    pub uses: String,
    pub credential: Credential,
    /// The secret passed as `anthropic_api_key` (or set as `ANTHROPIC_API_KEY` in `env:`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key_secret: Option<String>,
    /// The key's expression where no secret name can be read from it (`secrets[matrix.key]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key_expression: Option<String>,
    /// The secret passed as `claude_code_oauth_token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oauth_secret: Option<String>,
    /// The job's `environment:`; its secrets shadow the repository's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// `None` when the workflow names no model (then Claude Code's default applies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelChoice>,
    /// The model's expression where it is one (`${{ vars.CLAUDE_MODEL }}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_expression: Option<String>,
    /// `settings:` given as the path of a file in the repository, which may name the model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings_file: Option<String>,
    /// `ANTHROPIC_BASE_URL` from the step's or job's `env:`, as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    pub runs_on: Vec<String>,
    pub triggers: Vec<String>,
    /// The reusable workflow of another repository the step runs in; its secret, environment
    /// and scopes are still the caller's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub called_workflow: Option<CalledWorkflow>,
}

impl ClaudeStep {
    /// The model the step runs: its own, the repository's settings, or Claude Code's default.
    pub fn effective_model(&self, repository_default: Option<&str>) -> ModelChoice {
        if let Some(model) = &self.model {
            return model.clone();
        }
        match repository_default {
            Some(model) => ModelChoice {
                model: model.to_owned(),
                source: ModelSource::RepositorySettings,
            },
            None => ModelChoice {
                model: CLAUDE_CODE_DEFAULT_MODEL.to_owned(),
                source: ModelSource::Default,
            },
        }
    }
}

/// What keyfix could not read, or would not use, of one file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub path: String,
    /// The line of a parse error, where the parser names one.
    pub line: Option<usize>,
    pub message: String,
    /// The call to another repository's workflow this warning is about, when keyfix could not
    /// read that workflow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unread_call: Option<UnreadCall>,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl Warning {
    pub fn new(path: &str, message: String) -> Warning {
        Warning {
            path: path.to_owned(),
            line: None,
            message,
            unread_call: None,
        }
    }
}

/// Everything the workflow files of a repository say about Claude.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Analysis {
    pub steps: Vec<ClaudeStep>,
    pub warnings: Vec<Warning>,
}

impl Analysis {
    /// Distinct secret names passed as `anthropic_api_key`, in file order.
    pub fn api_key_secrets(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for name in self.steps.iter().filter_map(|s| s.api_key_secret.clone()) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }

    /// The warnings about calls to other repositories' workflows keyfix could not read, where
    /// a Claude step may be that keyfix did not see.
    pub fn unread_calls(&self) -> impl Iterator<Item = &Warning> {
        self.warnings.iter().filter(|w| w.unread_call.is_some())
    }

    pub fn workflow_paths(&self) -> Vec<String> {
        let mut paths: Vec<String> = Vec::new();
        for step in &self.steps {
            if !paths.contains(&step.workflow_path) {
                paths.push(step.workflow_path.clone());
            }
        }
        paths
    }
}

/// Reads every workflow file; Claude steps in reusable workflows are reported under the
/// workflows that call them, with the secret names mapped through the call. A call to another
/// repository's workflow is left unread: see [`Workflows`].
pub fn analyze(files: &[WorkflowFile]) -> Analysis {
    Workflows::parse(files).analyze(&Callees::new())
}

/// A repository's workflow files, parsed: what they call in other repositories is read (see
/// [`Workflows::called`]) before they are analyzed.
pub struct Workflows<'f> {
    parsed: Vec<(&'f WorkflowFile, Parsed)>,
    warnings: Vec<Warning>,
}

impl<'f> Workflows<'f> {
    /// Parses every file; one that cannot be parsed is a warning naming its line.
    pub fn parse(files: &'f [WorkflowFile]) -> Workflows<'f> {
        let mut parsed = Vec::new();
        let mut warnings = Vec::new();
        for file in files {
            match parse(&file.text) {
                Ok(workflow) => parsed.push((file, workflow)),
                Err(error) => warnings.push(Warning {
                    line: error.location().map(|at| at.line()),
                    ..Warning::new(
                        &file.path,
                        format!("keyfix cannot read this workflow ({error}); it was skipped"),
                    )
                }),
            }
        }
        Workflows { parsed, warnings }
    }

    /// The reusable workflows of other repositories the jobs call, each once, in order.
    pub fn called(&self) -> Vec<CalledWorkflow> {
        let mut called: Vec<CalledWorkflow> = Vec::new();
        let calls = self
            .parsed
            .iter()
            .flat_map(|(_, p)| p.workflow.jobs.values());
        for job in calls {
            let Job::ReusableWorkflowCallJob(call) = job else {
                continue;
            };
            if let Uses::Repository(uses) = &call.uses {
                match CalledWorkflow::of(uses) {
                    Ok(workflow) if !called.contains(&workflow) => called.push(workflow),
                    _ => {}
                }
            }
        }
        called
    }

    /// Every Claude step, `callees` holding what [`Workflows::called`] named.
    pub fn analyze(self, callees: &Callees) -> Analysis {
        let mut analysis = Analysis {
            steps: Vec::new(),
            warnings: self.warnings,
        };
        let remote: BTreeMap<&CalledWorkflow, Result<Parsed, String>> = callees
            .iter()
            .map(|(called, callee)| (called, parse_callee(callee)))
            .collect();
        let local: BTreeMap<&str, &Parsed> = self
            .parsed
            .iter()
            .map(|(f, p)| (f.path.as_str(), p))
            .collect();
        for (file, workflow) in &self.parsed {
            let triggers = &workflow.triggers;
            let only_called = triggers.iter().all(|t| t == "workflow_call");
            for (job_id, job) in &workflow.workflow.jobs {
                match job {
                    Job::NormalJob(job) if !only_called => {
                        let context = JobContext::new(&file.path, job_id, triggers, workflow, job);
                        analysis
                            .steps
                            .extend(claude_steps(&context, job, &SecretMap::Same));
                    }
                    Job::ReusableWorkflowCallJob(call) => {
                        let caller = Caller {
                            path: &file.path,
                            job_id,
                            triggers,
                            map: SecretMap::of(call),
                        };
                        match callee_of(call, &local, &remote) {
                            Some(Ok((callee, called))) => {
                                analysis.steps.extend(called_steps(&caller, callee, called))
                            }
                            Some(Err(refused)) => analysis.warnings.push(caller.warning(refused)),
                            None => {}
                        }
                    }
                    Job::NormalJob(_) => {}
                }
            }
        }
        for step in &mut analysis.steps {
            analysis
                .warnings
                .extend(checked::refuse_unusable_names(step));
        }
        analysis
    }
}

/// A called workflow's text, parsed; `Err` is why it cannot be followed.
fn parse_callee(callee: &Callee) -> Result<Parsed, String> {
    match callee {
        Callee::Text(text) => {
            parse(text).map_err(|e| format!("it is not a workflow keyfix can read: {e}"))
        }
        Callee::Unreadable(reason) => Err(reason.clone()),
    }
}

/// A workflow file read: its jobs, the events of `on:`, and the defaults of its inputs.
struct Parsed {
    workflow: Workflow,
    triggers: Vec<String>,
    input_defaults: BTreeMap<String, String>,
}

/// Parses a workflow as GitHub does: a byte-order mark and CRLF line ends are fine, aliases are
/// resolved, and `on:` may come back as `true:` from a YAML 1.1 tool. A parse error names its line.
fn parse(text: &str) -> Result<Parsed, yaml_serde::Error> {
    let text = text.trim_start_matches('\u{feff}');
    let mut raw: yaml_serde::Value = yaml_serde::from_str(text)?;
    if let Some(mapping) = raw.as_mapping_mut() {
        let on = yaml_serde::Value::String("on".to_owned());
        if !mapping.contains_key(&on) {
            if let Some(events) = mapping.remove(yaml_serde::Value::Bool(true)) {
                mapping.insert(on, events);
            }
        }
    }
    let workflow: Workflow = yaml_serde::from_value(raw.clone())?;
    Ok(Parsed {
        workflow,
        triggers: triggers(&raw),
        input_defaults: input_defaults(&raw),
    })
}

/// The `default` of every `workflow_dispatch` and `workflow_call` input.
fn input_defaults(raw: &yaml_serde::Value) -> BTreeMap<String, String> {
    let mut defaults = BTreeMap::new();
    for event in ["workflow_dispatch", "workflow_call"] {
        let inputs = raw
            .get("on")
            .and_then(|on| on.get(event))
            .and_then(|e| e.get("inputs"))
            .and_then(|i| i.as_mapping());
        for (name, input) in inputs.into_iter().flatten() {
            let default = input.get("default").and_then(|d| match d {
                yaml_serde::Value::String(s) => Some(s.clone()),
                yaml_serde::Value::Number(n) => Some(n.to_string()),
                _ => None,
            });
            if let (Some(name), Some(default)) = (name.as_str(), default) {
                defaults.insert(name.to_owned(), default);
            }
        }
    }
    defaults
}

/// Event names of `on:`, in file order, whatever its form.
fn triggers(raw: &yaml_serde::Value) -> Vec<String> {
    let on = raw.get("on").cloned();
    match on {
        Some(yaml_serde::Value::String(event)) => vec![event],
        Some(yaml_serde::Value::Sequence(events)) => events
            .iter()
            .filter_map(|e| e.as_str().map(str::to_owned))
            .collect(),
        Some(yaml_serde::Value::Mapping(events)) => events
            .keys()
            .filter_map(|k| k.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// How secret names inside a reusable workflow map to the caller's.
enum SecretMap {
    Same,
    Mapped(BTreeMap<String, Option<String>>),
}

impl SecretMap {
    /// The map a call's `secrets:` makes: `inherit`, or each inner name to the caller's secret
    /// its expression reads.
    fn of(call: &ReusableWorkflowCallJob) -> SecretMap {
        match &call.secrets {
            Some(Secrets::Inherit) => SecretMap::Same,
            Some(Secrets::Env(env)) => SecretMap::Mapped(
                env.iter()
                    .map(|(inner, value)| {
                        (inner.to_ascii_uppercase(), secret_name(&value.to_string()))
                    })
                    .collect(),
            ),
            None => SecretMap::Mapped(BTreeMap::new()),
        }
    }

    fn caller_name(&self, inner: String) -> Option<String> {
        match self {
            SecretMap::Same => Some(inner),
            SecretMap::Mapped(map) => map.get(&inner).cloned().flatten(),
        }
    }

    /// The caller's secrets the call passes, by the caller's names.
    fn passed(&self) -> PassedSecrets {
        let mut names: Vec<String> = match self {
            SecretMap::Same => Vec::new(),
            SecretMap::Mapped(map) => map.values().flatten().cloned().collect(),
        };
        names.sort();
        names.dedup();
        PassedSecrets {
            inherit: matches!(self, SecretMap::Same),
            names,
        }
    }
}

/// A job that calls a reusable workflow: where its steps are reported, and what it passes.
struct Caller<'a> {
    path: &'a str,
    job_id: &'a str,
    triggers: &'a [String],
    map: SecretMap,
}

impl Caller<'_> {
    /// The warning for a call keyfix could not follow: what it calls, why, and which secrets
    /// the job passes, so that the secret its Claude job uses can still be found by hand.
    fn warning(&self, refused: Refused) -> Warning {
        let passed = self.map.passed();
        match refused {
            Refused::Unreadable(called, reason) => Warning {
                unread_call: Some(UnreadCall {
                    job_id: self.job_id.to_owned(),
                    called_workflow: called.clone(),
                    passed_secrets: passed.clone(),
                }),
                ..Warning::new(
                    self.path,
                    called::unreadable_message(self.job_id, &called, &reason, &passed),
                )
            },
            Refused::Unusable(uses, why) => Warning::new(
                self.path,
                format!(
                    "job {}: `uses: {uses}` cannot be followed: {why}; the job passes it {passed}",
                    self.job_id
                ),
            ),
        }
    }
}

/// Why a call to a reusable workflow could not be followed.
enum Refused {
    /// Another repository's workflow that GitHub would not give keyfix, or that is not one.
    Unreadable(CalledWorkflow, String),
    /// A `uses:` whose names keyfix will not put in a request (as written, and why).
    Unusable(String, String),
}

/// The parsed workflow a job calls, with the other repository's workflow it is (`None` for
/// one of the same repository); `None` when the job calls nothing keyfix can read.
fn callee_of<'p>(
    call: &ReusableWorkflowCallJob,
    local: &BTreeMap<&str, &'p Parsed>,
    remote: &'p BTreeMap<&CalledWorkflow, Result<Parsed, String>>,
) -> Option<Result<(&'p Parsed, Option<CalledWorkflow>), Refused>> {
    match &call.uses {
        Uses::Local(uses) => {
            let path = uses.raw().trim_start_matches("./");
            local.get(path).map(|callee| Ok((*callee, None)))
        }
        Uses::Repository(uses) => Some(match CalledWorkflow::of(uses) {
            Err(why) => Err(Refused::Unusable(uses.raw().to_owned(), why)),
            Ok(called) => match remote.get(&called) {
                Some(Ok(callee)) => Ok((callee, Some(called))),
                Some(Err(reason)) => Err(Refused::Unreadable(called, reason.clone())),
                None => Err(Refused::Unreadable(called, "it was not read".to_owned())),
            },
        }),
        Uses::Docker(_) => None,
    }
}

/// The Claude steps of a called workflow, as the caller's runs execute them: under the caller's
/// path and job, with the caller's secret names, the called job's environment and model.
fn called_steps(
    caller: &Caller,
    callee: &Parsed,
    called: Option<CalledWorkflow>,
) -> Vec<ClaudeStep> {
    let mut steps = Vec::new();
    for (inner_job_id, job) in &callee.workflow.jobs {
        if let Job::NormalJob(job) = job {
            let mut context =
                JobContext::new(caller.path, inner_job_id, caller.triggers, callee, job);
            context.job_id = format!("{} / {inner_job_id}", caller.job_id);
            steps.extend(claude_steps(&context, job, &caller.map));
        }
    }
    for step in &mut steps {
        step.called_workflow = called.clone();
    }
    steps
}

/// What a step inherits from its job and workflow.
struct JobContext<'a> {
    path: &'a str,
    job_id: String,
    triggers: &'a [String],
    workflow_env: Option<&'a Env>,
    job_env: Option<&'a Env>,
    environment: Option<String>,
    runs_on: Vec<String>,
    input_defaults: &'a BTreeMap<String, String>,
}

impl<'a> JobContext<'a> {
    fn new(
        path: &'a str,
        job_id: &str,
        triggers: &'a [String],
        parsed: &'a Parsed,
        job: &'a NormalJob,
    ) -> JobContext<'a> {
        JobContext {
            path,
            job_id: job_id.to_owned(),
            triggers,
            input_defaults: &parsed.input_defaults,
            workflow_env: literal(&parsed.workflow.env),
            job_env: literal(&job.env),
            environment: job.environment.as_ref().map(|e| match e {
                DeploymentEnvironment::Name(name) => name.clone(),
                DeploymentEnvironment::NameURL { name, .. } => name.clone(),
            }),
            runs_on: match &job.runs_on {
                LoE::Literal(RunsOn::Target(labels)) => labels.clone(),
                LoE::Literal(RunsOn::Group { group, labels }) => group
                    .iter()
                    .cloned()
                    .chain(labels.iter().cloned())
                    .collect(),
                LoE::Expr(expr) => vec![expr.as_curly().to_owned()],
            },
        }
    }
}

fn literal<T>(value: &LoE<T>) -> Option<&T> {
    match value {
        LoE::Literal(value) => Some(value),
        LoE::Expr(_) => None,
    }
}

fn is_claude_action(uses: &Uses) -> bool {
    match uses {
        Uses::Repository(repo) => {
            let name = format!("{}/{}", repo.owner(), repo.repo());
            [CLAUDE_ACTION, CLAUDE_BASE_ACTION]
                .iter()
                .any(|action| name.eq_ignore_ascii_case(action))
        }
        _ => false,
    }
}

fn claude_steps(context: &JobContext, job: &NormalJob, map: &SecretMap) -> Vec<ClaudeStep> {
    job.steps
        .iter()
        .filter_map(|step| match step {
            Step::Uses(step) if is_claude_action(&step.uses) => {
                Some(claude_step(context, step, map))
            }
            _ => None,
        })
        .collect()
}

fn claude_step(context: &JobContext, step: &UsesStep, map: &SecretMap) -> ClaudeStep {
    let with = literal(&step.with);
    let step_env = literal(&step.shared.env);
    let envs = [step_env, context.job_env, context.workflow_env];
    let input = |name: &str| -> Option<String> {
        with.and_then(|w| w.get(name))
            .map(EnvValue::to_string)
            .filter(|v| !v.trim().is_empty())
    };
    let from_env = |name: &str| -> Option<String> {
        envs.iter()
            .flatten()
            .find_map(|env| env.get(name))
            .map(EnvValue::to_string)
            .filter(|v| !v.trim().is_empty())
    };
    // The input, else the variable the action reads when the input is not given (v1.0.146 on).
    let credential_value =
        |input_name: &str, variable: &str| input(input_name).or_else(|| from_env(variable));
    let secret_of = |value: &str| -> Option<String> {
        let name = secret_name(value).or_else(|| {
            // `anthropic_api_key: ${{ env.KEY }}` with `KEY: ${{ secrets.NAME }}` above it.
            let var = env_reference(value)?;
            secret_name(&from_env(&var)?)
        })?;
        map.caller_name(name)
    };
    let api_key = credential_value("anthropic_api_key", "ANTHROPIC_API_KEY");
    let oauth = credential_value("claude_code_oauth_token", "CLAUDE_CODE_OAUTH_TOKEN");
    let api_key_secret = api_key.as_deref().and_then(secret_of);
    let api_key_expression = api_key
        .filter(|value| api_key_secret.is_none() && value.contains("${{"))
        .map(|value| value.trim().to_owned());
    let oauth_secret = oauth.as_deref().and_then(secret_of);
    let is_true = |name: &str| input(name).is_some_and(|v| v.trim() == "true");
    let federated = input("anthropic_federation_rule_id").is_some();
    let credential = match (
        api_key_secret.is_some() || api_key_expression.is_some(),
        oauth.is_some(),
    ) {
        (true, true) => Credential::ApiKeyAndOauthToken,
        (true, false) => Credential::ApiKey,
        _ if is_true("use_bedrock") => Credential::Bedrock,
        _ if is_true("use_vertex") => Credential::Vertex,
        _ if is_true("use_foundry") => Credential::Foundry,
        (false, true) => Credential::OauthToken,
        _ if federated => Credential::WorkloadIdentity,
        (false, false) => Credential::None,
    };
    let written = input("claude_args")
        .and_then(|args| model_from_args(&args))
        .map(|m| (m, ModelSource::ClaudeArgs))
        .or_else(|| {
            input("settings")
                .and_then(|s| model_from_settings(&s))
                .map(|m| (m, ModelSource::Settings))
        })
        .or_else(|| {
            input("model")
                .or_else(|| input("anthropic_model"))
                .map(|m| (m, ModelSource::ModelInput))
        })
        .or_else(|| from_env("ANTHROPIC_MODEL").map(|m| (m, ModelSource::Env)));
    let (model, model_expression) = match written {
        Some((model, _)) if model.contains("${{") => {
            let resolved = resolve_model(&model, context, &from_env);
            (Some(resolved), Some(model))
        }
        Some((model, source)) => (Some(ModelChoice { model, source }), None),
        None => (None, None),
    };
    let settings_file = input("settings").filter(|s| {
        let s = s.trim();
        !s.starts_with('{') && !s.contains('\n') && !s.contains("${{")
    });
    ClaudeStep {
        workflow_path: context.path.to_owned(),
        job_id: context.job_id.clone(),
        step_name: step.shared.name.clone(),
        uses: uses_text(&step.uses),
        credential,
        api_key_secret,
        api_key_expression,
        oauth_secret,
        environment: context.environment.clone(),
        model,
        model_expression,
        settings_file,
        base_url: from_env("ANTHROPIC_BASE_URL"),
        runs_on: context.runs_on.clone(),
        triggers: context.triggers.to_vec(),
        called_workflow: None,
    }
}

/// A model written as an expression: `${{ env.X }}` set to a literal is that literal; an input's
/// default is what runs without the input get; anything else is unresolved, and Claude Code's
/// default is assumed.
fn resolve_model(
    written: &str,
    context: &JobContext,
    from_env: &dyn Fn(&str) -> Option<String>,
) -> ModelChoice {
    let body = written
        .split("${{")
        .nth(1)
        .and_then(|rest| rest.split("}}").next())
        .map(str::trim)
        .unwrap_or_default();
    let literal = |value: Option<String>| value.filter(|v| !v.contains("${{"));
    if let Some(name) = body.strip_prefix("env.") {
        if let Some(model) = literal(from_env(name)) {
            return ModelChoice {
                model,
                source: ModelSource::Env,
            };
        }
    }
    if let Some(name) = body
        .strip_prefix("inputs.")
        .or_else(|| body.strip_prefix("github.event.inputs."))
    {
        if let Some(model) = literal(context.input_defaults.get(name).cloned()) {
            return ModelChoice {
                model,
                source: ModelSource::InputDefault,
            };
        }
    }
    ModelChoice {
        model: CLAUDE_CODE_DEFAULT_MODEL.to_owned(),
        source: ModelSource::Unresolved,
    }
}

fn uses_text(uses: &Uses) -> String {
    match uses {
        Uses::Repository(repo) => repo.raw().to_owned(),
        _ => CLAUDE_ACTION.to_owned(),
    }
}

/// The secret an expression reads: `${{ secrets.NAME }}` or `${{ secrets['NAME'] }}`, when
/// its name is one GitHub accepts.
pub fn secret_name(value: &str) -> Option<String> {
    crate::github::names::parse_secret_name(&raw_secret_name(value)?).ok()
}

/// The name an expression reads from `secrets`, whatever it is.
fn raw_secret_name(value: &str) -> Option<String> {
    let inner = expression_body(value)?;
    let rest = inner.strip_prefix("secrets")?;
    let name = if let Some(dotted) = rest.strip_prefix('.') {
        dotted
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .next()?
    } else {
        let quoted = rest.strip_prefix('[')?.trim_start();
        let quote = quoted.chars().next().filter(|c| *c == '\'' || *c == '"')?;
        quoted[1..].split(quote).next()?
    };
    (!name.is_empty()).then(|| name.to_owned())
}

/// The variable an expression reads: `${{ env.NAME }}`.
fn env_reference(value: &str) -> Option<String> {
    let rest = expression_body(value)?.strip_prefix("env.")?;
    let name: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// The text between `${{` and `}}`, trimmed, when the value is one expression.
fn expression_body(value: &str) -> Option<&str> {
    let value = value.trim();
    let inner = value.strip_prefix("${{")?.strip_suffix("}}")?;
    Some(inner.trim())
}

/// `--model X` or `--model=X` in `claude_args`, which is split like a shell line.
pub fn model_from_args(args: &str) -> Option<String> {
    let words: Vec<String> = words_of(args)
        .into_iter()
        .map(|w| w.trim_matches(|c| c == '"' || c == '\'').to_owned())
        .collect();
    words.iter().enumerate().find_map(|(i, word)| {
        if let Some(model) = word.strip_prefix("--model=") {
            return Some(model.to_owned());
        }
        (word == "--model")
            .then(|| words.get(i + 1).cloned())
            .flatten()
    })
}

/// Whitespace-separated words, an expression `${{ … }}` kept whole.
fn words_of(args: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut inside = false;
    for piece in args.split_whitespace() {
        match words.last_mut() {
            Some(last) if inside => {
                last.push(' ');
                last.push_str(piece);
            }
            _ => words.push(piece.to_owned()),
        }
        let last = words.last().map(String::as_str).unwrap_or_default();
        inside = last
            .rfind("${{")
            .is_some_and(|open| !last[open..].contains("}}"));
    }
    words
}

/// `env.ANTHROPIC_MODEL` or `model` in a `settings` JSON text (a file path is not followed).
pub fn model_from_settings(settings: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(settings.trim()).ok()?;
    value["env"]["ANTHROPIC_MODEL"]
        .as_str()
        .or_else(|| value["model"].as_str())
        .map(str::to_owned)
}

mod called;
mod checked;
#[cfg(test)]
mod tests;
