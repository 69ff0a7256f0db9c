//! `lpmhss_period(date)`: the month a date falls in, as `YYYY-MM` (the periods of SPEC 5), the
//! same text as `to_char(date, '%Y-%m')`.
//!
//! Why not `to_char`: it reads its format string again for every value and formats through
//! chrono, about 80 ns a date. `pathways` formats three periods per pathway, and that was 60 % of
//! the final projection of every bucket (15 of 25 ms, ten years of Wales). This computes year and
//! month arithmetically and writes seven bytes. Years outside 0–9999 (which validation never
//! lets through) are formatted by chrono, so the text is always `to_char`'s.

use chrono::{Datelike, NaiveDate};
use datafusion::arrow::array::{Array, ArrayRef, Date32Array, StringArray, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{create_udf, ColumnarValue, Volatility};
use datafusion::prelude::SessionContext;
use std::sync::Arc;

/// The SQL name.
pub(super) const PERIOD: &str = "lpmhss_period";

/// Register [`PERIOD`] (NULL for NULL).
pub(super) fn register_period(ctx: &SessionContext) {
    let udf = create_udf(
        PERIOD,
        vec![DataType::Date32],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let dates = arrays[0]
                .as_any()
                .downcast_ref::<Date32Array>()
                .ok_or_else(|| {
                    DataFusionError::Internal(format!(
                        "{PERIOD} expects dates, got {}",
                        arrays[0].data_type()
                    ))
                })?;
            Ok(ColumnarValue::Array(Arc::new(periods(dates)?) as ArrayRef))
        }),
    );
    ctx.register_udf(udf);
}

/// The period of every date of `dates`, NULL where it is NULL.
fn periods(dates: &Date32Array) -> Result<StringArray, DataFusionError> {
    let mut out = StringBuilder::with_capacity(dates.len(), dates.len() * 7);
    for i in 0..dates.len() {
        if dates.is_null(i) {
            out.append_null();
            continue;
        }
        let days = dates.value(i);
        match year_month(days) {
            (year @ 0..=9999, month) => {
                let text = [
                    b'0' + (year / 1000) as u8,
                    b'0' + (year / 100 % 10) as u8,
                    b'0' + (year / 10 % 10) as u8,
                    b'0' + (year % 10) as u8,
                    b'-',
                    b'0' + (month / 10) as u8,
                    b'0' + (month % 10) as u8,
                ];
                // ASCII digits and a dash: always UTF-8.
                let text = std::str::from_utf8(&text)
                    .map_err(|e| DataFusionError::Internal(e.to_string()))?;
                out.append_value(text);
            }
            _ => out.append_value(chrono_period(days)?),
        }
    }
    Ok(out.finish())
}

/// Year and month (1–12) of a day count since 1970-01-01 in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn year_month(days: i32) -> (i64, u32) {
    let z = i64::from(days) + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month as u32)
}

/// `to_char`'s text for a date whose year needs more (or other) than four digits.
fn chrono_period(days: i32) -> Result<String, DataFusionError> {
    let date = NaiveDate::from_ymd_opt(1970, 1, 1)
        .and_then(|epoch| epoch.checked_add_signed(chrono::Duration::days(i64::from(days))))
        .ok_or_else(|| DataFusionError::Execution(format!("day {days} is not a date")))?;
    debug_assert!(date.year() < 0 || date.year() > 9999);
    Ok(date.format("%Y-%m").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::BooleanArray;

    #[test]
    fn year_and_month_match_chrono_over_four_centuries_and_beyond() {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        let far = [
            -1_000_000, -719_529, -719_528, 2_932_896, 2_932_897, 5_000_000,
        ];
        for days in (-200_000..200_000).chain(far) {
            let date = epoch + chrono::Duration::days(i64::from(days));
            assert_eq!(
                year_month(days),
                (i64::from(date.year()), date.month()),
                "day {days}"
            );
        }
    }

    #[tokio::test]
    async fn a_period_is_the_text_of_to_char_and_null_for_null() {
        let ctx = SessionContext::new();
        register_period(&ctx);
        let sql = "SELECT d, lpmhss_period(d) AS p, \
                   lpmhss_period(d) IS NOT DISTINCT FROM to_char(d, '%Y-%m') AS same \
                   FROM (VALUES (DATE '2025-01-31'), (DATE '1999-12-01'), (NULL), \
                   (DATE '0001-03-01'), (DATE '9999-12-31'), (DATE '2024-02-29')) AS v(d)";
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let mut periods = Vec::new();
        for batch in &batches {
            let p = batch
                .column(1)
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap();
            let same = batch
                .column(2)
                .as_any()
                .downcast_ref::<BooleanArray>()
                .unwrap();
            for i in 0..batch.num_rows() {
                assert!(same.value(i), "row {i} differs from to_char");
                periods.push(p.is_valid(i).then(|| p.value(i).to_string()));
            }
        }
        let expected = ["2025-01", "1999-12", "", "0001-03", "9999-12", "2024-02"];
        let expected: Vec<Option<String>> = expected
            .iter()
            .map(|p| (!p.is_empty()).then(|| p.to_string()))
            .collect();
        assert_eq!(periods, expected);
    }

    #[test]
    fn every_period_is_chrono_s_text_also_at_the_edges_of_four_digit_years() {
        // 0000-01-01, the day before, 9999-12-31, the day after, and ordinary days.
        let days = [-719_528, -719_529, 2_932_896, 2_932_897, -1, 0, 20_000];
        let out = periods(&Date32Array::from(days.to_vec())).unwrap();
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        for (i, day) in days.into_iter().enumerate() {
            let date = epoch + chrono::Duration::days(i64::from(day));
            assert_eq!(out.value(i), date.format("%Y-%m").to_string(), "day {day}");
        }
    }
}
