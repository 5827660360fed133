#include "veil/audit/encoding.h"

#include <array>

#include "absl/strings/str_cat.h"
#include "veil/base/utf8.h"

namespace veil::audit::internal {

void PutU8(std::vector<uint8_t>& out, uint8_t v) { out.push_back(v); }

void PutU32(std::vector<uint8_t>& out, uint32_t v) {
  uint8_t b[4];
  StoreU32(b, v);
  out.insert(out.end(), b, b + 4);
}

void PutU64(std::vector<uint8_t>& out, uint64_t v) {
  uint8_t b[8];
  StoreU64(b, v);
  out.insert(out.end(), b, b + 8);
}

void PutBytes(std::vector<uint8_t>& out, std::span<const uint8_t> bytes) {
  out.insert(out.end(), bytes.begin(), bytes.end());
}

void PutBytes(std::vector<uint8_t>& out, std::string_view bytes) {
  out.insert(out.end(), bytes.begin(), bytes.end());
}

void StoreU32(uint8_t* p, uint32_t v) {
  for (int i = 3; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}

void StoreU64(uint8_t* p, uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}

uint32_t LoadU32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

uint64_t LoadU64(const uint8_t* p) { return (uint64_t{LoadU32(p)} << 32) | LoadU32(p + 4); }

absl::Status ByteReader::Truncated(const char* field, size_t need) const {
  return absl::DataLossError(absl::StrCat(what_, ": truncated in ", field, " at byte ", base_ + pos_,
                                          " (need ", need, " bytes, ", remaining(), " left)"));
}

absl::Status ByteReader::Invalid(size_t at, std::string_view message) const {
  return absl::InvalidArgumentError(absl::StrCat(what_, ": ", std::string(message), " at byte ", base_ + at));
}

absl::StatusOr<uint8_t> ByteReader::U8(const char* field) {
  if (remaining() < 1) return Truncated(field, 1);
  return bytes_[pos_++];
}

absl::StatusOr<uint32_t> ByteReader::U32(const char* field) {
  if (remaining() < 4) return Truncated(field, 4);
  const uint32_t v = LoadU32(bytes_.data() + pos_);
  pos_ += 4;
  return v;
}

absl::StatusOr<uint64_t> ByteReader::U64(const char* field) {
  if (remaining() < 8) return Truncated(field, 8);
  const uint64_t v = LoadU64(bytes_.data() + pos_);
  pos_ += 8;
  return v;
}

absl::StatusOr<std::span<const uint8_t>> ByteReader::Bytes(size_t n, const char* field) {
  if (remaining() < n) return Truncated(field, n);
  std::span<const uint8_t> out = bytes_.subspan(pos_, n);
  pos_ += n;
  return out;
}

absl::StatusOr<std::string> ByteReader::Str(size_t max_len, const char* field) {
  const size_t start = pos_;
  absl::StatusOr<uint32_t> len = U32(field);
  if (!len.ok()) return len.status();
  if (*len > max_len) {
    return Invalid(start, absl::StrCat(field, " length ", *len, " exceeds the limit of ", max_len));
  }
  absl::StatusOr<std::span<const uint8_t>> bytes = Bytes(*len, field);
  if (!bytes.ok()) return bytes.status();
  std::string s(reinterpret_cast<const char*>(bytes->data()), bytes->size());
  if (const size_t bad = base::FindInvalidUtf8(s); bad != s.size()) {
    return Invalid(start + 4 + bad, absl::StrCat(field, " is not valid UTF-8"));
  }
  return s;
}

namespace {

// Slicing-by-8 tables for the reflected CRC-32C polynomial, built at compile time: table[0] is the classic
// byte-at-a-time table and table[k][b] is the CRC of byte b followed by k zero bytes.
using CrcTables = std::array<std::array<uint32_t, 256>, 8>;

constexpr CrcTables MakeCrcTables() {
  CrcTables t{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t crc = b;
    for (int bit = 0; bit < 8; ++bit) crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    t[0][b] = crc;
  }
  for (size_t k = 1; k < 8; ++k) {
    for (uint32_t b = 0; b < 256; ++b) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xFF];
  }
  return t;
}

constexpr CrcTables kCrcTables = MakeCrcTables();

}  // namespace

uint32_t Crc32c(std::span<const uint8_t> data, uint32_t crc) {
  const auto& t = kCrcTables;
  crc = ~crc;
  const uint8_t* p = data.data();
  size_t n = data.size();
  while (n >= 8) {
    const uint32_t lo =
        crc ^ (uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24));
    crc = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^ t[3][p[4]] ^
          t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xFF];
  return ~crc;
}

uint32_t MaskCrc(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xA282EAD8u; }

namespace {
constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}
}  // namespace

std::string Base64Encode(std::span<const uint8_t> bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    out.push_back(kBase64[v >> 18]);
    out.push_back(kBase64[(v >> 12) & 63]);
    out.push_back(kBase64[(v >> 6) & 63]);
    out.push_back(kBase64[v & 63]);
  }
  const size_t rest = bytes.size() - i;
  if (rest == 1) {
    const uint32_t v = uint32_t{bytes[i]} << 16;
    out.push_back(kBase64[v >> 18]);
    out.push_back(kBase64[(v >> 12) & 63]);
    out += "==";
  } else if (rest == 2) {
    const uint32_t v = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8);
    out.push_back(kBase64[v >> 18]);
    out.push_back(kBase64[(v >> 12) & 63]);
    out.push_back(kBase64[(v >> 6) & 63]);
    out.push_back('=');
  }
  return out;
}

std::optional<std::vector<uint8_t>> Base64DecodeStrict(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::vector<uint8_t> out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = text[i + k];
      if (c == '=' && last && k >= 2) {
        v[k] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) return std::nullopt;  // data after padding
      v[k] = Base64Value(c);
      if (v[k] < 0) return std::nullopt;
    }
    const uint32_t w =
        (uint32_t(v[0]) << 18) | (uint32_t(v[1]) << 12) | (uint32_t(v[2]) << 6) | uint32_t(v[3]);
    out.push_back(static_cast<uint8_t>(w >> 16));
    if (pad < 2) out.push_back(static_cast<uint8_t>(w >> 8));
    if (pad < 1) out.push_back(static_cast<uint8_t>(w));
    // Canonical form: the bits that padding discards must be zero.
    if ((pad == 1 && (w & 0xFF) != 0) || (pad == 2 && (w & 0xFFFF) != 0)) return std::nullopt;
  }
  return out;
}

std::optional<uint64_t> ParseDecimalU64(std::string_view s) {
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

absl::StatusOr<std::string_view> LineReader::Next(const char* what) {
  ++line_;
  start_ = pos_;
  if (pos_ >= text_.size()) return Error(absl::StrCat("missing ", what));
  const size_t nl = text_.find('\n', pos_);
  if (nl == std::string_view::npos) return Error(absl::StrCat(what, " is not terminated by a newline"));
  std::string_view line = text_.substr(pos_, nl - pos_);
  pos_ = nl + 1;
  return line;
}

absl::Status LineReader::Error(std::string_view message, size_t column) const {
  return absl::InvalidArgumentError(
      absl::StrCat(context_, ": line ", line_, " (byte ", start_ + column, "): ", std::string(message)));
}

}  // namespace veil::audit::internal
