#include "veil/ml/model.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <numeric>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "veil/crypto/testing/deterministic_random.h"
#include "veil/ml/train.h"
#include "veil/table/csv_reader.h"

// Designated initializers leave the other fields at their defaults, which is what these tests mean.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace veil::ml {
namespace {

using ::testing::HasSubstr;

// A random design matrix and targets from a planted model (uniform features in [-1, 1]).
struct Data {
  Matrix x;
  Targets y;
};

double Uniform(dp::RandomBits& bits) { return static_cast<double>(bits.Word() >> 11) * 0x1p-53; }

Data Planted(Task task, int n, int d, uint64_t seed, int classes = 3) {
  crypto::testing::DeterministicRandom rng(seed);
  dp::RandomBits bits(rng);
  Data data;
  data.x.resize(n, d);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < d; ++j) data.x(i, j) = 2 * Uniform(bits) - 1;
  Vector w(d);
  for (int j = 0; j < d; ++j) w[j] = (j % 2 == 0 ? 2.0 : -1.5) / (1 + j / 2);
  const Vector z = data.x * w;
  if (task == Task::kRegression) {
    data.y.values = z.array() + 0.5;
  } else if (task == Task::kBinary) {
    for (int i = 0; i < n; ++i)
      data.y.classes.push_back(Uniform(bits) < 1 / (1 + std::exp(-3 * z[i])) ? 1 : 0);
  } else {
    for (int i = 0; i < n; ++i) {
      const double t = z[i] + 0.3 * (Uniform(bits) - 0.5);
      data.y.classes.push_back(t < -0.4 ? 0 : (t < 0.4 ? 1 : classes - 1));
    }
  }
  return data;
}

Model RandomModel(const ModelConfig& config, uint64_t seed) {
  auto m = Model::Create(config);
  EXPECT_TRUE(m.ok()) << m.status();
  crypto::testing::DeterministicRandom rng(seed);
  EXPECT_TRUE(m->InitializeRandom(rng).ok());
  // Non-zero output layer and biases too, so that every gradient entry is exercised.
  dp::RandomBits bits(rng);
  for (int64_t k = 0; k < m->num_params(); ++k) m->params()[k] += 0.3 * (Uniform(bits) - 0.5);
  return *m;
}

std::vector<int64_t> AllRows(int64_t n) {
  std::vector<int64_t> rows(n);
  std::iota(rows.begin(), rows.end(), 0);
  return rows;
}

// The analytic batch gradient equals the central finite difference of the summed loss (every task, with and
// without hidden layers). Tolerance: central differences have error O(h^2) ~ 1e-10 times the third
// derivative.
TEST(ModelTest, BatchGradientMatchesFiniteDifferences) {
  struct Case {
    Task task;
    std::vector<int> hidden;
  };
  for (const Case& c : std::vector<Case>{{Task::kRegression, {}},
                                         {Task::kBinary, {}},
                                         {Task::kMulticlass, {}},
                                         {Task::kBinary, {5}},
                                         {Task::kMulticlass, {4, 3}},
                                         {Task::kRegression, {6}}}) {
    const Data data = Planted(c.task, 7, 4, 11);
    Model m = RandomModel({.task = c.task, .num_inputs = 4, .num_classes = 3, .hidden = c.hidden}, 5);
    GradientWorkspace ws;
    Vector grad;
    const auto rows = AllRows(7);
    m.BatchGradient(data.x, data.y, rows, 0, ws, grad);
    for (int64_t k = 0; k < m.num_params(); ++k) {
      const double h = 1e-5, saved = m.params()[k];
      Vector unused;
      m.params()[k] = saved + h;
      const double up = m.BatchGradient(data.x, data.y, rows, 0, ws, unused);
      m.params()[k] = saved - h;
      const double down = m.BatchGradient(data.x, data.y, rows, 0, ws, unused);
      m.params()[k] = saved;
      EXPECT_NEAR(grad[k], (up - down) / (2 * h), 1e-6)
          << TaskName(c.task) << " hidden " << c.hidden.size() << " param " << k;
    }
  }
}

// Clipped batch gradient == sum over examples of each example's own gradient (a batch of one), scaled to norm
// <= C. Checks the |delta| |h| norm identity and the diag(c) trick, for logistic regression and an MLP.
TEST(ModelTest, PerExampleClippingEqualsClippingEachExampleAlone) {
  for (const std::vector<int>& hidden : {std::vector<int>{}, std::vector<int>{5, 4}}) {
    const Data data = Planted(Task::kBinary, 9, 6, 3);
    Model m = RandomModel({.task = Task::kBinary, .num_inputs = 6, .hidden = hidden}, 8);
    GradientWorkspace ws;
    Vector clipped, single;
    const double clip = 0.3;
    m.BatchGradient(data.x, data.y, AllRows(9), clip, ws, clipped);
    Vector expected = Vector::Zero(m.num_params());
    int clipped_count = 0;
    for (int64_t i = 0; i < 9; ++i) {
      const int64_t row[1] = {i};
      GradientWorkspace ws1;
      m.BatchGradient(data.x, data.y, row, 0, ws1, single);
      const double norm = single.norm();
      if (norm > clip) ++clipped_count;
      expected += norm > clip ? Vector(single * (clip / norm)) : single;
    }
    EXPECT_GT(clipped_count, 0);  // the test exercises clipping
    EXPECT_LT((clipped - expected).norm(), 1e-12 * (1 + expected.norm()));
  }
}

TEST(ModelTest, LogisticRegressionLearnsAndIsDeterministicUnderASeed) {
  const Data train = Planted(Task::kBinary, 4000, 5, 1);
  const Data test = Planted(Task::kBinary, 2000, 5, 2);
  auto run = [&](Optimizer opt) {
    Model m = *Model::Create({.task = Task::kBinary, .num_inputs = 5});
    crypto::testing::DeterministicRandom rng(42);
    TrainOptions o;
    o.optimizer = opt;
    o.learning_rate = opt == Optimizer::kAdam ? 0.05 : 0.1;
    o.epochs = 20;
    o.batch_size = 64;
    EXPECT_TRUE(Train(m, train.x, train.y, o, rng).ok());
    return m;
  };
  for (Optimizer opt : {Optimizer::kSgd, Optimizer::kAdam}) {
    const Model a = run(opt), b = run(opt);
    EXPECT_EQ(a.params(), b.params());  // bit-identical under the same seed
    // The planted model (logit 3 z) has a Bayes log loss well below the 0.693 of a constant predictor; a
    // fitted model must come close to the planted weights (2, -1.5, 1, -0.75, 0.67 times 3).
    EXPECT_LT(a.MeanLoss(test.x, test.y), 0.45);
    EXPECT_NEAR(a.Weights(0)(0, 0), 6.0, 1.0);
    EXPECT_NEAR(a.Weights(0)(0, 1), -4.5, 1.0);
  }
}

TEST(ModelTest, LinearRegressionRecoversCoefficients) {
  const Data train = Planted(Task::kRegression, 2000, 3, 4);
  Model m = *Model::Create({.task = Task::kRegression, .num_inputs = 3});
  crypto::testing::DeterministicRandom rng(1);
  TrainOptions o;
  o.epochs = 60;
  o.learning_rate = 0.02;
  o.batch_size = 32;
  ASSERT_TRUE(Train(m, train.x, train.y, o, rng).ok());
  EXPECT_NEAR(m.Weights(0)(0, 0), 2.0, 0.02);
  EXPECT_NEAR(m.Weights(0)(0, 1), -1.5, 0.02);
  EXPECT_NEAR(m.Weights(0)(0, 2), 1.0, 0.02);
  EXPECT_NEAR(m.Bias(0)[0], 0.5, 0.02);
}

TEST(ModelTest, MultinomialAndMlpLearn) {
  const Data train = Planted(Task::kMulticlass, 3000, 4, 5);
  Model m = *Model::Create({.task = Task::kMulticlass, .num_inputs = 4, .num_classes = 3});
  crypto::testing::DeterministicRandom rng(1);
  TrainOptions o;
  o.epochs = 30;
  o.learning_rate = 0.05;
  ASSERT_TRUE(Train(m, train.x, train.y, o, rng).ok());
  const Matrix p = m.Predict(train.x);
  int correct = 0;
  for (int i = 0; i < 3000; ++i) {
    Eigen::Index k;
    p.row(i).maxCoeff(&k);
    correct += k == train.y.classes[i];
  }
  EXPECT_GT(correct, 0.85 * 3000);
  EXPECT_NEAR(p.row(0).sum(), 1.0, 1e-12);

  // XOR: not linearly separable; a one-hidden-layer MLP must fit it.
  Matrix x(400, 2);
  Targets y;
  crypto::testing::DeterministicRandom r2(9);
  dp::RandomBits bits(r2);
  for (int i = 0; i < 400; ++i) {
    x(i, 0) = 2 * Uniform(bits) - 1;
    x(i, 1) = 2 * Uniform(bits) - 1;
    y.classes.push_back((x(i, 0) > 0) != (x(i, 1) > 0));
  }
  Model mlp = *Model::Create({.task = Task::kBinary, .num_inputs = 2, .hidden = {16}});
  ASSERT_TRUE(mlp.InitializeRandom(r2).ok());
  o.epochs = 300;
  o.learning_rate = 0.02;
  o.batch_size = 32;
  ASSERT_TRUE(Train(mlp, x, y, o, r2).ok());
  const Matrix q = mlp.Predict(x);
  int ok = 0;
  for (int i = 0; i < 400; ++i) ok += (q(i, 0) > 0.5) == (y.classes[i] == 1);
  EXPECT_GT(ok, 0.95 * 400);
  Model linear = *Model::Create({.task = Task::kBinary, .num_inputs = 2});
  ASSERT_TRUE(Train(linear, x, y, o, r2).ok());
  EXPECT_GT(linear.MeanLoss(x, y), 0.6);  // a linear model cannot
}

TEST(ModelTest, JsonRoundTripIsExactAndValidated) {
  Model m = RandomModel({.task = Task::kMulticlass, .num_inputs = 3, .num_classes = 4, .hidden = {5}}, 2);
  auto back = Model::FromJson(m.ToJson());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->params(), m.params());
  EXPECT_EQ(back->kind(), "mlp");
  std::string bad = m.ToJson();
  bad.replace(bad.find("\"num_inputs\": 3"), 15, "\"num_inputs\": 4");
  EXPECT_THAT(Model::FromJson(bad).status().message(), HasSubstr("params"));
  EXPECT_FALSE(Model::FromJson("[1,2]").ok());
  EXPECT_FALSE(Model::Create({.task = Task::kBinary, .num_inputs = 2, .hidden = {2, 2, 2}}).ok());
}

// Sizes are checked before allocation, with errors naming the field: shapes declaring 2^24 inputs and two
// hidden layers of 2^20 units (2^44 + 2^40 + 2^20 parameters, 140 TB) with a short "params" must be refused
// without allocating them (the test would abort with bad_alloc otherwise).
TEST(ModelTest, FromJsonChecksSizesBeforeAllocating) {
  nlohmann::json j =
      nlohmann::json::parse(RandomModel({.task = Task::kBinary, .num_inputs = 2, .hidden = {3}}, 1).ToJson());
  const auto error = [](const nlohmann::json& doc) { return Model::FromJson(doc.dump()).status(); };
  nlohmann::json huge = j;
  huge["num_inputs"] = 1 << 24;
  huge["hidden"] = {1 << 20, 1 << 20};
  EXPECT_EQ(error(huge).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(error(huge).message(), HasSubstr("\"params\" has 13 numbers"));
  EXPECT_THAT(error(huge).message(),
              HasSubstr("need 18691700817921"));  // 2^20 (2^24+1) + 2^20 (2^20+1) + 2^20 + 1
  nlohmann::json three = j;
  three["hidden"] = {1, 1, 1};
  EXPECT_THAT(error(three).message(), HasSubstr("\"hidden\" has more than two layers"));
  nlohmann::json kind = j;
  kind["kind"] = "logreg";
  EXPECT_THAT(error(kind).message(), HasSubstr("\"kind\""));
  nlohmann::json classes = j;
  classes["num_classes"] = 5;
  EXPECT_THAT(error(classes).message(), HasSubstr("\"num_classes\" must be 2"));
  nlohmann::json multi = j;
  multi["task"] = "multiclass";
  multi["num_classes"] = 3;  // output layer 3 x 4 instead of 1 x 4: 8 parameters short
  EXPECT_THAT(error(multi).message(), HasSubstr("need 21"));
  nlohmann::json nan = j;
  nan["params"][4] = "x";
  EXPECT_THAT(error(nan).message(), HasSubstr("params[4]"));
}

// Fuzz-style: every truncation of a valid model's JSON, and 3,000 seeded mutations (a byte replaced by one of
// the characters that change JSON structure or numbers, a byte deleted, a number replaced by an extreme
// one), never crash and never allocate beyond the text: each either fails with InvalidArgument or yields a
// model whose parameter count is what its own shapes imply and which round-trips.
TEST(ModelTest, FromJsonSurvivesTruncatedAndMutatedInput) {
  const std::string text =
      RandomModel({.task = Task::kMulticlass, .num_inputs = 3, .num_classes = 3, .hidden = {4}}, 9).ToJson();
  const auto check = [](const std::string& candidate) {
    absl::StatusOr<Model> m = Model::FromJson(candidate);
    if (!m.ok()) {
      EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument) << m.status();
      return false;
    }
    int64_t want = 0, in = m->num_inputs();
    for (int h : m->config().hidden) {
      want += static_cast<int64_t>(h) * (in + 1);
      in = h;
    }
    want += static_cast<int64_t>(m->num_outputs()) * (in + 1);
    EXPECT_EQ(m->num_params(), want);
    absl::StatusOr<Model> again = Model::FromJson(m->ToJson());
    EXPECT_TRUE(again.ok() && again->params() == m->params());
    return true;
  };
  for (size_t n = 0; n < text.size(); ++n) EXPECT_FALSE(check(text.substr(0, n))) << "prefix " << n;
  EXPECT_TRUE(check(text));
  crypto::testing::DeterministicRandom rng(2024);
  dp::RandomBits bits(rng);
  const std::string alphabet = "{}[]\",:-.e9012 tn";
  const char* extremes[] = {"16777216", "1048576", "-1", "0", "1e308", "4294967297", "18446744073709551615"};
  int accepted = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::string t = text;
    const size_t pos = bits.UniformFast(t.size());
    switch (trial % 3) {
      case 0:
        t[pos] = alphabet[bits.UniformFast(alphabet.size())];
        break;
      case 1:
        t.erase(pos, 1);
        break;
      default: {
        // Replace the number starting at or after pos (if any) by an extreme value.
        const size_t start = t.find_first_of("-0123456789", pos);
        if (start == std::string::npos) break;
        const size_t end = t.find_first_not_of("-+.e0123456789", start);
        t.replace(start, end - start, extremes[bits.UniformFast(std::size(extremes))]);
      }
    }
    accepted += check(t) ? 1 : 0;
  }
  // Most mutations break the document; some (a digit of a parameter changed) leave a valid model.
  EXPECT_GT(accepted, 0);
  EXPECT_LT(accepted, 3000);
}

TEST(ModelTest, CheckModelPartsMatchesPipelineWidthAndClasses) {
  auto t = table::ReadCsvFromString("age,job\n30,a\n40,b\n");
  ASSERT_TRUE(t.ok());
  auto p = FitFeaturePipeline(*t);  // age, job=a, job=b: 3 features
  ASSERT_TRUE(p.ok());
  const Model binary = *Model::Create({.task = Task::kBinary, .num_inputs = 3});
  EXPECT_TRUE(CheckModelParts(binary, *p, {"no", "yes"}).ok());
  EXPECT_THAT(CheckModelParts(binary, *p, {"no"}).message(), HasSubstr("\"classes\" has 1 names"));
  const Model wide = *Model::Create({.task = Task::kRegression, .num_inputs = 4});
  EXPECT_THAT(CheckModelParts(wide, *p, {}).message(),
              HasSubstr("\"num_inputs\" is 4 but the pipeline encodes 3 features"));
  const Model multi = *Model::Create({.task = Task::kMulticlass, .num_inputs = 3, .num_classes = 3});
  EXPECT_EQ(CheckModelParts(multi, *p, {"a", "b"}).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ModelTest, ExportLinearModelJsonHasTheHeFormat) {
  auto t = table::ReadCsvFromString("age,job\n30,a\n40,b\n50,a\n");
  ASSERT_TRUE(t.ok());
  auto p = FitFeaturePipeline(*t);
  ASSERT_TRUE(p.ok());
  Model m = RandomModel({.task = Task::kBinary, .num_inputs = p->num_features()}, 1);
  auto text = ExportLinearModelJson(m, *p, {"no", "yes"});
  ASSERT_TRUE(text.ok()) << text.status();
  const nlohmann::json j = nlohmann::json::parse(*text);
  EXPECT_EQ(j["format"], "veil-linear-model");
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["kind"], "logistic");
  EXPECT_EQ(j["features"], nlohmann::json({"age", "job=a", "job=b"}));
  EXPECT_EQ(j["weights"].size(), 3u);
  EXPECT_EQ(j["bias"].get<double>(), m.Bias(0)[0]);
  EXPECT_EQ(j["standardization"]["means"][0].get<double>(), 40.0);
  EXPECT_EQ(j["standardization"]["scales"][1].get<double>(), 1.0);
  // The format's logit: bias + sum w (x - mean) / scale on the raw inputs equals the model's logit.
  const Matrix x = *p->Transform(*t);
  const double raw[3] = {30, 1, 0};
  double logit = j["bias"].get<double>();
  for (int f = 0; f < 3; ++f) {
    logit += j["weights"][f].get<double>() * (raw[f] - j["standardization"]["means"][f].get<double>()) /
             j["standardization"]["scales"][f].get<double>();
  }
  EXPECT_NEAR(logit, m.Logits(x)(0, 0), 1e-12);
  Model mlp = RandomModel({.task = Task::kBinary, .num_inputs = 3, .hidden = {2}}, 1);
  EXPECT_FALSE(ExportLinearModelJson(mlp, *p).ok());
}

// ---------------------------------------------------------------------------------------------------------
// DP-SGD.

TEST(DpSgdTest, PlanCalibratesToTheTargetWithTheAccountant) {
  TrainOptions o;
  o.epochs = 5;
  o.batch_size = 500;
  auto plan = PlanDpSgd(30000, 100, o, {.epsilon = 1, .delta = 1e-5, .clip_norm = 1});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_NEAR(plan->sampling_rate, 500.0 / 30000, 1e-9);
  EXPECT_EQ(plan->steps, 300);
  EXPECT_LE(plan->cost.epsilon, 1.0);
  EXPECT_GT(plan->cost.epsilon, 0.999);  // calibrated to within the bisection's accuracy
  EXPECT_EQ(plan->cost.delta, 1e-5);
  auto eps = dp::DpSgdEpsilon(plan->sampling_rate, plan->noise_multiplier, plan->steps, 1e-5);
  ASSERT_TRUE(eps.ok());
  EXPECT_DOUBLE_EQ(*eps, plan->cost.epsilon);
  EXPECT_GE(plan->noise_sigma, plan->noise_multiplier * plan->clip_norm);
  EXPECT_LT(plan->noise_sigma, plan->noise_multiplier * plan->clip_norm * (1 + 1e-4));
  EXPECT_EQ(plan->privacy.total.epsilon, plan->cost.epsilon);
  // A smaller epsilon needs more noise.
  auto tighter = PlanDpSgd(30000, 100, o, {.epsilon = 0.5, .delta = 1e-5, .clip_norm = 1});
  ASSERT_TRUE(tighter.ok());
  EXPECT_GT(tighter->noise_multiplier, plan->noise_multiplier);
  EXPECT_FALSE(PlanDpSgd(30000, 100, o, {.epsilon = 0, .delta = 1e-5, .clip_norm = 1}).ok());
  EXPECT_FALSE(PlanDpSgd(30000, 100, o, {.epsilon = 1, .delta = 0, .clip_norm = 1}).ok());
  EXPECT_FALSE(PlanDpSgd(30000, 100, o, {.epsilon = 1, .delta = 1e-5, .clip_norm = -1}).ok());
  o.batch_size = 40000;
  EXPECT_FALSE(PlanDpSgd(30000, 100, o, {.epsilon = 1, .delta = 1e-5, .clip_norm = 1}).ok());
}

// Poisson sampling: over many draws, each index is included with probability q. With n = 1000, q = 0.1 and
// 400 draws, the total count is Binomial(400000, 0.1): mean 40000, sd 190; 5 sd = 950. Per-index counts are
// Binomial(400, 0.1) (sd 6): the first and last index must not be systematically off (+-30 = 5 sd).
TEST(DpSgdTest, PoissonSamplingIncludesEachRecordWithProbabilityQ) {
  crypto::testing::DeterministicRandom rng(3);
  dp::RandomBits bits(rng);
  const uint64_t s = internal::GeometricScaleForRate(0.1);
  std::vector<int64_t> batch, counts(1000, 0);
  int64_t total = 0;
  for (int draw = 0; draw < 400; ++draw) {
    ASSERT_TRUE(internal::PoissonSample(bits, 1000, s, batch).ok());
    for (size_t k = 1; k < batch.size(); ++k) ASSERT_LT(batch[k - 1], batch[k]);
    for (int64_t i : batch) ++counts[i];
    total += static_cast<int64_t>(batch.size());
  }
  EXPECT_NEAR(total, 40000, 950);
  EXPECT_NEAR(counts[0], 40, 30);
  EXPECT_NEAR(counts[999], 40, 30);
}

TEST(DpSgdTest, TrainsAUsefulModelDeterministicallyUnderATestSeed) {
  const Data train = Planted(Task::kBinary, 20000, 5, 1);
  const Data test = Planted(Task::kBinary, 4000, 5, 2);
  auto run = [&] {
    Model m = *Model::Create({.task = Task::kBinary, .num_inputs = 5});
    crypto::testing::DeterministicRandom rng(77);
    TrainOptions o;
    o.epochs = 5;
    o.batch_size = 500;
    o.learning_rate = 0.1;
    auto plan = TrainDpSgd(m, train.x, train.y, o, {.epsilon = 1, .delta = 1e-5, .clip_norm = 1}, rng);
    EXPECT_TRUE(plan.ok()) << plan.status();
    return m;
  };
  const Model a = run(), b = run();
  EXPECT_EQ(a.params(), b.params());
  EXPECT_LT(a.MeanLoss(test.x, test.y), 0.5);  // constant predictor: 0.693
  EXPECT_GT(a.Weights(0)(0, 0), 1.0);          // planted +6
  EXPECT_LT(a.Weights(0)(0, 1), -1.0);         // planted -4.5
}

// The noise of EVERY step, through the public API: no rows (the clipped sum is exactly 0), q = 1 over N = 100
// public records, T = 5 epochs = 5 steps (one per epoch, so the progress callback runs after each step and
// records the parameters), plain SGD with learning rate N and no momentum, decay or penalty: step t moves the
// parameters by -noise_t / q exactly. So z_t = noise_t / sigma, P = 4001 values per step, should be i.i.d.
// N(0, 1) with sigma = plan.noise_sigma.
// Tolerances (critical values computed with mpmath's regularized incomplete gamma, two-sided, 1e-7 per
// test, so the whole test has a false-failure probability below 1e-6 for this fixed seed's family):
//   per step   sum_i z_ti^2 ~ chi^2(4001): in [3542.61, 4495.88] (a step without noise, or with twice the
//              noise, fails);
//   pooled     sum_t sum_i z_ti^2 ~ chi^2(20005): in [18957.71, 21088.79], i.e. the sample variance within
//              -5.2% / +5.4% of sigma^2: a sigma 4% too large or too small fails with probability > 0.99;
//   mean       sum z / sqrt(20005) ~ N(0, 1): |.| < 5.327;
//   steps independent: the correlation of consecutive steps' noise ~ N(0, 1 / 4001): |r| < 5.327 / sqrt(4001)
//              (noise reused across steps fails);
//   shape      the 20005 values in the 10 deciles of N(0, 1): chi^2 with 9 df < 44.81 (1e-6; uniform or
//              Laplace noise of the right variance fails).
TEST(DpSgdTest, EveryStepAddsGaussianNoiseWithTheCalibratedSigma) {
  constexpr int kInputs = 4000;
  constexpr int kRecords = 100;
  constexpr int kSteps = 5;
  constexpr double kMultiplier = 1.3, kClip = 0.7;
  const Matrix none(0, kInputs);
  const Targets no_targets;
  Model m = *Model::Create({.task = Task::kBinary, .num_inputs = kInputs});
  crypto::testing::DeterministicRandom rng(11);
  TrainOptions o;
  o.epochs = kSteps;
  o.batch_size = kRecords;  // q = 1: one step per epoch
  o.optimizer = Optimizer::kSgd;
  o.momentum = 0;
  o.learning_rate = kRecords;
  std::vector<Vector> after;  // the parameters after each step
  o.progress = [&](int, int, double loss) {
    EXPECT_TRUE(std::isnan(loss));  // DP mode reports no data-dependent loss
    after.push_back(m.params());
  };
  auto plan = TrainDpSgd(m, none, no_targets, o,
                         {.epsilon = 1, .delta = 1e-5, .clip_norm = kClip, .noise_multiplier = kMultiplier},
                         rng, /*public_num_records=*/kRecords);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->steps, kSteps);
  ASSERT_EQ(after.size(), static_cast<size_t>(kSteps));
  ASSERT_NEAR(plan->sampling_rate, 1, 1e-6);
  const double sigma = plan->noise_sigma;
  EXPECT_GE(sigma, kMultiplier * kClip);
  EXPECT_LE(sigma, kMultiplier * kClip * 1.001);
  const int64_t p = m.num_params();
  ASSERT_EQ(p, kInputs + 1);

  std::vector<Vector> z;
  Vector previous = Vector::Zero(p);  // the model starts at zero
  for (const Vector& now : after) {
    z.push_back(-(now - previous) * plan->sampling_rate / sigma);  // noise_t / sigma
    previous = now;
  }
  const double deciles[9] = {
      -1.2815515655446006, -0.8416212335729142, -0.5244005127080407, -0.2533471031357997, 0.0,
      0.2533471031357997,  0.5244005127080407,  0.8416212335729142,  1.2815515655446006};
  double pooled = 0, sum = 0;
  std::vector<int64_t> cells(10, 0);
  for (int t = 0; t < kSteps; ++t) {
    const double squares = z[t].squaredNorm();
    EXPECT_GT(squares, 3542.61) << "step " << t + 1;
    EXPECT_LT(squares, 4495.88) << "step " << t + 1;
    pooled += squares;
    sum += z[t].sum();
    for (int64_t i = 0; i < p; ++i) {
      ++cells[std::upper_bound(std::begin(deciles), std::end(deciles), z[t][i]) - std::begin(deciles)];
    }
    if (t > 0) {
      const double r = z[t].dot(z[t - 1]) / std::sqrt(z[t].squaredNorm() * z[t - 1].squaredNorm());
      EXPECT_LT(std::abs(r), 5.327 / std::sqrt(static_cast<double>(p))) << "steps " << t << ", " << t + 1;
    }
  }
  const double n = static_cast<double>(kSteps * p);
  EXPECT_GT(pooled, 18957.71) << "sample variance / sigma^2 = " << pooled / n;
  EXPECT_LT(pooled, 21088.79) << "sample variance / sigma^2 = " << pooled / n;
  EXPECT_LT(std::abs(sum / std::sqrt(n)), 5.327);
  double chi2 = 0;
  for (int64_t c : cells) chi2 += (c - n / 10) * (c - n / 10) / (n / 10);
  EXPECT_LT(chi2, 44.81);
}

// A plan charged for N public records holds when per-record filtering left fewer rows: q, T and the noise
// are those of N, never of x.rows(); more rows than N are refused.
TEST(DpSgdTest, PublicNumberOfRecordsFixesThePlan) {
  const Data train = Planted(Task::kBinary, 900, 3, 1);
  TrainOptions o;
  o.epochs = 2;
  o.batch_size = 100;
  DpSgdOptions charged;
  charged.epsilon = 2;
  auto planned = PlanDpSgd(1000, 4, o, charged);
  ASSERT_TRUE(planned.ok()) << planned.status();
  Model m = *Model::Create({.task = Task::kBinary, .num_inputs = 3});
  crypto::testing::DeterministicRandom rng(3);
  auto ran = TrainDpSgd(m, train.x, train.y, o, charged, rng, /*public_num_records=*/1000);
  ASSERT_TRUE(ran.ok()) << ran.status();
  EXPECT_EQ(ran->num_records, 1000);
  EXPECT_EQ(ran->steps, planned->steps);
  EXPECT_EQ(ran->sampling_rate, planned->sampling_rate);
  EXPECT_EQ(ran->noise_multiplier, planned->noise_multiplier);
  EXPECT_EQ(ran->cost.epsilon, planned->cost.epsilon);
  EXPECT_EQ(TrainDpSgd(m, train.x, train.y, o, charged, rng, /*public_num_records=*/800).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace veil::ml
