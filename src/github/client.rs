//! The HTTP edge to GitHub. keyfix sends every request itself (one `User-Agent`, the credential
//! as a sensitive header, no redirects followed), decides what to retry, reads the answers, and
//! fetches pre-signed log URLs with a separate client that never carries a credential.
//!
//! The credential is a token, or a GitHub App. With an App, each request goes out with the
//! installation token of the owner its path names (`route.rs`): the installation is looked up
//! and its token taken the first time an owner comes up, and the token is kept in memory only,
//! until a minute before it expires. `/app/…` requests carry the App's JWT. A path that names no
//! owner is not sent: no installation can be chosen for it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, AUTHORIZATION};
use http::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tracing::{debug, info, warn};

use super::app::App;
use super::cache::{self, Cache};
use super::retry::{AttemptFacts, Resent, RetryPolicy};
use super::route::Route;
use super::workflows::{CalledWorkflow, Callee};
use super::{Access, Error, Token};
use crate::net::{self, Network};

pub const DEFAULT_API_URL: &str = "https://api.github.com";
const API_VERSION: &str = "2022-11-28";
const PAGE_SIZE: usize = 100;
/// An installation token is taken again this long before GitHub says it expires.
pub const TOKEN_REFRESH_SECS: u64 = 60;

#[derive(Clone, Debug)]
pub struct Config {
    pub api_url: String,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub retry: RetryPolicy,
    /// Proxies and trusted authorities, shared with the Anthropic client.
    pub network: Network,
    /// Where the cache of conditional requests lives; `None` keeps none (`--no-cache`).
    pub cache: Option<std::path::PathBuf>,
}

impl Config {
    pub fn new(api_url: Option<String>) -> Config {
        Config {
            api_url: api_url.unwrap_or_else(|| DEFAULT_API_URL.to_owned()),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            network: Network::system(),
            cache: None,
        }
    }
}

/// An answer as keyfix reads it.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The owner whose App installation token the request carried; `None` for a token or the
    /// App's JWT.
    pub installation: Option<String>,
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

/// What a client spent of GitHub's budgets: REST requests (the 304s among them are not counted
/// by GitHub) and GraphQL queries with their points, from a budget of their own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Spent {
    pub rest_requests: u64,
    pub not_modified: u64,
    pub graphql_queries: u64,
    pub graphql_points: u64,
    /// The REST budget left, as the last answer stated it.
    pub left: Option<Budget>,
    pub graphql_left: Option<u64>,
}

/// What keyfix's GitHub requests are authenticated with.
#[derive(Debug)]
pub enum Credentials {
    Token(Token),
    App(App),
}

/// One owner's installation of the App, as far as it is known: its id once looked up, and the
/// latest token taken for it (in memory only).
#[derive(Default)]
struct Installation {
    id: Option<u64>,
    token: Option<InstallationToken>,
    /// Counts the tokens taken, so that a token refused by GitHub is replaced only once however
    /// many requests saw it refused.
    generation: u64,
}

struct InstallationToken {
    token: Token,
    /// Epoch seconds, as GitHub's `expires_at` says.
    expires_at: u64,
}

/// The credential one request goes out with.
struct Authorization {
    header: HeaderValue,
    /// The owner whose installation token this is, with the token's generation.
    installation: Option<(String, u64)>,
}

pub struct Client {
    http: reqwest::Client,
    presigned: reqwest::Client,
    network: Network,
    api_url: String,
    credentials: Credentials,
    /// The App's installations by owner (lower case); each behind its own lock, so that
    /// requests to one owner wait for one lookup and one token rather than each take their own.
    installations: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Installation>>>>,
    policy: RetryPolicy,
    requests: AtomicU64,
    secondary_waits: AtomicU64,
    graphql_queries: AtomicU64,
    graphql_points: AtomicU64,
    /// GraphQL's points left this hour, as the last query's `rateLimit` stated them.
    graphql_remaining: Mutex<Option<u64>>,
    /// Reads GitHub answered 304 to, served from the cache.
    revalidated: AtomicU64,
    cache: Option<Cache>,
    /// The hourly budget of each credential (the token, or each installation) as its last
    /// answer stated it.
    budget: Mutex<HashMap<String, Budget>>,
    /// Reusable workflows of other repositories, read once per run: an organization's shared
    /// workflow is called by many of its repositories.
    callees: Mutex<HashMap<CalledWorkflow, Arc<tokio::sync::OnceCell<Callee>>>>,
}

fn now_epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

fn bearer(secret: &str) -> Result<HeaderValue, Error> {
    let mut value = HeaderValue::from_str(&format!("Bearer {secret}")).map_err(|_| {
        Error::Client("the GitHub credential holds characters a header cannot".into())
    })?;
    value.set_sensitive(true);
    Ok(value)
}

#[derive(serde::Deserialize)]
struct FoundInstallation {
    id: u64,
}

#[derive(serde::Deserialize)]
struct AccessToken {
    token: String,
    expires_at: String,
    #[serde(default)]
    permissions: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    repository_selection: Option<String>,
}

impl Client {
    pub fn new(config: Config, token: Token) -> Result<Client, Error> {
        Client::with_credentials(config, Credentials::Token(token))
    }

    pub fn with_credentials(config: Config, credentials: Credentials) -> Result<Client, Error> {
        let api_url = config.api_url.trim_end_matches('/').to_owned();
        let parsed = url::Url::parse(&api_url).map_err(|_| Error::InvalidApiUrl {
            url: config.api_url.clone(),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
            return Err(Error::InvalidApiUrl {
                url: config.api_url,
            });
        }
        if let Credentials::Token(token) = &credentials {
            bearer(token.expose())?;
        }
        let user_agent = concat!("keyfix/", env!("CARGO_PKG_VERSION"));
        let headers = HeaderMap::from_iter([
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
            // Per read, not for the whole body: a long log takes as long as it takes to arrive.
            .read_timeout(config.read_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Client(e.to_string()))?;
        Ok(Client {
            http,
            presigned,
            network: config.network,
            api_url,
            credentials,
            installations: Mutex::new(HashMap::new()),
            policy: config.retry,
            requests: AtomicU64::new(0),
            secondary_waits: AtomicU64::new(0),
            revalidated: AtomicU64::new(0),
            graphql_queries: AtomicU64::new(0),
            graphql_points: AtomicU64::new(0),
            graphql_remaining: Mutex::new(None),
            cache: config.cache.as_deref().and_then(Cache::open),
            budget: Mutex::new(HashMap::new()),
            callees: Mutex::new(HashMap::new()),
        })
    }

    /// The one place this run keeps `called` once read (see `repos::called_workflow`).
    pub(super) fn callee_cell(
        &self,
        called: &CalledWorkflow,
    ) -> Arc<tokio::sync::OnceCell<Callee>> {
        let mut callees = self.callees.lock().expect("callees lock");
        callees.entry(called.clone()).or_default().clone()
    }

    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// How many requests this client has sent to the API (pre-signed fetches not counted).
    pub fn requests_sent(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Sends a GraphQL query with its variables, with the credential of `owner` (whose
    /// repositories it reads), to `/graphql` (`/api/graphql` on Enterprise Server). A query is a
    /// read: it is sent again as a GET is.
    pub async fn graphql(
        &self,
        owner: &str,
        query: &str,
        variables: Value,
    ) -> Result<Answer, Error> {
        let path = match self.api_url.strip_suffix("/api/v3") {
            Some(host) => format!("{host}/api/graphql"),
            None => "/graphql".to_owned(),
        };
        let body = serde_json::json!({"query": query, "variables": variables});
        // Looked up as REST looks an owner up: as a user, then as an organization.
        let route = Route::User(owner.to_owned());
        let answer = self
            .send_routed(&route, Method::POST, &path, Some(&body), &[], true)
            .await?;
        self.graphql_queries.fetch_add(1, Ordering::Relaxed);
        Ok(answer)
    }

    /// Counts the points a query's `rateLimit { cost remaining }` said it cost, and keeps what
    /// it said is left.
    pub fn note_graphql_cost(&self, points: u64, remaining: u64) {
        self.graphql_points.fetch_add(points, Ordering::Relaxed);
        *self.graphql_remaining.lock().expect("graphql budget") = Some(remaining);
    }

    /// What this client spent of GitHub's budgets, and what the last answers said is left.
    pub fn spent(&self) -> Spent {
        let graphql_queries = self.graphql_queries.load(Ordering::Relaxed);
        Spent {
            rest_requests: self.requests_sent() - graphql_queries,
            not_modified: self.revalidated.load(Ordering::Relaxed),
            graphql_queries,
            graphql_points: self.graphql_points.load(Ordering::Relaxed),
            left: self.budget(),
            graphql_left: *self.graphql_remaining.lock().expect("graphql budget"),
        }
    }

    /// How many times a secondary rate limit was waited out.
    pub fn secondary_waits(&self) -> u64 {
        self.secondary_waits.load(Ordering::Relaxed)
    }

    /// The hourly budget as the last answers stated it: with an App, the installation's that
    /// has the least left.
    pub fn budget(&self) -> Option<Budget> {
        let budgets = self.budget.lock().expect("budget");
        budgets.values().min_by_key(|b| b.remaining).copied()
    }

    /// Sends one request; GETs are retried per the policy, other methods only where GitHub said
    /// it refused them (a rate-limit answer). Every answer is returned, success or not; an error
    /// means no answer came (or, with an App, no credential could be had for the request).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(HeaderName, String)],
    ) -> Result<Answer, Error> {
        let idempotent = method == Method::GET;
        self.send_as(method, path, body, headers, idempotent).await
    }

    /// [`Client::send`] for a write that changes nothing more when sent twice (deleting a
    /// branch, making a content-addressed Git object): retried after a lost answer as a read is.
    pub async fn send_repeatable(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer, Error> {
        self.send_as(method, path, body, &[], true).await
    }

    async fn send_as(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(HeaderName, String)],
        idempotent: bool,
    ) -> Result<Answer, Error> {
        let route = Route::of(path, &self.api_url);
        self.send_routed(&route, method, path, body, headers, idempotent)
            .await
    }

    /// Sends a request with the credential of `route`. An installation token that GitHub
    /// refuses (401: it expired sooner than this machine's clock says, or was revoked) did not
    /// carry the request out, so the request is sent once more with a new token.
    async fn send_routed(
        &self,
        route: &Route,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(HeaderName, String)],
        idempotent: bool,
    ) -> Result<Answer, Error> {
        let auth = self.authorization(route, path, None).await?;
        let answer = self
            .exchange_cached(&method, path, body, headers, &auth, idempotent)
            .await?;
        let Some((owner, generation)) = auth.installation.filter(|_| answer.status == 401) else {
            return Ok(answer);
        };
        info!("GitHub refused the installation token for {owner}; taking a new one");
        let auth = self.authorization(route, path, Some(generation)).await?;
        self.exchange_cached(&method, path, body, headers, &auth, idempotent)
            .await
    }

    /// [`Client::exchange`], through the cache of conditional requests for a discovery read:
    /// the kept answer's validators go with the request, and GitHub's 304 is answered with the
    /// kept body as the 200 it stands for.
    async fn exchange_cached(
        &self,
        method: &Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(HeaderName, String)],
        auth: &Authorization,
        idempotent: bool,
    ) -> Result<Answer, Error> {
        let cache = self
            .cache
            .as_ref()
            .filter(|_| *method == Method::GET && headers.is_empty() && cache::cacheable(path));
        let (Some(cache), Some(credential)) = (cache, self.cache_credential(auth)) else {
            return self
                .exchange(method, path, body, headers, auth, idempotent)
                .await;
        };
        let url = self.url(path);
        let host = url::Url::parse(&url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        let kept = cache.lookup(&host, credential.as_bytes(), &url);
        let validators: Vec<(HeaderName, String)> = kept
            .iter()
            .flat_map(|k| {
                let etag = k.etag.clone().map(|v| (http::header::IF_NONE_MATCH, v));
                let date = k
                    .last_modified
                    .clone()
                    .map(|v| (http::header::IF_MODIFIED_SINCE, v));
                etag.into_iter().chain(date)
            })
            .collect();
        let mut answer = self
            .exchange(method, path, body, &validators, auth, idempotent)
            .await?;
        match (answer.status, kept) {
            (304, Some(kept)) => {
                self.revalidated.fetch_add(1, Ordering::Relaxed);
                debug!(path, "unchanged since the cached answer");
                answer.status = 200;
                answer.body = kept.body;
                // A 304 need not repeat the `Link` of a page: the kept one leads on.
                if let Some(link) = kept.link.and_then(|l| HeaderValue::from_str(&l).ok()) {
                    answer.headers.insert(http::header::LINK, link);
                }
            }
            (200, _) => {
                let entry = cache::Entry {
                    etag: answer.header("etag").map(str::to_owned),
                    last_modified: answer.header("last-modified").map(str::to_owned),
                    link: answer.header("link").map(str::to_owned),
                    body: answer.body.clone(),
                };
                if entry.etag.is_some() || entry.last_modified.is_some() {
                    cache.store(&host, credential.as_bytes(), &url, &entry);
                }
            }
            _ => {}
        }
        Ok(answer)
    }

    /// What the cache tells credentials apart by (it keeps only a keyed hash of it): the token,
    /// or the App and the owner whose installation the request went with. The App's own
    /// requests are not cached.
    fn cache_credential(&self, auth: &Authorization) -> Option<zeroize::Zeroizing<String>> {
        match (&self.credentials, &auth.installation) {
            (Credentials::Token(token), _) => {
                Some(zeroize::Zeroizing::new(token.expose().to_owned()))
            }
            (Credentials::App(app), Some((owner, _))) => Some(zeroize::Zeroizing::new(format!(
                "GitHub App {} installation on {}",
                app.id,
                owner.to_ascii_lowercase()
            ))),
            (Credentials::App(_), None) => None,
        }
    }

    /// The credential for a request on `route`. `refused` is the generation of an installation
    /// token GitHub refused: it is replaced unless another request has replaced it already.
    async fn authorization(
        &self,
        route: &Route,
        path: &str,
        refused: Option<u64>,
    ) -> Result<Authorization, Error> {
        let app = match &self.credentials {
            Credentials::Token(token) => {
                return Ok(Authorization {
                    header: bearer(token.expose())?,
                    installation: None,
                })
            }
            Credentials::App(app) => app,
        };
        if *route == Route::App {
            return self.app_authorization(app);
        }
        let Some(owner) = route.owner() else {
            return Err(Error::AppUnowned {
                path: path.split('?').next().unwrap_or_default().to_owned(),
            });
        };
        let slot = {
            let mut installations = self.installations.lock().expect("installations");
            installations
                .entry(owner.to_ascii_lowercase())
                .or_default()
                .clone()
        };
        let mut installation = slot.lock().await;
        let current = installation.token.as_ref().filter(|t| {
            let refused_this = refused == Some(installation.generation);
            !refused_this && now_epoch() + TOKEN_REFRESH_SECS < t.expires_at
        });
        if let Some(current) = current {
            return Ok(Authorization {
                header: bearer(current.token.expose())?,
                installation: Some((owner.to_owned(), installation.generation)),
            });
        }
        let id = match installation.id {
            Some(id) => id,
            None => {
                let id = self.find_installation(app, route).await?;
                installation.id = Some(id);
                id
            }
        };
        let taken = self.take_token(app, id, owner).await?;
        let header = bearer(taken.token.expose())?;
        installation.token = Some(taken);
        installation.generation += 1;
        Ok(Authorization {
            header,
            installation: Some((owner.to_owned(), installation.generation)),
        })
    }

    fn app_authorization(&self, app: &App) -> Result<Authorization, Error> {
        let jwt = app.jwt(now_epoch())?;
        Ok(Authorization {
            header: bearer(secrecy::ExposeSecret::expose_secret(&jwt))?,
            installation: None,
        })
    }

    /// The id of the App's installation that serves `route`'s owner.
    async fn find_installation(&self, app: &App, route: &Route) -> Result<u64, Error> {
        let owner = route.owner().unwrap_or_default();
        for lookup in route.installation_lookups() {
            let auth = self.app_authorization(app)?;
            let answer = self
                .exchange(&Method::GET, &lookup, None, &[], &auth, true)
                .await?;
            match answer.status {
                200 => {
                    let found: FoundInstallation = answer.json("the App's installation")?;
                    debug!(
                        installation = found.id,
                        owner, "found the GitHub App's installation"
                    );
                    return Ok(found.id);
                }
                404 => continue,
                401 => return Err(self.app_rejected(app, &answer)),
                _ => return Err(self.error_for(&answer, Access::Read, &lookup)),
            }
        }
        Err(Error::AppNotInstalled {
            app_id: app.id.clone(),
            owner: owner.to_owned(),
            repo: match route {
                Route::Repo { repo, .. } => Some(repo.clone()),
                _ => None,
            },
        })
    }

    /// A new installation token for `owner`'s installation `id`.
    async fn take_token(
        &self,
        app: &App,
        id: u64,
        owner: &str,
    ) -> Result<InstallationToken, Error> {
        let path = format!("/app/installations/{id}/access_tokens");
        let auth = self.app_authorization(app)?;
        // Sent again after a lost answer like a read: a second token is only a spare one.
        let answer = self
            .exchange(&Method::POST, &path, None, &[], &auth, true)
            .await?;
        let refused = |answer: &Answer| Error::AppInstallation {
            owner: owner.to_owned(),
            status: answer.status,
            message: answer.message(),
        };
        let facts = answer.facts();
        let limited = facts.primary_exhausted() || facts.secondary_limited();
        match answer.status {
            200 | 201 => {}
            401 => return Err(self.app_rejected(app, &answer)),
            403 | 404 | 422 if !limited => return Err(refused(&answer)),
            _ => return Err(self.error_for(&answer, Access::Read, "an installation token")),
        }
        let what = "the installation token's answer";
        let taken: AccessToken = answer.json(what)?;
        let expires_at = humantime::parse_rfc3339(&taken.expires_at)
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_secs())
            .ok_or_else(|| Error::Unexpected {
                status: answer.status,
                what: what.to_owned(),
                message: format!("expires_at {:?} is not a time", taken.expires_at),
            })?;
        let permissions: Vec<String> = taken
            .permissions
            .iter()
            .map(|(name, level)| format!("{name}={level}"))
            .collect();
        debug!(
            owner,
            installation = id,
            expires_at = taken.expires_at,
            repositories = taken.repository_selection.as_deref().unwrap_or("unknown"),
            permissions = permissions.join(","),
            "took an installation token"
        );
        Ok(InstallationToken {
            token: Token::new(taken.token, "a GitHub App installation"),
            expires_at,
        })
    }

    /// One request with one credential, sent again as the retry policy says.
    async fn exchange(
        &self,
        method: &Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(HeaderName, String)],
        auth: &Authorization,
        idempotent: bool,
    ) -> Result<Answer, Error> {
        let mut resent = Resent::default();
        loop {
            let attempt = self.send_once(method, path, body, headers, auth).await;
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
        auth: &Authorization,
    ) -> Result<Answer, Error> {
        let mut request = self
            .http
            .request(method.clone(), self.url(path))
            .header(AUTHORIZATION, auth.header.clone());
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
            installation: auth.installation.as_ref().map(|(owner, _)| owner.clone()),
        };
        self.note_budget(&answer, auth);
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

    fn note_budget(&self, answer: &Answer, auth: &Authorization) {
        // GraphQL's points are a budget apart: the hourly budget here is REST's.
        if answer
            .header("x-ratelimit-resource")
            .is_some_and(|r| r != "core")
        {
            return;
        }
        let credential = match (&self.credentials, &auth.installation) {
            (Credentials::Token(_), _) => String::new(),
            (Credentials::App(_), Some((owner, _))) => owner.to_ascii_lowercase(),
            // The App's own requests have a budget of their own, not the one the work spends.
            (Credentials::App(_), None) => return,
        };
        let number = |name| answer.header_number(name);
        if let (Some(limit), Some(remaining), Some(reset)) = (
            number("x-ratelimit-limit"),
            number("x-ratelimit-remaining"),
            number("x-ratelimit-reset"),
        ) {
            self.budget.lock().expect("budget").insert(
                credential,
                Budget {
                    limit,
                    remaining,
                    reset,
                },
            );
        }
    }

    /// GitHub's 401 to the App's JWT: the App id, the key, or the clock is wrong.
    fn app_rejected(&self, app: &App, answer: &Answer) -> Error {
        Error::AppRejected {
            app_id: app.id.clone(),
            message: answer.message(),
        }
    }

    /// The error of a request refused for want of `access`, in the words of the credential.
    pub fn permission_error(&self, answer: &Answer, access: Access) -> Error {
        match (&self.credentials, &answer.installation) {
            (Credentials::App(_), Some(owner)) => Error::AppPermission {
                doing: access.doing(),
                permission: access.app_permission(),
                owner: owner.clone(),
            },
            _ => Error::Permission {
                doing: access.doing(),
                fine_grained: access.fine_grained(),
                classic: access.classic(),
            },
        }
    }

    /// Who may not see what a 404 answered for.
    fn viewer(&self, answer: &Answer) -> String {
        match &answer.installation {
            Some(owner) => format!("the GitHub App's installation on {owner}"),
            None => "the token".to_owned(),
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
        match (answer.status, &self.credentials) {
            (401, Credentials::Token(token)) => Error::BadCredentials {
                source_name: token.source,
            },
            (401, Credentials::App(app)) => match &answer.installation {
                Some(owner) => Error::InstallationTokenRejected {
                    owner: owner.clone(),
                },
                None => self.app_rejected(app, answer),
            },
            (403, _) => self.permission_error(answer, access),
            (404, _) => Error::NotFound {
                what: what.to_owned(),
                by: self.viewer(answer),
            },
            (status, _) if status >= 500 => Error::Server {
                status,
                what: what.to_owned(),
            },
            (status, _) => Error::Unexpected {
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
    /// Every page goes with the first page's credential: GitHub's `next` links may name the
    /// owner by number (`/repositories/{id}/…`, `/organizations/{id}/…`) rather than by login.
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
        let route = Route::of(path, &self.api_url);
        while let Some(page) = next.take() {
            let answer = self
                .send_routed(&route, Method::GET, &page, None, &[], true)
                .await?;
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

    /// Opens a pre-signed URL (a log behind a 302) with no token, whatever its host or path;
    /// its body is read as it arrives. Sent again, as a read is, until the answer begins.
    pub async fn open_presigned(&self, url: &str) -> Result<PresignedBody<'_>, Error> {
        let mut resent = Resent::default();
        loop {
            let (status, failure) = match self.presigned.get(url).send().await {
                Ok(response) if response.status().is_success() => {
                    return Ok(PresignedBody {
                        client: self,
                        url: url.to_owned(),
                        response,
                    });
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

/// The body of a pre-signed URL, chunk by chunk.
pub struct PresignedBody<'c> {
    client: &'c Client,
    url: String,
    response: reqwest::Response,
}

impl PresignedBody<'_> {
    /// The next piece of the body; `None` at its end.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, Error> {
        self.response
            .chunk()
            .await
            .map_err(|e| self.client.unreachable(&self.url, &e))
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.credentials {
            Credentials::Token(token) => write!(
                f,
                "github::Client({}, token from {})",
                self.api_url, token.source
            ),
            Credentials::App(app) => {
                write!(f, "github::Client({}, GitHub App {})", self.api_url, app.id)
            }
        }
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
            installation: None,
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
