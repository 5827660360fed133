#include "veil/dp/partition_selection.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "veil/crypto/testing/deterministic_random.h"
#include "veil/dp/random_bits.h"

namespace veil::dp {
namespace {

// The closed form of the paper's Theorem 1 while the first term is the minimum:
// pi(n) = delta (e^(n eps) - 1) / (e^eps - 1).
long double FirstPhase(long double eps, long double delta, int n) {
  return delta * (std::exp(n * eps) - 1) / (std::exp(eps) - 1);
}

TEST(PartitionSelectionTest, ProbabilitiesMatchThePapersFormula) {
  const double eps = 0.5, delta = 1e-5;
  auto pi = internal::OptimalKeepProbabilities(eps, delta);
  ASSERT_TRUE(pi.ok()) << pi.status();
  const long double e = std::exp(static_cast<long double>(eps));
  ASSERT_GE(pi->size(), 3u);
  EXPECT_EQ((*pi)[0], 0.0L);
  EXPECT_EQ(pi->back(), 1.0L);
  // Every step is the minimum of the two constraints (and 1), and both inequalities hold with equality
  // for one of them: the sequence is the largest feasible one.
  for (size_t n = 1; n < pi->size(); ++n) {
    const long double p = (*pi)[n], q = (*pi)[n - 1];
    const long double grow = e * q + delta, cap = 1 - (1 - q - delta) / e;
    EXPECT_NEAR(static_cast<double>(p), static_cast<double>(std::min({grow, cap, 1.0L})), 1e-15) << n;
    EXPECT_LE(p, e * q + delta + 1e-15L);
    EXPECT_LE(1 - q, e * (1 - p) + delta + 1e-15L);
  }
  // The first phase matches the closed form.
  for (int n = 1; n < 10 && FirstPhase(eps, delta, n) < 0.5; ++n) {
    EXPECT_NEAR(static_cast<double>((*pi)[n]), static_cast<double>(FirstPhase(eps, delta, n)),
                1e-12 * static_cast<double>(FirstPhase(eps, delta, n)))
        << n;
  }
  // Symmetry of the optimal rule: in the second phase 1 - pi shrinks by e^-eps per unit minus delta.
  const size_t last = pi->size() - 2;  // the last entry below 1
  EXPECT_NEAR(static_cast<double>(1 - (*pi)[last]), static_cast<double>((1 - (*pi)[last - 1] - delta) / e),
              1e-15);
}

TEST(PartitionSelectionTest, SelectorUsesAdjustedParametersAndRoundsSafely) {
  auto s = PartitionSelector::Create(1.0, 1e-6, 4);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_DOUBLE_EQ(s->per_group_epsilon(), 0.25);
  EXPECT_DOUBLE_EQ(s->per_group_delta(), 0.25e-6);
  // The selector's probabilities: 0 for no unit, ~delta/L0 for one unit (never more), 1 for many units.
  EXPECT_EQ(s->KeepProbability(0), 0.0);
  EXPECT_LE(s->KeepProbability(1), 0.25e-6);
  EXPECT_GT(s->KeepProbability(1), 0.25e-6 * (1 - 1e-3));
  EXPECT_EQ(s->KeepProbability(100000), 1.0);
  // Monotone, and the reported thresholds agree with the probabilities.
  for (int64_t n = 1; n < 200; ++n) EXPECT_LE(s->KeepProbability(n - 1), s->KeepProbability(n));
  const int64_t half = s->UnitsForProbability(0.5);
  EXPECT_GE(s->KeepProbability(half), 0.5);
  EXPECT_LT(s->KeepProbability(half - 1), 0.5);
  // Against the exact sequence for (eps/4, delta/4): the selector's values are never above it and within a
  // relative 2^-10 + 2^-60 absolute below it (the margin documented in the header).
  auto pi = internal::OptimalKeepProbabilities(0.25, 0.25e-6);
  ASSERT_TRUE(pi.ok());
  for (size_t n = 1; n < pi->size(); ++n) {
    const double p = s->KeepProbability(static_cast<int64_t>(n));
    EXPECT_LE(p, static_cast<double>((*pi)[n]) + 1e-15) << n;
    EXPECT_GE(p, static_cast<double>((*pi)[n]) * (1 - 2e-3) - 1e-15) << n;
  }
}

TEST(PartitionSelectionTest, PreThresholdShiftsTheSequence) {
  auto plain = PartitionSelector::Create(1.0, 1e-5, 1, 1);
  auto shifted = PartitionSelector::Create(1.0, 1e-5, 1, 10);
  ASSERT_TRUE(plain.ok() && shifted.ok());
  for (int64_t n = 0; n < 10; ++n) EXPECT_EQ(shifted->KeepProbability(n), 0.0) << n;
  for (int64_t n = 10; n < 60; ++n)
    EXPECT_EQ(shifted->KeepProbability(n), plain->KeepProbability(n - 9)) << n;
}

TEST(PartitionSelectionTest, DrawsFollowTheProbabilities) {
  auto s = PartitionSelector::Create(1.0, 1e-3, 1);
  ASSERT_TRUE(s.ok());
  crypto::testing::DeterministicRandom rng(11);
  RandomBits bits(rng);
  // A group whose keep probability is p: over N = 20,000 draws the count of keeps has stddev
  // sqrt(N p (1 - p)); accept within 5 stddevs.
  for (int64_t units : {3, 6, 8}) {
    const double p = s->KeepProbability(units);
    const int N = 20000;
    int kept = 0;
    for (int i = 0; i < N; ++i) kept += *s->ShouldKeep(units, bits) ? 1 : 0;
    const double sd = std::sqrt(N * p * (1 - p));
    EXPECT_NEAR(kept, N * p, 5 * sd + 1) << "units " << units << " p " << p;
  }
  // Many units: always kept; one unit: kept with probability delta = 1e-3, i.e. about 2 of 2000 draws
  // (more than 12 has probability < 1e-6).
  int kept_big = 0, kept_one = 0;
  for (int i = 0; i < 2000; ++i) {
    kept_big += *s->ShouldKeep(1000, bits) ? 1 : 0;
    kept_one += *s->ShouldKeep(1, bits) ? 1 : 0;
  }
  EXPECT_EQ(kept_big, 2000);
  EXPECT_LE(kept_one, 12);
}

TEST(PartitionSelectionTest, RejectsBadParameters) {
  EXPECT_FALSE(PartitionSelector::Create(0, 1e-5, 1).ok());
  EXPECT_FALSE(PartitionSelector::Create(NAN, 1e-5, 1).ok());
  EXPECT_FALSE(PartitionSelector::Create(1, 0, 1).ok());
  EXPECT_FALSE(PartitionSelector::Create(1, 1, 1).ok());
  EXPECT_FALSE(PartitionSelector::Create(1, 1e-5, 0).ok());
  EXPECT_FALSE(PartitionSelector::Create(1, 1e-5, 1, 0).ok());
  auto tiny = PartitionSelector::Create(1e-9, 1e-300, 1);
  EXPECT_FALSE(tiny.ok());
}

}  // namespace
}  // namespace veil::dp
