#include "veil/he/keyswitch.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/random.h"
#include "veil/he/kernels.h"
#include "veil/he/ntt.h"
#include "veil/he/rns.h"
#include "veil/he/wiped.h"

namespace veil::he {

namespace {

size_t SpecialCount(const CkksContext& ctx) { return ctx.params().special_primes().size(); }

// P mod prime i for every prime (0 for the special primes themselves).
std::vector<uint64_t> PModPrimes(const CkksContext& ctx) {
  std::vector<uint64_t> out(ctx.prime_count());
  const size_t first_special = static_cast<size_t>(ctx.max_level()) + 1;
  for (size_t i = 0; i < ctx.prime_count(); ++i) {
    const Modulus& q = ctx.modulus(i);
    uint64_t v = 1;
    for (size_t s = first_special; s < ctx.prime_count(); ++s) v = q.Mul(v, q.Reduce(ctx.modulus(s).value()));
    out[i] = v;
  }
  return out;
}

// A key switching from s_from (NTT limbs for every prime, limb-major) to sk.
absl::StatusOr<KeySwitchKey> MakeKey(const CkksContext& ctx, const SecretKey& sk, const uint64_t* s_from,
                                     base::RandomSource& rng) {
  const size_t n = ctx.n();
  const size_t total = ctx.prime_count();
  const size_t alpha = SpecialCount(ctx);
  const size_t dnum = KeySwitchDigits(ctx);
  const std::vector<uint64_t> p_mod = PModPrimes(ctx);
  KeySwitchKey key;
  VEIL_ASSIGN_OR_RETURN(std::vector<uint8_t> seed, crypto::RandomBytes(kSeedBytes, rng));
  std::copy(seed.begin(), seed.end(), key.a_seed.begin());
  const uint64_t* s = reinterpret_cast<const uint64_t*>(sk.ntt_limbs().data());
  for (size_t j = 0; j < dnum; ++j) {
    RnsPoly a(n, total, true);
    VEIL_RETURN_IF_ERROR(ExpandUniform(key.a_seed, kKeySwitchDomain + j, ctx, 0, &a));
    VEIL_ASSIGN_OR_RETURN(std::vector<int64_t> e, SampleCenteredBinomial(n, rng));
    RnsPoly b(n, total, true);
    ctx.SignedToRns(e, 0, total, /*to_ntt=*/true, &b);
    for (size_t i = 0; i < total; ++i) {
      const Modulus& q = ctx.modulus(i);
      const bool in_digit = i < dnum * alpha && i / alpha == j && i <= static_cast<size_t>(ctx.max_level());
      std::span<uint64_t> bi = b.limb(i);
      std::span<const uint64_t> ai = a.limb(i);
      const uint64_t* si = s + i * n;
      const uint64_t* fi = s_from + i * n;
      const uint64_t pw = p_mod[i], pw_shoup = ShoupPrecompute(pw, q.value());
      for (size_t c = 0; c < n; ++c) {
        uint64_t v = q.Sub(bi[c], q.Mul(ai[c], si[c]));
        if (in_digit) v = q.Add(v, MulShoup(fi[c], pw, pw_shoup, q.value()));
        bi[c] = v;
      }
    }
    key.a.push_back(std::move(a));
    key.b.push_back(std::move(b));
  }
  return key;
}

// Per-thread scratch space of the key-switching core, kept between calls so that the hot path allocates
// nothing after the first call at a given size.
struct Scratch {
  std::vector<uint64_t> modup;  // dnum x ext limbs
  std::vector<uint64_t> coeff;  // alpha limbs in coefficient form
  std::vector<uint64_t> conv;   // converted limbs (alpha > 1)
  std::vector<uint64_t> acc;    // 2 x ext limbs
  std::vector<uint64_t> down;   // alpha limbs (ModDown input) and one converted limb
  std::vector<const uint64_t*> digit_src;
  std::vector<const uint64_t*> terms;  // the inner product's operands for one limb
};

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

void EnsureSize(std::vector<uint64_t>& v, size_t n) {
  if (v.size() < n) v.resize(n);
}

}  // namespace

size_t KeySwitchDigits(const CkksContext& ctx) {
  const size_t alpha = SpecialCount(ctx);
  const size_t l1 = static_cast<size_t>(ctx.max_level()) + 1;
  return (l1 + alpha - 1) / alpha;
}

uint64_t GaloisElementForRotation(const CkksContext& ctx, int64_t steps) {
  const int64_t slots = static_cast<int64_t>(ctx.slot_count());
  const uint64_t two_n = 2 * ctx.n();
  int64_t r = steps % slots;
  if (r < 0) r += slots;
  uint64_t g = 1, base = 5;
  for (uint64_t e = static_cast<uint64_t>(r); e != 0; e >>= 1) {
    if (e & 1) g = g * base % two_n;
    base = base * base % two_n;
  }
  return g;
}

uint64_t GaloisElementForConjugation(const CkksContext& ctx) { return 2 * ctx.n() - 1; }

std::vector<int64_t> DefaultRotationSteps(const CkksContext& ctx) {
  std::vector<int64_t> steps;
  for (int64_t s = 1; s < static_cast<int64_t>(ctx.slot_count()); s *= 2) {
    steps.push_back(s);
    steps.push_back(-s);
  }
  return steps;
}

absl::StatusOr<std::vector<uint32_t>> GaloisNttPermutation(const CkksContext& ctx, uint64_t g) {
  const size_t n = ctx.n();
  const uint64_t two_n = 2 * n;
  if (g % 2 == 0 || g >= two_n) {
    return absl::InvalidArgumentError(
        absl::StrCat("Galois element ", g, " is not odd and in [1, ", two_n, ") for N = ", n));
  }
  const int bits = std::countr_zero(n);
  std::vector<uint32_t> perm(n);
  for (size_t k = 0; k < n; ++k) {
    const uint64_t e = (2 * uint64_t{internal::BitReverse(k, bits)} + 1) * g % two_n;
    perm[k] = static_cast<uint32_t>(internal::BitReverse(static_cast<size_t>((e - 1) / 2), bits));
  }
  return perm;
}

absl::StatusOr<RelinKeys> GenerateRelinKeys(const CkksContext& ctx, const SecretKey& sk,
                                            base::RandomSource& rng) {
  VEIL_RETURN_IF_ERROR(CheckSecretKey(ctx, sk));
  const size_t n = ctx.n();
  WipedVector<uint64_t> s2(ctx.prime_count() * n);
  const uint64_t* s = reinterpret_cast<const uint64_t*>(sk.ntt_limbs().data());
  for (size_t i = 0; i < ctx.prime_count(); ++i) {
    const Modulus& q = ctx.modulus(i);
    for (size_t c = 0; c < n; ++c) s2.data()[i * n + c] = q.Mul(s[i * n + c], s[i * n + c]);
  }
  RelinKeys keys;
  VEIL_ASSIGN_OR_RETURN(keys.key, MakeKey(ctx, sk, s2.data(), rng));
  return keys;
}

absl::StatusOr<GaloisKeys> GenerateGaloisKeys(const CkksContext& ctx, const SecretKey& sk,
                                              base::RandomSource& rng, std::span<const int64_t> steps,
                                              bool conjugation) {
  VEIL_RETURN_IF_ERROR(CheckSecretKey(ctx, sk));
  std::vector<uint64_t> elements;
  for (int64_t step : steps) {
    const uint64_t g = GaloisElementForRotation(ctx, step);
    if (g != 1) elements.push_back(g);
  }
  if (conjugation) elements.push_back(GaloisElementForConjugation(ctx));
  const size_t n = ctx.n();
  const uint64_t* s = reinterpret_cast<const uint64_t*>(sk.ntt_limbs().data());
  WipedVector<uint64_t> s_g(ctx.prime_count() * n);
  GaloisKeys keys;
  for (uint64_t g : elements) {
    if (keys.Has(g)) continue;
    VEIL_ASSIGN_OR_RETURN(std::vector<uint32_t> perm, GaloisNttPermutation(ctx, g));
    for (size_t i = 0; i < ctx.prime_count(); ++i) {
      for (size_t c = 0; c < n; ++c) s_g.data()[i * n + c] = s[i * n + perm[c]];
    }
    VEIL_ASSIGN_OR_RETURN(KeySwitchKey key, MakeKey(ctx, sk, s_g.data(), rng));
    keys.keys.emplace(g, std::move(key));
  }
  return keys;
}

absl::StatusOr<GaloisKeys> GenerateGaloisKeys(const CkksContext& ctx, const SecretKey& sk,
                                              base::RandomSource& rng) {
  const std::vector<int64_t> steps = DefaultRotationSteps(ctx);
  return GenerateGaloisKeys(ctx, sk, rng, steps, /*conjugation=*/true);
}

absl::Status CheckKeySwitchKey(const CkksContext& ctx, const KeySwitchKey& key, const char* what) {
  const size_t dnum = KeySwitchDigits(ctx);
  if (key.a.size() != dnum || key.b.size() != dnum) {
    return absl::InvalidArgumentError(absl::StrCat(what, " has ", key.b.size(),
                                                   " digits, the parameters need ", dnum,
                                                   " (keys made for other parameters?)"));
  }
  for (size_t j = 0; j < dnum; ++j) {
    for (const RnsPoly* p : {&key.a[j], &key.b[j]}) {
      if (p->n != ctx.n() || p->limbs != ctx.prime_count() || p->data.size() != ctx.n() * ctx.prime_count() ||
          !p->ntt_form) {
        return absl::InvalidArgumentError(absl::StrCat(what, ": digit ", j, " has ", p->limbs, " limbs of ",
                                                       p->n, " values, expected ", ctx.prime_count(),
                                                       " limbs of ", ctx.n(), " in NTT form"));
      }
    }
  }
  return absl::OkStatus();
}

namespace internal {

void KeySwitch(const CkksContext& ctx, const KeySwitchKey& key, std::span<const uint64_t> d, int level,
               RnsPoly* out0, RnsPoly* out1, bool accumulate) {
  const size_t n = ctx.n();
  const size_t l1 = static_cast<size_t>(level) + 1;
  const size_t alpha = SpecialCount(ctx);
  const size_t first_special = static_cast<size_t>(ctx.max_level()) + 1;
  const size_t ext = l1 + alpha;
  const size_t dnum = (l1 + alpha - 1) / alpha;
  auto prime_of = [&](size_t t) { return t < l1 ? t : first_special + (t - l1); };

  Scratch& sc = ThreadScratch();
  EnsureSize(sc.modup, dnum * ext * n);
  EnsureSize(sc.coeff, alpha * n);
  EnsureSize(sc.acc, 2 * ext * n);
  EnsureSize(sc.down, (alpha + 1) * n);
  sc.digit_src.assign(dnum * ext, nullptr);

  // 1. ModUp of every digit.
  for (size_t j = 0; j < dnum; ++j) {
    const size_t first = j * alpha;
    const size_t cnt = std::min(alpha, l1 - first);
    for (size_t i = 0; i < cnt; ++i) {
      std::memcpy(sc.coeff.data() + i * n, d.data() + (first + i) * n, n * sizeof(uint64_t));
      InverseNtt(ctx.ntt(first + i), {sc.coeff.data() + i * n, n});
    }
    // Targets: every ext limb outside the digit.
    std::vector<uint64_t> targets;
    if (cnt > 1) {
      for (size_t t = 0; t < ext; ++t) {
        if (t < first || t >= first + cnt) targets.push_back(ctx.modulus(prime_of(t)).value());
      }
      std::vector<uint64_t> from_primes;
      for (size_t i = 0; i < cnt; ++i) from_primes.push_back(ctx.modulus(first + i).value());
      // Validated primes: these cannot fail.
      const RnsBase from = RnsBase::Create(from_primes).value();
      const RnsBase to = RnsBase::Create(targets).value();
      const BaseConverter conv = BaseConverter::Create(from, to).value();
      EnsureSize(sc.conv, targets.size() * n);
      (void)conv.FastConvert({sc.coeff.data(), cnt * n}, n, {sc.conv.data(), targets.size() * n});
    }
    size_t target_index = 0;
    for (size_t t = 0; t < ext; ++t) {
      if (t >= first && t < first + cnt) {
        sc.digit_src[j * ext + t] = d.data() + t * n;
        continue;
      }
      uint64_t* dst = sc.modup.data() + (j * ext + t) * n;
      const size_t prime = prime_of(t);
      if (cnt == 1) {
        // The forward NTT takes inputs below 4p and returns them fully reduced: residues of a prime up to 4p
        // need no reduction.
        const Modulus& p = ctx.modulus(prime);
        if (ctx.modulus(first).value() <= 4 * p.value()) {
          std::memcpy(dst, sc.coeff.data(), n * sizeof(uint64_t));
        } else {
          ReduceFrom(p, sc.coeff.data(), dst, n);
        }
      } else {
        std::memcpy(dst, sc.conv.data() + target_index * n, n * sizeof(uint64_t));
      }
      ++target_index;
      ForwardNtt(ctx.ntt(prime), {dst, n});
      sc.digit_src[j * ext + t] = dst;
    }
  }

  // 2. Inner product with the key (kernels.h: lazy reduction, IFMA for primes below 2^50).
  sc.terms.resize(3 * dnum);
  const std::span<const uint64_t*> x(sc.terms.data(), dnum), kb(sc.terms.data() + dnum, dnum),
      ka(sc.terms.data() + 2 * dnum, dnum);
  for (size_t t = 0; t < ext; ++t) {
    const size_t prime = prime_of(t);
    for (size_t j = 0; j < dnum; ++j) {
      x[j] = sc.digit_src[j * ext + t];
      kb[j] = key.b[j].data.data() + prime * n;
      ka[j] = key.a[j].data.data() + prime * n;
    }
    InnerProductPair(ctx.modulus(prime), x, kb, ka, sc.acc.data() + t * n, sc.acc.data() + (ext + t) * n, n);
  }

  // 3. ModDown: divide by P with rounding.
  if (!accumulate) {
    *out0 = RnsPoly(n, l1, true);
    *out1 = RnsPoly(n, l1, true);
  }
  std::vector<uint64_t> p_inv(l1);
  for (size_t i = 0; i < l1; ++i) {
    const Modulus& q = ctx.modulus(i);
    uint64_t p = 1;
    for (size_t s = 0; s < alpha; ++s) p = q.Mul(p, q.Reduce(ctx.modulus(first_special + s).value()));
    p_inv[i] = InvertMod(p, q).value();  // P is coprime to q_i (distinct primes)
  }
  std::optional<BaseConverter> down_conv;
  if (alpha > 1) {
    std::vector<uint64_t> from_primes, to_primes;
    for (size_t s = 0; s < alpha; ++s) from_primes.push_back(ctx.modulus(first_special + s).value());
    for (size_t i = 0; i < l1; ++i) to_primes.push_back(ctx.modulus(i).value());
    down_conv.emplace(
        BaseConverter::Create(RnsBase::Create(from_primes).value(), RnsBase::Create(to_primes).value())
            .value());
    EnsureSize(sc.conv, l1 * n);
  }
  for (int part = 0; part < 2; ++part) {
    RnsPoly* out = part == 0 ? out0 : out1;
    const uint64_t* acc = sc.acc.data() + part * ext * n;
    uint64_t* top = sc.down.data();
    uint64_t* t = sc.down.data() + alpha * n;
    for (size_t s = 0; s < alpha; ++s) {
      std::memcpy(top + s * n, acc + (l1 + s) * n, n * sizeof(uint64_t));
      InverseNtt(ctx.ntt(first_special + s), {top + s * n, n});
    }
    if (alpha > 1) (void)down_conv->FastConvert({top, alpha * n}, n, {sc.conv.data(), l1 * n});
    const uint64_t p0 = ctx.modulus(first_special).value();
    for (size_t i = 0; i < l1; ++i) {
      const Modulus& q = ctx.modulus(i);
      if (alpha == 1) {
        CenteredFrom(q, p0, top, t, n);  // the centered representative of C mod p, modulo q_i
      } else {
        std::memcpy(t, sc.conv.data() + i * n, n * sizeof(uint64_t));
      }
      ForwardNtt(ctx.ntt(i), {t, n});
      SubMulConstant(q, acc + i * n, t, p_inv[i], out->data.data() + i * n, accumulate, n);
    }
  }
}

}  // namespace internal

}  // namespace veil::he
