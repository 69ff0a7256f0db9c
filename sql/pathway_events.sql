-- pathway_events: the effective events that shape a pathway after its referral (assessments,
-- interventions, closures, and the patient-initiated delays of SPEC 6.2), each with its
-- pathway's integer key and referral date. pathway_no is NULL when the pathway has no effective
-- referral: those assessments and interventions are orphans (SPEC 4 rule 6).
-- Output: pathway_no, provider_lhb, referral_id, event_type, event_id, recorded_at, assessment_date, assessment_outcome, start_date, appointment_stage, appointment_date, closed_date, referral_received_date
SELECT r.pathway_no, e.provider_lhb, e.referral_id, e.event_type, e.event_id, e.recorded_at,
       e.assessment_date, e.assessment_outcome, e.start_date, e.appointment_stage,
       e.appointment_date, e.closed_date, r.referral_received_date
FROM effective_events e
LEFT JOIN pathway_referrals r
  ON r.provider_lhb = e.provider_lhb AND r.referral_id = e.referral_id
WHERE e.event_type IN ('assessment_undertaken', 'intervention_started', 'referral_closed')
   OR (e.event_type = 'appointment_outcome'
       AND e.appointment_outcome IN ('did_not_attend', 'cancelled_by_patient'))
