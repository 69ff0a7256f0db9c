//! The DataFusion session over one data directory: landed tables registered from their
//! Parquet partitions, reference tables from `config/`, and the SPEC 4 derivation evaluated once
//! into an in-memory `pathways` table that every report reuses.

use super::hash_udfs;
use super::period_udf;
use super::rules::{self, Rule};
use super::stage_plans::StagePlans;
use super::ComplianceError;
use crate::event::reference::{self, AGE_GROUPS};
use crate::landing::{dead_letters_schema, events_schema, DataDir, Table, PARTITION_KEY};
use chrono::{DateTime, SecondsFormat, Utc};
use datafusion::arrow::array::{Int32Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::MemTable;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::physical_plan::collect;
use datafusion::prelude::{SessionConfig, SessionContext};
use std::sync::Arc;

/// DataFusion's caches of Parquet footers and of file statistics, in bytes. Their defaults
/// (50 and 20 MiB) fill up footer by footer while a computation's buckets read their files,
/// after the buckets were sized to the memory left: a 50M-event computation peaked at 883 MiB
/// with them and 782 MiB with these, in the same time (`compute.memory_mb` is 800). A footer read
/// again costs a read of a local file the kernel has cached.
const METADATA_CACHE_BYTES: usize = 8 << 20;
const FILE_STATISTICS_CACHE_BYTES: usize = 2 << 20;

/// Rows per batch in a bucket worker's session (DataFusion's default is 8,192). Ten years of
/// Wales: 2.96 s against 3.02 s at the default, 8 alternating pairs, 6 in its favour; 32,768
/// was no faster. Batches of about 4,000 rows were slower again (benches/e2e/NOTES.md).
const WORKER_BATCH_ROWS: usize = 16_384;

/// A query session over one data directory, optionally as of a snapshot time.
pub struct Engine {
    ctx: SessionContext,
    data_dir: DataDir,
    /// Where a read-only session too large for memory wrote its `pathways` table; removed
    /// when the session ends.
    scratch: std::sync::Mutex<Vec<tempfile::TempDir>>,
    /// A bucket worker's stage plans, kept from one bucket to the next (`stage_plans.rs`);
    /// `None` in every other session, which plans each statement as it comes.
    stage_plans: Option<StagePlans>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("data_dir", &self.data_dir)
            .finish()
    }
}

/// SQL true for the events that exist at the snapshot time `as_of` (all of them when `None`).
pub(crate) fn as_of_predicate(as_of: Option<DateTime<Utc>>) -> String {
    match as_of {
        None => "TRUE".to_string(),
        Some(t) => format!(
            "recorded_at <= TIMESTAMP '{}'",
            t.to_rfc3339_opts(SecondsFormat::Micros, true)
        ),
    }
}

/// The SQL functions lpmhss's own rules call, registered in every session (the main one and each
/// bucket worker's) by this one function so that no session lacks one.
fn register_functions(ctx: &SessionContext) {
    hash_udfs::register_hash(ctx);
    period_udf::register_period(ctx);
}

impl Engine {
    /// Register the tables of `data_dir` and derive `pathways` as of `as_of` (all events when
    /// `None`).
    pub async fn open(
        data_dir: &DataDir,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Engine, ComplianceError> {
        let engine = Engine::session(data_dir, false).await?;
        engine.derive_everything(as_of).await?;
        Ok(engine)
    }

    /// Register the landed and reference tables, without deriving anything. `selective` turns
    /// on Parquet filter pushdown, which pays when queries pick a few rows out of many (an
    /// incremental refresh) and costs when they read everything.
    pub(crate) async fn session(
        data_dir: &DataDir,
        selective: bool,
    ) -> Result<Engine, ComplianceError> {
        if !data_dir.root().is_dir() {
            return Err(ComplianceError::NoDataDir(data_dir.root().to_path_buf()));
        }
        let mut config = SessionConfig::new()
            .with_target_partitions(std::thread::available_parallelism().map_or(2, |n| n.get()))
            .with_information_schema(true);
        config.options_mut().execution.parquet.pushdown_filters = selective;
        // `VARCHAR` is a plain string, not a string view: derived tables then hold one string
        // type (every Parquet reader knows it; pyarrow before 16 and Spark do not know views),
        // and no stage casts a column to a view to union it with a `CAST(NULL AS VARCHAR)`.
        config.options_mut().sql_parser.map_string_types_to_utf8view = false;
        let runtime = RuntimeEnvBuilder::new()
            .with_metadata_cache_limit(METADATA_CACHE_BYTES)
            .with_file_statistics_cache_limit(FILE_STATISTICS_CACHE_BYTES)
            .build_arc()?;
        let ctx = SessionContext::new_with_config_rt(config, runtime);
        register_functions(&ctx);
        let engine = Engine {
            ctx,
            data_dir: data_dir.clone(),
            scratch: std::sync::Mutex::new(Vec::new()),
            stage_plans: None,
        };
        engine
            .register_landed(Table::Events, events_schema())
            .await?;
        engine
            .register_landed(Table::DeadLetters, dead_letters_schema())
            .await?;
        engine.register_reference()?;
        Ok(engine)
    }

    /// A bare session for one bucket worker (`bucket_workers.rs`): this session's settings and
    /// runtime (so its caches and memory are shared) with one target partition (the workers
    /// are the parallelism), the hash function, and the tables named in `shared` registered as
    /// the same providers as here. It keeps its stage plans from bucket to bucket, so it
    /// pushes no dynamic filters: a kept plan would keep the first bucket's in it.
    pub(crate) async fn worker(&self, shared: &[&str]) -> Result<Engine, ComplianceError> {
        let mut config = self
            .ctx
            .copied_config()
            .with_target_partitions(1)
            .with_batch_size(WORKER_BATCH_ROWS);
        let optimizer = &mut config.options_mut().optimizer;
        optimizer.enable_dynamic_filter_pushdown = false;
        optimizer.enable_join_dynamic_filter_pushdown = false;
        optimizer.enable_topk_dynamic_filter_pushdown = false;
        optimizer.enable_aggregate_dynamic_filter_pushdown = false;
        let ctx = SessionContext::new_with_config_rt(config, self.ctx.runtime_env());
        register_functions(&ctx);
        for name in shared {
            ctx.register_table(*name, self.ctx.table_provider(*name).await?)?;
        }
        Ok(Engine {
            ctx,
            data_dir: self.data_dir.clone(),
            scratch: std::sync::Mutex::new(Vec::new()),
            stage_plans: Some(StagePlans::default()),
        })
    }

    /// Derive every pathway from every event recorded at or before `as_of`.
    pub(crate) async fn derive_everything(
        &self,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<(), ComplianceError> {
        let predicate = as_of_predicate(as_of);
        self.create_view(rules::SCOPED_EVENTS, &[("as_of_predicate", &predicate)])
            .await?;
        self.run_derivation_stages().await
    }

    /// The stages of `sql/derivation.stages` over whatever `scoped_events` holds.
    pub(crate) async fn run_derivation_stages(&self) -> Result<(), ComplianceError> {
        self.run_derivation_stages_seeing(|_, _| Ok(())).await
    }

    /// [`Self::run_derivation_stages`], showing `seen` each held stage's rows as they are
    /// evaluated (before any later stage releases them).
    pub(crate) async fn run_derivation_stages_seeing(
        &self,
        mut seen: impl FnMut(&str, &[RecordBatch]) -> Result<(), ComplianceError>,
    ) -> Result<(), ComplianceError> {
        // Each stage is evaluated once and held in memory: the later rules refer to their
        // inputs many times, and DataFusion would otherwise re-plan and re-run them each time.
        // A `view` stage is the exception, evaluated inside each stage that reads it.
        // Intermediate stages are released as soon as nothing later needs them.
        for stage in rules::derivation() {
            if stage.as_view {
                let needed = self
                    .stage_plans
                    .as_ref()
                    .is_none_or(|plans| plans.view_needed(stage.rule.name));
                if needed {
                    let _ = self.ctx.deregister_table(stage.rule.name)?;
                    self.create_view(stage.rule, &[]).await?;
                }
            } else {
                let (_, rows) = self
                    .materialise_in_memory(stage.rule, stage.rule.name, &[])
                    .await?;
                seen(stage.rule.name, &rows)?;
                if stage.as_set {
                    let set = hash_udfs::hash_column(stage.rule.name, &rows)?;
                    let name = hash_udfs::set_test_name(stage.rule.name);
                    match &self.stage_plans {
                        Some(plans) => plans.set(&self.ctx, &name, set),
                        None => {
                            hash_udfs::register_hash_set(&self.ctx, &name, set);
                        }
                    }
                }
            }
            for table in stage.drops {
                self.release_table(table)?;
            }
        }
        Ok(())
    }

    /// Release table `name`: deregistered, or, in a worker session that keeps it for its
    /// plans, emptied (`stage_plans.rs`).
    pub(crate) fn release_table(&self, name: &str) -> Result<(), ComplianceError> {
        if let Some(plans) = &self.stage_plans {
            if plans.release(name)? {
                return Ok(());
            }
        }
        self.ctx.deregister_table(name)?;
        Ok(())
    }

    /// The stage plans a worker session keeps, if this is one.
    pub(super) fn stage_plans(&self) -> Option<&StagePlans> {
        self.stage_plans.as_ref()
    }

    /// Keep `dir` (holding a table this session reads) until the session ends.
    pub(crate) fn hold_scratch(&self, dir: tempfile::TempDir) {
        self.scratch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(dir);
    }

    /// The underlying session, for ad-hoc SQL.
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    async fn register_landed(
        &self,
        table: Table,
        schema: SchemaRef,
    ) -> Result<(), ComplianceError> {
        let name = table.dir_name();
        let dir = self.data_dir.table_dir(table);
        if !dir.is_dir() {
            let empty = MemTable::try_new(schema, vec![vec![]])?;
            self.ctx.register_table(name, Arc::new(empty))?;
            return Ok(());
        }
        let dir = dir
            .canonicalize()
            .map_err(|e| ComplianceError::Io(dir.clone(), e))?;
        let url = ListingTableUrl::parse(format!("{}/", dir.display()))?;
        let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
            .with_file_extension(".parquet")
            .with_table_partition_cols(vec![(PARTITION_KEY.to_string(), DataType::Utf8)]);
        let config = ListingTableConfig::new(url)
            .with_listing_options(options)
            .with_schema(schema);
        self.ctx
            .register_table(name, Arc::new(ListingTable::try_new(config)?))?;
        Ok(())
    }

    fn register_reference(&self) -> Result<(), ComplianceError> {
        let lhbs = reference::report_lhbs();
        self.register_rows(
            "report_lhbs",
            &[("provider_lhb", &lhbs), ("lhb_order", &[])],
            lhbs.len(),
        )?;
        self.register_rows(
            "report_age_groups",
            &[("age_group", &AGE_GROUPS), ("age_order", &[])],
            AGE_GROUPS.len(),
        )?;
        self.register_rows(
            "report_stages",
            &[
                ("stage", &["assessment", "intervention"]),
                ("stage_order", &[]),
            ],
            2,
        )?;
        // Each fine age group counts in itself and in `all`; `unknown` only in `all`.
        let rollup = MemTable::try_new(
            Arc::new(Schema::new(vec![
                Field::new("age_group", DataType::Utf8, false),
                Field::new("age_group_out", DataType::Utf8, false),
            ])),
            vec![vec![RecordBatch::try_new(
                Arc::new(Schema::new(vec![
                    Field::new("age_group", DataType::Utf8, false),
                    Field::new("age_group_out", DataType::Utf8, false),
                ])),
                vec![
                    Arc::new(StringArray::from(vec![
                        "under_18", "under_18", "18_plus", "18_plus", "unknown",
                    ])),
                    Arc::new(StringArray::from(vec![
                        "under_18", "all", "18_plus", "all", "all",
                    ])),
                ],
            )?]],
        )?;
        self.ctx
            .register_table("age_group_rollup", Arc::new(rollup))?;
        Ok(())
    }

    /// A two-column table: a name column and its 1-based order.
    fn register_rows(
        &self,
        table: &str,
        cols: &[(&str, &[&str])],
        n: usize,
    ) -> Result<(), ComplianceError> {
        let (name_col, values) = cols[0];
        let order_col = cols[1].0;
        let schema = Arc::new(Schema::new(vec![
            Field::new(name_col, DataType::Utf8, false),
            Field::new(order_col, DataType::Int32, false),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(values.to_vec())),
                Arc::new(Int32Array::from_iter_values(1..=n as i32)),
            ],
        )?;
        let _ = self.ctx.deregister_table(table)?;
        self.ctx.register_table(
            table,
            Arc::new(MemTable::try_new(schema, vec![vec![batch]])?),
        )?;
        Ok(())
    }

    /// Register the months a report covers as `report_months(period)`.
    pub(crate) fn set_report_months(&self, months: &[String]) -> Result<(), ComplianceError> {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "period",
            DataType::Utf8,
            false,
        )]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(StringArray::from(months.to_vec()))],
        )?;
        let _ = self.ctx.deregister_table("report_months")?;
        self.ctx.register_table(
            "report_months",
            Arc::new(MemTable::try_new(schema, vec![vec![batch]])?),
        )?;
        Ok(())
    }

    async fn create_view(
        &self,
        rule: Rule,
        params: &[(&str, &str)],
    ) -> Result<(), ComplianceError> {
        let df = self
            .ctx
            .sql(&rule.render(params))
            .await
            .map_err(|e| ComplianceError::rule(rule.name, e))?;
        self.ctx.register_table(rule.name, df.into_view())?;
        Ok(())
    }

    /// Evaluate `rule` and keep the result in memory as table `name`.
    pub(crate) async fn materialise_in_memory(
        &self,
        rule: Rule,
        name: &str,
        params: &[(&str, &str)],
    ) -> Result<(SchemaRef, Vec<RecordBatch>), ComplianceError> {
        let started = std::time::Instant::now();
        let (schema, batches) = self.run(rule, params).await?;
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        let bytes: usize = batches.iter().map(|b| b.get_array_memory_size()).sum();
        tracing::debug!(
            rule = rule.name,
            rows,
            bytes,
            seconds = started.elapsed().as_secs_f64(),
            "rule evaluated"
        );
        if let Some(plans) = &self.stage_plans {
            plans.replace(&self.ctx, name, schema.clone(), batches.clone())?;
            return Ok((schema, batches));
        }
        let _ = self.ctx.deregister_table(name)?;
        let table = MemTable::try_new(schema.clone(), vec![batches.clone()])?;
        self.ctx.register_table(name, Arc::new(table))?;
        Ok((schema, batches))
    }

    /// Evaluate `rule` and return its rows.
    pub(crate) async fn run(
        &self,
        rule: Rule,
        params: &[(&str, &str)],
    ) -> Result<(SchemaRef, Vec<RecordBatch>), ComplianceError> {
        if let (Some(plans), true) = (&self.stage_plans, params.is_empty()) {
            return self.run_kept(plans, rule).await;
        }
        let df = self
            .ctx
            .sql(&rule.render(params))
            .await
            .map_err(|e| ComplianceError::rule(rule.name, e))?;
        let planned: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        let batches = df
            .collect()
            .await
            .map_err(|e| ComplianceError::rule(rule.name, e))?;
        // The executed plan's schema can differ from the logical one in nullability.
        let schema = batches.first().map_or(planned, |b| b.schema());
        Ok((schema, batches))
    }

    /// Evaluate `rule` from its kept plan (planned now if this is its first bucket).
    async fn run_kept(
        &self,
        plans: &StagePlans,
        rule: Rule,
    ) -> Result<(SchemaRef, Vec<RecordBatch>), ComplianceError> {
        let physical = plans.plan(&self.ctx, rule, &rule.render(&[])).await?;
        let planned = physical.schema();
        let batches = collect(physical, self.ctx.task_ctx())
            .await
            .map_err(|e| ComplianceError::rule(rule.name, e))?;
        let schema = batches.first().map_or(planned, |b| b.schema());
        Ok((schema, batches))
    }

    /// Run user SQL and return its schema and rows.
    pub async fn query(&self, sql: &str) -> Result<(SchemaRef, Vec<RecordBatch>), ComplianceError> {
        let df = self.ctx.sql(sql).await.map_err(ComplianceError::UserSql)?;
        let planned: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        let batches = df.collect().await.map_err(ComplianceError::UserSql)?;
        let schema = batches.first().map_or(planned, |b| b.schema());
        Ok((schema, batches))
    }
}
