#include "veil/dp/quantile_tree.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "veil/crypto/testing/deterministic_random.h"
#include "veil/dp/random_bits.h"

namespace veil::dp {
namespace {

TEST(QuantileTreeTest, ShapeAndLeaves) {
  auto s = QuantileTreeShape::Create({0, 16}, {4, 2});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->num_leaves(), 16u);
  EXPECT_EQ(s->LeafOf(-5), 0u);
  EXPECT_EQ(s->LeafOf(0.5), 0u);
  EXPECT_EQ(s->LeafOf(1.0), 1u);
  EXPECT_EQ(s->LeafOf(15.99), 15u);
  EXPECT_EQ(s->LeafOf(100), 15u);
  EXPECT_FALSE(QuantileTreeShape::Create({1, 1}, {}).ok());
  EXPECT_FALSE(QuantileTreeShape::Create({0, 1}, {1, 4}).ok());
  EXPECT_FALSE(QuantileTreeShape::Create({0, 1}, {16, 9}).ok());
  EXPECT_FALSE(QuantileTreeShape::Create({0, 1}, {256, 4}).ok());  // 2^32 leaves
}

TEST(QuantileTreeTest, TrueCountsPerNode) {
  auto s = QuantileTreeShape::Create({0, 16}, {4, 2});
  ASSERT_TRUE(s.ok());
  std::vector<uint32_t> leaves = {0, 0, 3, 5, 15};
  GroupQuantileTree t(*s, leaves, {NoiseKind::kLaplace, 1});
  EXPECT_EQ(t.TrueCount(0, 0), 5);
  EXPECT_EQ(t.TrueCount(1, 0), 3);  // leaves 0..3
  EXPECT_EQ(t.TrueCount(1, 1), 1);  // leaves 4..7
  EXPECT_EQ(t.TrueCount(1, 3), 1);
  EXPECT_EQ(t.TrueCount(2, 0), 2);
}

TEST(QuantileTreeTest, AccurateOnLargeDataAndMonotone) {
  // 100,000 values uniform on [0, 100): the q-quantile is 100 q. Node noise of scale 4 (height 4, epsilon 1)
  // moves a node's count by a few units out of thousands, so the rank error is far below 0.1% and the value
  // error below a leaf width (100 / 65536) plus 0.1 (we allow 0.3).
  auto s = QuantileTreeShape::Create({0, 100}, {});
  ASSERT_TRUE(s.ok());
  std::vector<uint32_t> leaves;
  for (int i = 0; i < 100000; ++i) leaves.push_back(s->LeafOf((i + 0.5) * 100.0 / 100000));
  std::sort(leaves.begin(), leaves.end());
  crypto::testing::DeterministicRandom rng(5);
  RandomBits bits(rng);
  GroupQuantileTree t(*s, leaves, {NoiseKind::kLaplace, 4});
  double prev = -1;
  for (double q = 0; q <= 1.0001; q += 0.05) {
    auto v = t.Quantile(std::min(q, 1.0), bits);
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_NEAR(*v, 100 * std::min(q, 1.0), 0.3) << q;
    EXPECT_GE(*v, prev);
    prev = *v;
  }
  EXPECT_FALSE(t.Quantile(1.5, bits).ok());
  EXPECT_FALSE(t.Quantile(NAN, bits).ok());
}

TEST(QuantileTreeTest, GaussianNoiseToo) {
  auto s = QuantileTreeShape::Create({-10, 10}, {8, 3});
  ASSERT_TRUE(s.ok());
  std::vector<uint32_t> leaves;
  for (int i = 0; i < 20000; ++i) leaves.push_back(s->LeafOf(-10 + 20.0 * (i + 0.5) / 20000));
  std::sort(leaves.begin(), leaves.end());
  crypto::testing::DeterministicRandom rng(6);
  RandomBits bits(rng);
  GroupQuantileTree t(*s, leaves, {NoiseKind::kGaussian, 3});
  auto median = t.Quantile(0.5, bits);
  ASSERT_TRUE(median.ok());
  EXPECT_NEAR(*median, 0.0, 0.2);
}

}  // namespace
}  // namespace veil::dp
