// Evaluation (issue 9, item 4): classification and regression metrics, calibration, and train/test splits.
//
// Definitions (binary; positive class 1, predicted positive iff score >= threshold):
//   accuracy   (TP + TN) / n
//   precision  TP / (TP + FP) (0 when nothing is predicted positive); recall TP / (TP + FN) (0 without
//              positives); F1 their harmonic mean
//   AUC        P(score of a random positive > score of a random negative) + P(tie) / 2, computed exactly from
//              the Mann-Whitney U statistic with average ranks for tied scores (O(n log n)); NaN if one class
//              is absent
//   log loss   -mean(y ln p + (1 - y) ln(1 - p)), p clamped to [1e-15, 1 - 1e-15]
//   calibration  `bins` equal-width bins of the score on [0, 1] (a score of 1 goes in the last bin); per bin
//              count, mean score and observed positive rate; ECE = sum over bins of count / n * |mean score -
//              positive rate| (Guo et al. 2017, "On Calibration of Modern Neural Networks", eq. 3)
// Multiclass: accuracy, log loss (-mean ln p_y), K x K confusion matrix (row = true, column = predicted),
// per-class precision and recall. Regression: RMSE, MAE, R^2 = 1 - SS_res / SS_tot (NaN if SS_tot = 0).
//
// These metrics are computed on the caller's (test) data and are not differentially private: releasing them
// is a disclosure about the test set, which the caller must treat as such.
//
// Thread safety: pure functions.
#ifndef VEIL_ML_METRICS_H_
#define VEIL_ML_METRICS_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "veil/base/random.h"
#include "veil/ml/features.h"

namespace veil::ml {

struct CalibrationBin {
  double lower = 0, upper = 0;
  int64_t count = 0;
  double mean_score = 0;
  double positive_rate = 0;
};

struct BinaryMetrics {
  int64_t n = 0;
  double threshold = 0.5;
  int64_t tp = 0, fp = 0, tn = 0, fn = 0;
  double accuracy = 0, precision = 0, recall = 0, f1 = 0;
  double auc = 0;
  double log_loss = 0;
  std::vector<CalibrationBin> calibration;
  double ece = 0;
};

struct MulticlassMetrics {
  int64_t n = 0;
  double accuracy = 0;
  double log_loss = 0;
  std::vector<std::vector<int64_t>> confusion;  // [true][predicted]
  std::vector<double> precision, recall;        // per class
};

struct RegressionMetrics {
  int64_t n = 0;
  double rmse = 0, mae = 0, r2 = 0;
};

// scores: P(class 1) in [0, 1]; labels: 0/1. Errors: InvalidArgument for empty or mismatched inputs, a label
// other than 0/1, a score outside [0, 1] or NaN, threshold not in [0, 1], bins < 1.
absl::StatusOr<BinaryMetrics> EvaluateBinary(std::span<const double> scores, std::span<const int> labels,
                                             double threshold = 0.5, int bins = 10);

// The exact AUC alone (definition above). Errors as EvaluateBinary (scores need not be in [0, 1]).
absl::StatusOr<double> Auc(std::span<const double> scores, std::span<const int> labels);

// probabilities: n x K rows summing to 1; labels in [0, K). Errors: InvalidArgument for mismatched sizes or a
// label out of range.
absl::StatusOr<MulticlassMetrics> EvaluateMulticlass(const Matrix& probabilities,
                                                     std::span<const int> labels);

absl::StatusOr<RegressionMetrics> EvaluateRegression(std::span<const double> predictions,
                                                     std::span<const double> targets);

// A random split of [0, n) into train and test row indices (each sorted), with round(n * test_fraction) test
// rows, drawn from `rng` (uniform over subsets of that size: a partial Fisher-Yates shuffle). Errors:
// InvalidArgument unless 0 < test_fraction < 1 and both parts are non-empty; rng's errors.
struct Split {
  std::vector<int64_t> train, test;
};
absl::StatusOr<Split> TrainTestSplit(int64_t n, double test_fraction, base::RandomSource& rng);

}  // namespace veil::ml

#endif  // VEIL_ML_METRICS_H_
