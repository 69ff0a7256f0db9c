//! `Month`: a calendar month `YYYY-MM`, the period of every published figure.

use chrono::{Datelike, NaiveDate};
use std::fmt;
use std::str::FromStr;

/// A calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    month: u32,
}

impl Month {
    /// The month containing `date`.
    pub fn of(date: NaiveDate) -> Month {
        Month {
            year: date.year(),
            month: date.month(),
        }
    }

    /// The month after this one.
    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// The month before this one.
    pub fn previous(self) -> Month {
        if self.month == 1 {
            Month {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Month {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    /// Every month from `self` to `last`, inclusive (empty if `last` is earlier).
    pub fn through(self, last: Month) -> Vec<Month> {
        let mut out = Vec::new();
        let mut m = self;
        while m <= last {
            out.push(m);
            m = m.next();
        }
        out
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// Why a month did not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("'{0}' is not a month: use YYYY-MM, for example 2025-04")]
pub struct BadMonth(pub String);

impl FromStr for Month {
    type Err = BadMonth;
    fn from_str(s: &str) -> Result<Month, BadMonth> {
        let bad = || BadMonth(s.to_string());
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u32 = m.parse().map_err(|_| bad())?;
        if !(1..=12).contains(&month) {
            return Err(bad());
        }
        Ok(Month { year, month })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let m: Month = "2025-04".parse().unwrap();
        assert_eq!(m.to_string(), "2025-04");
        assert_eq!(m.next().to_string(), "2025-05");
        assert_eq!(
            "2025-12".parse::<Month>().unwrap().next().to_string(),
            "2026-01"
        );
        assert_eq!(
            "2026-01".parse::<Month>().unwrap().previous().to_string(),
            "2025-12"
        );
        for bad in ["2025-13", "2025-4", "25-04", "April", "2025-00", ""] {
            assert!(bad.parse::<Month>().is_err(), "{bad}");
        }
    }

    #[test]
    fn ranges_are_inclusive() {
        let a: Month = "2024-11".parse().unwrap();
        let b: Month = "2025-02".parse().unwrap();
        assert_eq!(a.through(b).len(), 4);
        assert!(b.through(a).is_empty());
    }
}
