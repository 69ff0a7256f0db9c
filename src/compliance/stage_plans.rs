//! Derivation stages planned once per bucket worker and run again for every bucket it derives.
//!
//! Why: a bucketed derivation runs the same stages (`sql/derivation.stages`) over every bucket,
//! and turning a stage's SQL into an optimised plan cost as much in every bucket as in the
//! first: on ten years of Wales, 0.3 s of the workers' 5 s went to parsing and optimising the
//! same statements ten times, and once those were kept, making the physical plans again
//! another 6 % of the CPU. A stage's plan depends only on the schemas of the tables it reads,
//! which are the same in every bucket; its rows come from whatever those tables hold when it
//! runs.
//!
//! How: in a worker session every table the stages read or write is a [`BucketTable`]
//! registered once under its name, whose scan reads the rows the table holds when the plan is
//! executed. A bucket replaces its rows, not the table. A stage's physical plan is made in the
//! first bucket and kept; each bucket runs a copy of it with fresh operator state
//! (`reset_plan_states`: a hash join's build side, for one, is kept in the operator after a
//! run). The sets of `set` stages are replaced the same way (`hash_udfs::SharedHashSet`).
//!
//! Invariants:
//! - A kept plan is used only while every table it reads has the schema it was planned with:
//!   rows that come with another schema get a new table under the name, and every kept plan
//!   and view is dropped, to be planned again.
//! - Every column of these tables is nullable, so no plan relies on one bucket having no NULL.
//! - A kept plan is never executed itself, only copies of it, so it holds no bucket's rows.
//! - Worker sessions push no dynamic filters (`Engine::worker`): a join's filter pushed into
//!   the plan below it would keep the first bucket's bounds in a kept plan.
//! - Releasing a table (a stage's `drop`, the end of a bucket) empties it. The kept plans
//!   still hold it, so deregistering it would not free its rows.
//! - The membership tests only ever take columns, so the optimiser never folds one into a
//!   constant that would outlive its bucket's set.

use super::bucket_table::BucketTable;
use super::hash_udfs::{register_hash_set, HashValues, SharedHashSet};
use super::incremental::nullable_rows;
use super::rules::Rule;
use super::ComplianceError;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::physical_plan::execution_plan::reset_plan_states;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// The plans, tables and sets one worker session keeps from bucket to bucket.
#[derive(Default)]
pub(crate) struct StagePlans {
    /// The tables the stages read and write, by name.
    tables: Mutex<HashMap<String, Arc<BucketTable>>>,
    /// Each held stage's physical plan, never executed itself, by stage name.
    plans: Mutex<HashMap<&'static str, Arc<dyn ExecutionPlan>>>,
    /// The `view` stages created in the session (a view holds the tables it reads, too).
    views: Mutex<HashSet<&'static str>>,
    /// The sets of the `set` stages' membership tests, by function name.
    sets: Mutex<HashMap<String, SharedHashSet>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
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
            *table.rows() = rows;
            return Ok(());
        }
        if lock(&self.tables).contains_key(name) {
            self.forget_plans();
        }
        let table = Arc::new(BucketTable::new(schema, rows));
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
        table.rows().clear();
        Ok(true)
    }

    /// A plan of held stage `rule` (its SQL `sql`) to execute once: a fresh copy of the plan
    /// kept from an earlier bucket, or planned now and kept.
    pub(crate) async fn plan(
        &self,
        ctx: &SessionContext,
        rule: Rule,
        sql: &str,
    ) -> Result<Arc<dyn ExecutionPlan>, ComplianceError> {
        let kept = lock(&self.plans).get(rule.name).cloned();
        let kept = match kept {
            Some(plan) => plan,
            None => {
                let planned = async { ctx.sql(sql).await?.create_physical_plan().await }
                    .await
                    .map_err(|e| ComplianceError::rule(rule.name, e))?;
                lock(&self.plans).insert(rule.name, planned.clone());
                planned
            }
        };
        reset_plan_states(kept).map_err(|e| ComplianceError::rule(rule.name, e))
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
        sql: "SELECT SUM(n) AS total FROM numbers WHERE NOT lpmhss_in_skipped(lpmhss_hash64(id))",
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
        let physical = plans.plan(ctx, TOTAL, TOTAL.sql).await.unwrap();
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

    /// A join's build side stays in its operator after a run: a kept plan run again without
    /// fresh state would join the second bucket to the first bucket's rows.
    const JOINED: Rule = Rule {
        name: "joined",
        sql: "SELECT SUM(n.n * w.n) AS total FROM numbers n JOIN weights w ON w.id = n.id",
    };

    #[tokio::test]
    async fn a_kept_join_plan_joins_each_buckets_own_rows() {
        let (ctx, plans) = session();
        for (ids, values, weights, expected) in [
            (["a", "b"], [1, 2], [10, 100], 210),
            (["c", "d"], [3, 4], [1000, 10_000], 43_000),
        ] {
            let (schema, rows) = numbers(&ids, &values, false);
            plans.replace(&ctx, "numbers", schema, rows).unwrap();
            let (schema, rows) = numbers(&ids, &weights, false);
            plans.replace(&ctx, "weights", schema, rows).unwrap();
            let physical = plans.plan(&ctx, JOINED, JOINED.sql).await.unwrap();
            let batches = collect(physical, ctx.task_ctx()).await.unwrap();
            let total = batches[0]
                .column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap()
                .value(0);
            assert_eq!(total, expected, "bucket of {ids:?}");
        }
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
