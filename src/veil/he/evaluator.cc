#include "veil/he/evaluator.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "veil/base/status_macros.h"
#include "veil/he/kernels.h"

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

bool SameScale(double a, double b) { return std::fabs(a - b) <= 1e-9 * std::max(a, b); }

absl::Status CheckSameScale(double a, double b, const char* op) {
  if (!SameScale(a, b)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: operands have scales 2^%.4f and 2^%.4f (rescale the product first, or bring one operand to the "
        "other's level and scale with MatchLevelAndScale)",
        op, std::log2(a), std::log2(b)));
  }
  return absl::OkStatus();
}

// The residue of a signed 64-bit value modulo q.
uint64_t SignedMod(int64_t v, const Modulus& q) {
  const uint64_t magnitude = q.Reduce(v < 0 ? static_cast<uint64_t>(-(v + 1)) + 1 : static_cast<uint64_t>(v));
  return v < 0 ? q.Neg(magnitude) : magnitude;
}

// Modulus switching: keeps limbs 0..level.
void Drop(Ciphertext* a, int level) {
  if (a->level == level) return;
  const size_t limbs = static_cast<size_t>(level) + 1;
  for (RnsPoly& p : a->parts) {
    p.data.resize(limbs * p.n);
    p.limbs = limbs;
  }
  a->level = level;
}

absl::Status AddOrSubInplace(const CkksContext& ctx, const Ciphertext& b, Ciphertext* a, bool sub) {
  const char* op = sub ? "Sub" : "Add";
  VEIL_RETURN_IF_ERROR(CheckCiphertext(ctx, *a, "first operand"));
  VEIL_RETURN_IF_ERROR(CheckCiphertext(ctx, b, "second operand"));
  VEIL_RETURN_IF_ERROR(CheckSameScale(a->scale, b.scale, op));
  Drop(a, std::min(a->level, b.level));
  const size_t n = ctx.n();
  const size_t limbs = static_cast<size_t>(a->level) + 1;
  while (a->parts.size() < b.parts.size()) a->parts.emplace_back(n, limbs, /*ntt=*/true);
  for (size_t p = 0; p < b.parts.size(); ++p) {
    for (size_t i = 0; i < limbs; ++i) {
      uint64_t* x = a->parts[p].data.data() + i * n;
      const uint64_t* y = b.parts[p].data.data() + i * n;
      if (sub) {
        SubPointwise(ctx.modulus(i), x, y, x, n);
      } else {
        AddPointwise(ctx.modulus(i), x, y, x, n);
      }
    }
  }
  return absl::OkStatus();
}

// Cached NTT permutations of Galois automorphisms, per thread (N words each).
const std::vector<uint32_t>& Permutation(const CkksContext& ctx, uint64_t g) {
  thread_local std::map<std::pair<size_t, uint64_t>, std::vector<uint32_t>> cache;
  auto it = cache.find({ctx.n(), g});
  if (it == cache.end()) {
    it = cache.emplace(std::make_pair(ctx.n(), g), GaloisNttPermutation(ctx, g).value()).first;
  }
  return it->second;
}

// Non-adjacent form of r: digits in {-1, 0, 1}, least significant first.
std::vector<int> NonAdjacentForm(uint64_t r) {
  std::vector<int> digits;
  while (r != 0) {
    if (r & 1) {
      const int d = (r & 3) == 3 ? -1 : 1;
      digits.push_back(d);
      r = d == 1 ? r - 1 : r + 1;
    } else {
      digits.push_back(0);
    }
    r >>= 1;
  }
  return digits;
}

}  // namespace

absl::Status AddInplace(const CkksContext& ctx, const Ciphertext& b, Ciphertext* a) {
  return AddOrSubInplace(ctx, b, a, /*sub=*/false);
}
absl::Status SubInplace(const CkksContext& ctx, const Ciphertext& b, Ciphertext* a) {
  return AddOrSubInplace(ctx, b, a, /*sub=*/true);
}

absl::Status NegateInplace(const CkksContext& ctx, Ciphertext* a) {
  VEIL_RETURN_IF_ERROR(CheckCiphertext(ctx, *a, "operand"));
  for (RnsPoly& p : a->parts) {
    for (size_t i = 0; i < p.limbs; ++i) {
      const Modulus& q = ctx.modulus(i);
      for (uint64_t& v : p.limb(i)) v = q.Neg(v);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Ciphertext> Add(const CkksContext& ctx, const Ciphertext& a, const Ciphertext& b) {
  Ciphertext r = a;
  VEIL_RETURN_IF_ERROR(AddInplace(ctx, b, &r));
  return r;
}
absl::StatusOr<Ciphertext> Sub(const CkksContext& ctx, const Ciphertext& a, const Ciphertext& b) {
  Ciphertext r = a;
  VEIL_RETURN_IF_ERROR(SubInplace(ctx, b, &r));
  return r;
}
absl::StatusOr<Ciphertext> Negate(const CkksContext& ctx, const Ciphertext& a) {
  Ciphertext r = a;
  VEIL_RETURN_IF_ERROR(NegateInplace(ctx, &r));
  return r;
}

absl::Status AddPlainInplace(const CkksContext& ctx, const Plaintext& p, Ciphertext* a) {
  VEIL_RETURN_IF_ERROR(CheckCiphertext(ctx, *a, "ciphertext"));
  VEIL_RETURN_IF_ERROR(CheckPlaintext(ctx, p));
  VEIL_RETURN_IF_ERROR(CheckSameScale(a->scale, p.scale, "AddPlain"));
  Drop(a, std::min(a->level, p.level));
  for (size_t i = 0; i < a->parts[0].limbs; ++i) {
    std::span<uint64_t> x = a->parts[0].limb(i);
    AddPointwise(ctx.modulus(i), x.data(), p.poly.limb(i).data(), x.data(), x.size());
  }
  return absl::OkStatus();
}

absl::Status MultiplyPlainInplace(const CkksContext& ctx, const Plaintext& p, Ciphertext* a) {
  VEIL_RETURN_IF_ERROR(CheckCiphertext(ctx, *a, "ciphertext"));
  VEIL_RETURN_IF_ERROR(CheckPlaintext(ctx, p));
  Drop(a, std::min(a->level, p.level));
  for (RnsPoly& part : a->parts) {
    for (size_t i = 0; i < part.limbs; ++i) {
      uint64_t* x = part.data.data() + i * ctx.n();
      MulPointwise(ctx.modulus(i), x, p.poly.data.data() + i * ctx.n(), x, ctx.n());
    }
  }
  a->scale *= p.scale;
  return absl::OkStatus();
}

absl::StatusOr<Ciphertext> AddPlain(const CkksContext& ctx, const Ciphertext& a, const Plaintext& p) {
  Ciphertext r = a;
  VEIL_RETURN_IF_ERROR(AddPlainInplace(ctx, p, &r));
  return r;
}
absl::StatusOr<Ciphertext> MultiplyPlain(const CkksContext& ctx, const Ciphertext& a, const Plaintext& p) {
  Ciphertext r = a;
  VEIL_RETURN_IF_ERROR(MultiplyPlainInplace(ctx, p, &r));
  return r;
}

absl::Status AddConstantInplace(const CkksContext& ctx, double c, Ciphertext* a) {
  VEIL_RETURN_IF_ERROR(CheckCiphertext(ctx, *a, "ciphertext"));
  const double scaled = std::round(c * a->scale);
  if (!(std::fabs(scaled) < kTwoTo62)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("AddConstant: the constant times the scale 2^%.2f is not finite or reaches 2^62",
                        std::log2(a->scale)));
  }
  const int64_t v = static_cast<int64_t>(scaled);
  // The NTT of the constant polynomial v is v at every evaluation point.
  for (size_t i = 0; i < a->parts[0].limbs; ++i) {
    const Modulus& q = ctx.modulus(i);
    const uint64_t vi = SignedMod(v, q);
    for (uint64_t& x : a->parts[0].limb(i)) x = q.Add(x, vi);
  }
  return absl::OkStatus();
}

absl::StatusOr<Ciphertext> AddConstant(const CkksContext& ctx, const Ciphertext& a, double c) {
  Ciphertext r = a;
  VEIL_RETURN_IF_ERROR(AddConstantInplace(ctx, c, &r));
  return r;
}

absl::Status MultiplyConstantInplace(const CkksContext& ctx, double c, double constant_scale, Ciphertext* a) {
  VEIL_RETURN_IF_ERROR(CheckCiphertext(ctx, *a, "ciphertext"));
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
  for (RnsPoly& part : a->parts) {
    for (size_t i = 0; i < part.limbs; ++i) {
      const Modulus& q = ctx.modulus(i);
      uint64_t* x = part.limb(i).data();
      MulConstant(q, x, SignedMod(v, q), x, ctx.n());
    }
  }
  a->scale *= constant_scale;
  return absl::OkStatus();
}

absl::StatusOr<Ciphertext> MultiplyConstant(const CkksContext& ctx, const Ciphertext& a, double c,
                                            double constant_scale) {
  Ciphertext r = a;
  VEIL_RETURN_IF_ERROR(MultiplyConstantInplace(ctx, c, constant_scale, &r));
  return r;
}

absl::Status MultiplyInplace(const CkksContext& ctx, const Ciphertext& b, Ciphertext* a) {
  VEIL_RETURN_IF_ERROR(CheckCiphertext(ctx, *a, "first operand"));
  VEIL_RETURN_IF_ERROR(CheckCiphertext(ctx, b, "second operand"));
  if (a->parts.size() != 2 || b.parts.size() != 2) {
    return absl::InvalidArgumentError(absl::StrCat("Multiply: operands have ", a->parts.size(), " and ",
                                                   b.parts.size(), " parts; relinearize to 2 parts first"));
  }
  Drop(a, std::min(a->level, b.level));
  const size_t n = ctx.n();
  const size_t limbs = static_cast<size_t>(a->level) + 1;
  a->parts.emplace_back(n, limbs, /*ntt=*/true);
  for (size_t i = 0; i < limbs; ++i) {
    uint64_t* a0 = a->parts[0].data.data() + i * n;
    uint64_t* a1 = a->parts[1].data.data() + i * n;
    TensorProduct(ctx.modulus(i), a0, a1, b.parts[0].data.data() + i * n, b.parts[1].data.data() + i * n, a0,
                  a1, a->parts[2].data.data() + i * n, n);
  }
  a->scale *= b.scale;
  return absl::OkStatus();
}

absl::Status MultiplyInto(const CkksContext& ctx, const Ciphertext& a, const Ciphertext& b, Ciphertext* out) {
  VEIL_RETURN_IF_ERROR(CheckCiphertext(ctx, a, "first operand"));
  VEIL_RETURN_IF_ERROR(CheckCiphertext(ctx, b, "second operand"));
  if (a.parts.size() != 2 || b.parts.size() != 2) {
    return absl::InvalidArgumentError(absl::StrCat("Multiply: operands have ", a.parts.size(), " and ",
                                                   b.parts.size(), " parts; relinearize to 2 parts first"));
  }
  const size_t n = ctx.n();
  const int level = std::min(a.level, b.level);
  const size_t limbs = static_cast<size_t>(level) + 1;
  out->parts.resize(3);
  for (RnsPoly& p : out->parts) {
    p.n = n;
    p.limbs = limbs;
    p.ntt_form = true;
    p.data.resize(n * limbs);
  }
  for (size_t i = 0; i < limbs; ++i) {
    TensorProduct(ctx.modulus(i), a.parts[0].data.data() + i * n, a.parts[1].data.data() + i * n,
                  b.parts[0].data.data() + i * n, b.parts[1].data.data() + i * n,
                  out->parts[0].data.data() + i * n, out->parts[1].data.data() + i * n,
                  out->parts[2].data.data() + i * n, n);
  }
  out->level = level;
  out->scale = a.scale * b.scale;
  return absl::OkStatus();
}

absl::StatusOr<Ciphertext> Multiply(const CkksContext& ctx, const Ciphertext& a, const Ciphertext& b) {
  Ciphertext r = a;
  VEIL_RETURN_IF_ERROR(MultiplyInplace(ctx, b, &r));
  return r;
}

absl::Status RelinearizeInplace(const CkksContext& ctx, const RelinKeys& rk, Ciphertext* a) {
  VEIL_RETURN_IF_ERROR(CheckCiphertext(ctx, *a, "Relinearize"));
  if (a->parts.size() == 2) return absl::OkStatus();
  if (a->parts.size() != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("Relinearize: a ciphertext of ", a->parts.size(), " parts (only 3 are supported)"));
  }
  VEIL_RETURN_IF_ERROR(CheckKeySwitchKey(ctx, rk.key, "the relinearization key"));
  internal::KeySwitch(ctx, rk.key, a->parts[2].data, a->level, &a->parts[0], &a->parts[1],
                      /*accumulate=*/true);
  a->parts.pop_back();
  return absl::OkStatus();
}

absl::StatusOr<Ciphertext> Relinearize(const CkksContext& ctx, const RelinKeys& rk, const Ciphertext& a) {
  Ciphertext r = a;
  VEIL_RETURN_IF_ERROR(RelinearizeInplace(ctx, rk, &r));
  return r;
}

absl::StatusOr<Ciphertext> MultiplyRelinRescale(const CkksContext& ctx, const RelinKeys& rk,
                                                const Ciphertext& a, const Ciphertext& b) {
  Ciphertext r = a;
  VEIL_RETURN_IF_ERROR(MultiplyInplace(ctx, b, &r));
  VEIL_RETURN_IF_ERROR(RelinearizeInplace(ctx, rk, &r));
  VEIL_RETURN_IF_ERROR(RescaleInplace(ctx, &r));
  return r;
}

absl::Status RescaleInplace(const CkksContext& ctx, Ciphertext* a) {
  VEIL_RETURN_IF_ERROR(CheckCiphertext(ctx, *a, "operand"));
  if (a->level == 0) {
    return absl::FailedPreconditionError(
        "Rescale: the ciphertext is at level 0, no prime is left to divide by");
  }
  const size_t n = ctx.n();
  const size_t last = static_cast<size_t>(a->level);
  const Modulus& q_last = ctx.modulus(last);
  thread_local std::vector<uint64_t> top, t;
  top.resize(n);
  t.resize(n);
  for (RnsPoly& part : a->parts) {
    std::memcpy(top.data(), part.data.data() + last * n, n * sizeof(uint64_t));
    InverseNtt(ctx.ntt(last), top);
    for (size_t i = 0; i < last; ++i) {
      const Modulus& q = ctx.modulus(i);
      // x <- (x - [x]_q_last) / q_last with the centered representative of the last limb, modulo q_i.
      CenteredFrom(q, q_last.value(), top.data(), t.data(), n);
      ForwardNtt(ctx.ntt(i), t);
      uint64_t* x = part.data.data() + i * n;
      SubMulConstant(q, x, t.data(), ctx.rescale_inverse(last, i), x, /*accumulate=*/false, n);
    }
    part.data.resize(last * n);
    part.limbs = last;
  }
  a->level -= 1;
  a->scale /= static_cast<double>(q_last.value());
  return absl::OkStatus();
}

absl::StatusOr<Ciphertext> Rescale(const CkksContext& ctx, const Ciphertext& a) {
  Ciphertext r = a;
  VEIL_RETURN_IF_ERROR(RescaleInplace(ctx, &r));
  return r;
}

absl::Status DropToLevelInplace(const CkksContext& ctx, int level, Ciphertext* a) {
  VEIL_RETURN_IF_ERROR(CheckCiphertext(ctx, *a, "operand"));
  if (level < 0 || level > a->level) {
    return absl::InvalidArgumentError(absl::StrCat("DropToLevel: target level ", level, " is not in [0, ",
                                                   a->level, "] (the ciphertext's level)"));
  }
  Drop(a, level);
  return absl::OkStatus();
}

absl::StatusOr<Ciphertext> DropToLevel(const CkksContext& ctx, const Ciphertext& a, int level) {
  Ciphertext r = a;
  VEIL_RETURN_IF_ERROR(DropToLevelInplace(ctx, level, &r));
  return r;
}

absl::Status MatchLevelAndScale(const CkksContext& ctx, int level, double scale, Ciphertext* a) {
  VEIL_RETURN_IF_ERROR(CheckCiphertext(ctx, *a, "operand"));
  if (a->level == level && SameScale(a->scale, scale)) return absl::OkStatus();
  if (a->level <= level) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "MatchLevelAndScale: the ciphertext is at level %d with scale 2^%.4f; reaching level %d with scale "
        "2^%.4f needs a rescale, so the ciphertext must start above level %d",
        a->level, std::log2(a->scale), level, std::log2(scale), level));
  }
  Drop(a, level + 1);
  const double constant_scale = scale * static_cast<double>(ctx.modulus(level + 1).value()) / a->scale;
  if (!(constant_scale >= 0x1p20 && constant_scale < 0x1p62)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "MatchLevelAndScale: scale 2^%.4f at level %d needs a constant at scale 2^%.2f from 2^%.4f, outside "
        "[2^20, 2^62)",
        std::log2(scale), level, std::log2(constant_scale), std::log2(a->scale)));
  }
  VEIL_RETURN_IF_ERROR(MultiplyConstantInplace(ctx, 1.0, constant_scale, a));
  VEIL_RETURN_IF_ERROR(RescaleInplace(ctx, a));
  a->scale = scale;  // exact up to the rounding of the constant (relative 2^-21 at most)
  return absl::OkStatus();
}

absl::Status ApplyGaloisInplace(const CkksContext& ctx, const GaloisKeys& gk, uint64_t g, Ciphertext* a) {
  VEIL_RETURN_IF_ERROR(CheckCiphertext(ctx, *a, "operand"));
  if (a->parts.size() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("a Galois automorphism needs a 2-part ciphertext; this one has ", a->parts.size(),
                     " parts (relinearize first)"));
  }
  auto it = gk.keys.find(g);
  if (it == gk.keys.end()) {
    return absl::NotFoundError(absl::StrCat("no Galois key for the element ", g));
  }
  VEIL_RETURN_IF_ERROR(CheckKeySwitchKey(ctx, it->second, "the Galois key"));
  if (g % 2 == 0 || g >= 2 * ctx.n()) {
    return absl::InvalidArgumentError(absl::StrCat("Galois element ", g, " is not odd and below 2N"));
  }
  const std::vector<uint32_t>& perm = Permutation(ctx, g);
  const size_t n = ctx.n();
  const size_t limbs = static_cast<size_t>(a->level) + 1;
  thread_local std::vector<uint64_t> c1g, tmp;
  c1g.resize(limbs * n);
  tmp.resize(n);
  for (size_t i = 0; i < limbs; ++i) {
    const uint64_t* c1 = a->parts[1].data.data() + i * n;
    uint64_t* dst = c1g.data() + i * n;
    for (size_t k = 0; k < n; ++k) dst[k] = c1[perm[k]];
    uint64_t* c0 = a->parts[0].data.data() + i * n;
    for (size_t k = 0; k < n; ++k) tmp[k] = c0[perm[k]];
    std::memcpy(c0, tmp.data(), n * sizeof(uint64_t));
  }
  std::fill(a->parts[1].data.begin(), a->parts[1].data.end(), 0);
  internal::KeySwitch(ctx, it->second, {c1g.data(), limbs * n}, a->level, &a->parts[0], &a->parts[1],
                      /*accumulate=*/true);
  return absl::OkStatus();
}

absl::Status RotateInplace(const CkksContext& ctx, const GaloisKeys& gk, int64_t steps, Ciphertext* a) {
  const int64_t slots = static_cast<int64_t>(ctx.slot_count());
  int64_t r = steps % slots;
  if (r < 0) r += slots;
  if (r == 0) return CheckCiphertext(ctx, *a, "operand");
  const uint64_t g = GaloisElementForRotation(ctx, r);
  if (gk.Has(g)) return ApplyGaloisInplace(ctx, gk, g, a);
  // Compose signed powers of two (non-adjacent form of r; a digit at 2^log2(slots) is a full turn).
  std::vector<int64_t> parts;
  std::vector<std::string> missing;
  const std::vector<int> naf = NonAdjacentForm(static_cast<uint64_t>(r));
  for (size_t i = 0; i < naf.size(); ++i) {
    if (naf[i] == 0) continue;
    const int64_t step = naf[i] * (int64_t{1} << i);
    if (step % slots == 0) continue;
    parts.push_back(step);
    if (!gk.Has(GaloisElementForRotation(ctx, step))) missing.push_back(absl::StrCat(step));
  }
  if (!missing.empty()) {
    return absl::NotFoundError(absl::StrCat("Rotate by ", steps, ": no Galois key for this step nor for ",
                                            absl::StrJoin(missing, ", "),
                                            " (its decomposition into signed powers of two); generate keys "
                                            "for these steps or for the default powers of two"));
  }
  for (int64_t step : parts) {
    VEIL_RETURN_IF_ERROR(ApplyGaloisInplace(ctx, gk, GaloisElementForRotation(ctx, step), a));
  }
  return absl::OkStatus();
}

absl::StatusOr<Ciphertext> Rotate(const CkksContext& ctx, const GaloisKeys& gk, const Ciphertext& a,
                                  int64_t steps) {
  Ciphertext r = a;
  VEIL_RETURN_IF_ERROR(RotateInplace(ctx, gk, steps, &r));
  return r;
}

absl::Status ConjugateInplace(const CkksContext& ctx, const GaloisKeys& gk, Ciphertext* a) {
  const uint64_t g = GaloisElementForConjugation(ctx);
  if (!gk.Has(g)) return absl::NotFoundError("Conjugate: the Galois keys have no conjugation key");
  return ApplyGaloisInplace(ctx, gk, g, a);
}

absl::StatusOr<Ciphertext> Conjugate(const CkksContext& ctx, const GaloisKeys& gk, const Ciphertext& a) {
  Ciphertext r = a;
  VEIL_RETURN_IF_ERROR(ConjugateInplace(ctx, gk, &r));
  return r;
}

absl::Status RotateAndSumInplace(const CkksContext& ctx, const GaloisKeys& gk, size_t count, Ciphertext* a) {
  if (count == 0 || count > ctx.slot_count() || (count & (count - 1)) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("RotateAndSum: count ", count, " is not a power of two in [1, ", ctx.slot_count(), "]"));
  }
  for (size_t step = 1; step < count; step *= 2) {
    VEIL_ASSIGN_OR_RETURN(Ciphertext rotated, Rotate(ctx, gk, *a, static_cast<int64_t>(step)));
    VEIL_RETURN_IF_ERROR(AddInplace(ctx, rotated, a));
  }
  return absl::OkStatus();
}

}  // namespace veil::he
