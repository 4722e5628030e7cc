//! The HTTP edge to GitHub. keyfix sends every request itself (one `User-Agent`, the token as
//! a sensitive header, no redirects followed), decides what to retry, reads the answers, and
//! fetches pre-signed log URLs with a separate client that never carries the token.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, AUTHORIZATION};
use http::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tracing::{debug, info, warn};

use super::retry::{AttemptFacts, Resent, RetryPolicy};
use super::{Access, Error, Token};
use crate::net::{self, Network};

pub const DEFAULT_API_URL: &str = "https://api.github.com";
const API_VERSION: &str = "2022-11-28";
const PAGE_SIZE: usize = 100;

#[derive(Clone, Debug)]
pub struct Config {
    pub api_url: String,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub retry: RetryPolicy,
    /// Proxies and trusted authorities, shared with the Anthropic client.
    pub network: Network,
}

impl Config {
    pub fn new(api_url: Option<String>) -> Config {
        Config {
            api_url: api_url.unwrap_or_else(|| DEFAULT_API_URL.to_owned()),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            network: Network::system(),
        }
    }
}

/// An answer as keyfix reads it.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn json<T: DeserializeOwned>(&self, what: &str) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| Error::Unexpected {
            status: self.status,
            what: what.to_owned(),
            message: format!("an answer keyfix cannot read ({e})"),
        })
    }

    /// GitHub's `message` field, where the body has one.
    pub fn message(&self) -> String {
        serde_json::from_slice::<Value>(&self.body)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn header_number(&self, name: &str) -> Option<u64> {
        self.header(name)?.trim().parse().ok()
    }

    fn facts(&self) -> AttemptFacts {
        AttemptFacts {
            status: Some(self.status),
            retry_after_secs: self.header_number("retry-after"),
            ratelimit_remaining: self.header_number("x-ratelimit-remaining"),
            ratelimit_reset: self.header_number("x-ratelimit-reset"),
            secondary_message: self
                .message()
                .to_lowercase()
                .contains("secondary rate limit"),
        }
    }

    /// The `rel="next"` URL of the `Link` header.
    fn next_page(&self) -> Option<String> {
        let link = self.header("link")?;
        link.split(',').find_map(|part| {
            let (url, rel) = part.split_once(';')?;
            rel.contains("rel=\"next\"").then(|| {
                url.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_owned()
            })
        })
    }
}

/// The token's hourly budget as the last answer stated it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Budget {
    pub limit: u64,
    pub remaining: u64,
    pub reset: u64,
}

pub struct Client {
    http: reqwest::Client,
    presigned: reqwest::Client,
    network: Network,
    api_url: String,
    token_source: &'static str,
    policy: RetryPolicy,
    requests: AtomicU64,
    secondary_waits: AtomicU64,
    budget: Mutex<Option<Budget>>,
}

fn now_epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

impl Client {
    pub fn new(config: Config, token: Token) -> Result<Client, Error> {
        let api_url = config.api_url.trim_end_matches('/').to_owned();
        let parsed = url::Url::parse(&api_url).map_err(|_| Error::InvalidApiUrl {
            url: config.api_url.clone(),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
            return Err(Error::InvalidApiUrl {
                url: config.api_url,
            });
        }
        let user_agent = concat!("keyfix/", env!("CARGO_PKG_VERSION"));
        let mut authorization = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
            .map_err(|_| {
                Error::Client("the GitHub token holds characters a header cannot".into())
            })?;
        authorization.set_sensitive(true);
        let headers = HeaderMap::from_iter([
            (AUTHORIZATION, authorization),
            (
                ACCEPT,
                HeaderValue::from_static("application/vnd.github+json"),
            ),
            (
                HeaderName::from_static("x-github-api-version"),
                HeaderValue::from_static(API_VERSION),
            ),
        ]);
        let builder = || {
            config.network.client_builder().map_err(|e| match e {
                net::SetupError::Proxy(e) => Error::Proxy(e),
                net::SetupError::Tls(e) => Error::Client(e),
            })
        };
        let http = builder()?
            .user_agent(user_agent)
            .default_headers(headers)
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Client(e.to_string()))?;
        let presigned = builder()?
            .user_agent(user_agent)
            .connect_timeout(config.connect_timeout)
            .timeout(config.read_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Client(e.to_string()))?;
        Ok(Client {
            http,
            presigned,
            network: config.network,
            api_url,
            token_source: token.source,
            policy: config.retry,
            requests: AtomicU64::new(0),
            secondary_waits: AtomicU64::new(0),
            budget: Mutex::new(None),
        })
    }

    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// How many requests this client has sent to the API (pre-signed fetches not counted).
    pub fn requests_sent(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// How many times a secondary rate limit was waited out.
    pub fn secondary_waits(&self) -> u64 {
        self.secondary_waits.load(Ordering::Relaxed)
    }

    pub fn budget(&self) -> Option<Budget> {
        *self.budget.lock().expect("budget")
    }

    /// Sends one request; GETs are retried per the policy, other methods only where GitHub said
    /// it refused them (a rate-limit answer). Every answer is returned, success or not; an error
    /// means no answer came.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(HeaderName, String)],
    ) -> Result<Answer, Error> {
        let idempotent = method == Method::GET;
        let mut resent = Resent::default();
        loop {
            let attempt = self.send_once(&method, path, body, headers).await;
            let facts = match &attempt {
                Ok(answer) => answer.facts(),
                // Sending it again meets the same certificate.
                Err(Error::Certificate(_)) => return attempt,
                Err(_) => AttemptFacts::default(),
            };
            let delay = self.policy.next_delay(
                &resent,
                &facts,
                idempotent,
                now_epoch(),
                crate::retry::jitter(),
            );
            let Some(delay) = delay else {
                return attempt;
            };
            resent.count(&facts);
            let secs = delay.as_secs_f64();
            if facts.secondary_limited() {
                self.secondary_waits.fetch_add(1, Ordering::Relaxed);
                warn!("GitHub's secondary rate limit: waiting {secs:.0} s before {method} {path}");
            } else if facts.primary_exhausted() {
                warn!("GitHub's rate limit is used up: waiting {secs:.0} s for it to reset");
            } else {
                let what = facts
                    .status
                    .map_or("gave no answer".to_owned(), |s| format!("answered {s}"));
                info!("GitHub {what} to {method} {path}; trying again in {secs:.1} s");
            }
            tokio::time::sleep(delay).await;
        }
    }

    async fn send_once(
        &self,
        method: &Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(HeaderName, String)],
    ) -> Result<Answer, Error> {
        let mut request = self.http.request(method.clone(), self.url(path));
        for (name, value) in headers {
            request = request.header(name, value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let url = self.url(path);
        let response = request
            .send()
            .await
            .map_err(|e| self.unreachable(&url, &e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|e| self.unreachable(&url, &e))?;
        let answer = Answer {
            status,
            headers,
            body,
        };
        self.note_budget(&answer);
        debug!(status, %method, path, "github answered");
        Ok(answer)
    }

    /// A path under the API URL; an absolute URL (a `Link` header's) is used as it is.
    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            return path.to_owned();
        }
        format!("{}{path}", self.api_url)
    }

    /// The error of a request to `url` that got no answer.
    fn unreachable(&self, url: &str, error: &(dyn std::error::Error + 'static)) -> Error {
        if let Some(refused) = net::certificate_rejected(error, url) {
            return Error::Certificate(refused);
        }
        Error::Unreachable {
            url: self.api_url.clone(),
            detail: self.network.describe_failure(url, error),
        }
    }

    fn note_budget(&self, answer: &Answer) {
        let number = |name| answer.header_number(name);
        if let (Some(limit), Some(remaining), Some(reset)) = (
            number("x-ratelimit-limit"),
            number("x-ratelimit-remaining"),
            number("x-ratelimit-reset"),
        ) {
            *self.budget.lock().expect("budget") = Some(Budget {
                limit,
                remaining,
                reset,
            });
        }
    }

    /// The error an unsuccessful answer stands for, given what the request needed.
    pub fn error_for(&self, answer: &Answer, access: Access, what: &str) -> Error {
        let facts = answer.facts();
        if facts.primary_exhausted() {
            return Error::RateLimited {
                reset: facts.ratelimit_reset.unwrap_or_default(),
            };
        }
        if facts.secondary_limited() {
            return Error::SecondaryLimit {
                retry_after: facts.retry_after_secs.unwrap_or(60),
            };
        }
        match answer.status {
            401 => Error::BadCredentials {
                source_name: self.token_source,
            },
            403 => Error::Permission {
                doing: access.doing(),
                fine_grained: access.fine_grained(),
                classic: access.classic(),
            },
            404 => Error::NotFound {
                what: what.to_owned(),
            },
            status if status >= 500 => Error::Server {
                status,
                what: what.to_owned(),
            },
            status => Error::Unexpected {
                status,
                what: what.to_owned(),
                message: answer.message(),
            },
        }
    }

    /// GET a JSON document; any unsuccessful answer is an error.
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        access: Access,
        what: &str,
    ) -> Result<T, Error> {
        let answer = self.send(Method::GET, path, None, &[]).await?;
        if !answer.is_success() {
            return Err(self.error_for(&answer, access, what));
        }
        answer.json(what)
    }

    /// GET a JSON document that may not exist: 404 is `None`.
    pub async fn get_optional<T: DeserializeOwned>(
        &self,
        path: &str,
        access: Access,
        what: &str,
    ) -> Result<Option<T>, Error> {
        let answer = self.send(Method::GET, path, None, &[]).await?;
        match answer.status {
            404 => Ok(None),
            _ if answer.is_success() => answer.json(what).map(Some),
            _ => Err(self.error_for(&answer, access, what)),
        }
    }

    /// Every item of a paged list, following `Link: rel="next"` to the end. `field` names the
    /// array in the answer (`secrets`, `workflow_runs`); `None` for an answer that is the array.
    pub async fn get_all<T: DeserializeOwned>(
        &self,
        path: &str,
        field: Option<&str>,
        access: Access,
        what: &str,
    ) -> Result<Vec<T>, Error> {
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut next = Some(format!("{path}{separator}per_page={PAGE_SIZE}"));
        let mut items = Vec::new();
        while let Some(page) = next.take() {
            let answer = self.send(Method::GET, &page, None, &[]).await?;
            if !answer.is_success() {
                return Err(self.error_for(&answer, access, what));
            }
            let mut document: Value = answer.json(what)?;
            let list = match field {
                Some(field) => document[field].take(),
                None => document,
            };
            let list: Vec<T> = serde_json::from_value(list).map_err(|e| Error::Unexpected {
                status: answer.status,
                what: what.to_owned(),
                message: format!("an answer keyfix cannot read ({e})"),
            })?;
            items.extend(list);
            next = answer.next_page();
        }
        Ok(items)
    }

    /// Fetches a pre-signed URL (a log behind a 302) with no token, whatever its host or path.
    pub async fn fetch_presigned(&self, url: &str) -> Result<Bytes, Error> {
        let mut resent = Resent::default();
        loop {
            let (status, failure) = match self.presigned.get(url).send().await {
                Ok(response) if response.status().is_success() => {
                    return response
                        .bytes()
                        .await
                        .map_err(|e| self.unreachable(url, &e));
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    let failure = Error::Unexpected {
                        status,
                        what: "the pre-signed log URL".to_owned(),
                        message: "the link may have expired".to_owned(),
                    };
                    (Some(status), failure)
                }
                Err(e) => match self.unreachable(url, &e) {
                    refused @ Error::Certificate(_) => return Err(refused),
                    failure => (None, failure),
                },
            };
            let facts = AttemptFacts {
                status,
                ..AttemptFacts::default()
            };
            let delay =
                self.policy
                    .next_delay(&resent, &facts, true, now_epoch(), crate::retry::jitter());
            let Some(delay) = delay else {
                return Err(failure);
            };
            tokio::time::sleep(delay).await;
            resent.count(&facts);
        }
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "github::Client({}, token from {})",
            self.api_url, self.token_source
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::HeaderValue;

    fn answer(status: u16, headers: &[(&'static str, &str)], body: &str) -> Answer {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        Answer {
            status,
            headers: map,
            body: Bytes::from(body.to_owned()),
        }
    }

    #[test]
    fn link_next_is_followed() {
        let a = answer(
            200,
            &[(
                "link",
                r#"<http://h/x?page=2>; rel="next", <http://h/x?page=9>; rel="last""#,
            )],
            "[]",
        );
        assert_eq!(a.next_page().as_deref(), Some("http://h/x?page=2"));
        assert_eq!(answer(200, &[], "[]").next_page(), None);
    }

    #[test]
    fn rate_limit_answers_are_recognised() {
        let primary = answer(
            403,
            &[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "99")],
            "{}",
        );
        assert!(primary.facts().primary_exhausted());
        let secondary = answer(
            403,
            &[("x-ratelimit-remaining", "4000")],
            r#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}"#,
        );
        assert!(secondary.facts().secondary_limited());
        let permission = answer(
            403,
            &[],
            r#"{"message":"Resource not accessible by personal access token"}"#,
        );
        assert!(!permission.facts().secondary_limited());
    }
}
