#include "veil/crypto/hmac.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "veil/base/secret_bytes.h"
#include "veil/crypto/testing/hex.h"

namespace veil::crypto {
namespace hmac_test {
namespace {

using ::veil::crypto::testing::FromHex;
using ::veil::crypto::testing::ToHex;

// RFC 4231 section 4 test cases, HMAC-SHA-256 rows.
struct Rfc4231Case {
  const char* name;
  std::vector<uint8_t> key;
  std::vector<uint8_t> data;
  const char* hmac_sha256;
};

std::vector<uint8_t> Repeat(uint8_t byte, size_t n) { return std::vector<uint8_t>(n, byte); }
std::vector<uint8_t> Bytes(std::string_view s) { return std::vector<uint8_t>(s.begin(), s.end()); }

std::vector<Rfc4231Case> Rfc4231Cases() {
  return {
      {"TestCase1", Repeat(0x0b, 20), Bytes("Hi There"),
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {"TestCase2", Bytes("Jefe"), Bytes("what do ya want for nothing?"),
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {"TestCase3", Repeat(0xaa, 20), Repeat(0xdd, 50),
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
      {"TestCase4", FromHex("0102030405060708090a0b0c0d0e0f10111213141516171819"), Repeat(0xcd, 50),
       "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
      {"TestCase6", Repeat(0xaa, 131), Bytes("Test Using Larger Than Block-Size Key - Hash Key First"),
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
      {"TestCase7", Repeat(0xaa, 131),
       Bytes("This is a test using a larger than block-size key and a larger than block-size data. The key "
             "needs to be hashed before being used by the HMAC algorithm."),
       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
  };
}

TEST(HmacSha256Test, Rfc4231) {
  for (const Rfc4231Case& c : Rfc4231Cases()) {
    EXPECT_EQ(ToHex(HmacSha256(c.key, c.data)), c.hmac_sha256) << c.name;
    // The same through the SecretBytes overload, which is how keys are held in Veil.
    const base::SecretBytes key(c.key);
    EXPECT_EQ(ToHex(HmacSha256(key, c.data)), c.hmac_sha256) << c.name;
  }
}

TEST(HmacSha256Test, Rfc4231Case7DataIsTheRfcBytes) {
  // Guard against a typo in the ASCII transcription above: the RFC prints the data in hex.
  EXPECT_EQ(ToHex(Rfc4231Cases()[5].data),
            "5468697320697320612074657374207573696e672061206c6172676572207468616e20626c6f636b2d73697a65206b"
            "657920616e642061206c6172676572207468616e20626c6f636b2d73697a6520646174612e20546865206b6579206e"
            "6565647320746f20626520686173686564206265666f7265206265696e6720757365642062792074686520484d4143"
            "20616c676f726974686d2e");
}

TEST(HmacSha256Test, Rfc4231Case5TruncatedTo128Bits) {
  const HmacSha256Tag tag = HmacSha256(Repeat(0x0c, 20), Bytes("Test With Truncation"));
  EXPECT_EQ(ToHex(std::span<const uint8_t>(tag).first(16)), "a3b6167473100ee06e0c796c2955552b");
}

TEST(HmacSha256Test, StringViewOverload) {
  EXPECT_EQ(ToHex(HmacSha256(Repeat(0x0b, 20), std::string_view("Hi There"))),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

TEST(HmacSha256Test, EmptyKeyAndEmptyData) {
  // HMAC-SHA-256("", ""), as computed by independent implementations (e.g. Python's hmac module).
  EXPECT_EQ(ToHex(HmacSha256(std::span<const uint8_t>(), std::span<const uint8_t>())),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST(HmacSha256HasherTest, IncrementalMatchesOneShotAndResets) {
  const Rfc4231Case c = Rfc4231Cases()[5];  // long key and long data
  HmacSha256Hasher mac(c.key);
  const std::span<const uint8_t> data(c.data);
  mac.Update(data.first(7));
  mac.Update(data.subspan(7, 64));
  mac.Update(data.subspan(71));
  EXPECT_EQ(ToHex(mac.Final()), c.hmac_sha256);
  // After Final the hasher starts a new message under the same key.
  mac.Update(data);
  EXPECT_EQ(ToHex(mac.Final()), c.hmac_sha256);
}

TEST(HmacSha256HasherTest, KeyMayBeWipedAfterConstruction) {
  std::vector<uint8_t> key = Repeat(0x0b, 20);
  HmacSha256Hasher mac(key);
  std::fill(key.begin(), key.end(), 0);
  mac.Update(Bytes("Hi There"));
  EXPECT_EQ(ToHex(mac.Final()), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

TEST(HmacSha256HasherTest, ResetSwitchesKeyAndDiscardsPendingData) {
  const std::vector<Rfc4231Case> cases = Rfc4231Cases();
  HmacSha256Hasher mac(cases[0].key);
  mac.Update(Bytes("pending data that must be discarded"));
  for (const Rfc4231Case& c : cases) {
    mac.Reset(c.key);
    mac.Update(c.data);
    EXPECT_EQ(ToHex(mac.Final()), c.hmac_sha256) << c.name;
  }
}

TEST(VerifyHmacSha256Test, AcceptsCorrectTag) {
  const base::SecretBytes key = base::SecretBytes::FromString("Jefe");
  const std::vector<uint8_t> data = Bytes("what do ya want for nothing?");
  const std::vector<uint8_t> tag =
      FromHex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_TRUE(VerifyHmacSha256(key, data, tag).ok());
}

TEST(VerifyHmacSha256Test, RejectsEverySingleBitFlipOfTheTag) {
  const base::SecretBytes key = base::SecretBytes::FromString("Jefe");
  const std::vector<uint8_t> data = Bytes("what do ya want for nothing?");
  const std::vector<uint8_t> tag =
      FromHex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  for (size_t bit = 0; bit < tag.size() * 8; ++bit) {
    std::vector<uint8_t> bad = tag;
    bad[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    EXPECT_EQ(VerifyHmacSha256(key, data, bad).code(), absl::StatusCode::kDataLoss) << "bit " << bit;
  }
}

TEST(VerifyHmacSha256Test, RejectsModifiedDataAndWrongKey) {
  const base::SecretBytes key = base::SecretBytes::FromString("Jefe");
  const std::vector<uint8_t> tag =
      FromHex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(VerifyHmacSha256(key, Bytes("what do ya want for nothing!"), tag).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(
      VerifyHmacSha256(base::SecretBytes::FromString("Jeff"), Bytes("what do ya want for nothing?"), tag)
          .code(),
      absl::StatusCode::kDataLoss);
}

TEST(VerifyHmacSha256Test, RejectsTruncatedOrLongTagsAsInvalidArgument) {
  const base::SecretBytes key = base::SecretBytes::FromString("Jefe");
  const std::vector<uint8_t> data = Bytes("what do ya want for nothing?");
  std::vector<uint8_t> tag = FromHex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  const std::span<const uint8_t> full(tag);
  EXPECT_EQ(VerifyHmacSha256(key, data, full.first(16)).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(VerifyHmacSha256(key, data, {}).code(), absl::StatusCode::kDataLoss);
  tag.push_back(0);
  EXPECT_EQ(VerifyHmacSha256(key, data, tag).code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace hmac_test
}  // namespace veil::crypto
