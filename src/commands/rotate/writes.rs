//! The paced writes: each journaled before it is sent and after its answer, never repeated in
//! a run, abandoned only by a second Ctrl-C.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};

use crate::github::secrets::{self, Prepared, UploadError};
use crate::github::Client;
use crate::key::Key;
use crate::outcome::{Failure, FailureKind};
use crate::output::progress::ProgressBar;

use super::interrupt::Interrupt;
use super::journal::{self, Entry, Journal};
use super::plan::Plan;

/// What happened to each write in this run (and before it, on resume).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum WriteState {
    Pending,
    Done,
    Failed(String),
    Skipped(String),
}

impl WriteState {
    /// The state in words, for a message.
    pub(super) fn describe(&self) -> String {
        match self {
            WriteState::Pending => "not reached".to_owned(),
            WriteState::Done => "written".to_owned(),
            WriteState::Failed(e) | WriteState::Skipped(e) => e.clone(),
        }
    }
}

/// Reads what every pending write needs, `concurrency` reads in flight.
pub(super) async fn prepare_all(
    client: &Client,
    plan: &Plan,
    pending: &[usize],
    concurrency: usize,
) -> Result<BTreeMap<usize, Prepared>, Failure> {
    let results: Vec<(usize, Result<Prepared, crate::github::Error>)> =
        stream::iter(pending.iter().copied())
            .map(|id| async move {
                let d = &plan.writes[id].destination;
                (
                    id,
                    secrets::prepare(client, &d.repo, &d.scope, &d.name).await,
                )
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
    let mut prepared = BTreeMap::new();
    for (id, result) in results {
        prepared.insert(id, result?);
    }
    Ok(prepared)
}

/// Starts writes at least `interval` apart.
pub(super) struct Pacer {
    pub(super) interval: Duration,
    pub(super) last: Option<Instant>,
}

impl Pacer {
    pub(super) fn new(interval: Duration) -> Pacer {
        Pacer {
            interval,
            last: None,
        }
    }

    pub(super) async fn wait(&mut self) {
        if let Some(last) = self.last {
            let next = last + self.interval;
            tokio::time::sleep_until(next.into()).await;
        }
        self.last = Some(Instant::now());
    }
}

/// What the writes share: each journaled before it is sent and after its answer, never repeated
/// in this run, abandoned only by a second Ctrl-C.
pub(super) struct Writer<'a> {
    pub(super) client: &'a Client,
    pub(super) plan: &'a Plan,
    pub(super) prepared: &'a BTreeMap<usize, Prepared>,
    pub(super) key: &'a Key,
    pub(super) journal: &'a mut Journal,
    pub(super) bar: &'a mut ProgressBar,
    pub(super) interrupt: &'a Interrupt,
}

impl Writer<'_> {
    /// The write's end: `Pending` when it was abandoned before its answer came.
    pub(super) async fn write(&mut self, id: usize) -> Result<WriteState, Failure> {
        let describe = self.plan.writes[id].destination.describe();
        let io = |e: journal::Error| Failure::new(FailureKind::Io, e);
        let Some(prepared) = self.prepared.get(&id) else {
            return Ok(WriteState::Failed(
                "its public key could not be read".to_owned(),
            ));
        };
        self.journal
            .record(&Entry::Sending { write: id })
            .map_err(io)?;
        let before = self.plan.writes[id].updated_at.as_deref();
        let sent = secrets::put_settled(self.client, prepared, self.key, before);
        let Some(answer) = self.interrupt.unless_aborted(sent).await else {
            return Ok(WriteState::Pending);
        };
        let state = match answer {
            Ok(written) => {
                let status = if written == secrets::Written::Created {
                    201
                } else {
                    204
                };
                self.journal
                    .record(&Entry::Done { write: id, status })
                    .map_err(io)?;
                self.bar.wrote(&format!("wrote {describe}"));
                WriteState::Done
            }
            Err(error) => {
                let message = match &error {
                    UploadError::Refused(e) => format!("{e}; the secret holds the old key"),
                    UploadError::Unknown(e) => format!("{e}; the secret holds the old or the new key (keyfix does not repeat a write: --resume does it)"),
                };
                self.journal
                    .record(&Entry::Failed {
                        write: id,
                        error: message.clone(),
                    })
                    .map_err(io)?;
                self.bar.failed(&format!("FAILED {describe}: {message}"));
                WriteState::Failed(message)
            }
        };
        Ok(state)
    }
}
