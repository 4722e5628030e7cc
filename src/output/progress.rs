//! The progress of a long run on stderr: a bar with an ETA on a terminal, a line per step
//! otherwise, nothing with `-q`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{stderr, Progress};

/// A bar with ETA on a terminal; a line per write otherwise; nothing with `-q`. A failed write
/// is always a line, above the bar.
pub struct ProgressBar {
    pub bar: Option<stderr::Bar>,
    pub quiet: bool,
    pub eta: Eta,
}

impl ProgressBar {
    pub fn new(progress: Progress, total: u64, interval: Duration) -> ProgressBar {
        use std::io::IsTerminal;
        let quiet = progress.is_quiet();
        let eta = Eta::new(total, interval);
        let bar = (std::io::stderr().is_terminal() && !quiet)
            .then(|| stderr::Bar::start(total, "writes", eta.remaining()));
        ProgressBar { bar, quiet, eta }
    }

    pub fn wrote(&mut self, text: &str) {
        self.eta.done_one();
        match &self.bar {
            Some(bar) => bar.step(text, self.eta.remaining()),
            None if !self.quiet => stderr::line(text),
            None => {}
        }
    }

    pub fn failed(&mut self, text: &str) {
        self.eta.done_one();
        if let Some(bar) = &self.bar {
            bar.step("", self.eta.remaining());
        }
        if !self.quiet {
            stderr::line(text);
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}

/// The time the remaining writes take: at the (lower) median gap between the last writes, so that
/// the canary's verification or one long wait does not skew it; never faster than their interval.
pub struct Eta {
    pub total: u64,
    pub done: u64,
    pub interval: Duration,
    pub last_write: Option<Instant>,
    pub recent_gaps: VecDeque<Duration>,
}

pub const ETA_GAPS: usize = 20;

impl Eta {
    pub fn new(total: u64, interval: Duration) -> Eta {
        Eta {
            total,
            done: 0,
            interval,
            last_write: None,
            recent_gaps: VecDeque::with_capacity(ETA_GAPS),
        }
    }

    pub fn done_one(&mut self) {
        self.done_one_at(Instant::now());
    }

    pub fn done_one_at(&mut self, now: Instant) {
        self.done = (self.done + 1).min(self.total);
        if let Some(last) = self.last_write.replace(now) {
            if self.recent_gaps.len() == ETA_GAPS {
                self.recent_gaps.pop_front();
            }
            self.recent_gaps.push_back(now - last);
        }
    }

    pub fn remaining(&self) -> Duration {
        let mut gaps: Vec<Duration> = self.recent_gaps.iter().copied().collect();
        gaps.sort();
        let pace = gaps
            .get(gaps.len().saturating_sub(1) / 2)
            .map_or(self.interval, |median| (*median).max(self.interval));
        pace * (self.total - self.done) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eta_follows_the_pace_and_ignores_one_long_gap() {
        let second = Duration::from_secs(1);
        let mut eta = Eta::new(10, second);
        assert_eq!(
            eta.remaining(),
            10 * second,
            "the interval before any write"
        );
        let start = Instant::now();
        eta.done_one_at(start);
        eta.done_one_at(start + 40 * second); // the canary's verification
        eta.done_one_at(start + 42 * second);
        assert_eq!(eta.remaining(), 7 * 2 * second, "from the second gap on");
        eta.done_one_at(start + 44 * second);
        eta.done_one_at(start + 46 * second);
        assert_eq!(
            eta.remaining(),
            5 * 2 * second,
            "five left at two seconds each"
        );
        let mut fast = Eta::new(3, second);
        fast.done_one_at(start);
        fast.done_one_at(start + Duration::from_millis(10));
        assert_eq!(fast.remaining(), second, "never faster than the interval");
    }
}
