#include "veil/dp/bounds.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "veil/crypto/testing/deterministic_random.h"
#include "veil/dp/random_bits.h"

namespace veil::dp {
namespace {

TEST(LogHistogramTest, BinsArePowersOfTwoOfBothSigns) {
  // 3 is in (2, 4]; 4 too (upper edges are inclusive); 4.5 in (4, 8].
  const int b3 = LogHistogramBin(3.0);
  EXPECT_EQ(LogHistogramBin(4.0), b3);
  EXPECT_EQ(LogHistogramBin(4.5), b3 + 1);
  EXPECT_EQ(LogHistogramLowerEdge(b3), 2.0);
  EXPECT_EQ(LogHistogramUpperEdge(b3), 4.0);
  const int bm3 = LogHistogramBin(-3.0);
  EXPECT_EQ(LogHistogramLowerEdge(bm3), -4.0);
  EXPECT_EQ(LogHistogramUpperEdge(bm3), -2.0);
  EXPECT_LT(bm3, LogHistogramBin(-1.0));  // more negative values have lower bins
  EXPECT_LT(LogHistogramBin(-1e-30), LogHistogramBin(0.0));
  EXPECT_EQ(LogHistogramLowerEdge(LogHistogramBin(0.0)), 0.0);
  EXPECT_EQ(LogHistogramBin(INFINITY), kLogHistogramBins - 1);
  EXPECT_EQ(LogHistogramBin(-INFINITY), 0);
  // Every value lies within its bin's edges.
  for (double x : {-1e9, -5.5, -1.0, -1e-7, 0.0, 1e-7, 0.75, 1.0, 1.5, 1000.0, 123456.0}) {
    const int b = LogHistogramBin(x);
    EXPECT_LE(LogHistogramLowerEdge(b), x) << x;
    EXPECT_GE(LogHistogramUpperEdge(b), x) << x;
  }
}

TEST(LogHistogramTest, ChoosesTheBinsOfTheData) {
  // 10,000 values in each bin from (8, 16] to (512, 1024]: with epsilon 0.5 and L1 = 1 the noise scale is 2
  // and the threshold about 2 ln(166 / 1e-4) = 29, so exactly those bins pass (a data bin's noisy count is
  // below the threshold with probability e^-4985, an empty bin's above it with probability < 1e-4 in total).
  std::vector<int64_t> counts(kLogHistogramBins, 0);
  for (double x : {10.0, 20.0, 40.0, 80.0, 160.0, 320.0, 640.0}) counts[LogHistogramBin(x)] += 10'000;
  crypto::testing::DeterministicRandom rng(7);
  RandomBits bits(rng);
  for (int trial = 0; trial < 20; ++trial) {
    auto b = ChooseBoundsFromLogHistogram(counts, 0.5, 1, bits);
    ASSERT_TRUE(b.ok()) << b.status();
    EXPECT_EQ(b->lo, 8.0);
    EXPECT_EQ(b->hi, 1024.0);
  }
}

TEST(LogHistogramTest, EmptyDataFallsBackToTheNoisyArgmax) {
  std::vector<int64_t> counts(kLogHistogramBins, 0);
  crypto::testing::DeterministicRandom rng(8);
  RandomBits bits(rng);
  auto b = ChooseBoundsFromLogHistogram(counts, 1.0, 1, bits);
  ASSERT_TRUE(b.ok());
  EXPECT_LT(b->lo, b->hi);
}

TEST(LogHistogramTest, RejectsBadInput) {
  crypto::testing::DeterministicRandom rng(9);
  RandomBits bits(rng);
  EXPECT_FALSE(ChooseBoundsFromLogHistogram(std::vector<int64_t>(3, 0), 1.0, 1, bits).ok());
  std::vector<int64_t> counts(kLogHistogramBins, 0);
  EXPECT_FALSE(ChooseBoundsFromLogHistogram(counts, 0.0, 1, bits).ok());
  EXPECT_FALSE(ChooseBoundsFromLogHistogram(counts, NAN, 1, bits).ok());
  EXPECT_FALSE(ChooseBoundsFromLogHistogram(counts, 1.0, 0, bits).ok());
}

}  // namespace
}  // namespace veil::dp
