// Internal helpers shared by the audit module's binary and text formats: big-endian integers, a
// bounds-checked reader that reports byte offsets, UTF-8 validation, CRC-32C and hex/base64 codecs.
//
// Not part of the module's contract: use only from src/veil/audit/.
#ifndef VEIL_AUDIT_ENCODING_H_
#define VEIL_AUDIT_ENCODING_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace veil::audit::internal {

void PutU8(std::vector<uint8_t>& out, uint8_t v);
void PutU32(std::vector<uint8_t>& out, uint32_t v);
void PutU64(std::vector<uint8_t>& out, uint64_t v);
void PutBytes(std::vector<uint8_t>& out, std::span<const uint8_t> bytes);
void PutBytes(std::vector<uint8_t>& out, std::string_view bytes);
void StoreU32(uint8_t* p, uint32_t v);
void StoreU64(uint8_t* p, uint64_t v);
uint32_t LoadU32(const uint8_t* p);
uint64_t LoadU64(const uint8_t* p);

// Reads a byte string front to back. Every failure names `what` (e.g. "audit entry") and the absolute byte
// offset (base + position), and the reader never reads out of bounds. Running out of bytes is DataLoss
// (a truncation); the caller reports other malformations through Invalid().
class ByteReader {
 public:
  ByteReader(std::span<const uint8_t> bytes, const char* what, uint64_t base = 0)
      : bytes_(bytes), what_(what), base_(base) {}

  size_t pos() const { return pos_; }
  size_t remaining() const { return bytes_.size() - pos_; }
  bool done() const { return pos_ == bytes_.size(); }

  absl::StatusOr<uint8_t> U8(const char* field);
  absl::StatusOr<uint32_t> U32(const char* field);
  absl::StatusOr<uint64_t> U64(const char* field);
  // `n` raw bytes.
  absl::StatusOr<std::span<const uint8_t>> Bytes(size_t n, const char* field);
  // A u32 length followed by that many bytes of valid UTF-8, at most max_len bytes.
  absl::StatusOr<std::string> Str(size_t max_len, const char* field);

  // InvalidArgument("<what>: <message> at byte <offset>"), offset = base + at.
  absl::Status Invalid(size_t at, std::string_view message) const;

 private:
  absl::Status Truncated(const char* field, size_t need) const;

  std::span<const uint8_t> bytes_;
  const char* what_;
  uint64_t base_;
  size_t pos_ = 0;
};

// CRC-32C (Castagnoli, polynomial 0x1EDC6F41 reflected = 0x82F63B78), as used by iSCSI (RFC 3720
// appendix B.4) and ext4. Crc32c("123456789") == 0xE3069283. `crc` continues an earlier computation.
uint32_t Crc32c(std::span<const uint8_t> data, uint32_t crc = 0);
// Checksums stored next to the data they cover are masked (rotated and offset), so that a checksum computed
// over bytes that themselves embed checksums does not degenerate (the trick of LevelDB's log format).
uint32_t MaskCrc(uint32_t crc);

// Reads a line-based text format (checkpoints, proofs) line by line. Errors are InvalidArgument naming the
// line and byte offset: "<context>: line N (byte B): <message>".
class LineReader {
 public:
  LineReader(std::string_view text, const char* context) : text_(text), context_(context) {}

  // The next line without its '\n'. Errors if the text has ended or the line lacks its newline.
  absl::StatusOr<std::string_view> Next(const char* what);
  bool AtEnd() const { return pos_ == text_.size(); }
  size_t pos() const { return pos_; }
  // Points errors at the text after the last line read (for "unexpected text after ...").
  void MarkRest() {
    ++line_;
    start_ = pos_;
  }
  // An error at the current line's start plus `column`.
  absl::Status Error(std::string_view message, size_t column = 0) const;

 private:
  std::string_view text_;
  const char* context_;
  size_t pos_ = 0;
  size_t start_ = 0;
  int line_ = 0;
};

// Standard base64 with padding (RFC 4648 section 4).
std::string Base64Encode(std::span<const uint8_t> bytes);
// Strict: only the canonical encoding (the one Base64Encode produces) is accepted.
std::optional<std::vector<uint8_t>> Base64DecodeStrict(std::string_view text);

// Canonical decimal u64: digits only, no sign, no leading zero (except "0"), no overflow.
std::optional<uint64_t> ParseDecimalU64(std::string_view s);

}  // namespace veil::audit::internal

#endif  // VEIL_AUDIT_ENCODING_H_
