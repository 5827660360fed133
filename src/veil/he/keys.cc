#include "veil/he/keys.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/random.h"
#include "veil/he/kernels.h"
#include "veil/he/wiped.h"

namespace veil::he {

namespace {

// Copies limb `prime_index` of the secret key into `out` (N words).
void SecretLimb(const SecretKey& sk, size_t n, size_t prime_index, std::vector<uint64_t>& out) {
  std::memcpy(out.data(), sk.ntt_limbs().data() + prime_index * n * sizeof(uint64_t), n * sizeof(uint64_t));
}

// The key of ternary coefficients s: s modulo every prime in NTT form, one limb at a time (each wiped after
// its copy into the key).
base::SecretBytes NttLimbs(const CkksContext& ctx, const std::vector<int64_t>& s) {
  const size_t n = ctx.n();
  const size_t limbs = ctx.prime_count();
  base::SecretBytes bytes(limbs * n * sizeof(uint64_t));
  RnsPoly one_limb;
  for (size_t i = 0; i < limbs; ++i) {
    one_limb = RnsPoly(n, 1, false);
    ctx.SignedToRns(s, i, 1, /*to_ntt=*/true, &one_limb);
    std::memcpy(bytes.data() + i * n * sizeof(uint64_t), one_limb.data.data(), n * sizeof(uint64_t));
    OPENSSL_cleanse(one_limb.data.data(), n * sizeof(uint64_t));
  }
  return bytes;
}

absl::Status CheckPoly(const RnsPoly& p, size_t n, size_t limbs, const std::string& what) {
  if (p.n != n || p.limbs != limbs || p.data.size() != n * limbs || !p.ntt_form) {
    return absl::InvalidArgumentError(absl::StrCat(what, " has ", p.limbs, " limbs of ", p.n,
                                                   " coefficients (NTT form: ", p.ntt_form ? "yes" : "no",
                                                   "), expected ", limbs, " limbs of ", n, " in NTT form"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckSecretKey(const CkksContext& ctx, const SecretKey& sk) {
  if (sk.ntt_limbs().size() != ctx.prime_count() * ctx.n() * sizeof(uint64_t)) {
    return absl::InvalidArgumentError(absl::StrCat("secret key of ", sk.ntt_limbs().size(),
                                                   " bytes does not match the parameters (N = ", ctx.n(),
                                                   ", ", ctx.prime_count(), " primes)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<SecretKey> GenerateSecretKey(const CkksContext& ctx, base::RandomSource& rng) {
  VEIL_ASSIGN_OR_RETURN(std::vector<int64_t> sampled, SampleTernary(ctx.n(), rng));
  const WipedVector<int64_t> s(std::move(sampled));
  return SecretKey(NttLimbs(ctx, s.get()));
}

absl::StatusOr<base::SecretBytes> SecretKeyToTernary(const CkksContext& ctx, const SecretKey& sk) {
  VEIL_RETURN_IF_ERROR(CheckSecretKey(ctx, sk));
  const size_t n = ctx.n();
  WipedVector<uint64_t> s(n);
  SecretLimb(sk, n, 0, s.get());
  InverseNtt(ctx.ntt(0), s.get());
  const uint64_t q = ctx.modulus(0).value();
  base::SecretBytes out(n);
  for (size_t c = 0; c < n; ++c) {
    const uint64_t v = s.get()[c];
    if (v != 0 && v != 1 && v != q - 1) {
      return absl::InvalidArgumentError("the secret key is not ternary (corrupted key)");
    }
    out.data()[c] = static_cast<uint8_t>(v == q - 1 ? 0 : v + 1);
  }
  return out;
}

absl::StatusOr<SecretKey> SecretKeyFromTernary(const CkksContext& ctx, std::span<const uint8_t> ternary) {
  const size_t n = ctx.n();
  if (ternary.size() != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("a ternary secret key needs ", n, " coefficients, got ", ternary.size()));
  }
  WipedVector<int64_t> s(n);
  for (size_t c = 0; c < n; ++c) {
    if (ternary[c] > 2)
      return absl::InvalidArgumentError("secret key coefficient byte above 2 (not ternary)");
    s.get()[c] = static_cast<int64_t>(ternary[c]) - 1;
  }
  return SecretKey(NttLimbs(ctx, s.get()));
}

absl::StatusOr<PublicKey> GeneratePublicKey(const CkksContext& ctx, const SecretKey& sk,
                                            base::RandomSource& rng) {
  VEIL_RETURN_IF_ERROR(CheckSecretKey(ctx, sk));
  const size_t n = ctx.n();
  const size_t limbs = static_cast<size_t>(ctx.max_level()) + 1;
  PublicKey pk;
  VEIL_ASSIGN_OR_RETURN(std::vector<uint8_t> seed, crypto::RandomBytes(kSeedBytes, rng));
  std::copy(seed.begin(), seed.end(), pk.a_seed.begin());
  pk.a = RnsPoly(n, limbs, true);
  VEIL_RETURN_IF_ERROR(ExpandUniform(pk.a_seed, kPublicKeyDomain, ctx, 0, &pk.a));
  VEIL_ASSIGN_OR_RETURN(std::vector<int64_t> e, SampleCenteredBinomial(n, rng));
  pk.b = RnsPoly(n, limbs, true);
  ctx.SignedToRns(e, 0, limbs, /*to_ntt=*/true, &pk.b);
  WipedVector<uint64_t> s(n);
  for (size_t i = 0; i < limbs; ++i) {
    const Modulus& q = ctx.modulus(i);
    SecretLimb(sk, n, i, s.get());
    std::span<uint64_t> b = pk.b.limb(i);
    std::span<const uint64_t> a = pk.a.limb(i);
    for (size_t c = 0; c < n; ++c) b[c] = q.Sub(b[c], q.Mul(a[c], s.get()[c]));  // e - a * s
  }
  return pk;
}

absl::StatusOr<Ciphertext> Encrypt(const CkksContext& ctx, const PublicKey& pk, const Plaintext& pt,
                                   base::RandomSource& rng) {
  const size_t n = ctx.n();
  if (pt.level < 0 || pt.level > ctx.max_level()) {
    return absl::InvalidArgumentError(
        absl::StrCat("plaintext level ", pt.level, " is outside [0, ", ctx.max_level(), "]"));
  }
  const size_t limbs = static_cast<size_t>(pt.level) + 1;
  const size_t key_limbs = static_cast<size_t>(ctx.max_level()) + 1;
  VEIL_RETURN_IF_ERROR(CheckPoly(pt.poly, n, limbs, "the plaintext"));
  VEIL_RETURN_IF_ERROR(CheckPoly(pk.b, n, key_limbs, "the public key's b"));
  VEIL_RETURN_IF_ERROR(CheckPoly(pk.a, n, key_limbs, "the public key's a"));
  VEIL_ASSIGN_OR_RETURN(std::vector<int64_t> u_sampled, SampleTernary(n, rng));
  const WipedVector<int64_t> u_coefficients(std::move(u_sampled));
  VEIL_ASSIGN_OR_RETURN(std::vector<int64_t> e0, SampleCenteredBinomial(n, rng));
  VEIL_ASSIGN_OR_RETURN(std::vector<int64_t> e1, SampleCenteredBinomial(n, rng));
  Ciphertext ct;
  ct.level = pt.level;
  ct.scale = pt.scale;
  ct.parts.assign(2, RnsPoly(n, limbs, true));
  ctx.SignedToRns(e0, 0, limbs, /*to_ntt=*/true, &ct.parts[0]);
  ctx.SignedToRns(e1, 0, limbs, /*to_ntt=*/true, &ct.parts[1]);
  RnsPoly u(n, limbs, true);
  ctx.SignedToRns(u_coefficients.get(), 0, limbs, /*to_ntt=*/true, &u);
  for (size_t i = 0; i < limbs; ++i) {
    const Modulus& q = ctx.modulus(i);
    std::span<uint64_t> c0 = ct.parts[0].limb(i), c1 = ct.parts[1].limb(i);
    std::span<const uint64_t> b = pk.b.limb(i), a = pk.a.limb(i), ui = u.limb(i), m = pt.poly.limb(i);
    for (size_t c = 0; c < n; ++c) {
      c0[c] = q.Add(q.Add(c0[c], q.Mul(b[c], ui[c])), m[c]);
      c1[c] = q.Add(c1[c], q.Mul(a[c], ui[c]));
    }
  }
  OPENSSL_cleanse(u.data.data(), u.data.size() * sizeof(uint64_t));
  return ct;
}

absl::StatusOr<SeededCiphertext> EncryptSymmetric(const CkksContext& ctx, const SecretKey& sk,
                                                  const Plaintext& pt, base::RandomSource& rng) {
  VEIL_RETURN_IF_ERROR(CheckSecretKey(ctx, sk));
  const size_t n = ctx.n();
  if (pt.level < 0 || pt.level > ctx.max_level()) {
    return absl::InvalidArgumentError(
        absl::StrCat("plaintext level ", pt.level, " is outside [0, ", ctx.max_level(), "]"));
  }
  const size_t limbs = static_cast<size_t>(pt.level) + 1;
  VEIL_RETURN_IF_ERROR(CheckPoly(pt.poly, n, limbs, "the plaintext"));
  SeededCiphertext out;
  VEIL_ASSIGN_OR_RETURN(std::vector<uint8_t> seed, crypto::RandomBytes(kSeedBytes, rng));
  std::copy(seed.begin(), seed.end(), out.c1_seed.begin());
  Ciphertext& ct = out.ciphertext;
  ct.level = pt.level;
  ct.scale = pt.scale;
  ct.parts.assign(2, RnsPoly(n, limbs, true));
  VEIL_RETURN_IF_ERROR(ExpandUniform(out.c1_seed, kSymmetricDomain, ctx, 0, &ct.parts[1]));
  VEIL_ASSIGN_OR_RETURN(std::vector<int64_t> e, SampleCenteredBinomial(n, rng));
  ctx.SignedToRns(e, 0, limbs, /*to_ntt=*/true, &ct.parts[0]);
  WipedVector<uint64_t> s(n);
  for (size_t i = 0; i < limbs; ++i) {
    const Modulus& q = ctx.modulus(i);
    SecretLimb(sk, n, i, s.get());
    std::span<uint64_t> c0 = ct.parts[0].limb(i);
    std::span<const uint64_t> a = ct.parts[1].limb(i), m = pt.poly.limb(i);
    for (size_t c = 0; c < n; ++c) c0[c] = q.Add(q.Sub(c0[c], q.Mul(a[c], s.get()[c])), m[c]);
  }
  return out;
}

double FloodingStddev(const CkksContext& ctx, const DecryptOptions& options) {
  return std::sqrt(static_cast<double>(ctx.n())) *
         std::exp2(options.error_bound_bits + options.statistical_security_bits - 1);
}

double FloodingSlotStddev(const CkksContext& ctx, const DecryptOptions& options, double scale) {
  return FloodingStddev(ctx, options) * std::sqrt(static_cast<double>(ctx.n()) / 2) / scale;
}

namespace {

// n rounded Gaussian samples of standard deviation sigma (Box-Muller on 53-bit uniforms from rng).
absl::StatusOr<std::vector<int64_t>> SampleRoundedGaussian(size_t n, double sigma, base::RandomSource& rng) {
  std::vector<uint8_t> bytes(16 * ((n + 1) / 2));
  VEIL_RETURN_IF_ERROR(rng.Fill(bytes));
  std::vector<int64_t> out(n);
  for (size_t i = 0; i < n; i += 2) {
    uint64_t w[2] = {0, 0};
    std::memcpy(w, bytes.data() + 8 * i, 16);
    const double u1 = (static_cast<double>(w[0] >> 11) + 1) * 0x1p-53;  // (0, 1]
    const double u2 = static_cast<double>(w[1] >> 11) * 0x1p-53;        // [0, 1)
    const double r = sigma * std::sqrt(-2 * std::log(u1));
    out[i] = static_cast<int64_t>(std::llround(r * std::cos(2 * M_PI * u2)));
    if (i + 1 < n) out[i + 1] = static_cast<int64_t>(std::llround(r * std::sin(2 * M_PI * u2)));
  }
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return out;
}

}  // namespace

absl::StatusOr<Plaintext> Decrypt(const CkksContext& ctx, const SecretKey& sk, const Ciphertext& ct,
                                  const DecryptOptions& options) {
  VEIL_RETURN_IF_ERROR(CheckSecretKey(ctx, sk));
  if (ct.level < 0 || ct.level > ctx.max_level()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ciphertext level ", ct.level, " is outside [0, ", ctx.max_level(), "]"));
  }
  const size_t n = ctx.n();
  const size_t limbs = static_cast<size_t>(ct.level) + 1;
  if (ct.parts.size() < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("a ciphertext needs at least 2 parts, this one has ", ct.parts.size()));
  }
  for (size_t p = 0; p < ct.parts.size(); ++p) {
    VEIL_RETURN_IF_ERROR(CheckPoly(ct.parts[p], n, limbs, absl::StrCat("ciphertext part ", p)));
  }
  const bool flood = options.use == DecryptOptions::Use::kShared;
  double sigma = 0;
  if (flood) {
    if (options.statistical_security_bits < 0 || options.statistical_security_bits > 128 ||
        !(options.error_bound_bits >= 0 && options.error_bound_bits <= 60)) {
      return absl::InvalidArgumentError(
          absl::StrCat("Decrypt: statistical security ", options.statistical_security_bits,
                       " bits (allowed 0..128) or error ", "bound 2^", options.error_bound_bits,
                       " (allowed 2^0..2^60) out of range"));
    }
    sigma = FloodingStddev(ctx, options);
    const double slot_stddev = FloodingSlotStddev(ctx, options, ct.scale);
    // The log2 of Q_level: the flooded value must stay far below Q/2 (16 sigma, 2^-180 tail).
    double log_q = 0;
    for (size_t i = 0; i < limbs; ++i) log_q += std::log2(static_cast<double>(ctx.modulus(i).value()));
    if (!(slot_stddev <= options.max_slot_stddev) || std::log2(16 * sigma) >= log_q - 2 ||
        16 * sigma >= 0x1p62) {
      const double needed =
          std::log2(sigma * std::sqrt(static_cast<double>(n) / 2) / options.max_slot_stddev);
      return absl::FailedPreconditionError(absl::StrFormat(
          "Decrypt: noise flooding for a shared result (statistical distance 2^-%d, ciphertext error <= "
          "2^%.1f per coefficient) adds a slot noise of standard deviation 2^%.1f at the ciphertext's scale "
          "2^%.1f, above the allowed 2^%.1f; end the computation at a scale of at least 2^%.1f (with room "
          "below the %.0f-bit modulus at level %d, e.g. multiply by a constant at a larger scale before the "
          "last rescale), lower max_slot_stddev, or decrypt with KeyOwnerOnly() if the value never leaves "
          "the key owner",
          options.statistical_security_bits, options.error_bound_bits, std::log2(slot_stddev),
          std::log2(ct.scale), std::log2(options.max_slot_stddev), needed, log_q, ct.level));
    }
  }
  Plaintext pt;
  pt.level = ct.level;
  pt.scale = ct.scale;
  pt.poly = RnsPoly(n, limbs, true);
  WipedVector<uint64_t> s(n), s_power(n);
  for (size_t i = 0; i < limbs; ++i) {
    const Modulus& q = ctx.modulus(i);
    SecretLimb(sk, n, i, s.get());
    std::span<uint64_t> m = pt.poly.limb(i);
    std::copy(ct.parts[0].limb(i).begin(), ct.parts[0].limb(i).end(), m.begin());
    // m = c_0 + c_1 s + c_2 s^2 + ...: s_power holds s^p.
    std::copy(s.get().begin(), s.get().end(), s_power.get().begin());
    for (size_t p = 1; p < ct.parts.size(); ++p) {
      MulAddPointwise(q, ct.parts[p].limb(i).data(), s_power.get().data(), m.data(), n);
      if (p + 1 < ct.parts.size())
        MulPointwise(q, s_power.get().data(), s.get().data(), s_power.get().data(), n);
    }
  }
  if (flood) {
    base::RandomSource& rng = options.rng != nullptr ? *options.rng : crypto::SecureRandom();
    VEIL_ASSIGN_OR_RETURN(std::vector<int64_t> noise, SampleRoundedGaussian(n, sigma, rng));
    RnsPoly flood_poly(n, limbs, true);
    ctx.SignedToRns(noise, 0, limbs, /*to_ntt=*/true, &flood_poly);
    OPENSSL_cleanse(noise.data(), noise.size() * sizeof(int64_t));
    for (size_t i = 0; i < limbs; ++i) {
      const Modulus& q = ctx.modulus(i);
      std::span<uint64_t> m = pt.poly.limb(i);
      std::span<const uint64_t> f = flood_poly.limb(i);
      for (size_t k = 0; k < n; ++k) m[k] = q.Add(m[k], f[k]);
    }
  }
  return pt;
}

}  // namespace veil::he
