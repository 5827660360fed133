#include "veil/crypto/aead.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "veil/base/secret_bytes.h"
#include "veil/crypto/testing/deterministic_random.h"
#include "veil/crypto/testing/hex.h"

namespace veil::crypto {
namespace {

using ::veil::crypto::testing::DeterministicRandom;
using ::veil::crypto::testing::FromHex;
using ::veil::crypto::testing::ToHex;

// McGrew and Viega, "The Galois/Counter Mode of Operation (GCM)", Appendix B, test cases 13-16 (AES-256),
// as also published by NIST with SP 800-38D.
struct GcmCase {
  const char* name;
  const char* key;
  const char* iv;
  const char* plaintext;
  const char* aad;
  const char* ciphertext;
  const char* tag;
};

constexpr char kKey1516[] = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
constexpr char kPlain64[] =
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525"
    "b16aedf5aa0de657ba637b391aafd255";
constexpr char kCipher64[] =
    "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838"
    "c5f61e6393ba7a0abcc9f662898015ad";

std::vector<GcmCase> GcmCases() {
  static const std::string plain60 = std::string(kPlain64).substr(0, 120);
  static const std::string cipher60 = std::string(kCipher64).substr(0, 120);
  return {
      {"TestCase13", "0000000000000000000000000000000000000000000000000000000000000000",
       "000000000000000000000000", "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
      {"TestCase14", "0000000000000000000000000000000000000000000000000000000000000000",
       "000000000000000000000000", "00000000000000000000000000000000", "", "cea7403d4d606b6e074ec5d3baf39d18",
       "d0d1c8a799996bf0265b98b5d48ab919"},
      {"TestCase15", kKey1516, "cafebabefacedbaddecaf888", kPlain64, "", kCipher64,
       "b094dac5d93471bdec1a502270e3cc6c"},
      {"TestCase16", kKey1516, "cafebabefacedbaddecaf888", plain60.c_str(),
       "feedfacedeadbeeffeedfacedeadbeefabaddad2", cipher60.c_str(), "76fc6ece0f4e1768cddf8853bb2d551b"},
  };
}

base::SecretBytes Key(const char* hex) { return base::SecretBytes(FromHex(hex)); }

std::vector<uint8_t> Bytes(std::string_view s) { return std::vector<uint8_t>(s.begin(), s.end()); }

TEST(AeadKatTest, SealWithNonceMatchesGcmSpec) {
  for (const GcmCase& c : GcmCases()) {
    absl::StatusOr<std::vector<uint8_t>> out =
        SealWithNonce(Key(c.key), FromHex(c.iv), FromHex(c.plaintext), FromHex(c.aad));
    ASSERT_TRUE(out.ok()) << c.name << ": " << out.status();
    EXPECT_EQ(ToHex(*out), std::string(c.ciphertext) + c.tag) << c.name;
  }
}

TEST(AeadKatTest, OpenWithNonceRecoversGcmSpecPlaintext) {
  for (const GcmCase& c : GcmCases()) {
    absl::StatusOr<std::vector<uint8_t>> out =
        OpenWithNonce(Key(c.key), FromHex(c.iv), FromHex(std::string(c.ciphertext) + c.tag), FromHex(c.aad));
    ASSERT_TRUE(out.ok()) << c.name << ": " << out.status();
    EXPECT_EQ(ToHex(*out), c.plaintext) << c.name;
  }
}

TEST(AeadKatTest, OpenAcceptsTheSealedFormatOfAKat) {
  const GcmCase c = GcmCases()[3];
  const std::vector<uint8_t> sealed = FromHex(std::string(c.iv) + c.ciphertext + c.tag);
  absl::StatusOr<std::vector<uint8_t>> out = Open(Key(c.key), sealed, FromHex(c.aad));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(ToHex(*out), c.plaintext);
}

class AeadTest : public ::testing::Test {
 protected:
  base::SecretBytes key_ = base::SecretBytes(FromHex(kKey1516));
  DeterministicRandom rng_{1234};
  std::vector<uint8_t> plaintext_ = Bytes("patient 4711: diagnosis withheld");
  std::vector<uint8_t> aad_ = Bytes("vault/record/4711/v1");
};

TEST_F(AeadTest, SealFormatIsNonceCiphertextTag) {
  absl::StatusOr<std::vector<uint8_t>> sealed = Seal(key_, plaintext_, aad_, rng_);
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  ASSERT_EQ(sealed->size(), plaintext_.size() + kAes256GcmOverhead);
  // The nonce is the first 12 bytes the generator produced...
  DeterministicRandom replay(1234);
  std::vector<uint8_t> nonce(kAes256GcmNonceSize);
  ASSERT_TRUE(replay.Fill(nonce).ok());
  EXPECT_EQ(std::vector<uint8_t>(sealed->begin(), sealed->begin() + 12), nonce);
  // ...and the rest is exactly what SealWithNonce produces with that nonce.
  absl::StatusOr<std::vector<uint8_t>> rest = SealWithNonce(key_, nonce, plaintext_, aad_);
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_EQ(std::vector<uint8_t>(sealed->begin() + 12, sealed->end()), *rest);
}

TEST_F(AeadTest, RoundTrip) {
  absl::StatusOr<std::vector<uint8_t>> sealed = Seal(key_, plaintext_, aad_, rng_);
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  absl::StatusOr<std::vector<uint8_t>> opened = Open(key_, *sealed, aad_);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, plaintext_);
  absl::StatusOr<base::SecretBytes> secret = OpenToSecret(key_, *sealed, aad_);
  ASSERT_TRUE(secret.ok()) << secret.status();
  EXPECT_EQ(std::vector<uint8_t>(secret->span().begin(), secret->span().end()), plaintext_);
}

TEST_F(AeadTest, RoundTripEmptyPlaintextAndEmptyAad) {
  absl::StatusOr<std::vector<uint8_t>> sealed = Seal(key_, {}, {}, rng_);
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  EXPECT_EQ(sealed->size(), kAes256GcmOverhead);
  absl::StatusOr<std::vector<uint8_t>> opened = Open(key_, *sealed, {});
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_TRUE(opened->empty());
}

TEST_F(AeadTest, RoundTripOneMebibyte) {
  std::vector<uint8_t> big(1 << 20);
  ASSERT_TRUE(rng_.Fill(big).ok());
  absl::StatusOr<std::vector<uint8_t>> sealed = Seal(key_, big, aad_, rng_);
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  absl::StatusOr<std::vector<uint8_t>> opened = Open(key_, *sealed, aad_);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, big);
}

TEST_F(AeadTest, SealingTwiceUsesFreshNonces) {
  absl::StatusOr<std::vector<uint8_t>> a = Seal(key_, plaintext_, aad_, rng_);
  absl::StatusOr<std::vector<uint8_t>> b = Seal(key_, plaintext_, aad_, rng_);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(std::vector<uint8_t>(a->begin(), a->begin() + 12),
            std::vector<uint8_t>(b->begin(), b->begin() + 12));
  EXPECT_NE(*a, *b);
}

TEST_F(AeadTest, EverySingleBitFlipOfNonceCiphertextOrTagIsRejected) {
  absl::StatusOr<std::vector<uint8_t>> sealed = Seal(key_, plaintext_, aad_, rng_);
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  for (size_t bit = 0; bit < sealed->size() * 8; ++bit) {
    std::vector<uint8_t> tampered = *sealed;
    tampered[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    absl::StatusOr<std::vector<uint8_t>> opened = Open(key_, tampered, aad_);
    ASSERT_EQ(opened.status().code(), absl::StatusCode::kDataLoss) << "bit " << bit;
    EXPECT_EQ(opened.status().message(), "authentication failed");
  }
}

TEST_F(AeadTest, EverySingleBitFlipOfAadIsRejected) {
  absl::StatusOr<std::vector<uint8_t>> sealed = Seal(key_, plaintext_, aad_, rng_);
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  for (size_t bit = 0; bit < aad_.size() * 8; ++bit) {
    std::vector<uint8_t> aad = aad_;
    aad[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    EXPECT_EQ(Open(key_, *sealed, aad).status().code(), absl::StatusCode::kDataLoss) << "bit " << bit;
  }
  // Dropping or appending AAD bytes is rejected too.
  EXPECT_EQ(Open(key_, *sealed, {}).status().code(), absl::StatusCode::kDataLoss);
  std::vector<uint8_t> longer = aad_;
  longer.push_back(0);
  EXPECT_EQ(Open(key_, *sealed, longer).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(AeadTest, TruncatedInputIsRejected) {
  absl::StatusOr<std::vector<uint8_t>> sealed = Seal(key_, plaintext_, aad_, rng_);
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  const std::span<const uint8_t> full(*sealed);
  for (size_t n = 0; n < full.size(); ++n) {
    const absl::StatusCode want = absl::StatusCode::kDataLoss;
    EXPECT_EQ(Open(key_, full.first(n), aad_).status().code(), want) << "length " << n;
  }
  std::vector<uint8_t> extended = *sealed;
  extended.push_back(0);
  EXPECT_EQ(Open(key_, extended, aad_).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(AeadTest, WrongKeyIsRejected) {
  absl::StatusOr<std::vector<uint8_t>> sealed = Seal(key_, plaintext_, aad_, rng_);
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  base::SecretBytes other = key_.Clone();
  other.data()[31] ^= 1;
  EXPECT_EQ(Open(other, *sealed, aad_).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(OpenToSecret(other, *sealed, aad_).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(AeadTest, WrongKeySizeIsInvalidArgument) {
  for (size_t n : {0, 16, 24, 31, 33}) {
    const base::SecretBytes bad(n);
    EXPECT_EQ(Seal(bad, plaintext_, aad_, rng_).status().code(), absl::StatusCode::kInvalidArgument) << n;
    EXPECT_EQ(Open(bad, std::vector<uint8_t>(64), aad_).status().code(), absl::StatusCode::kInvalidArgument)
        << n;
    EXPECT_EQ(SealWithNonce(bad, std::vector<uint8_t>(12), plaintext_, aad_).status().code(),
              absl::StatusCode::kInvalidArgument)
        << n;
  }
}

TEST_F(AeadTest, WrongNonceSizeIsInvalidArgument) {
  for (size_t n : {0, 8, 11, 13, 16}) {
    const std::vector<uint8_t> nonce(n);
    EXPECT_EQ(SealWithNonce(key_, nonce, plaintext_, aad_).status().code(),
              absl::StatusCode::kInvalidArgument)
        << n;
    EXPECT_EQ(OpenWithNonce(key_, nonce, std::vector<uint8_t>(32), aad_).status().code(),
              absl::StatusCode::kInvalidArgument)
        << n;
  }
  EXPECT_EQ(OpenWithNonce(key_, std::vector<uint8_t>(12), std::vector<uint8_t>(15), aad_).status().code(),
            absl::StatusCode::kDataLoss)
      << "a ciphertext shorter than its tag is truncated data";
}

TEST_F(AeadTest, RandomSourceFailureIsPropagated) {
  class FailingRandom : public base::RandomSource {
   public:
    absl::Status Fill(std::span<uint8_t>) override { return absl::UnavailableError("no entropy"); }
  } failing;
  EXPECT_EQ(Seal(key_, plaintext_, aad_, failing).status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace veil::crypto
