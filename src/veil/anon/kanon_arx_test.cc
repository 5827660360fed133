// The optimal search against ARX's published results on ARX's Adult (../shared/data/adult/arx/README.md):
// all nine columns as quasi-identifiers with ARX's hierarchies, transformation vectors in adult.csv's column
// order. The figures are those of ARX's JUnit tests (TestAnonymizationKAnonymity, ...Heuristic, ...).
#include <algorithm>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/anon/hierarchy.h"
#include "veil/anon/kanon.h"
#include "veil/anon/utility.h"
#include "veil/table/csv_reader.h"

namespace veil::anon {
namespace kanon_arx_test {
namespace {

using ::testing::ElementsAreArray;

constexpr char kDir[] = "../shared/data/adult/arx/";

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

const std::vector<std::string>& Columns() {
  static const auto* const cols = new std::vector<std::string>{
      "sex",       "age",        "race",        "marital-status", "education", "native-country",
      "workclass", "occupation", "salary-class"};
  return *cols;
}

// Adult encoded with `qis` as quasi-identifiers (and `sensitive`, if given); cached per configuration.
const EncodedTable& Adult(const std::vector<std::string>& qis, const std::string& sensitive = "") {
  static auto* const cache = new std::map<std::string, EncodedTable>();
  std::string id = sensitive;
  for (const auto& q : qis) id += "|" + q;
  auto it = cache->find(id);
  if (it != cache->end()) return it->second;
  table::CsvReadOptions options;
  options.delimiter = ';';
  options.null_tokens = {};
  for (const auto& c : Columns()) options.column_types[c] = table::DataType::kString;
  auto t = table::ReadCsvFromString(Slurp(std::string(kDir) + "adult.csv"), options, "adult.csv");
  EXPECT_TRUE(t.ok()) << t.status();
  std::vector<Hierarchy> hierarchies;
  for (const auto& q : qis) {
    const std::string path = std::string(kDir) + "adult_hierarchy_" + q + ".csv";
    auto h = Hierarchy::ParseArxCsv(Slurp(path), path);
    EXPECT_TRUE(h.ok()) << h.status();
    hierarchies.push_back(*std::move(h));
  }
  auto e = EncodeTable(*t, qis, std::move(hierarchies), sensitive);
  EXPECT_TRUE(e.ok()) << e.status();
  return cache->emplace(id, *std::move(e)).first->second;
}

struct ArxCase {
  int64_t k;
  double suppression;
  double nue;
  std::vector<int> levels;
};

class ArxKAnonymityTest : public ::testing::TestWithParam<ArxCase> {};

TEST_P(ArxKAnonymityTest, ReproducesArxOptimum) {
  const ArxCase& c = GetParam();
  const EncodedTable& adult = Adult(Columns());
  ASSERT_EQ(adult.num_rows, 30162);
  SearchOptions options;
  options.model.k = c.k;
  options.model.suppression_limit = c.suppression;
  auto r = OptimalSearch(adult, options);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->found);
  EXPECT_THAT(r->levels, ElementsAreArray(c.levels));
  EXPECT_NEAR(r->information_loss, c.nue, 1e-6);
  EXPECT_NEAR(r->utility.non_uniform_entropy, c.nue, 1e-6);
  EXPECT_EQ(r->stats.lattice_nodes, 12960);
  EXPECT_LE(r->utility.suppressed, static_cast<int64_t>(c.suppression * 30162));
  // The chosen node, checked independently by scanning the records, satisfies the model.
  auto check = CheckNode(adult, r->levels, options.model);
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->anonymous);
  EXPECT_EQ(check->suppressed, r->utility.suppressed);
}

INSTANTIATE_TEST_SUITE_P(Adult, ArxKAnonymityTest,
                         ::testing::Values(ArxCase{5, 0.0, 407289.5388925293, {1, 2, 1, 1, 3, 2, 2, 1, 1}},
                                           ArxCase{5, 0.04, 255559.85455731067, {1, 0, 1, 1, 3, 2, 2, 0, 1}},
                                           ArxCase{100, 0.0, 453196.8932458743, {0, 4, 1, 1, 3, 2, 2, 1, 1}},
                                           ArxCase{
                                               100, 0.04, 379417.3460570988, {1, 1, 1, 1, 3, 2, 2, 1, 1}}));

TEST(ArxLossTest, LossMetricAtArxHeuristicResults) {
  // ARX's heuristic algorithms report these Loss values at these nodes (k=5); the Loss of a node with its
  // suppression reproduces them.
  const EncodedTable& adult = Adult(Columns());
  struct Case {
    double suppression;
    std::vector<int> levels;
    double loss;
  };
  for (const Case& c : {Case{1.0, {0, 3, 0, 0, 2, 1, 1, 1, 0}, 0.22041192847984292},
                        Case{0.04, {0, 3, 0, 1, 1, 1, 1, 2, 0}, 0.26611081915757495}}) {
    PrivacyModel model;
    model.k = 5;
    model.suppression_limit = c.suppression;
    auto check = CheckNode(adult, c.levels, model);
    ASSERT_TRUE(check.ok());
    EXPECT_TRUE(check->anonymous);
    auto loss = NodeLoss(adult, c.levels, check->suppressed_records, Metric::kLoss);
    ASSERT_TRUE(loss.ok());
    EXPECT_NEAR(*loss, c.loss, 1e-6);
  }
}

TEST(ArxLossTest, OptimalLossSearchFindsArxResults) {
  // ARX's heuristic search found this node; the optimal search finds the same one (so it is optimal). The
  // 100% suppression case (also ARX's node; 1,673 nodes checked) runs in anon_kanon_bench: its Loss bound
  // ignores suppression, which makes it the slowest search here (0.4 s in Release, many seconds under ASan).
  const EncodedTable& adult = Adult(Columns());
  struct Case {
    double suppression;
    std::vector<int> levels;
    double loss;
  };
  for (const Case& c : {Case{0.04, {0, 3, 0, 1, 1, 1, 1, 2, 0}, 0.26611081915757495}}) {
    SearchOptions options;
    options.model.k = 5;
    options.model.suppression_limit = c.suppression;
    options.metric = Metric::kLoss;
    auto r = OptimalSearch(adult, options);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_TRUE(r->found);
    EXPECT_THAT(r->levels, ElementsAreArray(c.levels)) << c.suppression;
    EXPECT_NEAR(r->information_loss, c.loss, 1e-6);
    auto again = NodeLoss(adult, r->levels, r->suppressed, Metric::kLoss);
    ASSERT_TRUE(again.ok());
    EXPECT_NEAR(*again, r->information_loss, 1e-12);
  }
}

TEST(ArxLDiversityTest, EntropyLDiversityOnOccupation) {
  std::vector<std::string> qis;
  for (const auto& c : Columns()) {
    if (c != "occupation") qis.push_back(c);
  }
  const EncodedTable& adult = Adult(qis, "occupation");
  SearchOptions options;
  options.model.k = 1;
  options.model.l_diversity = LDiversity::kEntropy;
  options.model.l = 5;
  auto r = OptimalSearch(adult, options);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->found);
  EXPECT_THAT(r->levels, ElementsAreArray({1, 1, 1, 1, 3, 2, 2, 1}));
  EXPECT_NEAR(r->information_loss, 324620.5269918692, 1e-6);
}

// Brute force over a smaller Adult lattice (4 QIs: 2 x 5 x 2 x 4 = 80 nodes) for the metrics and models that
// ARX's reference results do not cover: every node checked by scanning, loss by the generic scorer.
TEST(AdultBruteForceTest, SearchMatchesExhaustiveEvaluation) {
  const std::vector<std::string> qis = {"sex", "age", "race", "education"};
  const EncodedTable& adult = Adult(qis, "occupation");
  struct Case {
    PrivacyModel model;
    Metric metric;
  };
  PrivacyModel distinct;
  distinct.k = 10;
  distinct.l_diversity = LDiversity::kDistinct;
  distinct.l = 3;
  distinct.suppression_limit = 0.02;
  PrivacyModel entropy = distinct;
  entropy.l_diversity = LDiversity::kEntropy;
  entropy.l = 2.5;
  for (const Case& c : {Case{distinct, Metric::kDiscernibility}, Case{entropy, Metric::kLoss}}) {
    SearchOptions options;
    options.model = c.model;
    options.metric = c.metric;
    auto r = OptimalSearch(adult, options);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_TRUE(r->found);
    double best = std::numeric_limits<double>::infinity();
    std::vector<int> l(4, 0);
    for (l[0] = 0; l[0] < 2; ++l[0]) {
      for (l[1] = 0; l[1] < 5; ++l[1]) {
        for (l[2] = 0; l[2] < 2; ++l[2]) {
          for (l[3] = 0; l[3] < 4; ++l[3]) {
            auto check = CheckNode(adult, l, c.model);
            ASSERT_TRUE(check.ok());
            if (!check->anonymous) continue;
            auto loss = NodeLoss(adult, l, check->suppressed_records, c.metric);
            ASSERT_TRUE(loss.ok());
            best = std::min(best, *loss);
          }
        }
      }
    }
    EXPECT_NEAR(r->information_loss, best, 1e-9 * std::max(1.0, best)) << MetricName(c.metric);
    EXPECT_LT(r->stats.nodes_checked, 80);
  }
}

}  // namespace
}  // namespace kanon_arx_test
}  // namespace veil::anon
