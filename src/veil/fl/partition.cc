#include "veil/fl/partition.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <numbers>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "veil/base/status_macros.h"
#include "veil/dp/random_bits.h"

namespace veil::fl {
namespace {

constexpr std::string_view kDirichletPrefix = "dirichlet:";

// Uniform in (0, 1): 53 random bits, offset by half a step so that 0 never occurs (logs are taken).
double Uniform01(dp::RandomBits& bits) { return (static_cast<double>(bits.Word() >> 11) + 0.5) * 0x1p-53; }

double StandardNormal(dp::RandomBits& bits) {  // Box-Muller
  const double u1 = Uniform01(bits), u2 = Uniform01(bits);
  return std::sqrt(-2 * std::log(u1)) * std::cos(2 * std::numbers::pi * u2);
}

// ln of a Gamma(alpha, 1) variate. Marsaglia-Tsang for shape >= 1; for alpha < 1, Gamma(alpha) =
// Gamma(alpha + 1) U^(1/alpha) (their Section 6), kept in logs because U^(1/alpha) underflows for small
// alpha.
double LogGamma(dp::RandomBits& bits, double alpha) {
  const double shape = alpha < 1 ? alpha + 1 : alpha;
  const double d = shape - 1.0 / 3, c = 1 / std::sqrt(9 * d);
  double log_g = 0;
  // Acceptance is >= 95% per try for shape >= 1; the cap only bounds the loop if the bits failed (zeros).
  for (int tries = 0; tries < 1000; ++tries) {
    const double x = StandardNormal(bits);
    const double v = std::pow(1 + c * x, 3);
    if (v <= 0) continue;
    const double u = Uniform01(bits);
    if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v)) {
      log_g = std::log(d * v);
      break;
    }
  }
  if (alpha < 1) log_g += std::log(Uniform01(bits)) / alpha;
  return log_g;
}

void Shuffle(dp::RandomBits& bits, std::vector<int64_t>& v) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[bits.UniformFast(i)]);  // Fisher-Yates
}

absl::Status CheckSites(int64_t num_rows, int sites) {
  if (sites < 1)
    return absl::InvalidArgumentError(absl::StrCat("partition: sites must be >= 1, got ", sites));
  if (num_rows < sites) {
    return absl::InvalidArgumentError(
        absl::StrCat("partition: ", num_rows, " rows cannot give each of ", sites, " sites a row"));
  }
  return absl::OkStatus();
}

}  // namespace

namespace internal {

void SampleDirichlet(dp::RandomBits& bits, double alpha, int k, std::vector<double>& p) {
  // Normalised Gamma(alpha, 1) variates, from their logs (exp of the difference to the largest cannot
  // overflow, and the largest term is 1, so the total is >= 1).
  p.resize(k);
  double max_log = -INFINITY;
  for (int i = 0; i < k; ++i) {
    p[i] = LogGamma(bits, alpha);
    max_log = std::max(max_log, p[i]);
  }
  double total = 0;
  for (int i = 0; i < k; ++i) {
    p[i] = std::exp(p[i] - max_log);
    total += p[i];
  }
  for (int i = 0; i < k; ++i) p[i] /= total;
}

}  // namespace internal

absl::StatusOr<PartitionSpec> ParsePartition(std::string_view spec) {
  if (spec == "iid") return PartitionSpec{PartitionSpec::Kind::kIid, 0};
  if (spec.substr(0, kDirichletPrefix.size()) == kDirichletPrefix) {
    double alpha = 0;
    if (absl::SimpleAtod(std::string(spec.substr(kDirichletPrefix.size())), &alpha) && alpha > 0 &&
        std::isfinite(alpha)) {
      return PartitionSpec{PartitionSpec::Kind::kDirichlet, alpha};
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("partition \"", std::string(spec),
                   "\": expected \"iid\" or \"dirichlet:ALPHA\" with ALPHA a positive number"));
}

std::string PartitionName(const PartitionSpec& spec) {
  if (spec.kind == PartitionSpec::Kind::kIid) return "iid";
  char buf[32];  // shortest form that reads back to the same double
  const auto end = std::to_chars(buf, buf + sizeof(buf), spec.alpha).ptr;
  return absl::StrCat(std::string(kDirichletPrefix), std::string(buf, end));
}

absl::StatusOr<std::vector<std::vector<int64_t>>> PartitionIid(int64_t num_rows, int sites,
                                                               base::RandomSource& rng) {
  VEIL_RETURN_IF_ERROR(CheckSites(num_rows, sites));
  std::vector<int64_t> order(num_rows);
  for (int64_t i = 0; i < num_rows; ++i) order[i] = i;
  dp::RandomBits bits(rng);
  Shuffle(bits, order);
  VEIL_RETURN_IF_ERROR(bits.status());
  std::vector<std::vector<int64_t>> out(sites);
  for (int k = 0; k < sites; ++k) {
    // Site k gets [k n / K, (k + 1) n / K): sizes differ by at most one.
    const int64_t begin = num_rows * k / sites, end = num_rows * (k + 1) / sites;
    out[k].assign(order.begin() + begin, order.begin() + end);
    std::sort(out[k].begin(), out[k].end());
  }
  return out;
}

absl::StatusOr<std::vector<std::vector<int64_t>>> PartitionDirichlet(std::span<const int32_t> labels,
                                                                     int sites, double alpha,
                                                                     base::RandomSource& rng) {
  VEIL_RETURN_IF_ERROR(CheckSites(static_cast<int64_t>(labels.size()), sites));
  if (!(alpha > 0) || !std::isfinite(alpha)) {
    return absl::InvalidArgumentError(absl::StrCat("partition: alpha must be finite and > 0, got ", alpha));
  }
  std::map<int32_t, std::vector<int64_t>> groups;  // by label, in increasing label order (reproducible)
  for (size_t i = 0; i < labels.size(); ++i) groups[labels[i]].push_back(static_cast<int64_t>(i));
  dp::RandomBits bits(rng);
  std::vector<double> p(sites);
  for (int draw = 0; draw < kMaxPartitionDraws; ++draw) {
    std::vector<std::vector<int64_t>> out(sites);
    for (auto& [label, rows] : groups) {
      internal::SampleDirichlet(bits, alpha, sites, p);
      Shuffle(bits, rows);
      const double n = static_cast<double>(rows.size());
      double cumulative = 0;
      int64_t begin = 0;
      for (int k = 0; k < sites; ++k) {
        cumulative += p[k];
        const int64_t end = k + 1 == sites
                                ? static_cast<int64_t>(rows.size())
                                : std::min<int64_t>(static_cast<int64_t>(std::floor(cumulative * n)),
                                                    static_cast<int64_t>(rows.size()));
        if (end > begin) out[k].insert(out[k].end(), rows.begin() + begin, rows.begin() + end);
        begin = std::max(begin, end);
      }
    }
    VEIL_RETURN_IF_ERROR(bits.status());
    if (std::none_of(out.begin(), out.end(), [](const auto& site) { return site.empty(); })) {
      for (auto& site : out) std::sort(site.begin(), site.end());
      return out;
    }
  }
  return absl::FailedPreconditionError(
      absl::StrFormat("partition: dirichlet:%g over %d sites left some site without rows in %d draws of %d "
                      "rows; use a larger "
                      "alpha or fewer sites",
                      alpha, sites, kMaxPartitionDraws, labels.size()));
}

absl::StatusOr<std::vector<std::vector<int64_t>>> Partition(const PartitionSpec& spec,
                                                            std::span<const int32_t> labels, int sites,
                                                            base::RandomSource& rng) {
  if (spec.kind == PartitionSpec::Kind::kIid) {
    return PartitionIid(static_cast<int64_t>(labels.size()), sites, rng);
  }
  return PartitionDirichlet(labels, sites, spec.alpha, rng);
}

}  // namespace veil::fl
