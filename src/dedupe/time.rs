//! Event time: when an item's news happened, as far as clustering is concerned.
//!
//! An item's own date (published, else updated) when it is credible, else the time syndic first saw it.
//! A first poll of a backlog then clusters as if the items had arrived when they were published, and a
//! recurring headline ("How the Dow fared Thursday") weeks apart stays apart. Output feeds keep ordering
//! by first-seen time; only clustering reads event times.

use chrono::{DateTime, TimeZone, Utc};

/// A date more than this far ahead of the poll is not credible (a wrong time zone, a scheduled post).
pub const MAX_FUTURE_SKEW: chrono::Duration = chrono::Duration::hours(2);

/// A date before this is not credible (a default 1970, a typo'd year): no news feed is older.
pub fn earliest_credible() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(1995, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

/// How far an item's date may break the order of its feed (newest first, or oldest first) before it is
/// taken for a wrong date.
pub const ORDER_SLACK: chrono::Duration = chrono::Duration::hours(36);

/// Fewest dated entries from which a feed's order is trusted.
const MIN_ORDERED: usize = 4;

/// One entry's dates, in document order.
#[derive(Debug, Clone, Copy)]
pub struct EntryDates {
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
}

/// The clustering time of each entry of one document (same order as `entries`): its published (else
/// updated) date when credible (not after `seen` + [`MAX_FUTURE_SKEW`], not before
/// [`earliest_credible`], and not far out of the feed's own order), else `seen`.
pub fn event_times(entries: &[EntryDates], seen: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let earliest = earliest_credible();
    let latest = seen + MAX_FUTURE_SKEW;
    let date = |e: &EntryDates| {
        e.published
            .or(e.updated)
            .filter(|d| *d >= earliest && *d <= latest)
    };
    // Order is judged on the date a feed sorts by: updated when given, else published.
    let sort_key = |e: &EntryDates| {
        e.updated
            .or(e.published)
            .filter(|d| *d >= earliest && *d <= latest)
    };
    let mut out: Vec<DateTime<Utc>> = entries.iter().map(|e| date(e).unwrap_or(seen)).collect();
    let keyed: Vec<(usize, DateTime<Utc>)> = entries
        .iter()
        .enumerate()
        .filter_map(|(i, e)| sort_key(e).map(|d| (i, d)))
        .collect();
    if keyed.len() < MIN_ORDERED {
        return out;
    }
    let pairs = keyed.windows(2);
    let (desc, asc) = pairs.fold((0, 0), |(d, a), w| {
        (
            d + usize::from(w[0].1 >= w[1].1),
            a + usize::from(w[0].1 <= w[1].1),
        )
    });
    let n = keyed.len() - 1;
    // A feed counts as ordered when at least 80% of its neighbours agree.
    let descending = desc * 5 >= n * 4;
    let ascending = !descending && asc * 5 >= n * 4;
    if !(descending || ascending) {
        return out;
    }
    for k in 0..keyed.len() {
        let (i, d) = keyed[k];
        // Newer and older neighbours in the feed's direction.
        let (newer, older) = if descending {
            (
                k.checked_sub(1).map(|j| keyed[j].1),
                keyed.get(k + 1).map(|x| x.1),
            )
        } else {
            (
                keyed.get(k + 1).map(|x| x.1),
                k.checked_sub(1).map(|j| keyed[j].1),
            )
        };
        let too_new = older.is_some_and(|o| newer.is_none_or(|n| n >= o))
            && newer.is_some_and(|n| d > n + ORDER_SLACK);
        let too_old = older.is_some_and(|o| d < o - ORDER_SLACK)
            && newer.is_none_or(|n| older.is_some_and(|o| n >= o));
        if too_new || too_old {
            out[i] = seen;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2014, 3, day, 12, 0, 0).unwrap()
    }

    fn dated(days: &[u32]) -> Vec<EntryDates> {
        days.iter()
            .map(|&d| EntryDates {
                published: Some(at(d)),
                updated: None,
            })
            .collect()
    }

    #[test]
    fn credible_dates_are_kept_and_others_fall_back_to_first_seen() {
        let seen = at(20);
        let entries = vec![
            EntryDates {
                published: Some(at(19)),
                updated: None,
            },
            EntryDates {
                published: None,
                updated: Some(at(18)),
            },
            // Far in the future, and in 1970.
            EntryDates {
                published: Some(at(20) + chrono::Duration::days(3)),
                updated: None,
            },
            EntryDates {
                published: Some(DateTime::UNIX_EPOCH),
                updated: None,
            },
            EntryDates {
                published: None,
                updated: None,
            },
        ];
        let t = event_times(&entries, seen);
        assert_eq!(t, vec![at(19), at(18), seen, seen, seen]);
        // Twelve years later the same dates are still credible: a backlog is clustered in its own time.
        let later = seen + chrono::Duration::days(12 * 365);
        assert_eq!(event_times(&entries[..2], later), vec![at(19), at(18)]);
    }

    #[test]
    fn a_date_far_out_of_the_feeds_order_is_not_trusted() {
        let seen = at(28);
        // Newest first, with one entry dated weeks before its neighbours (a wrong month).
        let t = event_times(&dated(&[27, 26, 25, 2, 24, 23]), seen);
        assert_eq!(t, vec![at(27), at(26), at(25), seen, at(24), at(23)]);
        // Oldest first works the same way.
        let t = event_times(&dated(&[20, 21, 27, 22, 23, 24, 25]), seen);
        assert_eq!(t[2], seen);
        assert_eq!(t[3], at(22));
        // A feed in no order keeps every credible date.
        let mixed = dated(&[3, 20, 1, 25, 2, 27]);
        let t = event_times(&mixed, seen);
        assert_eq!(t, vec![at(3), at(20), at(1), at(25), at(2), at(27)]);
    }
}
