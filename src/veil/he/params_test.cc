#include "veil/he/params.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/he/he_test_util.h"

namespace veil::he {
namespace {

using testing::BnIsPrime;
using ::testing::HasSubstr;

void ExpectInvalid(const absl::Status& status, const std::string& needle) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr(needle));
}

TEST(SecurityBoundTest, StandardTableOneTernary128Bit) {
  EXPECT_EQ(MaxModulusBitsFor128BitSecurity(4096).value(), 109);
  EXPECT_EQ(MaxModulusBitsFor128BitSecurity(8192).value(), 218);
  EXPECT_EQ(MaxModulusBitsFor128BitSecurity(16384).value(), 438);
  EXPECT_EQ(MaxModulusBitsFor128BitSecurity(32768).value(), 881);
  ExpectInvalid(MaxModulusBitsFor128BitSecurity(2048).status(), "N = 2048");
  ExpectInvalid(MaxModulusBitsFor128BitSecurity(65536).status(), "N = 65536");
}

TEST(GenerateNttPrimesTest, SmallKnownAnswers) {
  // N = 8 (2N = 16): the largest primes = 1 mod 16 below 2^7 and 2^8 are 113 and 241; the next 8-bit one
  // is 193 (225 = 15^2 and 209 = 11 * 19 are skipped).
  EXPECT_EQ(GenerateNttPrimes(8, {7, 8, 8}).value(), (std::vector<uint64_t>{113, 241, 193}));
  // Excluded primes are skipped.
  EXPECT_EQ(GenerateNttPrimes(8, {8}, {241}).value(), (std::vector<uint64_t>{193}));
  // 6 bits: 49 and 33 are composite, so none is left.
  ExpectInvalid(GenerateNttPrimes(8, {6}).status(), "no 6-bit prime");
  ExpectInvalid(GenerateNttPrimes(8, {5}).status(), "outside [6, 61]");
  ExpectInvalid(GenerateNttPrimes(8, {62}).status(), "outside [6, 61]");
  ExpectInvalid(GenerateNttPrimes(12, {20}).status(), "not a power of two");
}

// Each generated prime is checked against OpenSSL: prime, 1 mod 2N, of the requested size, and every larger
// candidate = 1 mod 2N below 2^b is composite or taken earlier (so it is the largest one available).
TEST(GenerateNttPrimesTest, LargestAvailablePrimesCheckedWithOpenSsl) {
  for (size_t n : {4096u, 8192u, 16384u, 32768u}) {
    const std::vector<int> bits = {60, 40, 40, 60, 50};
    auto primes = GenerateNttPrimes(n, bits).value();
    ASSERT_EQ(primes.size(), bits.size());
    for (size_t i = 0; i < primes.size(); ++i) {
      const uint64_t p = primes[i];
      EXPECT_TRUE(BnIsPrime(p)) << p;
      EXPECT_EQ(p % (2 * n), 1u) << p;
      EXPECT_EQ(std::bit_width(p), bits[i]) << p;
      for (uint64_t c = (uint64_t{1} << bits[i]) - 2 * n + 1; c > p; c -= 2 * n) {
        const bool taken_before = std::find(primes.begin(), primes.begin() + i, c) != primes.begin() + i;
        EXPECT_TRUE(taken_before || !BnIsPrime(c)) << "skipped prime " << c;
      }
    }
    EXPECT_NE(primes[0], primes[3]);
    EXPECT_NE(primes[1], primes[2]);
  }
}

TEST(CkksParametersTest, SealDefaultShapeBuilds) {
  auto params = CkksParametersBuilder()
                    .SetPolyDegree(8192)
                    .SetCiphertextPrimeBits({60, 40, 40})
                    .SetSpecialPrimeBits({60})
                    .Build();
  ASSERT_TRUE(params.ok()) << params.status();
  EXPECT_EQ(params->poly_degree(), 8192u);
  EXPECT_EQ(params->max_level(), 2);
  ASSERT_EQ(params->ciphertext_primes().size(), 3u);
  ASSERT_EQ(params->special_primes().size(), 1u);
  EXPECT_NEAR(params->total_modulus_bits(), 200.0, 0.01);
  EXPECT_EQ(params->max_modulus_bits(), 218);
  // The special 60-bit prime is the second largest (the largest is the first ciphertext prime).
  const auto both = GenerateNttPrimes(8192, {60, 60}).value();
  EXPECT_EQ(params->ciphertext_primes()[0], both[0]);
  EXPECT_EQ(params->special_primes()[0], both[1]);
}

TEST(CkksParametersTest, LargestSetsAtEachDegreeBuildAndOneMoreBitIsRefused) {
  struct Case {
    size_t n;
    std::vector<int> ok_bits;   // sums to the bound
    std::vector<int> bad_bits;  // with the special prime, 2 bits above the bound
  };
  const std::vector<Case> cases = {
      {4096, {36, 36}, {37, 37}},  // + special {37}: 109; {37, 37} + {37} = 111
      {8192, {60, 40, 40, 18}, {60, 40, 40, 20}},
      {16384, {60, 40, 40, 40, 40, 40, 40, 40, 38}, {60, 40, 40, 40, 40, 40, 40, 40, 40}},
      {32768,
       {60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 41},
       {60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 43}},
  };
  for (const Case& c : cases) {
    const int special = c.n == 4096 ? 37 : 60;
    auto ok =
        CkksParametersBuilder().SetPolyDegree(c.n).SetCiphertextPrimeBits(c.ok_bits).SetSpecialPrimeBits(
            {special});
    auto built = ok.Build();
    ASSERT_TRUE(built.ok()) << c.n << ": " << built.status();
    EXPECT_LE(built->total_modulus_bits(), built->max_modulus_bits());
    auto bad = CkksParametersBuilder()
                   .SetPolyDegree(c.n)
                   .SetCiphertextPrimeBits(c.bad_bits)
                   .SetSpecialPrimeBits({special})
                   .Build();
    ASSERT_FALSE(bad.ok()) << c.n;
    ExpectInvalid(bad.status(), absl::StrCat("for N = ", c.n));
    ExpectInvalid(bad.status(),
                  absl::StrCat("above the bound of ", MaxModulusBitsFor128BitSecurity(c.n).value(), " bits"));
    ExpectInvalid(bad.status(), "special primes included");
  }
}

TEST(CkksParametersTest, SpecialPrimesCountTowardsTheBound) {
  // 60 + 40 + 40 + 60 = 200 bits is fine at N = 8192, but 20 more special bits make 220 > 218.
  auto bad = CkksParametersBuilder()
                 .SetPolyDegree(8192)
                 .SetCiphertextPrimeBits({60, 40, 40, 60})
                 .SetSpecialPrimeBits({20})
                 .Build();
  ExpectInvalid(bad.status(), "for N = 8192");
  ExpectInvalid(bad.status(), "above the bound of 218 bits");
}

TEST(CkksParametersTest, ExplicitPrimesAreValidated) {
  const auto good = GenerateNttPrimes(4096, {40, 30, 35}).value();
  auto built = CkksParametersBuilder()
                   .SetPolyDegree(4096)
                   .SetCiphertextPrimes({good[0], good[1]})
                   .SetSpecialPrimes({good[2]})
                   .Build();
  ASSERT_TRUE(built.ok()) << built.status();
  EXPECT_EQ(built->ciphertext_primes(), (std::vector<uint64_t>{good[0], good[1]}));

  auto builder = CkksParametersBuilder().SetPolyDegree(4096).SetSpecialPrimes({good[2]});
  ExpectInvalid(builder.SetCiphertextPrimes({good[0], good[0] + 2 * 4096 * 3}).Build().status(),
                "ciphertext prime #1");
  // 2^61 - 1 is prime (Mersenne) but 8191 mod 8192.
  ExpectInvalid(builder.SetCiphertextPrimes({(uint64_t{1} << 61) - 1}).Build().status(),
                "is not 1 mod 2N = 8192");
  ExpectInvalid(builder.SetCiphertextPrimes({(uint64_t{1} << 61) + 1}).Build().status(), "not below 2^61");
  ExpectInvalid(builder.SetCiphertextPrimes({good[0], good[2]}).Build().status(), "appears twice");
  // 8193 = 3 * 2731 is 1 mod 8192 but not prime.
  ExpectInvalid(builder.SetCiphertextPrimes({8193}).Build().status(), "8193 is not prime");
  // Generated primes avoid explicit ones: a generated 35-bit ciphertext prime is not the explicit special
  // one.
  auto mixed = CkksParametersBuilder()
                   .SetPolyDegree(4096)
                   .SetCiphertextPrimeBits({35})
                   .SetSpecialPrimes({good[2]})
                   .Build();
  ASSERT_TRUE(mixed.ok()) << mixed.status();
  EXPECT_NE(mixed->ciphertext_primes()[0], good[2]);
}

TEST(CkksParametersTest, MissingPiecesAndBadDegree) {
  ExpectInvalid(
      CkksParametersBuilder().SetCiphertextPrimeBits({40}).SetSpecialPrimeBits({40}).Build().status(),
      "N = 0");
  ExpectInvalid(CkksParametersBuilder().SetPolyDegree(1024).Build().status(), "N = 1024");
  ExpectInvalid(CkksParametersBuilder().SetPolyDegree(4096).SetSpecialPrimeBits({40}).Build().status(),
                "no ciphertext primes");
  ExpectInvalid(CkksParametersBuilder().SetPolyDegree(4096).SetCiphertextPrimeBits({40}).Build().status(),
                "no special primes");
  ExpectInvalid(CkksParametersBuilder()
                    .SetPolyDegree(4096)
                    .SetCiphertextPrimeBits({40})
                    .SetSpecialPrimeBits({})
                    .Build()
                    .status(),
                "no special primes");
  ExpectInvalid(CkksParametersBuilder()
                    .SetPolyDegree(4096)
                    .SetCiphertextPrimeBits({12})
                    .SetSpecialPrimeBits({40})
                    .Build()
                    .status(),
                "prime bit size #0 = 12");
}

}  // namespace
}  // namespace veil::he
