// Explanations of individual decisions (issue 9, item 6, library part; GDPR Art. 22 "meaningful information
// about the logic involved").
//
// Everything is explained in the model's logit units (regression: the predicted value; binary: the log-odds
// of class 1; multiclass: the logit of the explained class), for one encoded record x (a row of
// FeaturePipeline::Transform).
//
// Linear models (linreg, logreg), exact: logit = bias + sum_j w_j x_j, and feature j contributes w_j x_j, x_j
// being the standardized value (0 = the column's mean) or the 0/1 of a one-hot or missing indicator. The
// contributions of a column's encoded features are summed into one contribution per original column (so a
// categorical column contributes the weight of the category the record has). base = bias and
// base + sum of contributions = logit exactly (up to floating-point rounding).
//
// MLP, integrated gradients (Sundararajan, Taly, Yan 2017, "Axiomatic Attribution for Deep Networks"):
//   IG_j = (x_j - b_j) * integral_0^1 d logit / d x_j (b + t (x - b)) dt,
// approximated by the midpoint rule with `steps` points, from a baseline b (default: the zero vector of the
// encoded space, i.e. every numeric column at its mean and no category: the "average" record). Completeness:
// sum_j IG_j = logit(x) - logit(b) as steps grows; base = logit(b), and completeness_error reports
// |base + sum IG - logit(x)| so a caller can see the approximation's quality (for ReLU networks it is small
// and shrinks with steps; tests check it). For a linear model IG with the zero baseline equals the exact
// contributions.
//
// Thread safety: pure functions.
#ifndef VEIL_ML_EXPLAIN_H_
#define VEIL_ML_EXPLAIN_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "veil/ml/features.h"
#include "veil/ml/model.h"

namespace veil::ml {

enum class AttributionMethod { kExactLinear, kIntegratedGradients };

struct ColumnContribution {
  std::string column;
  double contribution = 0;
};

struct Explanation {
  AttributionMethod method = AttributionMethod::kExactLinear;
  int output = 0;    // the explained logit (class index for multiclass, else 0)
  double logit = 0;  // the model's logit for x
  double base = 0;   // bias (linear) or logit(baseline) (IG)
  double completeness_error = 0;
  std::vector<double> by_feature;             // per encoded feature
  std::vector<ColumnContribution> by_column;  // per original column, sorted by |contribution| descending
};

struct ExplainOptions {
  // Output to explain; -1 = the predicted class (multiclass), 0 otherwise.
  int output = -1;
  // Integrated gradients: number of midpoint steps and baseline (empty = zeros).
  int steps = 128;
  Vector baseline;
};

// Explains one encoded record: exact contributions for a model without hidden layers, integrated gradients
// for an MLP. Errors: InvalidArgument if x's width differs from the model's or the pipeline's, the output is
// out of range, steps < 1, or the baseline has the wrong width.
absl::StatusOr<Explanation> Explain(const Model& model, const FeaturePipeline& pipeline,
                                    const Eigen::Ref<const Vector>& x, const ExplainOptions& options = {});

// Integrated gradients for any model (also linear ones, for comparison). Same errors.
absl::StatusOr<Explanation> IntegratedGradients(const Model& model, const FeaturePipeline& pipeline,
                                                const Eigen::Ref<const Vector>& x,
                                                const ExplainOptions& options = {});

}  // namespace veil::ml

#endif  // VEIL_ML_EXPLAIN_H_
