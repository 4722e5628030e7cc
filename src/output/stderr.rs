//! Everything keyfix writes to stderr (progress lines and logs) goes through here, so that
//! what is said while a progress bar is drawn appears above the bar instead of through it.

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::TermLike;

static ACTIVE_BAR: Mutex<Option<indicatif::ProgressBar>> = Mutex::new(None);

/// A bar with ETA for `total` steps, drawn on stderr until [`Bar::finish`] or drop, as
/// `████░░░░ 3/101 writes, ETA 1m 38s wrote acme/app repository secret …`.
pub struct Bar {
    bar: indicatif::ProgressBar,
    unit: &'static str,
}

const BAR_WIDTH: usize = 30;

impl Bar {
    pub fn start(total: u64, unit: &'static str, remaining: Duration) -> Bar {
        let target = indicatif::ProgressDrawTarget::term_like_with_hz(
            Box::new(ShortOfTheEdge(console::Term::stderr())),
            20,
        );
        let bar = indicatif::ProgressBar::with_draw_target(Some(total), target);
        let template = format!("{{bar:{BAR_WIDTH}}} {{msg}}");
        bar.set_style(
            indicatif::ProgressStyle::with_template(&template).expect("a valid template"),
        );
        *active_bar() = Some(bar.clone());
        let bar = Bar { bar, unit };
        bar.show("", remaining);
        bar
    }

    /// One step done, with what it was and the time the rest will take.
    pub fn step(&self, message: &str, remaining: Duration) {
        self.bar.inc(1);
        self.show(message, remaining);
    }

    /// `3/101 writes, ETA 1m 38s` and as much of `message` as the line has room for.
    fn show(&self, message: &str, remaining: Duration) {
        let whole = Duration::from_secs(remaining.as_secs_f64().round() as u64);
        let status = format!(
            "{}/{} {}, ETA {}",
            self.bar.position(),
            self.bar.length().unwrap_or_default(),
            self.unit,
            humantime::format_duration(whole)
        );
        let columns = usize::from(ShortOfTheEdge(console::Term::stderr()).width());
        let room = columns.saturating_sub(BAR_WIDTH + 1 + status.chars().count() + 1);
        self.bar.set_message(format!(
            "{status} {}",
            fit(&super::shown::shown(message), room)
        ));
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

/// stderr, its width told a few columns short: the bar pads its line to the width it is told, and
/// a line that fills the terminal wraps when the terminal echoes `^C` after it, so that clearing
/// the bar would leave its line behind.
#[derive(Debug)]
struct ShortOfTheEdge(console::Term);

impl indicatif::TermLike for ShortOfTheEdge {
    fn width(&self) -> u16 {
        self.0.size().1.saturating_sub(4).max(20)
    }

    fn height(&self) -> u16 {
        self.0.size().0
    }

    fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_up(n)
    }

    fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_down(n)
    }

    fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_right(n)
    }

    fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_left(n)
    }

    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.0.write_line(s)
    }

    fn write_str(&self, s: &str) -> std::io::Result<()> {
        self.0.write_str(s)
    }

    fn clear_line(&self) -> std::io::Result<()> {
        self.0.clear_line()
    }

    fn flush(&self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// `text`, cut to `room` characters with an ellipsis when it is longer.
fn fit(text: &str, room: usize) -> String {
    if text.chars().count() <= room {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(room.saturating_sub(1)).collect();
    if room > 0 {
        cut.push('…');
    }
    cut
}

/// Writes `bytes` to stderr, above the active bar if there is one.
fn write_all(bytes: &[u8]) {
    suspended(|| {
        let _ = std::io::stderr().lock().write_all(bytes);
    });
}

/// One line of keyfix's on stderr; what came from outside in it is made visible, line breaks
/// included, so that it stays one line.
pub fn line(text: &str) {
    write_all(format!("{}\n", super::shown::shown(text)).as_bytes());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_cut_to_its_room() {
        assert_eq!(fit("wrote acme/app", 20), "wrote acme/app");
        assert_eq!(fit("wrote acme/app", 8), "wrote a…");
        assert_eq!(fit("wrote", 0), "");
    }
}
