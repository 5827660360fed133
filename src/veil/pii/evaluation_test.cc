#include "veil/pii/evaluation.h"

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "re2/re2.h"
#include "veil/base/test_util.h"
#include "veil/pii/analyzer.h"
#include "veil/pii/checksums.h"

namespace veil::pii {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

Span Pred(size_t begin, size_t end, EntityType type) { return Span{begin, end, type, 0.9, "test"}; }
GoldSpan Gold(size_t begin, size_t end, std::string_view dataset_type) {
  return GoldSpan{begin, end, std::string(dataset_type), MapDatasetEntity(dataset_type)};
}
const Counts& Of(const EvalReport& r, EntityType t) { return r.per_type[static_cast<size_t>(t)]; }

// --- Code points and UTF-8 -------------------------------------------------------------------------------

TEST(CodePointByteOffsetsTest, MultibyteText) {
  // a (1 byte), é (2), € (3), 😀 (4), b (1).
  absl::StatusOr<std::vector<size_t>> o = internal::CodePointByteOffsets(
      "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"
      "b");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_THAT(*o, ElementsAre(0, 1, 3, 6, 10, 11));
  EXPECT_THAT(*internal::CodePointByteOffsets(""), ElementsAre(0));
}

TEST(CodePointByteOffsetsTest, RejectsInvalidUtf8) {
  for (std::string bad :
       {std::string("ab\xC3"), std::string("\xC0\xAF"), std::string("x\xED\xA0\x80"),
        std::string("\xF4\x90\x80\x80"), std::string("\x80"), std::string("\xE0\x80\xAF")}) {
    absl::StatusOr<std::vector<size_t>> o = internal::CodePointByteOffsets(bad);
    EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument) << bad.size();
  }
  EXPECT_THAT(internal::CodePointByteOffsets("ab\xC3").status().message(), HasSubstr("byte 2"));
}

// --- Dataset parsing -------------------------------------------------------------------------------------

TEST(ParsePresidioDatasetTest, ConvertsCodePointOffsetsToBytes) {
  // "Krisztián Szöllösy" is 18 code points and 21 bytes; "Zoë" starts at code point 23.
  const std::string json = R"([
    {"full_text": "Krisztián Szöllösy met Zoë in Győr.", "masked": "", "template_id": 1, "metadata": null,
     "spans": [
       {"entity_type": "GPE", "entity_value": "Győr", "start_position": 30, "end_position": 34},
       {"entity_type": "PERSON", "entity_value": "Krisztián Szöllösy", "start_position": 0, "end_position": 18},
       {"entity_type": "PERSON", "entity_value": "Zoë", "start_position": 23, "end_position": 26}]},
    {"full_text": "What are my options?", "spans": []}
  ])";
  absl::StatusOr<LabeledDataset> d = ParsePresidioDataset(json);
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->samples.size(), 2u);
  const LabeledSample& s = d->samples[0];
  ASSERT_EQ(s.spans.size(), 3u);
  // Sorted by begin.
  EXPECT_EQ(s.spans[0].begin, 0u);
  EXPECT_EQ(s.spans[0].end, 21u);
  EXPECT_EQ(s.text.substr(s.spans[0].begin, s.spans[0].end - s.spans[0].begin), "Krisztián Szöllösy");
  EXPECT_EQ(s.text.substr(s.spans[1].begin, s.spans[1].end - s.spans[1].begin), "Zoë");
  EXPECT_EQ(s.text.substr(s.spans[2].begin, s.spans[2].end - s.spans[2].begin), "Győr");
  EXPECT_EQ(s.spans[2].dataset_type, "GPE");
  EXPECT_EQ(s.spans[2].type, EntityType::kLocation);
  EXPECT_EQ(d->gold_by_dataset_type.at("PERSON"), 2);
  EXPECT_TRUE(d->out_of_scope_by_dataset_type.empty());
  EXPECT_EQ(d->text_bytes, s.text.size() + d->samples[1].text.size());
}

TEST(ParsePresidioDatasetTest, MalformedInputNamesSampleAndField) {
  struct Case {
    std::string json;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"[{\"full_text\": \"x\", ", "not valid JSON (byte"},
      {"{\"full_text\": \"x\"}", "expected a JSON array"},
      {"[42]", "samples[0]: not an object"},
      {R"([{"full_text": "a", "spans": []}, {"spans": []}])", "samples[1].full_text: missing"},
      {R"([{"full_text": 7, "spans": []}])", "samples[0].full_text: not a string"},
      {R"([{"full_text": "a"}])", "samples[0].spans: missing"},
      {R"([{"full_text": "a", "spans": {}}])", "samples[0].spans: not an array"},
      {R"([{"full_text": "abc", "spans": [{"start_position": 0, "end_position": 1}]}])",
       "samples[0].spans[0].entity_type: missing"},
      {R"([{"full_text": "abc", "spans": [{"entity_type": "PERSON", "start_position": "0", "end_position": 1}]}])",
       "samples[0].spans[0].start_position: not an integer"},
      {R"([{"full_text": "abc", "spans": [{"entity_type": "PERSON", "start_position": -1, "end_position": 1}]}])",
       "samples[0].spans[0].start_position: -1 is negative"},
      {R"([{"full_text": "abc", "spans": [{"entity_type": "PERSON", "start_position": 0}]}])",
       "samples[0].spans[0].end_position: missing"},
      {R"([{"full_text": "héllo", "spans": [{"entity_type": "PERSON", "start_position": 1, "end_position": 6}]}])",
       "samples[0].spans[0].end_position: 6 is beyond the text (5 code points)"},
      {R"([{"full_text": "abc", "spans": [{"entity_type": "PERSON", "start_position": 2, "end_position": 2}]}])",
       "samples[0].spans[0].start_position: 2 is not before end_position 2"},
      {R"([{"full_text": "héllo", "spans": [{"entity_type": "PERSON", "entity_value": "hé", "start_position": 1,
          "end_position": 3}]}])",
       "samples[0].spans[0].entity_value: differs from full_text"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<LabeledDataset> d = ParsePresidioDataset(c.json);
    EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument) << c.json;
    EXPECT_THAT(d.status().message(), HasSubstr(c.message)) << c.json;
  }
}

TEST(ParsePresidioDatasetTest, ReadsTheSharedDataset) {
  const std::string json =
      base::testing::FileContents("../shared/data/pii/presidio-research/synth_dataset_v2.json");
  if (json.empty()) GTEST_SKIP() << "../shared/data is not available";
  absl::StatusOr<LabeledDataset> d = ParsePresidioDataset(json);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->samples.size(), 1500u);
  // The counts of ../shared/data/pii/README.md.
  EXPECT_EQ(d->gold_by_dataset_type.at("PERSON"), 857);
  EXPECT_EQ(d->gold_by_dataset_type.at("STREET_ADDRESS"), 598);
  EXPECT_EQ(d->gold_by_dataset_type.at("GPE"), 411);
  EXPECT_EQ(d->out_of_scope_by_dataset_type.at("ORGANIZATION"), 250);
  EXPECT_EQ(d->out_of_scope_by_dataset_type.at("TITLE"), 92);
  EXPECT_EQ(d->out_of_scope_by_dataset_type.at("NRP"), 55);
  EXPECT_EQ(d->out_of_scope_by_dataset_type.size(), 3u);
}

// --- Mapping ---------------------------------------------------------------------------------------------

TEST(MapDatasetEntityTest, PresidioResearchTypes) {
  EXPECT_EQ(MapDatasetEntity("PERSON"), EntityType::kPerson);
  EXPECT_EQ(MapDatasetEntity("STREET_ADDRESS"), EntityType::kStreetAddress);
  EXPECT_EQ(MapDatasetEntity("GPE"), EntityType::kLocation);
  EXPECT_EQ(MapDatasetEntity("DOMAIN_NAME"), EntityType::kUrl);
  EXPECT_EQ(MapDatasetEntity("ZIP_CODE"), EntityType::kZipCode);
  EXPECT_EQ(MapDatasetEntity("AGE"), EntityType::kAge);
  EXPECT_EQ(MapDatasetEntity("US_DRIVER_LICENSE"), EntityType::kUsDriverLicense);
  EXPECT_EQ(MapDatasetEntity("ORGANIZATION"), std::nullopt);
  EXPECT_EQ(MapDatasetEntity("TITLE"), std::nullopt);
  EXPECT_EQ(MapDatasetEntity("NRP"), std::nullopt);
  EXPECT_EQ(MapDatasetEntity("person"), std::nullopt);
  EXPECT_EQ(ScoringType(EntityType::kDomainName), EntityType::kUrl);
  EXPECT_EQ(ScoringType(EntityType::kEmailAddress), EntityType::kEmailAddress);
}

// --- The 0.9 overlap rule --------------------------------------------------------------------------------

TEST(IouTest, ExactlyTheThresholdMatchesJustBelowDoesNot) {
  EXPECT_TRUE(internal::IouAtLeast(0, 10, 0, 9, 0.9));       // 9/10
  EXPECT_TRUE(internal::IouAtLeast(0, 10, 1, 10, 0.9));      // 9/10
  EXPECT_FALSE(internal::IouAtLeast(0, 10, 0, 8, 0.9));      // 8/10
  EXPECT_TRUE(internal::IouAtLeast(0, 1000, 0, 900, 0.9));   // 900/1000
  EXPECT_FALSE(internal::IouAtLeast(0, 1000, 0, 899, 0.9));  // 899/1000
  EXPECT_TRUE(internal::IouAtLeast(0, 30, 0, 27, 0.9));      // 27/30: 0.9 * 30 is not exactly 27 in doubles
  EXPECT_FALSE(internal::IouAtLeast(0, 30, 1, 27, 0.9));     // 26/30
  // Shifted spans: [0, 20) and [1, 21) overlap 19/21 = 0.905; [0, 10) and [1, 11) 9/11.
  EXPECT_TRUE(internal::IouAtLeast(0, 20, 1, 21, 0.9));
  EXPECT_FALSE(internal::IouAtLeast(0, 20, 1, 21, 0.905));  // 0.904762 < 0.905
  EXPECT_FALSE(internal::IouAtLeast(0, 10, 1, 11, 0.9));
  EXPECT_FALSE(internal::IouAtLeast(0, 5, 5, 10, 0.9));  // adjacent, no overlap
  EXPECT_TRUE(internal::IouAtLeast(3, 7, 3, 7, 1.0));
}

TEST(ScoreSampleTest, OverlapIsCountedInCodePoints) {
  // Gold: nine 'a' and one 'é' (10 code points, 11 bytes); prediction: the nine 'a' (9 code points, 9 bytes).
  // In code points the IoU is 0.9 (a match); in bytes it would be 9/11.
  const std::string text = "x aaaaaaaaa\xC3\xA9 y";
  const std::vector<GoldSpan> gold = {Gold(2, 13, "PERSON")};
  const std::vector<Span> pred = {Pred(2, 11, EntityType::kPerson)};
  EvalReport r;
  ASSERT_TRUE(ScoreSample(text, gold, pred, {}, r).ok());
  EXPECT_EQ(Of(r, EntityType::kPerson).tp, 1);
  // One code point less: 8/10.
  EvalReport r2;
  const std::vector<Span> shorter = {Pred(3, 11, EntityType::kPerson)};
  ASSERT_TRUE(ScoreSample(text, gold, shorter, {}, r2).ok());
  EXPECT_EQ(Of(r2, EntityType::kPerson).tp, 0);
  EXPECT_EQ(Of(r2, EntityType::kPerson).fp, 1);
  EXPECT_EQ(Of(r2, EntityType::kPerson).fn, 1);
}

// --- Metric arithmetic -----------------------------------------------------------------------------------

TEST(CountsTest, PrecisionRecallF1F2) {
  const Counts c{.tp = 3, .fp = 1, .fn = 3};
  EXPECT_DOUBLE_EQ(c.Precision(), 0.75);
  EXPECT_DOUBLE_EQ(c.Recall(), 0.5);
  EXPECT_DOUBLE_EQ(c.F(1), 0.6);                           // 2 * 0.375 / 1.25
  EXPECT_DOUBLE_EQ(c.F(2), 5 * 0.375 / (4 * 0.75 + 0.5));  // 0.5357...
  EXPECT_TRUE(std::isnan(Counts{.tp = 0, .fp = 0, .fn = 2}.Precision()));
  EXPECT_TRUE(std::isnan(Counts{.tp = 0, .fp = 0, .fn = 2}.F(2)));
  EXPECT_TRUE(std::isnan(Counts{.tp = 0, .fp = 3, .fn = 0}.Recall()));
  EXPECT_EQ(Counts({.tp = 0, .fp = 1, .fn = 1}).F(2), 0.0);
}

TEST(ScoreSampleTest, PerTypeOverallAndAnyPii) {
  //                     0         1         2         3         4
  //                     0123456789012345678901234567890123456789012
  const std::string t1 = "Mail bob@x.org or call 555-0100 now, Alice";
  const std::vector<GoldSpan> g1 = {Gold(5, 14, "EMAIL_ADDRESS"), Gold(23, 31, "PHONE_NUMBER"),
                                    Gold(37, 42, "PERSON")};
  const std::vector<Span> p1 = {
      Pred(5, 14, EntityType::kEmailAddress),  // exact: TP
      Pred(27, 35, EntityType::kPhoneNumber),  // 4/12 overlap: FP, and the phone is a FN
      Pred(37, 42, EntityType::kLocation),     // right span, wrong type: FP LOCATION, FN PERSON; any-PII TP
  };
  //                     0         1         2
  //                     0123456789012345678901234
  const std::string t2 = "IP 10.0.0.1 and 10.0.0.22";
  const std::vector<GoldSpan> g2 = {Gold(3, 11, "IP_ADDRESS"), Gold(16, 25, "IP_ADDRESS")};
  const std::vector<Span> p2 = {Pred(3, 11, EntityType::kIpAddress), Pred(16, 24, EntityType::kIpAddress)};
  // The second IP: 8/9 < 0.9, a FP and a FN.
  EvalReport r;
  ASSERT_TRUE(ScoreSample(t1, g1, p1, {}, r).ok());
  ASSERT_TRUE(ScoreSample(t2, g2, p2, {}, r).ok());
  EXPECT_EQ(r.samples, 2);
  auto expect = [&](EntityType t, int64_t tp, int64_t fp, int64_t fn) {
    EXPECT_EQ(Of(r, t).tp, tp) << EntityName(t);
    EXPECT_EQ(Of(r, t).fp, fp) << EntityName(t);
    EXPECT_EQ(Of(r, t).fn, fn) << EntityName(t);
  };
  expect(EntityType::kEmailAddress, 1, 0, 0);
  expect(EntityType::kPhoneNumber, 0, 1, 1);
  expect(EntityType::kPerson, 0, 0, 1);
  expect(EntityType::kLocation, 0, 1, 0);
  expect(EntityType::kIpAddress, 1, 1, 1);
  EXPECT_EQ(r.overall.tp, 2);
  EXPECT_EQ(r.overall.fp, 3);
  EXPECT_EQ(r.overall.fn, 3);
  EXPECT_DOUBLE_EQ(r.overall.Precision(), 0.4);
  EXPECT_DOUBLE_EQ(r.overall.Recall(), 0.4);
  EXPECT_DOUBLE_EQ(r.overall.F(2), 0.4);
  // Type-agnostic: the LOCATION prediction now matches the PERSON span.
  EXPECT_EQ(r.any_pii.tp, 3);
  EXPECT_EQ(r.any_pii.fp, 2);
  EXPECT_EQ(r.any_pii.fn, 2);
  EXPECT_DOUBLE_EQ(r.any_pii.F(1), 0.6);
  EXPECT_EQ(r.fp_on_out_of_scope, 0);
}

TEST(ScoreSampleTest, OutOfScopeGoldIsNeverAFalseNegative) {
  const std::string text = "The address of Persint is unknown";
  const std::vector<GoldSpan> gold = {Gold(15, 22, "ORGANIZATION")};
  EvalReport r;
  ASSERT_TRUE(ScoreSample(text, gold, {}, {}, r).ok());
  EXPECT_EQ(r.overall.fn, 0);
  EXPECT_EQ(r.any_pii.fn, 0);
  // A prediction on it is a false positive, reported as such.
  const std::vector<Span> pred = {Pred(15, 22, EntityType::kPerson)};
  ASSERT_TRUE(ScoreSample(text, gold, pred, {}, r).ok());
  EXPECT_EQ(Of(r, EntityType::kPerson).fp, 1);
  EXPECT_EQ(r.any_pii.fp, 1);
  EXPECT_EQ(r.fp_on_out_of_scope, 1);
}

TEST(ScoreSampleTest, DomainNamePredictionsScoreAsUrl) {
  const std::string text = "My website is https://ClickPhobia.com.br/";
  const std::vector<GoldSpan> gold = {Gold(14, 41, "DOMAIN_NAME")};
  const std::vector<Span> pred = {Pred(14, 41, EntityType::kDomainName)};
  EvalReport r;
  ASSERT_TRUE(ScoreSample(text, gold, pred, {}, r).ok());
  EXPECT_EQ(Of(r, EntityType::kUrl).tp, 1);
  EXPECT_EQ(Of(r, EntityType::kDomainName).tp + Of(r, EntityType::kDomainName).fp, 0);
}

TEST(ScoreSampleTest, MatchingIsOneToOne) {
  const std::string text = "0123456789";
  const std::vector<GoldSpan> gold = {Gold(0, 10, "US_SSN")};
  const std::vector<Span> pred = {Pred(0, 10, EntityType::kUsSsn), Pred(0, 10, EntityType::kUsSsn)};
  EvalReport r;
  ASSERT_TRUE(ScoreSample(text, gold, pred, {}, r).ok());
  EXPECT_EQ(Of(r, EntityType::kUsSsn).tp, 1);
  EXPECT_EQ(Of(r, EntityType::kUsSsn).fp, 1);
  EXPECT_EQ(Of(r, EntityType::kUsSsn).fn, 0);
}

TEST(ScoreSampleTest, EntityFilterDropsOtherTypes) {
  const std::string text = "Mail bob@x.org or call 555-0100 now";
  const std::vector<GoldSpan> gold = {Gold(5, 14, "EMAIL_ADDRESS"), Gold(23, 31, "PHONE_NUMBER")};
  const std::vector<Span> pred = {Pred(5, 14, EntityType::kEmailAddress), Pred(0, 4, EntityType::kPerson)};
  EvalOptions options;
  options.entities = {EntityType::kEmailAddress};
  EvalReport r;
  ASSERT_TRUE(ScoreSample(text, gold, pred, options, r).ok());
  EXPECT_EQ(r.overall.tp, 1);
  EXPECT_EQ(r.overall.fp, 0);
  EXPECT_EQ(r.overall.fn, 0);
}

TEST(ScoreSampleTest, RejectsSpansOffTheText) {
  const std::string text = "h\xC3\xA9llo";
  EvalReport r;
  EXPECT_EQ(ScoreSample(text, {}, std::vector<Span>{Pred(0, 2, EntityType::kPerson)}, {}, r).code(),
            absl::StatusCode::kInvalidArgument);  // inside é
  EXPECT_EQ(ScoreSample(text, std::vector<GoldSpan>{Gold(0, 9, "PERSON")}, {}, {}, r).code(),
            absl::StatusCode::kInvalidArgument);
  EvalOptions bad;
  bad.iou_threshold = 0;
  EXPECT_EQ(ScoreSample(text, {}, {}, bad, r).code(), absl::StatusCode::kInvalidArgument);
}

// --- Hard negatives --------------------------------------------------------------------------------------

std::string DigitsOf(std::string_view s) {
  std::string d;
  for (char c : s) {
    if (c >= '0' && c <= '9') d += c;
  }
  return d;
}

// --- Token level ------------------------------------------------------------------------------------------

std::vector<std::string> Words(std::string_view text) {
  std::vector<std::string> out;
  for (const internal::Token& t : internal::Tokenize(text))
    out.emplace_back(text.substr(t.begin, t.end - t.begin));
  return out;
}

TEST(TokenizeTest, SplitsWhitespaceAndPunctuation) {
  EXPECT_THAT(Words("Call (555) 010-0199, or mail jo.e@x.com."),
              ElementsAre("Call", "(", "555", ")", "010-0199", ",", "or", "mail", "jo.e@x.com", "."));
  EXPECT_THAT(Words("Smith,John paid 12,345.60 at 10:30 on 12/05/2020!"),
              ElementsAre("Smith", ",", "John", "paid", "12,345.60", "at", "10:30", "on", "12/05/2020", "!"));
  EXPECT_THAT(Words("Visit https://ClickPhobia.com.br/ \"now\"; 1, 2"),
              ElementsAre("Visit", "https://ClickPhobia.com.br", "/", "\"", "now", "\"", ";", "1", ",", "2"));
  EXPECT_THAT(Words("12 Main St.\n\tApt. 4\r\n"), ElementsAre("12", "Main", "St", ".", "Apt", ".", "4"));
  EXPECT_THAT(Words(""), ElementsAre());
  EXPECT_THAT(Words(" \n "), ElementsAre());
  EXPECT_THAT(Words("a--b -c d- ..."), ElementsAre("a--b", "-", "c", "d", "-", ".", ".", "."));
}

TEST(TokenizeTest, MultibyteText) {
  // Ödön's (non-ASCII letters are word characters), an em dash (U+2014) and a no-break space (U+00A0) are
  // not; curly quotes (U+201C, U+201D) are tokens of their own.
  const std::string text =
      "\xC3\x96"
      "d\xC3\xB6n's caf\xC3\xA9\xE2\x80\x94Gy\xC5\x91r\xC2\xA0"
      "\xE2\x80\x9CX\xE2\x80\x9D";
  EXPECT_THAT(Words(text),
              ElementsAre("\xC3\x96"
                          "d\xC3\xB6n's",
                          "caf\xC3\xA9", "\xE2\x80\x94", "Gy\xC5\x91r", "\xE2\x80\x9C", "X", "\xE2\x80\x9D"));
  // Every token is on code point boundaries, sorted and disjoint.
  size_t prev = 0;
  for (const internal::Token& t : internal::Tokenize(text)) {
    EXPECT_LE(prev, t.begin);
    EXPECT_LT(t.begin, t.end);
    EXPECT_NE(static_cast<unsigned char>(text[t.begin]) & 0xC0, 0x80);
    if (t.end < text.size()) {
      EXPECT_NE(static_cast<unsigned char>(text[t.end]) & 0xC0, 0x80);
    }
    prev = t.end;
  }
}

TEST(TokenLevelTest, WholeAddressOverPiecewiseGoldEarnsTokenCredit) {
  //                       0         1         2         3         4
  //                       0123456789012345678901234567890123456789012
  const std::string text = "Lives at 12 Main St, Springfield, USA today";
  const std::vector<GoldSpan> gold = {Gold(9, 19, "STREET_ADDRESS"), Gold(21, 32, "GPE"),
                                      Gold(34, 37, "GPE")};
  const std::vector<Span> pred = {Pred(9, 37, EntityType::kStreetAddress)};
  EvalReport r;
  ASSERT_TRUE(ScoreSample(text, gold, pred, {}, r).ok());
  // Span level: 10/28 of the union, no match at all.
  EXPECT_EQ(r.any_pii.tp, 0);
  EXPECT_EQ(r.overall.fn, 3);
  // Tokens: Lives at [12 Main St , Springfield , USA] today; gold non-O: 12 Main St Springfield USA.
  EXPECT_EQ(r.tokens, 10);
  EXPECT_EQ(r.token_pii.tp, 5);
  EXPECT_EQ(r.token_pii.fp, 2);  // the two commas
  EXPECT_EQ(r.token_pii.fn, 0);
  EXPECT_DOUBLE_EQ(r.token_pii.Precision(), 5.0 / 7);
  EXPECT_DOUBLE_EQ(r.token_pii.Recall(), 1.0);
  EXPECT_DOUBLE_EQ(r.token_pii.F(2), 5 * (5.0 / 7) / (4 * (5.0 / 7) + 1));
  const Counts& addr = r.token_per_type[static_cast<size_t>(EntityType::kStreetAddress)];
  EXPECT_EQ(addr.tp, 3);
  EXPECT_EQ(addr.fp, 4);  // commas, Springfield, USA
  EXPECT_EQ(addr.fn, 0);
  const Counts& loc = r.token_per_type[static_cast<size_t>(EntityType::kLocation)];
  EXPECT_EQ(loc.tp, 0);
  EXPECT_EQ(loc.fp, 0);
  EXPECT_EQ(loc.fn, 2);
}

TEST(TokenLevelTest, WrongTypeCountsForPiiNotPerType) {
  //                       0         1         2
  //                       01234567890123456789012
  const std::string text = "Mr John Smith called.";
  const std::vector<GoldSpan> gold = {Gold(3, 13, "PERSON")};
  const std::vector<Span> pred = {Pred(3, 13, EntityType::kLocation)};
  EvalReport r;
  ASSERT_TRUE(ScoreSample(text, gold, pred, {}, r).ok());
  EXPECT_EQ(r.tokens, 5);
  EXPECT_EQ(r.token_pii.tp, 2);
  EXPECT_EQ(r.token_pii.fp, 0);
  EXPECT_EQ(r.token_pii.fn, 0);
  const Counts& person = r.token_per_type[static_cast<size_t>(EntityType::kPerson)];
  const Counts& loc = r.token_per_type[static_cast<size_t>(EntityType::kLocation)];
  EXPECT_EQ(person.tp + person.fp, 0);
  EXPECT_EQ(person.fn, 2);
  EXPECT_EQ(loc.fp, 2);
  EXPECT_EQ(loc.tp + loc.fn, 0);
}

TEST(TokenLevelTest, PunctuationOutOfScopeAndPartialOverlap) {
  //                       0         1         2         3
  //                       0123456789012345678901234567890123
  const std::string text = "Email: a@b.com. Acme hired Zo\xC3\xAB Li";
  const std::vector<GoldSpan> gold = {Gold(7, 14, "EMAIL_ADDRESS"), Gold(16, 20, "ORGANIZATION"),
                                      Gold(27, 34, "PERSON")};
  const std::vector<Span> pred = {
      Pred(7, 15, EntityType::kEmailAddress),  // takes the sentence's full stop too: 1 FP token
      Pred(16, 20, EntityType::kPerson),       // on an out-of-scope gold span: gold is O there, 1 FP token
      Pred(29, 31, EntityType::kPerson),       // the "ë" of "Zoë" only: the token overlaps, TP; "Li" FN
  };
  EvalReport r;
  ASSERT_TRUE(ScoreSample(text, gold, pred, {}, r).ok());
  // Tokens: Email : a@b.com . Acme hired Zoë Li
  EXPECT_EQ(r.tokens, 8);
  EXPECT_EQ(r.token_pii.tp, 2);
  EXPECT_EQ(r.token_pii.fp, 2);
  EXPECT_EQ(r.token_pii.fn, 1);
  const Counts& email = r.token_per_type[static_cast<size_t>(EntityType::kEmailAddress)];
  EXPECT_EQ(email.tp, 1);
  EXPECT_EQ(email.fp, 1);
  const Counts& person = r.token_per_type[static_cast<size_t>(EntityType::kPerson)];
  EXPECT_EQ(person.tp, 1);
  EXPECT_EQ(person.fp, 1);
  EXPECT_EQ(person.fn, 1);
  // An entity filter makes the other gold types O as well.
  EvalOptions only_email;
  only_email.entities = {EntityType::kEmailAddress};
  EvalReport f;
  ASSERT_TRUE(ScoreSample(text, gold, pred, only_email, f).ok());
  EXPECT_EQ(f.token_pii.tp, 1);
  EXPECT_EQ(f.token_pii.fp, 1);
  EXPECT_EQ(f.token_pii.fn, 0);
}

TEST(HardNegativesTest, DeterministicAndSeeded) {
  const std::vector<HardNegative> a = GenerateHardNegatives(200);
  const std::vector<HardNegative> b = GenerateHardNegatives(200);
  const std::vector<HardNegative> c = GenerateHardNegatives(200, 7);
  ASSERT_EQ(a.size(), 200u);
  int differ = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].text, b[i].text);
    EXPECT_EQ(a[i].kind, static_cast<HardNegativeKind>(i % kHardNegativeKindCount));
    EXPECT_EQ(a[i].kind, c[i].kind);
    differ += a[i].text != c[i].text;
    EXPECT_NE(a[i].text.find(a[i].value), std::string::npos) << a[i].text;
  }
  EXPECT_GT(differ, 150);
  // A prefix of a longer run is the shorter run.
  EXPECT_EQ(GenerateHardNegatives(5)[4].text, a[4].text);
}

TEST(HardNegativesTest, NoValidChecksums) {
  const RE2 uuid("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  // The generator redraws texts with a Luhn-valid digit run; the card and IBAN recognizers are the
  // independent judge that none is left.
  AnalyzerOptions checks;
  checks.entities = {EntityType::kCreditCard, EntityType::kIbanCode};
  checks.dictionaries = false;
  checks.min_score = 0;
  absl::StatusOr<std::unique_ptr<Analyzer>> analyzer = Analyzer::Create(checks);
  ASSERT_TRUE(analyzer.ok()) << analyzer.status();
  std::set<HardNegativeKind> seen;
  for (const HardNegative& h : GenerateHardNegatives(2200)) {
    seen.insert(h.kind);
    EXPECT_THAT((*analyzer)->Analyze(h.text), ::testing::IsEmpty()) << h.text;
    switch (h.kind) {
      case HardNegativeKind::kLuhnFailing16:
        EXPECT_EQ(DigitsOf(h.value).size(), 16u) << h.value;
        EXPECT_FALSE(internal::LuhnValid(DigitsOf(h.value))) << h.value;
        break;
      case HardNegativeKind::kIbanFailingMod97: {
        std::string compact;
        for (char ch : h.value) {
          if (ch != ' ') compact += ch;
        }
        EXPECT_TRUE(compact.size() == 22 || compact.size() == 18) << h.value;
        EXPECT_FALSE(internal::IbanValid(compact)) << h.value;
        break;
      }
      case HardNegativeKind::kSsnInvalidArea: {
        ASSERT_EQ(h.value.size(), 11u) << h.value;
        const int area = std::stoi(h.value.substr(0, 3));
        const int group = std::stoi(h.value.substr(4, 2));
        const int serial = std::stoi(h.value.substr(7, 4));
        EXPECT_TRUE(area == 0 || area == 666 || area >= 900) << h.value;
        EXPECT_FALSE(internal::UsSsnValid(area, group, serial)) << h.value;
        EXPECT_FALSE(internal::UsItinValid(area, group, serial)) << h.value;
        break;
      }
      case HardNegativeKind::kInvalidPhone: {
        // "+1 (AXX) ..." with A in {0, 1}: no NANP area code starts so.
        ASSERT_EQ(h.value.substr(0, 4), "+1 (") << h.value;
        EXPECT_TRUE(h.value[4] == '0' || h.value[4] == '1') << h.value;
        break;
      }
      case HardNegativeKind::kUuid:
        EXPECT_TRUE(RE2::FullMatch(h.value, uuid)) << h.value;
        break;
      case HardNegativeKind::kVersion:
        EXPECT_TRUE(h.text.find("version") != std::string::npos || h.value[0] == 'v') << h.text;
        break;
      default:
        break;
    }
  }
  EXPECT_EQ(seen.size(), kHardNegativeKindCount);
}

}  // namespace
}  // namespace veil::pii
