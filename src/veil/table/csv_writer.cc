#include "veil/table/csv_writer.h"

#include <charconv>
#include <functional>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "veil/base/status_macros.h"
#include "veil/table/csv_parser.h"

namespace veil::table {
namespace {

constexpr size_t kFlushSize = size_t{1} << 20;
using internal::kUtf8Bom;

class CsvWriter {
 public:
  // `flush` receives the text in pieces; for WriteCsvToString it is never called and the text stays in out_.
  CsvWriter(const Table& table, const CsvWriteOptions& options,
            std::function<absl::Status(std::string_view)> flush)
      : table_(table),
        options_(options),
        flush_(std::move(flush)),
        dialect_(internal::CsvDialect::Make(options.delimiter, options.quote, /*trim=*/true,
                                            options.null_tokens)) {}

  absl::Status Write();
  std::string& text() { return out_; }

 private:
  absl::Status Validate() const;
  // Whether `text` must be quoted to read back as itself (see csv_writer.h).
  bool NeedsQuotes(std::string_view text) const;
  void AppendField(std::string_view text, bool quote);
  void AppendField(std::string_view text) { AppendField(text, NeedsQuotes(text)); }
  absl::Status AppendValue(const Column& column, const std::vector<uint8_t>& quote_code, int64_t row,
                           int col);
  absl::Status MaybeFlush(bool force);

  const Table& table_;
  const CsvWriteOptions& options_;
  const std::function<absl::Status(std::string_view)> flush_;
  const internal::CsvDialect dialect_;
  std::string out_;
  std::string scratch_;
};

absl::Status CsvWriter::Validate() const {
  const char d = options_.delimiter, q = options_.quote;
  if (d == q || d == '\n' || d == '\r' || q == '\n' || q == '\r') {
    return absl::InvalidArgumentError("the CSV delimiter and quote must differ and cannot be CR or LF");
  }
  if (options_.line_ending != "\n" && options_.line_ending != "\r\n") {
    return absl::InvalidArgumentError("the CSV line ending must be \"\\n\" or \"\\r\\n\"");
  }
  bool has_nulls = false;
  for (int c = 0; c < table_.num_columns(); ++c) has_nulls |= table_.column(c).null_count() > 0;
  if (has_nulls) {
    if (options_.null_tokens.empty()) {
      return absl::InvalidArgumentError("the table has nulls but no null token was given to write them as");
    }
    const std::string& token = options_.null_tokens.front();
    bool bad = token.find_first_of(std::string{d, q, '\r', '\n'}) != std::string::npos;
    if (!token.empty())
      bad |= token.front() == ' ' || token.front() == '\t' || token.back() == ' ' || token.back() == '\t';
    if (bad) {
      return absl::InvalidArgumentError(
          absl::StrCat("the null token ", internal::QuoteForMessage(token), " would not read back as null"));
    }
  }
  if (table_.num_columns() == 0 && table_.num_rows() > 0) {
    return absl::InvalidArgumentError("a table with rows but no columns cannot be written as CSV");
  }
  return absl::OkStatus();
}

bool CsvWriter::NeedsQuotes(std::string_view text) const {
  if (text.empty()) return true;
  if (dialect_.IsNullToken(text)) return true;
  if (text.front() == ' ' || text.front() == '\t' || text.back() == ' ' || text.back() == '\t') return true;
  // A leading byte order mark would be taken for the file's and dropped.
  if (text.substr(0, kUtf8Bom.size()) == kUtf8Bom) return true;
  for (char c : text) {
    if (c == options_.delimiter || c == options_.quote || c == '\n' || c == '\r') return true;
  }
  return false;
}

void CsvWriter::AppendField(std::string_view text, bool quote) {
  if (!quote) {
    out_.append(text);
    return;
  }
  out_.push_back(options_.quote);
  for (char c : text) {
    if (c == options_.quote) out_.push_back(c);
    out_.push_back(c);
  }
  out_.push_back(options_.quote);
}

absl::Status CsvWriter::AppendValue(const Column& column, const std::vector<uint8_t>& quote_code, int64_t row,
                                    int col) {
  if (column.IsNull(row)) {
    out_.append(options_.null_tokens.front());
    return absl::OkStatus();
  }
  scratch_.clear();
  switch (column.type()) {
    case DataType::kString: {
      const int32_t code = column.GetStringCode(row);
      AppendField(column.dictionary().value(code), quote_code[code] != 0);
      return absl::OkStatus();
    }
    case DataType::kInt64: {
      char buf[24];
      auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), column.GetInt64(row));
      scratch_.assign(buf, end);
      break;
    }
    case DataType::kDouble:
      AppendDouble(column.GetDouble(row), &scratch_);
      break;
    case DataType::kBool:
      scratch_ = column.GetBool(row) ? "true" : "false";
      break;
    case DataType::kDate:
      if (!InTextRange(column.GetDate(row))) {
        return absl::InvalidArgumentError(absl::StrCat("row ", row + 1, ", column ", col + 1, ": date ",
                                                       FormatDate(column.GetDate(row)),
                                                       " is outside years 0000..9999"));
      }
      AppendDate(column.GetDate(row), &scratch_);
      break;
    case DataType::kTimestamp:
      if (!InTextRange(column.GetTimestamp(row))) {
        return absl::InvalidArgumentError(absl::StrCat("row ", row + 1, ", column ", col + 1, ": timestamp ",
                                                       column.GetTimestamp(row).micros,
                                                       " us is outside years 0000..9999"));
      }
      AppendTimestamp(column.GetTimestamp(row), &scratch_);
      break;
  }
  AppendField(scratch_);
  return absl::OkStatus();
}

absl::Status CsvWriter::MaybeFlush(bool force) {
  if (!flush_ || (!force && out_.size() < kFlushSize)) return absl::OkStatus();
  VEIL_RETURN_IF_ERROR(flush_(out_));
  out_.clear();
  return absl::OkStatus();
}

absl::Status CsvWriter::Write() {
  VEIL_RETURN_IF_ERROR(Validate());
  const int num_columns = table_.num_columns();
  if (num_columns == 0) return absl::OkStatus();
  if (options_.write_header) {
    for (int c = 0; c < num_columns; ++c) {
      if (c > 0) out_.push_back(options_.delimiter);
      AppendField(table_.schema().field(c).name);
    }
    out_.append(options_.line_ending);
  }
  // Whether each distinct string needs quotes, decided once per dictionary entry.
  std::vector<std::vector<uint8_t>> quote_code(num_columns);
  for (int c = 0; c < num_columns; ++c) {
    const Column& column = table_.column(c);
    if (column.type() != DataType::kString) continue;
    quote_code[c].resize(static_cast<size_t>(column.dictionary().size()));
    for (int32_t code = 0; code < column.dictionary().size(); ++code) {
      quote_code[c][code] = NeedsQuotes(column.dictionary().value(code)) ? 1 : 0;
    }
  }
  for (int64_t row = 0; row < table_.num_rows(); ++row) {
    for (int c = 0; c < num_columns; ++c) {
      if (c > 0) out_.push_back(options_.delimiter);
      VEIL_RETURN_IF_ERROR(AppendValue(table_.column(c), quote_code[c], row, c));
    }
    out_.append(options_.line_ending);
    VEIL_RETURN_IF_ERROR(MaybeFlush(/*force=*/false));
  }
  return MaybeFlush(/*force=*/true);
}

}  // namespace

absl::Status WriteCsv(const Table& table, base::Env& env, const std::string& path,
                      const CsvWriteOptions& options) {
  VEIL_ASSIGN_OR_RETURN(std::unique_ptr<base::WritableFile> file, env.NewWritableFile(path));
  CsvWriter writer(table, options, [&](std::string_view piece) { return file->Append(piece); });
  VEIL_RETURN_IF_ERROR(writer.Write());
  VEIL_RETURN_IF_ERROR(file->Sync());
  return file->Close();
}

absl::StatusOr<std::string> WriteCsvToString(const Table& table, const CsvWriteOptions& options) {
  CsvWriter writer(table, options, nullptr);
  VEIL_RETURN_IF_ERROR(writer.Write());
  return std::move(writer.text());
}

}  // namespace veil::table
