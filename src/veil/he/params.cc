#include "veil/he/params.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "veil/base/status_macros.h"
#include "veil/he/modarith.h"

namespace veil::he {

absl::StatusOr<int> MaxModulusBitsFor128BitSecurity(size_t n) {
  // Albrecht et al., Homomorphic Encryption Security Standard (2018), Table 1, ternary secret, 128-bit
  // classical security.
  switch (n) {
    case 4096:
      return 109;
    case 8192:
      return 218;
    case 16384:
      return 438;
    case 32768:
      return 881;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("ring degree N = ", n, " is not supported (use 4096, 8192, 16384 or 32768)"));
  }
}

absl::StatusOr<std::vector<uint64_t>> GenerateNttPrimes(size_t n, const std::vector<int>& bit_sizes,
                                                        const std::vector<uint64_t>& exclude) {
  if (n < 2 || !std::has_single_bit(n)) {
    return absl::InvalidArgumentError(absl::StrCat("ring degree N = ", n, " is not a power of two >= 2"));
  }
  const uint64_t two_n = 2 * static_cast<uint64_t>(n);
  const int min_bits = std::bit_width(two_n) + 1;  // log2(2N) + 2
  std::vector<uint64_t> chosen;
  chosen.reserve(bit_sizes.size());
  for (size_t i = 0; i < bit_sizes.size(); ++i) {
    const int b = bit_sizes[i];
    if (b < min_bits || b > kMaxModulusBits) {
      return absl::InvalidArgumentError(absl::StrCat("prime bit size #", i, " = ", b, " is outside [",
                                                     min_bits, ", ", kMaxModulusBits, "] for N = ", n));
    }
    const uint64_t low = uint64_t{1} << (b - 1);
    uint64_t found = 0;
    // 2^b = 0 mod 2N, so the largest candidate below 2^b that is 1 mod 2N is 2^b - 2N + 1.
    for (uint64_t c = (uint64_t{1} << b) - two_n + 1; c >= low; c -= two_n) {
      if (std::find(chosen.begin(), chosen.end(), c) != chosen.end()) continue;
      if (std::find(exclude.begin(), exclude.end(), c) != exclude.end()) continue;
      if (IsPrime(c)) {
        found = c;
        break;
      }
    }
    if (found == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("no ", b, "-bit prime = 1 mod 2N is left for N = ", n, " (prime bit size #", i, ")"));
    }
    chosen.push_back(found);
  }
  return chosen;
}

CkksParametersBuilder& CkksParametersBuilder::SetPolyDegree(size_t n) {
  poly_degree_ = n;
  return *this;
}

CkksParametersBuilder& CkksParametersBuilder::SetCiphertextPrimeBits(std::vector<int> bit_sizes) {
  ciphertext_bits_ = std::move(bit_sizes);
  ciphertext_primes_.reset();
  return *this;
}

CkksParametersBuilder& CkksParametersBuilder::SetCiphertextPrimes(std::vector<uint64_t> primes) {
  ciphertext_primes_ = std::move(primes);
  ciphertext_bits_.reset();
  return *this;
}

CkksParametersBuilder& CkksParametersBuilder::SetSpecialPrimeBits(std::vector<int> bit_sizes) {
  special_bits_ = std::move(bit_sizes);
  special_primes_.reset();
  return *this;
}

CkksParametersBuilder& CkksParametersBuilder::SetSpecialPrimes(std::vector<uint64_t> primes) {
  special_primes_ = std::move(primes);
  special_bits_.reset();
  return *this;
}

namespace {

absl::Status ValidateExplicitPrime(uint64_t p, size_t n, const char* list, size_t index) {
  if (p >= (uint64_t{1} << kMaxModulusBits)) {
    return absl::InvalidArgumentError(
        absl::StrCat(list, " prime #", index, " = ", p, " is not below 2^", kMaxModulusBits));
  }
  if (!IsPrime(p)) {
    return absl::InvalidArgumentError(absl::StrCat(list, " prime #", index, " = ", p, " is not prime"));
  }
  if ((p - 1) % (2 * static_cast<uint64_t>(n)) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(list, " prime #", index, " = ", p, " is not 1 mod 2N = ", 2 * n, " (not NTT-friendly)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CkksParameters> CkksParametersBuilder::Build() const {
  VEIL_ASSIGN_OR_RETURN(const int bound, MaxModulusBitsFor128BitSecurity(poly_degree_));
  const size_t n = poly_degree_;
  if (!ciphertext_bits_ && !ciphertext_primes_) {
    return absl::InvalidArgumentError("no ciphertext primes: set their bit sizes or the primes");
  }
  if (!special_bits_ && !special_primes_) {
    return absl::InvalidArgumentError("no special primes: key switching needs at least one");
  }
  // Explicit primes are validated first so that generated ones avoid them.
  std::vector<uint64_t> explicit_primes;
  if (ciphertext_primes_) {
    for (size_t i = 0; i < ciphertext_primes_->size(); ++i) {
      VEIL_RETURN_IF_ERROR(ValidateExplicitPrime((*ciphertext_primes_)[i], n, "ciphertext", i));
    }
    explicit_primes.insert(explicit_primes.end(), ciphertext_primes_->begin(), ciphertext_primes_->end());
  }
  if (special_primes_) {
    for (size_t i = 0; i < special_primes_->size(); ++i) {
      VEIL_RETURN_IF_ERROR(ValidateExplicitPrime((*special_primes_)[i], n, "special", i));
    }
    explicit_primes.insert(explicit_primes.end(), special_primes_->begin(), special_primes_->end());
  }
  CkksParameters params;
  params.poly_degree_ = n;
  params.max_modulus_bits_ = bound;
  if (ciphertext_primes_) {
    params.ciphertext_primes_ = *ciphertext_primes_;
  } else {
    VEIL_ASSIGN_OR_RETURN(params.ciphertext_primes_,
                          GenerateNttPrimes(n, *ciphertext_bits_, explicit_primes));
  }
  if (special_primes_) {
    params.special_primes_ = *special_primes_;
  } else {
    std::vector<uint64_t> exclude = explicit_primes;
    exclude.insert(exclude.end(), params.ciphertext_primes_.begin(), params.ciphertext_primes_.end());
    VEIL_ASSIGN_OR_RETURN(params.special_primes_, GenerateNttPrimes(n, *special_bits_, exclude));
  }
  if (params.ciphertext_primes_.empty()) return absl::InvalidArgumentError("no ciphertext primes");
  if (params.special_primes_.empty()) {
    return absl::InvalidArgumentError("no special primes: key switching needs at least one");
  }
  std::vector<uint64_t> all = params.ciphertext_primes_;
  all.insert(all.end(), params.special_primes_.begin(), params.special_primes_.end());
  std::vector<uint64_t> sorted = all;
  std::sort(sorted.begin(), sorted.end());
  if (auto it = std::adjacent_find(sorted.begin(), sorted.end()); it != sorted.end()) {
    return absl::InvalidArgumentError(absl::StrCat("prime ", *it, " appears twice in the parameter set"));
  }
  double total = 0;
  for (uint64_t p : all) total += std::log2(static_cast<double>(p));
  params.total_modulus_bits_ = total;
  if (total > bound) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "parameter set above the 128-bit security bound: for N = %d, log2 of the product of all %d primes "
        "(special primes included) is %.2f bits, above the bound of %d bits (HomomorphicEncryption.org "
        "security standard, 2018, Table 1, ternary secret)",
        n, all.size(), total, bound));
  }
  return params;
}

}  // namespace veil::he
