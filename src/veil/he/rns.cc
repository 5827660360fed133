#include "veil/he/rns.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "veil/base/status_macros.h"

namespace veil::he {

absl::StatusOr<RnsBase> RnsBase::Create(const std::vector<uint64_t>& primes) {
  if (primes.empty()) return absl::InvalidArgumentError("an RNS base needs at least one prime");
  RnsBase base;
  for (size_t i = 0; i < primes.size(); ++i) {
    if (!IsPrime(primes[i])) {
      return absl::InvalidArgumentError(absl::StrCat("RNS prime #", i, " = ", primes[i], " is not prime"));
    }
    if (std::find(primes.begin(), primes.begin() + i, primes[i]) != primes.begin() + i) {
      return absl::InvalidArgumentError(absl::StrCat("RNS prime #", i, " = ", primes[i], " repeats"));
    }
    VEIL_ASSIGN_OR_RETURN(Modulus m, Modulus::Create(primes[i]));
    base.moduli_.push_back(m);
  }
  for (size_t i = 0; i < primes.size(); ++i) {
    const Modulus& qi = base.moduli_[i];
    uint64_t q_hat = 1;  // (Q / q_i) mod q_i
    for (size_t l = 0; l < primes.size(); ++l) {
      if (l != i) q_hat = qi.Mul(q_hat, qi.Reduce(primes[l]));
    }
    VEIL_ASSIGN_OR_RETURN(const uint64_t inv, InvertMod(q_hat, qi));
    base.q_hat_inv_.push_back(inv);
    base.q_hat_inv_shoup_.push_back(ShoupPrecompute(inv, qi.value()));
  }
  return base;
}

absl::StatusOr<BaseConverter> BaseConverter::Create(const RnsBase& from, const RnsBase& to) {
  for (const Modulus& p : to.moduli()) {
    for (const Modulus& q : from.moduli()) {
      if (p.value() == q.value()) {
        return absl::InvalidArgumentError(
            absl::StrCat("prime ", p.value(), " is in both bases of the conversion"));
      }
    }
  }
  BaseConverter conv(from, to);
  const size_t k = from.size();
  conv.q_hat_mod_p_.resize(to.size() * k);
  for (size_t j = 0; j < to.size(); ++j) {
    const Modulus& pj = to.modulus(j);
    uint64_t q_mod_p = 1;
    for (size_t i = 0; i < k; ++i) {
      q_mod_p = pj.Mul(q_mod_p, pj.Reduce(from.modulus(i).value()));
      uint64_t q_hat = 1;
      for (size_t l = 0; l < k; ++l) {
        if (l != i) q_hat = pj.Mul(q_hat, pj.Reduce(from.modulus(l).value()));
      }
      conv.q_hat_mod_p_[j * k + i] = q_hat;
    }
    conv.q_mod_p_.push_back(q_mod_p);
  }
  for (size_t i = 0; i < k; ++i) conv.inv_q_.push_back(1.0 / static_cast<double>(from.modulus(i).value()));
  return conv;
}

absl::Status BaseConverter::CheckSizes(std::span<const uint64_t> in, size_t n,
                                       std::span<uint64_t> out) const {
  if (in.size() != from_.size() * n || out.size() != to_.size() * n) {
    return absl::InvalidArgumentError(absl::StrCat("base conversion of ", n, " coefficients from ",
                                                   from_.size(), " to ", to_.size(), " limbs got ", in.size(),
                                                   " input and ", out.size(), " output values"));
  }
  return absl::OkStatus();
}

void BaseConverter::ComputeY(std::span<const uint64_t> in, size_t n, std::vector<uint64_t>& y) const {
  y.resize(from_.size() * n);
  for (size_t i = 0; i < from_.size(); ++i) {
    const uint64_t q = from_.modulus(i).value();
    const uint64_t w = from_.q_hat_inv(i), ws = from_.q_hat_inv_shoup(i);
    const uint64_t* x = in.data() + i * n;
    uint64_t* yi = y.data() + i * n;
    for (size_t c = 0; c < n; ++c) yi[c] = MulShoup(x[c], w, ws, q);
  }
}

void BaseConverter::SumProducts(const std::vector<uint64_t>& y, size_t n, std::span<uint64_t> out) const {
  const size_t k = from_.size();
  // Each product is below 2^61 * p_j, so 7 of them plus a reduced value stay below p_j * 2^64, the input
  // range of Reduce128.
  constexpr size_t kTermsPerReduction = 7;
  for (size_t j = 0; j < to_.size(); ++j) {
    const Modulus& pj = to_.modulus(j);
    const uint64_t* q_hat = q_hat_mod_p_.data() + j * k;
    uint64_t* o = out.data() + j * n;
    for (size_t c = 0; c < n; ++c) {
      uint128_t acc = 0;
      for (size_t i = 0; i < k; ++i) {
        acc += static_cast<uint128_t>(y[i * n + c]) * q_hat[i];
        if (i % kTermsPerReduction == kTermsPerReduction - 1) acc = pj.Reduce128(acc);
      }
      o[c] = pj.Reduce128(acc);
    }
  }
}

absl::Status BaseConverter::FastConvert(std::span<const uint64_t> in, size_t n,
                                        std::span<uint64_t> out) const {
  VEIL_RETURN_IF_ERROR(CheckSizes(in, n, out));
  std::vector<uint64_t> y;
  ComputeY(in, n, y);
  SumProducts(y, n, out);
  return absl::OkStatus();
}

absl::Status BaseConverter::ExactConvertCentered(std::span<const uint64_t> in, size_t n,
                                                 std::span<uint64_t> out) const {
  VEIL_RETURN_IF_ERROR(CheckSizes(in, n, out));
  std::vector<uint64_t> y;
  ComputeY(in, n, y);
  SumProducts(y, n, out);
  const size_t k = from_.size();
  std::vector<uint64_t> v(n);
  for (size_t c = 0; c < n; ++c) {
    double sum = 0;
    for (size_t i = 0; i < k; ++i) sum += static_cast<double>(y[i * n + c]) * inv_q_[i];
    v[c] = static_cast<uint64_t>(std::llround(sum));  // u + [x >= Q/2], in [0, k]
  }
  for (size_t j = 0; j < to_.size(); ++j) {
    const Modulus& pj = to_.modulus(j);
    uint64_t* o = out.data() + j * n;
    for (size_t c = 0; c < n; ++c) o[c] = pj.Sub(o[c], pj.Mul(pj.Reduce(v[c]), q_mod_p_[j]));
  }
  return absl::OkStatus();
}

}  // namespace veil::he
