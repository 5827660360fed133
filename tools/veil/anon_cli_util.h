// What `veil anon kanon` and `veil anon risk` share, so that the same file gives the same equivalence
// classes in both: how a CSV file is read and how --quasi names are parsed.
//
// Reading. Every column is read as text, cells as written (after trimming spaces around unquoted fields):
// hierarchies match values by their text and risk compares them by their text, so "39" and "39.0" are two
// values in both commands. No token is special ("NULL", "NA" and ARX's "?" are values); an empty cell is the
// missing value, the text "". (kanon also reads the columns with inferred types for Mondrian, which cuts
// numbers at medians.)
#ifndef VEIL_TOOLS_VEIL_ANON_CLI_UTIL_H_
#define VEIL_TOOLS_VEIL_ANON_CLI_UTIL_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "veil/base/status_macros.h"
#include "veil/table/csv_reader.h"
#include "veil/table/table.h"

namespace veil::cli::anon_cli {

// "a,b" "c" -> {a, b, c}; spaces around names are dropped. Errors: InvalidArgument "<option>: an empty
// column name" for "a,,b" or an empty argument.
inline absl::StatusOr<std::vector<std::string>> ParseColumnNames(const std::vector<std::string>& args,
                                                                 std::string_view option) {
  std::vector<std::string> out;
  for (const std::string& arg : args) {
    for (absl::string_view part : absl::StrSplit(arg, ',')) {
      part = absl::StripAsciiWhitespace(part);
      if (part.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(absl::string_view(option.data(), option.size()), ": an empty column name"));
      }
      out.emplace_back(part);
    }
  }
  return out;
}

// A one-character field separator given to `option`; "\\t" or "tab" is a tab. Errors: InvalidArgument
// "<option>: expected one character (or \\t), got '<text>'".
inline absl::StatusOr<char> ParseSeparator(const std::string& text, std::string_view option) {
  if (text == "\\t" || text == "tab") return '\t';
  if (text.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(absl::string_view(option.data(), option.size()),
                                                   ": expected one character (or \\t), got '", text, "'"));
  }
  return text[0];
}

// The reader options of both commands (see the file comment); column types are set by ReadAnonCsv.
inline table::CsvReadOptions AnonCsvOptions(char delimiter) {
  table::CsvReadOptions read;
  read.delimiter = delimiter;
  read.null_tokens = {};
  read.trim_whitespace = true;
  return read;
}

// Reads CSV text (`source` names it in errors) with every column as a string. If `inferred` is not null,
// it gets the same file read with inferred column types.
inline absl::StatusOr<table::Table> ReadAnonCsv(const std::string& data, char delimiter,
                                                const std::string& source, table::Table* inferred = nullptr) {
  table::CsvReadOptions read = AnonCsvOptions(delimiter);
  VEIL_ASSIGN_OR_RETURN(table::Table typed, table::ReadCsvFromString(data, read, source));
  for (const table::Field& f : typed.schema().fields()) read.column_types[f.name] = table::DataType::kString;
  VEIL_ASSIGN_OR_RETURN(table::Table text, table::ReadCsvFromString(data, read, source));
  if (inferred != nullptr) *inferred = std::move(typed);
  return text;
}

}  // namespace veil::cli::anon_cli

#endif  // VEIL_TOOLS_VEIL_ANON_CLI_UTIL_H_
