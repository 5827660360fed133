#include "veil/synth/metrics.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace veil::synth {
namespace {

using ::testing::HasSubstr;

TEST(MetricsTest, TotalVariationKnownValues) {
  EXPECT_DOUBLE_EQ(TotalVariation(std::vector<double>{1, 0}, std::vector<double>{0, 1}), 1.0);
  EXPECT_DOUBLE_EQ(TotalVariation(std::vector<double>{1, 1}, std::vector<double>{2, 2}), 0.0);
  // (0.75, 0.25) against (0.5, 0.5): 0.5 * (0.25 + 0.25).
  EXPECT_DOUBLE_EQ(TotalVariation(std::vector<double>{3, 1}, std::vector<double>{1, 1}), 0.25);
}

TEST(MetricsTest, CompareMarginalsAveragesAndFindsTheWorst) {
  Domain d = *Domain::Create({{"a", 2}, {"b", 2}, {"c", 2}});
  DiscreteTable real = *DiscreteTable::Create(d, {{0, 1, 0, 1}, {0, 1, 0, 1}, {0, 0, 1, 1}});
  // Same 1-way marginals; b is now independent of a instead of equal to it.
  DiscreteTable synth = *DiscreteTable::Create(d, {{0, 1, 0, 1}, {0, 0, 1, 1}, {0, 0, 1, 1}});
  MarginalErrorSummary one = *CompareMarginals(real, synth, 1);
  EXPECT_EQ(one.marginals, 3);
  EXPECT_DOUBLE_EQ(one.average_tvd, 0.0);
  MarginalErrorSummary two = *CompareMarginals(real, synth, 2);
  EXPECT_EQ(two.marginals, 3);
  // (a,b): real {1/2, 0, 0, 1/2} vs {1/4 each}: TVD 0.5. (a,c): identical columns: 0. (b,c): real b = a,
  // c = (0,0,1,1): cells (0,0)(1,0)(0,1)(1,1) once each: 1/4 each; synth b = c: {1/2, 0, 0, 1/2}: 0.5.
  EXPECT_DOUBLE_EQ(two.average_tvd, 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(two.worst_tvd, 0.5);
  EXPECT_THAT(two.worst_attrs, ::testing::ElementsAre(0, 1));
  MarginalErrorSummary three = *CompareMarginals(real, real, 3);
  EXPECT_EQ(three.marginals, 1);
  EXPECT_DOUBLE_EQ(three.worst_tvd, 0.0);
}

TEST(MetricsTest, CompareMarginalsErrors) {
  Domain d = *Domain::Create({{"a", 2}, {"b", 2}});
  Domain other = *Domain::Create({{"a", 2}, {"b", 3}});
  DiscreteTable t = *DiscreteTable::Create(d, {{0, 1}, {1, 1}});
  DiscreteTable u = *DiscreteTable::Create(other, {{0, 1}, {2, 1}});
  DiscreteTable empty = *DiscreteTable::Create(d, {{}, {}});
  EXPECT_THAT(CompareMarginals(t, u, 1).status().message(), HasSubstr("different domains"));
  EXPECT_THAT(CompareMarginals(t, t, 3).status().message(), HasSubstr("k must be in [1, 2]"));
  EXPECT_THAT(CompareMarginals(t, t, 0).status().message(), HasSubstr("k must be"));
  EXPECT_THAT(CompareMarginals(t, empty, 1).status().message(), HasSubstr("no row"));
}

}  // namespace
}  // namespace veil::synth
