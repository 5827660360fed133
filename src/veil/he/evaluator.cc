#include "veil/he/evaluator.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "veil/base/status_macros.h"

namespace veil::he {

namespace {

constexpr double kTwoTo62 = 4611686018427387904.0;

absl::Status CheckCiphertext(const CkksContext& ctx, const Ciphertext& a, const char* name) {
  if (a.level < 0 || a.level > ctx.max_level()) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": level ", a.level, " is outside [0, ", ctx.max_level(), "]"));
  }
  if (a.parts.size() < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": a ciphertext needs at least 2 parts, it has ", a.parts.size()));
  }
  const size_t limbs = static_cast<size_t>(a.level) + 1;
  for (size_t p = 0; p < a.parts.size(); ++p) {
    const RnsPoly& poly = a.parts[p];
    if (poly.n != ctx.n() || poly.limbs != limbs || poly.data.size() != poly.n * limbs || !poly.ntt_form) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": part ", p, " has ", poly.limbs, " limbs of ",
                                                     poly.n, " coefficients, expected ", limbs, " limbs of ",
                                                     ctx.n(), " in NTT form (level ", a.level, ")"));
    }
  }
  if (!std::isfinite(a.scale) || a.scale <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": scale ", a.scale, " is not finite and > 0"));
  }
  return absl::OkStatus();
}

bool SameScale(double a, double b) { return std::fabs(a - b) <= 1e-9 * std::max(a, b); }

absl::Status CheckSameLevel(int a, int b, const char* op) {
  if (a != b) {
    return absl::InvalidArgumentError(absl::StrCat(
        op, ": operands at levels ", a, " and ", b,
        " (bring the higher one down with Rescale or modulus switching so that both are at the same level)"));
  }
  return absl::OkStatus();
}

absl::Status CheckSameScale(double a, double b, const char* op) {
  if (!SameScale(a, b)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: operands have scales 2^%.4f and 2^%.4f (rescale the product first, or multiply the "
        "other operand by a constant to match)",
        op, std::log2(a), std::log2(b)));
  }
  return absl::OkStatus();
}

// The residue of a signed 64-bit value modulo q.
uint64_t SignedMod(int64_t v, const Modulus& q) {
  const uint64_t magnitude = q.Reduce(v < 0 ? static_cast<uint64_t>(-(v + 1)) + 1 : static_cast<uint64_t>(v));
  return v < 0 ? q.Neg(magnitude) : magnitude;
}

absl::StatusOr<Ciphertext> AddOrSub(const CkksContext& ctx, const Ciphertext& a, const Ciphertext& b,
                                    bool sub) {
  const char* op = sub ? "Sub" : "Add";
  VEIL_RETURN_IF_ERROR(CheckCiphertext(ctx, a, "first operand"));
  VEIL_RETURN_IF_ERROR(CheckCiphertext(ctx, b, "second operand"));
  VEIL_RETURN_IF_ERROR(CheckSameLevel(a.level, b.level, op));
  VEIL_RETURN_IF_ERROR(CheckSameScale(a.scale, b.scale, op));
  Ciphertext r = a;
  while (r.parts.size() < b.parts.size()) r.parts.emplace_back(ctx.n(), a.parts[0].limbs, /*ntt=*/true);
  for (size_t p = 0; p < b.parts.size(); ++p) {
    for (size_t i = 0; i < r.parts[p].limbs; ++i) {
      const Modulus& q = ctx.modulus(i);
      std::span<uint64_t> x = r.parts[p].limb(i);
      std::span<const uint64_t> y = b.parts[p].limb(i);
      for (size_t k = 0; k < x.size(); ++k) x[k] = sub ? q.Sub(x[k], y[k]) : q.Add(x[k], y[k]);
    }
  }
  return r;
}

absl::Status CheckPlaintext(const CkksContext& ctx, const Plaintext& p) {
  const size_t limbs = static_cast<size_t>(p.level) + 1;
  if (p.level < 0 || p.level > ctx.max_level() || p.poly.n != ctx.n() || p.poly.limbs != limbs ||
      p.poly.data.size() != ctx.n() * limbs || !p.poly.ntt_form) {
    return absl::InvalidArgumentError(absl::StrCat("plaintext: ", p.poly.limbs, " limbs of ", p.poly.n,
                                                   " coefficients do not match its level ", p.level,
                                                   " in NTT form at N = ", ctx.n()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Ciphertext> Add(const CkksContext& ctx, const Ciphertext& a, const Ciphertext& b) {
  return AddOrSub(ctx, a, b, /*sub=*/false);
}

absl::StatusOr<Ciphertext> Sub(const CkksContext& ctx, const Ciphertext& a, const Ciphertext& b) {
  return AddOrSub(ctx, a, b, /*sub=*/true);
}

absl::StatusOr<Ciphertext> Negate(const CkksContext& ctx, const Ciphertext& a) {
  VEIL_RETURN_IF_ERROR(CheckCiphertext(ctx, a, "operand"));
  Ciphertext r = a;
  for (RnsPoly& p : r.parts) {
    for (size_t i = 0; i < p.limbs; ++i) {
      const Modulus& q = ctx.modulus(i);
      for (uint64_t& v : p.limb(i)) v = q.Neg(v);
    }
  }
  return r;
}

absl::StatusOr<Ciphertext> AddPlain(const CkksContext& ctx, const Ciphertext& a, const Plaintext& p) {
  VEIL_RETURN_IF_ERROR(CheckCiphertext(ctx, a, "ciphertext"));
  VEIL_RETURN_IF_ERROR(CheckPlaintext(ctx, p));
  VEIL_RETURN_IF_ERROR(CheckSameLevel(a.level, p.level, "AddPlain"));
  VEIL_RETURN_IF_ERROR(CheckSameScale(a.scale, p.scale, "AddPlain"));
  Ciphertext r = a;
  for (size_t i = 0; i < r.parts[0].limbs; ++i) {
    const Modulus& q = ctx.modulus(i);
    std::span<uint64_t> x = r.parts[0].limb(i);
    std::span<const uint64_t> y = p.poly.limb(i);
    for (size_t k = 0; k < x.size(); ++k) x[k] = q.Add(x[k], y[k]);
  }
  return r;
}

absl::StatusOr<Ciphertext> MultiplyPlain(const CkksContext& ctx, const Ciphertext& a, const Plaintext& p) {
  VEIL_RETURN_IF_ERROR(CheckCiphertext(ctx, a, "ciphertext"));
  VEIL_RETURN_IF_ERROR(CheckPlaintext(ctx, p));
  VEIL_RETURN_IF_ERROR(CheckSameLevel(a.level, p.level, "MultiplyPlain"));
  Ciphertext r = a;
  for (RnsPoly& part : r.parts) {
    for (size_t i = 0; i < part.limbs; ++i) {
      const Modulus& q = ctx.modulus(i);
      std::span<uint64_t> x = part.limb(i);
      std::span<const uint64_t> y = p.poly.limb(i);
      for (size_t k = 0; k < x.size(); ++k) x[k] = q.Mul(x[k], y[k]);
    }
  }
  r.scale = a.scale * p.scale;
  return r;
}

absl::StatusOr<Ciphertext> AddConstant(const CkksContext& ctx, const Ciphertext& a, double c) {
  VEIL_RETURN_IF_ERROR(CheckCiphertext(ctx, a, "ciphertext"));
  const double scaled = std::round(c * a.scale);
  if (!(std::fabs(scaled) < kTwoTo62)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("AddConstant: the constant times the scale 2^%.2f is not finite or reaches 2^62",
                        std::log2(a.scale)));
  }
  const int64_t v = static_cast<int64_t>(scaled);
  Ciphertext r = a;
  // The NTT of the constant polynomial v is v at every evaluation point.
  for (size_t i = 0; i < r.parts[0].limbs; ++i) {
    const Modulus& q = ctx.modulus(i);
    const uint64_t vi = SignedMod(v, q);
    for (uint64_t& x : r.parts[0].limb(i)) x = q.Add(x, vi);
  }
  return r;
}

absl::StatusOr<Ciphertext> MultiplyConstant(const CkksContext& ctx, const Ciphertext& a, double c,
                                            double constant_scale) {
  VEIL_RETURN_IF_ERROR(CheckCiphertext(ctx, a, "ciphertext"));
  if (!std::isfinite(constant_scale) || constant_scale <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("MultiplyConstant: constant scale ", constant_scale, " is not finite and > 0"));
  }
  const double scaled = std::round(c * constant_scale);
  if (!(std::fabs(scaled) < kTwoTo62)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("MultiplyConstant: the constant times its scale 2^%.2f is not finite or reaches 2^62",
                        std::log2(constant_scale)));
  }
  const int64_t v = static_cast<int64_t>(scaled);
  Ciphertext r = a;
  for (RnsPoly& part : r.parts) {
    for (size_t i = 0; i < part.limbs; ++i) {
      const Modulus& q = ctx.modulus(i);
      const uint64_t w = SignedMod(v, q), w_shoup = ShoupPrecompute(w, q.value());
      for (uint64_t& x : part.limb(i)) x = MulShoup(x, w, w_shoup, q.value());
    }
  }
  r.scale = a.scale * constant_scale;
  return r;
}

absl::StatusOr<Ciphertext> Multiply(const CkksContext& ctx, const Ciphertext& a, const Ciphertext& b) {
  VEIL_RETURN_IF_ERROR(CheckCiphertext(ctx, a, "first operand"));
  VEIL_RETURN_IF_ERROR(CheckCiphertext(ctx, b, "second operand"));
  VEIL_RETURN_IF_ERROR(CheckSameLevel(a.level, b.level, "Multiply"));
  if (a.parts.size() != 2 || b.parts.size() != 2) {
    return absl::InvalidArgumentError(absl::StrCat("Multiply: operands have ", a.parts.size(), " and ",
                                                   b.parts.size(), " parts; relinearize to 2 parts first"));
  }
  const size_t n = ctx.n();
  const size_t limbs = static_cast<size_t>(a.level) + 1;
  Ciphertext r;
  r.level = a.level;
  r.scale = a.scale * b.scale;
  r.parts.assign(3, RnsPoly(n, limbs, true));
  for (size_t i = 0; i < limbs; ++i) {
    const Modulus& q = ctx.modulus(i);
    std::span<const uint64_t> a0 = a.parts[0].limb(i), a1 = a.parts[1].limb(i);
    std::span<const uint64_t> b0 = b.parts[0].limb(i), b1 = b.parts[1].limb(i);
    std::span<uint64_t> d0 = r.parts[0].limb(i), d1 = r.parts[1].limb(i), d2 = r.parts[2].limb(i);
    for (size_t k = 0; k < n; ++k) {
      d0[k] = q.Mul(a0[k], b0[k]);
      d1[k] = q.Add(q.Mul(a0[k], b1[k]), q.Mul(a1[k], b0[k]));
      d2[k] = q.Mul(a1[k], b1[k]);
    }
  }
  return r;
}

absl::StatusOr<Ciphertext> Rescale(const CkksContext& ctx, const Ciphertext& a) {
  VEIL_RETURN_IF_ERROR(CheckCiphertext(ctx, a, "operand"));
  if (a.level == 0) {
    return absl::FailedPreconditionError(
        "Rescale: the ciphertext is at level 0, no prime is left to divide by");
  }
  const size_t n = ctx.n();
  const size_t last = static_cast<size_t>(a.level);
  const Modulus& q_last = ctx.modulus(last);
  const uint64_t half = q_last.value() / 2;
  std::vector<uint64_t> inv(last), inv_shoup(last);
  for (size_t i = 0; i < last; ++i) {
    VEIL_ASSIGN_OR_RETURN(inv[i], InvertMod(q_last.value(), ctx.modulus(i)));
    inv_shoup[i] = ShoupPrecompute(inv[i], ctx.modulus(i).value());
  }
  Ciphertext r = a;
  std::vector<uint64_t> top(n), t(n);
  for (RnsPoly& part : r.parts) {
    std::copy(part.limb(last).begin(), part.limb(last).end(), top.begin());
    InverseNtt(ctx.ntt(last), top);
    for (size_t i = 0; i < last; ++i) {
      const Modulus& q = ctx.modulus(i);
      // The centered representative of the last limb, modulo q_i.
      for (size_t k = 0; k < n; ++k) {
        t[k] = top[k] > half ? q.Neg(q.Reduce(q_last.value() - top[k])) : q.Reduce(top[k]);
      }
      ForwardNtt(ctx.ntt(i), t);
      std::span<uint64_t> x = part.limb(i);
      for (size_t k = 0; k < n; ++k) x[k] = MulShoup(q.Sub(x[k], t[k]), inv[i], inv_shoup[i], q.value());
    }
    part.data.resize(last * n);
    part.limbs = last;
  }
  r.level = a.level - 1;
  r.scale = a.scale / static_cast<double>(q_last.value());
  return r;
}

}  // namespace veil::he
