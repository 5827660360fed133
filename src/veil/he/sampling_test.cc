#include "veil/he/sampling.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "veil/base/random.h"
#include "veil/crypto/testing/deterministic_random.h"
#include "veil/he/params.h"

namespace veil::he {
namespace sampling_test {
namespace {

CkksContext MakeContext() {
  auto params = CkksParametersBuilder()
                    .SetPolyDegree(4096)
                    .SetCiphertextPrimeBits({36, 36})
                    .SetSpecialPrimeBits({37})
                    .Build();
  return CkksContext::Create(params.value()).value();
}

// Ternary: every value in {-1, 0, 1}, each with frequency 1/3. With 30,000 draws a count has standard
// deviation sqrt(30000 * 2/9) = 82; the test allows 6 of them (a fixed seed, so it is deterministic).
TEST(SamplingTest, TernaryIsUniformOnMinusOneZeroOne) {
  crypto::testing::DeterministicRandom rng(50);
  auto s = SampleTernary(30000, rng).value();
  int counts[3] = {0, 0, 0};
  for (int64_t v : s) {
    ASSERT_GE(v, -1);
    ASSERT_LE(v, 1);
    ++counts[v + 1];
  }
  for (int c : counts) EXPECT_NEAR(c, 10000, 6 * 82);
}

// Centered binomial with eta = 21: support [-21, 21], mean 0, variance 10.5. With 100,000 draws the sample
// mean has standard deviation sqrt(10.5 / 1e5) = 0.010 and the sample variance about 10.5 * sqrt(2 / 1e5) =
// 0.047; the test allows 6 of each.
TEST(SamplingTest, CenteredBinomialMoments) {
  crypto::testing::DeterministicRandom rng(51);
  auto e = SampleCenteredBinomial(100000, rng).value();
  double sum = 0, sum_sq = 0;
  for (int64_t v : e) {
    ASSERT_LE(std::abs(v), kErrorEta);
    sum += static_cast<double>(v);
    sum_sq += static_cast<double>(v * v);
  }
  const double mean = sum / e.size();
  EXPECT_NEAR(mean, 0.0, 6 * 0.010);
  EXPECT_NEAR(sum_sq / e.size() - mean * mean, 10.5, 6 * 0.047);
}

// The seed expansion is deterministic, differs between domains, and gives values below each prime with the
// mean of a uniform distribution (within 6 standard deviations: q / sqrt(12 * N)).
TEST(SamplingTest, ExpandUniformIsDeterministicAndUniform) {
  const CkksContext ctx = MakeContext();
  Seed seed{};
  seed[0] = 7;
  RnsPoly a(ctx.n(), 2, true), b(ctx.n(), 2, true), c(ctx.n(), 2, true);
  ASSERT_TRUE(ExpandUniform(seed, 1, ctx, 0, &a).ok());
  ASSERT_TRUE(ExpandUniform(seed, 1, ctx, 0, &b).ok());
  ASSERT_TRUE(ExpandUniform(seed, 2, ctx, 0, &c).ok());
  EXPECT_EQ(a.data, b.data);
  EXPECT_NE(a.data, c.data);
  for (size_t i = 0; i < 2; ++i) {
    const double q = static_cast<double>(ctx.modulus(i).value());
    double sum = 0;
    for (uint64_t v : a.limb(i)) {
      ASSERT_LT(v, ctx.modulus(i).value());
      sum += static_cast<double>(v);
    }
    EXPECT_NEAR(sum / ctx.n(), q / 2, 6 * q / std::sqrt(12.0 * ctx.n()));
  }
  // The two limbs are independent streams, not the same bytes reduced twice.
  EXPECT_NE(std::vector<uint64_t>(a.limb(0).begin(), a.limb(0).end()),
            std::vector<uint64_t>(a.limb(1).begin(), a.limb(1).end()));
}

TEST(SamplingTest, RandomSourceErrorsPropagate) {
  class Failing final : public base::RandomSource {
   public:
    absl::Status Fill(std::span<uint8_t>) override { return absl::UnavailableError("no entropy"); }
  } failing;
  EXPECT_EQ(SampleTernary(8, failing).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(SampleCenteredBinomial(8, failing).status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace sampling_test
}  // namespace veil::he
