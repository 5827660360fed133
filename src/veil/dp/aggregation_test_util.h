// TEST-ONLY helpers shared by aggregation_test.cc and engine_review_test.cc.
#ifndef VEIL_DP_AGGREGATION_TEST_UTIL_H_
#define VEIL_DP_AGGREGATION_TEST_UTIL_H_

#include <optional>
#include <string>
#include <utility>

#include "veil/dp/aggregation.h"

namespace veil::dp::testing {

// An aggregate of the query: Agg(AggregateFunction::kSum, "income", Bounds{0, 1e6}).
inline Aggregate Agg(AggregateFunction f, std::string column = "",
                     std::optional<Bounds> bounds = std::nullopt, double percentile = 0.5,
                     int num_quantiles = 0) {
  Aggregate a;
  a.function = f;
  a.column = std::move(column);
  a.bounds = bounds;
  a.percentile = percentile;
  a.num_quantiles = num_quantiles;
  return a;
}

}  // namespace veil::dp::testing

#endif  // VEIL_DP_AGGREGATION_TEST_UTIL_H_
