SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(epsilon = 1, privacy_unit_column = `user id`,
  public_groups = [('F', 1), ('M', 2), (NULL, 0x10)], min_privacy_units_per_group = 5)
  sex, grade, AVG(score, contribution_bounds_per_group => (0, 1)) FROM exams GROUP BY sex, grade
