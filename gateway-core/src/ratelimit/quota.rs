//! Calendar-aligned quota windows: the minute, hour, day, week (from
//! Monday) or month that contains an instant, in an IANA time zone.
//!
//! Windows follow the local calendar, so a day window starts at local
//! midnight and lasts 23 or 25 hours on the days daylight saving time
//! starts or ends; a month window starts on the 1st at local midnight.

use jiff::tz::TimeZone;
use jiff::{RoundMode, Timestamp, ToSpan, Unit, ZonedDateTime, ZonedDateTimeRound};

/// The calendar unit of a quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// A clock minute.
    Minute,
    /// A clock hour (local, so half-hour zones are honoured).
    Hour,
    /// Local midnight to midnight.
    Day,
    /// Monday 00:00 to the next Monday 00:00.
    Week,
    /// The 1st 00:00 to the next 1st 00:00.
    Month,
}

impl Period {
    /// Parses `minute`, `hour`, `day`, `week` or `month`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "minute" => Self::Minute,
            "hour" => Self::Hour,
            "day" => Self::Day,
            "week" => Self::Week,
            "month" => Self::Month,
            _ => return None,
        })
    }
}

/// The window `[start_ms, end_ms)` of `period` containing `now_ms` in
/// `tz`, or `None` if the calendar cannot represent it (far outside the
/// years a clock reports).
pub fn window(period: Period, tz: &TimeZone, now_ms: u64) -> Option<(u64, u64)> {
    let now = Timestamp::from_millisecond(i64::try_from(now_ms).ok()?).ok()?;
    let zoned = now.to_zoned_datetime(tz.clone());
    let start = start_of(period, &zoned)?;
    let end = match period {
        Period::Minute => start.checked_add(1.minute()),
        Period::Hour => start.checked_add(1.hour()),
        Period::Day => start.checked_add(1.day()),
        Period::Week => start.checked_add(1.week()),
        Period::Month => start.checked_add(1.month()),
    }
    .ok()?;
    let ms = |z: &ZonedDateTime| u64::try_from(z.timestamp().as_millisecond()).ok();
    Some((ms(&start)?, ms(&end)?))
}

fn start_of(period: Period, z: &ZonedDateTime) -> Option<ZonedDateTime> {
    let trunc = |unit| {
        z.round(
            ZonedDateTimeRound::new()
                .smallest(unit)
                .mode(RoundMode::Trunc),
        )
        .ok()
    };
    match period {
        Period::Minute => trunc(Unit::Minute),
        Period::Hour => trunc(Unit::Hour),
        Period::Day => z.start_of_day().ok(),
        Period::Week => {
            let back = i64::from(z.weekday().to_monday_zero_offset());
            z.start_of_day().ok()?.checked_sub(back.days()).ok()
        }
        Period::Month => z.first_of_month().ok()?.start_of_day().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> u64 {
        let t: Timestamp = s.parse().expect("timestamp");
        u64::try_from(t.as_millisecond()).expect("after 1970")
    }

    fn paris() -> TimeZone {
        TimeZone::get("Europe/Paris").expect("bundled tzdb")
    }

    #[test]
    fn days_start_at_local_midnight_and_follow_dst() {
        // 2026-03-29: Paris springs forward; the local day has 23 hours.
        let (start, end) = window(Period::Day, &paris(), ms("2026-03-29T12:00:00Z")).expect("day");
        assert_eq!(start, ms("2026-03-28T23:00:00Z"));
        assert_eq!(end, ms("2026-03-29T22:00:00Z"));
        assert_eq!(end - start, 23 * 3_600_000);
        // 2026-10-25: falls back; 25 hours.
        let (start, end) = window(Period::Day, &paris(), ms("2026-10-25T01:30:00Z")).expect("day");
        assert_eq!(start, ms("2026-10-24T22:00:00Z"));
        assert_eq!(end - start, 25 * 3_600_000);
        // Just before local midnight it is still the old day; at it, the new.
        let (_, end) = window(Period::Day, &paris(), ms("2026-07-01T21:59:59.999Z")).expect("day");
        assert_eq!(end, ms("2026-07-01T22:00:00Z"));
        let (start, _) = window(Period::Day, &paris(), end).expect("day");
        assert_eq!(start, end);
    }

    #[test]
    fn months_weeks_hours_and_minutes_align_to_the_local_calendar() {
        let (start, end) =
            window(Period::Month, &paris(), ms("2026-03-31T22:30:00Z")).expect("month");
        // 23:30 UTC on 31 March is already 1 April 00:30 in Paris (UTC+2).
        assert_eq!(start, ms("2026-03-31T22:00:00Z"));
        assert_eq!(end, ms("2026-04-30T22:00:00Z"));
        let (start, _) = window(Period::Month, &paris(), ms("2026-03-31T21:59:00Z")).expect("m");
        assert_eq!(
            start,
            ms("2026-02-28T23:00:00Z"),
            "still March, UTC+1 at its start"
        );
        // 2026-11-26 is a Thursday; the week started Monday the 23rd.
        let (start, end) =
            window(Period::Week, &TimeZone::UTC, ms("2026-11-26T10:00:00Z")).expect("week");
        assert_eq!(
            (start, end),
            (ms("2026-11-23T00:00:00Z"), ms("2026-11-30T00:00:00Z"))
        );
        // India is UTC+05:30: local hours start at half past UTC hours.
        let kolkata = TimeZone::get("Asia/Kolkata").expect("tz");
        let (start, end) = window(Period::Hour, &kolkata, ms("2026-11-26T10:10:00Z")).expect("h");
        assert_eq!(
            (start, end),
            (ms("2026-11-26T09:30:00Z"), ms("2026-11-26T10:30:00Z"))
        );
        let (start, end) =
            window(Period::Minute, &TimeZone::UTC, ms("2026-11-26T10:10:42.5Z")).expect("min");
        assert_eq!(
            (start, end),
            (ms("2026-11-26T10:10:00Z"), ms("2026-11-26T10:11:00Z"))
        );
    }
}
