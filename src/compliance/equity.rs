//! Equity breakdowns (SPEC 6.3): the official counts split by one patient or referral
//! attribute. Disclosure control is applied by the output layer (`--publish`).

use super::columns::{ints, strings};
use super::report::{pct_tenths, StageCounts};
use super::rules;
use super::{ComplianceError, Engine, Month};
use std::str::FromStr;

/// An attribute to break the table down by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    /// `sex`.
    Sex,
    /// `ethnicity`.
    Ethnicity,
    /// `preferred_language`.
    PreferredLanguage,
    /// `wimd_quintile`.
    WimdQuintile,
    /// `referral_source`.
    ReferralSource,
    /// `local_authority`.
    LocalAuthority,
}

impl Dimension {
    /// Every dimension.
    pub const ALL: [Dimension; 6] = [
        Dimension::Sex,
        Dimension::Ethnicity,
        Dimension::PreferredLanguage,
        Dimension::WimdQuintile,
        Dimension::ReferralSource,
        Dimension::LocalAuthority,
    ];

    /// The column name, also the CLI spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Sex => "sex",
            Dimension::Ethnicity => "ethnicity",
            Dimension::PreferredLanguage => "preferred_language",
            Dimension::WimdQuintile => "wimd_quintile",
            Dimension::ReferralSource => "referral_source",
            Dimension::LocalAuthority => "local_authority",
        }
    }
}

impl FromStr for Dimension {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Dimension::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Dimension::ALL.iter().map(|d| d.as_str()).collect();
                format!("'{s}' is not a dimension: use one of {}", names.join(", "))
            })
    }
}

/// One row of an equity breakdown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EquityRow {
    /// `YYYY-MM`.
    pub period: String,
    /// Board or `WALES`.
    pub provider_lhb: String,
    /// `all`, `under_18`, `18_plus`.
    pub age_group: String,
    /// The dimension's name.
    pub dimension: String,
    /// The attribute value, or `not_stated`.
    pub value: String,
    /// Referrals received.
    pub referrals_received: u64,
    /// Part 1a.
    pub assessments: StageCounts,
    /// Part 1b.
    pub interventions: StageCounts,
}

impl Engine {
    /// The breakdown by `dimension` for `from..=to` (defaults: the activity range).
    pub async fn equity(
        &self,
        dimension: Dimension,
        from: Option<Month>,
        to: Option<Month>,
    ) -> Result<Vec<EquityRow>, ComplianceError> {
        let range = self.activity_range().await?;
        let (Some(first), Some(last)) = (from.or(range.map(|r| r.0)), to.or(range.map(|r| r.1)))
        else {
            return Ok(Vec::new());
        };
        let months: Vec<String> = first.through(last).iter().map(Month::to_string).collect();
        self.set_report_months(&months)?;
        let (_, batches) = self
            .run(rules::EQUITY, &[("dimension", dimension.as_str())])
            .await?;
        let mut rows = Vec::new();
        for b in &batches {
            let text = |c| strings(b, c);
            let (period, lhb, age, dim, value) = (
                text("period")?,
                text("provider_lhb")?,
                text("age_group")?,
                text("dimension")?,
                text("value")?,
            );
            let refs = ints(b, "referrals_received")?;
            let stage = |p: &str| -> Result<Vec<StageCounts>, ComplianceError> {
                let w = ints(b, &format!("{p}_within_28"))?;
                let m = ints(b, &format!("{p}_29_to_56"))?;
                let o = ints(b, &format!("{p}_over_56"))?;
                Ok((0..b.num_rows())
                    .map(|i| {
                        let total = w[i] + m[i] + o[i];
                        StageCounts {
                            within_28: w[i],
                            from_29_to_56: m[i],
                            over_56: o[i],
                            total,
                            pct_within_28_tenths: pct_tenths(w[i], total),
                        }
                    })
                    .collect())
            };
            let (a, iv) = (stage("assessments")?, stage("interventions")?);
            for i in 0..b.num_rows() {
                rows.push(EquityRow {
                    period: period[i].clone(),
                    provider_lhb: lhb[i].clone(),
                    age_group: age[i].clone(),
                    dimension: dim[i].clone(),
                    value: value[i].clone(),
                    referrals_received: refs[i],
                    assessments: a[i],
                    interventions: iv[i],
                });
            }
        }
        Ok(rows)
    }
}
