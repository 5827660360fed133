SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(epsilon = 1, delta = 1e-5, privacy_unit_column = id, noise_kind = gaussian, confidence_level = 0.9)
  x + 1 AS x1, d, COUNT(x - 9223372036854775807) FROM t WHERE -x < 3 AND NOT NOT b GROUP BY x + 1, d
