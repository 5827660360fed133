#include "veil/pii/classifier.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/base/test_util.h"
#include "veil/table/csv_reader.h"

namespace veil::pii {
namespace {

using ::testing::HasSubstr;

// A stand-in for the analyzer: a word containing '@' is an EMAIL_ADDRESS, the words "Nora" and "Jensen" (with
// the next capitalized word) are a PERSON. It also counts its calls.
class FakeAnalyzer final : public Analyzer {
 public:
  std::vector<Span> Analyze(std::string_view text) const override {
    ++calls_;
    std::vector<Span> out;
    // A ZIP code needs its context word.
    if (text.starts_with("zip: ") && text.size() == 10) return {{5, 10, EntityType::kZipCode, 0.9, "fake"}};
    size_t i = 0;
    while (i < text.size()) {
      while (i < text.size() && text[i] == ' ') ++i;
      size_t j = i;
      while (j < text.size() && text[j] != ' ') ++j;
      const std::string_view word = text.substr(i, j - i);
      if (word.find('@') != std::string_view::npos) {
        out.push_back({i, j, EntityType::kEmailAddress, 1.0, "fake"});
      } else if (word == "Nora" || word.starts_with("Jensen")) {
        size_t end = j;
        if (word == "Nora" && j + 1 < text.size() && std::isupper(static_cast<unsigned char>(text[j + 1]))) {
          end = text.find(' ', j + 1);
          if (end == std::string_view::npos) end = text.size();
        }
        out.push_back({i, end, EntityType::kPerson, 0.8, "fake"});
        j = end;
      }
      i = j;
    }
    return out;
  }
  mutable int calls_ = 0;
};

const ColumnClassification& Col(const std::vector<ColumnClassification>& cs, std::string_view name) {
  for (const ColumnClassification& c : cs) {
    if (c.name == name) return c;
  }
  ADD_FAILURE() << "no column " << name;
  return cs.front();
}

TEST(NormalizeHeaderTest, Forms) {
  EXPECT_EQ(internal::NormalizeHeader("firstName"), "first_name");
  EXPECT_EQ(internal::NormalizeHeader("E-Mail Address"), "e_mail_address");
  EXPECT_EQ(internal::NormalizeHeader("  ZIP  "), "zip");
  EXPECT_EQ(internal::NormalizeHeader("native-country"), "native_country");
  EXPECT_EQ(internal::NormalizeHeader("DOB"), "dob");
  EXPECT_EQ(internal::NormalizeHeader("--"), "");
}

TEST(MatchHeaderTest, WholeNamesWordsAndBlockers) {
  internal::HeaderMatch m = internal::MatchHeader("Email");
  EXPECT_EQ(m.entity, EntityType::kEmailAddress);
  EXPECT_EQ(m.role, ColumnRole::kDirectIdentifier);
  EXPECT_DOUBLE_EQ(m.weight, 0.6);
  m = internal::MatchHeader("home_phone");
  EXPECT_EQ(m.entity, EntityType::kPhoneNumber);
  EXPECT_DOUBLE_EQ(m.weight, 0.4);
  m = internal::MatchHeader("patientDateOfBirth");
  EXPECT_EQ(m.entity, EntityType::kDateTime);
  EXPECT_EQ(m.synonym, "date_of_birth");
  EXPECT_EQ(m.role, ColumnRole::kQuasiIdentifier);
  m = internal::MatchHeader("user_name");  // the longer synonym wins over "name"
  EXPECT_EQ(m.entity, std::nullopt);
  EXPECT_EQ(m.category, "identifier");
  EXPECT_EQ(internal::MatchHeader("company_name").weight, 0);
  EXPECT_EQ(internal::MatchHeader("fnlwgt").weight, 0);
  m = internal::MatchHeader("sex");
  EXPECT_EQ(m.category, "sex");
  EXPECT_EQ(m.role, ColumnRole::kQuasiIdentifier);
  EXPECT_EQ(internal::MatchHeader("postcode").entity, EntityType::kZipCode);
  EXPECT_EQ(internal::MatchHeader("tel").entity, EntityType::kPhoneNumber);
  EXPECT_EQ(internal::MatchHeader("surname").entity, EntityType::kPerson);
}

// 100 rows: an id, an e-mail column under a neutral header, an e-mail header over non-e-mail values, notes
// that sometimes name a person, a sex column, a weight.
std::string TestCsv() {
  std::string csv = "record,contact,e_mail,notes,sex,fnlwgt\n";
  for (int i = 0; i < 100; ++i) {
    absl::StrAppend(&csv, "R", i, ",user", i, "@example.org,unknown,",
                    i % 5 == 0 ? "Seen by Jensen today" : "no remarks", ",", i % 2 ? "F" : "M", ",",
                    77516 + i, "\n");
  }
  return csv;
}

TEST(ClassifyTableTest, CombinesHeaderAndValues) {
  absl::StatusOr<table::Table> t = table::ReadCsvFromString(TestCsv());
  ASSERT_TRUE(t.ok()) << t.status();
  FakeAnalyzer analyzer;
  absl::StatusOr<std::vector<ColumnClassification>> cs = ClassifyTable(*t, analyzer);
  ASSERT_TRUE(cs.ok()) << cs.status();
  ASSERT_EQ(cs->size(), 6u);

  const ColumnClassification& contact = Col(*cs, "contact");
  EXPECT_EQ(contact.entity, EntityType::kEmailAddress);
  EXPECT_EQ(contact.role, ColumnRole::kDirectIdentifier);
  EXPECT_DOUBLE_EQ(contact.confidence, 1.0);
  EXPECT_EQ(contact.sampled, 100);
  EXPECT_EQ(contact.matched, 100);
  EXPECT_EQ(contact.evidence, "100/100 sampled values are EMAIL_ADDRESS");

  // The header says e-mail, the values are not: the header's weight is halved (0.6 / 2).
  const ColumnClassification& e_mail = Col(*cs, "e_mail");
  EXPECT_EQ(e_mail.entity, EntityType::kEmailAddress);
  EXPECT_DOUBLE_EQ(e_mail.confidence, 0.3);
  EXPECT_THAT(e_mail.evidence, HasSubstr("header 'e_mail', but 0/100 sampled values are EMAIL_ADDRESS"));

  const ColumnClassification& notes = Col(*cs, "notes");
  EXPECT_EQ(notes.role, ColumnRole::kFreeText);
  EXPECT_EQ(notes.entity, EntityType::kPerson);
  EXPECT_EQ(notes.matched, 20);
  EXPECT_DOUBLE_EQ(notes.confidence, 0.5 + 0.5 * 0.2);
  EXPECT_THAT(notes.evidence, HasSubstr("20/100 sampled values contain personal data"));

  const ColumnClassification& sex = Col(*cs, "sex");
  EXPECT_EQ(sex.role, ColumnRole::kQuasiIdentifier);
  EXPECT_EQ(sex.entity, std::nullopt);
  EXPECT_EQ(sex.category, "sex");

  const ColumnClassification& weight = Col(*cs, "fnlwgt");
  EXPECT_EQ(weight.role, ColumnRole::kNone);
  EXPECT_EQ(weight.category, "");
  EXPECT_EQ(weight.evidence, "no header match; 0/100 sampled values recognized");
  EXPECT_EQ(Col(*cs, "record").role, ColumnRole::kNone);

  // Evidence never quotes a value.
  for (const ColumnClassification& c : *cs) EXPECT_THAT(c.evidence, ::testing::Not(HasSubstr("@example")));
}

TEST(ClassifyTableTest, HeaderAndValuesAgree) {
  std::string csv = "Email Address\n";
  for (int i = 0; i < 10; ++i) absl::StrAppend(&csv, i < 8 ? absl::StrCat("a", i, "@x.org") : "n/a", "\n");
  absl::StatusOr<table::Table> t = table::ReadCsvFromString(csv);
  ASSERT_TRUE(t.ok()) << t.status();
  FakeAnalyzer analyzer;
  absl::StatusOr<std::vector<ColumnClassification>> cs = ClassifyTable(*t, analyzer);
  ASSERT_TRUE(cs.ok());
  const ColumnClassification& c = (*cs)[0];
  EXPECT_EQ(c.entity, EntityType::kEmailAddress);
  // Noisy-or of the whole-name header (0.6) and 8/10 values: 1 - 0.4 * 0.2.
  EXPECT_DOUBLE_EQ(c.confidence, 1 - 0.4 * 0.2);
  EXPECT_EQ(c.evidence, "header 'Email Address'; 8/10 sampled values are EMAIL_ADDRESS");
}

TEST(ClassifyTableTest, SamplesEvenlyAndAnalyzesEachDistinctValueOnce) {
  std::string csv = "who\n";
  for (int i = 0; i < 1000; ++i) csv += (i % 2 ? "Nora Costa\n" : "\n");  // every other row null
  absl::StatusOr<table::Table> t = table::ReadCsvFromString(csv);
  ASSERT_TRUE(t.ok()) << t.status();
  FakeAnalyzer analyzer;
  ClassifyOptions options;
  options.sample_size = 50;
  absl::StatusOr<std::vector<ColumnClassification>> cs = ClassifyTable(*t, analyzer, options);
  ASSERT_TRUE(cs.ok());
  // Rows 0, 20, 40, ... are all even, hence null: an honest count of what was examined.
  EXPECT_EQ((*cs)[0].sampled, 0);
  options.sample_size = 51;  // rows floor(i * 1000 / 51) hit odd rows too
  cs = ClassifyTable(*t, analyzer, options);
  ASSERT_TRUE(cs.ok());
  EXPECT_GT((*cs)[0].sampled, 0);
  EXPECT_EQ((*cs)[0].matched, (*cs)[0].sampled);
  EXPECT_EQ((*cs)[0].entity, EntityType::kPerson);
  EXPECT_EQ(analyzer.calls_, 1);  // one distinct value
  // The same inputs give the same result.
  absl::StatusOr<std::vector<ColumnClassification>> again = ClassifyTable(*t, analyzer, options);
  EXPECT_EQ((*again)[0].sampled, (*cs)[0].sampled);
  EXPECT_EQ((*again)[0].evidence, (*cs)[0].evidence);
}

TEST(ClassifyTableTest, HeaderGivesContextToValues) {
  std::string csv = "zip,patient_id\n";
  for (int i = 0; i < 10; ++i) absl::StrAppend(&csv, "\"", 10000 + i * 7, "\",P", i, "\n");
  absl::StatusOr<table::Table> t = table::ReadCsvFromString(csv);
  ASSERT_TRUE(t.ok()) << t.status();
  FakeAnalyzer analyzer;
  absl::StatusOr<std::vector<ColumnClassification>> cs = ClassifyTable(*t, analyzer);
  ASSERT_TRUE(cs.ok());
  EXPECT_EQ((*cs)[0].entity, EntityType::kZipCode);
  EXPECT_DOUBLE_EQ((*cs)[0].confidence, 1.0);
  EXPECT_EQ((*cs)[0].evidence, "header 'zip'; 10/10 sampled values are ZIP_CODE");
  EXPECT_EQ((*cs)[1].evidence, "header 'patient_id'");  // no entity type: no context, nothing analyzed as one
  ClassifyOptions options;
  options.header_context = false;
  cs = ClassifyTable(*t, analyzer, options);
  ASSERT_TRUE(cs.ok());
  EXPECT_DOUBLE_EQ((*cs)[0].confidence, 0.6);
  EXPECT_EQ((*cs)[0].evidence, "header 'zip'; 0/10 sampled values recognized as ZIP_CODE");
}

TEST(ClassifyTableTest, RejectsBadOptions) {
  absl::StatusOr<table::Table> t = table::ReadCsvFromString("a\n1\n");
  ASSERT_TRUE(t.ok());
  FakeAnalyzer analyzer;
  ClassifyOptions options;
  options.sample_size = 0;
  EXPECT_EQ(ClassifyTable(*t, analyzer, options).status().code(), absl::StatusCode::kInvalidArgument);
  options = {};
  options.min_confidence = 1.5;
  EXPECT_EQ(ClassifyTable(*t, analyzer, options).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ClassifyTableTest, AdultHasQuasiIdentifiersOnly) {
  const std::string csv = base::testing::FileContents("../shared/data/adult/adult.csv");
  if (csv.empty()) GTEST_SKIP() << "../shared/data is not available";
  absl::StatusOr<table::Table> t = table::ReadCsvFromString(csv);
  ASSERT_TRUE(t.ok()) << t.status();
  FakeAnalyzer analyzer;
  absl::StatusOr<std::vector<ColumnClassification>> cs = ClassifyTable(*t, analyzer);
  ASSERT_TRUE(cs.ok());
  for (const ColumnClassification& c : *cs) {
    EXPECT_NE(c.role, ColumnRole::kDirectIdentifier) << c.name;
  }
  EXPECT_EQ(Col(*cs, "age").entity, EntityType::kAge);
  EXPECT_EQ(Col(*cs, "age").role, ColumnRole::kQuasiIdentifier);
  EXPECT_EQ(Col(*cs, "sex").role, ColumnRole::kQuasiIdentifier);
  EXPECT_EQ(Col(*cs, "race").role, ColumnRole::kQuasiIdentifier);
  EXPECT_EQ(Col(*cs, "native-country").entity, EntityType::kLocation);
  EXPECT_EQ(Col(*cs, "native-country").role, ColumnRole::kQuasiIdentifier);
  EXPECT_EQ(Col(*cs, "marital-status").role, ColumnRole::kQuasiIdentifier);
  EXPECT_EQ(Col(*cs, "fnlwgt").role, ColumnRole::kNone);
  EXPECT_EQ(Col(*cs, "capital-gain").role, ColumnRole::kNone);
}

}  // namespace
}  // namespace veil::pii
