SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(epsilon = 1, delta = 1e-6, privacy_unit_column = id, max_groups_contributed = 2)
  g, COUNT(*) AS n, SUM(x, contribution_bounds_per_row => (-10, 10)), AVG(y), VAR_POP(x), STDDEV(y),
  PERCENTILE_CONT(y, 0.5), APPROX_QUANTILES(x, 3, contribution_bounds_per_row => (0, 8)), COUNT(DISTINCT id), COUNT(d)
FROM t WHERE x > 0 AND g LIKE 'a%' OR y / 0 IS NULL AND b AND d >= '1970-01-01' AND ts < TIMESTAMP '2000-01-01'
GROUP BY g ORDER BY n DESC, 1 LIMIT 3
