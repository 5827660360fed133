// The DP query the DP benchmarks measure (issue 4, Performance): COUNT(*) and SUM(value) clamped to
// [0, 1000] per group, epsilon 1, delta 1e-6, L0 = 4 groups and Linf = 2 rows per person and group, private
// partition selection. One definition, so that dp_groupby_bench and pg_pushdown_bench measure the same work.
#ifndef VEIL_BENCH_DP_BENCH_UTIL_H_
#define VEIL_BENCH_DP_BENCH_UTIL_H_

#include <string>

#include "veil/dp/query.h"

namespace veil::bench {

inline dp::QueryPlan CountSumGroupByPlan(const std::string& unit, const std::string& key,
                                         const std::string& value) {
  dp::QueryPlan p;
  p.privacy_unit_column = unit;
  p.group_by = {dp::GroupBy{key, {}}};
  dp::Aggregate count;
  count.function = dp::AggregateFunction::kCountStar;
  dp::Aggregate sum;
  sum.function = dp::AggregateFunction::kSum;
  sum.column = value;
  sum.bounds = dp::Bounds{0, 1000};
  p.aggregates = {count, sum};
  p.epsilon = 1;
  p.delta = 1e-6;
  p.max_groups_contributed = 4;
  p.max_rows_per_group = 2;
  return p;
}

}  // namespace veil::bench

#endif  // VEIL_BENCH_DP_BENCH_UTIL_H_
