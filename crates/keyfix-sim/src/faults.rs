//! Injected failures, with one meaning for both APIs: which requests a fault hits, how the hits
//! are counted, and what a hit does to the answer. Each service only writes its own error body
//! for a fault's status.

use std::sync::Mutex;
use std::time::Duration;

use anyhow::bail;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use crate::scenario::Scenario;
use crate::World;

/// A failure injected into matching requests.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// Only requests to this service, `github` or `anthropic`; both when absent.
    #[serde(default)]
    pub service: Option<String>,
    /// Matches requests whose path starts with this (`/v1/messages`); ending in `$`, only
    /// that exact path. GitHub paths are without the scenario's `path_prefix`.
    pub path: String,
    #[serde(default)]
    pub method: Option<String>,
    /// Only requests made with this credential, by its scenario name: an Anthropic key
    /// (`x-api-key` or `Authorization: Bearer`) or a GitHub credential (a token; `app:NAME`, an
    /// App's JWT; `NAME@OWNER`, its installation token).
    #[serde(default)]
    pub key: Option<String>,
    /// Only Anthropic requests for this model (a messages body's `model`, `/v1/models/{id}`).
    #[serde(default)]
    pub model: Option<String>,
    /// Answer with this status and the service's error body for it.
    #[serde(default)]
    pub status: Option<u16>,
    /// Wait this long before answering.
    #[serde(default)]
    pub latency_ms: u64,
    /// How many matching requests it hits; every one when absent.
    #[serde(default)]
    pub times: Option<u32>,
    /// Let this many matching requests through untouched before the first hit.
    #[serde(default)]
    pub skip: u32,
    /// The `retry-after` to send with the status (an Anthropic 429 has the scenario's otherwise).
    #[serde(default)]
    pub retry_after_secs: Option<u64>,
    /// Close the connection without an answer.
    #[serde(default)]
    pub drop_connection: bool,
    /// Carry the request out before failing it: the write lands, its answer is lost.
    #[serde(default)]
    pub applied: bool,
}

/// What a fault is matched against.
pub(crate) struct RequestFacts<'a> {
    pub service: &'static str,
    pub method: &'a str,
    /// Without the query.
    pub path: &'a str,
    /// The scenario name of the caller's credential.
    pub key: Option<&'a str>,
    pub model: Option<&'a str>,
}

/// What a fault answers in place of the handler.
#[derive(Clone, Copy)]
enum Replacement {
    Status(StatusCode),
    Dropped,
}

impl Fault {
    fn matches(&self, request: &RequestFacts) -> bool {
        let path_matches = match self.path.strip_suffix('$') {
            Some(exact) => request.path == exact,
            None => request.path.starts_with(&self.path),
        };
        let named = |wanted: &Option<String>, actual: Option<&str>| {
            wanted.as_deref().is_none_or(|w| Some(w) == actual)
        };
        path_matches
            && named(&self.service, Some(request.service))
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(request.method))
            && named(&self.key, request.key)
            && named(&self.model, request.model)
    }

    /// `None` for a fault that only adds latency.
    fn replacement(&self) -> Option<Replacement> {
        if self.drop_connection {
            return Some(Replacement::Dropped);
        }
        let status = StatusCode::from_u16(self.status?).ok()?;
        Some(Replacement::Status(status))
    }

    /// Refuses a fault that could never do what it says.
    pub(crate) fn check(&self, scenario: &Scenario) -> anyhow::Result<()> {
        if let Some(service) = &self.service {
            if !matches!(service.as_str(), "github" | "anthropic") {
                bail!("a fault names service {service:?}; it is \"github\" or \"anthropic\"");
            }
            if service == "github" && self.model.is_some() {
                bail!("a GitHub fault names a model; only Anthropic requests have one");
            }
        }
        if let Some(name) = &self.key {
            let is_token = scenario.credential_names().contains(name);
            if scenario.key(name).is_none() && !is_token {
                bail!("a fault names unknown key {name:?} (neither a key nor a GitHub credential)");
            }
        }
        if let Some(status) = self.status {
            if StatusCode::from_u16(status).is_err() {
                bail!("a fault answers status {status}, which is not an HTTP status");
            }
        }
        Ok(())
    }
}

/// A fault and what it has met so far.
struct Counted {
    fault: Fault,
    matched: u32,
    hits: u32,
}

impl Counted {
    fn new(fault: Fault) -> Counted {
        Counted {
            fault,
            matched: 0,
            hits: 0,
        }
    }

    fn exhausted(&self) -> bool {
        self.fault.times.is_some_and(|times| self.hits >= times)
    }

    /// Counts a matching request; whether the fault is past its `skip` and hits it.
    fn due(&mut self) -> bool {
        self.matched += 1;
        self.matched > self.fault.skip
    }
}

/// Every fault of a run: the scenario's, then those added while it runs, in that order.
pub(crate) struct Faults {
    counted: Mutex<Vec<Counted>>,
}

impl Faults {
    pub fn new(scenario_faults: &[Fault]) -> Faults {
        Faults {
            counted: Mutex::new(scenario_faults.iter().cloned().map(Counted::new).collect()),
        }
    }

    pub fn add(&self, fault: Fault) {
        self.counted
            .lock()
            .expect("faults")
            .push(Counted::new(fault));
    }

    /// The fault that hits this request, if any, with the hit counted. Every fault counts the
    /// requests it matches, whichever one hits, so `skip = N - 1` always means the Nth matching
    /// request the service received.
    pub fn take(&self, request: &RequestFacts) -> Option<Fault> {
        let mut counted = self.counted.lock().expect("faults");
        let mut hit = None;
        for entry in counted.iter_mut() {
            if entry.exhausted() || !entry.fault.matches(request) || !entry.due() {
                continue;
            }
            if hit.is_none() {
                entry.hits += 1;
                hit = Some(entry.fault.clone());
            }
        }
        hit
    }
}

/// A service's error answer for a fault's status, in that service's own words.
pub(crate) type Render = fn(&World, StatusCode) -> Response;

/// Left on the response of a request a fault hit, for the request log.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Hit {
    pub dropped: bool,
    /// The fault answered in the handler's place (a status or a dropped connection), rather
    /// than only adding latency.
    pub replaced: bool,
}

/// Serves `request` as `hit` says: unchanged without a fault, otherwise after its latency, with
/// the request carried out or not, and answered by the handler, `render` or a dropped connection.
pub(crate) async fn apply(
    world: &World,
    hit: Option<Fault>,
    request: Request,
    next: Next,
    render: Render,
) -> Response {
    let Some(fault) = hit else {
        return next.run(request).await;
    };
    if fault.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(fault.latency_ms)).await;
    }
    let Some(replacement) = fault.replacement() else {
        return marked(next.run(request).await, false, false);
    };
    if fault.applied {
        // Carried out for what it changes; its answer is the one the fault loses.
        drop(next.run(request).await);
    }
    match replacement {
        Replacement::Dropped => marked(dropped(), true, true),
        Replacement::Status(status) => {
            let mut response = render(world, status);
            if let Some(secs) = fault.retry_after_secs {
                response
                    .headers_mut()
                    .insert("retry-after", HeaderValue::from(secs));
            }
            marked(response, false, true)
        }
    }
}

fn marked(mut response: Response, dropped: bool, replaced: bool) -> Response {
    response.extensions_mut().insert(Hit { dropped, replaced });
    response
}

/// A response whose body fails before anything is written: the server closes the connection
/// without a status line, which the client sees as a transport error.
fn dropped() -> Response {
    let stream = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("connection dropped by a fault"))
    });
    Response::new(Body::from_stream(stream))
}
