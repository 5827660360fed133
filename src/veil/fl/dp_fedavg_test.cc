#include "veil/fl/dp_fedavg.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/crypto/testing/deterministic_random.h"
#include "veil/dp/accountant.h"
#include "veil/fl/distributed_dp.h"

// Designated initializers leave the other fields at their defaults, which is what these tests mean.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace veil::fl {
namespace {

using crypto::testing::DeterministicRandom;
using ::testing::HasSubstr;
constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

double Norm(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s);
}

TEST(DpFedAvgTest, ClipUpdateScalesToTheNorm) {
  const std::vector<double> v = {3, 4};  // norm 5
  auto inside = ClipUpdate(v, 10);
  ASSERT_TRUE(inside.ok());
  EXPECT_EQ(inside->update, v);
  EXPECT_TRUE(inside->within_clip);
  auto boundary = ClipUpdate(v, 5);
  EXPECT_TRUE(boundary->within_clip);
  auto clipped = ClipUpdate(v, 1);
  EXPECT_FALSE(clipped->within_clip);
  EXPECT_NEAR(clipped->update[0], 0.6, 1e-15);
  EXPECT_NEAR(clipped->update[1], 0.8, 1e-15);
  EXPECT_LE(Norm(clipped->update), 1.0);
  // Large finite values (their squares overflow) keep their direction.
  auto huge = ClipUpdate(std::vector<double>{3e200, 4e200}, 2);
  EXPECT_NEAR(huge->update[0], 1.2, 1e-14);
  EXPECT_NEAR(huge->update[1], 1.6, 1e-14);
  // Many coordinates: the computed norm never exceeds C.
  std::vector<double> many(1000);
  for (size_t i = 0; i < many.size(); ++i) many[i] = 1.0 / (3 + i);
  for (double c : {0.1, 0.3, 1.0 / 7, 0.5}) EXPECT_LE(Norm(ClipUpdate(many, c)->update), c);
  // A non-finite update contributes nothing; it is not an error (that would depend on the data).
  auto nan = ClipUpdate(std::vector<double>{1, kNan}, 1);
  ASSERT_TRUE(nan.ok());
  EXPECT_EQ(nan->update, (std::vector<double>{0, 0}));
  EXPECT_FALSE(nan->within_clip);
  EXPECT_EQ(ClipUpdate(v, 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ClipUpdate(v, kNan).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(DpFedAvgTest, ValidateRejectsBadOptions) {
  const DpFedAvgOptions good{.clients_per_round = 10, .total_clients = 100};
  EXPECT_TRUE(good.Validate().ok());
  auto with = [&](auto change) {
    DpFedAvgOptions o = good;
    change(o);
    return o.Validate();
  };
  EXPECT_THAT(with([](auto& o) { o.noise_multiplier = 0; }).message(), HasSubstr("noise_multiplier"));
  EXPECT_THAT(with([](auto& o) { o.clip_norm = kNan; }).message(), HasSubstr("clip_norm"));
  EXPECT_THAT(with([](auto& o) { o.clients_per_round = 0; }).message(), HasSubstr("clients_per_round"));
  EXPECT_THAT(with([](auto& o) { o.total_clients = 5; }).message(), HasSubstr("total_clients"));
  EXPECT_THAT(with([](auto& o) { o.delta = 0; }).message(), HasSubstr("delta"));
  EXPECT_THAT(with([](auto& o) {
                o.adaptive_clipping = true;
                o.target_quantile = 1;
              }).message(),
              HasSubstr("target_quantile"));
  EXPECT_THAT(with([](auto& o) {
                o.adaptive_clipping = true;
                o.clip_learning_rate = 0;
              }).message(),
              HasSubstr("clip_learning_rate"));
  // m = 10: the derived sigma_b = 0.5 gives 2 sigma_b = 1, not more than z = 1.
  EXPECT_THAT(with([](auto& o) { o.adaptive_clipping = true; }).message(),
              HasSubstr("2 * clipped_count_stddev"));
  EXPECT_TRUE(with([](auto& o) {
                o.adaptive_clipping = true;
                o.clipped_count_stddev = 1;
              }).ok());
}

// The accountant is the dp module's: T rounds of the Poisson-subsampled Gaussian at the realised q.
TEST(DpFedAvgTest, SpentMatchesTheDpModuleAccountant) {
  const DpFedAvgOptions o{
      .noise_multiplier = 1.1, .clients_per_round = 100, .total_clients = 10000, .delta = 1e-6};
  auto d = DpFedAvg::Create(o);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_GE(d->sampling_rate(), 0.01);
  EXPECT_LE(d->sampling_rate(), 0.01 * (1 + 1e-9));
  EXPECT_EQ(d->Spent().epsilon, 0);
  DeterministicRandom rng(5);
  const std::vector<double> sum = {0.5, -0.5, 0.25};
  for (int t = 1; t <= 3; ++t) ASSERT_TRUE(d->Aggregate(sum, 90, 100, rng).ok());
  EXPECT_EQ(d->rounds(), 3);
  auto expected = dp::DpSgdEpsilon(d->sampling_rate(), 1.1, 3, 1e-6);
  ASSERT_TRUE(expected.ok());
  EXPECT_DOUBLE_EQ(d->Spent().epsilon, *expected);
  EXPECT_EQ(d->Spent().delta, 1e-6);
  auto planned = d->SpentAfter(1000);
  ASSERT_TRUE(planned.ok());
  EXPECT_DOUBLE_EQ(planned->epsilon, *dp::DpSgdEpsilon(d->sampling_rate(), 1.1, 1000, 1e-6));
  EXPECT_EQ(d->SpentAfter(-1).status().code(), absl::StatusCode::kInvalidArgument);
  // Every client every round (cross-silo): q = 1, the plain Gaussian mechanism, composed.
  auto all = DpFedAvg::Create({.noise_multiplier = 2, .clients_per_round = 4, .total_clients = 4});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->sampling_rate(), 1);
  auto curve = dp::GaussianRdp(2, dp::DefaultRdpOrders());
  auto ten = dp::RdpToApproxDp(*dp::RepeatRdp(*curve, 10), 1e-5);
  EXPECT_DOUBLE_EQ(all->SpentAfter(10)->epsilon, ten->epsilon);
}

// Andrew et al. Theorem 1: z^-2 = z_Delta^-2 + (2 sigma_b)^-2; the accountant charges the total z.
TEST(DpFedAvgTest, AdaptiveClippingSplitsTheNoiseMultiplier) {
  auto d = DpFedAvg::Create(
      {.noise_multiplier = 1, .adaptive_clipping = true, .clients_per_round = 100, .total_clients = 1000});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->clipped_count_stddev(), 5);  // m / 20
  EXPECT_DOUBLE_EQ(d->update_noise_multiplier(), 1 / std::sqrt(1 - 1.0 / 100));
  auto fixed = DpFedAvg::Create({.noise_multiplier = 1, .clients_per_round = 100, .total_clients = 1000});
  EXPECT_EQ(fixed->update_noise_multiplier(), 1);
  EXPECT_EQ(fixed->clipped_count_stddev(), 0);
  EXPECT_DOUBLE_EQ(d->SpentAfter(50)->epsilon, fixed->SpentAfter(50)->epsilon);
}

// The released mean is (S + N(0, (z C)^2)) / m. With S = m * 0.25 per coordinate, z = 2, C = 1.5, m = 5 and
// d = 20,000 coordinates: the output's mean is 0.25 with standard error (z C / m) / sqrt(d) = 0.6 / 141 =
// 0.0042 (tolerance 5 of them), and its sample variance is (z C / m)^2 = 0.36 (the sampler's sigma exceeds
// z C by a relative 2^-19 at most) with relative standard error sqrt(2 / d) = 1% (tolerance 5%). Fixed seed.
TEST(DpFedAvgTest, AggregateAddsCalibratedNoiseAndDividesByExpectedClients) {
  auto d = DpFedAvg::Create(
      {.noise_multiplier = 2, .clip_norm = 1.5, .clients_per_round = 5, .total_clients = 50});
  ASSERT_TRUE(d.ok());
  const size_t n = 20000;
  const std::vector<double> sum(n, 5 * 0.25);
  DeterministicRandom rng(11);
  auto out = d->Aggregate(sum, 3, 4, rng);  // 4 actual clients: the denominator is still m = 5
  ASSERT_TRUE(out.ok()) << out.status();
  double mean = 0;
  for (double x : *out) mean += x;
  mean /= n;
  double var = 0;
  for (double x : *out) var += (x - mean) * (x - mean);
  var /= n - 1;
  EXPECT_NEAR(mean, 0.25, 5 * 0.6 / std::sqrt(n));
  EXPECT_NEAR(var, 0.36, 0.36 * 5 * std::sqrt(2.0 / n));
  EXPECT_EQ(d->clip_norm(), 1.5);  // fixed clipping
}

// The decoded sum of a secure-aggregation round: each client's encoded update may exceed C by the float
// conversion and the stochastic rounding, so the noise is calibrated to D = C (1 + 2^-24) + sqrt(P) (1/s +
// 2^-149). With C = 1.5, P = 20,000 and a coarse s = 2^6: D = 1.5 + 141.42 / 64 = 3.7097, and the output
// variance is (z D / m)^2 = (2 * 3.7097 / 5)^2 = 2.2020 (against 0.36 for a plain sum); relative standard
// error sqrt(2 / P) = 1%, tolerance 5%. Fixed seed.
TEST(DpFedAvgTest, AggregateCalibratesToTheEncodedSensitivity) {
  auto d = DpFedAvg::Create(
      {.noise_multiplier = 2, .clip_norm = 1.5, .clients_per_round = 5, .total_clients = 50});
  ASSERT_TRUE(d.ok());
  const size_t n = 20000;
  const std::vector<double> sum(n, 0.0);
  DeterministicRandom rng(13);
  auto out = d->Aggregate(sum, 3, 4, rng, 0x1p6);
  ASSERT_TRUE(out.ok()) << out.status();
  double var = 0;
  for (double x : *out) var += x * x;
  var /= n;  // the mean is 0 by construction
  const double sd = 2 * (1.5 * (1 + 0x1p-24) + std::sqrt(20000.0) * (1 / 64.0 + 0x1p-149)) / 5;
  EXPECT_NEAR(var, sd * sd, sd * sd * 5 * std::sqrt(2.0 / n));
  EXPECT_EQ(d->Aggregate(sum, 3, 4, rng, -1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(d->Aggregate(sum, 3, 4, rng, kNan).status().code(), absl::StatusCode::kInvalidArgument);
}

// Adaptive clipping with z = 1 and sigma_b = 0.6 (m = 10): the update gets z_Delta = (1 - 1 / 1.44)^-1/2 =
// 1.809 and the centred count noise of standard deviation sigma_b. The update's output variance is
// (z_Delta C / m)^2 over P = 20,000 coordinates (relative standard error 1%, tolerance 5%). The count noise
// is read back from each round's clip step: log(C_{t+1} / C_t) = -eta (b~ - gamma) and b~ = (B - n/2 +
// noise) / m + 1/2 with B = n/2, so noise = m (gamma - log(C_{t+1} / C_t) / eta - 1/2); over 2,000 rounds its
// sample variance estimates sigma_b^2 = 0.36 with relative standard error sqrt(2 / 2000) = 3.2% (tolerance
// 5 of them, 16%; a stddev of 2 sigma_b or sigma_b / 2 would be off by a factor 4). q = 1 keeps the
// accountant cheap. Fixed seed.
TEST(DpFedAvgTest, AdaptiveClippingAddsTheSplitNoise) {
  const DpFedAvgOptions o{.noise_multiplier = 1,
                          .clip_norm = 0.5,
                          .adaptive_clipping = true,
                          .target_quantile = 0.5,
                          .clip_learning_rate = 0.2,
                          .clipped_count_stddev = 0.6,
                          .clients_per_round = 10,
                          .total_clients = 10};
  auto d = DpFedAvg::Create(o);
  ASSERT_TRUE(d.ok()) << d.status();
  const double z_delta = 1 / std::sqrt(1 - 1 / 1.44);
  EXPECT_DOUBLE_EQ(d->update_noise_multiplier(), z_delta);
  DeterministicRandom rng(14);
  const size_t p = 20000;
  auto out = d->Aggregate(std::vector<double>(p, 0.0), 5, 10, rng);
  ASSERT_TRUE(out.ok()) << out.status();
  double var = 0;
  for (double x : *out) var += x * x;
  var /= p;
  const double expected = std::pow(z_delta * 0.5 / 10, 2);
  EXPECT_NEAR(var, expected, expected * 5 * std::sqrt(2.0 / p));

  constexpr int kRounds = 2000;
  double sum = 0, sum_sq = 0;
  for (int t = 0; t < kRounds; ++t) {
    const double before = d->clip_norm();
    ASSERT_TRUE(d->Aggregate(std::vector<double>{0}, 5, 10, rng).ok());
    const double noise = 10 * (0.5 - std::log(d->clip_norm() / before) / 0.2 - 0.5);
    sum += noise;
    sum_sq += noise * noise;
  }
  const double mean = sum / kRounds, sample_var = (sum_sq - kRounds * mean * mean) / (kRounds - 1);
  EXPECT_NEAR(mean, 0, 5 * 0.6 / std::sqrt(kRounds));
  EXPECT_NEAR(sample_var, 0.36, 0.36 * 5 * std::sqrt(2.0 / kRounds));
}

TEST(DpFedAvgTest, AggregateRejectsBadInputAndChangesNothing) {
  auto d = DpFedAvg::Create({.clients_per_round = 5, .total_clients = 50});
  DeterministicRandom rng(1);
  EXPECT_EQ(d->Aggregate({}, 0, 0, rng).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(d->Aggregate(std::vector<double>{0, kNan}, 0, 1, rng).status().message(), HasSubstr("[1]"));
  EXPECT_EQ(d->Aggregate(std::vector<double>{0}, 3, 2, rng).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(d->Aggregate(std::vector<double>{0}, -1, 2, rng).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A sum no clipped updates can produce is refused before any noise is drawn.
  EXPECT_THAT(d->Aggregate(std::vector<double>{1, 1e300}, 0, 1, rng).status().message(),
              HasSubstr("[1] is far larger"));
  EXPECT_EQ(d->rounds(), 0);
  EXPECT_EQ(d->Spent().epsilon, 0);
}

// Adaptive clipping moves C geometrically: C exp(-eta (b - gamma)). With z = 1e-3 and sigma_b = 0.01, the
// noisy fraction b~ has standard deviation sigma_b / m = 0.001 (m = 10), so log C moves by eta (b - gamma)
// within 0.2 * 5 * 0.001 = 1e-3 (5 standard deviations).
DpFedAvgOptions QuietAdaptive() {
  return {.noise_multiplier = 1e-3,
          .clip_norm = 2,
          .adaptive_clipping = true,
          .target_quantile = 0.5,
          .clip_learning_rate = 0.2,
          .clipped_count_stddev = 0.01,
          .clients_per_round = 10,
          .total_clients = 10};
}

TEST(DpFedAvgTest, AdaptiveClipShrinksWhenAllFitAndGrowsWhenNoneDo) {
  DeterministicRandom rng(3);
  auto all_fit = DpFedAvg::Create(QuietAdaptive());
  ASSERT_TRUE(all_fit.ok()) << all_fit.status();
  ASSERT_TRUE(all_fit->Aggregate(std::vector<double>{0}, 10, 10, rng).ok());
  EXPECT_NEAR(std::log(all_fit->clip_norm() / 2), -0.2 * 0.5, 1e-3);
  auto none_fit = DpFedAvg::Create(QuietAdaptive());
  ASSERT_TRUE(none_fit->Aggregate(std::vector<double>{0}, 0, 10, rng).ok());
  EXPECT_NEAR(std::log(none_fit->clip_norm() / 2), 0.2 * 0.5, 1e-3);
  auto half = DpFedAvg::Create(QuietAdaptive());
  ASSERT_TRUE(half->Aggregate(std::vector<double>{0}, 5, 10, rng).ok());
  EXPECT_NEAR(std::log(half->clip_norm() / 2), 0, 1e-3);  // b = gamma: the fixed point
}

// Ten clients whose updates have norms 1, 2, ..., 10, target quantile 0.5: C converges to [5, 6), where
// exactly 5 are within the clip and b = gamma. Below 5 it grows by at least exp(0.2 * 0.1) = 1.02 per round,
// above 6 it shrinks by at least that much, so from C_0 = 0.5 it gets there within log(10) / 0.02 = 116
// rounds and never leaves [5 / 1.02, 6 * 1.02] (noise moves log C by less than 1e-3 per round, see above).
TEST(DpFedAvgTest, AdaptiveClipConvergesToTheTargetQuantile) {
  DpFedAvgOptions o = QuietAdaptive();
  o.clip_norm = 0.5;
  auto d = DpFedAvg::Create(o);
  ASSERT_TRUE(d.ok());
  DeterministicRandom rng(4);
  for (int round = 0; round < 300; ++round) {
    std::vector<double> sum(2, 0.0);
    int64_t within = 0;
    for (int k = 1; k <= 10; ++k) {
      const std::vector<double> update = {0.6 * k, 0.8 * k};  // norm k
      auto c = ClipUpdate(update, d->clip_norm());
      ASSERT_TRUE(c.ok());
      within += c->within_clip;
      for (int j = 0; j < 2; ++j) sum[j] += c->update[j];
    }
    ASSERT_TRUE(d->Aggregate(sum, within, 10, rng).ok());
    if (round >= 120) {
      EXPECT_GE(d->clip_norm(), 5 / 1.02) << round;
      EXPECT_LE(d->clip_norm(), 6 * 1.02) << round;
    }
  }
}

// A step far outside the range of doubles is clamped, not an error: an error after the noise is drawn would
// reveal the noisy count without charging the round.
TEST(DpFedAvgTest, AdaptiveClipIsClampedNotAnError) {
  DpFedAvgOptions o = QuietAdaptive();
  o.clip_learning_rate = 1e6;
  auto d = DpFedAvg::Create(o);
  ASSERT_TRUE(d.ok());
  DeterministicRandom rng(15);
  ASSERT_TRUE(d->Aggregate(std::vector<double>{0}, 10, 10, rng).ok());  // all fit: C shrinks
  EXPECT_EQ(d->clip_norm(), kMinAdaptiveClip);
  ASSERT_TRUE(d->Aggregate(std::vector<double>{0}, 0, 10, rng).ok());  // none fit: C grows
  EXPECT_EQ(d->clip_norm(), kMaxAdaptiveClip);
  EXPECT_EQ(d->rounds(), 2);
}

TEST(DpFedAvgTest, CheckpointRoundTripContinuesBitIdentically) {
  const DpFedAvgOptions o{.noise_multiplier = 0.8,
                          .adaptive_clipping = true,
                          .clipped_count_stddev = 2,
                          .clients_per_round = 20,
                          .total_clients = 200};
  auto a = DpFedAvg::Create(o);
  ASSERT_TRUE(a.ok()) << a.status();
  DeterministicRandom rng(9);
  const std::vector<double> sum = {1.5, -2.5, 0.75};
  for (int t = 0; t < 3; ++t) ASSERT_TRUE(a->Aggregate(sum, 7, 18, rng).ok());
  const std::string state = a->SerializeState();
  auto b = DpFedAvg::Create(o);
  ASSERT_TRUE(b->RestoreState(state).ok());
  EXPECT_EQ(b->rounds(), 3);
  const double ca = a->clip_norm(), cb = b->clip_norm();
  EXPECT_EQ(std::memcmp(&ca, &cb, sizeof(double)), 0);
  EXPECT_EQ(b->Spent().epsilon, a->Spent().epsilon);
  DeterministicRandom ra(77), rb(77);  // the same noise source for both continuations
  for (int t = 0; t < 3; ++t) {
    auto x = a->Aggregate(sum, 9, 18, ra);
    auto y = b->Aggregate(sum, 9, 18, rb);
    ASSERT_TRUE(x.ok() && y.ok());
    EXPECT_EQ(std::memcmp(x->data(), y->data(), sizeof(double) * x->size()), 0);
  }
  EXPECT_EQ(a->SerializeState(), b->SerializeState());
  // Damaged or foreign states.
  auto c = DpFedAvg::Create(o);
  for (size_t len = 0; len < state.size(); ++len) {
    EXPECT_EQ(c->RestoreState(state.substr(0, len)).code(), absl::StatusCode::kDataLoss) << len;
  }
  EXPECT_EQ(c->RestoreState(state + "x").code(), absl::StatusCode::kDataLoss);
  DpFedAvgOptions other = o;
  other.noise_multiplier = 0.9;
  auto d = DpFedAvg::Create(other);
  EXPECT_EQ(d->RestoreState(state).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(c->rounds(), 0);
}

// Poisson sampling: the count of 10,000 clients at q = 0.1 is Binomial(10000, 0.1): mean 1000, standard
// deviation 30 (tolerance 5 of them).
TEST(DpFedAvgTest, SampleClientsIsPoissonAtRateQ) {
  DeterministicRandom rng(6);
  auto s = SampleClients({.clients_per_round = 1000, .total_clients = 10000}, rng);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_NEAR(static_cast<double>(s->size()), 1000, 150);
  for (size_t i = 1; i < s->size(); ++i) EXPECT_LT((*s)[i - 1], (*s)[i]);
  EXPECT_GE(s->front(), 0);
  EXPECT_LT(s->back(), 10000);
  auto all = SampleClients({.clients_per_round = 4, .total_clients = 4}, rng);
  EXPECT_EQ(*all, (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(SampleClients({.clients_per_round = 0, .total_clients = 4}, rng).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Distributed DP: rho per round from fl::Account, T rounds compose to T rho (zCDP), converted by the dp
// module.
TEST(DpFedAvgTest, DistributedDpSpentComposesRhoOverRounds) {
  const DistributedDpOptions o{.sigma = 400, .min_clients = 8};
  auto one = Account(o, 100, 1e-5);
  ASSERT_TRUE(one.ok());
  EXPECT_DOUBLE_EQ(DistributedDpSpent(o, 100, 1, 1e-5)->epsilon, one->epsilon);
  auto fifty = DistributedDpSpent(o, 100, 50, 1e-5);
  ASSERT_TRUE(fifty.ok());
  EXPECT_DOUBLE_EQ(fifty->epsilon, *dp::ZcdpToEpsilon(50 * 100.0 * 100 / (2 * 400.0 * 400), 1e-5));
  EXPECT_EQ(fifty->delta, 1e-5);
  EXPECT_EQ(DistributedDpSpent(o, 100, 0, 1e-5)->epsilon, 0);
  EXPECT_EQ(DistributedDpSpent(o, 100, -1, 1e-5).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DistributedDpSpent(o, 0, 5, 1e-5).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace veil::fl
