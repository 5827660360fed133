#include "veil/ml/train.h"

#include <cmath>
#include <limits>
#include <numeric>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "veil/base/status_macros.h"
#include "veil/dp/random_bits.h"
#include "veil/dp/samplers.h"

namespace veil::ml {
namespace {

// The geometric sampler's scale: gaps have ratio exp(-s / kGeomT).
constexpr uint64_t kGeomT = uint64_t{1} << 40;

absl::Status ValidateTrain(const Matrix& x, const Targets& y, const Model& model, const TrainOptions& o,
                           bool allow_empty = false) {
  if (x.cols() != model.num_inputs()) {
    return absl::InvalidArgumentError(
        absl::StrCat("training data has ", x.cols(), " features, the model ", model.num_inputs()));
  }
  if (y.size() != x.rows()) {
    return absl::InvalidArgumentError(
        absl::StrCat("training data has ", x.rows(), " rows but ", y.size(), " targets"));
  }
  if (x.rows() == 0 && !allow_empty) return absl::InvalidArgumentError("training data is empty");
  if (model.task() == Task::kRegression ? y.values.size() != x.rows()
                                        : static_cast<int64_t>(y.classes.size()) != x.rows()) {
    return absl::InvalidArgumentError("targets do not match the model's task");
  }
  for (int c : y.classes) {
    if (c < 0 || c >= (model.task() == Task::kBinary ? 2 : model.num_outputs())) {
      return absl::InvalidArgumentError("a class label is outside the model's classes");
    }
  }
  if (!(o.learning_rate > 0) || !std::isfinite(o.learning_rate)) {
    return absl::InvalidArgumentError("learning_rate must be finite and > 0");
  }
  if (o.epochs < 1) return absl::InvalidArgumentError("epochs must be >= 1");
  if (o.batch_size < 1) return absl::InvalidArgumentError("batch_size must be >= 1");
  if (!(o.l2 >= 0) || !(o.decay >= 0) || !(o.momentum >= 0 && o.momentum < 1) ||
      !(o.beta1 >= 0 && o.beta1 < 1) || !(o.beta2 >= 0 && o.beta2 < 1) || !(o.adam_epsilon > 0)) {
    return absl::InvalidArgumentError("l2, decay >= 0; momentum, beta1, beta2 in [0, 1); adam_epsilon > 0");
  }
  if (!(o.proximal_mu >= 0) || !std::isfinite(o.proximal_mu)) {
    return absl::InvalidArgumentError(
        absl::StrCat("proximal_mu must be finite and >= 0, got ", o.proximal_mu));
  }
  if (o.proximal_mu > 0) {
    if (static_cast<int64_t>(o.proximal_center.size()) != model.num_params()) {
      return absl::InvalidArgumentError(absl::StrCat("proximal_center has ", o.proximal_center.size(),
                                                     " values, the model ", model.num_params(),
                                                     " parameters"));
    }
    for (size_t i = 0; i < o.proximal_center.size(); ++i) {
      if (!std::isfinite(o.proximal_center[i])) {
        return absl::InvalidArgumentError(absl::StrCat("proximal_center[", i, "] is not finite"));
      }
    }
  }
  return absl::OkStatus();
}

// SGD with momentum or Adam over the flat parameter vector.
class Stepper {
 public:
  Stepper(const Model& model, const TrainOptions& options) : options_(options) {
    const int64_t p = model.num_params();
    m_ = Vector::Zero(p);
    v_ = Vector::Zero(p);
    weight_mask_ = Vector::Zero(p);
    for (int l = 0; l < model.num_layers(); ++l) {
      const auto w = model.Weights(l);
      const int64_t offset = w.data() - model.params().data();
      weight_mask_.segment(offset, w.size()).setOnes();
    }
  }

  // One step with the mean gradient `g` (modified: the L2 and proximal terms are added).
  void Step(Vector& params, Vector& g, int epoch) {
    if (options_.l2 > 0) g.array() += options_.l2 * weight_mask_.array() * params.array();
    if (options_.proximal_mu > 0) {
      const Eigen::Map<const Vector> center(options_.proximal_center.data(), params.size());
      g += options_.proximal_mu * (params - center);
    }
    const double lr = options_.learning_rate / (1 + options_.decay * epoch);
    if (options_.optimizer == Optimizer::kSgd) {
      m_ = options_.momentum * m_ + g;
      params -= lr * m_;
      return;
    }
    ++t_;
    m_ = options_.beta1 * m_ + (1 - options_.beta1) * g;
    v_ = options_.beta2 * v_ + (1 - options_.beta2) * g.cwiseAbs2();
    const double c1 = 1 - std::pow(options_.beta1, t_), c2 = 1 - std::pow(options_.beta2, t_);
    params.array() -= lr * (m_.array() / c1) / ((v_.array() / c2).sqrt() + options_.adam_epsilon);
  }

 private:
  const TrainOptions& options_;
  Vector m_, v_, weight_mask_;
  int64_t t_ = 0;
};

// A gap G >= 0 with P(G = g) = (1 - r) r^g, r = exp(-s / kGeomT): CKS20 Algorithm 2 without the sign (X = U
// + kGeomT V is geometric with ratio exp(-1 / kGeomT), and floor(X / s) geometric with ratio exp(-s /
// kGeomT)). Exact, from uniform bits only. Returns false if the bits failed (bits.status()).
bool SampleGap(dp::RandomBits& bits, uint64_t s, uint64_t& gap) {
  for (int round = 0; round < 256; ++round) {
    const uint64_t u = bits.UniformFast(kGeomT);
    auto accept = dp::SampleBernoulliExp(bits, u, kGeomT);
    if (!accept.ok()) return false;
    if (!*accept) continue;
    uint64_t v = 0;
    while (true) {
      auto more = dp::SampleBernoulliExp(bits, 1, 1);
      if (!more.ok()) return false;
      if (!*more) break;
      if (++v > 64) {
        bits.Fail("geometric sampler: cap reached");
        return false;
      }
    }
    const unsigned __int128 xv = static_cast<unsigned __int128>(v) * kGeomT + u;
    gap = static_cast<uint64_t>(xv / s);
    return bits.ok();
  }
  bits.Fail("geometric sampler: round cap reached");
  return false;
}

}  // namespace

namespace internal {

uint64_t GeometricScaleForRate(double q) {
  return static_cast<uint64_t>(std::max(1.0, std::round(-std::log1p(-std::min(q, 1 - 1e-12)) * kGeomT)));
}

double RealisedPoissonRate(double q) {
  const double s = static_cast<double>(GeometricScaleForRate(q));
  return std::min(1.0, std::nextafter(-std::expm1(-s / static_cast<double>(kGeomT)), 2.0));
}

absl::Status PoissonSample(dp::RandomBits& bits, int64_t n, uint64_t s, std::vector<int64_t>& out) {
  out.clear();
  int64_t next = -1;
  while (true) {
    uint64_t gap = 0;
    if (!SampleGap(bits, s, gap)) return bits.status();
    if (gap >= static_cast<uint64_t>(n - next - 1)) return absl::OkStatus();
    next += static_cast<int64_t>(gap) + 1;
    out.push_back(next);
  }
}

}  // namespace internal

absl::StatusOr<DpSgdPlan> PlanDpSgd(int64_t num_records, int64_t num_params, const TrainOptions& options,
                                    const DpSgdOptions& dp_options) {
  VEIL_RETURN_IF_ERROR(dp::ValidateEpsilon(dp_options.epsilon));
  VEIL_RETURN_IF_ERROR(dp::ValidatePositiveDelta(dp_options.delta));
  if (!(dp_options.clip_norm > 0) || !std::isfinite(dp_options.clip_norm)) {
    return absl::InvalidArgumentError("clip_norm must be finite and > 0");
  }
  if (num_records < 1 || options.batch_size < 1 || options.batch_size > num_records) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch_size must be in [1, number of records = ", num_records, "]"));
  }
  if (options.epochs < 1) return absl::InvalidArgumentError("epochs must be >= 1");
  if (num_params < 1) return absl::InvalidArgumentError("the model has no parameters");
  DpSgdPlan plan;
  plan.num_records = num_records;
  plan.expected_batch_size = options.batch_size;
  plan.clip_norm = dp_options.clip_norm;
  const double q_target = static_cast<double>(options.batch_size) / static_cast<double>(num_records);
  // The sampler realises q = 1 - exp(-s / 2^40); the accountant sees that value rounded up.
  plan.sampling_rate = internal::RealisedPoissonRate(q_target);
  // T from the requested rate (the realised q differs from it by about 2^-40 relative).
  plan.steps = static_cast<int64_t>(std::ceil(options.epochs / q_target - 1e-9));
  if (dp_options.noise_multiplier.has_value()) {
    if (!(*dp_options.noise_multiplier > 0) || !std::isfinite(*dp_options.noise_multiplier)) {
      return absl::InvalidArgumentError("noise_multiplier must be finite and > 0");
    }
    plan.noise_multiplier = *dp_options.noise_multiplier;
  } else {
    VEIL_ASSIGN_OR_RETURN(plan.noise_multiplier,
                          dp::CalibrateDpSgdNoiseMultiplier(plan.sampling_rate, plan.steps,
                                                            dp_options.epsilon, dp_options.delta));
  }
  // Exact accounting for the z used, with the order that achieved it.
  VEIL_ASSIGN_OR_RETURN(dp::RdpCurve one, dp::SubsampledGaussianRdp(plan.sampling_rate, plan.noise_multiplier,
                                                                    dp::DefaultRdpOrders()));
  VEIL_ASSIGN_OR_RETURN(dp::RdpCurve all, dp::RepeatRdp(one, plan.steps));
  VEIL_ASSIGN_OR_RETURN(dp::RdpConversion conv, dp::RdpToApproxDp(all, dp_options.delta));
  plan.cost = {conv.epsilon, dp_options.delta};
  plan.rdp_order = conv.order;
  // The sampler's sigma' with sigma' / (C + sqrt(P) g) >= z after its rounding (samplers.h).
  VEIL_ASSIGN_OR_RETURN(const dp::CalibratedGaussian noise,
                        dp::CalibrateSecureGaussian(plan.noise_multiplier, plan.clip_norm,
                                                    static_cast<size_t>(num_params), "DP-SGD"));
  plan.noise_sigma = noise.actual;
  dp::QueryAccountant accountant;
  VEIL_RETURN_IF_ERROR(accountant.AddApproxDp("DP-SGD", plan.cost));
  VEIL_ASSIGN_OR_RETURN(plan.privacy, accountant.Total());
  return plan;
}

absl::Status Train(Model& model, const Matrix& x, const Targets& y, const TrainOptions& options,
                   base::RandomSource& rng) {
  VEIL_RETURN_IF_ERROR(ValidateTrain(x, y, model, options));
  const int64_t n = x.rows();
  dp::RandomBits bits(rng);
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  GradientWorkspace ws;
  Vector grad(model.num_params());
  Stepper stepper(model, options);
  for (int epoch = 0; epoch < options.epochs; ++epoch) {
    for (int64_t i = n - 1; i > 0; --i) std::swap(order[i], order[bits.UniformFast(i + 1)]);  // Fisher-Yates
    VEIL_RETURN_IF_ERROR(bits.status());
    double loss = 0;
    for (int64_t start = 0; start < n; start += options.batch_size) {
      const int64_t b = std::min<int64_t>(options.batch_size, n - start);
      const std::span<const int64_t> rows(order.data() + start, b);
      loss += model.BatchGradient(x, y, rows, /*clip_norm=*/0, ws, grad);
      grad /= static_cast<double>(b);
      stepper.Step(model.params(), grad, epoch);
    }
    if (!model.params().allFinite()) {
      return absl::FailedPreconditionError(
          "training diverged (non-finite parameters): lower the learning rate");
    }
    if (options.progress) options.progress(epoch + 1, options.epochs, loss / static_cast<double>(n));
  }
  return absl::OkStatus();
}

absl::StatusOr<DpSgdPlan> TrainDpSgd(Model& model, const Matrix& x, const Targets& y,
                                     const TrainOptions& options, const DpSgdOptions& dp_options,
                                     base::RandomSource& rng, std::optional<int64_t> public_num_records) {
  VEIL_RETURN_IF_ERROR(ValidateTrain(x, y, model, options, /*allow_empty=*/true));
  const int64_t n = x.rows();
  const int64_t n_public = public_num_records.value_or(n);
  if (n > n_public) {
    return absl::InvalidArgumentError(absl::StrCat(
        "DP-SGD: the training data has ", n, " rows, more than the public number of records ", n_public));
  }
  VEIL_ASSIGN_OR_RETURN(DpSgdPlan plan, PlanDpSgd(n_public, model.num_params(), options, dp_options));
  const uint64_t s = internal::GeometricScaleForRate(static_cast<double>(options.batch_size) /
                                                     static_cast<double>(n_public));
  const double expected_batch = plan.sampling_rate * static_cast<double>(n_public);
  dp::RandomBits bits(rng);
  GradientWorkspace ws;
  Vector grad(model.num_params());
  Stepper stepper(model, options);
  std::vector<int64_t> batch;
  batch.reserve(static_cast<size_t>(expected_batch * 2 + 64));
  const int64_t steps_per_epoch = std::max<int64_t>(1, plan.steps / options.epochs);
  for (int64_t step = 0; step < plan.steps; ++step) {
    // Poisson sampling: gaps between included records.
    VEIL_RETURN_IF_ERROR(internal::PoissonSample(bits, n, s, batch));  // empty when n == 0
    model.BatchGradient(x, y, batch, plan.clip_norm, ws, grad);
    for (int64_t k = 0; k < grad.size(); ++k) {
      VEIL_ASSIGN_OR_RETURN(grad[k], dp::AddSecureGaussianNoise(bits, grad[k], plan.noise_sigma));
    }
    grad /= expected_batch;
    const int epoch = static_cast<int>(step / steps_per_epoch);
    stepper.Step(model.params(), grad, epoch);
    if (options.progress && (step + 1) % steps_per_epoch == 0) {
      options.progress(std::min<int>(options.epochs, static_cast<int>((step + 1) / steps_per_epoch)),
                       options.epochs, std::numeric_limits<double>::quiet_NaN());
    }
  }
  if (!model.params().allFinite()) {
    model.params().setZero();
    plan.diverged = true;
  }
  return plan;
}

}  // namespace veil::ml
