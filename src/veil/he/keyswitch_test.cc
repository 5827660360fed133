#include "veil/he/keyswitch.h"

#include <cmath>
#include <complex>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/crypto/testing/deterministic_random.h"
#include "veil/he/evaluator.h"
#include "veil/he/he_test_util.h"
#include "veil/he/params.h"

namespace veil::he {
namespace {

using crypto::testing::DeterministicRandom;
using ::testing::HasSubstr;
using testing::MaxError;
using Complex = std::complex<double>;

constexpr double kScale = 0x1p40;
// Error bounds (slots, values of modulus <= 1, scale 2^40; keys.h and evaluator.h derive them): a fresh
// ciphertext has a slot error of about sqrt(N) * 335 / Delta (3e-8 at N = 8192, 4e-8 at 16384); key switching
// with P >= the largest ciphertext prime adds about dnum * alpha * q * sqrt(N) * 3.2 * sqrt(N) / (P * Delta)
// plus the ModDown rounding sqrt(N) * sqrt(N / 18) / Delta, both below 1e-8 here. kFresh = 1e-6 bounds one
// fresh error with a wide margin (30 standard deviations of the maximum over the slots); key switching is
// bounded by kSwitch = 1e-6 likewise.
constexpr double kFresh = 1e-6;
constexpr double kSwitch = 1e-6;

struct Setup {
  size_t n;
  std::vector<int> ciphertext_bits;
  std::vector<int> special_bits;
};

class KeySwitchTest : public ::testing::TestWithParam<Setup> {
 protected:
  KeySwitchTest()
      : ctx_(CkksContext::Create(CkksParametersBuilder()
                                     .SetPolyDegree(GetParam().n)
                                     .SetCiphertextPrimeBits(GetParam().ciphertext_bits)
                                     .SetSpecialPrimeBits(GetParam().special_bits)
                                     .Build()
                                     .value())
                 .value()),
        rng_(71),
        sk_(GenerateSecretKey(ctx_, rng_).value()),
        pk_(GeneratePublicKey(ctx_, sk_, rng_).value()),
        rk_(GenerateRelinKeys(ctx_, sk_, rng_).value()) {}

  std::vector<Complex> Values(uint64_t seed) { return testing::RandomSlots(ctx_.slot_count(), seed); }
  Ciphertext Enc(const std::vector<Complex>& v, int level, double scale = kScale) {
    return Encrypt(ctx_, pk_, ctx_.Encode(v, scale, level).value(), rng_).value();
  }
  std::vector<Complex> Dec(const Ciphertext& ct) {
    return ctx_.Decode(Decrypt(ctx_, sk_, ct, KeyOwnerOnly()).value()).value();
  }
  std::vector<Complex> Rotated(const std::vector<Complex>& v, int64_t steps) {
    const int64_t s = static_cast<int64_t>(v.size());
    std::vector<Complex> r(v.size());
    for (int64_t j = 0; j < s; ++j) r[j] = v[static_cast<size_t>(((j + steps) % s + s) % s)];
    return r;
  }

  CkksContext ctx_;
  DeterministicRandom rng_;
  SecretKey sk_;
  PublicKey pk_;
  RelinKeys rk_;
};

TEST_P(KeySwitchTest, RelinearizeAtEveryLevel) {
  const auto x = Values(1), y = Values(2);
  std::vector<Complex> xy(x.size());
  for (size_t i = 0; i < x.size(); ++i) xy[i] = x[i] * y[i];
  for (int level = ctx_.max_level(); level >= 0; --level) {
    // At level 0 the product's scale must stay below q_0 (50 or 60 bits): scale 2^24, errors 2^16 larger.
    const double scale = level == 0 ? 0x1p24 : kScale;
    const double unit = kScale / scale;
    const Ciphertext product = Multiply(ctx_, Enc(x, level, scale), Enc(y, level, scale)).value();
    const Ciphertext relin = Relinearize(ctx_, rk_, product).value();
    ASSERT_EQ(relin.parts.size(), 2u);
    EXPECT_EQ(relin.level, level);
    // |x|, |y| <= sqrt(2): product error <= 2 * sqrt(2) * kFresh, plus one key switch.
    EXPECT_LT(MaxError(Dec(relin), xy), unit * (3 * kFresh + kSwitch)) << "level " << level;
    if (level > 0) {
      const Ciphertext rescaled = Rescale(ctx_, relin).value();
      EXPECT_LT(MaxError(Dec(rescaled), xy), 3 * kFresh + 2 * kSwitch) << "level " << level;
    }
  }
}

TEST_P(KeySwitchTest, SquaresChainToLevelZero) {
  // x^(2^L) by repeated squaring with relinearization and rescaling, values on the unit circle so that the
  // magnitude stays 1; each squaring doubles the relative error and adds a key switch and a rescale.
  std::vector<Complex> x(ctx_.slot_count());
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::polar(1.0, 0.001 * static_cast<double>(i));
  Ciphertext ct = Enc(x, ctx_.max_level());
  std::vector<Complex> expected = x;
  double bound = kFresh;
  while (ct.level > 0) {
    ct = MultiplyRelinRescale(ctx_, rk_, ct, ct).value();
    for (auto& v : expected) v *= v;
    bound = 2 * bound + 2 * kSwitch;
    EXPECT_LT(MaxError(Dec(ct), expected), bound) << "level " << ct.level;
  }
}

TEST_P(KeySwitchTest, RotationsAndConjugation) {
  const std::vector<int64_t> steps = {3, -5};
  std::vector<int64_t> all = DefaultRotationSteps(ctx_);
  all.insert(all.end(), steps.begin(), steps.end());
  const GaloisKeys gk = GenerateGaloisKeys(ctx_, sk_, rng_, all).value();
  const auto x = Values(3);
  const Ciphertext ct = Enc(x, ctx_.max_level());
  const int64_t slots = static_cast<int64_t>(ctx_.slot_count());
  // Exact keys (1, -1, 3, -5, powers of two) and composed ones (7 = 8 - 1, 1000, -77, slots - 1).
  for (int64_t s : {int64_t{1}, int64_t{-1}, int64_t{3}, int64_t{-5}, int64_t{64}, int64_t{7}, int64_t{1000},
                    int64_t{-77}, slots - 1, slots + 2}) {
    const Ciphertext r = Rotate(ctx_, gk, ct, s).value();
    // A composed rotation is at most log2(slots) / 2 + 1 key switches.
    EXPECT_LT(MaxError(Dec(r), Rotated(x, s)), kFresh + 8 * kSwitch) << "steps " << s;
  }
  EXPECT_LT(MaxError(Dec(Rotate(ctx_, gk, ct, 0).value()), x), kFresh);
  std::vector<Complex> conj(x.size());
  for (size_t i = 0; i < x.size(); ++i) conj[i] = std::conj(x[i]);
  EXPECT_LT(MaxError(Dec(Conjugate(ctx_, gk, ct).value()), conj), kFresh + kSwitch);
  // At a lower level too.
  const Ciphertext low = Enc(x, 0);
  EXPECT_LT(MaxError(Dec(Rotate(ctx_, gk, low, 5).value()), Rotated(x, 5)), kFresh + 4 * kSwitch);
}

TEST_P(KeySwitchTest, RotateAndSum) {
  const GaloisKeys gk = GenerateGaloisKeys(ctx_, sk_, rng_).value();
  const auto x = Values(4);
  Ciphertext ct = Enc(x, ctx_.max_level());
  Ciphertext partial = ct;
  ASSERT_TRUE(RotateAndSumInplace(ctx_, gk, 8, &partial).ok());
  ASSERT_TRUE(RotateAndSumInplace(ctx_, gk, ctx_.slot_count(), &ct).ok());
  Complex total = 0;
  for (const Complex& v : x) total += v;
  std::vector<Complex> expected(x.size(), total), window(x.size());
  for (size_t j = 0; j < x.size(); ++j) {
    for (size_t t = 0; t < 8; ++t) window[j] += x[(j + t) % x.size()];
  }
  // Each of the log2(count) doublings doubles the accumulated error and adds a key switch.
  const double bound_all = static_cast<double>(ctx_.slot_count()) * (kFresh + kSwitch);
  EXPECT_LT(MaxError(Dec(ct), expected), bound_all);
  EXPECT_LT(MaxError(Dec(partial), window), 8 * (kFresh + kSwitch));
  EXPECT_EQ(RotateAndSumInplace(ctx_, gk, 3, &ct).code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(KeySwitchTest, MissingKeysAreNamed) {
  const std::vector<int64_t> only = {1};
  const GaloisKeys gk = GenerateGaloisKeys(ctx_, sk_, rng_, only, /*conjugation=*/false).value();
  const Ciphertext ct = Enc(Values(5), ctx_.max_level());
  auto r = Rotate(ctx_, gk, ct, 6);  // 6 = 8 - 2
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("-2, 8"));
  EXPECT_EQ(Conjugate(ctx_, gk, ct).status().code(), absl::StatusCode::kNotFound);
  const Ciphertext product = Multiply(ctx_, ct, ct).value();
  EXPECT_THAT(std::string(Rotate(ctx_, gk, product, 1).status().message()), HasSubstr("relinearize"));
}

INSTANTIATE_TEST_SUITE_P(Params, KeySwitchTest,
                         ::testing::Values(Setup{8192, {60, 40, 40}, {60}},
                                           // Two special primes: digits of two primes, BEHZ ModUp/ModDown.
                                           Setup{16384, {50, 40, 40, 40}, {50, 50}}));

TEST(GaloisTest, ElementsAndPermutation) {
  const CkksContext ctx = CkksContext::Create(CkksParametersBuilder()
                                                  .SetPolyDegree(4096)
                                                  .SetCiphertextPrimeBits({40})
                                                  .SetSpecialPrimeBits({40})
                                                  .Build()
                                                  .value())
                              .value();
  EXPECT_EQ(GaloisElementForRotation(ctx, 0), 1u);
  EXPECT_EQ(GaloisElementForRotation(ctx, 1), 5u);
  EXPECT_EQ(GaloisElementForRotation(ctx, 2), 25u);
  // 5^-1 mod 8192 times 5 is 1.
  EXPECT_EQ(GaloisElementForRotation(ctx, -1) * 5 % 8192, 1u);
  EXPECT_EQ(GaloisElementForConjugation(ctx), 8191u);
  EXPECT_EQ(GaloisNttPermutation(ctx, 2).status().code(), absl::StatusCode::kInvalidArgument);
  // The permutation is tau_g on coefficients: NTT(a(X^g)) == perm(NTT(a)) for a random polynomial.
  const Modulus& q = ctx.modulus(0);
  testing::TestRng r(5);
  std::vector<uint64_t> a(4096), ag(4096, 0);
  for (auto& v : a) v = r.Next() % q.value();
  const uint64_t g = 5;
  for (size_t i = 0; i < a.size(); ++i) {
    const uint64_t e = i * g % 8192;  // X^(i g), X^N = -1
    if (e < 4096) {
      ag[e] = q.Add(ag[e], a[i]);
    } else {
      ag[e - 4096] = q.Sub(ag[e - 4096], a[i]);
    }
  }
  ForwardNtt(ctx.ntt(0), a);
  ForwardNtt(ctx.ntt(0), ag);
  const std::vector<uint32_t> perm = GaloisNttPermutation(ctx, g).value();
  for (size_t k = 0; k < a.size(); ++k) ASSERT_EQ(ag[k], a[perm[k]]) << k;
}

}  // namespace
}  // namespace veil::he
