// fl_accuracy_bench: federated logistic regression on UCI Adult against centralized training, and secure
// aggregation against the exact plaintext integer sum (issue 10, Quality: "FedAvg logistic regression on
// Adult split over 4 sites by a Dirichlet(0.5) partition of the label reaches within 1 point of centralized
// training; secure aggregation changes the model by no more than the quantization error (checked exactly
// against a plaintext integer sum)").
//
//   build/fl-lib/bench/fl_accuracy_bench [--runs N] [--rounds R]   (from the repository root; N = 5, R = 40)
//
// Data: ../shared/data/adult/adult.csv, the standard split (train = its first 32,561 rows, adult.data; test =
// the last 16,281, adult.test), features as ml_bench's non-private model (ml::FitFeaturePipeline on the
// training rows: one-hot categorical columns, standardised numeric ones). The federation uses the same
// encoding (a deployment would use a public-metadata pipeline, as ml_bench's DP part does).
//
// Each run s = 1..N:
//   centralized  ml::Train on all training rows with ml_bench's settings (Adam, 8 epochs, batch 128, lr 0.01,
//                decay 0.5);
//   federated    the training rows split over 4 sites by fl::PartitionDirichlet(label, alpha 0.5, seed s);
//                R rounds; in round r every site trains one epoch from the global model (fl::TrainLocally),
//                the coordinator takes the example-weighted mean (fl::WeightedMean) and applies the server
//                step (fl::Strategy). Local training (kLight): plain SGD, batches of 8,192 rows, step
//                8 / (1 + 0.05 r), i.e. 1 to 4 local steps per site and round. Rows: FedAvg; FedAvg through
//                secure aggregation; FedProx; FedAdam, FedYogi, FedAdagrad (server step sizes from a
//                {0.03, 0.1, 0.3} grid on seeds 1-5); and, for the record, FedAvg and FedProx with heavy
//                local work (kHeavy: ml_bench's Adam, batch 128, lr 0.01 / (1 + 0.5 r), up to 233 local
//                steps), where client drift shows: with a site holding only negatives, its local objective
//                has no minimiser and many local steps pull the average away from the centralized optimum.
//   secure       the FedAvg row with each round's sum computed by a real secure-aggregation round
//   (fl/secagg.h
//                state machines through fl/secagg_test_util.h's in-memory driver: 4 clients, complete graph,
//                threshold 3, ring Z_2^24, keys and masks from crypto::SecureRandom()). Each site encodes
//                [w_k Delta_k, w_k] (fl::SecAggWeightedInput, w_k = n_k / 32,561: the example count stays
//                on the site, its weight rides in the secure sum) with fl::Quantizer (clip 8, automatic
//                scale, stochastic rounding from SecureRandom()), and the coordinator divides by the decoded
//                weight sum (fl::MeanFromWeightedSecAggSum, which checks it lies in the range 4 honest
//                weights can sum to). Checked every round: the secure sum EQUALS the plaintext integer sum of
//                the same encodings mod 2^24, and the model differs from the float FedAvg model of the same
//                updates by at most the quantization bound of strategy.h, per coordinate:
//                eta (a_j + |mean_j| b) / W~ with a_j = sum_k (|y_kj - w_k Delta_kj| + 1/scale),
//                b = sum_k (|float(w_k) - w_k| + 1/scale) and W~ the decoded weight sum.
// Printed: median test accuracy over the runs, the gap to centralized in points against the 1-point target
// (FedAvg and FedAvg + secure aggregation), the worst run, and the secure-aggregation check. Seeded
// randomness (partition, local shuffles) comes from bench::DataRandom, so every row of a run sees the same
// partition and shuffles; nothing here is differentially private. Exits 1 if a target is missed.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "bench/bench_util.h"
#include "veil/crypto/random.h"
#include "veil/fl/partition.h"
#include "veil/fl/quantize.h"
#include "veil/fl/secagg.h"
#include "veil/fl/secagg_test_util.h"
#include "veil/fl/strategy.h"
#include "veil/ml/features.h"
#include "veil/ml/metrics.h"
#include "veil/ml/model.h"
#include "veil/ml/train.h"
#include "veil/table/csv_reader.h"

namespace veil::fl {
namespace {

using bench::OrDie;

constexpr int kSites = 4;
// The secure rounds use the ring a federation gets by default (FL.json without secure_aggregation.ring_bits).
constexpr uint32_t kRingBits = fl::kSecAggDefaultRingBits;
constexpr uint32_t kRingMask = (uint32_t{1} << kRingBits) - 1;
constexpr double kAlpha = 0.5;
constexpr int64_t kTrainRows = 32561;  // adult.data; the rest of adult.csv is adult.test

// The seeded generator of bench_util.h as a RandomSource, for the data placement and the shuffles of local
// training (not privacy randomness: nothing here is DP, and secure aggregation uses SecureRandom()).
class SeededSource final : public base::RandomSource {
 public:
  explicit SeededSource(uint64_t seed) : gen_(seed) {}
  absl::Status Fill(std::span<uint8_t> out) override {
    for (size_t i = 0; i < out.size(); i += 8) {
      const uint64_t w = gen_.Next();
      std::memcpy(out.data() + i, &w, std::min<size_t>(8, out.size() - i));
    }
    return absl::OkStatus();
  }

 private:
  bench::DataRandom gen_;
};

struct Data {
  ml::Matrix x_train, x_test;
  ml::Targets y_train;
  std::vector<int> y_test;
};

Data LoadAdult() {
  const std::string path = "../shared/data/adult/adult.csv";
  table::CsvReadOptions options;
  options.num_threads = 1;
  const table::Table all = OrDie(table::ReadCsv(crypto::DefaultEnv(), path, options), "read adult.csv");
  std::vector<int64_t> train_rows(kTrainRows), test_rows(all.num_rows() - kTrainRows);
  for (int64_t i = 0; i < all.num_rows(); ++i)
    (i < kTrainRows ? train_rows[i] : test_rows[i - kTrainRows]) = i;
  const table::Table train = OrDie(all.Take(train_rows), "train rows");
  const table::Table test = OrDie(all.Take(test_rows), "test rows");
  std::vector<std::string> inputs;
  for (const auto& f : train.schema().fields()) {
    if (f.name != "income") inputs.push_back(f.name);
  }
  const ml::FeaturePipeline pipeline = OrDie(ml::FitFeaturePipeline(train, {.columns = inputs}), "pipeline");
  Data d;
  d.x_train = OrDie(pipeline.Transform(train), "transform train");
  d.x_test = OrDie(pipeline.Transform(test), "transform test");
  d.y_train.classes = OrDie(ml::EncodeClassLabels(train, "income", {"<=50K", ">50K"}), "train labels");
  d.y_test = OrDie(ml::EncodeClassLabels(test, "income", {"<=50K", ">50K"}), "test labels");
  return d;
}

ml::Model NewModel(const Data& d) {
  return OrDie(ml::Model::Create({.task = ml::Task::kBinary,
                                  .num_inputs = static_cast<int>(d.x_train.cols()),
                                  .num_classes = 2,
                                  .hidden = {}}),
               "model");
}

double Accuracy(const ml::Model& m, const Data& d) {
  const ml::Matrix p = m.Predict(d.x_test);
  const std::vector<double> scores(p.data(), p.data() + p.rows());
  return OrDie(ml::EvaluateBinary(scores, d.y_test), "evaluate").accuracy;
}

double Centralized(const Data& d, uint64_t seed) {
  SeededSource rng(seed);
  ml::Model m = NewModel(d);
  ml::TrainOptions o;
  o.epochs = 8;
  o.batch_size = 128;
  o.learning_rate = 0.01;
  o.decay = 0.5;
  OrDie(ml::Train(m, d.x_train, d.y_train, o, rng), "centralized training");
  return Accuracy(m, d);
}

struct Site {
  ml::Matrix x;
  ml::Targets y;
};

std::vector<Site> Split(const Data& d, uint64_t seed) {
  SeededSource rng(seed);
  const std::vector<int32_t> labels(d.y_train.classes.begin(), d.y_train.classes.end());
  const auto parts = OrDie(PartitionDirichlet(labels, kSites, kAlpha, rng), "partition");
  std::vector<Site> sites(kSites);
  for (int k = 0; k < kSites; ++k) {
    sites[k].x.resize(static_cast<int64_t>(parts[k].size()), d.x_train.cols());
    for (size_t i = 0; i < parts[k].size(); ++i) {
      sites[k].x.row(static_cast<int64_t>(i)) = d.x_train.row(parts[k][i]);
      sites[k].y.classes.push_back(d.y_train.classes[parts[k][i]]);
    }
  }
  return sites;
}

// Secure-aggregation check of one round, accumulated over the run.
struct SecAggCheck {
  bool exact = true;     // every round's secure sum equals the plaintext integer sum
  double max_diff = 0;   // max |secure model - float model| over rounds and coordinates
  double max_ratio = 0;  // max of diff / bound
  double max_bound = 0;  // largest per-coordinate bound
  int64_t clipped = 0;   // coordinates the quantizer clipped (0 expected with clip 8)
  double seconds = 0;    // time in the secure rounds
  int64_t rounds = 0;
  double scale = 0;  // the quantizer's scale
};

// The mean of one round's updates through secure aggregation. Checks that the round's sum equals the
// plaintext integer sum of the encodings, and writes each coordinate's quantization bound against the float
// mean `exact` (see the file comment).
std::vector<double> SecureMean(const std::vector<ClientUpdate>& updates, std::span<const double> exact,
                               uint64_t round, SecAggCheck& check, std::vector<double>& bound) {
  base::RandomSource& rng = crypto::SecureRandom();
  const size_t p = updates[0].update.size();
  const Quantizer q =
      OrDie(Quantizer::Create(
                {.clip = 8, .scale = 0, .max_clients = kSites, .noise_stddev = 0, .ring_bits = kRingBits}),
            "quantizer");
  std::vector<std::vector<uint32_t>> inputs;
  std::vector<uint32_t> plain(p + 1, 0);
  std::vector<double> a(p, 0.0);
  double b = 0;
  for (const ClientUpdate& u : updates) {
    const std::vector<float> y = OrDie(SecAggWeightedInput(u, kTrainRows), "secagg input");
    const double w = OrDie(SecAggWeight(u.num_examples, kTrainRows), "weight");
    std::vector<uint32_t> enc = OrDie(q.Encode(y, rng), "encode");
    for (size_t j = 0; j <= p; ++j) {
      plain[j] = (plain[j] + enc[j]) & kRingMask;  // the plaintext integer sum, mod 2^24
      if (std::abs(y[j]) > q.clip()) ++check.clipped;
    }
    for (size_t j = 0; j < p; ++j)
      a[j] += std::abs(static_cast<double>(y[j]) - w * u.update[j]) + 1 / q.scale();
    b += std::abs(static_cast<double>(y[p]) - w) + 1 / q.scale();
    inputs.push_back(std::move(enc));
  }
  check.scale = q.scale();
  SecAggConfig config;
  config.round_id = round;
  config.num_clients = kSites;
  config.ring_bits = kRingBits;
  config.vector_length = static_cast<uint32_t>(p + 1);
  config.threat_model = SecAggThreatModel::kActive;
  config.threshold = 3;
  config.min_clients = 3;
  const auto t0 = bench::Clock::now();
  testing::Cohort cohort = OrDie(testing::MakeCohort(config, rng), "cohort");
  const SecAggResult result = OrDie(testing::RunRound(cohort, inputs, {}), "secure aggregation round");
  check.seconds += bench::SecondsSince(t0);
  ++check.rounds;
  if (result.sum != plain || result.included.size() != updates.size()) check.exact = false;
  const std::vector<double> decoded = OrDie(q.DecodeSum(result.sum), "decode");
  bound.resize(p);
  for (size_t j = 0; j < p; ++j) bound[j] = (a[j] + std::abs(exact[j]) * b) / decoded[p];
  return OrDie(MeanFromWeightedSecAggSum(decoded, result.included.size(), kTrainRows, q), "secure mean");
}

// Local training of one round r: one epoch of `optimizer` with batch `batch` and step lr / (1 + decay r).
struct Local {
  ml::Optimizer optimizer;
  int batch;
  double lr, decay;
};
// See the file comment. Sites hold 100 to 30,000 rows, so kLight takes 1 to 4 local steps per round and
// kHeavy up to 230.
constexpr Local kLight{ml::Optimizer::kSgd, 8192, 8, 0.05};
constexpr Local kHeavy{ml::Optimizer::kAdam, 128, 0.01, 0.5};

struct Row {
  const char* label;
  StrategyOptions options;
  Local local;
  bool secure = false;  // through secure aggregation
  bool target = false;  // must be within 1 point of centralized
};

double Federated(const Data& d, const std::vector<Site>& sites, const Row& row, int rounds, uint64_t seed,
                 SecAggCheck* secure) {
  const StrategyOptions& so = row.options;
  SeededSource rng(seed);
  ml::Model global = NewModel(d);
  Strategy strategy = OrDie(Strategy::Create(so, static_cast<size_t>(global.num_params())), "strategy");
  std::vector<double> params(global.num_params(), 0.0);
  for (int r = 0; r < rounds; ++r) {
    ml::TrainOptions local;
    local.epochs = 1;
    local.optimizer = row.local.optimizer;
    local.batch_size = row.local.batch;
    local.momentum = 0;  // SGD: plain steps (Adam ignores it)
    local.learning_rate = row.local.lr / (1 + row.local.decay * r);
    std::vector<ClientUpdate> updates;
    for (const Site& s : sites) {
      updates.push_back(OrDie(TrainLocally(global, s.x, s.y, local, so.proximal_mu, rng), "local training"));
    }
    std::vector<double> mean = OrDie(WeightedMean(updates), "weighted mean");
    if (row.secure) {
      // The float model of the same updates, and the model through secure aggregation.
      std::vector<double> float_params = params;
      Strategy float_strategy = strategy;
      OrDie(float_strategy.Apply(mean, float_params), "float step");
      std::vector<double> bound;
      mean = SecureMean(updates, mean, static_cast<uint64_t>(r), *secure, bound);
      OrDie(strategy.Apply(mean, params), "secure step");
      // The FedAvg step is x + eta * mean, so the models differ by eta * (mean difference) <= eta * bound, up
      // to the double rounding of the two computations (slack: relative 1e-12, far below the bound).
      for (size_t j = 0; j < params.size(); ++j) {
        const double diff = std::abs(params[j] - float_params[j]);
        const double allowed = so.server_learning_rate * bound[j];
        const double slack = 1e-12 * (std::abs(float_params[j]) + allowed);
        secure->max_diff = std::max(secure->max_diff, diff);
        secure->max_bound = std::max(secure->max_bound, allowed);
        secure->max_ratio = std::max(secure->max_ratio, diff / (allowed + slack));
      }
    } else {
      OrDie(strategy.Apply(mean, params), "server step");
    }
    for (size_t j = 0; j < params.size(); ++j) global.params()[static_cast<int64_t>(j)] = params[j];
  }
  return Accuracy(global, d);
}

int Main(int argc, char** argv) {
  int runs = 5, rounds = 40;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--runs") == 0) runs = std::max(1, std::atoi(argv[i + 1]));
    if (std::strcmp(argv[i], "--rounds") == 0) rounds = std::max(1, std::atoi(argv[i + 1]));
  }
  const auto t0 = bench::Clock::now();
  const Data d = LoadAdult();
  std::printf(
      "fl_accuracy_bench: Adult, train %lld rows over %d sites (Dirichlet(%g) label partition), test %lld "
      "rows, %lld features; %d rounds, %d runs (seeds 1..%d, medians)\n",
      static_cast<long long>(d.x_train.rows()), kSites, kAlpha, static_cast<long long>(d.x_test.rows()),
      static_cast<long long>(d.x_train.cols()), rounds, runs, runs);
  const std::vector<Row> rows = {
      {"FedAvg", {.kind = StrategyKind::kFedAvg}, kLight, false, true},
      {"FedAvg + secure aggregation", {.kind = StrategyKind::kFedAvg}, kLight, true, true},
      {"FedProx mu=0.1", {.kind = StrategyKind::kFedProx, .proximal_mu = 0.1}, kLight, false, false},
      {"FedAdam eta=0.1",
       {.kind = StrategyKind::kFedAdam, .server_learning_rate = 0.1},
       kLight,
       false,
       false},
      {"FedYogi eta=0.1",
       {.kind = StrategyKind::kFedYogi, .server_learning_rate = 0.1},
       kLight,
       false,
       false},
      {"FedAdagrad eta=0.3",
       {.kind = StrategyKind::kFedAdagrad, .server_learning_rate = 0.3},
       kLight,
       false,
       false},
      {"FedAvg, heavy local work", {.kind = StrategyKind::kFedAvg}, kHeavy, false, false},
      {"FedProx mu=1, heavy local work",
       {.kind = StrategyKind::kFedProx, .proximal_mu = 1},
       kHeavy,
       false,
       false},
  };
  std::vector<double> central;
  std::vector<std::vector<double>> acc(rows.size());
  SecAggCheck check;
  for (int run = 1; run <= runs; ++run) {
    const uint64_t seed = static_cast<uint64_t>(run);
    central.push_back(Centralized(d, seed));
    const std::vector<Site> sites = Split(d, seed);
    std::printf("  run %d sites (rows / share of >50K):", run);
    for (const Site& s : sites) {
      int64_t pos = 0;
      for (int c : s.y.classes) pos += c;
      std::printf(" %6lld / %.2f", static_cast<long long>(s.x.rows()),
                  static_cast<double>(pos) / static_cast<double>(s.x.rows()));
    }
    std::printf("\n");
    for (size_t i = 0; i < rows.size(); ++i) {
      acc[i].push_back(Federated(d, sites, rows[i], rounds, seed + 1000, &check));
    }
  }
  const double c = bench::Median(central);
  std::printf("\n  %-32s %9s %9s %9s   %s\n", "model (test accuracy)", "median", "gap (pt)", "worst", "runs");
  std::printf("  %-32s %9.4f %9s %9s   %s\n", "centralized", c, "", "", bench::Join(central, 4).c_str());
  bool ok = true;
  for (size_t i = 0; i < rows.size(); ++i) {
    const double a = bench::Median(acc[i]);
    // The gap in points, median over the runs and the worst run (each run against its own centralized model).
    const double gap = 100 * (c - a);
    double worst = -100;
    for (int r = 0; r < runs; ++r) worst = std::max(worst, 100 * (central[r] - acc[i][r]));
    if (rows[i].target) ok &= gap <= 1.0;
    std::printf("  %-32s %9.4f %9.2f %9.2f   %s%s\n", rows[i].label, a, gap, worst,
                bench::Join(acc[i], 4).c_str(),
                rows[i].target ? (gap <= 1.0 ? "  target <= 1 pt: PASS" : "  target <= 1 pt: FAIL") : "");
  }
  std::printf(
      "\n  secure aggregation (%lld rounds, %d clients, threshold 3, ring Z_2^%u, quantizer clip 8 scale "
      "2^%d): every secure sum equals the plaintext integer sum of the encodings: %s; clipped coordinates "
      "%lld\n",
      static_cast<long long>(check.rounds), kSites, kRingBits, static_cast<int>(std::log2(check.scale)),
      check.exact ? "yes" : "NO", static_cast<long long>(check.clipped));
  std::printf(
      "  |secure model - float FedAvg model| per coordinate: max %.3g, bound (quantization) up to %.3g, "
      "max diff/bound %.3f (target <= 1)  %s\n",
      check.max_diff, check.max_bound, check.max_ratio, check.max_ratio <= 1 ? "PASS" : "FAIL");
  ok &= check.exact && check.max_ratio <= 1 && check.clipped == 0;
  std::printf("  time in secure rounds %.2f s; total %.1f s\n", check.seconds, bench::SecondsSince(t0));
  std::printf("\n%s\n", ok ? "ALL TARGETS MET" : "SOME TARGETS MISSED");
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace veil::fl

int main(int argc, char** argv) { return veil::fl::Main(argc, argv); }
