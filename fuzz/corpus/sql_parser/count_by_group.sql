SELECT WITH DIFFERENTIAL_PRIVACY
  OPTIONS(epsilon = 1.0, delta = 1e-6, max_groups_contributed = 2, privacy_unit_column = patient_id)
  diagnosis, COUNT(*) AS n
FROM visits
GROUP BY diagnosis
