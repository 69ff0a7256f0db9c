-- data_quality: every data-quality flag of SPEC section 4, counted in pathways per board and
-- month (6.4). The month is the referral month, or for orphan_event the month of the orphan's
-- earliest assessment or intervention.
-- Output: provider_lhb, period, flag, pathways.
SELECT provider_lhb, period, flag, COUNT(*) AS pathways
FROM (
  SELECT provider_lhb, referral_period AS period, 'duplicate_referral' AS flag
  FROM pathways WHERE flag_duplicate_referral
  UNION ALL
  SELECT provider_lhb, referral_period, 'assessment_before_referral'
  FROM pathways WHERE flag_assessment_before_referral
  UNION ALL
  SELECT provider_lhb, referral_period, 'intervention_before_assessment'
  FROM pathways WHERE flag_intervention_before_assessment
  UNION ALL
  SELECT provider_lhb, referral_period, 'intervention_without_assessment'
  FROM pathways WHERE flag_intervention_without_assessment
  UNION ALL
  SELECT provider_lhb, lpmhss_period(orphan_first_date), 'orphan_event'
  FROM pathways WHERE flag_orphan_event
) flagged
GROUP BY provider_lhb, period, flag
ORDER BY period, provider_lhb, flag
