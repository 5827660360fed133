#include "veil/synth/discretize.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/crypto/testing/deterministic_random.h"
#include "veil/table/csv_reader.h"

namespace veil::synth {
namespace {

using table::DataType;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

table::Table Read(const std::string& csv, std::map<std::string, DataType, std::less<>> types = {}) {
  table::CsvReadOptions o;
  o.column_types = std::move(types);
  absl::StatusOr<table::Table> t = table::ReadCsvFromString(csv, o);
  EXPECT_TRUE(t.ok()) << t.status();
  return *std::move(t);
}

// 200 rows: age 20..69, income, a date in 2020, city (A, B, C common; D once), smoker, a nullable note.
table::Table Mixed() {
  std::string csv = "age,income,day,city,smoker,note\n";
  const char* cities[] = {"A", "B", "C"};
  for (int i = 0; i < 200; ++i) {
    const int day = 1 + (i * 7) % 28;
    csv += std::to_string(20 + i % 50) + "," + std::to_string(1000 + 37.5 * i) + ",2020-03-" +
           (day < 10 ? "0" : "") + std::to_string(day) + "," + (i == 199 ? "D" : cities[i % 3]) + "," +
           (i % 4 == 0 ? "true" : "false") + "," + (i % 5 == 0 ? "" : "x") + "\n";
  }
  return Read(csv, {{"income", DataType::kDouble}});
}

DiscretizeOptions PublicSpec() {
  DiscretizeOptions o;
  o.columns = {
      {.name = "age",
       .rule = ColumnRule::kPublicBounds,
       .lower = 0,
       .upper = 99,
       .bins = 10,
       .binning = Binning::kEqualWidth},
      {.name = "income", .lower = 0, .upper = 10000, .bins = 8, .binning = Binning::kEqualWidth},
      // 2020-03-01 .. 2020-03-31
      {.name = "day", .lower = 18322, .upper = 18352, .bins = 4, .binning = Binning::kEqualWidth},
      {.name = "city", .values = {"A", "B", "C"}},
      {.name = "note", .min_count = 1},
  };
  return o;
}

TEST(DiscretizeTest, PlanResolvesRulesFromTypesAndSpecs) {
  const table::Table t = Mixed();
  absl::StatusOr<DiscretizePlan> plan = PlanDiscretization(t.schema(), {});
  ASSERT_TRUE(plan.ok()) << plan.status();
  std::vector<ColumnRule> rules;
  for (const ColumnCoding& c : plan->columns) rules.push_back(c.rule);
  EXPECT_THAT(rules, ElementsAre(ColumnRule::kDpBounds, ColumnRule::kDpBounds, ColumnRule::kDpBounds,
                                 ColumnRule::kDpValues, ColumnRule::kPublicValues, ColumnRule::kDpValues));
  EXPECT_EQ(plan->dp_bounds_steps, 3);
  EXPECT_EQ(plan->dp_quantile_steps, 3) << "quantile binning is the default";
  EXPECT_EQ(plan->dp_values_steps, 2);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(plan->columns[i].binning, Binning::kQuantiles);
  plan = PlanDiscretization(t.schema(), PublicSpec());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->dp_steps(), 0);
}

TEST(DiscretizeTest, PublicRulesEncodeAndDecodeKeepTypesAndDomains) {
  const table::Table t = Mixed();
  crypto::testing::DeterministicRandom random(1);
  dp::RandomBits bits(random);
  absl::StatusOr<Codec> codec = FitCodec(t, PublicSpec(), nullptr, 0, bits);
  ASSERT_TRUE(codec.ok()) << codec.status();
  // Sizes (the CSV reader makes every field nullable, so each has a null code): age 10 bins; income 8; day
  // 4; city A, B, C + other; smoker false, true; note "x" + other; each + null.
  std::vector<int64_t> sizes;
  for (const Attribute& a : codec->domain().attributes()) sizes.push_back(a.size);
  EXPECT_THAT(sizes, ElementsAre(11, 9, 5, 5, 3, 3));
  absl::StatusOr<DiscreteTable> codes = codec->Encode(t);
  ASSERT_TRUE(codes.ok()) << codes.status();
  EXPECT_EQ(codes->code(0, 0), 2);    // age 20 in [20, 29]
  EXPECT_EQ(codes->code(199, 3), 3);  // D -> other
  EXPECT_EQ(codes->code(0, 5), 2);    // null note -> null code
  absl::StatusOr<table::Table> back = codec->Decode(*codes, random);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->schema(), t.schema());
  ASSERT_EQ(back->num_rows(), t.num_rows());
  for (int64_t r = 0; r < t.num_rows(); ++r) {
    // Integers: a whole number within the row's bin of 10 years.
    const int64_t age = back->column(0).GetInt64(r);
    EXPECT_EQ(age / 10, t.column(0).GetInt64(r) / 10) << r;
    // Doubles: within the row's bin of width 1250.
    EXPECT_EQ(static_cast<int>(back->column(1).GetDouble(r) / 1250),
              static_cast<int>(t.column(1).GetDouble(r) / 1250));
    // Dates: within the bin (31 days in 4 runs: 1-7, 8-15, 16-23, 24-31).
    const int32_t day = back->column(2).GetDate(r).days - 18322;
    const int32_t want = t.column(2).GetDate(r).days - 18322;
    const auto run = [](int32_t d) { return d < 7 ? 0 : d < 15 ? 1 : d < 23 ? 2 : 3; };
    EXPECT_EQ(run(day), run(want)) << r;
    // Categorical: exact, the rare D as "(other)".
    EXPECT_EQ(back->column(3).GetString(r), r == 199 ? "(other)" : t.column(3).GetString(r));
    EXPECT_EQ(back->column(4).GetBool(r), t.column(4).GetBool(r));
    EXPECT_EQ(back->column(5).IsNull(r), t.column(5).IsNull(r));
  }
  EXPECT_EQ(codec->Describe()[0], "age: int64, 10 bins (equal-width) over [0, 99] + null (public bounds)");
}

TEST(DiscretizeTest, IntegerBinsAreRunsOfNearlyEqualLength) {
  // [0, 9] in 3 bins: starts floor(i * 10 / 3) = 0, 3, 6.
  ColumnCoding c{.name = "x",
                 .type = DataType::kInt64,
                 .nullable = false,
                 .rule = ColumnRule::kPublicBounds,
                 .lower = 0,
                 .upper = 9,
                 .bins = 3};
  absl::StatusOr<Codec> codec = Codec::FromCodings({c});
  ASSERT_TRUE(codec.ok()) << codec.status();
  const table::Table t = Read("x\n-5\n0\n2\n3\n5\n6\n9\n40\n");
  absl::StatusOr<DiscreteTable> codes = codec->Encode(t);
  ASSERT_TRUE(codes.ok()) << codes.status();
  std::vector<int32_t> got(codes->column(0).begin(), codes->column(0).end());
  EXPECT_THAT(got, ElementsAre(0, 0, 0, 1, 1, 2, 2, 2));
  // Decoding bin 2 many times covers exactly 6..9, uniformly enough to see all four.
  std::vector<std::vector<int32_t>> many(1, std::vector<int32_t>(400, 2));
  absl::StatusOr<DiscreteTable> bins = DiscreteTable::Create(codec->domain(), many);
  ASSERT_TRUE(bins.ok());
  crypto::testing::DeterministicRandom random(2);
  absl::StatusOr<table::Table> back = codec->Decode(*bins, random);
  ASSERT_TRUE(back.ok()) << back.status();
  std::set<int64_t> seen;
  for (int64_t r = 0; r < back->num_rows(); ++r) seen.insert(back->column(0).GetInt64(r));
  EXPECT_THAT(seen, ElementsAre(6, 7, 8, 9));
}

TEST(DiscretizeTest, DpRulesAreChargedAndKeepCommonValues) {
  const table::Table t = Mixed();
  crypto::testing::DeterministicRandom random(3);
  dp::RandomBits bits(random);
  absl::StatusOr<ZcdpBudget> budget = ZcdpBudget::FromRho(0.5, 1e-6);
  ASSERT_TRUE(budget.ok());
  absl::StatusOr<Codec> codec = FitCodec(t, {}, &*budget, 1e-6, bits);
  ASSERT_TRUE(codec.ok()) << codec.status();
  std::vector<std::string> names;
  for (const ZcdpBudget::Entry& e : budget->entries()) names.push_back(e.name);
  EXPECT_THAT(names, ElementsAre("bounds (age)", "quantiles (age)", "bounds (income)", "quantiles (income)",
                                 "bounds (day)", "quantiles (day)", "values (city)", "values (note)"));
  EXPECT_LE(budget->spent_rho(), budget->total_rho());
  EXPECT_GT(budget->spent_rho(), 0.999 * budget->total_rho());
  // 13 shares (3 bounds x 2, 3 quantiles x 1, 2 value selections x 2): a value selection has rho 0.077, so
  // sigma 2.55 and tau = 1 + ceil(2.55 sqrt(2 ln(1 / 5e-7))) = 15 rows; the 66 rows of each common city are
  // kept with probability ~1, the single D is dropped (kept with probability <= delta 5e-7).
  const ColumnCoding& city = codec->columns()[3];
  EXPECT_THAT(city.values, ElementsAre("A", "B", "C"));
  EXPECT_EQ(city.keep_rows, 15);
  EXPECT_TRUE(codec->Warnings().empty());
  // DP bounds of age 20..69 at this epsilon: powers of two containing most of the data.
  const ColumnCoding& age = codec->columns()[0];
  EXPECT_LE(age.lower, 32);
  EXPECT_GE(age.upper, 64);
  absl::StatusOr<DiscreteTable> codes = codec->Encode(t);
  ASSERT_TRUE(codes.ok()) << codes.status();
  absl::StatusOr<table::Table> back = codec->Decode(*codes, random);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->schema(), t.schema());
}

TEST(DiscretizeTest, DegenerateInputs) {
  crypto::testing::DeterministicRandom random(4);
  dp::RandomBits bits(random);
  // One constant column: public bounds lower == upper give one bin, decoded to that value.
  const table::Table constant = Read("x\n7\n7\n7\n");
  DiscretizeOptions o;
  o.columns = {{.name = "x", .lower = 7, .upper = 7, .binning = Binning::kEqualWidth}};
  absl::StatusOr<Codec> codec = FitCodec(constant, o, nullptr, 0, bits);
  ASSERT_TRUE(codec.ok()) << codec.status();
  EXPECT_EQ(codec->domain().size(0), 2) << "one bin and the null code";
  absl::StatusOr<DiscreteTable> codes = codec->Encode(constant);
  ASSERT_TRUE(codes.ok());
  absl::StatusOr<table::Table> back = codec->Decode(*codes, random);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, constant);
  // A constant string column under the DP rule: its one value, plus other.
  const table::Table letters =
      Read("s\nq\nq\nq\nq\nq\nq\nq\nq\nq\nq\nq\nq\nq\nq\nq\nq\nq\nq\nq\nq\nq\nq\nq\nq\nq\nq\nq\nq\n");
  absl::StatusOr<ZcdpBudget> budget = ZcdpBudget::FromRho(2, 1e-6);
  ASSERT_TRUE(budget.ok());
  codec = FitCodec(letters, {}, &*budget, 1e-6, bits);
  ASSERT_TRUE(codec.ok()) << codec.status();
  EXPECT_THAT(codec->columns()[0].values, ElementsAre("q"));
  // An empty table (header only): the DP steps still run (noise only); decoding 0 rows gives an empty table
  // of the same schema.
  const table::Table empty = Read("a,b\n", {{"a", DataType::kInt64}, {"b", DataType::kString}});
  budget = ZcdpBudget::FromRho(1, 1e-6);
  codec = FitCodec(empty, {}, &*budget, 1e-6, bits);
  ASSERT_TRUE(codec.ok()) << codec.status();
  codes = codec->Encode(empty);
  ASSERT_TRUE(codes.ok());
  EXPECT_EQ(codes->num_rows(), 0);
  back = codec->Decode(*codes, random);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->num_rows(), 0);
  EXPECT_EQ(back->schema(), empty.schema());
  // No column left, and errors naming the column.
  o = {};
  o.drop = {"x"};
  EXPECT_THAT(PlanDiscretization(constant.schema(), o).status().message(), HasSubstr("no column is left"));
  o = {};
  o.columns = {{.name = "nope", .lower = 0, .upper = 1}};
  EXPECT_THAT(PlanDiscretization(constant.schema(), o).status().message(), HasSubstr("column \"nope\""));
  o.columns = {{.name = "x", .values = {"1"}}};
  EXPECT_THAT(PlanDiscretization(constant.schema(), o).status().message(),
              HasSubstr("column \"x\": values are for categorical columns"));
  o.columns = {{.name = "x", .rule = ColumnRule::kDpValues}};
  EXPECT_THAT(PlanDiscretization(constant.schema(), o).status().message(),
              HasSubstr("the rule \"dp values\" does not apply to a int64 column"));
  o.columns = {{.name = "x", .lower = 3, .upper = 1}};
  EXPECT_THAT(PlanDiscretization(constant.schema(), o).status().message(), HasSubstr("lower <= upper"));
  o.columns = {{.name = "x", .lower = 0}};
  EXPECT_THAT(PlanDiscretization(constant.schema(), o).status().message(), HasSubstr("both lower and upper"));
  // DP steps without a budget are refused.
  EXPECT_EQ(FitCodec(constant, {}, nullptr, 0, bits).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(DiscretizeTest, IdentityCodecReadsAndWritesCodes) {
  absl::StatusOr<Domain> domain = Domain::Create({{"a", 3}, {"b", 2}});
  ASSERT_TRUE(domain.ok());
  absl::StatusOr<Codec> codec = IdentityCodec(*domain);
  ASSERT_TRUE(codec.ok()) << codec.status();
  const table::Table t = Read("a,b\n0,1\n2,0\n1,1\n");
  absl::StatusOr<DiscreteTable> codes = codec->Encode(t);
  ASSERT_TRUE(codes.ok()) << codes.status();
  crypto::testing::DeterministicRandom random(5);
  absl::StatusOr<table::Table> back = codec->Decode(*codes, random);
  ASSERT_TRUE(back.ok());
  for (int c = 0; c < 2; ++c) {
    for (int64_t r = 0; r < 3; ++r) EXPECT_EQ(back->column(c).GetInt64(r), t.column(c).GetInt64(r));
  }
  EXPECT_THAT(codec->Encode(Read("a,b\n3,1\n")).status().message(), HasSubstr("row 1: value 3 is outside"));
}

TEST(DiscretizeTest, BinStartsCollapseRepeatedCellsIntoPointBins) {
  // Three estimates in cell [0, 1) (a mass at 0), one in [5, 6), one in [9, 10): bins {0}, 1..5, 6..9,
  // 10..20.
  EXPECT_THAT(internal::BinStartsFromCells({{0, 1}, {5, 6}, {0, 1}, {9, 10}, {0, 1}}, 0, 20),
              ElementsAre(0, 1, 6, 10));
  // A mass inside the range: a bin of its own on both sides; cuts beyond upper are dropped.
  EXPECT_THAT(internal::BinStartsFromCells({{7, 8}, {7, 8}, {20, 21}}, 0, 20), ElementsAre(0, 7, 8));
  // A mass at the upper bound is the last (point) bin.
  EXPECT_THAT(internal::BinStartsFromCells({{20, 21}, {20, 21}}, 0, 20), ElementsAre(0, 20));
  EXPECT_THAT(internal::BinStartsFromCells({}, 3, 3), ElementsAre(3));
  EXPECT_EQ(internal::ExactCell(4, true), std::make_pair(4.0, 5.0));
  EXPECT_GT(internal::ExactCell(0.5, false).second, 0.5);
  EXPECT_LT(internal::ExactCell(0.5, false).second, 0.5 + 1e-15);
}

TEST(DiscretizeTest, PublicEdgesGivePointBinsDecodedExactly) {
  // capital-loss like: mostly 0, some 1000..4000; a double column with a point bin at 0.5.
  std::string csv = "loss,rate\n";
  for (int i = 0; i < 100; ++i)
    csv += std::to_string(i % 10 == 0 ? 1000 + 30 * i : 0) + "," + (i % 2 == 0 ? "0.5" : "0.75") + "\n";
  const table::Table t = Read(csv, {{"rate", DataType::kDouble}});
  DiscretizeOptions o;
  o.columns = {{.name = "loss", .edges = {0, 1, 2000, 5000}}, {.name = "rate", .edges = {0, 0.5, 0.6, 1}}};
  crypto::testing::DeterministicRandom random(41);
  dp::RandomBits bits(random);
  absl::StatusOr<Codec> codec = FitCodec(t, o, nullptr, 0, bits);
  ASSERT_TRUE(codec.ok()) << codec.status();
  EXPECT_THAT(codec->Labels(0), ElementsAre("0", "1..1999", "2000..5000", "null"));
  EXPECT_THAT(codec->Labels(1), ElementsAre("[0, 0.5)", "[0.5, 0.6)", "[0.6, 1]", "null"));
  EXPECT_THAT(codec->Describe()[0], HasSubstr("3 bins (edges) over [0, 5000]"));
  absl::StatusOr<DiscreteTable> codes = codec->Encode(t);
  ASSERT_TRUE(codes.ok()) << codes.status();
  EXPECT_EQ(codes->code(0, 0), 1);   // 1000
  EXPECT_EQ(codes->code(1, 0), 0);   // 0
  EXPECT_EQ(codes->code(20, 0), 1);  // 1600
  EXPECT_EQ(codes->code(40, 0), 2);  // 2200
  absl::StatusOr<table::Table> back = codec->Decode(*codes, random);
  ASSERT_TRUE(back.ok()) << back.status();
  for (int64_t r = 0; r < back->num_rows(); ++r) {
    const int64_t v = back->column(0).GetInt64(r);
    if (codes->code(r, 0) == 0) {
      EXPECT_EQ(v, 0) << "a point bin decodes to its value";
    } else if (codes->code(r, 0) == 1) {
      EXPECT_GE(v, 1);
      EXPECT_LE(v, 1999);
    } else {
      EXPECT_GE(v, 2000);
      EXPECT_LE(v, 5000);
    }
  }
  // Errors: edges not increasing, edges with bounds, non-integer edges of an integer column.
  o.columns = {{.name = "loss", .edges = {0, 0, 5}}};
  EXPECT_THAT(PlanDiscretization(t.schema(), o).status().message(), HasSubstr("strictly increasing"));
  o.columns = {{.name = "loss", .lower = 0, .edges = {0, 5}}};
  EXPECT_THAT(PlanDiscretization(t.schema(), o).status().message(), HasSubstr("edges exclude"));
  o.columns = {{.name = "loss", .edges = {0, 0.5, 5}}};
  EXPECT_THAT(PlanDiscretization(t.schema(), o).status().message(), HasSubstr("must be integers"));
}

TEST(DiscretizeTest, CodingsRoundTripThroughJson) {
  const table::Table t = Mixed();
  DiscretizeOptions o = PublicSpec();
  o.columns[0] = {.name = "age", .edges = {0, 20, 21, 40, 100}};
  crypto::testing::DeterministicRandom random(42);
  dp::RandomBits bits(random);
  absl::StatusOr<Codec> codec = FitCodec(t, o, nullptr, 0, bits);
  ASSERT_TRUE(codec.ok()) << codec.status();
  const std::string json = CodingsToJson(codec->columns());
  absl::StatusOr<std::vector<ColumnCoding>> back = CodingsFromJson(json);
  ASSERT_TRUE(back.ok()) << back.status();
  absl::StatusOr<Codec> again = Codec::FromCodings(*back);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->Describe(), codec->Describe());
  absl::StatusOr<DiscreteTable> a = codec->Encode(t), b = again->Encode(t);
  ASSERT_TRUE(a.ok() && b.ok());
  for (int at = 0; at < a->num_attributes(); ++at) {
    for (int64_t r = 0; r < t.num_rows(); ++r) ASSERT_EQ(a->code(r, at), b->code(r, at)) << at << " " << r;
  }
  EXPECT_THAT(CodingsFromJson("{").status().message(), HasSubstr("not a JSON array"));
  EXPECT_THAT(CodingsFromJson(R"([{"name": "x", "type": "nope"}])").status().message(),
              HasSubstr("coding entry 1: unknown type"));
  EXPECT_THAT(CodingsFromJson(R"([{"name": "x", "type": "int64", "rule": "public bounds", "lower": 0,
      "upper": 9, "bins": 2, "binning": "edges", "starts": [0, 0]}])")
                  .status()
                  .message(),
              HasSubstr("increase strictly"));
}

TEST(DiscretizeTest, DpQuantileBinsFollowTheDistributionWithPointBins) {
  // 5000 rows: loss is 0 in 90% of rows, else 1000..2990 (zero-inflated like Adult's capital-loss); hours
  // is 40 in half the rows, else spread over 1..99.
  std::string csv = "loss,hours\n";
  for (int i = 0; i < 5000; ++i) {
    csv += std::to_string(i % 10 == 0 ? 1000 + (i * 7) % 1991 : 0) + "," +
           std::to_string(i % 2 == 0 ? 40 : 1 + (i * 13) % 99) + "\n";
  }
  const table::Table t = Read(csv);
  DiscretizeOptions o;
  o.columns = {{.name = "loss", .lower = 0, .upper = 4000, .bins = 16}, {.name = "hours", .bins = 16}};
  crypto::testing::DeterministicRandom random(43);
  dp::RandomBits bits(random);
  absl::StatusOr<ZcdpBudget> budget = ZcdpBudget::FromRho(0.5, 1e-6);
  ASSERT_TRUE(budget.ok());
  absl::StatusOr<Codec> codec = FitCodec(t, o, &*budget, 0, bits);
  ASSERT_TRUE(codec.ok()) << codec.status();
  std::vector<std::string> names;
  for (const ZcdpBudget::Entry& e : budget->entries()) names.push_back(e.name);
  EXPECT_THAT(names, ElementsAre("quantiles (loss)", "bounds (hours)", "quantiles (hours)"));
  // Shares: bounds 2, quantiles 1 each: 0.5 / 4 per share.
  EXPECT_NEAR(budget->entries()[0].rho, 0.125, 1e-9);
  EXPECT_NEAR(budget->entries()[1].rho, 0.25, 1e-9);
  EXPECT_LE(budget->spent_rho(), budget->total_rho());
  const ColumnCoding& loss = codec->columns()[0];
  EXPECT_EQ(loss.binning, Binning::kQuantiles);
  ASSERT_GE(loss.starts.size(), 2u);
  EXPECT_LE(loss.starts.size(), 31u) << "at most 2 bins - 1";
  EXPECT_EQ(loss.starts[0], 0);
  EXPECT_EQ(loss.starts[1], 1) << "the mass at 0 is a point bin";
  EXPECT_EQ(codec->Labels(0)[0], "0");
  const ColumnCoding& hours = codec->columns()[1];
  const std::vector<std::string> labels = codec->Labels(1);
  EXPECT_THAT(labels, ::testing::Contains("40")) << "the mass at 40 is a point bin";
  EXPECT_GE(hours.starts.size(), 8u);
  // Decoding: zeros stay exactly zero, every value is an integer of its bin.
  absl::StatusOr<DiscreteTable> codes = codec->Encode(t);
  ASSERT_TRUE(codes.ok()) << codes.status();
  absl::StatusOr<table::Table> back = codec->Decode(*codes, random);
  ASSERT_TRUE(back.ok()) << back.status();
  int64_t zeros = 0, forties = 0;
  for (int64_t r = 0; r < t.num_rows(); ++r) {
    zeros += back->column(0).GetInt64(r) == 0;
    forties += back->column(1).GetInt64(r) == 40;
    const int32_t code = codes->code(r, 0);
    const int64_t v = back->column(0).GetInt64(r);
    EXPECT_GE(v, static_cast<int64_t>(loss.starts[code]));
    if (code + 1 < static_cast<int32_t>(loss.starts.size())) {
      EXPECT_LT(v, static_cast<int64_t>(loss.starts[code + 1]));
    }
  }
  EXPECT_EQ(zeros, 4500);
  EXPECT_GE(forties, 2500);
  // Equal-width stays available: the zeros then share a bin with other values and decode spread.
  o.columns[0].binning = Binning::kEqualWidth;
  budget = ZcdpBudget::FromRho(0.5, 1e-6);
  codec = FitCodec(t, o, &*budget, 0, bits);
  ASSERT_TRUE(codec.ok()) << codec.status();
  EXPECT_EQ(codec->columns()[0].binning, Binning::kEqualWidth);
  EXPECT_TRUE(codec->columns()[0].starts.empty());
}

// Gaussian thresholding: sigma costs at most rho, tau is the smallest threshold whose sub-Gaussian tail bound
// for a one-row value is <= delta (known answer: rho 0.5, delta 1e-6: sigma 1, tau = 1 + ceil(sqrt(2 ln
// 1e6)) = 1 + ceil(5.257) = 7).
TEST(DiscretizeTest, GaussianThresholdKnownAnswersAndTailBound) {
  const internal::GaussianThreshold g = internal::GaussianThresholdFor(0.5, 1e-6);
  EXPECT_NEAR(g.sigma, 1, 1e-8);
  EXPECT_EQ(g.tau, 7);
  for (const auto& [rho, delta] :
       std::vector<std::pair<double, double>>{{0.5, 1e-6}, {2.3e-4, 1.1e-8}, {1e-3, 5e-8}, {0.01, 0.05}}) {
    const internal::GaussianThreshold t = internal::GaussianThresholdFor(rho, delta);
    EXPECT_LE(1 / (2 * t.sigma * t.sigma), rho);
    const double k = static_cast<double>(t.tau - 1);
    EXPECT_LE(std::exp(-k * k / (2 * t.sigma * t.sigma)), delta) << rho;
    EXPECT_GT(std::exp(-(k - 1) * (k - 1) / (2 * t.sigma * t.sigma)), delta) << "tau is not minimal";
  }
  // At Adult's epsilon 1 share (rho 2.3e-4, delta 1.1e-8): about 280 rows, where dp::PartitionSelector at
  // epsilon sqrt(2 rho) keeps a value with probability 1/2 only from about 640.
  EXPECT_NEAR(internal::GaussianThresholdFor(2.3e-4, 1.1e-8).tau, 283, 3);
}

// A DP value selection keeps the values well above tau, drops 300 one-row values (each kept with probability
// <= delta_c = 1e-7: all dropped with probability > 1 - 3e-5), and a column where nothing reaches tau gets a
// warning naming it, the rows needed and the remedy.
TEST(DiscretizeTest, DpValueSelectionKeepsCommonValuesDropsRareOnesAndWarns) {
  std::string csv = "job,rare\n";
  const char* common[] = {"clerk", "nurse", "pilot"};
  for (int i = 0; i < 900; ++i) {
    if (i < 300) {
      csv.append("j").append(std::to_string(i));  // 300 values of one row each
    } else {
      csv.append(common[i % 3]);
    }
    csv.append(i % 2 == 0 ? ",x\n" : ",y\n");
  }
  const table::Table t = Read(csv);
  crypto::testing::DeterministicRandom random(8);
  dp::RandomBits bits(random);
  // Two selections of 2 shares each: rho_c = 0.01 / 2 = 0.005, sigma 10, delta_c 1e-7: tau = 1 + ceil(10
  // sqrt(2 ln 1e7)) = 58. clerk, nurse, pilot have 200 rows each (14 sigma above tau).
  absl::StatusOr<ZcdpBudget> budget = ZcdpBudget::FromRho(0.01, 1e-6);
  ASSERT_TRUE(budget.ok());
  absl::StatusOr<Codec> codec = FitCodec(t, {}, &*budget, 2e-7, bits);
  ASSERT_TRUE(codec.ok()) << codec.status();
  EXPECT_THAT(codec->columns()[0].values, ElementsAre("clerk", "nurse", "pilot"));
  EXPECT_EQ(codec->columns()[0].keep_rows, 58);
  EXPECT_THAT(codec->columns()[1].values, ElementsAre("x", "y"));
  EXPECT_TRUE(codec->Warnings().empty());
  // 450 rows per value at rho_c 5e-6 (sigma 316, tau 1,800): nothing is kept, and the user is told.
  budget = ZcdpBudget::FromRho(1e-5, 1e-6);
  codec = FitCodec(t, {}, &*budget, 2e-7, bits);
  ASSERT_TRUE(codec.ok()) << codec.status();
  EXPECT_TRUE(codec->columns()[1].values.empty());
  ASSERT_EQ(codec->Warnings().size(), 2u);
  EXPECT_THAT(codec->Warnings()[1], HasSubstr("column \"rare\": the DP value selection kept no value"));
  EXPECT_THAT(codec->Warnings()[1], HasSubstr("a value needs about 1"));
  EXPECT_THAT(codec->Warnings()[1], HasSubstr("\"values\": [...]"));
  EXPECT_THAT(codec->Describe()[1], HasSubstr("rows to be kept at this budget"));
}

// G and Q of the piecewise-linear quantile function (knots at ranks 0, 1/3, 2/3, 1): a point mass of 1/3 at
// 0, then 1/3 spread over (0, 10] and 1/3 over (10, 20].
TEST(DiscretizeTest, QuantileRankBelowAndQuantileAtKnownAnswers) {
  const std::vector<double> knots = {0, 0, 10, 20};
  EXPECT_EQ(internal::QuantileRankBelow(knots, -1), 0);
  EXPECT_EQ(internal::QuantileRankBelow(knots, 0), 0);  // nothing below the point mass
  EXPECT_DOUBLE_EQ(internal::QuantileRankBelow(knots, 5), 0.5);
  EXPECT_DOUBLE_EQ(internal::QuantileRankBelow(knots, 10), 2.0 / 3);
  EXPECT_DOUBLE_EQ(internal::QuantileRankBelow(knots, 15), 5.0 / 6);
  EXPECT_EQ(internal::QuantileRankBelow(knots, 21), 1);
  EXPECT_EQ(internal::QuantileAt(knots, 0.2), 0);
  EXPECT_DOUBLE_EQ(internal::QuantileAt(knots, 0.5), 5);
  EXPECT_DOUBLE_EQ(internal::QuantileAt(knots, 1), 20);
  for (double x = 0.5; x <= 20; x += 0.5) {
    EXPECT_NEAR(internal::QuantileAt(knots, internal::QuantileRankBelow(knots, x)), x, 1e-12) << x;
  }
}

// Decoding within a bin follows the tree's distribution, not a uniform spread. The values: 90% in 0..99, 10%
// in 900..999, public bounds [0, 999], 4 quantile bins: the cuts (25%, 50%, 75%) all fall below 100, so the
// top bin is [~75, 999] and holds 15% of the rows below 100 and the 10% above 900. Uniform decoding would put
// (850 - 150) / (999 - 75) = 76% of that bin's rows, 19% of all rows, in the empty gap [150, 850]; decoding
// from the tree's 64 knots spreads at most the one knot interval that straddles the gap (1/64 = 1.6% of the
// rows) there: < 3%. Likewise at most 1.6% + 1.6% land outside [0, 110] and [890, 999].
TEST(DiscretizeTest, DecodingWithinABinFollowsTheTreeNotAUniformSpread) {
  std::string csv = "v\n";
  for (int i = 0; i < 10000; ++i)
    csv += std::to_string(i % 10 == 0 ? 900 + (i * 7) % 100 : (i * 13) % 100) + "\n";
  const table::Table t = Read(csv);
  DiscretizeOptions o;
  o.columns = {{.name = "v", .lower = 0, .upper = 999, .bins = 4}};
  crypto::testing::DeterministicRandom random(7);
  dp::RandomBits bits(random);
  absl::StatusOr<ZcdpBudget> budget = ZcdpBudget::FromRho(1.0, 1e-6);
  ASSERT_TRUE(budget.ok());
  absl::StatusOr<Codec> codec = FitCodec(t, o, &*budget, 0, bits);
  ASSERT_TRUE(codec.ok()) << codec.status();
  const ColumnCoding& c = codec->columns()[0];
  ASSERT_EQ(c.quantiles.size(), 65u);
  EXPECT_LE(c.quantiles.front(), 1);  // the smallest value is 1
  EXPECT_LE(c.quantiles.back(), 1000);
  absl::StatusOr<DiscreteTable> codes = codec->Encode(t);
  ASSERT_TRUE(codes.ok());
  absl::StatusOr<table::Table> back = codec->Decode(*codes, random);
  ASSERT_TRUE(back.ok()) << back.status();
  int64_t gap = 0, low = 0, high = 0;
  for (int64_t r = 0; r < back->num_rows(); ++r) {
    const int64_t v = back->column(0).GetInt64(r);
    gap += v >= 150 && v <= 850;
    low += v <= 110;
    high += v >= 890;
    ASSERT_GE(v, static_cast<int64_t>(c.starts[codes->code(r, 0)]));
  }
  EXPECT_LT(gap, 300) << "uniform decoding: about 1,900";
  EXPECT_GT(low, 8680);
  EXPECT_GT(high, 840);
}

// Adult's top age bin without a spec: DP bounds are powers of two ([16, 128]), so the top quantile bin spans
// from about the 94th percentile age to 128. 20,000 ages 17..90, density falling linearly to 90 (none above).
// Uniform decoding within the bin gave about 70% of its rows (4% of all) ages above 90 (the issue's "about 3%
// above 90" on Adult). From the tree: only the noise of the cells 91..128 can put mass there. Tree height 2
// at rho_q = 0.0075 / 3 (the quantile step's share): node sigma sqrt(2 / (2 rho_q)) = 20; the positive part
// of a node's noise has mean 8, so ~10 empty nodes read hold ~80 rows (0.4%), sd ~ 20 sqrt(10) ~ 65 (0.3%):
// < 1.6% (4 sd) above 90, and at least 2.5x fewer than uniform decoding (asserted by decoding both ways).
TEST(DiscretizeTest, TopBinDecodesLikeTheDataNotUniformlyUpToTheDpBound) {
  std::string csv = "age\n";
  crypto::testing::DeterministicRandom data_random(3);
  dp::RandomBits data_bits(data_random);
  for (int i = 0; i < 20000; ++i) {
    // Triangular density on [17, 91): 91 - (91 - 17) sqrt(U).
    const double u = static_cast<double>(data_bits.Word() >> 11) * 0x1p-53;
    csv += std::to_string(static_cast<int>(91 - 74 * std::sqrt(u))) + "\n";
  }
  const table::Table t = Read(csv);
  DiscretizeOptions o;  // no spec: DP bounds, 16 DP quantile bins
  crypto::testing::DeterministicRandom random(19);
  dp::RandomBits bits(random);
  absl::StatusOr<ZcdpBudget> budget = ZcdpBudget::FromRho(0.0075, 1e-6);
  ASSERT_TRUE(budget.ok());
  absl::StatusOr<Codec> codec = FitCodec(t, o, &*budget, 0, bits);
  ASSERT_TRUE(codec.ok()) << codec.status();
  const ColumnCoding& c = codec->columns()[0];
  EXPECT_GE(c.upper, 91) << "DP bounds cover the data";
  ASSERT_FALSE(c.quantiles.empty());
  absl::StatusOr<DiscreteTable> codes = codec->Encode(t);
  ASSERT_TRUE(codes.ok());
  absl::StatusOr<table::Table> from_tree = codec->Decode(*codes, random);
  ASSERT_TRUE(from_tree.ok()) << from_tree.status();
  std::vector<ColumnCoding> uniform_coding = codec->columns();
  uniform_coding[0].quantiles.clear();
  absl::StatusOr<Codec> uniform = Codec::FromCodings(uniform_coding);
  ASSERT_TRUE(uniform.ok()) << uniform.status();
  absl::StatusOr<table::Table> spread = uniform->Decode(*codes, random);
  ASSERT_TRUE(spread.ok());
  int64_t above = 0, above_uniform = 0;
  for (int64_t r = 0; r < t.num_rows(); ++r) {
    above += from_tree->column(0).GetInt64(r) > 90;
    above_uniform += spread->column(0).GetInt64(r) > 90;
  }
  EXPECT_LT(above, 320) << "uniform: " << above_uniform;
  EXPECT_LT(2.5 * static_cast<double>(above), static_cast<double>(above_uniform));
}

// A tail the bounds clamp comes back at the bound (public bounds [0, 50], 20% of the values above 50):
// the clamped mass is a point bin at 50, decoded exactly.
TEST(DiscretizeTest, ClampedTailComesBackAtTheBound) {
  std::string csv = "v\n";
  for (int i = 0; i < 5000; ++i) csv += std::to_string(i % 5 == 0 ? 60 + i % 40 : i % 50) + "\n";
  const table::Table t = Read(csv);
  DiscretizeOptions o;
  o.columns = {{.name = "v", .lower = 0, .upper = 50, .bins = 16}};
  crypto::testing::DeterministicRandom random(5);
  dp::RandomBits bits(random);
  absl::StatusOr<ZcdpBudget> budget = ZcdpBudget::FromRho(0.5, 1e-6);
  ASSERT_TRUE(budget.ok());
  absl::StatusOr<Codec> codec = FitCodec(t, o, &*budget, 0, bits);
  ASSERT_TRUE(codec.ok()) << codec.status();
  absl::StatusOr<DiscreteTable> codes = codec->Encode(t);
  ASSERT_TRUE(codes.ok());
  absl::StatusOr<table::Table> back = codec->Decode(*codes, random);
  ASSERT_TRUE(back.ok());
  int64_t at_bound = 0;
  for (int64_t r = 0; r < t.num_rows(); ++r) {
    const int64_t v = back->column(0).GetInt64(r);
    ASSERT_LE(v, 50);
    at_bound += v == 50;
  }
  EXPECT_GE(at_bound, 1000);  // the 1,000 clamped rows (no real 50 in the data)
  EXPECT_LE(at_bound, 1000 + 100);
}

TEST(DiscretizeTest, QuantilesRoundTripThroughJsonAndAreValidated) {
  ColumnCoding c{.name = "v",
                 .type = DataType::kInt64,
                 .rule = ColumnRule::kPublicBounds,
                 .lower = 0,
                 .upper = 9,
                 .bins = 2,
                 .binning = Binning::kQuantiles,
                 .starts = {0, 5},
                 .quantiles = {0, 2.5, 5, 7.5, 10}};
  absl::StatusOr<Codec> codec = Codec::FromCodings({c});
  ASSERT_TRUE(codec.ok()) << codec.status();
  absl::StatusOr<std::vector<ColumnCoding>> back = CodingsFromJson(CodingsToJson(codec->columns()));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ((*back)[0].quantiles, c.quantiles);
  ColumnCoding decreasing = c;
  decreasing.quantiles = {0, 5, 4, 10};
  EXPECT_THAT(Codec::FromCodings({decreasing}).status().message(), HasSubstr("non-decreasing"));
  ColumnCoding outside = c;
  outside.quantiles = {0, 11};
  EXPECT_THAT(Codec::FromCodings({outside}).status().message(), HasSubstr("within the bounds"));
  ColumnCoding equal_width = c;
  equal_width.binning = Binning::kEqualWidth;
  equal_width.starts.clear();
  EXPECT_THAT(Codec::FromCodings({equal_width}).status().message(), HasSubstr("only quantile bins"));
  EXPECT_THAT(CodingsFromJson(R"([{"name": "v", "type": "int64", "rule": "public bounds", "lower": 0,
      "upper": 9, "bins": 2, "binning": "quantiles", "starts": [0, 5], "quantiles": "x"}])")
                  .status()
                  .message(),
              HasSubstr("quantiles must be an array"));
}

}  // namespace
}  // namespace veil::synth
