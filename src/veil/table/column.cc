#include "veil/table/column.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "veil/base/utf8.h"

namespace veil::table {

// --- ValidityBitmap ---

void ValidityBitmap::Materialize() {
  words_.assign(static_cast<size_t>((size_ + 63) / 64), ~uint64_t{0});
  // Bits past size_ stay clear, so that operator== can compare whole words.
  if (size_ % 64 != 0) words_.back() = (uint64_t{1} << (size_ % 64)) - 1;
}

void ValidityBitmap::AppendValid(int64_t n) {
  if (words_.empty()) {
    size_ += n;
    return;
  }
  while (n > 0) {
    if (size_ % 64 == 0) words_.push_back(0);
    const int64_t bit = size_ % 64;
    const int64_t take = std::min<int64_t>(n, 64 - bit);
    const uint64_t ones = take == 64 ? ~uint64_t{0} : (uint64_t{1} << take) - 1;
    words_.back() |= ones << bit;
    size_ += take;
    n -= take;
  }
}

void ValidityBitmap::AppendNull() {
  if (words_.empty()) Materialize();
  if (size_ % 64 == 0) words_.push_back(0);
  ++size_;
  ++null_count_;
}

void ValidityBitmap::Reserve(int64_t n) {
  if (!words_.empty()) words_.reserve(static_cast<size_t>((n + 63) / 64));
}

ValidityBitmap ValidityBitmap::Take(std::span<const int64_t> rows) const {
  ValidityBitmap out;
  const auto n = static_cast<int64_t>(rows.size());
  out.size_ = n;
  if (words_.empty()) return out;  // no nulls here, so none in any selection
  out.words_.resize(static_cast<size_t>((n + 63) / 64));
  const uint64_t* src = words_.data();
  const int64_t* row = rows.data();
  int64_t valid = 0;
  // Whole output words at a time: bits past n stay clear, as operator== needs.
  for (size_t w = 0; w < out.words_.size(); ++w) {
    const int64_t begin = static_cast<int64_t>(w) * 64;
    const int64_t count = std::min<int64_t>(64, n - begin);
    uint64_t word = 0;
    for (int64_t b = 0; b < count; ++b) {
      const int64_t r = row[begin + b];
      word |= ((src[r >> 6] >> (r & 63)) & 1) << b;
    }
    out.words_[w] = word;
    valid += std::popcount(word);
  }
  out.null_count_ = n - valid;
  if (out.null_count_ == 0) out.words_ = {};  // keep the invariant: no words while there is no null
  return out;
}

bool operator==(const ValidityBitmap& a, const ValidityBitmap& b) {
  if (a.size_ != b.size_ || a.null_count_ != b.null_count_) return false;
  if (a.null_count_ == 0) return true;
  return a.words_ == b.words_;
}

// --- StringDictionary ---

namespace {
constexpr size_t kDictionaryBlockSize = 64 * 1024;
}  // namespace

StringDictionary::StringDictionary(const StringDictionary& other) { *this = other; }

StringDictionary& StringDictionary::operator=(const StringDictionary& other) {
  if (this == &other) return *this;
  // The strings go into one block, in code order; the index is copied as it is, since a slot depends only on
  // the tag and the code, which do not change: nothing is hashed or probed again.
  std::vector<std::unique_ptr<char[]>> blocks;
  std::vector<std::string_view> values;
  values.reserve(other.values_.size());
  char* dst = nullptr;
  if (other.byte_size_ > 0) {
    blocks.push_back(std::make_unique_for_overwrite<char[]>(static_cast<size_t>(other.byte_size_)));
    dst = blocks.back().get();
  }
  for (const std::string_view v : other.values_) {
    if (v.empty()) {
      values.emplace_back();
      continue;
    }
    std::memcpy(dst, v.data(), v.size());
    values.emplace_back(dst, v.size());
    dst += v.size();
  }
  blocks_ = std::move(blocks);
  block_capacity_ = block_used_ =
      static_cast<size_t>(other.byte_size_);  // full: the next string gets a block
  byte_size_ = other.byte_size_;
  values_ = std::move(values);
  slots_ = other.slots_;
  slot_mask_ = other.slot_mask_;
  slot_shift_ = other.slot_shift_;
  return *this;
}

namespace internal {
const char kHashSeedAnchor = 0;

void AdviseHugePages(const void* data, size_t bytes) {
#if defined(MADV_HUGEPAGE)
  constexpr uintptr_t kHugePage = uintptr_t{2} << 20;
  const auto begin = reinterpret_cast<uintptr_t>(data);
  // Only whole huge pages inside the range: the advice applies to the pages, which may hold other data.
  const uintptr_t first = (begin + kHugePage - 1) & ~(kHugePage - 1);
  const uintptr_t last = (begin + bytes) & ~(kHugePage - 1);
  if (data == nullptr || last <= first) return;
  madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);  // failure is harmless
#else
  (void)data;
  (void)bytes;
#endif
}
}  // namespace internal

size_t StringDictionary::Probe(const internal::HashedString& value) const {
  const uint32_t tag = Tag(value);
  for (size_t slot = SlotOf(tag);; slot = (slot + 1) & slot_mask_) {
    const uint64_t entry = slots_[slot];
    if (entry == kEmptySlot) return slot;
    if (static_cast<uint32_t>(entry >> 32) == tag &&
        internal::SameBytes(values_[static_cast<uint32_t>(entry)], value.text)) {
      return slot;
    }
  }
}

void StringDictionary::Prefetch(const internal::HashedString& value, PrefetchStage stage) const {
  if (slots_.empty()) return;
  const uint32_t tag = Tag(value);
  size_t slot = SlotOf(tag);
  if (stage == PrefetchStage::kSlot) {
    __builtin_prefetch(&slots_[slot]);
    return;
  }
  // The first slot with the same tag almost certainly holds the value, if it is there at all.
  for (;; slot = (slot + 1) & slot_mask_) {
    const uint64_t entry = slots_[slot];
    if (entry == kEmptySlot) return;
    if (static_cast<uint32_t>(entry >> 32) == tag) break;
  }
  const auto code = static_cast<uint32_t>(slots_[slot]);
  if (stage == PrefetchStage::kEntry) {
    __builtin_prefetch(&values_[code]);
  } else {
    __builtin_prefetch(values_[code].data());
  }
}

void StringDictionary::GrowIndex(size_t capacity) {
  std::vector<uint64_t> grown;
  grown.reserve(capacity);
  // A large index is probed at random: huge pages spare a TLB miss per probe.
  internal::AdviseHugePages(grown.data(), capacity * sizeof(uint64_t));
  grown.assign(capacity, kEmptySlot);
  std::vector<uint64_t> old = std::exchange(slots_, std::move(grown));
  slot_mask_ = capacity - 1;
  slot_shift_ = 32 - std::countr_zero(capacity);
  for (const uint64_t entry : old) {
    if (entry == kEmptySlot) continue;
    size_t slot = SlotOf(static_cast<uint32_t>(entry >> 32));
    while (slots_[slot] != kEmptySlot) slot = (slot + 1) & slot_mask_;
    slots_[slot] = entry;
  }
}

std::optional<int32_t> StringDictionary::Find(std::string_view value) const {
  if (slots_.empty()) return std::nullopt;
  const uint64_t entry = slots_[Probe(internal::HashedString::Of(value))];
  if (entry == kEmptySlot) return std::nullopt;
  return static_cast<int32_t>(static_cast<uint32_t>(entry));
}

std::string_view StringDictionary::Store(std::string_view value) {
  if (value.empty()) return std::string_view();
  if (value.size() > block_capacity_ - block_used_) {
    // A new block; a string longer than a block gets a block of its own size.
    block_capacity_ = std::max(kDictionaryBlockSize, value.size());
    blocks_.push_back(std::make_unique<char[]>(block_capacity_));
    block_used_ = 0;
  }
  char* dst = blocks_.back().get() + block_used_;
  std::memcpy(dst, value.data(), value.size());
  block_used_ += value.size();
  byte_size_ += static_cast<int64_t>(value.size());
  return std::string_view(dst, value.size());
}

int32_t StringDictionary::Insert(internal::HashedString value, bool* added) {
  // At most 70% full: short probe runs, and a compact index for large dictionaries.
  if (10 * (values_.size() + 1) > 7 * slots_.size()) GrowIndex(std::max<size_t>(16, 2 * slots_.size()));
  const size_t slot = Probe(value);
  if (slots_[slot] != kEmptySlot) {
    if (added != nullptr) *added = false;
    return static_cast<int32_t>(static_cast<uint32_t>(slots_[slot]));
  }
  const auto code = static_cast<int32_t>(values_.size());
  values_.push_back(Store(value.text));
  slots_[slot] = (uint64_t{Tag(value)} << 32) | static_cast<uint32_t>(code);
  if (added != nullptr) *added = true;
  return code;
}

void StringDictionary::Reserve(int32_t n) {
  if (static_cast<size_t>(n) > values_.capacity()) {
    values_.reserve(static_cast<size_t>(n));
    internal::AdviseHugePages(values_.data() + values_.size(),
                              (values_.capacity() - values_.size()) * sizeof(std::string_view));
  }
  const size_t wanted = std::bit_ceil(static_cast<size_t>(std::max(n, 8)) * 10 / 7 + 1);
  if (wanted > slots_.size()) GrowIndex(wanted);
}

// --- Column ---

absl::Status Column::SetValidity(ValidityBitmap validity, int64_t size) {
  if (validity.size() == 0 && validity.null_count() == 0) {
    validity.AppendValid(size);
  } else if (validity.size() != size) {
    return absl::InvalidArgumentError(
        absl::StrCat("validity bitmap has ", validity.size(), " rows but there are ", size, " values"));
  }
  validity_ = std::move(validity);
  size_ = size;
  return absl::OkStatus();
}

absl::StatusOr<Column> Column::FromInt64s(std::vector<int64_t> values, ValidityBitmap validity) {
  Column c(DataType::kInt64);
  if (absl::Status s = c.SetValidity(std::move(validity), static_cast<int64_t>(values.size())); !s.ok())
    return s;
  c.int64s_ = std::move(values);
  return c;
}

absl::StatusOr<Column> Column::FromDoubles(std::vector<double> values, ValidityBitmap validity) {
  Column c(DataType::kDouble);
  if (absl::Status s = c.SetValidity(std::move(validity), static_cast<int64_t>(values.size())); !s.ok())
    return s;
  c.doubles_ = std::move(values);
  return c;
}

absl::StatusOr<Column> Column::FromBools(std::vector<uint8_t> values, ValidityBitmap validity) {
  Column c(DataType::kBool);
  if (absl::Status s = c.SetValidity(std::move(validity), static_cast<int64_t>(values.size())); !s.ok())
    return s;
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i] > 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("bool value at row ", i, " is ", values[i], ", not 0 or 1"));
    }
  }
  c.bools_ = std::move(values);
  return c;
}

absl::StatusOr<Column> Column::FromDates(std::vector<int32_t> days, ValidityBitmap validity) {
  Column c(DataType::kDate);
  if (absl::Status s = c.SetValidity(std::move(validity), static_cast<int64_t>(days.size())); !s.ok())
    return s;
  c.int32s_ = std::move(days);
  return c;
}

absl::StatusOr<Column> Column::FromTimestamps(std::vector<int64_t> micros, ValidityBitmap validity) {
  Column c(DataType::kTimestamp);
  if (absl::Status s = c.SetValidity(std::move(validity), static_cast<int64_t>(micros.size())); !s.ok())
    return s;
  c.int64s_ = std::move(micros);
  return c;
}

absl::StatusOr<Column> Column::FromStrings(std::vector<int32_t> codes, StringDictionary dictionary,
                                           ValidityBitmap validity) {
  Column c(DataType::kString);
  if (absl::Status s = c.SetValidity(std::move(validity), static_cast<int64_t>(codes.size())); !s.ok())
    return s;
  for (int32_t i = 0; i < dictionary.size(); ++i) {
    if (!base::IsValidUtf8(dictionary.value(i))) {
      return absl::InvalidArgumentError(absl::StrCat("dictionary entry ", i, " is not valid UTF-8"));
    }
  }
  for (size_t row = 0; row < codes.size(); ++row) {
    if (c.validity_.IsNull(static_cast<int64_t>(row))) {
      codes[row] = -1;
    } else if (codes[row] < 0 || codes[row] >= dictionary.size()) {
      return absl::InvalidArgumentError(absl::StrCat("string code ", codes[row], " at row ", row,
                                                     " is outside the dictionary of ", dictionary.size()));
    }
  }
  c.int32s_ = std::move(codes);
  c.dictionary_ = std::move(dictionary);
  return c;
}

absl::StatusOr<Column> Column::FromTrustedStrings(std::vector<int32_t> codes, StringDictionary dictionary,
                                                  ValidityBitmap validity) {
#ifndef NDEBUG
  return FromStrings(std::move(codes), std::move(dictionary), std::move(validity));
#else
  Column c(DataType::kString);
  if (absl::Status s = c.SetValidity(std::move(validity), static_cast<int64_t>(codes.size())); !s.ok())
    return s;
  c.int32s_ = std::move(codes);
  c.dictionary_ = std::move(dictionary);
  return c;
#endif
}

namespace {

// out[i] = values[rows[i]]: one load and one store per row, no bounds checks (the caller has made them).
template <typename T>
std::vector<T> Gather(const std::vector<T>& values, std::span<const int64_t> rows) {
  std::vector<T> out(rows.size());
  const T* src = values.data();
  const int64_t* row = rows.data();
  T* dst = out.data();
  const size_t n = rows.size();
  for (size_t i = 0; i < n; ++i) dst[i] = src[row[i]];
  return out;
}

}  // namespace

Column Column::Take(std::span<const int64_t> rows) const {
  Column out(type_);
  out.size_ = static_cast<int64_t>(rows.size());
  out.validity_ = validity_.Take(rows);
  // The value slots of null rows hold 0 (code -1), and so do their copies.
  switch (type_) {
    case DataType::kInt64:
    case DataType::kTimestamp:
      out.int64s_ = Gather(int64s_, rows);
      break;
    case DataType::kDouble:
      out.doubles_ = Gather(doubles_, rows);
      break;
    case DataType::kBool:
      out.bools_ = Gather(bools_, rows);
      break;
    case DataType::kDate:
      out.int32s_ = Gather(int32s_, rows);
      break;
    case DataType::kString:
      out.int32s_ = Gather(int32s_, rows);
      out.dictionary_ = dictionary_;
      break;
  }
  return out;
}

Value Column::GetValue(int64_t row) const {
  if (IsNull(row)) return std::monostate();
  switch (type_) {
    case DataType::kInt64:
      return GetInt64(row);
    case DataType::kDouble:
      return GetDouble(row);
    case DataType::kBool:
      return GetBool(row);
    case DataType::kString:
      return std::string(GetString(row));
    case DataType::kDate:
      return GetDate(row);
    case DataType::kTimestamp:
      return GetTimestamp(row);
  }
  return std::monostate();
}

std::string Column::FormatValue(int64_t row) const {
  if (IsNull(row)) return "NULL";
  switch (type_) {
    case DataType::kInt64:
      return absl::StrCat(GetInt64(row));
    case DataType::kDouble:
      return FormatDouble(GetDouble(row));
    case DataType::kBool:
      return GetBool(row) ? "true" : "false";
    case DataType::kString:
      return std::string(GetString(row));
    case DataType::kDate:
      return FormatDate(GetDate(row));
    case DataType::kTimestamp:
      return FormatTimestamp(GetTimestamp(row));
  }
  return "";
}

namespace {

bool SameDouble(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::memcmp(&a, &b, sizeof(double)) == 0;
}

}  // namespace

bool operator==(const Column& a, const Column& b) {
  if (a.type_ != b.type_ || a.size_ != b.size_ || !(a.validity_ == b.validity_)) return false;
  for (int64_t row = 0; row < a.size_; ++row) {
    if (a.IsNull(row)) continue;
    bool same = true;
    switch (a.type_) {
      case DataType::kInt64:
      case DataType::kTimestamp:
        same = a.int64s_[row] == b.int64s_[row];
        break;
      case DataType::kDouble:
        same = SameDouble(a.doubles_[row], b.doubles_[row]);
        break;
      case DataType::kBool:
        same = a.bools_[row] == b.bools_[row];
        break;
      case DataType::kDate:
        same = a.int32s_[row] == b.int32s_[row];
        break;
      case DataType::kString:
        same = a.GetString(row) == b.GetString(row);
        break;
    }
    if (!same) return false;
  }
  return true;
}

// --- ColumnBuilder ---

ColumnBuilder::ColumnBuilder(DataType type) : column_(type) {}

void ColumnBuilder::Reserve(int64_t n) {
  column_.validity_.Reserve(n);
  switch (column_.type_) {
    case DataType::kInt64:
    case DataType::kTimestamp:
      column_.int64s_.reserve(n);
      break;
    case DataType::kDouble:
      column_.doubles_.reserve(n);
      break;
    case DataType::kBool:
      column_.bools_.reserve(n);
      break;
    case DataType::kDate:
    case DataType::kString:
      column_.int32s_.reserve(n);
      break;
  }
}

bool ColumnBuilder::CheckType(DataType type) {
  if (type == column_.type_) return true;
  if (status_.ok()) {
    status_ = absl::InvalidArgumentError(
        absl::StrCat("row ", column_.size_, ": a ", internal::ToAbsl(DataTypeName(type)),
                     " value appended to a ", internal::ToAbsl(DataTypeName(column_.type_)), " column"));
  }
  AppendNull();
  return false;
}

void ColumnBuilder::AppendNull() {
  switch (column_.type_) {
    case DataType::kInt64:
    case DataType::kTimestamp:
      column_.int64s_.push_back(0);
      break;
    case DataType::kDouble:
      column_.doubles_.push_back(0);
      break;
    case DataType::kBool:
      column_.bools_.push_back(0);
      break;
    case DataType::kDate:
      column_.int32s_.push_back(0);
      break;
    case DataType::kString:
      column_.int32s_.push_back(-1);
      break;
  }
  column_.validity_.AppendNull();
  ++column_.size_;
}

void ColumnBuilder::AppendInt64(int64_t value) {
  if (!CheckType(DataType::kInt64)) return;
  column_.int64s_.push_back(value);
  AppendValidSlot();
}

void ColumnBuilder::AppendDouble(double value) {
  if (!CheckType(DataType::kDouble)) return;
  column_.doubles_.push_back(value);
  AppendValidSlot();
}

void ColumnBuilder::AppendBool(bool value) {
  if (!CheckType(DataType::kBool)) return;
  column_.bools_.push_back(value ? 1 : 0);
  AppendValidSlot();
}

void ColumnBuilder::AppendDate(Date value) {
  if (!CheckType(DataType::kDate)) return;
  column_.int32s_.push_back(value.days);
  AppendValidSlot();
}

void ColumnBuilder::AppendTimestamp(Timestamp value) {
  if (!CheckType(DataType::kTimestamp)) return;
  column_.int64s_.push_back(value.micros);
  AppendValidSlot();
}

void ColumnBuilder::AppendString(std::string_view value) {
  if (!CheckType(DataType::kString)) return;
  if (std::optional<int32_t> code = column_.dictionary_.Find(value)) {
    column_.int32s_.push_back(*code);
    AppendValidSlot();
    return;
  }
  if (const size_t bad = base::FindInvalidUtf8(value); bad != value.size()) {
    if (status_.ok()) {
      status_ = absl::InvalidArgumentError(
          absl::StrCat("row ", column_.size_, ": string is not valid UTF-8 at byte ", bad, ": \"",
                       absl::CHexEscape(internal::ToAbsl(value.substr(0, 40))), "\""));
    }
    AppendNull();
    return;
  }
  column_.int32s_.push_back(column_.dictionary_.Insert(value));
  AppendValidSlot();
}

absl::Status ColumnBuilder::Append(const Value& value) {
  const std::optional<DataType> type = ValueType(value);
  if (!type) {
    AppendNull();
    return absl::OkStatus();
  }
  if (*type != column_.type_) {
    return absl::InvalidArgumentError(absl::StrCat("a ", internal::ToAbsl(DataTypeName(*type)),
                                                   " value cannot be appended to a ",
                                                   internal::ToAbsl(DataTypeName(column_.type_)), " column"));
  }
  switch (*type) {
    case DataType::kInt64:
      AppendInt64(std::get<int64_t>(value));
      break;
    case DataType::kDouble:
      AppendDouble(std::get<double>(value));
      break;
    case DataType::kBool:
      AppendBool(std::get<bool>(value));
      break;
    case DataType::kString:
      AppendString(std::get<std::string>(value));
      break;
    case DataType::kDate:
      AppendDate(std::get<Date>(value));
      break;
    case DataType::kTimestamp:
      AppendTimestamp(std::get<Timestamp>(value));
      break;
  }
  return absl::OkStatus();
}

absl::StatusOr<Column> ColumnBuilder::Finish() {
  Column done(column_.type_);
  std::swap(done, column_);
  absl::Status status = std::exchange(status_, absl::OkStatus());
  if (!status.ok()) return status;
  return done;
}

}  // namespace veil::table
