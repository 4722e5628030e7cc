//! Job logs, read as a stream. A log is written by whatever a workflow's steps print, so it can
//! be hundreds of megabytes, or one line of them: keyfix never holds a whole log. It reads the
//! body chunk by chunk and hands each line to the caller, who keeps only what it looks for (the
//! probe's report line, the action's result fields), and it bounds both: at most
//! [`LOG_MAX_BYTES`] of a log are read, and a line is judged by its first [`LINE_MAX_BYTES`].

use std::io::BufRead;
use std::ops::ControlFlow;

use http::Method;

use super::{Access, Client, Error, RepoName};

/// How much of one job log keyfix reads; the rest is left unread, and the caller told so.
pub const LOG_MAX_BYTES: u64 = 1024 * 1024 * 1024;
/// How much of one log line keyfix looks at. The probe's report line is a few kilobytes and the
/// action's result lines shorter; anything past this in a line is skipped unread.
pub const LINE_MAX_BYTES: usize = 64 * 1024;

/// How far a log was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogEnd {
    /// To its end, or to where the caller had found what it looked for.
    Read,
    /// Cut at [`LOG_MAX_BYTES`].
    Capped,
}

/// Cuts a stream of bytes into lines of at most [`LINE_MAX_BYTES`], holding no more than one
/// such line at a time. A line ends at `\n`; a `\r` before it is dropped; invalid UTF-8 is
/// replaced.
#[derive(Debug, Default)]
pub struct LineSplitter {
    line: Vec<u8>,
    /// The current line passed the limit: the rest of it is skipped.
    overlong: bool,
}

impl LineSplitter {
    /// Feeds the next bytes; `each` sees every line they complete and may stop the reading.
    pub fn feed(
        &mut self,
        mut bytes: &[u8],
        each: &mut impl FnMut(&str) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        while !bytes.is_empty() {
            // `read_until` finds the newline with the C library's memchr, which stays fast in an
            // unoptimized build: tests read logs of hundreds of megabytes.
            let before = self.line.len();
            let taken = bytes
                .read_until(b'\n', &mut self.line)
                .expect("reading a slice cannot fail");
            let ended = self.line.last() == Some(&b'\n') && self.line.len() > before;
            if ended {
                self.line.pop();
            }
            if self.line.len() > LINE_MAX_BYTES {
                self.line.truncate(LINE_MAX_BYTES);
                self.overlong = true;
            }
            debug_assert!(taken > 0);
            if ended {
                self.emit(each)?;
            }
        }
        ControlFlow::Continue(())
    }

    /// The last line, when the stream did not end with a newline.
    pub fn finish(mut self, each: &mut impl FnMut(&str) -> ControlFlow<()>) -> ControlFlow<()> {
        if self.line.is_empty() && !self.overlong {
            return ControlFlow::Continue(());
        }
        self.emit(each)
    }

    fn emit(&mut self, each: &mut impl FnMut(&str) -> ControlFlow<()>) -> ControlFlow<()> {
        let line = self.line.strip_suffix(b"\r").unwrap_or(&self.line);
        let flow = match std::str::from_utf8(line) {
            Ok(text) => each(text),
            Err(_) => each(&String::from_utf8_lossy(line)),
        };
        self.line.clear();
        self.overlong = false;
        flow
    }
}

/// Feeds a whole text through a [`LineSplitter`], as a log downloaded in one piece is read.
pub fn each_line(text: &[u8], mut each: impl FnMut(&str) -> ControlFlow<()>) {
    let mut lines = LineSplitter::default();
    if lines.feed(text, &mut each).is_continue() {
        let _ = lines.finish(&mut each);
    }
}

/// Reads a job's log line by line: the API answers 302 to a pre-signed URL, which is fetched
/// without the token and read as it arrives. `each` may stop the reading early.
pub async fn read_job_log(
    client: &Client,
    repo: &RepoName,
    job_id: u64,
    mut each: impl FnMut(&str) -> ControlFlow<()>,
) -> Result<LogEnd, Error> {
    let what = format!("the log of job {job_id}");
    let answer = client
        .send(
            Method::GET,
            &format!("/repos/{repo}/actions/jobs/{job_id}/logs"),
            None,
            &[],
        )
        .await?;
    let location = match answer.status {
        301 | 302 | 303 | 307 | 308 => answer.header("location").map(str::to_owned),
        200 => {
            each_line(&answer.body, each);
            return Ok(LogEnd::Read);
        }
        _ => return Err(client.error_for(&answer, Access::Read, &what)),
    };
    let location = location.ok_or_else(|| Error::Unexpected {
        status: answer.status,
        what: what.clone(),
        message: "a redirect without a Location".to_owned(),
    })?;
    let mut body = client.open_presigned(&location).await?;
    let mut lines = CappedLines::new(LOG_MAX_BYTES);
    while let Some(chunk) = body.next_chunk().await? {
        if let Some(end) = lines.feed(&chunk, &mut each) {
            if end == LogEnd::Capped {
                tracing::warn!(
                    "the log of job {job_id} is longer than the {} GiB keyfix reads; the rest was not read",
                    LOG_MAX_BYTES >> 30
                );
            }
            return Ok(end);
        }
    }
    lines.finish(&mut each);
    Ok(LogEnd::Read)
}

/// The lines of the first `cap` bytes of a body that arrives in chunks.
struct CappedLines {
    lines: LineSplitter,
    left: u64,
}

impl CappedLines {
    fn new(cap: u64) -> CappedLines {
        CappedLines {
            lines: LineSplitter::default(),
            left: cap,
        }
    }

    /// The next chunk; `Some` once the reading is over (the caller stopped it, or the cap was
    /// reached, and then the last line cut there has been handed on).
    fn feed(
        &mut self,
        chunk: &[u8],
        each: &mut impl FnMut(&str) -> ControlFlow<()>,
    ) -> Option<LogEnd> {
        let room = usize::try_from(self.left).unwrap_or(usize::MAX);
        let taken = &chunk[..chunk.len().min(room)];
        self.left -= taken.len() as u64;
        if self.lines.feed(taken, each).is_break() {
            return Some(LogEnd::Read);
        }
        if self.left == 0 && taken.len() < chunk.len() {
            let _ = std::mem::take(&mut self.lines).finish(each);
            return Some(LogEnd::Capped);
        }
        None
    }

    fn finish(self, each: &mut impl FnMut(&str) -> ControlFlow<()>) {
        let _ = self.lines.finish(each);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(chunks: &[&[u8]]) -> Vec<String> {
        let mut seen = Vec::new();
        let mut each = |line: &str| {
            seen.push(line.to_owned());
            ControlFlow::Continue(())
        };
        let mut splitter = LineSplitter::default();
        for chunk in chunks {
            let _ = splitter.feed(chunk, &mut each);
        }
        let _ = splitter.finish(&mut each);
        seen
    }

    #[test]
    fn lines_are_whole_across_chunks() {
        assert_eq!(
            lines_of(&[b"one\r\ntw", b"o\n", b"", b"thr", b"ee"]),
            ["one", "two", "three"]
        );
        assert_eq!(lines_of(&[b"a\n\nb\n"]), ["a", "", "b"]);
        assert!(lines_of(&[b""]).is_empty());
    }

    #[test]
    fn an_overlong_line_is_cut_and_the_next_one_read() {
        let long = vec![b'x'; LINE_MAX_BYTES * 3];
        let seen = lines_of(&[&long[..1000], &long[1000..], b"\nnext\n"]);
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].len(), LINE_MAX_BYTES);
        assert_eq!(seen[1], "next");
    }

    #[test]
    fn a_body_is_read_to_its_cap_and_no_further() {
        let mut seen = Vec::new();
        let mut each = |line: &str| {
            seen.push(line.to_owned());
            ControlFlow::Continue(())
        };
        let mut capped = CappedLines::new(10);
        assert_eq!(capped.feed(b"one\ntwo", &mut each), None);
        assert_eq!(
            capped.feed(b"\nthree\nfour\n", &mut each),
            Some(LogEnd::Capped)
        );
        assert_eq!(seen, ["one", "two", "th"]);

        let mut seen = 0;
        let mut count = |_: &str| {
            seen += 1;
            ControlFlow::Continue(())
        };
        let mut exact = CappedLines::new(8);
        assert_eq!(exact.feed(b"one\ntwo\n", &mut count), None);
        exact.finish(&mut count);
        assert_eq!(seen, 2, "a body of exactly the cap is read whole");
    }

    #[test]
    fn the_caller_can_stop_the_reading() {
        let mut seen = Vec::new();
        each_line(b"a\nb\nc\n", |line| {
            seen.push(line.to_owned());
            if line == "b" {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        assert_eq!(seen, ["a", "b"]);
    }
}
