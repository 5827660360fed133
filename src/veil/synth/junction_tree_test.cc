#include "veil/synth/junction_tree.h"

#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/crypto/testing/deterministic_random.h"
#include "veil/dp/random_bits.h"
#include "veil/synth/metrics.h"

namespace veil::synth {
namespace {

using crypto::testing::DeterministicRandom;

// Every attribute's cliques form a connected subtree (the running-intersection property).
void ExpectRunningIntersection(const Domain& domain, const JunctionTree& jt) {
  const int m = static_cast<int>(jt.cliques.size());
  ASSERT_EQ(jt.parent.size(), static_cast<size_t>(m));
  ASSERT_EQ(jt.order.size(), static_cast<size_t>(m));
  for (int a = 0; a < domain.num_attributes(); ++a) {
    int tops = 0;  // cliques holding a whose parent does not hold a
    int holders = 0;
    for (int c = 0; c < m; ++c) {
      const auto& k = jt.cliques[c];
      if (!std::binary_search(k.begin(), k.end(), a)) continue;
      ++holders;
      const int p = jt.parent[c];
      if (p < 0 || !std::binary_search(jt.cliques[p].begin(), jt.cliques[p].end(), a)) ++tops;
    }
    EXPECT_GE(holders, 1) << a;
    EXPECT_EQ(tops, 1) << "attribute " << a << " is in a disconnected set of cliques";
  }
}

TEST(JunctionTreeTest, TriangulatesACycleAndCoversEveryAttribute) {
  Domain d = *Domain::Create({{"a", 2}, {"b", 3}, {"c", 4}, {"d", 5}, {"e", 2}});
  std::vector<std::vector<int>> cliques = {{0, 1}, {1, 2}, {2, 3}, {3, 0}};
  absl::StatusOr<JunctionTree> jt = BuildJunctionTree(d, cliques);
  ASSERT_TRUE(jt.ok()) << jt.status();
  // The 4-cycle needs one chord: two triangles, plus e alone.
  EXPECT_EQ(jt->cliques.size(), 3u);
  for (const auto& c : jt->cliques) EXPECT_LE(c.size(), 3u);
  ExpectRunningIntersection(d, *jt);
  // A tree stays a tree: its cliques are its edges.
  std::vector<std::vector<int>> tree = {{0, 1}, {1, 2}, {1, 3}, {3, 4}};
  jt = BuildJunctionTree(d, tree);
  ASSERT_TRUE(jt.ok());
  EXPECT_EQ(jt->cliques.size(), 4u);
  EXPECT_EQ(jt->cells, 6 + 12 + 15 + 10);
  ExpectRunningIntersection(d, *jt);
  std::vector<std::vector<int>> bad = {{0, 7}};
  EXPECT_FALSE(BuildJunctionTree(d, bad).ok());
  std::vector<std::vector<int>> repeated = {{1, 1}};
  EXPECT_FALSE(BuildJunctionTree(d, repeated).ok());
}

TEST(JunctionTreeTest, RandomGraphsKeepTheRunningIntersectionProperty) {
  Domain d =
      *Domain::Create({{"a", 2}, {"b", 2}, {"c", 2}, {"d", 2}, {"e", 2}, {"f", 2}, {"g", 2}, {"h", 2}});
  DeterministicRandom random(3);
  dp::RandomBits bits(random);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<std::vector<int>> cliques;
    for (int k = 0; k < 6; ++k) {
      std::vector<int> c;
      for (int a = 0; a < 8; ++a) {
        if (*bits.Uniform(3) == 0) c.push_back(a);
      }
      if (!c.empty()) cliques.push_back(c);
    }
    absl::StatusOr<JunctionTree> jt = BuildJunctionTree(d, cliques);
    ASSERT_TRUE(jt.ok());
    ExpectRunningIntersection(d, *jt);
    for (const auto& c : cliques) {
      bool inside = false;
      for (const auto& k : jt->cliques) inside |= std::includes(k.begin(), k.end(), c.begin(), c.end());
      EXPECT_TRUE(inside);
    }
  }
}

// 40,000 rows over a 4-cycle a-b-c-d-a plus an independent e, generated with a fixed seed.
DiscreteTable CycleTable() {
  Domain d = *Domain::Create({{"a", 3}, {"b", 3}, {"c", 4}, {"d", 3}, {"e", 2}});
  DeterministicRandom random(5);
  dp::RandomBits bits(random);
  const int64_t rows = 40000;
  std::vector<std::vector<int32_t>> codes(5, std::vector<int32_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    codes[0][r] = static_cast<int32_t>(*bits.Uniform(3));
    codes[1][r] = *bits.Uniform(4) < 3 ? codes[0][r] : static_cast<int32_t>(*bits.Uniform(3));
    codes[2][r] = *bits.Uniform(4) < 3 ? codes[1][r] : static_cast<int32_t>(*bits.Uniform(4));
    codes[3][r] =
        *bits.Uniform(2) == 0 ? (codes[2][r] + codes[0][r]) % 3 : static_cast<int32_t>(*bits.Uniform(3));
    codes[4][r] = static_cast<int32_t>(*bits.Uniform(2));
  }
  return *DiscreteTable::Create(d, std::move(codes));
}

NoisyMarginal Exact(const DiscreteTable& t, std::vector<int> attrs) {
  NoisyMarginal m;
  m.values = *t.Marginal(attrs);
  m.attrs = std::move(attrs);
  m.sigma = 1.0;
  m.rho = 0.5;
  return m;
}

TEST(JunctionTreeModelTest, ExactMeasurementsAreRecoveredAndOutOfCliqueMarginalsAreExact) {
  DiscreteTable t = CycleTable();
  // Unsorted attribute orders on purpose.
  std::vector<NoisyMarginal> ms = {Exact(t, {1, 0}), Exact(t, {1, 2}), Exact(t, {3, 2}), Exact(t, {0, 3}),
                                   Exact(t, {4})};
  absl::StatusOr<JunctionTreeModel> model = JunctionTreeModel::Fit(t.domain(), ms);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_NEAR(model->estimated_rows(), 40000, 1e-6);
  for (const NoisyMarginal& m : ms) {
    std::vector<double> p = *model->Marginal(m.attrs);
    double tvd = 0;
    for (size_t i = 0; i < p.size(); ++i) tvd += 0.5 * std::fabs(p[i] - m.values[i] / 40000);
    EXPECT_LT(tvd, 1e-3);
  }
  // Marginals outside a clique (b, d), (a, c, e) equal sums of the model's full joint.
  std::vector<int> all = {0, 1, 2, 3, 4};
  std::vector<double> joint = *model->Marginal(all);
  double sum = 0;
  for (double x : joint) sum += x;
  EXPECT_NEAR(sum, 1.0, 1e-12);
  std::vector<double> bd(9, 0.0);
  std::vector<double> eca(2 * 4 * 3, 0.0);
  size_t i = 0;
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b)
      for (int c = 0; c < 4; ++c)
        for (int dd = 0; dd < 3; ++dd)
          for (int e = 0; e < 2; ++e, ++i) {
            bd[b * 3 + dd] += joint[i];
            eca[(e * 4 + c) * 3 + a] += joint[i];
          }
  std::vector<int> q1 = {1, 3};
  std::vector<int> q2 = {4, 2, 0};
  std::vector<double> m1 = *model->Marginal(q1);
  std::vector<double> m2 = *model->Marginal(q2);
  for (size_t k = 0; k < bd.size(); ++k) EXPECT_NEAR(m1[k], bd[k], 1e-12);
  for (size_t k = 0; k < eca.size(); ++k) EXPECT_NEAR(m2[k], eca[k], 1e-12);
  EXPECT_FALSE(model->Marginal(std::vector<int>{}).ok());
  EXPECT_FALSE(model->Marginal(std::vector<int>{1, 1}).ok());
  EXPECT_FALSE(model->Marginal(std::vector<int>{9}).ok());
}

TEST(JunctionTreeModelTest, NestedMeasurementsEachCountInTheLoss) {
  // The fit takes a measurement's marginal from a measurement containing it and pushes its gradient there
  // (junction_tree.cc, Target::host); the guest must still pull the model as if it were on its own.
  DiscreteTable t = CycleTable();
  NoisyMarginal abc = Exact(t, {0, 1, 2});
  abc.sigma = 1000.0;  // weak
  NoisyMarginal a;     // strong, and inconsistent with abc's a-margin
  a.attrs = {0};
  a.values = {20000, 10000, 10000};
  a.sigma = 1.0;
  NoisyMarginal cd = Exact(t, {3, 2});
  NoisyMarginal c = Exact(t, {2});
  c.values[0] += 400;  // a little noise on a guest of cd
  c.values[1] -= 400;
  std::vector<NoisyMarginal> ms = {abc, a, cd, c};
  absl::StatusOr<JunctionTreeModel> model = JunctionTreeModel::Fit(t.domain(), ms);
  ASSERT_TRUE(model.ok()) << model.status();
  const double n = model->estimated_rows();
  EXPECT_NEAR(n, 40000, 1e-6);
  // The strong 1-way measurement wins over the weak 3-way one (1e6 times its weight per cell).
  std::vector<double> pa = *model->Marginal(std::vector<int>{0});
  EXPECT_NEAR(pa[0], 0.5, 2e-3);
  EXPECT_NEAR(pa[1], 0.25, 2e-3);
  EXPECT_NEAR(pa[2], 0.25, 2e-3);
  // The reported loss is the loss of every measurement at the model's marginals.
  double loss = 0;
  for (const NoisyMarginal& m : ms) {
    std::vector<double> p = *model->Marginal(m.attrs);
    for (size_t i = 0; i < p.size(); ++i) {
      const double diff = p[i] - m.values[i] / n;
      loss += 0.5 * n * n / (m.sigma * m.sigma) * diff * diff;
    }
  }
  EXPECT_NEAR(model->loss(), loss, 1e-6 * loss);
  EXPECT_GT(loss, 1.0);
}

TEST(JunctionTreeModelTest, SamplesFollowTheModel) {
  DiscreteTable t = CycleTable();
  std::vector<NoisyMarginal> ms = {Exact(t, {0, 1}), Exact(t, {1, 2}), Exact(t, {2, 3}), Exact(t, {0, 3}),
                                   Exact(t, {4})};
  JunctionTreeModel model = *JunctionTreeModel::Fit(t.domain(), ms);
  for (auto method : {TreeModel::SampleMethod::kIndependent, TreeModel::SampleMethod::kSystematic}) {
    DeterministicRandom random(9);
    absl::StatusOr<DiscreteTable> s = model.Sample(random, 200000, method);
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(s->num_rows(), 200000);
    for (std::vector<int> q : {std::vector<int>{0, 2}, {1, 3, 4}, {0, 1, 2, 3}}) {
      std::vector<double> p = *model.Marginal(q);
      std::vector<double> c = *s->Marginal(q);
      // i.i.d.: chi-square with cells - 1 df; the bound is far above its 1e-6 quantile for <= 108 cells.
      double chi2 = 0;
      for (size_t k = 0; k < p.size(); ++k) {
        const double e = p[k] * 200000;
        if (e > 0) chi2 += (c[k] - e) * (c[k] - e) / e;
      }
      EXPECT_LT(chi2, 200) << q.size();
    }
  }
  DeterministicRandom random(9);
  EXPECT_FALSE(model.Sample(random, -1).ok());
  EXPECT_EQ(model.Sample(random, 0)->num_rows(), 0);
}

TEST(JunctionTreeModelTest, WarmStartReproducesTheModelAndErrorsAreReported) {
  DiscreteTable t = CycleTable();
  std::vector<NoisyMarginal> ms = {Exact(t, {0, 1}), Exact(t, {1, 2}), Exact(t, {4})};
  JunctionTreeModel first = *JunctionTreeModel::Fit(t.domain(), ms);
  JunctionTreeFitOptions zero;
  zero.iterations = 0;
  JunctionTreeModel again = *JunctionTreeModel::Fit(t.domain(), ms, zero, &first);
  std::vector<int> q = {0, 1, 2};
  std::vector<double> a = *first.Marginal(q);
  std::vector<double> b = *again.Marginal(q);
  for (size_t k = 0; k < a.size(); ++k) EXPECT_NEAR(a[k], b[k], 1e-12);
  EXPECT_FALSE(JunctionTreeModel::Fit(t.domain(), {}).ok());
  std::vector<NoisyMarginal> wrong = {Exact(t, {0, 1})};
  wrong[0].values.pop_back();
  EXPECT_FALSE(JunctionTreeModel::Fit(t.domain(), wrong).ok());
}

}  // namespace
}  // namespace veil::synth
