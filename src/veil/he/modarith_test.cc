#include "veil/he/modarith.h"

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "veil/he/he_test_util.h"

namespace veil::he {
namespace {

using testing::BnIsPrime;
using testing::TestRng;

uint64_t NaiveMulMod(uint64_t a, uint64_t b, uint64_t q) {
  return static_cast<uint64_t>((static_cast<uint128_t>(a) * b) % q);
}

TEST(ModulusTest, CreateRejectsOutOfRange) {
  EXPECT_EQ(Modulus::Create(0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Modulus::Create(1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Modulus::Create(uint64_t{1} << 61).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Modulus::Create((uint64_t{1} << 61) - 1).ok());
}

TEST(ModulusTest, BarrettConstantIsFloorOf2To128OverQ) {
  // 2^128 / 3 = 0x5555...5555 (with remainder 1); 2^128 / 2^40 = 2^88.
  auto m3 = Modulus::Create(3).value();
  EXPECT_EQ(m3.barrett_lo(), 0x5555555555555555ULL);
  EXPECT_EQ(m3.barrett_hi(), 0x5555555555555555ULL);
  auto m40 = Modulus::Create(uint64_t{1} << 40).value();
  EXPECT_EQ(m40.barrett_lo(), 0u);
  EXPECT_EQ(m40.barrett_hi(), uint64_t{1} << 24);
}

TEST(ModulusTest, ReduceAndMulMatchNaiveForManySizes) {
  TestRng rng(1);
  for (uint64_t q : std::vector<uint64_t>{2, 3, 17, 65537, 1099511480321ULL, (uint64_t{1} << 50) - 27,
                                          1152921504606830593ULL, (uint64_t{1} << 61) - 1}) {
    auto m = Modulus::Create(q).value();
    for (uint64_t x : {uint64_t{0}, q - 1, q, 2 * q - 1, ~uint64_t{0}}) EXPECT_EQ(m.Reduce(x), x % q) << q;
    for (int i = 0; i < 20000; ++i) {
      const uint64_t x = rng.Next();
      EXPECT_EQ(m.Reduce(x), x % q);
      const uint64_t a = rng.Below(q), b = rng.Below(q);
      ASSERT_EQ(m.Mul(a, b), NaiveMulMod(a, b, q)) << q << " " << a << " " << b;
      // Any 128-bit value below q * 2^64.
      const uint128_t wide = (static_cast<uint128_t>(rng.Below(q)) << 64) | rng.Next();
      ASSERT_EQ(m.Reduce128(wide), static_cast<uint64_t>(wide % q));
      // Any 128-bit value below 2^(bits + 63), ReduceProduct's range.
      const uint128_t shifted = ((static_cast<uint128_t>(rng.Next()) << 64) | rng.Next()) >> (65 - m.bits());
      ASSERT_EQ(m.ReduceProduct(shifted), static_cast<uint64_t>(shifted % q));
      EXPECT_EQ(m.Add(a, b), (a + b) % q);
      EXPECT_EQ(m.Sub(a, b), (a + q - b) % q);
      EXPECT_EQ(m.Add(m.Neg(a), a), 0u);
    }
    // The largest operands, and the top of ReduceProduct's range.
    EXPECT_EQ(m.Mul(q - 1, q - 1), NaiveMulMod(q - 1, q - 1, q));
    for (uint128_t x : {(uint128_t{1} << (m.bits() + 63)) - 1, (uint128_t{1} << (m.bits() + 63)) - q,
                        static_cast<uint128_t>(q) * q - 1}) {
      EXPECT_EQ(m.ReduceProduct(x), static_cast<uint64_t>(x % q)) << q;
    }
  }
}

TEST(ShoupTest, LazyResultIsBelowTwoQAndCongruent) {
  TestRng rng(2);
  for (uint64_t q :
       std::vector<uint64_t>{17, 1099511480321ULL, 1152921504606830593ULL, (uint64_t{1} << 61) - 1}) {
    for (int i = 0; i < 20000; ++i) {
      const uint64_t w = rng.Below(q);
      const uint64_t ws = ShoupPrecompute(w, q);
      const uint64_t x = i == 0 ? ~uint64_t{0} : rng.Next();  // any 64-bit input
      const uint64_t lazy = MulShoupLazy(x, w, ws, q);
      ASSERT_LT(lazy, 2 * q);
      ASSERT_EQ(lazy % q, NaiveMulMod(x % q, w, q));
      ASSERT_EQ(MulShoup(x, w, ws, q), NaiveMulMod(x % q, w, q));
    }
  }
}

TEST(PowModTest, KnownAnswersAndInverse) {
  auto m = Modulus::Create(17).value();
  EXPECT_EQ(PowMod(3, 8, m), 16u);  // 3 has order 16 mod 17: 3^8 = -1
  EXPECT_EQ(PowMod(3, 16, m), 1u);
  EXPECT_EQ(PowMod(5, 0, m), 1u);
  EXPECT_EQ(InvertMod(3, m).value(), 6u);  // 3 * 6 = 18 = 1 mod 17
  EXPECT_EQ(InvertMod(34, m).status().code(), absl::StatusCode::kInvalidArgument);
  auto big = Modulus::Create(1152921504606830593ULL).value();
  TestRng rng(3);
  for (int i = 0; i < 100; ++i) {
    const uint64_t a = 1 + rng.Below(big.value() - 1);
    EXPECT_EQ(big.Mul(a, InvertMod(a, big).value()), 1u);
  }
}

TEST(IsPrimeTest, KnownPrimesCompositesAndPseudoprimes) {
  EXPECT_FALSE(IsPrime(0));
  EXPECT_FALSE(IsPrime(1));
  EXPECT_TRUE(IsPrime(2));
  EXPECT_TRUE(IsPrime(37));
  EXPECT_FALSE(IsPrime(561));                      // Carmichael number
  EXPECT_FALSE(IsPrime(3215031751ULL));            // strong pseudoprime to bases 2, 3, 5, 7
  EXPECT_FALSE(IsPrime(3825123056546413051ULL));   // strong pseudoprime to bases 2..23
  EXPECT_TRUE(IsPrime((uint64_t{1} << 61) - 1));   // Mersenne prime M61
  EXPECT_TRUE(IsPrime(18446744073709551557ULL));   // largest 64-bit prime, 2^64 - 59
  EXPECT_FALSE(IsPrime(18446744073709551559ULL));  // 2^64 - 57
}

TEST(IsPrimeTest, AgreesWithOpenSsl) {
  TestRng rng(4);
  int primes = 0;
  for (int i = 0; i < 3000; ++i) {
    const uint64_t n = (rng.Next() >> 3) | 1;  // odd, up to 61 bits
    const bool ours = IsPrime(n);
    ASSERT_EQ(ours, BnIsPrime(n)) << n;
    primes += ours;
  }
  EXPECT_GT(primes, 20);  // about 3000 * 2 / ln(2^61) = 141 expected; the comparison saw both answers
}

TEST(PrimitiveRootTest, SmallestPrimitive2NthRoot) {
  // Mod 17 the primitive 16th roots are the generators 3, 5, 6, 7, 10, 11, 12, 14; the smallest is 3.
  auto m17 = Modulus::Create(17).value();
  EXPECT_EQ(MinimalPrimitiveRoot(8, m17).value(), 3u);
  // Primitive 8th roots mod 17 are 2, 8, 9, 15 (2^4 = 16 = -1).
  EXPECT_EQ(MinimalPrimitiveRoot(4, m17).value(), 2u);
  EXPECT_EQ(MinimalPrimitiveRoot(16, m17).status().code(), absl::StatusCode::kInvalidArgument);
  auto m = Modulus::Create(1152921504606830593ULL).value();  // 1 mod 2^15
  const uint64_t psi = MinimalPrimitiveRoot(8192, m).value();
  EXPECT_EQ(PowMod(psi, 8192, m), m.value() - 1);
}

}  // namespace
}  // namespace veil::he
