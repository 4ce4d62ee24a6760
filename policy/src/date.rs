//! Calendar dates for waiver expiry, without a time-zone library: UTC days only.

use std::fmt;

/// A proleptic Gregorian date (UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Year (1970..=9999 for dates that are "today").
    pub year: i32,
    /// Month, 1..=12.
    pub month: u8,
    /// Day of the month, 1..=31.
    pub day: u8,
}

impl Date {
    /// Parses `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Option<Date> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            s.get(r)
                .filter(|t| t.bytes().all(|c| c.is_ascii_digit()))?
                .parse()
                .ok()
        };
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days_in_month = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        if day == 0 || day > days_in_month {
            return None;
        }
        Some(Date {
            year: year as i32,
            month: month as u8,
            day: day as u8,
        })
    }

    /// Earliest date accepted for "today" (`--now`, `SOURCE_DATE_EPOCH`): the Unix epoch.
    pub const MIN: Date = Date {
        year: 1970,
        month: 1,
        day: 1,
    };
    /// Latest date accepted for "today": the last day with a four-digit year, the format
    /// of waiver `expires`.
    pub const MAX: Date = Date {
        year: 9999,
        month: 12,
        day: 31,
    };
    /// Seconds from the epoch to the end of [`Date::MAX`] (9999-12-31T23:59:59Z).
    const MAX_UNIX: i64 = 253_402_300_799;

    /// Whether `self` lies in [`Date::MIN`]..=[`Date::MAX`].
    pub fn in_range(self) -> bool {
        (Date::MIN..=Date::MAX).contains(&self)
    }

    /// The UTC date of a Unix timestamp, or `None` outside [`Date::MIN`]..=[`Date::MAX`]
    /// (a huge timestamp must not wrap into a year where expired waivers are valid again).
    pub fn from_unix(secs: i64) -> Option<Date> {
        if !(0..=Date::MAX_UNIX).contains(&secs) {
            return None;
        }
        Some(Date::civil_from_unix(secs))
    }

    /// Howard Hinnant's `civil_from_days`; exact for the range `from_unix` admits.
    fn civil_from_unix(secs: i64) -> Date {
        let z = secs.div_euclid(86_400) + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }

    /// Parses `--now`: `YYYY-MM-DD` within [`Date::MIN`]..=[`Date::MAX`].
    pub fn parse_today(s: &str) -> Result<Date, DateError> {
        match Date::parse(s) {
            Some(d) if d.in_range() => Ok(d),
            Some(_) => Err(DateError::NowOutOfRange(s.to_string())),
            None => Err(DateError::NowNotADate(s.to_string())),
        }
    }

    /// Today: `SOURCE_DATE_EPOCH` when set (reproducible builds and tests), else the clock.
    pub fn today() -> Result<Date, DateError> {
        if let Ok(v) = std::env::var("SOURCE_DATE_EPOCH") {
            let secs: i64 = v
                .trim()
                .parse()
                .map_err(|_| DateError::EpochNotATimestamp(v.clone()))?;
            return Date::from_unix(secs).ok_or(DateError::EpochOutOfRange(secs));
        }
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        Date::from_unix(secs).ok_or(DateError::ClockOutOfRange)
    }
}

/// Why "today" could not be settled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DateError {
    /// `--now` is not `YYYY-MM-DD`.
    #[error("--now {0:?} is not a date YYYY-MM-DD")]
    NowNotADate(String),
    /// `--now` is a date outside the supported range.
    #[error("--now {0:?} is outside the supported dates 1970-01-01..=9999-12-31")]
    NowOutOfRange(String),
    /// `SOURCE_DATE_EPOCH` is not an integer.
    #[error("SOURCE_DATE_EPOCH is not a Unix timestamp: {0:?}")]
    EpochNotATimestamp(String),
    /// `SOURCE_DATE_EPOCH` is outside the supported range.
    #[error(
        "SOURCE_DATE_EPOCH {0} is outside the supported dates 1970-01-01..=9999-12-31 (0..={max})",
        max = Date::MAX_UNIX
    )]
    EpochOutOfRange(i64),
    /// The system clock is past the supported range.
    #[error("the system clock is past 9999-12-31")]
    ClockOutOfRange,
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

#[cfg(test)]
mod tests {
    use super::{Date, DateError};

    #[test]
    fn parses_and_converts() {
        assert_eq!(Date::parse("2026-02-28").unwrap().to_string(), "2026-02-28");
        assert!(Date::parse("2026-02-29").is_none());
        assert!(Date::parse("2024-02-29").is_some());
        assert!(Date::parse("2026-13-01").is_none());
        assert!(Date::parse("26-01-01").is_none());
        let day = |secs| Date::from_unix(secs).unwrap().to_string();
        assert_eq!(day(0), "1970-01-01");
        assert_eq!(day(1_767_225_600), "2026-01-01");
        assert_eq!(day(951_782_400), "2000-02-29");
    }

    /// Regression: a huge SOURCE_DATE_EPOCH wrapped the year (`as i32`) into the past, where
    /// expired waivers were valid again. Out-of-range timestamps are now refused.
    #[test]
    fn out_of_range_timestamps_are_refused_not_wrapped() {
        assert_eq!(Date::from_unix(253_402_300_799), Some(Date::MAX));
        assert_eq!(Date::from_unix(253_402_300_800), None);
        assert_eq!(Date::from_unix(-1), None);
        assert_eq!(Date::from_unix(i64::MAX), None);
        assert_eq!(Date::from_unix(i64::MIN), None);
        assert_eq!(Date::from_unix(0), Some(Date::MIN));
        assert!(Date::parse_today("9999-12-31").is_ok());
        assert!(Date::parse_today("1970-01-01").is_ok());
        assert!(matches!(
            Date::parse_today("1969-12-31"),
            Err(DateError::NowOutOfRange(_))
        ));
        assert!(matches!(
            Date::parse_today("0000-01-01"),
            Err(DateError::NowOutOfRange(_))
        ));
        assert!(matches!(
            Date::parse_today("soon"),
            Err(DateError::NowNotADate(_))
        ));
    }
}
