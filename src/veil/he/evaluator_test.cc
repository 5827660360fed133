#include "veil/he/evaluator.h"

#include <cmath>
#include <complex>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/crypto/testing/deterministic_random.h"
#include "veil/he/he_test_util.h"
#include "veil/he/params.h"

namespace veil::he {
namespace {

using crypto::testing::DeterministicRandom;
using ::testing::HasSubstr;
using testing::MaxError;
using Complex = std::complex<double>;

constexpr double kScale = 0x1p40;
// A fresh ciphertext's slot error is about 3e-8 at N = 8192 and scale 2^40 (keys.h; measured maximum 1.2e-7).
// Sums of two add their errors; a product of values of modulus <= 1 has error about |x| e_y + |y| e_x; a
// rescale adds about 2e-8 (evaluator.h). kFresh bounds one fresh error with margin (about 30 standard
// deviations of the maximum over 4096 slots).
constexpr double kFresh = 1e-6;

class EvaluatorTest : public ::testing::Test {
 protected:
  EvaluatorTest()
      : ctx_(CkksContext::Create(CkksParametersBuilder()
                                     .SetPolyDegree(8192)
                                     .SetCiphertextPrimeBits({60, 40, 40})
                                     .SetSpecialPrimeBits({60})
                                     .Build()
                                     .value())
                 .value()),
        rng_(70),
        sk_(GenerateSecretKey(ctx_, rng_).value()),
        pk_(GeneratePublicKey(ctx_, sk_, rng_).value()) {}

  std::vector<Complex> Values(uint64_t seed) { return testing::RandomSlots(ctx_.slot_count(), seed); }
  Ciphertext Enc(const std::vector<Complex>& v, int level = 2) {
    return Encrypt(ctx_, pk_, ctx_.Encode(v, kScale, level).value(), rng_).value();
  }
  std::vector<Complex> Dec(const Ciphertext& ct) {
    return ctx_.Decode(Decrypt(ctx_, sk_, ct, KeyOwnerOnly()).value()).value();
  }

  CkksContext ctx_;
  DeterministicRandom rng_;
  SecretKey sk_;
  PublicKey pk_;
};

TEST_F(EvaluatorTest, AddSubNegate) {
  const auto x = Values(1), y = Values(2);
  const Ciphertext cx = Enc(x), cy = Enc(y);
  std::vector<Complex> sum(x.size()), diff(x.size()), neg(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    sum[i] = x[i] + y[i];
    diff[i] = x[i] - y[i];
    neg[i] = -x[i];
  }
  EXPECT_LT(MaxError(Dec(Add(ctx_, cx, cy).value()), sum), 2 * kFresh);
  EXPECT_LT(MaxError(Dec(Sub(ctx_, cx, cy).value()), diff), 2 * kFresh);
  EXPECT_LT(MaxError(Dec(Negate(ctx_, cx).value()), neg), kFresh);
}

TEST_F(EvaluatorTest, PlainAndConstantOperations) {
  const auto x = Values(3), y = Values(4);
  const Ciphertext cx = Enc(x);
  const Plaintext py = ctx_.Encode(y, kScale, 2).value();
  std::vector<Complex> sum(x.size()), prod(x.size()), plus_c(x.size()), times_c(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    sum[i] = x[i] + y[i];
    prod[i] = x[i] * y[i];
    plus_c[i] = x[i] + 0.75;
    times_c[i] = x[i] * -2.5;
  }
  EXPECT_LT(MaxError(Dec(AddPlain(ctx_, cx, py).value()), sum), 2 * kFresh);
  const Ciphertext product = MultiplyPlain(ctx_, cx, py).value();
  EXPECT_EQ(product.scale, kScale * kScale);
  EXPECT_LT(MaxError(Dec(product), prod), 3 * kFresh);
  EXPECT_LT(MaxError(Dec(Rescale(ctx_, product).value()), prod), 3 * kFresh);
  EXPECT_LT(MaxError(Dec(AddConstant(ctx_, cx, 0.75).value()), plus_c), kFresh);
  const Ciphertext scaled = MultiplyConstant(ctx_, cx, -2.5, kScale).value();
  EXPECT_LT(MaxError(Dec(scaled), times_c), 3 * kFresh);
}

// x * y decrypted with its 3 parts (no relinearization yet), before and after rescaling; then a second
// multiplication level: (x * y) * z after two rescalings reaches level 0.
TEST_F(EvaluatorTest, MultiplyAndRescale) {
  const auto x = Values(5), y = Values(6), z = Values(7);
  const Ciphertext cx = Enc(x), cy = Enc(y);
  std::vector<Complex> xy(x.size()), xyz(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    xy[i] = x[i] * y[i];
    xyz[i] = xy[i] * z[i];
  }
  const Ciphertext product = Multiply(ctx_, cx, cy).value();
  ASSERT_EQ(product.parts.size(), 3u);
  EXPECT_LT(MaxError(Dec(product), xy), 3 * kFresh);
  const Ciphertext rescaled = Rescale(ctx_, product).value();
  EXPECT_EQ(rescaled.level, 1);
  EXPECT_DOUBLE_EQ(rescaled.scale, kScale * kScale / static_cast<double>(ctx_.modulus(2).value()));
  EXPECT_LT(MaxError(Dec(rescaled), xy), 3 * kFresh);
  // Multiplying a 3-part ciphertext needs relinearization, which is reported.
  auto refused = Multiply(ctx_, product, cx);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("relinearize"));
  // One more level with a plaintext z at level 1 and the rescaled product's scale.
  const Plaintext pz = ctx_.Encode(z, kScale, 1).value();
  const Ciphertext deeper = Rescale(ctx_, MultiplyPlain(ctx_, rescaled, pz).value()).value();
  EXPECT_EQ(deeper.level, 0);
  EXPECT_LT(MaxError(Dec(deeper), xyz), 5 * kFresh);
  EXPECT_EQ(Rescale(ctx_, deeper).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(EvaluatorTest, MismatchesAreReportedWithWhatToDo) {
  const auto x = Values(8);
  const Ciphertext a = Enc(x, 2), b = Enc(x, 1);
  // Different levels: the higher operand is switched down (exactly), the result is at the lower level.
  const Ciphertext sum = Add(ctx_, a, b).value();
  EXPECT_EQ(sum.level, 1);
  std::vector<Complex> twice(x.size());
  for (size_t i = 0; i < x.size(); ++i) twice[i] = 2.0 * x[i];
  EXPECT_LT(MaxError(Dec(sum), twice), 2 * kFresh);
  EXPECT_EQ(MultiplyPlain(ctx_, a, ctx_.Encode(x, kScale, 1).value()).value().level, 1);
  EXPECT_EQ(DropToLevel(ctx_, b, 2).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_LT(MaxError(Dec(DropToLevel(ctx_, a, 0).value()), x), kFresh);
  const Ciphertext squared = Multiply(ctx_, a, a).value();
  auto scale = Add(ctx_, squared, a);
  EXPECT_EQ(scale.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(scale.status().message()), HasSubstr("scales 2^80.0000 and 2^40.0000"));
  EXPECT_THAT(std::string(scale.status().message()), HasSubstr("rescale"));
  EXPECT_EQ(AddConstant(ctx_, a, 1e30).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MultiplyConstant(ctx_, a, 1.0, 0.0).status().code(), absl::StatusCode::kInvalidArgument);
  Ciphertext broken = a;
  broken.parts[1].data.resize(10);
  EXPECT_EQ(Negate(ctx_, broken).status().code(), absl::StatusCode::kInvalidArgument);
}

// MatchLevelAndScale brings x (level 2, scale 2^40) to the level and scale of a rescaled product, so that
// x * y + x can be added; it refuses what would need a rescale below the target.
TEST_F(EvaluatorTest, MatchLevelAndScale) {
  const auto x = Values(9), y = Values(10);
  const Ciphertext cx = Enc(x), cy = Enc(y);
  Ciphertext xy = Rescale(ctx_, MultiplyPlain(ctx_, cx, ctx_.Encode(y, kScale, 2).value()).value()).value();
  auto mismatch = Add(ctx_, xy, cx);
  EXPECT_THAT(std::string(mismatch.status().message()), HasSubstr("MatchLevelAndScale"));
  Ciphertext matched = cx;
  ASSERT_TRUE(MatchLevelAndScale(ctx_, xy.level, xy.scale, &matched).ok());
  EXPECT_EQ(matched.level, 1);
  std::vector<Complex> expected(x.size());
  for (size_t i = 0; i < x.size(); ++i) expected[i] = x[i] * y[i] + x[i];
  // Product (3 fresh errors), the matched x (a fresh error and a rescale), the rescale of the product.
  EXPECT_LT(MaxError(Dec(Add(ctx_, xy, matched).value()), expected), 5 * kFresh);
  Ciphertext same_level = xy;
  EXPECT_EQ(MatchLevelAndScale(ctx_, 1, kScale * 3, &same_level).code(),
            absl::StatusCode::kFailedPrecondition);
  (void)cy;
}

}  // namespace
}  // namespace veil::he
