//! RFC 3339 timestamps without a calendar crate: GitHub writes `2026-11-23T22:49:09Z`, and job
//! logs prefix each line with `2026-11-23T22:49:09.1234567Z`.

use std::time::{SystemTime, UNIX_EPOCH};

pub fn now_epoch_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `2026-11-23T22:49:09Z`.
pub fn rfc3339(epoch_millis: u64) -> String {
    let secs = (epoch_millis / 1000) as i64;
    let (y, m, d) = civil(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `2026-11-23T22:49:09.1230000Z`: the prefix of every job log line.
pub fn log_stamp(epoch_millis: u64) -> String {
    let base = rfc3339(epoch_millis);
    format!(
        "{}.{:03}0000Z",
        &base[..base.len() - 1],
        epoch_millis % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_474_149_000), "2026-11-23T22:49:09Z");
        assert_eq!(log_stamp(1_795_474_149_123), "2026-11-23T22:49:09.1230000Z");
    }
}
