#include "veil/ml/model.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "veil/base/status_macros.h"
#include "veil/dp/random_bits.h"

namespace veil::ml {
namespace {

using ::nlohmann::json;

// Numerically stable log(1 + exp(z)).
double Softplus(double z) { return z > 0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z)); }
double Sigmoid(double z) {
  if (z >= 0) return 1 / (1 + std::exp(-z));
  const double e = std::exp(z);
  return e / (1 + e);
}

// Turns logits (rows of z) into the loss's derivative with respect to them, in place; returns the loss sum.
double LinkAndLoss(Task task, const Targets& y, std::span<const int64_t> rows, Eigen::Ref<Matrix> z) {
  double loss = 0;
  const int64_t b = static_cast<int64_t>(rows.size());
  switch (task) {
    case Task::kRegression:
      for (int64_t i = 0; i < b; ++i) {
        const double r = z(i, 0) - y.values[rows[i]];
        loss += 0.5 * r * r;
        z(i, 0) = r;
      }
      break;
    case Task::kBinary:
      for (int64_t i = 0; i < b; ++i) {
        const double logit = z(i, 0);
        const int label = y.classes[rows[i]];
        loss += label ? Softplus(-logit) : Softplus(logit);
        z(i, 0) = Sigmoid(logit) - label;
      }
      break;
    case Task::kMulticlass:
      for (int64_t i = 0; i < b; ++i) {
        auto row = z.row(i);
        const double m = row.maxCoeff();
        row.array() = (row.array() - m).exp();
        const double s = row.sum();
        const int label = y.classes[rows[i]];
        loss += std::log(s) - std::log(row(label));
        row /= s;
        row(label) -= 1;
      }
      break;
  }
  return loss;
}

}  // namespace

std::string_view TaskName(Task task) {
  switch (task) {
    case Task::kRegression:
      return "regression";
    case Task::kBinary:
      return "binary";
    case Task::kMulticlass:
      return "multiclass";
  }
  return "binary";
}

Model::Model(const ModelConfig& config) : config_(config) {
  int64_t total = 0;
  for (int l = 0; l < num_layers(); ++l) {
    offsets_.push_back(total);
    total += static_cast<int64_t>(OutputsOf(l)) * (InputsOf(l) + 1);
  }
  params_ = Vector::Zero(total);
}

absl::StatusOr<Model> Model::Create(const ModelConfig& config) {
  if (config.num_inputs < 1) return absl::InvalidArgumentError("model: num_inputs must be >= 1");
  if (config.task == Task::kMulticlass && config.num_classes < 2) {
    return absl::InvalidArgumentError("model: a multiclass model needs num_classes >= 2");
  }
  if (config.hidden.size() > 2) return absl::InvalidArgumentError("model: at most two hidden layers");
  for (int width : config.hidden) {
    if (width < 1) return absl::InvalidArgumentError("model: hidden layer widths must be >= 1");
  }
  return Model(config);
}

std::string_view Model::kind() const {
  if (!config_.hidden.empty()) return "mlp";
  return config_.task == Task::kRegression ? "linreg" : "logreg";
}

absl::Status Model::InitializeRandom(base::RandomSource& rng) {
  params_.setZero();
  dp::RandomBits bits(rng);
  for (int l = 0; l + 1 < num_layers(); ++l) {
    const double a = std::sqrt(6.0 / InputsOf(l));
    const int64_t n = static_cast<int64_t>(OutputsOf(l)) * InputsOf(l);
    for (int64_t k = 0; k < n; ++k) {
      const double u = static_cast<double>(bits.Word() >> 11) * 0x1p-53;  // uniform in [0, 1)
      params_[offsets_[l] + k] = a * (2 * u - 1);
    }
  }
  // An MLP's output layer is random too (zero output weights would give the hidden units no gradient).
  if (num_layers() > 1) {
    const int l = num_layers() - 1;
    const double a = std::sqrt(6.0 / InputsOf(l));
    const int64_t n = static_cast<int64_t>(OutputsOf(l)) * InputsOf(l);
    for (int64_t k = 0; k < n; ++k) {
      const double u = static_cast<double>(bits.Word() >> 11) * 0x1p-53;
      params_[offsets_[l] + k] = a * (2 * u - 1);
    }
  }
  return bits.status();
}

Eigen::Map<const Matrix> Model::Weights(int l) const {
  return Eigen::Map<const Matrix>(params_.data() + offsets_[l], OutputsOf(l), InputsOf(l));
}
Eigen::Map<const Vector> Model::Bias(int l) const {
  return Eigen::Map<const Vector>(
      params_.data() + offsets_[l] + static_cast<int64_t>(OutputsOf(l)) * InputsOf(l), OutputsOf(l));
}

Matrix Model::Logits(const Matrix& x) const {
  Matrix h = x;
  for (int l = 0; l < num_layers(); ++l) {
    Matrix a = h * Weights(l).transpose();
    a.rowwise() += Bias(l).transpose();
    if (l + 1 < num_layers()) a = a.cwiseMax(0.0);
    h = std::move(a);
  }
  return h;
}

Matrix Model::Predict(const Matrix& x) const {
  Matrix z = Logits(x);
  switch (config_.task) {
    case Task::kRegression:
      break;
    case Task::kBinary:
      for (int64_t i = 0; i < z.rows(); ++i) z(i, 0) = Sigmoid(z(i, 0));
      break;
    case Task::kMulticlass:
      for (int64_t i = 0; i < z.rows(); ++i) {
        auto row = z.row(i);
        row.array() = (row.array() - row.maxCoeff()).exp();
        row /= row.sum();
      }
      break;
  }
  return z;
}

Vector Model::InputGradient(const Eigen::Ref<const Vector>& x, int output) const {
  // Forward, keeping the ReLU masks.
  std::vector<Vector> pre;
  Vector h = x;
  for (int l = 0; l + 1 < num_layers(); ++l) {
    Vector a = Weights(l) * h + Bias(l);
    pre.push_back(a);
    h = a.cwiseMax(0.0);
  }
  // Backward from the chosen logit.
  Vector d = Weights(num_layers() - 1).row(output).transpose();
  for (int l = num_layers() - 2; l >= 0; --l) {
    for (int64_t k = 0; k < d.size(); ++k) {
      if (pre[l][k] <= 0) d[k] = 0;
    }
    d = Weights(l).transpose() * d;
  }
  return d;
}

double Model::BatchGradient(const Matrix& x, const Targets& y, std::span<const int64_t> rows,
                            double clip_norm, GradientWorkspace& ws, Vector& grad) const {
  const int64_t b = static_cast<int64_t>(rows.size());
  const int layers = num_layers();
  if (grad.size() != num_params()) grad.resize(num_params());
  grad.setZero();
  if (b == 0) return 0;
  if (ws.capacity < b || ws.xb.cols() != x.cols() || static_cast<int>(ws.deltas.size()) != layers) {
    const int64_t cap = std::max<int64_t>(b, ws.capacity);
    ws.xb.resize(cap, x.cols());
    ws.activations.assign(layers - 1, Matrix());
    ws.deltas.assign(layers, Matrix());
    for (int l = 0; l < layers; ++l) {
      ws.deltas[l].resize(cap, OutputsOf(l));
      if (l + 1 < layers) ws.activations[l].resize(cap, OutputsOf(l));
    }
    ws.norms2.resize(cap);
    ws.factors.resize(cap);
    ws.capacity = cap;
  }
  auto xb = ws.xb.topRows(b);
  for (int64_t i = 0; i < b; ++i) xb.row(i) = x.row(rows[i]);

  // Forward: A_l = H_{l-1} W_l^T + b_l, stored in deltas[l] (overwritten by the backward pass); H_l = relu.
  for (int l = 0; l < layers; ++l) {
    auto a = ws.deltas[l].topRows(b);
    if (l == 0) {
      a.noalias() = xb * Weights(0).transpose();
    } else {
      a.noalias() = ws.activations[l - 1].topRows(b) * Weights(l).transpose();
    }
    a.rowwise() += Bias(l).transpose();
    if (l + 1 < layers) ws.activations[l].topRows(b) = a.cwiseMax(0.0);
  }
  const double loss = LinkAndLoss(config_.task, y, rows, ws.deltas[layers - 1].topRows(b));
  // Backward: D_{l-1} = (D_l W_l) .* relu'(A_{l-1}); relu'(A) = [H > 0].
  for (int l = layers - 1; l > 0; --l) {
    auto prev = ws.deltas[l - 1].topRows(b);
    prev.noalias() = ws.deltas[l].topRows(b) * Weights(l);
    prev.array() *= (ws.activations[l - 1].topRows(b).array() > 0).cast<double>();
  }
  // Per-example clip factors from |g_i|^2 = sum_l |D_l,i|^2 (|H_{l-1,i}|^2 + 1).
  const bool clip = clip_norm > 0;
  if (clip) {
    auto n2 = ws.norms2.head(b);
    n2.setZero();
    for (int l = 0; l < layers; ++l) {
      const auto input = l == 0 ? ws.xb.topRows(b) : ws.activations[l - 1].topRows(b);
      n2.array() += ws.deltas[l].topRows(b).rowwise().squaredNorm().array() *
                    (input.rowwise().squaredNorm().array() + 1.0);
    }
    auto f = ws.factors.head(b);
    for (int64_t i = 0; i < b; ++i) {
      const double norm = std::sqrt(n2[i]);
      f[i] = norm > clip_norm ? clip_norm / norm : 1.0;
      if (!std::isfinite(norm)) {
        // A record whose gradient is not finite contributes zero (0 * inf would be NaN, so zero the rows).
        f[i] = 0;
        xb.row(i).setZero();
        for (int l = 0; l < layers; ++l) ws.deltas[l].row(i).setZero();
        for (int l = 0; l + 1 < layers; ++l) ws.activations[l].row(i).setZero();
      }
    }
    for (int l = 0; l < layers; ++l) ws.deltas[l].topRows(b).array().colwise() *= f.array();
  }
  // Sums: dW_l = D_l^T H_{l-1}, db_l = colsum D_l.
  for (int l = 0; l < layers; ++l) {
    const int out = OutputsOf(l), in = InputsOf(l);
    Eigen::Map<Matrix> gw(grad.data() + offsets_[l], out, in);
    Eigen::Map<Vector> gb(grad.data() + offsets_[l] + static_cast<int64_t>(out) * in, out);
    const auto d = ws.deltas[l].topRows(b);
    if (l == 0) {
      gw.noalias() = d.transpose() * xb;
    } else {
      gw.noalias() = d.transpose() * ws.activations[l - 1].topRows(b);
    }
    gb = d.colwise().sum().transpose();
  }
  return loss;
}

double Model::MeanLoss(const Matrix& x, const Targets& y) const {
  if (x.rows() == 0) return 0;
  Matrix z = Logits(x);
  std::vector<int64_t> rows(x.rows());
  for (int64_t i = 0; i < x.rows(); ++i) rows[i] = i;
  return LinkAndLoss(config_.task, y, rows, z) / static_cast<double>(x.rows());
}

std::string Model::ToJson() const {
  json j = {{"format", "veil-model"},
            {"version", 1},
            {"task", std::string(TaskName(config_.task))},
            {"kind", std::string(kind())},
            {"num_inputs", config_.num_inputs},
            {"num_classes", config_.task == Task::kMulticlass ? config_.num_classes : 2},
            {"hidden", config_.hidden},
            {"params", std::vector<double>(params_.data(), params_.data() + params_.size())}};
  return j.dump(2, ' ', false, json::error_handler_t::replace);
}

absl::StatusOr<Model> Model::FromJson(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return absl::InvalidArgumentError("model: not a JSON object");
  if (j.value("format", json()) != "veil-model") {
    return absl::InvalidArgumentError("model: \"format\" must be \"veil-model\"");
  }
  if (j.value("version", json()) != 1) return absl::InvalidArgumentError("model: \"version\" must be 1");
  ModelConfig config;
  const json task = j.value("task", json());
  if (task == "regression") {
    config.task = Task::kRegression;
  } else if (task == "binary") {
    config.task = Task::kBinary;
  } else if (task == "multiclass") {
    config.task = Task::kMulticlass;
  } else {
    return absl::InvalidArgumentError("model: \"task\" must be regression, binary or multiclass");
  }
  for (const char* key : {"num_inputs", "num_classes"}) {
    if (!j.contains(key) || !j[key].is_number_integer() || j[key].get<int64_t>() < 1 ||
        j[key].get<int64_t>() > (int64_t{1} << 24)) {
      return absl::InvalidArgumentError(absl::StrCat("model: \"", key, "\" must be an integer in [1, 2^24]"));
    }
  }
  config.num_inputs = j["num_inputs"].get<int>();
  config.num_classes = j["num_classes"].get<int>();
  if (!j.contains("hidden") || !j["hidden"].is_array()) {
    return absl::InvalidArgumentError("model: \"hidden\" must be an array");
  }
  for (const json& w : j["hidden"]) {
    if (!w.is_number_integer() || w.get<int64_t>() < 1 || w.get<int64_t>() > (int64_t{1} << 20)) {
      return absl::InvalidArgumentError("model: \"hidden\" widths must be integers in [1, 2^20]");
    }
    config.hidden.push_back(w.get<int>());
  }
  if (config.hidden.size() > 2)
    return absl::InvalidArgumentError("model: \"hidden\" has more than two layers");
  if (config.task != Task::kMulticlass && config.num_classes != 2) {
    return absl::InvalidArgumentError("model: \"num_classes\" must be 2 for a regression or binary model");
  }
  // The parameter count the shapes imply, checked against "params" BEFORE anything is allocated: a damaged or
  // hostile file declaring 2^24 inputs and 2^20 hidden units must not make Create allocate 2^44 doubles. The
  // count fits in int64 (at most 2^24 * (2^24 + 1) per layer, three layers); equal to the array's size, the
  // allocation is no larger than the text that was parsed.
  int64_t expected = 0;
  {
    int64_t in = config.num_inputs;
    for (int width : config.hidden) {
      expected += static_cast<int64_t>(width) * (in + 1);
      in = width;
    }
    const int64_t outputs = config.task == Task::kMulticlass ? config.num_classes : 1;
    expected += outputs * (in + 1);
  }
  if (!j.contains("params") || !j["params"].is_array()) {
    return absl::InvalidArgumentError("model: \"params\" must be an array of numbers");
  }
  if (static_cast<int64_t>(j["params"].size()) != expected) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model: \"params\" has ", j["params"].size(), " numbers, but \"num_inputs\" ", config.num_inputs,
        ", \"hidden\" [", absl::StrJoin(config.hidden, ", "), "] and ",
        config.task == Task::kMulticlass ? config.num_classes : 1, " output(s) need ", expected));
  }
  VEIL_ASSIGN_OR_RETURN(Model model, Create(config));
  if (j.contains("kind") && j["kind"] != std::string(model.kind())) {
    return absl::InvalidArgumentError(absl::StrCat("model: \"kind\" does not match the shapes (they make a ",
                                                   std::string(model.kind()), ")"));
  }
  for (int64_t k = 0; k < model.num_params(); ++k) {
    const json& v = j["params"][k];
    if (!v.is_number() || !std::isfinite(v.get<double>())) {
      return absl::InvalidArgumentError(absl::StrCat("model: params[", k, "] is not a finite number"));
    }
    model.params_[k] = v.get<double>();
  }
  return model;
}

absl::Status CheckModelParts(const Model& model, const FeaturePipeline& pipeline,
                             const std::vector<std::string>& classes) {
  if (pipeline.num_features() != model.num_inputs()) {
    return absl::InvalidArgumentError(absl::StrCat("model: \"num_inputs\" is ", model.num_inputs(),
                                                   " but the pipeline encodes ", pipeline.num_features(),
                                                   " features"));
  }
  const size_t want = model.task() == Task::kBinary       ? 2
                      : model.task() == Task::kMulticlass ? static_cast<size_t>(model.config().num_classes)
                                                          : 0;
  if (classes.size() != want) {
    return absl::InvalidArgumentError(absl::StrCat("model: \"classes\" has ", classes.size(), " names, a ",
                                                   std::string(TaskName(model.task())), " model needs ",
                                                   want));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ExportLinearModelJson(const Model& model, const FeaturePipeline& pipeline,
                                                  const std::vector<std::string>& classes) {
  if (model.num_layers() != 1 || model.task() == Task::kMulticlass) {
    return absl::InvalidArgumentError(
        "model export: only linear and binary logistic models have the veil-linear-model format");
  }
  if (pipeline.num_features() != model.num_inputs()) {
    return absl::InvalidArgumentError(absl::StrCat("model export: the pipeline has ", pipeline.num_features(),
                                                   " features, the model ", model.num_inputs()));
  }
  std::vector<double> means(pipeline.num_features(), 0.0), scales(pipeline.num_features(), 1.0);
  for (int f = 0; f < pipeline.num_features(); ++f) {
    const ColumnSpec& spec = pipeline.columns()[pipeline.feature_column()[f]];
    if (spec.kind == ColumnKind::kNumeric && pipeline.feature_names()[f] == spec.name) {
      means[f] = *spec.mean;
      scales[f] = *spec.scale;
    }
  }
  const auto w = model.Weights(0);
  json metadata = {{"pipeline", json::parse(pipeline.ToJson(), nullptr, /*allow_exceptions=*/false)},
                   {"classes", classes}};
  json j = {{"format", "veil-linear-model"},
            {"version", 1},
            {"kind", model.task() == Task::kRegression ? "linear" : "logistic"},
            {"features", pipeline.feature_names()},
            {"weights", std::vector<double>(w.data(), w.data() + w.cols())},
            {"bias", model.Bias(0)[0]},
            {"standardization", {{"means", means}, {"scales", scales}}},
            {"metadata", std::move(metadata)}};
  return j.dump(2, ' ', false, json::error_handler_t::replace);
}

}  // namespace veil::ml
