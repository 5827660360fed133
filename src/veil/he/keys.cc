#include "veil/he/keys.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/random.h"

namespace veil::he {

namespace {

// A vector of words that is wiped when it goes out of scope (scratch copies of secret values).
class WipedWords {
 public:
  explicit WipedWords(size_t n) : v_(n, 0) {}
  WipedWords(const WipedWords&) = delete;
  WipedWords& operator=(const WipedWords&) = delete;
  ~WipedWords() { OPENSSL_cleanse(v_.data(), v_.size() * sizeof(uint64_t)); }
  std::vector<uint64_t>& get() { return v_; }

 private:
  std::vector<uint64_t> v_;
};

class WipedCoefficients {
 public:
  explicit WipedCoefficients(std::vector<int64_t> v) : v_(std::move(v)) {}
  WipedCoefficients(const WipedCoefficients&) = delete;
  WipedCoefficients& operator=(const WipedCoefficients&) = delete;
  ~WipedCoefficients() { OPENSSL_cleanse(v_.data(), v_.size() * sizeof(int64_t)); }
  const std::vector<int64_t>& get() const { return v_; }

 private:
  std::vector<int64_t> v_;
};

// Copies limb `prime_index` of the secret key into `out` (N words).
void SecretLimb(const SecretKey& sk, size_t n, size_t prime_index, std::vector<uint64_t>& out) {
  std::memcpy(out.data(), sk.ntt_limbs().data() + prime_index * n * sizeof(uint64_t), n * sizeof(uint64_t));
}

absl::Status CheckSecretKey(const CkksContext& ctx, const SecretKey& sk) {
  if (sk.ntt_limbs().size() != ctx.prime_count() * ctx.n() * sizeof(uint64_t)) {
    return absl::InvalidArgumentError(absl::StrCat("secret key of ", sk.ntt_limbs().size(),
                                                   " bytes does not match the parameters (N = ", ctx.n(),
                                                   ", ", ctx.prime_count(), " primes)"));
  }
  return absl::OkStatus();
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

absl::StatusOr<SecretKey> GenerateSecretKey(const CkksContext& ctx, base::RandomSource& rng) {
  VEIL_ASSIGN_OR_RETURN(std::vector<int64_t> sampled, SampleTernary(ctx.n(), rng));
  WipedCoefficients s(std::move(sampled));
  const size_t n = ctx.n();
  const size_t limbs = ctx.prime_count();
  base::SecretBytes bytes(limbs * n * sizeof(uint64_t));
  RnsPoly one_limb;  // one limb at a time, wiped after its copy into the key
  for (size_t i = 0; i < limbs; ++i) {
    one_limb = RnsPoly(n, 1, false);
    ctx.SignedToRns(s.get(), i, 1, /*to_ntt=*/true, &one_limb);
    std::memcpy(bytes.data() + i * n * sizeof(uint64_t), one_limb.data.data(), n * sizeof(uint64_t));
    OPENSSL_cleanse(one_limb.data.data(), n * sizeof(uint64_t));
  }
  return SecretKey(std::move(bytes));
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
  WipedWords s(n);
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
  WipedCoefficients u_coefficients(std::move(u_sampled));
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

absl::StatusOr<Plaintext> Decrypt(const CkksContext& ctx, const SecretKey& sk, const Ciphertext& ct) {
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
  Plaintext pt;
  pt.level = ct.level;
  pt.scale = ct.scale;
  pt.poly = RnsPoly(n, limbs, true);
  WipedWords s(n), s_power(n);
  for (size_t i = 0; i < limbs; ++i) {
    const Modulus& q = ctx.modulus(i);
    SecretLimb(sk, n, i, s.get());
    std::span<uint64_t> m = pt.poly.limb(i);
    std::copy(ct.parts[0].limb(i).begin(), ct.parts[0].limb(i).end(), m.begin());
    // m = c_0 + c_1 s + c_2 s^2 + ...: s_power holds s^p.
    std::copy(s.get().begin(), s.get().end(), s_power.get().begin());
    for (size_t p = 1; p < ct.parts.size(); ++p) {
      std::span<const uint64_t> c = ct.parts[p].limb(i);
      for (size_t k = 0; k < n; ++k) m[k] = q.Add(m[k], q.Mul(c[k], s_power.get()[k]));
      if (p + 1 < ct.parts.size()) {
        for (size_t k = 0; k < n; ++k) s_power.get()[k] = q.Mul(s_power.get()[k], s.get()[k]);
      }
    }
  }
  return pt;
}

}  // namespace veil::he
