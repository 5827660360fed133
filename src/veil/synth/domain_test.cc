#include "veil/synth/domain.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/crypto/random.h"
#include "veil/table/csv_reader.h"

namespace veil::synth {
namespace {

using ::testing::HasSubstr;

TEST(DomainTest, ParsesTheAimDomainFormat) {
  absl::StatusOr<Domain> d = ParseDomainCsv("attribute,size\nage, 32\n\nsex,2\r\n", "d.csv");
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->num_attributes(), 2);
  EXPECT_EQ(d->attribute(0).name, "age");
  EXPECT_EQ(d->size(0), 32);
  EXPECT_EQ(d->Find("sex"), 1);
  EXPECT_EQ(d->Find("nope"), -1);
}

TEST(DomainTest, DomainFileErrorsNameFileAndLine) {
  EXPECT_THAT(ParseDomainCsv("name,size\na,2\n", "d.csv").status().message(), HasSubstr("d.csv:1:"));
  EXPECT_THAT(ParseDomainCsv("attribute,size\na,2\nb,x\n", "d.csv").status().message(),
              HasSubstr("d.csv:3: size of \"b\""));
  EXPECT_THAT(ParseDomainCsv("attribute,size\na,0\n", "d.csv").status().message(), HasSubstr("d.csv:2:"));
  EXPECT_THAT(ParseDomainCsv("attribute,size\na,2\na,3\n", "d.csv").status().message(),
              HasSubstr("duplicate attribute \"a\""));
  EXPECT_THAT(ParseDomainCsv("attribute,size\na,2,3\n", "d.csv").status().message(), HasSubstr("d.csv:2:"));
  EXPECT_THAT(ParseDomainCsv("attribute,size\n", "d.csv").status().message(), HasSubstr("no attribute"));
}

TEST(DomainTest, MarginalCellsChecksIndexes) {
  Domain d = *Domain::Create({{"a", 3}, {"b", 4}, {"c", 5}});
  const int ab[] = {0, 1};
  EXPECT_EQ(*d.MarginalCells(ab), 12);
  const int rep[] = {0, 0};
  EXPECT_THAT(d.MarginalCells(rep).status().message(), HasSubstr("repeated"));
  const int bad[] = {3};
  EXPECT_EQ(d.MarginalCells(bad).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(Domain::Create({{"a", 0}}).ok());
  EXPECT_FALSE(Domain::Create({{"", 2}}).ok());
}

TEST(DomainTest, ReadsAdultAndCountsMarginals) {
  base::Env& env = crypto::DefaultEnv();
  absl::StatusOr<Domain> d = ReadDomainCsv(env, "../shared/data/adult/adult_aim_discretized_domain.csv");
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->num_attributes(), 15);
  EXPECT_EQ(d->size(d->Find("native-country")), 42);
  absl::StatusOr<table::Table> t = table::ReadCsv(env, "../shared/data/adult/adult_aim_discretized.csv");
  ASSERT_TRUE(t.ok()) << t.status();
  absl::StatusOr<DiscreteTable> data = DiscreteTable::FromTable(*t, *d);
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_EQ(data->num_rows(), 48842);
  // Column order follows the domain file, not the CSV: the domain lists education first.
  EXPECT_EQ(data->domain().attribute(0).name, "education");
  const int sex_income[] = {d->Find("sex"), d->Find("income>50K")};
  std::vector<double> m = *data->Marginal(sex_income);
  ASSERT_EQ(m.size(), 4u);
  double naive[4] = {0, 0, 0, 0};
  for (int64_t r = 0; r < data->num_rows(); ++r) {
    naive[data->code(r, sex_income[0]) * 2 + data->code(r, sex_income[1])] += 1;
  }
  for (int i = 0; i < 4; ++i) EXPECT_EQ(m[i], naive[i]);
  // Adult has 11,687 rows with income > 50K (README).
  EXPECT_EQ(m[1] + m[3], 11687);
}

DiscreteTable Small() {
  Domain d = *Domain::Create({{"a", 2}, {"b", 3}, {"c", 2}, {"d", 2}});
  return *DiscreteTable::Create(d, {{0, 1, 1, 0, 1}, {2, 0, 2, 2, 1}, {1, 1, 0, 1, 0}, {0, 0, 0, 1, 1}});
}

TEST(DiscreteTableTest, MarginalsInRowMajorLayout) {
  DiscreteTable t = Small();
  const int b[] = {1};
  EXPECT_THAT(*t.Marginal(b), ::testing::ElementsAre(1, 1, 3));
  // (b, a): cell = b * 2 + a. Rows: (2,0) (0,1) (2,1) (2,0) (1,1).
  const int ba[] = {1, 0};
  EXPECT_THAT(*t.Marginal(ba), ::testing::ElementsAre(0, 1, 0, 1, 2, 1));
  // (a, b, c): rows (0,2,1) (1,0,1) (1,2,0) (0,2,1) (1,1,0) -> cells 5, 7, 10, 5, 8.
  const int abc[] = {0, 1, 2};
  std::vector<double> m3 = *t.Marginal(abc);
  ASSERT_EQ(m3.size(), 12u);
  EXPECT_EQ(m3[5], 2);
  EXPECT_EQ(m3[7], 1);
  EXPECT_EQ(m3[10], 1);
  EXPECT_EQ(m3[8], 1);
  // The generic path (4 attributes) agrees with the 3-way one summed over d.
  const int abcd[] = {0, 1, 2, 3};
  std::vector<double> m4 = *t.Marginal(abcd);
  for (size_t i = 0; i < m3.size(); ++i) EXPECT_EQ(m4[2 * i] + m4[2 * i + 1], m3[i]);
  const int none[] = {0};
  EXPECT_EQ((*t.Marginal(std::span<const int>(none, 0)))[0], 5);
}

TEST(DiscreteTableTest, CreateRejectsBadCodes) {
  Domain d = *Domain::Create({{"a", 2}, {"b", 3}});
  EXPECT_THAT(DiscreteTable::Create(d, {{0, 1}, {0, 3}}).status().message(),
              HasSubstr("column \"b\" row 1: code 3 outside [0, 3)"));
  EXPECT_FALSE(DiscreteTable::Create(d, {{0, 1}, {0}}).ok());
  EXPECT_FALSE(DiscreteTable::Create(d, {{0, 1}}).ok());
  // An empty table is valid.
  absl::StatusOr<DiscreteTable> empty = DiscreteTable::Create(d, {{}, {}});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->num_rows(), 0);
}

TEST(DiscreteTableTest, FromTableMatchesByNameAndNamesErrors) {
  Domain d = *Domain::Create({{"a", 2}, {"b", 3}});
  absl::StatusOr<DiscreteTable> t = DiscreteTable::FromTable(*table::ReadCsvFromString("b,a\n2,0\n1,1\n"), d);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->code(0, 1), 2);
  EXPECT_EQ(t->code(1, 0), 1);
  EXPECT_THAT(DiscreteTable::FromTable(*table::ReadCsvFromString("a\n1\n"), d).status().message(),
              HasSubstr("no column \"b\""));
  EXPECT_THAT(DiscreteTable::FromTable(*table::ReadCsvFromString("a,b,c\n1,1,1\n"), d).status().message(),
              HasSubstr("\"c\" is not in the domain"));
  EXPECT_THAT(DiscreteTable::FromTable(*table::ReadCsvFromString("a,b\n1,1\n1,7\n"), d).status().message(),
              HasSubstr("column \"b\" row 2: code 7"));
  EXPECT_THAT(DiscreteTable::FromTable(*table::ReadCsvFromString("a,b\n1,\n1,2\n"), d).status().message(),
              HasSubstr("nulls"));
  EXPECT_THAT(DiscreteTable::FromTable(*table::ReadCsvFromString("a,b\n1,x\n"), d).status().message(),
              HasSubstr("integer codes"));
  // Round trip through ToTable.
  absl::StatusOr<table::Table> back = t->ToTable();
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->column(0).GetInt64(1), 1);
}

}  // namespace
}  // namespace veil::synth
