#include "veil/synth/model.h"

#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/crypto/testing/deterministic_random.h"

namespace veil::synth {
namespace {

using crypto::testing::DeterministicRandom;
using ::testing::HasSubstr;

TEST(SimplexTest, KnownProjections) {
  std::vector<double> v = {0.5, 0.5, 0.5};
  internal::ProjectOntoSimplex(v, 1.0);
  for (double x : v) EXPECT_NEAR(x, 1.0 / 3.0, 1e-15);
  v = {2, 0, -1};
  internal::ProjectOntoSimplex(v, 1.0);
  EXPECT_THAT(v, ::testing::ElementsAre(1, 0, 0));
  // (0.6, 0.3, -0.5): theta = (0.6 + 0.3 - 1) / 2 = -0.05 -> (0.65, 0.35, 0).
  v = {0.6, 0.3, -0.5};
  internal::ProjectOntoSimplex(v, 1.0);
  EXPECT_NEAR(v[0], 0.65, 1e-15);
  EXPECT_NEAR(v[1], 0.35, 1e-15);
  EXPECT_EQ(v[2], 0.0);
  v = {10, 20};
  internal::ProjectOntoSimplex(v, 30);
  EXPECT_THAT(v, ::testing::ElementsAre(10, 20));
}

// A chain a -> b -> c with a(2), b(3), c(2), and one impossible combination (c = 1 never follows b = 2).
struct Chain {
  Domain domain = *Domain::Create({{"a", 2}, {"b", 3}, {"c", 2}});
  double pa[2] = {0.3, 0.7};
  double pb_a[2][3] = {{0.5, 0.3, 0.2}, {0.1, 0.2, 0.7}};
  double pc_b[3][2] = {{0.9, 0.1}, {0.4, 0.6}, {1.0, 0.0}};

  double Joint(int a, int b, int c) const { return pa[a] * pb_a[a][b] * pc_b[b][c]; }
  // Noise-free "measurements" of N = 1000 rows: 1-way a, b, c; 2-way (a, b) and (c, b) (reversed order).
  std::vector<NoisyMarginal> Measurements() const {
    std::vector<NoisyMarginal> out(5);
    out[0].attrs = {0};
    out[1].attrs = {1};
    out[2].attrs = {2};
    out[3].attrs = {0, 1};
    out[4].attrs = {2, 1};
    out[0].values.assign(2, 0);
    out[1].values.assign(3, 0);
    out[2].values.assign(2, 0);
    out[3].values.assign(6, 0);
    out[4].values.assign(6, 0);
    for (int a = 0; a < 2; ++a) {
      for (int b = 0; b < 3; ++b) {
        for (int c = 0; c < 2; ++c) {
          const double p = 1000 * Joint(a, b, c);
          out[0].values[a] += p;
          out[1].values[b] += p;
          out[2].values[c] += p;
          out[3].values[a * 3 + b] += p;
          out[4].values[c * 3 + b] += p;
        }
      }
    }
    for (auto& m : out) m.sigma = 1;
    return out;
  }
};

TEST(TreeModelTest, ExactMeasurementsGiveTheTrueMarginals) {
  Chain chain;
  const std::vector<std::pair<int, int>> edges = {{0, 1}, {1, 2}};
  absl::StatusOr<TreeModel> model = TreeModel::Fit(chain.domain, chain.Measurements(), edges);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_NEAR(model->estimated_rows(), 1000, 1e-9);
  EXPECT_NEAR(model->NodeMarginal(0)[1], 0.7, 1e-12);
  std::vector<double> ab = *model->PairMarginal(0, 1);
  std::vector<double> ac = *model->PairMarginal(0, 2);
  std::vector<double> cb = *model->PairMarginal(2, 1);
  for (int a = 0; a < 2; ++a) {
    for (int b = 0; b < 3; ++b) EXPECT_NEAR(ab[a * 3 + b], chain.Joint(a, b, 0) + chain.Joint(a, b, 1), 1e-8);
    for (int c = 0; c < 2; ++c) {
      double p = 0;
      for (int b = 0; b < 3; ++b) p += chain.Joint(a, b, c);
      EXPECT_NEAR(ac[a * 2 + c], p, 1e-8);  // through the path a - b - c
    }
  }
  for (int c = 0; c < 2; ++c) {
    for (int b = 0; b < 3; ++b) EXPECT_NEAR(cb[c * 3 + b], chain.Joint(0, b, c) + chain.Joint(1, b, c), 1e-8);
  }
}

TEST(TreeModelTest, SamplingMatchesTheModel) {
  // 200,000 rows against the exact joint p(a) p(b|a) p(c|b). The two impossible cells must stay empty; the
  // other 10 give a chi-square with 9 degrees of freedom, critical value 44.81 at significance 1e-6 (fixed
  // seed). The alias tables quantize probabilities to 2^-32, far below what 200,000 draws can detect.
  Chain chain;
  const std::vector<std::pair<int, int>> edges = {{1, 2}, {0, 1}};
  TreeModel model = *TreeModel::Fit(chain.domain, chain.Measurements(), edges);
  DeterministicRandom random(99);
  const int64_t n = 200000;
  absl::StatusOr<DiscreteTable> sample = model.Sample(random, n);
  ASSERT_TRUE(sample.ok()) << sample.status();
  ASSERT_EQ(sample->num_rows(), n);
  const int abc[] = {0, 1, 2};
  std::vector<double> counts = *sample->Marginal(abc);
  double chi2 = 0;
  for (int a = 0; a < 2; ++a) {
    for (int b = 0; b < 3; ++b) {
      for (int c = 0; c < 2; ++c) {
        const double expected = n * chain.Joint(a, b, c);
        const double observed = counts[(a * 3 + b) * 2 + c];
        if (expected == 0) {
          EXPECT_EQ(observed, 0) << a << b << c;
          continue;
        }
        chi2 += (observed - expected) * (observed - expected) / expected;
      }
    }
  }
  EXPECT_LT(chi2, 44.81);
  // Same seed, same rows.
  DeterministicRandom again(99);
  absl::StatusOr<DiscreteTable> replay = model.Sample(again, n);
  ASSERT_TRUE(replay.ok());
  EXPECT_TRUE(std::equal(replay->column(2).begin(), replay->column(2).end(), sample->column(2).begin()));
  EXPECT_EQ(model.Sample(random, 0)->num_rows(), 0);
  EXPECT_FALSE(model.Sample(random, -1).ok());
}

TEST(TreeModelTest, SystematicSamplingRoundsCountsWithinOne) {
  // Root counts are floor or ceil of N p(a); within each group of rows with the same parent value, child
  // counts are floor or ceil of (group size) p(child | parent); impossible values never appear.
  Chain chain;
  const std::vector<std::pair<int, int>> edges = {{0, 1}, {1, 2}};
  TreeModel model = *TreeModel::Fit(chain.domain, chain.Measurements(), edges);
  DeterministicRandom random(8);
  const int64_t n = 1001;
  absl::StatusOr<DiscreteTable> s = model.Sample(random, n, TreeModel::SampleMethod::kSystematic);
  ASSERT_TRUE(s.ok()) << s.status();
  const int a[] = {0};
  std::vector<double> ca = *s->Marginal(a);
  for (int v = 0; v < 2; ++v) EXPECT_LE(std::fabs(ca[v] - n * chain.pa[v]), 1.0) << v;
  const int ab[] = {0, 1};
  std::vector<double> cab = *s->Marginal(ab);
  const int bc[] = {1, 2};
  std::vector<double> cbc = *s->Marginal(bc);
  for (int v = 0; v < 2; ++v) {
    for (int b = 0; b < 3; ++b) EXPECT_LE(std::fabs(cab[v * 3 + b] - ca[v] * chain.pb_a[v][b]), 1.0 + 1e-6);
  }
  for (int b = 0; b < 3; ++b) {
    const double group = cbc[b * 2] + cbc[b * 2 + 1];
    for (int c = 0; c < 2; ++c) EXPECT_LE(std::fabs(cbc[b * 2 + c] - group * chain.pc_b[b][c]), 1.0 + 1e-6);
  }
  EXPECT_EQ(cbc[2 * 2 + 1], 0);
  // The rows are shuffled: the first 100 rows are not all one root value (P < 2 * 0.7^100).
  int ones = 0;
  for (int r = 0; r < 100; ++r) ones += s->code(r, 0);
  EXPECT_GT(ones, 0);
  EXPECT_LT(ones, 100);
  EXPECT_EQ(model.Sample(random, 0, TreeModel::SampleMethod::kSystematic)->num_rows(), 0);
}

TEST(TreeModelTest, DecoderSpreadsMergedCodesUniformly) {
  // Compressed a(2) where code 1 stands for original codes {1, 2}: P(original) = (0.4, 0.3, 0.3).
  // 30,000 rows; chi-square with 2 degrees of freedom, critical value 27.63 at significance 1e-6.
  Domain compressed = *Domain::Create({{"a", 2}});
  NoisyMarginal m;
  m.attrs = {0};
  m.values = {400, 600};
  m.sigma = 1;
  TreeModel model = *TreeModel::Fit(compressed, std::vector<NoisyMarginal>{m}, {});
  Decoder bad;
  bad.original = *Domain::Create({{"a", 3}});
  bad.groups = {{{0}, {1}}};
  EXPECT_THAT(model.SetDecoder(bad).message(), HasSubstr("original code 2 is in no group"));
  bad.groups = {{{0}, {1, 1}}};
  EXPECT_FALSE(model.SetDecoder(bad).ok());
  Decoder decoder;
  decoder.original = *Domain::Create({{"a", 3}});
  decoder.groups = {{{0}, {1, 2}}};
  ASSERT_TRUE(model.SetDecoder(decoder).ok());
  EXPECT_EQ(model.output_domain().size(0), 3);
  DeterministicRandom random(5);
  const int64_t n = 30000;
  DiscreteTable sample = *model.Sample(random, n);
  const int a[] = {0};
  std::vector<double> counts = *sample.Marginal(a);
  const double p[3] = {0.4, 0.3, 0.3};
  double chi2 = 0;
  for (int i = 0; i < 3; ++i) chi2 += (counts[i] - n * p[i]) * (counts[i] - n * p[i]) / (n * p[i]);
  EXPECT_LT(chi2, 27.63);
}

TEST(TreeModelTest, ForestAndUnmeasuredAttributes) {
  // Edge (a, b) only; c is unmeasured (uniform) and in its own tree, so (a, c) is independent.
  Chain chain;
  std::vector<NoisyMarginal> ms = chain.Measurements();
  ms.erase(ms.begin() + 4);  // drop (c, b)
  ms.erase(ms.begin() + 2);  // drop c
  const std::vector<std::pair<int, int>> edges = {{0, 1}};
  TreeModel model = *TreeModel::Fit(chain.domain, ms, edges);
  EXPECT_THAT(model.NodeMarginal(2), ::testing::ElementsAre(0.5, 0.5));
  std::vector<double> ac = *model.PairMarginal(0, 2);
  EXPECT_NEAR(ac[0], 0.15, 1e-12);
  EXPECT_NEAR(ac[3], 0.35, 1e-12);
  EXPECT_FALSE(model.PairMarginal(0, 0).ok());
  DeterministicRandom random(4);
  EXPECT_EQ(model.Sample(random, 10, TreeModel::SampleMethod::kSystematic)->num_rows(), 10);
}

TEST(TreeModelTest, FitErrors) {
  Chain chain;
  std::vector<NoisyMarginal> ms = chain.Measurements();
  const std::vector<std::pair<int, int>> cycle = {{0, 1}, {1, 2}, {2, 0}};
  EXPECT_THAT(TreeModel::Fit(chain.domain, ms, cycle).status().message(), HasSubstr("closes a cycle"));
  const std::vector<std::pair<int, int>> self = {{1, 1}};
  EXPECT_FALSE(TreeModel::Fit(chain.domain, ms, self).ok());
  const std::vector<std::pair<int, int>> only_ab = {{0, 1}};
  EXPECT_THAT(TreeModel::Fit(chain.domain, ms, only_ab).status().message(), HasSubstr("not an edge"));
  const std::vector<std::pair<int, int>> edges = {{0, 1}, {1, 2}};
  ms[1].values.pop_back();
  EXPECT_THAT(TreeModel::Fit(chain.domain, ms, edges).status().message(), HasSubstr("2 values for 3 cells"));
  EXPECT_FALSE(TreeModel::Fit(chain.domain, std::vector<NoisyMarginal>{}, edges).ok());
}

TEST(TreeModelTest, NoisyNegativeCountsStillGiveADistribution) {
  Domain d = *Domain::Create({{"a", 3}, {"b", 3}});
  std::vector<NoisyMarginal> ms(2);
  ms[0].attrs = {0};
  ms[0].values = {-5, 10, 3};
  ms[0].sigma = 2;
  ms[1].attrs = {0, 1};
  ms[1].values = {-1, -2, -3, 4, 5, -6, 1, 1, 1};
  ms[1].sigma = 2;
  const std::vector<std::pair<int, int>> edges = {{0, 1}};
  TreeModel model = *TreeModel::Fit(d, ms, edges);
  std::vector<double> ab = *model.PairMarginal(0, 1);
  double sum = 0;
  for (double p : ab) {
    EXPECT_GE(p, 0);
    sum += p;
  }
  EXPECT_NEAR(sum, 1, 1e-9);
  for (int a = 0; a < 3; ++a) {
    EXPECT_NEAR(ab[a * 3] + ab[a * 3 + 1] + ab[a * 3 + 2], model.NodeMarginal(0)[a], 1e-9);
  }
}

}  // namespace
}  // namespace veil::synth
