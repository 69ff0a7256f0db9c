//! Calendar arithmetic and ASCII formatting for the simulator: dates are `i32` days since
//! 1970-01-01 and instants are `i64` Unix seconds, so the hot loop never builds chrono values.

/// Seconds in a civil day (UTC has no DST, and the SPEC needs no time-zone arithmetic).
pub(crate) const DAY: i64 = 86_400;

/// 2012-01-01, the first date the SPEC accepts (`date_before_measure` below it).
pub(crate) const MEASURE_START: i32 = 15_340;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = (y - era * 400) as u32;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe as i32 - 719_468
}

/// The `(year, month, day)` of a day number; inverse of [`days_from_civil`].
pub(crate) fn civil_from_days(z: i32) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = (z - era * 146_097) as u32;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe as i32 + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Day of the week, Monday = 0 … Sunday = 6 (1970-01-01 was a Thursday).
pub(crate) fn weekday(day: i32) -> u32 {
    (day + 3).rem_euclid(7) as u32
}

/// First day of the month with index `y * 12 + (m - 1)`, and the month's length in days.
pub(crate) fn month_span(month_index: i32) -> (i32, i32) {
    let (y, m) = (
        month_index.div_euclid(12),
        month_index.rem_euclid(12) as u32 + 1,
    );
    let first = days_from_civil(y, m, 1);
    let next = if m == 12 {
        days_from_civil(y + 1, 1, 1)
    } else {
        days_from_civil(y, m + 1, 1)
    };
    (first, next - first)
}

/// Month index (`y * 12 + m - 1`) of a day number.
pub(crate) fn month_index(day: i32) -> i32 {
    let (y, m, _) = civil_from_days(day);
    y * 12 + m as i32 - 1
}

/// The day an instant falls on (UTC).
pub(crate) fn day_of(secs: i64) -> i32 {
    secs.div_euclid(DAY) as i32
}

/// Midnight UTC starting a day.
pub(crate) fn start_of(day: i32) -> i64 {
    i64::from(day) * DAY
}

fn push2(buf: &mut Vec<u8>, n: u32) {
    buf.push(b'0' + (n / 10 % 10) as u8);
    buf.push(b'0' + (n % 10) as u8);
}

fn push4(buf: &mut Vec<u8>, n: i32) {
    // Years outside 0..=9999 cannot occur for clamped simulation dates; clamp rather than panic.
    let n = n.clamp(0, 9999) as u32;
    push2(buf, n / 100);
    push2(buf, n % 100);
}

/// Appends `n` in decimal, left-padded with zeros to at least `width` digits.
pub(crate) fn write_uint(buf: &mut Vec<u8>, n: u64, width: usize) {
    let mut digits = [0u8; 20];
    let (mut i, mut n) = (digits.len(), n);
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let len = digits.len() - i;
    buf.extend(std::iter::repeat_n(b'0', width.saturating_sub(len)));
    buf.extend_from_slice(&digits[i..]);
}

/// Appends `YYYY-MM-DD`.
pub(crate) fn write_date(buf: &mut Vec<u8>, day: i32) {
    let (y, m, d) = civil_from_days(day);
    push4(buf, y);
    buf.push(b'-');
    push2(buf, m);
    buf.push(b'-');
    push2(buf, d);
}

/// Appends an RFC 3339 UTC instant, `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn write_timestamp(buf: &mut Vec<u8>, secs: i64) {
    write_date(buf, day_of(secs));
    let sod = secs.rem_euclid(DAY) as u32;
    buf.push(b'T');
    push2(buf, sod / 3600);
    buf.push(b':');
    push2(buf, sod / 60 % 60);
    buf.push(b':');
    push2(buf, sod % 60);
    buf.push(b'Z');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_against_chrono() {
        for day in -1000..40_000 {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
            let c = chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
            assert_eq!(
                c.signed_duration_since(chrono::NaiveDate::default())
                    .num_days(),
                i64::from(day)
            );
        }
        assert_eq!(days_from_civil(2012, 1, 1), MEASURE_START);
        assert_eq!(weekday(days_from_civil(2024, 6, 3)), 0); // a Monday
    }

    #[test]
    fn formats() {
        let mut b = Vec::new();
        write_timestamp(&mut b, 1_718_000_000);
        assert_eq!(b, b"2024-06-10T06:13:20Z");
        b.clear();
        write_uint(&mut b, 123, 6);
        write_uint(&mut b, 0, 0);
        write_uint(&mut b, u64::MAX, 3);
        assert_eq!(b, b"000123018446744073709551615");
        assert_eq!(month_span(2024 * 12 + 1), (days_from_civil(2024, 2, 1), 29));
        assert_eq!(month_index(days_from_civil(2024, 12, 31)), 2024 * 12 + 11);
    }
}
