-- breaches: pathways waiting on {on_date} whose 28 days have run out or run out within
-- {within} days (SPEC 6.1's will-breach list, per pathway): the working list of a board team.
-- Pseudonymous ids only. Sorted by urgency: the date the 28 days run out, then board and id.
-- Output: provider_lhb, referral_id, stage, clock_start, days_waited, breach_date, days_to_breach.
WITH waiting AS (
  SELECT provider_lhb, referral_id, 'assessment' AS stage, referral_received_date AS clock_start
  FROM pathways
  WHERE has_referral
    AND referral_received_date <= DATE '{on_date}'
    AND (assessment_date IS NULL OR assessment_date > DATE '{on_date}')
    AND (closed_date IS NULL OR closed_date > DATE '{on_date}')
  UNION ALL
  SELECT provider_lhb, referral_id, 'intervention', assessment_date
  FROM pathways
  WHERE assessment_date <= DATE '{on_date}'
    AND assessment_outcome = 'intervention_needed'
    AND (intervention_date IS NULL OR intervention_date > DATE '{on_date}')
    AND (closed_date IS NULL OR closed_date > DATE '{on_date}')
),
measured AS (
  SELECT provider_lhb, referral_id, stage, clock_start,
         CAST(DATE '{on_date}' AS INT) - CAST(clock_start AS INT) AS days_waited,
         -- The wait breaches on the 29th day: the last compliant day is start + 28.
         clock_start + INTERVAL '29 days' AS breach_date
  FROM waiting
)
SELECT provider_lhb, referral_id, stage, clock_start, days_waited,
       CAST(breach_date AS DATE) AS breach_date,
       29 - days_waited AS days_to_breach
FROM measured
WHERE 29 - days_waited <= {within} AND {board_predicate}
ORDER BY breach_date, provider_lhb, referral_id, stage
