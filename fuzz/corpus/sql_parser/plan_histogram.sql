SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(epsilon = 2, privacy_unit_column = id, public_groups = [(0, TRUE), (1, FALSE), (2, NULL)], noise_kind = laplace)
  RANGE_BUCKET(y * 2 - x, [0, 1.5, 3]) AS r, b, COUNT(*), SUM(x * x) FROM t WHERE g IN ('a', 'b', NULL) OR x NOT BETWEEN -1 AND 1 GROUP BY r, b
