#include "veil/table/csv_reader.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <limits>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "veil/base/status_macros.h"
#include "veil/base/utf8.h"
#include "veil/table/csv_parser.h"

namespace veil::table {
namespace {

using internal::ChunkColumn;
using internal::ChunkResult;
using internal::ColumnSpec;
using internal::CsvDialect;
using internal::CsvType;
using internal::JoinTypes;
using internal::QuoteForMessage;

// Upper bounds on the up-front reservation of the table's columns (16M rows: 128 MiB per int64 column,
// virtual until written) and of a distinct-valued string column's dictionary (4M entries: about 64 MiB of
// index, written at once). Inputs beyond them still read; their columns grow geometrically.
constexpr size_t kMaxReservedRows = size_t{16} << 20;
constexpr size_t kMaxReservedDictionaryEntries = size_t{4} << 20;
using internal::kUtf8Bom;
constexpr int kMaxThreads = 8;

// Bytes read from a file. Unlike std::string, growing it does not zero the new bytes first.
struct ByteBuffer {
  std::unique_ptr<char[]> bytes;
  size_t size = 0;
  size_t capacity = 0;

  std::string_view view() const { return std::string_view(bytes.get(), size); }
  void Reserve(size_t n) {
    if (n <= capacity) return;
    auto grown = std::make_unique_for_overwrite<char[]>(n);
    if (size > 0) std::memcpy(grown.get(), bytes.get(), size);
    bytes = std::move(grown);
    capacity = n;
  }
  void Append(std::string_view more) {
    Reserve(size + more.size());
    if (!more.empty()) std::memcpy(bytes.get() + size, more.data(), more.size());
    size += more.size();
  }
  void EraseFront(size_t n) {
    std::memmove(bytes.get(), bytes.get() + n, size - n);
    size -= n;
  }
};

// A run of whole records and, for file input, the buffer that holds them.
struct Chunk {
  std::string_view data;
  ByteBuffer buffer;
  // No record boundary within max_record_size: the chunk holds a partial record and is an error.
  bool oversized = false;
  std::vector<ColumnSpec> specs;  // the types the chunk is parsed with
  size_t expected_rows = 0;       // a guess, to size the parse's vectors
  ChunkResult result;
  std::promise<void> parsed;
  std::future<void> parsed_future = parsed.get_future();
};

// Yields the input as chunks cut at record boundaries.
class ChunkSource {
 public:
  virtual ~ChunkSource() = default;
  // Fills `chunk` with the next records; false at the end of the input.
  virtual absl::StatusOr<bool> Next(Chunk* chunk) = 0;
  // Takes back the buffer of a chunk that is done with, for reuse.
  virtual void Recycle(ByteBuffer buffer) { (void)buffer; }
};

// Chunks are views of the caller's string: no copy.
class StringChunkSource : public ChunkSource {
 public:
  StringChunkSource(std::string_view data, char quote, size_t chunk_size)
      : data_(data), quote_(quote), chunk_size_(chunk_size) {
    if (data_.substr(0, kUtf8Bom.size()) == kUtf8Bom) data_.remove_prefix(kUtf8Bom.size());
  }

  absl::StatusOr<bool> Next(Chunk* chunk) override {
    if (data_.empty()) return false;
    for (size_t want = chunk_size_;; want *= 2) {
      if (data_.size() <= want) {
        chunk->data = data_;
        data_ = {};
        return true;
      }
      const size_t boundary = internal::FindLastRecordBoundary(data_.substr(0, want), quote_);
      if (boundary != std::string_view::npos) {
        chunk->data = data_.substr(0, boundary);
        data_.remove_prefix(boundary);
        return true;
      }
    }
  }

 private:
  std::string_view data_;
  const char quote_;
  const size_t chunk_size_;
};

// Reads a file front to back into one buffer per chunk; the partial record at the end of a buffer is carried
// to the next.
class FileChunkSource : public ChunkSource {
 public:
  FileChunkSource(std::unique_ptr<base::SequentialFile> file, char quote, size_t chunk_size,
                  size_t max_record_size)
      : file_(std::move(file)), quote_(quote), chunk_size_(chunk_size), max_record_size_(max_record_size) {}

  absl::StatusOr<bool> Next(Chunk* chunk) override {
    ByteBuffer buffer = TakeBuffer();
    buffer.Append(carry_);
    carry_.clear();
    for (size_t want = std::max(chunk_size_, buffer.size + 1);; want *= 2) {
      buffer.Reserve(want);
      while (buffer.size < want && !eof_) {
        VEIL_ASSIGN_OR_RETURN(const size_t got, file_->Read(std::span<char>(buffer.bytes.get() + buffer.size,
                                                                            want - buffer.size)));
        buffer.size += got;
        if (got == 0) eof_ = true;
      }
      if (at_start_) {
        at_start_ = false;
        if (buffer.view().substr(0, kUtf8Bom.size()) == kUtf8Bom) buffer.EraseFront(kUtf8Bom.size());
      }
      if (eof_) {
        if (buffer.size == 0) return false;
        return Emit(std::move(buffer), chunk);
      }
      const size_t boundary = internal::FindLastRecordBoundary(buffer.view(), quote_);
      if (boundary != std::string_view::npos) {
        carry_.assign(buffer.view().substr(boundary));
        buffer.size = boundary;
        return Emit(std::move(buffer), chunk);
      }
      if (buffer.size >= max_record_size_) {
        chunk->oversized = true;
        eof_ = true;  // nothing after it is read: the reader stops at this chunk
        return Emit(std::move(buffer), chunk);
      }
    }
  }

  void Recycle(ByteBuffer buffer) override {
    if (buffer.capacity >= chunk_size_ && free_.size() < 16) free_.push_back(std::move(buffer));
  }

 private:
  ByteBuffer TakeBuffer() {
    if (free_.empty()) return ByteBuffer();
    ByteBuffer buffer = std::move(free_.back());
    free_.pop_back();
    buffer.size = 0;
    return buffer;
  }
  static bool Emit(ByteBuffer buffer, Chunk* chunk) {
    chunk->buffer = std::move(buffer);
    chunk->data = chunk->buffer.view();
    return true;
  }

  std::unique_ptr<base::SequentialFile> file_;
  const char quote_;
  const size_t chunk_size_;
  const size_t max_record_size_;
  std::string carry_;             // the partial record after the last chunk's end
  std::vector<ByteBuffer> free_;  // buffers of merged chunks, reused to spare allocation and page faults
  bool eof_ = false;
  bool at_start_ = true;
};

// A fixed set of threads running queued tasks, which the owner's thread can help with (RunOne). The
// destructor runs every queued task, then joins.
class WorkerPool {
 public:
  explicit WorkerPool(int num_threads) {
    for (int i = 0; i < num_threads; ++i) threads_.emplace_back([this] { Loop(); });
  }
  ~WorkerPool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : threads_) t.join();
  }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void Submit(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(task));
    }
    cv_.notify_one();
  }

  // Runs the oldest queued task on the calling thread; false if none is queued.
  bool RunOne() {
    std::function<void()> task;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (queue_.empty()) return false;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
    return true;
  }

 private:
  void Loop() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      task();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

// A column of the table being assembled, in the same layout as ChunkColumn / Column.
struct Accumulator {
  CsvType type = CsvType::kNull;
  std::vector<int64_t> int64s;
  std::vector<double> doubles;
  std::vector<uint8_t> bools;
  std::vector<int32_t> int32s;
  ValidityBitmap validity;
  StringDictionary dictionary;
};

// Reserves room for `rows` values and asks for huge pages for the part yet to be written (see
// internal::AdviseHugePages): filling a large column then takes a few hundred page faults, not thousands.
template <typename T>
void ReserveValues(std::vector<T>& values, size_t rows) {
  if (rows <= values.capacity()) return;
  values.reserve(rows);
  internal::AdviseHugePages(values.data() + values.size(), (values.capacity() - values.size()) * sizeof(T));
}

void ReserveAccumulator(Accumulator& acc, size_t rows) {
  acc.validity.Reserve(static_cast<int64_t>(rows));
  switch (acc.type) {
    case CsvType::kInt64:
    case CsvType::kTimestamp:
      ReserveValues(acc.int64s, rows);
      break;
    case CsvType::kDouble:
      ReserveValues(acc.doubles, rows);
      break;
    case CsvType::kBool:
      ReserveValues(acc.bools, rows);
      break;
    case CsvType::kDate:
    case CsvType::kString:
      ReserveValues(acc.int32s, rows);
      break;
    case CsvType::kNull:
      break;
  }
}

// Widens the values stored so far; false if that needs their text (a widening to string).
bool WidenAccumulator(Accumulator& acc, CsvType to) {
  const size_t rows = static_cast<size_t>(acc.validity.size());
  if (acc.type == CsvType::kNull) {
    switch (to) {
      case CsvType::kInt64:
      case CsvType::kTimestamp:
        acc.int64s.assign(rows, 0);
        break;
      case CsvType::kDouble:
        acc.doubles.assign(rows, 0);
        break;
      case CsvType::kBool:
        acc.bools.assign(rows, 0);
        break;
      case CsvType::kDate:
        acc.int32s.assign(rows, 0);
        break;
      case CsvType::kString:
        acc.int32s.assign(rows, -1);
        break;
      case CsvType::kNull:
        break;
    }
  } else if (acc.type == CsvType::kInt64 && to == CsvType::kDouble) {
    acc.doubles.assign(acc.int64s.begin(), acc.int64s.end());
    acc.int64s = {};
  } else if (acc.type == CsvType::kDate && to == CsvType::kTimestamp) {
    acc.int64s.resize(acc.int32s.size());
    for (size_t i = 0; i < acc.int32s.size(); ++i) acc.int64s[i] = acc.int32s[i] * kMicrosPerDay;
    acc.int32s = {};
  } else {
    return false;
  }
  acc.type = to;
  return true;
}

// Appends a chunk's column, whose type is acc.type or narrower (JoinTypes(acc.type, col.type) == acc.type).
void AppendChunkColumn(Accumulator& acc, const ChunkColumn& col, int64_t rows) {
  const auto n = static_cast<size_t>(rows);
  const bool all_null = col.type == CsvType::kNull;
  switch (acc.type) {
    case CsvType::kInt64:
      if (all_null) {
        acc.int64s.resize(acc.int64s.size() + n, 0);
      } else {
        acc.int64s.insert(acc.int64s.end(), col.int64s.begin(), col.int64s.end());
      }
      break;
    case CsvType::kDouble:
      if (all_null) {
        acc.doubles.resize(acc.doubles.size() + n, 0);
      } else if (col.type == CsvType::kInt64) {
        acc.doubles.insert(acc.doubles.end(), col.int64s.begin(), col.int64s.end());
      } else {
        acc.doubles.insert(acc.doubles.end(), col.doubles.begin(), col.doubles.end());
      }
      break;
    case CsvType::kBool:
      if (all_null) {
        acc.bools.resize(acc.bools.size() + n, 0);
      } else {
        acc.bools.insert(acc.bools.end(), col.bools.begin(), col.bools.end());
      }
      break;
    case CsvType::kDate:
      if (all_null) {
        acc.int32s.resize(acc.int32s.size() + n, 0);
      } else {
        acc.int32s.insert(acc.int32s.end(), col.int32s.begin(), col.int32s.end());
      }
      break;
    case CsvType::kTimestamp:
      if (all_null) {
        acc.int64s.resize(acc.int64s.size() + n, 0);
      } else if (col.type == CsvType::kDate) {
        for (int32_t days : col.int32s) acc.int64s.push_back(days * kMicrosPerDay);
      } else {
        acc.int64s.insert(acc.int64s.end(), col.int64s.begin(), col.int64s.end());
      }
      break;
    case CsvType::kString:
      if (all_null) {
        acc.int32s.resize(acc.int32s.size() + n, -1);
      } else {
        // Chunk codes -> table codes. Chunks arrive in order and list their strings in order of first
        // appearance, so the table's dictionary is in order of first appearance in the file whatever the
        // chunking.
        const size_t entries = col.dictionary.size();
        std::vector<int32_t> remap(entries);
        // Large dictionaries do not fit the cache: look entries up in a pipeline
        // (StringDictionary::Prefetch).
        using Stage = StringDictionary::PrefetchStage;
        for (size_t i = 0; i < entries; ++i) {
          if (i + 12 < entries) acc.dictionary.Prefetch(col.dictionary[i + 12], Stage::kSlot);
          if (i + 8 < entries) acc.dictionary.Prefetch(col.dictionary[i + 8], Stage::kEntry);
          if (i + 4 < entries) acc.dictionary.Prefetch(col.dictionary[i + 4], Stage::kBytes);
          remap[i] = acc.dictionary.Insert(col.dictionary[i]);
        }
        const size_t start = acc.int32s.size();
        acc.int32s.resize(start + n);
        int32_t* out = acc.int32s.data() + start;
        for (size_t i = 0; i < n; ++i) out[i] = col.int32s[i] < 0 ? -1 : remap[col.int32s[i]];
      }
      break;
    case CsvType::kNull:
      break;
  }
  int64_t next = 0;
  for (int32_t null_row : col.null_rows) {
    acc.validity.AppendValid(null_row - next);
    acc.validity.AppendNull();
    next = null_row + 1;
  }
  acc.validity.AppendValid(rows - next);
}

absl::StatusOr<Column> FinishColumn(Accumulator& acc) {
  switch (acc.type) {
    case CsvType::kInt64:
      return Column::FromInt64s(std::move(acc.int64s), std::move(acc.validity));
    case CsvType::kDouble:
      return Column::FromDoubles(std::move(acc.doubles), std::move(acc.validity));
    case CsvType::kBool:
      return Column::FromBools(std::move(acc.bools), std::move(acc.validity));
    case CsvType::kDate:
      return Column::FromDates(std::move(acc.int32s), std::move(acc.validity));
    case CsvType::kTimestamp:
      return Column::FromTimestamps(std::move(acc.int64s), std::move(acc.validity));
    case CsvType::kNull:
      acc.int32s.assign(static_cast<size_t>(acc.validity.size()), -1);
      [[fallthrough]];
    case CsvType::kString:
      // The parser checked the UTF-8 of every distinct value, and null rows hold code -1: checking the
      // whole column again would be a serial pass after the parallel parse.
      return Column::FromTrustedStrings(std::move(acc.int32s), std::move(acc.dictionary),
                                        std::move(acc.validity));
  }
  return absl::InternalError("unknown column type");
}

class CsvReader {
 public:
  using SourceFactory = std::function<absl::StatusOr<std::unique_ptr<ChunkSource>>()>;

  CsvReader(const CsvReadOptions& options, std::string_view source_name, SourceFactory open_source,
            std::optional<uint64_t> input_size)
      : options_(options),
        source_name_(source_name),
        open_source_(std::move(open_source)),
        input_size_(input_size),
        dialect_(CsvDialect::Make(options.delimiter, options.quote, options.trim_whitespace,
                                  options.null_tokens)) {}

  absl::StatusOr<Table> Read();

 private:
  absl::Status ValidateOptions() const;
  // Reads the first chunk and the header (or, without one, counts the columns of the first record). On the
  // first pass this also sets up names_ and specs_. Returns false for empty input.
  absl::StatusOr<bool> Start(ChunkSource& source, Chunk* first, bool first_pass);
  absl::Status SetUpColumns(std::vector<std::string> header);
  // Parses all chunks and appends them to accumulators_.
  absl::Status RunPass(bool first_pass);
  absl::Status Merge(Chunk& chunk);
  int NumThreads() const;
  // Rows expected in `bytes` of input, from the rows per byte seen so far (0 before the first chunk), with
  // 10% to spare.
  size_t EstimateRows(uint64_t bytes) const {
    if (bytes_merged_ == 0) return 0;
    return static_cast<size_t>(static_cast<double>(bytes) * static_cast<double>(num_rows_) /
                               static_cast<double>(bytes_merged_) * 1.1) +
           16;
  }
  // "SOURCE:LINE: column N ("NAME"): " (the column part only for column >= 0).
  std::string Where(int64_t line, int column) const;

  const CsvReadOptions& options_;
  const std::string source_name_;
  const SourceFactory open_source_;
  const std::optional<uint64_t> input_size_;
  const CsvDialect dialect_;

  std::vector<std::string> names_;
  std::vector<ColumnSpec> specs_;     // as configured: given types fixed, the others kNull
  std::vector<CsvType> known_types_;  // join of every chunk seen so far; given to new chunks
  std::vector<Accumulator> accumulators_;
  int64_t next_line_ = 1;  // the line at which the next chunk starts
  int64_t num_rows_ = 0;
  uint64_t bytes_merged_ = 0;  // chunk bytes behind num_rows_, to estimate rows per byte
  bool reserved_ = false;      // accumulators sized from that estimate
  bool needs_second_pass_ = false;
};

absl::Status CsvReader::ValidateOptions() const {
  const char d = options_.delimiter, q = options_.quote;
  if (d == q) return absl::InvalidArgumentError("the CSV delimiter and quote characters must differ");
  if (d == '\n' || d == '\r' || q == '\n' || q == '\r') {
    return absl::InvalidArgumentError("the CSV delimiter and quote characters cannot be CR or LF");
  }
  if (options_.schema && !options_.column_types.empty()) {
    return absl::InvalidArgumentError("give either a schema or column_types when reading CSV, not both");
  }
  return absl::OkStatus();
}

std::string CsvReader::Where(int64_t line, int column) const {
  std::string out = absl::StrCat(source_name_, ":", line, ": ");
  if (column >= 0) {
    absl::StrAppend(&out, "column ", column + 1);
    if (column < static_cast<int>(names_.size()))
      absl::StrAppend(&out, " (", QuoteForMessage(names_[column]), ")");
    out += ": ";
  }
  return out;
}

int CsvReader::NumThreads() const {
  int n = options_.num_threads;
  if (n <= 0) n = std::clamp(static_cast<int>(std::thread::hardware_concurrency()), 1, kMaxThreads);
  // Small inputs are not worth the threads.
  if (input_size_ && *input_size_ < 2 * std::max<size_t>(options_.chunk_size, 1)) n = 1;
  return n;
}

absl::Status CsvReader::SetUpColumns(std::vector<std::string> header) {
  const int num_columns = static_cast<int>(header.size());
  names_.resize(num_columns);
  absl::flat_hash_map<std::string_view, int> seen;
  for (int c = 0; c < num_columns; ++c) {
    names_[c] = header[c].empty() ? absl::StrCat("column_", c + 1) : std::move(header[c]);
  }
  for (int c = 0; c < num_columns; ++c) {
    if (const size_t bad = base::FindInvalidUtf8(names_[c]); bad != names_[c].size()) {
      return absl::InvalidArgumentError(absl::StrCat(Where(1, -1), "column ", c + 1, ": the header name ",
                                                     QuoteForMessage(names_[c]),
                                                     " is not valid UTF-8 (at byte ", bad + 1, ")"));
    }
    auto [it, inserted] = seen.emplace(names_[c], c);
    if (!inserted) {
      return absl::InvalidArgumentError(
          absl::StrCat(Where(1, c), "the header repeats the name of column ", it->second + 1));
    }
  }
  specs_.assign(num_columns, ColumnSpec());
  for (int c = 0; c < num_columns; ++c) specs_[c].name = names_[c];
  if (options_.schema) {
    const Schema& schema = *options_.schema;
    if (schema.num_fields() != num_columns) {
      return absl::InvalidArgumentError(absl::StrCat(Where(1, -1), "the header has ", num_columns,
                                                     " columns but the schema has ", schema.num_fields()));
    }
    for (int c = 0; c < num_columns; ++c) {
      const Field& field = schema.field(c);
      if (field.name != names_[c]) {
        return absl::InvalidArgumentError(
            absl::StrCat(Where(1, c), "the schema names this column ", QuoteForMessage(field.name)));
      }
      specs_[c].type = internal::ToCsvType(field.type);
      specs_[c].fixed = true;
      specs_[c].nullable = field.nullable;
    }
  }
  for (const auto& [name, type] : options_.column_types) {
    auto it = seen.find(name);
    if (it == seen.end()) {
      return absl::InvalidArgumentError(absl::StrCat("column_types names ", QuoteForMessage(name),
                                                     ", which is not a column of ", source_name_,
                                                     " (its columns: ", absl::StrJoin(names_, ", "), ")"));
    }
    specs_[it->second].type = internal::ToCsvType(type);
    specs_[it->second].fixed = true;
  }
  known_types_.resize(num_columns);
  for (int c = 0; c < num_columns; ++c) known_types_[c] = specs_[c].type;
  return absl::OkStatus();
}

absl::StatusOr<bool> CsvReader::Start(ChunkSource& source, Chunk* first, bool first_pass) {
  VEIL_ASSIGN_OR_RETURN(const bool got, source.Next(first));
  if (!got) return false;
  if (first->oversized) {
    return absl::InvalidArgumentError(absl::StrCat(Where(1, -1), "the first record is longer than ",
                                                   options_.max_record_size,
                                                   " bytes (is a quote missing its closing quote?)"));
  }
  next_line_ = 1;
  if (!options_.has_header && options_.schema) {
    // The schema names the columns; the parser checks that every record has as many fields.
    if (first_pass) {
      std::vector<std::string> names;
      for (const Field& field : options_.schema->fields()) names.push_back(field.name);
      VEIL_RETURN_IF_ERROR(SetUpColumns(std::move(names)));
    }
    return true;
  }
  std::vector<std::string> fields;
  size_t consumed = 0;
  int64_t lines = 0;
  internal::ChunkError error;
  if (!internal::ReadRecordFields(first->data, dialect_, &fields, &consumed, &lines, &error)) {
    return absl::InvalidArgumentError(absl::StrCat(Where(1 + error.line, error.column), error.message));
  }
  if (options_.has_header) {
    first->data.remove_prefix(consumed);
    next_line_ = 1 + lines;
  } else {
    for (std::string& f : fields) f.clear();  // generated names
  }
  if (first_pass) VEIL_RETURN_IF_ERROR(SetUpColumns(std::move(fields)));
  return true;
}

absl::Status CsvReader::Merge(Chunk& chunk) {
  if (chunk.oversized) {
    return absl::InvalidArgumentError(absl::StrCat(Where(next_line_, -1), "a record is longer than ",
                                                   options_.max_record_size,
                                                   " bytes (is a quote missing its closing quote?)"));
  }
  const int num_columns = static_cast<int>(specs_.size());
  // A chunk parsed before the table knew a column was a string may hold that column as numbers: parse it
  // again (on this thread) starting from the table's types. Rare: only chunks in flight at that moment.
  for (;;) {
    const ChunkResult& r = chunk.result;
    if (r.error) {
      return absl::InvalidArgumentError(
          absl::StrCat(Where(next_line_ + r.error->line, r.error->column), r.error->message));
    }
    if (needs_second_pass_) break;
    bool reparse = false;
    for (int c = 0; c < num_columns; ++c) {
      const CsvType t = r.columns[c].type;
      if (accumulators_[c].type == CsvType::kString && t != CsvType::kString && t != CsvType::kNull)
        reparse = true;
    }
    if (!reparse) break;
    for (int c = 0; c < num_columns; ++c) {
      chunk.specs[c].type = JoinTypes(accumulators_[c].type, r.columns[c].type);
    }
    chunk.result = internal::ParseChunk(chunk.data, dialect_, chunk.specs, EstimateRows(chunk.data.size()));
  }

  ChunkResult& r = chunk.result;
  for (int c = 0; c < num_columns; ++c) known_types_[c] = JoinTypes(known_types_[c], r.columns[c].type);
  if (!needs_second_pass_) {
    for (int c = 0; c < num_columns; ++c) {
      Accumulator& acc = accumulators_[c];
      const CsvType target = JoinTypes(acc.type, r.columns[c].type);
      if (target != acc.type && !WidenAccumulator(acc, target)) {
        // The text of the values already stored is gone: finish this pass for the types only, then read
        // the input again with them.
        needs_second_pass_ = true;
        accumulators_.assign(num_columns, Accumulator());
        break;
      }
    }
  }
  if (!needs_second_pass_) {
    for (int c = 0; c < num_columns; ++c) AppendChunkColumn(accumulators_[c], r.columns[c], r.num_rows);
  }
  next_line_ += r.num_lines;
  num_rows_ += r.num_rows;
  bytes_merged_ += chunk.data.size();
  if (!reserved_ && !needs_second_pass_ && input_size_ && num_rows_ > 0) {
    // Size the table's columns once for the whole input, estimated from the first chunk, rather than
    // growing (and copying) them chunk after chunk.
    reserved_ = true;
    // The estimate extrapolates from the first chunk, which a crafted file can make misleading (short rows
    // first, then a few huge ones): cap what is reserved up front, and let the columns grow past it as
    // usual. The dictionary index is written when reserved, so its cap is the tighter one.
    const size_t rows = std::min(EstimateRows(*input_size_), kMaxReservedRows);
    for (int c = 0; c < num_columns; ++c) {
      Accumulator& acc = accumulators_[c];
      ReserveAccumulator(acc, rows);
      // A column of mostly distinct strings (the chunk stopped deduplicating) will have about as many
      // dictionary entries as rows: size its index once instead of regrowing it many times.
      if (acc.type == CsvType::kString && r.columns[c].distinct_mode) {
        acc.dictionary.Reserve(static_cast<int32_t>(std::min(rows, kMaxReservedDictionaryEntries)));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status CsvReader::RunPass(bool first_pass) {
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<ChunkSource> source, open_source_());
  auto first = std::make_unique<Chunk>();
  VEIL_ASSIGN_OR_RETURN(const bool any, Start(*source, first.get(), first_pass));
  if (!any) return absl::OkStatus();

  num_rows_ = 0;
  bytes_merged_ = 0;
  reserved_ = false;
  accumulators_.assign(specs_.size(), Accumulator());
  for (size_t c = 0; c < specs_.size(); ++c) accumulators_[c].type = specs_[c].type;

  const int num_threads = NumThreads();
  // Declared before the pool, so destroyed after it: the pool finishes every queued parse first.
  std::deque<std::unique_ptr<Chunk>> in_flight;
  // The calling thread is one of the `num_threads`: it appends the parsed chunks to the table in order,
  // which is serial work, and parses queued chunks while the next one to append is not ready.
  std::optional<WorkerPool> pool;
  if (num_threads > 1) pool.emplace(num_threads - 1);
  // Room to read ahead while chunks wait to be appended in order.
  const size_t max_in_flight = num_threads > 1 ? 4 * static_cast<size_t>(num_threads) : 1;

  const auto dispatch = [&](std::unique_ptr<Chunk> chunk) {
    chunk->specs = specs_;
    chunk->expected_rows = EstimateRows(chunk->data.size());
    for (size_t c = 0; c < specs_.size(); ++c) chunk->specs[c].type = known_types_[c];
    Chunk* raw = chunk.get();
    auto parse = [raw, this] {
      if (!raw->oversized)
        raw->result = internal::ParseChunk(raw->data, dialect_, raw->specs, raw->expected_rows);
      raw->parsed.set_value();
    };
    if (pool) {
      pool->Submit(std::move(parse));
    } else {
      parse();
    }
    in_flight.push_back(std::move(chunk));
  };

  dispatch(std::move(first));
  bool end_of_input = false;
  for (;;) {
    while (!end_of_input && in_flight.size() < max_in_flight) {
      auto chunk = std::make_unique<Chunk>();
      VEIL_ASSIGN_OR_RETURN(const bool got, source->Next(chunk.get()));
      if (!got) {
        end_of_input = true;
        break;
      }
      dispatch(std::move(chunk));
    }
    if (in_flight.empty()) break;
    Chunk& oldest = *in_flight.front();
    while (pool && oldest.parsed_future.wait_for(std::chrono::seconds(0)) != std::future_status::ready &&
           pool->RunOne()) {
    }
    oldest.parsed_future.wait();
    VEIL_RETURN_IF_ERROR(Merge(oldest));
    source->Recycle(std::move(oldest.buffer));
    in_flight.pop_front();
  }
  return absl::OkStatus();
}

absl::StatusOr<Table> CsvReader::Read() {
  VEIL_RETURN_IF_ERROR(ValidateOptions());
  VEIL_RETURN_IF_ERROR(RunPass(/*first_pass=*/true));
  if (specs_.empty()) {
    // Empty input.
    if (options_.schema) {
      TableBuilder empty(*options_.schema);
      return empty.Finish();
    }
    return Table();
  }
  if (needs_second_pass_) {
    for (size_t c = 0; c < specs_.size(); ++c) {
      specs_[c].type = known_types_[c] == CsvType::kNull ? CsvType::kString : known_types_[c];
      specs_[c].fixed = true;
      known_types_[c] = specs_[c].type;
    }
    needs_second_pass_ = false;
    VEIL_RETURN_IF_ERROR(RunPass(/*first_pass=*/false));
    if (needs_second_pass_) return absl::InternalError("CSV type inference did not settle in two passes");
  }

  std::vector<Field> fields;
  std::vector<Column> columns;
  for (size_t c = 0; c < specs_.size(); ++c) {
    VEIL_ASSIGN_OR_RETURN(Column column, FinishColumn(accumulators_[c]));
    fields.push_back(Field{names_[c], column.type(), specs_[c].nullable});
    columns.push_back(std::move(column));
  }
  VEIL_ASSIGN_OR_RETURN(Schema schema, Schema::Make(std::move(fields)));
  return Table::Make(std::move(schema), std::move(columns));
}

}  // namespace

absl::StatusOr<Table> ReadCsv(base::Env& env, const std::string& path, const CsvReadOptions& options) {
  std::optional<uint64_t> size;
  if (absl::StatusOr<uint64_t> s = env.GetFileSize(path); s.ok()) size = *s;
  const size_t chunk_size = std::max<size_t>(options.chunk_size, 1);
  CsvReader reader(
      options, path,
      [&]() -> absl::StatusOr<std::unique_ptr<ChunkSource>> {
        VEIL_ASSIGN_OR_RETURN(std::unique_ptr<base::SequentialFile> file, env.NewSequentialFile(path));
        return std::make_unique<FileChunkSource>(std::move(file), options.quote, chunk_size,
                                                 std::max(options.max_record_size, chunk_size));
      },
      size);
  return reader.Read();
}

absl::StatusOr<Table> ReadCsvFromString(std::string_view data, const CsvReadOptions& options,
                                        std::string_view source_name) {
  const size_t chunk_size = std::max<size_t>(options.chunk_size, 1);
  CsvReader reader(
      options, source_name,
      [&]() -> absl::StatusOr<std::unique_ptr<ChunkSource>> {
        return std::make_unique<StringChunkSource>(data, options.quote, chunk_size);
      },
      data.size());
  return reader.Read();
}

}  // namespace veil::table
