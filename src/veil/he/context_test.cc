#include "veil/he/context.h"

#include <cmath>
#include <complex>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "veil/he/he_test_util.h"
#include "veil/he/params.h"

namespace veil::he {
namespace {

using testing::Bn;
using testing::BnCrt;
using testing::BnCtx;
using testing::BnProduct;
using testing::TestRng;

CkksContext MakeContext(size_t n, std::vector<int> bits, std::vector<int> special) {
  auto params = CkksParametersBuilder()
                    .SetPolyDegree(n)
                    .SetCiphertextPrimeBits(bits)
                    .SetSpecialPrimeBits(special)
                    .Build();
  EXPECT_TRUE(params.ok()) << params.status();
  auto ctx = CkksContext::Create(*params);
  EXPECT_TRUE(ctx.ok()) << ctx.status();
  return std::move(ctx).value();
}

double Uniform(TestRng& rng) { return static_cast<double>(rng.Next() >> 11) * 0x1p-53 * 2 - 1; }

// Encode to RNS + NTT at every level, then decode: within the encoder's rounding bound N / (2 * scale).
TEST(CkksContextTest, EncodeDecodeAtEveryLevel) {
  const CkksContext ctx = MakeContext(8192, {60, 40, 40}, {60});
  EXPECT_EQ(ctx.prime_count(), 4u);
  EXPECT_EQ(ctx.slot_count(), 4096u);
  TestRng rng(40);
  std::vector<std::complex<double>> values(ctx.slot_count());
  for (auto& v : values) v = {Uniform(rng), Uniform(rng)};
  const double scale = 0x1p40;
  for (int level = 0; level <= ctx.max_level(); ++level) {
    auto pt = ctx.Encode(values, scale, level);
    ASSERT_TRUE(pt.ok()) << pt.status();
    EXPECT_EQ(pt->poly.limbs, static_cast<size_t>(level) + 1);
    auto decoded = ctx.Decode(*pt);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    double worst = 0;
    for (size_t j = 0; j < values.size(); ++j) worst = std::max(worst, std::abs((*decoded)[j] - values[j]));
    EXPECT_LT(worst, 8192 / (2 * scale)) << level;
  }
  EXPECT_EQ(ctx.Encode(values, scale, 3).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ctx.Encode(values, scale, -1).status().code(), absl::StatusCode::kInvalidArgument);
  Plaintext bad = ctx.Encode(values, scale, 1).value();
  bad.level = 2;
  EXPECT_EQ(ctx.Decode(bad).status().code(), absl::StatusCode::kInvalidArgument);
}

// The multi-word CRT of CenteredCoefficients against OpenSSL BN, on random residues at every level (values up
// to 130 bits), and on a small negative value.
TEST(CkksContextTest, CenteredCoefficientsMatchBigIntegerCrt) {
  const CkksContext ctx = MakeContext(8192, {50, 40, 40}, {40});
  const size_t n = ctx.n();
  TestRng rng(41);
  BnCtx bn_ctx(BN_CTX_new());
  for (int level = 0; level <= ctx.max_level(); ++level) {
    const size_t k = static_cast<size_t>(level) + 1;
    std::vector<uint64_t> primes;
    for (size_t i = 0; i < k; ++i) primes.push_back(ctx.modulus(i).value());
    RnsPoly poly(n, k, false);
    for (size_t c = 0; c < n; ++c) {
      for (size_t i = 0; i < k; ++i) poly.data[i * n + c] = c == 0 ? primes[i] - 5 : rng.Below(primes[i]);
    }
    const std::vector<double> got = ctx.CenteredCoefficients(poly, level);
    EXPECT_EQ(got[0], -5.0);
    Bn q = BnProduct(primes);
    for (size_t c = 0; c < 64; ++c) {
      std::vector<uint64_t> residues;
      for (size_t i = 0; i < k; ++i) residues.push_back(poly.data[i * n + c]);
      Bn x = BnCrt(residues, primes);
      Bn twice(BN_new());
      BN_lshift1(twice.get(), x.get());
      const bool negative = BN_cmp(twice.get(), q.get()) > 0;
      if (negative) BN_sub(x.get(), q.get(), x.get());
      char* dec = BN_bn2dec(x.get());
      const double expected = (negative ? -1 : 1) * std::strtod(dec, nullptr);
      OPENSSL_free(dec);
      EXPECT_DOUBLE_EQ(got[c], expected) << "level " << level << " coefficient " << c;
    }
  }
}

}  // namespace
}  // namespace veil::he
