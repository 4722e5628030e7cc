//! When to send a GitHub request again (`github.md`, rate limits). Reads are retried with
//! back-off; a write is repeated only when GitHub said it did not do it (a rate-limit answer).

use std::time::Duration;

use crate::retry::Backoff;

/// The facts of one attempt that bear on sending it again.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AttemptFacts {
    /// `None` when no answer came.
    pub status: Option<u16>,
    pub retry_after_secs: Option<u64>,
    pub ratelimit_remaining: Option<u64>,
    /// `x-ratelimit-reset`, epoch seconds.
    pub ratelimit_reset: Option<u64>,
    /// The body names a secondary rate limit.
    pub secondary_message: bool,
}

impl AttemptFacts {
    /// The token's hourly budget is spent: 403 or 429 with `x-ratelimit-remaining: 0`.
    pub fn primary_exhausted(&self) -> bool {
        matches!(self.status, Some(403 | 429)) && self.ratelimit_remaining == Some(0)
    }

    /// A secondary-limit answer: GitHub did not carry the request out.
    pub fn secondary_limited(&self) -> bool {
        matches!(self.status, Some(403 | 429))
            && !self.primary_exhausted()
            && (self.secondary_message || self.retry_after_secs.is_some())
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    pub max_retries: u32,
    /// Secondary-limit answers are waited out apart from `max_retries`: they are not failures.
    pub max_secondary_waits: u32,
    pub backoff: Backoff,
    /// How long a read may wait for the hourly budget to come back before keyfix gives up.
    pub max_primary_wait: Duration,
    /// How long to wait on a secondary limit that names no `retry-after`.
    pub secondary_default_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            max_secondary_waits: 30,
            backoff: Backoff {
                base: Duration::from_millis(500),
                max: Duration::from_secs(8),
            },
            max_primary_wait: Duration::from_secs(60),
            secondary_default_wait: Duration::from_secs(60),
        }
    }
}

/// How many times one request has been sent again, by why: each kind has its own allowance.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Resent {
    pub transient: u32,
    pub secondary: u32,
    pub primary: u32,
}

impl Resent {
    /// Counts one more sending after an attempt with these facts.
    pub fn count(&mut self, facts: &AttemptFacts) {
        if facts.secondary_limited() {
            self.secondary += 1;
        } else if facts.primary_exhausted() {
            self.primary += 1;
        } else {
            self.transient += 1;
        }
    }
}

impl RetryPolicy {
    /// The wait before sending the request again, or `None` to stop. `now` is epoch seconds.
    pub fn next_delay(
        &self,
        resent: &Resent,
        facts: &AttemptFacts,
        idempotent: bool,
        now: u64,
        jitter: f64,
    ) -> Option<Duration> {
        if facts.secondary_limited() {
            // The request was refused, not carried out: sending it again repeats nothing.
            // Without a `retry-after`, GitHub advises a minute, then longer each time.
            let wait = facts.retry_after_secs.map_or_else(
                || self.secondary_default_wait * 2u32.pow(resent.secondary.min(4)),
                Duration::from_secs,
            );
            return (resent.secondary < self.max_secondary_waits).then_some(wait);
        }
        if facts.primary_exhausted() {
            // Refused like a secondary limit: a write sent again after the reset repeats nothing.
            let wait = Duration::from_secs(facts.ratelimit_reset?.saturating_sub(now) + 1);
            return (resent.primary < self.max_retries && wait <= self.max_primary_wait)
                .then_some(wait);
        }
        let transient = match facts.status {
            None => true,
            Some(status) => status == 408 || status >= 500,
        };
        (idempotent && transient && resent.transient < self.max_retries)
            .then(|| self.backoff.delay(resent.transient, jitter))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> AttemptFacts {
        AttemptFacts {
            status: Some(code),
            ..AttemptFacts::default()
        }
    }

    #[test]
    fn reads_are_retried_on_server_errors_and_lost_connections() {
        let p = RetryPolicy::default();
        assert!(p
            .next_delay(&Resent::default(), &status(502), true, 0, 0.0)
            .is_some());
        assert!(p
            .next_delay(&Resent::default(), &AttemptFacts::default(), true, 0, 0.0)
            .is_some());
        assert!(p
            .next_delay(
                &Resent {
                    transient: 3,
                    ..Resent::default()
                },
                &status(502),
                true,
                0,
                0.0
            )
            .is_none());
        assert!(p
            .next_delay(&Resent::default(), &status(404), true, 0, 0.0)
            .is_none());
        assert!(p
            .next_delay(&Resent::default(), &status(403), true, 0, 0.0)
            .is_none());
    }

    #[test]
    fn writes_are_never_retried_blindly() {
        let p = RetryPolicy::default();
        assert!(p
            .next_delay(&Resent::default(), &status(502), false, 0, 0.0)
            .is_none());
        assert!(p
            .next_delay(&Resent::default(), &AttemptFacts::default(), false, 0, 0.0)
            .is_none());
    }

    #[test]
    fn a_secondary_limit_is_waited_out_even_for_writes() {
        let p = RetryPolicy::default();
        let facts = AttemptFacts {
            retry_after_secs: Some(3),
            ..status(403)
        };
        assert_eq!(
            p.next_delay(&Resent::default(), &facts, false, 0, 0.0),
            Some(Duration::from_secs(3))
        );
        let no_header = AttemptFacts {
            secondary_message: true,
            ..status(429)
        };
        let waits: Vec<u64> = (0..6)
            .map(|n| {
                p.next_delay(
                    &Resent {
                        secondary: n,
                        ..Resent::default()
                    },
                    &no_header,
                    true,
                    0,
                    0.0,
                )
                .unwrap()
                .as_secs()
            })
            .collect();
        assert_eq!(
            waits,
            [60, 120, 240, 480, 960, 960],
            "a minute, then doubling"
        );
    }

    #[test]
    fn an_exhausted_budget_waits_for_the_reset_when_it_is_near() {
        let p = RetryPolicy::default();
        let facts = AttemptFacts {
            ratelimit_remaining: Some(0),
            ratelimit_reset: Some(1_000 + 20),
            ..status(403)
        };
        assert_eq!(
            p.next_delay(&Resent::default(), &facts, true, 1_000, 0.0),
            Some(Duration::from_secs(21))
        );
        let far = AttemptFacts {
            ratelimit_reset: Some(1_000 + 3_000),
            ..facts
        };
        assert_eq!(
            p.next_delay(&Resent::default(), &far, true, 1_000, 0.0),
            None
        );
        assert_eq!(
            p.next_delay(&Resent::default(), &facts, false, 1_000, 0.0),
            Some(Duration::from_secs(21)),
            "a write refused for the budget was not carried out: it is sent again after the reset"
        );
    }

    #[test]
    fn each_kind_of_sending_again_has_its_own_allowance() {
        let p = RetryPolicy::default();
        let exhausted = AttemptFacts {
            ratelimit_remaining: Some(0),
            ratelimit_reset: Some(1_000 + 5),
            ..status(403)
        };
        let secondary = AttemptFacts {
            secondary_message: true,
            ..status(403)
        };
        let mut resent = Resent::default();
        for _ in 0..3 {
            resent.count(&secondary);
        }
        resent.count(&status(502));
        assert_eq!(
            p.next_delay(&resent, &exhausted, false, 1_000, 0.0),
            Some(Duration::from_secs(6)),
            "three secondary waits do not use up the budget wait"
        );
        resent.count(&exhausted);
        let mut after_budget = Resent::default();
        after_budget.count(&exhausted);
        assert_eq!(
            p.next_delay(&after_budget, &secondary, false, 1_000, 0.0),
            Some(Duration::from_secs(60)),
            "the first secondary wait is a minute whatever came before"
        );
        assert_eq!(
            resent,
            Resent {
                transient: 1,
                secondary: 3,
                primary: 1
            }
        );
    }
}
