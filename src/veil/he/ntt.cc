#include "veil/he/ntt.h"

#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <span>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "veil/base/status_macros.h"

namespace veil::he {

bool CpuHasIfma() {
  static const bool has = internal::CpuHasIfmaUncached();
  return has;
}

namespace {

void ForwardPortable(uint64_t* a, size_t n, uint64_t q, const uint64_t* w, const uint64_t* ws) {
  const uint64_t two_q = 2 * q;
  size_t t = n;
  for (size_t m = 1; m < n; m <<= 1) {
    t >>= 1;
    for (size_t i = 0; i < m; ++i) {
      const uint64_t wi = w[m + i];
      const uint64_t wsi = ws[m + i];
      uint64_t* x = a + 2 * i * t;
      uint64_t* y = x + t;
      for (size_t j = 0; j < t; ++j) {
        // x, y in [0, 4q) -> u in [0, 2q), v in [0, 2q) -> outputs in [0, 4q).
        uint64_t u = x[j];
        u = u >= two_q ? u - two_q : u;
        const uint64_t v = MulShoupLazy(y[j], wi, wsi, q);
        x[j] = u + v;
        y[j] = u - v + two_q;
      }
    }
  }
  for (size_t j = 0; j < n; ++j) {
    uint64_t u = a[j];
    u = u >= two_q ? u - two_q : u;
    a[j] = u >= q ? u - q : u;
  }
}

void InversePortable(uint64_t* a, size_t n, uint64_t q, const uint64_t* w, const uint64_t* ws, uint64_t inv_n,
                     uint64_t inv_n_shoup, uint64_t inv_n_root, uint64_t inv_n_root_shoup) {
  const uint64_t two_q = 2 * q;
  size_t t = 1;
  for (size_t m = n; m > 2; m >>= 1) {
    const size_t h = m >> 1;
    for (size_t i = 0; i < h; ++i) {
      const uint64_t wi = w[h + i];
      const uint64_t wsi = ws[h + i];
      uint64_t* x = a + 2 * i * t;
      uint64_t* y = x + t;
      for (size_t j = 0; j < t; ++j) {
        // u, v in [0, 2q) -> outputs in [0, 2q).
        const uint64_t u = x[j];
        const uint64_t v = y[j];
        const uint64_t s = u + v;
        x[j] = s >= two_q ? s - two_q : s;
        y[j] = MulShoupLazy(u - v + two_q, wi, wsi, q);
      }
    }
    t <<= 1;
  }
  // Last stage (h = 1, twiddle psi^-bitrev(1)) with N^-1 folded in.
  uint64_t* x = a;
  uint64_t* y = a + t;
  for (size_t j = 0; j < t; ++j) {
    const uint64_t u = x[j];
    const uint64_t v = y[j];
    const uint64_t s = MulShoupLazy(u + v, inv_n, inv_n_shoup, q);
    const uint64_t d = MulShoupLazy(u - v + two_q, inv_n_root, inv_n_root_shoup, q);
    x[j] = s >= q ? s - q : s;
    y[j] = d >= q ? d - q : d;
  }
}

}  // namespace

absl::StatusOr<NttTables> NttTables::Create(size_t n, const Modulus& q) {
  if (n < 2 || !std::has_single_bit(n)) {
    return absl::InvalidArgumentError(absl::StrCat("NTT length N = ", n, " is not a power of two >= 2"));
  }
  VEIL_ASSIGN_OR_RETURN(const uint64_t psi, MinimalPrimitiveRoot(n, q));
  VEIL_ASSIGN_OR_RETURN(const uint64_t psi_inv, InvertMod(psi, q));
  VEIL_ASSIGN_OR_RETURN(const uint64_t inv_n, InvertMod(n, q));
  NttTables t(n, q);
  t.root_ = psi;
  const uint64_t qv = q.value();
  const int log_n = std::countr_zero(n);
  t.root_powers_.resize(n);
  t.inv_root_powers_.resize(n);
  uint64_t power = 1, inv_power = 1;
  for (size_t i = 0; i < n; ++i) {
    const size_t r = internal::BitReverse(i, log_n);
    t.root_powers_[r] = power;
    t.inv_root_powers_[r] = inv_power;
    power = q.Mul(power, psi);
    inv_power = q.Mul(inv_power, psi_inv);
  }
  t.root_powers_shoup_.resize(n);
  t.inv_root_powers_shoup_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    t.root_powers_shoup_[i] = ShoupPrecompute(t.root_powers_[i], qv);
    t.inv_root_powers_shoup_[i] = ShoupPrecompute(t.inv_root_powers_[i], qv);
  }
  t.inv_n_ = inv_n;
  t.inv_n_shoup_ = ShoupPrecompute(inv_n, qv);
  t.inv_n_root_ = q.Mul(inv_n, t.inv_root_powers_[1]);
  t.inv_n_root_shoup_ = ShoupPrecompute(t.inv_n_root_, qv);
  if (qv < (uint64_t{1} << 50) && n >= 16) {
    t.root_powers_shoup52_.resize(n);
    t.inv_root_powers_shoup52_.resize(n);
    for (size_t i = 0; i < n; ++i) {
      t.root_powers_shoup52_[i] = internal::ShoupPrecompute52(t.root_powers_[i], qv);
      t.inv_root_powers_shoup52_[i] = internal::ShoupPrecompute52(t.inv_root_powers_[i], qv);
    }
    t.inv_n_shoup52_ = internal::ShoupPrecompute52(inv_n, qv);
    t.inv_n_root_shoup52_ = internal::ShoupPrecompute52(t.inv_n_root_, qv);
  }
  return t;
}

void ForwardNtt(const NttTables& tables, std::span<uint64_t> values, NttBackend backend) {
  assert(values.size() == tables.n_);
  if (backend != NttBackend::kPortable && tables.ifma_applies()) {
    const bool wide = tables.root_powers_shoup52_.empty();
    internal::ForwardNttIfma(values.data(), tables.n_, tables.q_.value(), tables.root_powers_.data(),
                             wide ? tables.root_powers_shoup_.data() : tables.root_powers_shoup52_.data(),
                             wide);
    return;
  }
  ForwardPortable(values.data(), tables.n_, tables.q_.value(), tables.root_powers_.data(),
                  tables.root_powers_shoup_.data());
}

void InverseNtt(const NttTables& tables, std::span<uint64_t> values, NttBackend backend) {
  assert(values.size() == tables.n_);
  if (backend != NttBackend::kPortable && tables.ifma_applies()) {
    if (tables.root_powers_shoup52_.empty()) {  // wide: q >= 2^50
      internal::InverseNttIfma(values.data(), tables.n_, tables.q_.value(), tables.inv_root_powers_.data(),
                               tables.inv_root_powers_shoup_.data(), tables.inv_n_, tables.inv_n_shoup_,
                               tables.inv_n_root_, tables.inv_n_root_shoup_, /*wide=*/true);
    } else {
      internal::InverseNttIfma(values.data(), tables.n_, tables.q_.value(), tables.inv_root_powers_.data(),
                               tables.inv_root_powers_shoup52_.data(), tables.inv_n_, tables.inv_n_shoup52_,
                               tables.inv_n_root_, tables.inv_n_root_shoup52_, /*wide=*/false);
    }
    return;
  }
  InversePortable(values.data(), tables.n_, tables.q_.value(), tables.inv_root_powers_.data(),
                  tables.inv_root_powers_shoup_.data(), tables.inv_n_, tables.inv_n_shoup_,
                  tables.inv_n_root_, tables.inv_n_root_shoup_);
}

namespace internal {

size_t BitReverse(size_t x, int bits) {
  size_t r = 0;
  for (int i = 0; i < bits; ++i) {
    r = (r << 1) | (x & 1);
    x >>= 1;
  }
  return r;
}

}  // namespace internal
}  // namespace veil::he
