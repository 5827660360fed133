#include "veil/crypto/x25519.h"

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

base::SecretBytes Secret(const char* hex) { return base::SecretBytes(FromHex(hex)); }

// RFC 7748 section 5.2, the two X25519 scalar-multiplication vectors. The second input u-coordinate has its
// most significant bit set, which RFC 7748 section 5 requires implementations to ignore.
TEST(X25519Test, Rfc7748Section52Vector1) {
  absl::StatusOr<base::SecretBytes> out =
      X25519(Secret("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"),
             FromHex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(ToHex(out->span()), "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
}

TEST(X25519Test, Rfc7748Section52Vector2) {
  absl::StatusOr<base::SecretBytes> out =
      X25519(Secret("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d"),
             FromHex("e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493"));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(ToHex(out->span()), "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957");
}

// RFC 7748 section 5.2, iterated test: k = u = 9; repeat (k, u) = (X25519(k, u), k).
TEST(X25519Test, Rfc7748Section52Iterated1000) {
  std::vector<uint8_t> k(32, 0);
  k[0] = 9;
  std::vector<uint8_t> u = k;
  for (int i = 1; i <= 1000; ++i) {
    absl::StatusOr<base::SecretBytes> r = X25519(base::SecretBytes(k), u);
    ASSERT_TRUE(r.ok()) << "iteration " << i << ": " << r.status();
    u = k;
    k.assign(r->span().begin(), r->span().end());
    if (i == 1) {
      EXPECT_EQ(ToHex(k), "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079");
    }
  }
  EXPECT_EQ(ToHex(k), "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51");
}

// RFC 7748 section 6.1: Alice and Bob.
constexpr char kAlicePrivate[] = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
constexpr char kAlicePublic[] = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
constexpr char kBobPrivate[] = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
constexpr char kBobPublic[] = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
constexpr char kShared[] = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

TEST(X25519Test, Rfc7748Section61PublicKeys) {
  absl::StatusOr<X25519PublicKey> alice = X25519PublicFromPrivate(Secret(kAlicePrivate));
  ASSERT_TRUE(alice.ok()) << alice.status();
  EXPECT_EQ(ToHex(*alice), kAlicePublic);
  absl::StatusOr<X25519PublicKey> bob = X25519PublicFromPrivate(Secret(kBobPrivate));
  ASSERT_TRUE(bob.ok()) << bob.status();
  EXPECT_EQ(ToHex(*bob), kBobPublic);
}

TEST(X25519Test, Rfc7748Section61SharedSecretBothWays) {
  absl::StatusOr<base::SecretBytes> alice_side = X25519(Secret(kAlicePrivate), FromHex(kBobPublic));
  ASSERT_TRUE(alice_side.ok()) << alice_side.status();
  EXPECT_EQ(ToHex(alice_side->span()), kShared);
  absl::StatusOr<base::SecretBytes> bob_side = X25519(Secret(kBobPrivate), FromHex(kAlicePublic));
  ASSERT_TRUE(bob_side.ok()) << bob_side.status();
  EXPECT_EQ(ToHex(bob_side->span()), kShared);
}

TEST(X25519Test, GeneratedKeyPairsAgree) {
  DeterministicRandom rng(7);
  absl::StatusOr<X25519KeyPair> a = GenerateX25519KeyPair(rng);
  absl::StatusOr<X25519KeyPair> b = GenerateX25519KeyPair(rng);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->private_key.size(), kX25519KeySize);
  EXPECT_NE(a->public_key, b->public_key);
  absl::StatusOr<X25519PublicKey> a_pub = X25519PublicFromPrivate(a->private_key);
  ASSERT_TRUE(a_pub.ok());
  EXPECT_EQ(*a_pub, a->public_key);
  absl::StatusOr<base::SecretBytes> ab = X25519(a->private_key, b->public_key);
  absl::StatusOr<base::SecretBytes> ba = X25519(b->private_key, a->public_key);
  ASSERT_TRUE(ab.ok() && ba.ok());
  EXPECT_TRUE(*ab == *ba);
}

TEST(X25519Test, KeyGenerationUsesTheGivenRandomSource) {
  DeterministicRandom rng1(99);
  DeterministicRandom rng2(99);
  absl::StatusOr<X25519KeyPair> a = GenerateX25519KeyPair(rng1);
  absl::StatusOr<X25519KeyPair> b = GenerateX25519KeyPair(rng2);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(a->private_key == b->private_key);
  EXPECT_EQ(a->public_key, b->public_key);
}

// Points of small order on Curve25519 and its twist (0, 1, the two points of order 8, p - 1, and the
// non-canonical p and p + 1): every clamped scalar maps them to the all-zero output, which RFC 7748
// section 6.1 says to reject.
TEST(X25519Test, SmallOrderPeerPointsAreRejected) {
  const char* kLowOrder[] = {
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0100000000000000000000000000000000000000000000000000000000000000",
      "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
      "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
      "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
      "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
      "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  };
  const base::SecretBytes alice = Secret(kAlicePrivate);
  for (const char* point : kLowOrder) {
    absl::StatusOr<base::SecretBytes> out = X25519(alice, FromHex(point));
    EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument) << point;
  }
}

TEST(X25519Test, WrongSizesAreInvalidArgument) {
  EXPECT_EQ(X25519(base::SecretBytes(31), FromHex(kBobPublic)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(X25519(Secret(kAlicePrivate), std::vector<uint8_t>(33, 9)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(X25519(Secret(kAlicePrivate), {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(X25519PublicFromPrivate(base::SecretBytes(0)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace veil::crypto
