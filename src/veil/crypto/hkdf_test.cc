#include "veil/crypto/hkdf.h"

#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "veil/crypto/testing/hex.h"

namespace veil::crypto {
namespace {

using ::veil::crypto::testing::FromHex;
using ::veil::crypto::testing::ToHex;

// RFC 5869 Appendix A, the SHA-256 cases (A.1 basic, A.2 long inputs and outputs, A.3 no salt, no info).
struct Rfc5869Case {
  const char* name;
  std::vector<uint8_t> ikm;
  std::vector<uint8_t> salt;
  std::vector<uint8_t> info;
  size_t length;
  const char* prk;
  const char* okm;
};

std::vector<uint8_t> Range(int first, int last) {  // [first, last]
  std::vector<uint8_t> v;
  for (int i = first; i <= last; ++i) v.push_back(static_cast<uint8_t>(i));
  return v;
}

std::vector<Rfc5869Case> Rfc5869Cases() {
  return {
      {"A.1", std::vector<uint8_t>(22, 0x0b), Range(0x00, 0x0c), Range(0xf0, 0xf9), 42,
       "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
       "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"},
      {"A.2", Range(0x00, 0x4f), Range(0x60, 0xaf), Range(0xb0, 0xff), 82,
       "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
       "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09"
       "da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87"},
      {"A.3",
       std::vector<uint8_t>(22, 0x0b),
       {},
       {},
       42,
       "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
       "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"},
  };
}

TEST(HkdfSha256Test, Rfc5869ExtractAndExpand) {
  for (const Rfc5869Case& c : Rfc5869Cases()) {
    absl::StatusOr<base::SecretBytes> okm = HkdfSha256(c.ikm, c.salt, c.info, c.length);
    ASSERT_TRUE(okm.ok()) << c.name << ": " << okm.status();
    EXPECT_EQ(ToHex(okm->span()), c.okm) << c.name;
  }
}

TEST(HkdfSha256Test, Rfc5869SeparateSteps) {
  for (const Rfc5869Case& c : Rfc5869Cases()) {
    absl::StatusOr<base::SecretBytes> prk = HkdfSha256Extract(c.ikm, c.salt);
    ASSERT_TRUE(prk.ok()) << c.name << ": " << prk.status();
    EXPECT_EQ(ToHex(prk->span()), c.prk) << c.name;
    absl::StatusOr<base::SecretBytes> okm = HkdfSha256Expand(*prk, c.info, c.length);
    ASSERT_TRUE(okm.ok()) << c.name << ": " << okm.status();
    EXPECT_EQ(ToHex(okm->span()), c.okm) << c.name;
  }
}

TEST(HkdfSha256Test, SecretBytesOverloadAndSaltOfZerosEqualsNoSalt) {
  const base::SecretBytes ikm(std::vector<uint8_t>(22, 0x0b));
  // RFC 5869 section 2.2: no salt means HashLen zero bytes.
  const std::vector<uint8_t> zero_salt(32, 0);
  absl::StatusOr<base::SecretBytes> okm = HkdfSha256(ikm, zero_salt, {}, 42);
  ASSERT_TRUE(okm.ok()) << okm.status();
  EXPECT_EQ(ToHex(okm->span()), Rfc5869Cases()[2].okm);
}

TEST(HkdfSha256Test, InfoSeparatesKeys) {
  const std::vector<uint8_t> ikm(32, 0x42);
  const std::vector<uint8_t> info_a = {'a'};
  const std::vector<uint8_t> info_b = {'b'};
  absl::StatusOr<base::SecretBytes> a = HkdfSha256(ikm, {}, info_a, 32);
  absl::StatusOr<base::SecretBytes> b = HkdfSha256(ikm, {}, info_b, 32);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_FALSE(*a == *b);
}

TEST(HkdfSha256Test, OutputIsAPrefixOfLongerOutput) {
  const Rfc5869Case c = Rfc5869Cases()[1];
  absl::StatusOr<base::SecretBytes> short_okm = HkdfSha256(c.ikm, c.salt, c.info, 1);
  ASSERT_TRUE(short_okm.ok()) << short_okm.status();
  EXPECT_EQ(ToHex(short_okm->span()), std::string(c.okm).substr(0, 2));
}

TEST(HkdfSha256Test, LengthLimits) {
  const std::vector<uint8_t> ikm(32, 1);
  absl::StatusOr<base::SecretBytes> max = HkdfSha256(ikm, {}, {}, kHkdfSha256MaxOutput);
  ASSERT_TRUE(max.ok()) << max.status();
  EXPECT_EQ(max->size(), 8160u);
  EXPECT_EQ(HkdfSha256(ikm, {}, {}, kHkdfSha256MaxOutput + 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HkdfSha256(ikm, {}, {}, 0).status().code(), absl::StatusCode::kInvalidArgument);
  const base::SecretBytes prk(std::vector<uint8_t>(32, 7));
  EXPECT_EQ(HkdfSha256Expand(prk, {}, kHkdfSha256MaxOutput + 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HkdfSha256Expand(prk, {}, 0).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(HkdfSha256Test, ExpandRejectsShortPrk) {
  const base::SecretBytes short_prk(std::vector<uint8_t>(31, 7));
  EXPECT_EQ(HkdfSha256Expand(short_prk, {}, 32).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace veil::crypto
