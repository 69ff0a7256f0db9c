-- deduped_events: SPEC 4 rule 1, first half: one row per event_id, the first landed (earliest
-- landed_at, ties broken by source coordinates so the choice is deterministic). Only the
-- columns the derivation needs are kept: the result is held in memory.
-- Output: event_id, event_type, provider_lhb, referral_id, recorded_at, supersedes, retracts, referral_received_date, referral_source, patient_pseudo_id, age_at_referral, sex, ethnicity, preferred_language, wimd_quintile, local_authority, assessment_date, assessment_outcome, start_date, appointment_stage, appointment_date, appointment_outcome, closed_date
WITH copies AS (
  SELECT event_id, COUNT(*) AS copies FROM scoped_events GROUP BY event_id
),
-- Almost every event_id is landed once; only the few repeated ones need ordering.
repeated AS (
  SELECT e.*,
         concat(lpad(CAST(CAST(e.landed_at AS BIGINT) AS VARCHAR), 20, '0'), '|',
                COALESCE(e.source_topic, ''), '|',
                lpad(CAST(COALESCE(e.source_partition, 0) AS VARCHAR), 10, '0'), '|',
                lpad(CAST(COALESCE(e.source_offset, 0) AS VARCHAR), 20, '0'), '|',
                COALESCE(e.source_file, ''), '|',
                lpad(CAST(COALESCE(e.source_line, 0) AS VARCHAR), 20, '0')) AS landing_key
  FROM scoped_events e
  JOIN copies c ON c.event_id = e.event_id AND c.copies > 1
),
first_landed AS (
  SELECT event_id, MIN(landing_key) AS landing_key FROM repeated GROUP BY event_id
),
deduped AS (
  SELECT e.event_id, e.event_type, e.provider_lhb, e.referral_id, e.recorded_at, e.supersedes, e.retracts, e.referral_received_date, e.referral_source, e.patient_pseudo_id, e.age_at_referral, e.sex, e.ethnicity, e.preferred_language, e.wimd_quintile, e.local_authority, e.assessment_date, e.assessment_outcome, e.start_date, e.appointment_stage, e.appointment_date, e.appointment_outcome, e.closed_date
  FROM scoped_events e JOIN copies c ON c.event_id = e.event_id AND c.copies = 1
  UNION ALL
  SELECT r.event_id, r.event_type, r.provider_lhb, r.referral_id, r.recorded_at, r.supersedes, r.retracts, r.referral_received_date, r.referral_source, r.patient_pseudo_id, r.age_at_referral, r.sex, r.ethnicity, r.preferred_language, r.wimd_quintile, r.local_authority, r.assessment_date, r.assessment_outcome, r.start_date, r.appointment_stage, r.appointment_date, r.appointment_outcome, r.closed_date
  FROM repeated r
  JOIN first_landed f ON f.event_id = r.event_id AND f.landing_key = r.landing_key
)
SELECT * FROM deduped
