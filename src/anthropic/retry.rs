//! When to try an Anthropic request again, and after how long (`diagnosis.md` §1, modelled on
//! the official SDKs). Pure: the caller supplies the answer's facts and a jitter factor.

use std::time::Duration;

use crate::retry::Backoff;

/// The facts of one attempt that bear on retrying it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AttemptFacts {
    /// `None` when no answer came (connection error or timeout).
    pub status: Option<u16>,
    pub retry_after_ms: Option<f64>,
    pub retry_after_secs: Option<f64>,
    /// `x-should-retry`: the server's own word, which overrides the status rules.
    pub should_retry: Option<bool>,
    /// `error.details.error_code`.
    pub error_code: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub backoff: Backoff,
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            backoff: Backoff {
                base: Duration::from_millis(500),
                max: Duration::from_secs(8),
            },
            max_retry_after: Duration::from_secs(60),
        }
    }
}

/// Retrying a tier's spend cap only burns time: it holds until the date the message names.
const NEVER_RETRY_CODE: &str = "enforced_spend_limit_reached";

impl RetryPolicy {
    /// The wait before retry number `retries_done + 1`, or `None` to stop here. `jitter` is a
    /// factor in `[0, 1)`, drawn by the caller, that shortens the computed back-off by up to 25 %.
    pub fn next_delay(
        &self,
        retries_done: u32,
        facts: &AttemptFacts,
        jitter: f64,
    ) -> Option<Duration> {
        if retries_done >= self.max_retries || !self.is_retryable(facts) {
            return None;
        }
        if let Some(wait) = self.server_wait(facts) {
            return Some(wait);
        }
        Some(self.backoff.delay(retries_done, jitter))
    }

    fn is_retryable(&self, facts: &AttemptFacts) -> bool {
        if facts.error_code.as_deref() == Some(NEVER_RETRY_CODE) {
            return false;
        }
        if let Some(should) = facts.should_retry {
            return should;
        }
        match facts.status {
            None => true,
            Some(408 | 409) => true,
            Some(429) => facts.retry_after_ms.is_some() || facts.retry_after_secs.is_some(),
            Some(status) => status >= 500,
        }
    }

    /// `retry-after-ms` first, then `retry-after`, capped; a value past the cap is ignored in
    /// favour of the back-off, as the SDKs do.
    fn server_wait(&self, facts: &AttemptFacts) -> Option<Duration> {
        let secs = facts
            .retry_after_ms
            .map(|ms| ms / 1000.0)
            .or(facts.retry_after_secs)?;
        (secs >= 0.0 && secs <= self.max_retry_after.as_secs_f64())
            .then(|| Duration::from_secs_f64(secs))
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
    fn client_errors_are_never_retried() {
        let policy = RetryPolicy::default();
        for code in [400, 401, 402, 403, 404] {
            assert_eq!(policy.next_delay(0, &status(code), 0.0), None, "{code}");
        }
    }

    #[test]
    fn server_errors_and_lost_connections_back_off_exponentially() {
        let policy = RetryPolicy::default();
        for code in [500, 502, 503, 504, 529, 408, 409] {
            assert_eq!(
                policy.next_delay(0, &status(code), 0.0),
                Some(Duration::from_millis(500))
            );
        }
        assert_eq!(
            policy.next_delay(1, &AttemptFacts::default(), 0.0),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            policy.next_delay(2, &status(529), 0.0),
            None,
            "two retries at most"
        );
        let capped = RetryPolicy {
            max_retries: 10,
            ..policy
        };
        assert_eq!(
            capped.next_delay(6, &status(500), 0.0),
            Some(Duration::from_secs(8))
        );
        assert_eq!(
            capped.next_delay(6, &status(500), 1.0),
            Some(Duration::from_secs(6))
        );
    }

    #[test]
    fn a_429_is_retried_only_with_retry_after_and_never_for_the_tier_cap() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.next_delay(0, &status(429), 0.0), None);
        let with_header = AttemptFacts {
            retry_after_secs: Some(3.0),
            ..status(429)
        };
        assert_eq!(
            policy.next_delay(0, &with_header, 0.5),
            Some(Duration::from_secs(3))
        );
        let ms = AttemptFacts {
            retry_after_ms: Some(250.0),
            ..with_header.clone()
        };
        assert_eq!(
            policy.next_delay(0, &ms, 0.0),
            Some(Duration::from_millis(250))
        );
        let cap = AttemptFacts {
            error_code: Some(NEVER_RETRY_CODE.into()),
            ..with_header
        };
        assert_eq!(policy.next_delay(0, &cap, 0.0), None);
    }

    #[test]
    fn an_overlong_retry_after_falls_back_to_the_back_off() {
        let facts = AttemptFacts {
            retry_after_secs: Some(600.0),
            ..status(529)
        };
        assert_eq!(
            RetryPolicy::default().next_delay(0, &facts, 0.0),
            Some(Duration::from_millis(500))
        );
    }

    #[test]
    fn x_should_retry_overrides_the_status() {
        let policy = RetryPolicy::default();
        let no = AttemptFacts {
            should_retry: Some(false),
            ..status(529)
        };
        assert_eq!(policy.next_delay(0, &no, 0.0), None);
        let yes = AttemptFacts {
            should_retry: Some(true),
            ..status(400)
        };
        assert!(policy.next_delay(0, &yes, 0.0).is_some());
    }
}
