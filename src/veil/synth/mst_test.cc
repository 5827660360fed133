#include "veil/synth/mst.h"

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/crypto/random.h"
#include "veil/crypto/testing/deterministic_random.h"
#include "veil/synth/metrics.h"
#include "veil/table/csv_reader.h"

namespace veil::synth {
namespace {

using crypto::testing::DeterministicRandom;
using ::testing::HasSubstr;

// 20,000 rows of a chain a -> b -> c -> d (each copies its parent with probability 0.9, else uniform), plus
// an independent e. Generated with a fixed seed.
DiscreteTable ChainTable(int64_t rows) {
  Domain d = *Domain::Create({{"a", 4}, {"b", 4}, {"c", 4}, {"d", 4}, {"e", 3}});
  DeterministicRandom random(11);
  dp::RandomBits bits(random);
  std::vector<std::vector<int32_t>> codes(5, std::vector<int32_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    codes[0][r] = static_cast<int32_t>(*bits.Uniform(4));
    for (int a = 1; a < 4; ++a) {
      codes[a][r] = *bits.Uniform(10) < 9 ? codes[a - 1][r] : static_cast<int32_t>(*bits.Uniform(4));
    }
    codes[4][r] = static_cast<int32_t>(*bits.Uniform(3));
  }
  return *DiscreteTable::Create(d, std::move(codes));
}

TEST(MstTest, AccountsEveryMeasurementAndSpendsTheBudget) {
  DiscreteTable data = ChainTable(20000);
  DeterministicRandom random(1);
  ZcdpBudget budget = *ZcdpBudget::FromApproxDp(1.0, 1e-9);
  absl::StatusOr<MstResult> r = FitMst(data, budget, random);
  ASSERT_TRUE(r.ok()) << r.status();
  const int d = 5;
  // d 1-way measurements, d - 1 selections, d - 1 2-way measurements.
  ASSERT_EQ(r->budget.entries().size(), static_cast<size_t>(d + 2 * (d - 1)));
  EXPECT_EQ(r->measurements.size(), static_cast<size_t>(d + d - 1));
  double sum = 0;
  for (const auto& e : r->budget.entries()) sum += e.rho;
  EXPECT_EQ(sum, r->budget.spent_rho());
  EXPECT_LE(r->budget.spent_rho(), budget.total_rho());
  EXPECT_GT(r->budget.spent_rho(), budget.total_rho() * (1 - 1e-9));
  // A third each, as MST.
  double one_way = 0;
  for (int i = 0; i < d; ++i) one_way += r->budget.entries()[i].rho;
  EXPECT_NEAR(one_way, budget.total_rho() / 3, 1e-9 * budget.total_rho());
  double measured = 0;
  for (const NoisyMarginal& m : r->measurements) measured += m.rho;
  EXPECT_NEAR(measured, budget.total_rho() * 2 / 3, 1e-9 * budget.total_rho());
  absl::StatusOr<dp::PrivacyCost> cost = r->budget.Cost();
  ASSERT_TRUE(cost.ok());
  EXPECT_LE(cost->total.epsilon, 1.0);
  EXPECT_GT(cost->total.epsilon, 0.999);
}

TEST(MstTest, FindsTheChainAndBeatsIndependence) {
  DiscreteTable data = ChainTable(20000);
  DeterministicRandom random(2);
  absl::StatusOr<MstResult> r = FitMst(data, *ZcdpBudget::FromApproxDp(2.0, 1e-9), random);
  ASSERT_TRUE(r.ok()) << r.status();
  std::vector<std::pair<int, int>> edges = r->edges;
  for (auto& e : edges) {
    if (e.first > e.second) std::swap(e.first, e.second);
  }
  // The three chain links have L1 scores in the tens of thousands; the exponential mechanism cannot miss
  // them.
  EXPECT_THAT(edges,
              ::testing::IsSupersetOf({std::make_pair(0, 1), std::make_pair(1, 2), std::make_pair(2, 3)}));
  DiscreteTable synth = *r->model.Sample(random, data.num_rows());
  EXPECT_EQ(synth.domain(), data.domain());
  MarginalErrorSummary two = *CompareMarginals(data, synth, 2);
  // The independent model's TVD on (a, b) alone is about 0.68 (0.9 * 0.75); MST's average stays small.
  EXPECT_LT(two.average_tvd, 0.05);
}

TEST(MstTest, ReproducibleUnderATestSeed) {
  DiscreteTable data = ChainTable(5000);
  std::vector<std::vector<int32_t>> first;
  std::vector<std::pair<int, int>> first_edges;
  for (int rep = 0; rep < 2; ++rep) {
    DeterministicRandom random(77);
    MstResult r = *FitMst(data, *ZcdpBudget::FromApproxDp(1.0, 1e-6), random);
    DiscreteTable s = *r.model.Sample(random, 1000);
    std::vector<std::vector<int32_t>> cols;
    for (int a = 0; a < s.num_attributes(); ++a) cols.emplace_back(s.column(a).begin(), s.column(a).end());
    if (rep == 0) {
      first = cols;
      first_edges = r.edges;
    }
    EXPECT_EQ(cols, first);
    EXPECT_EQ(r.edges, first_edges);
  }
}

TEST(MstTest, DegenerateInputs) {
  DeterministicRandom random(3);
  // One column: the whole budget measures its 1-way marginal.
  Domain one = *Domain::Create({{"x", 5}});
  DiscreteTable t1 = *DiscreteTable::Create(one, {{0, 1, 1, 2, 4, 4, 4}});
  absl::StatusOr<MstResult> r1 = FitMst(t1, *ZcdpBudget::FromRho(1.0, 1e-9), random);
  ASSERT_TRUE(r1.ok()) << r1.status();
  EXPECT_TRUE(r1->edges.empty());
  ASSERT_EQ(r1->budget.entries().size(), 1u);
  EXPECT_EQ(r1->budget.entries()[0].rho, r1->budget.spent_rho());
  EXPECT_EQ(r1->model.Sample(random, 10)->num_rows(), 10);

  // A constant column among others: fine, and it stays constant when its value is well measured.
  Domain three = *Domain::Create({{"a", 2}, {"k", 3}, {"b", 2}});
  std::vector<std::vector<int32_t>> codes(3, std::vector<int32_t>(5000, 0));
  for (int r = 0; r < 5000; ++r) {
    codes[0][r] = r % 2;
    codes[1][r] = 1;
    codes[2][r] = (r / 2) % 2;
  }
  DiscreteTable tk = *DiscreteTable::Create(three, codes);
  absl::StatusOr<MstResult> rk = FitMst(tk, *ZcdpBudget::FromApproxDp(5.0, 1e-9), random);
  ASSERT_TRUE(rk.ok()) << rk.status();
  DiscreteTable sk = *rk->model.Sample(random, 2000);
  const int k[] = {1};
  EXPECT_GT((*sk.Marginal(k))[1], 1900);

  // An empty table: valid (the release is noise only), estimated size near 0, samples still valid rows.
  DiscreteTable empty = *DiscreteTable::Create(three, {{}, {}, {}});
  absl::StatusOr<MstResult> re = FitMst(empty, *ZcdpBudget::FromApproxDp(1.0, 1e-9), random);
  ASSERT_TRUE(re.ok()) << re.status();
  EXPECT_LT(re->model.estimated_rows(), 100);
  EXPECT_EQ(re->model.Sample(random, 5)->num_rows(), 5);

  // No attribute, a used budget, a budget too small for the samplers.
  EXPECT_THAT(FitMst(DiscreteTable(), *ZcdpBudget::FromRho(1, 1e-9), random).status().message(),
              HasSubstr("no attribute"));
  ZcdpBudget used = *ZcdpBudget::FromRho(1, 1e-9);
  ASSERT_TRUE(used.Charge("other", 0.5).ok());
  EXPECT_EQ(FitMst(tk, used, random).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FitMst(tk, *ZcdpBudget::FromRho(1e-20, 1e-9), random).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(MstTest, AdultAtEpsilonOneBeatsTheIndependentModel) {
  base::Env& env = crypto::DefaultEnv();
  Domain domain = *ReadDomainCsv(env, "../shared/data/adult/adult_aim_discretized_domain.csv");
  DiscreteTable data = *DiscreteTable::FromTable(
      *table::ReadCsv(env, "../shared/data/adult/adult_aim_discretized.csv"), domain);
  DeterministicRandom random(2022);
  absl::StatusOr<MstResult> r = FitMst(data, *ZcdpBudget::FromApproxDp(1.0, 1e-9), random);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->edges.size(), 14u);
  DiscreteTable synth = *r->model.Sample(random, data.num_rows());
  // synth_bench measures 2-way 0.044 on average over runs; the independent model of the exact 1-way
  // marginals scores 0.080. 0.06 leaves room for this seed while still failing a model without edges.
  EXPECT_LT(CompareMarginals(data, synth, 2)->average_tvd, 0.06);
  EXPECT_LT(CompareMarginals(data, synth, 1)->average_tvd, 0.012);
}

}  // namespace
}  // namespace veil::synth
