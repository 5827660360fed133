// Randomized parameter sets: N, the scale, the depth, the first prime's margin and the number of special
// primes are drawn from a fixed seed, the chain is built by bit sizes and must pass the builder's 128-bit
// security bound (draws above it are redrawn), and on every set encryption, multiplication with
// relinearization and rescaling, and a rotation keep the precision the parameters predict.
//
// Error bounds, in slots, derived from the parameters (sigma = 3.24 is the error's standard deviation, Delta
// the scale). A slot is an evaluation m(zeta) at a primitive 2N-th root of unity zeta:
//   - a polynomial of N independent centered coefficients of standard deviation t has m(zeta) about complex
//     Gaussian with E|m(zeta)|^2 = N t^2: over all N/2 slots |m(zeta)| < kT1 = 5 times t sqrt(N)
//     (probability N exp(-25) of exceeding it);
//   - a product of two such independent polynomials (e u, e1 s, ModUp(d) e) has |a(zeta) b(zeta)| with a
//     heavier tail (P(|a b| > x |a|_rms |b|_rms) ~ sqrt(pi x) exp(-2 x)): kT2 = 11 (probability below 1e-9
//     per slot);
//   - a mean mu in every coefficient evaluates to mu |sum_k zeta^k| = 2 mu / |1 - zeta|, up to 2 mu N / pi at
//     the roots next to 1: uncentered terms give their largest errors in a few slots (per-coefficient
//     figures do not show it).
// Terms: fresh (public-key) encryption e0 + e u + e1 s (u, s ternary of density 2/3: |s(zeta)|_rms =
// sqrt(2N / 3)) plus the encoder's rounding (at most N / 2); the product of two ciphertexts: |x| e_y + |y|
// e_x
// + e_x e_y below 3 fresh for |x|, |y| <= sqrt(2); a rounding r0 + r1 s (rescale: centered, standard
// deviation 1 / sqrt(12), at the new scale Delta' >= Delta / 2); key switching (keyswitch.h): the ModDown
// rounding (centered for one special prime; for alpha > 1 BEHZ's [C]_P is in [0, alpha P), mean alpha / 2)
// and sum_j ModUp(d)_j e_j / P, where ModUp(d)_j is an uncentered lift in [0, M_j), M_j = alpha Q_Dj (BEHZ
// adds u Q_Dj with u < alpha), mean M_j / 2, and M_j / P <= alpha 2^(bits of digit j - bits of P + alpha) for
// b-bit primes in [2^(b-1), 2^b).
#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "veil/crypto/testing/deterministic_random.h"
#include "veil/he/context.h"
#include "veil/he/evaluator.h"
#include "veil/he/he_test_util.h"
#include "veil/he/keys.h"
#include "veil/he/keyswitch.h"
#include "veil/he/params.h"

namespace veil::he {
namespace {

using crypto::testing::DeterministicRandom;
using testing::MaxError;
using testing::TestRng;
using Complex = std::complex<double>;

constexpr double kT1 = 5;
constexpr double kT2 = 11;
constexpr double kSigma = 3.24;

struct Drawn {
  size_t n = 0;
  int scale_bits = 0;
  std::vector<int> ciphertext_bits, special_bits;
  std::string Describe() const {
    return absl::StrCat("N = ", n, ", scale 2^", scale_bits, ", primes {",
                        absl::StrJoin(ciphertext_bits, ", "), "} + {", absl::StrJoin(special_bits, ", "),
                        "}");
  }
};

// A parameter set within the security bound: N in 4096..32768, scale 2^30..2^40, 1..3 levels, a first prime
// 5..20 bits above the scale (at most 60), 1 or 2 special primes as large as the first prime.
Drawn Draw(TestRng& rng) {
  const size_t n = size_t{4096} << rng.Below(4);
  for (;;) {
    Drawn d;
    d.n = n;
    d.scale_bits = 30 + static_cast<int>(rng.Below(11));
    const int first = std::min(60, d.scale_bits + 5 + static_cast<int>(rng.Below(16)));
    d.ciphertext_bits.assign(1 + rng.Below(3), d.scale_bits);
    d.ciphertext_bits.insert(d.ciphertext_bits.begin(), first);
    d.special_bits.assign(1 + rng.Below(2), first);
    const double total = first * (1.0 + static_cast<double>(d.special_bits.size())) +
                         d.scale_bits * static_cast<double>(d.ciphertext_bits.size() - 1);
    if (total <= MaxModulusBitsFor128BitSecurity(d.n).value()) return d;  // bits(q) >= log2(q)
  }
}

class RandomParamsTest : public ::testing::TestWithParam<uint64_t> {};

TEST_P(RandomParamsTest, PrecisionHoldsOnADrawnParameterSet) {
  TestRng rng(GetParam());
  const Drawn d = Draw(rng);
  SCOPED_TRACE(d.Describe());
  const CkksParameters params = CkksParametersBuilder()
                                    .SetPolyDegree(d.n)
                                    .SetCiphertextPrimeBits(d.ciphertext_bits)
                                    .SetSpecialPrimeBits(d.special_bits)
                                    .Build()
                                    .value();
  ASSERT_LE(params.total_modulus_bits(), params.max_modulus_bits());
  const CkksContext ctx = CkksContext::Create(params).value();
  DeterministicRandom random(GetParam());
  const SecretKey sk = GenerateSecretKey(ctx, random).value();
  const PublicKey pk = GeneratePublicKey(ctx, sk, random).value();
  const RelinKeys rk = GenerateRelinKeys(ctx, sk, random).value();
  const int64_t step = 1 + static_cast<int64_t>(rng.Below(ctx.slot_count() - 1));
  const std::vector<int64_t> steps = {step};
  const GaloisKeys gk = GenerateGaloisKeys(ctx, sk, random, steps, /*conjugation=*/false).value();

  const double n = static_cast<double>(d.n), delta = std::ldexp(1.0, d.scale_bits);
  const size_t alpha = d.special_bits.size();
  const double e_rms = kSigma * std::sqrt(n), s_rms = std::sqrt(2 * n / 3), spike = 2 * n / M_PI;
  const double fresh = (kT1 * e_rms + 2 * kT2 * e_rms * s_rms + n / 2) / delta;
  // r0 + r1 s for coefficients of mean `mean` and standard deviation `spread`.
  auto rounding = [&](double mean, double spread) {
    return mean * spike + kT1 * spread * std::sqrt(n) + mean * spike * kT1 * s_rms +
           kT2 * spread * std::sqrt(n) * s_rms;
  };
  const double rescale = rounding(0, 1 / std::sqrt(12.0)) / (delta / 2);
  int special_total = 0;
  for (int b : d.special_bits) special_total += b;
  double lift = 0;  // sum_j |ModUp(d)_j(zeta) e_j(zeta)| / P
  for (size_t first = 0; first < d.ciphertext_bits.size(); first += alpha) {
    int digit_bits = 0;
    for (size_t i = first; i < std::min(first + alpha, d.ciphertext_bits.size()); ++i) {
      digit_bits += d.ciphertext_bits[i];
    }
    const double m_over_p =
        static_cast<double>(alpha) * std::ldexp(1.0, digit_bits - special_total + static_cast<int>(alpha));
    lift += m_over_p * (spike / 2 * kT1 + kT2 * std::sqrt(n / 12)) * e_rms;
  }
  const double a = static_cast<double>(alpha);
  const double switch_error = lift + rounding(alpha == 1 ? 0 : a / 2, a / std::sqrt(12.0));
  auto key_switch = [&](double scale) { return switch_error / scale; };

  const std::vector<Complex> x = testing::RandomSlots(ctx.slot_count(), GetParam() + 1);
  const std::vector<Complex> y = testing::RandomSlots(ctx.slot_count(), GetParam() + 2);
  const int top = ctx.max_level();
  auto enc = [&](const std::vector<Complex>& v) {
    return Encrypt(ctx, pk, ctx.Encode(v, delta, top).value(), random).value();
  };
  auto dec = [&](const Ciphertext& ct) {
    return ctx.Decode(Decrypt(ctx, sk, ct, KeyOwnerOnly()).value()).value();
  };
  const Ciphertext cx = enc(x), cy = enc(y);
  EXPECT_LT(MaxError(dec(cx), x), fresh);

  std::vector<Complex> xy(x.size()), rotated(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    xy[i] = x[i] * y[i];
    rotated[i] = x[(i + static_cast<size_t>(step)) % x.size()];
  }
  const Ciphertext product = MultiplyRelinRescale(ctx, rk, cx, cy).value();
  EXPECT_EQ(product.level, top - 1);
  EXPECT_LT(MaxError(dec(product), xy), 3 * fresh + rescale + key_switch(delta * delta));

  EXPECT_LT(MaxError(dec(Rotate(ctx, gk, cx, step).value()), rotated), fresh + key_switch(delta))
      << "step " << step;
}

INSTANTIATE_TEST_SUITE_P(Seeds, RandomParamsTest, ::testing::Values(1, 2, 3, 4, 5, 6, 7, 8));

}  // namespace
}  // namespace veil::he
