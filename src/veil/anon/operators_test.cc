#include "veil/anon/operators.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/anon/pseudonymizer.h"
#include "veil/base/hex.h"
#include "veil/crypto/hmac.h"
#include "veil/crypto/testing/deterministic_random.h"
#include "veil/pii/checksums.h"

namespace veil::anon {
namespace operators_test {
namespace {

using pii::EntityType;
using pii::Span;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

base::SecretBytes TestKey(uint8_t fill, size_t n = 32) {
  base::SecretBytes k(n);
  for (size_t i = 0; i < n; ++i) k.data()[i] = static_cast<uint8_t>(fill + i);
  return k;
}

// The spans of each occurrence of `needles` in `text` (in order, non-overlapping), with the given types.
std::vector<Span> SpansOf(std::string_view text, std::vector<std::pair<std::string, EntityType>> needles) {
  std::vector<Span> spans;
  size_t from = 0;
  for (const auto& [needle, type] : needles) {
    const size_t at = text.find(needle, from);
    EXPECT_NE(at, std::string_view::npos) << needle;
    spans.push_back(Span{at, at + needle.size(), type, 1.0, "test"});
    from = at + needle.size();
  }
  return spans;
}

std::string Op(ValueOperator& op, ValueType type, std::string_view value) {
  absl::StatusOr<std::string> out = op.Apply(type, value);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : "";
}

bool PassesLuhn(std::string_view s) {
  std::string digits;
  for (char c : s)
    if (c >= '0' && c <= '9') digits.push_back(c);
  return pii::internal::LuhnValid(digits);
}

TEST(OperatorsTest, RedactAndReplaceOverSpans) {
  const std::string text = "Mail jane@example.com or call 212-555-0100.";
  const std::vector<Span> spans = SpansOf(
      text, {{"jane@example.com", EntityType::kEmailAddress}, {"212-555-0100", EntityType::kPhoneNumber}});
  RedactOperator redact;
  absl::StatusOr<AnonymizeResult> r = Anonymize(text, spans, redact);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->text, "Mail  or call .");
  EXPECT_EQ(r->counts[static_cast<size_t>(EntityType::kEmailAddress)], 1u);
  EXPECT_EQ(r->counts[static_cast<size_t>(EntityType::kPhoneNumber)], 1u);
  ReplaceOperator replace;
  r = Anonymize(text, spans, replace);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->text, "Mail <EMAIL_ADDRESS> or call <PHONE_NUMBER>.");
  EXPECT_EQ(Op(replace, std::nullopt, "x"), "<VALUE>");
}

Span S(size_t begin, size_t end, EntityType type) { return Span{begin, end, type, 1.0, "test"}; }

TEST(OperatorsTest, SpansAreValidated) {
  const std::string text = "née 12";  // 'é' is 2 bytes: offsets 1..3
  ReplaceOperator op;
  const auto code = [&](std::vector<Span> spans) { return Anonymize(text, spans, op).status().code(); };
  EXPECT_EQ(code({S(2, 4, EntityType::kPerson)}), absl::StatusCode::kInvalidArgument);  // inside 'é'
  EXPECT_EQ(code({S(0, 2, EntityType::kPerson)}), absl::StatusCode::kInvalidArgument);  // ends inside 'é'
  EXPECT_EQ(code({S(3, 3, EntityType::kPerson)}), absl::StatusCode::kInvalidArgument);  // empty
  EXPECT_EQ(code({S(5, 99, EntityType::kAge)}), absl::StatusCode::kInvalidArgument);    // beyond
  EXPECT_EQ(code({S(5, 7, EntityType::kAge), S(0, 3, EntityType::kPerson)}),
            absl::StatusCode::kInvalidArgument);  // out of order
  EXPECT_THAT(Anonymize(text, std::vector<Span>{S(2, 4, EntityType::kPerson)}, op).status().message(),
              HasSubstr("span 0 [2, 4)"));
  absl::StatusOr<AnonymizeResult> ok = Anonymize(text, std::vector<Span>{S(0, 4, EntityType::kPerson)}, op);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->text, "<PERSON> 12");
}

TEST(OperatorsTest, MaskCountsCodePointsNotBytes) {
  absl::StatusOr<std::unique_ptr<MaskOperator>> end = MaskOperator::Create({"*", 3, true});
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(Op(**end, EntityType::kPerson, "José Müller"), "José Mül***");
  EXPECT_EQ(Op(**end, EntityType::kPerson, "Zoë"), "***");
  absl::StatusOr<std::unique_ptr<MaskOperator>> start = MaskOperator::Create({"•", 2, false});
  ASSERT_TRUE(start.ok());
  EXPECT_EQ(Op(**start, EntityType::kPerson, "Ünal Şahin"), "••al Şahin");
  absl::StatusOr<std::unique_ptr<MaskOperator>> all = MaskOperator::Create({});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(Op(**all, EntityType::kPerson, "李小龍"), "***");
  absl::StatusOr<std::unique_ptr<MaskOperator>> card = MaskOperator::Create({"#", 15, false});
  ASSERT_TRUE(card.ok());
  EXPECT_EQ(Op(**card, EntityType::kCreditCard, "4111-1111-1111-1111"), "###############1111");
  EXPECT_FALSE(MaskOperator::Create({"**", 1, false}).ok());
  EXPECT_FALSE(MaskOperator::Create({"", 1, false}).ok());
  EXPECT_FALSE(MaskOperator::Create({"\xC3", 1, false}).ok());
}

TEST(OperatorsTest, CanonicalValues) {
  EXPECT_EQ(CanonicalValue(EntityType::kCreditCard, "4111-1111 1111-1111"), "4111111111111111");
  EXPECT_EQ(CanonicalValue(EntityType::kEmailAddress, " Jane.Doe@Example.COM "), "jane.doe@example.com");
  EXPECT_EQ(CanonicalValue(EntityType::kPerson, "  Jane \t DOE "), "jane doe");
  EXPECT_EQ(CanonicalValue(EntityType::kIbanCode, "gb82 west 1234"), "GB82WEST1234");
  EXPECT_EQ(CanonicalValue(EntityType::kMacAddress, "00:1A:2b-3C"), "001a2b3c");
  EXPECT_EQ(CanonicalValue(std::nullopt, " a  b "), "a b");
}

TEST(OperatorsTest, TokenIsHmacSha256OfTheCanonicalValue) {
  absl::StatusOr<std::unique_ptr<TokenOperator>> token = TokenOperator::Create(TestKey(1));
  ASSERT_TRUE(token.ok());
  // Recompute the documented MAC by hand.
  std::string message("veil token v1");
  message.push_back('\0');
  message += "EMAIL_ADDRESS";
  message.push_back('\0');
  message += "jane.doe@example.com";
  const crypto::HmacSha256Tag tag = crypto::HmacSha256(TestKey(1), message);
  const std::string expected =
      "TOK_EMAIL_ADDRESS_" + base::HexEncode(std::span<const uint8_t>(tag.data(), 8));
  EXPECT_EQ(Op(**token, EntityType::kEmailAddress, "Jane.Doe@example.com"), expected);
  // Deterministic, and formatting variants agree.
  EXPECT_EQ(Op(**token, EntityType::kEmailAddress, "jane.doe@EXAMPLE.com"), expected);
  EXPECT_EQ(Op(**token, EntityType::kCreditCard, "4111-1111-1111-1111"),
            Op(**token, EntityType::kCreditCard, "4111 1111 1111 1111"));
  // Different values, types and keys give different tokens.
  EXPECT_NE(Op(**token, EntityType::kEmailAddress, "john@example.com"), expected);
  EXPECT_NE(Op(**token, EntityType::kUsSsn, "123-45-6789"), Op(**token, EntityType::kUsItin, "123-45-6789"));
  absl::StatusOr<std::unique_ptr<TokenOperator>> other = TokenOperator::Create(TestKey(2));
  ASSERT_TRUE(other.ok());
  EXPECT_NE(Op(**other, EntityType::kEmailAddress, "jane.doe@example.com"), expected);
}

TEST(OperatorsTest, TokenFormatOptions) {
  absl::StatusOr<std::unique_ptr<TokenOperator>> t = TokenOperator::Create(TestKey(1), {"[{type}:{hex}]", 8});
  ASSERT_TRUE(t.ok());
  const std::string out = Op(**t, std::nullopt, "x");
  EXPECT_THAT(out, ::testing::MatchesRegex("\\[VALUE:[0-9a-f]{8}\\]"));
  EXPECT_FALSE(TokenOperator::Create(TestKey(1), {"TOK_{type}", 16}).ok());
  EXPECT_FALSE(TokenOperator::Create(TestKey(1), {"{hex}", 7}).ok());
  EXPECT_FALSE(TokenOperator::Create(TestKey(1), {"{hex}", 66}).ok());
  EXPECT_FALSE(TokenOperator::Create(TestKey(1, 15)).ok());
}

TEST(OperatorsTest, Ff1KeepsFormatAndLuhnAndIsReversible) {
  absl::StatusOr<std::unique_ptr<Ff1Operator>> ff1 = Ff1Operator::Create(TestKey(7));
  ASSERT_TRUE(ff1.ok());
  const std::string card = "4111-1111-1111-1111";
  const std::string enc = Op(**ff1, EntityType::kCreditCard, card);
  EXPECT_THAT(enc, ::testing::MatchesRegex("[0-9]{4}-[0-9]{4}-[0-9]{4}-[0-9]{4}"));
  EXPECT_NE(enc, card);
  EXPECT_TRUE(PassesLuhn(enc)) << enc;
  EXPECT_EQ(*(*ff1)->Decrypt(EntityType::kCreditCard, enc), card);
  EXPECT_EQ(Op(**ff1, EntityType::kCreditCard, card), enc);  // deterministic

  const std::string ssn = "123-45-6789";
  const std::string ssn_enc = Op(**ff1, EntityType::kUsSsn, ssn);
  EXPECT_THAT(ssn_enc, ::testing::MatchesRegex("[0-9]{3}-[0-9]{2}-[0-9]{4}"));
  EXPECT_EQ(*(*ff1)->Decrypt(EntityType::kUsSsn, ssn_enc), ssn);
  // The type is the tweak: the same digits as an ITIN encrypt differently.
  EXPECT_NE(Op(**ff1, EntityType::kUsItin, ssn), ssn_enc);

  const std::string email = "Jane.Doe@example.com";
  const std::string email_enc = Op(**ff1, EntityType::kEmailAddress, email);
  EXPECT_THAT(email_enc,
              ::testing::MatchesRegex("[0-9A-Za-z]{4}\\.[0-9A-Za-z]{3}@[0-9A-Za-z]{7}\\.[0-9A-Za-z]{3}"));
  EXPECT_EQ(*(*ff1)->Decrypt(EntityType::kEmailAddress, email_enc), email);

  // Without the Luhn repair all 16 digits are encrypted; still reversible.
  absl::StatusOr<std::unique_ptr<Ff1Operator>> raw = Ff1Operator::Create(TestKey(7), {.fix_luhn = false});
  ASSERT_TRUE(raw.ok());
  const std::string raw_enc = Op(**raw, EntityType::kCreditCard, card);
  EXPECT_EQ(*(*raw)->Decrypt(EntityType::kCreditCard, raw_enc), card);
}

TEST(OperatorsTest, Ff1SmallDomains) {
  absl::StatusOr<std::unique_ptr<Ff1Operator>> ff1 = Ff1Operator::Create(TestKey(7));
  ASSERT_TRUE(ff1.ok());
  EXPECT_EQ(Op(**ff1, EntityType::kAge, "42"), "<AGE>");
  EXPECT_EQ((*ff1)->small_domain_count(), 1u);
  absl::StatusOr<std::unique_ptr<Ff1Operator>> strict =
      Ff1Operator::Create(TestKey(7), {.replace_small_domains = false});
  ASSERT_TRUE(strict.ok());
  absl::StatusOr<std::string> refused = (*strict)->Apply(EntityType::kZipCode, "AB1");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr("3 characters"));
  EXPECT_THAT(refused.status().message(), ::testing::Not(HasSubstr("AB1")));
  EXPECT_FALSE(Ff1Operator::Create(TestKey(7, 20)).ok());
}

TEST(PseudonymTest, ConsistentNumbersAndRestoreAfterRearrangement) {
  const std::string text = "Jane Doe met John Smith (jane@example.com). Later jane  DOE called John Smith.";
  const std::vector<Span> spans = SpansOf(text, {{"Jane Doe", EntityType::kPerson},
                                                 {"John Smith", EntityType::kPerson},
                                                 {"jane@example.com", EntityType::kEmailAddress},
                                                 {"jane  DOE", EntityType::kPerson},
                                                 {"John Smith", EntityType::kPerson}});
  PseudonymMap map;
  Pseudonymizer op(map);
  absl::StatusOr<AnonymizeResult> r = Anonymize(text, spans, op);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->text, "<PERSON_1> met <PERSON_2> (<EMAIL_ADDRESS_1>). Later <PERSON_1> called <PERSON_2>.");
  EXPECT_EQ(map.size(), 3u);

  // The service's answer moves, repeats and drops placeholders, and invents one.
  const std::string answer =
      "<PERSON_2> replied to <PERSON_1>; <PERSON_1> again. Cc <PERSON_7> and <EMAIL_ADDRESS_9>, <div>, "
      "<PERSON_7>.";
  RestoreResult back = Restore(answer, map);
  EXPECT_EQ(back.text,
            "John Smith replied to Jane Doe; Jane Doe again. Cc <PERSON_7> and <EMAIL_ADDRESS_9>, <div>, "
            "<PERSON_7>.");
  EXPECT_EQ(back.restored, 3u);
  EXPECT_THAT(back.unknown, ElementsAre("<PERSON_7>", "<EMAIL_ADDRESS_9>"));
  // Angle brackets that are no placeholders survive untouched.
  EXPECT_EQ(Restore("a < b > c <<PERSON_1>> <", map).text, "a < b > c <Jane Doe> <");
}

std::vector<uint8_t> SealedTestMap(const base::SecretBytes& key, std::string_view context) {
  PseudonymMap map;
  map.Pseudonymize(EntityType::kPerson, "Jane Doe");
  map.Pseudonymize(EntityType::kEmailAddress, "jane@example.com");
  map.Pseudonymize(EntityType::kPerson, "Łukasz Nowak");
  const std::vector<uint8_t> seed(32, 9);
  crypto::testing::DeterministicRandom rng(seed, seed);
  absl::StatusOr<std::vector<uint8_t>> sealed = map.Seal(key, context, rng);
  EXPECT_TRUE(sealed.ok()) << sealed.status();
  return sealed.ok() ? *sealed : std::vector<uint8_t>();
}

TEST(PseudonymTest, SealedMapRoundTrip) {
  const std::vector<uint8_t> sealed = SealedTestMap(TestKey(3), "ws-1");
  absl::StatusOr<PseudonymMap> map = PseudonymMap::Open(TestKey(3), sealed, "ws-1");
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(map->size(), 3u);
  EXPECT_EQ(Restore("<PERSON_2>, <PERSON_1>: <EMAIL_ADDRESS_1>", *map).text,
            "Łukasz Nowak, Jane Doe: jane@example.com");
  // Numbering continues after a reload.
  EXPECT_EQ(map->Pseudonymize(EntityType::kPerson, "Ann Lee"), "<PERSON_3>");
  EXPECT_EQ(map->Pseudonymize(EntityType::kPerson, "JANE DOE"), "<PERSON_1>");
}

TEST(PseudonymTest, EveryFlippedByteIsDataLoss) {
  const std::vector<uint8_t> sealed = SealedTestMap(TestKey(3), "ws-1");
  ASSERT_FALSE(sealed.empty());
  for (size_t i = 0; i < sealed.size(); ++i) {
    std::vector<uint8_t> bad = sealed;
    bad[i] ^= 0x01;
    absl::StatusOr<PseudonymMap> map = PseudonymMap::Open(TestKey(3), bad, "ws-1");
    ASSERT_EQ(map.status().code(), absl::StatusCode::kDataLoss) << "byte " << i;
  }
  for (size_t n = 0; n < sealed.size(); ++n) {
    absl::StatusOr<PseudonymMap> map =
        PseudonymMap::Open(TestKey(3), std::span<const uint8_t>(sealed.data(), n), "ws-1");
    ASSERT_EQ(map.status().code(), absl::StatusCode::kDataLoss) << "truncated to " << n;
  }
  std::vector<uint8_t> longer = sealed;
  longer.push_back(0);
  EXPECT_EQ(PseudonymMap::Open(TestKey(3), longer, "ws-1").status().code(), absl::StatusCode::kDataLoss);
}

TEST(PseudonymTest, WrongKeyOrContextOrVersionIsDataLoss) {
  const std::vector<uint8_t> sealed = SealedTestMap(TestKey(3), "ws-1");
  absl::StatusOr<PseudonymMap> wrong_key = PseudonymMap::Open(TestKey(4), sealed, "ws-1");
  EXPECT_EQ(wrong_key.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(wrong_key.status().message(), HasSubstr("authentication failed"));
  EXPECT_EQ(PseudonymMap::Open(TestKey(3), sealed, "ws-2").status().code(), absl::StatusCode::kDataLoss);
  std::vector<uint8_t> v2 = sealed;
  v2[8] = 2;
  absl::StatusOr<PseudonymMap> version = PseudonymMap::Open(TestKey(3), v2, "ws-1");
  EXPECT_THAT(version.status().message(), HasSubstr("unsupported format version 2"));
  std::vector<uint8_t> magic = sealed;
  magic[0] = 'X';
  EXPECT_THAT(PseudonymMap::Open(TestKey(3), magic, "ws-1").status().message(), HasSubstr("bad magic"));
  EXPECT_EQ(PseudonymMap::Open(TestKey(3, 16), sealed, "ws-1").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PseudonymTest, PayloadParserIsStrict) {
  PseudonymMap map;
  map.Pseudonymize(EntityType::kPerson, "Jane Doe");
  const std::vector<uint8_t> good = map.SerializePayload();
  ASSERT_TRUE(PseudonymMap::ParsePayload(good).ok());
  const auto code = [](std::vector<uint8_t> p) { return PseudonymMap::ParsePayload(p).status().code(); };
  std::vector<uint8_t> trailing = good;
  trailing.push_back(0);
  EXPECT_EQ(code(trailing), absl::StatusCode::kDataLoss);
  std::vector<uint8_t> bad_type = good;
  bad_type[4] = 200;
  EXPECT_EQ(code(bad_type), absl::StatusCode::kDataLoss);
  std::vector<uint8_t> zero = good;
  zero[5] = 0;
  EXPECT_EQ(code(zero), absl::StatusCode::kDataLoss);
  std::vector<uint8_t> huge = good;
  huge[3] = 0x7f;  // count ~2^30
  EXPECT_EQ(code(huge), absl::StatusCode::kDataLoss);
  // The same entry twice.
  std::vector<uint8_t> twice = good;
  twice[0] = 2;
  twice.insert(twice.end(), good.begin() + 4, good.end());
  absl::StatusOr<PseudonymMap> dup = PseudonymMap::ParsePayload(twice);
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(dup.status().message(), HasSubstr("entry 1"));
  std::vector<uint8_t> utf8 = good;
  utf8.back() = 0xff;
  EXPECT_EQ(code(utf8), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace operators_test
}  // namespace veil::anon
