//! A bucket worker's stage table: its rows are read when a plan runs, not when it is made, so
//! one physical plan of a stage serves every bucket (`stage_plans.rs`).
//!
//! Why: DataFusion's `MemTable` copies the list of its batches into the scan when the physical
//! plan is made, so every bucket had to plan each stage again. Making the 13 physical plans
//! of a bucket (and running the physical optimiser over them) cost about 6 % of the CPU of a
//! full derivation of ten years of Wales.
//!
//! Invariants:
//! - A scan reads the rows the table holds when the plan is *executed*; a kept plan is run
//!   only through `reset_plan_states`, which gives each run fresh operator state.
//! - Its statistics are inexact (the row count when it was planned): an optimiser rule that
//!   trusted exact counts could fold a count of the first bucket into the plan.
//! - It supports no filter or limit pushdown: the filters stay in the plan above it.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::project_schema;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::TableType;
use datafusion::error::Result;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::common::compute_record_batch_statistics;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::memory::MemoryStream;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
    ReplaceChildrenOptions, SendableRecordBatchStream, Statistics,
};
use std::sync::{Arc, PoisonError, RwLock, RwLockWriteGuard};

/// The rows a stage table holds for the bucket at hand, shared by the table and its scans.
type SharedRows = Arc<RwLock<Vec<RecordBatch>>>;

/// A table of one partition whose rows change from bucket to bucket.
#[derive(Debug)]
pub(crate) struct BucketTable {
    schema: SchemaRef,
    rows: SharedRows,
}

impl BucketTable {
    pub(crate) fn new(schema: SchemaRef, rows: Vec<RecordBatch>) -> BucketTable {
        BucketTable {
            schema,
            rows: Arc::new(RwLock::new(rows)),
        }
    }

    /// The rows, to replace or empty. Plans read them only while they run, and a worker runs
    /// one stage at a time, so nothing waits here.
    pub(crate) fn rows(&self) -> RwLockWriteGuard<'_, Vec<RecordBatch>> {
        self.rows.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait::async_trait]
impl TableProvider for BucketTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let rows = self.rows.read().unwrap_or_else(PoisonError::into_inner);
        let statistics = compute_record_batch_statistics(
            std::slice::from_ref(&*rows),
            &self.schema,
            projection.cloned(),
        )
        .to_inexact();
        Ok(Arc::new(BucketScan::new(
            self.rows.clone(),
            project_schema(&self.schema, projection)?,
            projection.cloned(),
            Arc::new(statistics),
        )))
    }
}

/// The scan of a [`BucketTable`]: the table's rows at the time it is executed.
#[derive(Debug)]
struct BucketScan {
    rows: SharedRows,
    projection: Option<Vec<usize>>,
    schema: SchemaRef,
    /// When it was planned, inexact.
    statistics: Arc<Statistics>,
    properties: Arc<PlanProperties>,
}

impl BucketScan {
    fn new(
        rows: SharedRows,
        schema: SchemaRef,
        projection: Option<Vec<usize>>,
        statistics: Arc<Statistics>,
    ) -> BucketScan {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema.clone()),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        BucketScan {
            rows,
            projection,
            schema,
            statistics,
            properties: Arc::new(properties),
        }
    }
}

impl DisplayAs for BucketScan {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "BucketScan: projection={:?}", self.projection)
    }
}

impl ExecutionPlan for BucketScan {
    fn name(&self) -> &'static str {
        "BucketScan"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(
        &self,
        _partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let rows = self
            .rows
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        Ok(Box::pin(MemoryStream::try_new(
            rows,
            self.schema.clone(),
            self.projection.clone(),
        )?))
    }

    #[allow(deprecated)]
    fn partition_statistics(&self, _partition: Option<usize>) -> Result<Arc<Statistics>> {
        Ok(self.statistics.clone())
    }
}
