-- repeated_copies: every landed copy of a repeated event_id, with its landing key: landed_at,
-- then the source coordinates, as one string that sorts in landing order, so the first landed
-- copy is the one with the smallest key and ties are broken deterministically.
-- Output: the columns of deduped_events, landing_key
SELECT e.event_id, e.event_type, e.provider_lhb, e.referral_id, e.recorded_at, e.supersedes, e.retracts,
       e.referral_received_date, e.referral_source, e.patient_pseudo_id, e.age_at_referral, e.sex,
       e.ethnicity, e.preferred_language, e.wimd_quintile, e.local_authority, e.assessment_date,
       e.assessment_outcome, e.start_date, e.appointment_stage, e.appointment_date,
       e.appointment_outcome, e.closed_date,
       concat(lpad(CAST(CAST(e.landed_at AS BIGINT) AS VARCHAR), 20, '0'), '|',
              COALESCE(e.source_topic, ''), '|',
              lpad(CAST(COALESCE(e.source_partition, 0) AS VARCHAR), 10, '0'), '|',
              lpad(CAST(COALESCE(e.source_offset, 0) AS VARCHAR), 20, '0'), '|',
              COALESCE(e.source_file, ''), '|',
              lpad(CAST(COALESCE(e.source_line, 0) AS VARCHAR), 20, '0')) AS landing_key
FROM scoped_events e
WHERE EXISTS (SELECT 1 FROM repeated_event_ids r WHERE r.event_id = e.event_id)
