#include "veil/anon/kanon.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/table/csv_reader.h"

namespace veil::anon {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A synthetic table built by arithmetic (no randomness needed): 400 records, QIs age (interval hierarchy
// 5/10/20), zip (5 digits -> 4 -> 3 -> *), sex, and a sensitive diagnosis with 6 values.
struct Synthetic {
  table::Table table;
  EncodedTable encoded;
};

Synthetic MakeSynthetic() {
  std::string csv = "age,zip,sex,diagnosis\n";
  std::vector<std::string> ages;
  std::vector<std::string> zips;
  for (int r = 0; r < 400; ++r) {
    const int age = 18 + (r * 37 + (r * r) % 11) % 60;
    const int zip = 10000 + ((r * 13) % 7) * 10 + (r * 5) % 3 + ((r / 50) % 4) * 100;
    const char* sex = (r * 7) % 3 == 0 ? "F" : "M";
    const int diag = (r * r + 3 * r) % 6;
    absl::StrAppend(&csv, age, ",", zip, ",", sex, ",d", diag, "\n");
    ages.push_back(absl::StrCat(age));
    zips.push_back(absl::StrCat(zip));
  }
  table::CsvReadOptions options;
  auto t = table::ReadCsvFromString(csv, options);
  EXPECT_TRUE(t.ok()) << t.status();
  auto age = MakeIntervalHierarchy(ages, {5, 10, 20}, "age");
  EXPECT_TRUE(age.ok()) << age.status();
  std::vector<std::vector<std::string>> zip_rows;
  {
    std::sort(zips.begin(), zips.end());
    zips.erase(std::unique(zips.begin(), zips.end()), zips.end());
    for (const auto& z : zips) zip_rows.push_back({z, z.substr(0, 4) + "*", z.substr(0, 3) + "**", "*"});
  }
  auto zip = Hierarchy::FromRows(zip_rows, "zip");
  EXPECT_TRUE(zip.ok()) << zip.status();
  auto sex = Hierarchy::ParseArxCsv("F;*\nM;*\n", "sex.csv");
  std::vector<std::string> qis = {"age", "zip", "sex"};
  auto e = EncodeTable(*t, qis, {*age, *zip, *sex}, "diagnosis");
  EXPECT_TRUE(e.ok()) << e.status();
  return Synthetic{*std::move(t), *std::move(e)};
}

const Synthetic& Data() {
  static const Synthetic* const s = new Synthetic(MakeSynthetic());
  return *s;
}

// Brute force: every node checked by scanning, loss by the generic scorer; minimal loss, ties by height
// then lexicographic order.
struct Brute {
  bool found = false;
  std::vector<int> levels;
  double loss = 0;
};

Brute BruteForce(const EncodedTable& e, const PrivacyModel& model, Metric metric) {
  Brute best;
  std::vector<int> l(e.qis.size(), 0);
  for (;;) {
    auto c = CheckNode(e, l, model);
    EXPECT_TRUE(c.ok());
    if (c->anonymous) {
      auto loss = NodeLoss(e, l, c->suppressed_records, metric);
      EXPECT_TRUE(loss.ok());
      int h = 0, hb = 0;
      for (int x : l) h += x;
      for (int x : best.levels) hb += x;
      // Losses equal up to summation order count as ties.
      const bool tie =
          best.found && std::fabs(*loss - best.loss) <= 1e-9 * std::max(1.0, std::fabs(best.loss));
      if (!best.found || (!tie && *loss < best.loss) || (tie && (h < hb || (h == hb && l < best.levels)))) {
        best = Brute{true, l, *loss};
      }
    }
    size_t q = e.qis.size();
    while (q-- > 0) {
      if (++l[q] < e.qis[q].num_levels()) break;
      l[q] = 0;
    }
    if (q == static_cast<size_t>(-1)) break;
  }
  return best;
}

struct ModelCase {
  int64_t k;
  LDiversity ld;
  double l;
  double suppression;
};

class SearchVsBruteForceTest : public ::testing::TestWithParam<std::tuple<ModelCase, Metric>> {};

TEST_P(SearchVsBruteForceTest, FindsTheOptimum) {
  const auto& [mc, metric] = GetParam();
  SearchOptions options;
  options.model.k = mc.k;
  options.model.l_diversity = mc.ld;
  options.model.l = mc.l;
  options.model.suppression_limit = mc.suppression;
  options.metric = metric;
  const EncodedTable& e = Data().encoded;
  auto r = OptimalSearch(e, options);
  ASSERT_TRUE(r.ok()) << r.status();
  Brute b = BruteForce(e, options.model, metric);
  ASSERT_EQ(r->found, b.found);
  if (!b.found) return;
  EXPECT_NEAR(r->information_loss, b.loss, 1e-9 * std::max(1.0, std::fabs(b.loss)));
  EXPECT_EQ(r->levels, b.levels);
  EXPECT_EQ(r->stats.lattice_nodes, 5 * 4 * 2);
  EXPECT_LE(r->stats.nodes_checked, r->stats.lattice_nodes);
}

INSTANTIATE_TEST_SUITE_P(Models, SearchVsBruteForceTest,
                         ::testing::Combine(::testing::Values(ModelCase{3, LDiversity::kNone, 0, 0},
                                                              ModelCase{10, LDiversity::kNone, 0, 0.05},
                                                              ModelCase{2, LDiversity::kDistinct, 3, 0},
                                                              ModelCase{2, LDiversity::kDistinct, 4, 0.1},
                                                              ModelCase{1, LDiversity::kEntropy, 3, 0},
                                                              ModelCase{5, LDiversity::kEntropy, 4, 0.2},
                                                              ModelCase{400, LDiversity::kNone, 0, 0},
                                                              ModelCase{401, LDiversity::kNone, 0, 0}),
                                            ::testing::Values(Metric::kNonUniformEntropy, Metric::kLoss,
                                                              Metric::kDiscernibility,
                                                              Metric::kAverageClassSize)));

TEST(CheckNodeTest, FlagsRecordsOfSmallClasses) {
  // Classes at level 0 of "v": a x3, b x1.
  auto t = table::ReadCsvFromString("v,s\na,1\na,2\na,1\nb,1\n", table::CsvReadOptions{});
  ASSERT_TRUE(t.ok());
  auto h = Hierarchy::ParseArxCsv("a;*\nb;*\n", "v.csv");
  std::vector<std::string> qis = {"v"};
  auto e = EncodeTable(*t, qis, {*h}, "s");
  ASSERT_TRUE(e.ok());
  PrivacyModel model;
  model.k = 2;
  auto c = CheckNode(*e, {0}, model);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->anonymous);  // 1 suppressed record, limit 0
  EXPECT_EQ(c->suppressed, 1);
  EXPECT_EQ(c->num_classes, 1);
  EXPECT_THAT(c->suppressed_records, ElementsAre(0, 0, 0, 1));
  model.suppression_limit = 0.25;  // floor(0.25 * 4) = 1
  EXPECT_TRUE(CheckNode(*e, {0}, model)->anonymous);
  // Distinct 2-diversity: class a has {1, 2}; class b only {1}.
  model = PrivacyModel{};
  model.k = 1;
  model.l_diversity = LDiversity::kDistinct;
  model.l = 2;
  c = CheckNode(*e, {0}, model);
  EXPECT_THAT(c->suppressed_records, ElementsAre(0, 0, 0, 1));
  // Entropy l-diversity: class a has p = (2/3, 1/3): H = 0.6365 nats = ln 1.89.
  model.l_diversity = LDiversity::kEntropy;
  model.l = 1.88;
  EXPECT_THAT(CheckNode(*e, {0}, model)->suppressed_records, ElementsAre(0, 0, 0, 1));
  model.l = 1.9;
  EXPECT_THAT(CheckNode(*e, {0}, model)->suppressed_records, ElementsAre(1, 1, 1, 1));
  // At the top: one class {1,2,1,1}.
  model.l = 2;
  model.l_diversity = LDiversity::kDistinct;
  EXPECT_TRUE(CheckNode(*e, {1}, model)->anonymous);
}

TEST(CheckNodeTest, EntropyLDiversityAcceptsExactlyUniformClass) {
  // 3 values, each twice: H = ln 3 exactly in theory.
  auto t = table::ReadCsvFromString("v,s\na,x\na,y\na,z\na,x\na,y\na,z\n", table::CsvReadOptions{});
  auto h = Hierarchy::ParseArxCsv("a;*\n", "v.csv");
  std::vector<std::string> qis = {"v"};
  auto e = EncodeTable(*t, qis, {*h}, "s");
  ASSERT_TRUE(e.ok());
  PrivacyModel model;
  model.k = 1;
  model.l_diversity = LDiversity::kEntropy;
  model.l = 3;
  EXPECT_TRUE(CheckNode(*e, {0}, model)->anonymous);
  model.l = 3.0001;
  EXPECT_FALSE(CheckNode(*e, {0}, model)->anonymous);
}

TEST(ValidateTest, RejectsBadModels) {
  const EncodedTable& e = Data().encoded;
  PrivacyModel m;
  m.k = 0;
  EXPECT_THAT(ValidatePrivacyModel(m, e).message(), HasSubstr("k must be >= 1"));
  m.k = 2;
  m.suppression_limit = 1.5;
  EXPECT_THAT(ValidatePrivacyModel(m, e).message(), HasSubstr("suppression limit"));
  m.suppression_limit = NAN;
  EXPECT_FALSE(ValidatePrivacyModel(m, e).ok());
  m.suppression_limit = 0;
  m.l_diversity = LDiversity::kDistinct;
  m.l = 0.5;
  EXPECT_THAT(ValidatePrivacyModel(m, e).message(), HasSubstr("l must be"));
  EncodedTable no_sensitive = e;
  no_sensitive.sensitive.reset();
  m.l = 2;
  EXPECT_THAT(ValidatePrivacyModel(m, no_sensitive).message(), HasSubstr("sensitive"));
  EXPECT_THAT(CheckNode(e, {0, 0}, PrivacyModel{}).status().message(), HasSubstr("2 levels given for 3"));
  EXPECT_THAT(CheckNode(e, {0, 0, 9}, PrivacyModel{}).status().message(), HasSubstr("level 9"));
}

TEST(SearchTest, RefusesHugeLattice) {
  SearchOptions options;
  options.max_nodes = 10;
  EXPECT_THAT(OptimalSearch(Data().encoded, options).status().message(), HasSubstr("more than 10 nodes"));
}

TEST(SearchTest, EqualLossPrefersTheLowerNode) {
  // Two zips under one parent covering the whole domain: level 1 and the top both have Loss 1.
  auto t = table::ReadCsvFromString("zip\n12345\n12399\n", table::CsvReadOptions{});
  auto h = Hierarchy::ParseArxCsv("12345;123**;*\n12399;123**;*\n", "zip.csv");
  std::vector<std::string> qis = {"zip"};
  auto e = EncodeTable(*t, qis, {*h});
  ASSERT_TRUE(e.ok());
  SearchOptions options;
  options.model.k = 2;
  options.metric = Metric::kLoss;
  auto r = OptimalSearch(*e, options);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->found);
  EXPECT_THAT(r->levels, ElementsAre(1));
  EXPECT_DOUBLE_EQ(r->information_loss, 1);
}

TEST(MetricTest, NamesRoundTrip) {
  for (Metric m :
       {Metric::kNonUniformEntropy, Metric::kLoss, Metric::kDiscernibility, Metric::kAverageClassSize}) {
    EXPECT_EQ(*ParseMetric(MetricName(m)), m);
  }
  EXPECT_THAT(ParseMetric("entropy").status().message(), HasSubstr("expected nue, loss"));
}

TEST(ApplyTest, WritesLabelsAndSuppressionToken) {
  auto t = table::ReadCsvFromString("id,v\n1,a\n2,b\n3,c\n", table::CsvReadOptions{});
  auto h = Hierarchy::ParseArxCsv("a;ab;*\nb;ab;*\nc;c;*\n", "v.csv");
  std::vector<std::string> qis = {"v"};
  auto e = EncodeTable(*t, qis, {*h});
  ASSERT_TRUE(e.ok());
  auto out = ApplyFullDomain(*t, *e, {1}, std::vector<uint8_t>{0, 0, 1});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->FormatValue(0, 1), "ab");
  EXPECT_EQ(out->FormatValue(1, 1), "ab");
  EXPECT_EQ(out->FormatValue(2, 1), "*");
  EXPECT_EQ(out->FormatValue(2, 0), "3");
  EXPECT_EQ(out->schema().field(1).name, "v");
  EXPECT_FALSE(ApplyFullDomain(*t, *e, {1}, std::vector<uint8_t>{0}).ok());
}

}  // namespace
}  // namespace veil::anon
