#include "veil/ml/metrics.h"

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/crypto/testing/deterministic_random.h"
#include "veil/dp/random_bits.h"
#include "veil/ml/explain.h"
#include "veil/ml/fairness.h"
#include "veil/table/csv_reader.h"

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace veil::ml {
namespace metrics_test {
namespace {

using ::testing::HasSubstr;

TEST(MetricsTest, AucKnownAnswersWithTies) {
  // scikit-learn's roc_auc_score documentation example.
  EXPECT_DOUBLE_EQ(*Auc(std::vector<double>{0.1, 0.4, 0.35, 0.8}, std::vector<int>{0, 0, 1, 1}), 0.75);
  // A tie between a positive and a negative counts one half: (1 + 0.5 + 1 + 1) / 4.
  EXPECT_DOUBLE_EQ(*Auc(std::vector<double>{0.2, 0.5, 0.5, 0.9}, std::vector<int>{0, 1, 0, 1}), 0.875);
  EXPECT_DOUBLE_EQ(*Auc(std::vector<double>{0.5, 0.5, 0.5, 0.5}, std::vector<int>{0, 1, 0, 1}), 0.5);
  EXPECT_TRUE(std::isnan(*Auc(std::vector<double>{0.1, 0.2}, std::vector<int>{1, 1})));
  EXPECT_FALSE(Auc(std::vector<double>{0.1}, std::vector<int>{2}).ok());
}

// Against the O(n^2) pair count on random scores rounded to 2 decimals (many ties).
TEST(MetricsTest, AucEqualsPairCount) {
  crypto::testing::DeterministicRandom rng(4);
  dp::RandomBits bits(rng);
  std::vector<double> s;
  std::vector<int> y;
  for (int i = 0; i < 500; ++i) {
    s.push_back(static_cast<double>(bits.UniformFast(100)) / 100);
    y.push_back(static_cast<int>(bits.UniformFast(2)));
  }
  double wins = 0, pairs = 0;
  for (int i = 0; i < 500; ++i)
    for (int j = 0; j < 500; ++j) {
      if (y[i] != 1 || y[j] != 0) continue;
      pairs += 1;
      wins += s[i] > s[j] ? 1 : (s[i] == s[j] ? 0.5 : 0);
    }
  EXPECT_NEAR(*Auc(s, y), wins / pairs, 1e-12);
}

TEST(MetricsTest, BinaryConfusionLossAndCalibration) {
  const std::vector<double> s = {0.2, 0.2, 0.9, 0.9, 0.6, 0.4};
  const std::vector<int> y = {0, 1, 1, 1, 0, 0};
  auto m = EvaluateBinary(s, y, 0.5, 2);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->tp, 2);
  EXPECT_EQ(m->fp, 1);
  EXPECT_EQ(m->tn, 2);
  EXPECT_EQ(m->fn, 1);
  EXPECT_DOUBLE_EQ(m->accuracy, 4.0 / 6);
  EXPECT_DOUBLE_EQ(m->precision, 2.0 / 3);
  EXPECT_DOUBLE_EQ(m->recall, 2.0 / 3);
  const double ll = -(std::log(0.8) + std::log(0.2) + 2 * std::log(0.9) + std::log(0.4) + std::log(0.6)) / 6;
  EXPECT_NEAR(m->log_loss, ll, 1e-12);
  // Bins [0, .5): scores .2 .2 .4, mean 0.2667, rate 1/3; [.5, 1]: .9 .9 .6, mean 0.8, rate 2/3.
  ASSERT_EQ(m->calibration.size(), 2u);
  EXPECT_EQ(m->calibration[0].count, 3);
  EXPECT_NEAR(m->calibration[1].mean_score, 0.8, 1e-12);
  EXPECT_NEAR(m->ece, 0.5 * std::abs(0.8 / 3 - 1.0 / 3) + 0.5 * std::abs(0.8 - 2.0 / 3), 1e-12);
  EXPECT_FALSE(EvaluateBinary(std::vector<double>{1.5}, std::vector<int>{1}).ok());
}

TEST(MetricsTest, MulticlassAndRegression) {
  Matrix p(3, 3);
  p << 0.7, 0.2, 0.1,  //
      0.1, 0.3, 0.6,   //
      0.2, 0.5, 0.3;
  auto m = EvaluateMulticlass(p, std::vector<int>{0, 1, 1});
  ASSERT_TRUE(m.ok());
  EXPECT_DOUBLE_EQ(m->accuracy, 2.0 / 3);
  EXPECT_EQ(m->confusion[1][2], 1);
  EXPECT_DOUBLE_EQ(m->recall[1], 0.5);
  EXPECT_NEAR(m->log_loss, -(std::log(0.7) + std::log(0.3) + std::log(0.5)) / 3, 1e-12);
  auto r = EvaluateRegression(std::vector<double>{1, 2, 3}, std::vector<double>{1, 2, 4});
  ASSERT_TRUE(r.ok());
  EXPECT_NEAR(r->rmse, std::sqrt(1.0 / 3), 1e-12);
  EXPECT_NEAR(r->mae, 1.0 / 3, 1e-12);
  EXPECT_NEAR(r->r2, 1 - 1.0 / (42.0 / 9), 1e-12);
}

TEST(MetricsTest, SplitIsAPartitionOfTheRequestedSize) {
  crypto::testing::DeterministicRandom rng(1);
  auto s = TrainTestSplit(1000, 0.2, rng);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->test.size(), 200u);
  EXPECT_EQ(s->train.size(), 800u);
  std::set<int64_t> all(s->test.begin(), s->test.end());
  all.insert(s->train.begin(), s->train.end());
  EXPECT_EQ(all.size(), 1000u);
  EXPECT_FALSE(TrainTestSplit(1, 0.5, rng).ok());
}

// ---------------------------------------------------------------------------------------------------------
// Fairness.

TEST(FairnessTest, GroupRatesDisparateImpactAndVerdicts) {
  // Group A (100 rows): 50 positives; selected: 40 of the positives and 10 negatives (rate 0.5, TPR 0.8).
  // Group B (100 rows): 50 positives; selected: 15 positives and 5 negatives (rate 0.2, TPR 0.3).
  // Group C (10 rows): too small to compare.
  std::string csv = "sex,region\n";
  std::vector<double> scores;
  std::vector<int> labels;
  auto add = [&](const char* group, int n, int label, double score) {
    for (int i = 0; i < n; ++i) {
      csv += std::string(group) + ",north\n";
      scores.push_back(score);
      labels.push_back(label);
    }
  };
  add("A", 40, 1, 0.9);
  add("A", 10, 1, 0.1);
  add("A", 10, 0, 0.7);
  add("A", 40, 0, 0.2);
  add("B", 15, 1, 0.8);
  add("B", 35, 1, 0.3);
  add("B", 5, 0, 0.6);
  add("B", 45, 0, 0.1);
  add("C", 10, 1, 0.1);
  auto t = table::ReadCsvFromString(csv);
  ASSERT_TRUE(t.ok());
  auto audits = AuditFairness(*t, {"sex", "region"}, scores, labels);
  ASSERT_TRUE(audits.ok()) << audits.status();
  const AttributeAudit& sex = (*audits)[0];
  ASSERT_EQ(sex.groups.size(), 3u);
  EXPECT_DOUBLE_EQ(sex.groups[0].selection_rate, 0.5);
  EXPECT_DOUBLE_EQ(sex.groups[0].tpr, 0.8);
  EXPECT_DOUBLE_EQ(sex.groups[0].fpr, 0.2);
  EXPECT_DOUBLE_EQ(sex.groups[1].tpr, 0.3);
  EXPECT_FALSE(sex.groups[2].compared);
  EXPECT_DOUBLE_EQ(sex.demographic_parity_difference, 0.3);
  EXPECT_DOUBLE_EQ(sex.disparate_impact_ratio, 0.4);
  EXPECT_DOUBLE_EQ(sex.equal_opportunity_difference, 0.5);
  EXPECT_EQ(sex.verdict, "FAIL");
  EXPECT_THAT(sex.verdict_line, HasSubstr("sex: FAIL (disparate impact 0.40 < 0.80"));
  EXPECT_EQ((*audits)[1].verdict, "INCONCLUSIVE");  // one region only

  // The same rates in both groups pass.
  std::vector<double> fair = scores;
  for (size_t i = 100; i < 200; ++i) fair[i] = scores[i - 100];
  auto pass = AuditFairness(*t, {"sex"}, fair, labels);
  ASSERT_TRUE(pass.ok());
  EXPECT_EQ((*pass)[0].verdict, "PASS");
  EXPECT_DOUBLE_EQ((*pass)[0].disparate_impact_ratio, 1.0);
  EXPECT_FALSE(AuditFairness(*t, {"nope"}, scores, labels).ok());
}

// ---------------------------------------------------------------------------------------------------------
// Explanations.

struct Fixture {
  FeaturePipeline pipeline;
  Matrix x;
};

Fixture MakeFixture() {
  auto t = table::ReadCsvFromString("age,job,hours\n30,a,40\n50,b,\n40,c,20\n");
  EXPECT_TRUE(t.ok());
  auto p = FitFeaturePipeline(*t);
  EXPECT_TRUE(p.ok());
  return {*p, *p->Transform(*t)};
}

Model RandomModel(const ModelConfig& config, uint64_t seed) {
  Model m = *Model::Create(config);
  crypto::testing::DeterministicRandom rng(seed);
  dp::RandomBits bits(rng);
  for (int64_t k = 0; k < m.num_params(); ++k) {
    m.params()[k] = static_cast<double>(bits.Word() >> 11) * 0x1p-52 - 1;
  }
  return m;
}

TEST(ExplainTest, LinearContributionsAreExactAndGroupedByColumn) {
  const Fixture f = MakeFixture();
  const Model m = RandomModel({.task = Task::kBinary, .num_inputs = f.pipeline.num_features()}, 3);
  const Vector x = f.x.row(1).transpose();
  auto e = Explain(m, f.pipeline, x);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->method, AttributionMethod::kExactLinear);
  EXPECT_NEAR(e->logit, m.Logits(f.x)(1, 0), 1e-12);
  double sum = e->base;
  for (const auto& c : e->by_column) sum += c.contribution;
  EXPECT_NEAR(sum, e->logit, 1e-12);
  ASSERT_EQ(e->by_column.size(), 3u);
  for (size_t k = 1; k < e->by_column.size(); ++k) {
    EXPECT_GE(std::abs(e->by_column[k - 1].contribution), std::abs(e->by_column[k].contribution));
  }
  // "job" is b for this record: its contribution is exactly the weight of job=b.
  const auto& names = f.pipeline.feature_names();
  const int jb = static_cast<int>(std::find(names.begin(), names.end(), "job=b") - names.begin());
  for (const auto& c : e->by_column) {
    if (c.column == "job") {
      EXPECT_DOUBLE_EQ(c.contribution, m.Weights(0)(0, jb));
    }
  }
  // IG with the zero baseline equals the exact contributions on a linear model.
  auto ig = IntegratedGradients(m, f.pipeline, x);
  ASSERT_TRUE(ig.ok());
  for (size_t j = 0; j < e->by_feature.size(); ++j) EXPECT_NEAR(ig->by_feature[j], e->by_feature[j], 1e-12);
}

// Completeness: sum IG = logit(x) - logit(baseline), approached as the step count grows (the integrand of a
// ReLU network is piecewise constant along the path, so the midpoint rule's error falls like 1 / steps).
TEST(ExplainTest, IntegratedGradientsCompletenessForAnMlp) {
  const Fixture f = MakeFixture();
  const Model m = RandomModel({.task = Task::kMulticlass,
                               .num_inputs = f.pipeline.num_features(),
                               .num_classes = 3,
                               .hidden = {8, 6}},
                              5);
  const Vector x = f.x.row(0).transpose();
  auto coarse = Explain(m, f.pipeline, x, {.output = -1, .steps = 8});
  auto fine = Explain(m, f.pipeline, x, {.output = -1, .steps = 4096});
  ASSERT_TRUE(coarse.ok() && fine.ok());
  EXPECT_EQ(fine->method, AttributionMethod::kIntegratedGradients);
  const double gap = std::abs(fine->logit - fine->base);
  EXPECT_GT(gap, 0.01);  // a non-trivial difference to attribute
  EXPECT_LT(fine->completeness_error, 1e-3 * (1 + gap));
  EXPECT_LE(fine->completeness_error, coarse->completeness_error + 1e-12);
  // The explained output is the predicted class.
  Eigen::Index k;
  m.Logits(f.x).row(0).maxCoeff(&k);
  EXPECT_EQ(fine->output, k);
  EXPECT_FALSE(Explain(m, f.pipeline, Vector::Zero(2)).ok());
}

}  // namespace
}  // namespace metrics_test
}  // namespace veil::ml
