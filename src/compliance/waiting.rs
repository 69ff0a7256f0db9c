//! The waiting list on a date (SPEC 6.1) as typed rows.

use super::columns::{ints, strings};
use super::rules;
use super::{ComplianceError, Engine};
use chrono::NaiveDate;

/// One row of the waiting list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingRow {
    /// The snapshot date.
    pub on_date: NaiveDate,
    /// Board or `WALES`.
    pub provider_lhb: String,
    /// `all`, `under_18`, `18_plus`.
    pub age_group: String,
    /// `assessment` or `intervention`.
    pub stage: String,
    /// Waiting 0–28 days.
    pub within_28: u64,
    /// Waiting 29–56 days.
    pub from_29_to_56: u64,
    /// Waiting 57 days or more.
    pub over_56: u64,
    /// Everyone waiting.
    pub total: u64,
    /// Waiting 22–28 days: they breach within a week unless seen.
    pub will_breach_within_7_days: u64,
}

/// The CSV header of SPEC 6.1.
pub const WAITING_HEADER: [&str; 9] = [
    "on_date",
    "provider_lhb",
    "age_group",
    "stage",
    "waiting_within_28",
    "waiting_29_to_56",
    "waiting_over_56",
    "waiting_total",
    "will_breach_within_7_days",
];

impl Engine {
    /// The waiting list on `on`.
    pub async fn waiting_list(&self, on: NaiveDate) -> Result<Vec<WaitingRow>, ComplianceError> {
        let date = on.format("%Y-%m-%d").to_string();
        let (_, batches) = self.run(rules::WAITING_LIST, &[("on_date", &date)]).await?;
        waiting_rows(on, &batches)
    }
}

/// Typed rows of a `waiting_list` result for `on`.
pub(crate) fn waiting_rows(
    on: NaiveDate,
    batches: &[datafusion::arrow::array::RecordBatch],
) -> Result<Vec<WaitingRow>, ComplianceError> {
    let mut rows = Vec::new();
    for b in batches {
        let lhb = strings(b, "provider_lhb")?;
        let age = strings(b, "age_group")?;
        let stage = strings(b, "stage")?;
        let w = ints(b, "waiting_within_28")?;
        let m = ints(b, "waiting_29_to_56")?;
        let o = ints(b, "waiting_over_56")?;
        let t = ints(b, "waiting_total")?;
        let br = ints(b, "will_breach_within_7_days")?;
        for i in 0..b.num_rows() {
            rows.push(WaitingRow {
                on_date: on,
                provider_lhb: lhb[i].clone(),
                age_group: age[i].clone(),
                stage: stage[i].clone(),
                within_28: w[i],
                from_29_to_56: m[i],
                over_56: o[i],
                total: t[i],
                will_breach_within_7_days: br[i],
            });
        }
    }
    Ok(rows)
}
