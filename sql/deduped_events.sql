-- deduped_events: SPEC 4 rule 1, first half: one row per event_id, the first landed, for the
-- suspect events (suspect_events.sql; effective_events adds the others). One pass over them,
-- left-joined to the small set of first-landed copies of repeated ids: an id
-- landed once has no match and is kept; a repeated id keeps only the copy whose landing
-- coordinates are the first-landed ones (compared column by column, as the landing key orders
-- them). Only the columns the derivation needs are kept.
-- Output: event_id, event_type, provider_lhb, referral_id, recorded_at, supersedes, retracts, referral_received_date, referral_source, patient_pseudo_id, age_at_referral, sex, ethnicity, preferred_language, wimd_quintile, local_authority, assessment_date, assessment_outcome, start_date, appointment_stage, appointment_date, appointment_outcome, closed_date
WITH first_landed AS (
  SELECT c.event_id, c.landed_at, c.source_topic, c.source_partition, c.source_offset,
         c.source_file, c.source_line
  FROM repeated_copies c
  JOIN (SELECT event_id, MIN(landing_key) AS landing_key FROM repeated_copies GROUP BY event_id) k
    ON k.event_id = c.event_id AND k.landing_key = c.landing_key
)
SELECT e.event_id, e.event_type, e.provider_lhb, e.referral_id, e.recorded_at, e.supersedes, e.retracts,
       e.referral_received_date, e.referral_source, e.patient_pseudo_id, e.age_at_referral, e.sex,
       e.ethnicity, e.preferred_language, e.wimd_quintile, e.local_authority, e.assessment_date,
       e.assessment_outcome, e.start_date, e.appointment_stage, e.appointment_date,
       e.appointment_outcome, e.closed_date
FROM suspect_events e
LEFT JOIN first_landed f ON f.event_id = e.event_id
WHERE f.event_id IS NULL
   OR (e.landed_at = f.landed_at
       AND COALESCE(e.source_topic, '') = COALESCE(f.source_topic, '')
       AND COALESCE(e.source_partition, 0) = COALESCE(f.source_partition, 0)
       AND COALESCE(e.source_offset, 0) = COALESCE(f.source_offset, 0)
       AND COALESCE(e.source_file, '') = COALESCE(f.source_file, '')
       AND COALESCE(e.source_line, 0) = COALESCE(f.source_line, 0))
