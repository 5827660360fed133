#include "veil/fl/shamir.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "veil/base/status_macros.h"

namespace veil::fl {
namespace internal {

uint64_t FieldMul(uint64_t a, uint64_t b) {
  const unsigned __int128 p = static_cast<unsigned __int128>(a) * b;
  uint64_t r = (static_cast<uint64_t>(p) & kShamirPrime) + static_cast<uint64_t>(p >> 61);
  if (r >= kShamirPrime) r -= kShamirPrime;
  return r;
}

uint64_t FieldAdd(uint64_t a, uint64_t b) {
  uint64_t r = a + b;  // < 2^62, no overflow
  if (r >= kShamirPrime) r -= kShamirPrime;
  return r;
}

uint64_t FieldSub(uint64_t a, uint64_t b) { return a >= b ? a - b : a + kShamirPrime - b; }

uint64_t FieldInv(uint64_t a) {
  uint64_t result = 1, base = a, e = kShamirPrime - 2;
  while (e != 0) {
    if (e & 1) result = FieldMul(result, base);
    base = FieldMul(base, base);
    e >>= 1;
  }
  return result;
}

namespace {

// Barycentric weights w_i = 1 / prod_{j != i} (x_i - x_j).
std::vector<uint64_t> BarycentricWeights(std::span<const uint64_t> xs) {
  std::vector<uint64_t> w(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) {
    uint64_t d = 1;
    for (size_t j = 0; j < xs.size(); ++j) {
      if (j != i) d = FieldMul(d, FieldSub(xs[i], xs[j]));
    }
    w[i] = d;
  }
  // Batch inversion (Montgomery's trick): one exponentiation for all weights.
  std::vector<uint64_t> prefix(w.size() + 1, 1);
  for (size_t i = 0; i < w.size(); ++i) prefix[i + 1] = FieldMul(prefix[i], w[i]);
  uint64_t inv = FieldInv(prefix[w.size()]);
  for (size_t i = w.size(); i-- > 0;) {
    const uint64_t wi = w[i];
    w[i] = FieldMul(inv, prefix[i]);
    inv = FieldMul(inv, wi);
  }
  return w;
}

// Coefficients c_i with P(z) = sum_i c_i y_i, for z not among xs: c_i = l(z) w_i / (z - x_i),
// l(z) = prod_i (z - x_i).
std::vector<uint64_t> LagrangeAt(std::span<const uint64_t> xs, std::span<const uint64_t> w, uint64_t z) {
  const size_t n = xs.size();
  std::vector<uint64_t> diff(n), prefix(n + 1, 1);
  uint64_t l = 1;
  for (size_t i = 0; i < n; ++i) {
    diff[i] = FieldSub(z, xs[i]);
    l = FieldMul(l, diff[i]);
    prefix[i + 1] = l;
  }
  uint64_t inv = FieldInv(prefix[n]);
  std::vector<uint64_t> c(n);
  for (size_t i = n; i-- > 0;) {
    const uint64_t inv_diff = FieldMul(inv, prefix[i]);
    inv = FieldMul(inv, diff[i]);
    c[i] = FieldMul(FieldMul(l, w[i]), inv_diff);
  }
  return c;
}

uint64_t LoadLe64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

void StoreLe64(uint64_t v, uint8_t* p) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

}  // namespace

uint64_t Interpolate(std::span<const uint64_t> xs, std::span<const uint64_t> ys, uint64_t z) {
  for (size_t i = 0; i < xs.size(); ++i) {
    if (xs[i] == z) return ys[i];
  }
  const std::vector<uint64_t> w = BarycentricWeights(xs);
  const std::vector<uint64_t> c = LagrangeAt(xs, w, z);
  uint64_t r = 0;
  for (size_t i = 0; i < xs.size(); ++i) r = FieldAdd(r, FieldMul(c[i], ys[i]));
  return r;
}

}  // namespace internal

using internal::FieldAdd;
using internal::FieldMul;

absl::StatusOr<std::vector<ShamirShare>> ShamirSplit(std::span<const uint8_t> secret, uint32_t threshold,
                                                     std::span<const uint32_t> xs, base::RandomSource& rng) {
  if (secret.empty() || secret.size() > kShamirMaxSecretBytes) {
    return absl::InvalidArgumentError(absl::StrCat("Shamir split: secret length ", secret.size(),
                                                   " is outside [1, ", kShamirMaxSecretBytes, "]"));
  }
  if (xs.size() > kShamirMaxShares) {
    return absl::InvalidArgumentError(
        absl::StrCat("Shamir split: ", xs.size(), " shares exceed the limit ", kShamirMaxShares));
  }
  if (threshold == 0 || threshold > xs.size()) {
    return absl::InvalidArgumentError(absl::StrCat("Shamir split: threshold ", threshold,
                                                   " is outside [1, number of shares = ", xs.size(), "]"));
  }
  absl::flat_hash_set<uint32_t> seen;
  for (uint32_t x : xs) {
    if (x == 0) return absl::InvalidArgumentError("Shamir split: x-coordinate 0 would reveal the secret");
    if (!seen.insert(x).second) {
      return absl::InvalidArgumentError(absl::StrCat("Shamir split: x-coordinate ", x, " is repeated"));
    }
  }
  const size_t limbs = ShamirLimbs(secret.size());
  // Coefficients a_1..a_{t-1} for every limb, uniform in GF(p): 61-bit draws, the one value p redrawn.
  const size_t num_coeffs = limbs * (threshold - 1);
  base::SecretBytes coeff_bytes(num_coeffs * 8);
  VEIL_RETURN_IF_ERROR(rng.Fill(coeff_bytes.span()));
  std::vector<uint64_t> coeffs(num_coeffs);
  for (size_t i = 0; i < num_coeffs; ++i) {
    uint64_t c = internal::LoadLe64(coeff_bytes.data() + 8 * i) & kShamirPrime;
    while (c == kShamirPrime) {  // probability 2^-61
      uint8_t b[8];
      VEIL_RETURN_IF_ERROR(rng.Fill(b));
      c = internal::LoadLe64(b) & kShamirPrime;
    }
    coeffs[i] = c;
  }
  std::vector<uint64_t> constant(limbs, 0);
  for (size_t k = 0; k < limbs; ++k) {
    uint64_t v = 0;
    const size_t begin = k * kShamirLimbBytes;
    const size_t end = std::min(secret.size(), begin + kShamirLimbBytes);
    for (size_t i = end; i-- > begin;) v = (v << 8) | secret[i];
    constant[k] = v;
  }
  std::vector<ShamirShare> shares;
  shares.reserve(xs.size());
  for (uint32_t x : xs) {
    ShamirShare share{x, base::SecretBytes(limbs * 8)};
    for (size_t k = 0; k < limbs; ++k) {
      // Horner: f(x) = s + x (a_1 + x (a_2 + ...)).
      uint64_t acc = 0;
      for (size_t i = threshold - 1; i-- > 0;)
        acc = FieldMul(FieldAdd(acc, coeffs[k * (threshold - 1) + i]), x);
      internal::StoreLe64(FieldAdd(acc, constant[k]), share.y.data() + 8 * k);
    }
    shares.push_back(std::move(share));
  }
  OPENSSL_cleanse(coeffs.data(), coeffs.size() * sizeof(uint64_t));
  OPENSSL_cleanse(constant.data(), constant.size() * sizeof(uint64_t));
  return shares;
}

absl::StatusOr<base::SecretBytes> ShamirReconstruct(std::span<const ShamirShare> shares, uint32_t threshold,
                                                    size_t secret_bytes) {
  if (secret_bytes == 0 || secret_bytes > kShamirMaxSecretBytes) {
    return absl::InvalidArgumentError(absl::StrCat("Shamir reconstruct: secret length ", secret_bytes,
                                                   " is outside [1, ", kShamirMaxSecretBytes, "]"));
  }
  if (threshold == 0 || threshold > kShamirMaxShares) {
    return absl::InvalidArgumentError(
        absl::StrCat("Shamir reconstruct: threshold ", threshold, " is outside [1, ", kShamirMaxShares, "]"));
  }
  if (shares.size() < threshold) {
    return absl::FailedPreconditionError(absl::StrCat(
        "Shamir reconstruct: ", shares.size(), " shares are fewer than threshold shares (", threshold, ")"));
  }
  const size_t limbs = ShamirLimbs(secret_bytes);
  absl::flat_hash_set<uint32_t> seen;
  for (const ShamirShare& s : shares) {
    if (s.x == 0) return absl::InvalidArgumentError("Shamir reconstruct: share with x-coordinate 0");
    if (!seen.insert(s.x).second) {
      return absl::InvalidArgumentError(absl::StrCat("Shamir reconstruct: duplicate share at x = ", s.x));
    }
    if (s.y.size() != limbs * 8) {
      return absl::InvalidArgumentError(absl::StrCat("Shamir reconstruct: share at x = ", s.x, " has ",
                                                     s.y.size(), " bytes, expected ", limbs * 8));
    }
    for (size_t k = 0; k < limbs; ++k) {
      if (internal::LoadLe64(s.y.data() + 8 * k) >= kShamirPrime) {
        return absl::DataLossError(
            absl::StrCat("Shamir reconstruct: share at x = ", s.x, " holds a non-canonical field element"));
      }
    }
  }
  std::vector<uint64_t> xs(threshold);
  for (uint32_t i = 0; i < threshold; ++i) xs[i] = shares[i].x;
  const std::vector<uint64_t> w = internal::BarycentricWeights(xs);
  auto value_at = [&](const std::vector<uint64_t>& c, size_t k) {
    uint64_t r = 0;
    for (uint32_t i = 0; i < threshold; ++i) {
      r = FieldAdd(r, FieldMul(c[i], internal::LoadLe64(shares[i].y.data() + 8 * k)));
    }
    return r;
  };
  for (size_t j = threshold; j < shares.size(); ++j) {
    const std::vector<uint64_t> c = internal::LagrangeAt(xs, w, shares[j].x);
    for (size_t k = 0; k < limbs; ++k) {
      if (value_at(c, k) != internal::LoadLe64(shares[j].y.data() + 8 * k)) {
        return absl::DataLossError(absl::StrCat("Shamir reconstruct: inconsistent share at x = ", shares[j].x,
                                                " (it does not lie on the polynomial of the other shares)"));
      }
    }
  }
  const std::vector<uint64_t> c0 = internal::LagrangeAt(xs, w, 0);
  base::SecretBytes secret(secret_bytes);
  for (size_t k = 0; k < limbs; ++k) {
    uint64_t v = value_at(c0, k);
    const size_t begin = k * kShamirLimbBytes;
    const size_t len = std::min(secret_bytes - begin, kShamirLimbBytes);
    if ((v >> (8 * len)) != 0) {
      return absl::DataLossError("Shamir reconstruct: the shares are inconsistent (result out of range)");
    }
    for (size_t i = 0; i < len; ++i) {
      secret.data()[begin + i] = static_cast<uint8_t>(v);
      v >>= 8;
    }
  }
  return secret;
}

}  // namespace veil::fl
