#include "veil/fl/graph.h"

#include <cmath>
#include <cstdint>

#include "gtest/gtest.h"

namespace veil::fl {
namespace {

TEST(GraphTest, CompleteGraph) {
  auto g = NeighbourGraph::Complete(5);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->degree(), 4u);
  EXPECT_TRUE(g->Adjacent(0, 4));
  EXPECT_FALSE(g->Adjacent(2, 2));
}

TEST(GraphTest, HararyIsRegularSymmetricAndSeeded) {
  std::array<uint8_t, 32> seed{};
  seed[0] = 7;
  auto g = NeighbourGraph::Harary(50, 8, seed);
  ASSERT_TRUE(g.ok());
  for (uint32_t u = 0; u < 50; ++u) {
    ASSERT_EQ(g->neighbours(u).size(), 8u);
    for (uint32_t v : g->neighbours(u)) {
      EXPECT_TRUE(g->Adjacent(u, v));
      EXPECT_TRUE(g->Adjacent(v, u));
    }
    uint32_t count = 0;
    for (uint32_t v = 0; v < 50; ++v) count += g->Adjacent(u, v);
    EXPECT_EQ(count, 8u);
  }
  auto same = NeighbourGraph::Harary(50, 8, seed);
  seed[0] = 8;
  auto other = NeighbourGraph::Harary(50, 8, seed);
  bool differs = false;
  for (uint32_t u = 0; u < 50; ++u) {
    EXPECT_TRUE(std::equal(g->neighbours(u).begin(), g->neighbours(u).end(), same->neighbours(u).begin()));
    differs |= !std::equal(g->neighbours(u).begin(), g->neighbours(u).end(), other->neighbours(u).begin());
  }
  EXPECT_TRUE(differs);
  EXPECT_FALSE(NeighbourGraph::Harary(50, 7, seed).ok());
  EXPECT_FALSE(NeighbourGraph::Harary(10, 10, seed).ok());
}

TEST(GraphTest, BinomialTails) {
  // P[Bin(4, 0.5) < 2] = 5/16; P[Bin(4, 0.5) >= 3] = 5/16.
  EXPECT_NEAR(std::exp2(Log2BinomialCdfBelow(4, 0.5, 2)), 5.0 / 16, 1e-12);
  EXPECT_NEAR(std::exp2(Log2BinomialTailAtLeast(4, 0.5, 3)), 5.0 / 16, 1e-12);
}

TEST(GraphTest, ChooseParametersMeetsTargets) {
  auto p = ChooseSecAggPlusParameters(500, 0.3, 1.0 / 3);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->degree % 2, 0u);
  EXPECT_GT(2 * p->threshold, p->degree);
  EXPECT_LE(p->log2_correctness_failure, -20);
  EXPECT_LE(p->log2_security_failure, -40);
  EXPECT_LT(p->degree, 499u);
}

TEST(GraphTest, SecAggPlusParametersGrowLogarithmically) {
  // Dropout 0.3, corrupt 0.05, failure 2^-20 (correctness) and 2^-40 (security); values recomputed
  // independently (exact binomial sums) when the header comment was written.
  struct Want {
    uint32_t n, k, t;
  };
  for (const Want& w : {Want{100, 66, 24}, Want{500, 72, 26}, Want{10000, 80, 28}}) {
    auto p = ChooseSecAggPlusParameters(w.n, 0.3, 0.05, 20, 40, SecAggThreatModel::kSemiHonest);
    ASSERT_TRUE(p.ok()) << w.n;
    EXPECT_EQ(p->degree, w.k) << w.n;
    EXPECT_EQ(p->threshold, w.t) << w.n;
    EXPECT_LE(p->log2_correctness_failure, -20);
    EXPECT_LE(p->log2_security_failure, -40);
    // One degree less fails a target for every threshold.
    for (uint32_t t = 1; t <= w.k - 2; ++t) {
      const double lg = std::log2(static_cast<double>(w.n));
      EXPECT_TRUE(lg + Log2BinomialCdfBelow(w.k - 2, 0.7, t) > -20 ||
                  lg + Log2BinomialTailAtLeast(w.k - 2, 0.05, t) > -40)
          << w.n << " " << t;
    }
  }
  auto active = ChooseSecAggPlusParameters(500, 0.3, 0.05, 20, 40, SecAggThreatModel::kActive);
  ASSERT_TRUE(active.ok());
  EXPECT_EQ(active->degree, 204u);
  EXPECT_EQ(active->threshold, 103u);
  EXPECT_EQ(ChooseSecAggPlusParameters(100, 0.3, 0.05, 20, 40, SecAggThreatModel::kActive).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace veil::fl
