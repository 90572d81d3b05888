//! Cron schedules: when each source is next due.
//!
//! Operators write standard crontab (5 fields, 0/7 = Sunday, `MON-FRI`, `@hourly`); a 6-field form with
//! seconds first is accepted too. croner follows POSIX day-of-week numbering, so no translation is needed.

use std::fmt;

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

#[derive(Clone)]
pub struct Schedule {
    expr: String,
    cron: Cron,
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Schedule({:?})", self.expr)
    }
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        self.expr == other.expr
    }
}

impl Schedule {
    pub fn parse(expr: &str) -> Result<Schedule, String> {
        let parser = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .build();
        let cron = parser
            .parse(expr)
            .map_err(|e| format!("invalid cron expression \"{expr}\": {e}"))?;
        Ok(Schedule {
            expr: expr.to_string(),
            cron,
        })
    }

    pub fn default_every_15_minutes() -> Schedule {
        Schedule::parse("*/15 * * * *").expect("valid built-in schedule")
    }

    pub fn as_str(&self) -> &str {
        &self.expr
    }

    /// The first time strictly after `after` that the schedule fires.
    pub fn next_after(&self, after: DateTime<Utc>) -> DateTime<Utc> {
        self.cron
            .find_next_occurrence(&after, false)
            // Only impossible patterns (Feb 30) have no next time; poll daily rather than never.
            .unwrap_or_else(|_| after + chrono::Duration::days(1))
    }

    /// Next due time with a stable per-source jitter, so sources sharing a schedule do not all fire in
    /// the same second. The jitter is at most a tenth of the interval, capped at 60 seconds.
    pub fn next_due(&self, after: DateTime<Utc>, seed: &str) -> DateTime<Utc> {
        let next = self.next_after(after);
        let interval = (self.next_after(next) - next).num_seconds().max(0) as u64;
        let max_jitter = (interval / 10).min(60);
        if max_jitter == 0 {
            return next;
        }
        let hash = seed.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        next + chrono::Duration::seconds((hash % max_jitter) as i64)
    }

    /// The schedule's normal interval around `now` (between its next two firings).
    pub fn interval(&self, now: DateTime<Utc>) -> chrono::Duration {
        let next = self.next_after(now);
        self.next_after(next) - next
    }

    /// When to try again after `failures` consecutive failures (1 = the first): the normal interval
    /// doubled per failure (2×, 4×, 8×, …), capped at `cap`, plus up to a tenth of jitter (stable per
    /// source and streak), and never before the normal next due time.
    pub fn backoff_due(
        &self,
        now: DateTime<Utc>,
        seed: &str,
        failures: u32,
        cap: chrono::Duration,
    ) -> DateTime<Utc> {
        let interval = self.interval(now).max(chrono::Duration::seconds(1));
        let factor = 1i32.checked_shl(failures.min(30)).unwrap_or(i32::MAX);
        let delay = interval
            .checked_mul(factor)
            .unwrap_or(cap)
            .min(cap)
            .max(chrono::Duration::zero());
        let hash = seed
            .bytes()
            .chain(failures.to_le_bytes())
            .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            });
        let max_jitter = (delay.num_seconds() / 10).max(1) as u64;
        let jitter = chrono::Duration::seconds((hash % max_jitter) as i64);
        (now + delay + jitter).max(self.next_due(now, seed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, TimeZone, Timelike, Weekday};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn five_field_crontab() {
        let s = Schedule::parse("*/15 * * * *").unwrap();
        assert_eq!(
            s.next_after(at("2026-11-27T10:07:00Z")),
            at("2026-11-27T10:15:00Z")
        );
        assert_eq!(
            s.next_after(at("2026-11-27T10:15:00Z")),
            at("2026-11-27T10:30:00Z")
        );
    }

    #[test]
    fn day_of_week_is_standard() {
        // 2026-11-27 is a Friday.
        let mon = Schedule::parse("0 9 * * 1").unwrap();
        let n = mon.next_after(at("2026-11-27T00:00:00Z"));
        assert_eq!(n.weekday(), Weekday::Mon);
        assert_eq!(n.hour(), 9);
        for sunday in ["0 9 * * 0", "0 9 * * 7", "0 9 * * SUN"] {
            let n = Schedule::parse(sunday)
                .unwrap()
                .next_after(at("2026-11-27T00:00:00Z"));
            assert_eq!(n.weekday(), Weekday::Sun, "{sunday}");
        }
        let wd = Schedule::parse("30 6 * * MON-FRI").unwrap();
        let n = wd.next_after(at("2026-11-27T07:00:00Z"));
        assert_eq!(n, Utc.with_ymd_and_hms(2026, 11, 30, 6, 30, 0).unwrap());
    }

    #[test]
    fn six_fields_have_seconds_first_and_nicknames_work() {
        let s = Schedule::parse("30 */5 * * * *").unwrap();
        assert_eq!(
            s.next_after(at("2026-11-27T10:00:00Z")),
            at("2026-11-27T10:00:30Z")
        );
        let h = Schedule::parse("@hourly").unwrap();
        assert_eq!(
            h.next_after(at("2026-11-27T10:20:00Z")),
            at("2026-11-27T11:00:00Z")
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!(Schedule::parse("every day").is_err());
        assert!(Schedule::parse("61 * * * *").is_err());
    }

    #[test]
    fn jitter_is_stable_and_bounded() {
        let s = Schedule::parse("*/15 * * * *").unwrap();
        let t = at("2026-11-27T10:07:00Z");
        let a = s.next_due(t, "source a");
        assert_eq!(a, s.next_due(t, "source a"));
        let base = at("2026-11-27T10:15:00Z");
        assert!(a >= base && a < base + chrono::Duration::seconds(60));
    }

    #[test]
    fn backoff_doubles_from_the_interval_and_caps() {
        let s = Schedule::parse("*/15 * * * *").unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 28, 10, 0, 0).unwrap();
        let cap = chrono::Duration::hours(24);
        let mins = |n: u32| (s.backoff_due(now, "src", n, cap) - now).num_minutes();
        let expected = [30, 60, 120, 240, 480, 960];
        for (n, want) in (1..).zip(expected) {
            let got = mins(n);
            // Up to a tenth of jitter on top.
            assert!(
                got >= want && got <= want + want / 10,
                "{n}: {got} vs {want}"
            );
        }
        for n in [7, 10, 40, 200] {
            let got = mins(n);
            assert!((1440..=1440 + 144).contains(&got), "{n}: {got}");
        }
        // Two sources with the same streak do not retry in the same second.
        assert_ne!(
            s.backoff_due(now, "a", 3, cap),
            s.backoff_due(now, "b", 3, cap)
        );
    }
}
