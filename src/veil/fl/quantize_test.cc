#include "veil/fl/quantize.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "gtest/gtest.h"
#include "veil/crypto/testing/deterministic_random.h"

namespace veil::fl {
namespace {

using crypto::testing::DeterministicRandom;

TEST(QuantizeTest, AutomaticScaleLeavesHeadroomForTheSum) {
  auto q = Quantizer::Create({.clip = 1.0, .scale = 0, .max_clients = 100, .noise_stddev = 0});
  ASSERT_TRUE(q.ok()) << q.status();
  // 100 * 2^24 < 2^31 - 1 < 100 * 2^25.
  EXPECT_EQ(q->scale(), std::ldexp(1.0, 24));
  EXPECT_EQ(q->headroom_bits(), 7);
  EXPECT_LE(q->max_abs_sum(), (int64_t{1} << 31) - 1);
}

TEST(QuantizeTest, RefusesParametersThatCouldOverflow) {
  auto q = Quantizer::Create({.clip = 1.0, .scale = std::ldexp(1.0, 25), .max_clients = 100});
  EXPECT_EQ(q.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(q.status().message().find("largest admissible scale is 2^24"), std::string::npos) << q.status();
  // Noise headroom counts too.
  EXPECT_FALSE(
      Quantizer::Create({.clip = 1.0, .scale = std::ldexp(1.0, 24), .max_clients = 100, .noise_stddev = 5e7})
          .ok());
  EXPECT_FALSE(Quantizer::Create({.clip = 1.0, .scale = 3.0, .max_clients = 2}).ok());  // not a power of two
  EXPECT_FALSE(Quantizer::Create({.clip = -1.0}).ok());
  EXPECT_FALSE(Quantizer::Create({.clip = 1.0, .max_clients = 0}).ok());
}

TEST(QuantizeTest, ClipsRoundsAndSumsDecode) {
  auto q = Quantizer::Create({.clip = 2.0, .scale = 4.0, .max_clients = 3});
  ASSERT_TRUE(q.ok());
  DeterministicRandom rng(1);
  const std::vector<float> x = {0.25f, -0.5f, 5.0f, -7.0f, 1.75f};
  auto e = q->Encode(x, rng);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(static_cast<int32_t>((*e)[0]), 1);
  EXPECT_EQ(static_cast<int32_t>((*e)[1]), -2);
  EXPECT_EQ(static_cast<int32_t>((*e)[2]), 8);   // clipped to 2.0
  EXPECT_EQ(static_cast<int32_t>((*e)[3]), -8);  // clipped to -2.0
  EXPECT_EQ(static_cast<int32_t>((*e)[4]), 7);
  std::vector<uint32_t> sum(5, 0);
  for (int c = 0; c < 3; ++c)
    for (size_t i = 0; i < 5; ++i) sum[i] += (*e)[i];
  auto d = q->DecodeSum(sum);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ((*d)[0], 0.75);
  EXPECT_EQ((*d)[3], -6.0);
  sum[0] = static_cast<uint32_t>(1000);  // beyond 3 * 8
  EXPECT_EQ(q->DecodeSum(sum).status().code(), absl::StatusCode::kDataLoss);
}

TEST(QuantizeTest, StochasticRoundingIsUnbiased) {
  auto q = Quantizer::Create({.clip = 1.0, .scale = 1.0, .max_clients = 1});
  ASSERT_TRUE(q.ok());
  DeterministicRandom rng(2);
  const size_t n = 200000;
  std::vector<float> x(n, 0.3f);
  auto e = q->Encode(x, rng);
  ASSERT_TRUE(e.ok());
  double mean = 0;
  for (uint32_t v : *e) {
    ASSERT_TRUE(v == 0 || v == 1);
    mean += v;
  }
  mean /= n;
  // 0.3f = 0.30000001192...; sd of the mean = sqrt(0.21 / n) ~ 0.001: 5 sigma.
  EXPECT_NEAR(mean, static_cast<double>(0.3f), 0.0052);
}

TEST(QuantizeTest, RejectsNonFinite) {
  auto q = Quantizer::Create({.clip = 1.0, .max_clients = 1});
  ASSERT_TRUE(q.ok());
  DeterministicRandom rng(3);
  const std::vector<float> x = {0.0f, std::numeric_limits<float>::quiet_NaN()};
  auto e = q->Encode(x, rng);
  EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(e.status().message().find("index 1"), std::string::npos);
}

TEST(QuantizeTest, SmallerRingLeavesLessHeadroomAndDecodesSigned) {
  QuantizationOptions o;
  o.clip = 1;
  o.max_clients = 100;
  o.ring_bits = 24;
  auto q = Quantizer::Create(o);
  ASSERT_TRUE(q.ok()) << q.status();
  // 100 * B <= 2^23 - 1: B <= 83886, so the scale is 2^16.
  EXPECT_EQ(q->scale(), 65536.0);
  EXPECT_LE(q->max_abs_sum(), (int64_t{1} << 23) - 1);
  // -3 in a 24-bit ring is 2^24 - 3.
  auto d = q->DecodeSum(std::vector<uint32_t>{(1u << 24) - 3, 5});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ((*d)[0], -3.0 / 65536);
  EXPECT_EQ((*d)[1], 5.0 / 65536);
  EXPECT_EQ(q->DecodeSum(std::vector<uint32_t>{1u << 24}).status().code(), absl::StatusCode::kDataLoss);
  o.ring_bits = 7;
  EXPECT_EQ(Quantizer::Create(o).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace veil::fl
