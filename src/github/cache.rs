//! The on-disk cache of conditional requests. GitHub's answers to the reads discovery makes
//! (owners, repository listings, file contents, the lists of secret names) are kept with their
//! `ETag`, so that the next run sends `If-None-Match` and an unchanged answer comes back as a
//! 304, which GitHub does not count against the hourly budget.
//!
//! Nothing kept can give away a credential or a secret: only the answers [`cacheable`] names are
//! written (none holds a secret value, a public key or a token), and an entry is named by a hash
//! of the credential's fingerprint and the URL, the fingerprint a keyed hash whose key is random,
//! made on first use and kept beside the entries. Deleting the directory loses nothing but the
//! savings; an entry that cannot be read is a miss.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tracing::debug;

const KEY_FILE: &str = "key";
/// When entries were last swept out, by its modification time.
const SWEPT_FILE: &str = "swept";
/// An entry not written for this long is removed: answers of a token since replaced, of a
/// repository since deleted, of a server no longer used would otherwise stay for ever.
const ENTRY_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);
const SWEEP_INTERVAL: Duration = Duration::from_secs(24 * 3600);
const KEY_BYTES: usize = 32;

/// The cache directory: `$XDG_CACHE_HOME/keyfix/github`, else `~/.cache/keyfix/github`. A
/// relative `XDG_CACHE_HOME` is ignored, as the XDG specification asks; with no home either,
/// there is no cache rather than one in a directory others can read.
pub fn default_root(xdg_cache_home: Option<OsString>, home: Option<OsString>) -> Option<PathBuf> {
    let absolute = |v: &OsString| !v.is_empty() && Path::new(v).is_absolute();
    let base = match (xdg_cache_home.filter(absolute), home.filter(absolute)) {
        (Some(xdg), _) => PathBuf::from(xdg),
        (None, Some(home)) => PathBuf::from(home).join(".cache"),
        (None, None) => return None,
    };
    Some(base.join("keyfix").join("github"))
}

/// Whether the answer to a GET of `path` (under the API, or a `Link` header's absolute URL) is
/// kept: discovery's reads, never a public key, a secret's own document, or anything of a run.
pub fn cacheable(path: &str) -> bool {
    let path = match path.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |at| &rest[at..]),
        None => path,
    };
    let path = path.split(['?', '#']).next().unwrap_or_default();
    // Enterprise Server serves the API under /api/v3.
    let path = path.strip_prefix("/api/v3").unwrap_or(path);
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    matches!(
        parts.as_slice(),
        ["users", _]
            | ["orgs", _, "repos"]
            | ["users", _, "repos"]
            | ["repos", _, _]
            | ["repos", _, _, "contents", ..]
            | ["repos", _, _, "actions", "secrets"]
            | ["repos", _, _, "actions", "organization-secrets"]
            | ["repos", _, _, "environments", _, "secrets"]
            | ["orgs", _, "actions", "secrets"]
            | ["orgs", _, "actions", "secrets", _, "repositories"]
    )
}

/// A kept answer: its validators, what a caller reads of its headers, and its body.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Entry {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// The `Link` header: a page of a list must lead to the next one when it comes back 304.
    #[serde(default)]
    pub link: Option<String>,
    #[serde(skip)]
    pub body: Bytes,
}

/// The first line of an entry's file; the body follows it.
#[derive(Serialize, Deserialize)]
struct Head {
    url: String,
    #[serde(flatten)]
    entry: Entry,
}

pub struct Cache {
    dir: PathBuf,
    key: [u8; KEY_BYTES],
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cache({})", self.dir.display())
    }
}

impl Cache {
    /// The cache under `root`, its fingerprinting key read or made; `None` (and nothing cached)
    /// when the directory cannot hold one.
    pub fn open(root: &Path) -> Option<Cache> {
        let dir = root.to_owned();
        match read_or_make_key(&dir) {
            Ok(key) => {
                sweep(&dir, SystemTime::now());
                Some(Cache { dir, key })
            }
            Err(e) => {
                debug!("no cache of conditional requests in {}: {e}", dir.display());
                None
            }
        }
    }

    /// The file of `url` on `host` read with `credential` (a token, or what stands for an App's
    /// installation): a hash of the credential's keyed fingerprint, the host and the URL.
    fn file(&self, host: &str, credential: &[u8], url: &str) -> PathBuf {
        let mut fingerprint =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes a key of any length");
        fingerprint.update(credential);
        let mut name = Sha256::new();
        name.update(host.as_bytes());
        name.update(b"\0");
        name.update(fingerprint.finalize().into_bytes());
        name.update(b"\0");
        name.update(url.as_bytes());
        self.dir.join(hex::encode(name.finalize()))
    }

    /// The entry kept for `url`, if there is a sound one.
    pub fn lookup(&self, host: &str, credential: &[u8], url: &str) -> Option<Entry> {
        let bytes = std::fs::read(self.file(host, credential, url)).ok()?;
        let newline = bytes.iter().position(|b| *b == b'\n')?;
        let head: Head = serde_json::from_slice(&bytes[..newline]).ok()?;
        if head.url != url || (head.entry.etag.is_none() && head.entry.last_modified.is_none()) {
            return None;
        }
        Some(Entry {
            body: Bytes::copy_from_slice(&bytes[newline + 1..]),
            ..head.entry
        })
    }

    /// Keeps `entry` for `url`; one that cannot be written is left out.
    pub fn store(&self, host: &str, credential: &[u8], url: &str, entry: &Entry) {
        let head = Head {
            url: url.to_owned(),
            entry: entry.clone(),
        };
        let mut contents = serde_json::to_vec(&head).expect("a head serializes");
        contents.push(b'\n');
        contents.extend_from_slice(&entry.body);
        let file = self.file(host, credential, url);
        if let Err(e) = write_atomically(&self.dir, &file, &contents, false) {
            debug!("could not keep an answer in the cache: {e}");
        }
    }
}

/// Removes the entries not written for [`ENTRY_LIFETIME`], at most once a
/// [`SWEEP_INTERVAL`].
fn sweep(dir: &Path, now: SystemTime) {
    let age = |path: &Path| {
        let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok()?;
        now.duration_since(modified).ok()
    };
    let stamp = dir.join(SWEPT_FILE);
    if age(&stamp).is_some_and(|a| a < SWEEP_INTERVAL) {
        return;
    }
    if write_atomically(dir, &stamp, b"", false).is_err() {
        return;
    }
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let kept = name == KEY_FILE || name == SWEPT_FILE;
        if !kept && age(&path).is_some_and(|a| a > ENTRY_LIFETIME) {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn read_or_make_key(dir: &Path) -> std::io::Result<[u8; KEY_BYTES]> {
    let path = dir.join(KEY_FILE);
    let read = || -> Option<[u8; KEY_BYTES]> { std::fs::read(&path).ok()?.try_into().ok() };
    if let Some(key) = read() {
        return Ok(key);
    }
    let key: [u8; KEY_BYTES] = rand::random();
    // A key in place is kept: another keyfix may have just made it, and used it. One that is
    // not a key is replaced.
    let damaged = path.exists();
    match write_atomically(dir, &path, &key, !damaged) {
        Ok(()) => Ok(key),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            read().ok_or_else(|| std::io::Error::other("the cache's key cannot be read"))
        }
        Err(e) => Err(e),
    }
}

/// Writes `contents` to `path` in `dir` through a private temporary file, so that a reader sees
/// the old file or the new, never a part. `no_clobber` leaves a file already there in place.
fn write_atomically(
    dir: &Path,
    path: &Path,
    contents: &[u8],
    no_clobber: bool,
) -> std::io::Result<()> {
    private_dir(dir)?;
    let temporary = dir.join(format!(".tmp-{:016x}", rand::random::<u64>()));
    let written = private_file(&temporary).and_then(|mut file| file.write_all(contents));
    let placed = written.and_then(|()| {
        if no_clobber {
            std::fs::hard_link(&temporary, path)
        } else {
            std::fs::rename(&temporary, path)
        }
    });
    let _ = std::fs::remove_file(&temporary);
    placed
}

#[cfg(unix)]
fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_directory_follows_xdg_then_home() {
        let dir = |xdg: Option<&str>, home: Option<&str>| {
            default_root(xdg.map(Into::into), home.map(Into::into))
        };
        assert_eq!(
            dir(Some("/x"), Some("/h")),
            Some(PathBuf::from("/x/keyfix/github"))
        );
        assert_eq!(
            dir(Some("relative"), Some("/h")),
            Some(PathBuf::from("/h/.cache/keyfix/github"))
        );
        assert_eq!(
            dir(Some(""), Some("/h")),
            Some(PathBuf::from("/h/.cache/keyfix/github"))
        );
        assert_eq!(dir(None, None), None);
        assert_eq!(dir(Some("x"), Some("")), None);
    }

    #[test]
    fn discovery_reads_are_kept_and_secrets_keys_and_runs_are_not() {
        for kept in [
            "/users/acme",
            "/orgs/acme/repos?per_page=100",
            "http://127.0.0.1:9/orgs/acme/repos?per_page=100&page=2",
            "https://ghe.example/api/v3/orgs/acme/repos?page=2",
            "/users/ada/repos",
            "/repos/acme/web",
            "/repos/acme/web/contents/.github/workflows?ref=main",
            "/repos/acme/web/contents/.github/workflows/claude.yml?ref=main",
            "/repos/acme/web/actions/secrets",
            "/repos/acme/web/actions/organization-secrets",
            "/repos/acme/web/environments/prod/secrets",
            "/orgs/acme/actions/secrets",
            "/orgs/acme/actions/secrets/ANTHROPIC_API_KEY/repositories",
        ] {
            assert!(cacheable(kept), "{kept}");
        }
        for not in [
            "/repos/acme/web/actions/secrets/public-key",
            "/repos/acme/web/actions/secrets/ANTHROPIC_API_KEY",
            "/orgs/acme/actions/secrets/public-key",
            "/orgs/acme/actions/secrets/ANTHROPIC_API_KEY",
            "/repos/acme/web/environments/prod/secrets/public-key",
            "/repos/acme/web/actions/runs",
            "/repos/acme/web/actions/runs/1",
            "/app/installations/1/access_tokens",
            "/user",
        ] {
            assert!(!cacheable(not), "{not}");
        }
    }

    fn entry(etag: &str, body: &str) -> Entry {
        Entry {
            etag: Some(etag.to_owned()),
            last_modified: None,
            link: Some("<http://h/x?page=2>; rel=\"next\"".to_owned()),
            body: Bytes::from(body.to_owned()),
        }
    }

    #[test]
    fn an_answer_comes_back_only_for_its_host_credential_and_url() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(&dir.path().join("keyfix/github")).unwrap();
        let url = "http://h/repos/o/r";
        assert!(cache.lookup("h", b"token-a", url).is_none());
        cache.store("h", b"token-a", url, &entry("\"abc\"", "{\"a\":1}\n{}"));
        let kept = cache.lookup("h", b"token-a", url).unwrap();
        assert_eq!(&kept.body[..], b"{\"a\":1}\n{}");
        assert_eq!(kept.etag.as_deref(), Some("\"abc\""));
        assert!(kept.link.is_some());
        assert!(cache.lookup("h", b"token-b", url).is_none());
        assert!(cache.lookup("g", b"token-a", url).is_none());
        assert!(cache
            .lookup("h", b"token-a", "http://h/repos/o/s")
            .is_none());
        for file in std::fs::read_dir(dir.path().join("keyfix/github")).unwrap() {
            let text = std::fs::read(file.unwrap().path()).unwrap();
            assert!(!String::from_utf8_lossy(&text).contains("token-a"));
        }
    }

    #[test]
    fn a_damaged_entry_or_key_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let url = "http://h/users/o";
        cache.store("h", b"t", url, &entry("\"e\"", "{}"));
        let file = cache.file("h", b"t", url);
        std::fs::write(&file, b"not json\n{}").unwrap();
        assert!(cache.lookup("h", b"t", url).is_none());
        std::fs::write(
            &file,
            b"{\"url\":\"http://h/elsewhere\",\"etag\":\"e\"}\n{}",
        )
        .unwrap();
        assert!(cache.lookup("h", b"t", url).is_none());
        std::fs::write(dir.path().join(KEY_FILE), b"short").unwrap();
        let reopened = Cache::open(dir.path()).unwrap();
        assert_ne!(reopened.key, cache.key, "a damaged key is replaced");
    }

    #[test]
    fn entries_not_written_for_a_month_are_swept_out_once_a_day() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let url = "http://h/users/o";
        cache.store("h", b"t", url, &entry("\"e\"", "{}"));
        let set_age = |path: &Path, age: Duration| {
            let file = std::fs::File::options().write(true).open(path).unwrap();
            file.set_modified(SystemTime::now() - age).unwrap();
        };
        let kept = cache.file("h", b"t", url);
        set_age(&kept, ENTRY_LIFETIME * 2);
        sweep(dir.path(), SystemTime::now());
        assert!(
            cache.lookup("h", b"t", url).is_some(),
            "swept today already"
        );
        set_age(&dir.path().join(SWEPT_FILE), SWEEP_INTERVAL * 2);
        sweep(dir.path(), SystemTime::now());
        assert!(cache.lookup("h", b"t", url).is_none(), "a month old");
        assert!(dir.path().join(KEY_FILE).exists(), "the key stays");
        cache.store("h", b"t", url, &entry("\"e\"", "{}"));
        set_age(&dir.path().join(SWEPT_FILE), SWEEP_INTERVAL * 2);
        sweep(dir.path(), SystemTime::now());
        assert!(
            cache.lookup("h", b"t", url).is_some(),
            "a young entry stays"
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_directory_and_files_are_private_and_the_key_lasts() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("c");
        let cache = Cache::open(&root).unwrap();
        cache.store("h", b"t", "http://h/users/o", &entry("\"e\"", "{}"));
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&cache.file("h", b"t", "http://h/users/o")), 0o600);
        assert_eq!(mode(&root.join(KEY_FILE)), 0o600);
        assert_eq!(Cache::open(&root).unwrap().key, cache.key);
    }
}
