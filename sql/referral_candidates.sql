-- referral_candidates: SPEC 4 rule 2's candidates, every effective referral_received event with
-- the columns a pathway takes from its referral. A stage of its own, held, because
-- pathway_referrals reads it twice (to choose each pathway's referral, then to take the chosen
-- row's columns): as a common table expression there, each read evaluated effective_events
-- over every event again.
-- Output: event_id, provider_lhb, referral_id, recorded_at, referral_received_date, referral_source, patient_pseudo_id, age_at_referral, sex, ethnicity, preferred_language, wimd_quintile, local_authority
SELECT event_id, provider_lhb, referral_id, recorded_at, referral_received_date, referral_source,
       patient_pseudo_id, age_at_referral, sex, ethnicity, preferred_language, wimd_quintile,
       local_authority
FROM effective_events
WHERE event_type = 'referral_received'
