#include "veil/fl/distributed_dp.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "veil/base/status_macros.h"
#include "veil/dp/accountant.h"
#include "veil/dp/samplers.h"

namespace veil::fl {

absl::StatusOr<Sigma2> PerClientSigma2(const DistributedDpOptions& o) {
  if (!(o.sigma > 0) || !std::isfinite(o.sigma)) {
    return absl::InvalidArgumentError(absl::StrCat("distributed DP: sigma must be positive and finite"));
  }
  if (o.min_clients == 0) return absl::InvalidArgumentError("distributed DP: min_clients must be at least 1");
  // v = sigma^2 / n_min as num / 2^j, rounded up, with the largest j <= 40 keeping num <= 2^48 (the
  // sampler's range). The floating-point value is within a relative 2^-50 of the exact one; scaling it up
  // by (1 + 2^-50) and adding one unit makes num / 2^j >= sigma^2 / n_min always.
  const double v = o.sigma * o.sigma / o.min_clients;
  if (!(v * 0x1p40 >= 1) || v > 0x1p47) {
    return absl::InvalidArgumentError(absl::StrCat("distributed DP: the per-client variance sigma^2 / ",
                                                   o.min_clients, " = ", v, " is outside [2^-40, 2^47]"));
  }
  int j = 40;
  while (j > 0 && v * std::ldexp(1.0, j) > 0x1p47) --j;
  const double scaled = std::ceil(v * std::ldexp(1.0, j) * (1 + 0x1p-50)) + 1;
  return Sigma2{static_cast<uint64_t>(scaled), uint64_t{1} << j};
}

absl::Status AddDistributedNoise(const DistributedDpOptions& o, dp::RandomBits& bits,
                                 std::span<uint32_t> quantized) {
  VEIL_ASSIGN_OR_RETURN(Sigma2 s2, PerClientSigma2(o));
  for (uint32_t& w : quantized) {
    VEIL_ASSIGN_OR_RETURN(int64_t z, dp::SampleDiscreteGaussian(bits, s2.num, s2.den));
    w += static_cast<uint32_t>(z);  // two's complement: adding a negative value mod 2^32
  }
  return absl::OkStatus();
}

absl::StatusOr<double> SumNoiseStddev(const DistributedDpOptions& o, uint32_t clients) {
  VEIL_ASSIGN_OR_RETURN(Sigma2 s2, PerClientSigma2(o));
  return std::sqrt(s2.value() * clients);
}

absl::StatusOr<double> QuantizedL2Sensitivity(double clip_l2, double scale, uint64_t dimension) {
  if (!(clip_l2 > 0) || !std::isfinite(clip_l2) || !(scale > 0) || !std::isfinite(scale) || dimension == 0) {
    return absl::InvalidArgumentError("distributed DP: clip, scale and dimension must be positive");
  }
  // The clipped update reaches the quantizer as floats: rounding each coordinate to float moves it by at most
  // a relative 2^-24, so the L2 norm by at most that factor too.
  return clip_l2 * (1 + 0x1p-24) * scale + std::sqrt(static_cast<double>(dimension));
}

absl::StatusOr<DistributedDpCost> Account(const DistributedDpOptions& o, double l2_sensitivity,
                                          double delta) {
  VEIL_ASSIGN_OR_RETURN(Sigma2 s2, PerClientSigma2(o));
  if (s2.value() < 1) {
    return absl::InvalidArgumentError(
        "distributed DP: per-client variance below 1 (integer units): the sum of discrete Gaussians is then "
        "not close enough to a discrete Gaussian for this accounting");
  }
  if (!(l2_sensitivity > 0) || !std::isfinite(l2_sensitivity)) {
    return absl::InvalidArgumentError("distributed DP: the L2 sensitivity must be positive and finite");
  }
  DistributedDpCost cost;
  cost.rho = l2_sensitivity * l2_sensitivity / (2 * o.sigma * o.sigma);
  VEIL_ASSIGN_OR_RETURN(cost.epsilon, dp::ZcdpToEpsilon(cost.rho, delta));
  return cost;
}

}  // namespace veil::fl
