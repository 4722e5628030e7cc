//! The Anthropic API as `diagnosis.md` §1 describes it: every key and organization state answers
//! with the status, error body and headers the real API gives.
//!
//! Simplifications, each where the facts are uncertain:
//! - `GET /v1/models` answers 200 to every key that authenticates, orphaned or not, and to keys of
//!   organizations without credit; it refuses disabled organizations like messages does.
//! - `inactive` and `archived` keys answer the credit text (the premise of row 15 of the table);
//!   `expired` and `revoked` keys answer 401.
//! - The Admin API answers 401 to anything but an active admin key. A key set `inactive` or
//!   `archived` through it answers as a key of that state does from then on.
//! - A key presented as `Authorization: Bearer` answers exactly as it does in `x-api-key`, OAuth
//!   tokens included (401); a bad one is refused in the words of `x-api-key`.
//! - Lists come in the scenario's order; an unknown paging cursor gives an empty last page.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::faults::{self, RequestFacts};
use crate::scenario::{CredentialKind, KeySpec, KeyState, Organization, Refusal};
use crate::World;

pub const CREDIT_TEXT: &str = "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.";

pub fn router(world: Arc<World>) -> Router {
    Router::new()
        .route("/v1/models", get(list_models))
        .route("/v1/models/{id}", get(get_model))
        .route("/v1/messages", post(messages))
        .route("/v1/messages/count_tokens", post(count_tokens))
        .route("/v1/organizations/api_keys", get(admin_list_keys))
        .route(
            "/v1/organizations/api_keys/{id}",
            get(admin_get_key).post(admin_update_key),
        )
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            world.clone(),
            version_required,
        ))
        .layer(axum::middleware::from_fn_with_state(world.clone(), gate))
        .with_state(world)
}

/// Added latency and faults: what every Anthropic request meets before its handler.
async fn gate(State(world): State<Arc<World>>, request: Request, next: Next) -> Response {
    let latency = world.scenario.anthropic.latency_ms;
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let (request, model) = match requested_model_of(request).await {
        Ok(read) => read,
        Err(refusal) => return respond(&world, refusal),
    };
    let hit = world.faults.take(&RequestFacts {
        service: "anthropic",
        method: request.method().as_str(),
        path: request.uri().path(),
        key: presented_credential(request.headers())
            .and_then(|value| world.key_by_value(value))
            .map(|key| key.name.as_str()),
        model: model.as_deref(),
    });
    faults::apply(&world, hit, request, next, fault_answer).await
}

/// The API refuses a request without `anthropic-version` before anything else; a fault still
/// hits it first, as the network fails before the API answers.
async fn version_required(
    State(world): State<Arc<World>>,
    request: Request,
    next: Next,
) -> Response {
    if request.headers().contains_key("anthropic-version") {
        return next.run(request).await;
    }
    respond(
        &world,
        Reply::error(
            400,
            "invalid_request_error",
            "anthropic-version: header is required",
        ),
    )
}

/// The model a request is about, from `/v1/models/{id}` or a JSON body's `model`, with the
/// request as it came (the body read and put back).
async fn requested_model_of(request: Request) -> Result<(Request, Option<String>), Reply> {
    if let Some(id) = request.uri().path().strip_prefix("/v1/models/") {
        let model = Some(id.to_owned());
        return Ok((request, model));
    }
    if request.method() != Method::POST {
        return Ok((request, None));
    }
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            Reply::error(
                413,
                "request_too_large",
                "Request exceeds the maximum allowed number of bytes.",
            )
        })?;
    let model = requested_model(&body).ok();
    Ok((Request::from_parts(parts, Body::from(body)), model))
}

/// The rate-limit window: a minute, as the limits are per minute.
const WINDOW_SECS: u64 = 60;

/// As large a body as axum's own extractors accept.
const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// An answer in the making: status, body, and the headers the real API adds.
struct Reply {
    status: StatusCode,
    body: Value,
    headers: Vec<(String, String)>,
}

impl Reply {
    fn ok(body: Value) -> Reply {
        Reply {
            status: StatusCode::OK,
            body,
            headers: Vec::new(),
        }
    }

    fn error(status: u16, kind: &str, message: &str) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body: json!({"type": "error", "error": {"type": kind, "message": message}}),
            headers: Vec::new(),
        }
    }

    fn with_details(mut self, details: Value) -> Reply {
        self.body["error"]["details"] = details;
        self
    }

    fn header(self, name: &'static str, value: impl ToString) -> Reply {
        self.header_owned(name.to_owned(), value)
    }

    fn header_owned(mut self, name: String, value: impl ToString) -> Reply {
        self.headers.push((name, value.to_string()));
        self
    }

    /// The organization and workspace headers and rate-limit headers of a key that authenticated.
    fn for_key(self, key: &KeySpec, org: &Organization) -> Reply {
        let (input, output) = org.tokens_per_minute();
        let rpm = org.requests_per_minute();
        let mut reply = self
            .header("anthropic-organization-id", org.uuid())
            .rate_limit("requests", rpm, rpm - 1, WINDOW_SECS)
            // The tokens family reports the most restrictive of the token limits.
            .rate_limit("tokens", output, output, WINDOW_SECS)
            .rate_limit("input-tokens", input, input, WINDOW_SECS)
            .rate_limit("output-tokens", output, output, WINDOW_SECS);
        if let Some(ws) = key.workspace_id() {
            reply = reply.header("anthropic-workspace-id", ws);
        }
        reply
    }

    /// One family of `anthropic-ratelimit-*` headers; its reset is when the window renews.
    fn rate_limit(self, family: &str, limit: u64, remaining: u64, reset_secs: u64) -> Reply {
        let reset = crate::time::rfc3339(crate::time::now_epoch_millis() + reset_secs * 1000);
        self.header_owned(format!("anthropic-ratelimit-{family}-limit"), limit)
            .header_owned(format!("anthropic-ratelimit-{family}-remaining"), remaining)
            .header_owned(format!("anthropic-ratelimit-{family}-reset"), reset)
    }

    fn into_response(self, request_id: String) -> Response {
        let mut body = self.body;
        if body["type"] == "error" {
            body["request_id"] = Value::String(request_id.clone());
        }
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        for (name, value) in self.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                headers.insert(name, value);
            }
        }
        headers.insert(
            "request-id",
            HeaderValue::from_str(&request_id).expect("ascii"),
        );
        response
    }
}

fn unauthorized() -> Reply {
    Reply::error(401, "authentication_error", "invalid x-api-key")
}

fn presented_key(headers: &HeaderMap) -> Option<&str> {
    headers.get("x-api-key").and_then(|v| v.to_str().ok())
}

/// The credential a request presents: its `x-api-key`, or else an `Authorization: Bearer` token,
/// which the API takes as well (the official SDKs send the key that way).
pub fn presented_credential(headers: &HeaderMap) -> Option<&str> {
    presented_key(headers).or_else(|| {
        let value = headers.get("authorization")?.to_str().ok()?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))?;
        Some(token.trim())
    })
}

/// Who is calling: a known key and its organization, or the 401/400 that ends the request.
fn authenticate<'w>(
    world: &'w World,
    headers: &HeaderMap,
) -> Result<(&'w KeySpec, &'w Organization), Reply> {
    authenticate_value(world, presented_credential(headers))
}

fn authenticate_value<'w>(
    world: &'w World,
    presented: Option<&str>,
) -> Result<(&'w KeySpec, &'w Organization), Reply> {
    let presented = presented
        .ok_or_else(|| Reply::error(401, "authentication_error", "x-api-key header is required"))?;
    let key = world.key_by_value(presented).ok_or_else(unauthorized)?;
    let org = key
        .organization
        .as_deref()
        .and_then(|name| world.scenario.organization(name))
        .ok_or_else(unauthorized)?;
    if key.kind != CredentialKind::Api
        || matches!(world.key_state(key), KeyState::Expired | KeyState::Revoked)
    {
        return Err(unauthorized());
    }
    if org.disabled {
        return Err(Reply::error(
            400,
            "invalid_request_error",
            "This organization has been disabled.",
        )
        .for_key(key, org));
    }
    Ok((key, org))
}

/// The API's error answer for a fault's status.
fn fault_answer(world: &World, status: StatusCode) -> Response {
    let reply = match status.as_u16() {
        429 => Reply::error(
            429,
            "rate_limit_error",
            "Number of requests has exceeded your rate limit.",
        )
        .header("retry-after", world.scenario.anthropic.retry_after_secs),
        529 => Reply::error(529, "overloaded_error", "Overloaded").header("x-should-retry", "true"),
        504 => {
            Reply::error(504, "timeout_error", "Request timeout").header("x-should-retry", "true")
        }
        s if s >= 500 => {
            Reply::error(s, "api_error", "Internal server error").header("x-should-retry", "true")
        }
        401 => Reply::error(401, "authentication_error", "invalid x-api-key"),
        402 => Reply::error(402, "billing_error", CREDIT_TEXT),
        403 => Reply::error(
            403,
            "permission_error",
            "Your API key does not have permission to use the specified resource.",
        ),
        404 => Reply::error(
            404,
            "not_found_error",
            "The requested resource could not be found.",
        ),
        413 => Reply::error(
            413,
            "request_too_large",
            "Request exceeds the maximum allowed number of bytes.",
        ),
        s => Reply::error(s, "invalid_request_error", "Injected fault"),
    };
    respond(world, reply)
}

fn respond(world: &World, reply: Reply) -> Response {
    reply.into_response(world.request_id())
}

fn model_json(id: &str) -> Value {
    json!({
        "type": "model",
        "id": id,
        "display_name": display_name(id),
        "created_at": release_date(id),
        "lifecycle": "active",
        "deprecated_at": null,
        "retires_at": null,
        "line": model_line(id),
    })
}

/// The words of a model id without its `claude-` and date: `claude-3-5-haiku-20241022` gives
/// `haiku` and `3.5`.
fn name_and_version(id: &str) -> (Vec<&str>, String) {
    let parts = id.trim_start_matches("claude-").split('-');
    let is_date = |p: &str| p.len() == 8 && p.bytes().all(|b| b.is_ascii_digit());
    let (numbers, words): (Vec<&str>, Vec<&str>) = parts
        .filter(|p| !p.is_empty() && !is_date(p))
        .partition(|p| p.bytes().all(|b| b.is_ascii_digit()));
    (words, numbers.join("."))
}

/// `claude-sonnet-4-5` is "Claude Sonnet 4.5", as the API names it.
fn display_name(id: &str) -> String {
    let (words, version) = name_and_version(id);
    let mut name = String::from("Claude");
    for word in words {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            name.push(' ');
            name.extend(first.to_uppercase());
            name.push_str(chars.as_str());
        }
    }
    if !version.is_empty() {
        name.push(' ');
        name.push_str(&version);
    }
    name
}

/// The model's line (`opus`, `sonnet`, `haiku`), or none for a name outside them.
fn model_line(id: &str) -> Option<&'static str> {
    let (words, _) = name_and_version(id);
    ["haiku", "sonnet", "opus"]
        .into_iter()
        .find(|line| words.contains(line))
}

/// The release dates of the default models; other models get one fixed date.
fn release_date(id: &str) -> &'static str {
    match id {
        "claude-opus-4-5" => "2025-11-24T00:00:00Z",
        "claude-haiku-4-5" => "2025-10-15T00:00:00Z",
        "claude-sonnet-4-5" => "2025-09-29T00:00:00Z",
        "claude-opus-4-1" => "2025-08-05T00:00:00Z",
        "claude-sonnet-4" => "2025-05-22T00:00:00Z",
        _ => "2025-01-01T00:00:00Z",
    }
}

/// The paging parameters every list of the API takes.
#[derive(Deserialize)]
struct PageQuery {
    limit: Option<i64>,
    after_id: Option<String>,
    before_id: Option<String>,
}

/// One page of `items` (each with an `id`) as the API pages: `limit` (1 to 1000, 20 when
/// absent) items after `after_id`, or the `limit` items just before `before_id`; `has_more` says
/// whether more lie further in the direction of travel.
fn page_of(items: Vec<Value>, q: &PageQuery) -> Result<Value, Reply> {
    let invalid = |message: &str| Reply::error(400, "invalid_request_error", message);
    let limit = match q.limit.unwrap_or(20) {
        n if n < 1 => return Err(invalid("limit: Input should be greater than or equal to 1")),
        n if n > 1000 => return Err(invalid("limit: Input should be less than or equal to 1000")),
        n => n as usize,
    };
    let position = |id: &str| items.iter().position(|item| item["id"] == id);
    let (range, has_more) = match (&q.after_id, &q.before_id) {
        (Some(_), Some(_)) => {
            return Err(invalid("Only one of after_id and before_id may be given."))
        }
        (None, Some(before)) => match position(before) {
            Some(end) => (end.saturating_sub(limit)..end, end > limit),
            None => (0..0, false),
        },
        (after, None) => {
            let start = match after {
                Some(after) => position(after).map_or(items.len(), |i| i + 1),
                None => 0,
            };
            let end = (start + limit).min(items.len());
            (start..end, end < items.len())
        }
    };
    let page = &items[range];
    Ok(json!({
        "data": page,
        "has_more": has_more,
        "first_id": page.first().map(|item| item["id"].clone()),
        "last_id": page.last().map(|item| item["id"].clone()),
    }))
}

async fn list_models(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Response {
    let reply = (|| {
        let (key, org) = authenticate(&world, &headers)?;
        let models = world.scenario.anthropic.models.iter();
        let page = page_of(models.map(|m| model_json(m)).collect(), &q)
            .map_err(|refusal| refusal.for_key(key, org))?;
        Ok::<Reply, Reply>(Reply::ok(page).for_key(key, org))
    })()
    .unwrap_or_else(|refusal| refusal);
    respond(&world, reply)
}

async fn get_model(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let reply = match authenticate(&world, &headers) {
        Err(reply) => reply,
        Ok((key, org)) if world.scenario.anthropic.models.contains(&id) => {
            Reply::ok(model_json(&id)).for_key(key, org)
        }
        Ok((key, org)) => {
            Reply::error(404, "not_found_error", &format!("model: {id}")).for_key(key, org)
        }
    };
    respond(&world, reply)
}

/// The model named in a messages body, or the 400 the API gives for a body without one.
fn requested_model(body: &Bytes) -> Result<String, Reply> {
    let parsed: Value = serde_json::from_slice(body).map_err(|_| {
        Reply::error(
            400,
            "invalid_request_error",
            "The request body is not valid JSON.",
        )
    })?;
    parsed["model"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| Reply::error(400, "invalid_request_error", "model: Field required"))
}

/// Whether the key may use the model: unknown models and the tier's restrictions refuse it.
fn model_gate(world: &World, key: &KeySpec, org: &Organization, model: &str) -> Result<(), Reply> {
    if !world.scenario.anthropic.models.iter().any(|m| m == model) {
        return Err(
            Reply::error(404, "not_found_error", &format!("model: {model}")).for_key(key, org),
        );
    }
    match org.restricted_models.get(model) {
        Some(Refusal::NotFound) => {
            Err(Reply::error(404, "not_found_error", &format!("model: {model}")).for_key(key, org))
        }
        Some(Refusal::CreditText) => {
            Err(Reply::error(400, "invalid_request_error", CREDIT_TEXT).for_key(key, org))
        }
        None => Ok(()),
    }
}

/// The billing gate, in the order the real API seems to apply it.
fn billing_gate(
    world: &World,
    key: &KeySpec,
    org: &Organization,
    model: &str,
) -> Result<(), Reply> {
    let refuse = |reply: Reply| Err(reply.for_key(key, org));
    if matches!(
        world.key_state(key),
        KeyState::Orphaned | KeyState::Inactive | KeyState::Archived
    ) || !org.credit
    {
        return refuse(Reply::error(400, "invalid_request_error", CREDIT_TEXT));
    }
    if let Some(date) = &org.spend_limit_until {
        return refuse(Reply::error(
            400,
            "invalid_request_error",
            &format!("You have reached your specified API usage limits. You will regain access on {date} at 00:00 UTC."),
        ));
    }
    if let Some(date) = &org.workspace_spend_limit_until {
        return refuse(Reply::error(
            400,
            "invalid_request_error",
            &format!("You have reached your specified workspace API usage limits. You will regain access on {date} at 00:00 UTC."),
        ));
    }
    if let Some(date) = &org.tier_cap_until {
        return refuse(
            Reply::error(
                429,
                "rate_limit_error",
                &format!("You have reached your API usage limits. You will regain access on {date} at 00:00 UTC."),
            )
            .with_details(json!({"error_code": "enforced_spend_limit_reached"})),
        );
    }
    if org.rate_limited {
        let rpm = org.requests_per_minute();
        let wait = world.scenario.anthropic.retry_after_secs;
        // Nothing left of the requests budget until the wait is over.
        return Err(Reply::error(
            429,
            "rate_limit_error",
            &format!(
                "This request would exceed your organization's rate limit of {rpm} requests per minute (org: {}, model: {model}). For details, refer to: https://docs.claude.com/en/api/rate-limits.",
                org.uuid()
            ),
        )
        .for_key(key, org)
        .rate_limit("requests", rpm, 0, wait)
        .header("retry-after", wait));
    }
    Ok(())
}

/// The Messages API's answer to `presented` asking for `model`.
fn messages_reply(world: &World, presented: Option<&str>, model: Result<String, Reply>) -> Reply {
    let answer = (|| {
        let (key, org) = authenticate_value(world, presented)?;
        let model = model?;
        model_gate(world, key, org, &model)?;
        billing_gate(world, key, org, &model)?;
        Ok::<Reply, Reply>(
            Reply::ok(json!({
                "id": format!("msg_{}", world.request_id().trim_start_matches("req_")),
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [{"type": "text", "text": "Hello"}],
                "stop_reason": "max_tokens",
                "stop_sequence": null,
                "usage": {"input_tokens": 8, "output_tokens": 1},
            }))
            .for_key(key, org),
        )
    })();
    answer.unwrap_or_else(|refusal| refusal)
}

async fn messages(State(world): State<Arc<World>>, headers: HeaderMap, body: Bytes) -> Response {
    let model = requested_model(&body);
    let reply = messages_reply(&world, presented_credential(&headers), model);
    respond(&world, reply)
}

/// The call `anthropics/claude-code-action` makes from inside a simulated run, answered in
/// process (faults and added latency do not apply) and written to the request log.
pub fn emulated_messages(world: &World, key: &str, model: &str) -> (u16, Value) {
    let reply = messages_reply(world, Some(key), Ok(model.to_owned()));
    let status = reply.status.as_u16();
    let key_name = world
        .key_by_value(key)
        .map_or_else(|| "(unknown)".to_owned(), |k| k.name.clone());
    world.record(
        "anthropic",
        "POST",
        "/v1/messages (from a workflow run)",
        status,
        Some(key_name),
        false,
    );
    (status, reply.body)
}

async fn count_tokens(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let reply = (|| {
        let (key, org) = authenticate(&world, &headers)?;
        let model = requested_model(&body)?;
        model_gate(&world, key, org, &model)?;
        Ok::<Reply, Reply>(Reply::ok(json!({"input_tokens": 8})).for_key(key, org))
    })()
    .unwrap_or_else(|refusal| refusal);
    respond(&world, reply)
}

/// The Admin API listing's filters; its paging is `PageQuery`.
#[derive(Deserialize)]
struct AdminQuery {
    status: Option<String>,
    workspace_id: Option<String>,
    created_by_user_id: Option<String>,
}

fn admin_status(state: KeyState) -> Option<&'static str> {
    match state {
        KeyState::Active | KeyState::Orphaned => Some("active"),
        KeyState::Inactive => Some("inactive"),
        KeyState::Archived => Some("archived"),
        KeyState::Expired => Some("expired"),
        KeyState::Revoked => None,
    }
}

/// The Admin API's `partial_key_hint`: prefix, 3 characters, `...`, the last 4.
pub fn partial_key_hint(value: &str) -> String {
    let prefix_len = "sk-ant-api03-".len();
    format!(
        "{}...{}",
        &value[..prefix_len + 3],
        &value[value.len() - 4..]
    )
}

/// The organization of the request's admin key, when it is an active one.
fn admin_organization(world: &World, headers: &HeaderMap) -> Option<String> {
    presented_credential(headers)
        .and_then(|v| world.key_by_value(v))
        .filter(|k| k.kind == CredentialKind::Admin && world.key_state(k) == KeyState::Active)
        .and_then(|k| k.organization.clone())
}

/// The API keys of `org` the Admin API lists, with their ids and states now.
fn admin_keys<'w>(world: &'w World, org: &str) -> Vec<(String, &'w KeySpec, &'static str)> {
    world
        .scenario
        .keys
        .iter()
        .enumerate()
        .filter(|(_, k)| k.kind == CredentialKind::Api && k.organization.as_deref() == Some(org))
        .filter_map(|(i, k)| {
            Some((
                format!("apikey_{i:04}"),
                k,
                admin_status(world.key_state(k))?,
            ))
        })
        .collect()
}

/// The user every simulated key was created by.
const CREATOR: &str = "user_01WCz1FkmYMm4gnmykNKUu3Q";

/// An Admin API key record. `workspace_id` (null for the default workspace) is the older field;
/// `scope` names the workspace in every case.
fn admin_key_json(world: &World, id: &str, key: &KeySpec, status: &str) -> Value {
    let workspace = key.workspace_id().or_else(|| {
        key.organization
            .as_deref()
            .and_then(|name| world.scenario.organization(name))
            .map(Organization::default_workspace_id)
    });
    json!({
        "type": "api_key",
        "id": id,
        "name": key.name,
        "status": status,
        "workspace_id": key.workspace_id(),
        "scope": {"type": "workspace", "workspace_id": workspace},
        "created_at": "2026-01-15T10:00:00Z",
        "expires_at": null,
        "created_by": {"id": CREATOR, "type": "user"},
        "principal": null,
        "partial_key_hint": partial_key_hint(&key.value()),
    })
}

async fn admin_list_keys(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    Query(q): Query<AdminQuery>,
    Query(paging): Query<PageQuery>,
) -> Response {
    let Some(org_name) = admin_organization(&world, &headers) else {
        return respond(&world, unauthorized());
    };
    let listed: Vec<Value> = admin_keys(&world, &org_name)
        .into_iter()
        .filter(|(_, _, status)| q.status.as_deref().is_none_or(|s| s == *status))
        .filter(|(_, k, _)| q.workspace_id.is_none() || k.workspace_id() == q.workspace_id)
        .filter(|_| q.created_by_user_id.as_deref().is_none_or(|u| u == CREATOR))
        .map(|(id, k, status)| admin_key_json(&world, &id, k, status))
        .collect();
    let reply = page_of(listed, &paging).map_or_else(|refusal| refusal, Reply::ok);
    respond(&world, reply)
}

/// `GET /v1/organizations/api_keys/{id}`: one key of the admin key's organization.
async fn admin_get_key(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let Some(org_name) = admin_organization(&world, &headers) else {
        return respond(&world, unauthorized());
    };
    let reply = admin_keys(&world, &org_name)
        .into_iter()
        .find(|(listed, _, _)| *listed == id)
        .map_or_else(
            || admin_key_not_found(&id),
            |(id, key, status)| Reply::ok(admin_key_json(&world, &id, key, status)),
        );
    respond(&world, reply)
}

fn admin_key_not_found(id: &str) -> Reply {
    Reply::error(404, "not_found_error", &format!("API key {id} not found."))
}

#[derive(Deserialize)]
struct AdminUpdate {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

/// `POST /v1/organizations/api_keys/{id}`: the status changes (`active`, `inactive`, or the
/// final `archived`); a name change is accepted and not kept.
async fn admin_update_key(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let Some(org_name) = admin_organization(&world, &headers) else {
        return respond(&world, unauthorized());
    };
    let Ok(update) = serde_json::from_slice::<AdminUpdate>(&body) else {
        return respond(
            &world,
            Reply::error(
                400,
                "invalid_request_error",
                "The request body is not valid JSON.",
            ),
        );
    };
    let Some((id, key, status)) = admin_keys(&world, &org_name)
        .into_iter()
        .find(|(listed, _, _)| *listed == id)
    else {
        return respond(&world, admin_key_not_found(&id));
    };
    let _ = update.name;
    let state = match (status, update.status.as_deref()) {
        (_, None) => None,
        ("archived", Some(_)) => {
            return respond(
                &world,
                Reply::error(
                    400,
                    "invalid_request_error",
                    "An archived API key cannot be changed.",
                ),
            )
        }
        // An orphaned key made active again is still orphaned: its billing link stays broken.
        (_, Some("active")) if key.state == KeyState::Orphaned => Some(KeyState::Orphaned),
        (_, Some("active")) => Some(KeyState::Active),
        (_, Some("inactive")) => Some(KeyState::Inactive),
        (_, Some("archived")) => Some(KeyState::Archived),
        (_, Some(other)) => {
            return respond(
                &world,
                Reply::error(
                    400,
                    "invalid_request_error",
                    &format!(
                        "status: Input should be 'active', 'inactive' or 'archived', not '{other}'"
                    ),
                ),
            )
        }
    };
    if let Some(state) = state {
        world.set_key_state(key, state);
    }
    let status = admin_status(world.key_state(key)).unwrap_or(status);
    respond(&world, Reply::ok(admin_key_json(&world, &id, key, status)))
}

async fn not_found(State(world): State<Arc<World>>) -> Response {
    respond(&world, Reply::error(404, "not_found_error", "Not found"))
}
