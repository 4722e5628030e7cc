//! Exponential back-off with jitter, shared by the Anthropic and GitHub retry policies.

use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    /// `min(base · 2ⁿ, max)` after `n` retries, shortened by up to 25 % by `jitter` in `[0, 1)`.
    pub fn delay(&self, retries_done: u32, jitter: f64) -> Duration {
        let exponent = 2f64.powi(retries_done.min(16) as i32);
        let secs = (self.base.as_secs_f64() * exponent).min(self.max.as_secs_f64());
        Duration::from_secs_f64(secs * (1.0 - 0.25 * jitter.clamp(0.0, 1.0)))
    }
}

/// A jitter factor in `[0, 1)`.
pub fn jitter() -> f64 {
    rand::Rng::gen::<f64>(&mut rand::thread_rng())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap() {
        let b = Backoff {
            base: Duration::from_millis(500),
            max: Duration::from_secs(8),
        };
        assert_eq!(b.delay(0, 0.0), Duration::from_millis(500));
        assert_eq!(b.delay(1, 0.0), Duration::from_secs(1));
        assert_eq!(b.delay(10, 0.0), Duration::from_secs(8));
        assert_eq!(b.delay(10, 1.0), Duration::from_secs(6));
    }
}
