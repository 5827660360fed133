#include "veil/dp/aggregation.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/crypto/testing/deterministic_random.h"
#include "veil/dp/aggregation_test_util.h"
#include "veil/dp/random_bits.h"
#include "veil/table/table.h"

namespace veil::dp {
namespace {

using table::DataType;
using table::Table;
using table::Value;
using ::testing::HasSubstr;

struct Row {
  std::string unit;
  std::string group;
  double x;
};

Table MakeTable(const std::vector<Row>& rows) {
  auto schema = table::Schema::Make(
      {{"unit", DataType::kString, true}, {"g", DataType::kString, true}, {"x", DataType::kDouble, true}});
  table::TableBuilder b(*schema);
  for (const Row& r : rows) {
    b.column(0).AppendString(r.unit);
    b.column(1).AppendString(r.group);
    b.column(2).AppendDouble(r.x);
  }
  return *b.Finish();
}

using testing::Agg;

QueryPlan CountPlan() {
  QueryPlan p;
  p.privacy_unit_column = "unit";
  p.group_by = {GroupBy{"g", {}}};
  p.aggregates = {Agg(AggregateFunction::kCountStar, "", std::nullopt)};
  p.epsilon = 1;
  p.delta = 1e-6;
  return p;
}

std::map<std::string, double> ByGroup(const QueryResult& r, int aggregate) {
  std::map<std::string, double> out;
  for (const ResultRow& row : r.rows) {
    const std::string key = std::holds_alternative<std::string>(row.key[0])
                                ? std::get<std::string>(row.key[0])
                                : std::string("NULL");
    out[key] = row.values[aggregate][0].value;
  }
  return out;
}

// --------------------------------------------------------------------------------------------------------
// The bounding hash.

TEST(BoundingHashTest, MatchesPostgresHashTextExtended) {
  // Known answers from PostgreSQL 15.20: SELECT hashtextextended(text, seed) (as signed int8).
  struct Case {
    const char* text;
    int64_t seed;
    int64_t pg;
  };
  const Case cases[] = {
      {"", 0, -6939563903564495251},
      {"a", 0, 3591986179850072241},
      {"hello world", 0, 6947366892317592103},
      {"S0001234", 42, -2907999907885860131},
      {"abcdefghijklmnopqrstuvwxyz0123", 1234567890123, 6675418771849944043},
      {"12", -5, 7861765609369672316},
      {"\\N", 7, 8836570142764000042},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(static_cast<int64_t>(internal::PgHashBytesExtended(c.text, static_cast<uint64_t>(c.seed))),
              c.pg)
        << c.text;
  }
}

TEST(BoundingHashTest, MatchesPostgresFloat8AndInt8Hashes) {
  // Known answers from PostgreSQL 15.20: hashfloat8extended(x, seed), hashint8extended(v, seed).
  EXPECT_EQ(static_cast<int64_t>(internal::PgHashFloat8Extended(1.5, 0)), 6158159405676898674);
  EXPECT_EQ(static_cast<int64_t>(internal::PgHashFloat8Extended(-2.25, 99)), -3031691001447522153);
  EXPECT_EQ(static_cast<int64_t>(internal::PgHashFloat8Extended(0.0, 12345)), 12345);
  EXPECT_EQ(static_cast<int64_t>(internal::PgHashFloat8Extended(-0.0, 12345)), 12345);
  EXPECT_EQ(static_cast<int64_t>(internal::PgHashFloat8Extended(1e300, static_cast<uint64_t>(-7))),
            4724648780631874362);
  EXPECT_EQ(static_cast<int64_t>(internal::PgHashInt8Extended(0, 0)), 4154612158245552303);
  EXPECT_EQ(static_cast<int64_t>(internal::PgHashInt8Extended(12345, 77)), -524090502431915017);
  EXPECT_EQ(static_cast<int64_t>(internal::PgHashInt8Extended(-5, 3)), 4566310048417840633);
  EXPECT_EQ(static_cast<int64_t>(internal::PgHashInt8Extended(9000000000, static_cast<uint64_t>(-1))),
            9094777875960712290);
}

TEST(BoundingHashTest, MixerIsABijectionOnSamples) {
  // M must not merge values (it only reorders): distinct inputs give distinct outputs on a sample.
  std::vector<uint32_t> out;
  for (uint32_t x = 0; x < 100000; ++x) out.push_back(internal::Mix32(x * 2654435761u));
  std::sort(out.begin(), out.end());
  EXPECT_EQ(std::adjacent_find(out.begin(), out.end()), out.end());
}

// --------------------------------------------------------------------------------------------------------
// Contribution bounding.

// One unit with 1000 rows in 50 groups (20 rows each), and public groups so nothing is suppressed. With
// epsilon = 1e6 the count noise has scale L0 Linf / (eps / 1) <= 1e-5: P(noise != 0) < 2 e^-100000, so the
// released counts are the bounded counts.
Table HeavyUnitTable() {
  std::vector<Row> rows;
  for (int i = 0; i < 1000; ++i) rows.push_back({"heavy", absl::StrCat("g", i % 50), static_cast<double>(i)});
  return MakeTable(rows);
}

QueryPlan HeavyPlan(int64_t l0, int64_t linf) {
  QueryPlan p = CountPlan();
  p.epsilon = 1e6;
  p.max_groups_contributed = l0;
  p.max_rows_per_group = linf;
  std::vector<std::vector<Value>> keys;
  for (int k = 0; k < 50; ++k) keys.push_back({Value(absl::StrCat("g", k))});
  p.public_groups = keys;
  return p;
}

TEST(BoundingTest, BoundingReallyBounds) {
  const Table t = HeavyUnitTable();
  crypto::testing::DeterministicRandom rng(1);
  RandomBits bits(rng);
  for (auto [l0, linf] : {std::pair<int64_t, int64_t>{3, 2}, {1, 1}, {7, 5}, {50, 20}, {60, 30}}) {
    auto r = RunQuery(t, std::nullopt, HeavyPlan(l0, linf), bits);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->rows.size(), 50u);  // every public key is released
    int nonzero = 0;
    double total = 0;
    for (const auto& [key, count] : ByGroup(*r, 0)) {
      EXPECT_LE(count, static_cast<double>(std::min<int64_t>(linf, 20))) << key;
      if (count > 0) ++nonzero;
      total += count;
    }
    EXPECT_EQ(nonzero, std::min<int64_t>(l0, 50));
    EXPECT_EQ(total, static_cast<double>(std::min<int64_t>(l0, 50) * std::min<int64_t>(linf, 20)));
  }
}

TEST(BoundingTest, KeptGroupsAreUniform) {
  // L0 = 3 of 50 groups: over 1000 runs (fresh seeds) each group is kept 1000 * 3/50 = 60 times in
  // expectation. Pearson's statistic over the 50 groups is about chi-square with 49 degrees of freedom
  // (slightly less: the 3 choices of one run are distinct); its 0.999 quantile is 85.4.
  const Table t = HeavyUnitTable();
  const QueryPlan p = HeavyPlan(3, 1);
  crypto::testing::DeterministicRandom rng(2);
  RandomBits bits(rng);
  std::map<std::string, int> kept;
  const int runs = 1000;
  for (int run = 0; run < runs; ++run) {
    auto r = RunQuery(t, std::nullopt, p, bits);
    ASSERT_TRUE(r.ok());
    for (const auto& [key, count] : ByGroup(*r, 0)) {
      if (count > 0) ++kept[key];
    }
  }
  double chi2 = 0;
  const double expected = runs * 3.0 / 50;
  for (int k = 0; k < 50; ++k) {
    const double o = kept[absl::StrCat("g", k)];
    chi2 += (o - expected) * (o - expected) / expected;
  }
  EXPECT_LT(chi2, 85.4);
}

TEST(BoundingTest, KeptRowsAreUniformWithinAGroup) {
  // One unit, one group, 20 rows with values 0..19, Linf = 1: SUM releases the value of the kept row
  // (noise scale 1e-5 times the bound: negligible). Over 1000 runs each value is kept 50 times in
  // expectation; chi-square with 19 degrees of freedom, 0.999 quantile 43.8.
  std::vector<Row> rows;
  for (int i = 0; i < 20; ++i) rows.push_back({"u", "g", static_cast<double>(i)});
  const Table t = MakeTable(rows);
  QueryPlan p = CountPlan();
  p.epsilon = 1e6;
  p.group_by.clear();
  p.aggregates = {Agg(AggregateFunction::kSum, "x", Bounds{0, 32})};
  crypto::testing::DeterministicRandom rng(3);
  RandomBits bits(rng);
  std::vector<int> seen(20, 0);
  for (int run = 0; run < 1000; ++run) {
    auto r = RunQuery(t, std::nullopt, p, bits);
    ASSERT_TRUE(r.ok()) << r.status();
    const long v = std::lround(r->rows[0].values[0][0].value);
    ASSERT_GE(v, 0);
    ASSERT_LT(v, 20);
    ++seen[v];
  }
  double chi2 = 0;
  for (int s : seen) chi2 += (s - 50.0) * (s - 50.0) / 50.0;
  EXPECT_LT(chi2, 43.8);
}

TEST(BoundingTest, DuplicateValuesKeepTheirWeight) {
  // Rows 5, 5, 7 in one cell, Linf = 1: a uniformly chosen row is 5 with probability 2/3. Over 1500 runs
  // the count of 5s is Binomial(1500, 2/3): mean 1000, sd 18.3; accept +-5 sd. (A rank by value alone
  // would give 1/2, i.e. 750: far outside.) Both engine paths.
  const Table t = MakeTable({{"u", "g", 5}, {"u", "g", 5}, {"u", "g", 7}});
  QueryPlan p = CountPlan();
  p.epsilon = 1e6;
  p.group_by.clear();
  p.aggregates = {Agg(AggregateFunction::kSum, "x", Bounds{0, 8})};
  for (bool fast : {true, false}) {
    crypto::testing::DeterministicRandom rng(fast ? 31 : 32);
    RandomBits bits(rng);
    int fives = 0;
    for (int run = 0; run < 1500; ++run) {
      auto r = internal::RunQueryForTest(t, std::nullopt, p, bits, fast);
      ASSERT_TRUE(r.ok()) << r.status();
      fives += std::lround(r->rows[0].values[0][0].value) == 5 ? 1 : 0;
    }
    EXPECT_NEAR(fives, 1000, 5 * 18.3) << (fast ? "fast" : "general");
  }
}

TEST(BoundingTest, ClampingBoundsSums) {
  std::vector<Row> rows;
  for (int i = 0; i < 10; ++i) rows.push_back({absl::StrCat("u", i), "g", i % 2 == 0 ? -1000.0 : 1000.0});
  const Table t = MakeTable(rows);
  QueryPlan p = CountPlan();
  p.epsilon = 1e6;
  p.group_by.clear();
  p.aggregates = {Agg(AggregateFunction::kSum, "x", Bounds{0, 5}),
                  Agg(AggregateFunction::kAvg, "x", Bounds{-2, 4})};
  crypto::testing::DeterministicRandom rng(4);
  RandomBits bits(rng);
  auto r = RunQuery(t, std::nullopt, p, bits);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NEAR(r->rows[0].values[0][0].value, 25.0, 1e-3);  // five values clamped to 5, five to 0
  EXPECT_NEAR(r->rows[0].values[1][0].value, 1.0, 1e-3);   // (5 * -2 + 5 * 4) / 10
}

// --------------------------------------------------------------------------------------------------------
// Groups.

TEST(GroupsTest, PublicGroupsReleaseEveryKeyAndDropOthers) {
  std::vector<Row> rows;
  for (int i = 0; i < 30; ++i)
    rows.push_back({absl::StrCat("u", i), i < 10 ? "a" : (i < 20 ? "b" : "c"), 1.0});
  const Table t = MakeTable(rows);
  QueryPlan p = CountPlan();
  p.epsilon = 1e6;
  p.delta = 0;  // public groups need no delta with Laplace noise
  p.aggregates.push_back(Agg(AggregateFunction::kCountDistinctUnits, "", std::nullopt));
  p.public_groups = std::vector<std::vector<Value>>{{Value("b")}, {Value("zz")}, {Value("a")}, {Value()}};
  crypto::testing::DeterministicRandom rng(5);
  RandomBits bits(rng);
  auto r = RunQuery(t, std::nullopt, p, bits);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->rows.size(), 4u);
  // Sorted by key, NULL first.
  EXPECT_TRUE(std::holds_alternative<std::monostate>(r->rows[0].key[0]));
  const auto counts = ByGroup(*r, 0);
  EXPECT_EQ(counts.at("a"), 10);
  EXPECT_EQ(counts.at("b"), 10);
  EXPECT_EQ(counts.at("zz"), 0);
  EXPECT_EQ(counts.at("NULL"), 0);
  EXPECT_EQ(counts.count("c"), 0u);
  EXPECT_EQ(ByGroup(*r, 1).at("a"), 10);
  EXPECT_EQ(r->cost.privacy.total.delta, 0.0);  // pure DP
  // With moderate epsilon the empty keys still appear, with noise.
  p.epsilon = 1;
  auto noisy = RunQuery(t, std::nullopt, p, bits);
  ASSERT_TRUE(noisy.ok());
  EXPECT_EQ(noisy->rows.size(), 4u);
}

TEST(GroupsTest, PrivateSelectionKeepsBigGroupsAndDropsTinyOnes) {
  // "big" has 2000 units, "tiny" 1 unit. With epsilon 1 (half to selection) and delta 1e-6, a group with
  // one unit is kept with probability delta = 1e-6: never in 50 runs; "big" always.
  std::vector<Row> rows;
  for (int i = 0; i < 2000; ++i) rows.push_back({absl::StrCat("u", i), "big", 1.0});
  rows.push_back({"lonely", "tiny", 1.0});
  const Table t = MakeTable(rows);
  crypto::testing::DeterministicRandom rng(6);
  RandomBits bits(rng);
  auto cost = PlanCost(CountPlan());
  ASSERT_TRUE(cost.ok());
  EXPECT_GT(cost->selection_units_for_99, 1);
  for (int run = 0; run < 50; ++run) {
    auto r = RunQuery(t, std::nullopt, CountPlan(), bits);
    ASSERT_TRUE(r.ok()) << r.status();
    const auto counts = ByGroup(*r, 0);
    EXPECT_EQ(counts.count("tiny"), 0u);
    ASSERT_EQ(counts.count("big"), 1u);
    EXPECT_NEAR(counts.at("big"), 2000, 40);  // Laplace scale 2: |noise| > 40 has probability e^-20
  }
}

TEST(GroupsTest, PreThresholdDropsSmallGroups) {
  std::vector<Row> rows;
  for (int i = 0; i < 40; ++i) rows.push_back({absl::StrCat("u", i), "mid", 1.0});
  const Table t = MakeTable(rows);
  QueryPlan p = CountPlan();
  p.epsilon = 40;  // selection alone would keep 40 units with probability 1
  p.min_units_per_group = 41;
  crypto::testing::DeterministicRandom rng(7);
  RandomBits bits(rng);
  auto r = RunQuery(t, std::nullopt, p, bits);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->rows.empty());
  p.min_units_per_group = 1;
  r = RunQuery(t, std::nullopt, p, bits);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->rows.size(), 1u);
}

TEST(GroupsTest, GlobalAggregateAlwaysReleasedAndSelectedRowsRespected) {
  std::vector<Row> rows;
  for (int i = 0; i < 100; ++i) rows.push_back({absl::StrCat("u", i), "g", static_cast<double>(i)});
  const Table t = MakeTable(rows);
  QueryPlan p = CountPlan();
  p.group_by.clear();
  p.delta = 0;
  p.epsilon = 1e6;
  crypto::testing::DeterministicRandom rng(8);
  RandomBits bits(rng);
  std::vector<int64_t> sel = {1, 5, 7, 50};
  auto r = RunQuery(t, std::span<const int64_t>(sel), p, bits);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->rows.size(), 1u);
  EXPECT_EQ(r->rows[0].values[0][0].value, 4);
  std::vector<int64_t> empty;
  r = RunQuery(t, std::span<const int64_t>(empty), p, bits);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->rows.size(), 1u);  // an empty global group is still released
  std::vector<int64_t> bad = {5, 3};
  EXPECT_FALSE(RunQuery(t, std::span<const int64_t>(bad), p, bits).ok());
  std::vector<int64_t> out_of_range = {100};
  EXPECT_FALSE(RunQuery(t, std::span<const int64_t>(out_of_range), p, bits).ok());
}

TEST(GroupsTest, MultiColumnIntegerAndBucketedKeys) {
  auto schema = table::Schema::Make(
      {{"id", DataType::kInt64, false}, {"k", DataType::kInt64, true}, {"v", DataType::kDouble, true}});
  table::TableBuilder b(*schema);
  for (int i = 0; i < 600; ++i) {
    b.column(0).AppendInt64(i);
    b.column(1).AppendInt64(i % 3);
    b.column(2).AppendDouble(i % 100);
  }
  const Table t = *b.Finish();
  QueryPlan p;
  p.privacy_unit_column = "id";
  p.group_by = {GroupBy{"k", {}}, GroupBy{"v", {25, 50, 75}}};
  p.aggregates = {Agg(AggregateFunction::kCountStar, "", std::nullopt)};
  p.epsilon = 1e6;
  std::vector<std::vector<Value>> keys;
  for (int64_t k = 0; k < 3; ++k) {
    for (int64_t bucket = 0; bucket <= 4; ++bucket) keys.push_back({Value(k), Value(bucket)});
  }
  p.public_groups = keys;
  crypto::testing::DeterministicRandom rng(9);
  RandomBits bits(rng);
  auto r = RunQuery(t, std::nullopt, p, bits);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->rows.size(), 15u);
  auto plain = RunPlainAggregation(t, std::nullopt, p);
  ASSERT_TRUE(plain.ok());
  ASSERT_EQ(plain->rows.size(), 15u);
  double total = 0;
  for (size_t i = 0; i < 15; ++i) {
    EXPECT_EQ(r->rows[i].key, plain->rows[i].key);
    EXPECT_EQ(r->rows[i].values[0][0].value, plain->rows[i].values[0][0].value);
    total += r->rows[i].values[0][0].value;
    // Bucket 0 holds v < 25, bucket 4 is empty (v < 100 only reaches bucket 3).
    if (std::get<int64_t>(r->rows[i].key[1]) == 4) {
      EXPECT_EQ(r->rows[i].values[0][0].value, 0);
    }
  }
  EXPECT_EQ(total, 600);
  // A public key of the wrong type is refused.
  p.public_groups = std::vector<std::vector<Value>>{{Value("x"), Value(int64_t{0})}};
  auto bad = RunQuery(t, std::nullopt, p, bits);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("wrong type"));
}

// --------------------------------------------------------------------------------------------------------
// Accuracy and intervals.

Table UniformTable(int units, uint64_t seed) {
  // One row per unit, x = a fixed pseudo-random permutation of (i + 0.5) * 100 / units: uniform on [0, 100].
  std::vector<Row> rows;
  for (int i = 0; i < units; ++i) {
    const uint64_t j = (static_cast<uint64_t>(i) * 7919 + seed) % static_cast<uint64_t>(units);
    rows.push_back(
        {absl::StrCat("u", i), i % 2 == 0 ? "even" : "odd", (static_cast<double>(j) + 0.5) * 100 / units});
  }
  return MakeTable(rows);
}

TEST(AccuracyTest, AvgVarianceAndQuantilesOnLargeData) {
  // 40,000 units, one row each, x uniform on [0, 100]: mean 50, variance 100^2 / 12 = 833.3, median 50.
  // Budget epsilon 3 over 5 aggregates (0.6 each). AVG: its sum's noise (scale 2 * 50 / 0.6 in value units
  // = 167) divided by n = 40,000 moves the mean by about 0.006: tolerance 0.1. VARIANCE: noise on E[u^2]
  // of about 3 * 2 / 0.6 / 40,000 = 2.5e-4 times half^2 = 2500: about 0.6; tolerance 5. Quantile tree:
  // node noise scale 4 / 0.6 = 6.7 out of 40,000: tolerance 0.5.
  const Table t = UniformTable(40000, 17);
  QueryPlan p;
  p.privacy_unit_column = "unit";
  p.epsilon = 3;
  p.aggregates = {Agg(AggregateFunction::kAvg, "x", Bounds{0, 100}),
                  Agg(AggregateFunction::kVariance, "x", Bounds{0, 100}),
                  Agg(AggregateFunction::kStddev, "x", Bounds{0, 100}),
                  Agg(AggregateFunction::kPercentileCont, "x", Bounds{0, 100}, 0.5),
                  Agg(AggregateFunction::kApproxQuantiles, "x", Bounds{0, 100}, 0.5, 4)};
  crypto::testing::DeterministicRandom rng(10);
  RandomBits bits(rng);
  auto r = RunQuery(t, std::nullopt, p, bits);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->rows.size(), 1u);
  const auto& v = r->rows[0].values;
  EXPECT_NEAR(v[0][0].value, 50, 0.1);
  EXPECT_NEAR(v[1][0].value, 10000.0 / 12, 5);
  EXPECT_NEAR(v[2][0].value, std::sqrt(10000.0 / 12), 0.1);
  EXPECT_NEAR(v[3][0].value, 50, 0.5);
  ASSERT_EQ(v[4].size(), 5u);
  for (int k = 0; k <= 4; ++k) EXPECT_NEAR(v[4][k].value, 25.0 * k, 0.5) << k;
  // Intervals contain the estimate.
  for (int i = 0; i < 3; ++i) {
    EXPECT_LE(*v[i][0].ci_lo, v[i][0].value);
    EXPECT_GE(*v[i][0].ci_hi, v[i][0].value);
  }
  // The plain baseline agrees on the truth.
  auto plain = RunPlainAggregation(t, std::nullopt, p);
  ASSERT_TRUE(plain.ok());
  EXPECT_NEAR(plain->rows[0].values[0][0].value, 50, 1e-9);
  EXPECT_NEAR(plain->rows[0].values[3][0].value, 50, 1e-3);
}

TEST(AccuracyTest, IntervalsCoverTheTruth) {
  // 200 runs on 2,000 units (one row each, no bounding needed, so the bounded truth is the plain truth).
  // Each interval covers with probability >= 95%; the number of misses out of 200 is then at most
  // Binomial(200, 0.05): mean 10, P(> 22) < 1e-3.
  const Table t = UniformTable(2000, 3);
  QueryPlan p;
  p.privacy_unit_column = "unit";
  p.group_by = {GroupBy{"g", {}}};
  p.public_groups = std::vector<std::vector<Value>>{{Value("even")}, {Value("odd")}};
  p.epsilon = 0.5;
  p.aggregates = {Agg(AggregateFunction::kCountStar, "", std::nullopt),
                  Agg(AggregateFunction::kSum, "x", Bounds{0, 100}),
                  Agg(AggregateFunction::kAvg, "x", Bounds{0, 100}),
                  Agg(AggregateFunction::kVariance, "x", Bounds{0, 100})};
  auto plain = RunPlainAggregation(t, std::nullopt, p);
  ASSERT_TRUE(plain.ok());
  crypto::testing::DeterministicRandom rng(11);
  RandomBits bits(rng);
  std::vector<int> misses(4, 0);
  for (int run = 0; run < 200; ++run) {
    auto r = RunQuery(t, std::nullopt, p, bits);
    ASSERT_TRUE(r.ok()) << r.status();
    for (int a = 0; a < 4; ++a) {
      const double truth = plain->rows[0].values[a][0].value;
      const NoisyValue& nv = r->rows[0].values[a][0];
      if (truth < *nv.ci_lo - 1e-9 || truth > *nv.ci_hi + 1e-9) ++misses[a];
    }
  }
  for (int a = 0; a < 4; ++a) EXPECT_LE(misses[a], 22) << a;
  // The count and sum intervals are exact-width noise intervals: they do miss sometimes (not vacuous).
  EXPECT_GE(misses[0], 1);
}

TEST(AccuracyTest, AutomaticBoundsAreChosenAndCharged) {
  const Table t = UniformTable(20000, 5);
  QueryPlan p;
  p.privacy_unit_column = "unit";
  p.epsilon = 2;
  p.aggregates = {Agg(AggregateFunction::kSum, "x", std::nullopt),
                  Agg(AggregateFunction::kAvg, "x", std::nullopt)};
  crypto::testing::DeterministicRandom rng(12);
  RandomBits bits(rng);
  auto r = RunQuery(t, std::nullopt, p, bits);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->chosen_bounds.size(), 2u);
  // Values in (0.0025, 100): the lowest bin with ~20,000 * 2^-k values above the threshold ~ 60 is
  // (2^-6, 2^-5] or near it, the highest (64, 128].
  for (const ChosenBounds& b : r->chosen_bounds) {
    EXPECT_LE(b.bounds.lo, 1.0);
    EXPECT_GE(b.bounds.lo, 0.0);
    EXPECT_EQ(b.bounds.hi, 128.0);
  }
  EXPECT_NEAR(r->rows[0].values[1][0].value, 50, 2);
  EXPECT_NEAR(r->rows[0].values[0][0].value, 20000 * 50.0, 20000 * 2.0);
  bool charged = false;
  for (const CostComponent& c : r->cost.privacy.components) charged |= c.name == "SUM(x) automatic bounds";
  EXPECT_TRUE(charged);
}

// --------------------------------------------------------------------------------------------------------
// Cost.

TEST(CostTest, PlanCostEqualsRunQueryCostAndStaysInBudget) {
  const Table t = UniformTable(1000, 1);
  std::vector<QueryPlan> plans;
  QueryPlan p = CountPlan();
  p.aggregates.push_back(Agg(AggregateFunction::kSum, "x", Bounds{0, 100}));
  p.aggregates.push_back(Agg(AggregateFunction::kAvg, "x", std::nullopt));
  plans.push_back(p);
  p.noise = NoiseKind::kGaussian;
  p.max_groups_contributed = 4;
  plans.push_back(p);
  p.public_groups = std::vector<std::vector<Value>>{{Value("even")}};
  plans.push_back(p);
  p.noise = NoiseKind::kLaplace;
  p.delta = 0;
  plans.push_back(p);
  crypto::testing::DeterministicRandom rng(13);
  RandomBits bits(rng);
  for (const QueryPlan& plan : plans) {
    auto cost = PlanCost(plan);
    ASSERT_TRUE(cost.ok()) << cost.status();
    auto r = RunQuery(t, std::nullopt, plan, bits);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->cost.privacy.total.epsilon, cost->privacy.total.epsilon);
    EXPECT_EQ(r->cost.privacy.total.delta, cost->privacy.total.delta);
    ASSERT_EQ(r->cost.privacy.components.size(), cost->privacy.components.size());
    for (size_t i = 0; i < cost->privacy.components.size(); ++i) {
      EXPECT_EQ(r->cost.privacy.components[i].name, cost->privacy.components[i].name);
      EXPECT_EQ(r->cost.privacy.components[i].cost.epsilon, cost->privacy.components[i].cost.epsilon);
    }
    EXPECT_LE(cost->privacy.total.epsilon, plan.epsilon * (1 + 1e-9));
    EXPECT_LE(cost->privacy.total.delta, plan.delta * (1 + 1e-9));
    EXPECT_EQ(cost->errors.size(), plan.aggregates.size());
  }
}

TEST(CostTest, ExpectedErrorOfACount) {
  // COUNT(*) alone, public groups, epsilon 1, L0 = 2, Linf = 3: discrete Laplace of scale 6, stddev about
  // sqrt(2) * 6 = 8.5; the 95% half-width is about 6 ln 20 = 18.
  QueryPlan p = CountPlan();
  p.public_groups = std::vector<std::vector<Value>>{{Value("a")}, {Value("b")}};
  p.delta = 0;
  p.max_groups_contributed = 2;
  p.max_rows_per_group = 3;
  auto cost = PlanCost(p);
  ASSERT_TRUE(cost.ok());
  EXPECT_NEAR(cost->errors[0].stddev, 8.47, 0.05);
  EXPECT_NEAR(cost->errors[0].half_width, 18, 1);
  EXPECT_EQ(cost->privacy.total.epsilon, 1);
  EXPECT_EQ(cost->privacy.total.delta, 0);
}

TEST(CostTest, EffectiveL0IsAtMostTheNumberOfPublicGroups) {
  // With 2 public groups a unit can contribute to at most 2 groups (other keys are dropped before bounding),
  // so max_groups_contributed = 50 costs and noises as L0 = 2, in PlanCost and in RunQuery alike.
  QueryPlan wide = CountPlan();
  wide.aggregates.push_back(Agg(AggregateFunction::kSum, "x", Bounds{0, 10}));
  wide.aggregates.push_back(Agg(AggregateFunction::kAvg, "x", Bounds{0, 10}));
  wide.public_groups = std::vector<std::vector<Value>>{{Value("a")}, {Value("b")}};
  wide.delta = 0;
  wide.max_groups_contributed = 50;
  QueryPlan two = wide;
  two.max_groups_contributed = 2;
  QueryPlan one = wide;
  one.max_groups_contributed = 1;
  auto cost_wide = PlanCost(wide), cost_two = PlanCost(two), cost_one = PlanCost(one);
  ASSERT_TRUE(cost_wide.ok() && cost_two.ok() && cost_one.ok());
  for (size_t i = 0; i < wide.aggregates.size(); ++i) {
    EXPECT_EQ(cost_wide->errors[i].stddev, cost_two->errors[i].stddev) << i;
    EXPECT_EQ(cost_wide->errors[i].half_width, cost_two->errors[i].half_width) << i;
  }
  EXPECT_EQ(cost_wide->mechanisms, cost_two->mechanisms);
  EXPECT_GT(cost_wide->errors[0].stddev, cost_one->errors[0].stddev) << "L0 = 1 is still smaller";
  // Without public groups, L0 counts in full.
  QueryPlan private_wide = wide, private_two = two;
  private_wide.public_groups.reset();
  private_two.public_groups.reset();
  private_wide.delta = private_two.delta = 1e-6;
  EXPECT_GT(PlanCost(private_wide)->errors[0].stddev, PlanCost(private_two)->errors[0].stddev);

  std::vector<Row> rows;
  for (int u = 0; u < 200; ++u) {
    for (int k = 0; k < 3; ++k)
      rows.push_back({absl::StrCat("u", u), k == 0 ? "a" : (k == 1 ? "b" : "c"), 1.0 * k});
  }
  const Table t = MakeTable(rows);
  crypto::testing::DeterministicRandom rng_wide(11), rng_two(11);
  RandomBits bits_wide(rng_wide), bits_two(rng_two);
  auto r_wide = RunQuery(t, std::nullopt, wide, bits_wide);
  auto r_two = RunQuery(t, std::nullopt, two, bits_two);
  ASSERT_TRUE(r_wide.ok() && r_two.ok());
  ASSERT_EQ(r_wide->rows.size(), 2u);
  for (size_t g = 0; g < 2; ++g) {
    for (size_t i = 0; i < wide.aggregates.size(); ++i) {
      EXPECT_EQ(r_wide->rows[g].values[i][0].value, r_two->rows[g].values[i][0].value);
      EXPECT_EQ(r_wide->rows[g].values[i][0].ci_hi, r_two->rows[g].values[i][0].ci_hi);
    }
  }
}

TEST(FinishQueryTest, EqualsRunQueryFromTheSameBoundedSums) {
  // Every unit has one row in one group (nothing to bound), so the bounded sums are plain sums that the test
  // computes itself; FinishQuery from them equals RunQuery under the same stream, for private selection,
  // public groups (one listed key without rows) and a global aggregate.
  std::vector<Row> rows;
  for (int u = 0; u < 600; ++u) {
    rows.push_back({absl::StrCat("u", u), u % 3 == 0 ? "a" : (u % 3 == 1 ? "b" : "c"), (u % 17) * 0.75});
  }
  const Table t = MakeTable(rows);
  QueryPlan plan = CountPlan();
  plan.aggregates = {Agg(AggregateFunction::kCountStar), Agg(AggregateFunction::kSum, "x", Bounds{0, 10}),
                     Agg(AggregateFunction::kAvg, "x", Bounds{0, 12}),
                     Agg(AggregateFunction::kStddev, "x", Bounds{-1, 12}),
                     Agg(AggregateFunction::kCountDistinctUnits)};
  plan.delta = 1e-5;
  const auto groups_of = [&](const QueryPlan& p) {
    auto sums = BoundedSums(p);
    EXPECT_TRUE(sums.ok()) << sums.status();
    std::map<std::string, BoundedGroup> by_key;
    for (const Row& r : rows) {
      const std::vector<Value> key = p.group_by.empty() ? std::vector<Value>{} : std::vector<Value>{r.group};
      if (p.public_groups &&
          std::find(p.public_groups->begin(), p.public_groups->end(), key) == p.public_groups->end()) {
        continue;
      }
      BoundedGroup& g = by_key[p.group_by.empty() ? "" : r.group];
      g.key = key;
      g.totals.resize(sums->size(), 0);
      ++g.units;
      for (size_t i = 0; i < sums->size(); ++i) {
        const BoundedSum& s = (*sums)[i];
        const double v = std::clamp(r.x, s.bounds.lo, s.bounds.hi);
        const double mid = s.bounds.lo + (s.bounds.hi - s.bounds.lo) / 2,
                     half = (s.bounds.hi - s.bounds.lo) / 2;
        const double u = half > 0 ? std::clamp((v - mid) / half, -1.0, 1.0) : 0.0;
        switch (s.kind) {
          case BoundedSumKind::kRows:
          case BoundedSumKind::kNonNull:
          case BoundedSumKind::kUnits:
            g.totals[i] += 1;
            break;
          case BoundedSumKind::kSum:
            g.totals[i] += static_cast<int64_t>(std::nearbyint(v / FixedPointGrid(s.bounds, s.bits)));
            break;
          case BoundedSumKind::kNormSum:
            g.totals[i] += static_cast<int64_t>(std::nearbyint(u * std::ldexp(1.0, s.bits)));
            break;
          case BoundedSumKind::kNormSquares:
            g.totals[i] += static_cast<int64_t>(std::nearbyint((2 * u * u - 1) * std::ldexp(1.0, s.bits)));
            break;
        }
      }
    }
    std::vector<BoundedGroup> out;
    for (auto& [unused, g] : by_key) out.push_back(std::move(g));
    std::reverse(out.begin(), out.end());  // any order
    return out;
  };
  std::vector<QueryPlan> plans = {plan, plan, plan};
  plans[1].public_groups = std::vector<std::vector<Value>>{{Value("c")}, {Value("zz")}, {Value("a")}};
  plans[1].delta = 0;
  plans[2].group_by.clear();
  for (size_t k = 0; k < plans.size(); ++k) {
    SCOPED_TRACE(k);
    crypto::testing::DeterministicRandom rng_engine(20 + k), rng_finish(20 + k);
    RandomBits engine_bits(rng_engine), finish_bits(rng_finish);
    auto want = RunQuery(t, std::nullopt, plans[k], engine_bits);
    ASSERT_TRUE(want.ok()) << want.status();
    ASSERT_TRUE(DrawBoundingSeed(finish_bits).ok());
    auto got = FinishQuery(plans[k], groups_of(plans[k]), finish_bits);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->rows.size(), want->rows.size());
    ASSERT_GE(got->rows.size(), k == 0 ? 2u : (k == 1 ? 3u : 1u));
    for (size_t r = 0; r < want->rows.size(); ++r) {
      EXPECT_EQ(got->rows[r].key, want->rows[r].key);
      for (size_t i = 0; i < plan.aggregates.size(); ++i) {
        EXPECT_EQ(got->rows[r].values[i][0].value, want->rows[r].values[i][0].value) << r << " " << i;
        EXPECT_EQ(got->rows[r].values[i][0].ci_lo, want->rows[r].values[i][0].ci_lo) << r << " " << i;
      }
    }
    EXPECT_EQ(got->cost.privacy.total.epsilon, want->cost.privacy.total.epsilon);
  }
  // What has no bounded-sum form, and malformed groups.
  QueryPlan q = plan;
  q.aggregates = {Agg(AggregateFunction::kPercentileCont, "x", Bounds{0, 10})};
  EXPECT_EQ(BoundedSums(q).status().code(), absl::StatusCode::kUnimplemented);
  q.aggregates = {Agg(AggregateFunction::kSum, "x")};
  EXPECT_EQ(BoundedSums(q).status().code(), absl::StatusCode::kUnimplemented);
  crypto::testing::DeterministicRandom rng(1);
  RandomBits bits(rng);
  EXPECT_EQ(FinishQuery(plan, {{{Value("a")}, 1, {1}}}, bits).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<BoundedGroup> twice = groups_of(plan);
  twice.push_back(twice[0]);
  EXPECT_EQ(FinishQuery(plan, twice, bits).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FinishQuery(plans[1], groups_of(plan), bits).status().code(), absl::StatusCode::kInvalidArgument)
      << "group b is not a public key";
}

TEST(CostTest, BadPlansAreRejectedWithClearMessages) {
  auto message = [](const QueryPlan& p) { return std::string(ValidatePlan(p).message()); };
  QueryPlan p = CountPlan();
  p.delta = 0;
  EXPECT_THAT(message(p), HasSubstr("delta must be > 0 for private partition selection"));
  p = CountPlan();
  p.epsilon = 0;
  EXPECT_THAT(message(p), HasSubstr("epsilon"));
  p = CountPlan();
  p.max_groups_contributed = 0;
  EXPECT_THAT(message(p), HasSubstr("max_groups_contributed"));
  p = CountPlan();
  p.aggregates = {Agg(AggregateFunction::kSum, "", std::nullopt)};
  EXPECT_THAT(message(p), HasSubstr("needs a column"));
  p = CountPlan();
  p.aggregates = {Agg(AggregateFunction::kSum, "x", Bounds{5, 1})};
  EXPECT_THAT(message(p), HasSubstr("lo <= hi"));
  p = CountPlan();
  p.aggregates = {Agg(AggregateFunction::kPercentileCont, "x", Bounds{0, 1}, 1.5)};
  EXPECT_THAT(message(p), HasSubstr("percentile"));
  p = CountPlan();
  p.aggregates.clear();
  EXPECT_THAT(message(p), HasSubstr("at least one aggregate"));
  p = CountPlan();
  p.public_groups = std::vector<std::vector<Value>>{{Value("a")}, {Value("a")}};
  EXPECT_THAT(message(p), HasSubstr("listed twice"));
  p = CountPlan();
  p.noise = NoiseKind::kGaussian;
  p.delta = 0;
  EXPECT_THAT(message(p), HasSubstr("Gaussian"));
  p = CountPlan();
  p.privacy_unit_column.clear();
  EXPECT_THAT(message(p), HasSubstr("privacy_unit_column"));
  // Column errors come from RunQuery.
  const Table t = UniformTable(10, 1);
  crypto::testing::DeterministicRandom rng(14);
  RandomBits bits(rng);
  p = CountPlan();
  p.aggregates = {Agg(AggregateFunction::kSum, "nope", Bounds{0, 1})};
  auto r = RunQuery(t, std::nullopt, p, bits);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("unknown column nope"));
  p.aggregates = {Agg(AggregateFunction::kSum, "g", Bounds{0, 1})};
  r = RunQuery(t, std::nullopt, p, bits);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("numeric"));
}

// --------------------------------------------------------------------------------------------------------
// Engine paths.

TEST(EngineTest, FastAndGeneralPathsAgreeUnderTheSameSeed) {
  std::vector<Row> rows;
  for (int i = 0; i < 30000; ++i) {
    rows.push_back(
        {absl::StrCat("u", i % 3000), absl::StrCat("k", (i * 31) % 40), static_cast<double>(i % 97) - 20});
  }
  const Table t = MakeTable(rows);
  QueryPlan p = CountPlan();
  p.epsilon = 20;  // partition selection keeps the groups (about 225 units each)
  p.max_groups_contributed = 3;
  p.max_rows_per_group = 2;
  p.aggregates.push_back(Agg(AggregateFunction::kSum, "x", Bounds{-10, 50}));
  p.aggregates.push_back(Agg(AggregateFunction::kCount, "x", std::nullopt));
  crypto::testing::DeterministicRandom rng1(15), rng2(15);
  RandomBits bits1(rng1), bits2(rng2);
  auto fast = internal::RunQueryForTest(t, std::nullopt, p, bits1, true);
  auto general = internal::RunQueryForTest(t, std::nullopt, p, bits2, false);
  ASSERT_TRUE(fast.ok() && general.ok());
  ASSERT_EQ(fast->rows.size(), general->rows.size());
  ASSERT_GT(fast->rows.size(), 30u);
  for (size_t i = 0; i < fast->rows.size(); ++i) {
    EXPECT_EQ(fast->rows[i].key, general->rows[i].key);
    for (size_t a = 0; a < p.aggregates.size(); ++a) {
      EXPECT_EQ(fast->rows[i].values[a][0].value, general->rows[i].values[a][0].value);
    }
  }
}

// --------------------------------------------------------------------------------------------------------
// The engine against a reference implementation of query.h's bounding, on both paths.

TEST(EngineTest, SeededLookup3MatchesPgHashes) {
  uint64_t x = 0x9E3779B97F4A7C15ULL;
  for (int i = 0; i < 2000; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    const uint64_t seed = i % 7 == 0 ? 0 : (x >> 2);
    const uint64_t value = x ^ (x >> 29);
    char bytes[8];
    std::memcpy(bytes, &value, 8);
    EXPECT_EQ(internal::SeededLookup3(8, seed).Hash8(value),
              internal::PgHashBytesExtended(std::string_view(bytes, 8), seed));
    const int64_t v = static_cast<int64_t>(value) >> (i % 40);
    EXPECT_EQ(internal::SeededLookup3(4, seed).HashInt8(v), internal::PgHashInt8Extended(v, seed));
  }
}

enum class UnitKind { kString, kDenseInt, kSparseInt };
enum class ValueKind { kDouble, kInt64, kBool };

struct RefRow {
  int unit;
  int group;  // -1: NULL key
  bool null;  // the value is NULL
  double x;   // the value (an integer for kInt64, 0 / 1 for kBool)
};

std::string RefUnitText(UnitKind kind, int u) {
  switch (kind) {
    case UnitKind::kString:  // lengths 1 .. 15: both sides of the 12-byte lookup3 block
      return std::string(1 + u % 15, static_cast<char>('a' + u % 26)) + std::to_string(u);
    case UnitKind::kDenseInt:
      return std::to_string(1000 + u);
    case UnitKind::kSparseInt:
      return std::to_string(int64_t{u} * 1'000'000'007 - 5'000'000'000);
  }
  return "";
}

// Rows of ~300 units: most with 1 .. 30 rows, a few with 300 (past the engine's small-unit kernel), over 12
// string keys and NULL; values with many duplicates, zeros of both signs, NULLs, and values beyond the
// clamping bounds [0, 16].
std::vector<RefRow> RefRows(ValueKind vk, uint64_t seed) {
  std::vector<RefRow> rows;
  uint64_t s = seed;
  auto next = [&](uint64_t n) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (s >> 33) % n;
  };
  for (int u = 0; u < 300; ++u) {
    const int n = u % 97 == 5 ? 300 : 1 + static_cast<int>(next(30));
    const int favourite = static_cast<int>(next(13)) - 1;
    const int spread = 1 + static_cast<int>(next(8));
    for (int i = 0; i < n; ++i) {
      RefRow r;
      r.unit = u;
      r.group = next(3) == 0 ? favourite : static_cast<int>((favourite + 1 + next(spread)) % 13) - 1;
      r.null = next(17) == 0;
      switch (vk) {
        case ValueKind::kDouble: {
          const uint64_t c = next(40);
          r.x = c == 0 ? -0.0 : (static_cast<double>(c) - 6) * 0.75;  // -3.75 .. 24.75 in steps of 0.75
          break;
        }
        case ValueKind::kInt64:
          r.x = static_cast<double>(static_cast<int64_t>(next(30)) - 5);
          break;
        case ValueKind::kBool:
          r.x = static_cast<double>(next(2));
          break;
      }
      rows.push_back(r);
    }
  }
  // Ingest order: shuffled.
  for (size_t i = rows.size(); i > 1; --i) std::swap(rows[i - 1], rows[next(i)]);
  return rows;
}

Table RefTable(const std::vector<RefRow>& rows, UnitKind uk, ValueKind vk) {
  const DataType unit_type = uk == UnitKind::kString ? DataType::kString : DataType::kInt64;
  const DataType value_type = vk == ValueKind::kDouble
                                  ? DataType::kDouble
                                  : (vk == ValueKind::kInt64 ? DataType::kInt64 : DataType::kBool);
  auto schema = table::Schema::Make(
      {{"unit", unit_type, true}, {"g", DataType::kString, true}, {"x", value_type, true}});
  table::TableBuilder b(*schema);
  for (const RefRow& r : rows) {
    if (uk == UnitKind::kString) {
      b.column(0).AppendString(RefUnitText(uk, r.unit));
    } else {
      b.column(0).AppendInt64(std::stoll(RefUnitText(uk, r.unit)));
    }
    if (r.group < 0) {
      b.column(1).AppendNull();
    } else {
      b.column(1).AppendString(absl::StrCat("key", r.group));
    }
    if (r.null) {
      b.column(2).AppendNull();
    } else if (vk == ValueKind::kDouble) {
      b.column(2).AppendDouble(r.x);
    } else if (vk == ValueKind::kInt64) {
      b.column(2).AppendInt64(static_cast<int64_t>(r.x));
    } else {
      b.column(2).AppendBool(r.x != 0);
    }
  }
  return *b.Finish();
}

struct RefGroup {
  double rows = 0, nonnull = 0, units = 0, sum = 0;
};

// query.h's bounding, written from its text: a_u, a_k, r(u, k), the L0 groups with the smallest
// (r, a_k, key order), and in a cell with more than Linf rows the Linf rows with the smallest
// M(r xor a_row), a_row from V and the occurrence number d of equal values (equal SQL values: NULL with
// NULL, 0 with -0) in row order. Returns the bounded COUNT(*), COUNT(x), COUNT(DISTINCT unit) and
// SUM(x) (clamped to [0, 16], quantised to 2^-16 like the engine) per key index (-1 = NULL).
std::map<int, RefGroup> ReferenceBounding(const std::vector<RefRow>& rows, UnitKind uk, ValueKind vk,
                                          uint64_t seed, int64_t l0, int64_t linf) {
  using internal::Fold32;
  using internal::Mix32;
  auto key_hash = [&](int g) {
    const std::string text = g < 0 ? "\\N" : absl::StrCat("key", g);
    return Fold32(internal::PgHashBytesExtended(text, seed + 1));
  };
  auto value_hash = [&](const RefRow& r) {
    if (r.null) return internal::PgHashBytesExtended("\\N", seed + 2);
    if (vk == ValueKind::kDouble) return internal::PgHashFloat8Extended(r.x, seed + 2);
    return internal::PgHashInt8Extended(static_cast<int64_t>(r.x), seed + 2);
  };
  std::map<int, std::vector<size_t>> by_unit;  // row order kept
  for (size_t i = 0; i < rows.size(); ++i) by_unit[rows[i].unit].push_back(i);
  std::map<int, RefGroup> out;
  for (const auto& [unit, idx] : by_unit) {
    const uint32_t au = Fold32(internal::PgHashBytesExtended(RefUnitText(uk, unit), seed));
    std::map<int, std::vector<size_t>> cells;  // key order: NULL (-1) first, then key0 < key1 < key10 < ...
    for (size_t i : idx) cells[rows[i].group].push_back(i);
    std::vector<std::tuple<uint32_t, uint32_t, std::string, int>> ranked;
    for (const auto& [g, unused] : cells) {
      ranked.emplace_back(Mix32(au ^ key_hash(g)), key_hash(g),
                          g < 0 ? std::string() : absl::StrCat("key", g), g);
    }
    std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
      if (std::get<0>(a) != std::get<0>(b)) return std::get<0>(a) < std::get<0>(b);
      if (std::get<1>(a) != std::get<1>(b)) return std::get<1>(a) < std::get<1>(b);
      if (std::get<3>(a) < 0 || std::get<3>(b) < 0) return std::get<3>(a) < std::get<3>(b);  // NULL first
      return std::get<2>(a) < std::get<2>(b);
    });
    for (size_t j = 0; j < ranked.size() && static_cast<int64_t>(j) < l0; ++j) {
      const int g = std::get<3>(ranked[j]);
      const uint32_t rk = std::get<0>(ranked[j]);
      std::vector<size_t> cell = cells[g];
      if (static_cast<int64_t>(cell.size()) > linf) {
        std::vector<std::pair<uint32_t, size_t>> ranks;
        for (size_t m = 0; m < cell.size(); ++m) {
          const RefRow& r = rows[cell[m]];
          int64_t d = 0;
          for (size_t q = 0; q < m; ++q) {
            const RefRow& o = rows[cell[q]];
            d += (r.null && o.null) || (!r.null && !o.null && r.x == o.x) ? 1 : 0;
          }
          const uint64_t v = value_hash(r);
          const uint64_t h = d == 0 ? v : internal::PgHashInt8Extended(d, v);
          ranks.emplace_back(Mix32(rk ^ Fold32(h)), m);
        }
        std::sort(ranks.begin(), ranks.end());
        std::vector<size_t> kept;
        for (int64_t q = 0; q < linf; ++q) kept.push_back(cell[ranks[q].second]);
        cell = kept;
      }
      RefGroup& out_g = out[g];
      out_g.units += 1;
      for (size_t i : cell) {
        out_g.rows += 1;
        if (rows[i].null) continue;
        out_g.nonnull += 1;
        // SUM(x) in [0, 16]: the engine's grid is g = 2^(4 - 20); every test value is a multiple of it.
        out_g.sum += std::clamp(rows[i].x, 0.0, 16.0);
      }
    }
  }
  return out;
}

TEST(EngineTest, BoundingMatchesAReferenceImplementation) {
  // With public groups (no selection) and epsilon = 1e12, every noise scale is below 1e-3 in integer units:
  // P(noise != 0) < 2 e^-10000 per value, so the released values are the bounded ones exactly.
  int checked = 0;
  for (UnitKind uk : {UnitKind::kString, UnitKind::kDenseInt, UnitKind::kSparseInt}) {
    for (ValueKind vk : {ValueKind::kDouble, ValueKind::kInt64, ValueKind::kBool}) {
      const std::vector<RefRow> rows =
          RefRows(vk, 100 + static_cast<uint64_t>(uk) * 3 + static_cast<uint64_t>(vk));
      const Table t = RefTable(rows, uk, vk);
      for (auto [l0, linf] :
           {std::pair<int64_t, int64_t>{1, 1}, {2, 2}, {3, 1}, {4, 3}, {13, 2}, {2, 9}, {5, 40}}) {
        QueryPlan p;
        p.privacy_unit_column = "unit";
        p.group_by = {GroupBy{"g", {}}};
        p.aggregates = {Agg(AggregateFunction::kCountStar), Agg(AggregateFunction::kCount, "x"),
                        Agg(AggregateFunction::kCountDistinctUnits),
                        Agg(AggregateFunction::kSum, "x", Bounds{0, 16})};
        // Every other run adds an aggregate with automatic bounds (not compared): the engine then decides the
        // bounding in its histogram pass and reuses it for the others.
        if (checked % 4 >= 2) p.aggregates.push_back(Agg(AggregateFunction::kSum, "x"));
        p.epsilon = 1e12;
        p.max_groups_contributed = l0;
        p.max_rows_per_group = linf;
        std::vector<std::vector<Value>> keys = {{Value()}};
        for (int k = 0; k < 12; ++k) keys.push_back({Value(absl::StrCat("key", k))});
        p.public_groups = keys;
        for (bool fast : {true, false}) {
          const uint64_t query_seed = 1000 + static_cast<uint64_t>(checked);
          crypto::testing::DeterministicRandom rng(query_seed), rng_copy(query_seed);
          RandomBits bits(rng), bits_copy(rng_copy);
          const uint64_t seed = *bits_copy.Next64() >> 2;  // the bounding seed RunQuery draws first
          const std::map<int, RefGroup> want = ReferenceBounding(rows, uk, vk, seed, l0, linf);
          auto r = internal::RunQueryForTest(t, std::nullopt, p, bits, fast);
          ASSERT_TRUE(r.ok()) << r.status();
          ASSERT_EQ(r->rows.size(), 13u);
          for (const ResultRow& row : r->rows) {
            const int g = std::holds_alternative<std::monostate>(row.key[0])
                              ? -1
                              : std::stoi(std::get<std::string>(row.key[0]).substr(3));
            const auto it = want.find(g);
            const RefGroup ref = it == want.end() ? RefGroup() : it->second;
            const std::string where =
                absl::StrCat("units ", static_cast<int>(uk), " values ", static_cast<int>(vk), " L0 ", l0,
                             " Linf ", linf, fast ? " fast" : " general", " key ", g);
            EXPECT_EQ(row.values[0][0].value, ref.rows) << where;
            EXPECT_EQ(row.values[1][0].value, ref.nonnull) << where;
            EXPECT_EQ(row.values[2][0].value, ref.units) << where;
            EXPECT_EQ(row.values[3][0].value, ref.sum) << where;
          }
          ++checked;
        }
      }
    }
  }
  EXPECT_EQ(checked, 3 * 3 * 7 * 2);
}

TEST(EngineTest, FastAndGeneralPathsAgreeOnEveryShape) {
  // NaN values, AVG and VARIANCE (normalised components), an int64 GROUP BY column, public groups that omit
  // keys of the data, selected rows, a global aggregate, and automatic bounds (the fast path decides the
  // bounding once in the histogram pass and reuses it): the two paths must agree exactly under one seed.
  auto schema = table::Schema::Make(
      {{"unit", DataType::kInt64, true}, {"k", DataType::kInt64, true}, {"x", DataType::kDouble, true}});
  table::TableBuilder b(*schema);
  uint64_t s = 7;
  auto next = [&](uint64_t n) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (s >> 33) % n;
  };
  std::vector<int64_t> selected;
  for (int i = 0; i < 20000; ++i) {
    const uint64_t u = next(2000);
    if (u == 0) {
      b.column(0).AppendNull();
    } else {
      b.column(0).AppendInt64(static_cast<int64_t>(u) * 3);
    }
    b.column(1).AppendInt64(static_cast<int64_t>((u * 7 + next(4)) % 25));
    const uint64_t c = next(50);
    if (c == 0) {
      b.column(2).AppendNull();
    } else if (c == 1) {
      b.column(2).AppendDouble(std::nan(""));
    } else {
      b.column(2).AppendDouble(static_cast<double>(c % 20) - 4.5);
    }
    if (next(5) != 0) selected.push_back(i);
  }
  const Table t = *b.Finish();
  std::vector<std::vector<Value>> some_keys;
  for (int64_t k = 0; k < 30; k += 2) some_keys.push_back({Value(k)});
  for (int shape = 0; shape < 5; ++shape) {
    QueryPlan p;
    p.privacy_unit_column = "unit";
    p.group_by = {GroupBy{"k", {}}};
    p.aggregates = {Agg(AggregateFunction::kCountStar),
                    Agg(AggregateFunction::kSum, "x", Bounds{-3, 10}),
                    Agg(AggregateFunction::kAvg, "x", Bounds{-5, 5}),
                    Agg(AggregateFunction::kVariance, "x", Bounds{0, 8}),
                    Agg(AggregateFunction::kCount, "x"),
                    Agg(AggregateFunction::kCountDistinctUnits)};
    p.epsilon = 50;
    p.delta = 1e-5;
    p.max_groups_contributed = 2 + shape;
    p.max_rows_per_group = 1 + shape % 3;
    std::optional<std::span<const int64_t>> rows;
    if (shape == 1) p.public_groups = some_keys;
    if (shape == 2) rows = std::span<const int64_t>(selected);
    if (shape == 3) p.group_by.clear();
    if (shape == 4) {
      for (Aggregate& a : p.aggregates) a.bounds.reset();
    }
    crypto::testing::DeterministicRandom rng1(40 + shape), rng2(40 + shape);
    RandomBits bits1(rng1), bits2(rng2);
    auto fast = internal::RunQueryForTest(t, rows, p, bits1, true);
    auto general = internal::RunQueryForTest(t, rows, p, bits2, false);
    ASSERT_TRUE(fast.ok()) << fast.status();
    ASSERT_TRUE(general.ok()) << general.status();
    ASSERT_EQ(fast->rows.size(), general->rows.size()) << shape;
    ASSERT_EQ(fast->chosen_bounds.size(), shape == 4 ? 3u : 0u);
    ASSERT_EQ(general->chosen_bounds.size(), fast->chosen_bounds.size());
    for (size_t i = 0; i < fast->chosen_bounds.size(); ++i) {
      EXPECT_EQ(fast->chosen_bounds[i].bounds.lo, general->chosen_bounds[i].bounds.lo);
      EXPECT_EQ(fast->chosen_bounds[i].bounds.hi, general->chosen_bounds[i].bounds.hi);
    }
    ASSERT_GE(fast->rows.size(), shape == 3 ? 1u : 10u) << shape;
    for (size_t i = 0; i < fast->rows.size(); ++i) {
      EXPECT_EQ(fast->rows[i].key, general->rows[i].key);
      for (size_t a = 0; a < p.aggregates.size(); ++a) {
        EXPECT_EQ(fast->rows[i].values[a][0].value, general->rows[i].values[a][0].value) << shape << " " << a;
      }
    }
  }
}

TEST(EngineTest, IntegerUnitsAndNullsAndGaussianNoise) {
  auto schema = table::Schema::Make({{"id", DataType::kInt64, true}, {"x", DataType::kInt64, true}});
  table::TableBuilder b(*schema);
  for (int i = 0; i < 5000; ++i) {
    if (i % 100 == 0) {
      b.column(0).AppendNull();  // dropped: no unit
    } else {
      b.column(0).AppendInt64(i / 2);
    }
    if (i % 10 == 0) {
      b.column(1).AppendNull();
    } else {
      b.column(1).AppendInt64(i % 7);
    }
  }
  const Table t = *b.Finish();
  QueryPlan p;
  p.privacy_unit_column = "id";
  p.epsilon = 1e3;
  p.delta = 1e-6;
  p.noise = NoiseKind::kGaussian;
  p.max_rows_per_group = 2;
  p.aggregates = {Agg(AggregateFunction::kCountStar, "", std::nullopt),
                  Agg(AggregateFunction::kCount, "x", std::nullopt),
                  Agg(AggregateFunction::kCountDistinctUnits, "", std::nullopt)};
  crypto::testing::DeterministicRandom rng(16);
  RandomBits bits(rng);
  auto r = RunQuery(t, std::nullopt, p, bits);
  ASSERT_TRUE(r.ok()) << r.status();
  // 4950 rows with a unit; COUNT(x) skips the 495 NULLs among them (i % 10 == 0 and i % 100 != 0: 450).
  // Gaussian sigma at epsilon 1000 is below 1: allow 5.
  EXPECT_NEAR(r->rows[0].values[0][0].value, 4950, 5);
  EXPECT_NEAR(r->rows[0].values[1][0].value, 4950 - 450, 5);
  EXPECT_NEAR(r->rows[0].values[2][0].value, 2500, 5);
}

TEST(PlainTest, ExactGroupBy) {
  const Table t = MakeTable({{"a", "g1", 1}, {"a", "g1", 3}, {"b", "g2", 10}, {"c", "g1", 5}});
  QueryPlan p = CountPlan();
  p.aggregates = {Agg(AggregateFunction::kCountStar, "", std::nullopt),
                  Agg(AggregateFunction::kSum, "x", std::nullopt),
                  Agg(AggregateFunction::kAvg, "x", std::nullopt),
                  Agg(AggregateFunction::kCountDistinctUnits, "", std::nullopt),
                  Agg(AggregateFunction::kVariance, "x", std::nullopt),
                  Agg(AggregateFunction::kPercentileCont, "x", Bounds{0, 10}, 0.5)};
  auto r = RunPlainAggregation(t, std::nullopt, p);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->rows.size(), 2u);
  EXPECT_EQ(std::get<std::string>(r->rows[0].key[0]), "g1");
  EXPECT_EQ(r->rows[0].values[0][0].value, 3);
  EXPECT_EQ(r->rows[0].values[1][0].value, 9);
  EXPECT_EQ(r->rows[0].values[2][0].value, 3);
  EXPECT_EQ(r->rows[0].values[3][0].value, 2);
  EXPECT_NEAR(r->rows[0].values[4][0].value, 8.0 / 3, 1e-12);
  EXPECT_EQ(r->rows[0].values[5][0].value, 3);
  EXPECT_EQ(r->rows[1].values[1][0].value, 10);
}

}  // namespace
}  // namespace veil::dp
