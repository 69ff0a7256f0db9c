-- effective_events: SPEC 4 rule 1, second half. Drop every event named by another event's
-- `supersedes` (a correction acts only on an event of its own type) and every non-retraction
-- named by an effective retraction's `retracts` (one not itself superseded); a chain A <- B <- C
-- leaves only C. Retraction events are control events and are not returned.
-- Only the suspect ids (suspect_ids.sql) went through the stages above; every other event is kept
-- as landed, which is what those stages would have done with it.
-- Output: the columns of deduped_events.
WITH superseded AS (
  SELECT DISTINCT target_id AS event_id
  FROM control_links
  WHERE link = 'supersedes' AND target_type = control_type AND target_id <> control_id
),
retracted AS (
  SELECT DISTINCT l.target_id AS event_id
  FROM control_links l
  WHERE l.link = 'retracts' AND l.target_type <> 'event_retracted'
    AND NOT EXISTS (SELECT 1 FROM superseded s WHERE s.event_id = l.control_id)
),
removed AS (
  SELECT event_id FROM superseded
  UNION
  SELECT event_id FROM retracted
)
SELECT d.*
FROM deduped_events d
WHERE d.event_type <> 'event_retracted'
  AND NOT EXISTS (SELECT 1 FROM removed r WHERE r.event_id = d.event_id)
UNION ALL
SELECT e.event_id, e.event_type, e.provider_lhb, e.referral_id, e.recorded_at, e.supersedes, e.retracts,
       e.referral_received_date, e.referral_source, e.patient_pseudo_id, e.age_at_referral, e.sex,
       e.ethnicity, e.preferred_language, e.wimd_quintile, e.local_authority, e.assessment_date,
       e.assessment_outcome, e.start_date, e.appointment_stage, e.appointment_date,
       e.appointment_outcome, e.closed_date
FROM scoped_events e
WHERE NOT lpmhss_in_suspect_ids(e.event_id_hash) AND e.event_type <> 'event_retracted'
