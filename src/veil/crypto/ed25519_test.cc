#include "veil/crypto/ed25519.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "veil/crypto/testing/deterministic_random.h"
#include "veil/crypto/testing/hex.h"

namespace veil::crypto {
namespace {

using ::veil::crypto::testing::DeterministicRandom;
using ::veil::crypto::testing::FromHex;
using ::veil::crypto::testing::ToHex;

// RFC 8032 section 7.1, Ed25519 test vectors.
struct Rfc8032Case {
  const char* name;
  const char* secret_key;
  const char* public_key;
  const char* message;
  const char* signature;
};

const Rfc8032Case kCases[] = {
    {"TEST 1", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f"
     "05"
     "95bbe24655141438e7a100b"},
    {"TEST 2", "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2ea"
     "eb"
     "4302aeeb00d291612bb0c00"},
    {"TEST 3", "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e"
     "97"
     "16ed28dc027beceea1ec40a"},
    {"TEST SHA(abc)", "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
     "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d442"
     "36"
     "43ce80e2a9ac94fa54ca49f",
     "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179"
     "c1"
     "38ac17ad9bef1177331a704"},
};

TEST(Ed25519Test, Rfc8032PublicKeyFromSeed) {
  for (const Rfc8032Case& c : kCases) {
    absl::StatusOr<Ed25519PrivateKey> key =
        Ed25519PrivateKey::FromSeed(base::SecretBytes(FromHex(c.secret_key)));
    ASSERT_TRUE(key.ok()) << c.name << ": " << key.status();
    EXPECT_EQ(ToHex(key->public_key().bytes()), c.public_key) << c.name;
  }
}

TEST(Ed25519Test, Rfc8032Sign) {
  for (const Rfc8032Case& c : kCases) {
    absl::StatusOr<Ed25519PrivateKey> key =
        Ed25519PrivateKey::FromSeed(base::SecretBytes(FromHex(c.secret_key)));
    ASSERT_TRUE(key.ok()) << c.name << ": " << key.status();
    absl::StatusOr<Ed25519Signature> sig = key->Sign(FromHex(c.message));
    ASSERT_TRUE(sig.ok()) << c.name << ": " << sig.status();
    EXPECT_EQ(ToHex(*sig), c.signature) << c.name;
  }
}

TEST(Ed25519Test, Rfc8032Verify) {
  for (const Rfc8032Case& c : kCases) {
    absl::StatusOr<Ed25519PublicKey> pub = Ed25519PublicKey::FromBytes(FromHex(c.public_key));
    ASSERT_TRUE(pub.ok()) << c.name << ": " << pub.status();
    EXPECT_TRUE(pub->Verify(FromHex(c.message), FromHex(c.signature)).ok()) << c.name;
  }
}

TEST(Ed25519Test, ModifiedMessageIsRejected) {
  for (const Rfc8032Case& c : kCases) {
    const Ed25519PublicKey pub = *Ed25519PublicKey::FromBytes(FromHex(c.public_key));
    std::vector<uint8_t> message = FromHex(c.message);
    std::vector<uint8_t> longer = message;
    longer.push_back(0);
    EXPECT_EQ(pub.Verify(longer, FromHex(c.signature)).code(), absl::StatusCode::kDataLoss) << c.name;
    if (!message.empty()) {
      message[0] ^= 1;
      EXPECT_EQ(pub.Verify(message, FromHex(c.signature)).code(), absl::StatusCode::kDataLoss) << c.name;
      message.pop_back();
      EXPECT_EQ(pub.Verify(message, FromHex(c.signature)).code(), absl::StatusCode::kDataLoss) << c.name;
    }
  }
}

TEST(Ed25519Test, EverySingleBitFlipOfTheSignatureIsRejected) {
  const Rfc8032Case& c = kCases[2];
  const Ed25519PublicKey pub = *Ed25519PublicKey::FromBytes(FromHex(c.public_key));
  const std::vector<uint8_t> message = FromHex(c.message);
  const std::vector<uint8_t> sig = FromHex(c.signature);
  for (size_t bit = 0; bit < sig.size() * 8; ++bit) {
    std::vector<uint8_t> bad = sig;
    bad[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    EXPECT_EQ(pub.Verify(message, bad).code(), absl::StatusCode::kDataLoss) << "bit " << bit;
  }
}

TEST(Ed25519Test, WrongPublicKeyIsRejected) {
  // TEST 2's signature checked under TEST 3's key, and under a key with one bit flipped.
  const Ed25519PublicKey other = *Ed25519PublicKey::FromBytes(FromHex(kCases[2].public_key));
  EXPECT_EQ(other.Verify(FromHex(kCases[1].message), FromHex(kCases[1].signature)).code(),
            absl::StatusCode::kDataLoss);
  std::vector<uint8_t> flipped = FromHex(kCases[1].public_key);
  flipped[5] ^= 0x10;
  const Ed25519PublicKey bad = *Ed25519PublicKey::FromBytes(flipped);
  EXPECT_EQ(bad.Verify(FromHex(kCases[1].message), FromHex(kCases[1].signature)).code(),
            absl::StatusCode::kDataLoss);
}

TEST(Ed25519Test, WrongSizesAreInvalidArgument) {
  EXPECT_EQ(Ed25519PrivateKey::FromSeed(base::SecretBytes(31)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Ed25519PrivateKey::FromSeed(base::SecretBytes(64)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Ed25519PublicKey::FromBytes(std::vector<uint8_t>(31)).status().code(),
            absl::StatusCode::kInvalidArgument);
  const Ed25519PublicKey pub = *Ed25519PublicKey::FromBytes(FromHex(kCases[0].public_key));
  const std::vector<uint8_t> sig = FromHex(kCases[0].signature);
  // A signature of the wrong length is damaged data (DataLoss), not a caller's mistake.
  EXPECT_EQ(pub.Verify(std::span<const uint8_t>(), std::span<const uint8_t>(sig).first(63)).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(pub.Verify(std::span<const uint8_t>(), std::vector<uint8_t>()).code(),
            absl::StatusCode::kDataLoss);
}

// RFC 8032 section 5.1.7: S must be reduced (S < L). S + L verifies the same equation but is a different
// encoding; accepting it would make signatures malleable. L = 2^252 + 27742317777372353535851937790883648493.
TEST(Ed25519Test, NonCanonicalSignatureIsRejected) {
  const Ed25519PublicKey pub = *Ed25519PublicKey::FromBytes(FromHex(kCases[0].public_key));
  std::vector<uint8_t> sig = FromHex(kCases[0].signature);
  ASSERT_TRUE(pub.Verify(std::span<const uint8_t>(), sig).ok());
  const std::vector<uint8_t> l = FromHex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
  unsigned carry = 0;
  for (size_t i = 0; i < 32; ++i) {  // little-endian S += L
    const unsigned sum = sig[32 + i] + l[i] + carry;
    sig[32 + i] = static_cast<uint8_t>(sum);
    carry = sum >> 8;
  }
  ASSERT_EQ(carry, 0u) << "S + L still fits in 32 bytes for this vector";
  EXPECT_EQ(pub.Verify(std::span<const uint8_t>(), sig).code(), absl::StatusCode::kDataLoss);
}

TEST(Ed25519Test, GenerateSignVerifyAndExportSeed) {
  DeterministicRandom rng(2024);
  absl::StatusOr<Ed25519PrivateKey> key = Ed25519PrivateKey::Generate(rng);
  ASSERT_TRUE(key.ok()) << key.status();
  absl::StatusOr<Ed25519Signature> sig = key->Sign("checkpoint 17");
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_TRUE(key->public_key().Verify("checkpoint 17", *sig).ok());
  EXPECT_EQ(key->public_key().Verify("checkpoint 18", *sig).code(), absl::StatusCode::kDataLoss);

  // The seed is the 32 bytes drawn from the generator, and reloading it gives the same key.
  DeterministicRandom replay(2024);
  base::SecretBytes expected_seed(32);
  ASSERT_TRUE(replay.Fill(expected_seed.span()).ok());
  absl::StatusOr<base::SecretBytes> seed = key->ExportSeed();
  ASSERT_TRUE(seed.ok()) << seed.status();
  EXPECT_TRUE(*seed == expected_seed);
  absl::StatusOr<Ed25519PrivateKey> reloaded = Ed25519PrivateKey::FromSeed(*seed);
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_EQ(reloaded->public_key(), key->public_key());
  absl::StatusOr<Ed25519Signature> sig2 = reloaded->Sign("checkpoint 17");
  ASSERT_TRUE(sig2.ok());
  EXPECT_EQ(*sig2, *sig);  // Ed25519 signing is deterministic
}

TEST(Ed25519Test, MovedKeyStillSigns) {
  absl::StatusOr<Ed25519PrivateKey> key =
      Ed25519PrivateKey::FromSeed(base::SecretBytes(FromHex(kCases[0].secret_key)));
  ASSERT_TRUE(key.ok());
  Ed25519PrivateKey moved = std::move(*key);
  absl::StatusOr<Ed25519Signature> sig = moved.Sign(std::span<const uint8_t>());
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(ToHex(*sig), kCases[0].signature);
}

}  // namespace
}  // namespace veil::crypto
