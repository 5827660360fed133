#include "veil/ml/explain.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "veil/base/status_macros.h"

namespace veil::ml {
namespace {

absl::StatusOr<int> CheckAndPickOutput(const Model& model, const FeaturePipeline& pipeline,
                                       const Eigen::Ref<const Vector>& x, const ExplainOptions& options) {
  if (x.size() != model.num_inputs() || pipeline.num_features() != model.num_inputs()) {
    return absl::InvalidArgumentError(absl::StrCat("explain: record has ", x.size(), " features, model ",
                                                   model.num_inputs(), ", pipeline ",
                                                   pipeline.num_features()));
  }
  if (options.steps < 1) return absl::InvalidArgumentError("explain: steps must be >= 1");
  if (options.baseline.size() != 0 && options.baseline.size() != x.size()) {
    return absl::InvalidArgumentError("explain: baseline has the wrong width");
  }
  if (options.output >= model.num_outputs())
    return absl::InvalidArgumentError("explain: output out of range");
  if (options.output >= 0) return options.output;
  if (model.task() != Task::kMulticlass) return 0;
  const Matrix z = model.Logits(x.transpose());
  Eigen::Index k;
  z.row(0).maxCoeff(&k);
  return static_cast<int>(k);
}

double LogitOf(const Model& model, const Vector& x, int output) {
  return model.Logits(x.transpose())(0, output);
}

void GroupByColumn(const FeaturePipeline& pipeline, Explanation& e) {
  std::vector<double> sums(pipeline.columns().size(), 0.0);
  for (size_t f = 0; f < e.by_feature.size(); ++f) sums[pipeline.feature_column()[f]] += e.by_feature[f];
  for (size_t c = 0; c < sums.size(); ++c) e.by_column.push_back({pipeline.columns()[c].name, sums[c]});
  std::stable_sort(e.by_column.begin(), e.by_column.end(), [](const auto& a, const auto& b) {
    return std::abs(a.contribution) > std::abs(b.contribution);
  });
}

}  // namespace

absl::StatusOr<Explanation> IntegratedGradients(const Model& model, const FeaturePipeline& pipeline,
                                                const Eigen::Ref<const Vector>& x,
                                                const ExplainOptions& options) {
  VEIL_ASSIGN_OR_RETURN(const int output, CheckAndPickOutput(model, pipeline, x, options));
  const Vector baseline = options.baseline.size() == 0 ? Vector::Zero(x.size()) : options.baseline;
  const Vector diff = x - baseline;
  Vector total = Vector::Zero(x.size());
  for (int k = 0; k < options.steps; ++k) {
    const double t = (k + 0.5) / options.steps;
    total += model.InputGradient(baseline + t * diff, output);
  }
  Explanation e;
  e.method = AttributionMethod::kIntegratedGradients;
  e.output = output;
  const Vector ig = diff.cwiseProduct(total) / options.steps;
  e.by_feature.assign(ig.data(), ig.data() + ig.size());
  e.logit = LogitOf(model, x, output);
  e.base = LogitOf(model, baseline, output);
  e.completeness_error = std::abs(e.base + ig.sum() - e.logit);
  GroupByColumn(pipeline, e);
  return e;
}

absl::StatusOr<Explanation> Explain(const Model& model, const FeaturePipeline& pipeline,
                                    const Eigen::Ref<const Vector>& x, const ExplainOptions& options) {
  if (model.num_layers() > 1) return IntegratedGradients(model, pipeline, x, options);
  VEIL_ASSIGN_OR_RETURN(const int output, CheckAndPickOutput(model, pipeline, x, options));
  Explanation e;
  e.method = AttributionMethod::kExactLinear;
  e.output = output;
  const Vector contributions = model.Weights(0).row(output).transpose().cwiseProduct(x);
  e.by_feature.assign(contributions.data(), contributions.data() + contributions.size());
  e.base = model.Bias(0)[output];
  e.logit = LogitOf(model, x, output);
  e.completeness_error = std::abs(e.base + contributions.sum() - e.logit);
  GroupByColumn(pipeline, e);
  return e;
}

}  // namespace veil::ml
