#include "veil/synth/measurement.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/crypto/testing/deterministic_random.h"
#include "veil/dp/accountant.h"

namespace veil::synth {
namespace {

using crypto::testing::DeterministicRandom;
using ::testing::HasSubstr;

TEST(ZcdpBudgetTest, FromApproxDpUsesTheAccountantConversion) {
  ZcdpBudget b = *ZcdpBudget::FromApproxDp(1.0, 1e-9);
  EXPECT_EQ(b.total_rho(), *dp::ApproxDpToZcdp({1.0, 1e-9}));
  EXPECT_NEAR(b.total_rho(), 0.01497, 1e-4);  // 0.014973, as printed by synth_bench
  EXPECT_EQ(b.delta(), 1e-9);
  EXPECT_FALSE(ZcdpBudget::FromApproxDp(0, 1e-9).ok());
  EXPECT_FALSE(ZcdpBudget::FromApproxDp(1, 0).ok());
  EXPECT_FALSE(ZcdpBudget::FromRho(-1, 1e-9).ok());
}

TEST(ZcdpBudgetTest, ChargeRefusesOverspendingAndCostIsWithinTarget) {
  ZcdpBudget b = *ZcdpBudget::FromApproxDp(2.0, 1e-6);
  const double share = *EqualShare(b.total_rho(), 7);
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(b.Charge("part", share).ok());
  EXPECT_LE(b.spent_rho(), b.total_rho());
  EXPECT_GT(b.spent_rho(), b.total_rho() * (1 - 1e-9));
  absl::Status over = b.Charge("one more", share);
  EXPECT_EQ(over.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(over.message(), HasSubstr("\"one more\""));
  EXPECT_EQ(b.entries().size(), 7u);
  absl::StatusOr<dp::PrivacyCost> cost = b.Cost();
  ASSERT_TRUE(cost.ok()) << cost.status();
  EXPECT_LE(cost->total.epsilon, 2.0);
  EXPECT_GT(cost->total.epsilon, 1.999);
  EXPECT_LE(cost->total.delta, 1e-6 * (1 + 1e-12));
  EXPECT_EQ(cost->components.size(), 7u);
  EXPECT_FALSE(b.Charge("", 0.1).ok());
  ZcdpBudget fresh = *ZcdpBudget::FromRho(1, 1e-9);
  EXPECT_EQ(fresh.Cost().status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ZcdpBudgetTest, EqualShareNeverOverspends) {
  for (double rho : {1.0, 0.1, 0.0149731, 1.0 / 3.0, 7.77e-5}) {
    for (int64_t parts : {1, 2, 3, 7, 14, 15, 100, 1001}) {
      const double share = *EqualShare(rho, parts);
      double sum = 0;
      for (int64_t i = 0; i < parts; ++i) sum += share;
      EXPECT_LE(sum, rho) << rho << " " << parts;
      EXPECT_GT(sum, rho * (1 - 1e-9));
    }
  }
  EXPECT_FALSE(EqualShare(1, 0).ok());
}

TEST(MeasureMarginalTest, NoiseHasTheCalibratedVarianceAndIsCharged) {
  // 0 rows over 40,000 cells: the measurement is pure discrete Gaussian noise, sigma = 10, whose variance is
  // 100 to 1e-12 (samplers.h). The sample variance of 40,000 draws has relative standard deviation
  // sqrt(2 / 40000) = 0.71%; 5 standard deviations: 3.5%.
  Domain d = *Domain::Create({{"a", 40000}});
  DiscreteTable t = *DiscreteTable::Create(d, {{}});
  DeterministicRandom random(7);
  dp::RandomBits bits(random);
  ZcdpBudget b = *ZcdpBudget::FromRho(1.0, 1e-9);
  const int attrs[] = {0};
  absl::StatusOr<NoisyMarginal> m = MeasureMarginal(bits, t, attrs, 10.0, "noise", b);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_DOUBLE_EQ(m->rho, 1.0 / 200.0);
  EXPECT_DOUBLE_EQ(b.spent_rho(), 1.0 / 200.0);
  double sum = 0, sum2 = 0;
  for (double v : m->values) {
    EXPECT_EQ(v, std::round(v));
    sum += v;
    sum2 += v * v;
  }
  const double n = 40000;
  const double var = (sum2 - sum * sum / n) / (n - 1);
  EXPECT_NEAR(var, 100.0, 3.5);
  EXPECT_NEAR(sum / n, 0.0, 5 * 10.0 / std::sqrt(n));
}

TEST(MeasureMarginalTest, ReproducibleUnderASeedAndRefusedWithoutBudget) {
  Domain d = *Domain::Create({{"a", 3}, {"b", 2}});
  DiscreteTable t = *DiscreteTable::Create(d, {{0, 1, 2, 2}, {1, 1, 0, 1}});
  const int attrs[] = {0, 1};
  std::vector<double> first;
  for (int rep = 0; rep < 2; ++rep) {
    DeterministicRandom random(42);
    dp::RandomBits bits(random);
    ZcdpBudget b = *ZcdpBudget::FromRho(1.0, 1e-9);
    NoisyMarginal m = *MeasureMarginal(bits, t, attrs, 2.0, "ab", b);
    ASSERT_EQ(m.values.size(), 6u);
    if (rep == 0) first = m.values;
    EXPECT_EQ(m.values, first);
  }
  DeterministicRandom random(1);
  dp::RandomBits bits(random);
  ZcdpBudget small = *ZcdpBudget::FromRho(0.01, 1e-9);
  EXPECT_EQ(MeasureMarginal(bits, t, attrs, 1.0, "too much", small).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(small.entries().empty());
  EXPECT_FALSE(MeasureMarginal(bits, t, attrs, 0.0, "bad", small).ok());
}

}  // namespace
}  // namespace veil::synth
