-- pathways: one row per pathway (provider_lhb, referral_id): SPEC 4 rules 2–7 and the inputs
-- of 6.1 (closures) and 6.2 (clock restarts).
--   rule 2: the referral is the effective referral_received with the latest recorded_at
--           (ties: greatest event_id); more than one flags duplicate_referral.
--   rule 3: age group fixed at referral (unknown without a date of birth).
--   rule 4: counted assessment = earliest assessment_date >= referral date; earlier ones flag
--           assessment_before_referral. Its outcome is that of the latest-recorded assessment
--           on the counted date.
--   rule 5: counted intervention = earliest start_date >= counted assessment date; earlier ones
--           flag intervention_before_assessment; none counted without a counted assessment
--           (flag intervention_without_assessment).
--   rule 6: assessments/interventions of a pathway with no effective referral are orphans:
--           one row with has_referral = false and flag_orphan_event.
--   rule 7: waits in whole days and bands within_28 (0–28), 29_to_56, over_56.
-- Output columns: see the final SELECT.
WITH referral_candidates AS (
  SELECT provider_lhb, referral_id, event_id, recorded_at, referral_received_date, referral_source,
         patient_pseudo_id, age_at_referral, sex, ethnicity, preferred_language, wimd_quintile,
         local_authority
  FROM effective_events
  WHERE event_type = 'referral_received'
),
-- Aggregates rather than window functions: pathways are many and small.
latest_referral AS (
  SELECT provider_lhb, referral_id, MAX(recorded_at) AS latest_recorded, COUNT(*) AS referral_events
  FROM referral_candidates
  GROUP BY provider_lhb, referral_id
),
chosen_referral AS (
  SELECT c.provider_lhb, c.referral_id, MAX(c.event_id) AS event_id, l.referral_events
  FROM referral_candidates c
  JOIN latest_referral l
    ON l.provider_lhb = c.provider_lhb AND l.referral_id = c.referral_id
   AND l.latest_recorded = c.recorded_at
  GROUP BY c.provider_lhb, c.referral_id, l.referral_events
),
referral AS (
  SELECT c.*, k.referral_events
  FROM referral_candidates c
  JOIN chosen_referral k
    ON k.provider_lhb = c.provider_lhb AND k.referral_id = c.referral_id AND k.event_id = c.event_id
),
assessment AS (
  SELECT e.provider_lhb, e.referral_id,
         MIN(CASE WHEN e.assessment_date >= r.referral_received_date THEN e.assessment_date END) AS assessment_date,
         SUM(CASE WHEN e.assessment_date < r.referral_received_date THEN 1 ELSE 0 END) AS assessments_before_referral
  FROM effective_events e
  JOIN referral r ON r.provider_lhb = e.provider_lhb AND r.referral_id = e.referral_id
  WHERE e.event_type = 'assessment_undertaken'
  GROUP BY e.provider_lhb, e.referral_id
),
counted_assessments AS (
  SELECT e.provider_lhb, e.referral_id, e.event_id, e.recorded_at, e.assessment_outcome
  FROM effective_events e
  JOIN assessment a
    ON a.provider_lhb = e.provider_lhb AND a.referral_id = e.referral_id
   AND a.assessment_date = e.assessment_date
  WHERE e.event_type = 'assessment_undertaken'
),
latest_counted AS (
  SELECT provider_lhb, referral_id, MAX(recorded_at) AS latest_recorded
  FROM counted_assessments GROUP BY provider_lhb, referral_id
),
chosen_assessment AS (
  SELECT c.provider_lhb, c.referral_id, MAX(c.event_id) AS event_id
  FROM counted_assessments c
  JOIN latest_counted l
    ON l.provider_lhb = c.provider_lhb AND l.referral_id = c.referral_id
   AND l.latest_recorded = c.recorded_at
  GROUP BY c.provider_lhb, c.referral_id
),
assessment_outcome AS (
  SELECT c.provider_lhb, c.referral_id, c.assessment_outcome
  FROM counted_assessments c
  JOIN chosen_assessment k
    ON k.provider_lhb = c.provider_lhb AND k.referral_id = c.referral_id AND k.event_id = c.event_id
),
intervention AS (
  SELECT e.provider_lhb, e.referral_id,
         MIN(CASE WHEN e.start_date >= a.assessment_date THEN e.start_date END) AS intervention_date,
         SUM(CASE WHEN e.start_date < a.assessment_date THEN 1 ELSE 0 END) AS interventions_before_assessment,
         SUM(CASE WHEN a.assessment_date IS NULL THEN 1 ELSE 0 END) AS interventions_without_assessment
  FROM effective_events e
  JOIN referral r ON r.provider_lhb = e.provider_lhb AND r.referral_id = e.referral_id
  LEFT JOIN assessment a ON a.provider_lhb = e.provider_lhb AND a.referral_id = e.referral_id
  WHERE e.event_type = 'intervention_started'
  GROUP BY e.provider_lhb, e.referral_id
),
closure AS (
  SELECT provider_lhb, referral_id, MIN(closed_date) AS closed_date
  FROM effective_events
  WHERE event_type = 'referral_closed'
  GROUP BY provider_lhb, referral_id
),
restarts AS (
  -- 6.2: the latest patient-initiated delay (DNA or patient cancellation) of each stage,
  -- dated within [clock start, clock stop].
  SELECT e.provider_lhb, e.referral_id,
         MAX(CASE WHEN e.appointment_stage = 'assessment'
                   AND e.appointment_date >= r.referral_received_date
                   AND e.appointment_date <= a.assessment_date
                  THEN e.appointment_date END) AS assessment_clock_restart,
         MAX(CASE WHEN e.appointment_stage = 'intervention'
                   AND e.appointment_date >= a.assessment_date
                   AND e.appointment_date <= i.intervention_date
                  THEN e.appointment_date END) AS intervention_clock_restart
  FROM effective_events e
  JOIN referral r ON r.provider_lhb = e.provider_lhb AND r.referral_id = e.referral_id
  JOIN assessment a ON a.provider_lhb = e.provider_lhb AND a.referral_id = e.referral_id
  LEFT JOIN intervention i ON i.provider_lhb = e.provider_lhb AND i.referral_id = e.referral_id
  WHERE e.event_type = 'appointment_outcome'
    AND e.appointment_outcome IN ('did_not_attend', 'cancelled_by_patient')
  GROUP BY e.provider_lhb, e.referral_id
),
orphan AS (
  SELECT e.provider_lhb, e.referral_id,
         MIN(COALESCE(e.assessment_date, e.start_date)) AS orphan_first_date
  FROM effective_events e
  LEFT JOIN referral r ON r.provider_lhb = e.provider_lhb AND r.referral_id = e.referral_id
  WHERE r.referral_id IS NULL
    AND e.event_type IN ('assessment_undertaken', 'intervention_started')
  GROUP BY e.provider_lhb, e.referral_id
),
measured AS (
  SELECT r.provider_lhb, r.referral_id, r.referral_received_date,
         r.referral_source, r.patient_pseudo_id, r.age_at_referral,
         r.sex, r.ethnicity, r.preferred_language, r.wimd_quintile, r.local_authority,
         a.assessment_date, o.assessment_outcome,
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
  FROM referral r
  LEFT JOIN assessment a ON a.provider_lhb = r.provider_lhb AND a.referral_id = r.referral_id
  LEFT JOIN assessment_outcome o ON o.provider_lhb = r.provider_lhb AND o.referral_id = r.referral_id
  LEFT JOIN intervention i ON i.provider_lhb = r.provider_lhb AND i.referral_id = r.referral_id
  LEFT JOIN closure c ON c.provider_lhb = r.provider_lhb AND c.referral_id = r.referral_id
  LEFT JOIN restarts s ON s.provider_lhb = r.provider_lhb AND s.referral_id = r.referral_id
)
SELECT provider_lhb, referral_id, TRUE AS has_referral,
       referral_received_date, to_char(referral_received_date, '%Y-%m') AS referral_period,
       age_at_referral,
       CASE WHEN age_at_referral IS NULL THEN 'unknown'
            WHEN age_at_referral < 18 THEN 'under_18'
            ELSE '18_plus' END AS age_group,
       referral_source, patient_pseudo_id, sex, ethnicity, preferred_language, wimd_quintile, local_authority,
       assessment_date, to_char(assessment_date, '%Y-%m') AS assessment_period, assessment_outcome,
       assessment_wait_days,
       CASE WHEN assessment_wait_days IS NULL THEN NULL
            WHEN assessment_wait_days <= 28 THEN 'within_28'
            WHEN assessment_wait_days <= 56 THEN '29_to_56'
            ELSE 'over_56' END AS assessment_band,
       intervention_date, to_char(intervention_date, '%Y-%m') AS intervention_period,
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
