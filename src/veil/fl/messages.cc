#include "veil/fl/messages.h"

#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "veil/base/status_macros.h"

namespace veil::fl {
namespace {

constexpr std::string_view kSignContext = "veil fl secagg keys v1";
constexpr size_t kHeaderBytes = 1 + 1 + 8;
constexpr size_t kAdvertiseBody = 4 + 32 + 32 + 64;

// Little-endian fields appended to a message (after its header) or to a byte string to be signed (after its
// label).
class Writer {
 public:
  Writer(MessageType type, uint64_t round_id) {
    out_.push_back(kSecAggWireVersion);
    out_.push_back(static_cast<uint8_t>(type));
    U64(round_id);
  }
  explicit Writer(std::string_view label) : out_(label.begin(), label.end()) {}
  void U8(uint8_t v) { out_.push_back(v); }
  void U32(uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void U64(uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void Bytes(std::span<const uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
  // A list of ids: count, then the ids.
  void Ids(std::span<const uint32_t> ids) {
    U32(static_cast<uint32_t>(ids.size()));
    for (uint32_t id : ids) U32(id);
  }
  void Reserve(size_t n) { out_.reserve(n); }
  std::vector<uint8_t> Take() { return std::move(out_); }

 private:
  std::vector<uint8_t> out_;
};

class Reader {
 public:
  Reader(std::span<const uint8_t> bytes, const char* what) : bytes_(bytes), what_(what) {}

  absl::Status Header(MessageType type, uint64_t* round_id) {
    if (bytes_.size() < kHeaderBytes) return Error("truncated header");
    if (bytes_[0] != kSecAggWireVersion) {
      return Error(
          absl::StrCat("unsupported wire version ", bytes_[0], " (expected ", kSecAggWireVersion, ")"));
    }
    if (bytes_[1] != static_cast<uint8_t>(type)) {
      return Error(absl::StrCat("wrong message type ", bytes_[1]));
    }
    pos_ = 2;
    return U64(round_id, "round_id");
  }
  absl::Status U8(uint8_t* v, const char* field) {
    if (Remaining() < 1) return Error(absl::StrCat("truncated at ", field));
    *v = bytes_[pos_++];
    return absl::OkStatus();
  }
  absl::Status U32(uint32_t* v, const char* field) {
    if (Remaining() < 4) return Error(absl::StrCat("truncated at ", field));
    uint32_t r = 0;
    for (int i = 3; i >= 0; --i) r = (r << 8) | bytes_[pos_ + i];
    pos_ += 4;
    *v = r;
    return absl::OkStatus();
  }
  absl::Status U64(uint64_t* v, const char* field) {
    if (Remaining() < 8) return Error(absl::StrCat("truncated at ", field));
    uint64_t r = 0;
    for (int i = 7; i >= 0; --i) r = (r << 8) | bytes_[pos_ + i];
    pos_ += 8;
    *v = r;
    return absl::OkStatus();
  }
  absl::Status Bytes(std::span<uint8_t> out, const char* field) {
    if (Remaining() < out.size()) return Error(absl::StrCat("truncated at ", field));
    std::memcpy(out.data(), bytes_.data() + pos_, out.size());
    pos_ += out.size();
    return absl::OkStatus();
  }
  // A list count, bounded by `max` and by the remaining bytes at `min_element_bytes` per element.
  absl::Status Count(uint32_t* n, uint32_t max, size_t min_element_bytes, const char* field) {
    VEIL_RETURN_IF_ERROR(U32(n, field));
    if (*n > max) return Error(absl::StrCat(field, " count ", *n, " exceeds the limit ", max));
    if (static_cast<uint64_t>(*n) * min_element_bytes > Remaining()) {
      return Error(absl::StrCat(field, " count ", *n, " exceeds the message size"));
    }
    return absl::OkStatus();
  }
  // A list of ids, strictly increasing.
  absl::Status Ids(std::vector<uint32_t>* ids, const char* field) {
    uint32_t n = 0;
    VEIL_RETURN_IF_ERROR(Count(&n, kSecAggMaxClients, 4, field));
    ids->resize(n);
    for (uint32_t i = 0; i < n; ++i) {
      VEIL_RETURN_IF_ERROR(U32(&(*ids)[i], field));
      if (i > 0 && (*ids)[i] <= (*ids)[i - 1]) return Error(absl::StrCat(field, " not sorted and unique"));
    }
    return absl::OkStatus();
  }
  absl::Status End() {
    if (Remaining() != 0) return Error(absl::StrCat(Remaining(), " trailing bytes"));
    return absl::OkStatus();
  }
  size_t Remaining() const { return bytes_.size() - pos_; }
  absl::Status Error(std::string_view what) const {
    return absl::InvalidArgumentError(std::string("malformed ") + what_ + " message: " + std::string(what));
  }

 private:
  std::span<const uint8_t> bytes_;
  const char* what_;
  size_t pos_ = 0;
};

void WriteAdvertiseBody(Writer& w, const AdvertiseKeys& m) {
  w.U32(m.client_id);
  w.Bytes(m.c_pk);
  w.Bytes(m.s_pk);
  w.Bytes(m.signature);
}

absl::Status ReadAdvertiseBody(Reader& r, AdvertiseKeys* m) {
  VEIL_RETURN_IF_ERROR(r.U32(&m->client_id, "client_id"));
  VEIL_RETURN_IF_ERROR(r.Bytes(m->c_pk, "c_pk"));
  VEIL_RETURN_IF_ERROR(r.Bytes(m->s_pk, "s_pk"));
  return r.Bytes(m->signature, "signature");
}

void WriteShares(Writer& w, const std::vector<EncryptedShare>& shares) {
  w.U32(static_cast<uint32_t>(shares.size()));
  for (const EncryptedShare& s : shares) {
    w.U32(s.sender);
    w.U32(s.recipient);
    w.Bytes(s.ciphertext);  // fixed size: not length-prefixed
  }
}

// Reads encrypted shares; `by_recipient` selects which id must be strictly increasing.
absl::Status ReadShares(Reader& r, std::vector<EncryptedShare>* shares, bool by_recipient) {
  uint32_t n = 0;
  VEIL_RETURN_IF_ERROR(r.Count(&n, kSecAggMaxClients, 8 + kSecAggShareCiphertextBytes, "shares"));
  shares->resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    EncryptedShare& s = (*shares)[i];
    VEIL_RETURN_IF_ERROR(r.U32(&s.sender, "share sender"));
    VEIL_RETURN_IF_ERROR(r.U32(&s.recipient, "share recipient"));
    s.ciphertext.resize(kSecAggShareCiphertextBytes);
    VEIL_RETURN_IF_ERROR(r.Bytes(s.ciphertext, "share ciphertext"));
    if (i > 0) {
      const EncryptedShare& p = (*shares)[i - 1];
      if (by_recipient ? s.recipient <= p.recipient : s.sender <= p.sender) {
        return r.Error("shares not sorted and unique");
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<uint8_t> SignedKeyBytes(uint64_t round_id, uint32_t client_id,
                                    const crypto::X25519PublicKey& c_pk,
                                    const crypto::X25519PublicKey& s_pk) {
  Writer w(kSignContext);
  w.U64(round_id);
  w.U32(client_id);
  w.Bytes(c_pk);
  w.Bytes(s_pk);
  return w.Take();
}

std::vector<uint8_t> Serialize(const AdvertiseKeys& m) {
  Writer w(MessageType::kAdvertiseKeys, m.round_id);
  WriteAdvertiseBody(w, m);
  return w.Take();
}

std::vector<uint8_t> Serialize(const KeyDirectory& m) {
  Writer w(MessageType::kKeyDirectory, m.round_id);
  w.Reserve(kHeaderBytes + 4 + m.clients.size() * kAdvertiseBody);
  w.U32(static_cast<uint32_t>(m.clients.size()));
  for (const AdvertiseKeys& a : m.clients) WriteAdvertiseBody(w, a);
  return w.Take();
}

std::vector<uint8_t> Serialize(const ShareKeys& m) {
  Writer w(MessageType::kShareKeys, m.round_id);
  w.U32(m.client_id);
  WriteShares(w, m.shares);
  return w.Take();
}

std::vector<uint8_t> Serialize(const ShareBundle& m) {
  Writer w(MessageType::kShareBundle, m.round_id);
  w.U32(m.recipient);
  w.Ids(m.u2);
  WriteShares(w, m.shares);
  return w.Take();
}

std::vector<uint8_t> Serialize(const MaskedInput& m) {
  Writer w(MessageType::kMaskedInput, m.round_id);
  const uint32_t bits = m.bits;
  const size_t packed = (static_cast<uint64_t>(m.masked.size()) * bits + 7) / 8;
  w.Reserve(kHeaderBytes + 9 + packed);
  w.U32(m.client_id);
  w.U8(m.bits);
  w.U32(static_cast<uint32_t>(m.masked.size()));
  if (bits == 32) {
    w.Bytes({reinterpret_cast<const uint8_t*>(m.masked.data()), m.masked.size() * 4});  // little-endian host
    return w.Take();
  }
  // Bit packing, least significant bits first. Words are assumed < 2^bits (the client reduces them).
  std::vector<uint8_t> out(packed, 0);
  uint64_t acc = 0;
  int have = 0;
  size_t pos = 0;
  const uint64_t mask = (uint64_t{1} << bits) - 1;
  for (uint32_t word : m.masked) {
    acc |= (word & mask) << have;
    have += static_cast<int>(bits);
    while (have >= 8) {
      out[pos++] = static_cast<uint8_t>(acc);
      acc >>= 8;
      have -= 8;
    }
  }
  if (have > 0) out[pos++] = static_cast<uint8_t>(acc);
  w.Bytes(out);
  return w.Take();
}

std::vector<uint8_t> Serialize(const UnmaskRequest& m) {
  Writer w(MessageType::kUnmaskRequest, m.round_id);
  w.Ids(m.survivors);
  w.Ids(m.dropped);
  return w.Take();
}

std::vector<uint8_t> SignedSurvivorBytes(uint64_t round_id, std::span<const uint32_t> survivors,
                                         std::span<const uint32_t> dropped) {
  constexpr std::string_view kLabel = "veil fl secagg survivors v1";
  Writer w(kLabel);
  w.U8(kSecAggWireVersion);
  w.U64(round_id);
  w.Ids(survivors);
  w.Ids(dropped);
  return w.Take();
}

std::vector<uint8_t> Serialize(const SurvivorSignature& m) {
  Writer w(MessageType::kSurvivorSignature, m.round_id);
  w.U32(m.client_id);
  w.Bytes(m.signature);
  return w.Take();
}

std::vector<uint8_t> Serialize(const ConsistencyProof& m) {
  Writer w(MessageType::kConsistencyProof, m.round_id);
  w.Ids(m.survivors);
  w.Ids(m.dropped);
  w.U32(static_cast<uint32_t>(m.signatures.size()));
  for (const SignerSignature& s : m.signatures) {
    w.U32(s.client_id);
    w.Bytes(s.signature);
  }
  return w.Take();
}

std::vector<uint8_t> Serialize(const UnmaskResponse& m) {
  Writer w(MessageType::kUnmaskResponse, m.round_id);
  w.U32(m.client_id);
  w.U32(static_cast<uint32_t>(m.shares.size()));
  for (const RevealedShare& s : m.shares) {
    w.U32(s.owner);
    w.U8(static_cast<uint8_t>(s.kind));
    w.Bytes(s.value.span());
  }
  return w.Take();
}

absl::StatusOr<AdvertiseKeys> ParseAdvertiseKeys(std::span<const uint8_t> bytes) {
  Reader r(bytes, "AdvertiseKeys");
  AdvertiseKeys m;
  VEIL_RETURN_IF_ERROR(r.Header(MessageType::kAdvertiseKeys, &m.round_id));
  VEIL_RETURN_IF_ERROR(ReadAdvertiseBody(r, &m));
  VEIL_RETURN_IF_ERROR(r.End());
  return m;
}

absl::StatusOr<KeyDirectory> ParseKeyDirectory(std::span<const uint8_t> bytes) {
  Reader r(bytes, "KeyDirectory");
  KeyDirectory m;
  VEIL_RETURN_IF_ERROR(r.Header(MessageType::kKeyDirectory, &m.round_id));
  uint32_t n = 0;
  VEIL_RETURN_IF_ERROR(r.Count(&n, kSecAggMaxClients, kAdvertiseBody, "clients"));
  m.clients.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    m.clients[i].round_id = m.round_id;
    VEIL_RETURN_IF_ERROR(ReadAdvertiseBody(r, &m.clients[i]));
    if (i > 0 && m.clients[i].client_id <= m.clients[i - 1].client_id) {
      return r.Error("clients not sorted and unique");
    }
  }
  VEIL_RETURN_IF_ERROR(r.End());
  return m;
}

absl::StatusOr<ShareKeys> ParseShareKeys(std::span<const uint8_t> bytes) {
  Reader r(bytes, "ShareKeys");
  ShareKeys m;
  VEIL_RETURN_IF_ERROR(r.Header(MessageType::kShareKeys, &m.round_id));
  VEIL_RETURN_IF_ERROR(r.U32(&m.client_id, "client_id"));
  VEIL_RETURN_IF_ERROR(ReadShares(r, &m.shares, /*by_recipient=*/true));
  VEIL_RETURN_IF_ERROR(r.End());
  return m;
}

absl::StatusOr<ShareBundle> ParseShareBundle(std::span<const uint8_t> bytes) {
  Reader r(bytes, "ShareBundle");
  ShareBundle m;
  VEIL_RETURN_IF_ERROR(r.Header(MessageType::kShareBundle, &m.round_id));
  VEIL_RETURN_IF_ERROR(r.U32(&m.recipient, "recipient"));
  VEIL_RETURN_IF_ERROR(r.Ids(&m.u2, "u2"));
  VEIL_RETURN_IF_ERROR(ReadShares(r, &m.shares, /*by_recipient=*/false));
  VEIL_RETURN_IF_ERROR(r.End());
  return m;
}

absl::StatusOr<MaskedInput> ParseMaskedInput(std::span<const uint8_t> bytes) {
  Reader r(bytes, "MaskedInput");
  MaskedInput m;
  VEIL_RETURN_IF_ERROR(r.Header(MessageType::kMaskedInput, &m.round_id));
  VEIL_RETURN_IF_ERROR(r.U32(&m.client_id, "client_id"));
  VEIL_RETURN_IF_ERROR(r.U8(&m.bits, "bits"));
  if (m.bits < kSecAggMinRingBits || m.bits > 32) {
    return r.Error(absl::StrCat("bits ", m.bits, " outside [", kSecAggMinRingBits, ", 32]"));
  }
  const uint32_t bits = m.bits;
  uint32_t n = 0;
  VEIL_RETURN_IF_ERROR(r.U32(&n, "masked"));
  const uint64_t packed = (static_cast<uint64_t>(n) * bits + 7) / 8;
  if (n > kSecAggMaxVectorLength || packed != r.Remaining()) {
    return r.Error(absl::StrCat("masked count ", n, " does not match the message size"));
  }
  std::vector<uint8_t> raw(packed);
  VEIL_RETURN_IF_ERROR(r.Bytes(raw, "masked"));
  m.masked.resize(n);
  if (bits == 32) {
    std::memcpy(m.masked.data(), raw.data(), raw.size());
  } else {
    uint64_t acc = 0;
    int have = 0;
    size_t pos = 0;
    const uint64_t mask = (uint64_t{1} << bits) - 1;
    for (uint32_t i = 0; i < n; ++i) {
      while (have < static_cast<int>(bits)) {
        acc |= uint64_t{raw[pos++]} << have;
        have += 8;
      }
      m.masked[i] = static_cast<uint32_t>(acc & mask);
      acc >>= bits;
      have -= static_cast<int>(bits);
    }
    if (acc != 0) {
      return r.Error("nonzero padding bits");
    }
  }
  VEIL_RETURN_IF_ERROR(r.End());
  return m;
}

absl::StatusOr<UnmaskRequest> ParseUnmaskRequest(std::span<const uint8_t> bytes) {
  Reader r(bytes, "UnmaskRequest");
  UnmaskRequest m;
  VEIL_RETURN_IF_ERROR(r.Header(MessageType::kUnmaskRequest, &m.round_id));
  VEIL_RETURN_IF_ERROR(r.Ids(&m.survivors, "survivors"));
  VEIL_RETURN_IF_ERROR(r.Ids(&m.dropped, "dropped"));
  VEIL_RETURN_IF_ERROR(r.End());
  return m;
}

absl::StatusOr<SurvivorSignature> ParseSurvivorSignature(std::span<const uint8_t> bytes) {
  Reader r(bytes, "SurvivorSignature");
  SurvivorSignature m;
  VEIL_RETURN_IF_ERROR(r.Header(MessageType::kSurvivorSignature, &m.round_id));
  VEIL_RETURN_IF_ERROR(r.U32(&m.client_id, "client_id"));
  VEIL_RETURN_IF_ERROR(r.Bytes(m.signature, "signature"));
  VEIL_RETURN_IF_ERROR(r.End());
  return m;
}

absl::StatusOr<ConsistencyProof> ParseConsistencyProof(std::span<const uint8_t> bytes) {
  Reader r(bytes, "ConsistencyProof");
  ConsistencyProof m;
  VEIL_RETURN_IF_ERROR(r.Header(MessageType::kConsistencyProof, &m.round_id));
  VEIL_RETURN_IF_ERROR(r.Ids(&m.survivors, "survivors"));
  VEIL_RETURN_IF_ERROR(r.Ids(&m.dropped, "dropped"));
  uint32_t n = 0;
  VEIL_RETURN_IF_ERROR(r.Count(&n, kSecAggMaxClients, 4 + crypto::kEd25519SignatureSize, "signatures"));
  m.signatures.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    VEIL_RETURN_IF_ERROR(r.U32(&m.signatures[i].client_id, "signer"));
    if (i > 0 && m.signatures[i].client_id <= m.signatures[i - 1].client_id)
      return r.Error("signers not sorted and unique");
    VEIL_RETURN_IF_ERROR(r.Bytes(m.signatures[i].signature, "signature"));
  }
  VEIL_RETURN_IF_ERROR(r.End());
  return m;
}

absl::StatusOr<UnmaskResponse> ParseUnmaskResponse(std::span<const uint8_t> bytes) {
  Reader r(bytes, "UnmaskResponse");
  UnmaskResponse m;
  VEIL_RETURN_IF_ERROR(r.Header(MessageType::kUnmaskResponse, &m.round_id));
  VEIL_RETURN_IF_ERROR(r.U32(&m.client_id, "client_id"));
  uint32_t n = 0;
  VEIL_RETURN_IF_ERROR(r.Count(&n, kSecAggMaxClients, 5 + kSecAggShareBytes, "shares"));
  m.shares.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    RevealedShare& s = m.shares[i];
    VEIL_RETURN_IF_ERROR(r.U32(&s.owner, "share owner"));
    uint8_t kind = 0;
    VEIL_RETURN_IF_ERROR(r.U8(&kind, "share kind"));
    if (kind != static_cast<uint8_t>(ShareKind::kSelfMaskSeed) &&
        kind != static_cast<uint8_t>(ShareKind::kMaskingKey)) {
      return r.Error(absl::StrCat("unknown share kind ", kind));
    }
    s.kind = static_cast<ShareKind>(kind);
    s.value = base::SecretBytes(kSecAggShareBytes);
    VEIL_RETURN_IF_ERROR(r.Bytes(s.value.span(), "share value"));
    if (i > 0 && s.owner <= m.shares[i - 1].owner) return r.Error("shares not sorted and unique");
  }
  VEIL_RETURN_IF_ERROR(r.End());
  return m;
}

absl::StatusOr<MessageType> PeekMessageType(std::span<const uint8_t> bytes) {
  if (bytes.size() < kHeaderBytes) return absl::InvalidArgumentError("malformed message: truncated header");
  if (bytes[0] != kSecAggWireVersion) {
    return absl::InvalidArgumentError(absl::StrCat("malformed message: unsupported wire version ", bytes[0]));
  }
  if (bytes[1] < 1 || bytes[1] > static_cast<uint8_t>(MessageType::kConsistencyProof)) {
    return absl::InvalidArgumentError(absl::StrCat("malformed message: unknown type ", bytes[1]));
  }
  return static_cast<MessageType>(bytes[1]);
}

}  // namespace veil::fl
