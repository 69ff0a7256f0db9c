-- monthly: the official Part 1 table (SPEC section 5), one row per
-- (period, provider_lhb, age_group) of the grid report_months × report_lhbs × report_age_groups,
-- zeros included. WALES is the sum of the boards; `all` includes `unknown` ages.
-- Percentages are returned in tenths, rounded half-up exactly with integer arithmetic:
-- floor(1000·w/t + ½) = (2000·w + t) div (2·t); NULL when the total is 0.
-- {wait_band_prefix} is empty for the official table or `adjusted_` for SPEC 6.2.
WITH fine AS (
  SELECT referral_period AS period, provider_lhb, age_group,
         1 AS referrals, 0 AS aw, 0 AS am, 0 AS ao, 0 AS iw, 0 AS im, 0 AS io
  FROM pathways WHERE has_referral
  UNION ALL
  SELECT assessment_period, provider_lhb, age_group, 0,
         CASE WHEN {wait_band_prefix}assessment_band = 'within_28' THEN 1 ELSE 0 END,
         CASE WHEN {wait_band_prefix}assessment_band = '29_to_56' THEN 1 ELSE 0 END,
         CASE WHEN {wait_band_prefix}assessment_band = 'over_56' THEN 1 ELSE 0 END,
         0, 0, 0
  FROM pathways WHERE assessment_date IS NOT NULL
  UNION ALL
  SELECT intervention_period, provider_lhb, age_group, 0, 0, 0, 0,
         CASE WHEN {wait_band_prefix}intervention_band = 'within_28' THEN 1 ELSE 0 END,
         CASE WHEN {wait_band_prefix}intervention_band = '29_to_56' THEN 1 ELSE 0 END,
         CASE WHEN {wait_band_prefix}intervention_band = 'over_56' THEN 1 ELSE 0 END
  FROM pathways WHERE intervention_date IS NOT NULL
),
by_board AS (
  SELECT period, provider_lhb, age_group,
         SUM(referrals) AS referrals, SUM(aw) AS aw, SUM(am) AS am, SUM(ao) AS ao,
         SUM(iw) AS iw, SUM(im) AS im, SUM(io) AS io
  FROM fine
  GROUP BY period, provider_lhb, age_group
),
with_wales AS (
  -- Each board's row twice: as itself and as part of WALES. One reference to by_board, not two:
  -- DataFusion evaluates a CTE once per reference, and by_board reads all of pathways.
  SELECT b.period, CASE WHEN w.as_wales THEN 'WALES' ELSE b.provider_lhb END AS provider_lhb,
         b.age_group, b.referrals, b.aw, b.am, b.ao, b.iw, b.im, b.io
  FROM by_board b CROSS JOIN (VALUES (FALSE), (TRUE)) AS w(as_wales)
),
rolled AS (
  SELECT w.period, w.provider_lhb, m.age_group_out AS age_group,
         SUM(w.referrals) AS referrals, SUM(w.aw) AS aw, SUM(w.am) AS am, SUM(w.ao) AS ao,
         SUM(w.iw) AS iw, SUM(w.im) AS im, SUM(w.io) AS io
  FROM with_wales w
  JOIN age_group_rollup m ON m.age_group = w.age_group
  GROUP BY w.period, w.provider_lhb, m.age_group_out
),
grid AS (
  SELECT m.period, l.provider_lhb, l.lhb_order, g.age_group, g.age_order
  FROM report_months m CROSS JOIN report_lhbs l CROSS JOIN report_age_groups g
),
filled AS (
  SELECT g.period, g.provider_lhb, g.age_group, g.lhb_order, g.age_order,
         CAST(COALESCE(r.referrals, 0) AS BIGINT) AS referrals_received,
         CAST(COALESCE(r.aw, 0) AS BIGINT) AS assessments_within_28,
         CAST(COALESCE(r.am, 0) AS BIGINT) AS assessments_29_to_56,
         CAST(COALESCE(r.ao, 0) AS BIGINT) AS assessments_over_56,
         CAST(COALESCE(r.iw, 0) AS BIGINT) AS interventions_within_28,
         CAST(COALESCE(r.im, 0) AS BIGINT) AS interventions_29_to_56,
         CAST(COALESCE(r.io, 0) AS BIGINT) AS interventions_over_56
  FROM grid g
  LEFT JOIN rolled r
    ON r.period = g.period AND r.provider_lhb = g.provider_lhb AND r.age_group = g.age_group
),
totalled AS (
  SELECT *,
         assessments_within_28 + assessments_29_to_56 + assessments_over_56 AS assessments_total,
         interventions_within_28 + interventions_29_to_56 + interventions_over_56 AS interventions_total
  FROM filled
)
SELECT period, provider_lhb, age_group, referrals_received,
       assessments_within_28, assessments_29_to_56, assessments_over_56, assessments_total,
       CASE WHEN assessments_total = 0 THEN NULL
            ELSE (2000 * assessments_within_28 + assessments_total) / (2 * assessments_total)
       END AS assessments_pct_within_28_tenths,
       interventions_within_28, interventions_29_to_56, interventions_over_56, interventions_total,
       CASE WHEN interventions_total = 0 THEN NULL
            ELSE (2000 * interventions_within_28 + interventions_total) / (2 * interventions_total)
       END AS interventions_pct_within_28_tenths
FROM totalled
ORDER BY period, lhb_order, age_order
