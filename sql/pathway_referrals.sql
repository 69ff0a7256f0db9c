-- pathway_referrals: SPEC 4 rules 2 and 3, one row per pathway (provider_lhb, referral_id) with an
-- effective referral. The referral is the effective referral_received with the latest
-- recorded_at, ties broken by the greatest event_id: the maximum of a key that sorts that way
-- (recorded_at in microseconds, offset to stay positive and zero-padded, then the event_id, which
-- is a lower-case UUID), so one aggregation and one join replace a window over every pathway.
-- referral_events > 1 flags duplicate_referral. pathway_no is a dense integer key for the
-- later stages, whose joins are then on one integer instead of two strings.
-- Output: pathway_no, provider_lhb, referral_id, referral_received_date, referral_source, patient_pseudo_id, age_at_referral, sex, ethnicity, preferred_language, wimd_quintile, local_authority, referral_events
WITH chosen AS (
  SELECT COUNT(*) AS referral_events,
         MAX(concat(lpad(CAST(CAST(recorded_at AS BIGINT) + 100000000000000000 AS VARCHAR), 20, '0'),
                    '|', event_id)) AS chosen_key
  FROM referral_candidates
  GROUP BY provider_lhb, referral_id
)
SELECT ROW_NUMBER() OVER () AS pathway_no,
       c.provider_lhb, c.referral_id, c.referral_received_date, c.referral_source,
       c.patient_pseudo_id, c.age_at_referral, c.sex, c.ethnicity, c.preferred_language,
       c.wimd_quintile, c.local_authority, k.referral_events
FROM chosen k
JOIN referral_candidates c ON c.event_id = split_part(k.chosen_key, '|', 2)
