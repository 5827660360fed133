#include "veil/fl/strategy.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "veil/base/status_macros.h"

namespace veil::fl {
namespace {

constexpr std::string_view kStateMagic = "VFLSTRAT";
constexpr uint64_t kStateVersion = 1;

struct NamedKind {
  std::string_view name;
  StrategyKind kind;
};
constexpr NamedKind kKinds[] = {{"fedavg", StrategyKind::kFedAvg},
                                {"fedprox", StrategyKind::kFedProx},
                                {"fedadam", StrategyKind::kFedAdam},
                                {"fedyogi", StrategyKind::kFedYogi},
                                {"fedadagrad", StrategyKind::kFedAdagrad}};

absl::Status CheckFinite(std::span<const double> v, std::string_view what) {
  for (size_t i = 0; i < v.size(); ++i) {
    if (!std::isfinite(v[i]))
      return absl::InvalidArgumentError(absl::StrCat(std::string(what), "[", i, "] is not finite"));
  }
  return absl::OkStatus();
}

}  // namespace

namespace internal {

void AppendU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
void AppendDouble(std::string& out, double v) { AppendU64(out, std::bit_cast<uint64_t>(v)); }

absl::Status ReadU64(std::string_view in, size_t& pos, std::string_view what, std::string_view field,
                     uint64_t& v) {
  if (in.size() < pos || in.size() - pos < 8) {
    return absl::DataLossError(absl::StrCat(std::string(what), ": truncated at ", std::string(field)));
  }
  v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(in[pos + i]);
  pos += 8;
  return absl::OkStatus();
}
absl::Status ReadDouble(std::string_view in, size_t& pos, std::string_view what, std::string_view field,
                        double& v) {
  uint64_t bits = 0;
  VEIL_RETURN_IF_ERROR(ReadU64(in, pos, what, field, bits));
  v = std::bit_cast<double>(bits);
  return absl::OkStatus();
}

void AppendStateHeader(std::string& out, std::string_view magic, uint64_t version) {
  out.append(magic);
  AppendU64(out, version);
}

absl::StatusOr<size_t> ReadStateHeader(std::string_view in, std::string_view magic, uint64_t version,
                                       std::string_view what) {
  if (in.substr(0, magic.size()) != magic) {
    return absl::DataLossError(
        absl::StrCat(std::string(what), ": not a ", std::string(what), " (bad magic)"));
  }
  size_t pos = magic.size();
  uint64_t v = 0;
  VEIL_RETURN_IF_ERROR(ReadU64(in, pos, what, "version", v));
  if (v != version) return absl::DataLossError(absl::StrCat(std::string(what), ": unsupported version ", v));
  return pos;
}

}  // namespace internal

absl::StatusOr<StrategyKind> ParseStrategyKind(std::string_view name) {
  for (const NamedKind& k : kKinds) {
    if (k.name == name) return k.kind;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown strategy \"", std::string(name),
                   "\": expected one of fedavg, fedprox, fedadam, fedyogi, fedadagrad"));
}

std::string_view StrategyName(StrategyKind kind) {
  for (const NamedKind& k : kKinds) {
    if (k.kind == kind) return k.name;
  }
  return "unknown";
}

absl::Status StrategyOptions::Validate() const {
  if (StrategyName(kind) == "unknown") return absl::InvalidArgumentError("strategy: unknown kind");
  if (!(server_learning_rate > 0) || !std::isfinite(server_learning_rate)) {
    return absl::InvalidArgumentError(
        absl::StrCat("strategy: server_learning_rate must be finite and > 0, got ", server_learning_rate));
  }
  if (!(beta1 >= 0 && beta1 < 1)) {
    return absl::InvalidArgumentError(absl::StrCat("strategy: beta1 must be in [0, 1), got ", beta1));
  }
  if (!(beta2 >= 0 && beta2 < 1)) {
    return absl::InvalidArgumentError(absl::StrCat("strategy: beta2 must be in [0, 1), got ", beta2));
  }
  if (!(tau > 0) || !std::isfinite(tau)) {
    return absl::InvalidArgumentError(absl::StrCat("strategy: tau must be finite and > 0, got ", tau));
  }
  if (!(proximal_mu >= 0) || !std::isfinite(proximal_mu)) {
    return absl::InvalidArgumentError(
        absl::StrCat("strategy: proximal_mu must be finite and >= 0, got ", proximal_mu));
  }
  if (kind == StrategyKind::kFedProx && proximal_mu == 0) {
    return absl::InvalidArgumentError("strategy: fedprox needs proximal_mu > 0 (with mu = 0 it is fedavg)");
  }
  if (kind != StrategyKind::kFedProx && proximal_mu != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("strategy: proximal_mu is FedProx's parameter; set the strategy to fedprox (it is ",
                     std::string(StrategyName(kind)), ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<double>> WeightedMean(std::span<const ClientUpdate> updates) {
  if (updates.empty()) return absl::InvalidArgumentError("weighted mean: no client updates");
  const size_t p = updates[0].update.size();
  if (p == 0) return absl::InvalidArgumentError("weighted mean: client 0 sent an empty update");
  std::vector<double> sum(p, 0.0);
  double total = 0;
  for (size_t k = 0; k < updates.size(); ++k) {
    const ClientUpdate& u = updates[k];
    if (u.update.size() != p) {
      return absl::InvalidArgumentError(
          absl::StrCat("weighted mean: client ", k, " sent ", u.update.size(), " values, client 0 sent ", p));
    }
    if (u.num_examples < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("weighted mean: client ", k, " has a negative example count ", u.num_examples));
    }
    VEIL_RETURN_IF_ERROR(CheckFinite(u.update, absl::StrCat("weighted mean: client ", k, " update")));
    const double w = static_cast<double>(u.num_examples);
    for (size_t j = 0; j < p; ++j) sum[j] += w * u.update[j];
    total += w;
  }
  if (!(total > 0)) return absl::InvalidArgumentError("weighted mean: the clients have no examples in total");
  for (double& s : sum) s /= total;
  return sum;
}

absl::StatusOr<double> SecAggWeight(int64_t num_examples, int64_t max_examples) {
  if (max_examples < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("secagg weight: max_examples must be >= 1, got ", max_examples));
  }
  if (num_examples < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("secagg weight: num_examples must be >= 1, got ", num_examples));
  }
  return static_cast<double>(std::min(num_examples, max_examples)) / static_cast<double>(max_examples);
}

absl::StatusOr<std::vector<float>> SecAggWeightedInput(const ClientUpdate& update, int64_t max_examples) {
  VEIL_ASSIGN_OR_RETURN(const double w, SecAggWeight(update.num_examples, max_examples));
  if (update.update.empty()) return absl::InvalidArgumentError("secagg input: empty update");
  VEIL_RETURN_IF_ERROR(CheckFinite(update.update, "secagg input: update"));
  std::vector<float> out(update.update.size() + 1);
  for (size_t j = 0; j < update.update.size(); ++j) out[j] = static_cast<float>(w * update.update[j]);
  out.back() = static_cast<float>(w);
  return out;
}

absl::StatusOr<std::vector<double>> MeanFromWeightedSecAggSum(std::span<const double> decoded_sum,
                                                              size_t num_clients, int64_t max_examples,
                                                              const Quantizer& quantizer) {
  if (decoded_sum.size() < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("secagg mean: the weighted sum needs the updates and their weight, got ",
                     decoded_sum.size(), " values"));
  }
  VEIL_RETURN_IF_ERROR(CheckFinite(decoded_sum, "secagg mean: sum"));
  if (num_clients == 0) return absl::InvalidArgumentError("secagg mean: the sum has no clients");
  if (!(quantizer.clip() >= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("secagg mean: the quantizer's clip is ", quantizer.clip(),
                                                   "; it must be >= 1 (the weights, up to 1, "
                                                   "must not be clipped)"));
  }
  // The weights an honest site can send, exactly as SecAggWeightedInput casts them, then the integer range
  // of the encoded sum (strategy.h). s is a power of two and every product below is an integer under 2^53,
  // so the comparison is exact.
  VEIL_ASSIGN_OR_RETURN(const double w_min, SecAggWeight(1, max_examples));
  VEIL_ASSIGN_OR_RETURN(const double w_max, SecAggWeight(max_examples, max_examples));
  const double s = quantizer.scale();
  const double n = static_cast<double>(num_clients);
  const double lo = n * std::floor(static_cast<double>(static_cast<float>(w_min)) * s);
  const double hi = n * std::ceil(static_cast<double>(static_cast<float>(w_max)) * s);
  const double total = decoded_sum.back();
  const double units = total * s;
  if (!(units >= lo && units <= hi)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "secagg mean: the decoded weight sum is outside [%.6g, %.6g], the range %d sites with weights in "
        "[1/%d, 1] can produce (quantization included): a site sent a weight outside its bounds",
        lo / s, hi / s, num_clients, max_examples));
  }
  if (!(total > 0)) {
    return absl::FailedPreconditionError(
        "secagg mean: the decoded weight sum is 0: the weights were quantized to 0 (raise the quantizer's "
        "scale or lower max_examples)");
  }
  std::vector<double> mean(decoded_sum.begin(), decoded_sum.end() - 1);
  for (double& m : mean) m /= total;
  return mean;
}

Strategy::Strategy(const StrategyOptions& options, size_t num_params)
    : options_(options), num_params_(num_params) {
  if (adaptive()) {
    m_.assign(num_params, 0.0);
    v_.assign(num_params, options.tau * options.tau);  // v_{-1} = tau^2 (Reddi et al., Algorithm 2)
  }
}

bool Strategy::adaptive() const {
  return options_.kind == StrategyKind::kFedAdam || options_.kind == StrategyKind::kFedYogi ||
         options_.kind == StrategyKind::kFedAdagrad;
}

absl::StatusOr<Strategy> Strategy::Create(const StrategyOptions& options, size_t num_params) {
  VEIL_RETURN_IF_ERROR(options.Validate());
  if (num_params == 0) return absl::InvalidArgumentError("strategy: the model has no parameters");
  return Strategy(options, num_params);
}

absl::Status Strategy::Apply(std::span<const double> mean_update, std::vector<double>& global) {
  if (mean_update.size() != num_params_ || global.size() != num_params_) {
    return absl::InvalidArgumentError(absl::StrCat("strategy: expected ", num_params_,
                                                   " parameters, got a mean update of ", mean_update.size(),
                                                   " and a model of ", global.size()));
  }
  VEIL_RETURN_IF_ERROR(CheckFinite(mean_update, "strategy: mean update"));
  VEIL_RETURN_IF_ERROR(CheckFinite(global, "strategy: global model"));
  const double eta = options_.server_learning_rate;
  std::vector<double> next(global);
  std::vector<double> m, v;
  if (!adaptive()) {
    for (size_t j = 0; j < num_params_; ++j) next[j] += eta * mean_update[j];
  } else {
    const double b1 = options_.beta1, b2 = options_.beta2;
    m = m_;
    v = v_;
    for (size_t j = 0; j < num_params_; ++j) {
      const double d = mean_update[j];
      const double d2 = d * d;
      m[j] = b1 * m[j] + (1 - b1) * d;
      switch (options_.kind) {
        case StrategyKind::kFedAdagrad:
          v[j] = v[j] + d2;
          break;
        case StrategyKind::kFedYogi: {
          const double diff = v[j] - d2;
          const double sign = diff > 0 ? 1.0 : (diff < 0 ? -1.0 : 0.0);
          v[j] = v[j] - (1 - b2) * d2 * sign;
          break;
        }
        default:  // kFedAdam
          v[j] = b2 * v[j] + (1 - b2) * d2;
          break;
      }
      next[j] += eta * m[j] / (std::sqrt(v[j]) + options_.tau);
    }
  }
  for (size_t j = 0; j < num_params_; ++j) {
    if (!std::isfinite(next[j])) {
      return absl::FailedPreconditionError(absl::StrCat("strategy: the server step makes parameter ", j,
                                                        " non-finite; lower server_learning_rate"));
    }
  }
  global = std::move(next);
  if (adaptive()) {
    m_ = std::move(m);
    v_ = std::move(v);
  }
  ++steps_;
  return absl::OkStatus();
}

std::string Strategy::SerializeState() const {
  std::string out;
  internal::AppendStateHeader(out, kStateMagic, kStateVersion);
  internal::AppendU64(out, static_cast<uint64_t>(options_.kind));
  internal::AppendDouble(out, options_.server_learning_rate);
  internal::AppendDouble(out, options_.beta1);
  internal::AppendDouble(out, options_.beta2);
  internal::AppendDouble(out, options_.tau);
  internal::AppendDouble(out, options_.proximal_mu);
  internal::AppendU64(out, num_params_);
  internal::AppendU64(out, static_cast<uint64_t>(steps_));
  out.reserve(out.size() + 16 * m_.size());
  for (double x : m_) internal::AppendDouble(out, x);
  for (double x : v_) internal::AppendDouble(out, x);
  return out;
}

absl::Status Strategy::RestoreState(std::string_view state) {
  constexpr std::string_view kWhat = "strategy state";
  VEIL_ASSIGN_OR_RETURN(size_t pos, internal::ReadStateHeader(state, kStateMagic, kStateVersion, kWhat));
  uint64_t kind = 0, num_params = 0, steps = 0;
  double eta = 0, b1 = 0, b2 = 0, tau = 0, mu = 0;
  VEIL_RETURN_IF_ERROR(internal::ReadU64(state, pos, kWhat, "kind", kind));
  VEIL_RETURN_IF_ERROR(internal::ReadDouble(state, pos, kWhat, "server_learning_rate", eta));
  VEIL_RETURN_IF_ERROR(internal::ReadDouble(state, pos, kWhat, "beta1", b1));
  VEIL_RETURN_IF_ERROR(internal::ReadDouble(state, pos, kWhat, "beta2", b2));
  VEIL_RETURN_IF_ERROR(internal::ReadDouble(state, pos, kWhat, "tau", tau));
  VEIL_RETURN_IF_ERROR(internal::ReadDouble(state, pos, kWhat, "proximal_mu", mu));
  VEIL_RETURN_IF_ERROR(internal::ReadU64(state, pos, kWhat, "num_params", num_params));
  VEIL_RETURN_IF_ERROR(internal::ReadU64(state, pos, kWhat, "steps", steps));
  // Bit-exact comparison: the state only continues the same run.
  const auto same = [](double a, double b) {
    return std::bit_cast<uint64_t>(a) == std::bit_cast<uint64_t>(b);
  };
  if (kind != static_cast<uint64_t>(options_.kind) || !same(eta, options_.server_learning_rate) ||
      !same(b1, options_.beta1) || !same(b2, options_.beta2) || !same(tau, options_.tau) ||
      !same(mu, options_.proximal_mu)) {
    return absl::FailedPreconditionError(
        absl::StrFormat("strategy state: written for strategy %s (eta %g, beta1 %g, beta2 %g, tau %g, mu "
                        "%g), this run uses %s "
                        "(eta %g, beta1 %g, beta2 %g, tau %g, mu %g)",
                        kind < std::size(kKinds) ? kKinds[kind].name : "unknown", eta, b1, b2, tau, mu,
                        StrategyName(options_.kind), options_.server_learning_rate, options_.beta1,
                        options_.beta2, options_.tau, options_.proximal_mu));
  }
  if (num_params != num_params_) {
    return absl::FailedPreconditionError(absl::StrCat("strategy state: written for ", num_params,
                                                      " parameters, this model has ", num_params_));
  }
  if (steps > static_cast<uint64_t>(INT64_MAX)) return absl::DataLossError("strategy state: bad step count");
  const size_t moments = adaptive() ? num_params_ : 0;
  if ((state.size() - pos) != 16 * moments) {
    return absl::DataLossError(
        absl::StrCat("strategy state: ", state.size() - pos, " bytes of moments, expected ", 16 * moments));
  }
  std::vector<double> m(moments), v(moments);
  for (size_t j = 0; j < moments; ++j)
    VEIL_RETURN_IF_ERROR(internal::ReadDouble(state, pos, kWhat, "m", m[j]));
  for (size_t j = 0; j < moments; ++j)
    VEIL_RETURN_IF_ERROR(internal::ReadDouble(state, pos, kWhat, "v", v[j]));
  for (size_t j = 0; j < moments; ++j) {
    if (!std::isfinite(m[j]) || !std::isfinite(v[j]) || v[j] < 0) {
      return absl::DataLossError(absl::StrCat("strategy state: moment ", j, " is not valid"));
    }
  }
  m_ = std::move(m);
  v_ = std::move(v);
  steps_ = static_cast<int64_t>(steps);
  return absl::OkStatus();
}

absl::StatusOr<ClientUpdate> TrainLocally(const ml::Model& global, const ml::Matrix& x, const ml::Targets& y,
                                          const ml::TrainOptions& options, double proximal_mu,
                                          base::RandomSource& rng) {
  if (!(proximal_mu >= 0) || !std::isfinite(proximal_mu)) {
    return absl::InvalidArgumentError(
        absl::StrCat("local training: proximal_mu must be finite and >= 0, got ", proximal_mu));
  }
  ml::Model local = global;
  ml::TrainOptions o = options;
  o.proximal_mu = proximal_mu;
  o.proximal_center.clear();
  if (proximal_mu > 0)
    o.proximal_center.assign(global.params().data(), global.params().data() + global.num_params());
  VEIL_RETURN_IF_ERROR(ml::Train(local, x, y, o, rng));
  ClientUpdate out;
  out.update.resize(global.num_params());
  for (int64_t j = 0; j < global.num_params(); ++j) out.update[j] = local.params()[j] - global.params()[j];
  out.num_examples = x.rows();
  return out;
}

}  // namespace veil::fl
