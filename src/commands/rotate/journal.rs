//! The rotation's journal: JSON lines, each flushed to disk before the next request, so a run
//! killed at any instant can be resumed. It never holds the key: a salted fingerprint
//! recognises the same key on resume. A journal in use is locked (an advisory lock on the file
//! itself, which dies with its process), so two processes never write one journal's secrets.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{BufRead, BufReader, Read, Write as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::plan::Plan;
use crate::key::{Fingerprint, Key};

const VERSION: u32 = 1;

/// The options a resumed run keeps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Options {
    pub include_shadowed: bool,
    pub force: bool,
    pub canary: Option<usize>,
    pub write_interval_secs: f64,
    pub concurrency: usize,
    /// `--retire-old`; absent from journals written before it existed.
    #[serde(default)]
    pub retire_old: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub journal: u32,
    pub started_at: String,
    pub salt: String,
    pub key_fingerprint: String,
    pub options: Options,
    pub plan: Plan,
}

impl Header {
    pub fn new(key: &Key, options: Options, plan: Plan) -> Header {
        let salt = crate::key::random_hex(16);
        Header {
            journal: VERSION,
            started_at: now_rfc3339(),
            key_fingerprint: key.fingerprint(salt.as_bytes()).as_str().to_owned(),
            salt,
            options,
            plan,
        }
    }

    /// Whether `key` is the key this journal started with (compared in constant time).
    pub fn same_key(&self, key: &Key) -> bool {
        Fingerprint::parse(&self.key_fingerprint)
            .is_some_and(|f| f.matches(&key.fingerprint(self.salt.as_bytes())))
    }
}

/// One step of a write, as it happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Entry {
    /// Written before the request is sent: without a later entry, its answer never came.
    Sending {
        write: usize,
    },
    Done {
        write: usize,
        status: u16,
    },
    Failed {
        write: usize,
        error: String,
    },
    Skipped {
        write: usize,
        reason: String,
    },
    CanaryPassed {
        write: usize,
    },
    /// `--retire-old`: what the probe saw of the key the canary's secret held, before any
    /// write. The nonce and the salted fingerprint of the key's Admin API hint are what the
    /// probe's public log shows; no part of the key.
    OldKeySeen {
        nonce: String,
        hint_fingerprint: Option<String>,
    },
}

pub struct Journal {
    // Declared before `file`: fields drop in order, so the holder's note is gone before the
    // lock is released and can never remove the note of the process that takes it next.
    _holder: Holder,
    file: File,
    pub path: PathBuf,
}

/// The note beside a locked journal that names the process holding it: a lock says only that
/// someone holds it, and the refusal should say who. Removed when the journal is closed; one
/// left by a killed process is overwritten by the next holder and never read while unlocked.
struct Holder {
    path: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct HolderNote {
    pid: u32,
    since: String,
}

impl Holder {
    fn note_path(journal: &Path) -> PathBuf {
        let mut name = journal.as_os_str().to_owned();
        name.push(".holder");
        PathBuf::from(name)
    }

    /// Names this process as the holder of `journal`, which it has just locked.
    fn write(journal: &Path) -> Result<Holder, Error> {
        let path = Holder::note_path(journal);
        let note = HolderNote {
            pid: std::process::id(),
            since: now_rfc3339(),
        };
        // Written aside, then renamed over: a reader sees the whole note or the old one.
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let io = |source| Error::Io {
            path: path.clone(),
            source,
        };
        std::fs::write(
            &partial,
            serde_json::to_vec(&note).expect("the note serialises"),
        )
        .map_err(io)?;
        std::fs::rename(&partial, &path).map_err(io)?;
        Ok(Holder { path })
    }

    /// Who holds `journal`, as far as its note says.
    fn describe(journal: &Path) -> String {
        std::fs::read(Holder::note_path(journal))
            .ok()
            .and_then(|bytes| serde_json::from_slice::<HolderNote>(&bytes).ok())
            .map_or_else(
                || "another keyfix process".to_owned(),
                |note| format!("keyfix process {} (since {})", note.pid, note.since),
            )
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Locks `file`, the journal at `path`, for this process, or says who holds it.
fn lock(file: &File, path: &Path) -> Result<Holder, Error> {
    match file.try_lock() {
        Ok(()) => Holder::write(path),
        Err(TryLockError::WouldBlock) => Err(Error::InUse {
            path: path.to_owned(),
            holder: Holder::describe(path),
        }),
        Err(TryLockError::Error(source)) => Err(Error::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot write the journal {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a keyfix rotation journal ({why})")]
    NotAJournal { path: PathBuf, why: String },
    #[error("the journal {path} is in use by {holder}: wait for it to end; one process at a time resumes a journal")]
    InUse { path: PathBuf, holder: String },
}

impl Journal {
    /// The default journal path: `$XDG_STATE_HOME/keyfix/rotate/`, else
    /// `~/.local/state/keyfix/rotate/`, named by date and time.
    pub fn default_path() -> PathBuf {
        let base = std::env::var_os("XDG_STATE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
            .unwrap_or_else(std::env::temp_dir);
        let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
            .to_string()
            .replace([':', '-'], "")
            .replace('T', "-")
            .trim_end_matches('Z')
            .to_owned();
        base.join("keyfix/rotate")
            .join(format!("{stamp}-{:04x}.jsonl", rand::random::<u16>()))
    }

    pub fn create(path: &Path, header: &Header) -> Result<Journal, Error> {
        let io = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let file = OpenOptions::new()
            .create_new(true)
            .write(true)
            .open(path)
            .map_err(io)?;
        let mut journal = Journal {
            _holder: lock(&file, path)?,
            file,
            path: path.to_owned(),
        };
        journal.line(&serde_json::to_value(header).expect("the header serialises"))?;
        Ok(journal)
    }

    /// Opens an existing journal to go on writing after what it holds, once this process holds
    /// its lock: what it holds is read after the lock, through the same handle.
    pub fn reopen(path: &Path) -> Result<(Journal, Header, Vec<Entry>), Error> {
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(path)
            .map_err(|source| Error::Io {
                path: path.to_owned(),
                source,
            })?;
        let holder = lock(&file, path)?;
        let (header, entries) = Journal::parse(&file, path)?;
        Ok((
            Journal {
                _holder: holder,
                file,
                path: path.to_owned(),
            },
            header,
            entries,
        ))
    }

    /// Reads a journal without taking its lock (to look at one, never to write it).
    pub fn load(path: &Path) -> Result<(Header, Vec<Entry>), Error> {
        let file = File::open(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        Journal::parse(file, path)
    }

    fn parse(reader: impl Read, path: &Path) -> Result<(Header, Vec<Entry>), Error> {
        let not = |why: String| Error::NotAJournal {
            path: path.to_owned(),
            why,
        };
        let mut lines = BufReader::new(reader).lines();
        let first = lines
            .next()
            .ok_or_else(|| not("it is empty".into()))?
            .map_err(|e| not(e.to_string()))?;
        let header: Header = serde_json::from_str(&first).map_err(|e| not(e.to_string()))?;
        let mut entries = Vec::new();
        for line in lines {
            let line = line.map_err(|e| not(e.to_string()))?;
            match serde_json::from_str(&line) {
                Ok(entry) => entries.push(entry),
                // A line cut short by a kill is the last one: its write is treated as unanswered.
                Err(_) if line.trim().is_empty() => {}
                Err(_) => break,
            }
        }
        Ok((header, entries))
    }

    /// Appends an entry and forces it to disk before anything else happens.
    pub fn record(&mut self, entry: &Entry) -> Result<(), Error> {
        self.line(&serde_json::to_value(entry).expect("entries serialise"))
    }

    fn line(&mut self, value: &serde_json::Value) -> Result<(), Error> {
        let io = |source| Error::Io {
            path: self.path.clone(),
            source,
        };
        let mut text = serde_json::to_string(value).expect("JSON serialises");
        text.push('\n');
        self.file.write_all(text.as_bytes()).map_err(io)?;
        self.file.sync_data().map_err(io)
    }
}

/// What the entries say of each write.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub done: Vec<usize>,
    pub canary_passed: bool,
    /// The nonce and hint fingerprint of `Entry::OldKeySeen`.
    pub old_key: Option<(String, Option<String>)>,
}

impl Progress {
    pub fn of(entries: &[Entry]) -> Progress {
        let mut progress = Progress::default();
        for entry in entries {
            match entry {
                Entry::Done { write, .. } => progress.done.push(*write),
                Entry::CanaryPassed { .. } => progress.canary_passed = true,
                Entry::OldKeySeen {
                    nonce,
                    hint_fingerprint,
                } => progress.old_key = Some((nonce.clone(), hint_fingerprint.clone())),
                _ => {}
            }
        }
        progress
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::tests::sample_api_key;

    fn options() -> Options {
        Options {
            include_shadowed: false,
            force: false,
            canary: Some(0),
            write_interval_secs: 1.0,
            concurrency: 8,
            retire_old: false,
        }
    }

    #[test]
    fn a_journal_round_trips_and_holds_no_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/j.jsonl");
        let raw = sample_api_key('J');
        let key = Key::from_input(raw.clone());
        let header = Header::new(&key, options(), Plan::default());
        let mut journal = Journal::create(&path, &header).unwrap();
        journal.record(&Entry::Sending { write: 0 }).unwrap();
        journal
            .record(&Entry::Done {
                write: 0,
                status: 204,
            })
            .unwrap();
        journal.record(&Entry::Sending { write: 1 }).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        for start in 13..raw.len() - 12 {
            assert!(!text.contains(&raw[start..start + 12]));
        }
        let (loaded, entries) = Journal::load(&path).unwrap();
        assert_eq!(loaded, header);
        assert!(loaded.same_key(&key));
        assert!(!loaded.same_key(&Key::from_input(sample_api_key('K'))));
        let progress = Progress::of(&entries);
        assert_eq!(progress.done, [0], "write 1 was sent but never answered");
        assert!(
            Journal::create(&path, &header).is_err(),
            "an existing journal is never overwritten"
        );
    }

    #[test]
    fn a_journal_is_held_by_one_opener_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let key = Key::from_input(sample_api_key('J'));
        let journal =
            Journal::create(&path, &Header::new(&key, options(), Plan::default())).unwrap();
        // Each open is its own holder of the lock, even within one process.
        let refused = Journal::reopen(&path).err().expect("the journal is in use");
        let message = refused.to_string();
        assert!(matches!(refused, Error::InUse { .. }), "{message}");
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(
            message.contains(&format!("keyfix process {} (since ", std::process::id())),
            "{message}"
        );
        drop(journal);
        assert!(
            !Holder::note_path(&path).exists(),
            "the note goes with the lock"
        );
        let (resumed, _, _) = Journal::reopen(&path).expect("a closed journal is free");
        assert!(matches!(Journal::reopen(&path), Err(Error::InUse { .. })));
        drop(resumed);
        Journal::reopen(&path).expect("free again");
    }

    #[test]
    fn a_holder_without_a_note_is_still_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let key = Key::from_input(sample_api_key('J'));
        let _journal =
            Journal::create(&path, &Header::new(&key, options(), Plan::default())).unwrap();
        std::fs::remove_file(Holder::note_path(&path)).unwrap();
        let message = Journal::reopen(&path).err().unwrap().to_string();
        assert!(
            message.contains("in use by another keyfix process"),
            "{message}"
        );
    }

    #[test]
    fn a_line_cut_short_ends_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let key = Key::from_input(sample_api_key('J'));
        let mut journal =
            Journal::create(&path, &Header::new(&key, options(), Plan::default())).unwrap();
        journal
            .record(&Entry::Done {
                write: 3,
                status: 201,
            })
            .unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"event\":\"do")
            .unwrap();
        let (_, entries) = Journal::load(&path).unwrap();
        assert_eq!(
            entries,
            [Entry::Done {
                write: 3,
                status: 201
            }]
        );
    }
}
