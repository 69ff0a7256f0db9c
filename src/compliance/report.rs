//! The official monthly table (SPEC 5) as typed rows.

use super::columns::{ints, opt_ints, strings};
use super::rules;
use super::{ComplianceError, Engine, Month};

/// Counts of one measure in one row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StageCounts {
    /// Waits of 0–28 days.
    pub within_28: u64,
    /// Waits of 29–56 days.
    pub from_29_to_56: u64,
    /// Waits of 57 days or more.
    pub over_56: u64,
    /// Sum of the bands.
    pub total: u64,
    /// 100 × within_28 / total in tenths of a percent, rounded half-up; `None` when total = 0.
    pub pct_within_28_tenths: Option<i64>,
}

impl StageCounts {
    /// The percentage as published: one decimal, empty when there is nothing to divide.
    pub fn pct_text(&self) -> String {
        format_tenths(self.pct_within_28_tenths)
    }

    /// The proportion 0–1 for metrics.
    pub fn ratio(&self) -> Option<f64> {
        (self.total > 0).then(|| self.within_28 as f64 / self.total as f64)
    }
}

/// 100 × within / total in tenths, rounded half-up exactly: (2000·w + t) div (2·t).
/// The same arithmetic as `sql/monthly.sql`, for rows computed outside it.
pub fn pct_tenths(within: u64, total: u64) -> Option<i64> {
    (total > 0).then(|| ((2000 * within + total) / (2 * total)) as i64)
}

/// `68.4` from 684; empty for `None`.
pub fn format_tenths(tenths: Option<i64>) -> String {
    tenths.map_or(String::new(), |t| format!("{}.{}", t / 10, t % 10))
}

/// One row of the official table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthlyRow {
    /// `YYYY-MM`.
    pub period: String,
    /// Board ODS code or `WALES`.
    pub provider_lhb: String,
    /// `all`, `under_18`, `18_plus`.
    pub age_group: String,
    /// Pathways whose referral date is in the period.
    pub referrals_received: u64,
    /// Part 1a.
    pub assessments: StageCounts,
    /// Part 1b.
    pub interventions: StageCounts,
}

/// Which clock: the official, unadjusted waits or SPEC 6.2's adjusted waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitKind {
    /// Official figures.
    Official,
    /// Clock restarted at patient-initiated delays.
    Adjusted,
}

/// The exact CSV header of SPEC 5.
pub const MONTHLY_HEADER: [&str; 14] = [
    "period",
    "provider_lhb",
    "age_group",
    "referrals_received",
    "assessments_within_28",
    "assessments_29_to_56",
    "assessments_over_56",
    "assessments_total",
    "assessments_pct_within_28",
    "interventions_within_28",
    "interventions_29_to_56",
    "interventions_over_56",
    "interventions_total",
    "interventions_pct_within_28",
];

impl Engine {
    /// The first and last month with any activity, if there is any.
    pub async fn activity_range(&self) -> Result<Option<(Month, Month)>, ComplianceError> {
        let (_, batches) = self.run(rules::ACTIVITY_RANGE, &[]).await?;
        let Some(batch) = batches.iter().find(|b| b.num_rows() > 0) else {
            return Ok(None);
        };
        let first = strings(batch, "first_period")?;
        let last = strings(batch, "last_period")?;
        match (first[0].parse::<Month>(), last[0].parse::<Month>()) {
            (Ok(a), Ok(b)) => Ok(Some((a, b))),
            _ => Ok(None),
        }
    }

    /// The official table for `from..=to` (defaults: the activity range).
    pub async fn monthly(
        &self,
        from: Option<Month>,
        to: Option<Month>,
        kind: WaitKind,
    ) -> Result<Vec<MonthlyRow>, ComplianceError> {
        // The range reads all of `pathways` three times: only when a bound is left to it (a
        // computation gives both, having extended the range to the current month).
        let range = match (from, to) {
            (Some(_), Some(_)) => None,
            _ => self.activity_range().await?,
        };
        let (Some(first), Some(last)) = (from.or(range.map(|r| r.0)), to.or(range.map(|r| r.1)))
        else {
            return Ok(Vec::new());
        };
        let months: Vec<String> = first.through(last).iter().map(Month::to_string).collect();
        self.set_report_months(&months)?;
        let prefix = match kind {
            WaitKind::Official => "",
            WaitKind::Adjusted => "adjusted_",
        };
        let (_, batches) = self
            .run(rules::MONTHLY, &[("wait_band_prefix", prefix)])
            .await?;
        let mut rows = Vec::new();
        for b in &batches {
            let period = strings(b, "period")?;
            let lhb = strings(b, "provider_lhb")?;
            let age = strings(b, "age_group")?;
            let refs = ints(b, "referrals_received")?;
            let stage = |p: &str| -> Result<Vec<StageCounts>, ComplianceError> {
                let w = ints(b, &format!("{p}_within_28"))?;
                let m = ints(b, &format!("{p}_29_to_56"))?;
                let o = ints(b, &format!("{p}_over_56"))?;
                let pct = opt_ints(b, &format!("{p}_pct_within_28_tenths"))?;
                Ok((0..b.num_rows())
                    .map(|i| StageCounts {
                        within_28: w[i],
                        from_29_to_56: m[i],
                        over_56: o[i],
                        total: w[i] + m[i] + o[i],
                        pct_within_28_tenths: pct[i],
                    })
                    .collect())
            };
            let a = stage("assessments")?;
            let iv = stage("interventions")?;
            for i in 0..b.num_rows() {
                rows.push(MonthlyRow {
                    period: period[i].clone(),
                    provider_lhb: lhb[i].clone(),
                    age_group: age[i].clone(),
                    referrals_received: refs[i],
                    assessments: a[i],
                    interventions: iv[i],
                });
            }
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenths_format() {
        assert_eq!(format_tenths(Some(684)), "68.4");
        assert_eq!(format_tenths(Some(1000)), "100.0");
        assert_eq!(format_tenths(Some(0)), "0.0");
        assert_eq!(format_tenths(Some(5)), "0.5");
        assert_eq!(format_tenths(None), "");
    }

    #[test]
    fn published_worked_checks() {
        // SPEC 5: 273/35/91 → 68.4; 92/1/0 → 98.9; 55/59/211 → 16.9.
        assert_eq!(format_tenths(pct_tenths(273, 399)), "68.4");
        assert_eq!(format_tenths(pct_tenths(92, 93)), "98.9");
        assert_eq!(format_tenths(pct_tenths(55, 325)), "16.9");
        // Exactly half rounds up: 1/8 = 12.5 %, 1/16 = 6.25 % → 6.3.
        assert_eq!(format_tenths(pct_tenths(1, 8)), "12.5");
        assert_eq!(format_tenths(pct_tenths(1, 16)), "6.3");
        assert_eq!(format_tenths(pct_tenths(0, 0)), "");
    }
}
