//! The Anthropic API, as keyfix uses it: the calls of `diagnosis.md` §1, each answer reduced to
//! evidence. A non-2xx answer is evidence, not an error; errors are reserved for "no usable
//! answer at all" (unreachable host, an answer that is not the Anthropic API's).

pub mod retry;

use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue};
use serde::Deserialize;
use serde_json::json;
use tracing::{debug, info};

use crate::diagnosis::{AdminRecord, Answer, Call, Endpoint, Outcome};
use crate::key::Key;
use crate::net::{self, Network};
use retry::{AttemptFacts, RetryPolicy};

pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
/// The model every usage tier can call: the one to try when the workflow's model fails.
pub const BASELINE_MODEL: &str = "claude-haiku-4-5";
const API_VERSION: &str = "2023-06-01";
/// The prompt of the definitive check: one word, answered with one token.
const PROBE_PROMPT: &str = "Hi";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the Anthropic base URL {url:?} is not an http(s) URL; fix --anthropic-base-url or ANTHROPIC_BASE_URL")]
    InvalidBaseUrl { url: String },
    #[error("cannot reach the Anthropic API at {url}: {detail}; check --anthropic-base-url / ANTHROPIC_BASE_URL and the network")]
    Unreachable { url: String, detail: String },
    #[error(transparent)]
    Certificate(crate::net::CertificateRejected),
    #[error(transparent)]
    Proxy(crate::net::ProxyError),
    #[error("{url} answered {status} with a body that is not the Anthropic API's; check --anthropic-base-url / ANTHROPIC_BASE_URL")]
    NotAnthropic { url: String, status: u16 },
    #[error("could not build the HTTP client: {0}")]
    Client(String),
}

#[derive(Clone, Debug)]
pub struct Config {
    pub base_url: String,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
    /// Proxies and trusted authorities, shared with the GitHub client.
    pub network: Network,
}

impl Config {
    pub fn new(base_url: Option<String>) -> Config {
        Config {
            base_url: base_url.unwrap_or_else(|| DEFAULT_BASE_URL.to_owned()),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            network: Network::system(),
        }
    }
}

pub struct Client {
    http: reqwest::Client,
    network: Network,
    base: String,
    retry: RetryPolicy,
}

/// The Admin API's answer about a key, when an admin key was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminLookup {
    Found(AdminRecord),
    NotFound,
    /// The admin key itself was refused: the lookup adds nothing, and says why.
    Refused(Answer),
    TimedOut,
}

/// What an Admin API request came to: done, with its result; refused (the admin key, or the
/// request), with the answer that says why; or no answer in time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminAnswer<T> {
    Done(T),
    Refused(Answer),
    TimedOut,
}

/// An Admin API record with its `partial_key_hint`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HintedRecord {
    pub record: AdminRecord,
    pub hint: String,
}

impl Client {
    pub fn new(config: Config) -> Result<Client, Error> {
        let base = config.base_url.trim_end_matches('/').to_owned();
        let parsed = url::Url::parse(&base).map_err(|_| Error::InvalidBaseUrl {
            url: config.base_url.clone(),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
            return Err(Error::InvalidBaseUrl {
                url: config.base_url,
            });
        }
        let builder = config.network.client_builder().map_err(|e| match e {
            net::SetupError::Proxy(e) => Error::Proxy(e),
            net::SetupError::Tls(e) => Error::Client(e),
        })?;
        let http = builder
            .user_agent(concat!("keyfix/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Client(e.to_string()))?;
        Ok(Client {
            http,
            network: config.network,
            base,
            retry: config.retry,
        })
    }

    /// `GET /v1/models?limit=1`: free; a 200 proves the key authenticates.
    pub async fn models(&self, key: &Key) -> Result<Call, Error> {
        let url = format!("{}/v1/models?limit=1", self.base);
        let exchange = self
            .send(&url, key, || self.http.get(&url), BodyKind::ModelList)
            .await?;
        Ok(Call {
            endpoint: Endpoint::Models,
            model: None,
            outcome: exchange.outcome,
            latency_ms: exchange.latency_ms,
        })
    }

    /// `POST /v1/messages` with `max_tokens: 1`: the definitive check, costing a few tokens.
    pub async fn messages(&self, key: &Key, model: &str) -> Result<Call, Error> {
        let url = format!("{}/v1/messages", self.base);
        let body = json!({
            "model": model,
            "max_tokens": 1,
            "messages": [{"role": "user", "content": PROBE_PROMPT}],
        });
        let exchange = self
            .send(
                &url,
                key,
                || self.http.post(&url).json(&body),
                BodyKind::Message,
            )
            .await?;
        Ok(Call {
            endpoint: Endpoint::Messages,
            model: Some(model.to_owned()),
            outcome: exchange.outcome,
            latency_ms: exchange.latency_ms,
        })
    }

    /// Finds the Admin API record whose `partial_key_hint` satisfies `matches`.
    pub async fn find_admin_record(
        &self,
        admin_key: &Key,
        matches: impl Fn(&str) -> bool,
    ) -> Result<AdminLookup, Error> {
        Ok(match self.admin_keys(admin_key, None, matches).await? {
            AdminAnswer::Done(found) => found
                .into_iter()
                .next()
                .map_or(AdminLookup::NotFound, |key| AdminLookup::Found(key.record)),
            AdminAnswer::Refused(answer) => AdminLookup::Refused(answer),
            AdminAnswer::TimedOut => AdminLookup::TimedOut,
        })
    }

    /// Every Admin API record (of `status`, when given) whose `partial_key_hint` satisfies
    /// `matches`, paging to the end: hints collide, so a caller that acts on one must see all.
    pub async fn admin_keys(
        &self,
        admin_key: &Key,
        status: Option<&str>,
        matches: impl Fn(&str) -> bool,
    ) -> Result<AdminAnswer<Vec<HintedRecord>>, Error> {
        let mut found = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut url = format!("{}/v1/organizations/api_keys?limit=1000", self.base);
            for (name, value) in [("status", status), ("after_id", after.as_deref())] {
                if let Some(value) = value {
                    url.push_str(&format!("&{name}={}", crate::net::url_path::segment(value)));
                }
            }
            let body = match self
                .admin_call(&url, admin_key, || self.http.get(&url))
                .await?
            {
                AdminAnswer::Done(body) => body,
                AdminAnswer::Refused(answer) => return Ok(AdminAnswer::Refused(answer)),
                AdminAnswer::TimedOut => return Ok(AdminAnswer::TimedOut),
            };
            let page: AdminPage = not_anthropic_unless(serde_json::from_slice(&body), &url)?;
            found.extend(
                page.data
                    .into_iter()
                    .filter(|k| k.partial_key_hint.as_deref().is_some_and(&matches))
                    .map(AdminKey::hinted),
            );
            match (page.has_more, page.last_id) {
                (true, Some(last)) => after = Some(last),
                _ => return Ok(AdminAnswer::Done(found)),
            }
        }
    }

    /// `POST /v1/organizations/api_keys/{id}` with `{"status": status}`: the record as it now is.
    /// Setting a status twice leaves it the same, so the retries of the policy are safe here.
    pub async fn set_admin_key_status(
        &self,
        admin_key: &Key,
        id: &str,
        status: &str,
    ) -> Result<AdminAnswer<AdminRecord>, Error> {
        let url = format!(
            "{}/v1/organizations/api_keys/{}",
            self.base,
            crate::net::url_path::segment(id)
        );
        let body = json!({ "status": status });
        Ok(
            match self
                .admin_call(&url, admin_key, || self.http.post(&url).json(&body))
                .await?
            {
                AdminAnswer::Done(body) => {
                    let key: AdminKey = not_anthropic_unless(serde_json::from_slice(&body), &url)?;
                    AdminAnswer::Done(key.record())
                }
                AdminAnswer::Refused(answer) => AdminAnswer::Refused(answer),
                AdminAnswer::TimedOut => AdminAnswer::TimedOut,
            },
        )
    }

    /// One Admin API request: its 200 body, or why there is none.
    async fn admin_call(
        &self,
        url: &str,
        admin_key: &Key,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<AdminAnswer<Vec<u8>>, Error> {
        let exchange = self.send(url, admin_key, build, BodyKind::Admin).await?;
        Ok(match exchange.outcome {
            Outcome::TimedOut => AdminAnswer::TimedOut,
            Outcome::Answered(answer) if answer.status != 200 => AdminAnswer::Refused(answer),
            Outcome::Answered(_) => AdminAnswer::Done(exchange.body),
        })
    }
}

/// A 200 body keyfix cannot read means something other than the Anthropic API answered.
fn not_anthropic_unless<T>(parsed: serde_json::Result<T>, url: &str) -> Result<T, Error> {
    parsed.map_err(|_| Error::NotAnthropic {
        url: url.to_owned(),
        status: 200,
    })
}

/// What a 2xx body must look like for keyfix to believe the Anthropic API answered.
#[derive(Clone, Copy, Debug)]
enum BodyKind {
    ModelList,
    Message,
    /// A key list or a key record of the Admin API.
    Admin,
}

impl BodyKind {
    fn accepts(self, body: &serde_json::Value) -> bool {
        match self {
            BodyKind::ModelList => body["data"].is_array(),
            BodyKind::Admin => body["data"].is_array() || body["type"] == "api_key",
            BodyKind::Message => body["type"] == "message",
        }
    }
}

/// One request's final attempt.
struct Exchange {
    outcome: Outcome,
    latency_ms: u64,
    body: Vec<u8>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
    #[serde(default)]
    request_id: Option<String>,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(rename = "type")]
    kind: Option<String>,
    message: Option<String>,
    #[serde(default)]
    details: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct AdminPage {
    data: Vec<AdminKey>,
    #[serde(default)]
    has_more: bool,
    #[serde(default)]
    last_id: Option<String>,
}

#[derive(Deserialize)]
struct AdminKey {
    id: String,
    #[serde(default)]
    name: String,
    status: String,
    #[serde(default)]
    workspace_id: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    expires_at: Option<String>,
    #[serde(default)]
    partial_key_hint: Option<String>,
}

impl AdminKey {
    fn hinted(self) -> HintedRecord {
        HintedRecord {
            hint: self.partial_key_hint.clone().unwrap_or_default(),
            record: self.record(),
        }
    }

    fn record(&self) -> AdminRecord {
        AdminRecord {
            id: self.id.clone(),
            name: self.name.clone(),
            status: self.status.clone(),
            workspace_id: self.workspace_id.clone(),
            created_at: self.created_at.clone(),
            expires_at: self.expires_at.clone(),
        }
    }
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn header_number(headers: &HeaderMap, name: &str) -> Option<f64> {
    header_text(headers, name)?.trim().parse().ok()
}

/// Reduces an HTTP answer to evidence: status, the error body's fields, the headers that matter.
fn read_answer(status: u16, headers: &HeaderMap, body: &[u8]) -> Answer {
    let error: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let (error_type, message, error_code, body_request_id) = match error {
        Some(ErrorBody { error, request_id }) => {
            let code = error
                .details
                .as_ref()
                .and_then(|d| d.get("error_code"))
                .and_then(|c| c.as_str())
                .map(str::to_owned);
            (error.kind, error.message, code, request_id)
        }
        None => (None, None, None, None),
    };
    Answer {
        status,
        error_type,
        message,
        error_code,
        request_id: header_text(headers, "request-id").or(body_request_id),
        organization_id: header_text(headers, "anthropic-organization-id"),
        workspace_id: header_text(headers, "anthropic-workspace-id"),
        retry_after: headers.contains_key("retry-after") || headers.contains_key("retry-after-ms"),
        requests_limit: header_number(headers, "anthropic-ratelimit-requests-limit")
            .map(|n| n as u64),
    }
}

fn attempt_facts(answer: &Answer, headers: &HeaderMap) -> AttemptFacts {
    AttemptFacts {
        status: Some(answer.status),
        retry_after_ms: header_number(headers, "retry-after-ms"),
        retry_after_secs: header_number(headers, "retry-after"),
        should_retry: header_text(headers, "x-should-retry").map(|v| v == "true"),
        error_code: answer.error_code.clone(),
    }
}

impl Client {
    /// Sends a request built by `build`, retrying per the policy, and returns the last attempt.
    async fn send(
        &self,
        url: &str,
        key: &Key,
        build: impl Fn() -> reqwest::RequestBuilder,
        expect: BodyKind,
    ) -> Result<Exchange, Error> {
        let mut api_key = HeaderValue::from_str(key.expose_for_request()).map_err(|_| {
            // Only a value with control characters gets here; the shape check keeps those away.
            Error::Client("the key holds characters an HTTP header cannot carry".into())
        })?;
        api_key.set_sensitive(true);
        let mut retries_done = 0;
        loop {
            let started = Instant::now();
            let sent = build()
                .header("x-api-key", api_key.clone())
                .header("anthropic-version", API_VERSION)
                .send()
                .await;
            let (facts, exchange) = match sent {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let headers = response.headers().clone();
                    let body = response.bytes().await.map(|b| b.to_vec());
                    let latency_ms = started.elapsed().as_millis() as u64;
                    match body {
                        Ok(body) => {
                            let answer = read_answer(status, &headers, &body);
                            check_is_anthropic(url, &answer, &body, expect)?;
                            let facts = attempt_facts(&answer, &headers);
                            debug!(status, latency_ms, request_id = ?answer.request_id, "anthropic answered");
                            (
                                facts,
                                Ok(Exchange {
                                    outcome: Outcome::Answered(answer),
                                    latency_ms,
                                    body,
                                }),
                            )
                        }
                        Err(e) => (AttemptFacts::default(), Err(e)),
                    }
                }
                Err(e) => {
                    if let Some(refused) = net::certificate_rejected(&e, url) {
                        // Sending it again meets the same certificate.
                        return Err(Error::Certificate(refused));
                    }
                    (AttemptFacts::default(), Err(e))
                }
            };
            let Some(delay) = self
                .retry
                .next_delay(retries_done, &facts, crate::retry::jitter())
            else {
                return exchange.or_else(|e| self.no_answer(url, e, started));
            };
            retries_done += 1;
            let what = match facts.status {
                Some(status) => format!("answered {status}"),
                None => "gave no answer".to_owned(),
            };
            info!(
                "the Anthropic API {what}; trying again in {:.1} s ({retries_done}/{})",
                delay.as_secs_f64(),
                self.retry.max_retries
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// A request that got no answer: a timeout is evidence (`api_unavailable`), anything else
    /// means keyfix could not reach the API at all.
    fn no_answer(
        &self,
        url: &str,
        error: reqwest::Error,
        started: Instant,
    ) -> Result<Exchange, Error> {
        if error.is_timeout() {
            return Ok(Exchange {
                outcome: Outcome::TimedOut,
                latency_ms: started.elapsed().as_millis() as u64,
                body: Vec::new(),
            });
        }
        Err(Error::Unreachable {
            url: url.split('?').next().unwrap_or(url).to_owned(),
            detail: self.network.describe_failure(url, &error),
        })
    }
}

/// A 2xx answer must have the body of the call made, and an error answer the API's error shape
/// (a proxy's HTML error page on a 5xx is still an outage, so those pass).
fn check_is_anthropic(
    url: &str,
    answer: &Answer,
    body: &[u8],
    expect: BodyKind,
) -> Result<(), Error> {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let plausible = match answer.status {
        200..=299 => parsed.as_ref().is_some_and(|b| expect.accepts(b)),
        500..=599 => true,
        _ => answer.error_type.is_some(),
    };
    if plausible {
        Ok(())
    } else {
        Err(Error::NotAnthropic {
            url: url.split('?').next().unwrap_or(url).to_owned(),
            status: answer.status,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_error_body_and_headers() {
        let mut headers = HeaderMap::new();
        headers.insert("request-id", HeaderValue::from_static("req_011"));
        headers.insert(
            "anthropic-organization-id",
            HeaderValue::from_static("6f1c"),
        );
        headers.insert(
            "anthropic-ratelimit-requests-limit",
            HeaderValue::from_static("50"),
        );
        headers.insert("retry-after", HeaderValue::from_static("7"));
        let body = br#"{"type":"error","error":{"type":"rate_limit_error","message":"You have reached your API usage limits.","details":{"error_code":"enforced_spend_limit_reached"}},"request_id":"req_body"}"#;
        let answer = read_answer(429, &headers, body);
        assert_eq!(answer.error_type.as_deref(), Some("rate_limit_error"));
        assert_eq!(
            answer.error_code.as_deref(),
            Some("enforced_spend_limit_reached")
        );
        assert_eq!(answer.request_id.as_deref(), Some("req_011"));
        assert_eq!(answer.organization_id.as_deref(), Some("6f1c"));
        assert_eq!(answer.requests_limit, Some(50));
        assert!(answer.retry_after);
        let facts = attempt_facts(&answer, &headers);
        assert_eq!(facts.retry_after_secs, Some(7.0));
    }

    #[test]
    fn the_body_request_id_stands_in_for_a_missing_header() {
        let body = br#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"},"request_id":"req_body"}"#;
        let answer = read_answer(401, &HeaderMap::new(), body);
        assert_eq!(answer.request_id.as_deref(), Some("req_body"));
        assert!(!answer.retry_after);
    }

    #[test]
    fn a_body_that_is_not_the_api_s_is_refused() {
        let html = b"<html>hello</html>";
        let answer = read_answer(200, &HeaderMap::new(), html);
        assert!(check_is_anthropic("u", &answer, html, BodyKind::Message).is_err());
        let answer = read_answer(502, &HeaderMap::new(), html);
        assert!(check_is_anthropic("u", &answer, html, BodyKind::Message).is_ok());
        let answer = read_answer(404, &HeaderMap::new(), html);
        assert!(check_is_anthropic("u", &answer, html, BodyKind::Message).is_err());
    }

    #[test]
    fn base_urls_must_be_http() {
        assert!(Client::new(Config::new(Some("ftp://x".into()))).is_err());
        assert!(Client::new(Config::new(Some("not a url".into()))).is_err());
    }
}
