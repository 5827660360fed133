// Column: one typed column of a Table, with a validity (null) bitmap.
//
// Storage follows the type (see types.h):
//   kInt64, kTimestamp   std::vector<int64_t>
//   kDouble              std::vector<double>
//   kBool                std::vector<uint8_t> (0 or 1)
//   kDate                std::vector<int32_t> (days)
//   kString              dictionary-encoded: std::vector<int32_t> codes into a StringDictionary, which holds
//                        each distinct string once. Tables of personal data repeat a few values many times
//                        (sex, country, diagnosis), so this is both smaller and faster to group by.
// The value slot of a null row holds 0 (code -1 for strings) and carries no meaning.
//
// Build a column with ColumnBuilder (one value at a time) or hand over whole vectors with the Column::From*
// factories. A finished Column is immutable; like all value types here it may be read from many threads at
// once.
#ifndef VEIL_TABLE_COLUMN_H_
#define VEIL_TABLE_COLUMN_H_

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "veil/table/types.h"

namespace veil::table {
namespace internal {

// A fast, process-seeded 64-bit hash of a byte string: 8-byte words folded with 128-bit multiplies. Inline
// because dictionary lookups of short strings are the hot path of CSV reading; seeded (by the address of a
// static, as Abseil does) so that crafted input cannot aim for collisions.
inline uint64_t MixWords(uint64_t a, uint64_t b) {
  const unsigned __int128 product = static_cast<unsigned __int128>(a) * b;
  return static_cast<uint64_t>(product) ^ static_cast<uint64_t>(product >> 64);
}
inline uint64_t LoadWord(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
inline uint64_t LoadHalfWord(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
extern const char kHashSeedAnchor;
inline uint64_t HashString(std::string_view s) {
  constexpr uint64_t kA = 0x9E3779B97F4A7C15ULL, kB = 0xC2B2AE3D27D4EB4FULL, kC = 0x165667B19E3779F9ULL;
  const char* p = s.data();
  const size_t n = s.size();
  uint64_t state = reinterpret_cast<uintptr_t>(&kHashSeedAnchor) ^ kC ^ n;
  uint64_t a = 0, b = 0;
  if (n <= 16) {
    if (n >= 8) {
      a = LoadWord(p);
      b = LoadWord(p + n - 8);
    } else if (n >= 4) {
      a = LoadHalfWord(p);
      b = LoadHalfWord(p + n - 4);
    } else if (n > 0) {
      a = (uint64_t{static_cast<uint8_t>(p[0])} << 16) | (uint64_t{static_cast<uint8_t>(p[n / 2])} << 8) |
          static_cast<uint8_t>(p[n - 1]);
    }
  } else {
    size_t i = 0;
    for (; i + 16 < n; i += 16) state = MixWords(LoadWord(p + i) ^ kA, LoadWord(p + i + 8) ^ state);
    a = LoadWord(p + n - 16);
    b = LoadWord(p + n - 8);
  }
  return MixWords(MixWords(a ^ kA, b ^ state), kB);
}

// Byte equality, inline for short strings (no call to memcmp).
inline bool SameBytes(std::string_view a, std::string_view b) {
  const size_t n = a.size();
  if (n != b.size()) return false;
  if (n >= 8 && n <= 16) {
    return LoadWord(a.data()) == LoadWord(b.data()) &&
           LoadWord(a.data() + n - 8) == LoadWord(b.data() + n - 8);
  }
  if (n > 16 && n <= 32) {
    return LoadWord(a.data()) == LoadWord(b.data()) && LoadWord(a.data() + 8) == LoadWord(b.data() + 8) &&
           LoadWord(a.data() + n - 16) == LoadWord(b.data() + n - 16) &&
           LoadWord(a.data() + n - 8) == LoadWord(b.data() + n - 8);
  }
  if (n >= 4 && n < 8) {
    return LoadHalfWord(a.data()) == LoadHalfWord(b.data()) &&
           LoadHalfWord(a.data() + n - 4) == LoadHalfWord(b.data() + n - 4);
  }
  return n == 0 || std::memcmp(a.data(), b.data(), n) == 0;
}

// A string and its HashString, the key of the dictionaries: hashed once, compared by hash first, and
// rehashed for free when a table grows.
struct HashedString {
  std::string_view text;
  uint64_t hash = 0;

  static HashedString Of(std::string_view text) { return HashedString{text, HashString(text)}; }
};
struct HashedStringHash {
  size_t operator()(const HashedString& s) const { return s.hash; }
};
struct HashedStringEq {
  bool operator()(const HashedString& a, const HashedString& b) const {
    return a.hash == b.hash && SameBytes(a.text, b.text);
  }
};

// Asks the OS to back the not-yet-touched memory [data, data + bytes) with huge pages (Linux transparent
// huge pages; a no-op elsewhere or for ranges under 2 MiB). For large buffers about to be filled, such as a
// table's columns while a CSV file is read: one page fault per 2 MiB instead of per 4 KiB, and far fewer
// TLB misses when the buffer is accessed at random (a large dictionary's index). A hint only.
void AdviseHugePages(const void* data, size_t bytes);

template <typename V>
using HashedStringMap = absl::flat_hash_map<HashedString, V, HashedStringHash, HashedStringEq>;

}  // namespace internal

// One bit per row: set = valid (has a value), clear = null. The bit words are allocated only once the first
// null is appended, so a column without nulls pays nothing for it.
class ValidityBitmap {
 public:
  ValidityBitmap() = default;

  int64_t size() const { return size_; }
  int64_t null_count() const { return null_count_; }
  bool IsValid(int64_t i) const { return words_.empty() || ((words_[i >> 6] >> (i & 63)) & 1) != 0; }
  bool IsNull(int64_t i) const { return !IsValid(i); }

  void Append(bool valid) {
    if (valid) {
      AppendValid(1);
    } else {
      AppendNull();
    }
  }
  // Appends `n` valid rows.
  void AppendValid(int64_t n);
  void AppendNull();
  void Reserve(int64_t n);

  // The bitmap of rows[0], rows[1], ... of this one (a gather). Precondition: every index is in
  // [0, size()); repeats are allowed. Constant time if there are no nulls.
  ValidityBitmap Take(std::span<const int64_t> rows) const;

  friend bool operator==(const ValidityBitmap& a, const ValidityBitmap& b);

 private:
  void Materialize();  // allocate words_ for size_ valid rows

  std::vector<uint64_t> words_;  // empty while null_count_ == 0
  int64_t size_ = 0;
  int64_t null_count_ = 0;
};

// The distinct strings of a string column. Codes are dense, 0 .. size()-1, in order of first insertion.
// Each string is stored once; the views returned stay valid as long as the dictionary lives, even when it
// is moved (strings live in fixed blocks of memory that never move). Copying makes a deep copy.
class StringDictionary {
 public:
  StringDictionary() = default;
  StringDictionary(const StringDictionary& other);
  StringDictionary& operator=(const StringDictionary& other);
  StringDictionary(StringDictionary&&) = default;
  StringDictionary& operator=(StringDictionary&&) = default;

  int32_t size() const { return static_cast<int32_t>(values_.size()); }
  // Precondition: 0 <= code < size().
  std::string_view value(int32_t code) const { return values_[code]; }
  std::optional<int32_t> Find(std::string_view value) const;
  // The code of `value`, which is added if it is new (then `*added` is set to true when given). Does not
  // check UTF-8; Column::FromStrings and ColumnBuilder do.
  int32_t Insert(std::string_view value, bool* added = nullptr) {
    return Insert(internal::HashedString::Of(value), added);
  }
  // The same for a value already hashed (value.hash == internal::HashString(value.text)).
  int32_t Insert(internal::HashedString value, bool* added = nullptr);
  // Hints that `value` will be looked up soon, so that a batch of lookups into a large dictionary overlaps
  // its memory latency instead of waiting for one cache miss after another. A lookup touches up to three
  // places, each known only once the previous one is in cache, hence three stages to call in turn, some
  // lookups apart (see the CSV reader): kSlot loads the index slot, kEntry the view of the string the slot
  // probably holds, kBytes that string's bytes. Hints only: they never change the dictionary.
  enum class PrefetchStage { kSlot, kEntry, kBytes };
  void Prefetch(const internal::HashedString& value, PrefetchStage stage) const;
  // Makes room for `n` strings without regrowing the index.
  void Reserve(int32_t n);
  // Total bytes of the distinct strings.
  int64_t byte_size() const { return byte_size_; }

 private:
  std::string_view Store(std::string_view value);

  // The index is open addressing with linear probing over 8-byte slots holding a code and 32 bits of the
  // string's hash (the tag), at most 70% full. Compact slots keep the index of a large dictionary in the
  // CPU cache, and the tag settles nearly every probe without touching the strings; a slot's position is a
  // function of its tag alone, so growing never reads the strings either. (A general-purpose hash map
  // stores the whole 24-byte key and is about twice as slow here, where reading a CSV file spends most of
  // its serial time.)
  static constexpr uint64_t kEmptySlot = ~uint64_t{0};
  static uint32_t Tag(const internal::HashedString& value) { return static_cast<uint32_t>(value.hash >> 32); }
  size_t SlotOf(uint32_t tag) const {
    return (static_cast<uint32_t>(tag * 2654435769u) >> slot_shift_) & slot_mask_;
  }
  // The slot holding `value`, or the empty slot where it would go.
  size_t Probe(const internal::HashedString& value) const;
  void GrowIndex(size_t capacity);

  std::vector<std::unique_ptr<char[]>> blocks_;
  size_t block_used_ = 0;  // bytes used in blocks_.back()
  size_t block_capacity_ = 0;
  int64_t byte_size_ = 0;
  std::vector<std::string_view> values_;  // code -> string (in blocks_)
  std::vector<uint64_t> slots_;           // (tag << 32) | code, or kEmptySlot
  size_t slot_mask_ = 0;
  int slot_shift_ = 32;
};

class Column {
 public:
  // An empty string column.
  Column() = default;

  // --- Construction from whole vectors (no copy). `validity` may be empty (default) for "no nulls";
  // --- otherwise its size must equal the number of values. Errors: InvalidArgument on a size mismatch.
  static absl::StatusOr<Column> FromInt64s(std::vector<int64_t> values, ValidityBitmap validity = {});
  static absl::StatusOr<Column> FromDoubles(std::vector<double> values, ValidityBitmap validity = {});
  // Each value must be 0 or 1 (InvalidArgument otherwise).
  static absl::StatusOr<Column> FromBools(std::vector<uint8_t> values, ValidityBitmap validity = {});
  static absl::StatusOr<Column> FromDates(std::vector<int32_t> days, ValidityBitmap validity = {});
  static absl::StatusOr<Column> FromTimestamps(std::vector<int64_t> micros, ValidityBitmap validity = {});
  // The code of each valid row must be in [0, dictionary.size()); codes of null rows are ignored (set to -1).
  // Every dictionary entry must be valid UTF-8. Errors: InvalidArgument naming the first offending row or
  // entry.
  static absl::StatusOr<Column> FromStrings(std::vector<int32_t> codes, StringDictionary dictionary,
                                            ValidityBitmap validity = {});
  // As FromStrings, for a producer that already guarantees what FromStrings checks: every dictionary entry
  // valid UTF-8, the code of each valid row in [0, dictionary.size()) and -1 at null rows. Only the sizes
  // are checked (InvalidArgument). The CSV reader validates each distinct value as it parses; checking
  // again here would be a serial pass over the whole column after the parallel parse. Debug builds check
  // everything, as FromStrings does.
  static absl::StatusOr<Column> FromTrustedStrings(std::vector<int32_t> codes, StringDictionary dictionary,
                                                   ValidityBitmap validity = {});

  DataType type() const { return type_; }
  int64_t size() const { return size_; }
  int64_t null_count() const { return validity_.null_count(); }
  bool IsNull(int64_t row) const { return validity_.IsNull(row); }

  // --- Typed access. Preconditions: 0 <= row < size() and the column has the named type. A null row reads as
  // --- 0 / false / "" (check IsNull first).
  int64_t GetInt64(int64_t row) const { return int64s_[row]; }
  double GetDouble(int64_t row) const { return doubles_[row]; }
  bool GetBool(int64_t row) const { return bools_[row] != 0; }
  Date GetDate(int64_t row) const { return Date{int32s_[row]}; }
  Timestamp GetTimestamp(int64_t row) const { return Timestamp{int64s_[row]}; }
  std::string_view GetString(int64_t row) const {
    const int32_t code = int32s_[row];
    return code < 0 ? std::string_view() : dictionary_.value(code);
  }
  // The dictionary code of a string row; -1 for null.
  int32_t GetStringCode(int64_t row) const { return int32s_[row]; }

  // Any row as a Value (std::monostate for null). Precondition: 0 <= row < size().
  Value GetValue(int64_t row) const;
  // The display / CSV text of a row (types.h); "NULL" for null.
  std::string FormatValue(int64_t row) const;

  // --- Bulk access to the storage, one element per row.
  std::span<const int64_t> int64_values() const { return int64s_; }  // kInt64; kTimestamp (micros)
  std::span<const double> double_values() const { return doubles_; }
  std::span<const uint8_t> bool_values() const { return bools_; }
  std::span<const int32_t> date_values() const { return int32s_; }   // kDate (days)
  std::span<const int32_t> string_codes() const { return int32s_; }  // kString (-1 for null)
  const StringDictionary& dictionary() const { return dictionary_; }
  const ValidityBitmap& validity() const { return validity_; }

  // A new column of the same type holding rows[0], rows[1], ... of this one, in that order (repeats
  // allowed; an empty `rows` gives an empty column), nulls included. One tight gather of the values and one
  // of the validity bits. A string column keeps the whole dictionary (a copy, so codes are unchanged) and
  // gathers the codes; strings no taken row uses stay in the dictionary.
  // Precondition: every index is in [0, size()), which the caller has checked (Table::Take does); an index
  // outside is undefined behaviour.
  Column Take(std::span<const int64_t> rows) const;

  // Same type, size, nulls, and values in every valid row. Strings compare by text (not code); doubles
  // compare bit for bit (-0.0 differs from 0.0) except that any NaN equals any NaN.
  friend bool operator==(const Column& a, const Column& b);

 private:
  friend class ColumnBuilder;

  explicit Column(DataType type) : type_(type) {}
  absl::Status SetValidity(ValidityBitmap validity, int64_t size);

  DataType type_ = DataType::kString;
  int64_t size_ = 0;
  ValidityBitmap validity_;
  std::vector<int64_t> int64s_;  // kInt64, kTimestamp
  std::vector<double> doubles_;  // kDouble
  std::vector<uint8_t> bools_;   // kBool
  std::vector<int32_t> int32s_;  // kDate days, kString codes
  StringDictionary dictionary_;  // kString
};

// Builds a Column one value at a time.
//
//   ColumnBuilder b(DataType::kInt64);
//   b.AppendInt64(39);
//   b.AppendNull();
//   VEIL_ASSIGN_OR_RETURN(Column c, std::move(b).Finish());
//
// The typed Append* calls are cheap and do not return a Status: calling one that does not match the
// builder's type, or appending a string that is not valid UTF-8, records the first such error, appends a null
// in its place, and makes Finish() fail with InvalidArgument. Not thread-safe.
class ColumnBuilder {
 public:
  explicit ColumnBuilder(DataType type);

  DataType type() const { return column_.type_; }
  int64_t size() const { return column_.size_; }
  void Reserve(int64_t n);

  void AppendNull();
  void AppendInt64(int64_t value);
  void AppendDouble(double value);
  void AppendBool(bool value);
  void AppendDate(Date value);
  void AppendTimestamp(Timestamp value);
  void AppendString(std::string_view value);
  // Appends a value of the builder's type or null. Errors: InvalidArgument if the value has another type
  // (nothing is appended then).
  absl::Status Append(const Value& value);

  // The column, or the first error recorded by an Append* call. Leaves the builder empty.
  absl::StatusOr<Column> Finish();

 private:
  bool CheckType(DataType type);
  void AppendValidSlot() { column_.validity_.AppendValid(1), ++column_.size_; }

  Column column_;
  absl::Status status_;
};

}  // namespace veil::table

#endif  // VEIL_TABLE_COLUMN_H_
