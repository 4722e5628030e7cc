//! Everything keyfix writes to stderr (progress lines and logs) goes through here, so that
//! what is said while a progress bar is drawn appears above the bar instead of through it.

use std::io::Write;
use std::sync::Mutex;

static ACTIVE_BAR: Mutex<Option<indicatif::ProgressBar>> = Mutex::new(None);

/// A bar with ETA for `total` steps, drawn on stderr until [`Bar::finish`] or drop.
pub struct Bar {
    bar: indicatif::ProgressBar,
}

impl Bar {
    pub fn start(total: u64, template: &str) -> Bar {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(indicatif::ProgressStyle::with_template(template).expect("a valid template"));
        *active_bar() = Some(bar.clone());
        Bar { bar }
    }

    /// One step done, with what it was and the time the rest will take.
    pub fn step(&self, message: &str, remaining: std::time::Duration) {
        self.bar.inc(1);
        self.bar.set_message(message.to_owned());
        self.set_remaining(remaining);
    }

    /// Shown as `{prefix}` in the template: whole seconds, as `1m 40s`.
    pub fn set_remaining(&self, remaining: std::time::Duration) {
        let whole = std::time::Duration::from_secs(remaining.as_secs_f64().round() as u64);
        self.bar
            .set_prefix(humantime::format_duration(whole).to_string());
    }

    pub fn finish(&self) {
        // Cleared under the lock, so that no line written meanwhile lands on the bar's line.
        let mut active = active_bar();
        self.bar.finish_and_clear();
        active.take();
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.finish();
    }
}

fn active_bar() -> std::sync::MutexGuard<'static, Option<indicatif::ProgressBar>> {
    // A panic while the lock was held leaves a bar or none: either is still usable.
    ACTIVE_BAR.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `f` (a prompt, a write to stderr) with the active bar, if any, hidden meanwhile.
pub fn suspended<T>(f: impl FnOnce() -> T) -> T {
    let bar = active_bar().clone();
    match bar {
        Some(bar) => bar.suspend(f),
        None => f(),
    }
}

/// Writes `bytes` to stderr, above the active bar if there is one.
fn write_all(bytes: &[u8]) {
    suspended(|| {
        let _ = std::io::stderr().lock().write_all(bytes);
    });
}

pub fn line(text: &str) {
    write_all(format!("{text}\n").as_bytes());
}

/// A writer for the log subscriber; each event arrives formatted in one write.
pub struct Writer;

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
