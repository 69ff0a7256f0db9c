//! Data-quality flags (SPEC 4, 6.4) and dead letters by reason, as typed rows.

use super::columns::{ints, strings};
use super::rules;
use super::{ComplianceError, Engine};

/// Pathways carrying one flag, per board and month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataQualityRow {
    /// Board.
    pub provider_lhb: String,
    /// `YYYY-MM`.
    pub period: String,
    /// Flag name.
    pub flag: String,
    /// Pathways flagged.
    pub pathways: u64,
}

/// Dead letters per board partition, month received and reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterSummaryRow {
    /// Board, or `unknown`.
    pub provider_lhb: String,
    /// `YYYY-MM` received.
    pub period: String,
    /// Reason code.
    pub reason: String,
    /// Messages.
    pub messages: u64,
}

/// Every data-quality flag SPEC 4 defines.
pub const FLAGS: [&str; 5] = [
    "duplicate_referral",
    "assessment_before_referral",
    "intervention_before_assessment",
    "intervention_without_assessment",
    "orphan_event",
];

impl Engine {
    /// Flag counts per board and month.
    pub async fn data_quality(&self) -> Result<Vec<DataQualityRow>, ComplianceError> {
        let (_, batches) = self.run(rules::DATA_QUALITY, &[]).await?;
        data_quality_rows(&batches)
    }

    /// Dead letters per board partition, month and reason.
    pub async fn dead_letter_summary(&self) -> Result<Vec<DeadLetterSummaryRow>, ComplianceError> {
        let (_, batches) = self.run(rules::DEAD_LETTER_SUMMARY, &[]).await?;
        let mut rows = Vec::new();
        for b in &batches {
            let (l, p, r, n) = (
                strings(b, "provider_lhb")?,
                strings(b, "period")?,
                strings(b, "reason")?,
                ints(b, "messages")?,
            );
            for i in 0..b.num_rows() {
                rows.push(DeadLetterSummaryRow {
                    provider_lhb: l[i].clone(),
                    period: p[i].clone(),
                    reason: r[i].clone(),
                    messages: n[i],
                });
            }
        }
        Ok(rows)
    }
}

/// Typed rows of a `data_quality` result.
pub(crate) fn data_quality_rows(
    batches: &[datafusion::arrow::array::RecordBatch],
) -> Result<Vec<DataQualityRow>, ComplianceError> {
    let mut rows = Vec::new();

    for b in batches {
        let (l, p, f, n) = (
            strings(b, "provider_lhb")?,
            strings(b, "period")?,
            strings(b, "flag")?,
            ints(b, "pathways")?,
        );
        for i in 0..b.num_rows() {
            rows.push(DataQualityRow {
                provider_lhb: l[i].clone(),
                period: p[i].clone(),
                flag: f[i].clone(),
                pathways: n[i],
            });
        }
    }
    Ok(rows)
}
