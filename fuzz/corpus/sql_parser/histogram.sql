-- a histogram with public buckets
SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(epsilon = .5, privacy_unit_column = id, public_groups = [0, 1, 2, 3])
  RANGE_BUCKET(age, [18, 30, 50]) AS bucket, COUNT(*) # count per bucket
FROM people /* all of them */ GROUP BY bucket
