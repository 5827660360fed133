#include "veil/he/keys.h"

#include <cmath>
#include <complex>
#include <cstdint>
#include <cstring>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "veil/crypto/testing/deterministic_random.h"
#include "veil/he/he_test_util.h"
#include "veil/he/params.h"

namespace veil::he {
namespace keys_test {
namespace {

using crypto::testing::DeterministicRandom;
using testing::MaxError;

CkksContext MakeContext() {
  auto params = CkksParametersBuilder()
                    .SetPolyDegree(8192)
                    .SetCiphertextPrimeBits({60, 40, 40})
                    .SetSpecialPrimeBits({60})
                    .Build();
  return CkksContext::Create(params.value()).value();
}

// The secret key's coefficients (inverse NTT of its first limb) are ternary.
TEST(KeysTest, SecretKeyIsTernary) {
  const CkksContext ctx = MakeContext();
  DeterministicRandom rng(60);
  auto sk = GenerateSecretKey(ctx, rng).value();
  ASSERT_EQ(sk.ntt_limbs().size(), ctx.prime_count() * ctx.n() * 8);
  for (size_t limb = 0; limb < ctx.prime_count(); ++limb) {
    std::vector<uint64_t> s(ctx.n());
    std::memcpy(s.data(), sk.ntt_limbs().data() + limb * ctx.n() * 8, ctx.n() * 8);
    InverseNtt(ctx.ntt(limb), s);
    const uint64_t q = ctx.modulus(limb).value();
    size_t zeros = 0;
    for (uint64_t v : s) {
      ASSERT_TRUE(v == 0 || v == 1 || v == q - 1) << v;
      zeros += v == 0;
    }
    EXPECT_NEAR(static_cast<double>(zeros), ctx.n() / 3.0, 6 * 43);  // sd sqrt(8192 * 2/9) = 43
  }
}

// b + a * s is the public key's error: centered binomial, |e| <= 21, the same polynomial in every limb.
TEST(KeysTest, PublicKeyIsAnRlweSample) {
  const CkksContext ctx = MakeContext();
  DeterministicRandom rng(61);
  auto sk = GenerateSecretKey(ctx, rng).value();
  auto pk = GeneratePublicKey(ctx, sk, rng).value();
  std::vector<int64_t> first;
  for (size_t limb = 0; limb <= static_cast<size_t>(ctx.max_level()); ++limb) {
    const Modulus& q = ctx.modulus(limb);
    std::vector<uint64_t> s(ctx.n()), e(ctx.n());
    std::memcpy(s.data(), sk.ntt_limbs().data() + limb * ctx.n() * 8, ctx.n() * 8);
    for (size_t c = 0; c < ctx.n(); ++c) e[c] = q.Add(pk.b.limb(limb)[c], q.Mul(pk.a.limb(limb)[c], s[c]));
    InverseNtt(ctx.ntt(limb), e);
    std::vector<int64_t> centered(ctx.n());
    for (size_t c = 0; c < ctx.n(); ++c) {
      centered[c] =
          e[c] > q.value() / 2 ? -static_cast<int64_t>(q.value() - e[c]) : static_cast<int64_t>(e[c]);
      ASSERT_LE(std::abs(centered[c]), kErrorEta);
    }
    if (limb == 0) {
      first = centered;
    } else {
      EXPECT_EQ(centered, first);
    }
  }
}

// Encrypt then decrypt at every level: the slot error stays below 1e-6 at scale 2^40 (keys.h derives a
// typical 3e-8); decrypting with another secret key gives garbage (errors of order 1 or more).
TEST(KeysTest, EncryptDecryptRoundTrip) {
  const CkksContext ctx = MakeContext();
  DeterministicRandom rng(62);
  auto sk = GenerateSecretKey(ctx, rng).value();
  auto pk = GeneratePublicKey(ctx, sk, rng).value();
  auto other = GenerateSecretKey(ctx, rng).value();
  const auto values = testing::RandomSlots(ctx.slot_count(), 63);
  for (int level = 0; level <= ctx.max_level(); ++level) {
    auto pt = ctx.Encode(values, 0x1p40, level).value();
    auto ct = Encrypt(ctx, pk, pt, rng);
    ASSERT_TRUE(ct.ok()) << ct.status();
    EXPECT_EQ(ct->level, level);
    EXPECT_EQ(ct->scale, 0x1p40);
    auto decrypted = Decrypt(ctx, sk, *ct, KeyOwnerOnly()).value();
    const auto decoded = ctx.Decode(decrypted).value();
    EXPECT_LT(MaxError(decoded, values), 1e-6) << "level " << level;
    const auto wrong = ctx.Decode(Decrypt(ctx, other, *ct, KeyOwnerOnly()).value()).value();
    EXPECT_GT(MaxError(wrong, values), 1.0) << "level " << level;
  }
}

TEST(KeysTest, SameSeedSameCiphertextOtherSeedOther) {
  const CkksContext ctx = MakeContext();
  auto run = [&](uint64_t seed) {
    DeterministicRandom rng(seed);
    auto sk = GenerateSecretKey(ctx, rng).value();
    auto pk = GeneratePublicKey(ctx, sk, rng).value();
    auto pt = ctx.Encode(std::vector<double>{1.0, 2.0}, 0x1p40, 2).value();
    return Encrypt(ctx, pk, pt, rng).value();
  };
  const Ciphertext a = run(64), b = run(64), c = run(65);
  EXPECT_EQ(a.parts[0].data, b.parts[0].data);
  EXPECT_EQ(a.parts[1].data, b.parts[1].data);
  EXPECT_NE(a.parts[0].data, c.parts[0].data);
}

TEST(KeysTest, ShapeErrors) {
  const CkksContext ctx = MakeContext();
  DeterministicRandom rng(66);
  auto sk = GenerateSecretKey(ctx, rng).value();
  auto pk = GeneratePublicKey(ctx, sk, rng).value();
  auto pt = ctx.Encode(std::vector<double>{1.0}, 0x1p40, 1).value();
  Plaintext bad = ctx.Encode(std::vector<double>{1.0}, 0x1p40, 1).value();
  bad.level = 2;  // two limbs but level 2
  EXPECT_EQ(Encrypt(ctx, pk, bad, rng).status().code(), absl::StatusCode::kInvalidArgument);
  auto ct = Encrypt(ctx, pk, pt, rng).value();
  Ciphertext truncated = ct;
  truncated.parts[1].data.pop_back();
  EXPECT_EQ(Decrypt(ctx, sk, truncated).status().code(), absl::StatusCode::kInvalidArgument);
  Ciphertext wrong_level = ct;
  wrong_level.level = 5;
  EXPECT_EQ(Decrypt(ctx, sk, wrong_level).status().code(), absl::StatusCode::kInvalidArgument);
  Ciphertext one_part = ct;
  one_part.parts.pop_back();
  EXPECT_EQ(Decrypt(ctx, sk, one_part).status().code(), absl::StatusCode::kInvalidArgument);
  // A key made for other parameters.
  auto small_params = CkksParametersBuilder()
                          .SetPolyDegree(4096)
                          .SetCiphertextPrimeBits({36, 36})
                          .SetSpecialPrimeBits({37})
                          .Build();
  const CkksContext small = CkksContext::Create(small_params.value()).value();
  auto small_sk = GenerateSecretKey(small, rng).value();
  EXPECT_EQ(Decrypt(ctx, small_sk, ct).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GeneratePublicKey(ctx, small_sk, rng).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace keys_test
}  // namespace veil::he
