#include "veil/anon/utility.h"

#include <cmath>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/table/csv_reader.h"

namespace veil::anon {
namespace {

using ::testing::DoubleNear;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// One QI "v" with hierarchy a,b -> x; c,d -> y; e (absent from the data) -> y; all -> *.
// Records: a, a, b, c (n = 4, D = 5).
EncodedTable Small() {
  auto t = table::ReadCsvFromString("v\na\na\nb\nc\n", table::CsvReadOptions{});
  EXPECT_TRUE(t.ok());
  auto h = Hierarchy::ParseArxCsv("a;x;*\nb;x;*\nc;y;*\nd;y;*\ne;y;*\n", "v.csv");
  EXPECT_TRUE(h.ok());
  std::vector<std::string> qis = {"v"};
  auto e = EncodeTable(*t, qis, {*h});
  EXPECT_TRUE(e.ok()) << e.status();
  return *std::move(e);
}

TEST(UtilityTest, FullDomainLevelOneByHand) {
  EncodedTable e = Small();
  auto g = FullDomainCells(e, {1});
  ASSERT_TRUE(g.ok());
  auto u = ScoreGeneralized(e, *g);
  ASSERT_TRUE(u.ok()) << u.status();
  // NUE: a: 2 * -log2(2/3), b: -log2(1/3), c: -log2(1/1) = 0.
  const double nue = -2 * std::log2(2.0 / 3) - std::log2(1.0 / 3);
  EXPECT_NEAR(u->non_uniform_entropy, nue, 1e-12);
  EXPECT_NEAR(NonUniformEntropyAtLevel(e.qis[0], 1), nue, 1e-12);
  // Loss: cell x covers 2 of 5 leaves, y 3 of 5: S = 3 * 2/5 + 3/5 = 9/5; min = n/D = 4/5.
  // L = (9/5 - 4/5) / (4 - 4/5) = 1 / 3.2 = 0.3125; one QI: aggregate = L.
  EXPECT_NEAR(u->loss_per_qi[0], 0.3125, 1e-12);
  EXPECT_NEAR(u->loss, 0.3125, 1e-12);
  // Classes {a,a,b} and {c}: DM = 9 + 1; AECS = 4 / 2.
  EXPECT_EQ(u->num_classes, 2);
  EXPECT_DOUBLE_EQ(u->discernibility, 10);
  EXPECT_DOUBLE_EQ(u->average_class_size, 2);
  EXPECT_EQ(u->suppressed, 0);
}

TEST(UtilityTest, SuppressionEntersLossDiscernibilityAecsButNotEntropy) {
  EncodedTable e = Small();
  auto g = FullDomainCells(e, {1}, std::vector<uint8_t>{0, 0, 0, 1});
  ASSERT_TRUE(g.ok());
  auto u = ScoreGeneralized(e, *g);
  ASSERT_TRUE(u.ok());
  // Loss: S = 3 * 2/5 + 1 (the suppressed record) = 11/5 -> (11/5 - 4/5) / 3.2 = 0.4375.
  EXPECT_NEAR(u->loss, 0.4375, 1e-12);
  // DM = 3^2 + 1 * 4; AECS = 4 / (1 class + 1 for the suppressed).
  EXPECT_DOUBLE_EQ(u->discernibility, 13);
  EXPECT_DOUBLE_EQ(u->average_class_size, 2);
  EXPECT_EQ(u->suppressed, 1);
  EXPECT_EQ(u->num_classes, 1);
  EXPECT_NEAR(u->non_uniform_entropy, -2 * std::log2(2.0 / 3) - std::log2(1.0 / 3), 1e-12);
}

TEST(UtilityTest, BottomIsLosslessAndTopIsTotal) {
  EncodedTable e = Small();
  auto bottom = ScoreGeneralized(e, *FullDomainCells(e, {0}));
  ASSERT_TRUE(bottom.ok());
  EXPECT_EQ(bottom->non_uniform_entropy, 0);
  EXPECT_EQ(bottom->loss, 0);
  auto top = ScoreGeneralized(e, *FullDomainCells(e, {2}));
  ASSERT_TRUE(top.ok());
  EXPECT_NEAR(top->loss, 1, 1e-12);
  // -(2 log2(2/4) + log2(1/4) + log2(1/4)) = 2 + 2 + 2.
  EXPECT_NEAR(top->non_uniform_entropy, 6, 1e-12);
}

TEST(UtilityTest, MultidimensionalCellsScoreLikeEquivalentFullDomain) {
  // A Mondrian-style result: cells {a,b} and {c,d,e} as arbitrary leaf sets equal level 1.
  EncodedTable e = Small();
  GeneralizedTable g;
  g.cells = {{{1, 0}, {4, 2, 3}}};
  g.record_cell = {{0, 0, 0, 1}};
  auto u = ScoreGeneralized(e, g);
  ASSERT_TRUE(u.ok()) << u.status();
  auto ref = ScoreGeneralized(e, *FullDomainCells(e, {1}));
  EXPECT_NEAR(u->loss, ref->loss, 1e-15);
  EXPECT_NEAR(u->non_uniform_entropy, ref->non_uniform_entropy, 1e-12);
  EXPECT_EQ(u->num_classes, ref->num_classes);
  // A range cell {b, c} for record 3 ("b") mixes the hierarchy's branches: allowed for multidimensional
  // results; f({b,c}) = 2 records, |cell| = 2.
  g.cells = {{{0}, {1, 2}}};
  g.record_cell = {{0, 0, 1, 1}};
  u = ScoreGeneralized(e, g);
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_NEAR(u->nue_per_qi[0], -2 * std::log2(1.0 / 2), 1e-12);
}

TEST(UtilityTest, RejectsMalformedCells) {
  EncodedTable e = Small();
  GeneralizedTable g;
  g.cells = {{{0, 1}, {2, 3, 4}}};
  g.record_cell = {{0, 0, 0, 0}};  // record 4 ("c") is not in cell 0
  EXPECT_THAT(ScoreGeneralized(e, g).status().message(), HasSubstr("record 4: the cell does not cover"));
  g.record_cell = {{0, 0, 0, 7}};
  EXPECT_THAT(ScoreGeneralized(e, g).status().message(), HasSubstr("out of range"));
  g.cells = {{{0, 0, 1}, {2, 3, 4}}};
  g.record_cell = {{0, 0, 0, 1}};
  EXPECT_THAT(ScoreGeneralized(e, g).status().message(), HasSubstr("twice"));
  g.cells = {{{0, 1}, {}}};
  EXPECT_THAT(ScoreGeneralized(e, g).status().message(), HasSubstr("empty"));
  EXPECT_FALSE(FullDomainCells(e, {3}).ok());
  EXPECT_FALSE(FullDomainCells(e, {1, 1}).ok());
}

TEST(UtilityTest, AggregateLossIsGeometricMeanOfOnePlus) {
  EXPECT_NEAR(AggregateLoss(std::vector<double>{0, 0.44}), std::sqrt(1.44) - 1, 1e-15);
  EXPECT_EQ(AggregateLoss(std::vector<double>{}), 0);
}

}  // namespace
}  // namespace veil::anon
