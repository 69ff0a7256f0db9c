//! Compliance: the only module that imports DataFusion. SPEC sections 4–6 as SQL files under
//! `sql/`, evaluated over the landed Parquet, returned as typed rows and materialised as the
//! derived tables `pathways`, `monthly`, `data_quality`, `waiting_list`.

mod breaches;
mod bucket_copies;
mod bucket_ids;
mod bucket_order;
mod bucket_parts;
mod bucket_plan;
mod bucket_size;
mod bucket_table;
mod bucket_workers;
mod bucketed;
mod columns;
mod derivation_state;
mod engine;
mod equity;
mod hash_udfs;
mod incremental;
mod materialise;
mod month;
mod period_udf;
mod quality;
mod repeated_hashes;
mod report;
pub mod rules;
mod shared_split;
mod stage_plans;
mod waiting;

pub use breaches::{BreachRow, BREACH_HEADER};
pub use derivation_state::{Derivation, DerivationMode};
pub use engine::Engine;
pub use equity::{Dimension, EquityRow};
pub use incremental::Refreshed;
pub use materialise::{materialise, open_as_of, open_current, Computation, Derived};
pub use month::{BadMonth, Month};
pub use quality::{DataQualityRow, DeadLetterSummaryRow, FLAGS};
pub use report::{format_tenths, pct_tenths, MonthlyRow, StageCounts, WaitKind, MONTHLY_HEADER};
pub use waiting::{WaitingRow, WAITING_HEADER};

use std::path::PathBuf;

/// Errors of the compliance layer.
#[derive(Debug, thiserror::Error)]
pub enum ComplianceError {
    /// The data directory does not exist.
    #[error("data directory {0} does not exist: run `lpmhss ingest --data-dir {0} FILE` or `lpmhss serve` first")]
    NoDataDir(PathBuf),
    /// A rule failed: a bug or unreadable data, never the user's input.
    #[error("rule {rule} failed: {source}")]
    Rule {
        /// The rule's name.
        rule: &'static str,
        /// Cause.
        source: datafusion::error::DataFusionError,
    },
    /// The user's SQL is wrong.
    #[error("query failed: {0}")]
    UserSql(datafusion::error::DataFusionError),
    /// Other DataFusion failure.
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
    /// Arrow failure.
    #[error(transparent)]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    /// Filesystem failure.
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    /// The commit log could not be read.
    #[error(transparent)]
    CommitLog(#[from] crate::landing::CommitLogError),
    /// Writing a derived table failed.
    #[error(transparent)]
    Landing(#[from] crate::landing::LandingError),
}

impl ComplianceError {
    fn rule(rule: &'static str, source: datafusion::error::DataFusionError) -> Self {
        ComplianceError::Rule { rule, source }
    }
}
