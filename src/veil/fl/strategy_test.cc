#include "veil/fl/strategy.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/crypto/testing/deterministic_random.h"
#include "veil/fl/quantize.h"
#include "veil/ml/model.h"
#include "veil/ml/train.h"

// Designated initializers leave the other fields at their defaults, which is what these tests mean.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace veil::fl {
namespace strategy_test {
namespace {

using ::testing::HasSubstr;
constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

TEST(StrategyTest, ParsesAndNamesEveryKind) {
  for (const char* name : {"fedavg", "fedprox", "fedadam", "fedyogi", "fedadagrad"}) {
    auto kind = ParseStrategyKind(name);
    ASSERT_TRUE(kind.ok()) << name;
    EXPECT_EQ(StrategyName(*kind), name);
  }
  auto bad = ParseStrategyKind("FedAvg");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("fedavg, fedprox, fedadam, fedyogi, fedadagrad"));
}

TEST(StrategyTest, ValidateRejectsBadOptions) {
  EXPECT_TRUE(StrategyOptions{}.Validate().ok());
  EXPECT_TRUE((StrategyOptions{.kind = StrategyKind::kFedProx, .proximal_mu = 0.1}).Validate().ok());
  for (const StrategyOptions& o : {
           StrategyOptions{.server_learning_rate = 0}, StrategyOptions{.server_learning_rate = kNan},
           StrategyOptions{.kind = StrategyKind::kFedAdam, .beta1 = 1},
           StrategyOptions{.kind = StrategyKind::kFedAdam, .beta2 = -0.1},
           StrategyOptions{.kind = StrategyKind::kFedYogi, .tau = 0},
           StrategyOptions{.kind = StrategyKind::kFedProx},                       // mu = 0 is FedAvg
           StrategyOptions{.kind = StrategyKind::kFedAvg, .proximal_mu = 0.1},    // mu without fedprox
           StrategyOptions{.kind = StrategyKind::kFedProx, .proximal_mu = kNan},  // not finite
       }) {
    EXPECT_EQ(o.Validate().code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_THAT(StrategyOptions{.server_learning_rate = -1}.Validate().message(),
              HasSubstr("server_learning_rate"));
  EXPECT_EQ(Strategy::Create(StrategyOptions{}, 0).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(StrategyTest, WeightedMeanWeighsByExamples) {
  // (1 * [1, 2] + 3 * [3, 4]) / 4 = [2.5, 3.5]; a client with 0 examples does not count.
  const std::vector<ClientUpdate> updates = {{{1, 2}, 1}, {{3, 4}, 3}, {{100, 100}, 0}};
  auto mean = WeightedMean(updates);
  ASSERT_TRUE(mean.ok()) << mean.status();
  EXPECT_EQ(*mean, (std::vector<double>{2.5, 3.5}));
}

TEST(StrategyTest, WeightedMeanRejectsBadInput) {
  EXPECT_EQ(WeightedMean({}).status().code(), absl::StatusCode::kInvalidArgument);
  const std::vector<ClientUpdate> empty = {{{}, 1}};
  EXPECT_EQ(WeightedMean(empty).status().code(), absl::StatusCode::kInvalidArgument);
  const std::vector<ClientUpdate> mismatch = {{{1, 2}, 1}, {{3}, 1}};
  EXPECT_THAT(WeightedMean(mismatch).status().message(), HasSubstr("client 1 sent 1 values"));
  const std::vector<ClientUpdate> negative = {{{1, 2}, -1}};
  EXPECT_THAT(WeightedMean(negative).status().message(), HasSubstr("negative"));
  const std::vector<ClientUpdate> nan = {{{1, 2}, 1}, {{3, kNan}, 1}};
  EXPECT_THAT(WeightedMean(nan).status().message(), HasSubstr("client 1 update[1] is not finite"));
  const std::vector<ClientUpdate> zero = {{{1, 2}, 0}};
  EXPECT_THAT(WeightedMean(zero).status().message(), HasSubstr("no examples"));
}

// The weight inside the secure sum: the capped weighted mean without n_k leaving the client. max_examples
// 4: weights 1/4 and 4/4 (6 is capped at 4), so the mean is (0.25 * 8 + 1 * 3) / 1.25 = 4.
TEST(StrategyTest, WeightedSecAggInputCarriesTheWeightInTheSum) {
  const ClientUpdate a{{8, -8}, 1}, b{{3, 2}, 6};
  auto ya = SecAggWeightedInput(a, 4), yb = SecAggWeightedInput(b, 4);
  ASSERT_TRUE(ya.ok() && yb.ok());
  EXPECT_EQ(*ya, (std::vector<float>{2, -2, 0.25}));
  EXPECT_EQ(*yb, (std::vector<float>{3, 2, 1}));
  // Decoded at scale 2^6 (1.25 = 80/64); the weight sum of 2 sites must lie in [2 * 16, 2 * 64] / 64.
  auto q = Quantizer::Create({.clip = 8, .scale = 0x1p6, .max_clients = 2});
  ASSERT_TRUE(q.ok()) << q.status();
  const std::vector<double> sum = {5, 0, 1.25};
  auto mean = MeanFromWeightedSecAggSum(sum, 2, 4, *q);
  ASSERT_TRUE(mean.ok()) << mean.status();
  EXPECT_EQ(*mean, (std::vector<double>{4, 0}));
  // Same as WeightedMean with the capped counts.
  const std::vector<ClientUpdate> capped = {{{8, -8}, 1}, {{3, 2}, 4}};
  EXPECT_EQ(*WeightedMean(capped), *mean);
  EXPECT_EQ(SecAggWeightedInput(a, 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SecAggWeightedInput({{kNan}, 1}, 4).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SecAggWeightedInput({{1}, 0}, 4).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SecAggWeightedInput({{}, 1}, 4).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MeanFromWeightedSecAggSum(std::vector<double>{1}, 2, 4, *q).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(MeanFromWeightedSecAggSum(std::vector<double>{1, kNan, 1}, 2, 4, *q).status().message(),
              HasSubstr("sum[1]"));
  EXPECT_EQ(MeanFromWeightedSecAggSum(sum, 0, 4, *q).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MeanFromWeightedSecAggSum(sum, 2, 0, *q).status().code(), absl::StatusCode::kInvalidArgument);
  auto small_clip = Quantizer::Create({.clip = 0.5, .scale = 0x1p6, .max_clients = 2});
  ASSERT_TRUE(small_clip.ok());
  EXPECT_THAT(MeanFromWeightedSecAggSum(sum, 2, 4, *small_clip).status().message(), HasSubstr(">= 1"));
  // With max_examples 1000 at scale 2^6 a smallest weight may round to 0 (floor(0.001 * 64) = 0), so a zero
  // sum is inside the range: every weight rounded away, a configuration problem.
  EXPECT_EQ(MeanFromWeightedSecAggSum(std::vector<double>{1, 0}, 2, 1000, *q).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

// Under secure aggregation each site's weight hides in the sum, so the coordinator checks the sum: |U| sites
// with weights in [1/max_examples, 1] give W in [|U| / max_examples, |U|], widened by the rounding of each
// weight to the scale. Three sites, max_examples 4, scale 2^6: W in [0.75, 3] (0.25 * 64 = 16 and 1 * 64 are
// integers, so no widening here).
TEST(StrategyTest, WeightedSecAggMeanRefusesAWeightSumNoHonestSitesCanProduce) {
  auto q = Quantizer::Create({.clip = 4, .scale = 0x1p6, .max_clients = 3});
  ASSERT_TRUE(q.ok()) << q.status();
  crypto::testing::DeterministicRandom rng(3);
  // Each site has one example (w = 1/4) and the update (0.5, -1). `weight` replaces one site's weight
  // coordinate, as a malicious site can: it encodes whatever it likes.
  const auto round = [&](float weight) {
    std::vector<uint32_t> sum(3, 0);
    for (int k = 0; k < 3; ++k) {
      std::vector<float> y = *SecAggWeightedInput({{0.5, -1}, 1}, 4);
      if (k == 2) y.back() = weight;
      auto enc = q->Encode(y, rng);
      EXPECT_TRUE(enc.ok());
      for (size_t j = 0; j < 3; ++j) sum[j] += (*enc)[j];
    }
    return MeanFromWeightedSecAggSum(*q->DecodeSum(sum), 3, 4, *q);
  };
  auto honest = round(0.25f);  // W = 0.75, the lower end of the range
  ASSERT_TRUE(honest.ok()) << honest.status();
  EXPECT_EQ(*honest, (std::vector<double>{0.5, -1}));
  // A negative weight (W = 0.25: the mean would be 3x too large) and one above the maximum (W = 3.5).
  for (float bad : {-0.25f, 3.0f}) {
    auto refused = round(bad);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(refused.status().message(), HasSubstr("outside [0.75, 3], the range 3 sites with weights in "
                                                      "[1/4, 1] can produce"));
    // The range only: never the decoded sum (0.25 or 3.5).
    EXPECT_THAT(refused.status().message(), ::testing::Not(HasSubstr("0.25")));
    EXPECT_THAT(refused.status().message(), ::testing::Not(HasSubstr("3.5")));
  }
  // What cannot be checked: a site claiming the largest weight (1 instead of 1/4) stays inside the range.
  EXPECT_TRUE(round(1.0f).ok());
}

// The rounding slack: max_examples 3 at scale 2^6, so float(1/3) * 64 = 21.33 is sent as 21 or 22. Three
// honest sites of one example each can all round down, W = 63/64 < 3 * (1/3): that sum must pass, one unit
// less cannot come from honest sites.
TEST(StrategyTest, WeightedSecAggWeightRangeAllowsOneRoundingStepPerSite) {
  auto q = Quantizer::Create({.clip = 1, .scale = 0x1p6, .max_clients = 3});
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_TRUE(MeanFromWeightedSecAggSum(std::vector<double>{0, 63.0 / 64}, 3, 3, *q).ok());
  EXPECT_EQ(MeanFromWeightedSecAggSum(std::vector<double>{0, 62.0 / 64}, 3, 3, *q).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(MeanFromWeightedSecAggSum(std::vector<double>{0, 3}, 3, 3, *q).ok());
  EXPECT_EQ(MeanFromWeightedSecAggSum(std::vector<double>{0, 3 + 1.0 / 64}, 3, 3, *q).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Through the real Quantizer at a coarse scale (2^6, so the rounding is visible): the decoded weighted mean
// is within the bound of strategy.h of the exact capped weighted mean, coordinate by coordinate. The bound
// is tight enough to matter: about (3/64 + 0.3 * 3/64) / 2.2 = 0.028 on coordinate 0, whose exact mean is
// 0.66 / 2.2 = 0.3, while dividing by the client count (0.66 / 3 = 0.22) would miss it by 0.08.
TEST(StrategyTest, WeightedSecAggMeanIsWithinTheQuantizationBound) {
  constexpr int64_t kMax = 50;
  const std::vector<ClientUpdate> clients = {
      {{0.3, -0.7, 0.05, 0.9}, 10}, {{-0.2, 0.4, 0.6, -0.1}, 50}, {{0.8, 0.1, -0.9, 0.33}, 80}};
  auto q = Quantizer::Create({.clip = 1, .scale = 0x1p6, .max_clients = 3});
  ASSERT_TRUE(q.ok()) << q.status();
  crypto::testing::DeterministicRandom rng(12);
  std::vector<uint32_t> sum(5, 0);
  std::vector<ClientUpdate> capped;
  std::vector<double> a(4, 0.0);
  double b = 0;
  for (const ClientUpdate& c : clients) {
    auto y = SecAggWeightedInput(c, kMax);
    ASSERT_TRUE(y.ok());
    auto enc = q->Encode(*y, rng);
    ASSERT_TRUE(enc.ok());
    for (size_t j = 0; j < sum.size(); ++j) sum[j] += (*enc)[j];
    const double w = *SecAggWeight(c.num_examples, kMax);
    for (size_t j = 0; j < 4; ++j) a[j] += std::abs((*y)[j] - w * c.update[j]) + 1 / q->scale();
    b += std::abs((*y)[4] - w) + 1 / q->scale();
    capped.push_back({c.update, std::min(c.num_examples, kMax)});
  }
  auto decoded = q->DecodeSum(sum);
  ASSERT_TRUE(decoded.ok());
  auto mean = MeanFromWeightedSecAggSum(*decoded, clients.size(), kMax, *q);
  ASSERT_TRUE(mean.ok()) << mean.status();
  auto exact = WeightedMean(capped);
  ASSERT_TRUE(exact.ok());
  for (size_t j = 0; j < 4; ++j) {
    const double bound = (a[j] + std::abs((*exact)[j]) * b) / decoded->back();
    EXPECT_LE(std::abs((*mean)[j] - (*exact)[j]), bound) << j;
    EXPECT_LT(bound, 0.1) << j;
  }
}

TEST(StrategyTest, FedAvgAndFedProxStepIsEtaTimesTheMean) {
  for (StrategyKind kind : {StrategyKind::kFedAvg, StrategyKind::kFedProx}) {
    auto s = Strategy::Create(
        {.kind = kind, .server_learning_rate = 0.5, .proximal_mu = kind == StrategyKind::kFedProx ? 0.01 : 0},
        2);
    ASSERT_TRUE(s.ok()) << s.status();
    std::vector<double> global = {1, 2};
    const std::vector<double> delta = {0.5, -1};
    ASSERT_TRUE(s->Apply(delta, global).ok());
    EXPECT_EQ(global, (std::vector<double>{1.25, 1.5}));
    EXPECT_EQ(s->steps(), 1);
  }
}

// Two steps of Reddi et al.'s Algorithm 2 by hand: tau = 0.5 (so v_{-1} = 0.25), eta = 1, beta1 = 0.9,
// beta2 = 0.99, x_0 = [1, 1], Delta_1 = [1, -2], Delta_2 = [0.1, 0.1]. For all three:
//   m_1 = 0.1 Delta_1 = [0.1, -0.2];  m_2 = 0.9 m_1 + 0.1 Delta_2 = [0.1, -0.17].
struct AdaptiveCase {
  StrategyKind kind;
  double v1[2], v2[2];
};
// Adam:    v_1 = 0.99 * 0.25 + 0.01 [1, 4] = [0.2575, 0.2875];  v_2 = 0.99 v_1 + 0.01 * 0.01.
// Yogi:    v_0 - Delta^2 < 0, so v_1 = 0.25 + 0.01 [1, 4] = [0.26, 0.29]; then v_1 - 0.01 > 0, so
//          v_2 = v_1 - 0.01 * 0.01 = [0.2599, 0.2899].
// Adagrad: v_1 = 0.25 + [1, 4] = [1.25, 4.25];  v_2 = v_1 + 0.01 = [1.26, 4.26].
const AdaptiveCase kAdaptiveCases[] = {
    {StrategyKind::kFedAdam, {0.2575, 0.2875}, {0.255025, 0.284725}},
    {StrategyKind::kFedYogi, {0.26, 0.29}, {0.2599, 0.2899}},
    {StrategyKind::kFedAdagrad, {1.25, 4.25}, {1.26, 4.26}},
};

TEST(StrategyTest, AdaptiveOptimizersMatchHandComputedSteps) {
  for (const AdaptiveCase& c : kAdaptiveCases) {
    SCOPED_TRACE(StrategyName(c.kind));
    auto s = Strategy::Create(
        {.kind = c.kind, .server_learning_rate = 1, .beta1 = 0.9, .beta2 = 0.99, .tau = 0.5}, 2);
    ASSERT_TRUE(s.ok()) << s.status();
    std::vector<double> x = {1, 1};
    ASSERT_TRUE(s->Apply(std::vector<double>{1, -2}, x).ok());
    const double x1[2] = {1 + 0.1 / (std::sqrt(c.v1[0]) + 0.5), 1 - 0.2 / (std::sqrt(c.v1[1]) + 0.5)};
    EXPECT_NEAR(x[0], x1[0], 1e-14);
    EXPECT_NEAR(x[1], x1[1], 1e-14);
    ASSERT_TRUE(s->Apply(std::vector<double>{0.1, 0.1}, x).ok());
    EXPECT_NEAR(x[0], x1[0] + 0.1 / (std::sqrt(c.v2[0]) + 0.5), 1e-14);
    EXPECT_NEAR(x[1], x1[1] - 0.17 / (std::sqrt(c.v2[1]) + 0.5), 1e-14);
  }
}

TEST(StrategyTest, ApplyRejectsBadInputAndChangesNothing) {
  auto s = Strategy::Create({.kind = StrategyKind::kFedAdam, .server_learning_rate = 0.1}, 2);
  ASSERT_TRUE(s.ok());
  const std::string before = s->SerializeState();
  std::vector<double> global = {1, 2};
  EXPECT_EQ(s->Apply(std::vector<double>{1}, global).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s->Apply(std::vector<double>{1, kNan}, global).message(), HasSubstr("mean update[1]"));
  std::vector<double> bad_global = {kNan, 0};
  EXPECT_THAT(s->Apply(std::vector<double>{1, 1}, bad_global).message(), HasSubstr("global model[0]"));
  EXPECT_EQ(global, (std::vector<double>{1, 2}));
  EXPECT_EQ(s->SerializeState(), before);
  EXPECT_EQ(s->steps(), 0);
  // A step that overflows: FailedPrecondition, and still nothing changes.
  auto big = Strategy::Create({.server_learning_rate = 1e308}, 1);
  std::vector<double> g = {1e308};
  EXPECT_EQ(big->Apply(std::vector<double>{1e308}, g).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(g[0], 1e308);
}

// A coordinator checkpoint: state after 3 steps, restored into a fresh Strategy, continues bit-identically.
TEST(StrategyTest, CheckpointRoundTripContinuesBitIdentically) {
  for (StrategyKind kind :
       {StrategyKind::kFedAvg, StrategyKind::kFedAdam, StrategyKind::kFedYogi, StrategyKind::kFedAdagrad}) {
    SCOPED_TRACE(StrategyName(kind));
    const StrategyOptions o{.kind = kind, .server_learning_rate = 0.03, .tau = 1e-3};
    auto a = Strategy::Create(o, 3);
    ASSERT_TRUE(a.ok());
    std::vector<double> x = {0.1, -0.2, 0.3};
    const std::vector<std::vector<double>> deltas = {
        {0.3, -0.1, 1e-4},  {-0.2, 0.05, 0.7},      {1.0 / 3, 2.0 / 7, -5.0 / 11},
        {0.01, 0.02, 0.03}, {-1.0 / 9, 0.5, 0.125}, {2e-5, -3e-5, 4e-5}};
    for (int t = 0; t < 3; ++t) ASSERT_TRUE(a->Apply(deltas[t], x).ok());
    const std::string state = a->SerializeState();
    std::vector<double> y = x;  // the checkpointed model
    auto b = Strategy::Create(o, 3);
    ASSERT_TRUE(b->RestoreState(state).ok());
    EXPECT_EQ(b->steps(), 3);
    EXPECT_EQ(b->SerializeState(), state);
    for (int t = 3; t < 6; ++t) {
      ASSERT_TRUE(a->Apply(deltas[t], x).ok());
      ASSERT_TRUE(b->Apply(deltas[t], y).ok());
    }
    EXPECT_EQ(std::memcmp(x.data(), y.data(), sizeof(double) * x.size()), 0);
    EXPECT_EQ(a->SerializeState(), b->SerializeState());
  }
}

TEST(StrategyTest, RestoreRejectsForeignOrDamagedState) {
  const StrategyOptions o{.kind = StrategyKind::kFedYogi, .server_learning_rate = 0.1};
  auto a = Strategy::Create(o, 2);
  std::vector<double> x = {0, 0};
  ASSERT_TRUE(a->Apply(std::vector<double>{1, 2}, x).ok());
  const std::string state = a->SerializeState();
  auto b = Strategy::Create(o, 2);
  const std::string fresh = b->SerializeState();
  for (size_t len = 0; len < state.size(); ++len) {
    EXPECT_EQ(b->RestoreState(state.substr(0, len)).code(), absl::StatusCode::kDataLoss) << len;
  }
  EXPECT_EQ(b->RestoreState(state + "x").code(), absl::StatusCode::kDataLoss);
  std::string bad_version = state;
  bad_version[8] = 2;
  EXPECT_THAT(b->RestoreState(bad_version).message(), HasSubstr("version"));
  auto other_eta = Strategy::Create({.kind = StrategyKind::kFedYogi, .server_learning_rate = 0.2}, 2);
  EXPECT_EQ(other_eta->RestoreState(state).code(), absl::StatusCode::kFailedPrecondition);
  auto other_kind = Strategy::Create({.kind = StrategyKind::kFedAdam, .server_learning_rate = 0.1}, 2);
  EXPECT_THAT(other_kind->RestoreState(state).message(), HasSubstr("fedyogi"));
  auto other_size = Strategy::Create(o, 3);
  EXPECT_THAT(other_size->RestoreState(state).message(), HasSubstr("2 parameters"));
  EXPECT_EQ(b->SerializeState(), fresh);  // every failure left it unchanged
}

// FedProx's proximal term in ml::Train, by hand. Linear regression with one input that is always 0, so the
// weight's data gradient is 0 and the bias's is (b - y); plain SGD (momentum 0), step 0.5, batch 1.
ml::Model Linear() {
  auto m = ml::Model::Create({.task = ml::Task::kRegression, .num_inputs = 1});
  EXPECT_TRUE(m.ok());
  return *m;
}

TEST(StrategyTest, ProximalTermPullsTowardsTheCentre) {
  const ml::Matrix x = ml::Matrix::Zero(1, 1);
  ml::Targets y;
  y.values = ml::Vector::Constant(1, 0.0);
  ml::TrainOptions o{
      .optimizer = ml::Optimizer::kSgd, .learning_rate = 0.5, .epochs = 1, .batch_size = 1, .momentum = 0};
  // b_0 = 0, y = 0, centre 1, mu = 1: g = (0 - 0) + 1 * (0 - 1) = -1, so b_1 = 0 + 0.5 = 0.5 (without the
  // term nothing moves).
  o.proximal_mu = 1;
  o.proximal_center = {0, 1};  // [weight, bias]
  crypto::testing::DeterministicRandom rng(1);
  ml::Model m = Linear();
  ASSERT_TRUE(ml::Train(m, x, y, o, rng).ok());
  EXPECT_EQ(m.params()[0], 0);
  EXPECT_EQ(m.params()[1], 0.5);
  ml::TrainOptions bad = o;
  bad.proximal_center = {1};
  EXPECT_THAT(ml::Train(m, x, y, bad, rng).message(), HasSubstr("proximal_center has 1 values"));
  bad.proximal_center = {0, kNan};
  EXPECT_THAT(ml::Train(m, x, y, bad, rng).message(), HasSubstr("proximal_center[1]"));
  bad = o;
  bad.proximal_mu = -1;
  EXPECT_THAT(ml::Train(m, x, y, bad, rng).message(), HasSubstr("proximal_mu"));
}

TEST(StrategyTest, TrainLocallyReturnsTheUpdateWithAndWithoutFedProx) {
  // y = 1, global b = 0, two epochs of one step: b_1 = 0 - 0.5 (0 - 1) = 0.5 either way (the term is 0 at the
  // centre); b_2 = 0.5 - 0.5 ((0.5 - 1) + mu 0.5) = 0.75 with mu = 0 and 0.5 with mu = 1.
  const ml::Matrix x = ml::Matrix::Zero(1, 1);
  ml::Targets y;
  y.values = ml::Vector::Constant(1, 1.0);
  const ml::TrainOptions o{
      .optimizer = ml::Optimizer::kSgd, .learning_rate = 0.5, .epochs = 2, .batch_size = 1, .momentum = 0};
  const ml::Model global = Linear();
  crypto::testing::DeterministicRandom rng(2);
  auto plain = TrainLocally(global, x, y, o, 0, rng);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->update, (std::vector<double>{0, 0.75}));
  EXPECT_EQ(plain->num_examples, 1);
  auto prox = TrainLocally(global, x, y, o, 1, rng);
  ASSERT_TRUE(prox.ok()) << prox.status();
  EXPECT_EQ(prox->update, (std::vector<double>{0, 0.5}));
  EXPECT_EQ(global.params()[1], 0);  // the global model is not touched
  EXPECT_EQ(TrainLocally(global, x, y, o, -1, rng).status().code(), absl::StatusCode::kInvalidArgument);
  ml::Targets wrong;
  wrong.values = ml::Vector::Constant(2, 1.0);
  EXPECT_EQ(TrainLocally(global, x, wrong, o, 0, rng).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace strategy_test
}  // namespace veil::fl
