#include "veil/he/serialize.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <optional>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "veil/base/status_macros.h"
#include "veil/crypto/sha256.h"

namespace veil::he {

namespace {

constexpr std::string_view kMagic = "VEILHE";
constexpr size_t kHeaderSize = 6 + 2 + 1 + 1 + 32 + 8;
constexpr size_t kChecksumSize = 32;
constexpr std::string_view kIdLabel = "veil-he-params-v1";

void PutU8(std::vector<uint8_t>& out, uint8_t v) { out.push_back(v); }
void PutLe(std::vector<uint8_t>& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void PutBytes(std::vector<uint8_t>& out, std::span<const uint8_t> b) {
  if (b.empty()) return;
  const size_t at = out.size();
  out.resize(at + b.size());
  std::memcpy(out.data() + at, b.data(), b.size());
}

std::vector<uint8_t> ParamsBody(const CkksParameters& params) {
  std::vector<uint8_t> body;
  PutLe(body, params.poly_degree(), 4);
  PutU8(body, static_cast<uint8_t>(params.ciphertext_primes().size()));
  for (uint64_t q : params.ciphertext_primes()) PutLe(body, q, 8);
  PutU8(body, static_cast<uint8_t>(params.special_primes().size()));
  for (uint64_t p : params.special_primes()) PutLe(body, p, 8);
  return body;
}

ParameterId IdOfBody(std::span<const uint8_t> body) {
  crypto::Sha256Hasher h;
  h.Update(kIdLabel);
  h.Update(body);
  return h.Final();
}

// Header + body + checksum.
std::vector<uint8_t> Frame(ObjectKind kind, const ParameterId& id, std::span<const uint8_t> body) {
  std::vector<uint8_t> out;
  out.reserve(kHeaderSize + body.size() + kChecksumSize);
  PutBytes(out, {reinterpret_cast<const uint8_t*>(kMagic.data()), kMagic.size()});
  PutLe(out, kSerializationVersion, 2);
  PutU8(out, static_cast<uint8_t>(kind));
  PutU8(out, 0);
  PutBytes(out, id);
  PutLe(out, body.size(), 8);
  PutBytes(out, body);
  const crypto::Sha256Digest digest = crypto::Sha256(std::span<const uint8_t>(out));
  PutBytes(out, digest);
  return out;
}

const char* KindName(ObjectKind kind) {
  switch (kind) {
    case ObjectKind::kParameters:
      return "parameters";
    case ObjectKind::kPublicKey:
      return "public key";
    case ObjectKind::kRelinKeys:
      return "relinearization keys";
    case ObjectKind::kGaloisKeys:
      return "Galois keys";
    case ObjectKind::kSecretKey:
      return "secret key";
    case ObjectKind::kPlaintext:
      return "plaintext";
    case ObjectKind::kCiphertext:
      return "ciphertext";
    case ObjectKind::kSeededCiphertext:
      return "seeded ciphertext";
  }
  return "object";
}

uint64_t GetLe(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

struct Header {
  ObjectKind kind;
  ParameterId id;
  std::span<const uint8_t> body;
};

// Checks magic, version, length and checksum; the kind must be one of `kinds`.
absl::StatusOr<Header> ParseFrame(std::span<const uint8_t> bytes, std::initializer_list<ObjectKind> kinds) {
  const char* want = KindName(*kinds.begin());
  if (bytes.size() < kHeaderSize + kChecksumSize) {
    return absl::DataLossError(absl::StrCat("serialized ", want, ": ", bytes.size(),
                                            " bytes is shorter than the header and checksum (truncated)"));
  }
  if (std::memcmp(bytes.data(), kMagic.data(), kMagic.size()) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("serialized ", want, ": bad magic (not a Veil HE object)"));
  }
  const uint64_t version = GetLe(bytes.data() + 6, 2);
  if (version != kSerializationVersion) {
    return absl::InvalidArgumentError(absl::StrCat("serialized ", want, ": format version ", version,
                                                   " (this library reads version ", kSerializationVersion,
                                                   ")"));
  }
  const uint8_t kind = bytes[8];
  if (std::find(kinds.begin(), kinds.end(), static_cast<ObjectKind>(kind)) == kinds.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("serialized object is of kind ", static_cast<int>(kind), ", expected a ", want));
  }
  if (bytes[9] != 0)
    return absl::InvalidArgumentError(absl::StrCat("serialized ", want, ": reserved byte set"));
  const uint64_t length = GetLe(bytes.data() + 42, 8);
  if (length != bytes.size() - kHeaderSize - kChecksumSize) {
    return absl::DataLossError(absl::StrCat("serialized ", want, ": body length ", length, " but ",
                                            bytes.size() - kHeaderSize - kChecksumSize,
                                            " bytes present (truncated or trailing data)"));
  }
  const crypto::Sha256Digest digest = crypto::Sha256(bytes.first(kHeaderSize + length));
  if (CRYPTO_memcmp(digest.data(), bytes.data() + kHeaderSize + length, kChecksumSize) != 0) {
    return absl::DataLossError(
        absl::StrCat("serialized ", want, ": checksum mismatch (the data was altered or corrupted)"));
  }
  Header h;
  h.kind = static_cast<ObjectKind>(kind);
  std::memcpy(h.id.data(), bytes.data() + 10, 32);
  h.body = bytes.subspan(kHeaderSize, length);
  return h;
}

absl::StatusOr<Header> ParseFrameFor(const CkksContext& ctx, std::span<const uint8_t> bytes,
                                     std::initializer_list<ObjectKind> kinds) {
  VEIL_ASSIGN_OR_RETURN(Header h, ParseFrame(bytes, kinds));
  if (h.id != ParametersId(ctx.params())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "serialized ", KindName(h.kind), " was made for other parameters (parameter ID differs)"));
  }
  return h;
}

class Reader {
 public:
  Reader(std::span<const uint8_t> data, const char* what) : data_(data), what_(what) {}
  absl::StatusOr<uint64_t> Le(int bytes, const char* field) {
    if (data_.size() - pos_ < static_cast<size_t>(bytes)) return Short(field);
    const uint64_t v = GetLe(data_.data() + pos_, bytes);
    pos_ += static_cast<size_t>(bytes);
    return v;
  }
  absl::StatusOr<std::span<const uint8_t>> Bytes(size_t n, const char* field) {
    if (data_.size() - pos_ < n) return Short(field);
    std::span<const uint8_t> s = data_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  absl::Status Done() const {
    if (pos_ != data_.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what_, ": ", data_.size() - pos_, " unexpected bytes after the body's last field"));
    }
    return absl::OkStatus();
  }
  absl::Status Error(const std::string& msg) const {
    return absl::InvalidArgumentError(absl::StrCat(what_, ": ", msg, " (body offset ", pos_, ")"));
  }

 private:
  absl::Status Short(const char* field) const {
    return absl::InvalidArgumentError(
        absl::StrCat(what_, ": body ends inside ", field, " (offset ", pos_, ")"));
  }
  std::span<const uint8_t> data_;
  const char* what_;
  size_t pos_ = 0;
};

size_t PackedLimbBytes(size_t n, int bits) { return (n * static_cast<size_t>(bits) + 7) / 8; }

// Limbs [0, limbs) of p (prime index = limb index, except keys: `prime_of` maps).
void PackPoly(const CkksContext& ctx, const RnsPoly& p, size_t limbs, std::vector<uint8_t>& out) {
  const size_t n = ctx.n();
  for (size_t i = 0; i < limbs; ++i) {
    const int bits = ctx.modulus(i).bits();
    uint128_t acc = 0;
    int count = 0;
    const uint64_t* v = p.data.data() + i * n;
    for (size_t c = 0; c < n; ++c) {
      acc |= static_cast<uint128_t>(v[c]) << count;
      count += bits;
      while (count >= 8) {
        out.push_back(static_cast<uint8_t>(acc));
        acc >>= 8;
        count -= 8;
      }
    }
    if (count > 0) out.push_back(static_cast<uint8_t>(acc));
  }
}

absl::StatusOr<RnsPoly> UnpackPoly(const CkksContext& ctx, size_t limbs, Reader& r, const char* field) {
  const size_t n = ctx.n();
  RnsPoly p(n, limbs, /*ntt=*/true);
  for (size_t i = 0; i < limbs; ++i) {
    const Modulus& q = ctx.modulus(i);
    const int bits = q.bits();
    VEIL_ASSIGN_OR_RETURN(std::span<const uint8_t> bytes, r.Bytes(PackedLimbBytes(n, bits), field));
    const uint64_t mask = (uint64_t{1} << bits) - 1;
    uint128_t acc = 0;
    int count = 0;
    size_t pos = 0;
    uint64_t* v = p.data.data() + i * n;
    for (size_t c = 0; c < n; ++c) {
      while (count < bits) {
        acc |= static_cast<uint128_t>(bytes[pos++]) << count;
        count += 8;
      }
      v[c] = static_cast<uint64_t>(acc) & mask;
      acc >>= bits;
      count -= bits;
      if (v[c] >= q.value()) {
        return r.Error(absl::StrCat(field, ": value ", c, " of limb ", i, " is not below its prime"));
      }
    }
    if (acc != 0) return r.Error(absl::StrCat(field, ": nonzero padding bits in limb ", i));
  }
  return p;
}

// Key polys live modulo all primes: pack them with a context view where limb i is prime i (true already:
// limb i of a key poly is prime i, ciphertext primes then special primes).
void PackKey(const CkksContext& ctx, const KeySwitchKey& key, std::vector<uint8_t>& out) {
  PutU8(out, static_cast<uint8_t>(key.b.size()));
  PutBytes(out, key.a_seed);
  for (const RnsPoly& b : key.b) PackPoly(ctx, b, ctx.prime_count(), out);
}

absl::StatusOr<KeySwitchKey> UnpackKey(const CkksContext& ctx, Reader& r) {
  VEIL_ASSIGN_OR_RETURN(uint64_t digits, r.Le(1, "the digit count"));
  if (digits != KeySwitchDigits(ctx)) {
    return r.Error(absl::StrCat("key with ", digits, " digits, the parameters need ", KeySwitchDigits(ctx)));
  }
  KeySwitchKey key;
  VEIL_ASSIGN_OR_RETURN(std::span<const uint8_t> seed, r.Bytes(kSeedBytes, "the key seed"));
  std::copy(seed.begin(), seed.end(), key.a_seed.begin());
  for (size_t j = 0; j < digits; ++j) {
    VEIL_ASSIGN_OR_RETURN(RnsPoly b, UnpackPoly(ctx, ctx.prime_count(), r, "a key digit"));
    RnsPoly a(ctx.n(), ctx.prime_count(), true);
    VEIL_RETURN_IF_ERROR(ExpandUniform(key.a_seed, kKeySwitchDomain + j, ctx, 0, &a));
    key.b.push_back(std::move(b));
    key.a.push_back(std::move(a));
  }
  return key;
}

void PutLevelScale(std::vector<uint8_t>& body, int level, double scale) {
  PutU8(body, static_cast<uint8_t>(level));
  PutLe(body, std::bit_cast<uint64_t>(scale), 8);
}

absl::Status GetLevelScale(const CkksContext& ctx, Reader& r, int* level, double* scale) {
  VEIL_ASSIGN_OR_RETURN(uint64_t l, r.Le(1, "the level"));
  if (l > static_cast<uint64_t>(ctx.max_level())) {
    return r.Error(absl::StrCat("level ", l, " above the parameters' maximum ", ctx.max_level()));
  }
  VEIL_ASSIGN_OR_RETURN(uint64_t s, r.Le(8, "the scale"));
  const double d = std::bit_cast<double>(s);
  if (!std::isfinite(d) || d <= 0) return r.Error("scale is not finite and > 0");
  *level = static_cast<int>(l);
  *scale = d;
  return absl::OkStatus();
}

absl::Status CheckShape(const CkksContext& ctx, const Ciphertext& ct, size_t min_parts, size_t max_parts) {
  if (ct.level < 0 || ct.level > ctx.max_level() || ct.parts.size() < min_parts ||
      ct.parts.size() > max_parts) {
    return absl::InvalidArgumentError(absl::StrCat("cannot serialize a ciphertext at level ", ct.level,
                                                   " with ", ct.parts.size(), " parts"));
  }
  for (const RnsPoly& p : ct.parts) {
    if (p.n != ctx.n() || p.limbs != static_cast<size_t>(ct.level) + 1 || p.data.size() != p.n * p.limbs ||
        !p.ntt_form) {
      return absl::InvalidArgumentError("cannot serialize a ciphertext whose parts do not match its level");
    }
  }
  return absl::OkStatus();
}

}  // namespace

ParameterId ParametersId(const CkksParameters& params) { return IdOfBody(ParamsBody(params)); }

std::vector<uint8_t> SerializeParameters(const CkksParameters& params) {
  const std::vector<uint8_t> body = ParamsBody(params);
  return Frame(ObjectKind::kParameters, IdOfBody(body), body);
}

absl::StatusOr<CkksParameters> ParseParameters(std::span<const uint8_t> bytes) {
  VEIL_ASSIGN_OR_RETURN(Header h, ParseFrame(bytes, {ObjectKind::kParameters}));
  if (h.id != IdOfBody(h.body)) {
    return absl::InvalidArgumentError("serialized parameters: the parameter ID does not match the body");
  }
  Reader r(h.body, "serialized parameters");
  VEIL_ASSIGN_OR_RETURN(uint64_t n, r.Le(4, "N"));
  std::vector<uint64_t> lists[2];
  for (auto& list : lists) {
    VEIL_ASSIGN_OR_RETURN(uint64_t count, r.Le(1, "a prime count"));
    for (uint64_t i = 0; i < count; ++i) {
      VEIL_ASSIGN_OR_RETURN(uint64_t p, r.Le(8, "a prime"));
      list.push_back(p);
    }
  }
  VEIL_RETURN_IF_ERROR(r.Done());
  // The builder validates N, every prime and the security bound.
  return CkksParametersBuilder()
      .SetPolyDegree(static_cast<size_t>(n))
      .SetCiphertextPrimes(lists[0])
      .SetSpecialPrimes(lists[1])
      .Build();
}

std::vector<uint8_t> SerializePlaintext(const CkksContext& ctx, const Plaintext& pt) {
  std::vector<uint8_t> body;
  PutLevelScale(body, pt.level, pt.scale);
  PackPoly(ctx, pt.poly, static_cast<size_t>(pt.level) + 1, body);
  return Frame(ObjectKind::kPlaintext, ParametersId(ctx.params()), body);
}

absl::StatusOr<Plaintext> ParsePlaintext(const CkksContext& ctx, std::span<const uint8_t> bytes) {
  VEIL_ASSIGN_OR_RETURN(Header h, ParseFrameFor(ctx, bytes, {ObjectKind::kPlaintext}));
  Reader r(h.body, "serialized plaintext");
  Plaintext pt;
  VEIL_RETURN_IF_ERROR(GetLevelScale(ctx, r, &pt.level, &pt.scale));
  VEIL_ASSIGN_OR_RETURN(pt.poly, UnpackPoly(ctx, static_cast<size_t>(pt.level) + 1, r, "the polynomial"));
  VEIL_RETURN_IF_ERROR(r.Done());
  return pt;
}

absl::StatusOr<std::vector<uint8_t>> SerializeCiphertext(const CkksContext& ctx, const Ciphertext& ct) {
  VEIL_RETURN_IF_ERROR(CheckShape(ctx, ct, 2, 3));
  std::vector<uint8_t> body;
  PutLevelScale(body, ct.level, ct.scale);
  PutU8(body, static_cast<uint8_t>(ct.parts.size()));
  for (const RnsPoly& p : ct.parts) PackPoly(ctx, p, static_cast<size_t>(ct.level) + 1, body);
  return Frame(ObjectKind::kCiphertext, ParametersId(ctx.params()), body);
}

absl::StatusOr<std::vector<uint8_t>> SerializeSeededCiphertext(const CkksContext& ctx,
                                                               const SeededCiphertext& ct) {
  VEIL_RETURN_IF_ERROR(CheckShape(ctx, ct.ciphertext, 2, 2));
  std::vector<uint8_t> body;
  PutLevelScale(body, ct.ciphertext.level, ct.ciphertext.scale);
  PackPoly(ctx, ct.ciphertext.parts[0], static_cast<size_t>(ct.ciphertext.level) + 1, body);
  PutBytes(body, ct.c1_seed);
  return Frame(ObjectKind::kSeededCiphertext, ParametersId(ctx.params()), body);
}

absl::StatusOr<Ciphertext> ParseCiphertext(const CkksContext& ctx, std::span<const uint8_t> bytes) {
  VEIL_ASSIGN_OR_RETURN(Header h,
                        ParseFrameFor(ctx, bytes, {ObjectKind::kCiphertext, ObjectKind::kSeededCiphertext}));
  Reader r(h.body, "serialized ciphertext");
  Ciphertext ct;
  VEIL_RETURN_IF_ERROR(GetLevelScale(ctx, r, &ct.level, &ct.scale));
  const size_t limbs = static_cast<size_t>(ct.level) + 1;
  if (h.kind == ObjectKind::kCiphertext) {
    VEIL_ASSIGN_OR_RETURN(uint64_t parts, r.Le(1, "the part count"));
    if (parts < 2 || parts > 3) return r.Error(absl::StrCat(parts, " parts (expected 2 or 3)"));
    for (uint64_t p = 0; p < parts; ++p) {
      VEIL_ASSIGN_OR_RETURN(RnsPoly poly, UnpackPoly(ctx, limbs, r, "a ciphertext part"));
      ct.parts.push_back(std::move(poly));
    }
  } else {
    VEIL_ASSIGN_OR_RETURN(RnsPoly c0, UnpackPoly(ctx, limbs, r, "c0"));
    VEIL_ASSIGN_OR_RETURN(std::span<const uint8_t> seed_bytes, r.Bytes(kSeedBytes, "the seed"));
    Seed seed;
    std::copy(seed_bytes.begin(), seed_bytes.end(), seed.begin());
    RnsPoly c1(ctx.n(), limbs, true);
    VEIL_RETURN_IF_ERROR(ExpandUniform(seed, kSymmetricDomain, ctx, 0, &c1));
    ct.parts.push_back(std::move(c0));
    ct.parts.push_back(std::move(c1));
  }
  VEIL_RETURN_IF_ERROR(r.Done());
  return ct;
}

std::vector<uint8_t> SerializePublicKey(const CkksContext& ctx, const PublicKey& pk) {
  std::vector<uint8_t> body;
  PackPoly(ctx, pk.b, static_cast<size_t>(ctx.max_level()) + 1, body);
  PutBytes(body, pk.a_seed);
  return Frame(ObjectKind::kPublicKey, ParametersId(ctx.params()), body);
}

absl::StatusOr<PublicKey> ParsePublicKey(const CkksContext& ctx, std::span<const uint8_t> bytes) {
  VEIL_ASSIGN_OR_RETURN(Header h, ParseFrameFor(ctx, bytes, {ObjectKind::kPublicKey}));
  Reader r(h.body, "serialized public key");
  const size_t limbs = static_cast<size_t>(ctx.max_level()) + 1;
  PublicKey pk;
  VEIL_ASSIGN_OR_RETURN(pk.b, UnpackPoly(ctx, limbs, r, "b"));
  VEIL_ASSIGN_OR_RETURN(std::span<const uint8_t> seed, r.Bytes(kSeedBytes, "the seed"));
  std::copy(seed.begin(), seed.end(), pk.a_seed.begin());
  VEIL_RETURN_IF_ERROR(r.Done());
  pk.a = RnsPoly(ctx.n(), limbs, true);
  VEIL_RETURN_IF_ERROR(ExpandUniform(pk.a_seed, kPublicKeyDomain, ctx, 0, &pk.a));
  return pk;
}

std::vector<uint8_t> SerializeRelinKeys(const CkksContext& ctx, const RelinKeys& rk) {
  std::vector<uint8_t> body;
  PackKey(ctx, rk.key, body);
  return Frame(ObjectKind::kRelinKeys, ParametersId(ctx.params()), body);
}

absl::StatusOr<RelinKeys> ParseRelinKeys(const CkksContext& ctx, std::span<const uint8_t> bytes) {
  VEIL_ASSIGN_OR_RETURN(Header h, ParseFrameFor(ctx, bytes, {ObjectKind::kRelinKeys}));
  Reader r(h.body, "serialized relinearization keys");
  RelinKeys rk;
  VEIL_ASSIGN_OR_RETURN(rk.key, UnpackKey(ctx, r));
  VEIL_RETURN_IF_ERROR(r.Done());
  return rk;
}

std::vector<uint8_t> SerializeGaloisKeys(const CkksContext& ctx, const GaloisKeys& gk) {
  std::vector<uint8_t> body;
  PutLe(body, gk.keys.size(), 2);
  for (const auto& [g, key] : gk.keys) {  // std::map: increasing elements
    PutLe(body, g, 8);
    PackKey(ctx, key, body);
  }
  return Frame(ObjectKind::kGaloisKeys, ParametersId(ctx.params()), body);
}

absl::StatusOr<GaloisKeys> ParseGaloisKeys(const CkksContext& ctx, std::span<const uint8_t> bytes) {
  VEIL_ASSIGN_OR_RETURN(Header h, ParseFrameFor(ctx, bytes, {ObjectKind::kGaloisKeys}));
  Reader r(h.body, "serialized Galois keys");
  VEIL_ASSIGN_OR_RETURN(uint64_t count, r.Le(2, "the key count"));
  GaloisKeys gk;
  uint64_t previous = 0;
  for (uint64_t i = 0; i < count; ++i) {
    VEIL_ASSIGN_OR_RETURN(uint64_t g, r.Le(8, "a Galois element"));
    if (g % 2 == 0 || g >= 2 * ctx.n() || g <= previous) {
      return r.Error(absl::StrCat("Galois element ", g, " is not odd, below 2N and above the previous one"));
    }
    previous = g;
    VEIL_ASSIGN_OR_RETURN(KeySwitchKey key, UnpackKey(ctx, r));
    gk.keys.emplace(g, std::move(key));
  }
  VEIL_RETURN_IF_ERROR(r.Done());
  return gk;
}

absl::StatusOr<base::SecretBytes> SerializeSecretKey(const CkksContext& ctx, const SecretKey& sk) {
  VEIL_ASSIGN_OR_RETURN(base::SecretBytes ternary, SecretKeyToTernary(ctx, sk));
  std::vector<uint8_t> framed =
      Frame(ObjectKind::kSecretKey, ParametersId(ctx.params()), {ternary.data(), ternary.size()});
  base::SecretBytes out(std::span<const uint8_t>(framed.data(), framed.size()));
  OPENSSL_cleanse(framed.data(), framed.size());
  return out;
}

absl::StatusOr<SecretKey> ParseSecretKey(const CkksContext& ctx, std::span<const uint8_t> bytes) {
  VEIL_ASSIGN_OR_RETURN(Header h, ParseFrameFor(ctx, bytes, {ObjectKind::kSecretKey}));
  if (h.body.size() != ctx.n()) {
    return absl::InvalidArgumentError(
        absl::StrCat("serialized secret key: body of ", h.body.size(), " bytes, expected N = ", ctx.n()));
  }
  return SecretKeyFromTernary(ctx, h.body);
}

}  // namespace veil::he
