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

// Hand-computed: 10 target values 1..10, 5 bins: percentiles 0, 20, 40, 60, 80 at the sorted indexes
// ceil(q * 9) = 0, 2, 4, 6, 8 (values 1, 3, 5, 7, 9), plus the maximum 10.
TEST(MetricsTest, SdnistBinEdgesPercentilesHigherPlusTheMaximum) {
  const std::vector<double> t = {10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
  EXPECT_THAT(*SdnistBinEdges(t, 1, 10, 5), ::testing::ElementsAre(1, 3, 5, 7, 9, 10));
  const std::vector<double> edges = *SdnistBinEdges(t, 1, 10, 5);
  // [1, 3], (3, 5], (5, 7], (7, 9], (9, 10].
  EXPECT_EQ(SdnistBin(edges, 1), 0);
  EXPECT_EQ(SdnistBin(edges, 3), 0);
  EXPECT_EQ(SdnistBin(edges, 3.5), 1);
  EXPECT_EQ(SdnistBin(edges, 4), 1);
  EXPECT_EQ(SdnistBin(edges, 9), 3);
  EXPECT_EQ(SdnistBin(edges, 10), 4);
  EXPECT_EQ(SdnistBin(edges, 0), -1);
  EXPECT_EQ(SdnistBin(edges, 10.5), -1);
  // Deidentified maximum 12 above the target's: 4 percentiles (0, 25, 50, 75: indexes 0, ceil 2.25 = 3,
  // ceil 4.5 = 5, ceil 6.75 = 7: values 1, 4, 6, 8), then 10 and 12.
  EXPECT_THAT(*SdnistBinEdges(t, 2, 12, 5), ::testing::ElementsAre(1, 4, 6, 8, 10, 12));
  // Deidentified minimum 0 below the target's: the same 4 percentiles, 0 at the bottom.
  EXPECT_THAT(*SdnistBinEdges(t, 0, 10, 5), ::testing::ElementsAre(0, 1, 4, 6, 8, 10));
  // Ties: 8 zeros, 5 and 9: percentiles at indexes 0, 2, 4, 6, 8 are 0, 0, 0, 0, 5; distinct edges 0, 5, 9.
  const std::vector<double> ties = {0, 0, 0, 0, 0, 0, 0, 0, 5, 9};
  const std::vector<double> e = *SdnistBinEdges(ties, 0, 9, 5);
  EXPECT_THAT(e, ::testing::ElementsAre(0, 5, 9));
  EXPECT_EQ(SdnistBin(e, 0), 0);
  EXPECT_EQ(SdnistBin(e, 5), 0);
  EXPECT_EQ(SdnistBin(e, 6), 1);
}

TEST(MetricsTest, SdnistBinEdgesErrors) {
  const std::vector<double> none;
  const std::vector<double> constant = {4, 4};
  const std::vector<double> t = {1, 2, 3};
  EXPECT_THAT(SdnistBinEdges(none, 0, 1).status().message(), HasSubstr("no target value"));
  EXPECT_THAT(SdnistBinEdges(t, 0, 1, 2).status().message(), HasSubstr("n_bins must be >= 3"));
  EXPECT_THAT(SdnistBinEdges(t, 3, 1).status().message(), HasSubstr("min <= max"));
  EXPECT_THAT(SdnistBinEdges(constant, 4, 4).status().message(), HasSubstr("fewer than two distinct edges"));
}

TEST(MetricsTest, SdnistKMarginalScoreIsOneThousandTimesOneMinusMeanPairTvd) {
  Domain d = *Domain::Create({{"a", 2}, {"b", 2}, {"c", 2}});
  DiscreteTable real = *DiscreteTable::Create(d, {{0, 1, 0, 1}, {0, 1, 0, 1}, {0, 0, 1, 1}});
  DiscreteTable synth = *DiscreteTable::Create(d, {{0, 1, 0, 1}, {0, 0, 1, 1}, {0, 0, 1, 1}});
  // Pair TVDs 0.5, 0, 0.5 (see CompareMarginalsAveragesAndFindsTheWorst): 1000 (1 - 1/3).
  EXPECT_DOUBLE_EQ(*SdnistKMarginalScore(real, synth), 2000.0 / 3.0);
  EXPECT_DOUBLE_EQ(*SdnistKMarginalScore(real, real), 1000.0);
}

}  // namespace
}  // namespace veil::synth
