#include "veil/he/kernels.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"
#include "veil/he/he_test_util.h"
#include "veil/he/modarith.h"
#include "veil/he/ntt.h"

namespace veil::he {
namespace {

using testing::TestRng;

// The reference: schoolbook products reduced with the compiler's 128-bit %.
uint64_t RefMul(uint64_t a, uint64_t b, uint64_t q) {
  return static_cast<uint64_t>((static_cast<uint128_t>(a) * b) % q);
}
uint64_t RefAdd(uint64_t a, uint64_t b, uint64_t q) { return static_cast<uint64_t>((uint128_t{a} + b) % q); }

// Primes (and two non-primes the kernels must handle as moduli too) around every size the IFMA and portable
// paths distinguish: below and at 2^50, the 60- and 61-bit ciphertext and special primes, the largest
// modulus.
std::vector<uint64_t> Moduli() {
  return {3,
          65537,
          1099511480321ULL,          // 40 bits
          562949952798721ULL,        // 49 bits, 1 mod 2^15
          (uint64_t{1} << 50) - 27,  // the largest prime below 2^50
          (uint64_t{1} << 50) + 55,  // 51 bits: the portable path
          1152921504606830593ULL,    // 60 bits
          (uint64_t{1} << 61) - 1,   // the largest modulus: M61
          uint64_t{1} << 40,         // a power of two
          (uint64_t{1} << 49) + 1};  // 50 bits, odd, composite
}

// Random residues with the extreme values 0, 1, q - 1 at the start (the n values are not a multiple of 8, so
// the IFMA dispatch's portable tail runs too).
std::vector<uint64_t> Residues(size_t n, uint64_t q, TestRng& rng) {
  std::vector<uint64_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = i < 3 ? (i == 2 ? q - 1 : i) : rng.Below(q);
  for (size_t i = 3; i < n; i += 37) v[i] = q - 1;  // runs of the largest value, where the sums peak
  return v;
}

std::vector<NttBackend> Backends() { return {NttBackend::kPortable, NttBackend::kAuto}; }

TEST(KernelsTest, IfmaAppliesBelow2To50) {
  EXPECT_FALSE(KernelsUseIfma(Modulus::Create(1099511480321ULL).value(), NttBackend::kPortable));
  EXPECT_FALSE(KernelsUseIfma(Modulus::Create((uint64_t{1} << 50) + 55).value()));
  EXPECT_EQ(KernelsUseIfma(Modulus::Create((uint64_t{1} << 50) - 27).value()), CpuHasIfma());
}

TEST(KernelsTest, AddAndSubPointwiseMatchReference) {
  TestRng rng(10);
  const size_t n = 1003;
  for (uint64_t qv : Moduli()) {
    const Modulus q = Modulus::Create(qv).value();
    const std::vector<uint64_t> x = Residues(n, qv, rng), y = Residues(n, qv, rng);
    for (NttBackend backend : Backends()) {
      std::vector<uint64_t> sum = x, diff = x;  // in place
      AddPointwise(q, sum.data(), y.data(), sum.data(), n, backend);
      SubPointwise(q, diff.data(), y.data(), diff.data(), n, backend);
      for (size_t k = 0; k < n; ++k) {
        ASSERT_EQ(sum[k], RefAdd(x[k], y[k], qv)) << qv << " at " << k;
        ASSERT_EQ(diff[k], RefAdd(x[k], qv - y[k], qv)) << qv << " at " << k;
      }
    }
  }
}

TEST(KernelsTest, MulPointwiseMatchesReference) {
  TestRng rng(11);
  const size_t n = 1003;
  for (uint64_t qv : Moduli()) {
    const Modulus q = Modulus::Create(qv).value();
    const std::vector<uint64_t> x = Residues(n, qv, rng), y = Residues(n, qv, rng);
    for (NttBackend backend : Backends()) {
      std::vector<uint64_t> out(n);
      MulPointwise(q, x.data(), y.data(), out.data(), n, backend);
      for (size_t k = 0; k < n; ++k) ASSERT_EQ(out[k], RefMul(x[k], y[k], qv)) << qv << " at " << k;
      std::vector<uint64_t> in_place = x;  // out = x
      MulPointwise(q, in_place.data(), y.data(), in_place.data(), n, backend);
      EXPECT_EQ(in_place, out) << qv;
    }
  }
}

TEST(KernelsTest, MulAddPointwiseMatchesReference) {
  TestRng rng(18);
  const size_t n = 1001;
  for (uint64_t qv : Moduli()) {
    const Modulus q = Modulus::Create(qv).value();
    const std::vector<uint64_t> x = Residues(n, qv, rng), y = Residues(n, qv, rng), a = Residues(n, qv, rng);
    for (NttBackend backend : Backends()) {
      std::vector<uint64_t> acc = a;
      MulAddPointwise(q, x.data(), y.data(), acc.data(), n, backend);
      for (size_t k = 0; k < n; ++k)
        ASSERT_EQ(acc[k], RefAdd(a[k], RefMul(x[k], y[k], qv), qv)) << qv << " at " << k;
    }
  }
}

TEST(KernelsTest, TensorProductMatchesReferenceInPlaceAndSquaring) {
  TestRng rng(12);
  const size_t n = 517;
  for (uint64_t qv : Moduli()) {
    const Modulus q = Modulus::Create(qv).value();
    const std::vector<uint64_t> a0 = Residues(n, qv, rng), a1 = Residues(n, qv, rng),
                                b0 = Residues(n, qv, rng), b1 = Residues(n, qv, rng);
    std::vector<uint64_t> want0(n), want1(n), want2(n);
    for (size_t k = 0; k < n; ++k) {
      want0[k] = RefMul(a0[k], b0[k], qv);
      want1[k] = RefAdd(RefMul(a0[k], b1[k], qv), RefMul(a1[k], b0[k], qv), qv);
      want2[k] = RefMul(a1[k], b1[k], qv);
    }
    for (NttBackend backend : Backends()) {
      std::vector<uint64_t> d0(n), d1(n), d2(n);
      TensorProduct(q, a0.data(), a1.data(), b0.data(), b1.data(), d0.data(), d1.data(), d2.data(), n,
                    backend);
      ASSERT_EQ(d0, want0) << qv;
      ASSERT_EQ(d1, want1) << qv;
      ASSERT_EQ(d2, want2) << qv;
      // In place (the outputs overwrite a0 and a1) and squaring (b = a, in place).
      std::vector<uint64_t> x0 = a0, x1 = a1;
      TensorProduct(q, x0.data(), x1.data(), b0.data(), b1.data(), x0.data(), x1.data(), d2.data(), n,
                    backend);
      EXPECT_EQ(x0, want0) << qv;
      EXPECT_EQ(x1, want1) << qv;
      x0 = a0;
      x1 = a1;
      TensorProduct(q, x0.data(), x1.data(), x0.data(), x1.data(), x0.data(), x1.data(), d2.data(), n,
                    backend);
      for (size_t k = 0; k < n; ++k) {
        ASSERT_EQ(x0[k], RefMul(a0[k], a0[k], qv));
        ASSERT_EQ(x1[k], RefAdd(RefMul(a0[k], a1[k], qv), RefMul(a0[k], a1[k], qv), qv));
        ASSERT_EQ(d2[k], RefMul(a1[k], a1[k], qv));
      }
    }
  }
}

// Term counts around every reduction period (portable: 7 terms for 60 bits, 3 for 61; IFMA: 1 for 50 bits,
// 3 for 49, 2047 for 40) and up to the digit counts of key switching at N = 32768.
TEST(KernelsTest, InnerProductPairMatchesReferenceForManyTermCounts) {
  TestRng rng(13);
  const size_t n = 203;
  for (uint64_t qv : Moduli()) {
    const Modulus q = Modulus::Create(qv).value();
    for (size_t terms : {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 30}) {
      std::vector<std::vector<uint64_t>> xs, bs, as;
      std::vector<const uint64_t*> x, b, a;
      for (size_t j = 0; j < terms; ++j) {
        xs.push_back(Residues(n, qv, rng));
        bs.push_back(Residues(n, qv, rng));
        as.push_back(Residues(n, qv, rng));
      }
      for (size_t j = 0; j < terms; ++j) {
        x.push_back(xs[j].data());
        b.push_back(bs[j].data());
        a.push_back(as[j].data());
      }
      std::vector<uint64_t> want0(n, 0), want1(n, 0);
      for (size_t j = 0; j < terms; ++j) {
        for (size_t c = 0; c < n; ++c) {
          want0[c] = RefAdd(want0[c], RefMul(xs[j][c], bs[j][c], qv), qv);
          want1[c] = RefAdd(want1[c], RefMul(xs[j][c], as[j][c], qv), qv);
        }
      }
      for (NttBackend backend : Backends()) {
        std::vector<uint64_t> out0(n), out1(n);
        InnerProductPair(q, x, b, a, out0.data(), out1.data(), n, backend);
        ASSERT_EQ(out0, want0) << qv << " with " << terms << " terms";
        ASSERT_EQ(out1, want1) << qv << " with " << terms << " terms";
      }
    }
  }
}

// The worst case of the lazy sums: every operand q - 1, so every partial sum is as large as it can be.
TEST(KernelsTest, InnerProductPairOfLargestValues) {
  for (uint64_t qv : Moduli()) {
    const Modulus q = Modulus::Create(qv).value();
    const size_t n = 24;
    const std::vector<uint64_t> top(n, qv - 1);
    for (size_t terms = 1; terms <= 40; ++terms) {
      const std::vector<const uint64_t*> x(terms, top.data());
      // sum of terms * (q - 1)^2 = terms (mod q), since q - 1 = -1.
      const uint64_t want = terms % qv;
      for (NttBackend backend : Backends()) {
        std::vector<uint64_t> out0(n), out1(n);
        InnerProductPair(q, x, x, x, out0.data(), out1.data(), n, backend);
        ASSERT_EQ(out0, std::vector<uint64_t>(n, want)) << qv << " with " << terms << " terms";
        ASSERT_EQ(out1, std::vector<uint64_t>(n, want)) << qv << " with " << terms << " terms";
      }
    }
  }
}

TEST(KernelsTest, ReduceFromAndCenteredFromMatchReference) {
  TestRng rng(14);
  const size_t n = 301;
  // Sources: the 60- and 61-bit primes (values above every target) and a 40-bit one.
  for (uint64_t p :
       std::vector<uint64_t>{1152921504606830593ULL, (uint64_t{1} << 61) - 1, 1099511480321ULL}) {
    std::vector<uint64_t> x = Residues(n, p, rng);
    x[3] = p / 2;  // the centering threshold and its neighbour
    x[4] = p / 2 + 1;
    for (uint64_t qv : Moduli()) {
      if (qv == p || qv % 2 == 0) continue;
      const Modulus q = Modulus::Create(qv).value();
      for (NttBackend backend : Backends()) {
        std::vector<uint64_t> out(n), centered(n);
        ReduceFrom(q, x.data(), out.data(), n, backend);
        CenteredFrom(q, p, x.data(), centered.data(), n, backend);
        for (size_t c = 0; c < n; ++c) {
          ASSERT_EQ(out[c], x[c] % qv) << p << " -> " << qv << " at " << c;
          // x - p modulo q for the upper half.
          const uint64_t want =
              x[c] > p / 2 ? static_cast<uint64_t>((x[c] % qv + qv - p % qv) % qv) : x[c] % qv;
          ASSERT_EQ(centered[c], want) << p << " -> " << qv << " at " << c;
        }
        std::vector<uint64_t> in_place = x;
        ReduceFrom(q, in_place.data(), in_place.data(), n, backend);
        EXPECT_EQ(in_place, out);
      }
    }
  }
}

TEST(KernelsTest, MulConstantMatchesReference) {
  TestRng rng(16);
  const size_t n = 77;
  for (uint64_t qv : Moduli()) {
    const Modulus q = Modulus::Create(qv).value();
    const std::vector<uint64_t> x = Residues(n, qv, rng);
    for (uint64_t w : {uint64_t{0}, uint64_t{1}, qv - 1, rng.Below(qv)}) {
      for (NttBackend backend : Backends()) {
        std::vector<uint64_t> out = x;  // in place
        MulConstant(q, out.data(), w, out.data(), n, backend);
        for (size_t c = 0; c < n; ++c)
          ASSERT_EQ(out[c], RefMul(x[c], w, qv)) << qv << " w=" << w << " at " << c;
      }
    }
  }
}

TEST(KernelsTest, SubMulConstantMatchesReference) {
  TestRng rng(15);
  const size_t n = 333;
  for (uint64_t qv : Moduli()) {
    const Modulus q = Modulus::Create(qv).value();
    const std::vector<uint64_t> a = Residues(n, qv, rng), t = Residues(n, qv, rng),
                                prior = Residues(n, qv, rng);
    for (uint64_t w : {uint64_t{0}, uint64_t{1}, qv - 1, rng.Below(qv)}) {
      for (NttBackend backend : Backends()) {
        for (bool accumulate : {false, true}) {
          std::vector<uint64_t> out = prior;
          SubMulConstant(q, a.data(), t.data(), w, out.data(), accumulate, n, backend);
          for (size_t c = 0; c < n; ++c) {
            uint64_t want = RefMul((a[c] + qv - t[c]) % qv, w, qv);
            if (accumulate) want = RefAdd(want, prior[c], qv);
            ASSERT_EQ(out[c], want) << qv << " w=" << w << " at " << c;
          }
        }
        std::vector<uint64_t> in_place = a;  // out = a
        SubMulConstant(q, in_place.data(), t.data(), w, in_place.data(), false, n, backend);
        for (size_t c = 0; c < n; ++c) ASSERT_EQ(in_place[c], RefMul((a[c] + qv - t[c]) % qv, w, qv));
      }
    }
  }
}

}  // namespace
}  // namespace veil::he
