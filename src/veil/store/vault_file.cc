#include "veil/store/vault_file.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "veil/base/absl_compat.h"
#include "veil/base/bytes.h"
#include "veil/base/status_macros.h"
#include "veil/base/utf8.h"

namespace veil::store {
namespace {

using table::Column;
using table::ColumnBuilder;
using table::DataType;
using table::Field;

constexpr size_t kMaxVarintBytes = 10;
constexpr uint8_t kRecordTag = 'R';
constexpr uint8_t kTrailerTag = 'E';
constexpr size_t kTrailerBytes = 1 + 8;
// Big enough that a file of small records reaches the Env in few, large appends; small enough not to matter
// beside the table being ingested.
constexpr size_t kWriteBufferBytes = size_t{1} << 20;
constexpr std::string_view kRecordAadPrefix = "veil vault record v1\n";
constexpr char kHexDigits[] = "0123456789abcdef";

using base::ToAbsl;

// ---- Integers.

// The type tags are part of the format, so they are spelled out rather than taken from DataType's values.
uint8_t TypeTag(DataType type) {
  switch (type) {
    case DataType::kInt64:
      return 0;
    case DataType::kDouble:
      return 1;
    case DataType::kBool:
      return 2;
    case DataType::kString:
      return 3;
    case DataType::kDate:
      return 4;
    case DataType::kTimestamp:
      return 5;
  }
  return 0xFF;
}

std::optional<DataType> TypeOfTag(uint8_t tag) {
  constexpr DataType kTypes[] = {DataType::kInt64,  DataType::kDouble, DataType::kBool,
                                 DataType::kString, DataType::kDate,   DataType::kTimestamp};
  if (tag >= std::size(kTypes)) return std::nullopt;
  return kTypes[tag];
}

inline uint64_t ZigZag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
inline int64_t UnZigZag(uint64_t u) { return static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1)); }

inline char* PutVarint(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

inline char* PutFixed64(char* p, uint64_t v) {
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(p, &v, 8);
  } else {
    for (int i = 0; i < 8; ++i, v >>= 8) p[i] = static_cast<char>(v);
  }
  return p + 8;
}

inline uint64_t LoadFixed64(const uint8_t* p) {
  uint64_t v = 0;
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(&v, p, 8);
  } else {
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  }
  return v;
}

enum class VarintResult { kOk, kTruncated, kMalformed };

// Reads a varint (header comment: at most 10 bytes, shortest form only) at *p, advancing *p past it.
VarintResult GetVarintSlow(const uint8_t** p, const uint8_t* end, uint64_t* out) {
  const uint8_t* q = *p;
  uint64_t v = 0;
  for (int shift = 0; shift < 7 * static_cast<int>(kMaxVarintBytes); shift += 7) {
    if (q == end) return VarintResult::kTruncated;
    const uint8_t b = *q++;
    if (shift == 63 && b > 1) return VarintResult::kMalformed;  // more than 64 bits
    v |= uint64_t{b & 0x7Fu} << shift;
    if (b < 0x80) {
      if (b == 0 && shift > 0) return VarintResult::kMalformed;  // not the shortest form
      *p = q;
      *out = v;
      return VarintResult::kOk;
    }
  }
  return VarintResult::kMalformed;
}

inline VarintResult GetVarint(const uint8_t** p, const uint8_t* end, uint64_t* out) {
  if (*p != end && **p < 0x80) {  // one byte: row ids, small ints, dates near 1970, short strings
    *out = *(*p)++;
    return VarintResult::kOk;
  }
  return GetVarintSlow(p, end, out);
}

// ---- Record plaintext encoding.

// Calls put(p, row) for the rows of `positions` that hold a value, in order; returns the end of the output.
template <typename Put>
inline char* PutValues(const Column& column, std::span<const int64_t> positions, bool any_null, char* p,
                       Put put) {
  if (any_null) {
    for (const int64_t row : positions) {
      if (!column.IsNull(row)) p = put(p, row);
    }
  } else {
    for (const int64_t row : positions) p = put(p, row);
  }
  return p;
}

// Appends one column's section at out[pos] and returns the new end. The string is grown to an upper bound of
// the section first, so the loops write through a plain pointer.
size_t EncodeColumn(const Column& column, std::span<const int64_t> positions, size_t pos, std::string* out) {
  const size_t n = positions.size();
  bool any_null = false;
  if (column.null_count() > 0) {
    any_null =
        std::any_of(positions.begin(), positions.end(), [&](int64_t row) { return column.IsNull(row); });
  }
  size_t value_bound = 0;
  switch (column.type()) {
    case DataType::kInt64:
    case DataType::kTimestamp:
      value_bound = n * kMaxVarintBytes;
      break;
    case DataType::kDouble:
      value_bound = n * 8;
      break;
    case DataType::kBool:
      value_bound = n;
      break;
    case DataType::kDate:
      value_bound = n * 5;  // a zigzagged int32 takes at most 5 bytes
      break;
    case DataType::kString:
      value_bound = n * kMaxVarintBytes;
      for (const int64_t row : positions) value_bound += column.GetString(row).size();
      break;
  }
  const size_t bitmap_bytes = any_null ? (n + 7) / 8 : 0;
  out->resize(pos + 2 + bitmap_bytes + value_bound);
  char* const base = out->data();
  char* p = base + pos;
  *p++ = static_cast<char>(TypeTag(column.type()));
  *p++ = any_null ? 1 : 0;
  if (any_null) {
    std::memset(p, 0, bitmap_bytes);
    for (size_t i = 0; i < n; ++i) {
      if (column.IsNull(positions[i])) p[i >> 3] = static_cast<char>(p[i >> 3] | (1 << (i & 7)));
    }
    p += bitmap_bytes;
  }
  switch (column.type()) {
    case DataType::kInt64:
      p = PutValues(column, positions, any_null, p,
                    [&](char* q, int64_t row) { return PutVarint(q, ZigZag(column.GetInt64(row))); });
      break;
    case DataType::kTimestamp:
      p = PutValues(column, positions, any_null, p, [&](char* q, int64_t row) {
        return PutVarint(q, ZigZag(column.GetTimestamp(row).micros));
      });
      break;
    case DataType::kDouble:
      p = PutValues(column, positions, any_null, p, [&](char* q, int64_t row) {
        return PutFixed64(q, std::bit_cast<uint64_t>(column.GetDouble(row)));
      });
      break;
    case DataType::kBool:
      p = PutValues(column, positions, any_null, p, [&](char* q, int64_t row) {
        *q = column.GetBool(row) ? 1 : 0;
        return q + 1;
      });
      break;
    case DataType::kDate:
      p = PutValues(column, positions, any_null, p,
                    [&](char* q, int64_t row) { return PutVarint(q, ZigZag(column.GetDate(row).days)); });
      break;
    case DataType::kString:
      p = PutValues(column, positions, any_null, p, [&](char* q, int64_t row) {
        const std::string_view s = column.GetString(row);
        q = PutVarint(q, s.size());
        if (!s.empty()) std::memcpy(q, s.data(), s.size());
        return q + s.size();
      });
      break;
  }
  return static_cast<size_t>(p - base);
}

template <typename RowIdAt>
void EncodeRows(const table::Table& table, std::span<const int64_t> positions, RowIdAt row_id_at,
                std::string* out) {
  const size_t n = positions.size();
  size_t pos = out->size();
  out->resize(pos + 1 + 2 * kMaxVarintBytes + n * kMaxVarintBytes);
  char* const base = out->data();
  char* p = base + pos;
  *p++ = static_cast<char>(kVaultRecordFormat);
  p = PutVarint(p, n);
  p = PutVarint(p, static_cast<uint64_t>(table.num_columns()));
  if (n > 0) {
    uint64_t previous = row_id_at(0);
    p = PutVarint(p, previous);
    for (size_t i = 1; i < n; ++i) {
      const uint64_t id = row_id_at(i);
      p = PutVarint(p, ZigZag(static_cast<int64_t>(id - previous)));
      previous = id;
    }
  }
  pos = static_cast<size_t>(p - base);
  for (int c = 0; c < table.num_columns(); ++c) pos = EncodeColumn(table.column(c), positions, pos, out);
  out->resize(pos);
}

// ---- Record plaintext decoding.

// Reads one record plaintext front to back; every error is DataLoss naming the byte offset.
class RecordDecoder {
 public:
  explicit RecordDecoder(std::span<const uint8_t> bytes)
      : begin_(bytes.data()), p_(bytes.data()), end_(bytes.data() + bytes.size()) {}

  absl::Status Decode(const table::Schema& schema, std::span<ColumnBuilder> builders,
                      std::vector<uint64_t>* row_ids) {
    uint8_t format = 0;
    VEIL_RETURN_IF_ERROR(Byte("format byte", &format));
    if (format != kVaultRecordFormat) return Error(p_ - 1, absl::StrCat("unknown record format ", format));
    const uint8_t* const count_at = p_;
    uint64_t n = 0;
    VEIL_RETURN_IF_ERROR(Varint("row count", &n));
    // Each row has an id of at least one byte: this bounds every loop below by the input's size.
    if (n > remaining()) {
      return Error(count_at,
                   absl::StrCat("row count ", n, " larger than the ", remaining(), " bytes left could hold"));
    }
    const uint8_t* const columns_at = p_;
    uint64_t columns = 0;
    VEIL_RETURN_IF_ERROR(Varint("column count", &columns));
    if (columns != static_cast<uint64_t>(schema.num_fields())) {
      return Error(columns_at, absl::StrCat(columns, " columns where the schema has ", schema.num_fields()));
    }
    uint64_t id = 0;
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t v = 0;
      VEIL_RETURN_IF_ERROR(Varint("row id", &v));
      id = i == 0 ? v : id + static_cast<uint64_t>(UnZigZag(v));
      row_ids->push_back(id);
    }
    for (int c = 0; c < schema.num_fields(); ++c) {
      VEIL_RETURN_IF_ERROR(DecodeColumn(schema.field(c), n, builders[c]));
    }
    if (p_ != end_) return Error(p_, absl::StrCat(remaining(), " trailing bytes"));
    return absl::OkStatus();
  }

 private:
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }

  absl::Status Error(const uint8_t* at, std::string_view what) const {
    return absl::DataLossError(absl::StrCat("vault record: ", ToAbsl(what), " at byte ", at - begin_));
  }
  absl::Status Truncated(const char* field) const {
    return Error(p_, absl::StrCat("truncated ", field, " (", remaining(), " bytes left)"));
  }

  absl::Status Byte(const char* field, uint8_t* out) {
    if (p_ == end_) return Truncated(field);
    *out = *p_++;
    return absl::OkStatus();
  }

  absl::Status Varint(const char* field, uint64_t* out) {
    const VarintResult r = GetVarint(&p_, end_, out);
    if (r == VarintResult::kOk) [[likely]]
      return absl::OkStatus();
    if (r == VarintResult::kTruncated) return Truncated(field);
    return Error(p_, absl::StrCat("malformed varint (too long or not in its shortest form) in ", field));
  }

  // Reads the n rows of one column: read_value() for each row that the bitmap (if any) does not mark null.
  template <typename ReadValue>
  absl::Status ForEachRow(uint64_t n, const uint8_t* nulls, ColumnBuilder& builder, ReadValue read_value) {
    for (uint64_t i = 0; i < n; ++i) {
      if (nulls != nullptr && ((nulls[i >> 3] >> (i & 7)) & 1) != 0) {
        builder.AppendNull();
      } else {
        VEIL_RETURN_IF_ERROR(read_value());
      }
    }
    return absl::OkStatus();
  }

  absl::Status DecodeColumn(const Field& field, uint64_t n, ColumnBuilder& builder) {
    const uint8_t* const tag_at = p_;
    uint8_t tag = 0;
    VEIL_RETURN_IF_ERROR(Byte("type tag", &tag));
    const std::optional<DataType> type = TypeOfTag(tag);
    if (!type.has_value()) {
      return Error(tag_at, absl::StrCat("unknown type tag ", tag, " of column \"", field.name, "\""));
    }
    if (*type != field.type) {
      return Error(tag_at, absl::StrCat("a ", ToAbsl(table::DataTypeName(*type)), " column \"", field.name,
                                        "\" where the schema has ", ToAbsl(table::DataTypeName(field.type))));
    }
    const uint8_t* const marker_at = p_;
    uint8_t marker = 0;
    VEIL_RETURN_IF_ERROR(Byte("null marker", &marker));
    const uint8_t* nulls = nullptr;
    if (marker == 1) {
      if (!field.nullable) {
        return Error(marker_at, absl::StrCat("a null in the non-nullable column \"", field.name, "\""));
      }
      const size_t bitmap_bytes = static_cast<size_t>((n + 7) / 8);
      if (remaining() < bitmap_bytes) return Truncated("null bitmap");
      nulls = p_;
      if (n % 8 != 0 && (nulls[bitmap_bytes - 1] >> (n % 8)) != 0) {
        return Error(nulls + bitmap_bytes - 1, "padding bits set in a null bitmap");
      }
      if (std::all_of(nulls, nulls + bitmap_bytes, [](uint8_t b) { return b == 0; })) {
        return Error(nulls, "a null bitmap without nulls");
      }
      p_ += bitmap_bytes;
    } else if (marker != 0) {
      return Error(marker_at, absl::StrCat("invalid null marker ", marker));
    }

    switch (field.type) {
      case DataType::kInt64:
        return ForEachRow(n, nulls, builder, [&]() -> absl::Status {
          uint64_t v = 0;
          VEIL_RETURN_IF_ERROR(Varint("int64 value", &v));
          builder.AppendInt64(UnZigZag(v));
          return absl::OkStatus();
        });
      case DataType::kTimestamp:
        return ForEachRow(n, nulls, builder, [&]() -> absl::Status {
          uint64_t v = 0;
          VEIL_RETURN_IF_ERROR(Varint("timestamp value", &v));
          builder.AppendTimestamp(table::Timestamp{UnZigZag(v)});
          return absl::OkStatus();
        });
      case DataType::kDate:
        return ForEachRow(n, nulls, builder, [&]() -> absl::Status {
          const uint8_t* const at = p_;
          uint64_t v = 0;
          VEIL_RETURN_IF_ERROR(Varint("date value", &v));
          const int64_t days = UnZigZag(v);
          if (days < INT32_MIN || days > INT32_MAX) return Error(at, "a date outside the int32 range");
          builder.AppendDate(table::Date{static_cast<int32_t>(days)});
          return absl::OkStatus();
        });
      case DataType::kDouble:
        return ForEachRow(n, nulls, builder, [&]() -> absl::Status {
          if (remaining() < 8) return Truncated("double value");
          builder.AppendDouble(std::bit_cast<double>(LoadFixed64(p_)));
          p_ += 8;
          return absl::OkStatus();
        });
      case DataType::kBool:
        return ForEachRow(n, nulls, builder, [&]() -> absl::Status {
          uint8_t b = 0;
          VEIL_RETURN_IF_ERROR(Byte("bool value", &b));
          if (b > 1) return Error(p_ - 1, absl::StrCat("invalid bool byte ", b));
          builder.AppendBool(b != 0);
          return absl::OkStatus();
        });
      case DataType::kString:
        return ForEachRow(n, nulls, builder, [&]() -> absl::Status {
          uint64_t length = 0;
          VEIL_RETURN_IF_ERROR(Varint("string length", &length));
          if (length > remaining()) {
            return Error(p_, absl::StrCat("truncated string of ", length, " bytes (", remaining(), " left)"));
          }
          const std::string_view s(reinterpret_cast<const char*>(p_), static_cast<size_t>(length));
          if (const size_t bad = base::FindInvalidUtf8(s); bad != s.size()) {
            return Error(p_ + bad, "a string that is not valid UTF-8");
          }
          builder.AppendString(s);
          p_ += length;
          return absl::OkStatus();
        });
    }
    return Error(tag_at, "unhandled type");  // unreachable: every DataType is handled above
  }

  const uint8_t* const begin_;
  const uint8_t* p_;
  const uint8_t* const end_;
};

// ---- Sealing.

absl::Status CheckPseudonym(std::string_view pseudonym, std::string_view what) {
  if (IsVaultPseudonym(pseudonym)) return absl::OkStatus();
  // Never echoed: a caller passing the wrong string might be passing a subject id.
  return absl::InvalidArgumentError(
      absl::StrCat(ToAbsl(what), ": the pseudonym is not 64 lower-case hex digits"));
}

std::string RecordAad(std::string_view dataset, std::string_view pseudonym) {
  std::string aad;
  aad.reserve(kRecordAadPrefix.size() + dataset.size() + 1 + pseudonym.size());
  aad.append(kRecordAadPrefix).append(dataset).append(1, '\n').append(pseudonym);
  return aad;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// ---- Vault file parsing.

absl::Status CatalogMismatch(std::string_view source, std::string_view detail) {
  return absl::DataLossError(
      absl::StrCat("vault file ", ToAbsl(source), ": does not match the catalog (", ToAbsl(detail), ")"));
}

// One pass over a vault file. With visit == nullptr it only checks the structure; ParseVaultFile runs it
// twice, so that no record is visited unless the whole file is well-formed.
absl::Status WalkVaultFile(std::span<const uint8_t> bytes, std::string_view source, std::string_view dataset,
                           const VaultFileSummary* expected, const VaultRecordVisitor* visit) {
  const uint8_t* const begin = bytes.data();
  const uint8_t* const end = begin + bytes.size();
  const uint8_t* p = begin;
  auto malformed = [&](const uint8_t* at, std::string_view what) {
    return absl::DataLossError(
        absl::StrCat("vault file ", ToAbsl(source), ": ", ToAbsl(what), " at byte ", at - begin));
  };
  auto left = [&] { return static_cast<size_t>(end - p); };
  auto varint = [&](const char* field, uint64_t* out) -> absl::Status {
    const VarintResult r = GetVarint(&p, end, out);
    if (r == VarintResult::kOk) return absl::OkStatus();
    return malformed(p, r == VarintResult::kTruncated ? absl::StrCat("truncated ", field)
                                                      : absl::StrCat("malformed varint in ", field));
  };

  // Header.
  const size_t magic_bytes = std::min(bytes.size(), kVaultFileMagic.size());
  if (!std::equal(begin, begin + magic_bytes, kVaultFileMagic.begin())) {
    return malformed(begin, "not a vault file (wrong magic)");
  }
  if (magic_bytes < kVaultFileMagic.size()) return malformed(end, "truncated magic");
  p += kVaultFileMagic.size();
  if (p == end) return malformed(p, "truncated header");
  if (*p != kVaultFileVersion) return malformed(p, absl::StrCat("unknown format version ", *p));
  ++p;
  const uint8_t* const name_at = p;
  uint64_t name_bytes = 0;
  VEIL_RETURN_IF_ERROR(varint("dataset name length", &name_bytes));
  if (name_bytes == 0 || name_bytes > kMaxVaultDatasetNameBytes) {
    return malformed(name_at, absl::StrCat("dataset name length ", name_bytes, " out of range"));
  }
  if (name_bytes > left()) return malformed(p, "truncated dataset name");
  const std::string_view name(reinterpret_cast<const char*>(p), static_cast<size_t>(name_bytes));
  if (const size_t bad = base::FindInvalidUtf8(name); bad != name.size()) {
    return malformed(p + bad, "dataset name is not valid UTF-8");
  }
  if (name != dataset) {
    return malformed(p, absl::StrCat("holds dataset \"", absl::CHexEscape(ToAbsl(name)), "\", not \"",
                                     absl::CHexEscape(ToAbsl(dataset)), "\""));
  }
  p += name_bytes;

  // Frames, up to the trailer.
  int64_t records = 0;
  char pseudonym[kVaultPseudonymHexSize];
  while (true) {
    if (p == end) return malformed(p, "truncated: no trailer");
    const uint8_t* const frame_at = p;
    const uint8_t tag = *p++;
    if (tag == kTrailerTag) {
      if (left() < kTrailerBytes - 1) return malformed(p, "truncated trailer");
      const uint64_t count = LoadFixed64(p);
      if (count != static_cast<uint64_t>(records)) {
        return malformed(p, absl::StrCat("the trailer counts ", count, " records, the file holds ", records));
      }
      p += 8;
      if (p != end) return malformed(p, absl::StrCat(left(), " bytes after the trailer"));
      if (expected != nullptr && records != expected->records) {
        return CatalogMismatch(source,
                               absl::StrCat(records, " records, the catalog says ", expected->records));
      }
      return absl::OkStatus();
    }
    if (tag != kRecordTag) return malformed(frame_at, absl::StrCat("unknown frame tag ", tag));
    if (expected != nullptr && records == expected->records) {
      return CatalogMismatch(source, absl::StrCat("more than the catalog's ", expected->records, " records"));
    }
    if (left() < kVaultPseudonymBytes) return malformed(p, "truncated pseudonym");
    const uint8_t* const raw_pseudonym = p;
    p += kVaultPseudonymBytes;
    const uint8_t* const length_at = p;
    uint64_t length = 0;
    VEIL_RETURN_IF_ERROR(varint("record length", &length));
    if (length < crypto::kAes256GcmOverhead || length > kMaxSealedRecordBytes) {
      return malformed(length_at, absl::StrCat("record length ", length, " out of range"));
    }
    if (length > left()) {
      return malformed(p, absl::StrCat("truncated record of ", length, " bytes (", left(), " left)"));
    }
    const std::span<const uint8_t> sealed(p, static_cast<size_t>(length));
    p += length;
    ++records;
    if (visit != nullptr) {
      for (size_t i = 0; i < kVaultPseudonymBytes; ++i) {
        pseudonym[2 * i] = kHexDigits[raw_pseudonym[i] >> 4];
        pseudonym[2 * i + 1] = kHexDigits[raw_pseudonym[i] & 0xF];
      }
      VEIL_RETURN_IF_ERROR((*visit)(std::string_view(pseudonym, sizeof(pseudonym)), sealed));
    }
  }
}

}  // namespace

bool IsVaultPseudonym(std::string_view pseudonym) {
  return pseudonym.size() == kVaultPseudonymHexSize &&
         std::all_of(pseudonym.begin(), pseudonym.end(), [](char c) { return HexValue(c) >= 0; });
}

// ---- Record plaintext.

void EncodeSubjectRows(const table::Table& table, std::span<const int64_t> positions, uint64_t row_id_base,
                       std::string* out) {
  EncodeRows(
      table, positions, [&](size_t i) { return row_id_base + static_cast<uint64_t>(positions[i]); }, out);
}

void internal::EncodeSubjectRowsWithIds(const table::Table& table, std::span<const int64_t> positions,
                                        std::span<const uint64_t> row_ids, std::string* out) {
  EncodeRows(
      table, positions, [&](size_t i) { return row_ids[i]; }, out);
}

absl::Status DecodeSubjectRows(std::span<const uint8_t> plaintext, const table::Schema& schema,
                               std::span<ColumnBuilder> builders, std::vector<uint64_t>* row_ids) {
  if (builders.size() != static_cast<size_t>(schema.num_fields())) {
    return absl::InvalidArgumentError(absl::StrCat("vault record: ", builders.size(),
                                                   " column builders for a schema of ", schema.num_fields(),
                                                   " fields"));
  }
  for (int c = 0; c < schema.num_fields(); ++c) {
    if (builders[c].type() != schema.field(c).type) {
      return absl::InvalidArgumentError(absl::StrCat("vault record: the builder of column \"",
                                                     schema.field(c).name, "\" is not of the schema's type"));
    }
  }
  return RecordDecoder(plaintext).Decode(schema, builders, row_ids);
}

// ---- Sealed record.

absl::StatusOr<std::vector<uint8_t>> SealRecord(const base::SecretBytes& data_key, std::string_view dataset,
                                                std::string_view pseudonym,
                                                std::span<const uint8_t> plaintext, base::RandomSource& rng) {
  VEIL_RETURN_IF_ERROR(CheckPseudonym(pseudonym, "vault record"));
  if (plaintext.size() > kMaxRecordPlaintextBytes) {
    return absl::InvalidArgumentError(absl::StrCat("vault record: a plaintext of ", plaintext.size(),
                                                   " bytes exceeds the limit of ", kMaxRecordPlaintextBytes));
  }
  return crypto::Seal(data_key, plaintext, base::AsBytes(RecordAad(dataset, pseudonym)), rng);
}

absl::StatusOr<std::vector<uint8_t>> OpenRecord(const base::SecretBytes& data_key, std::string_view dataset,
                                                std::string_view pseudonym, std::span<const uint8_t> sealed) {
  VEIL_RETURN_IF_ERROR(CheckPseudonym(pseudonym, "vault record"));
  absl::StatusOr<std::vector<uint8_t>> plaintext =
      crypto::Open(data_key, sealed, base::AsBytes(RecordAad(dataset, pseudonym)));
  if (absl::IsDataLoss(plaintext.status())) {
    return absl::DataLossError(absl::StrCat("the vault record in dataset \"", ToAbsl(dataset),
                                            "\" of subject ", ToAbsl(pseudonym.substr(0, 16)),
                                            "… does not open: wrong key, a record moved from elsewhere, or "
                                            "damaged bytes"));
  }
  return plaintext;
}

// ---- Vault file writer.

VaultFileWriter::VaultFileWriter(std::unique_ptr<base::WritableFile> file, std::string path)
    : file_(std::move(file)), path_(std::move(path)) {}

absl::StatusOr<VaultFileWriter> VaultFileWriter::Create(base::Env& env, const std::string& path,
                                                        std::string_view dataset) {
  if (dataset.empty() || dataset.size() > kMaxVaultDatasetNameBytes || !base::IsValidUtf8(dataset)) {
    return absl::InvalidArgumentError(absl::StrCat("vault file ", path, ": the dataset name must be 1 to ",
                                                   kMaxVaultDatasetNameBytes, " bytes of UTF-8"));
  }
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<base::WritableFile> file, env.NewWritableFile(path));
  VaultFileWriter writer(std::move(file), path);
  writer.buffer_.reserve(kWriteBufferBytes + 64);
  char header[kVaultFileMagic.size() + 1 + kMaxVarintBytes];
  std::memcpy(header, kVaultFileMagic.data(), kVaultFileMagic.size());
  header[kVaultFileMagic.size()] = static_cast<char>(kVaultFileVersion);
  char* const header_end = PutVarint(header + kVaultFileMagic.size() + 1, dataset.size());
  writer.buffer_.append(header, header_end).append(dataset);
  return writer;
}

absl::Status VaultFileWriter::Write(std::string_view data) {
  hasher_.Update(data);
  status_ = file_->Append(data);
  if (status_.ok()) bytes_ += static_cast<int64_t>(data.size());
  return status_;
}

absl::Status VaultFileWriter::FlushBuffer() {
  if (buffer_.empty()) return absl::OkStatus();
  VEIL_RETURN_IF_ERROR(Write(buffer_));
  buffer_.clear();
  return absl::OkStatus();
}

absl::Status VaultFileWriter::Add(std::string_view pseudonym, std::span<const uint8_t> sealed) {
  VEIL_RETURN_IF_ERROR(status_);
  if (finished_)
    return absl::FailedPreconditionError(absl::StrCat("vault file ", path_, ": Add after Finish"));
  VEIL_RETURN_IF_ERROR(CheckPseudonym(pseudonym, absl::StrCat("vault file ", path_)));
  if (sealed.size() < crypto::kAes256GcmOverhead || sealed.size() > kMaxSealedRecordBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("vault file ", path_, ": a sealed record of ", sealed.size(), " bytes (must be ",
                     crypto::kAes256GcmOverhead, " to ", kMaxSealedRecordBytes, ")"));
  }
  char frame[1 + kVaultPseudonymBytes + kMaxVarintBytes];
  frame[0] = static_cast<char>(kRecordTag);
  for (size_t i = 0; i < kVaultPseudonymBytes; ++i) {
    frame[1 + i] = static_cast<char>((HexValue(pseudonym[2 * i]) << 4) | HexValue(pseudonym[2 * i + 1]));
  }
  char* const frame_end = PutVarint(frame + 1 + kVaultPseudonymBytes, sealed.size());
  buffer_.append(frame, frame_end);
  const std::string_view body(reinterpret_cast<const char*>(sealed.data()), sealed.size());
  if (body.size() >= kWriteBufferBytes) {
    // Not worth copying: write what is buffered, then the record itself.
    VEIL_RETURN_IF_ERROR(FlushBuffer());
    VEIL_RETURN_IF_ERROR(Write(body));
  } else {
    buffer_.append(body);
    if (buffer_.size() >= kWriteBufferBytes) VEIL_RETURN_IF_ERROR(FlushBuffer());
  }
  ++records_;
  return absl::OkStatus();
}

absl::StatusOr<VaultFileSummary> VaultFileWriter::Finish() {
  VEIL_RETURN_IF_ERROR(status_);
  if (finished_) return absl::FailedPreconditionError(absl::StrCat("vault file ", path_, ": Finish twice"));
  finished_ = true;
  char trailer[kTrailerBytes];
  trailer[0] = static_cast<char>(kTrailerTag);
  PutFixed64(trailer + 1, static_cast<uint64_t>(records_));
  buffer_.append(trailer, sizeof(trailer));
  VEIL_RETURN_IF_ERROR(FlushBuffer());
  status_ = file_->Sync();
  if (status_.ok()) status_ = file_->Close();
  VEIL_RETURN_IF_ERROR(status_);
  std::string().swap(buffer_);
  return VaultFileSummary{.records = records_, .bytes = bytes_, .sha256 = hasher_.Final()};
}

// ---- Vault file reading.

absl::Status ParseVaultFile(std::span<const uint8_t> bytes, std::string_view source, std::string_view dataset,
                            const VaultFileSummary* expected, VaultRecordVisitor visit) {
  if (expected != nullptr) {
    if (bytes.size() != static_cast<uint64_t>(expected->bytes)) {
      return CatalogMismatch(source,
                             absl::StrCat(bytes.size(), " bytes, the catalog says ", expected->bytes));
    }
    if (crypto::Sha256(bytes) != expected->sha256) return CatalogMismatch(source, "its SHA-256 differs");
  }
  VEIL_RETURN_IF_ERROR(WalkVaultFile(bytes, source, dataset, expected, nullptr));
  return WalkVaultFile(bytes, source, dataset, expected, &visit);
}

absl::Status ReadVaultFile(base::Env& env, const std::string& path, std::string_view dataset,
                           const VaultFileSummary* expected, VaultRecordVisitor visit) {
  auto missing = [&](const absl::Status& status) {
    if (expected != nullptr && absl::IsNotFound(status)) {
      return absl::DataLossError(absl::StrCat("vault file ", path, " is missing"));
    }
    return status;
  };
  if (expected != nullptr) {
    // Refuse a file of the wrong size before reading it whole.
    const absl::StatusOr<uint64_t> size = env.GetFileSize(path);
    if (!size.ok()) return missing(size.status());
    if (*size != static_cast<uint64_t>(expected->bytes)) {
      return CatalogMismatch(path, absl::StrCat(*size, " bytes, the catalog says ", expected->bytes));
    }
  }
  const absl::StatusOr<std::unique_ptr<base::FileContents>> contents = env.ReadWholeFile(path);
  if (!contents.ok()) return missing(contents.status());
  return ParseVaultFile((*contents)->bytes(), path, dataset, expected, visit);
}

}  // namespace veil::store
