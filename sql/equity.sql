-- equity: the official table broken down by one patient or referral attribute (SPEC 6.3).
-- {dimension} is one of sex, ethnicity, preferred_language, wimd_quintile, referral_source,
-- local_authority (checked by the caller); a missing value is reported as `not_stated`.
-- Every value seen in the data appears for every month, board (+ WALES) and age group.
-- Output: period, provider_lhb, age_group, dimension, value, then the counts of `monthly`.
WITH valued AS (
  SELECT *, COALESCE(CAST({dimension} AS VARCHAR), 'not_stated') AS dim_value FROM pathways
),
fine AS (
  SELECT referral_period AS period, provider_lhb, age_group, dim_value,
         1 AS referrals, 0 AS aw, 0 AS am, 0 AS ao, 0 AS iw, 0 AS im, 0 AS io
  FROM valued WHERE has_referral
  UNION ALL
  SELECT assessment_period, provider_lhb, age_group, dim_value, 0,
         CASE WHEN assessment_band = 'within_28' THEN 1 ELSE 0 END,
         CASE WHEN assessment_band = '29_to_56' THEN 1 ELSE 0 END,
         CASE WHEN assessment_band = 'over_56' THEN 1 ELSE 0 END, 0, 0, 0
  FROM valued WHERE assessment_date IS NOT NULL
  UNION ALL
  SELECT intervention_period, provider_lhb, age_group, dim_value, 0, 0, 0, 0,
         CASE WHEN intervention_band = 'within_28' THEN 1 ELSE 0 END,
         CASE WHEN intervention_band = '29_to_56' THEN 1 ELSE 0 END,
         CASE WHEN intervention_band = 'over_56' THEN 1 ELSE 0 END
  FROM valued WHERE intervention_date IS NOT NULL
),
by_board AS (
  SELECT period, provider_lhb, age_group, dim_value,
         SUM(referrals) AS referrals, SUM(aw) AS aw, SUM(am) AS am, SUM(ao) AS ao,
         SUM(iw) AS iw, SUM(im) AS im, SUM(io) AS io
  FROM fine GROUP BY period, provider_lhb, age_group, dim_value
),
with_wales AS (
  -- Each board's row twice: as itself and as part of WALES. One reference to by_board, not two:
  -- DataFusion evaluates a CTE once per reference, and by_board reads all of pathways.
  SELECT b.period, CASE WHEN x.as_wales THEN 'WALES' ELSE b.provider_lhb END AS provider_lhb,
         b.age_group, b.dim_value, b.referrals, b.aw, b.am, b.ao, b.iw, b.im, b.io
  FROM by_board b CROSS JOIN (VALUES (FALSE), (TRUE)) AS x(as_wales)
),
rolled AS (
  SELECT w.period, w.provider_lhb, m.age_group_out AS age_group, w.dim_value,
         SUM(w.referrals) AS referrals, SUM(w.aw) AS aw, SUM(w.am) AS am, SUM(w.ao) AS ao,
         SUM(w.iw) AS iw, SUM(w.im) AS im, SUM(w.io) AS io
  FROM with_wales w JOIN age_group_rollup m ON m.age_group = w.age_group
  GROUP BY w.period, w.provider_lhb, m.age_group_out, w.dim_value
),
dim_values AS (SELECT DISTINCT dim_value FROM valued),
grid AS (
  SELECT m.period, l.provider_lhb, l.lhb_order, g.age_group, g.age_order, v.dim_value
  FROM report_months m CROSS JOIN report_lhbs l CROSS JOIN report_age_groups g CROSS JOIN dim_values v
),
filled AS (
  SELECT g.period, g.provider_lhb, g.age_group, g.dim_value, g.lhb_order, g.age_order,
         CAST(COALESCE(r.referrals, 0) AS BIGINT) AS referrals_received,
         CAST(COALESCE(r.aw, 0) AS BIGINT) AS assessments_within_28,
         CAST(COALESCE(r.am, 0) AS BIGINT) AS assessments_29_to_56,
         CAST(COALESCE(r.ao, 0) AS BIGINT) AS assessments_over_56,
         CAST(COALESCE(r.iw, 0) AS BIGINT) AS interventions_within_28,
         CAST(COALESCE(r.im, 0) AS BIGINT) AS interventions_29_to_56,
         CAST(COALESCE(r.io, 0) AS BIGINT) AS interventions_over_56
  FROM grid g LEFT JOIN rolled r
    ON r.period = g.period AND r.provider_lhb = g.provider_lhb
   AND r.age_group = g.age_group AND r.dim_value = g.dim_value
)
SELECT period, provider_lhb, age_group, '{dimension}' AS dimension, dim_value AS value,
       referrals_received,
       assessments_within_28, assessments_29_to_56, assessments_over_56,
       assessments_within_28 + assessments_29_to_56 + assessments_over_56 AS assessments_total,
       interventions_within_28, interventions_29_to_56, interventions_over_56,
       interventions_within_28 + interventions_29_to_56 + interventions_over_56 AS interventions_total
FROM filled
ORDER BY period, lhb_order, age_order, dim_value
