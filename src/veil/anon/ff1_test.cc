#include "veil/anon/ff1.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/base/test_util.h"
#include "veil/crypto/testing/hex.h"

namespace veil::anon {
namespace {

using crypto::testing::FromHex;
using internal::Ff1Arithmetic;
using ::testing::HasSubstr;

constexpr char kDigits[] = "0123456789";
constexpr char kBase36[] = "0123456789abcdefghijklmnopqrstuvwxyz";

base::SecretBytes Key(std::string_view hex) { return base::SecretBytes(FromHex(hex)); }

// NIST's FF1 samples (FF1samples.pdf, "Examples of the FF1 mode", CSRC), all nine.
struct Sample {
  int number;
  const char* key;
  uint32_t radix;
  const char* tweak;
  const char* plaintext;
  const char* ciphertext;
};
constexpr char kKey128[] = "2B7E151628AED2A6ABF7158809CF4F3C";
constexpr char kKey192[] = "2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F";
constexpr char kKey256[] = "2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F7F036D6F04FC6A94";
constexpr char kTweak10[] = "39383736353433323130";
constexpr char kTweak11[] = "3737373770717273373737";
const Sample kSamples[] = {
    {1, kKey128, 10, "", "0123456789", "2433477484"},
    {2, kKey128, 10, kTweak10, "0123456789", "6124200773"},
    {3, kKey128, 36, kTweak11, "0123456789abcdefghi", "a9tv40mll9kdu509eum"},
    {4, kKey192, 10, "", "0123456789", "2830668132"},
    {5, kKey192, 10, kTweak10, "0123456789", "2496655549"},
    {6, kKey192, 36, kTweak11, "0123456789abcdefghi", "xbj3kv35jrawxv32ysr"},
    {7, kKey256, 10, "", "0123456789", "6657667009"},
    {8, kKey256, 10, kTweak10, "0123456789", "1001623463"},
    {9, kKey256, 36, kTweak11, "0123456789abcdefghi", "xs8a0azh2avyalyzuwd"},
};

std::vector<uint16_t> Numerals(std::string_view s, std::string_view alphabet) {
  std::vector<uint16_t> out;
  for (char c : s) out.push_back(static_cast<uint16_t>(alphabet.find(c)));
  return out;
}

TEST(Ff1Test, NistSamplesEncryptAndDecrypt) {
  for (const Sample& s : kSamples) {
    SCOPED_TRACE(::testing::Message() << "NIST FF1 sample " << s.number);
    absl::StatusOr<Ff1> ff1 = Ff1::Create(Key(s.key), s.radix);
    ASSERT_TRUE(ff1.ok()) << ff1.status();
    const std::string_view alphabet = s.radix == 10 ? kDigits : kBase36;
    const std::vector<uint8_t> tweak = FromHex(s.tweak);
    absl::StatusOr<std::string> ct = ff1->EncryptString(s.plaintext, alphabet, tweak);
    ASSERT_TRUE(ct.ok()) << ct.status();
    EXPECT_EQ(*ct, s.ciphertext);
    absl::StatusOr<std::string> pt = ff1->DecryptString(s.ciphertext, alphabet, tweak);
    ASSERT_TRUE(pt.ok()) << pt.status();
    EXPECT_EQ(*pt, s.plaintext);
  }
}

// The samples again with each arithmetic forced: the 64-bit path and the BIGNUM path agree with NIST.
TEST(Ff1Test, NistSamplesOnBothArithmetics) {
  for (Ff1Arithmetic arithmetic : {Ff1Arithmetic::kWide, Ff1Arithmetic::kBignum}) {
    for (const Sample& s : kSamples) {
      SCOPED_TRACE(::testing::Message()
                   << "sample " << s.number << " arithmetic " << static_cast<int>(arithmetic));
      absl::StatusOr<Ff1> ff1 = Ff1::Create(Key(s.key), s.radix);
      ASSERT_TRUE(ff1.ok());
      const std::string_view alphabet = s.radix == 10 ? kDigits : kBase36;
      const std::vector<uint8_t> tweak = FromHex(s.tweak);
      absl::StatusOr<std::vector<uint16_t>> ct =
          ff1->CryptForTest(true, Numerals(s.plaintext, alphabet), tweak, arithmetic);
      ASSERT_TRUE(ct.ok()) << ct.status();
      EXPECT_EQ(*ct, Numerals(s.ciphertext, alphabet));
      absl::StatusOr<std::vector<uint16_t>> pt = ff1->CryptForTest(false, *ct, tweak, arithmetic);
      ASSERT_TRUE(pt.ok()) << pt.status();
      EXPECT_EQ(*pt, Numerals(s.plaintext, alphabet));
    }
  }
}

// Round trips across radices, lengths and tweak lengths (including tweaks that push Q over a block and
// lengths where S needs more than one AES block, d > 16), with both arithmetics compared where the 64-bit
// one applies.
TEST(Ff1Test, RoundTripsAcrossRadicesAndLengths) {
  base::testing::DataRandom rnd(42);
  const base::SecretBytes key = Key(kKey256);
  for (uint32_t radix : {2u, 3u, 10u, 16u, 36u, 62u, 255u, 256u, 1000u, 65535u, 65536u}) {
    absl::StatusOr<Ff1> ff1 = Ff1::Create(key, radix);
    ASSERT_TRUE(ff1.ok());
    for (size_t n : {size_t{ff1->min_length()}, size_t{ff1->min_length()} + 1, size_t{21}, size_t{38},
                     size_t{39}, size_t{64}, size_t{129}}) {
      if (n < ff1->min_length()) continue;
      for (size_t t : {size_t{0}, size_t{1}, size_t{13}, size_t{40}}) {
        SCOPED_TRACE(::testing::Message() << "radix " << radix << " n " << n << " tweak " << t);
        std::vector<uint16_t> x(n);
        for (uint16_t& d : x) d = static_cast<uint16_t>(rnd.Below(radix));
        std::vector<uint8_t> tweak(t);
        for (uint8_t& b : tweak) b = static_cast<uint8_t>(rnd.Next());
        absl::StatusOr<std::vector<uint16_t>> y = ff1->Encrypt(x, tweak);
        ASSERT_TRUE(y.ok()) << y.status();
        ASSERT_EQ(y->size(), n);
        for (uint16_t d : *y) ASSERT_LT(d, radix);
        absl::StatusOr<std::vector<uint16_t>> back = ff1->Decrypt(*y, tweak);
        ASSERT_TRUE(back.ok()) << back.status();
        EXPECT_EQ(*back, x);
        absl::StatusOr<std::vector<uint16_t>> big = ff1->CryptForTest(true, x, tweak, Ff1Arithmetic::kBignum);
        ASSERT_TRUE(big.ok()) << big.status();
        EXPECT_EQ(*big, *y);
      }
    }
  }
}

TEST(Ff1Test, TweakAndKeySeparateDomains) {
  absl::StatusOr<Ff1> a = Ff1::Create(Key(kKey128), 10);
  absl::StatusOr<Ff1> b = Ff1::Create(Key(kKey192), 10);
  ASSERT_TRUE(a.ok() && b.ok());
  const std::vector<uint8_t> t1 = {'x'}, t2 = {'y'};
  const std::string pt = "4111111111111111";
  absl::StatusOr<std::string> c1 = a->EncryptString(pt, kDigits, t1);
  absl::StatusOr<std::string> c2 = a->EncryptString(pt, kDigits, t2);
  absl::StatusOr<std::string> c3 = b->EncryptString(pt, kDigits, t1);
  ASSERT_TRUE(c1.ok() && c2.ok() && c3.ok());
  EXPECT_NE(*c1, pt);
  EXPECT_NE(*c1, *c2);
  EXPECT_NE(*c1, *c3);
  EXPECT_EQ(*a->EncryptString(pt, kDigits, t1), *c1);  // deterministic
}

TEST(Ff1Test, RefusesDomainsBelowOneMillion) {
  absl::StatusOr<Ff1> dec = Ff1::Create(Key(kKey128), 10);
  ASSERT_TRUE(dec.ok());
  EXPECT_EQ(dec->min_length(), 6u);
  absl::StatusOr<std::string> five = dec->EncryptString("12345", kDigits, {});
  EXPECT_EQ(five.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(five.status().message(), HasSubstr("domain too small"));
  EXPECT_EQ(dec->DecryptString("12345", kDigits, {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(dec->EncryptString("123456", kDigits, {}).ok());

  absl::StatusOr<Ff1> bin = Ff1::Create(Key(kKey128), 2);
  ASSERT_TRUE(bin.ok());
  EXPECT_EQ(bin->min_length(), 20u);  // 2^19 = 524,288 < 10^6 <= 2^20
  EXPECT_FALSE(bin->Encrypt(std::vector<uint16_t>(19, 1), {}).ok());
  EXPECT_TRUE(bin->Encrypt(std::vector<uint16_t>(20, 1), {}).ok());

  absl::StatusOr<Ff1> wide = Ff1::Create(Key(kKey128), 65536);
  ASSERT_TRUE(wide.ok());
  EXPECT_EQ(wide->min_length(), 2u);  // n >= 2 always
  EXPECT_FALSE(wide->Encrypt(std::vector<uint16_t>(1, 7), {}).ok());
}

TEST(Ff1Test, RejectsBadParameters) {
  EXPECT_EQ(Ff1::Create(base::SecretBytes(15), 10).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Ff1::Create(base::SecretBytes(33), 10).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Ff1::Create(Key(kKey128), 1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Ff1::Create(Key(kKey128), 65537).status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<Ff1> ff1 = Ff1::Create(Key(kKey128), 10);
  ASSERT_TRUE(ff1.ok());
  absl::StatusOr<std::vector<uint16_t>> bad = ff1->Encrypt(std::vector<uint16_t>{1, 2, 3, 10, 4, 5, 6}, {});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("position 3"));
  EXPECT_EQ(ff1->EncryptString("12345a7", kDigits, {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ff1->EncryptString("1234567", "012345678", {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ff1->EncryptString("1234567", "0123456788", {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace veil::anon
