-- pathways: one row per pathway (provider_lhb, referral_id): SPEC 4 rules 2-7 and the inputs
-- of 6.1 (closures) and 6.2 (clock restarts), from pathway_referrals (rules 2-3),
-- pathway_events, pathway_assessments (rule 4's dates and counts) and pathway_interventions
-- (rule 5's). Every join and grouping below is on the integer pathway_no. The dates and
-- flags are joined to the pathway number alone (`timings`), and the referral's own columns
-- once at the end: a join copies every column it carries, and those include long strings.
--   rule 4: counted assessment = earliest assessment_date >= referral date; earlier ones flag
--           assessment_before_referral. Its outcome is that of the latest-recorded assessment
--           on the counted date (ties: greatest event_id), taken as the maximum of a key that
--           sorts that way, as in pathway_referrals (only where the candidates disagree).
--   rule 5: counted intervention = earliest start_date >= counted assessment date; earlier ones
--           flag intervention_before_assessment; none counted without a counted assessment
--           (flag intervention_without_assessment).
--   rule 6: assessments/interventions of a pathway with no effective referral are orphans:
--           one row with has_referral = false and flag_orphan_event.
--   rule 7: waits in whole days and bands within_28 (0-28), 29_to_56, over_56.
--   6.2:    the latest patient-initiated delay (did_not_attend, cancelled_by_patient) of each
--           stage dated within [clock start, clock stop] restarts that stage's clock.
-- Output columns: see the final SELECT.
WITH contested_outcome AS (
  SELECT e.pathway_no,
         NULLIF(split_part(MAX(concat(
           lpad(CAST(CAST(e.recorded_at AS BIGINT) + 100000000000000000 AS VARCHAR), 20, '0'),
           '|', e.event_id, '|', COALESCE(e.assessment_outcome, ''))), '|', 3), '') AS assessment_outcome
  FROM pathway_events e
  JOIN pathway_assessments a
    ON a.pathway_no = e.pathway_no AND a.assessment_date = e.assessment_date
   AND a.lowest_outcome <> a.highest_outcome
  WHERE e.event_type = 'assessment_undertaken'
  GROUP BY e.pathway_no
),
closure AS (
  SELECT pathway_no, MIN(closed_date) AS closed_date
  FROM pathway_events
  WHERE event_type = 'referral_closed' AND pathway_no IS NOT NULL
  GROUP BY pathway_no
),
restarts AS (
  SELECT e.pathway_no,
         MAX(e.appointment_date) FILTER (WHERE e.appointment_stage = 'assessment'
               AND e.appointment_date >= e.referral_received_date
               AND e.appointment_date <= a.assessment_date) AS assessment_clock_restart,
         MAX(e.appointment_date) FILTER (WHERE e.appointment_stage = 'intervention'
               AND e.appointment_date >= a.assessment_date
               AND e.appointment_date <= i.intervention_date) AS intervention_clock_restart
  FROM pathway_events e
  JOIN pathway_assessments a ON a.pathway_no = e.pathway_no
  LEFT JOIN pathway_interventions i ON i.pathway_no = e.pathway_no
  WHERE e.event_type = 'appointment_outcome'
  GROUP BY e.pathway_no
),
orphan AS (
  SELECT provider_lhb, referral_id,
         MIN(COALESCE(assessment_date, start_date)) AS orphan_first_date
  FROM pathway_events
  WHERE pathway_no IS NULL
    AND event_type IN ('assessment_undertaken', 'intervention_started')
  GROUP BY provider_lhb, referral_id
),
timings AS (
  SELECT r.pathway_no,
         a.assessment_date,
         CASE WHEN a.lowest_outcome = a.highest_outcome THEN NULLIF(a.lowest_outcome, '')
              ELSE o.assessment_outcome END AS assessment_outcome,
         CAST(a.assessment_date AS INT) - CAST(r.referral_received_date AS INT) AS assessment_wait_days,
         i.intervention_date,
         CAST(i.intervention_date AS INT) - CAST(a.assessment_date AS INT) AS intervention_wait_days,
         c.closed_date,
         s.assessment_clock_restart,
         CAST(a.assessment_date AS INT)
           - CAST(COALESCE(s.assessment_clock_restart, r.referral_received_date) AS INT) AS adjusted_assessment_wait_days,
         s.intervention_clock_restart,
         CAST(i.intervention_date AS INT)
           - CAST(COALESCE(s.intervention_clock_restart, a.assessment_date) AS INT) AS adjusted_intervention_wait_days,
         r.referral_events > 1 AS flag_duplicate_referral,
         COALESCE(a.assessments_before_referral, 0) > 0 AS flag_assessment_before_referral,
         COALESCE(i.interventions_before_assessment, 0) > 0 AS flag_intervention_before_assessment,
         COALESCE(i.interventions_without_assessment, 0) > 0 AS flag_intervention_without_assessment
  FROM (SELECT pathway_no, referral_received_date, referral_events FROM pathway_referrals) r
  LEFT JOIN pathway_assessments a ON a.pathway_no = r.pathway_no
  LEFT JOIN contested_outcome o ON o.pathway_no = r.pathway_no
  LEFT JOIN pathway_interventions i ON i.pathway_no = r.pathway_no
  LEFT JOIN closure c ON c.pathway_no = r.pathway_no
  LEFT JOIN restarts s ON s.pathway_no = r.pathway_no
),
measured AS (
  SELECT r.provider_lhb, r.referral_id, r.referral_received_date,
         r.referral_source, r.patient_pseudo_id, r.age_at_referral,
         r.sex, r.ethnicity, r.preferred_language, r.wimd_quintile, r.local_authority,
         t.assessment_date, t.assessment_outcome, t.assessment_wait_days,
         t.intervention_date, t.intervention_wait_days, t.closed_date,
         t.assessment_clock_restart, t.adjusted_assessment_wait_days,
         t.intervention_clock_restart, t.adjusted_intervention_wait_days,
         t.flag_duplicate_referral, t.flag_assessment_before_referral,
         t.flag_intervention_before_assessment, t.flag_intervention_without_assessment
  FROM pathway_referrals r
  JOIN timings t ON t.pathway_no = r.pathway_no
)
SELECT provider_lhb, referral_id, TRUE AS has_referral,
       referral_received_date, lpmhss_period(referral_received_date) AS referral_period,
       age_at_referral,
       CASE WHEN age_at_referral IS NULL THEN 'unknown'
            WHEN age_at_referral < 18 THEN 'under_18'
            ELSE '18_plus' END AS age_group,
       referral_source, patient_pseudo_id, sex, ethnicity, preferred_language, wimd_quintile, local_authority,
       assessment_date, lpmhss_period(assessment_date) AS assessment_period, assessment_outcome,
       assessment_wait_days,
       CASE WHEN assessment_wait_days IS NULL THEN NULL
            WHEN assessment_wait_days <= 28 THEN 'within_28'
            WHEN assessment_wait_days <= 56 THEN '29_to_56'
            ELSE 'over_56' END AS assessment_band,
       intervention_date, lpmhss_period(intervention_date) AS intervention_period,
       intervention_wait_days,
       CASE WHEN intervention_wait_days IS NULL THEN NULL
            WHEN intervention_wait_days <= 28 THEN 'within_28'
            WHEN intervention_wait_days <= 56 THEN '29_to_56'
            ELSE 'over_56' END AS intervention_band,
       closed_date,
       assessment_clock_restart, adjusted_assessment_wait_days,
       CASE WHEN adjusted_assessment_wait_days IS NULL THEN NULL
            WHEN adjusted_assessment_wait_days <= 28 THEN 'within_28'
            WHEN adjusted_assessment_wait_days <= 56 THEN '29_to_56'
            ELSE 'over_56' END AS adjusted_assessment_band,
       intervention_clock_restart, adjusted_intervention_wait_days,
       CASE WHEN adjusted_intervention_wait_days IS NULL THEN NULL
            WHEN adjusted_intervention_wait_days <= 28 THEN 'within_28'
            WHEN adjusted_intervention_wait_days <= 56 THEN '29_to_56'
            ELSE 'over_56' END AS adjusted_intervention_band,
       flag_duplicate_referral, flag_assessment_before_referral,
       flag_intervention_before_assessment, flag_intervention_without_assessment,
       FALSE AS flag_orphan_event,
       CAST(NULL AS DATE) AS orphan_first_date
FROM measured
UNION ALL
SELECT provider_lhb, referral_id, FALSE,
       CAST(NULL AS DATE), CAST(NULL AS VARCHAR), CAST(NULL AS INT), 'unknown',
       CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR),
       CAST(NULL AS VARCHAR), CAST(NULL AS INT), CAST(NULL AS VARCHAR),
       CAST(NULL AS DATE), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS INT), CAST(NULL AS VARCHAR),
       CAST(NULL AS DATE), CAST(NULL AS VARCHAR), CAST(NULL AS INT), CAST(NULL AS VARCHAR),
       CAST(NULL AS DATE),
       CAST(NULL AS DATE), CAST(NULL AS INT), CAST(NULL AS VARCHAR),
       CAST(NULL AS DATE), CAST(NULL AS INT), CAST(NULL AS VARCHAR),
       FALSE, FALSE, FALSE, FALSE, TRUE, orphan_first_date
FROM orphan
