-- activity_range: the default report range (SPEC 5): the first and last month with any
-- referral, counted assessment or counted intervention.
-- Output: first_period, last_period (YYYY-MM; NULL when there is no activity).
SELECT MIN(period) AS first_period, MAX(period) AS last_period
FROM (
  SELECT referral_period AS period FROM pathways WHERE has_referral
  UNION ALL
  SELECT assessment_period FROM pathways WHERE assessment_period IS NOT NULL
  UNION ALL
  SELECT intervention_period FROM pathways WHERE intervention_period IS NOT NULL
) activity
