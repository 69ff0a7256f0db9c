-- deduped_events: SPEC 4 rule 1, first half: one row per event_id, the first landed. Ids landed
-- once pass through an anti-join against the small repeated_event_ids set; the repeated ones take
-- the copy with the smallest landing key. Only the columns the derivation needs are kept.
-- Output: event_id, event_type, provider_lhb, referral_id, recorded_at, supersedes, retracts, referral_received_date, referral_source, patient_pseudo_id, age_at_referral, sex, ethnicity, preferred_language, wimd_quintile, local_authority, assessment_date, assessment_outcome, start_date, appointment_stage, appointment_date, appointment_outcome, closed_date
SELECT e.event_id, e.event_type, e.provider_lhb, e.referral_id, e.recorded_at, e.supersedes, e.retracts,
       e.referral_received_date, e.referral_source, e.patient_pseudo_id, e.age_at_referral, e.sex,
       e.ethnicity, e.preferred_language, e.wimd_quintile, e.local_authority, e.assessment_date,
       e.assessment_outcome, e.start_date, e.appointment_stage, e.appointment_date,
       e.appointment_outcome, e.closed_date
FROM scoped_events e
WHERE NOT EXISTS (SELECT 1 FROM repeated_event_ids r WHERE r.event_id = e.event_id)
UNION ALL
SELECT c.event_id, c.event_type, c.provider_lhb, c.referral_id, c.recorded_at, c.supersedes, c.retracts,
       c.referral_received_date, c.referral_source, c.patient_pseudo_id, c.age_at_referral, c.sex,
       c.ethnicity, c.preferred_language, c.wimd_quintile, c.local_authority, c.assessment_date,
       c.assessment_outcome, c.start_date, c.appointment_stage, c.appointment_date,
       c.appointment_outcome, c.closed_date
FROM repeated_copies c
JOIN (SELECT event_id, MIN(landing_key) AS landing_key FROM repeated_copies GROUP BY event_id) f
  ON f.event_id = c.event_id AND f.landing_key = c.landing_key
