#include "veil/he/context.h"

#include <openssl/bn.h>

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
using testing::BnModWord;
using testing::BnProduct;
using testing::NewBn;
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

// The value of a BIGNUM magnitude as CenteredCoefficients converts it: Horner over its 64-bit words from the
// top, r = r * 2^64 + word.
double HornerDouble(const BIGNUM* x) {
  std::vector<uint8_t> bytes(BN_num_bytes(x) + 8);
  BN_bn2lebinpad(x, bytes.data(), static_cast<int>(bytes.size()));
  double r = 0;
  for (size_t i = bytes.size() / 8; i-- > 0;) {
    uint64_t word = 0;
    for (int b = 7; b >= 0; --b) word = (word << 8) | bytes[8 * i + b];
    r = r * 0x1p64 + static_cast<double>(word);
  }
  return r;
}

// CenteredCoefficients against OpenSSL BN, exactly (the same integer, converted the same way): random
// residues at every level (values up to 130 bits), small values of both signs, and values next to +-Q/2,
// where the fast path's double-precision rounding estimate is ambiguous and the exact multi-word path
// decides.
TEST(CkksContextTest, CenteredCoefficientsMatchBigIntegerCrt) {
  const CkksContext ctx = MakeContext(8192, {50, 40, 40}, {40});
  const size_t n = ctx.n();
  TestRng rng(41);
  BnCtx bn_ctx(BN_CTX_new());
  for (int level = 0; level <= ctx.max_level(); ++level) {
    const size_t k = static_cast<size_t>(level) + 1;
    std::vector<uint64_t> primes;
    for (size_t i = 0; i < k; ++i) primes.push_back(ctx.modulus(i).value());
    Bn q = BnProduct(primes);
    // Coefficient c's value: random for most; for c < 8: -5, 5, and floor(Q/2) - 1 .. floor(Q/2) + 3.
    std::vector<Bn> special;
    for (int64_t v : {-5, 5}) {
      Bn x = NewBn(static_cast<uint64_t>(std::abs(v)));
      if (v < 0) BN_sub(x.get(), q.get(), x.get());
      special.push_back(std::move(x));
    }
    for (int64_t d = -1; d <= 3; ++d) {
      Bn x(BN_new());
      BN_rshift1(x.get(), q.get());
      Bn delta = NewBn(static_cast<uint64_t>(std::abs(d)));
      if (d < 0) {
        BN_sub(x.get(), x.get(), delta.get());
      } else {
        BN_add(x.get(), x.get(), delta.get());
      }
      special.push_back(std::move(x));
    }
    RnsPoly poly(n, k, false);
    for (size_t c = 0; c < n; ++c) {
      for (size_t i = 0; i < k; ++i) {
        poly.data[i * n + c] =
            c < special.size() ? BnModWord(special[c].get(), primes[i]) : rng.Below(primes[i]);
      }
    }
    const std::vector<double> got = ctx.CenteredCoefficients(poly, level);
    EXPECT_EQ(got[0], -5.0);
    EXPECT_EQ(got[1], 5.0);
    for (size_t c = 0; c < 2048; ++c) {
      std::vector<uint64_t> residues;
      for (size_t i = 0; i < k; ++i) residues.push_back(poly.data[i * n + c]);
      Bn x = BnCrt(residues, primes);
      Bn twice(BN_new());
      BN_lshift1(twice.get(), x.get());
      const bool negative = BN_cmp(twice.get(), q.get()) > 0;
      if (negative) BN_sub(x.get(), q.get(), x.get());
      const double expected = negative ? -HornerDouble(x.get()) : HornerDouble(x.get());
      ASSERT_EQ(got[c], expected) << "level " << level << " coefficient " << c;
    }
  }
}

}  // namespace
}  // namespace veil::he
