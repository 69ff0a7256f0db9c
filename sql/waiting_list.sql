-- waiting_list: SPEC 6.1 on the date {on_date}.
-- Waiting for assessment: referral on or before D, no counted assessment on or before D, not
-- closed on or before D; wait = D − referral date. Waiting for intervention: counted assessment
-- on or before D with outcome intervention_needed, no counted intervention on or before D, not
-- closed on or before D; wait = D − assessment date. will_breach_within_7_days: waits of 22–28
-- days. Every board (+ WALES) × age group × stage is returned, zeros included.
-- Output: on_date, provider_lhb, age_group, stage, waiting_within_28, waiting_29_to_56,
-- waiting_over_56, waiting_total, will_breach_within_7_days.
WITH waits AS (
  SELECT provider_lhb, age_group, 'assessment' AS stage,
         CAST(DATE '{on_date}' AS INT) - CAST(referral_received_date AS INT) AS wait_days
  FROM pathways
  WHERE has_referral
    AND referral_received_date <= DATE '{on_date}'
    AND (assessment_date IS NULL OR assessment_date > DATE '{on_date}')
    AND (closed_date IS NULL OR closed_date > DATE '{on_date}')
  UNION ALL
  SELECT provider_lhb, age_group, 'intervention',
         CAST(DATE '{on_date}' AS INT) - CAST(assessment_date AS INT)
  FROM pathways
  WHERE assessment_date <= DATE '{on_date}'
    AND assessment_outcome = 'intervention_needed'
    AND (intervention_date IS NULL OR intervention_date > DATE '{on_date}')
    AND (closed_date IS NULL OR closed_date > DATE '{on_date}')
),
by_board AS (
  SELECT provider_lhb, age_group, stage,
         SUM(CASE WHEN wait_days <= 28 THEN 1 ELSE 0 END) AS w,
         SUM(CASE WHEN wait_days BETWEEN 29 AND 56 THEN 1 ELSE 0 END) AS m,
         SUM(CASE WHEN wait_days > 56 THEN 1 ELSE 0 END) AS o,
         SUM(CASE WHEN wait_days BETWEEN 22 AND 28 THEN 1 ELSE 0 END) AS b
  FROM waits
  GROUP BY provider_lhb, age_group, stage
),
with_wales AS (
  -- Each board's row twice: as itself and as part of WALES. One reference to by_board, not two:
  -- DataFusion evaluates a CTE once per reference, and by_board reads all of pathways.
  SELECT CASE WHEN x.as_wales THEN 'WALES' ELSE b.provider_lhb END AS provider_lhb,
         b.age_group, b.stage, b.w, b.m, b.o, b.b
  FROM by_board b CROSS JOIN (VALUES (FALSE), (TRUE)) AS x(as_wales)
),
rolled AS (
  SELECT x.provider_lhb, r.age_group_out AS age_group, x.stage,
         SUM(x.w) AS w, SUM(x.m) AS m, SUM(x.o) AS o, SUM(x.b) AS b
  FROM with_wales x
  JOIN age_group_rollup r ON r.age_group = x.age_group
  GROUP BY x.provider_lhb, r.age_group_out, x.stage
),
grid AS (
  SELECT l.provider_lhb, l.lhb_order, g.age_group, g.age_order, s.stage, s.stage_order
  FROM report_lhbs l CROSS JOIN report_age_groups g CROSS JOIN report_stages s
)
SELECT '{on_date}' AS on_date, g.provider_lhb, g.age_group, g.stage,
       CAST(COALESCE(r.w, 0) AS BIGINT) AS waiting_within_28,
       CAST(COALESCE(r.m, 0) AS BIGINT) AS waiting_29_to_56,
       CAST(COALESCE(r.o, 0) AS BIGINT) AS waiting_over_56,
       CAST(COALESCE(r.w, 0) + COALESCE(r.m, 0) + COALESCE(r.o, 0) AS BIGINT) AS waiting_total,
       CAST(COALESCE(r.b, 0) AS BIGINT) AS will_breach_within_7_days
FROM grid g
LEFT JOIN rolled r
  ON r.provider_lhb = g.provider_lhb AND r.age_group = g.age_group AND r.stage = g.stage
ORDER BY g.lhb_order, g.age_order, g.stage_order
