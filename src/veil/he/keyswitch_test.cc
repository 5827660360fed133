#include "veil/he/keyswitch.h"

#include <algorithm>
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
namespace keyswitch_test {
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

// A direct transcription of hybrid key switching (keyswitch.h) with schoolbook arithmetic (128-bit %), the
// portable NTT and the BEHZ formula evaluated term by term, to check the optimised core (lazy sums, IFMA
// kernels, skipped reductions) value for value.
uint64_t RefMul(uint64_t a, uint64_t b, uint64_t m) { return static_cast<uint64_t>(uint128_t{a} * b % m); }
uint64_t RefInverse(uint64_t a, uint64_t m) {
  uint64_t r = 1, e = m - 2;  // Fermat
  for (a %= m; e != 0; e >>= 1, a = RefMul(a, a, m)) {
    if (e & 1) r = RefMul(r, a, m);
  }
  return r;
}
// BEHZ FastBconv from the primes `from` to p of limbs x (one per prime of `from`, n coefficients each):
// sum_i [x_i (Q/q_i)^-1]_{q_i} (Q/q_i) mod p.
std::vector<uint64_t> RefFastConvert(const std::vector<const uint64_t*>& x, const std::vector<uint64_t>& from,
                                     uint64_t p, size_t n) {
  std::vector<uint64_t> sum(n, 0);
  for (size_t i = 0; i < from.size(); ++i) {
    uint64_t hat_mod_qi = 1, hat_mod_p = 1;
    for (size_t l = 0; l < from.size(); ++l) {
      if (l == i) continue;
      hat_mod_qi = RefMul(hat_mod_qi, from[l] % from[i], from[i]);
      hat_mod_p = RefMul(hat_mod_p, from[l] % p, p);
    }
    const uint64_t inv = RefInverse(hat_mod_qi, from[i]);
    for (size_t c = 0; c < n; ++c)
      sum[c] = (sum[c] + RefMul(RefMul(x[i][c], inv, from[i]), hat_mod_p, p)) % p;
  }
  return sum;
}

void ReferenceKeySwitch(const CkksContext& ctx, const KeySwitchKey& key, const RnsPoly& d, int level,
                        RnsPoly* out0, RnsPoly* out1) {
  const size_t n = ctx.n(), l1 = static_cast<size_t>(level) + 1;
  const size_t alpha = ctx.params().special_primes().size(), first_special = ctx.max_level() + 1;
  const size_t ext = l1 + alpha, dnum = (l1 + alpha - 1) / alpha;
  auto index = [&](size_t t) { return t < l1 ? t : first_special + (t - l1); };
  auto prime = [&](size_t t) { return ctx.modulus(index(t)).value(); };
  std::vector<std::vector<uint64_t>> coeff(l1);
  for (size_t i = 0; i < l1; ++i) {
    coeff[i].assign(d.data.begin() + i * n, d.data.begin() + (i + 1) * n);
    InverseNtt(ctx.ntt(i), coeff[i], NttBackend::kPortable);
  }
  std::vector<std::vector<uint64_t>> acc0(ext, std::vector<uint64_t>(n, 0)), acc1 = acc0;
  for (size_t j = 0; j < dnum; ++j) {
    std::vector<uint64_t> digit_primes;
    for (size_t i = j * alpha; i < std::min(l1, (j + 1) * alpha); ++i) digit_primes.push_back(prime(i));
    for (size_t t = 0; t < ext; ++t) {
      const uint64_t p = prime(t);
      std::vector<uint64_t> v(n);
      if (t >= j * alpha && t < j * alpha + digit_primes.size()) {
        v.assign(d.data.begin() + t * n, d.data.begin() + (t + 1) * n);
      } else {
        std::vector<const uint64_t*> x;
        for (size_t i = 0; i < digit_primes.size(); ++i) x.push_back(coeff[j * alpha + i].data());
        v = RefFastConvert(x, digit_primes, p, n);
        ForwardNtt(ctx.ntt(index(t)), v, NttBackend::kPortable);
      }
      for (size_t c = 0; c < n; ++c) {
        acc0[t][c] = (acc0[t][c] + RefMul(v[c], key.b[j].data[index(t) * n + c], p)) % p;
        acc1[t][c] = (acc1[t][c] + RefMul(v[c], key.a[j].data[index(t) * n + c], p)) % p;
      }
    }
  }
  std::vector<uint64_t> special;
  for (size_t s = 0; s < alpha; ++s) special.push_back(prime(l1 + s));
  for (int part = 0; part < 2; ++part) {
    std::vector<std::vector<uint64_t>>& acc = part == 0 ? acc0 : acc1;
    RnsPoly* out = part == 0 ? out0 : out1;
    *out = RnsPoly(n, l1, true);
    for (size_t s = 0; s < alpha; ++s)
      InverseNtt(ctx.ntt(first_special + s), acc[l1 + s], NttBackend::kPortable);
    for (size_t i = 0; i < l1; ++i) {
      const uint64_t q = prime(i);
      uint64_t big_p = 1;
      for (uint64_t p : special) big_p = RefMul(big_p, p % q, q);
      std::vector<uint64_t> t(n);
      if (alpha == 1) {  // the centered representative modulo P
        for (size_t c = 0; c < n; ++c) {
          const uint64_t v = acc[l1][c];
          t[c] = v > special[0] / 2 ? (v % q + q - special[0] % q) % q : v % q;
        }
      } else {
        std::vector<const uint64_t*> x;
        for (size_t s = 0; s < alpha; ++s) x.push_back(acc[l1 + s].data());
        t = RefFastConvert(x, special, q, n);
      }
      ForwardNtt(ctx.ntt(i), t, NttBackend::kPortable);
      for (size_t c = 0; c < n; ++c) {
        out->data[i * n + c] = RefMul((acc[i][c] + q - t[c]) % q, RefInverse(big_p, q), q);
      }
    }
  }
}

TEST_P(KeySwitchTest, CoreMatchesReference) {
  testing::TestRng r(17);
  for (int level : {ctx_.max_level(), 1}) {
    const size_t l1 = static_cast<size_t>(level) + 1, n = ctx_.n();
    RnsPoly d(n, l1, true);
    for (size_t i = 0; i < l1; ++i) {
      for (uint64_t& v : d.limb(i)) v = r.Below(ctx_.modulus(i).value());
    }
    d.data[0] = ctx_.modulus(0).value() - 1;
    RnsPoly want0, want1, got0, got1;
    ReferenceKeySwitch(ctx_, rk_.key, d, level, &want0, &want1);
    internal::KeySwitch(ctx_, rk_.key, d.data, level, &got0, &got1, /*accumulate=*/false);
    ASSERT_EQ(got0.data, want0.data) << "level " << level;
    ASSERT_EQ(got1.data, want1.data) << "level " << level;
  }
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
}  // namespace keyswitch_test
}  // namespace veil::he
