//! Dates in config: `2027-06-30` or RFC 3339 `2027-06-30T12:00:00Z` /
//! `...+02:00`, as Unix seconds.

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn num(s: &str, range: std::ops::RangeInclusive<i64>) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|n| range.contains(n))
}

/// Parses a date or RFC 3339 timestamp into Unix seconds.
pub(crate) fn parse_date(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, time) = match s.split_once(['T', 't', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut dp = date.split('-');
    let y = num(dp.next()?, 1970..=9999)?;
    let mo = num(dp.next()?, 1..=12)?;
    let d = num(dp.next()?, 1..=31)?;
    if dp.next().is_some() {
        return None;
    }
    let mut secs = days_from_civil(y, mo, d) * 86_400;
    if let Some(t) = time {
        let (clock, offset) = if let Some(c) = t.strip_suffix(['Z', 'z']) {
            (c, 0)
        } else {
            let idx = t.rfind(['+', '-'])?;
            let (c, off) = t.split_at(idx);
            let sign = if off.starts_with('-') { -1 } else { 1 };
            let (oh, om) = off[1..].split_once(':')?;
            (c, sign * (num(oh, 0..=23)? * 3600 + num(om, 0..=59)? * 60))
        };
        let clock = clock.split('.').next()?;
        let mut cp = clock.split(':');
        let h = num(cp.next()?, 0..=23)?;
        let mi = num(cp.next()?, 0..=59)?;
        let se = num(cp.next()?, 0..=60)?;
        secs += h * 3600 + mi * 60 + se - offset;
    }
    Some(secs)
}

#[cfg(test)]
mod tests {
    use super::parse_date;

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2027-06-30"), Some(1_814_313_600));
        assert_eq!(
            parse_date("2027-06-30T12:00:00Z"),
            Some(1_814_313_600 + 43_200)
        );
        assert_eq!(
            parse_date("2027-06-30T14:00:00+02:00"),
            Some(1_814_313_600 + 43_200)
        );
        assert_eq!(parse_date("2027-13-01"), None);
        assert_eq!(parse_date("June 30"), None);
    }
}
