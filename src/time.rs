//! Times from outside made safe (`unix_time`) and written as RFC 3339 (`rfc3339`).

use std::time::{SystemTime, UNIX_EPOCH};

/// The last second of year 9999, the latest time `rfc3339` writes with four digits.
const LAST_PLAUSIBLE_SECOND: u64 = 253_402_300_799;

/// A Unix time from outside (PVE, a ticket) as a `SystemTime`; None when it is not plausible
/// (after year 9999), so a hostile or broken value never overflows `UNIX_EPOCH + Duration`.
pub fn unix_time(secs: u64) -> Option<SystemTime> {
    if secs > LAST_PLAUSIBLE_SECOND {
        return None;
    }
    UNIX_EPOCH.checked_add(std::time::Duration::from_secs(secs))
}

/// `2026-11-25T20:06:16Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            unix_time(LAST_PLAUSIBLE_SECOND).map(rfc3339).as_deref(),
            Some("9999-12-31T23:59:59Z")
        );
        for implausible in [LAST_PLAUSIBLE_SECOND + 1, i64::MAX as u64, u64::MAX] {
            assert_eq!(unix_time(implausible), None, "{implausible}");
        }
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(1_795_637_176)),
            "2026-11-25T20:06:16Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
    }
}
