select with differential_privacy options(epsilon=2, delta=1e-5, privacy_unit_column=id, max_rows_contributed=3)
  ward,
  count(*, contribution_bounds_per_group => (0, 5)) n,
  count(cost) as c,
  count(distinct id) as units,
  sum(cost, contribution_bounds_per_group => (0, 100)),
  avg(age, contribution_bounds_per_row => (0, 120)),
  var_pop(age, contribution_bounds_per_row => (0, 120)), variance(age), stddev(age), stddev_pop(age),
  percentile_cont(age, 0.5, contribution_bounds_per_row => (0, 120)),
  approx_quantiles(age, 4, contribution_bounds_per_row => (-1.5e2, 1.2E+2)),
from `project.dataset.visits` as v
where v.age between 18 and 65 and (sex = 'F' or sex is null) and not ward in ('a', "b\n", r'c\d')
  and admitted >= date '2020-01-31' and ts < timestamp '2021-01-01 10:00:00.25' and name not like '%x_'
  and -cost * 2 + 1 / 3 > -9223372036854775808 and flag = true and other != null
group by ward
order by n desc, 1
limit 10;
