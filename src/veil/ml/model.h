// Models (issue 9, item 2): linear regression, binary and multinomial logistic regression, and a small
// multilayer perceptron (one or two hidden ReLU layers), all one class: a stack of dense layers on Eigen
// whose output layer's link is fixed by the task.
//
//   task           output                      loss (per record)                    d loss / d logit
//   kRegression    z (identity)                (z - y)^2 / 2                        z - y
//   kBinary        p = sigmoid(z)              -y ln p - (1 - y) ln(1 - p)          p - y
//   kMulticlass    p = softmax(z), K classes   -ln p_y                              p - onehot(y)
//
// "linreg" and "logreg" are the models without hidden layers (kind() says which); "mlp" has hidden layers.
//
// Parameters live in one flat vector (params()), layer by layer: W_l (out x in, row-major) then b_l. Flat
// storage makes optimizers, DP noise and serialization one loop each.
//
// Gradients (BatchGradient) are computed for a whole mini-batch at once, optionally with per-example L2
// clipping for DP-SGD (Abadi et al. 2016, "Deep Learning with Differential Privacy", Algorithm 1). The
// per-example gradient of a dense layer is the outer product delta_i h_i^T, whose Frobenius norm is
// |delta_i| |h_i|, so per-example norms come from row norms of the batch matrices without materialising any
// per-example gradient (Goodfellow 2015, "Efficient Per-Example Gradient Computations"), and the clipped sum
// is (diag(c) Delta)^T H: the same two matrix products as the non-private gradient.
//
// Thread safety: a Model is a plain value; const methods may run concurrently.
#ifndef VEIL_ML_MODEL_H_
#define VEIL_ML_MODEL_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "veil/base/random.h"
#include "veil/ml/features.h"

namespace veil::ml {

enum class Task { kRegression, kBinary, kMulticlass };
// "regression", "binary", "multiclass".
std::string_view TaskName(Task task);

struct ModelConfig {
  Task task = Task::kBinary;
  int num_inputs = 0;
  // Number of classes for kMulticlass (>= 2); ignored otherwise.
  int num_classes = 2;
  // Hidden layer widths: empty (linear / logistic regression), or one or two ReLU layers.
  std::vector<int> hidden;
};

// Targets of a data set: class indices (kBinary: 0/1, kMulticlass: 0..K-1) or real values (kRegression).
struct Targets {
  std::vector<int> classes;
  Vector values;

  int64_t size() const { return classes.empty() ? values.size() : static_cast<int64_t>(classes.size()); }
};

// Reusable scratch matrices for BatchGradient, so that a training loop does no heap allocation per step
// (sized for the largest batch on first use).
struct GradientWorkspace {
  Matrix xb;                        // the batch's rows
  std::vector<Matrix> activations;  // H_l per hidden layer (post-ReLU)
  std::vector<Matrix> deltas;       // d loss / d A_l per layer
  Vector norms2;                    // per-example squared gradient norms
  Vector factors;                   // per-example clip factors
  int64_t capacity = 0;
};

class Model {
 public:
  Model() = default;

  // A model with all parameters zero. Errors: InvalidArgument for num_inputs < 1, num_classes < 2 for
  // kMulticlass, more than two hidden layers or a width < 1.
  static absl::StatusOr<Model> Create(const ModelConfig& config);

  // Sets hidden-layer weights uniform in +-sqrt(6 / fan_in) (He et al. 2015, uniform variant) and everything
  // else to 0, from `rng` (a deterministic test source gives a reproducible model). Errors: rng's.
  absl::Status InitializeRandom(base::RandomSource& rng);

  const ModelConfig& config() const { return config_; }
  Task task() const { return config_.task; }
  // "linreg", "logreg" or "mlp".
  std::string_view kind() const;
  int num_inputs() const { return config_.num_inputs; }
  // 1 for kRegression and kBinary, K for kMulticlass.
  int num_outputs() const { return config_.task == Task::kMulticlass ? config_.num_classes : 1; }
  int num_layers() const { return static_cast<int>(config_.hidden.size()) + 1; }
  int64_t num_params() const { return params_.size(); }
  Vector& params() { return params_; }
  const Vector& params() const { return params_; }

  // Layer l's weight matrix (out x in) and bias, views into params(). 0 <= l < num_layers().
  Eigen::Map<const Matrix> Weights(int l) const;
  Eigen::Map<const Vector> Bias(int l) const;

  // Pre-link outputs z (n x num_outputs()). Precondition: x.cols() == num_inputs().
  Matrix Logits(const Matrix& x) const;
  // Predictions (n x num_outputs()): the value (kRegression), P(class 1) (kBinary) or class probabilities
  // (kMulticlass).
  Matrix Predict(const Matrix& x) const;
  // Gradient of output `output`'s logit with respect to the input, for one record (explanations).
  Vector InputGradient(const Eigen::Ref<const Vector>& x, int output) const;

  // Sum over the batch rows `rows` of x of the loss (returned) and of its gradient (written to `grad`,
  // resized to num_params()). If clip_norm > 0, each example's gradient is first scaled by
  // min(1, clip_norm / |g_i|) (DP-SGD clipping); the loss is then still the unclipped sum.
  // Preconditions: indices valid, targets match the task, x.cols() == num_inputs().
  double BatchGradient(const Matrix& x, const Targets& y, std::span<const int64_t> rows, double clip_norm,
                       GradientWorkspace& ws, Vector& grad) const;

  // Mean loss over all rows (for tests and progress reporting).
  double MeanLoss(const Matrix& x, const Targets& y) const;

  // JSON {"format": "veil-model", "version": 1, "task", "kind", "num_inputs", "num_classes", "hidden",
  // "params"} (doubles printed to round-trip exactly) and back. FromJson checks every size before it
  // allocates: "params" must hold exactly the count the shapes imply (so a file declaring huge layers with a
  // short "params" is refused without allocating them), num_classes is 2 unless multiclass, "kind" (if
  // present) matches the shapes. Errors: InvalidArgument naming the field.
  std::string ToJson() const;
  static absl::StatusOr<Model> FromJson(std::string_view json);

 private:
  explicit Model(const ModelConfig& config);
  int InputsOf(int l) const { return l == 0 ? config_.num_inputs : config_.hidden[l - 1]; }
  int OutputsOf(int l) const { return l + 1 == num_layers() ? num_outputs() : config_.hidden[l]; }

  ModelConfig config_;
  Vector params_;
  std::vector<int64_t> offsets_;  // per layer, the offset of W_l in params_ (b_l follows it)
};

// Checks that a model, its feature pipeline and its class names belong together (a model read back from
// storage): the pipeline encodes exactly model.num_inputs() features, and there are 2 class names for a
// binary model, num_classes for a multiclass one, none for a regression. Errors: InvalidArgument naming the
// field and both sizes.
absl::Status CheckModelParts(const Model& model, const FeaturePipeline& pipeline,
                             const std::vector<std::string>& classes);

// Exports a linear or binary logistic model (no hidden layers) with its feature pipeline in the JSON format
// that the HE module scores (src/veil/he/scoring.h, "veil-linear-model" version 1): "features" are the
// pipeline's encoded feature names, "weights" and "bias" the model's, and "standardization" carries each
// numeric feature's mean and scale (0 and 1 for one-hot and missing-indicator features), so the scorer's
// input is the clipped and transformed value of each numeric column and the 0/1 encoding of the others.
// "metadata" holds {"pipeline": <the pipeline's JSON>, "classes": [...]} (classes may be empty). Errors:
// InvalidArgument for an MLP or a multinomial model, or if the pipeline's width differs from the model's.
absl::StatusOr<std::string> ExportLinearModelJson(const Model& model, const FeaturePipeline& pipeline,
                                                  const std::vector<std::string>& classes = {});

}  // namespace veil::ml

#endif  // VEIL_ML_MODEL_H_
