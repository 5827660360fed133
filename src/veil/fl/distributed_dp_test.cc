#include "veil/fl/distributed_dp.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "veil/crypto/testing/deterministic_random.h"
#include "veil/dp/accountant.h"
#include "veil/fl/quantize.h"
#include "veil/fl/secagg_test_util.h"

namespace veil::fl {
namespace {

using crypto::testing::DeterministicRandom;

TEST(DistributedDpTest, PerClientVarianceIsRoundedUp) {
  auto s = PerClientSigma2({.sigma = 40, .min_clients = 8});
  ASSERT_TRUE(s.ok());
  EXPECT_GE(s->value(), 200.0);
  EXPECT_LE(s->value(), 200.0 * (1 + 1e-12));
  auto big = PerClientSigma2({.sigma = 65536.0 * 3, .min_clients = 7});  // needs a smaller denominator
  ASSERT_TRUE(big.ok());
  EXPECT_GE(big->value(), 65536.0 * 65536 * 9 / 7);
  EXPECT_LE(big->num, uint64_t{1} << 48);
  EXPECT_EQ(PerClientSigma2({.sigma = 0, .min_clients = 8}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PerClientSigma2({.sigma = 1, .min_clients = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PerClientSigma2({.sigma = 1e9, .min_clients = 1}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// The noise on a securely aggregated sum, with 2 of 10 clients dropping (so exactly the quorum n_min = 8
// survives): its variance per coordinate must be m * sigma^2 / n_min = sigma^2 = 1600. With d = 20000
// independent coordinates the sample variance of a Gaussian-like sum has relative standard deviation
// sqrt(2 / d) = 1%; the tolerance is 5 of those (the discrete Gaussian's variance is within 1e-12 of its
// parameter for sigma >= 2, CKS20). Fixed seed: the test is deterministic.
TEST(DistributedDpTest, NoiseOnTheSecureSumHasTheCalibratedVariance) {
  constexpr uint32_t kN = 10, kD = 20000;
  const DistributedDpOptions opts{.sigma = 40, .min_clients = 8};
  DeterministicRandom rng(2021);
  SecAggConfig config;
  config.round_id = 1;
  config.num_clients = kN;
  config.vector_length = kD;
  config.threshold = 6;
  config.min_clients = 8;
  auto cohort = testing::MakeCohort(config, rng);
  ASSERT_TRUE(cohort.ok());
  // Inputs: 3 in every coordinate (already quantized), plus each client's noise.
  std::vector<std::vector<uint32_t>> x(kN, std::vector<uint32_t>(kD, 3));
  dp::RandomBits bits(rng);
  for (auto& v : x) ASSERT_TRUE(AddDistributedNoise(opts, bits, v).ok());
  testing::Dropouts drop;
  drop.before_masked_input = {4, 9};
  auto result = testing::RunRound(*cohort, x, drop);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->included.size(), 8u);
  // Decode through the quantizer (signed, with the noise headroom): the sum minus 8 * 3 is the noise.
  auto noise_sd = SumNoiseStddev(opts, kN);
  ASSERT_TRUE(noise_sd.ok());
  auto q = Quantizer::Create({.clip = 1, .scale = 4, .max_clients = kN, .noise_stddev = *noise_sd});
  ASSERT_TRUE(q.ok()) << q.status();
  auto decoded = q->DecodeSum(result->sum);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  double mean = 0, m2 = 0;
  for (double v : *decoded) mean += v * 4 - 24;
  mean /= kD;
  for (double v : *decoded) m2 += (v * 4 - 24 - mean) * (v * 4 - 24 - mean);
  const double var = m2 / (kD - 1);
  const double want = 8 * PerClientSigma2(opts)->value();  // = 1600 up to the rounding up
  EXPECT_NEAR(var, want, 5 * std::sqrt(2.0 / kD) * want) << var;
  EXPECT_GE(want, 1600.0);
  EXPECT_NEAR(mean, 0, 5 * std::sqrt(want / kD));
}

TEST(DistributedDpTest, AccountingIsTheZcdpOfTheDiscreteGaussian) {
  auto delta_q = QuantizedL2Sensitivity(1.0, 1024, 10000);
  ASSERT_TRUE(delta_q.ok());
  EXPECT_DOUBLE_EQ(*delta_q, 1024 * (1 + 0x1p-24) + 100);  // float cast of the clipped update, rounding
  const DistributedDpOptions opts{.sigma = *delta_q * 2, .min_clients = 50};
  auto cost = Account(opts, *delta_q, 1e-6);
  ASSERT_TRUE(cost.ok()) << cost.status();
  EXPECT_DOUBLE_EQ(cost->rho, 1.0 / 8);  // Delta^2 / (2 (2 Delta)^2)
  EXPECT_DOUBLE_EQ(cost->epsilon, *dp::ZcdpToEpsilon(1.0 / 8, 1e-6));
  // Per-client variance below 1: refused.
  EXPECT_EQ(Account({.sigma = 5, .min_clients = 50}, 1, 1e-6).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace veil::fl
