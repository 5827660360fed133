#include "veil/ml/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "veil/base/status_macros.h"
#include "veil/dp/random_bits.h"

namespace veil::ml {
namespace {

absl::Status CheckBinaryInputs(std::span<const double> scores, std::span<const int> labels) {
  if (scores.empty()) return absl::InvalidArgumentError("no predictions to evaluate");
  if (scores.size() != labels.size()) {
    return absl::InvalidArgumentError(absl::StrCat(scores.size(), " scores but ", labels.size(), " labels"));
  }
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] != 0 && labels[i] != 1) {
      return absl::InvalidArgumentError(absl::StrCat("label at row ", i, " is not 0 or 1"));
    }
    if (std::isnan(scores[i])) return absl::InvalidArgumentError(absl::StrCat("score at row ", i, " is NaN"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<double> Auc(std::span<const double> scores, std::span<const int> labels) {
  VEIL_RETURN_IF_ERROR(CheckBinaryInputs(scores, labels));
  const size_t n = scores.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  // Sum of the positives' ranks (1-based), ties given their average rank.
  double rank_sum = 0;
  int64_t positives = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    int64_t pos_in_group = 0;
    while (j < n && scores[order[j]] == scores[order[i]]) pos_in_group += labels[order[j++]];
    const double average_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    rank_sum += average_rank * static_cast<double>(pos_in_group);
    positives += pos_in_group;
    i = j;
  }
  const int64_t negatives = static_cast<int64_t>(n) - positives;
  if (positives == 0 || negatives == 0) return std::numeric_limits<double>::quiet_NaN();
  const double u = rank_sum - static_cast<double>(positives) * static_cast<double>(positives + 1) / 2;
  return u / (static_cast<double>(positives) * static_cast<double>(negatives));
}

absl::StatusOr<BinaryMetrics> EvaluateBinary(std::span<const double> scores, std::span<const int> labels,
                                             double threshold, int bins) {
  VEIL_RETURN_IF_ERROR(CheckBinaryInputs(scores, labels));
  if (!(threshold >= 0 && threshold <= 1)) return absl::InvalidArgumentError("threshold must be in [0, 1]");
  if (bins < 1) return absl::InvalidArgumentError("bins must be >= 1");
  BinaryMetrics m;
  m.n = static_cast<int64_t>(scores.size());
  m.threshold = threshold;
  m.calibration.resize(bins);
  for (int k = 0; k < bins; ++k) {
    m.calibration[k].lower = static_cast<double>(k) / bins;
    m.calibration[k].upper = static_cast<double>(k + 1) / bins;
  }
  double log_loss = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    const double s = scores[i];
    if (!(s >= 0 && s <= 1))
      return absl::InvalidArgumentError(absl::StrCat("score at row ", i, " is not in [0, 1]"));
    const bool predicted = s >= threshold;
    const bool actual = labels[i] == 1;
    (predicted ? (actual ? m.tp : m.fp) : (actual ? m.fn : m.tn)) += 1;
    const double p = std::clamp(s, 1e-15, 1 - 1e-15);
    log_loss -= actual ? std::log(p) : std::log1p(-p);
    CalibrationBin& bin = m.calibration[std::min(bins - 1, static_cast<int>(s * bins))];
    ++bin.count;
    bin.mean_score += s;
    bin.positive_rate += actual ? 1 : 0;
  }
  const double n = static_cast<double>(m.n);
  m.log_loss = log_loss / n;
  m.accuracy = static_cast<double>(m.tp + m.tn) / n;
  m.precision = m.tp + m.fp > 0 ? static_cast<double>(m.tp) / static_cast<double>(m.tp + m.fp) : 0;
  m.recall = m.tp + m.fn > 0 ? static_cast<double>(m.tp) / static_cast<double>(m.tp + m.fn) : 0;
  m.f1 = m.precision + m.recall > 0 ? 2 * m.precision * m.recall / (m.precision + m.recall) : 0;
  for (CalibrationBin& bin : m.calibration) {
    if (bin.count == 0) continue;
    bin.mean_score /= static_cast<double>(bin.count);
    bin.positive_rate /= static_cast<double>(bin.count);
    m.ece += static_cast<double>(bin.count) / n * std::abs(bin.mean_score - bin.positive_rate);
  }
  VEIL_ASSIGN_OR_RETURN(m.auc, Auc(scores, labels));
  return m;
}

absl::StatusOr<MulticlassMetrics> EvaluateMulticlass(const Matrix& probabilities,
                                                     std::span<const int> labels) {
  const int64_t n = probabilities.rows();
  const int k = static_cast<int>(probabilities.cols());
  if (n == 0 || static_cast<int64_t>(labels.size()) != n || k < 2) {
    return absl::InvalidArgumentError(
        "multiclass evaluation needs n x K probabilities (K >= 2) and n labels");
  }
  MulticlassMetrics m;
  m.n = n;
  m.confusion.assign(k, std::vector<int64_t>(k, 0));
  double log_loss = 0;
  int64_t correct = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (labels[i] < 0 || labels[i] >= k) {
      return absl::InvalidArgumentError(absl::StrCat("label at row ", i, " is outside [0, ", k, ")"));
    }
    Eigen::Index predicted;
    probabilities.row(i).maxCoeff(&predicted);
    ++m.confusion[labels[i]][predicted];
    correct += predicted == labels[i];
    log_loss -= std::log(std::clamp(probabilities(i, labels[i]), 1e-15, 1.0));
  }
  m.accuracy = static_cast<double>(correct) / static_cast<double>(n);
  m.log_loss = log_loss / static_cast<double>(n);
  for (int c = 0; c < k; ++c) {
    int64_t predicted = 0, actual = 0;
    for (int o = 0; o < k; ++o) {
      predicted += m.confusion[o][c];
      actual += m.confusion[c][o];
    }
    m.precision.push_back(
        predicted > 0 ? static_cast<double>(m.confusion[c][c]) / static_cast<double>(predicted) : 0);
    m.recall.push_back(actual > 0 ? static_cast<double>(m.confusion[c][c]) / static_cast<double>(actual) : 0);
  }
  return m;
}

absl::StatusOr<RegressionMetrics> EvaluateRegression(std::span<const double> predictions,
                                                     std::span<const double> targets) {
  if (predictions.empty() || predictions.size() != targets.size()) {
    return absl::InvalidArgumentError("regression evaluation needs as many predictions as targets (>= 1)");
  }
  const double n = static_cast<double>(targets.size());
  const double mean = std::accumulate(targets.begin(), targets.end(), 0.0) / n;
  double ss_res = 0, ss_tot = 0, abs_sum = 0;
  for (size_t i = 0; i < targets.size(); ++i) {
    const double r = predictions[i] - targets[i];
    ss_res += r * r;
    abs_sum += std::abs(r);
    ss_tot += (targets[i] - mean) * (targets[i] - mean);
  }
  RegressionMetrics m;
  m.n = static_cast<int64_t>(targets.size());
  m.rmse = std::sqrt(ss_res / n);
  m.mae = abs_sum / n;
  m.r2 = ss_tot > 0 ? 1 - ss_res / ss_tot : std::numeric_limits<double>::quiet_NaN();
  return m;
}

absl::StatusOr<Split> TrainTestSplit(int64_t n, double test_fraction, base::RandomSource& rng) {
  if (!(test_fraction > 0 && test_fraction < 1)) {
    return absl::InvalidArgumentError("test_fraction must be in (0, 1)");
  }
  const int64_t test_size = static_cast<int64_t>(std::llround(static_cast<double>(n) * test_fraction));
  if (test_size < 1 || test_size >= n) {
    return absl::InvalidArgumentError(absl::StrCat("a split of ", n, " rows leaves a part empty"));
  }
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  dp::RandomBits bits(rng);
  for (int64_t i = 0; i < test_size; ++i) {
    std::swap(order[i], order[i + static_cast<int64_t>(bits.UniformFast(static_cast<uint64_t>(n - i)))]);
  }
  VEIL_RETURN_IF_ERROR(bits.status());
  Split split;
  split.test.assign(order.begin(), order.begin() + test_size);
  split.train.assign(order.begin() + test_size, order.end());
  std::sort(split.test.begin(), split.test.end());
  std::sort(split.train.begin(), split.train.end());
  return split;
}

}  // namespace veil::ml
