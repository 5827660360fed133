#include "veil/anon/pseudonymizer.h"

#include <cstring>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "veil/base/bytes.h"
#include "veil/base/status_macros.h"
#include "veil/base/utf8.h"
#include "veil/crypto/aead.h"

namespace veil::anon {
namespace {

constexpr size_t kMagicSize = sizeof(kPseudonymMapMagic) - 1;  // 8
constexpr size_t kHeaderSize = kMagicSize + 1;
// A placeholder's type name and number: "STREET_ADDRESS" is the longest name; numbers have at most 10 digits.
constexpr size_t kMaxPlaceholder = 48;

std::string ValueKey(pii::EntityType type, std::string_view value) {
  std::string key(1, static_cast<char>(type));
  key += CanonicalValue(type, value);
  return key;
}

std::vector<uint8_t> Aad(std::string_view context) {
  std::vector<uint8_t> aad(kPseudonymMapMagic, kPseudonymMapMagic + kMagicSize);
  aad.push_back(kPseudonymMapVersion);
  aad.insert(aad.end(), context.begin(), context.end());
  return aad;
}

void PutU32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> in) : in_(in) {}
  size_t offset() const { return pos_; }
  size_t remaining() const { return in_.size() - pos_; }
  bool U8(uint8_t& v) {
    if (remaining() < 1) return false;
    v = in_[pos_++];
    return true;
  }
  bool U32(uint32_t& v) {
    if (remaining() < 4) return false;
    v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(in_[pos_ + i]) << (8 * i);
    pos_ += 4;
    return true;
  }
  bool Bytes(size_t n, std::string& out) {
    if (remaining() < n) return false;
    out.assign(reinterpret_cast<const char*>(in_.data() + pos_), n);
    pos_ += n;
    return true;
  }

 private:
  std::span<const uint8_t> in_;
  size_t pos_ = 0;
};

// "<NAME_n>" -> (type, n), if NAME is an entity name and n a positive decimal without leading zeros that fits
// in 32 bits.
std::optional<std::pair<pii::EntityType, uint32_t>> ParsePlaceholder(std::string_view p) {
  if (p.size() < 4 || p.front() != '<' || p.back() != '>') return std::nullopt;
  const std::string_view inner = p.substr(1, p.size() - 2);
  const size_t us = inner.rfind('_');
  if (us == std::string_view::npos || us + 1 >= inner.size()) return std::nullopt;
  const std::string_view digits = inner.substr(us + 1);
  if (digits.size() > 10 || digits[0] == '0') return std::nullopt;
  uint64_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (n > 0xffffffffu) return std::nullopt;
  std::optional<pii::EntityType> type = pii::EntityFromName(inner.substr(0, us));
  if (!type.has_value()) return std::nullopt;
  return std::make_pair(*type, static_cast<uint32_t>(n));
}

}  // namespace

std::string PseudonymMap::Placeholder(pii::EntityType type, uint32_t number) {
  return absl::StrCat("<", std::string(pii::EntityName(type)), "_", number, ">");
}

std::string PseudonymMap::Pseudonymize(pii::EntityType type, std::string_view value) {
  std::string key = ValueKey(type, value);
  if (auto it = by_value_.find(key); it != by_value_.end()) {
    const Entry& e = entries_[it->second];
    return Placeholder(e.type, e.number);
  }
  const uint32_t number = ++next_[static_cast<size_t>(type)];
  std::string placeholder = Placeholder(type, number);
  by_value_.emplace(std::move(key), entries_.size());
  by_placeholder_.emplace(placeholder, entries_.size());
  entries_.push_back(Entry{type, number, std::string(value)});
  return placeholder;
}

absl::Status PseudonymMap::Add(Entry entry) {
  std::string key = ValueKey(entry.type, entry.original);
  std::string placeholder = Placeholder(entry.type, entry.number);
  if (by_value_.contains(key)) return absl::AlreadyExistsError("a value appears twice");
  if (by_placeholder_.contains(placeholder)) return absl::AlreadyExistsError("a pseudonym appears twice");
  uint32_t& next = next_[static_cast<size_t>(entry.type)];
  next = std::max(next, entry.number);
  by_value_.emplace(std::move(key), entries_.size());
  by_placeholder_.emplace(std::move(placeholder), entries_.size());
  entries_.push_back(std::move(entry));
  return absl::OkStatus();
}

const std::string* PseudonymMap::Original(std::string_view placeholder) const {
  auto it = by_placeholder_.find(std::string(placeholder));
  return it == by_placeholder_.end() ? nullptr : &entries_[it->second].original;
}

std::vector<uint8_t> PseudonymMap::SerializePayload() const {
  std::vector<uint8_t> out;
  PutU32(out, static_cast<uint32_t>(entries_.size()));
  for (const Entry& e : entries_) {
    out.push_back(static_cast<uint8_t>(e.type));
    PutU32(out, e.number);
    PutU32(out, static_cast<uint32_t>(e.original.size()));
    out.insert(out.end(), e.original.begin(), e.original.end());
  }
  return out;
}

absl::StatusOr<PseudonymMap> PseudonymMap::ParsePayload(std::span<const uint8_t> payload) {
  Reader r(payload);
  const auto loss = [&](std::string_view what) {
    return absl::DataLossError(absl::StrCat("pseudonym map: ", std::string(what), " at byte offset ",
                                            r.offset(), " of the payload"));
  };
  uint32_t count = 0;
  if (!r.U32(count)) return loss("truncated entry count");
  // Each entry takes at least 9 bytes: a count beyond what the bytes can hold is malformed (and must not
  // drive an allocation).
  if (count > r.remaining() / 9) return loss(absl::StrCat("entry count ", count, " exceeds the payload"));
  PseudonymMap map;
  map.entries_.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    const std::string entry = absl::StrCat("entry ", i, ": ");
    uint8_t type = 0;
    uint32_t number = 0, length = 0;
    if (!r.U8(type) || !r.U32(number) || !r.U32(length)) return loss(entry + "truncated header");
    if (type >= pii::kEntityTypeCount) return loss(absl::StrCat(entry, "unknown entity type ", type));
    if (number == 0) return loss(entry + "pseudonym number 0");
    Entry e{static_cast<pii::EntityType>(type), number, {}};
    if (!r.Bytes(length, e.original)) return loss(entry + "truncated value");
    if (!base::IsValidUtf8(e.original)) return loss(entry + "value is not valid UTF-8");
    if (absl::Status s = map.Add(std::move(e)); !s.ok()) return loss(entry + std::string(s.message()));
  }
  if (r.remaining() != 0) return loss(absl::StrCat(r.remaining(), " unexpected trailing bytes"));
  return map;
}

absl::StatusOr<std::vector<uint8_t>> PseudonymMap::Seal(const base::SecretBytes& key,
                                                        std::string_view context,
                                                        base::RandomSource& rng) const {
  const std::vector<uint8_t> payload = SerializePayload();
  VEIL_ASSIGN_OR_RETURN(std::vector<uint8_t> sealed, crypto::Seal(key, payload, Aad(context), rng));
  std::vector<uint8_t> out(kPseudonymMapMagic, kPseudonymMapMagic + kMagicSize);
  out.push_back(kPseudonymMapVersion);
  out.insert(out.end(), sealed.begin(), sealed.end());
  return out;
}

absl::StatusOr<PseudonymMap> PseudonymMap::Open(const base::SecretBytes& key, std::span<const uint8_t> sealed,
                                                std::string_view context) {
  if (key.size() != crypto::kAes256GcmKeySize) {
    return absl::InvalidArgumentError(
        absl::StrCat("pseudonym map: the key must be 32 bytes, not ", key.size()));
  }
  const size_t minimum = kHeaderSize + 4 + crypto::kAes256GcmOverhead;
  if (sealed.size() < kMagicSize || std::memcmp(sealed.data(), kPseudonymMapMagic, kMagicSize) != 0) {
    return absl::DataLossError(
        "pseudonym map: not a Veil pseudonym map (bad magic; truncated or another file)");
  }
  if (sealed.size() < kHeaderSize) return absl::DataLossError("pseudonym map: truncated header");
  if (sealed[kMagicSize] != kPseudonymMapVersion) {
    return absl::DataLossError(absl::StrCat("pseudonym map: unsupported format version ", sealed[kMagicSize],
                                            " (this Veil reads 1)"));
  }
  if (sealed.size() < minimum) {
    return absl::DataLossError(absl::StrCat("pseudonym map: truncated (", sealed.size(),
                                            " bytes; a sealed map has at least ", minimum, ")"));
  }
  absl::StatusOr<std::vector<uint8_t>> payload = crypto::Open(key, sealed.subspan(kHeaderSize), Aad(context));
  if (!payload.ok()) {
    if (!absl::IsDataLoss(payload.status())) return payload.status();
    return absl::DataLossError(
        "pseudonym map: authentication failed: made under another key or workspace, or modified");
  }
  return ParsePayload(*payload);
}

absl::StatusOr<std::string> Pseudonymizer::Apply(ValueType type, std::string_view value) {
  if (!type.has_value()) return absl::InvalidArgumentError("pseudonym: values need an entity type");
  return map_.Pseudonymize(*type, value);
}

RestoreResult Restore(std::string_view text, const PseudonymMap& map) {
  RestoreResult result;
  result.text.reserve(text.size());
  absl::flat_hash_set<std::string> seen_unknown;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t open = text.find('<', pos);
    if (open == std::string_view::npos) break;
    result.text.append(text.substr(pos, open - pos));
    const size_t close = text.find_first_of("<>", open + 1);
    if (close == std::string_view::npos || text[close] != '>' || close - open + 1 > kMaxPlaceholder) {
      result.text.push_back('<');
      pos = open + 1;
      continue;
    }
    const std::string_view candidate = text.substr(open, close - open + 1);
    if (const std::string* original = map.Original(candidate)) {
      result.text += *original;
      ++result.restored;
    } else {
      if (ParsePlaceholder(candidate).has_value() && seen_unknown.insert(std::string(candidate)).second) {
        result.unknown.emplace_back(candidate);
      }
      result.text.append(candidate);
    }
    pos = close + 1;
  }
  if (pos < text.size()) result.text.append(text.substr(pos));
  return result;
}

}  // namespace veil::anon
