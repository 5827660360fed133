#include "veil/fl/dp_fedavg.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "veil/base/status_macros.h"
#include "veil/dp/random_bits.h"
#include "veil/dp/samplers.h"
#include "veil/fl/strategy.h"
#include "veil/ml/train.h"

namespace veil::fl {
namespace {

constexpr std::string_view kDpFedAvgStateMagic = "VFLDPAVG";
constexpr uint64_t kDpFedAvgStateVersion = 1;

double DerivedCountStddev(const DpFedAvgOptions& o) {
  return o.clipped_count_stddev > 0 ? o.clipped_count_stddev : static_cast<double>(o.clients_per_round) / 20;
}

// The L2 norm, without overflow for large finite values (NaN or infinity if a value is not finite).
double L2Norm(std::span<const double> v) {
  double sum = 0;
  for (double x : v) sum += x * x;
  if (std::isfinite(sum)) return std::sqrt(sum);
  double scale = 0;
  for (double x : v) scale = std::max(scale, std::abs(x));
  if (!std::isfinite(scale)) return scale;
  sum = 0;
  for (double x : v) sum += (x / scale) * (x / scale);
  return scale * std::sqrt(sum);
}

// The sigma to request for noise multiplier z on a sum of `dims` coordinates with L2 sensitivity
// `sensitivity`, after the sampler's rounding (dp::CalibrateSecureGaussian, as DP-SGD calibrates).
absl::StatusOr<double> CalibratedSigma(double z, double sensitivity, size_t dims) {
  VEIL_ASSIGN_OR_RETURN(const dp::CalibratedGaussian noise,
                        dp::CalibrateSecureGaussian(z, sensitivity, dims, "DP-FedAvg"));
  return noise.requested;
}

// Rounds of the Poisson-subsampled Gaussian, composed in RDP: the DP-SGD accountant of the dp module (a
// round of DP-FedAvg is a step of DP-SGD with clients as records).
absl::StatusOr<dp::ApproxDp> Convert(double q, double z, int64_t rounds, double delta) {
  if (rounds < 0)
    return absl::InvalidArgumentError(absl::StrCat("DP-FedAvg: rounds must be >= 0, got ", rounds));
  if (rounds == 0) return dp::ApproxDp{0, 0};
  VEIL_ASSIGN_OR_RETURN(const double epsilon, dp::DpSgdEpsilon(q, z, rounds, delta));
  return dp::ApproxDp{epsilon, delta};
}

}  // namespace

absl::Status DpFedAvgOptions::Validate() const {
  const auto positive = [](double v, std::string_view name) -> absl::Status {
    if (!(v > 0) || !std::isfinite(v)) {
      return absl::InvalidArgumentError(
          absl::StrCat("DP-FedAvg: ", std::string(name), " must be finite and > 0, got ", v));
    }
    return absl::OkStatus();
  };
  VEIL_RETURN_IF_ERROR(positive(noise_multiplier, "noise_multiplier"));
  VEIL_RETURN_IF_ERROR(positive(clip_norm, "clip_norm"));
  if (clients_per_round < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("DP-FedAvg: clients_per_round must be >= 1, got ", clients_per_round));
  }
  if (total_clients < clients_per_round) {
    return absl::InvalidArgumentError(absl::StrCat("DP-FedAvg: total_clients (", total_clients,
                                                   ") must be >= clients_per_round (", clients_per_round,
                                                   ")"));
  }
  VEIL_RETURN_IF_ERROR(dp::ValidatePositiveDelta(delta, "DP-FedAvg: delta"));
  if (!adaptive_clipping) return absl::OkStatus();
  if (!(target_quantile > 0 && target_quantile < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("DP-FedAvg: target_quantile must be in (0, 1), got ", target_quantile));
  }
  VEIL_RETURN_IF_ERROR(positive(clip_learning_rate, "clip_learning_rate"));
  if (!(clipped_count_stddev >= 0) || !std::isfinite(clipped_count_stddev)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "DP-FedAvg: clipped_count_stddev must be finite and >= 0 (0 = clients_per_round / 20), got ",
        clipped_count_stddev));
  }
  const double sigma_b = DerivedCountStddev(*this);
  if (!(2 * sigma_b > noise_multiplier)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "DP-FedAvg: adaptive clipping needs 2 * clipped_count_stddev > noise_multiplier (Andrew et al. "
        "Theorem 1), got sigma_b = %g%s and z = %g; raise clipped_count_stddev or clients_per_round",
        sigma_b, clipped_count_stddev > 0 ? "" : " (clients_per_round / 20)", noise_multiplier));
  }
  return absl::OkStatus();
}

absl::StatusOr<ClippedUpdate> ClipUpdate(std::span<const double> update, double clip_norm) {
  if (!(clip_norm > 0) || !std::isfinite(clip_norm)) {
    return absl::InvalidArgumentError(absl::StrCat("clip_norm must be finite and > 0, got ", clip_norm));
  }
  ClippedUpdate out;
  const double norm = L2Norm(update);
  if (!std::isfinite(norm)) {
    out.update.assign(update.size(), 0.0);
    return out;
  }
  out.update.assign(update.begin(), update.end());
  if (norm <= clip_norm) {
    out.within_clip = true;
    return out;
  }
  double factor = clip_norm / norm;
  // Rounding can leave the computed norm a few ulps above C: shrink the factor until it is not.
  for (int iter = 0; iter < 64; ++iter) {
    for (size_t j = 0; j < update.size(); ++j) out.update[j] = update[j] * factor;
    if (L2Norm(out.update) <= clip_norm) return out;
    factor = std::nextafter(factor, 0.0) * (1 - 0x1p-50);
  }
  out.update.assign(update.size(), 0.0);  // unreachable in practice; zeros are always within the clip
  return out;
}

absl::StatusOr<std::vector<int64_t>> SampleClients(const DpFedAvgOptions& options, base::RandomSource& rng) {
  VEIL_RETURN_IF_ERROR(options.Validate());
  std::vector<int64_t> out;
  if (options.clients_per_round == options.total_clients) {
    out.resize(options.total_clients);
    for (int64_t i = 0; i < options.total_clients; ++i) out[i] = i;
    return out;
  }
  const double q =
      static_cast<double>(options.clients_per_round) / static_cast<double>(options.total_clients);
  dp::RandomBits bits(rng);
  VEIL_RETURN_IF_ERROR(
      ml::internal::PoissonSample(bits, options.total_clients, ml::internal::GeometricScaleForRate(q), out));
  return out;
}

absl::StatusOr<DpFedAvg> DpFedAvg::Create(const DpFedAvgOptions& options) {
  VEIL_RETURN_IF_ERROR(options.Validate());
  DpFedAvg d;
  d.options_ = options;
  d.clip_norm_ = options.clip_norm;
  if (options.clients_per_round == options.total_clients) {
    d.sampling_rate_ = 1;
  } else {
    // The rate PoissonSample realises, rounded up (as ml::PlanDpSgd).
    d.sampling_rate_ = ml::internal::RealisedPoissonRate(static_cast<double>(options.clients_per_round) /
                                                         static_cast<double>(options.total_clients));
  }
  const double z = options.noise_multiplier;
  if (options.adaptive_clipping) {
    d.count_stddev_ = DerivedCountStddev(options);
    const double zb = 2 * d.count_stddev_;
    d.update_noise_multiplier_ = 1 / std::sqrt(1 / (z * z) - 1 / (zb * zb));
  } else {
    d.update_noise_multiplier_ = z;
  }
  VEIL_RETURN_IF_ERROR(d.SpentAfter(1).status());  // the accountant accepts these parameters
  return d;
}

absl::StatusOr<std::vector<double>> DpFedAvg::Aggregate(std::span<const double> sum_of_clipped,
                                                        int64_t within_clip_count, int64_t num_clients,
                                                        base::RandomSource& rng, double encoding_scale) {
  if (sum_of_clipped.empty()) return absl::InvalidArgumentError("DP-FedAvg: empty sum of updates");
  for (size_t j = 0; j < sum_of_clipped.size(); ++j) {
    if (!std::isfinite(sum_of_clipped[j])) {
      return absl::InvalidArgumentError(absl::StrCat("DP-FedAvg: sum of updates [", j, "] is not finite"));
    }
  }
  if (num_clients < 0 || within_clip_count < 0 || within_clip_count > num_clients) {
    return absl::InvalidArgumentError(absl::StrCat("DP-FedAvg: within_clip_count ", within_clip_count,
                                                   " must be in [0, num_clients = ", num_clients, "]"));
  }
  if (!(encoding_scale >= 0) || !std::isfinite(encoding_scale)) {
    return absl::InvalidArgumentError(
        absl::StrCat("DP-FedAvg: encoding_scale must be finite and >= 0, got ", encoding_scale));
  }
  // Everything that can fail is computed before the first noise draw (see the header).
  const size_t dims = sum_of_clipped.size();
  const double sensitivity = encoding_scale == 0
                                 ? clip_norm_
                                 : clip_norm_ * (1 + 0x1p-24) +
                                       std::sqrt(static_cast<double>(dims)) * (1 / encoding_scale + 0x1p-149);
  VEIL_ASSIGN_OR_RETURN(const double sigma, CalibratedSigma(update_noise_multiplier_, sensitivity, dims));
  // The sampler refuses |value| / g >= 2^100; a sum of clipped updates stays far below (|S_j| <= n D_t, g <=
  // z D_t 2^-19), so this only rejects sums that clients did not clip, before any noise is spent on them.
  VEIL_ASSIGN_OR_RETURN(const double g, dp::SecureGaussianGranularity(sigma));
  for (size_t j = 0; j < dims; ++j) {
    if (!(std::abs(sum_of_clipped[j]) < 0x1p99 * g)) {
      return absl::InvalidArgumentError(
          absl::StrCat("DP-FedAvg: sum of updates [", j, "] is far larger than clipped updates can produce"));
    }
  }
  double sigma_b = 0;
  const double centred = static_cast<double>(within_clip_count) - static_cast<double>(num_clients) / 2;
  if (options_.adaptive_clipping) {
    // The centred bits b_k - 1/2 have L2 sensitivity 1/2; their noise multiplier is 2 sigma_b.
    VEIL_ASSIGN_OR_RETURN(sigma_b, CalibratedSigma(2 * count_stddev_, 0.5, 1));
    VEIL_ASSIGN_OR_RETURN(const double g_b, dp::SecureGaussianGranularity(sigma_b));
    if (!(std::abs(centred) < 0x1p99 * g_b)) {
      return absl::InvalidArgumentError("DP-FedAvg: num_clients is too large for clipped_count_stddev");
    }
  }
  VEIL_ASSIGN_OR_RETURN(const dp::ApproxDp spent,
                        Convert(sampling_rate_, options_.noise_multiplier, rounds_ + 1, options_.delta));

  const double m = static_cast<double>(options_.clients_per_round);
  dp::RandomBits bits(rng);
  std::vector<double> out(dims);
  for (size_t j = 0; j < dims; ++j) {
    VEIL_ASSIGN_OR_RETURN(const double noisy, dp::AddSecureGaussianNoise(bits, sum_of_clipped[j], sigma));
    out[j] = noisy / m;  // the public expected count, never the actual one (McMahan et al. 2018)
  }
  double next_clip = clip_norm_;
  if (options_.adaptive_clipping) {
    VEIL_ASSIGN_OR_RETURN(const double noisy, dp::AddSecureGaussianNoise(bits, centred, sigma_b));
    const double fraction = noisy / m + 0.5;
    // Clamped, never an error (see kMaxAdaptiveClip); exp overflows to infinity and underflows to 0 cleanly.
    next_clip = std::clamp(
        clip_norm_ * std::exp(-options_.clip_learning_rate * (fraction - options_.target_quantile)),
        kMinAdaptiveClip, kMaxAdaptiveClip);
  }
  clip_norm_ = next_clip;
  ++rounds_;
  spent_ = spent;
  return out;
}

absl::StatusOr<dp::ApproxDp> DpFedAvg::SpentAfter(int64_t rounds) const {
  return Convert(sampling_rate_, options_.noise_multiplier, rounds, options_.delta);
}

namespace {
void AppendOptions(std::string& out, const DpFedAvgOptions& o) {
  internal::AppendDouble(out, o.noise_multiplier);
  internal::AppendDouble(out, o.clip_norm);
  internal::AppendU64(out, o.adaptive_clipping ? 1 : 0);
  internal::AppendDouble(out, o.target_quantile);
  internal::AppendDouble(out, o.clip_learning_rate);
  internal::AppendDouble(out, o.clipped_count_stddev);
  internal::AppendU64(out, static_cast<uint64_t>(o.clients_per_round));
  internal::AppendU64(out, static_cast<uint64_t>(o.total_clients));
  internal::AppendDouble(out, o.delta);
}
}  // namespace

std::string DpFedAvg::SerializeState() const {
  std::string out;
  internal::AppendStateHeader(out, kDpFedAvgStateMagic, kDpFedAvgStateVersion);
  AppendOptions(out, options_);
  internal::AppendU64(out, static_cast<uint64_t>(rounds_));
  internal::AppendDouble(out, clip_norm_);
  return out;
}

absl::Status DpFedAvg::RestoreState(std::string_view state) {
  constexpr std::string_view kWhat = "DP-FedAvg state";
  VEIL_ASSIGN_OR_RETURN(size_t pos,
                        internal::ReadStateHeader(state, kDpFedAvgStateMagic, kDpFedAvgStateVersion, kWhat));
  std::string expected;
  AppendOptions(expected, options_);
  if (state.size() - pos < expected.size())
    return absl::DataLossError("DP-FedAvg state: truncated at options");
  if (state.substr(pos, expected.size()) != expected) {
    return absl::FailedPreconditionError(
        "DP-FedAvg state: written for other DP options (noise multiplier, clipping, clients, delta); a "
        "resumed "
        "run must use the same ones");
  }
  pos += expected.size();
  uint64_t rounds = 0;
  double clip = 0;
  VEIL_RETURN_IF_ERROR(internal::ReadU64(state, pos, kWhat, "rounds", rounds));
  VEIL_RETURN_IF_ERROR(internal::ReadDouble(state, pos, kWhat, "clip_norm", clip));
  if (pos != state.size()) return absl::DataLossError("DP-FedAvg state: trailing bytes");
  if (rounds > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) || !(clip > 0) ||
      !std::isfinite(clip)) {
    return absl::DataLossError("DP-FedAvg state: invalid round count or clip norm");
  }
  VEIL_ASSIGN_OR_RETURN(const dp::ApproxDp spent, Convert(sampling_rate_, options_.noise_multiplier,
                                                          static_cast<int64_t>(rounds), options_.delta));
  rounds_ = static_cast<int64_t>(rounds);
  clip_norm_ = clip;
  spent_ = spent;
  return absl::OkStatus();
}

absl::StatusOr<dp::ApproxDp> DistributedDpSpent(const DistributedDpOptions& options, double l2_sensitivity,
                                                int64_t rounds, double delta) {
  if (rounds < 0) {
    return absl::InvalidArgumentError(absl::StrCat("distributed DP: rounds must be >= 0, got ", rounds));
  }
  VEIL_ASSIGN_OR_RETURN(const DistributedDpCost one, Account(options, l2_sensitivity, delta));
  if (rounds == 0) return dp::ApproxDp{0, 0};
  VEIL_ASSIGN_OR_RETURN(const double epsilon,
                        dp::ZcdpToEpsilon(static_cast<double>(rounds) * one.rho, delta));
  return dp::ApproxDp{epsilon, delta};
}

}  // namespace veil::fl
