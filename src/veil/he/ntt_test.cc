#include "veil/he/ntt.h"

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "veil/he/he_test_util.h"
#include "veil/he/params.h"

namespace veil::he {
namespace {

using testing::TestRng;

size_t BitReverse(size_t x, int bits) {
  size_t r = 0;
  for (int i = 0; i < bits; ++i, x >>= 1) r = (r << 1) | (x & 1);
  return r;
}

// a(psi^(2 * bitrev(k) + 1)) for every k: the O(N^2) definition of the transform (ntt.h).
std::vector<uint64_t> NaiveNegacyclicNtt(const std::vector<uint64_t>& a, uint64_t psi, const Modulus& q) {
  const size_t n = a.size();
  const int log_n = std::countr_zero(n);
  std::vector<uint64_t> out(n);
  for (size_t k = 0; k < n; ++k) {
    const uint64_t point = PowMod(psi, 2 * BitReverse(k, log_n) + 1, q);
    uint64_t acc = 0, power = 1;
    for (size_t j = 0; j < n; ++j) {
      acc = q.Add(acc, q.Mul(a[j], power));
      power = q.Mul(power, point);
    }
    out[k] = acc;
  }
  return out;
}

// a * b mod (X^n + 1, q), schoolbook.
std::vector<uint64_t> SchoolbookNegacyclic(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b,
                                           const Modulus& q) {
  const size_t n = a.size();
  std::vector<uint64_t> c(n, 0);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < n; ++j) {
      const uint64_t p = q.Mul(a[i], b[j]);
      if (i + j < n) {
        c[i + j] = q.Add(c[i + j], p);
      } else {
        c[i + j - n] = q.Sub(c[i + j - n], p);  // X^n = -1
      }
    }
  }
  return c;
}

std::vector<uint64_t> RandomPoly(size_t n, uint64_t bound, TestRng& rng) {
  std::vector<uint64_t> v(n);
  for (auto& x : v) x = rng.Below(bound);
  return v;
}

std::vector<NttBackend> Backends(const NttTables& t) {
  if (t.ifma_applies()) return {NttBackend::kPortable, NttBackend::kIfma};
  return {NttBackend::kPortable};
}

TEST(NttTablesTest, RejectsBadLengthAndModulus) {
  auto q17 = Modulus::Create(17).value();
  EXPECT_EQ(NttTables::Create(6, q17).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(NttTables::Create(1, q17).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(NttTables::Create(16, q17).status().code(),
            absl::StatusCode::kInvalidArgument);  // 17 != 1 mod 32
  EXPECT_TRUE(NttTables::Create(8, q17).ok());
}

// Hand-checkable: N = 4, q = 17, psi = 2 (the smallest primitive 8th root mod 17; 2^4 = 16 = -1). The odd
// powers in bit-reversed order are psi^1, psi^5, psi^3, psi^7 = 2, 15, 8, 9. For a(X) = 1 + 2X + 3X^2 + 4X^3:
//   a(2)  = 1 + 4 + 12 + 32 = 49 = 15,   a(15) = a(-2) = 1 - 4 + 12 - 32 = -23 = 11,
//   a(8)  = 1 + 16 + 192 + 2048 = 2257 = 13 (2257 = 132 * 17 + 13),   a(9) = 1 + 18 + 243 + 2916 = 3178 = 16.
TEST(NttTest, HandCheckedN4Mod17) {
  auto q = Modulus::Create(17).value();
  auto tables = NttTables::Create(4, q).value();
  EXPECT_EQ(tables.root(), 2u);
  std::vector<uint64_t> a = {1, 2, 3, 4};
  ForwardNtt(tables, a);
  EXPECT_EQ(a, (std::vector<uint64_t>{15, 11, 13, 16}));
  InverseNtt(tables, a);
  EXPECT_EQ(a, (std::vector<uint64_t>{1, 2, 3, 4}));
}

TEST(NttTest, MatchesNaiveEvaluationForSmallN) {
  TestRng rng(10);
  for (size_t n : {2u, 4u, 8u, 16u, 32u, 64u}) {
    for (int bits : {20, 40, 49, 50, 60, 61}) {
      const uint64_t prime = GenerateNttPrimes(n, {bits}).value()[0];
      auto q = Modulus::Create(prime).value();
      auto tables = NttTables::Create(n, q).value();
      const auto a = RandomPoly(n, prime, rng);
      const auto expected = NaiveNegacyclicNtt(a, tables.root(), q);
      for (NttBackend backend : Backends(tables)) {
        auto got = a;
        ForwardNtt(tables, got, backend);
        EXPECT_EQ(got, expected) << "n=" << n << " q=" << prime << " backend=" << static_cast<int>(backend);
      }
    }
  }
}

// Products of random polynomials through the NTT equal the schoolbook negacyclic product, for several N and
// primes of 20 to 61 bits (both backends where IFMA applies), and inverse(forward(x)) == x.
TEST(NttTest, NegacyclicProductAndRoundTrip) {
  TestRng rng(11);
  for (size_t n : {16u, 256u, 1024u}) {
    for (int bits : {20, 36, 40, 49, 50, 55, 60, 61}) {
      const uint64_t prime = GenerateNttPrimes(n, {bits}).value()[0];
      auto q = Modulus::Create(prime).value();
      auto tables = NttTables::Create(n, q).value();
      const auto a = RandomPoly(n, prime, rng);
      const auto b = RandomPoly(n, prime, rng);
      const auto expected = SchoolbookNegacyclic(a, b, q);
      for (NttBackend backend : Backends(tables)) {
        auto fa = a, fb = b;
        ForwardNtt(tables, fa, backend);
        ForwardNtt(tables, fb, backend);
        for (size_t i = 0; i < n; ++i) fa[i] = q.Mul(fa[i], fb[i]);
        InverseNtt(tables, fa, backend);
        EXPECT_EQ(fa, expected) << "n=" << n << " bits=" << bits;
        auto round = a;
        ForwardNtt(tables, round, backend);
        InverseNtt(tables, round, backend);
        EXPECT_EQ(round, a) << "n=" << n << " bits=" << bits;
      }
    }
  }
}

// The lazy input ranges of ntt.h: forward accepts values below 4q, inverse below 2q.
TEST(NttTest, AcceptsLazyInputs) {
  TestRng rng(12);
  for (int bits : {45, 60}) {
    const size_t n = 4096;
    const uint64_t prime = GenerateNttPrimes(n, {bits}).value()[0];
    auto q = Modulus::Create(prime).value();
    auto tables = NttTables::Create(n, q).value();
    const auto lazy = RandomPoly(n, 4 * prime, rng);
    std::vector<uint64_t> reduced(n);
    for (size_t i = 0; i < n; ++i) reduced[i] = lazy[i] % prime;
    for (NttBackend backend : Backends(tables)) {
      auto x = lazy, y = reduced;
      ForwardNtt(tables, x, backend);
      ForwardNtt(tables, y, backend);
      EXPECT_EQ(x, y);
      std::vector<uint64_t> lazy2(n);
      for (size_t i = 0; i < n; ++i) lazy2[i] = y[i] + (rng.Next() & 1) * prime;  // below 2q
      InverseNtt(tables, lazy2, backend);
      EXPECT_EQ(lazy2, reduced);
    }
  }
}

// Full-size transforms at every supported N: the IFMA backend gives the portable backend's output bit for bit
// (forward and inverse), including the extreme inputs 0 and 4q - 1, on both of its paths (52-bit Shoup
// products below 2^50, 64-bit ones from 50 bits up to the largest primes, 61 bits).
TEST(NttTest, IfmaMatchesPortableAtFullSize) {
  if (!CpuHasIfma()) GTEST_SKIP() << "this CPU has no AVX-512 IFMA";
  TestRng rng(13);
  for (size_t n : {4096u, 8192u, 16384u, 32768u}) {
    for (int bits : {30, 40, 49, 50, 51, 55, 60, 61}) {
      const uint64_t prime = GenerateNttPrimes(n, {bits}).value()[0];
      auto tables = NttTables::Create(n, Modulus::Create(prime).value()).value();
      ASSERT_TRUE(tables.ifma_applies()) << prime;
      auto a = RandomPoly(n, 4 * prime, rng);
      a[0] = 0;
      a[1] = 4 * prime - 1;
      a[n - 1] = 4 * prime - 1;
      auto portable = a, ifma = a;
      ForwardNtt(tables, portable, NttBackend::kPortable);
      ForwardNtt(tables, ifma, NttBackend::kIfma);
      ASSERT_EQ(portable, ifma) << "forward n=" << n << " bits=" << bits;
      for (size_t i = 0; i < n; ++i) portable[i] += (rng.Next() & 1) * prime;  // below 2q
      ifma = portable;
      InverseNtt(tables, portable, NttBackend::kPortable);
      InverseNtt(tables, ifma, NttBackend::kIfma);
      ASSERT_EQ(portable, ifma) << "inverse n=" << n << " bits=" << bits;
    }
  }
  // Below N = 16 IFMA does not apply and kIfma falls back to the portable code.
  const uint64_t small = GenerateNttPrimes(8, {30}).value()[0];
  EXPECT_FALSE(NttTables::Create(8, Modulus::Create(small).value()).value().ifma_applies());
}

}  // namespace
}  // namespace veil::he
