//! Derivation stages planned once per bucket worker and run again for every bucket it derives.
//!
//! Why: a bucketed derivation runs the same stages (`sql/derivation.stages`) over every bucket,
//! and turning a stage's SQL into an optimised plan cost as much in every bucket as in the
//! first: on ten years of Wales, 0.3 s of the workers' 5 s went to parsing and optimising the
//! same statements ten times. A stage's logical plan depends only on the schemas of the tables
//! it reads, which are the same in every bucket; its rows come from whatever those tables hold
//! when its physical plan is made.
//!
//! How: in a worker session every table the stages read or write is a [`MemTable`] registered
//! once under its name. A bucket replaces its rows (the table's one partition), not the table.
//! A stage's optimised logical plan, which holds those tables, is kept after the first bucket,
//! and each later bucket only makes a physical plan from it, which reads the rows the tables
//! hold then. The sets of `set` stages are replaced the same way (`hash_udfs::SharedHashSet`).
//!
//! Invariants:
//! - A kept plan is used only while every table it reads has the schema it was planned with:
//!   rows that come with another schema get a new table under the name, and every kept plan
//!   and view is dropped, to be planned again.
//! - Every column of these tables is nullable, so no plan relies on one bucket having no NULL.
//! - Releasing a table (a stage's `drop`, the end of a bucket) empties it. The kept plans
//!   still hold it, so deregistering it would not free its rows.
//! - The membership tests only ever take columns, so the optimiser never folds one into a
//!   constant that would outlive its bucket's set.

use super::hash_udfs::{register_hash_set, HashValues, SharedHashSet};
use super::incremental::nullable_rows;
use super::rules::Rule;
use super::ComplianceError;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::datasource::MemTable;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::RwLockWriteGuard;

/// The plans, tables and sets one worker session keeps from bucket to bucket.
#[derive(Default)]
pub(crate) struct StagePlans {
    /// The tables the stages read and write, by name.
    tables: Mutex<HashMap<String, Arc<MemTable>>>,
    /// Each held stage's optimised logical plan, by stage name.
    plans: Mutex<HashMap<&'static str, LogicalPlan>>,
    /// The `view` stages created in the session (a view holds the tables it reads, too).
    views: Mutex<HashSet<&'static str>>,
    /// The sets of the `set` stages' membership tests, by function name.
    sets: Mutex<HashMap<String, SharedHashSet>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The rows `table` (named `name`) holds, to change. Nothing else holds them at that moment: a
/// scan takes them only while it is being planned.
fn held_rows<'a>(
    table: &'a MemTable,
    name: &str,
) -> Result<RwLockWriteGuard<'a, Vec<RecordBatch>>, ComplianceError> {
    Ok(table.batches[0].try_write().map_err(|_| {
        DataFusionError::Internal(format!("table {name} is being read while it changes"))
    })?)
}

impl StagePlans {
    /// Give table `name` these rows: in the table already registered under the name when its
    /// schema is the same (nullability aside), else in a new one, which makes every kept plan
    /// stale.
    pub(crate) fn replace(
        &self,
        ctx: &SessionContext,
        name: &str,
        schema: SchemaRef,
        rows: Vec<RecordBatch>,
    ) -> Result<(), ComplianceError> {
        let (schema, rows) = nullable_rows(&schema, rows)?;
        let existing = lock(&self.tables).get(name).cloned();
        if let Some(table) = existing.filter(|t| t.schema() == schema) {
            *held_rows(&table, name)? = rows;
            return Ok(());
        }
        if lock(&self.tables).contains_key(name) {
            self.forget_plans();
        }
        let table = Arc::new(MemTable::try_new(schema, vec![rows])?);
        let _ = ctx.deregister_table(name)?;
        ctx.register_table(name, table.clone())?;
        lock(&self.tables).insert(name.to_string(), table);
        Ok(())
    }

    /// Empty table `name`, releasing its rows. False when no such table was made here.
    pub(crate) fn release(&self, name: &str) -> Result<bool, ComplianceError> {
        let Some(table) = lock(&self.tables).get(name).cloned() else {
            return Ok(false);
        };
        held_rows(&table, name)?.clear();
        Ok(true)
    }

    /// The optimised logical plan of held stage `rule` (its SQL `sql`): kept from an earlier
    /// bucket, or planned now and kept.
    pub(crate) async fn plan(
        &self,
        ctx: &SessionContext,
        rule: Rule,
        sql: &str,
    ) -> Result<LogicalPlan, ComplianceError> {
        if let Some(plan) = lock(&self.plans).get(rule.name) {
            return Ok(plan.clone());
        }
        let planned = async {
            let df = ctx.sql(sql).await?;
            ctx.state().optimize(df.logical_plan())
        }
        .await
        .map_err(|e| ComplianceError::rule(rule.name, e))?;
        lock(&self.plans).insert(rule.name, planned.clone());
        Ok(planned)
    }

    /// True the first time view stage `name` is asked for since the plans were last dropped:
    /// the caller creates it then.
    pub(crate) fn view_needed(&self, name: &'static str) -> bool {
        lock(&self.views).insert(name)
    }

    /// Make `hashes` the set that membership test `name` reads, registering the test the first
    /// time.
    pub(crate) fn set(&self, ctx: &SessionContext, name: &str, hashes: HashValues) {
        let mut sets = lock(&self.sets);
        match sets.get(name) {
            Some(shared) => {
                *shared.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(hashes);
            }
            None => {
                sets.insert(name.to_string(), register_hash_set(ctx, name, hashes));
            }
        }
    }

    /// Drop every kept plan and view: a table they read was made again.
    fn forget_plans(&self) {
        lock(&self.plans).clear();
        lock(&self.views).clear();
    }

    /// How many stage plans are kept (for tests).
    #[cfg(test)]
    pub(crate) fn kept(&self) -> usize {
        lock(&self.plans).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::hash_udfs::{hash64, register_hash};
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::physical_plan::collect;

    const TOTAL: Rule = Rule {
        name: "total",
        sql: "SELECT SUM(n) AS total FROM numbers WHERE NOT lpmhss_in_skipped(id)",
    };

    fn numbers(
        ids: &[&str],
        values: &[i64],
        with_extra_column: bool,
    ) -> (SchemaRef, Vec<RecordBatch>) {
        let mut fields = vec![
            Field::new("id", DataType::Utf8, false),
            Field::new("n", DataType::Int64, false),
        ];
        let mut columns: Vec<datafusion::arrow::array::ArrayRef> = vec![
            Arc::new(StringArray::from(ids.to_vec())),
            Arc::new(Int64Array::from(values.to_vec())),
        ];
        if with_extra_column {
            fields.push(Field::new("extra", DataType::Int64, false));
            columns.push(Arc::new(Int64Array::from(values.to_vec())));
        }
        let schema = Arc::new(Schema::new(fields));
        let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
        (schema, vec![batch])
    }

    async fn total(ctx: &SessionContext, plans: &StagePlans) -> i64 {
        let logical = plans.plan(ctx, TOTAL, TOTAL.sql).await.unwrap();
        let state = ctx.state();
        let physical = state
            .query_planner()
            .create_physical_plan(&logical, &state)
            .await
            .unwrap();
        let batches = collect(physical, ctx.task_ctx()).await.unwrap();
        batches[0]
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap()
            .value(0)
    }

    fn skipped(ids: &[&str]) -> HashValues {
        ids.iter().map(|id| hash64(id)).collect()
    }

    /// A session with the hash function, and plans whose membership test skips nothing yet.
    fn session() -> (SessionContext, StagePlans) {
        let ctx = SessionContext::new();
        register_hash(&ctx);
        let plans = StagePlans::default();
        plans.set(&ctx, "lpmhss_in_skipped", skipped(&[]));
        (ctx, plans)
    }

    #[tokio::test]
    async fn a_kept_plan_reads_each_buckets_rows_and_set() {
        let (ctx, plans) = session();
        let (schema, rows) = numbers(&["a", "b", "c"], &[1, 10, 100], false);
        plans.replace(&ctx, "numbers", schema, rows).unwrap();
        plans.set(&ctx, "lpmhss_in_skipped", skipped(&["b"]));
        assert_eq!(total(&ctx, &plans).await, 101);
        assert_eq!(plans.kept(), 1);

        // The next bucket: other rows, another set, the same plan.
        let (schema, rows) = numbers(&["d", "e"], &[1000, 10_000], false);
        plans.replace(&ctx, "numbers", schema, rows).unwrap();
        plans.set(&ctx, "lpmhss_in_skipped", skipped(&["e"]));
        assert_eq!(total(&ctx, &plans).await, 1000);
        assert_eq!(plans.kept(), 1);
    }

    #[tokio::test]
    async fn rows_of_another_schema_drop_the_kept_plans() {
        let (ctx, plans) = session();
        let (schema, rows) = numbers(&["a"], &[1], false);
        plans.replace(&ctx, "numbers", schema, rows).unwrap();
        assert_eq!(total(&ctx, &plans).await, 1);
        assert!(plans.view_needed("a_view"));
        assert!(!plans.view_needed("a_view"), "a view is created once");

        let (schema, rows) = numbers(&["a", "b"], &[1, 2], true);
        plans.replace(&ctx, "numbers", schema, rows).unwrap();
        assert_eq!(plans.kept(), 0, "planned against the old table");
        assert!(plans.view_needed("a_view"), "the view read the old table");
        assert_eq!(total(&ctx, &plans).await, 3);
    }

    #[tokio::test]
    async fn a_released_table_is_emptied_and_stays_registered() {
        let (ctx, plans) = session();
        let (schema, rows) = numbers(&["a"], &[5], false);
        plans.replace(&ctx, "numbers", schema, rows).unwrap();
        assert!(plans.release("numbers").unwrap());
        assert!(!plans.release("never_made").unwrap());
        let rows = ctx
            .sql("SELECT COUNT(*) FROM numbers")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let count = rows[0]
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        assert_eq!(count.value(0), 0);
    }
}
